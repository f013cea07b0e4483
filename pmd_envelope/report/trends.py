"""Figures and the self-contained HTML page of an envelope-utilisation analysis (``pmd-envelope trends``).

Drawn from :class:`pmd_envelope.trends.Trends` alone (records as stated, nothing measured).
matplotlib is imported lazily with the Agg backend, only in this package. Output is
deterministic apart from the page's generation time stamp: fixed rcParams, figure sizes and
resolution, PNG metadata stripped, figures embedded in the page as base64 PNG (no network, no
script), so the page can be filed or mailed as one file.

Each item (a parameter check, or a metric's worst case) gets one figure with two panels:

- *where the designs sit*: a histogram of the designs' values over the envelope range, the limits
  as red lines, the ISO 14253-1 guard bands (each limit +- U) shaded orange, the "within 10 % of a
  limit" zone hatched, each design a tick coloured by its decision;
- *margins over time*: each design's margin to its nearest limit (the record's own) against the
  record's creation time, with the limit (margin 0), the guard band (margin within +- U) and the
  10 % band drawn.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io

__all__ = ["render_trends", "figure_name"]

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "path.simplify": False,
    "svg.hashsalt": "pmd-envelope",
    "hatch.linewidth": 0.6,
}
_FIGSIZE = (9.6, 3.3)  # [in]
_DPI = 100             # 960 x 330 px: sharp at the page's width, ~25-40 kB per figure
_DECISION_COLOUR = {"conforming": "#1b7837", "passed": "#1b7837", "nonconforming": "#b2182b", "failed": "#b2182b",
                    "indeterminate": "#e08214", "not_evaluated": "#777777"}
_LIMIT, _GUARD, _NEAR = "#b2182b", "#fdb863", "#7b3294"
_BINS = 24  # bins over the drawn range of a one-sided item (a two-sided one: 20 over its range)


def figure_name(group, item=None) -> str:
    """File name of an item's figure, ``<envelope id>_<version>_<item key>.png``, or of the group's
    overview, ``<envelope id>_<version>_overview.png``."""
    return f"{group.envelope_id}_{group.version}_{'overview' if item is None else item.key}.png"


def render_trends(trends) -> dict[str, bytes]:
    """Render the page and its figures.

    Returns
    -------
    dict
        ``{"index.html": page, "figures/<name>.png": png, ...}``; the page embeds every figure
        (the PNG files are the same bytes, for use elsewhere).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    figures: dict[str, bytes] = {}
    with matplotlib.rc_context(_RC):
        for g in trends.groups:
            if any(i.measured and i.near_band is not None for i in g.items):
                figures[figure_name(g)] = _overview_figure(plt, g)
            for item in g.items:
                if item.measured:
                    figures[figure_name(g, item)] = _item_figure(plt, item)
    out = {f"figures/{k}": v for k, v in figures.items()}
    out["index.html"] = _page(trends, figures).encode("utf-8")
    return out


# -- figures ---------------------------------------------------------------------------------------
def _x_range(item) -> tuple[float, float]:
    values = [p.value for p in item.measured]
    limits = [x for x in (item.lower, item.upper) if x is not None]
    if item.range is not None:  # a parameter limited on both sides (by this check or its other one)
        pad = 0.1 * (item.range[1] - item.range[0])
        lo, hi = item.range[0] - pad, item.range[1] + pad
    else:  # one-sided: drawn from zero, as the report does
        top = max(limits + values)
        lo, hi = min(0.0, *values), 1.1 * top if top > 0 else 1.0
    lo, hi = min(lo, *values), max(hi, *values)
    u = item.uncertainty or 0.0
    lo, hi = min(lo, *(x - 2 * u for x in limits)), max(hi, *(x + 2 * u for x in limits))
    span = hi - lo or 1.0
    return lo - 0.02 * span, hi + 0.02 * span


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


#: The overview's x range [fraction of the range, or of the limit]: a margin beyond it is drawn at its edge.
_OVERVIEW_X = (-0.25, 1.0)


