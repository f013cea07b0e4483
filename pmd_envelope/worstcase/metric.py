"""Worst case of each performance metric of a design over the manufacturing variables.

For one design (its measured parameters fixed) each metric gets: the limiting configuration
(every variable's value), the worst value, its margin to the limit, the search method and its
evaluation count, the monotonicity check, the refinement (when the model is not monotone), the
coverage by the physically tested construct, a seeded Monte Carlo probability of missing the
limit, and one-at-a-time sensitivities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmd_envelope.envelope import Envelope, Metric
from pmd_envelope.resolution import at_resolution
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase.montecarlo import MonteCarlo, Sensitivities, monte_carlo, sensitivities
from pmd_envelope.worstcase.proof import Proof
from pmd_envelope.worstcase.reliability import RareEvent, rare_event
from pmd_envelope.worstcase.search import Monotonicity, Refinement, search
from pmd_envelope.worstcase.space import SearchSpace, build_search_space

__all__ = ["WorstCase", "Coverage", "worst_case", "worst_cases", "construct_value", "evaluate_metric",
           "format_configuration"]


def format_configuration(cfg) -> str:
    """``name=value, ...`` of a configuration (pairs of variable and value or level name)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """The design's worst case against the physically tested worst-case construct (same model)."""

    report: str
    construct_model_value: float
    measured_value: float
    covered: bool
    margin: float  # design worst minus construct, signed so that >= 0 means covered
    relative_margin: float | None  # margin / |construct model value| (None when that is 0)
    measured_to_model: float | None  # measured value of the construct / its model value (None when 0)
    construct_configuration: tuple[tuple[str, float | str], ...]

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["construct_configuration"] = dict(self.construct_configuration)
        return d


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
    exact: bool
    monotonicity: Monotonicity
    refinement: Refinement | None
    monte_carlo: MonteCarlo | None
    sensitivities: Sensitivities | None
    proof: Proof | None = None
    rare_event: RareEvent | None = None
    replaced_by: tuple[str, ...] = ()  # samples that found a worse value than the search, in order

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["limiting_configuration"] = dict(self.limiting_configuration)
        d["coverage"] = self.coverage.as_dict()
        d["replaced_by"] = list(self.replaced_by)
        for k in ("monotonicity", "refinement", "monte_carlo", "sensitivities", "proof", "rare_event"):
            d[k] = None if d[k] is None else d[k].as_dict()
        return d


def evaluate_metric(envelope: Envelope, metric: Metric, values: dict) -> float:
    """The metric's model at one configuration: a value for every parameter and variable it uses.

    Categorical variables are given by level name, continuous and coupled ones by value.
    """
    names = {p.name for p in envelope.parameters}
    space = build_search_space(envelope, metric, {k: float(v) for k, v in values.items() if k in names})
    return _at(space, values)


def _at(space: SearchSpace, values: dict) -> float:
    point = []
    for d in space.dims:
        x = values[d.name]
        point.append(np.asarray(d.levels.index(x) if not d.continuous else float(x)))
    return float(space.evaluate(point)[0])


def construct_value(envelope: Envelope, metric: Metric) -> float:
    """The model's value at the tested construct's configuration."""
    return evaluate_metric(envelope, metric, dict(metric.tested.configuration))


def _coverage(envelope: Envelope, metric: Metric, design_worst: float) -> Coverage:
    construct = construct_value(envelope, metric)
    # decided on the values as the record states them (see worst_case)
    diff = metric.margin(at_resolution(design_worst), at_resolution(construct))
    return Coverage(report=metric.tested.report, construct_model_value=construct,
                    measured_value=metric.tested.measured_value, covered=diff >= 0, margin=diff,
                    relative_margin=diff / abs(construct) if construct else None,
                    measured_to_model=metric.tested.measured_value / construct if construct else None,
                    construct_configuration=metric.tested.configuration)


