"""First-hit ray casting with the start point's incident faces excluded: a fast and an exact engine.

Two engines answer the same question -- for each ray (origin on the surface, direction, the
faces incident to the origin), where is the first surface met, ignoring those incident faces:

* ``embree``: Embree through embreex, float32, ~3 M rays/s on one core (shared performance
  notes). Embree has no per-ray face exclusion (nor a ray start ``tnear``) in embreex, so the
  first cast starts one re-cast step (``recast_step``: 1e-4 mm for wall thickness) along the
  ray: the part of the ray that a re-cast past the start face at t ~ 0 would skip anyway, and
  where the faces incident to the start point are met (their planes pass through it). Casting from the start point itself met an incident face
  first on about half of the face rays and nearly every vertex ray, and re-cast them all. When a
  hit is still an incident face, the ray is re-cast from just past that hit. The distance is
  always counted from the true start point. The float64 engine below, which filters incident
  faces by id with no step at all, re-measures the thinnest faces. Coordinates are shifted to
  the mesh's bounding-box corner so float32 keeps ~1.5e-5 mm resolution at 250 mm.
* ``exact``: float64 Moller-Trumbore (Moller & Trumbore 1997, "Fast, minimum storage
  ray-triangle intersection", J. Graphics Tools 2(1)) over candidate triangles, with the incident
  faces filtered out by id, so no offset of any kind is involved. Written here because no
  installed library offers a float64 first-hit query with per-ray exclusion at useful speed
  (trimesh's ``ray_triangle`` runs at 28-8,700 rays/s here). Candidates come from an R-tree
  (libspatialindex through rtree, bulk-loaded and bulk-queried) of triangle bounding boxes
  against the bounding box of each ray segment: a guaranteed superset of the triangles the
  segment can meet. For a few bounded segments (the float64 re-check of the thinnest faces) the
  R-tree holds only the faces a :class:`FaceGrid` returns, itself a superset of those whose
  box meets a segment's box: bulk-loading 1M boxes costs ~1 s, the grid filter ~0.1 s.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import importlib.metadata

import numpy as np
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh
from rtree import index

__all__ = ["EmbreeCaster", "ExactCaster", "FaceGrid", "embree_scene", "face_boxes", "looks_back", "moller_trumbore"]


def looks_back(normals: np.ndarray, hit_face: np.ndarray, directions: np.ndarray,
               angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """``(hit, opposing)`` masks: which rays met a face, and which met one that looks back at them.

    A wall-thickness ray ends on an opposing wall when the outward normal of the face it met
    points along the ray within ``angle_deg``; otherwise it left through an adjacent face at a
    sharp edge (the sharp-edge zone). Face rays, vertex rays and inscribed balls share this rule.
    """
    hit = hit_face >= 0
    opposing = np.zeros(len(hit_face), dtype=bool)
    opposing[hit] = np.einsum("ij,ij->i", normals[hit_face[hit]], directions[hit]) >= np.cos(np.radians(angle_deg))
    return hit, opposing


def moller_trumbore(origins: np.ndarray, directions: np.ndarray, a: np.ndarray, b: np.ndarray,
                    c: np.ndarray, slack: float = 0.0) -> np.ndarray:
    """Ray parameter t of each ray/triangle pair (float64), inf where the ray misses.

    Pairs are row-aligned. Rays parallel to the triangle plane (|det| below 1e-12 of the edge
    scale) are misses: a grazing ray measures no wall. Barycentric limits are closed
    ([0, 1]) so a ray through a shared edge or vertex is not lost between two triangles.
    ``slack`` widens them to [-slack, 1 + slack]: a ray aimed exactly at a mesh vertex (vertex
    rays between concentric tessellations) can fall outside every triangle of the fan by
    round-off of u and w, which closed limits alone do not catch.
    """
    e1, e2 = b - a, c - a
    p = np.cross(directions, e2)
    det = np.einsum("ij,ij->i", e1, p)
    scale = np.einsum("ij,ij->i", e1, e1) * np.einsum("ij,ij->i", e2, e2)
    ok = np.abs(det) > 1e-12 * np.sqrt(scale)
    inv = np.divide(1.0, det, out=np.zeros_like(det), where=ok)
    s = origins - a
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    w = np.einsum("ij,ij->i", directions, q) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= -slack) & (w >= -slack) & (u + w <= 1.0 + slack)
    return np.where(hit, t, np.inf)


# Embree API constants (embree4/rtcore_buffer.h, rtcore_geometry.h; Embree 4, as bundled by embreex)
_RTC_GEOMETRY_TYPE_TRIANGLE = 0
_RTC_BUFFER_TYPE_INDEX, _RTC_BUFFER_TYPE_VERTEX = 0, 1
_RTC_FORMAT_UINT3, _RTC_FORMAT_FLOAT3 = 0x5003, 0x9003


@functools.lru_cache(maxsize=1)
def _embree_library() -> ctypes.CDLL | None:
    """The Embree library embreex loaded, through ctypes; None where it cannot be used safely.

    Used only to hand Embree the mesh arrays directly (:func:`embree_scene`). None when embreex
    lists no Embree 4 library among its files, the library lacks a call, or embreex's scene
    object does not have the layout :func:`_scene_handle` reads (another embreex release).
    """
    try:
        path = next((f.locate() for f in importlib.metadata.files("embreex") or ()
                     if f.name.startswith(("libembree4", "embree4"))
                     and (".so" in f.name or f.name.endswith((".dylib", ".dll")))),
                    None)
        if path is None:
            return None
        lib = ctypes.CDLL(str(path))  # the file embreex's extensions loaded: the same library instance
        p, size, uint = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint
        for name, res, args in (("rtcGetSceneDevice", p, [p]), ("rtcNewGeometry", p, [p, ctypes.c_int]),
                                ("rtcSetSharedGeometryBuffer", None, [p, ctypes.c_int, uint, ctypes.c_int, p, size,
                                                                      size, size]),
                                ("rtcCommitGeometry", None, [p]), ("rtcAttachGeometry", uint, [p, p]),
                                ("rtcReleaseGeometry", None, [p]), ("rtcCommitScene", None, [p]),
                                ("rtcGetDeviceError", ctypes.c_int, [p]), ("rtcReleaseDevice", None, [p])):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
    except (OSError, AttributeError, importlib.metadata.PackageNotFoundError):
        return None
    # embreex's EmbreeScene (rtcore_scene.pxd): the object header, then RTCScene scene_i,
    # int is_committed and the EmbreeDevice; nothing else may be there
    if rtcore_scene.EmbreeScene.__basicsize__ != object.__basicsize__ + 3 * ctypes.sizeof(ctypes.c_void_p):
        return None
    return lib


def _scene_handle(scene: rtcore_scene.EmbreeScene) -> int | None:
    """The RTCScene pointer inside an embreex scene (the first field after the object header);
    None unless the field after it is seen to be ``is_committed`` (embreex's public one)."""
    head = id(scene) + object.__basicsize__
    committed = ctypes.c_int.from_address(head + ctypes.sizeof(ctypes.c_void_p))
    before = scene.is_committed
    try:
        scene.is_committed = 0x5EED
        if committed.value != 0x5EED:
            return None
    finally:
        scene.is_committed = before
    return ctypes.c_void_p.from_address(head).value


def embree_scene(vertices: np.ndarray, faces: np.ndarray) -> tuple[rtcore_scene.EmbreeScene, tuple]:
    """A committed embreex scene of one triangle mesh, and the arrays it reads (keep them alive).

    embreex copies the mesh into Embree element by element while holding the GIL (0.47 s of a
    0.63 s index build at 1M faces, measured; the build itself is 0.16 s on two threads). So
    where embreex's Embree library is reachable (:func:`_embree_library`), the mesh is handed to
    Embree as shared buffers through Embree's own API, and the scene is committed there with
    the GIL released (0.25 s at 1M faces, the same hits as embreex's path bit for bit, tested).
    Elsewhere, or if Embree reports an error, embreex builds the scene as before. Written here
    because no library offers it: embreex has no shared-buffer call (trimesh's ray module uses
    the same copy). ``vertices`` are float32 (n, 3), ``faces`` int (m, 3).
    """
    lib = _embree_library()
    scene = rtcore_scene.EmbreeScene()
    handle = _scene_handle(scene) if lib is not None else None
    if handle is not None:
        # Embree reads a vertex as 16 bytes: rows of four floats, as embreex's own buffer has
        vb = np.zeros((len(vertices), 4), dtype=np.float32)
        vb[:, :3] = vertices
        ib = np.ascontiguousarray(faces, dtype=np.uint32)
        device = lib.rtcGetSceneDevice(handle)  # one more reference to the device, released below
        try:
            geom = lib.rtcNewGeometry(device, _RTC_GEOMETRY_TYPE_TRIANGLE)
            lib.rtcSetSharedGeometryBuffer(geom, _RTC_BUFFER_TYPE_VERTEX, 0, _RTC_FORMAT_FLOAT3, vb.ctypes.data, 0,
                                           vb.strides[0], len(vb))
            lib.rtcSetSharedGeometryBuffer(geom, _RTC_BUFFER_TYPE_INDEX, 0, _RTC_FORMAT_UINT3, ib.ctypes.data, 0,
                                           ib.strides[0], len(ib))
            lib.rtcCommitGeometry(geom)
            lib.rtcAttachGeometry(handle, geom)
            lib.rtcReleaseGeometry(geom)  # the scene holds it
            lib.rtcCommitScene(handle)
            ok = lib.rtcGetDeviceError(device) == 0
        finally:
            lib.rtcReleaseDevice(device)
        if ok:
            scene.is_committed = 1  # embreex's run() then casts without committing again
            return scene, (vb, ib)
        scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene, vertices, faces.astype(np.int32))
    no_rays = np.zeros((0, 3), dtype=np.float32)
    scene.run(no_rays, no_rays)  # commits the scene (under the GIL), so threads may cast at once
    return scene, ()


