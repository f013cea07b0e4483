"""Oriented bounding-box extents, volume and surface area; the radius of curvature from
:mod:`pmd_envelope.measure.curvature` joins them in :func:`measure_extents`."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from pmd_envelope.geometry import MeshData, mesh_face_geometry, mesh_signed_volume
from pmd_envelope.measure.curvature import concave_surface_radius, measure_curvature, sphere_fit
from pmd_envelope.measure.records import Measurement
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings

# sphere_fit and concave_surface_radius live in measure.curvature; re-exported for existing callers
__all__ = ["oriented_extents", "measure_extents", "measure_box", "measure_size_and_curvature", "sphere_fit",
           "concave_surface_radius"]


# Vertices handed to trimesh's direction search. Its cost grows with (directions x hull points):
# a cap plate's hull holds its whole outer surface (~500k points at 1M faces, 20 s), while 4000
# points keep it near 0.1 s. The search only proposes directions; every candidate box is then
# computed exactly over all vertices.
_SEARCH_POINTS = 4000


#: Directions (angles 0, 45, 90 and 135 deg) of :func:`_hull_candidates`' extreme points.
_OCTAGON = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)], [0.0, 1.0], [-np.sqrt(0.5), np.sqrt(0.5)]]).T


def _hull_candidates(p2: np.ndarray) -> np.ndarray:
    """Indices of the 2D points that may be convex hull vertices (Akl-Toussaint prefilter).

    The extreme points in eight directions span a convex polygon inside the hull; a point
    strictly inside it, by more than a rounding margin, is not a hull vertex, so qhull is
    given the rest and returns the same hull (a cap seen from above keeps ~5 % of its
    vertices, seen edge-on about half; :func:`oriented_extents` at 1M faces 0.48 s -> 0.38 s).
    """
    if len(p2) < 16:
        return np.arange(len(p2))
    s = p2 @ _OCTAGON
    ring = p2[np.concatenate([np.argmax(s, axis=0), np.argmin(s, axis=0)])]  # counter-clockwise
    margin = 1e-9 * float(np.abs(p2).max()) ** 2
    inside = np.ones(len(p2), dtype=bool)
    for a, b in zip(ring, np.roll(ring, -1, axis=0)):
        e = b - a
        if e.any():  # left of every edge a -> b of the counter-clockwise polygon, by the margin
            inside &= e[0] * (p2[:, 1] - a[1]) - e[1] * (p2[:, 0] - a[0]) > margin
    return np.flatnonzero(~inside)


def _box_about(points: np.ndarray, normal: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Smallest box with one axis along ``normal``: (volume, extents, 3x3 rows = box axes).

    The in-plane rectangle is the exact minimum-area one (rotating calipers over the 2D hull,
    trimesh.bounds.oriented_bounds_2D).
    """
    n = normal / np.linalg.norm(normal)
    # any two unit vectors completing a right-handed frame with n
    helper = np.eye(3)[int(np.argmin(np.abs(n)))]
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    w = np.cross(n, u)
    p2 = np.column_stack([points @ u, points @ w])
    try:
        hull2 = p2[_hull_candidates(p2)]
        hull2 = hull2[ConvexHull(hull2).vertices]
    except QhullError:
        # the points project onto a line or a point (a flat design seen edge-on): the rectangle
        # is that segment, along its principal direction, with zero width
        centred = p2 - p2.mean(axis=0)
        d = np.linalg.svd(centred, full_matrices=False)[2][0] if np.ptp(p2, axis=0).any() else np.array([1.0, 0.0])
        rot = np.array([[d[0], d[1]], [-d[1], d[0]]])
        ext2 = np.ptp(centred @ rot.T, axis=0)
    else:
        import trimesh  # deferred: a whole-package import of ~0.3 s (see oriented_extents)

        t2, ext2 = trimesh.bounds.oriented_bounds_2D(hull2)
        # t2 rotates the 2D points so the rectangle is axis-aligned; its rows give the directions
        rot = np.asarray(t2)[:2, :2]
    a1 = rot[0, 0] * u + rot[0, 1] * w
    a2 = rot[1, 0] * u + rot[1, 1] * w
    height = float(np.ptp(points @ n))
    extents = np.array([float(ext2[0]), float(ext2[1]), height])
    return float(np.prod(extents)), extents, np.vstack([a1, a2, n])


