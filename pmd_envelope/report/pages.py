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


def _table(ax, header, rows, col_widths=None, colours=None, size=7.5, mono_col=None):
    """A table filling ``ax`` exactly (rows share its height), so it never spills past its box."""
    ax.axis("off")
    if not rows:
        ax.text(0, 1, "(none)", va="top", fontsize=size)
        return
    tbl = ax.table(cellText=rows, colLabels=header, bbox=[0, 0, 1, 1], cellLoc="left", colWidths=col_widths)
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(size)
    for (r, c), cell in tbl.get_celld().items():
        cell.set_linewidth(0.3)
        cell.PAD = 0.02  # matplotlib pads 10 % of the cell width: too much for long hashes and names
        if r == 0:
            cell.set_facecolor("#e8e8e8")
        elif mono_col is not None and c == mono_col:
            cell.get_text().set_fontfamily("DejaVu Sans Mono")
            cell.get_text().set_fontsize(size - 1)
        if r > 0 and colours is not None and colours[r - 1] is not None and c == len(header) - 1:
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
    ax = fig.add_axes([0.06, 0.80 - 0.022 * (len(rows) + 1), 0.88, 0.022 * (len(rows) + 1)])
    _table(ax, ["Item", "Value"], [list(r) for r in rows], col_widths=[0.3, 0.7], size=8)
    fig.text(0.06, 0.47, "Reasons", fontsize=11, weight="bold", va="top")
    lines = [f"• [{r['decision']}] {r['item']}: {r['detail']}" for r in record["reasons"]] or \
            ["• none: every parameter is proven inside its limits (ISO 14253-1, guarded by U) and every worst case "
             "meets its limit and is covered by the tested construct."]
    _text_block(fig, 0.06, 0.445, lines, size=8.5, width=110)
    return fig


def _axis_range(lo, hi, v, u):
    """x range showing both limits (or the one limit), the value and its U bar, with padding."""
    pts = [x for x in (lo, hi) if x is not None]
    if v is not None:
        pts += [v - u, v + u]
    a, b = min(pts), max(pts)
    span = (b - a) or abs(a) or 1.0
    if lo is None or hi is None:  # one-sided: leave room on the open side so it reads as open
        span *= 1.6
        a, b = (a - 0.3 * span, b + 0.05 * span) if lo is None else (a - 0.05 * span, b + 0.3 * span)
    return a - 0.06 * span, b + 0.06 * span


def _draw_range(ax, lo, hi, u, v, colour, left, right, ticks=True):
    a = lo if lo is not None else left
    b = hi if hi is not None else right
    ax.axvspan(a, b, color="#dddddd", lw=0)
    if lo is not None and u > 0:
        ax.axvspan(lo, lo + u, facecolor="none", hatch="////", edgecolor="#888888", lw=0)
        ax.axvline(lo, color="#444444", lw=0.8)
    if hi is not None and u > 0:
        ax.axvspan(hi - u, hi, facecolor="none", hatch="////", edgecolor="#888888", lw=0)
        ax.axvline(hi, color="#444444", lw=0.8)
    if v is not None:
        if u > 0:
            ax.plot([v - u, v + u], [0.5, 0.5], color=colour, lw=1.2, solid_capstyle="butt")
            ax.plot([v - u, v + u], [0.5, 0.5], ls="none", marker="|", color=colour, ms=6)
        ax.plot([v], [0.5], marker="D", color=colour, ms=5.5, mec="black", mew=0.4)
    ax.set_xlim(left, right)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.tick_params(labelsize=6.5, length=2, pad=1)
    if not ticks:
        ax.set_xticks([])
    for sp in ("top", "right", "left"):
        ax.spines[sp].set_visible(False)


