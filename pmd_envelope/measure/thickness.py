"""Wall thickness by rays cast along the inward face normal (and vertex pseudonormal).

Method ``ray``: from each face's centroid a ray is cast along the inward normal; the thickness
of the face is the distance to the first surface it meets. The hit counts as a wall only if the
face it meets looks back at the start face (angle between the hit normal and the ray within
``opposing_angle_deg``); otherwise the ray left through an adjacent face near a sharp convex
edge, and the face is in the *sharp-edge zone*: its distance is kept but excluded from the
reported wall thickness, so sharp edges do not fake thin walls. The minimum is reported with and
without the zone.

Rays start at the centroid and the start face is excluded (see :mod:`pmd_envelope.rays`): the
float32 pass skips only the first ``ray_offset_mm`` (1e-4 mm) of each ray, which a re-cast past
the start face would skip anyway, and the float64 engine filters the start face by id with no
offset, so no offset decides what counts as a wall. The fast
engine is Embree (embreex, float32); an exact float64 engine gives the same numbers within
``engine_tolerance_mm`` (asserted on every test shape) and re-measures the thinnest faces, so the
reported minimum and witness are float64. The record names the engine and the tolerance.

Vertex rays (:func:`vertex_ray_thickness`, statistic ``min_vertex``): from each vertex a ray is
cast along minus its angle-weighted pseudonormal (Baerentzen & Aanaes 2005), every face incident
to the vertex excluded (the same re-cast / filter-by-id rule, on the same index), with the same
sharp-edge rule. Vertices of a tessellated smooth surface lie on it, so they complement the
centroids, which lie a sagitta below it; ``value`` stays the face-ray minimum.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from pmd_envelope.geometry import MeshData, mesh_face_centroids, mesh_face_geometry
from pmd_envelope.measure.records import Measurement, Witness
from pmd_envelope.measure.sphere import shrinking_ball, sphere_edge_zone
from pmd_envelope.rays import EmbreeCaster, ExactCaster, FaceGrid, looks_back
from pmd_envelope.settings import Settings

__all__ = ["ThicknessField", "VertexThicknessField", "ray_thickness", "sphere_thickness", "vertex_pseudonormals",
           "vertex_ray_thickness", "weighted_percentile"]

# Barycentric slack [-] of the float64 engine for vertex rays: a ray aimed at a vertex of the
# opposite surface (concentric tessellations) must not slip between the fan's triangles by
# round-off (~1e-16 relative); 1e-9 of an edge moves a hit by < 1e-9 mm on mm-sized facets.
_VERTEX_RAY_SLACK = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ThicknessField:
    """Per-face thickness and the summary measurement.

    ``per_face`` is inf where the ray escaped (open mesh); ``edge_zone`` marks faces whose ray
    left through a non-opposing face.
    """

    per_face: np.ndarray
    hit_face: np.ndarray
    edge_zone: np.ndarray
    measurement: Measurement


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Area-weighted percentile: the smallest value below which ``q`` % of the weight lies."""
    return _weighted_percentiles(values, weights, (q,))[0]


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs) -> list[float]:
    """:func:`weighted_percentile` for several ``qs`` with one sort (a 1M-value sort is ~0.1 s)."""
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    sorted_values = values[order]
    out = []
    for q in qs:
        idx = int(np.searchsorted(cw, q / 100.0 * cw[-1], side="left"))
        out.append(float(sorted_values[min(idx, len(values) - 1)]))
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class VertexThicknessField:
    """Per-vertex ray thickness along the inward angle-weighted pseudonormal.

    ``per_vertex`` is inf where the ray escaped or the vertex has no pseudonormal (unused or only
    on degenerate faces); ``hit_face`` is -1 there. ``edge_zone`` marks vertices whose ray met a
    face that does not look back at the pseudonormal (same rule as faces). ``direction`` holds the
    unit ray directions (minus the pseudonormal). ``minimum`` is the smallest thickness outside
    the zone [mm] (inf if no vertex met an opposing wall); its witness is the vertex id
    ``vertex`` (-1 if none), ``point`` (the vertex), ``opposite`` (where the ray met
    ``hit_face[vertex]``).
    """

    per_vertex: np.ndarray
    hit_face: np.ndarray
    edge_zone: np.ndarray
    direction: np.ndarray
    vertex: int
    minimum: float
    point: tuple[float, float, float] | None
    opposite: tuple[float, float, float] | None


