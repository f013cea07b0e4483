"""The thickness map a record carries: a simplified surface in the design's own frame.

The report is rendered from the record alone, so the record holds what the map draws: the
design's surface decimated to a few thousand triangles, in the frame of its minimum-volume
oriented box, each triangle with the thinnest measured wall thickness of the faces it covers,
plus a section through the thinnest spot cut from the full mesh. What is drawn is simplified;
what is measured is not: the measurements and the witness in the record come from every face.

Frame: origin at the box centre, axis 1 the longest box edge, axis 3 the shortest (through the
plate), axis 3 pointing away from the concave side. The concave side is taken as the
bone-facing side (a cranial plate's inner surface; a guide's bone-contact face).

Decimation: vertex clustering (Rossignac and Borrel, 1993) on a cubic grid whose cell is sized
for ``target`` triangles, with vertices on opposite sides of the wall (vertex normals pointing
up or down axis 3) never merged, so the wall does not collapse even where the cell is larger
than the wall is thick. Each drawn triangle takes the minimum thickness over the faces incident
to the vertices it merges (conservative: a thin spot is drawn a cell wider, never thinner
or thicker than measured).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAP_VERSION", "MAP_TRIANGLES", "thickness_map", "box_frame", "section"]

MAP_VERSION = 2
#: Triangles drawn per map: ~2 per grid vertex. 4000 keeps the record at its v1 size (~0.5 MB of
#: indented JSON, ~27,000 numbers), so writing evidence is no slower, and a 120 mm plate is drawn
#: with ~3 mm triangles, finer than the map's 2-3 mm print resolution of a colour change.
MAP_TRIANGLES = 4000
#: Rounding in the record (drawing only): coordinates 0.01 mm, thickness 0.001 mm.
_XYZ_DECIMALS, _T_DECIMALS = 2, 3
#: In-plane box sides within 1 % of each other: the box has no preferred direction in its plane.
_SQUARE = 0.01
#: Half-width of the section drawn around the thinnest spot [mm] along axis 1.
SECTION_HALF_WIDTH = 12.0


def box_frame(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin (box centre) and axes (rows, right-handed) of the design's oriented box, axis 3
    pointing away from the concave side.

    The same design must give the same frame on every CPU (the record is hashed), so nothing is
    left to an eigenvector's sign or to a near tie: axis 1 points along +x of the scanner as far
    as it can, and when the box is square in its plane (a round plate, whose box may turn freely
    about axis 3 with last-bit changes) axis 1 is the scanner's x projected onto that plane.
    """
    from pmd_envelope.measure.extents import oriented_extents

    ext, axes = oriented_extents(vertices)
    axes = np.array(axes, dtype=float)
    q = vertices @ axes.T
    q = q - 0.5 * (q.min(axis=0) + q.max(axis=0))
    step = max(1, len(q) // 200_000)
    e3 = axes[2]
    # a dome rises toward its middle on its convex side: there w falls as the radius grows
    r2, w = q[::step, 0] ** 2 + q[::step, 1] ** 2, q[::step, 2]
    with np.errstate(invalid="ignore", divide="ignore"):  # no spread (a flat slab): no side is concave
        corr = np.corrcoef(r2, w)[0, 1] if r2.std() > 0 and w.std() > 0 else np.nan
    if np.isfinite(corr) and corr != 0:
        if corr > 0:
            e3 = -e3
    elif e3[int(np.argmax(np.abs(e3)))] < 0:  # no concave side: the sign from the scanner axes, not the eigensolver
        e3 = -e3
    world = np.eye(3)
    if ext[0] - ext[1] <= _SQUARE * ext[0]:
        ref = world[int(np.argmin(np.abs(world @ e3)))]
        e1 = ref - (ref @ e3) * e3
        e1 /= np.linalg.norm(e1)
    else:
        e1 = axes[0]
        k = int(np.argmax(np.abs(e1) > 0.1))  # first scanner axis it has a clear component along
        e1 = e1 if e1[k] > 0 else -e1
    axes = np.vstack([e1, np.cross(e3, e1), e3])
    p = vertices @ axes.T
    origin = (0.5 * (p.min(axis=0) + p.max(axis=0))) @ axes  # rows are orthonormal: local -> world
    return origin, axes


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # area-weighted face normals
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], n)
    return vn