def parameters(record: dict, plt, size):
    """Each parameter inside its envelope range; a zoom beside it when the margin is small."""
    checks = record["checks"]
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Design parameters against the envelope", fontsize=13, weight="bold", va="top")
    _text_block(fig, 0.06, 0.925, [
        "Grey: validated range. Hatched: guard band of width U inside each limit (ISO 14253-1): a value there is "
        "indeterminate. Diamond: measured value, bar: ± U. When the value is within 5 % of the axis span of a "
        "limit, the right-hand panel zooms onto that limit (± 4 U) so the margin can be read."], size=7.5,
        width=125, step=0.014)
    n = max(len(checks), 1)
    h = min(0.085, 0.82 / n)
    top = 0.88
    for i, c in enumerate(checks):
        y0 = top - (i + 1) * h
        lo, hi, u, v = c["min"], c["max"], c["uncertainty"] or 0.0, c["value"]
        colour = _DECISION_COLOUR[c["decision"]]
        left, right = _axis_range(lo, hi, v, u)
        ax = fig.add_axes([0.36, y0 + 0.3 * h, 0.38, 0.45 * h])
        _draw_range(ax, lo, hi, u, v, colour, left, right)
        stat = "" if c["statistic"] == "value" else f" ({c['statistic']})"
        fig.text(0.06, y0 + 0.78 * h, f"{c['parameter']}{stat}", fontsize=8, weight="bold", va="top")
        fig.text(0.06, y0 + 0.78 * h - 0.013,
                 f"value {_fmt(v)} {c['unit']}   limits [{_fmt(lo)}, {_fmt(hi)}]   U {_fmt(u)}\n"
                 f"margin {_fmt(c.get('margin'))} {c['unit']}   {c['decision']}",
                 fontsize=7, va="top", color=colour, linespacing=1.3)
        if v is None:
            continue
        near = [x for x in (lo, hi) if x is not None]
        if not near:
            continue
        limit = min(near, key=lambda x: abs(x - v))
        if abs(v - limit) < 0.05 * (right - left):
            half = max(4 * u, 2.5 * abs(v - limit), 1e-6 * max(abs(limit), 1.0))
            zx = fig.add_axes([0.79, y0 + 0.3 * h, 0.15, 0.45 * h])
            _draw_range(zx, lo, hi, u, v, colour, limit - half, limit + half)
            zx.set_title(f"zoom at limit {_fmt(limit)}", fontsize=6.5, pad=2)
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


def _monte_carlo_text(mc) -> str | None:
    """One line from a record's ``worst_case[i].monte_carlo`` block (None when absent)."""
    if not mc:
        return None
    lo, hi = mc["interval"]
    ci = (f"{_fmt(mc['confidence'])} upper bound {_fmt(hi)} (no sample failed)" if mc["upper_bound_only"]
          else f"{_fmt(mc['confidence'])} CI [{_fmt(lo)}, {_fmt(hi)}]")
    return (f"P(limit missed) = {_fmt(mc['probability'])} ({mc['failures']} of {mc['samples']} samples), {ci}, "
            f"seed {mc['seed']}")


def _proof_lines(w) -> list:
    """Lines saying what is proven about the worst case and how likely a miss is (issue 9), in plain
    words, from a record's ``worst_case[i].proof`` and ``rare_event`` blocks (absent: no rows)."""
    rows = []
    p, r = w.get("proof"), w.get("rare_event")
    if p:
        lo, hi = (p["bound"], p["found"]) if w["sense"] == "min" else (p["found"], p["bound"])
        span = f"between {_fmt(lo)} and {_fmt(hi)} {w['unit']}" if p["bound"] is not None else "not bounded"
        rows.append("Proof of the worst case: "
                     f"{'PROVEN' if p['status'] == 'proven' else 'NOT PROVEN'}: the true worst value lies {span} "
                     f"(gap {_fmt(p['gap'])}, tolerance {_fmt(p['tolerance'])}; {p['boxes']} sub-boxes checked by "
                     f"interval arithmetic){'' if p['status'] == 'proven' else '; ' + p['reason']}.")
    if r:
        if r["probability"] is None:
            text = f"not estimated: {r['reason']}"
        elif r["status"] == "zero (proven)":
            text = "0: no point of the manufacturing box misses the limit (proven)"
        else:
            lo, hi = r["interval"]
            text = (f"P(limit missed) = {_fmt(r['probability'])}, {_fmt(r['confidence'])} CI [{_fmt(lo)}, {_fmt(hi)}]"
                    f"; reliability index beta = {_fmt(r['beta'])} (FORM and importance sampling, "
                    f"{r['samples']} samples); {r['monte_carlo_agreement']}")
        rows.append(f"Rare-miss probability: {text}.")
    return rows


