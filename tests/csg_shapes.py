"""Known-answer shapes built a second way: constructive solid geometry with manifold3d.

Test helpers. Every builder returns ``(mesh, truth)``: the mesh is placed in "scanner
coordinates" by a seeded random rigid transform (rotation and translation), as a design exported
from a planning system would be, and ``truth`` holds the closed-form values of the smooth solid
together with the tessellation bounds a measurement may deviate by. The shapes are made
independently of :mod:`pmd_envelope.shapes` (different construction, different tessellation),
so agreement is evidence, not the code compared with itself.

Primitives (manifold3d 3.x): ``Manifold.sphere(r, n)`` is a refined octahedron with every
vertex on the sphere; ``Manifold.cylinder(h, r_low, r_high, n)`` a prism or pyramid with its
corners on the circle; booleans ``+``, ``-``, ``^`` create new vertices only on the
intersection curves, on the faces of the operands (so they sit up to a chordal sagitta inside a
tessellated sphere).
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.mesh_io import MeshData, mesh_from_arrays

__all__ = ["cranial_plate", "slotted_plate", "chamfered_plate", "filleted_plate", "flat_plate_one_hole", "solid", "sphere_segments",
           "sphere_sagitta", "rigid_transform"]

# Largest chordal sagitta [mm] allowed for the tessellated spheres: 1/200 of U = 1 mm, so the
# tessellation is invisible in every tolerance that involves U (radius, span) and small beside
# the 0.01-0.02 mm thickness tolerances.
SAGITTA_MM = 0.005


def rigid_transform(rng) -> tuple[np.ndarray, np.ndarray]:
    """Random rotation (uniform on SO(3)) and translation (each axis within +-250 mm, the build
    volume): scanner coordinates."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(rng)
    rot = Rotation.random(random_state=rng).as_matrix()
    return rot, rng.uniform(-250.0, 250.0, size=3)


