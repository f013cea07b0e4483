"""The wall thickness map page: the design's surface coloured by wall thickness.

Version 2 maps (schema 1.1) hold a simplified surface in the design's box frame
(:mod:`pmd_envelope.surface_map`): drawn as shaded triangles seen from the bone-facing side and
from the outside, with a section through the thinnest spot. Version 1 maps (schema 1.0 records)
hold face-centroid samples in scanner coordinates and are drawn as they were, as points.

The colour scale is anchored at the envelope's limits on wall thickness (red at the minimum,
blue at the maximum), so a thin area is red whatever the design's own range is.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.report.layout import MARGIN, Flow
from pmd_envelope.report.numbers import decimals_for, fixed

__all__ = ["thickness_map"]

_EDGE = np.array([0.62, 0.62, 0.62])
_LIGHT = np.array([-0.35, 0.45, 0.82])  # toward the viewer, from the upper left: shading only


def _limits(record: dict) -> tuple[float | None, float | None, float]:
    lo = hi = None
    u = 0.0
    for c in record.get("checks", []):
        if c["parameter"] == "wall_thickness":
            lo = c["min"] if c["min"] is not None else lo
            hi = c["max"] if c["max"] is not None else hi
            u = max(u, c.get("uncertainty") or 0.0)
    return lo, hi, u


def _scale(record, values):
    """Colour norm anchored at the envelope's limits (the data range when it has none)."""
    lo, hi, u = _limits(record)
    finite = values[np.isfinite(values)]
    dmin = float(finite.min()) if len(finite) else 0.0
    dmax = float(finite.max()) if len(finite) else 1.0
    vmin = lo if lo is not None else dmin
    vmax = hi if hi is not None else max(dmax, 2 * vmin if vmin > 0 else vmin + 1.0)
    if vmax - vmin < 1e-9:
        vmax = vmin + 1.0
    return vmin, vmax, lo, hi, u


def _cmap():
    import matplotlib

    # below the minimum limit: darker than any in-range red; above the maximum: darker blue
    return matplotlib.colormaps["RdYlBu"].with_extremes(under="#5c0015", over="#08306b")


def thickness_map(record: dict, plt, size, context):
    tm = record.get("thickness_map")
    if not tm:
        return None
    if tm.get("version") == 2:
        return _surface_page(record, tm, plt, size)
    return _points_page(record, tm, plt, size)


def _flat_triangles_class():
    from matplotlib.artist import Artist
    from matplotlib.transforms import IdentityTransform

    class FlatTriangles(Artist):
        """Filled triangles, one colour each, drawn in one renderer call (a single PDF shading
        object, vector) instead of one path per triangle: 10^4 triangles in milliseconds."""

        def __init__(self, xy, rgba):
            super().__init__()
            self._xy, self._rgba = np.asarray(xy, dtype=float), np.asarray(rgba, dtype=float)

        def draw(self, renderer):
            if not len(self._xy):
                return
            gc = renderer.new_gc()
            gc.set_clip_rectangle(self.axes.bbox)
            pts = self.axes.transData.transform(self._xy.reshape(-1, 2)).reshape(-1, 3, 2)
            renderer.draw_gouraud_triangles(gc, pts, np.repeat(self._rgba[:, None, :], 3, axis=1), IdentityTransform())
            gc.restore()

    return FlatTriangles


def _FlatTriangles(xy, rgba):  # noqa: N802 - a class made lazily (matplotlib is imported only here)
    return _flat_triangles_class()(xy, rgba)


def _view(ax, p, tri, t, edge, norm, cmap, toward: int):
    """Triangles facing the viewer on axis 3 (toward = +1: from outside, -1: from the bone side),
    painted far to near, coloured by thickness and shaded by their angle to the light."""
    from matplotlib.collections import PolyCollection

    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    facing = n[:, 2] * toward > 0
    depth = (a[:, 2] + b[:, 2] + c[:, 2]) / 3 * toward
    order = np.flatnonzero(facing)[np.argsort(depth[facing], kind="stable")]
    light = _LIGHT * np.array([1, 1, toward])
    shade = 0.55 + 0.45 * np.clip(np.abs(n[order] @ (light / np.linalg.norm(light))), 0, 1)
    tt = t[order]
    rgba = cmap(norm(np.where(np.isfinite(tt), tt, norm.vmax)))
    rgba[:, :3] = np.where(edge[order][:, None], _EDGE, rgba[:, :3]) * shade[:, None]
    xy = p[tri[order]][:, :, :2]
    ax.add_artist(_FlatTriangles(xy, rgba))
    ex = edge[order]
    if ex.any():  # the sharp-edge zone: grey, and hatched so it reads on a grey-scale print too
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path

        codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], int(ex.sum()))
        verts = np.concatenate([xy[ex], xy[ex][:, :1]], axis=1).reshape(-1, 2)
        ax.add_patch(PathPatch(Path(verts, codes), facecolor="none", edgecolor="#444444", lw=0, hatch="////"))
    ax.set_xlim(p[:, 0].min() - 3, p[:, 0].max() + 3)
    ax.set_ylim(p[:, 1].min() - 3, p[:, 1].max() + 3)
    ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=6.5, length=2, pad=1)


