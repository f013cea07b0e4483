"""Inscribed-sphere wall thickness: the shrinking-ball method around the thin candidates.

Method ``max_sphere``: at a surface point p with inward unit normal n, the wall thickness is the
diameter of the largest ball tangent to the surface at p that holds no surface point inside.
Shrinking ball (Ma, Bae & Choi 2012, "3D medial axis point approximation using nearest neighbors
and the normal field", Vis. Comput. 28; applied to wall thickness of meshes by Inui et al. 2016,
as cited in issue 3): start with radius r (capped), centre c = p + r n; find
the closest surface point q to c (exact float64 point-triangle projection, trimesh); if
|c - q| >= r the ball is empty and r is the answer; otherwise shrink to the ball through p and q
tangent at p, r = |q - p|^2 / (2 n . (q - p)), and repeat. Converged when the radius changes by
less than ``sphere_tolerance_mm``; a point that has not converged after ``sphere_max_iter``
steps keeps its last (upper-bound) radius and is flagged.

The ball touching p with radius r contains the ray segment from p of length 2r, so the sphere
thickness never exceeds the ray thickness: the ray value is the cap of the first ball. It is
applied to the ``sphere_faces`` thinnest faces by ray (trimesh's own implementation runs at
0.5-2 k points/s here, too slow for every face; shared performance notes); other faces keep
their ray value, which bounds their sphere value from above.

As with rays, a ball stopped by a face that does not look back at p (angle above
``opposing_angle_deg``) is stopped by a sharp convex edge, and p is in the sharp-edge zone.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.geometry import MeshData, mesh_face_geometry
from pmd_envelope.rays import looks_back

__all__ = ["shrinking_ball"]


def shrinking_ball(mesh: MeshData, points: np.ndarray, inward: np.ndarray, r0: np.ndarray, *,
                   tolerance: float, max_iter: int, touch0: np.ndarray, touch_face0: np.ndarray):
    """Inscribed-ball radius [mm] at each point.

    ``touch0`` / ``touch_face0`` are where the first ball touches the far wall (the ray's hit:
    a ball of diameter equal to the ray length touches the wall there). Returns
    ``(radius, far touch point, its face id, converged)``; the far touch is the last point that
    shrank the ball (an empty ball's closest surface point is p itself, which says nothing).
    """
    import trimesh  # deferred: ~0.3 s to import, paid only with the max_sphere method

    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    r = np.asarray(r0, dtype=float).copy()
    q_out = np.array(touch0, dtype=float)
    face_out = np.array(touch_face0, dtype=np.int64)
    converged = np.zeros(len(points), dtype=bool)
    todo = np.arange(len(points))
    for _ in range(max_iter):
        if len(todo) == 0:
            break
        c = points[todo] + inward[todo] * r[todo, None]
        q, dist, tri = trimesh.proximity.closest_point(tm, c)
        empty = dist >= r[todo] - tolerance
        d = q - points[todo]
        along = np.einsum("ij,ij->i", d, inward[todo])
        with np.errstate(divide="ignore", invalid="ignore"):
            r_new = np.where(along > 0, np.einsum("ij,ij->i", d, d) / (2.0 * along), 0.0)
        r_new = np.where(empty, r[todo], np.minimum(r_new, r[todo]))
        done = empty | (np.abs(r[todo] - r_new) < tolerance)
        r[todo] = r_new
        face_out[todo[~empty]] = tri[~empty]
        q_out[todo[~empty]] = q[~empty]
        converged[todo[done]] = True
        todo = todo[~done]
    return r, q_out, face_out, converged


def sphere_edge_zone(mesh: MeshData, start_faces: np.ndarray, touch_faces: np.ndarray, opposing_angle_deg: float):
    """True where the ball was stopped by a face not looking back at the start face."""
    n = mesh_face_geometry(mesh)[0]
    _, opposing = looks_back(n, touch_faces, -n[start_faces], opposing_angle_deg)
    return ~opposing
