"""Known-answer mandible reconstruction plates built by CSG (manifold3d), and the sample cases.

A plate is a bar of rectangular section (width ``w`` across the bar, height ``t`` through it)
whose centre line is a straight segment or a circular arc of radius ``R``, with round
through-holes at known arc-length positions ``s`` along the centre line and known sideways
offsets ``e`` from it. Two kinds of bend, both found in mandible plates:

* ``"wrap"``: bent out of its plane around the jaw's arch (the plate wraps a cylinder of
  radius R; holes point at the cylinder's axis). Built as an annular sector of radii
  R -+ t/2 extruded by w.
* ``"in_plane"``: bent within its plane (around the mandibular angle). An annular sector of
  radii R -+ w/2 extruded by t; holes parallel to the extrusion.

The arcs are polygons with their corners on the true circles (``ARC_SEGMENTS`` per turn) and the
holes ``hole_segments``-gon prisms with their corners on the true circle, so every measured value
may deviate from the closed form by the sagitta stated in ``truth["tolerance_*"]``.

Closed-form truth of the smooth solid (the measured names of :mod:`pmd_envelope.families.mandible`
and :mod:`pmd_envelope.measure.holes`):

* ``bar_width`` = w, ``bar_height`` = t, ``bar_length`` = length of the centre line from end face
  to end face (the end faces are perpendicular to the centre line), ``bend_radius`` = R;
* ``hole_count``; ``hole_spacing`` = the smallest difference of consecutive ``s`` (the distance
  along the centre line), ``hole_spacing_max`` the largest; ``hole_diameter`` = d;
* ``hole_edge_distance`` = min over holes of (w/2 - |e| - d/2): the ligament across the bar,
  perpendicular to the hole axis (for ``"wrap"`` the rim arcs project onto the lines +-w/2 seen
  along the radial hole axis, so the flat formula holds).

``SAMPLES`` is read by ``scripts/make_family_cases.py``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["mandible_plate", "SAMPLES", "ARC_SEGMENTS"]

#: Polygon corners per full turn of an arc: sagitta R (1 - cos(pi/1440)) = 2.4e-6 R, 1.2e-4 mm at
#: R = 50 mm, far below every U of the mandible envelope (0.05 mm).
ARC_SEGMENTS = 1440
#: Smallest triangle height [mm] a builder leaves: the sample script snaps vertices to a 2^-10 mm
#: grid (moving each by at most 0.00085 mm), which must not flatten or flip a triangle. A boolean
#: leaves slivers where a hole prism's corner edge passes near an edge of the arc polygon, so
#: each hole prism is turned about its own axis (by a fraction of its corner angle; the corner
#: circle, hence the truth, is unchanged) until none is thinner than this.
MIN_TRIANGLE_HEIGHT_MM = 0.01


def _sector(r_in: float, r_out: float, angle: float) -> np.ndarray:
    """Polygon (counter-clockwise) of an annular sector from angle 0 to ``angle`` [rad]."""
    n = max(2, int(math.ceil(angle / (2.0 * math.pi) * ARC_SEGMENTS)))
    a = np.linspace(0.0, angle, n + 1)
    outer = np.column_stack([r_out * np.cos(a), r_out * np.sin(a)])
    inner = np.column_stack([r_in * np.cos(a[::-1]), r_in * np.sin(a[::-1])])
    return np.vstack([outer, inner])


def mandible_plate(*, width: float, height: float, length: float, hole_diameter: float,
                   holes: tuple[tuple[float, float], ...], bend_radius: float | None = None, bend: str = "wrap",
                   hole_segments: int = 48) -> tuple[np.ndarray, np.ndarray, dict]:
    """A bar plate with round through-holes, in its own frame (float64 vertices, int64 faces, truth).

    Parameters
    ----------
    width, height : float
        Section of the bar [mm]: ``width`` across the bar in the plate's surface, ``height``
        through the plate (along the hole axes).
    length : float
        Length of the centre line from end face to end face [mm].
    hole_diameter : float
        Diameter d of every hole [mm] (the corner circle of the ``hole_segments``-gon).
    holes : tuple of (s, e)
        Each hole at arc length ``s`` [mm] from the first end, offset ``e`` [mm] sideways
        (across the bar) from the centre line.
    bend_radius : float or None
        Radius R of the centre line [mm]; None for a straight bar.
    bend : {"wrap", "in_plane"}
        Out-of-plane (around the arch) or in-plane bend.
    """
    import manifold3d

    if bend not in ("wrap", "in_plane"):
        raise ValueError(f"bend must be 'wrap' or 'in_plane', not {bend!r}")
    r = hole_diameter / 2.0
    reach = width + height + 10.0  # a hole prism reaches well past both surfaces
    # each cut is a function of the prism's spin about its own axis [deg]
    cyl = lambda spin: manifold3d.Manifold.cylinder(reach, r, r, hole_segments).rotate(  # noqa: E731
        (0.0, 0.0, spin)).translate((0.0, 0.0, -reach / 2.0))
    if bend_radius is None:
        section = np.array([[0.0, -width / 2.0], [length, -width / 2.0], [length, width / 2.0], [0.0, width / 2.0]])
        bar = manifold3d.Manifold.extrude(manifold3d.CrossSection([section]), height).translate((0.0, 0.0, -height / 2.0))
        cuts = [(lambda spin, s=s, e=e: cyl(spin).translate((s, e, 0.0))) for s, e in holes]
        sagitta = 0.0
    else:
        angle = length / bend_radius
        if bend == "wrap":  # section: radial height, axial width
            poly, extrude = _sector(bend_radius - height / 2.0, bend_radius + height / 2.0, angle), width
        else:  # section: radial width, axial height
            poly, extrude = _sector(bend_radius - width / 2.0, bend_radius + width / 2.0, angle), height
        bar = manifold3d.Manifold.extrude(manifold3d.CrossSection([poly]), extrude).translate((0.0, 0.0, -extrude / 2.0))
        cuts = []
        for s, e in holes:
            deg = math.degrees(s / bend_radius)
            if bend == "wrap":  # radial prism at height e
                cuts.append(lambda spin, e=e, deg=deg: cyl(spin).rotate((0.0, 90.0, 0.0)).translate(
                    (bend_radius, 0.0, e)).rotate((0.0, 0.0, deg)))
            else:  # axial prism at radius R + e
                cuts.append(lambda spin, e=e, deg=deg: cyl(spin).translate((bend_radius + e, 0.0, 0.0)).rotate(
                    (0.0, 0.0, deg)))
        r_out = bend_radius + (height if bend == "wrap" else width) / 2.0
        sagitta = r_out * (1.0 - math.cos(math.pi / ARC_SEGMENTS))
    plate = bar
    for cut in cuts:
        plate = _cut_without_slivers(plate, cut, hole_segments)
    mesh = plate.to_mesh64()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64)
    v = v - (v.min(axis=0) + v.max(axis=0)) / 2.0  # centred on its box, so a placement keeps it in view
    s_sorted = np.sort([s for s, _ in holes])
    gaps = np.diff(s_sorted)
    truth = {"bar_width": width, "bar_height": height, "bar_length": length, "hole_count": float(len(holes)),
             "hole_diameter": hole_diameter,
             "hole_edge_distance": min(width / 2.0 - abs(e) - r for _, e in holes) if holes else math.nan,
             "hole_spacing": float(gaps.min()) if len(gaps) else math.nan,
             "hole_spacing_max": float(gaps.max()) if len(gaps) else math.nan,
             "bend_radius": math.nan if bend_radius is None else bend_radius,
             # how far the polygons may put a measured value from the smooth solid's [mm]
             "tolerance_arc": sagitta,
             "tolerance_hole": r * (1.0 - math.cos(math.pi / hole_segments))}
    return v, f, {k: float(x) for k, x in truth.items() if not (isinstance(x, float) and math.isnan(x))}


def _min_height(m) -> float:
    """Smallest triangle height [mm] of a manifold (twice the area over the longest edge)."""
    out = m.to_mesh64()
    t = np.asarray(out.vert_properties, dtype=np.float64)[:, :3][np.asarray(out.tri_verts)]
    area2 = np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    return float((area2 / np.linalg.norm(t[:, [1, 2, 0]] - t, axis=2).max(axis=1)).min())


def _cut_without_slivers(plate, cut, segments: int):
    """``plate - cut(spin)`` for the first spin (0, 1/8, 2/8 ... of the prism's corner angle)
    leaving no triangle thinner than :data:`MIN_TRIANGLE_HEIGHT_MM`; the thickest if none does."""
    best = None
    for k in range(8):
        trial = plate - cut(360.0 / segments * k / 8.0)
        h = _min_height(trial)
        if h >= MIN_TRIANGLE_HEIGHT_MM:
            return trial
        if best is None or h > best[0]:
            best = (h, trial)
    return best[1]


def _seeded(case_no: int) -> np.random.Generator:
    return np.random.default_rng([20261125, 13, case_no])


def _sample(case_no: int, *, bend: str, bad: str | None):
    """Parameters of a sample plate drawn from its own seeded stream, rounded to 0.01 mm."""
    rng = _seeded(case_no)
    radius = round(float(rng.uniform(35.0, 60.0)), 2)
    width = round(float(rng.uniform(7.0, 9.0)), 2)
    height = round(float(rng.uniform(2.0, 2.8)), 2)
    diameter = round(float(rng.uniform(2.2, 2.6)), 2)
    spacing = round(float(rng.uniform(8.0, 11.0)), 2)
    n = int(rng.integers(7, 10))
    s = [6.0 + i * spacing for i in range(n)]
    e = [0.0] * n
    if bad == "edge":  # one hole pushed towards the rim: ligament 0.9 mm < 1.5 mm
        e[n // 2] = round(width / 2.0 - diameter / 2.0 - 0.9, 4)
    if bad == "spacing":  # one gap of 13.5 mm > 12 mm
        s = [x + (13.5 - spacing if i > n // 2 else 0.0) for i, x in enumerate(s)]
    holes = tuple((round(a, 4), b) for a, b in zip(s, e))
    length = round(s[-1] + 6.0, 4)
    return dict(width=width, height=height, length=length, hole_diameter=diameter, holes=holes,
                bend_radius=radius, bend=bend)


def _spec(case_no, case_id, title, verdict, why, *, bend, bad):
    params = _sample(case_no, bend=bend, bad=bad)
    recorded = {k: ([list(h) for h in v] if k == "holes" else v) for k, v in params.items()}
    return {"case_id": case_id, "title": title, "envelope": ("mandible-plate-ti64-lpbf", "1.1.0"),
            "expected_verdict": verdict, "why": why, "parameters": recorded,
            "build": lambda: mandible_plate(**params),
            "characteristics": {"plate": "mandible reconstruction plate", "side": "left",
                                "screw_diameter": round(params["hole_diameter"] - 0.2, 2)}}


SAMPLES = [
    _spec(1, "mandible-001", "Mandible plate wrapped on the arch, holes on the centre line.", "conforming",
          "every parameter inside its range by more than U; bending strength at the worst manufacturing "
          "configuration above the limit", bend="wrap", bad=None),
    _spec(2, "mandible-002", "Mandible plate wrapped on the arch, one hole pushed towards the rim.", "nonconforming",
          "one hole's ligament to the rim is 0.9 mm, below the 1.5 mm minimum (hole_edge_distance)",
          bend="wrap", bad="edge"),
    _spec(3, "mandible-003", "Mandible plate bent in its plane, one gap between holes too long.", "nonconforming",
          "one hole spacing is 13.5 mm along the centre line, above the 12 mm maximum (hole_spacing)",
          bend="in_plane", bad="spacing"),
]
