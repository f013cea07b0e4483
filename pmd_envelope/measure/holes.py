"""Through-holes of a plate: count, minimum diameter, minimum hole-to-edge distance.

Method ``surface_loops``: the mesh is split into smooth patches at sharp edges (dihedral angle
above ``feature_angle_deg``); the two largest patches by area are the plate's two main surfaces
(top and bottom of a flat plate, outer and bone-facing surface of a cap). Each boundary loop of a
main surface is either its outer rim (the loop enclosing the largest projected area) or an
opening. An opening is a *through-hole* when the other main surface has an opening whose centre
lies within the hole's radius of it (a pocket or countersink alone has none).

* diameter: least-squares circle (Kasa 1976, "A circle fitting procedure and its error
  analysis", IEEE Trans. Instrum. Meas. 25) through the loop's vertices in the loop's best-fit
  plane; a through-hole's diameter is the smaller of its two openings (the bore, not a
  countersink).
* hole-to-edge distance: the ligament, the shortest distance from a hole's loop to the rim loop
  of the same surface (vertex to rim segment) measured perpendicular to the hole's axis, the quantity of the hole-to-edge rules of plate
  design guides (domain notes §3: >= 1.5 mm for mandible plates).

No library in the environment finds holes (trimesh's ``outline`` gives loops of open meshes only;
manifold3d gives the genus, not where the holes are), hence this module. The genus of each body
(Euler characteristic) is reported beside the count as a cross-check: a plate with h simple
through-holes has genus h.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pmd_envelope.geometry import (MeshData, boundary_half_edges, count_bodies, mesh_edges, mesh_face_geometry,
                                   open_half_edges)
from pmd_envelope.measure.records import Measurement, Witness

__all__ = ["Hole", "find_through_holes", "hole_measurements", "measure_holes", "smooth_patches", "circle_fit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hole:
    """One through-hole: centre [mm], diameter [mm], ligament to the rim [mm] and where."""

    centre: tuple[float, float, float]
    diameter: float
    edge_distance: float
    edge_point: tuple[float, float, float]
    rim_point: tuple[float, float, float]


@functools.lru_cache(maxsize=2)
def smooth_patches(mesh: MeshData, feature_angle_deg: float) -> np.ndarray:
    """Label of the smooth patch of each face (faces joined across edges bending less than the angle).

    Computed once per mesh and angle (read-only): the curvature fit and the hole search both
    split the mesh at the same angle (0.1 s at 1M faces).
    """
    labels = _smooth_patches(mesh.faces, mesh_face_geometry(mesh)[0], mesh_edges(mesh), feature_angle_deg)
    labels.setflags(write=False)
    return labels


def _smooth_patches(f, n, edges, feature_angle_deg):
    """:func:`smooth_patches` from the face normals and :func:`pmd_envelope.geometry.mesh_edges`."""
    order, k = edges
    face_of = np.repeat(np.arange(len(f)), 3)
    pair = np.flatnonzero(k[1:] == k[:-1])
    # only edges shared by exactly two faces join patches (a non-manifold edge joins nothing)
    single = np.ones(len(pair), dtype=bool)
    if len(pair) > 1:
        dup = pair[1:] == pair[:-1] + 1
        single[1:] &= ~dup
        single[:-1] &= ~dup
    pair = pair[single]
    fa, fb = face_of[order[pair]], face_of[order[pair + 1]]
    smooth = np.einsum("ij,ij->i", n[fa], n[fb]) >= np.cos(np.radians(feature_angle_deg))
    g = coo_matrix((np.ones(int(smooth.sum())), (fa[smooth], fb[smooth])), shape=(len(f), len(f)))
    _, labels = connected_components(g, directed=False)
    return labels


def _boundary_loops(faces: np.ndarray, boundary: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
    """Closed loops of vertex ids bounding a set of faces (half-edges without a twin in the set).

    The twin test is vectorised (:func:`pmd_envelope.geometry.open_half_edges`), or done by the caller:
    ``boundary`` holds the start and end vertex ids of the boundary half-edges in the faces'
    order (:func:`pmd_envelope.geometry.boundary_half_edges`). Only the boundary half-edges, a
    few thousand on a 1M-face plate, are walked in Python, in the faces' order, so the loops,
    their order and their start vertices are those of a walk over every half-edge.
    """
    boundary = open_half_edges(faces) if boundary is None else boundary
    nxt = {}
    for s, e in zip(boundary[0].tolist(), boundary[1].tolist()):
        nxt.setdefault(s, e)
    loops, seen = [], set()
    for start in list(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if v == start and len(loop) >= 3:
            loops.append(np.array(loop))
    return loops


def circle_fit(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre [mm] and radius [mm] of the least-squares circle through 3D points (Kasa fit in
    the points' best-fit plane)."""
    mu = points.mean(axis=0)
    _, _, axes = np.linalg.svd(points - mu, full_matrices=False)
    uv = (points - mu) @ axes[:2].T
    a = np.hstack([2.0 * uv, np.ones((len(uv), 1))])
    sol, *_ = np.linalg.lstsq(a, (uv**2).sum(axis=1), rcond=None)
    c2 = sol[:2]
    r = float(np.sqrt(sol[2] + c2 @ c2))
    return mu + c2 @ axes[:2], r