class EmbreeCaster:
    """Embree (float32) first-hit queries on one mesh; the index is built once.

    Parameters
    ----------
    vertices : (n, 3) float64 [mm]
    faces : (m, 3) int
    recast_step : float
        Step [mm] along each ray where the first cast starts, and past an excluded hit before
        re-casting. At least 8 float32 ulps of the largest shifted coordinate, so a cast cannot
        meet the start face (or the excluded face) again.
    """

    engine = "embree-float32"

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, recast_step: float):
        self.vertices = vertices  # float64, for the rays only the float64 engine can settle
        self.faces = faces
        self.shift = vertices.min(axis=0)
        shifted = (vertices - self.shift).astype(np.float32)
        self._least_step = 8.0 * float(np.spacing(np.abs(shifted).max()))
        self.recast_step = max(float(recast_step), self._least_step)
        self.scene, self._buffers = embree_scene(shifted, faces)

    def with_step(self, recast_step: float) -> "EmbreeCaster":
        """This caster's index with another ``recast_step`` (raised to 8 float32 ulps as in the
        constructor): one index for rays that step differently, e.g. the wall-thickness rays
        (``ray_offset_mm``) and the self-intersection check's edge rays (the least step). Both
        casters give the hits a caster built with that step gives, bit for bit (tested)."""
        other = copy.copy(self)  # shares the committed scene and the buffers it reads
        other.recast_step = max(float(recast_step), self._least_step)
        return other

    def first_hit(self, origins: np.ndarray, directions: np.ndarray, incident, max_recasts: int = 4,
                  t_max: np.ndarray | None = None, settle: bool = False, slack: float = 0.0):
        """First hit of each ray not on a face incident to its origin.

        ``incident(ray_ids, face_ids) -> bool array`` says whether a hit face is incident to the
        ray's start point; ``t_max`` [mm] optionally bounds each ray. The first cast starts
        ``recast_step`` along each ray (module notes). Returns ``(t [mm] from the true origin,
        inf on a miss; face id, -1)``. A ray still on incident faces after ``max_recasts``
        re-casts is reported as a miss, unless ``settle``: then it is cast again by the float64
        engine (:meth:`settled`, with :func:`moller_trumbore`'s ``slack``), which excludes
        incident faces by id, so no ray is read as a miss unlooked. Safe to call from several
        threads at once (the scene is committed when the caster is made, and embreex releases
        the GIL while Embree traverses it).
        """
        n = len(origins)
        step = self.recast_step
        t_total = np.full(n, step)
        face = np.full(n, -1, dtype=np.int64)
        # offset in float64, then rounded once to float32 (in place: one temporary, not three)
        o = origins - self.shift
        o += directions * step
        o = o.astype(np.float32)
        d = directions.astype(np.float32)
        todo = None  # all rays on the first cast, without copying them
        for _ in range(max_recasts + 1):
            ids = np.arange(n) if todo is None else todo
            oo, dd = (o, d) if todo is None else (o[todo], d[todo])
            if t_max is None:
                out = self.scene.run(oo, dd, output=1)
            else:
                left = np.maximum(t_max[ids] - t_total[ids], 0.0).astype(np.float32)
                out = self.scene.run(oo, dd, dists=left, output=1)
            prim = np.asarray(out["primID"], dtype=np.int64)
            tf = np.asarray(out["tfar"], dtype=np.float64)
            missed = prim < 0
            t_total[ids[missed]] = np.inf
            hit_ids, hit_prim, hit_t = ids[~missed], prim[~missed], tf[~missed]
            excl = incident(hit_ids, hit_prim)
            keep = ~excl
            t_total[hit_ids[keep]] += hit_t[keep]
            face[hit_ids[keep]] = hit_prim[keep]
            # excluded hit: move the origin just past it and cast again; the distance walked so
            # far is kept so the result is measured from the true start point
            todo = hit_ids[excl]
            walked = hit_t[excl] + step
            t_total[todo] += walked
            o[todo] = o[todo] + d[todo] * walked[:, None].astype(np.float32)
            if len(todo) == 0:
                break
        if len(todo) and settle:  # the loop ran at least once, so todo is an array here
            t_total[todo], face[todo] = self.settled(origins[todo], directions[todo],
                                                     lambda ray, hit: incident(todo[ray], hit),
                                                     None if t_max is None else t_max[todo], slack)
        elif len(todo):  # still on incident faces after max_recasts: report a miss, not a guess
            t_total[todo] = np.inf
        return t_total, face

    def settled(self, origins: np.ndarray, directions: np.ndarray, incident, t_max: np.ndarray | None,
                slack: float) -> tuple[np.ndarray, np.ndarray]:
        """First hits of the few rays :meth:`first_hit` could not settle, by the float64 engine.

        Bounded rays (``t_max``) get an index of only the faces near their segments
        (:class:`FaceGrid`, a superset of those the segments can meet); unbounded ones an index
        of the whole mesh (~1 s at 1M faces: none were left on the plates measured).
        """
        if t_max is None:
            return ExactCaster(self.vertices, self.faces).first_hit(origins, directions, incident, slack=slack)
        lo, hi = ExactCaster.segment_boxes(origins, directions, np.zeros(len(origins)), t_max)
        near = FaceGrid(self.vertices, self.faces, size=float((hi - lo).max())).near(lo, hi)
        return ExactCaster(self.vertices, self.faces, only=near).first_hit(origins, directions, incident,
                                                                             t_max=t_max, slack=slack)


