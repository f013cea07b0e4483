"""The report's pages, each a function ``(record, plt, page_size, context) -> Figure | list | None``.

``plt`` is what makes the pages: anything with ``figure(figsize=...)`` returning a matplotlib
Figure (:func:`pmd_envelope.report.render_report` passes bare Figures, not pyplot's).

``context`` holds what is not in the record: the ledger's signature rows and whether the record
changed after it was recorded.
"""

from __future__ import annotations

from pmd_envelope.report import _DECISION_COLOUR, _VERDICT_COLOUR, CHANGED_MARK, signature_state
from pmd_envelope.report.layout import MARGIN, Flow, text_width, wrap
from pmd_envelope.report.numbers import (decimals_for, fixed, number, probability, quantity, sig, unit_text,
                                         with_unit)
from pmd_envelope.report.scan import scan_page
from pmd_envelope.report.thickness import thickness_map
from pmd_envelope.report.witnesses import witness_page

__all__ = ["PAGES", "footer"]

_RED, _AMBER, _BLUE = "#b2182b", "#e08214", "#2166ac"


def footer(fig, record: dict, n: int, total: int, changed: bool = False) -> None:
    fig.text(0.06, 0.02, f"Record {record['record_id']}  ·  content SHA-256 {record['integrity']['content_sha256'][:16]}…",
             fontsize=7, color="#444444")
    fig.text(0.94, 0.02, f"Page {n} of {total}", fontsize=7, ha="right", color="#444444")
    if changed:
        from matplotlib.patches import Rectangle

        fig.add_artist(Rectangle((0.012, 0.008), 0.976, 0.984, transform=fig.transFigure, facecolor="none",
                                 edgecolor=_RED, lw=3))
        fig.text(0.5, 0.984, f"{CHANGED_MARK}: this record does not match its content hash; not evidence, "
                             "not for release", fontsize=8.5, weight="bold", color=_RED, ha="center", va="top")
        fig.text(0.5, 0.038, CHANGED_MARK, fontsize=8.5, weight="bold", color=_RED, ha="center", va="bottom")


def uncertainties(record: dict) -> dict:
    """Expanded uncertainty U of each parameter (from its checks): sets how many digits it gets."""
    out = {}
    for c in record.get("checks", []):
        if c.get("uncertainty"):
            out[c["parameter"]] = max(out.get(c["parameter"], 0.0), c["uncertainty"])
    return out


# -- cover -------------------------------------------------------------------------------------

def cover(record: dict, plt, size, context):
    figs: list = []
    flow = Flow(plt, size, "Design verification record — patient-matched device", figs)
    verdict = record["verdict"]
    flow.y += 4
    changed = context["changed"]
    flow.text(MARGIN, flow.y, verdict.upper() + (" (as edited)" if changed else ""), 22, weight="bold",
              color="#777777" if changed else _VERDICT_COLOUR[verdict])
    flow.y += 34
    if changed:
        flow.paragraph(f"{CHANGED_MARK}: this record's content no longer matches its content SHA-256, so nothing on "
                       "these pages, this verdict included, is the recorded evidence.", size=10, color=_RED,
                       weight="bold")
    flow.paragraph("CONFORMING: the design lies inside its validated envelope and its worst case meets every limit"
                   if verdict == "conforming" else "NONCONFORMING: do not release; the reasons are listed below.",
                   size=10, gap=8)
    env, sw = record["envelope"], record["software"]
    rows = [
        ("Case", record["case_id"]), ("Patient reference (pseudonymous)", record["patient_ref"]),
        ("Design iteration / designer", f"{record['design_iteration']} / {record['designer']}"),
        ("Physician approval", record.get("physician_approval_ref") or "not yet recorded"),
        ("Device", f"{record['device']['title']} ({record['device']['family']})"),
        ("Material / process", f"{record['device']['material']} / {record['device']['process']}"),
        ("Envelope", f"{env['id']} version {env['version']} ({env['status']}), SHA-256 {env['sha256']}"),
        ("Record id", record["record_id"]), ("Content SHA-256", record["integrity"]["content_sha256"]),
        ("Created (UTC)", record["created_at"]),
        ("Retention", f"until {record['retention']['retain_until']} ({record['retention']['years']} years, "
                      f"{'implantable' if record['retention']['implantable'] else 'non-implantable'})"),
        ("Software", f"{sw['name']} {sw['version']} (numpy {sw['numpy']}, scipy {sw['scipy']}, trimesh {sw['trimesh']})"),
    ]
    flow.table(["Item", "Value"], [list(r) for r in rows], [0.3, 0.7], size=8)
    flow.heading("Reasons")
    reasons = record["reasons"]
    if not reasons:
        flow.paragraph("None: every parameter is proven inside its limits (ISO 14253-1, guarded by U) and every worst "
                       "case meets its limit and is covered by the tested construct.")
    for r in reasons:
        flow.paragraph(f"• [{r['decision']}] {r['item']}: {r['detail']}", color=_DECISION_COLOUR.get(r["decision"]),
                       gap=2)
    return figs


