"""A proven enclosure of the worst case: interval branch and bound over the box.

For every combination of categorical levels the continuous box is cut into sub-boxes; on each,
interval arithmetic (:mod:`pmd_envelope.intervals`) gives a lower bound of the objective (the
metric for sense ``min``, minus the metric for ``max``) that holds for *every* real point of the
sub-box, and the metric at the sub-box's centre gives a value that is attained. A sub-box whose
bound cannot beat the best value found by more than the target gap is closed; the others are
cut in two. When none is left open, the true worst value lies between the proven bound (the
smallest bound of any closed sub-box) and the worst value found: an enclosure.

Three devices keep the boxes few (Hansen & Walster, *Global Optimization Using Interval
Analysis*, 2nd ed., 2004, ch. 12):

- the *natural* interval extension (the expression evaluated on intervals) and the *mean-value
  form* ``f(c) + grad f(X) . (X - c)`` are both bounds; the larger is used (the mean-value form
  converges quadratically as boxes shrink, which closes gaps of 1e-6 in a few thousand boxes);
- the *monotonicity test*: where the enclosure of a partial derivative keeps one sign over a
  sub-box, the objective's minimum on it lies on one face, so that variable is fixed at its
  worse bound (for a model monotone in every variable the whole box shrinks to its worst corner
  at once: the proof of the corner result);
- sub-boxes are cut across the variable with the largest ``width x |derivative|`` (Smear).

The search is deterministic (no random draws) and stops at a stated budget of sub-box
enclosures; it then states the enclosure it has, and that the gap was not closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pmd_envelope.intervals import Interval
from pmd_envelope.resolution import SIGNIFICANT_DIGITS, at_resolution, outward_at_resolution
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase.space import SearchSpace

__all__ = ["Proof", "prove", "PROVEN", "NOT_PROVEN"]

PROVEN, NOT_PROVEN = "proven", "not proven"
#: A sub-box narrower than this fraction of its variable's range in every variable is not cut
#: again: 1e-13 is ~500 ulps of the range, where the centre and the ends stop being distinct
#: enough for a cut to tighten anything.
_SMALLEST_CUT = 1e-13

METHOD = ("interval branch and bound over the continuous box for every combination of categorical levels: natural "
          "interval extension and mean-value form (forward-mode interval derivatives), monotonicity test, "
          "outward rounding (one ulp per arithmetic operation, a stated margin on libm functions)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """The enclosure of the true worst value: ``bound`` (proven) and ``found`` (attained).

    For sense ``min`` the true minimum m satisfies ``bound <= m <= found``; for ``max`` the true
    maximum M satisfies ``found <= M <= bound``. ``status`` is ``proven`` when the gap between
    them, as the record states them (``found`` at the record's resolution, ``bound`` rounded
    outward), is at most ``tolerance`` and the search closed every sub-box; otherwise it is
    ``not proven`` and ``reason`` says why.
    """

    status: str
    sense: str
    found: float
    bound: float | None  # None: no finite bound (the enclosure is unbounded)
    gap: float | None
    tolerance: float
    relative_tolerance: float
    boxes: int
    budget: int
    evaluations: int
    combinations: int
    point: tuple
    reason: str
    derivative_bounds: tuple[tuple[str, tuple[float, float]], ...]
    limit: float
    limit_met_proven: bool
    value: float  # the worst value found at full precision (``found`` is as the record states it)
    closed: bool  # every sub-box was closed (not stopped by the budget)
    contradicted_by: str | None = None

    @property
    def proven(self) -> bool:
        return self.status == PROVEN

    def with_found(self, value: float, point: tuple, source: str) -> "Proof":
        """The enclosure after a sample (``source``) found the worse value ``value`` at ``point``.

        A value beyond the proven bound contradicts the proof: it is void (``not proven``, with
        ``contradicted_by``). Otherwise the bound stands and the gap narrows.
        """
        beyond = self.bound is None or (value < self.bound if self.sense == "min" else value > self.bound)
        if beyond and self.bound is not None:
            return replace(self, status=NOT_PROVEN, found=at_resolution(value), value=float(value), point=tuple(point),
                           gap=None, contradicted_by=source,
                           reason=f"contradicted: a {source} sample ({_g(value)}) lies beyond the proven bound "
                                  f"{_g(self.bound)}; the proof is void")
        found_s = at_resolution(value)
        gap = None if self.bound is None else at_resolution(abs(found_s - self.bound))
        proven = self.closed and gap is not None and gap <= self.tolerance
        return replace(self, status=PROVEN if proven else NOT_PROVEN, found=found_s, value=float(value),
                       point=tuple(point), gap=gap,
                       reason=(f"gap {_g(gap)} <= tolerance {_g(self.tolerance)} after a worse {source} sample"
                               if proven else self.reason))

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__ if k not in ("point", "sense", "limit", "value", "closed")}
        # each end rounded outward and an unbounded end null, so the stated interval still encloses
        d["derivative_bounds"] = {k: [outward_at_resolution(a, -1) if math.isfinite(a) else None,
                                      outward_at_resolution(b, 1) if math.isfinite(b) else None]
                                  for k, (a, b) in self.derivative_bounds}
        d["method"] = METHOD
        b = "unbounded" if self.bound is None else _g(self.bound)
        d["meaning"] = (f"the true worst value is proven to lie in [{b}, {_g(self.found)}]" if self.sense == "min" else
                        f"the true worst value is proven to lie in [{_g(self.found)}, {b}]")
        return d


def _step(x: float) -> float:
    """One step of the record's last stated digit at the magnitude of x."""
    x = abs(x)
    return 10.0 ** (math.floor(math.log10(x)) - (SIGNIFICANT_DIGITS - 1)) if x > 0 else 0.0