def face_boxes(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corner of each triangle's axis-aligned bounding box [mm]."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)


class FaceGrid:
    """Uniform grid over a mesh: which faces may meet given query boxes.

    Built once, asked many times (each float64 re-check round). Each face is filed under the
    cell of its bounding box's lower corner; faces whose box spans more than two cells on an
    axis are *large* and always returned (rare on fine meshes; returning them cannot lose a hit).
    :meth:`near` returns a superset of the faces whose box meets a query box, exactly: the cell
    index ``floor((x - o) / s)`` (clipped to the grid) is monotone in x in floating point, so
    (1) the cell of a face's lower corner is the least of its three corners' cells and its upper
    corner's the greatest, computed from the vertices' cells without any face box (at 1M faces
    the boxes and a grid listing every cell a box touches took 0.3 s, these integer gathers
    0.05 s), and (2) a box sharing a point x with a query box shares the cell of x, so a face
    spanning at most two cells per axis, lower cell L, can meet a query spanning cells [A, B]
    only if A - 1 <= L <= B on every axis: :meth:`near` marks those cells.

    Parameters
    ----------
    vertices : (n, 3) float64 [mm]
    faces : (m, 3) int
    size : float
        Wanted cell size [mm], ideally about the query boxes' size; raised so the grid has at
        most ``max_cells_per_axis`` cells per axis (occupancy array <= 16 MB).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, size: float, max_cells_per_axis: int = 256):
        self.n = len(faces)
        self.origin = vertices.min(axis=0) if len(vertices) else np.zeros(3)
        top = vertices.max(axis=0) if len(vertices) else np.zeros(3)
        self.size = max(float(size), float((top - self.origin).max()) / (max_cells_per_axis - 1), 1e-300)
        self.dims = np.minimum(np.floor((top - self.origin) / self.size).astype(np.int64) + 1, max_cells_per_axis)
        # per axis, the least and greatest cell of each face's corners: int16 gathers from one
        # contiguous column (at most 256 cells per axis); a (m, 3, 3) gather reduced over its
        # middle axis took four times as long
        cells = self._cell(vertices).astype(np.int16).T.copy() if len(vertices) else np.zeros((3, 0), dtype=np.int16)
        corners = [faces[:, k] for k in range(3)]
        flat = np.zeros(self.n, dtype=np.int64)
        large = np.zeros(self.n, dtype=bool)
        for axis in range(3):
            a, b, c = (cells[axis][i] for i in corners)
            lo = np.minimum(np.minimum(a, b), c)
            large |= np.maximum(np.maximum(a, b), c) - lo > 1
            flat = flat * self.dims[axis] + lo
        self.large = np.flatnonzero(large)
        flat[large] = -1  # never marked: large faces are returned by id
        self.lo_cell = flat

    def _cell(self, x):
        return np.clip(np.floor((x - self.origin) / self.size).astype(np.int64), 0, self.dims - 1)

    def _flat(self, c):
        return (c[:, 0] * self.dims[1] + c[:, 1]) * self.dims[2] + c[:, 2]

    def near(self, box_lo: np.ndarray, box_hi: np.ndarray) -> np.ndarray:
        """Sorted ids of the faces whose bounding box may meet one of the boxes (a superset)."""
        if len(box_lo) == 0 or self.n == 0:
            return np.zeros(0, dtype=np.int64)
        occupied = np.zeros(int(np.prod(self.dims)) + 1, dtype=bool)  # the last slot is the large faces' -1
        lo, hi = np.maximum(self._cell(box_lo) - 1, 0), self._cell(box_hi)
        span = int((hi - lo).max())
        for step in np.ndindex(span + 1, span + 1, span + 1):  # every cell of each box's widened range
            occupied[self._flat(np.minimum(lo + step, hi))] = True
        occupied[-1] = False
        return np.union1d(np.flatnonzero(occupied[self.lo_cell]), self.large)


class ExactCaster:
    """Float64 first-hit queries with incident faces filtered by id (no offsets).

    Parameters
    ----------
    vertices : (n, 3) float64 [mm]
    faces : (m, 3) int
    only : (k,) int, optional
        Ids of the faces the index holds (all by default). Queries can only meet these faces:
        pass a superset of every face the queries' segments can meet (:meth:`FaceGrid.near`).
    """

    engine = "exact-float64"

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, only: np.ndarray | None = None):
        self.v, self.f = vertices, faces
        ids = np.arange(len(faces)) if only is None else np.asarray(only, dtype=np.int64)
        lo, hi = face_boxes(vertices, faces[ids])
        prop = index.Property()
        prop.dimension = 3
        self.tree = index.Index((ids, lo, hi), properties=prop)
        self._first_length = None
        self._diag = None

    @property
    def first_length(self) -> float:
        """First search length [mm] of unbounded queries: 8 median edge lengths of the mesh.

        Walls of plates are a few edge lengths thick; rays that find nothing search 4x further,
        up to the mesh diagonal. Computed on first use: bounded queries do not need it.
        """
        if self._first_length is None:
            f = self.f
            edge = np.linalg.norm(self.v[f[:, 1]] - self.v[f[:, 0]], axis=1)
            self._first_length = 8.0 * float(np.median(edge)) if len(edge) else 1.0
        return self._first_length

    @property
    def diag(self) -> float:
        """Diagonal of the mesh's bounding box [mm]: where unbounded queries stop searching."""
        if self._diag is None:
            self._diag = float(np.linalg.norm(np.ptp(self.v, axis=0)))
        return self._diag

    @staticmethod
    def segment_boxes(origins, directions, t_lo, t_hi) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box of each ray segment from ``t_lo`` to ``t_hi`` [mm] (what the R-tree is asked)."""
        a = origins + directions * t_lo[:, None]
        b = origins + directions * t_hi[:, None]
        return np.minimum(a, b), np.maximum(a, b)

    def _candidates(self, origins, directions, t_lo, t_hi):
        tri, counts = self.tree.intersection_v(*self.segment_boxes(origins, directions, t_lo, t_hi))
        return np.repeat(np.arange(len(origins)), counts.astype(np.int64)), tri.astype(np.int64)

    def first_hit(self, origins, directions, incident, t_max=None, chunk=20000, slack=0.0):
        """As :meth:`EmbreeCaster.first_hit`, in float64; ``t_max`` [mm] bounds the search.

        ``slack`` is :func:`moller_trumbore`'s barycentric slack (0 for face rays).

        Candidates are the triangles whose bounding box meets the bounding box of the ray
        segment (an R-tree query: a guaranteed superset). Without ``t_max`` the search grows in
        stages (8 typical edges, then x4) up to the mesh diagonal, so short walls cost little
        and escaping rays still end.
        """
        n = len(origins)
        t_out = np.full(n, np.inf)
        f_out = np.full(n, -1, dtype=np.int64)
        lo = np.zeros(n)
        hi = (np.full(n, self.first_length) if t_max is None
              else np.asarray(np.broadcast_to(t_max, (n,)), dtype=float).copy())
        todo = np.arange(n)
        while len(todo):
            for c0 in range(0, len(todo), chunk):
                ids = todo[c0:c0 + chunk]
                r, tri = self._candidates(origins[ids], directions[ids], lo[ids], hi[ids])
                if len(r) == 0:
                    continue
                keep = ~incident(ids[r], tri)
                r, tri = r[keep], tri[keep]
                tri_v = self.v[self.f[tri]]
                t = moller_trumbore(origins[ids[r]], directions[ids[r]], tri_v[:, 0], tri_v[:, 1], tri_v[:, 2],
                                    slack)
                ok = (t > 0.0) & (t <= hi[ids[r]])
                r, tri, t = r[ok], tri[ok], t[ok]
                order = np.lexsort((tri, t, r))  # per ray, the nearest hit (ties: lowest face id)
                r, tri, t = r[order], tri[order], t[order]
                firsts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if len(r) else np.zeros(0, dtype=int)
                t_out[ids[r[firsts]]] = t[firsts]
                f_out[ids[r[firsts]]] = tri[firsts]
            if t_max is not None:
                break
            unresolved = todo[(f_out[todo] < 0) & (hi[todo] < self.diag)]
            lo[unresolved] = hi[unresolved]
            hi[unresolved] = np.minimum(hi[unresolved] * 4.0, self.diag * 1.01)
            todo = unresolved
        return t_out, f_out