# -- parameters --------------------------------------------------------------------------------

def _axis_range(lo, hi, v, u):
    """x range: a two-sided range padded around both limits; a one-sided range from zero (the
    physical bound of every length, count, fraction and age) to past the limit and the value."""
    pts = [x for x in (lo, hi) if x is not None] + ([] if v is None else [v - u, v + u])
    a, b = min(pts), max(pts)
    if lo is not None and hi is not None:
        span = (b - a) or abs(a) or 1.0
        return a - 0.08 * span, b + 0.08 * span
    if a >= 0:  # one-sided and non-negative: start at the physical bound 0
        return 0.0, b * (1.12 if lo is None else 1.3) or 1.0
    span = (b - a) or abs(a) or 1.0
    return a - 0.2 * span, b + 0.2 * span


def _draw_range(ax, lo, hi, u, v, colour, left, right, label_band=False):
    a = lo if lo is not None else left
    b = hi if hi is not None else right
    ax.axvspan(a, b, color="#dddddd", lw=0)
    for lim, band in ((lo, (lo, lo + u) if lo is not None else None), (hi, (hi - u, hi) if hi is not None else None)):
        if lim is None:
            continue
        ax.axvline(lim, color="#444444", lw=0.8)
        if u > 0:
            ax.axvspan(*band, facecolor="none", hatch="////", edgecolor="#888888", lw=0)
            if label_band and left <= band[0] and band[1] <= right:
                ax.text(sum(band) / 2, 1.04, "guard band", ha="center", va="bottom", fontsize=5.5, color="#555555")
    if hi is None and lo is not None:  # no upper limit: an arrow to the axis end reads as open
        ax.annotate("", xy=(right, 0.12), xytext=(lo, 0.12),
                    arrowprops={"arrowstyle": "->", "color": "#999999", "lw": 0.8})
    if v is not None:
        if u > 0:
            ax.plot([v - u, v + u], [0.5, 0.5], color=colour, lw=1.2, solid_capstyle="butt")
            ax.plot([v - u, v + u], [0.5, 0.5], ls="none", marker="|", color=colour, ms=6)
        ax.plot([v], [0.5], marker="D", color=colour, ms=5.5, mec="black", mew=0.4)
    ax.set_xlim(left, right)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.tick_params(labelsize=6.5, length=2, pad=1)
    for sp in ("top", "right", "left"):
        ax.spines[sp].set_visible(False)


def _limit_text(lo, hi, dec, unit):
    if lo is not None and hi is not None:
        return f"limits {fixed(lo, dec)} to {with_unit(fixed(hi, dec), unit)}"
    return f"limit {'≥' if lo is not None else '≤'} {with_unit(fixed(lo if lo is not None else hi, dec), unit)}"


