"""Worst case of each performance metric over the manufacturing variables.

The metric's model inputs are expressions over the design's measured parameters (fixed for a
given design), constants, and the manufacturing variables (continuous within bounds, categorical
over levels). The search here is exhaustive over the corners of the box: both bounds of every
continuous variable and every level of every categorical one. It is exact for models monotone
in each continuous variable (the clamped-plate load is monotone in thickness, radius and yield
strength).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmd_envelope.envelope import Envelope, Metric, Variable
from pmd_envelope.models import MODELS

__all__ = ["WorstCase", "Coverage", "evaluate_metric", "worst_case", "worst_cases", "corner_space"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """The design's worst case against the physically tested worst-case construct (same model)."""

    report: str
    construct_model_value: float
    measured_value: float
    covered: bool
    margin: float  # design worst minus construct, signed so that >= 0 means covered

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorstCase:
    metric: str
    model: str
    value: float
    unit: str
    limit: float
    sense: str
    margin: float  # signed so that >= 0 means the limit is met
    passed: bool
    limiting_configuration: tuple[tuple[str, float | str], ...]
    method: str
    evaluations: int
    coverage: Coverage

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["limiting_configuration"] = dict(self.limiting_configuration)
        d["coverage"] = self.coverage.as_dict()
        return d


def _variables_used(envelope: Envelope, metric: Metric) -> tuple[Variable, ...]:
    used = metric.symbols
    return tuple(v for v in envelope.variables if v.name in used or set(v.quantities) & used)


def corner_space(variables: tuple[Variable, ...]) -> list[tuple[Variable, tuple]]:
    """The candidate values of each variable at the corners of the box."""
    out = []
    for v in variables:
        out.append((v, (v.min, v.max) if v.kind == "continuous" else tuple(lv.name for lv in v.levels)))
    return out


def _symbols(envelope: Envelope, design: dict[str, float], assignment: dict[str, np.ndarray | float | str],
             variables: tuple[Variable, ...]) -> dict:
    """Symbol values for expressions: constants, design parameters, variables, level quantities."""
    values: dict = {c.name: c.value for c in envelope.constants}
    values.update(design)
    for v in variables:
        a = assignment[v.name]
        if v.kind == "continuous":
            values[v.name] = np.asarray(a, dtype=float)
        else:
            names = np.asarray(a)
            for q in v.quantities:
                table = {lv.name: dict(lv.quantities)[q] for lv in v.levels}
                values[q] = np.vectorize(table.__getitem__, otypes=[float])(names) if names.ndim else table[str(names)]
    return values


def evaluate_metric(envelope: Envelope, metric: Metric, design: dict[str, float],
                    assignment: dict) -> np.ndarray:
    """Evaluate a metric's model for design values and (arrays of) variable values."""
    variables = _variables_used(envelope, metric)
    values = _symbols(envelope, design, assignment, variables)
    model = MODELS[metric.model]
    kwargs = {name: expr.evaluate(values) for name, expr in metric.inputs}
    return np.asarray(model.function(**kwargs), dtype=float)


def worst_case(envelope: Envelope, metric: Metric, design: dict[str, float]) -> WorstCase:
    """Exhaustive corner search for one metric.

    Parameters
    ----------
    envelope : Envelope
    metric : Metric
    design : dict
        Value of every design parameter the metric uses (from the measurements).

    Returns
    -------
    WorstCase
        The worst value, its configuration, the margin to the limit, and the coverage by the
        tested construct.
    """
    variables = _variables_used(envelope, metric)
    space = corner_space(variables)
    shape = tuple(len(c) for _, c in space)
    idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), dtype=int)
    assignment = {v.name: np.asarray(choices, dtype=object if v.kind == "categorical" else float)[idx[i]]
                  for i, (v, choices) in enumerate(space)}
    values = np.broadcast_to(evaluate_metric(envelope, metric, design, assignment), (idx.shape[1],))
    if not np.all(np.isfinite(values)):
        raise ValueError(f"metric {metric.name}: the model is not finite at some corner")
    i = int(np.argmin(values) if metric.sense == "min" else np.argmax(values))
    worst = float(values[i])
    config = tuple((v.name, (float(assignment[v.name][i]) if v.kind == "continuous" else str(assignment[v.name][i])))
                   for v, _ in space)
    margin = worst - metric.limit if metric.sense == "min" else metric.limit - worst
    coverage = _coverage(envelope, metric, worst)
    return WorstCase(metric=metric.name, model=metric.model, value=worst, unit=metric.unit, limit=metric.limit,
                     sense=metric.sense, margin=margin, passed=margin >= 0, limiting_configuration=config,
                     method=f"exhaustive over {len(values)} corner configurations", evaluations=int(len(values)),
                     coverage=coverage)


def _coverage(envelope: Envelope, metric: Metric, design_worst: float) -> Coverage:
    cfg = dict(metric.tested.configuration)
    variables = _variables_used(envelope, metric)
    params = {p.name for p in envelope.parameters}
    design = {k: v for k, v in cfg.items() if k in params}
    assignment = {v.name: cfg[v.name] for v in variables}
    construct = float(evaluate_metric(envelope, metric, design, assignment))
    diff = design_worst - construct if metric.sense == "min" else construct - design_worst
    return Coverage(report=metric.tested.report, construct_model_value=construct,
                    measured_value=metric.tested.measured_value, covered=diff >= 0, margin=diff)


def worst_cases(envelope: Envelope, design: dict[str, float]) -> tuple[WorstCase, ...]:
    """Worst case of every metric of the envelope."""
    return tuple(worst_case(envelope, m, design) for m in envelope.metrics)