def _surface_page(record, tm, plt, size):
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figs: list = []
    flow = Flow(plt, size, "Wall thickness map", figs)
    p = np.asarray(tm["vertices"], dtype=float)
    tri = np.asarray(tm["triangles"], dtype=np.int64)
    t = np.array([np.nan if x is None else x for x in tm["thickness"]], dtype=float)
    edge = np.zeros(len(tri), dtype=bool)
    edge[np.asarray(tm["edge_triangles"], dtype=np.int64)] = True
    vmin, vmax, lo, hi, u = _scale(record, t[~edge])
    norm, cmap = Normalize(vmin, vmax), _cmap()
    wt = next((m for m in record["measurements"] if m["parameter"] == "wall_thickness"), None)
    dec = decimals_for(u, wt["value"] if wt else None) if u else 3
    flow.paragraph(
        f"The design's surface ({tm['faces_total']} faces, drawn as {len(tri)} triangles) in its own frame: the axes "
        "of its minimum-volume oriented box, axis 3 through the plate (axis 1 along the scanner's x where the box is "
        "square). Each triangle is coloured by the thinnest wall "
        "measured under it (ray thickness) and shaded by its angle to the light. The colour scale runs between the "
        "envelope's limits on wall thickness, red at the minimum; darker than the darkest red is below it. Grey "
        "hatched: the sharp-edge zone, where the ray left through a non-opposing face (excluded from the minimum; "
        "drawn up to one triangle wider). "
        "Star: the thin-spot witness. Only the drawing is simplified; every number comes from all faces.", size=7.5)
    w = tm.get("witness")
    views = (("Bone-facing side (concave), seen from the bone", -1), ("Outer side, seen from outside", +1))
    top, h = flow.box(262)
    for k, (title, toward) in enumerate(views):
        ax = flow.fig.add_axes(flow.rect(MARGIN + 22 + k * 266, top + 16, 232, 222))
        _view(ax, p, tri, t, edge, norm, cmap, toward)
        ax.set_title(title, fontsize=8, pad=4)
        ax.set_xlabel("axis 1 [mm]", fontsize=7, labelpad=1)
        ax.set_ylabel("axis 2 [mm]", fontsize=7, labelpad=1)
        if toward < 0:  # seen from the other side: mirror so the view is not reversed
            ax.invert_xaxis()
        if w:
            ax.plot([w["point"][0]], [w["point"][1]], marker="*", color="white", ms=13, mec="black", mew=0.8)
    sec = tm.get("section")
    if w and sec and sec["segments"]:
        top, h = flow.box(150)
        flow.text(MARGIN, top, "Section through the thinnest spot (plane of axes 1 and 3)", 8, weight="bold")
        box_w, box_h = flow.width - 30, 108.0
        ax = flow.fig.add_axes(flow.rect(MARGIN + 22, top + 16, box_w, box_h))
        segs = np.asarray(sec["segments"], dtype=float).reshape(-1, 2, 2)
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(segs, colors="black", linewidths=0.8))
        a, b = np.asarray(w["point"]), np.asarray(w["opposite"])
        ax.plot([a[0], b[0]], [a[2], b[2]], color="#b2182b", lw=1.4)
        ax.plot([a[0]], [a[2]], marker="*", color="white", ms=11, mec="black", mew=0.8)
        tval = wt["value"] if wt else float(np.linalg.norm(b - a))
        ax.annotate(f"thinnest wall {fixed(tval, dec)} mm", xy=((a[0] + b[0]) / 2, (a[2] + b[2]) / 2),
                    xytext=(14, 16), textcoords="offset points", fontsize=7, color="#b2182b",
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"},
                    arrowprops={"arrowstyle": "-", "color": "#b2182b", "lw": 0.6})
        half = sec["half_width_mm"]
        ax.set_xlim(a[0] - half, a[0] + half)
        mid = 0.5 * (a[2] + b[2])  # centred on the witness: the wall may leave the window where it is steep
        ax.set_ylim(mid - half * box_h / box_w, mid + half * box_h / box_w)  # equal scales on both axes
        ax.set_xlabel("axis 1 [mm]", fontsize=7, labelpad=1)
        ax.set_ylabel("axis 3 [mm]", fontsize=7, labelpad=1)
        ax.tick_params(labelsize=6.5, length=2, pad=1)
    top, h = flow.box(46)
    cax = flow.fig.add_axes(flow.rect(MARGIN + 22, top + 4, 250, 9))
    import matplotlib.cm as cm

    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = flow.fig.colorbar(sm, cax=cax, orientation="horizontal", extend="both")
    cb.set_label("wall thickness [mm]", fontsize=7, labelpad=1)
    cb.ax.tick_params(labelsize=6.5, length=2, pad=1)
    if lo is not None and u:
        cax.axvspan(lo, lo + u, facecolor="none", hatch="////", edgecolor="black", lw=0)
    if wt and wt.get("value") is not None:
        cax.plot([wt["value"]], [0.5], marker="v", color="black", ms=5, transform=cax.get_xaxis_transform(),
                 clip_on=False)
    handles = [Patch(facecolor=_EDGE, hatch="////", edgecolor="#444444", lw=0, label="sharp-edge zone"),
               Line2D([], [], marker="*", ls="none", color="white", mec="black", ms=9, label="thin-spot witness"),
               Line2D([], [], marker="v", ls="none", color="black", ms=5, label="measured minimum")]
    flow.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(flow.fx(MARGIN + 300), flow.fy(top)),
                    fontsize=7, frameon=False, ncol=1, handlelength=1.6)
    _summary(flow, wt, lo, u, dec)
    return figs