def tolerance(rel_tol: float, scale: float) -> float:
    """The stated tolerance: rel_tol x scale, but never below two steps of the record's resolution
    (a smaller gap cannot be stated: the found value is rounded to the nearest step and the bound
    outward, up to 1.5 steps between them)."""
    return at_resolution(max(rel_tol * scale, 2.0 * _step(scale)))


def _target(rel_tol: float, scale: float) -> float:
    """The gap the search aims at, so that the stated gap is within :func:`tolerance`."""
    tol = tolerance(rel_tol, scale)
    return max(tol - 1.5 * _step(scale), 0.25 * tol)


def _g(x: float) -> str:
    return f"{x:.7g}"


def stated(sense: str, found: float, bound: float, rel_tol: float, scale: float, closed: bool, reason: str,
           **fields) -> Proof:
    """A :class:`Proof` with every number as the record states it and the status decided on them."""
    direction = -1 if sense == "min" else 1
    found_s = at_resolution(found)
    bound_s = outward_at_resolution(bound, direction) if math.isfinite(bound) else bound
    tol = tolerance(rel_tol, scale)
    # the gap as the record states it: the difference of the two stated numbers at the resolution
    gap = at_resolution((found_s - bound_s) * -direction) if math.isfinite(bound_s) else math.inf
    proven = closed and math.isfinite(gap) and gap <= tol
    limit = fields["limit"]
    limit_met = bool(math.isfinite(bound_s) and (bound_s >= limit if sense == "min" else bound_s <= limit))
    if proven:
        reason = f"gap {_g(gap)} <= tolerance {_g(tol)}"
    # JSON has no infinity (allow_nan=False): an unbounded enclosure is stated as null
    return Proof(status=PROVEN if proven else NOT_PROVEN, sense=sense, found=found_s, value=float(found), closed=closed,
                 bound=bound_s if math.isfinite(bound_s) else None, gap=gap if math.isfinite(gap) else None,
                 tolerance=tol, relative_tolerance=rel_tol, reason=reason, limit_met_proven=limit_met, **fields)


def box_derivatives(space: SearchSpace) -> tuple:
    """Enclosure of each partial derivative of the metric over the whole box.

    One interval evaluation: continuous variables over [min, max], each categorical quantity over
    the hull of its levels' values (so the bounds hold for every combination of levels).
    """
    cont = [j for j, d in enumerate(space.dims) if d.continuous]
    if not cont:
        return ()
    t = space.enclose([(np.array([d.lo]), np.array([d.hi])) if d.continuous else None for d in space.dims])
    return tuple((space.dims[j].name, (float(t.grad.lo[r, 0]), float(t.grad.hi[r, 0]))) for r, j in enumerate(cont))


def _columns(space: SearchSpace, lo: np.ndarray, hi: np.ndarray, cat: np.ndarray, point: np.ndarray | None = None):
    """Per-dimension entries for :meth:`SearchSpace.enclose` (or evaluate, with ``point``)."""
    out, r, c = [], 0, 0
    for d in space.dims:
        if d.continuous:
            out.append(point[r] if point is not None else (lo[r], hi[r]))
            r += 1
        else:
            out.append(cat[c])
            c += 1
    return out