def parameters(record: dict, plt, size, context):
    """Each parameter inside its envelope range; a zoom beside it when the margin is small."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figs: list = []
    flow = Flow(plt, size, "Design parameters against the envelope", figs)
    flow.paragraph(
        "Each row: the validated range (grey) with its limits (dark lines), the guard band of width U inside each "
        "limit (hatched: a value there is indeterminate, ISO 14253-1), and the measured value (diamond) with its "
        "expanded uncertainty ± U (bar). One-sided limits are drawn from zero; an arrow marks the open side. When the "
        "value lies within 5 % of the axis of a limit, the panel on the right zooms onto that limit (± 4 U). Value, "
        "limits and margin are given to the decimal place of U.", size=7.5)
    handles = [Patch(facecolor="#dddddd", label="validated range"),
               Patch(facecolor="white", hatch="////", edgecolor="#888888", label="guard band (U)"),
               Line2D([], [], marker="D", color="#1b7837", mec="black", mew=0.4, ls="-", label="value ± U")]
    flow.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(flow.fx(MARGIN), flow.fy(flow.y)), ncol=3,
                    fontsize=7, frameon=False, handlelength=2.2)
    flow.y += 22
    text_w, chart_x, chart_w, zoom_x, zoom_w = 180.0, 236.0, 210.0, 466.0, 92.0
    for c in record["checks"]:
        lo, hi, u, v = c["min"], c["max"], c["uncertainty"] or 0.0, c["value"]
        unit, colour = c["unit"], _DECISION_COLOUR[c["decision"]]
        dec = decimals_for(u, v)
        dec = max(dec, *(decimals_for(0, x) for x in (lo, hi) if x is not None)) if not u else dec
        stat = "" if c["statistic"] == "value" else f" ({c['statistic']})"
        lines = [(f"{c['parameter']}{stat}", "bold", "black"),
                 (f"value {with_unit(fixed(v, dec) + (f' ± {fixed(u, dec)}' if u else ''), unit)}"
                  if v is not None else "value not measured", "normal", colour),
                 (_limit_text(lo, hi, dec, unit), "normal", "black")]
        if c.get("margin") is not None:
            lines.append((f"margin {with_unit(fixed(c['margin'], dec), unit)}", "normal", colour))
        if u:
            bands = [f"{fixed(lo, dec)}–{fixed(lo + u, dec)}" if lo is not None else None,
                     f"{fixed(hi - u, dec)}–{fixed(hi, dec)}" if hi is not None else None]
            lines.append((f"guard band {' and '.join(b for b in bands if b)}" + (f" {unit_text(unit)}" if unit_text(unit) else ""),
                          "normal", "#555555"))
        lines.append((c["decision"].replace("_", " "), "bold", colour))
        wrapped = [(part, w, col) for text, w, col in lines for part in wrap(text, text_w, 7.5, bold=w == "bold")]
        h = max(len(wrapped) * 9.5 + 8, 58)
        top, _ = flow.box(h)
        for k, (part, w, col) in enumerate(wrapped):
            flow.text(MARGIN, top + k * 9.5, part, 7.5, weight=w, color=col)
        left, right = _axis_range(lo, hi, v, u)
        ax = flow.fig.add_axes(flow.rect(chart_x, top + 6, chart_w, 26))
        _draw_range(ax, lo, hi, u, v, colour, left, right, label_band=u > 0 and (u / (right - left)) * chart_w > 18)
        ax.set_xlabel(unit_text(unit), fontsize=6.5, labelpad=1)
        near = [x for x in (lo, hi) if x is not None]
        if v is None or not near:
            continue
        limit = min(near, key=lambda x: abs(x - v))
        if abs(v - limit) < 0.05 * (right - left):
            half = max(4 * u, 2.5 * abs(v - limit), 1e-6 * max(abs(limit), 1.0))
            zx = flow.fig.add_axes(flow.rect(zoom_x, top + 6, zoom_w, 26))
            _draw_range(zx, lo, hi, u, v, colour, limit - half, limit + half, label_band=u > 0)
            zx.xaxis.set_major_locator(_locator(plt, 3))
            zx.set_xlabel(f"zoom at limit {fixed(limit, dec)}", fontsize=6.5, labelpad=1)
    return figs


def _locator(plt, n):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(n)


# -- worst case --------------------------------------------------------------------------------

def _configuration(config: dict, units: dict) -> str:
    return "; ".join(f"{k} = {with_unit(number(v), units.get(k)) if not isinstance(v, str) else v}"
                     for k, v in sorted(config.items()))


def monte_carlo_words(mc: dict | None) -> list[str]:
    """The Monte Carlo block of a worst case in words: what was assumed, how much, which seed."""
    if not mc:
        return ["Monte Carlo: not evaluated for this metric."]
    declared, assumed = [], []
    for name, d in sorted(mc.get("distributions", {}).items()):
        (assumed if "no distribution declared" in d or "no weights declared" in d else declared).append((name, d))

    def words(name, d):
        d = d.replace(" (no distribution declared)", "").replace("; equal weights (no weights declared)", "")
        d = d.replace("; declared weights", "")
        return f"{name} {d}"

    lines = [f"Monte Carlo: {mc['samples']:,} samples".replace(",", " ") +
             f" drawn with seed {mc['seed']}, each manufacturing variable independently."]
    if assumed:
        lines.append("Assumed, because the envelope declares no distribution: "
                     + "; ".join(words(n, d) for n, d in assumed)
                     + " (uniform over the variable's range; categorical levels with equal weights).")
    if declared:
        lines.append("Declared by the envelope: " + "; ".join(words(n, d) for n, d in declared) + ".")
    lo, hi = mc["interval"]
    conf = f"{mc['confidence'] * 100:g} %"
    if mc["upper_bound_only"]:
        res = (f"Result: no sample missed the limit; P(limit missed) ≤ {probability(hi)} at {conf} confidence "
               f"(Clopper-Pearson, one-sided).")
    else:
        res = (f"Result: P(limit missed) = {probability(mc['probability'])} ({mc['failures']} of {mc['samples']} "
               f"samples), {conf} Clopper-Pearson interval [{probability(lo)}, {probability(hi)}].")
    lines.append(res)
    return lines


def _tornado(fig, rect, w):
    """Tornado chart: each variable at its low and high value, the others at nominal; bars
    coloured by whether they move the metric toward the limit (unsafe) or away from it."""
    s = w.get("sensitivities")
    if not s or not s["variables"]:
        return False
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    base, sense, limit, worst = s["baseline"], w["sense"], w.get("limit"), w.get("value")
    unit = unit_text(w["unit"])
    rows = sorted(s["variables"], key=lambda r: abs(r["metric_at_high"] - r["metric_at_low"]))
    ax = fig.add_axes(rect)

    def level(r, lvl):
        return lvl if isinstance(lvl, str) else with_unit(number(lvl), r.get("unit") or None)

    vals = [base] + [r["metric_at_low"] for r in rows] + [r["metric_at_high"] for r in rows]
    vals += [x for x in (limit, worst) if x is not None]
    lo_x, hi_x = min(vals), max(vals)
    span = (hi_x - lo_x) or abs(hi_x) or 1.0
    axes_pt = rect[2] * fig.get_figwidth() * 72
    label_pt = max(text_width(level(r, x), 6.5) for r in rows for x in (r["low"], r["high"])) + 8
    pad = max(0.06 * span, span * label_pt / max(axes_pt - 2 * label_pt, 1.0))
    left, right = lo_x - pad, hi_x + pad
    if limit is not None:  # the side beyond the limit is where the metric fails
        ax.axvspan(left if sense == "min" else limit, limit if sense == "min" else right, color="#fbe3e1", lw=0)
    for k, r in enumerate(rows):
        for val, lvl in ((r["metric_at_low"], r["low"]), (r["metric_at_high"], r["high"])):
            if val == base:
                continue
            worse = (val < base) if sense == "min" else (val > base)
            ax.barh(k, val - base, left=base, height=0.55, color=_AMBER if worse else _BLUE, edgecolor="black",
                    linewidth=0.3)
            # the level at the bar's far end: inside the bar when it fits, so it never meets the limit line
            label, pt_per_unit = level(r, lvl), axes_pt / (right - left)
            out = 1 if val > base else -1
            if abs(val - base) * pt_per_unit > text_width(label, 6.5) + 8:
                ax.text(val - out * 3 / pt_per_unit, k, label, va="center", ha="right" if out > 0 else "left",
                        fontsize=6.5, color="black" if worse else "white")
            else:
                ax.text(val + out * 3 / pt_per_unit, k, label, va="center", ha="left" if out > 0 else "right",
                        fontsize=6.5)
    ax.axvline(base, color="black", lw=0.8)
    top = len(rows) - 0.35
    ax.set_ylim(-0.75, len(rows) + 0.2)
    if limit is not None:
        ax.axvline(limit, color=_RED, lw=1.2, ls="--")
        text = f" limit {with_unit(number(limit), w['unit'])} "
        # on the passing side of the line, unless the axes end there first (every bar fails the limit)
        room = ((right - limit) if sense == "min" else (limit - left)) * axes_pt / (right - left)
        passing = room >= text_width(text, 7, bold=True) * 1.1
        ax.text(limit, top, text, color=_RED, fontsize=7, va="bottom", weight="bold",
                ha=("left" if sense == "min" else "right") if passing else ("right" if sense == "min" else "left"))
    if worst is not None:
        ax.plot([worst, worst], [-0.45, top], color="black", lw=1.0, ls=":")
        ax.plot([worst], [-0.45], marker="v", color="black", ms=7)
        right_side = (worst - left) < (right - worst)
        ax.annotate(f"worst combination {with_unit(number(worst), w['unit'])}", xy=(worst, -0.45),
                    xytext=(6 if right_side else -6, 0), textcoords="offset points", fontsize=7, va="center",
                    ha="left" if right_side else "right")
    ax.set_xlim(left, right)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r.get("variable") for r in rows], fontsize=7)
    ax.set_xlabel(f"{w['metric']}" + (f" [{unit}]" if unit else "") + f"   (baseline {number(base)}: every "
                  "variable at nominal)", fontsize=7)
    ax.tick_params(labelsize=7)
    for sp in ("top", "right"):
        ax.spines[sp].set_visible(False)
    handles = [Patch(facecolor=_AMBER, edgecolor="black", lw=0.3, label="toward the limit (worse)"),
               Patch(facecolor=_BLUE, edgecolor="black", lw=0.3, label="away from the limit (better)"),
               Patch(facecolor="#fbe3e1", label="fails the limit"),
               Line2D([], [], color="black", ls=":", marker="v", label="worst combination")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, fontsize=6.5, frameon=False,
              handlelength=1.6, columnspacing=1.2)
    return True


def proof_words(w) -> list[str]:
    """What is proven about the worst case and how likely a miss is, in plain words, from a
    record's ``worst_case[i].proof`` and ``rare_event`` blocks (absent in older records: no lines)."""
    lines = []
    p, r = w.get("proof"), w.get("rare_event")
    unit = w["unit"]
    if p:
        lo, hi = (p["bound"], p["found"]) if w["sense"] == "min" else (p["found"], p["bound"])
        span = (f"between {quantity(lo, unit)} and {quantity(hi, unit)}" if p["bound"] is not None
                else "not bounded")
        lines.append(f"{'PROVEN' if p['status'] == 'proven' else 'NOT PROVEN'}: the true worst value lies {span} "
                     f"(gap {quantity(p['gap'], unit)}, tolerance {quantity(p['tolerance'], unit)}; {p['boxes']} "
                     "sub-boxes of the manufacturing box bounded by interval arithmetic, which cannot miss a worse "
                     f"point){'' if p['status'] == 'proven' else '; ' + p['reason']}.")
    if r:
        if r["probability"] is None:
            text = f"not estimated: {r['reason']}"
        elif r["status"] == "zero (proven)":
            text = "0: no point of the manufacturing box misses the limit (proven)"
        else:
            lo, hi = r["interval"]
            text = (f"{probability(r['probability'])}, {number(r['confidence'] * 100)} % confidence interval "
                    f"[{probability(lo)}, {probability(hi)}]; reliability index beta = {number(r['beta'])} (FORM "
                    f"design point and {r['samples']} importance samples around it); {r['monte_carlo_agreement']}")
        lines.append(f"Probability that a device misses the limit: {text}.")
    return lines