def _overview_figure(plt, group) -> bytes:
    """Every item in one chart: each design's margin to its nearest limit as a fraction of the
    parameter's range (or of the limit), so 0 is at the limit and 0.1 is the 10 % line."""
    items = [i for i in group.items if i.measured and i.near_band is not None]
    fig, ax = plt.subplots(figsize=(_FIGSIZE[0], 0.95 + 0.34 * len(items)))
    lo, hi = _OVERVIEW_X
    ax.axvspan(lo, 0.0, color=_LIMIT, alpha=0.12, lw=0)
    ax.axvspan(0.0, 0.1, facecolor="none", edgecolor=_NEAR, hatch="///", lw=0, alpha=0.45)
    ax.axvline(0.0, color=_LIMIT, lw=1.6)
    for row, it in enumerate(items):
        scale = it.near_band / 0.1
        if it.uncertainty:
            ax.plot([-it.uncertainty / scale, it.uncertainty / scale], [row, row], color=_GUARD, lw=7,
                    solid_capstyle="butt", alpha=0.8, zorder=2)
        for j, p in enumerate(it.measured):
            x = p.margin / scale
            clipped = x > hi or x < lo
            x = min(max(x, lo), hi)
            jitter = 0.22 * (((j * 7) % 5) / 4 - 0.5)  # deterministic spread so equal values stay visible
            ax.plot([x], [row + jitter], ">" if clipped and x == hi else "<" if clipped else "o", ms=5,
                    color=_DECISION_COLOUR.get(p.decision, "#333"), alpha=0.85, zorder=3)
    ax.set_yticks(range(len(items)), [f"{i.label} [{i.unit}]" for i in items])
    ax.set_ylim(len(items) - 0.5, -0.5)
    ax.set_xlim(lo, hi + 0.03)
    ax.set_xlabel("margin to the nearest limit, as a fraction of the range (one-sided: of the limit); "
                  "0 = at the limit, > at the edge: farther")
    ax.set_title(f"Where the {len(group.cases)} designs sit: 10 % zone hatched, ±U guard band orange, "
                 "beyond the limit shaded red", loc="left")
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    fig.tight_layout()
    return _png(plt, fig)


def _bin_edges(item, x0: float, x1: float):
    """Histogram bins with a limit on a bin edge, so that no bar straddles a limit: 1/20 of the
    parameter's range (two bins = the 10 % zone), else 1/24 of the drawn range."""
    import numpy as np

    anchor = next(x for x in (item.lower, item.upper, *(item.range or ())) if x is not None)
    width = (item.range[1] - item.range[0]) / 20 if item.range is not None else (x1 - x0) / _BINS
    k0, k1 = int(np.floor((x0 - anchor) / width)), int(np.ceil((x1 - anchor) / width))
    return anchor + width * np.arange(k0, k1 + 1)