def _summary(flow, wt, lo, u, dec):
    if not wt or wt.get("value") is None:
        return
    s = wt["statistics"]
    g = lambda k: fixed(s[k], dec) if s.get(k) is not None else "-"  # noqa: E731
    lines = [f"Minimum outside the sharp-edge zone {fixed(wt['value'], dec)} mm"
             + (f" (± {fixed(u, dec)} mm); minimum limit {fixed(lo, dec)} mm" if lo is not None else "")
             + f"; including the zone {g('min_all')} mm.",
             f"Area-weighted p01 {g('p01')} mm, p05 {g('p05')} mm, median {g('median')} mm, max {g('max')} mm."]
    if "witness" in wt:
        w = wt["witness"]
        lines.append("Witness (scanner coordinates, mm): from (" + ", ".join(f"{x:.3f}" for x in w["point"]) + ") to ("
                     + ", ".join(f"{x:.3f}" for x in w["opposite"]) + f"), faces {w['faces'][0]} → {w['faces'][1]}.")
    for line in lines:
        flow.paragraph(line, size=7.5, gap=1)


def _points_page(record, tm, plt, size):
    """A schema 1.0 map: face-centroid samples in scanner coordinates, drawn as points."""
    from matplotlib.colors import Normalize

    pts = np.asarray(tm["points"], dtype=float)
    if len(pts) == 0:
        return None
    figs: list = []
    flow = Flow(plt, size, "Wall thickness map", figs)
    flow.paragraph(f"Schema 1.0 record: ray thickness at every {tm['stride']}th face centroid of {tm['faces_total']} "
                   "faces, in scanner coordinates, as this record stores it. Grey: sharp-edge zone (excluded from the "
                   "minimum). Star: thin-spot witness. Colour scale anchored at the envelope's limits.", size=7.5)
    wall, edge = pts[pts[:, 4] == 0], pts[pts[:, 4] == 1]
    vmin, vmax, lo, hi, u = _scale(record, wall[:, 3])
    norm, cmap = Normalize(vmin, vmax), _cmap()
    wt = next((m for m in record["measurements"] if m["parameter"] == "wall_thickness"), None)
    top, h = flow.box(548)
    for k, (title, i, j) in enumerate((("Top (x-y)", 0, 1), ("Front (x-z)", 0, 2), ("Side (y-z)", 1, 2))):
        ax = flow.fig.add_axes(flow.rect(MARGIN + 30 + (k % 2) * 264, top + 16 + (k // 2) * 260, 220, 220))
        if len(edge):
            ax.scatter(edge[:, i], edge[:, j], s=1.5, c="#9e9e9e", linewidths=0, rasterized=True)
        ax.scatter(wall[:, i], wall[:, j], s=1.5, c=cmap(norm(wall[:, 3])), linewidths=0, rasterized=True)
        if wt and "witness" in wt:
            pt = wt["witness"]["point"]
            ax.plot([pt[i]], [pt[j]], marker="*", color="white", ms=12, mec="black", mew=0.6)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(title, fontsize=8, pad=3)
        ax.set_xlabel("xyz"[i] + " [mm]", fontsize=7)
        ax.set_ylabel("xyz"[j] + " [mm]", fontsize=7)
        ax.tick_params(labelsize=6.5)
    import matplotlib.cm as cm

    cax = flow.fig.add_axes(flow.rect(MARGIN + 300, top + 300, 200, 9))
    cb = flow.fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal", extend="both")
    cb.set_label("wall thickness [mm]", fontsize=7)
    cb.ax.tick_params(labelsize=6.5)
    dec = decimals_for(u, wt["value"] if wt else None) if u else 3
    _summary(flow, wt, lo, u, dec)
    return figs