def vertex_pseudonormals(mesh: MeshData) -> np.ndarray:
    """Angle-weighted pseudonormal of each vertex (unit; zero where no valid face is incident).

    Notes
    -----
    n_v = sum over faces f incident to v of alpha_f(v) n_f, normalised, where alpha_f(v) is the
    corner angle of f at v and n_f its unit outward normal (Baerentzen & Aanaes 2005). Unlike an
    area- or count-weighted mean it does not depend on how a surface patch is triangulated, and it
    separates inside from outside at vertices and edges.

    References
    ----------
    .. [1] J. A. Baerentzen and H. Aanaes, "Signed distance computation using the angle weighted
       pseudonormal", IEEE Trans. Vis. Comput. Graph. 11(3), 243-253, 2005.
    """
    v, f = mesh.vertices, mesh.faces
    normals, areas = mesh_face_geometry(mesh)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    ab, bc, ca = b - a, c - b, a - c
    # corner angle = atan2(|e1 x e2|, e1 . e2): accurate near 0 and pi, where arccos of a cosine
    # is not; |e1 x e2| is twice the face area at every corner, already cached
    twice = 2.0 * areas
    corner_angles = (np.arctan2(twice, -np.einsum("ij,ij->i", ab, ca)),
                     np.arctan2(twice, -np.einsum("ij,ij->i", bc, ab)),
                     np.arctan2(twice, -np.einsum("ij,ij->i", ca, bc)))
    # per-corner bincounts: ~5x faster than building (m, 3, 3) corner arrays (0.5 s at 2M faces)
    n = np.zeros((len(v), 3))
    for k, angle in enumerate(corner_angles):
        weighted = normals * angle[:, None]
        for axis in range(3):
            n[:, axis] += np.bincount(f[:, k], weights=weighted[:, axis], minlength=len(v))
    norm = np.linalg.norm(n, axis=1)
    out = np.zeros_like(n)
    ok = norm > 0
    out[ok] = n[ok] / norm[ok, None]
    return out