def worst_case(record: dict, plt, size, context):
    """One page per metric: the worst-case table, the Monte Carlo assumptions, the tornado chart."""
    title = "Worst case over the manufacturing variables"
    figs: list = []
    if not record["worst_case"]:
        flow = Flow(plt, size, title, figs)
        flow.paragraph("Not evaluated (the mesh failed the integrity gate, or a design parameter it needs could not be "
                       "measured).", size=9)
        return figs
    for w in record["worst_case"]:
        flow = Flow(plt, size, title, figs)
        flow.heading(f"Metric: {w['metric']}")
        cov = w["coverage"]
        unit = w["unit"]
        units = {r["variable"]: r.get("unit") for r in (w.get("sensitivities") or {}).get("variables", [])}
        q = lambda x: quantity(x, unit)  # noqa: E731
        rows = [
            ["Model", w["model"]],
            ["Worst value", f"{q(w['value'])} at the limiting configuration: "
                            f"{_configuration(w['limiting_configuration'], units)}"],
            ["Limit", f"{'≥' if w['sense'] == 'min' else '≤'} {q(w['limit'])}"],
            ["Margin", f"{q(w['margin'])} ({'met' if w['passed'] else 'NOT met'})"],
            ["Method", f"{w['method']} ({w['evaluations']} model evaluations)"],
            ["Tested construct", f"{cov['report']}: {q(cov['construct_model_value'])} by the same model, "
                                 f"{q(cov['measured_value'])} measured"],
            ["Covered by the test", f"{'yes' if cov['covered'] else 'NO'} (margin {q(cov['margin'])})"],
        ]
        flow.table(["Item", "Value"], rows, [0.24, 0.76], size=7.5,
                   colours=[None, None, None, None if w["passed"] else _RED, None, None,
                            None if cov["covered"] else _RED])
        proof = proof_words(w)
        if proof:
            flow.heading("Proof of the worst case and rare misses", 10)
            for line in proof:
                flow.paragraph(line, size=7.5, gap=2)
            flow.y += 4
        flow.heading("Monte Carlo assumptions and result", 10)
        for line in monte_carlo_words(w.get("monte_carlo")):
            flow.paragraph(line, size=7.5, gap=2)
        flow.y += 8
        s = w.get("sensitivities")
        if s and s["variables"]:
            flow.heading(f"Sensitivity of {w['metric']} to each manufacturing variable (tornado)", 10)
            flow.paragraph(f"One at a time: each variable at its low and at its high value, every other at nominal. "
                           "Bars toward the limit are drawn amber, away from it blue; the red area fails the limit. "
                           "The triangle marks the worst combination found by the search (all variables at once), "
                           "which a tornado of single variables cannot show.", size=7.5)
            height = min(300.0, max(150.0, flow.left - 40))
            top, h = flow.box(height + 40)
            _tornado(flow.fig, flow.rect(MARGIN + 120, top + 14, flow.width - 120 - 10, height - 30), w)
        else:
            flow.paragraph("Tornado chart: no per-variable sensitivities in this record.", size=8, color="#555555")
    return figs