def _to_mesh(m, rng, path: str) -> MeshData:
    """Mesh of a manifold, moved by :func:`rigid_transform` (float64 throughout)."""
    out = m.to_mesh64()
    v = np.asarray(out.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(out.tri_verts, dtype=np.int64)
    rot, shift = rigid_transform(rng)
    return mesh_from_arrays(v @ rot.T + shift, f, path=path)


def sphere_sagitta(radius: float, segments: int) -> float:
    """Largest distance [mm] between ``Manifold.sphere(radius, segments)`` and the true sphere:
    ``radius`` minus the smallest distance of a facet plane from the centre (every vertex is on
    the sphere, so a facet's deepest point is the foot of the perpendicular from the centre)."""
    import manifold3d

    s = manifold3d.Manifold.sphere(radius, segments).to_mesh64()
    v = np.asarray(s.vert_properties)[:, :3]
    f = np.asarray(s.tri_verts)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return float(radius - np.abs(np.einsum("ij,ij->i", n, v[f[:, 0]])).min())


def sphere_segments(radius: float) -> int:
    """Circular segments giving a sphere whose sagitta is at most :data:`SAGITTA_MM`.

    The sagitta of a refined octahedron falls as R / n^2; measured 0.00835 mm at R = 82 mm,
    n = 360. Rounded up to a multiple of 4 (manifold3d does so anyway)."""
    n = 360.0 * np.sqrt(0.00835 / SAGITTA_MM * radius / 82.0)
    return int(4 * np.ceil(n / 4.0))


def _radial(m, polar_deg: float, azimuth_deg: float):
    """Turn a solid built along +z so +z points at (polar, azimuth) from the centre."""
    return m.rotate((0.0, polar_deg, 0.0)).rotate((0.0, 0.0, azimuth_deg))


def _shell(inner_radius: float, wall: float):
    import manifold3d

    ro = inner_radius + wall
    shell = manifold3d.Manifold.sphere(ro, sphere_segments(ro)) - manifold3d.Manifold.sphere(
        inner_radius, sphere_segments(ro))
    return shell, {"sagitta_outer": sphere_sagitta(ro, sphere_segments(ro)),
                   "sagitta_inner": sphere_sagitta(inner_radius, sphere_segments(ro))}


def _hole(inner_radius, wall, diameter, polar_deg, azimuth_deg, segments):
    """A radial round hole: a prism along the radius from inside the bone-facing surface to
    outside the outer one."""
    import manifold3d

    cyl = manifold3d.Manifold.cylinder(wall + 6.0, diameter / 2.0, diameter / 2.0, segments).translate(
        (0.0, 0.0, inner_radius - 3.0))
    return _radial(cyl, polar_deg, azimuth_deg)


def cranial_plate(inner_radius: float = 80.0, wall: float = 2.0, half_angle_deg: float = 35.0, *,
                  holes: int = 16, hole_diameter: float = 2.5, hole_segments: int = 32, rim_segments: int = 360,
                  rng=1) -> tuple[MeshData, dict]:
    """Spherical shell cut by a cone through its centre, with radial round holes.

    The cone (apex at the centre, half-angle a, a pyramid of ``rim_segments`` sides with its
    corner edges on the cone) leaves a cap whose rim faces lie along the radius. ``holes`` holes
    sit on two rings (polar angles a/3 and 2a/3, alternating), each a ``hole_segments``-gon
    prism along the radius.

    Truth: radius of curvature = ``inner_radius``; wall thickness = ``wall``; span = the chord
    across the outer rim, 2 (R + t) sin a (the outer surface reaches farther from the axis than
    the inner one, and the rim faces are radial); hole count; hole diameter, which the polygonal
    hole bounds between the inscribed d cos(pi/k) and the corner circle d.
    """
    import manifold3d

    ro = inner_radius + wall
    shell, truth = _shell(inner_radius, wall)
    h = ro + 5.0
    cone = manifold3d.Manifold.cylinder(h, 0.0, h * np.tan(np.radians(half_angle_deg)), rim_segments)
    plate = shell ^ cone
    for k in range(holes):
        polar = half_angle_deg * (1.0 if k % 2 == 0 else 2.0) / 3.0
        plate = plate - _hole(inner_radius, wall, hole_diameter, polar, 360.0 * k / holes, hole_segments)
    truth.update(radius_of_curvature=inner_radius, wall_thickness=wall,
                 span=2.0 * ro * np.sin(np.radians(half_angle_deg)), span_polygon=rim_segments,
                 hole_count=holes, hole_diameter=hole_diameter, hole_segments=hole_segments)
    return _to_mesh(plate, rng, f"<csg cranial plate R={inner_radius} t={wall} a={half_angle_deg}>"), truth


def slotted_plate(inner_radius: float = 60.0, wall: float = 1.0, rim_radius: float = 25.0, *, holes: int = 8,
                  hole_diameter: float = 2.0, slots: int = 4, slot_width: float = 2.0, slot_length: float = 6.0,
                  segments: int = 32, rim_segments: int = 360, rng=2) -> tuple[MeshData, dict]:
    """Spherical shell cut by a cylinder along its axis (a rim parallel to the axis, not radial),
    with round holes and slots (stadium-shaped: the hull of two radial prisms).

    Truth: radius of curvature = ``inner_radius``; wall = ``wall`` (measured along the radius;
    the rim band is excluded as sharp-edge zone); span = 2 ``rim_radius`` (both surfaces end on
    the cylinder), within the ``rim_segments``-gon; hole count = holes + slots; smallest hole
    diameter = ``hole_diameter`` (a slot's circle fit is wider than its width when
    ``slot_length`` > ``slot_width``, and ``slot_width`` >= ``hole_diameter``).
    """
    import manifold3d

    ro = inner_radius + wall
    shell, truth = _shell(inner_radius, wall)
    cut = manifold3d.Manifold.cylinder(ro + 5.0, rim_radius, rim_radius, rim_segments)
    plate = shell ^ cut
    half_angle = np.degrees(np.arcsin(rim_radius / ro))
    for k in range(holes):
        plate = plate - _hole(inner_radius, wall, hole_diameter, 0.6 * half_angle, 360.0 * k / holes, segments)
    # slot ends: two radial prisms whose axes are slot_length - slot_width apart at mid-wall
    dphi = np.degrees((slot_length - slot_width) / (inner_radius + wall / 2.0))
    for k in range(slots):
        a = 360.0 * (k + 0.5) / slots
        ends = [_hole(inner_radius, wall, slot_width, 0.3 * half_angle + s * dphi / 2.0, a, segments)
                for s in (-1.0, 1.0)]
        plate = plate - manifold3d.Manifold.batch_hull(ends)
    truth.update(radius_of_curvature=inner_radius, wall_thickness=wall, span=2.0 * rim_radius,
                 span_polygon=rim_segments, hole_count=holes + slots, hole_diameter=hole_diameter,
                 hole_segments=segments)
    return _to_mesh(plate, rng, f"<csg slotted plate R={inner_radius} t={wall}>"), truth


def chamfered_plate(inner_radius: float = 120.0, wall: float = 3.0, half_angle_deg: float = 30.0, *,
                    chamfer: float = 1.5, holes: int = 12, hole_diameter: float = 2.5, hole_segments: int = 32,
                    rim_segments: int = 360, rng=3) -> tuple[MeshData, dict]:
    """:func:`cranial_plate` whose bone-side rim edge is chamfered.

    The chamfer is a cut by a second cone with its apex on the axis, through the point
    ``chamfer`` mm up the rim face from the bone-facing surface and the point ``chamfer`` mm
    (arc length) in from the rim on the bone-facing surface. Its faces meet the bone-facing
    surface and the rim at ~45 deg, less than the 60 deg feature angle: the bone-facing
    surface, the chamfer and the rim are ONE smooth patch, which the curvature fit must trim.

    Truth as :func:`cranial_plate`: the outer rim is untouched, so the span is unchanged.
    """
    import manifold3d

    ro = inner_radius + wall
    shell, truth = _shell(inner_radius, wall)
    a = np.radians(half_angle_deg)
    h = ro + 5.0
    plate = shell ^ manifold3d.Manifold.cylinder(h, 0.0, h * np.tan(a), rim_segments)
    # chamfer line in the (rho, z) half-plane through P1 (on the rim face) and P2 (on the sphere)
    p1 = (inner_radius + chamfer) * np.array([np.sin(a), np.cos(a)])
    b = a - chamfer / inner_radius
    p2 = inner_radius * np.array([np.sin(b), np.cos(b)])
    slope = (p1[1] - p2[1]) / (p1[0] - p2[0])  # dz / drho, > 0: the cone opens upwards
    z0 = p2[1] - slope * p2[0]
    height = ro + 5.0 - z0
    cone = manifold3d.Manifold.cylinder(height, 0.0, height / slope, rim_segments).translate((0.0, 0.0, z0))
    plate = plate ^ cone
    for k in range(holes):
        polar = half_angle_deg * (1.0 if k % 2 == 0 else 2.0) / 3.0
        plate = plate - _hole(inner_radius, wall, hole_diameter, polar, 360.0 * k / holes, hole_segments)
    truth.update(radius_of_curvature=inner_radius, wall_thickness=wall, span=2.0 * ro * np.sin(a),
                 span_polygon=rim_segments, hole_count=holes, hole_diameter=hole_diameter,
                 hole_segments=hole_segments, chamfer_angle_deg=float(np.degrees(np.arctan(slope)) + np.degrees(b)))
    return _to_mesh(plate, rng, f"<csg chamfered plate R={inner_radius} t={wall}>"), truth


def filleted_plate(inner_radius: float = 80.0, wall: float = 2.0, half_angle_deg: float = 35.0, *,
                   fillet: float = 1.0, arc_steps: int = 120, fillet_steps: int = 12, segments: int = 240,
                   holes: int = 8, hole_diameter: float = 2.5, rng=6) -> tuple[MeshData, dict]:
    """A cap plate whose bone-side rim edge is rounded by a fillet of radius ``fillet`` tangent to
    the bone-facing sphere and to the radial rim, made by revolving its cross-section
    (``Manifold.revolve``; every cross-section vertex on an arc is on its sphere, so every
    revolved one is too), with radial round holes.

    The fillet is smooth-joined to the bone-facing surface (no edge at the tangency), so the
    bone-facing surface, the fillet and the rim form one smooth patch. A fitted face within the
    15 deg trimming angle of the sphere lies within ``fillet`` (1 - cos 15 deg) = 0.034 ``fillet``
    of it: ``truth["fillet_bias"]`` bounds the radius error.
    """
    import manifold3d

    a, ri, ro = np.radians(half_angle_deg), inner_radius, inner_radius + wall
    outer = [(ro * np.sin(x), ro * np.cos(x)) for x in np.linspace(0.0, a, arc_steps + 1)]
    # fillet centre: ri + fillet from the sphere's centre, fillet from the rim line
    tc = a - np.arcsin(fillet / (ri + fillet))
    centre = (ri + fillet) * np.array([np.sin(tc), np.cos(tc)])
    g_rim = np.arctan2(-np.sin(a), np.cos(a))  # direction centre -> rim tangency
    g_sph = np.arctan2(-np.cos(tc), -np.sin(tc))  # direction centre -> sphere tangency
    if g_rim < g_sph:
        g_rim += 2.0 * np.pi
    arc = [tuple(centre + fillet * np.array([np.cos(g), np.sin(g)])) for g in np.linspace(g_rim, g_sph, fillet_steps + 1)]
    steps = max(2, int(np.ceil(arc_steps * tc / a)))
    inner = [(ri * np.sin(x), ri * np.cos(x)) for x in np.linspace(tc, 0.0, steps + 1)][1:]
    poly = np.array(outer + arc + inner)
    poly[np.abs(poly[:, 0]) < 1e-12, 0] = 0.0  # the pole on the axis
    signed = 0.5 * np.sum(poly[:, 0] * np.roll(poly[:, 1], -1) - np.roll(poly[:, 0], -1) * poly[:, 1])
    plate = manifold3d.Manifold.revolve(manifold3d.CrossSection([poly[::-1] if signed < 0 else poly]), segments)
    for k in range(holes):
        plate = plate - _hole(ri, wall, hole_diameter, half_angle_deg / 2.0, 360.0 * k / holes, 32)
    truth = {"radius_of_curvature": ri, "fillet_bias": fillet * (1.0 - np.cos(np.radians(15.0))),
             "hole_count": holes}
    return _to_mesh(plate, rng, f"<csg filleted plate R={ri} t={wall} fillet={fillet}>"), truth


def flat_plate_one_hole(length: float = 60.0, width: float = 40.0, thickness: float = 2.0,
                        hole_diameter: float = 4.0, *, segments: int = 64, rng=4) -> tuple[MeshData, dict]:
    """A flat box plate with one round through-hole: no curvature to measure."""
    import manifold3d

    plate = manifold3d.Manifold.cube((length, width, thickness)) - manifold3d.Manifold.cylinder(
        thickness + 2.0, hole_diameter / 2.0, hole_diameter / 2.0, segments).translate(
        (length / 2.0, width / 2.0, -1.0))
    truth = {"radius_of_curvature": None, "wall_thickness": thickness, "hole_count": 1,
             "hole_diameter": hole_diameter, "hole_segments": segments}
    return _to_mesh(plate, rng, "<csg flat plate with one hole>"), truth


def solid(kind: str, *, rng=5) -> tuple[MeshData, dict]:
    """A convex solid with no concave surface: ``"sphere"`` (R 40), ``"block"`` (50 x 30 x 20)
    or ``"cylinder"`` (R 15, height 40)."""
    import manifold3d

    m = {"sphere": lambda: manifold3d.Manifold.sphere(40.0, 128),
         "block": lambda: manifold3d.Manifold.cube((50.0, 30.0, 20.0), True),
         "cylinder": lambda: manifold3d.Manifold.cylinder(40.0, 15.0, 15.0, 96, True)}[kind]()
    return _to_mesh(m, rng, f"<csg {kind}>"), {"radius_of_curvature": None}