def worst_case(envelope: Envelope, metric: Metric, design: dict[str, float],
               settings: Settings = DEFAULT_SETTINGS, *, rng=None, monte_carlo_samples: int | None = None) -> WorstCase:
    """Worst case of one metric for one design.

    Parameters
    ----------
    envelope : Envelope
    metric : Metric
    design : dict
        Value of every design parameter the metric uses (from the measurements) [glossary units].
    settings : Settings
        Search and Monte Carlo settings.
    rng : int, optional
        Seed of the monotonicity check, dense sample, Monte Carlo and importance sampling
        (``settings.rng_seed`` when None); recorded. Each metric i of the envelope and each stage
        s (0 search, 1 Monte Carlo, 2 importance sampling) draws from its own independent stream
        ``SeedSequence(seed, spawn_key=(i, s))``, the same as
        ``SeedSequence(seed).spawn(n)[i].spawn(3)[s]``, so metrics' samples are not correlated
        and adding a stage does not move the others' draws.
    monte_carlo_samples : int, optional
        0 skips Monte Carlo and the sensitivities (used by the envelope self-check).

    Returns
    -------
    WorstCase
        The worst value, its configuration, the margin to the limit, the coverage by the tested
        construct, the search evidence, the Monte Carlo probability and the sensitivities.
    """
    seed = settings.rng_seed if rng is None else rng
    index = next(i for i, m in enumerate(envelope.metrics) if m.name == metric.name)
    streams = [np.random.SeedSequence(seed, spawn_key=(index, s)) for s in range(3)]
    space = build_search_space(envelope, metric, design)
    found = search(space, settings, streams[0])
    worst, point, proof = found.value, found.point, found.proof
    config = space.configuration(point)
    mc = sens = rare = None
    replaced: list[str] = []
    if monte_carlo_samples != 0:
        mc = monte_carlo(space, settings, streams[1], samples=monte_carlo_samples)
        sens = sensitivities(space)
        # no contradiction survives: a sample inside the box worse than the reported worst case
        # replaces it (and voids the proof when it lies beyond the proven bound)
        for value, cfg, source in _samples(space, mc, sens):
            if space.sign * value < space.sign * worst:
                worst, config = value, cfg
                replaced.append(source)
                if proof is not None:
                    proof = proof.with_found(value, tuple(v for _, v in cfg), source)
        rare = rare_event(space, settings, streams[2], monte_carlo=mc,
                          limit_met_proven=proof is not None and proof.limit_met_proven and proof.contradicted_by is None)
    # decided on the value as the record states it (pmd_envelope.resolution), so ``passed`` follows
    # from the written value and limit; ``value`` keeps full precision until the record rounds it
    margin = metric.margin(at_resolution(worst), metric.limit)
    method = found.method + "".join(f"; replaced by a worse {s} sample" for s in replaced)
    return WorstCase(metric=metric.name, model=metric.model, value=worst, unit=metric.unit, limit=metric.limit,
                     sense=metric.sense, margin=margin, passed=margin >= 0,
                     limiting_configuration=config, method=method,
                     evaluations=found.evaluations, coverage=_coverage(envelope, metric, worst),
                     exact=proof is not None and proof.proven,
                     monotonicity=found.monotonicity, refinement=found.refinement, monte_carlo=mc,
                     sensitivities=sens, proof=proof, rare_event=rare, replaced_by=tuple(replaced))


def _samples(space: SearchSpace, mc: MonteCarlo, sens: Sensitivities):
    """(value, configuration, source) of the sampled points inside the box, worst first per source."""
    out = []
    if mc is not None and mc.worst_inside_box is not None:
        out.append((mc.worst_inside_box, mc.worst_inside_configuration, "Monte Carlo"))
    if sens is not None:
        base = dict(sens.baseline_configuration)
        pts = [(sens.baseline, base)]
        for s in sens.variables:
            pts += [(s.metric_at_low, base | {s.variable: s.low}), (s.metric_at_high, base | {s.variable: s.high})]
        value, cfg = min(pts, key=lambda p: space.sign * p[0])
        out.append((value, tuple((d.name, cfg[d.name]) for d in space.dims), "sensitivity"))
    return out


def worst_cases(envelope: Envelope, design: dict[str, float], settings: Settings = DEFAULT_SETTINGS,
                **kwargs) -> tuple[WorstCase, ...]:
    """Worst case of every metric of the envelope."""
    return tuple(worst_case(envelope, m, design, settings, **kwargs) for m in envelope.metrics)