# -- traceability ------------------------------------------------------------------------------

_GATE_UNITS = {"signed_volume": "mm^3"}


def traceability(record: dict, plt, size, context):
    figs: list = []
    flow = Flow(plt, size, "Traceability", figs)
    req, scan = record["request"], record["scan"]
    flow.paragraph(f"HCP request {req['id']}, received {req['received']}, planned use {req['planned_use']}.", gap=1)
    for k, v in sorted(req["characteristics"].items()):
        flow.paragraph(f"{k}: {number(v)}", x=MARGIN + 12, gap=1)
    flow.paragraph(f"Scan: {scan['modality']}, acquired {scan['acquired']}, slice thickness "
                   f"{quantity(scan['slice_thickness'], 'mm')}, pixel spacing {quantity(scan['pixel_spacing'], 'mm')}.",
                   gap=1)
    flow.paragraph(f"Design iteration {record['design_iteration']} by {record['designer']}; physician approval "
                   f"{record.get('physician_approval_ref') or 'not yet recorded'}.", gap=8)
    flow.table(["Role", "Path", "SHA-256"], [[i["role"], i["path"], i["sha256"]] for i in record["inputs"]],
               [0.14, 0.34, 0.52], size=7, mono=(2,), title="Input files")
    mi = record["mesh_integrity"]
    keys = ["vertices", "faces", "degenerate_faces", "duplicate_faces", "boundary_edges", "nonmanifold_edges",
            "winding_consistent", "signed_volume", "bodies", "expected_bodies", "self_intersections",
            "self_intersection_method", "unit_check", "passed"]
    keys += sorted(k for k in mi if k not in keys and k != "problems" and not isinstance(mi[k], (dict, list)))
    rows = [[k, "not evaluated" if mi.get(k) is None else
             (quantity(mi[k], _GATE_UNITS[k]) if k in _GATE_UNITS else number(mi[k]))] for k in keys if k in mi]
    rows += [["problem", p] for p in mi.get("problems", [])]
    flow.table(["Check", "Result"], rows, [0.3, 0.7], size=7, title="Mesh integrity gate")
    us = uncertainties(record)
    rows = []
    for m in record["measurements"]:
        value = m.get("value")
        if value is None:
            shown = f"not measured: {m.get('reason', '')}"
        elif m["parameter"] in us:
            shown = f"{quantity(value, m['unit'], decimals_for(us[m['parameter']], value))} (U {fixed(us[m['parameter']], decimals_for(us[m['parameter']], value))})"
        else:
            shown = quantity(value, m["unit"])
        rows.append([m["parameter"], shown, m["method"]])
    flow.table(["Parameter", "Value", "Method"], rows, [0.32, 0.38, 0.30], size=7, title="Measurements")
    flow.paragraph("Values with an expanded uncertainty U are stated to its decimal place; others to four significant "
                   "digits. Counts and fractions have no unit.", size=7, color="#555555")
    return figs


