"""Analytic test shapes whose thickness, extents and volume are known in closed form.

They back the test suite and are shipped so users can run known-answer checks on their own
installation (FDA Computer Software Assurance; ISO 13485 §4.1.6 software validation). Every
shape is closed, consistently wound with outward normals, and one body.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.mesh_io import MeshData, mesh_from_arrays

__all__ = ["spherical_shell", "spherical_cap_plate", "cap_half_angle_for_span", "cap_plate_truth"]


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
    ro = inner_radius + thickness
    theta = half_angle * np.arange(1, rings + 1) / rings
    phi = 2.0 * np.pi * np.arange(segments) / segments
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    unit = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (rings, segments))], axis=-1)
    unit = unit.reshape(-1, 3)
    pole = np.array([[0.0, 0.0, 1.0]])
    n_side = 1 + rings * segments
    verts = np.vstack([np.vstack([pole, unit]) * ro, np.vstack([pole, unit]) * inner_radius])

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
    return mesh_from_arrays(verts, faces, path=f"<spherical_cap_plate R={inner_radius} t={thickness} a={half_angle:.6f}>")
