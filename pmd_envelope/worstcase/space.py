"""The search space of one metric: its dimensions and the metric as a vectorised function of them.

A *dimension* is one manufacturing variable (continuous, categorical or a coupled latent), or,
for the envelope's own worst case, one design parameter within its limits. A point of the space
is given column-wise: one numpy array per dimension (float values for continuous dimensions,
integer level indices for categorical ones), never an N x k matrix, so memory stays at one
array per variable (shared performance notes: 2^20 corners as a matrix take 512 MB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pmd_envelope.envelope import EXPRESSION_MODEL, Distribution, Envelope, Metric
from pmd_envelope.errors import EnvelopeError
from pmd_envelope.expressions import Expression
from pmd_envelope.models import MODELS

__all__ = ["Dimension", "SearchSpace", "build_search_space"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dimension:
    """One axis of the search space.

    ``kind`` is ``continuous``, ``coupled`` (a latent variable moving ``derived`` quantities),
    ``categorical`` (``levels`` with per-level ``tables`` of quantities) or ``parameter`` (a
    design parameter within its envelope limits, used by the envelope self-check).
    """

    name: str
    kind: str
    unit: str = ""
    lo: float = math.nan
    hi: float = math.nan
    nominal: float = math.nan
    levels: tuple[str, ...] = ()
    tables: tuple[tuple[str, tuple[float, ...]], ...] = ()
    weights: tuple[float, ...] = ()
    nominal_index: int = 0
    derived: tuple[tuple[str, Expression], ...] = ()
    distribution: Distribution | None = None

    @property
    def continuous(self) -> bool:
        return self.kind != "categorical"

    @property
    def size(self) -> int:
        """Number of candidate values at the corners: both bounds, or every level."""
        return 2 if self.continuous else len(self.levels)

    def candidates(self) -> np.ndarray:
        """Corner values: (lo, hi) as floats, or the level indices."""
        return np.array([self.lo, self.hi]) if self.continuous else np.arange(len(self.levels))

    def label(self, x) -> float | str:
        """The record's form of a value: a float, or a level name."""
        return float(x) if self.continuous else self.levels[int(x)]

    def nominal_value(self):
        return self.nominal if self.continuous else self.nominal_index

    def describe_distribution(self) -> str:
        """What Monte Carlo samples this dimension from (stated in the record)."""
        if not self.continuous:
            w = self.weights or tuple(1.0 / len(self.levels) for _ in self.levels)
            src = "declared weights" if self.weights else "equal weights (no weights declared)"
            return "categorical(" + ", ".join(f"{n}={p:.6g}" for n, p in zip(self.levels, w)) + f"; {src})"
        if self.distribution is None:
            return f"uniform({self.lo:g}, {self.hi:g}) (no distribution declared)"
        return self.distribution.describe(self.lo, self.hi)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SearchSpace:
    """A metric as a function of its dimensions, with the fixed values (design, constants)."""

    envelope_path: str
    metric: Metric
    dims: tuple[Dimension, ...]
    fixed: dict

    @property
    def sign(self) -> float:
        """+1 when the worst case is the minimum (sense ``min``), -1 when it is the maximum."""
        return 1.0 if self.metric.sense == "min" else -1.0

    def evaluate(self, columns) -> np.ndarray:
        """Metric values at the points given column-wise (arrays or scalars, broadcastable).

        Returns a 1-D float array of the broadcast length (1 when every column is a scalar).
        """
        values = dict(self.fixed)
        for d, c in zip(self.dims, columns):
            if d.kind == "categorical":
                idx = np.asarray(c, dtype=np.intp)
                for q, table in d.tables:
                    values[q] = np.asarray(table)[idx]
            else:
                values[d.name] = c
                if d.derived:
                    scope = dict(self.fixed)
                    scope[d.name] = c
                    for q, e in d.derived:
                        values[q] = e.evaluate(scope)
        m = self.metric
        with np.errstate(all="ignore"):
            if m.model == EXPRESSION_MODEL:
                out = m.inputs[0][1].evaluate(values)
            else:
                out = MODELS[m.model].function(**{name: e.evaluate(values) for name, e in m.inputs})
        out = np.asarray(out, dtype=float)
        n = max([np.size(c) for c in columns] + [1])
        return np.broadcast_to(out, (n,)) if out.ndim == 0 or out.shape != (n,) else out

    def enclose(self, boxes, *, gradient: bool = True):
        """Interval enclosure of the metric over boxes, with its gradient (interval Taylor form).

        Parameters
        ----------
        boxes : sequence
            One entry per dimension: ``(lo, hi)`` arrays for a continuous dimension, an integer
            array of level indices for a categorical one (broadcastable to n boxes).
        gradient : bool
            Also enclose the partial derivatives with respect to the continuous dimensions (in
            dimension order), by forward-mode differentiation of the expression trees.

        Returns
        -------
        pmd_envelope.intervals.Taylor
            ``v`` contains every metric value at every real point of each box; ``grad`` (shape
            (continuous dimensions, n), or None without ``gradient``) contains every partial
            derivative there. Built-in models are enclosed through their expression form
            (:attr:`pmd_envelope.models.Model.expression`).
        """
        from pmd_envelope.intervals import Interval, Taylor, constant

        cont = [j for j, d in enumerate(self.dims) if d.continuous]
        n = max([np.size(np.asarray(b[0] if self.dims[j].continuous else b)) for j, b in enumerate(boxes)
                 if b is not None] + [1])
        values = {k: constant(v) for k, v in self.fixed.items()}
        for j, (d, b) in enumerate(zip(self.dims, boxes)):
            if not d.continuous:
                if b is None:  # every level: the hull of the levels' values
                    for q, table in d.tables:
                        values[q] = Taylor(Interval(min(table), max(table)))
                    continue
                idx = np.asarray(b, dtype=np.intp)
                for q, table in d.tables:
                    values[q] = constant(np.asarray(table)[idx])
                continue
            lo, hi = np.broadcast_to(np.asarray(b[0], dtype=float), (n,)), np.broadcast_to(np.asarray(b[1], dtype=float), (n,))
            g = None
            if gradient:
                seed = np.zeros((len(cont), n))
                seed[cont.index(j)] = 1.0
                g = Interval(seed)
            x = Taylor(Interval(lo, hi), g)
            values[d.name] = x
            if d.derived:
                scope = {k: constant(v) for k, v in self.fixed.items()}
                scope[d.name] = x
                for q, e in d.derived:
                    values[q] = e.enclose(scope)
        m = self.metric
        if m.model == EXPRESSION_MODEL:
            out = m.inputs[0][1].enclose(values)
        else:
            model = MODELS[m.model]
            out = model.expression.enclose({name: e.enclose(values) for name, e in m.inputs})
        v = Interval(np.broadcast_to(out.v.lo, (n,)), np.broadcast_to(out.v.hi, (n,)))
        grad = None
        if gradient:
            grad = (Interval(np.zeros((len(cont), n))) if out.grad is None else
                    Interval(np.broadcast_to(out.grad.lo, (len(cont), n)), np.broadcast_to(out.grad.hi, (len(cont), n))))
        return Taylor(v, grad)

    def check_finite(self, values: np.ndarray, where: str) -> None:
        if not np.all(np.isfinite(values)):
            raise EnvelopeError(self.envelope_path, f"the model gives a non-finite value at {where}; check its "
                                                    f"expressions and the variable bounds", f"metrics.{self.metric.name}")

    def configuration(self, point) -> tuple[tuple[str, float | str], ...]:
        """Every dimension's value at one point (scalars), in dimension order."""
        return tuple((d.name, d.label(x)) for d, x in zip(self.dims, point))