# -- signatures --------------------------------------------------------------------------------

def signatures(record: dict, plt, size, context):
    """Prepared (the record itself), reviewed and approved (electronic signatures from the ledger)."""
    figs: list = []
    flow = Flow(plt, size, "Signatures", figs)
    sigs = context["signatures"]
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
            state, colour = signature_state(s, record)
            rows.append([role, s.get("name", ""), s.get("signed_at", ""), s.get("meaning", ""), state])
            colours.append(colour)
    flow.table(["Role", "Printed name", "Date and time (UTC)", "Meaning", "Check"], rows,
               [0.11, 0.19, 0.17, 0.33, 0.20], colours=colours, size=7.5)
    flow.paragraph(
        "Electronic signatures are Ed25519 signatures over the record id, the record's content SHA-256 "
        f"({record['integrity']['content_sha256']}), the printed name, role, date and time and meaning; they are "
        "kept in the evidence ledger (pmd-envelope sign), never in the record, so signing does not change the record "
        "or its hash. 'valid': the signature verifies and its key is listed for that printed name in the trusted-keys "
        "file given to 'pmd-envelope report --trusted-keys'. 'signature valid, signer not verified': the signature "
        "verifies, but no trusted-keys file lists its key under that name, so who signed is not established. "
        "'pmd-envelope records verify' checks every signature and whether the record changed after it was signed.",
        size=7.5)
    for s in sigs:
        flow.paragraph(f"{s.get('role')} {s.get('name')}: Ed25519 public key {s.get('public_key')}, ledger entry "
                       f"{s.get('ledger_entry')}" + (f" ({s['signer_problem']})" if s.get("signer_problem") and
                                                     s.get("valid") else ""), size=7, gap=2)
    return figs


PAGES = (cover, parameters, thickness_map, witness_page, scan_page, worst_case, traceability, signatures)
