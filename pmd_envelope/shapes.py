"""Analytic test shapes whose thickness, extents and volume are known in closed form.

They back the test suite and are shipped so users can run known-answer checks on their own
installation (FDA Computer Software Assurance; ISO 13485 §4.1.6 software validation). Every
shape is closed, consistently wound with outward normals, and one body.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.geometry import MeshData
from pmd_envelope.mesh_io import mesh_from_arrays

__all__ = ["spherical_shell", "spherical_cap_plate", "cap_half_angle_for_span", "cap_plate_truth",
           "spherical_cap_plate_thin_spot", "flat_plate_with_holes", "tilted_plate", "anatomy_sphere"]


def spherical_shell(outer_radius: float, thickness: float, subdivisions: int = 4) -> MeshData:
    """Closed spherical shell: an outer icosphere and an inward-facing inner one [mm].

    Thickness is ``thickness`` everywhere (up to the chord sagitta of the tessellation).
    """
    import trimesh

    outer = trimesh.creation.icosphere(subdivisions=subdivisions, radius=outer_radius)
    v = np.vstack([outer.vertices, outer.vertices * ((outer_radius - thickness) / outer_radius)])
    f = np.vstack([outer.faces, outer.faces[:, ::-1] + len(outer.vertices)])
    return mesh_from_arrays(v, f, path=f"<spherical_shell R={outer_radius} t={thickness}>")


def cap_half_angle_for_span(inner_radius: float, thickness: float, span: float) -> float:
    """Half-angle [rad] of a cap plate whose outer rim circle has diameter ``span``."""
    return float(np.arcsin(span / (2.0 * (inner_radius + thickness))))


def cap_plate_truth(inner_radius: float, thickness: float, half_angle: float) -> dict:
    """Closed-form truth of :func:`spherical_cap_plate` (the smooth, untessellated solid).

    Returns the wall thickness, the span (rim diameter of the outer surface), the height (pole
    of the outer surface to the plane of the inner rim) and the volume of the spherical-shell
    sector, ``2/3 pi (Ro^3 - Ri^3)(1 - cos a)``.
    """
    ri, ro = inner_radius, inner_radius + thickness
    return {
        "wall_thickness": thickness,
        "span": 2.0 * ro * np.sin(half_angle),
        "height": ro - ri * np.cos(half_angle),
        "volume": 2.0 / 3.0 * np.pi * (ro**3 - ri**3) * (1.0 - np.cos(half_angle)),
        "mid_radius": ri + thickness / 2.0,
    }


def spherical_cap_plate(inner_radius: float, thickness: float, half_angle: float, *,
                        rings: int = 48, segments: int = 256) -> MeshData:
    """A closed plate cut from a spherical shell by a cone: a cranial plate in its simplest form.

    Parameters
    ----------
    inner_radius : float
        Radius of the bone-facing (concave) surface R [mm].
    thickness : float
        Wall thickness t [mm]; the outer surface has radius R + t.
    half_angle : float
        Half-angle of the cap [rad], measured from the pole (+z).
    rings, segments : int
        Tessellation: rings in polar angle, segments in azimuth.

    Notes
    -----
    The rim is a band along the sphere's radius, so every radial ray from either surface meets
    the other surface at distance ``thickness``.
    """
    verts, faces = _cap_plate_arrays(inner_radius, thickness, half_angle, rings, segments)
    return mesh_from_arrays(verts, faces, path=f"<spherical_cap_plate R={inner_radius} t={thickness} a={half_angle:.6f}>")


def _cap_plate_arrays(inner_radius, thickness, half_angle, rings, segments, inner_scale=None):
    """Vertices and faces of :func:`spherical_cap_plate`; ``inner_scale(theta)`` (per inner
    vertex, pole first) multiplies the inner radius when given."""
    ro = inner_radius + thickness
    theta = half_angle * np.arange(1, rings + 1) / rings
    phi = 2.0 * np.pi * np.arange(segments) / segments
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    unit = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (rings, segments))], axis=-1)
    unit = unit.reshape(-1, 3)
    pole = np.array([[0.0, 0.0, 1.0]])
    n_side = 1 + rings * segments
    inner = np.vstack([pole, unit]) * inner_radius
    if inner_scale is not None:
        th = np.concatenate([[0.0], np.repeat(theta, segments)])
        inner = inner * inner_scale(th)[:, None]
    verts = np.vstack([np.vstack([pole, unit]) * ro, inner])

    def ring(i, j):  # vertex index of ring i (0-based), segment j, on one side
        return 1 + i * segments + (j % segments)

    j = np.arange(segments)
    side = [np.stack([np.zeros(segments, dtype=np.int64), ring(0, j), ring(0, j + 1)], axis=1)]
    for i in range(rings - 1):
        side.append(np.stack([ring(i, j), ring(i + 1, j), ring(i + 1, j + 1)], axis=1))
        side.append(np.stack([ring(i, j), ring(i + 1, j + 1), ring(i, j + 1)], axis=1))
    outer = np.vstack(side)
    inner = outer[:, ::-1] + n_side
    last_o, last_i = ring(rings - 1, j), ring(rings - 1, j) + n_side
    last_o1, last_i1 = ring(rings - 1, j + 1), ring(rings - 1, j + 1) + n_side
    rim = np.vstack([np.stack([last_o, last_i, last_i1], axis=1), np.stack([last_o, last_i1, last_o1], axis=1)])
    faces = np.vstack([outer, inner, rim])
    return verts, faces


def spherical_cap_plate_thin_spot(inner_radius: float, thickness: float, half_angle: float, *, depth: float,
                                  spot_angle: float, rings: int = 48, segments: int = 256) -> MeshData:
    """A cap plate whose wall is ``depth`` thinner around the pole: a local thin spot of known depth.

    The bone-facing surface is pushed outward by ``depth`` for polar angles up to
    ``spot_angle`` [rad] (a flat-bottomed spot: the wall there is exactly ``thickness - depth``,
    concentric spheres), blending back to the cap over another ``spot_angle`` with a cos^2
    profile. The thinnest wall is ``thickness - depth`` [mm].
    """
    if not 0 < depth < thickness:
        raise ValueError("depth must be in (0, thickness)")

    def scale(th):
        x = np.clip((th - spot_angle) / spot_angle, 0.0, 1.0)
        return 1.0 + depth / inner_radius * np.cos(0.5 * np.pi * x) ** 2

    verts, faces = _cap_plate_arrays(inner_radius, thickness, half_angle, rings, segments, inner_scale=scale)
    return mesh_from_arrays(verts, faces, path=f"<cap thin spot R={inner_radius} t={thickness} d={depth}>")


def _manifold_to_mesh(m, path: str) -> MeshData:
    mesh = m.to_mesh64()
    return mesh_from_arrays(np.asarray(mesh.vert_properties)[:, :3], np.asarray(mesh.tri_verts, dtype=np.int64),
                            path=path)


def flat_plate_with_holes(length: float, width: float, thickness: float,
                          holes: tuple[tuple[float, float, float], ...], *, segments: int = 64) -> MeshData:
    """A flat plate [0, length] x [0, width] x [0, thickness] with round through-holes [mm].

    ``holes`` holds ``(x, y, diameter)`` of each hole; each hole is a regular ``segments``-gon
    with its corners on the circle (manifold3d CSG, so the mesh is closed and manifold by
    construction). Truth: hole diameter = ``diameter`` (corner circle); hole-to-edge distance
    (ligament from the hole wall to the nearest plate side) = ``min(x, length - x, y, width - y)
    - diameter / 2`` with ``segments`` divisible by 4 (a corner points at each side).
    """
    import manifold3d

    plate = manifold3d.Manifold.cube((length, width, thickness))
    for x, y, d in holes:
        cyl = manifold3d.Manifold.cylinder(thickness + 2.0, d / 2.0, d / 2.0, segments).translate((x, y, -1.0))
        plate = plate - cyl
    return _manifold_to_mesh(plate, f"<flat plate {length}x{width}x{thickness} with {len(holes)} holes>")


def tilted_plate(length: float, width: float, thickness: float, tilt_deg: float) -> MeshData:
    """A rectangular plate (box) rotated by ``tilt_deg`` about the x axis, centred at the origin.

    Faces after the rotation by a = ``tilt_deg``: top and bottom (length x width, normals
    (0, -+sin a, +-cos a): a from the vertical), two sides (width x thickness, normals +-x:
    vertical walls) and two ends (length x thickness, normals (0, +-cos a, +-sin a): 90 deg - a
    from the vertical). With build direction +z a face needs support when its outward normal is
    within 45 deg of straight down, so the bottom is an overhang for a < 45 deg and the lower
    end for a > 45 deg.
    """
    import trimesh

    box = trimesh.creation.box(extents=(length, width, thickness))
    a = np.radians(tilt_deg)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    return mesh_from_arrays(np.asarray(box.vertices) @ rot.T, np.asarray(box.faces),
                            path=f"<tilted plate {length}x{width}x{thickness} at {tilt_deg} deg>")


def anatomy_sphere(radius: float, subdivisions: int = 5) -> MeshData:
    """A closed sphere standing in for the bone surface (icosphere, vertices on the sphere) [mm]."""
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return mesh_from_arrays(s.vertices, s.faces, path=f"<anatomy sphere R={radius}>")