def _point_polyline_distance(points: np.ndarray, loop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each point to a closed polyline and the nearest polyline point."""
    p0, p1 = loop, np.roll(loop, -1, axis=0)
    d = p1 - p0
    best = np.full(len(points), np.inf)
    near = np.zeros_like(points)
    for i in range(0, len(points), 256):  # chunks keep points x segments below ~16 MB
        q = points[i:i + 256, None, :]
        t = np.clip(np.einsum("ijk,jk->ij", q - p0, d) / np.maximum(np.einsum("jk,jk->j", d, d), 1e-300), 0.0, 1.0)
        c = p0 + t[..., None] * d
        dist = np.linalg.norm(q - c, axis=2)
        j = dist.argmin(axis=1)
        best[i:i + 256] = dist[np.arange(len(j)), j]
        near[i:i + 256] = c[np.arange(len(j)), j]
    return best, near


def _surface_openings(v, faces, boundary=None):
    """(rim loop, [opening loops]) of one main surface; the rim encloses the largest area.

    ``boundary`` as :func:`_boundary_loops` takes it, when the caller has it.

    A loop's area is the length of its vector area 1/2 sum p_i x p_(i+1) (Newell's method): the
    area of the loop projected on its own best plane, so no surface normal is needed (the net
    normal of a tube-like patch, a cylinder's side, is zero).
    """
    loops = _boundary_loops(faces, boundary)
    if not loops:
        return None, []

    def area(loop):
        p = v[loop] - v[loop].mean(axis=0)
        return 0.5 * float(np.linalg.norm(np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)))

    areas = [area(lp) for lp in loops]
    rim = int(np.argmax(areas))
    return loops[rim], [lp for i, lp in enumerate(loops) if i != rim]


def find_through_holes(mesh: MeshData, feature_angle_deg: float, *,
                       bodies: int | None = None) -> tuple[list[Hole], int]:
    """Through-holes of the plate and the genus of the mesh (sum over bodies).

    ``bodies`` is ``geometry.count_bodies`` of the mesh when already known (the integrity
    report holds it); counted here otherwise. Returns ``([], genus)`` when the mesh has fewer
    than two smooth patches.
    """
    v, f = mesh.vertices, mesh.faces
    # face areas, the edge sort and the smooth patches are computed once per mesh and shared
    tri_area = mesh_face_geometry(mesh)[1]
    edges = mesh_edges(mesh)
    # genus of a closed orientable surface: chi = V - E + F = 2 (bodies - genus); E counts the
    # distinct undirected edges, V the vertices the faces use
    k = edges[1]
    ne = int(np.count_nonzero(k[1:] != k[:-1])) + 1 if len(k) else 0
    used = np.zeros(len(v), dtype=bool)
    used[f.reshape(-1)] = True
    if bodies is None:
        bodies = count_bodies(v, f)
    genus = int(round(bodies - (int(used.sum()) - ne + len(f)) / 2))
    labels = smooth_patches(mesh, feature_angle_deg)
    area = np.bincount(labels, weights=tri_area)
    if len(area) < 2:
        return [], genus
    main = np.argsort(area)[::-1][:2]
    surfaces = []
    for lab in main:
        ids = np.flatnonzero(labels == lab)
        rim, openings = _surface_openings(v, f[ids], boundary_half_edges(mesh, ids))
        fits = [circle_fit(v[lp]) for lp in openings]
        surfaces.append((rim, openings, fits))
    holes = []
    (rim_a, open_a, fit_a), (rim_b, open_b, fit_b) = surfaces
    for la, (ca, ra) in zip(open_a, fit_a):
        match = [(i, cb, rb) for i, (cb, rb) in enumerate(fit_b)
                 if np.linalg.norm(_in_plane(cb - ca, v[la])) < max(ra, rb)]
        if not match:
            continue  # a pocket or a countersink seen from one side only
        i, cb, rb = min(match, key=lambda m: np.linalg.norm(m[1] - ca))
        best = (np.inf, None, None)
        for loop, rim in ((la, rim_a), (open_b[i], rim_b)):
            if rim is None:
                continue
            # measured across the plate, perpendicular to the hole's axis: a filleted or
            # chamfered rim may end at the other face of the plate, and the plate's thickness
            # is not part of the ligament
            axis = _loop_axis(v[loop])
            flat = v - np.outer(v @ axis, axis)
            d, near = _point_polyline_distance(flat[loop], flat[rim])
            j = int(np.argmin(d))
            if d[j] < best[0]:
                # report the rim point in 3D: the rim vertex segment point nearest in projection
                best = (float(d[j]), v[loop][j], near[j] + (v[loop][j] @ axis) * axis)
        holes.append(Hole(centre=tuple(float(x) for x in (ca + cb) / 2.0), diameter=2.0 * min(ra, rb),
                          edge_distance=best[0], edge_point=tuple(float(x) for x in best[1]),
                          rim_point=tuple(float(x) for x in best[2])))
    return holes, genus


def _loop_axis(loop_pts: np.ndarray) -> np.ndarray:
    """Unit normal of a loop's best-fit plane (the hole's axis)."""
    _, _, axes = np.linalg.svd(loop_pts - loop_pts.mean(axis=0), full_matrices=False)
    return axes[2]


def _in_plane(d: np.ndarray, loop_pts: np.ndarray) -> np.ndarray:
    """Component of ``d`` in the plane of a loop (the hole axis component removed)."""
    axis = _loop_axis(loop_pts)
    return d - (d @ axis) * axis


def measure_holes(mesh: MeshData, feature_angle_deg: float, *, bodies: int | None = None) -> tuple[Measurement, ...]:
    """``hole_count``, and when there are holes ``hole_diameter`` (minimum) and
    ``hole_edge_distance`` (minimum), each with its witness.

    ``bodies``: the mesh's body count when known (see :func:`find_through_holes`)."""
    holes, genus = find_through_holes(mesh, feature_angle_deg, bodies=bodies)
    return hole_measurements(holes, genus, feature_angle_deg)