def oriented_extents(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extents [mm] (descending) and 3x3 axes (rows) of a minimum-volume oriented bounding box.

    Candidate orientations: each principal axis of the vertices (exact for caps, plates and
    bars, whose smallest box has an axis along one of them) and the three axes of trimesh's
    ``oriented_bounds`` search (hull face directions rounded to 0.1 rad) over at most
    ``_SEARCH_POINTS`` vertices. About each distinct candidate axis the exact minimum-area
    rectangle of all vertices is found (2D hull + rotating calipers), so every candidate is a
    true bounding box of the design and the smallest volume wins. No 3D hull of all vertices is
    built: a cap plate's hull holds its whole outer surface (2 s at 1M faces), and trimesh's
    ``bounding_box_oriented`` on the whole mesh takes 40-80 s at 2M faces (performance notes).
    """
    # trimesh is imported here, not with this module: importing it costs ~0.3 s (the whole
    # package, for two functions), which `measure` then pays beside the ray thickness rather
    # than before it starts
    import trimesh

    centred = vertices - vertices.mean(axis=0)
    _, _, axes = np.linalg.svd(centred[:: max(1, len(centred) // 200_000)], full_matrices=False)
    step = max(1, len(centred) // _SEARCH_POINTS)
    candidates = list(axes)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # trimesh divides by a flat hull's zero volume
            transform, _ = trimesh.bounds.oriented_bounds(centred[::step])
        candidates += list(np.asarray(transform)[:3, :3])
    except QhullError:
        pass  # a flat (planar) design has no 3D hull; its principal axes hold the smallest box
    normals: list[np.ndarray] = []
    for n in candidates:
        n = n / np.linalg.norm(n)
        if all(abs(float(n @ m)) < np.cos(np.radians(0.01)) for m in normals):
            normals.append(n)
    _, extents, box_axes = min((_box_about(centred, n) for n in normals), key=lambda c: c[0])
    order = np.argsort(extents)[::-1]
    return extents[order], box_axes[order]


def measure_extents(mesh: MeshData, settings: Settings = DEFAULT_SETTINGS) -> tuple[Measurement, ...]:
    """Span and the other OBB extents, volume, surface area and radius of curvature.

    ``settings`` holds the curvature fit's thresholds (:func:`pmd_envelope.measure.curvature.bone_surface_fit`).
    """
    return measure_box(mesh) + measure_size_and_curvature(mesh, settings)


def measure_box(mesh: MeshData, extents: tuple[float, float, float] | None = None) -> tuple[Measurement, ...]:
    """Span, extent_mid and extent_min: the oriented bounding box (:func:`oriented_extents`).

    ``extents`` [mm], descending, when :func:`oriented_extents` of these vertices was already
    computed (by the self-intersection worker: :func:`pmd_envelope.selfcheck_worker.box_extents`).
    """
    ext = oriented_extents(mesh.vertices)[0] if extents is None else extents
    obb = ("minimum-volume oriented bounding box: exact minimum-area rectangle about each principal axis of the "
           "convex hull and about trimesh's oriented_bounds directions")
    return (
        Measurement(parameter="span", value=float(ext[0]), unit="mm", method="obb", notes=obb),
        Measurement(parameter="extent_mid", value=float(ext[1]), unit="mm", method="obb", notes=obb),
        Measurement(parameter="extent_min", value=float(ext[2]), unit="mm", method="obb", notes=obb),
    )


def measure_size_and_curvature(mesh: MeshData, settings: Settings = DEFAULT_SETTINGS) -> tuple[Measurement, ...]:
    """Volume, surface area and radius of curvature: the rest of :func:`measure_extents`."""
    vol, area = mesh_signed_volume(mesh), float(mesh_face_geometry(mesh)[1].sum())
    return (
        Measurement(parameter="volume", value=vol, unit="mm^3", method="divergence",
                    notes="signed volume by the divergence theorem"),
        Measurement(parameter="surface_area", value=area, unit="mm^2", method="triangle_sum"),
        measure_curvature(mesh, settings),
    )