def _tornado(fig, rect, w):
    """Tornado chart of a record's ``worst_case[i].sensitivities`` block; False when absent."""
    s = w.get("sensitivities")
    if not s or not s["variables"]:
        return False
    base = s["baseline"]
    rows = sorted(s["variables"], key=lambda r: abs(r["metric_at_high"] - r["metric_at_low"]))
    ax = fig.add_axes(rect)
    for k, r in enumerate(rows):
        for val, colour in ((r["metric_at_low"], "#4393c3"), (r["metric_at_high"], "#d6604d")):
            ax.barh(k, val - base, left=base, height=0.6, color=colour, edgecolor="black", linewidth=0.3)
    ax.axvline(base, color="black", lw=0.8)
    if w.get("limit") is not None:
        ax.axvline(w["limit"], color="#b2182b", lw=1.0, ls="--")
        ax.text(w["limit"], len(rows) - 0.4, f" limit {_fmt(w['limit'])}", color="#b2182b", fontsize=7, va="bottom")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r.get('variable')}  [{_fmt(r.get('low'))} … {_fmt(r.get('high'))}]" for r in rows],
                       fontsize=7)
    ax.set_xlabel(f"{w['metric']} [{w['unit']}]   (blue: variable at its low value, red: at its high value; "
                  f"baseline {_fmt(base)})", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.set_title(f"Sensitivity of {w['metric']} to each manufacturing variable (tornado)", fontsize=9)
    for sp in ("top", "right"):
        ax.spines[sp].set_visible(False)
    return True


def worst_case(record: dict, plt, size):
    """One page per metric: the worst-case table, then its tornado chart when sensitivities exist."""
    if not record["worst_case"]:
        fig = plt.figure(figsize=size)
        fig.text(0.06, 0.95, "Worst case over the manufacturing variables", fontsize=13, weight="bold", va="top")
        fig.text(0.06, 0.91, "Not evaluated (the mesh failed the integrity gate).", fontsize=9, va="top")
        return fig
    figs = []
    for w in record["worst_case"]:
        fig = plt.figure(figsize=size)
        fig.text(0.06, 0.95, "Worst case over the manufacturing variables", fontsize=13, weight="bold", va="top")
        cov = w["coverage"]
        rows = [
            ["Model", w["model"]],
            ["Worst value", f"{_fmt(w['value'])} {w['unit']}"],
            ["Limit", f"{'≥' if w['sense'] == 'min' else '≤'} {_fmt(w['limit'])} {w['unit']}"],
            ["Margin", f"{_fmt(w['margin'])} {w['unit']} ({'met' if w['passed'] else 'NOT met'})"],
            ["Method", f"{w['method']} ({w['evaluations']} model evaluations)"],
            ["Tested construct", f"{cov['report']}: model {_fmt(cov['construct_model_value'])} {w['unit']}, "
                                 f"measured {_fmt(cov['measured_value'])} {w['unit']}"],
            ["Covered by the test", f"{'yes' if cov['covered'] else 'NO'} (by {_fmt(cov['margin'])} {w['unit']})"],
            ["Monte Carlo", _monte_carlo_text(w.get("monte_carlo")) or "not evaluated"],
        ]
        config = sorted(w["limiting_configuration"].items())
        rows += [["Limiting configuration" if k == 0 else "", f"{name} = {_fmt(val)}"]
                 for k, (name, val) in enumerate(config)]
        fig.text(0.06, 0.905, f"Metric: {w['metric']}", fontsize=11, weight="bold", va="top")
        height = 0.022 * (len(rows) + 1)
        ax = fig.add_axes([0.06, 0.88 - height, 0.88, height])
        _table(ax, ["Item", "Value"], rows, col_widths=[0.26, 0.74], size=7.5)
        _text_block(fig, 0.06, 0.873 - height, _proof_lines(w), size=7, width=125, step=0.0125)
        if not _tornado(fig, [0.36, 0.12, 0.56, min(0.4, 0.80 - height - 0.12)], w):
            fig.text(0.06, 0.84 - height, "Tornado chart: no per-variable sensitivities in this record.",
                     fontsize=8, va="top", color="#555555")
        figs.append(fig)
    return figs


_BOTTOM = 0.06  # lowest y a table may reach: the footer sits below it
_ROW = 0.021    # height of one table row [figure fraction]


def _paged_table(plt, size, title, header, rows, col_widths, figs, fig=None, y=0.91, size_pt=7, mono_col=None):
    """Draw a table from ``y`` down, continuing on new pages rather than running into the footer."""
    rows = list(rows) or [["(none)"] + [""] * (len(header) - 1)]
    first = True
    while rows:
        if fig is None or y - 0.03 - 2 * _ROW < _BOTTOM:
            fig = plt.figure(figsize=size)
            figs.append(fig)
            y = 0.95
        fig.text(0.06, y, title if first else f"{title} (continued)", fontsize=11, weight="bold", va="top")
        fits = max(1, int((y - 0.03 - _BOTTOM) / _ROW) - 1)
        chunk, rows = rows[:fits], rows[fits:]
        height = _ROW * (len(chunk) + 1)
        ax = fig.add_axes([0.06, y - 0.03 - height, 0.88, height])
        _table(ax, header, chunk, col_widths=col_widths, size=size_pt, mono_col=mono_col)
        y = y - 0.03 - height - 0.03
        first = False
    return fig, y


def traceability(record: dict, plt, size):
    figs: list = []
    fig = plt.figure(figsize=size)
    figs.append(fig)
    fig.text(0.06, 0.95, "Traceability", fontsize=13, weight="bold", va="top")
    req, scan = record["request"], record["scan"]
    lines = [f"HCP request {req['id']}, received {req['received']}, planned use {req['planned_use']}"]
    lines += [f"    {k}: {v}" for k, v in sorted(req["characteristics"].items())]
    lines.append(f"Scan: {scan['modality']}, acquired {scan['acquired']}, slice thickness {scan['slice_thickness']} mm, "
                 f"pixel spacing {scan['pixel_spacing']} mm")
    lines.append(f"Design iteration {record['design_iteration']} by {record['designer']}; physician approval "
                 f"{record.get('physician_approval_ref') or 'not yet recorded'}")
    y = _text_block(fig, 0.06, 0.92, lines, size=8.5)
    fig, y = _paged_table(plt, size, "Input files", ["Role", "Path", "SHA-256"],
                          [[i["role"], i["path"], i["sha256"]] for i in record["inputs"]],
                          [0.13, 0.30, 0.57], figs, fig, y - 0.01, size_pt=7, mono_col=2)
    mi = record["mesh_integrity"]
    keys = ["vertices", "faces", "degenerate_faces", "duplicate_faces", "boundary_edges", "nonmanifold_edges",
            "winding_consistent", "signed_volume", "bodies", "expected_bodies", "self_intersections",
            "self_intersection_method", "unit_check", "passed"]
    keys += sorted(k for k in mi if k not in keys and k != "problems" and not isinstance(mi[k], (dict, list)))
    rows = [[k, _fmt(mi.get(k), 8) if mi.get(k) is not None else "not evaluated"] for k in keys if k in mi]
    rows += [["problem", p] for p in mi.get("problems", [])]
    fig, y = _paged_table(plt, size, "Mesh integrity gate", ["Check", "Result"], rows, [0.3, 0.7], figs, fig, y)
    rows = [[m["parameter"], f"{_fmt(m['value'], 6)} {m['unit']}", m["method"]] for m in record["measurements"]]
    _paged_table(plt, size, "Measurements", ["Parameter", "Value", "Method"], rows, [0.3, 0.3, 0.4], figs, fig, y)
    return figs


def signatures(record: dict, plt, size):
    """Prepared (the record itself), reviewed and approved (electronic signatures from the ledger)."""
    fig = plt.figure(figsize=size)
    fig.text(0.06, 0.95, "Signatures", fontsize=13, weight="bold", va="top")
    sigs = record.get("signatures", [])
    rows = [["prepared", record["designer"], record["created_at"],
             f"design verification record generated by {record['software']['name']} "
             f"{record['software']['version']} (not an electronic signature)", "-"]]
    colours = [None]
    for role in ("reviewer", "approver"):
        mine = [s for s in sigs if s.get("role") == role]
        if not mine:
            rows.append([role, "", "", "(not signed)", ""])
            colours.append(None)
        for s in mine:
            rows.append([role, s.get("name", ""), s.get("signed_at", ""), s.get("meaning", ""),
                         "valid" if s.get("valid", True) else "NOT VALID"])
            colours.append(None if s.get("valid", True) else "#b2182b")
    ax = fig.add_axes([0.06, 0.90 - 0.04 * (len(rows) + 1), 0.88, 0.04 * (len(rows) + 1)])
    _table(ax, ["Role", "Printed name", "Date and time (UTC)", "Meaning", "Check"],
           [[_wrap(c, w) for c, w in zip(r, (10, 22, 20, 40, 9))] for r in rows],
           col_widths=[0.11, 0.22, 0.2, 0.37, 0.1], colours=colours, size=7.5)
    y = 0.86 - 0.04 * (len(rows) + 1)
    keys = [f"{s.get('role')} {s.get('name')}: Ed25519 public key {s.get('public_key')}, ledger entry "
            f"{s.get('ledger_entry')}" for s in sigs]
    _text_block(fig, 0.06, y, [
        "Electronic signatures are Ed25519 signatures over the record id, the record's content SHA-256 "
        f"({record['integrity']['content_sha256']}), the printed name, role, date and time and meaning; they are "
        "kept in the evidence ledger (pmd-envelope sign), never in the record, so signing does not change the record "
        "or its hash. 'pmd-envelope report' fills this page from the ledger; 'pmd-envelope records verify' checks "
        "every signature and whether the record changed after it was signed.", *keys], size=7.5, width=120,
        step=0.015)
    return fig


def _wrap(text, width):
    return "\n".join(textwrap.wrap(str(text), width)) if text else ""


PAGES = (cover, parameters, thickness_map, worst_case, traceability, signatures)