def face_rays(mesh: MeshData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centroids, inward unit normals, areas and the valid (non-degenerate) mask of each face."""
    normals, areas = mesh_face_geometry(mesh)
    return mesh_face_centroids(mesh), -normals, areas, areas > 0


def cast_face_rays(mesh: MeshData, settings: Settings, engine: str | None = None,
                   ids: np.ndarray | None = None, t_max: np.ndarray | None = None, caster=None,
                   geometry: tuple | None = None):
    """Per-face ray thickness [mm] and hit face for faces ``ids`` (all valid faces by default).

    The ray starts exactly at the face centroid; the only face incident to a centroid is its own
    face, which is excluded by id (``exact``) or skipped by a re-cast (``embree``). ``caster``
    is reused when given (either engine); ``geometry`` is :func:`face_rays` of the mesh, when
    already computed.
    """
    engine = engine or settings.ray_engine
    centroids, inward, _, valid = geometry if geometry is not None else face_rays(mesh)
    if ids is None:
        ids = np.flatnonzero(valid)

    def incident(ray, face):
        return face == ids[ray]

    if engine == "embree":
        if caster is None:
            caster = EmbreeCaster(mesh.vertices, mesh.faces, settings.ray_offset_mm)
        # settle: a ray still on its start face after the re-casts is cast in float64, not read
        # as a miss that drops its face from the statistics unlooked (none left on real plates)
        return caster.first_hit(centroids[ids], inward[ids], incident, settle=True)
    caster = caster if caster is not None else ExactCaster(mesh.vertices, mesh.faces)
    return caster.first_hit(centroids[ids], inward[ids], incident, t_max=t_max)


def ray_thickness(mesh: MeshData, settings: Settings, engine: str | None = None, caster=None) -> ThicknessField:
    """Measure wall thickness by inward rays, one per face and one per vertex.

    Parameters
    ----------
    mesh : MeshData
        A closed, outward-oriented mesh [mm].
    settings : Settings
        ``ray_engine``, ``ray_offset_mm``, ``exact_recheck_faces``, ``engine_tolerance_mm``,
        ``opposing_angle_deg`` and ``thickness_percentiles`` are used.
    engine : {"embree", "exact"}, optional
        Overrides ``settings.ray_engine``.
    caster : EmbreeCaster or ExactCaster, optional
        The engine's index already built on this mesh (with ``settings.ray_offset_mm`` as its
        re-cast step for embree); built here when omitted.

    Returns
    -------
    ThicknessField
        ``measurement.value`` is the minimum thickness outside the sharp-edge zone [mm];
        statistics are area-weighted over the same faces; ``min_all`` includes the zone;
        ``engine_difference`` is the largest float32/float64 difference over the re-checked
        faces (0 with the exact engine); ``min_vertex`` is the minimum of
        :func:`vertex_ray_thickness` outside its sharp-edge zone (same engine; absent when no
        vertex ray met an opposing wall).

    Notes
    -----
    The ray starts at the face centroid p along the inward normal -n; the thickness is the
    distance to the first face met other than the start face (no origin offset). With the
    embree engine, the ``exact_recheck_faces`` thinnest faces are re-measured in float64 (search
    bounded to their float32 distance + 1 %, + 10x the engine tolerance, which cannot miss a
    nearer hit) and those values are kept, so the minimum and its witness are float64.

    Examples
    --------
    >>> from pmd_envelope.shapes import spherical_shell
    >>> from pmd_envelope.settings import DEFAULT_SETTINGS
    >>> field = ray_thickness(spherical_shell(50.0, 3.0), DEFAULT_SETTINGS)
    >>> abs(field.measurement.value - 3.0) < 0.01
    True
    """
    engine = engine or settings.ray_engine
    f = mesh.faces
    geometry = face_rays(mesh)  # once: every cast below reuses it
    centroids, inward, areas, _ = geometry
    normals = -inward

    # one index for the face and the vertex rays
    if caster is None:
        caster = (EmbreeCaster(mesh.vertices, f, settings.ray_offset_mm) if engine == "embree"
                  else ExactCaster(mesh.vertices, f))
    with ThreadPoolExecutor(max_workers=1) as pool:
        # with embree the vertex rays run in a second thread while the face rays and their float64
        # re-check run here: embreex releases the GIL, so two threads cast ~5 M rays/s against
        # ~3 M on one (shared performance notes); the R-tree of the exact engine is not shared
        # across threads
        pending = pool.submit(vertex_ray_thickness, mesh, settings, engine, caster=caster) \
            if engine == "embree" else None
        field = _face_ray_field(mesh, settings, engine, caster, geometry)
        vertex = pending.result() if pending is not None else vertex_ray_thickness(mesh, settings, engine, caster=caster)
    per_face, hit_face, verified, difference = field
    h, opposing = looks_back(normals, hit_face, inward, settings.opposing_angle_deg)
    edge_zone = h & ~opposing
    wall = h & opposing
    if not wall.any():  # a finding about this design (e.g. a regular tetrahedron), not bad input
        m = Measurement(parameter="wall_thickness", value=None, unit="mm", method="ray",
                        reason="no face ray met an opposing wall: every ray left through a face at more than "
                               f"{settings.opposing_angle_deg:g} deg (sharp edges only), so no wall thickness is defined")
        return ThicknessField(per_face=per_face, hit_face=hit_face, edge_zone=edge_zone, measurement=m)
    wall_ids = np.flatnonzero(wall)
    i_min = wall_ids[int(np.argmin(per_face[wall_ids]))]
    stats = [("min", float(per_face[i_min]))] + _wall_statistics(per_face, edge_zone, areas, settings)
    stats += [("engine_difference", difference), ("engine_tolerance", settings.engine_tolerance_mm),
              ("min_float64", float(bool(verified[i_min])))]
    if vertex.vertex >= 0:  # a statistic must be finite (the record's JSON has no inf)
        stats.append(("min_vertex", vertex.minimum))
    witness = Witness(point=tuple(float(x) for x in centroids[i_min]),
                      opposite=tuple(float(x) for x in centroids[i_min] + inward[i_min] * per_face[i_min]),
                      faces=(int(i_min), int(hit_face[i_min])), distance=float(per_face[i_min]))
    if engine == "embree":
        how = (f"engine embree-float32 with the {settings.exact_recheck_faces} thinnest faces re-measured by "
               f"exact-float64 (stated agreement {settings.engine_tolerance_mm:g} mm)")
    else:
        how = "engine exact-float64 (Moller-Trumbore)"
    m = Measurement(parameter="wall_thickness", value=float(per_face[i_min]), unit="mm", method="ray",
                    statistics=tuple(stats), witness=witness,
                    notes=f"inward ray from each face centroid, start face excluded; {how}; "
                          "minimum outside the sharp-edge zone")
    return ThicknessField(per_face=per_face, hit_face=hit_face, edge_zone=edge_zone, measurement=m)


def _face_ray_field(mesh: MeshData, settings: Settings, engine: str, caster, geometry: tuple):
    """Face rays of :func:`ray_thickness`: ``(per_face, hit_face, verified, engine_difference)``.

    With embree the thinnest faces are re-measured in float64 (``verified``) until the thinnest
    face overall is a float64 value.
    """
    f = mesh.faces
    centroids, inward, _, valid = geometry
    idx = np.flatnonzero(valid)
    t, hit = cast_face_rays(mesh, settings, engine, idx, geometry=geometry, caster=caster)
    per_face = np.full(len(f), np.inf)
    hit_face = np.full(len(f), -1, dtype=np.int64)
    per_face[idx] = t
    hit_face[idx] = hit
    difference = 0.0
    verified = np.zeros(len(f), dtype=bool)
    if engine == "embree" and settings.exact_recheck_faces > 0:
        # re-measure the thinnest faces in float64 until the thinnest face overall is a float64
        # value (a float32 value just above the batch may beat the batch's float64 values by
        # round-off); a few rounds at most, since the float32 error is ~1e-5 mm
        # each round's R-tree holds only the faces near its few bounded segments (a superset of
        # those the segments can meet, so the hits are those of a whole-mesh R-tree); one R-tree
        # of all faces would cost ~1 s at 1M faces, as much as the embree pass itself
        grid = None
        # the reported minimum is over wall faces (hits that look back), so the re-check ranks
        # those: ranked over all faces, the sharp-edge zone of a perforated plate (hole and rim
        # edges, thinner than its wall) filled the batches and left the wall minimum in float32
        h, opposing = looks_back(-inward, hit_face, inward, settings.opposing_angle_deg)
        finite = idx[np.isfinite(per_face[idx]) & (h & opposing)[idx]]
        if len(finite) == 0:
            return per_face, hit_face, verified, difference
        # round r re-checks the faces of ranks [r k, (r + 1) k) of the float32 values (a value not
        # yet re-checked never changes): one partial sort serves every round
        k, rounds = settings.exact_recheck_faces, 8
        depth = min(rounds * k, len(finite))
        queue = finite[np.argpartition(per_face[finite], depth - 1)[:depth]] if 0 < depth < len(finite) else finite
        queue = queue[np.argsort(per_face[queue], kind="stable")]
        for r in range(rounds):
            thin = queue[r * k:(r + 1) * k]
            if len(thin) == 0:
                break
            bound = per_face[thin] * 1.01 + 10.0 * settings.engine_tolerance_mm
            seg_lo, seg_hi = ExactCaster.segment_boxes(centroids[thin], inward[thin], np.zeros(len(thin)), bound)
            if grid is None:  # cells about the size of the first round's segments
                grid = FaceGrid(mesh.vertices, f, size=float((seg_hi - seg_lo).max()))
            exact = ExactCaster(mesh.vertices, f, only=grid.near(seg_lo, seg_hi))
            t64, h64 = cast_face_rays(mesh, settings, "exact", thin, t_max=bound, caster=exact, geometry=geometry)
            ok = np.isfinite(t64)
            if ok.any():
                difference = max(difference, float(np.abs(t64[ok] - per_face[thin[ok]]).max()))
            per_face[thin[ok]] = t64[ok]
            hit_face[thin[ok]] = h64[ok]
            verified[thin] = True
            if verified[finite[np.argmin(per_face[finite])]]:
                break
    else:
        verified[:] = engine == "exact"
    return per_face, hit_face, verified, difference


def vertex_ray_thickness(mesh: MeshData, settings: Settings, engine: str | None = None,
                         caster=None) -> VertexThicknessField:
    """Ray wall thickness at the vertices, along the inward angle-weighted pseudonormal.

    Parameters
    ----------
    mesh : MeshData
        A closed, outward-oriented mesh [mm].
    settings : Settings
        ``ray_engine``, ``ray_offset_mm`` and ``opposing_angle_deg`` are used.
    engine : {"embree", "exact"}, optional
        Overrides ``settings.ray_engine``.
    caster : EmbreeCaster or ExactCaster, optional
        An engine already built on this mesh (the face rays' one), so the index is built once.

    Returns
    -------
    VertexThicknessField

    Notes
    -----
    From each vertex p a ray is cast along -n_p, n_p the angle-weighted pseudonormal
    (:func:`vertex_pseudonormals`); the thickness is the distance to the first face met other
    than the faces incident to p (all of them: a ray from p meets their planes only at p, so any
    such hit is the start point itself, never a wall). A face is incident to p exactly when p is
    one of its three corners, so the exclusion test is a row lookup in the face array. The hit
    counts as a wall only if the face met looks back at the pseudonormal within
    ``opposing_angle_deg``, as for faces. Vertex rays start where facets meet, so on a smooth
    surface the start point lies on the true surface; a face centroid lies a sagitta inside it.
    With embree the values are float32 (within ``engine_tolerance_mm`` of the exact engine).

    Examples
    --------
    >>> from pmd_envelope.shapes import spherical_shell
    >>> from pmd_envelope.settings import DEFAULT_SETTINGS
    >>> field = vertex_ray_thickness(spherical_shell(50.0, 3.0), DEFAULT_SETTINGS)
    >>> abs(field.minimum - 3.0) < 0.01
    True
    """
    engine = engine or settings.ray_engine
    v, f = mesh.vertices, mesh.faces
    direction = -vertex_pseudonormals(mesh)
    ids = np.flatnonzero(direction.any(axis=1))

    def incident(ray, face):
        # simpler and cheaper than a vertex-face CSR lookup, and the same set: face k is
        # incident to vertex p iff p is one of f[k]
        return (f[face] == ids[ray][:, None]).any(axis=1)

    if caster is None:
        caster = (EmbreeCaster(v, f, settings.ray_offset_mm) if engine == "embree" else ExactCaster(v, f))
    if isinstance(caster, ExactCaster):
        t, hit = caster.first_hit(v[ids], direction[ids], incident, slack=_VERTEX_RAY_SLACK)
    else:  # embree's intersection test is watertight at shared edges and vertices
        t, hit = caster.first_hit(v[ids], direction[ids], incident, settle=True, slack=_VERTEX_RAY_SLACK)
    per_vertex = np.full(len(v), np.inf)
    hit_face = np.full(len(v), -1, dtype=np.int64)
    per_vertex[ids] = t
    hit_face[ids] = hit
    h, opposing = looks_back(mesh_face_geometry(mesh)[0], hit_face, direction, settings.opposing_angle_deg)
    wall = np.flatnonzero(h & opposing)
    if len(wall):
        i = int(wall[np.argmin(per_vertex[wall])])
        point = tuple(float(x) for x in v[i])
        opposite = tuple(float(x) for x in v[i] + direction[i] * per_vertex[i])
        minimum = float(per_vertex[i])
    else:
        i, point, opposite, minimum = -1, None, None, float("inf")
    return VertexThicknessField(per_vertex=per_vertex, hit_face=hit_face, edge_zone=h & ~opposing,
                                direction=direction, vertex=i, minimum=minimum, point=point, opposite=opposite)


def sphere_thickness(mesh: MeshData, settings: Settings, ray: ThicknessField | None = None) -> ThicknessField:
    """Inscribed-sphere wall thickness around the thin candidates (method ``max_sphere``).

    Parameters
    ----------
    mesh : MeshData
        A closed, outward-oriented mesh [mm].
    settings : Settings
        ``sphere_*`` settings, ``opposing_angle_deg`` and ``thickness_percentiles`` are used.
    ray : ThicknessField, optional
        The ray field (computed when omitted); it ranks the faces and caps the first ball.

    Returns
    -------
    ThicknessField
        Per-face thickness: the ball diameter on the ``sphere_faces`` thinnest faces, the ray
        value elsewhere (an upper bound of the sphere value there). ``value`` is the minimum
        outside the sharp-edge zone; ``converged_fraction`` and ``not_converged`` report the
        convergence flag.

    Notes
    -----
    See :mod:`pmd_envelope.measure.sphere` for the method (Ma et al. 2012; Inui et al. 2016).
    """
    ray = ray if ray is not None else ray_thickness(mesh, settings)
    if ray.measurement.value is None:  # no wall by ray: nothing to rank, the reason stands
        return ray
    centroids, inward, areas, _ = face_rays(mesh)
    wall = np.flatnonzero(~ray.edge_zone & np.isfinite(ray.per_face))
    k = min(settings.sphere_faces, len(wall))
    cand = wall[np.argpartition(ray.per_face[wall], k - 1)[:k]]
    r0 = np.minimum(ray.per_face[cand], settings.sphere_cap_mm) / 2.0
    hit_point = centroids[cand] + inward[cand] * ray.per_face[cand, None]
    r, q, touch, conv = shrinking_ball(mesh, centroids[cand], inward[cand], r0,
                                       tolerance=settings.sphere_tolerance_mm, max_iter=settings.sphere_max_iter,
                                       touch0=hit_point, touch_face0=ray.hit_face[cand])
    per_face = ray.per_face.copy()
    hit_face = ray.hit_face.copy()
    per_face[cand] = 2.0 * r
    hit_face[cand] = touch
    edge_zone = ray.edge_zone.copy()
    edge_zone[cand] = sphere_edge_zone(mesh, cand, touch, settings.opposing_angle_deg)
    ok = cand[~edge_zone[cand]]
    if len(ok) == 0:  # a finding about this design, not bad input
        m = Measurement(parameter="wall_thickness", value=None, unit="mm", method="max_sphere",
                        reason=f"every inscribed ball at the {len(cand)} thinnest faces by ray was stopped by a sharp "
                               "edge: no wall to measure by this method")
        return ThicknessField(per_face=per_face, hit_face=hit_face, edge_zone=edge_zone, measurement=m)
    i_min = ok[int(np.argmin(per_face[ok]))]
    j = int(np.flatnonzero(cand == i_min)[0])
    stats = [("min", float(per_face[i_min]))] + _wall_statistics(per_face, edge_zone, areas, settings)
    stats += [("sphere_faces", float(len(cand))), ("converged_fraction", float(conv.mean())),
              ("not_converged", float((~conv).sum())), ("ray_min", ray.measurement.value)]
    witness = Witness(point=tuple(float(x) for x in centroids[i_min]), opposite=tuple(float(x) for x in q[j]),
                      faces=(int(i_min), int(touch[j])), distance=float(per_face[i_min]))
    m = Measurement(parameter="wall_thickness", value=float(per_face[i_min]), unit="mm", method="max_sphere",
                    statistics=tuple(stats), witness=witness,
                    notes=(f"inscribed-sphere (shrinking ball) diameter at the {len(cand)} thinnest faces by ray, "
                           f"float64 closest points, cap {settings.sphere_cap_mm:g} mm, converged to "
                           f"{settings.sphere_tolerance_mm:g} mm; other faces keep their ray value (an upper bound); "
                           "witness opposite = where the ball touches the far wall"))
    return ThicknessField(per_face=per_face, hit_face=hit_face, edge_zone=edge_zone, measurement=m)


def _wall_statistics(per_face: np.ndarray, edge_zone: np.ndarray, areas: np.ndarray,
                     settings: Settings) -> list[tuple[str, float]]:
    """Area-weighted percentiles, max and mean over the wall faces (finite, outside the sharp-edge
    zone), the minimum including the zone, and the zone's area fraction."""
    wall_ids = np.flatnonzero(~edge_zone & np.isfinite(per_face))
    t_wall, w = per_face[wall_ids], areas[wall_ids]
    qs = settings.thickness_percentiles
    stats = [(_pname(q), p) for q, p in zip(qs, _weighted_percentiles(t_wall, w, qs))]
    return stats + [("max", float(t_wall.max())), ("mean", float(np.average(t_wall, weights=w))),
                    ("min_all", float(per_face[np.isfinite(per_face)].min())),
                    ("edge_zone_area_fraction", float(areas[edge_zone].sum() / areas.sum()))]


def _pname(q: float) -> str:
    return "median" if q == 50.0 else f"p{q:02.0f}"
