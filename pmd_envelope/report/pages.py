"""The report's pages, each a function ``(record, plt, page_size) -> Figure | None``."""

from __future__ import annotations

import textwrap

import numpy as np

from pmd_envelope.report import _DECISION_COLOUR, _VERDICT_COLOUR

__all__ = ["PAGES", "footer"]


def _fmt(x, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def footer(fig, record: dict, n: int, total: int) -> None:
    fig.text(0.06, 0.02, f"Record {record['record_id']}  ·  content SHA-256 {record['integrity']['content_sha256'][:16]}…",
             fontsize=7, color="#444444")
    fig.text(0.94, 0.02, f"Page {n} of {total}", fontsize=7, ha="right", color="#444444")


def _text_block(fig, x, y, lines, size=8.5, width=105, step=0.017, **kw):
    for line in lines:
        for part in textwrap.wrap(line, width) or [""]:
            fig.text(x, y, part, fontsize=size, va="top", **kw)
            y -= step
    return y


def _table(ax, header, rows, col_widths=None, colours=None, size=7.5):
    ax.axis("off")
    if not rows:
        ax.text(0, 1, "(none)", va="top", fontsize=size)
        return
    tbl = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left", colWidths=col_widths)
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(size)
    tbl.scale(1.0, 1.25)
    for (r, c), cell in tbl.get_celld().items():
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_facecolor("#e8e8e8")
        elif colours is not None and colours[r - 1] is not None and c == len(header) - 1:
            cell.get_text().set_color(colours[r - 1])


def cover(record: dict, plt, size):
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Design verification record — patient-matched device", fontsize=15, weight="bold", va="top")
    verdict = record["verdict"]
    words = ("CONFORMING: the design lies inside its validated envelope and its worst case meets every limit"
             if verdict == "conforming" else
             "NONCONFORMING: do not release; the reasons are listed below")
    fig.text(0.06, 0.905, verdict.upper(), fontsize=22, weight="bold", color=_VERDICT_COLOUR[verdict], va="top")
    _text_block(fig, 0.06, 0.86, [words], size=10, width=90)
    env, sw = record["envelope"], record["software"]
    rows = [
        ("Case", record["case_id"]), ("Patient reference (pseudonymous)", record["patient_ref"]),
        ("Design iteration / designer", f"{record['design_iteration']} / {record['designer']}"),
        ("Physician approval", record.get("physician_approval_ref") or "not yet recorded"),
        ("Device", f"{record['device']['title']} ({record['device']['family']})"),
        ("Material / process", f"{record['device']['material']} / {record['device']['process']}"),
        ("Envelope", f"{env['id']} version {env['version']} ({env['status']}), SHA-256 {env['sha256'][:16]}…"),
        ("Record id", record["record_id"]), ("Content SHA-256", record["integrity"]["content_sha256"]),
        ("Created (UTC)", record["created_at"]),
        ("Retention", f"until {record['retention']['retain_until']} ({record['retention']['years']} years, "
                      f"{'implantable' if record['retention']['implantable'] else 'non-implantable'})"),
        ("Software", f"{sw['name']} {sw['version']} (numpy {sw['numpy']}, scipy {sw['scipy']}, trimesh {sw['trimesh']})"),
    ]
    ax = fig.add_axes([0.06, 0.47, 0.88, 0.34])
    _table(ax, ["Item", "Value"], [list(r) for r in rows], col_widths=[0.3, 0.7], size=8)
    fig.text(0.06, 0.44, "Reasons", fontsize=11, weight="bold", va="top")
    lines = [f"• [{r['decision']}] {r['item']}: {r['detail']}" for r in record["reasons"]] or \
            ["• none: every parameter is proven inside its limits (ISO 14253-1, guarded by U) and every worst case "
             "meets its limit and is covered by the tested construct."]
    _text_block(fig, 0.06, 0.415, lines, size=8.5, width=110)
    return fig


def parameters(record: dict, plt, size):
    checks = record["checks"]
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Design parameters against the envelope", fontsize=13, weight="bold", va="top")
    fig.text(0.06, 0.925, "Grey: validated range. Hatched: guard band of width U inside each limit (ISO 14253-1): "
                          "a value there is indeterminate.", fontsize=8, va="top")
    n = max(len(checks), 1)
    h = min(0.075, 0.78 / n)
    for i, c in enumerate(checks):
        ax = fig.add_axes([0.32, 0.86 - (i + 1) * h, 0.6, h * 0.55])
        lo, hi, u, v = c["min"], c["max"], c["uncertainty"], c["value"]
        ref = [x for x in (lo, hi, v) if x is not None]
        span = (max(ref) - min(ref)) or abs(ref[0]) or 1.0
        left = (lo if lo is not None else min(ref) - 0.3 * span) - 0.15 * span
        right = (hi if hi is not None else max(ref) + 0.3 * span) + 0.15 * span
        a = lo if lo is not None else left
        b = hi if hi is not None else right
        ax.axvspan(a, b, color="#dddddd")
        if lo is not None and u > 0:
            ax.axvspan(lo, lo + u, facecolor="none", hatch="////", edgecolor="#999999", lw=0)
        if hi is not None and u > 0:
            ax.axvspan(hi - u, hi, facecolor="none", hatch="////", edgecolor="#999999", lw=0)
        colour = _DECISION_COLOUR[c["decision"]]
        if v is not None:
            ax.plot([v], [0.5], marker="D", color=colour, ms=6)
            if u > 0:
                ax.plot([v - u, v + u], [0.5, 0.5], color=colour, lw=1.2)
        ax.set_xlim(left, right)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        for s in ("top", "right", "left"):
            ax.spines[s].set_visible(False)
        stat = "" if c["statistic"] == "value" else f" ({c['statistic']})"
        fig.text(0.06, 0.86 - (i + 1) * h + h * 0.4,
                 f"{c['parameter']}{stat}\n{_fmt(v)} {c['unit']}  [{_fmt(lo)}, {_fmt(hi)}]  U={_fmt(u)}\n"
                 f"margin {_fmt(c['margin'])} · {c['decision']}", fontsize=7.5, va="center", color=colour)
    return fig


def thickness_map(record: dict, plt, size):
    tm = record.get("thickness_map")
    if not tm:
        return None
    pts = np.asarray(tm["points"], dtype=float)
    if len(pts) == 0:
        return None
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Wall thickness map", fontsize=13, weight="bold", va="top")
    wt = next((m for m in record["measurements"] if m["parameter"] == "wall_thickness"), None)
    note = (f"Ray thickness per face ({tm['faces_total']} faces, every {tm['stride']}th drawn). "
            "Grey: sharp-edge zone (ray left through a non-opposing face; excluded from the minimum). "
            "Star: thin-spot witness.")
    _text_block(fig, 0.06, 0.925, [note], size=8, width=115)
    wall = pts[pts[:, 4] == 0]
    edge = pts[pts[:, 4] == 1]
    vmin, vmax = (wall[:, 3].min(), wall[:, 3].max()) if len(wall) else (0.0, 1.0)
    if vmax - vmin < 1e-6:
        vmin, vmax = vmin - 0.05, vmax + 0.05
    views = [("Top (x-y)", 0, 1), ("Front (x-z)", 0, 2), ("Side (y-z)", 1, 2)]
    sc = None
    for k, (title, i, j) in enumerate(views):
        ax = fig.add_axes([0.08 + (k % 2) * 0.45, 0.52 - (k // 2) * 0.42, 0.38, 0.36])
        if len(edge):
            ax.scatter(edge[:, i], edge[:, j], s=1.5, c="#bbbbbb", linewidths=0)
        sc = ax.scatter(wall[:, i], wall[:, j], s=1.5, c=wall[:, 3], cmap="viridis", vmin=vmin, vmax=vmax,
                        linewidths=0)
        if wt and "witness" in wt:
            w = wt["witness"]["point"]
            ax.plot([w[i]], [w[j]], marker="*", color="#d7191c", ms=12, mec="black", mew=0.5)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(title)
        ax.set_xlabel("xyz"[i] + " [mm]")
        ax.set_ylabel("xyz"[j] + " [mm]")
        ax.tick_params(labelsize=7)
    cax = fig.add_axes([0.55, 0.18, 0.3, 0.015])
    fig.colorbar(sc, cax=cax, orientation="horizontal", label="wall thickness [mm]")
    if wt:
        s = wt["statistics"]
        lines = [f"Minimum outside the sharp-edge zone: {_fmt(wt['value'])} mm; including it: {_fmt(s.get('min_all'))} mm",
                 f"Area-weighted p01 {_fmt(s.get('p01'))}, p05 {_fmt(s.get('p05'))}, median {_fmt(s.get('median'))}, "
                 f"max {_fmt(s.get('max'))} mm"]
        if "witness" in wt:
            w = wt["witness"]
            lines.append(f"Witness: from ({', '.join(_fmt(x, 6) for x in w['point'])}) to "
                         f"({', '.join(_fmt(x, 6) for x in w['opposite'])}), faces {w['faces'][0]} → {w['faces'][1]}")
        _text_block(fig, 0.55, 0.14, lines, size=7.5, width=60, step=0.015)
    return fig


def worst_case(record: dict, plt, size):
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Worst case over the manufacturing variables", fontsize=13, weight="bold", va="top")
    y = 0.91
    if not record["worst_case"]:
        fig.text(0.06, y, "Not evaluated (the mesh failed the integrity gate).", fontsize=9, va="top")
        return fig
    for w in record["worst_case"]:
        cov = w["coverage"]
        rows = [
            ["Model", w["model"]],
            ["Worst value", f"{_fmt(w['value'])} {w['unit']}"],
            ["Limit", f"{'≥' if w['sense'] == 'min' else '≤'} {_fmt(w['limit'])} {w['unit']}"],
            ["Margin", f"{_fmt(w['margin'])} {w['unit']} ({'met' if w['passed'] else 'NOT met'})"],
            ["Limiting configuration", ", ".join(f"{k} = {_fmt(v)}" for k, v in sorted(w["limiting_configuration"].items()))],
            ["Method", f"{w['method']} ({w['evaluations']} model evaluations)"],
            ["Tested construct", f"{cov['report']}: model {_fmt(cov['construct_model_value'])} {w['unit']}, "
                                 f"measured {_fmt(cov['measured_value'])} {w['unit']}"],
            ["Covered by the test", f"{'yes' if cov['covered'] else 'NO'} (by {_fmt(cov['margin'])} {w['unit']})"],
        ]
        fig.text(0.06, y, f"Metric: {w['metric']}", fontsize=11, weight="bold", va="top")
        ax = fig.add_axes([0.06, y - 0.27, 0.88, 0.24])
        _table(ax, ["Item", "Value"], rows, col_widths=[0.28, 0.72], size=8)
        y -= 0.32
    return fig


def traceability(record: dict, plt, size):
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Traceability", fontsize=13, weight="bold", va="top")
    req, scan = record["request"], record["scan"]
    lines = [f"HCP request {req['id']}, received {req['received']}, planned use {req['planned_use']}"]
    lines += [f"    {k}: {v}" for k, v in sorted(req["characteristics"].items())]
    lines.append(f"Scan: {scan['modality']}, acquired {scan['acquired']}, slice thickness {scan['slice_thickness']} mm, "
                 f"pixel spacing {scan['pixel_spacing']} mm")
    y = _text_block(fig, 0.06, 0.92, lines, size=8.5)
    fig.text(0.06, y - 0.01, "Input files", fontsize=11, weight="bold", va="top")
    ax = fig.add_axes([0.06, y - 0.04 - 0.03 * (len(record["inputs"]) + 1), 0.88, 0.03 * (len(record["inputs"]) + 1)])
    _table(ax, ["Role", "Path", "SHA-256"], [[i["role"], i["path"], i["sha256"]] for i in record["inputs"]],
           col_widths=[0.14, 0.3, 0.56], size=7)
    y = y - 0.08 - 0.03 * (len(record["inputs"]) + 1)
    mi = record["mesh_integrity"]
    fig.text(0.06, y, "Mesh integrity gate", fontsize=11, weight="bold", va="top")
    keys = ["vertices", "faces", "degenerate_faces", "duplicate_faces", "boundary_edges", "nonmanifold_edges",
            "winding_consistent", "signed_volume", "bodies", "expected_bodies", "self_intersections",
            "self_intersection_method", "unit_check", "passed"]
    rows = [[k, _fmt(mi.get(k), 8) if mi.get(k) is not None else "not evaluated"] for k in keys if k in mi]
    ax = fig.add_axes([0.06, y - 0.03 - 0.022 * (len(rows) + 1), 0.88, 0.022 * (len(rows) + 1)])
    _table(ax, ["Check", "Result"], rows, col_widths=[0.3, 0.7], size=7)
    y = y - 0.06 - 0.022 * (len(rows) + 1)
    fig.text(0.06, y, "Measurements", fontsize=11, weight="bold", va="top")
    rows = [[m["parameter"], f"{_fmt(m['value'], 6)} {m['unit']}", m["method"]] for m in record["measurements"]]
    ax = fig.add_axes([0.06, y - 0.03 - 0.022 * (len(rows) + 1), 0.88, 0.022 * (len(rows) + 1)])
    _table(ax, ["Parameter", "Value", "Method"], rows, col_widths=[0.3, 0.3, 0.4], size=7)
    return fig


def signatures(record: dict, plt, size):
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Signatures", fontsize=13, weight="bold", va="top")
    sigs = {s["role"]: s for s in record.get("signatures", [])}
    rows = []
    for role in ("prepared", "reviewer", "approver"):
        s = sigs.get(role)
        rows.append([role, s["name"] if s else "", s["signed_at"] if s else "", s["meaning"] if s else ""])
    ax = fig.add_axes([0.06, 0.72, 0.88, 0.18])
    _table(ax, ["Role", "Printed name", "Date and time (UTC)", "Meaning"], rows, col_widths=[0.14, 0.28, 0.24, 0.34], size=9)
    _text_block(fig, 0.06, 0.68, ["Electronic signatures are bound to the record's content SHA-256 in the evidence "
                                  "ledger (pmd-envelope sign); this page shows them when the report is re-rendered."], size=8)
    return fig


PAGES = (cover, parameters, thickness_map, worst_case, traceability, signatures)
