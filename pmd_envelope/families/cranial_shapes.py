"""Known-answer PEEK cranial plates made by constructive solid geometry (manifold3d).

A PEEK cranial implant is a thick spherical cap (3-6 mm, K121102, K121153) pierced by perfusion
holes of ~2 mm at ~10 mm spacing (K121102). :func:`peek_plate` builds one: the cap is the
revolution of its cross-section (``Manifold.revolve``: every vertex of the outer and
bone-facing arcs is on its sphere, so every revolved vertex is too), its rim is radial (a cone
through the sphere's centre), and each perfusion hole is a ``hole_segments``-gon prism along
the radius, subtracted. The truth is closed form on the smooth solid, with the tessellation
bounds a measurement may deviate by (``truth["..._tolerance"]``).

``SAMPLES`` lists the PEEK sample cases for ``scripts/make_family_cases.py`` (see its docstring):
their geometry is drawn from a seeded generator (``SEED`` and the case number), rounded to
0.5 mm so the parameters read as a designer would choose them, and recorded in the manifest.

Why by hand: no library makes a perforated spherical cap; manifold3d does the solid modelling,
this module only places the holes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLES", "SEED", "clean_hole_phase", "hole_layout", "peek_plate", "smallest_face"]

#: Seed of the sample geometry (the placement in the scanner has its own stream per case).
SEED = 20261201
#: Largest surface movement [mm] of the sliver clean-up: twice the sample vertex grid (2^-10 mm)
#: and added to every tolerance of the truth.
SIMPLIFY_MM = 0.002


def hole_layout(inner_radius: float, wall: float, half_angle_deg: float, hole_diameter: float, pitch: float,
                clearance: float, *, ring_ligament: float | None = None, ring_holes: int = 0) -> list[tuple[float, float]]:
    """Polar and azimuth angles [deg] of the perfusion holes' axes.

    A square grid of pitch ``pitch`` [mm] in the tangent plane at the pole is wrapped onto the
    mid-wall sphere (distance from the pole kept as arc length); a hole is kept when its ligament
    to the rim on the bone-facing surface, ``R_i sin(a - theta) - d/2``, is at least
    ``clearance`` [mm]. With ``ring_ligament``, ``ring_holes`` more holes sit on a ring whose
    ligament is exactly ``ring_ligament`` (holes a designer put into the rim band).
    """
    a = np.radians(half_angle_deg)
    r_mid = inner_radius + wall / 2.0
    if ring_ligament is not None and ring_holes:
        clearance = max(clearance, ring_ligament + pitch)  # the grid keeps a pitch away from the ring
    n = int(np.ceil(r_mid * a / pitch)) + 1
    out = []
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            x, y = i * pitch, j * pitch
            theta = np.hypot(x, y) / r_mid
            if theta < a and inner_radius * np.sin(a - theta) - hole_diameter / 2.0 >= clearance:
                out.append((float(np.degrees(theta)), float(np.degrees(np.arctan2(y, x))) if (i or j) else 0.0))
    if ring_ligament is not None and ring_holes:
        theta = a - np.arcsin((ring_ligament + hole_diameter / 2.0) / inner_radius)
        out += [(float(np.degrees(theta)), 360.0 * (k + 0.5) / ring_holes) for k in range(ring_holes)]
    return out


def peek_plate(inner_radius: float, wall: float, half_angle_deg: float, *, hole_diameter: float = 2.0,
               pitch: float = 10.0, clearance: float = 7.0, ring_ligament: float | None = None, ring_holes: int = 0,
               arc_steps: int = 40, segments: int = 180, hole_segments: int = 24, hole_phase: float = 0.37):
    """A PEEK cranial plate: a spherical cap with a radial rim and radial perfusion holes.

    Parameters
    ----------
    inner_radius : float
        Radius R_i of the bone-facing (concave) surface [mm].
    wall : float
        Wall thickness t [mm]; the outer surface has radius R_o = R_i + t.
    half_angle_deg : float
        Half-angle a of the cap at the sphere's centre [deg].
    hole_diameter, pitch, clearance, ring_ligament, ring_holes
        Perfusion holes, see :func:`hole_layout` [mm].
    arc_steps, segments, hole_segments : int
        Tessellation: steps along each arc, segments of the revolution, sides of a hole.

    Returns
    -------
    vertices : (n, 3) float ndarray [mm], in the plate's own frame (pole on +z)
    faces : (m, 3) int ndarray
    truth : dict
        ``wall_thickness`` = t; ``radius_of_curvature`` = R_i; ``span`` = 2 R_o sin a (the chord
        across the outer rim, the widest part: the rim is radial); ``hole_count``;
        ``hole_diameter`` = d (a polygonal hole lies between d cos(pi/k) and d);
        ``hole_edge_distance`` = min over holes of R_i sin(a - theta) - d/2, the ligament on the
        bone-facing surface measured across the hole's axis (the rim point nearest the axis is
        the one in the hole's meridian plane); and each quantity's tessellation tolerance.

    Notes
    -----
    Tolerances: an arc step of angle s puts a chord up to R (1 - cos(s/2)) inside its sphere, a
    revolution segment up to rho (1 - cos(pi/n)) at distance rho from the axis; the wall may
    read thinner or thicker by the sum over both surfaces. The rim polygon brings the rim up to
    R_i sin a (1 - cos(pi/n)) closer to a hole, the hole polygon's vertices lie on its circle.
    """
    import manifold3d

    a, ri, ro = np.radians(half_angle_deg), float(inner_radius), float(inner_radius + wall)
    outer = [(ro * np.sin(x), ro * np.cos(x)) for x in np.linspace(0.0, a, arc_steps + 1)]
    inner = [(ri * np.sin(x), ri * np.cos(x)) for x in np.linspace(a, 0.0, arc_steps + 1)]
    poly = np.array(outer + inner)
    poly[np.abs(poly[:, 0]) < 1e-12, 0] = 0.0  # the two poles on the axis
    signed = 0.5 * np.sum(poly[:, 0] * np.roll(poly[:, 1], -1) - np.roll(poly[:, 0], -1) * poly[:, 1])
    plate = manifold3d.Manifold.revolve(manifold3d.CrossSection([poly[::-1] if signed < 0 else poly]), segments)
    layout = hole_layout(ri, wall, half_angle_deg, hole_diameter, pitch, clearance, ring_ligament=ring_ligament,
                         ring_holes=ring_holes)
    cutters = []
    for polar, azimuth in layout:
        cyl = manifold3d.Manifold.cylinder(wall + 6.0, hole_diameter / 2.0, hole_diameter / 2.0, hole_segments)
        # turned about its own axis by half a side and off the revolution's meridians by a
        # fraction of a segment: a hole corner that meets a plate edge leaves a sliver edge of
        # nanometres, which the vertex grid of the sample cases collapses into a degenerate face
        cyl = cyl.rotate((0.0, 0.0, 180.0 / hole_segments))
        cutters.append(cyl.translate((0.0, 0.0, ri - 3.0)).rotate((0.0, polar, 0.0))
                       .rotate((0.0, 0.0, azimuth + hole_phase * 360.0 / segments)))
    if cutters:
        plate = plate - manifold3d.Manifold.compose(cutters)
    # The booleans leave sliver triangles a few nanometres high where a hole's side meets a
    # mesh edge; on the 2^-10 mm vertex grid of the sample cases they would collapse into
    # degenerate faces. Collapse them here instead (every surface moves by less than SIMPLIFY_MM).
    plate = plate.as_original().simplify(SIMPLIFY_MM)
    mesh = plate.to_mesh64()
    # copies: manifold3d's buffers are read-only
    v = np.array(mesh.vert_properties, dtype=np.float64)[:, :3].copy()
    f = np.array(mesh.tri_verts, dtype=np.int64)
    step = a / arc_steps
    chord = lambda r: r * (1.0 - np.cos(step / 2.0))  # noqa: E731 - sagitta of an arc step
    ring = lambda rho: rho * (1.0 - np.cos(np.pi / segments))  # noqa: E731 - sagitta of a revolution segment
    ligaments = [ri * np.sin(a - np.radians(polar)) - hole_diameter / 2.0 for polar, _ in layout]
    truth = {
        "wall_thickness": float(wall),
        "wall_thickness_tolerance": float(chord(ro) + chord(ri) + ring(ro * np.sin(a)) + ring(ri * np.sin(a))
                                          + 2.0 * SIMPLIFY_MM),
        "radius_of_curvature": ri,
        "span": float(2.0 * ro * np.sin(a)),
        "span_polygon": segments,
        "hole_count": len(layout),
        "hole_diameter": float(hole_diameter),
        "hole_segments": hole_segments,
        "hole_edge_distance": float(min(ligaments)) if ligaments else float("nan"),
        "hole_edge_distance_tolerance": float(ri * np.sin(a) * (1.0 - np.cos(np.pi / segments))
                                              + hole_diameter / 2.0 * (1.0 - np.cos(np.pi / hole_segments))
                                              + 2.0 * SIMPLIFY_MM),
    }
    return v, f, truth


def _drawn(case_number: int, span_range: tuple[float, float], radius_range: tuple[float, float]) -> dict:
    """Inner radius and target span drawn for one case, to 0.5 mm (seeded)."""
    rng = np.random.default_rng([SEED, case_number])
    return {"inner_radius": float(np.round(rng.uniform(*radius_range) * 2.0) / 2.0),
            "target_span": float(np.round(rng.uniform(*span_range) * 2.0) / 2.0)}


#: Smallest face area [mm^2] and edge [mm] a sample may have: 5x the integrity gate's degenerate
#: area at a 140 mm extent (1e-9 x 140^2 = 2e-5 mm^2) and two steps of the 2^-10 mm vertex grid.
MIN_FACE_AREA_MM2 = 1e-4
MIN_EDGE_MM = 2.0e-3


def smallest_face(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    """Smallest face area [mm^2] and shortest edge [mm] of a mesh."""
    t = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    return float(area.min()), float(np.linalg.norm(t - t[:, [1, 2, 0]], axis=2).min())


def clean_hole_phase(inner_radius: float, wall: float, half_angle_deg: float, **holes) -> float:
    """The first hole phase (k x golden ratio mod 1, k = 1, 2, ...) whose plate has no sliver face.

    Where a hole's side passes within micrometres of a plate vertex the boolean leaves a sliver
    (area ~1e-6 mm^2) that the integrity gate rightly calls degenerate; which holes do depends on
    where the holes sit between the revolution's meridians. Turning the pattern by a fraction of
    a segment moves every hole off the near-coincidence (measured: about 3 phases in 4 give a
    clean plate), so the samples take the first clean one, deterministically, and record it.
    """
    for k in range(1, 200):
        phase = round((k * 0.6180339887498949) % 1.0, 6)
        v, f, _ = peek_plate(inner_radius, wall, half_angle_deg, hole_phase=phase, **holes)
        area, edge = smallest_face(v, f)
        if area >= MIN_FACE_AREA_MM2 and edge >= MIN_EDGE_MM:
            return phase
    raise RuntimeError("no hole phase gives a plate without sliver faces")


def _spec(case_id: str, number: int, *, wall: float, span_range, radius_range, title: str, expected: str,
          why: str, characteristics: dict, **holes) -> dict:
    drawn = _drawn(number, span_range, radius_range)
    ri, span = drawn["inner_radius"], drawn["target_span"]
    half_angle = float(np.degrees(np.arcsin(span / (2.0 * (ri + wall)))))
    holes = {"hole_diameter": 2.0, "pitch": 10.0, **holes}
    holes["hole_phase"] = clean_hole_phase(ri, wall, half_angle, **holes)
    params = {"seed": SEED, "case_number": number, "inner_radius": ri, "wall": wall, "target_span": span,
              "half_angle_deg": half_angle, **holes}
    build_args = {k: v for k, v in params.items() if k not in ("seed", "case_number", "target_span", "inner_radius",
                                                                 "wall", "half_angle_deg")}
    return {"case_id": case_id, "envelope": ("cranial-plate-peek", "1.0.0"), "expected_verdict": expected,
            "why": why, "title": title, "parameters": params, "characteristics": characteristics,
            "build": lambda: peek_plate(ri, wall, half_angle, **build_args)}


_REQUEST = {"defect_site": "right frontoparietal", "material": "PEEK", "perfusion_holes": True,
            "rim_overlap_mm": 6.0, "notes": "Sample request for a patient-specific PEEK cranial plate"}

SAMPLES = [
    _spec("peek-001", 1, wall=5.0, span_range=(80.0, 110.0), radius_range=(70.0, 95.0), clearance=7.0,
          title="PEEK cranial plate, wall 5.0 mm, perfusion holes 2 mm at 10 mm kept 7 mm from the rim.",
          expected="conforming",
          why="every parameter inside the PEEK envelope by more than U; the worst case (printed across the layers, "
              "-0.2 mm) carries more than 420 N and more than the tested construct",
          characteristics=_REQUEST),
    _spec("peek-002", 2, wall=3.0, span_range=(110.0, 130.0), radius_range=(75.0, 95.0), clearance=7.0,
          title="PEEK cranial plate, wall 3.0 mm: a wall a titanium plate would not need, too thin for PEEK.",
          expected="nonconforming",
          why="wall 3.0 mm is below the PEEK envelope's 4.3 mm minimum, and at 3.0 mm (-0.2 mm, printed across "
              "the layers) the wide plate yields below the 420 N limit: PEEK is ~8x weaker than Ti-6Al-4V",
          characteristics=_REQUEST),
    _spec("peek-003", 3, wall=5.0, span_range=(80.0, 100.0), radius_range=(70.0, 90.0), clearance=7.0,
          ring_ligament=4.5, ring_holes=12,
          title="PEEK cranial plate, wall 5.0 mm, with a ring of perfusion holes 4.5 mm from the rim.",
          expected="nonconforming",
          why="12 perfusion holes sit 4.5 mm from the rim, inside the 5 mm band that rests on the bone "
              "(hole_edge_distance below its 5.0 mm minimum by more than U); everything else conforms",
          characteristics=_REQUEST),
]