def prove(space: SearchSpace, settings: Settings = DEFAULT_SETTINGS, *, found: float, point: tuple) -> Proof:
    """Enclose the true worst value of ``space`` over its box.

    Parameters
    ----------
    space : SearchSpace
    settings : Settings
        ``proof_rel_tol`` (target gap, relative), ``proof_max_boxes`` (budget of sub-box
        enclosures), ``proof_batch`` (sub-boxes enclosed per vectorised step).
    found, point : float, tuple
        The worst value already found by the search and where (the starting incumbent).

    Returns
    -------
    Proof
        The enclosure, whether it is closed within the tolerance, the sub-boxes and point
        evaluations spent, the worst point found (it may be worse than ``point``), and the
        enclosure of each partial derivative over the whole box.

    Notes
    -----
    Tolerance: ``proof_rel_tol x max(|found|, |limit|, |metric at nominal|)``: relative to the
    metric's own scale, so that a worst value of 0 still has a reachable target; never below two
    steps of the record's 7-digit resolution (:func:`tolerance`). The search aims lower, leaving
    room for the record's statement of both numbers (found to nearest, bound outward).
    """
    sign = space.sign
    dims = space.dims
    cont = [j for j, d in enumerate(dims) if d.continuous]
    cats = [j for j, d in enumerate(dims) if not d.continuous]
    m = len(cont)
    sizes = [dims[j].size for j in cats]
    combos = math.prod(sizes)
    best = sign * float(found)
    best_point = tuple(point)
    nominal = float(space.evaluate([np.asarray(d.nominal_value()) for d in dims])[0])
    # the scale of the tolerance: |limit|, |metric at nominal| and (below) |worst value found|
    scale = max(abs(space.metric.limit), abs(nominal) if math.isfinite(nominal) else 0.0)
    rel_tol = settings.proof_rel_tol
    common = dict(budget=settings.proof_max_boxes, combinations=combos, limit=space.metric.limit)

    def result(bound_obj, closed, reason, boxes, evaluations, derivs):
        bp = best_point
        return stated(space.metric.sense, sign * best, sign * bound_obj, rel_tol, max(scale, abs(best)), closed, reason,
                      boxes=boxes, evaluations=evaluations, point=bp, derivative_bounds=derivs, **common)

    if combos > settings.proof_max_boxes:
        return result(-math.inf, False, f"{combos} combinations of categorical levels exceed the budget of "
                                        f"{settings.proof_max_boxes} sub-boxes", 0, 0, ())
    full_lo = np.array([dims[j].lo for j in cont], dtype=float)
    full_hi = np.array([dims[j].hi for j in cont], dtype=float)
    span = np.where(full_hi > full_lo, full_hi - full_lo, 1.0)
    lo = np.repeat(full_lo[:, None], combos, axis=1)
    hi = np.repeat(full_hi[:, None], combos, axis=1)
    cat = np.indices(sizes).reshape(len(cats), -1) if cats else np.zeros((0, 1), dtype=np.intp)
    lb = np.full(combos, -np.inf)
    settled = np.inf  # smallest bound of a closed sub-box
    boxes = evaluations = 0
    derivs = None
    first = True
    while lo.shape[1] and boxes < settings.proof_max_boxes:
        target = _target(rel_tol, max(scale, abs(best)))
        # best first: the sub-boxes with the lowest bounds; the whole initial set at the first step
        n = lo.shape[1] if first else min(lo.shape[1], settings.proof_batch, settings.proof_max_boxes - boxes)
        take = np.argsort(lb, kind="stable")[:n] if n < lo.shape[1] else np.arange(n)
        rest = np.setdiff1d(np.arange(lo.shape[1]), take, assume_unique=True)
        blo, bhi, bcat = lo[:, take], hi[:, take], cat[:, take]
        nlb, grad = _bounds(space, blo, bhi, bcat, sign, settings.corner_chunk)
        boxes += n
        # attained values at the centres
        centre = 0.5 * (blo + bhi)
        vals = sign * space.evaluate(_columns(space, blo, bhi, bcat, point=centre))
        evaluations += n
        ok = np.isfinite(vals)
        if np.any(ok):
            i = int(np.flatnonzero(ok)[np.argmin(vals[ok])])
            if vals[i] < best:
                best = float(vals[i])
                best_point = tuple(np.asarray(x).item() for x in _columns(space, None, None, bcat[:, i],
                                                                                     point=centre[:, i]))
        if first:
            derivs = _hull_derivatives(space, cont, grad, sign)
            first = False
        nlb = np.maximum(nlb, lb[take])  # a sub-box's bound never drops below its parent's
        # monotonicity test: fix a variable at its worse bound where the objective's derivative keeps one sign
        wide = bhi > blo
        up = (grad.lo >= 0) & wide
        down = (grad.hi <= 0) & wide & ~up
        fixed_any = np.any(up | down, axis=0)
        bhi = np.where(up, blo, bhi)
        blo = np.where(down, bhi, blo)
        close = nlb >= best - target
        settled = min(settled, float(np.min(nlb[close]))) if np.any(close) else settled
        # fixed sub-boxes go back as they are (re-enclosed, narrower); the others are cut in two
        again = ~close & fixed_any
        cut = ~close & ~fixed_any
        w = (bhi - blo) / span[:, None]
        stuck = cut & (np.max(w, axis=0) < _SMALLEST_CUT) if m else cut
        if np.any(stuck):
            settled = min(settled, float(np.min(nlb[stuck])))
            cut &= ~stuck
        parts_lo, parts_hi, parts_cat, parts_lb = [lo[:, rest], blo[:, again]], [hi[:, rest], bhi[:, again]], \
            [cat[:, rest], bcat[:, again]], [lb[rest], nlb[again]]
        if np.any(cut):
            clo, chi, ccat, clb = blo[:, cut], bhi[:, cut], bcat[:, cut], nlb[cut]
            g = np.maximum(np.abs(grad.lo[:, cut]), np.abs(grad.hi[:, cut])) * span[:, None]
            wc = w[:, cut]
            score = np.where(np.all(np.isfinite(g), axis=0) & np.any(g * wc > 0, axis=0), g * wc, wc)
            k = np.argmax(score, axis=0)
            cols = np.arange(clo.shape[1])
            mid = 0.5 * (clo[k, cols] + chi[k, cols])
            left_hi, right_lo = chi.copy(), clo.copy()
            left_hi[k, cols] = mid
            right_lo[k, cols] = mid
            parts_lo += [clo, right_lo]
            parts_hi += [left_hi, chi]
            parts_cat += [ccat, ccat]
            parts_lb += [clb, clb]
        lo, hi = np.concatenate(parts_lo, axis=1), np.concatenate(parts_hi, axis=1)
        cat, lb = np.concatenate(parts_cat, axis=1), np.concatenate(parts_lb)
    open_lb = float(np.min(lb)) if lb.size else np.inf
    bound = min(settled, open_lb, best)
    closed = lb.size == 0
    reason = ("every sub-box closed" if closed else
              f"budget of {settings.proof_max_boxes} sub-box enclosures spent with {lb.size} sub-boxes open")
    if closed and settled < best - _target(rel_tol, max(scale, abs(best))):
        reason = "sub-boxes too small to cut again still hold bounds below the worst value found"
    return result(bound, closed, reason, boxes, evaluations, derivs or ())


