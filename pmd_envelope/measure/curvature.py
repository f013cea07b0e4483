"""Radius of curvature of the bone-facing surface (method ``sphere_fit``).

The bone-facing surface of a cranial plate is the large smooth patch that is concave seen from
outside: its outward normals converge on a centre. Rim faces, hole walls, chamfers and fillets
are not part of it and must not enter the fit (through-holes alone pulled an 80 mm plate to
76 mm, and made a flat plate with one hole read as a 2.2 mm "radius", the hole wall's).

Steps (:func:`bone_surface_fit`):

1. Split the surface into smooth patches at edges bending more than ``feature_angle_deg``
   (:func:`pmd_envelope.measure.holes.smooth_patches`, the hole finder's patches). Patches under
   ``curvature_min_area_fraction`` of the surface area (hole walls, rim bands, small fillets)
   are not candidates.
2. A candidate whose vertices all lie within ``curvature_flat_mm`` of their least-squares plane
   is *flat*.
3. For each curved candidate, the centre where its area-weighted normal lines converge is found
   by least squares; the faces whose outward normal points at that centre within
   ``curvature_normal_angle_deg`` are kept, a sphere is fitted through the kept faces' vertices
   that are not on the kept set's boundary, and faces are kept again against the new centre,
   until the kept set no longer changes. A chamfer or fillet joined smoothly to the surface
   falls out here: its normals leave the sphere's radial direction.
4. The curved candidate with the largest kept (concave) area is the bone-facing surface, if
   that area reaches ``curvature_min_area_fraction``. Otherwise the largest flat candidate, if
   any, makes the answer "flat", and with neither the design has no concave surface.

A flat or missing surface gives no number (``value`` None with the reason), never a huge or
infinite radius: the envelope's radius limits (60-120 mm for cranial plates) then make the check
indeterminate, so a flat plate cannot pass a curvature limit silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmd_envelope.geometry import (MeshData, boundary_half_edges, mesh_face_centroids, mesh_face_geometry,
                                   open_half_edges)
from pmd_envelope.measure.holes import smooth_patches
from pmd_envelope.measure.records import Measurement
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings

__all__ = ["CurvatureFit", "bone_surface_fit", "concave_surface_radius", "measure_curvature", "sphere_fit"]

# Re-selection rounds before the fit is taken as it stands. The kept set settles in 2-3 rounds
# on every test shape (the first centre is already within a fraction of a mm); 20 only bounds
# the loop.
_MAX_ROUNDS = 20

# Fewest interior vertices a sphere fit uses before it falls back to all the kept faces'
# vertices: 4 determine a sphere, 10 leave a residual worth reporting.
_MIN_FIT_POINTS = 10


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CurvatureFit:
    """The sphere fitted to the bone-facing surface, or why there is none.

    Attributes
    ----------
    radius : float or None
        Radius of the fitted sphere [mm]; None when ``reason`` says why not.
    rms_residual : float or None
        RMS distance of the fitted vertices from the sphere [mm].
    centre : tuple of float or None
        Centre of the fitted sphere [mm], mesh coordinates.
    faces : numpy.ndarray of int
        Ids of the faces fitted (empty when there is no fit).
    area_fraction : float or None
        Area of the fitted faces over the whole surface area [-].
    reason : str
        Why there is no radius ("flat: ...", "no concave (bone-facing) surface: ..."); empty
        when there is one.
    """

    radius: float | None
    rms_residual: float | None
    centre: tuple[float, float, float] | None
    faces: np.ndarray
    area_fraction: float | None
    reason: str = ""


def sphere_fit(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    r"""Least-squares sphere through points.

    Parameters
    ----------
    points : numpy.ndarray, (n, 3) [mm]
        At least 4 points, not all on one plane.

    Returns
    -------
    centre : numpy.ndarray, (3,) [mm]
    radius : float [mm]
    rms_residual : float [mm]
        RMS of the points' distances from the sphere.

    Notes
    -----
    The algebraic fit solves :math:`|x|^2 = 2 c \cdot x + k` linearly for centre c and
    :math:`k = r^2 - |c|^2` (Coope 1993). Points are centred first for conditioning.

    References
    ----------
    .. [1] I. D. Coope, "Circle fitting by linear and nonlinear least squares", J. Optim.
       Theory Appl. 76 (1993) 381-388.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * 5.0 + 2.0
    >>> c, r, rms = sphere_fit(pts)
    >>> [round(float(x), 9) for x in c], round(r, 9), rms < 1e-12
    ([2.0, 2.0, 2.0], 5.0, True)
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


