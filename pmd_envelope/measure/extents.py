"""Oriented bounding-box extents, volume, surface area and the fitted radius of curvature."""

from __future__ import annotations

import numpy as np

from pmd_envelope.integrity import signed_volume, triangle_areas
from pmd_envelope.measure.records import Measurement
from pmd_envelope.mesh_io import MeshData

__all__ = ["oriented_extents", "measure_extents", "volume_area", "sphere_fit", "concave_surface_radius"]


def oriented_extents(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extents [mm] (descending) and 4x4 transform of a minimum-volume oriented bounding box.

    Candidates: trimesh's ``oriented_bounds`` search over hull face directions (rounded to 0.1
    rad, its default: finer rounding costs 15x the time), and the same 2D rotating-calipers
    search about each principal axis of the hull points (which finds the pole axis of caps and
    the normal of plates exactly). The smallest volume wins. trimesh is given the convex hull's
    vertices only: ``bounding_box_oriented`` on a 2M-face mesh takes 40-80 s (shared
    performance notes) while the hull has a few thousand points.
    """
    import trimesh
    from scipy.spatial import ConvexHull

    hull_pts = vertices[ConvexHull(vertices).vertices]
    _, _, axes = np.linalg.svd(hull_pts - hull_pts.mean(axis=0), full_matrices=False)
    candidates = [trimesh.bounds.oriented_bounds(hull_pts)]
    candidates += [trimesh.bounds.oriented_bounds(hull_pts, normal=axis) for axis in axes]
    transform, extents = min(candidates, key=lambda c: float(np.prod(c[1])))
    return np.sort(np.asarray(extents, dtype=float))[::-1], np.asarray(transform)


def volume_area(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    """Enclosed volume [mm^3] and surface area [mm^2]."""
    return signed_volume(vertices, faces), float(triangle_areas(vertices, faces).sum())


def sphere_fit(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    r"""Least-squares sphere through points: centre [mm], radius [mm], RMS residual [mm].

    Notes
    -----
    The algebraic fit solves :math:`|x|^2 = 2 c \cdot x + k` linearly for centre c and
    :math:`k = r^2 - |c|^2` (Coope 1993, "Circle fitting by linear and nonlinear least
    squares", J. Optim. Theory Appl. 76). Points are centred first for conditioning.
    """
    mu = points.mean(axis=0)
    p = points - mu
    a = np.hstack([2.0 * p, np.ones((len(p), 1))])
    b = (p**2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c = sol[:3]
    r = float(np.sqrt(sol[3] + c @ c))
    resid = float(np.sqrt(np.mean((np.linalg.norm(p - c, axis=1) - r) ** 2)))
    return c + mu, r, resid


def concave_surface_radius(mesh: MeshData) -> tuple[float, float]:
    """Radius [mm] and RMS residual [mm] of the sphere fitted to the concave surface.

    A first fit through all vertices gives a centre; the faces that look towards it (normal
    pointing at the centre) form the concave, bone-facing surface of a curved plate, and a
    second fit through their vertices gives its radius. For a flat plate the radius is very
    large, as it should be.
    """
    from pmd_envelope.integrity import face_normals

    v, f = mesh.vertices, mesh.faces
    centre, _, _ = sphere_fit(v)
    centroids = v[f].mean(axis=1)
    facing = np.einsum("ij,ij->i", face_normals(v, f), centre - centroids) > 0
    if facing.sum() < 4:
        return float("inf"), 0.0
    _, radius, resid = sphere_fit(v[np.unique(f[facing])])
    return radius, resid


def measure_extents(mesh: MeshData) -> tuple[Measurement, ...]:
    """Span and the other OBB extents, volume, surface area and radius of curvature."""
    ext, _ = oriented_extents(mesh.vertices)
    vol, area = volume_area(mesh.vertices, mesh.faces)
    radius, resid = concave_surface_radius(mesh)
    obb = "minimum-volume oriented bounding box of the convex hull (trimesh.bounds.oriented_bounds)"
    return (
        Measurement(parameter="span", value=float(ext[0]), unit="mm", method="obb", notes=obb),
        Measurement(parameter="extent_mid", value=float(ext[1]), unit="mm", method="obb", notes=obb),
        Measurement(parameter="extent_min", value=float(ext[2]), unit="mm", method="obb", notes=obb),
        Measurement(parameter="volume", value=vol, unit="mm^3", method="divergence",
                    notes="signed volume by the divergence theorem"),
        Measurement(parameter="surface_area", value=area, unit="mm^2", method="triangle_sum"),
        Measurement(parameter="radius_of_curvature", value=radius, unit="mm", method="sphere_fit",
                    statistics=(("rms_residual", resid),),
                    notes="least-squares sphere through the vertices of the concave (bone-facing) surface"),
    )