def _used(envelope: Envelope, metric: Metric):
    used = metric.symbols
    return tuple(v for v in envelope.variables if v.name in used or set(v.quantities) & used)


def build_search_space(envelope: Envelope, metric: Metric, design: dict[str, float] | None = None, *,
                       envelope_parameters: bool = False) -> SearchSpace:
    """The search space of ``metric``.

    Parameters
    ----------
    envelope : Envelope
    metric : Metric
    design : dict, optional
        Measured value of every design parameter the metric uses (fixed during the search).
    envelope_parameters : bool
        When true, the design parameters the metric uses become dimensions spanning their
        envelope limits (the envelope's own worst case) instead of fixed values.
    """
    fixed: dict = {c.name: c.value for c in envelope.constants}
    dims: list[Dimension] = []
    used = metric.symbols
    params = {p.name: p for p in envelope.parameters}
    if envelope_parameters:
        for name in sorted(used & set(params)):
            p = params[name]
            if p.min is None or p.max is None:
                raise EnvelopeError(envelope.path, f"the envelope's worst case of {metric.name} needs both a min and a "
                                                   f"max for {name}; add the missing limit", f"parameters.{name}")
            dims.append(Dimension(name=name, kind="parameter", unit=p.unit, lo=p.min, hi=p.max,
                                  nominal=(p.min + p.max) / 2))
    else:
        fixed.update(design or {})
        missing = sorted((used & set(params)) - set(fixed))
        if missing:
            raise EnvelopeError(envelope.path, f"metric {metric.name} needs the design parameter {missing[0]}, which "
                                               f"was not measured", f"metrics.{metric.name}")
    for v in _used(envelope, metric):
        if v.kind == "categorical":
            names = tuple(lv.name for lv in v.levels)
            tables = tuple((q, tuple(dict(lv.quantities)[q] for lv in v.levels)) for q in v.quantities)
            nominal = names.index(v.nominal_level) if v.nominal_level else (
                int(np.argmax(v.weights)) if v.weights else 0)
            dims.append(Dimension(name=v.name, kind="categorical", levels=names, tables=tables, weights=v.weights,
                                  nominal_index=nominal))
        else:
            dims.append(Dimension(name=v.name, kind=v.kind, unit=v.unit or "", lo=v.min, hi=v.max, nominal=v.nominal,
                                  derived=v.derived, distribution=v.distribution))
    return SearchSpace(envelope_path=envelope.path, metric=metric, dims=tuple(dims), fixed=fixed)
