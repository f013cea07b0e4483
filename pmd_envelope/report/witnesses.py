"""The witness page: where each parameter was measured, drawn on the design.

Every measurement that carries a witness (``point`` -> ``opposite``, scanner coordinates) is
drawn as a numbered segment on the design in three views, coloured by its decision, and listed in
a table with its value and decision. The page knows no parameter by name: it is driven by which
measurements have witnesses, and by :func:`pmd_envelope.families.family_methods` for the device
families' own parameters (listed even without a witness, so a family parameter never goes
missing from the page). A witness whose two ends coincide marks a feature by its centre (the
smallest hole); it is drawn as a circle of its ``distance`` (the diameter).

The design is the record's thickness-map surface (version 2: simplified for drawing, in the
frame of the design's oriented box); witnesses and the hole pattern (the record's
``hole_pattern``: every through-hole's centre and diameter) are moved into that frame with its
``origin`` and ``axes``. Rendered from the record alone.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.report.layout import MARGIN, Flow
from pmd_envelope.report.numbers import decimals_for, fixed, quantity

__all__ = ["witness_page", "witness_rows"]

#: Decisions from worst to best: a parameter with several checks (a lower and an upper
#: statistic) is drawn in the colour of its worst one.
_ORDER = ("nonconforming", "indeterminate", "not_evaluated", "conforming")
_COLOUR = {"conforming": "#1b7837", "nonconforming": "#b2182b", "indeterminate": "#e08214",
           "not_evaluated": "#777777", None: "#2166ac"}
_SURFACE = np.array([0.80, 0.80, 0.80])


def _family_parameters() -> set[str]:
    from pmd_envelope.families import family_methods

    return set(family_methods())


def witness_rows(record: dict) -> list[dict]:
    """One row per measurement with a witness, and per family parameter measured (with or without
    one), in record order: ``{n, parameter, value, unit, method, decision, decisions, witness,
    reason, family}``. ``n`` numbers the drawn witnesses 1, 2, ... (None when nothing is drawn);
    ``decision`` is the worst decision of the parameter's checks (None: the envelope does not
    limit it)."""
    family = _family_parameters()
    checks: dict[str, list[dict]] = {}
    for c in record.get("checks", []):
        checks.setdefault(c["parameter"], []).append(c)
    rows, n = [], 0
    for m in record.get("measurements", []):
        w = m.get("witness")
        fam = m["parameter"] in family
        if w is None and not fam:
            continue
        mine = checks.get(m["parameter"], [])
        decision = min((c["decision"] for c in mine), key=_ORDER.index, default=None)
        if w is not None:
            n += 1
        rows.append({"n": n if w is not None else None, "parameter": m["parameter"], "value": m.get("value"),
                     "unit": m.get("unit"), "method": m.get("method"), "decision": decision,
                     "decisions": [(c["statistic"], c["decision"]) for c in mine], "witness": w,
                     "reason": m.get("reason", ""), "family": fam,
                     "uncertainty": max((c.get("uncertainty") or 0.0 for c in mine), default=0.0)})
    return rows


def _to_frame(points, frame) -> np.ndarray:
    origin, axes = np.asarray(frame["origin"], dtype=float), np.asarray(frame["axes"], dtype=float)
    return (np.asarray(points, dtype=float).reshape(-1, 3) - origin) @ axes.T


def _draw_surface(ax, p, tri, i, j, toward=None):
    """The design's triangles projected on axes (i, j), painted far to near, shaded grey.
    ``toward`` (+1/-1) keeps only the triangles facing the viewer along the third axis."""
    from pmd_envelope.report.thickness import _FlatTriangles

    k = 3 - i - j
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    nrm = np.cross(b - a, c - a)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    sign = 1.0 if toward is None else float(toward)
    keep = np.ones(len(tri), dtype=bool) if toward is None else nrm[:, k] * sign > 0
    depth = (a[:, k] + b[:, k] + c[:, k]) / 3.0 * sign
    order = np.flatnonzero(keep)[np.argsort(depth[keep], kind="stable")]
    # seen from outside: shaded by the angle to the view; from the side: one flat grey, a silhouette
    # (triangles of the far side would otherwise show through where the painter's order is ambiguous)
    shade = 0.72 + 0.28 * np.abs(nrm[order, k]) if toward is not None else np.full(len(order), 0.9)
    rgba = np.ones((len(order), 4))
    rgba[:, :3] = _SURFACE * shade[:, None]
    ax.add_artist(_FlatTriangles(p[tri[order]][:, :, [i, j]], rgba))


def _label_offset(n: int, where: np.ndarray) -> tuple[float, float]:
    """Offset [pt] of witness ``n``'s number from its mark at ``where`` (its position in the view,
    0-1 on each axis): into the view from the nearer edges, so it stays inside the frame; odd and
    even numbers on opposite sides and every second pair a line further, so witnesses at one
    place (a thin ligament is both the thinnest wall and the hole nearest the rim) stay readable."""
    right = where[0] < 0.15 or (where[0] <= 0.85 and n % 2 == 1)
    up = where[1] < 0.5
    extra = 13.0 if ((n - 1) // 2) % 2 == 1 else 0.0
    return (6.0 if right else -15.0), ((5.0 + extra) if up else (-13.0 - extra))


def _segment(ax, a, b, colour, label, i, j, scale, limits):
    """A witness on axes (i, j): a segment with end dots, or a circle when its ends coincide;
    a ring around it when it is too short to see at the view's scale (``scale`` = 1 % of the
    view); its number in a white box beside it."""
    from matplotlib.patches import Circle

    pa, pb = a[[i, j]], b[[i, j]]
    if np.linalg.norm(b - a) < 1e-9:
        r = max(label["radius"], 0.6 * scale)
        ax.add_patch(Circle(tuple(pa), r, facecolor="none", edgecolor=colour, lw=1.4, zorder=5))
        anchor = pa
    else:
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color=colour, lw=1.8, solid_capstyle="butt", zorder=5)
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], ls="none", marker="o", ms=2.6, color=colour, zorder=6)
        anchor = (pa + pb) / 2.0
        if np.linalg.norm(pb - pa) < 3.0 * scale:
            ax.plot([anchor[0]], [anchor[1]], ls="none", marker="o", ms=11, mfc="none", mec=colour, mew=1.0,
                    zorder=6)
    lo, hi = limits
    offset = _label_offset(label["n"], (anchor - lo) / np.maximum(hi - lo, 1e-9))
    ax.annotate(str(label["n"]), xy=tuple(anchor), xytext=offset,
                textcoords="offset points", fontsize=7, weight="bold", color=colour, zorder=7,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": colour, "lw": 0.5})


def _view(ax, p, tri, rows_f, holes_f, i, j, toward, title, names):
    from matplotlib.patches import Circle

    _draw_surface(ax, p, tri, i, j, toward)
    lo, hi = p.min(axis=0), p.max(axis=0)
    scale = float(max(hi[i] - lo[i], hi[j] - lo[j]) / 100.0)
    if holes_f is not None and (i, j) == (0, 1):
        for c, d in holes_f:
            ax.add_patch(Circle((c[i], c[j]), d / 2.0, facecolor="white", edgecolor="#2166ac", lw=0.5, zorder=4))
    pad = 3.0
    ax.set_xlim(lo[i] - pad, hi[i] + pad)
    ax.set_ylim(lo[j] - pad, hi[j] + pad)
    limits = (np.array([lo[i] - pad, lo[j] - pad]), np.array([hi[i] + pad, hi[j] + pad]))
    for r, a, b in rows_f:
        _segment(ax, a, b, _COLOUR[r["decision"]], {"n": r["n"], "radius": r["witness"].get("distance", 0) / 2.0},
                 i, j, scale, limits)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(title, fontsize=8, pad=3)
    ax.set_xlabel(f"{names[i]} [mm]", fontsize=7, labelpad=1)
    ax.set_ylabel(f"{names[j]} [mm]", fontsize=7, labelpad=1)
    ax.tick_params(labelsize=6.5, length=2, pad=1)


def _value_text(r) -> str:
    if r["value"] is None:
        return f"not measured: {r['reason']}"
    u = r["uncertainty"]
    dec = decimals_for(u, r["value"]) if u else None
    return quantity(r["value"], r["unit"], dec)


def _decision_text(r) -> str:
    if not r["decisions"]:
        return "not limited by the envelope"
    if len(r["decisions"]) == 1:
        return r["decisions"][0][1].replace("_", " ")
    return "; ".join(f"{d.replace('_', ' ')} ({s})" for s, d in r["decisions"])


def _where_text(r, frame) -> str:
    w = r["witness"]
    if w is None:
        return "no witness recorded"
    a, b = _to_frame([w["point"], w["opposite"]], frame) if frame else (np.asarray(w["point"]), np.asarray(w["opposite"]))
    f = lambda x: "(" + ", ".join(f"{v:.1f}".replace("-0.0", "0.0") for v in x) + ")"  # noqa: E731
    if np.linalg.norm(b - a) < 1e-9:
        return f"centre {f(a)}, circle of {fixed(w.get('distance', 0.0), 3)} mm"
    return f"{f(a)} to {f(b)}, {fixed(float(np.linalg.norm(b - a)), 3)} mm"


def witness_page(record: dict, plt, size, context):
    """Where each parameter was measured: the design in three views with every witness, and the table."""
    rows = witness_rows(record)
    if not rows:
        return None
    figs: list = []
    flow = Flow(plt, size, "Where each parameter was measured", figs)
    tm = record.get("thickness_map")
    frame = tm.get("frame") if tm and tm.get("version") == 2 else None
    drawn = [r for r in rows if r["witness"] is not None]
    holes = (record.get("hole_pattern") or {}).get("holes", [])
    flow.paragraph(
        "Each parameter measured at a place on the design is drawn where it was measured: a numbered segment from "
        "the witness's start to its end (a circle for a feature given by its centre, such as the smallest hole), "
        "coloured by the parameter's decision (green conforming, red nonconforming, amber indeterminate, grey not "
        "evaluated, blue not limited by the envelope). The design is its simplified surface in the frame of its "
        "oriented box (axis 3 through the plate, away from the bone-facing side), seen from outside and from two "
        "sides; coordinates in the table are in that frame [mm]. "
        + (f"Blue circles: the {len(holes)} through-holes found (centre and diameter). " if holes else "")
        + "The device family's own parameters are listed even where they carry no witness.", size=7.5)
    if frame and drawn:
        p = np.asarray(tm["vertices"], dtype=float)
        tri = np.asarray(tm["triangles"], dtype=np.int64)
        rows_f = []
        for r in drawn:
            a, b = _to_frame([r["witness"]["point"], r["witness"]["opposite"]], frame)
            rows_f.append((r, a, b))
        holes_f = [(_to_frame(h["centre"], frame)[0], h["diameter"]) for h in holes] or None
        names = ("axis 1", "axis 2", "axis 3")
        ext = p.max(axis=0) - p.min(axis=0) + 6.0
        top_w = 262.0
        top_h = min(262.0, top_w * ext[1] / ext[0])
        side_h1 = max(50.0, min(120.0, top_w * ext[2] / ext[0]))
        side_h2 = max(50.0, min(120.0, top_w * ext[2] / ext[1]))
        gap = 42.0  # between views: the x label of one and the title of the next
        top, _ = flow.box(14 + top_h + gap + side_h1 + gap + side_h2 + 32)
        x0 = MARGIN + 30
        ax = flow.fig.add_axes(flow.rect(x0, top + 14, top_w, top_h))
        _view(ax, p, tri, rows_f, holes_f, 0, 1, +1, "From outside (axes 1 and 2)", names)
        ax = flow.fig.add_axes(flow.rect(x0, top + 14 + top_h + gap, top_w, side_h1))
        _view(ax, p, tri, rows_f, holes_f, 0, 2, None, "Side, along axis 2 (axes 1 and 3)", names)
        ax = flow.fig.add_axes(flow.rect(x0, top + 14 + top_h + gap + side_h1 + gap,
                                         top_w * ext[1] / ext[0] if ext[0] else top_w, side_h2))
        _view(ax, p, tri, rows_f, holes_f, 1, 2, None, "Side, along axis 1 (axes 2 and 3)", names)
        _legend(flow, x0 + top_w + 30, top + 14)
    elif drawn:
        flow.paragraph("No surface to draw (the record has no version 2 thickness map): the witnesses are listed "
                       "in scanner coordinates.", size=7.5, color="#555555")
    table = []
    colours = []
    for r in rows:
        table.append([str(r["n"]) if r["n"] is not None else "-",
                      r["parameter"] + (" (family)" if r["family"] else ""), _value_text(r), r["method"] or "",
                      _where_text(r, frame), _decision_text(r)])
        colours.append(_COLOUR[r["decision"]] if r["decision"] in ("nonconforming", "indeterminate") else None)
    where = "Where (start to end" + (", box frame)" if frame else ", scanner coordinates)")
    flow.table(["#", "Parameter", "Value", "Method", where, "Decision"], table,
               [0.04, 0.2, 0.14, 0.13, 0.3, 0.19], size=7, colours=colours,
               title="Parameters with a witness" + (" and the family's parameters" if any(r["family"] for r in rows)
                                                     else ""))
    if holes:
        d = np.array([h["diameter"] for h in holes])
        e = np.array([h["edge_distance"] for h in holes])
        flow.paragraph(f"Hole pattern: {len(holes)} through-holes, diameter {fixed(d.min(), 3)} to "
                       f"{fixed(d.max(), 3)} mm, ligament to the rim {fixed(e.min(), 3)} to {fixed(e.max(), 3)} mm "
                       "(hole_diameter and hole_edge_distance above give the limited minimum and where it is).",
                       size=7.5)
    return figs


def _legend(flow, x, y):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=_COLOUR[k], lw=1.8, marker="o", ms=2.6, label=k.replace("_", " "))
               for k in ("conforming", "nonconforming", "indeterminate", "not_evaluated")]
    handles.append(Line2D([], [], color=_COLOUR[None], lw=1.8, marker="o", ms=2.6, label="not limited"))
    handles.append(Patch(facecolor="white", edgecolor="#2166ac", lw=0.5, label="through-hole"))
    handles.append(Patch(facecolor=_SURFACE, label="design surface"))
    flow.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(flow.fx(x), flow.fy(y)), fontsize=7,
                    frameon=False, ncol=1, handlelength=1.8, title="witness decision", title_fontsize=7)