def _item_figure(plt, item) -> bytes:
    import numpy as np

    fig, (ax, at) = plt.subplots(1, 2, figsize=_FIGSIZE, gridspec_kw={"width_ratios": [1.15, 1.0]})
    measured = item.measured
    values = np.array([p.value for p in measured], dtype=float)
    x0, x1 = _x_range(item)
    unit = item.unit
    # -- where the designs sit
    u = item.uncertainty or 0.0
    if item.range is not None:  # the parameter's other limit, checked on another statistic: drawn faint
        for other in (x for x in item.range if x not in (item.lower, item.upper)):
            ax.axvline(other, color=_LIMIT, lw=1.0, ls=(0, (4, 3)), alpha=0.45, zorder=3)
    for lim in (item.lower, item.upper):
        if lim is None:
            continue
        if u > 0:
            ax.axvspan(lim - u, lim + u, color=_GUARD, alpha=0.55, lw=0, zorder=0)
        ax.axvline(lim, color=_LIMIT, lw=1.6, zorder=3)
    if item.near_band is not None:
        if item.lower is not None:
            ax.axvspan(item.lower, item.lower + item.near_band, facecolor="none", edgecolor=_NEAR, hatch="///",
                       lw=0, alpha=0.6, zorder=2.5)
        if item.upper is not None:
            ax.axvspan(item.upper - item.near_band, item.upper, facecolor="none", edgecolor=_NEAR, hatch="///",
                       lw=0, alpha=0.6, zorder=2.5)
    edges = _bin_edges(item, x0, x1)
    counts, _ = np.histogram(values, bins=edges)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#4393c3", edgecolor="white", lw=0.6,
           zorder=2)
    top = max(1, int(counts.max()))
    for p in measured:  # each design as a tick below the bars, coloured by its decision
        ax.plot([p.value], [-0.06 * top], marker="|", ms=11, mew=1.8, color=_DECISION_COLOUR.get(p.decision, "#333"),
                zorder=4, clip_on=False)
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.12 * top, top * 1.15 + 0.2)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"{item.label} [{unit}]")
    ax.set_ylabel("designs")
    near = item.near
    head = f"{len(measured)} design(s)" + (f", {item.not_measured} not measured" if item.not_measured else "")
    if near is not None:
        head += f"; {near} within 10 % of a limit"
    ax.set_title(head, loc="left")
    from matplotlib.patches import Patch

    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_LIMIT, lw=1.6, label="limit")]
    if item.range is not None and (item.lower is None or item.upper is None):
        handles.append(Line2D([], [], color=_LIMIT, lw=1.0, ls=(0, (4, 3)), alpha=0.45,
                              label="other limit (another statistic)"))
    if u > 0:
        handles.append(Patch(color=_GUARD, alpha=0.55, label=f"guard band ±U (U = {u:g})"))
    if item.near_band is not None:
        handles.append(Patch(facecolor="none", edgecolor=_NEAR, hatch="///", label="within 10 % of a limit"))
    ax.legend(handles=handles, loc="upper right", frameon=True, framealpha=0.9)
    # -- margins over time
    times = [_dt.datetime.fromisoformat(p.created_at.replace("Z", "+00:00")).replace(tzinfo=None) for p in measured]
    margins = np.array([p.margin for p in measured], dtype=float)
    if u > 0:
        at.axhspan(-u, u, color=_GUARD, alpha=0.55, lw=0, zorder=0)
    if item.near_band is not None:
        at.axhspan(0, item.near_band, facecolor="none", edgecolor=_NEAR, hatch="///", lw=0, alpha=0.45, zorder=1)
    at.axhline(0, color=_LIMIT, lw=1.4, zorder=2)
    order = np.argsort(np.array(times, dtype="datetime64[s]"), kind="stable")
    at.plot([times[i] for i in order], margins[order], color="#999999", lw=0.8, zorder=3)
    for t, m, p in zip(times, margins, measured):
        at.plot([t], [m], "o", ms=5, color=_DECISION_COLOUR.get(p.decision, "#333"), zorder=4)
    lo = min(0.0, float(margins.min()), -u)
    hi = max(float(margins.max()), (item.near_band or 0.0), u)
    pad = 0.08 * (hi - lo or 1.0)
    at.set_ylim(lo - pad, hi + pad)
    if len(set(times)) == 1:  # one instant: a day either side, so the axis is not degenerate
        t = times[0]
        at.set_xlim(t - _dt.timedelta(days=1), t + _dt.timedelta(days=1))
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    at.xaxis.set_major_locator(locator)
    at.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    at.set_ylabel(f"margin to {'the' if item.kind == 'metric' else 'nearest'} limit [{unit}]")
    at.set_xlabel("record created (UTC)")
    at.set_title("margin over time (≥ 0 inside the limit)", loc="left")
    fig.tight_layout()
    return _png(plt, fig)


