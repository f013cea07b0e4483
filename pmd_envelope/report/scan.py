"""The scan page: the DICOM series' checks, a slice through the design with the bone contour, and
the gap map, drawn from the record's ``scan.series`` and ``scan_fit`` blocks
(:mod:`pmd_envelope.scan.drawing`). Shown only when the record read a series.

The gap map's colour scale is anchored at the envelope's limits on ``scan_fit_gap`` (red at the
maximum gap, blue at the largest interference), so a design off its bone is red whatever its own
range is.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.report.layout import MARGIN, Flow
from pmd_envelope.report.numbers import fixed, number, quantity

__all__ = ["scan_page"]

_RED, _GREEN = "#b2182b", "#1b7837"
_BONE, _DESIGN = "#8c6d31", "#000000"


def _measurement(record, name):
    return next((m for m in record["measurements"] if m["parameter"] == name), None)


def _gap_limits(record) -> tuple[float | None, float | None]:
    lo = hi = None
    for c in record.get("checks", []):
        if c["parameter"] == "scan_fit_gap":
            lo = c["min"] if c["min"] is not None else lo
            hi = c["max"] if c["max"] is not None else hi
    return lo, hi


def _fit_lines(record) -> list[tuple[str, str | None]]:
    gap, frac = _measurement(record, "scan_fit_gap"), _measurement(record, "scan_contact_fraction")
    if gap is None and frac is None:
        return [("The envelope does not limit the fit to the scanned bone.", None)]
    if gap is None or gap.get("value") is None:
        why = (gap or frac).get("reason") or "not measured"
        return [(f"Fit to the scanned bone not measured: {why}.", _RED)]
    s = gap["statistics"]
    decision = {c["parameter"]: c["decision"] for c in record.get("checks", [])}
    colour = lambda p: _GREEN if decision.get(p) == "conforming" else _RED  # noqa: E731
    lines = [(f"scan_fit_gap: largest gap {quantity(s['max'], 'mm', 2)}, RMS {quantity(s['rms'], 'mm', 2)}, "
              f"largest interference {quantity(-s['min'] if s['min'] < 0 else 0.0, 'mm', 2)} (min {fixed(s['min'], 2)} "
              f"mm), over {quantity(s['contact_area'], 'mm^2', 0)} of contact surface; voxel uncertainty "
              f"{quantity(s['voxel_uncertainty'], 'mm', 2)} ({decision.get('scan_fit_gap', 'not checked').replace('_', ' ')}).",
              colour("scan_fit_gap"))]
    if frac is not None and frac.get("value") is not None:
        fs = frac["statistics"]
        lines.append((f"scan_contact_fraction: {number(frac['value'])} of the contact surface within "
                      f"{quantity(fs['gap_limit'], 'mm')} of the bone ({decision.get('scan_contact_fraction', 'not checked').replace('_', ' ')}).",
                      colour("scan_contact_fraction")))
    return lines


def scan_page(record: dict, plt, size, context):
    series = (record.get("scan") or {}).get("series")
    if not series:
        return None
    figs: list = []
    flow = Flow(plt, size, "Patient scan and fit to the bone", figs)
    flow.paragraph(f"DICOM series '{series['path']}': {series['files']} files, content SHA-256 "
                   f"{series['content_sha256']}. Header values were read from an allow-list of attributes; no patient "
                   "identity is kept (the Series Instance UID only as a salted hash).", size=7.5)
    rows, colours = [], []
    for f in series["findings"]:
        rows.append([f["name"], f["detail"], "passed" if f["passed"] else "FAILED"])
        colours.append(_GREEN if f["passed"] else _RED)
    flow.table(["Series check", "Detail", "Result"], rows, [0.22, 0.64, 0.14], colours=colours, size=7.5,
               title="Series checks", gap=6)
    flow.heading("Fit of the design to the scanned bone", 10)
    for line, colour in _fit_lines(record):
        flow.paragraph(line, size=7.5, gap=2, color=colour)
    drawing = record.get("scan_fit")
    if not drawing:
        flow.paragraph("No slice or gap map: the record holds no drawing of the fit (nothing was measured against "
                       "bone).", size=7.5, color="#555555")
        return figs
    flow.y += 4
    _slice(flow, drawing)
    _gap_map(flow, record, drawing)
    return figs


def _slice(flow, d):
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    sl = d["slice"]
    top, _ = flow.box(222)
    flow.text(MARGIN, top, "Slice through the design's centre (plane of box axes 1 and 3; bone side down)", 8,
              weight="bold")
    box_w, box_h = flow.width - 40, 150.0
    ax = flow.fig.add_axes(flow.rect(MARGIN + 30, top + 16, box_w, box_h))
    bone = [np.asarray(line, dtype=float).reshape(-1, 2) for line in sl["bone"]]
    design = [np.asarray(line, dtype=float).reshape(-1, 2) for line in sl["design"]]
    if len(bone):
        ax.add_collection(LineCollection(bone, colors=_BONE, linewidths=1.0))
    if len(design):
        ax.add_collection(LineCollection(design, colors=_DESIGN, linewidths=1.1))
    half = sl["half_width_mm"]
    pts = np.concatenate(bone + design or [np.zeros((1, 2))])
    mid = 0.5 * (pts[:, 1].min() + pts[:, 1].max())
    span_w = max(pts[:, 1].max() - pts[:, 1].min() + 6.0, 2 * half * box_h / box_w)
    scale = span_w / box_h  # mm per point, the same on both axes
    ax.set_xlim(-0.5 * box_w * scale, 0.5 * box_w * scale)
    ax.set_ylim(mid - 0.5 * box_h * scale, mid + 0.5 * box_h * scale)
    ax.set_xlabel("axis 1 [mm]", fontsize=7, labelpad=1)
    ax.set_ylabel("axis 3 [mm]", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=6.5, length=2, pad=1)
    handles = [Line2D([], [], color=_DESIGN, lw=1.1, label="design"),
               Line2D([], [], color=_BONE, lw=1.0, label="bone surface from the CT (threshold iso-surface)")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.5, frameon=False,
              handlelength=1.8)


def _gap_map(flow, record, d):
    import matplotlib
    import matplotlib.cm as cm
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Patch, Rectangle

    gm = d["gap_map"]
    cell, (u0, v0) = gm["cell_mm"], gm["origin"]
    lo, hi = _gap_limits(record)
    gaps = [c[2] for c in gm["cells"] if c[2] is not None]
    vmax = hi if hi is not None else max(max(gaps, default=1.0), 1.0)
    vmin = lo if lo is not None and lo < 0 else -vmax
    norm = TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
    cmap = matplotlib.colormaps["RdYlBu_r"].with_extremes(under="#08306b", over="#5c0015")
    top, _ = flow.box(262)
    flow.text(MARGIN, top, "Gap map of the bone-facing surface, seen from the bone (axes 1 and 2)", 8, weight="bold")
    ax = flow.fig.add_axes(flow.rect(MARGIN + 30, top + 16, 250, 230))
    filled, empty, colours = [], [], []
    for i, j, g in gm["cells"]:
        r = Rectangle((u0 + (i - 0.5) * cell, v0 + (j - 0.5) * cell), cell, cell)
        if g is None:
            empty.append(r)
        else:
            filled.append(r)
            colours.append(cmap(norm(g)))
    if empty:
        ax.add_collection(PatchCollection(empty, facecolor="#d9d9d9", edgecolor="#9e9e9e", lw=0.2, hatch="////"))
    if filled:
        ax.add_collection(PatchCollection(filled, facecolor=colours, edgecolor="none"))
    e = gm["extent"]
    ax.set_xlim(e[0] - 3, e[2] + 3)
    ax.set_ylim(e[1] - 3, e[3] + 3)
    ax.set_aspect("equal", adjustable="box")
    ax.invert_xaxis()  # seen from the bone side: mirrored so the view is not reversed
    gap = _measurement(record, "scan_fit_gap")
    w = (gap or {}).get("witness")
    if w:
        fr = d["frame"]
        q = (np.asarray(w["point"]) - np.asarray(fr["origin"])) @ np.asarray(fr["axes"]).T
        ax.plot([q[0]], [q[1]], marker="*", color="white", ms=12, mec="black", mew=0.8)
    ax.set_xlabel("axis 1 [mm]", fontsize=7, labelpad=1)
    ax.set_ylabel("axis 2 [mm]", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=6.5, length=2, pad=1)
    cax = flow.fig.add_axes(flow.rect(MARGIN + 310, top + 40, 200, 9))
    cb = flow.fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal", extend="both")
    cb.set_label("gap to the bone [mm] (negative: interference)", fontsize=7, labelpad=1)
    cb.ax.tick_params(labelsize=6.5, length=2, pad=1)
    from matplotlib.lines import Line2D

    handles = [Patch(facecolor="#d9d9d9", hatch="////", edgecolor="#9e9e9e", lw=0.2,
                     label="no contact face (none looks at bone)"),
               Line2D([], [], marker="*", ls="none", color="white", mec="black", ms=9, label="largest gap (witness)")]
    flow.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(flow.fx(MARGIN + 306), flow.fy(top + 78)),
                    fontsize=7, frameon=False, ncol=1, handlelength=1.6)
    y = top + 130
    words = (f"Each {fixed(cell, 1)} mm cell shows the largest gap of the design's contact faces in it (faces within the "
             "contact angle of the closest bone point); the colour scale runs between the envelope's limits on "
             "scan_fit_gap. Only the drawing is binned; every number comes from all faces.")
    from pmd_envelope.report.layout import wrap

    for line in wrap(words, 200, 7):
        flow.text(MARGIN + 310, y, line, 7, color="#444444")
        y += 8.5