def thickness_map(vertices: np.ndarray, faces: np.ndarray, per_face: np.ndarray, edge_zone: np.ndarray,
                  witness: dict | None = None, *, target: int = MAP_TRIANGLES) -> dict:
    """The record's ``thickness_map`` (version 2).

    Parameters
    ----------
    vertices, faces : ndarray
        The design mesh as measured [mm].
    per_face : ndarray
        Wall thickness of each face [mm] (inf where none was found).
    edge_zone : ndarray of bool
        Faces in the sharp-edge zone (excluded from the minimum).
    witness : dict, optional
        The wall-thickness witness (``point``, ``opposite`` in mesh coordinates).
    target : int
        About how many triangles to keep.
    """
    v = np.asarray(vertices, dtype=float)
    f = np.asarray(faces, dtype=np.int64)
    origin, axes = box_frame(v)
    p = (v - origin) @ axes.T
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum()
    cell = float(np.sqrt(2.0 * area / max(target, 8)))
    cluster, cf, rep, cell = _decimate(p, f, cell, target)
    t = np.where(np.isfinite(per_face) & ~edge_zone, per_face, np.inf)
    vmin = np.full(len(rep), np.inf)
    efrac = np.zeros(len(rep))
    count = np.zeros(len(rep))
    for k in range(3):
        np.minimum.at(vmin, cluster[f[:, k]], t)
        np.add.at(efrac, cluster[f[:, k]], edge_zone.astype(float))
        np.add.at(count, cluster[f[:, k]], 1.0)
    efrac /= np.maximum(count, 1.0)
    tri_t = vmin[cf].min(axis=1)
    tri_edge = efrac[cf].max(axis=1) >= 0.25  # a corner in the zone: the zone is usually a thin band
    used, inv = np.unique(cf.ravel(), return_inverse=True)
    kept_p, kept_f = rep[used], inv.reshape(-1, 3)
    out = {
        "version": MAP_VERSION,
        "frame": {"origin": [round(float(x), 4) for x in origin], "axes": [[round(float(x), 7) for x in a] for a in axes],
                  "definition": "minimum-volume oriented box: origin at its centre, axis 1 the longest edge, axis 3 "
                                "the shortest, pointing away from the concave (bone-facing) side"},
        "decimation": f"vertex clustering on a {cell:.3g} mm grid in the box frame, the two sides of the wall kept "
                      "apart; each triangle carries the minimum thickness of the faces it covers (edge-zone faces "
                      "excluded) and is in the sharp-edge zone when a quarter of the faces at one of its corners are",
        "faces_total": int(len(f)),
        "cell_mm": round(cell, 4),
        "vertices": np.round(kept_p, _XYZ_DECIMALS).tolist(),
        "triangles": kept_f.tolist(),
        "thickness": [None if not np.isfinite(x) else round(float(x), _T_DECIMALS) for x in tri_t],
        "edge_triangles": np.flatnonzero(tri_edge).tolist(),
    }
    if witness is not None:
        a = (np.asarray(witness["point"], dtype=float) - origin) @ axes.T
        b = (np.asarray(witness["opposite"], dtype=float) - origin) @ axes.T
        out["witness"] = {"point": np.round(a, 3).tolist(), "opposite": np.round(b, 3).tolist()}
        out["section"] = section(p, f, a, SECTION_HALF_WIDTH)
    return out


def _decimate(p: np.ndarray, f: np.ndarray, cell: float, target: int):
    """Cluster vertices; grow the cell until at most ~1.2 ``target`` triangles remain."""
    side = np.sign(_vertex_normals(p, f)[:, 2]).astype(np.int64)
    for _ in range(12):
        keys = np.column_stack([np.floor(p / cell).astype(np.int64), side])
        uniq, cluster = np.unique(keys, axis=0, return_inverse=True)
        cluster = cluster.ravel()
        cf = cluster[f]
        ok = (cf[:, 0] != cf[:, 1]) & (cf[:, 1] != cf[:, 2]) & (cf[:, 0] != cf[:, 2])
        cf = cf[ok]
        srt = np.sort(cf, axis=1)
        _, first = np.unique(srt, axis=0, return_index=True)
        cf = cf[np.sort(first)]
        if len(cf) <= 1.2 * target or len(cf) < 16:
            break
        cell *= float(np.sqrt(len(cf) / target))
    # a cluster is drawn at the mean of its vertices
    sums = np.zeros((len(uniq), 3))
    np.add.at(sums, cluster, p)
    rep = sums / np.bincount(cluster, minlength=len(uniq))[:, None]
    return cluster, cf, rep, cell


def section(p: np.ndarray, f: np.ndarray, point: np.ndarray, half_width: float) -> dict:
    """Segments where the plane through ``point`` normal to axis 2 cuts the mesh (box frame),
    within ``half_width`` of the point along axis 1, as ``[[u0, w0, u1, w1], ...]`` [mm]."""
    d = p[:, 1] - point[1]
    df = d[f]
    near = np.abs(p[f][:, :, 0] - point[0]).min(axis=1) <= half_width
    cut = near & (df.min(axis=1) < 0) & (df.max(axis=1) > 0)
    segs = []
    for tri, dd in zip(f[cut], df[cut]):
        pts = []
        for i, j in ((0, 1), (1, 2), (2, 0)):
            if (dd[i] < 0) != (dd[j] < 0):
                s = dd[i] / (dd[i] - dd[j])
                q = p[tri[i]] + s * (p[tri[j]] - p[tri[i]])
                pts.append((q[0], q[2]))
        if len(pts) == 2:
            segs.append([round(float(pts[0][0]), 3), round(float(pts[0][1]), 3),
                         round(float(pts[1][0]), 3), round(float(pts[1][1]), 3)])
    segs.sort()
    return {"plane": "through the thinnest spot, normal to axis 2 (axes 1 and 3 drawn)",
            "half_width_mm": half_width, "segments": segs}