# -- page ------------------------------------------------------------------------------------------
_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px 32px; color: #222; max-width: 1100px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 2px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.meta { color: #555; font-size: 13px; margin: 2px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 12px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
.warn { background: #fde0dd; border: 1px solid #b2182b; padding: 8px 12px; margin: 10px 0; font-size: 13px; }
.empty { background: #fff7bc; border: 1px solid #e08214; padding: 8px 12px; margin: 10px 0; font-size: 14px; }
.near { color: #7b3294; font-weight: bold; }
img { max-width: 100%; display: block; margin: 4px 0 14px; }
"""


def _num(x, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def _page(trends, figures: dict[str, bytes]) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>Envelope utilisation - pmd-envelope</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Envelope utilisation</h1>",
           f'<p class="meta">Ledger: {e(trends.ledger)}</p>',
           f'<p class="meta">Counted: {e(trends.what)}: {trends.counted} record(s) of {trends.ledger_records} in the '
           "ledger, each checked against its ledger entry (file bytes and content hash). Values as the records state "
           "them (7 significant digits); nothing re-measured. A null value counts as not measured, never as 0.</p>",
           '<p class="meta">Within 10 % of a limit: inside the limit with a margin of at most 10 % of the '
           "parameter's range (both limits given) or of the limit's magnitude (one-sided parameters and metrics). "
           "Guard band: ISO 14253-1, each limit ± U.</p>",
           f'<p class="meta generated">Generated {e(trends.generated_at)}</p>']
    if trends.excluded:
        out.append(f'<div class="warn"><b>{len(trends.excluded)} record(s) left out</b> (they do not verify against '
                   "the ledger, so they are not evidence):<ul>")
        out += [f"<li>{e(x.case_id)} {e(x.record_id)}: {e(x.reason)}</li>" for x in trends.excluded]
        out.append("</ul></div>")
    if not trends.groups:
        which = "approved (released)" if trends.selection == "approved" else ""
        out.append(f'<div class="empty"><b>No {which} records to show.</b> The ledger holds {trends.ledger_records} '
                   f"record(s); none is {'approved' if trends.selection == 'approved' else 'usable'}"
                   f"{' for envelope ' + e(trends.envelope) if trends.envelope else ''}. Nothing is drawn. "
                   + ("Records count once they are reviewed and approved (pmd-envelope sign), or pass --all-latest "
                      "to count the newest record of each case whatever its state." if trends.selection == "approved"
                      else "") + "</div>")
    for g in trends.groups:
        out.append(f"<h2>{e(g.envelope_id)} {e(g.version)} <small>({e(g.status)})</small></h2>")
        out.append(f'<p class="meta">{len(g.cases)} design(s): {e(", ".join(g.cases))}. Envelope file sha256 '
                   f"{e(', '.join(s[:16] + '…' for s in g.sha256))}</p>")
        if len(g.sha256) > 1:
            out.append('<div class="warn">Records of this version name different envelope files (sha256 differs): '
                       "a released envelope file was changed. The limits shown are those of the first record.</div>")
        out.append("<table><tr><th class=l>item</th><th>unit</th><th>limits</th><th>U</th><th>n</th>"
                   "<th>not measured</th><th>min</th><th>max</th><th>within 10 % of a limit</th>"
                   "<th>beyond a limit</th><th class=l>decisions</th></tr>")
        for it in g.items:
            limits = (f"{it.lower:g} to {it.upper:g}" if it.lower is not None and it.upper is not None else
                      f"≥ {it.lower:g}" if it.lower is not None else f"≤ {it.upper:g}")
            frac = ("–" if it.near_fraction is None else
                    f'<span class="{"near" if it.near else ""}">{it.near} of {len(it.measured)} '
                    f"({100 * it.near_fraction:.0f} %)</span>")
            decisions = ", ".join(f"{k} {v}" for k, v in it.decisions().items())
            out.append(f"<tr><td class=l>{e(it.label)}</td><td>{e(it.unit)}</td><td>{e(limits)}</td>"
                       f"<td>{_num(it.uncertainty)}</td><td>{len(it.points)}</td><td>{it.not_measured}</td>"
                       f"<td>{_num(it.minimum)}</td><td>{_num(it.maximum)}</td><td>{frac}</td><td>{it.beyond}</td>"
                       f"<td class=l>{e(decisions)}</td></tr>")
        out.append("</table>")
        if figure_name(g) in figures:
            data = base64.b64encode(figures[figure_name(g)]).decode("ascii")
            out.append('<img alt="Every item: each design\'s margin to its nearest limit as a fraction of the range" '
                       f'src="data:image/png;base64,{data}">')
        for it in g.items:
            out.append(f"<h3>{e(it.label)} [{e(it.unit)}]</h3>")
            name = figure_name(g, it)
            if name not in figures:
                out.append(f'<p class="meta">No design has a measured value: nothing to draw '
                           f"({it.not_measured} not measured).</p>")
                continue
            data = base64.b64encode(figures[name]).decode("ascii")
            out.append(f'<img alt="{e(it.label)}: designs against the limits, and margins over time" '
                       f'src="data:image/png;base64,{data}">')
            missing = [p for p in it.points if p.value is None]
            if missing:
                out.append('<p class="meta">Not measured: ' + e("; ".join(f"{p.case_id}: {p.reason}" for p in missing))
                           + "</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