def _bounds(space: SearchSpace, lo, hi, cat, sign, chunk):
    """Lower bound of the objective on each sub-box (natural extension and mean-value form, the
    larger) and the enclosure of the objective's gradient."""
    lbs, glo, ghi = [], [], []
    for s in range(0, lo.shape[1], chunk):
        sl = slice(s, s + chunk)
        t = space.enclose(_columns(space, lo[:, sl], hi[:, sl], cat[:, sl]))
        v = -t.v if sign < 0 else t.v
        g = -t.grad if sign < 0 else t.grad
        natural = v.lo
        c = 0.5 * (lo[:, sl] + hi[:, sl])
        if lo.shape[0]:
            fc = space.enclose(_columns(space, c, c, cat[:, sl]), gradient=False).v
            fc = -fc if sign < 0 else fc
            dx = Interval(lo[:, sl], hi[:, sl]) - Interval(c)  # X - c, outward rounded
            terms = g * dx
            tot = fc
            for r in range(lo.shape[0]):
                tot = tot + Interval(terms.lo[r], terms.hi[r])
            mv = np.where(np.isnan(tot.lo), -np.inf, tot.lo)
            natural = np.maximum(natural, mv)
        lbs.append(np.where(np.isnan(natural), -np.inf, natural))
        glo.append(g.lo)
        ghi.append(g.hi)
    return np.concatenate(lbs), Interval(np.concatenate(glo, axis=1), np.concatenate(ghi, axis=1))


def _hull_derivatives(space: SearchSpace, cont, grad: Interval, sign) -> tuple:
    """Enclosure of each partial derivative of the *metric* over the whole box (all combinations)."""
    out = []
    for r, j in enumerate(cont):
        a, b = float(np.min(grad.lo[r])), float(np.max(grad.hi[r]))
        if sign < 0:
            a, b = -b, -a
        out.append((space.dims[j].name, (a, b)))
    return tuple(out)