def _plane_spread(points: np.ndarray) -> float:
    """Peak-to-valley distance [mm] of points from their least-squares plane (total least squares
    by SVD: the plane normal is the direction of least variance)."""
    p = points - points.mean(axis=0)
    _, _, axes = np.linalg.svd(p, full_matrices=False)
    return float(np.ptp(p @ axes[2]))


def _normal_convergence(normals: np.ndarray, centroids: np.ndarray, areas: np.ndarray) -> np.ndarray:
    r"""Point [mm] nearest, in area-weighted least squares, to the faces' normal lines.

    Minimises :math:`\sum_i a_i |(I - n_i n_i^T)(c - x_i)|^2`, whose normal equations are
    :math:`\sum a_i (I - n_i n_i^T)\, c = \sum a_i (I - n_i n_i^T)\, x_i`. For a spherical patch
    every normal line passes through the sphere's centre.
    """
    # the same sums without an (n, 3, 3) array of projectors: sum a (I - n n^T) = (sum a) I -
    # (a n)^T n, and sum a (I - n n^T) x = sum a x - (a n)^T (n . x)
    an = normals * areas[:, None]
    lhs = areas.sum() * np.eye(3) - an.T @ normals
    rhs = areas @ centroids - an.T @ np.einsum("ij,ij->i", normals, centroids)
    return np.linalg.lstsq(lhs, rhs, rcond=None)[0]