def hole_measurements(holes: list[Hole], genus: int, feature_angle_deg: float) -> tuple[Measurement, ...]:
    """The measurements of :func:`measure_holes` from holes already found by :func:`find_through_holes`."""
    notes = (f"smooth patches split at {feature_angle_deg:g} deg; openings of the two largest surfaces matched "
             f"across the plate; genus of the mesh {genus}")
    out = [Measurement(parameter="hole_count", value=float(len(holes)), unit="1", method="surface_loops",
                       statistics=(("genus", float(genus)),), notes=notes)]
    if holes:
        d = np.array([h.diameter for h in holes])
        e = np.array([h.edge_distance for h in holes])
        hd = holes[int(np.argmin(d))]
        he = holes[int(np.argmin(e))]
        out.append(Measurement(parameter="hole_diameter", value=float(d.min()), unit="mm", method="circle_fit",
                               statistics=(("min", float(d.min())), ("max", float(d.max()))),
                               witness=Witness(point=hd.centre, opposite=hd.centre, faces=(-1, -1),
                                               distance=hd.diameter),
                               notes="least-squares circle through each opening; the smaller opening of each hole"))
        out.append(Measurement(parameter="hole_edge_distance", value=float(e.min()), unit="mm", method="ligament",
                               statistics=(("min", float(e.min())), ("max", float(e.max()))),
                               witness=Witness(point=he.edge_point, opposite=he.rim_point, faces=(-1, -1),
                                               distance=he.edge_distance),
                               notes="shortest distance from a hole's opening to the rim of the same surface"))
    return tuple(out)