def _interior_vertices(faces: np.ndarray, boundary: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Vertex ids used by ``faces`` and not on the boundary of that face set.

    A half-edge is on the boundary when its twin (same edge, opposite direction) is not in the
    set. Boundary vertices of a CSG result are the intersection curves (rim, hole edges), which
    lie on the operands' facets, up to a chordal sagitta inside a tessellated sphere; interior
    vertices are the tessellation's own, on the surface. ``boundary``, the start and end vertex
    ids of the boundary half-edges, when the caller has them
    (:func:`pmd_envelope.geometry.boundary_half_edges`); else they are found by sorting the
    set's half-edge keys.
    """
    boundary = open_half_edges(faces) if boundary is None else boundary
    used = _vertices_of(faces)
    on_boundary = np.zeros(len(used) and int(used[-1]) + 1, dtype=bool)
    on_boundary[boundary[0]] = True
    on_boundary[boundary[1]] = True
    return used[~on_boundary[used]]


def _vertices_of(faces: np.ndarray) -> np.ndarray:
    """Sorted ids of the vertices ``faces`` use: ``np.unique(faces)`` by a mask, O(n) instead of a
    hash or sort of every corner (1.4 s of a 1M-face plate's curvature went to np.unique)."""
    used = np.zeros(int(faces.max()) + 1 if faces.size else 0, dtype=bool)
    used[faces.reshape(-1)] = True
    return np.flatnonzero(used)


def _trimmed_sphere(mesh, normals, centroids, areas, patch, cos_keep):
    """Fit of one curved patch: (kept face ids, centre, radius, rms) or None when no face of the
    patch points at the centre of its normals."""
    v, f = mesh.vertices, mesh.faces
    centre = _normal_convergence(normals[patch], centroids[patch], areas[patch])
    kept = None
    radius = rms = 0.0
    for _ in range(_MAX_ROUNDS):
        to_c = centre - centroids[patch]
        dist = np.linalg.norm(to_c, axis=1)
        keep = patch[np.einsum("ij,ij->i", normals[patch], to_c) >= cos_keep * dist]
        if len(keep) == 0:
            return None
        if kept is not None and np.array_equal(keep, kept):
            break
        kept = keep
        pts = _interior_vertices(f[kept], boundary_half_edges(mesh, kept))
        if len(pts) < _MIN_FIT_POINTS:
            pts = _vertices_of(f[kept])
        if len(pts) < 4:
            return None
        centre, radius, rms = sphere_fit(v[pts])
    return kept, centre, radius, rms


def bone_surface_fit(mesh: MeshData, settings: Settings = DEFAULT_SETTINGS) -> CurvatureFit:
    """Sphere fitted to the bone-facing (concave) surface only.

    Parameters
    ----------
    mesh : MeshData
        Closed, consistently wound design mesh with outward normals [mm].
    settings : Settings
        Uses ``feature_angle_deg`` (patch split), ``curvature_min_area_fraction``,
        ``curvature_flat_mm`` and ``curvature_normal_angle_deg``.

    Returns
    -------
    CurvatureFit
        Radius [mm], RMS residual [mm], the faces fitted and their area fraction; or the reason
        there is no radius (flat, or no concave surface).

    Notes
    -----
    The steps are in the module docstring. The fit is the algebraic sphere fit of
    :func:`sphere_fit` (Coope 1993) through the interior vertices of the kept faces. On a
    tessellated sphere those vertices lie on the sphere, so the radius is exact up to rounding;
    the boundary vertices of a boolean result (rim and hole edges) lie up to a chordal sagitta
    inside it and are left out.

    Examples
    --------
    >>> from pmd_envelope.shapes import spherical_cap_plate
    >>> fit = bone_surface_fit(spherical_cap_plate(80.0, 2.0, 0.6, rings=16, segments=64))
    >>> round(fit.radius, 6), fit.reason
    (80.0, '')
    """
    v, f = mesh.vertices, mesh.faces
    normals, areas = mesh_face_geometry(mesh)
    total = float(areas.sum())
    none = np.zeros(0, dtype=np.int64)
    if len(f) == 0 or not total > 0:
        return CurvatureFit(radius=None, rms_residual=None, centre=None, faces=none, area_fraction=None,
                            reason="no concave (bone-facing) surface: the mesh has no area")
    labels = smooth_patches(mesh, settings.feature_angle_deg)
    patch_area = np.bincount(labels, weights=areas)
    min_area = settings.curvature_min_area_fraction * total
    centroids = mesh_face_centroids(mesh)
    cos_keep = np.cos(np.radians(settings.curvature_normal_angle_deg))
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(len(patch_area) + 1))
    best, flat = None, None
    for lab in np.flatnonzero(patch_area >= min_area):
        patch = np.sort(order[starts[lab]:starts[lab + 1]])
        spread = _plane_spread(v[_vertices_of(f[patch])])
        if spread < settings.curvature_flat_mm:
            if flat is None or patch_area[lab] > flat[0]:
                flat = (float(patch_area[lab]), spread)
            continue
        got = _trimmed_sphere(mesh, normals, centroids, areas, patch, cos_keep)
        if got is None:
            continue
        kept_area = float(areas[got[0]].sum())
        if kept_area >= min_area and (best is None or kept_area > best[0]):
            best = (kept_area, got)
    if best is not None:
        kept_area, (kept, centre, radius, rms) = best
        return CurvatureFit(radius=float(radius), rms_residual=float(rms),
                            centre=tuple(float(x) for x in centre), faces=kept, area_fraction=kept_area / total)
    if flat is not None:
        why = (f"flat: no measurable curvature (plane fits within {flat[1]:.3g} mm, below "
               f"{settings.curvature_flat_mm:g} mm, over the largest flat surface, {flat[0] / total:.0%} of the area)")
    else:
        why = (f"no concave (bone-facing) surface: no smooth patch of at least "
               f"{settings.curvature_min_area_fraction:.0%} of the area has its normals converging on a centre")
    return CurvatureFit(radius=None, rms_residual=None, centre=None, faces=none, area_fraction=None, reason=why)


def concave_surface_radius(mesh: MeshData, settings: Settings = DEFAULT_SETTINGS) -> tuple[float | None, float | None, str]:
    """Radius [mm] and RMS residual [mm] of :func:`bone_surface_fit`, and the reason when None."""
    fit = bone_surface_fit(mesh, settings)
    return fit.radius, fit.rms_residual, fit.reason


def measure_curvature(mesh: MeshData, settings: Settings = DEFAULT_SETTINGS) -> Measurement:
    """The ``radius_of_curvature`` measurement: :func:`bone_surface_fit` with what was fitted.

    Statistics: ``rms_residual`` [mm], ``area_fraction`` [-] (fitted area over the surface
    area) and ``faces`` (count of faces fitted); all None with the reason when there is no
    radius.
    """
    fit = bone_surface_fit(mesh, settings)
    stats = (("rms_residual", fit.rms_residual), ("area_fraction", fit.area_fraction),
             ("faces", float(len(fit.faces)) if fit.radius is not None else None))
    notes = (f"least-squares sphere through the interior vertices of the bone-facing surface: the largest smooth "
             f"patch (split at {settings.feature_angle_deg:g} deg) whose faces point at its centre, trimmed to "
             f"faces within {settings.curvature_normal_angle_deg:g} deg of the sphere's radial direction")
    return Measurement(parameter="radius_of_curvature", value=fit.radius, unit="mm", method="sphere_fit",
                       statistics=stats, reason=fit.reason, notes=notes)
