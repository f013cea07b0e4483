"""Envelope self-verification: the envelope's own worst case against its tested construct.

FDA's additive-manufacturing guidance asks that the worst case of the envelope be the one
tested; IMDRF N58 asks for the limiting configurations. Here every design parameter a metric
uses spans its envelope limits, times the manufacturing box, and the same search as for a
design finds the limiting configuration. The tested construct covers the envelope when the
model puts it at (or beyond) that worst case.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmd_envelope.envelope import Envelope, Metric
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase.metric import construct_value, format_configuration
from pmd_envelope.worstcase.search import search
from pmd_envelope.worstcase.space import build_search_space

__all__ = ["EnvelopeWorstCase", "envelope_worst_case", "envelope_worst_cases"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeWorstCase:
    """Worst case of one metric over the whole envelope, and whether the tested construct covers it.

    ``coverage_margin`` is signed so that >= 0 means the construct is at or beyond the worst
    case (covered); ``limit_margin`` so that >= 0 means every design in the envelope meets the
    limit in every manufacturing configuration.
    """

    metric: str
    model: str
    unit: str
    limit: float
    sense: str
    value: float | None  # None (with every derived field) when the envelope leaves the worst case unbounded
    limiting_configuration: tuple[tuple[str, float | str], ...]
    method: str
    evaluations: int
    exact: bool
    limit_margin: float | None
    meets_limit: bool | None
    report: str
    construct_model_value: float
    construct_configuration: tuple[tuple[str, float | str], ...]
    covered: bool | None
    coverage_margin: float | None
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        for k in ("limiting_configuration", "construct_configuration"):
            d[k] = dict(d[k])
        d["warnings"], d["notes"] = list(self.warnings), list(self.notes)
        return d


def envelope_worst_case(envelope: Envelope, metric: Metric, settings: Settings = DEFAULT_SETTINGS,
                        rng=None) -> EnvelopeWorstCase:
    """The envelope's worst case of one metric.

    Parameters
    ----------
    envelope : Envelope
    metric : Metric
    settings : Settings
    rng : int, optional
        Seed of the search's sampled checks (``settings.rng_seed`` when None).

    Returns
    -------
    EnvelopeWorstCase
        With a warning when the tested construct is not at or beyond the worst case, and a note
        when the worst case misses the limit (designs inside the envelope can then fail the
        metric: each design's own worst case decides at validation).
    """
    construct = construct_value(envelope, metric)
    open_ended = [p for p in envelope.parameters if p.name in metric.symbols and (p.min is None or p.max is None)]
    if open_ended:
        p = open_ended[0]
        side = "min" if p.min is None else "max"
        return EnvelopeWorstCase(
            metric=metric.name, model=metric.model, unit=metric.unit, limit=metric.limit, sense=metric.sense,
            value=None, limiting_configuration=(), method="not searched", evaluations=0, exact=False,
            limit_margin=None, meets_limit=None, report=metric.tested.report, construct_model_value=construct,
            construct_configuration=metric.tested.configuration, covered=None, coverage_margin=None, notes=(),
            warnings=(f"{metric.name}: the envelope's worst case cannot be found: parameter {p.name} has no {side} "
                      f"(parameters.{p.name}); add the limit so the tested construct can be shown to cover it",))
    space = build_search_space(envelope, metric, envelope_parameters=True)
    found = search(space, settings, settings.rng_seed if rng is None else rng)
    worst = found.value
    tol = settings.search_rel_tol * max(abs(worst), abs(construct))
    # covered: the construct is at least as weak as the worst case (min) / as large (max)
    cov = metric.margin(worst, construct)
    covered = cov >= -tol
    lim = metric.margin(worst, metric.limit)
    cfg = space.configuration(found.point)
    warnings, notes = [], []
    if not covered:
        warnings.append(
            f"{metric.name}: the tested construct {metric.tested.report} ({construct:.4g} {metric.unit} by the model, "
            f"at {format_configuration(metric.tested.configuration)}) is not at or beyond the envelope's worst case "
            f"({worst:.4g} {metric.unit} at {format_configuration(cfg)}): the test does not cover the envelope; test a construct at "
            f"the limiting configuration or narrow the envelope")
    if lim < 0:
        notes.append(
            f"{metric.name}: the envelope's worst case {worst:.4g} {metric.unit} "
            f"{'is below' if metric.sense == 'min' else 'exceeds'} the limit {metric.limit:g} {metric.unit}: "
            f"some designs inside the envelope fail this metric; each design's own worst case is checked at validation")
    if not found.exact:
        p = found.proof
        notes.append(f"{metric.name}: the worst case is not proven ({p.reason if p else 'no enclosure'}); the true worst "
                     f"value lies in the enclosure [{'unbounded' if p is None or p.bound is None else f'{p.bound:.7g}'}, "
                     f"{worst:.7g}] {metric.unit}" if metric.sense == "min" else
                     f"{metric.name}: the worst case is not proven ({p.reason if p else 'no enclosure'}); the true worst "
                     f"value lies in the enclosure [{worst:.7g}, "
                     f"{'unbounded' if p is None or p.bound is None else f'{p.bound:.7g}'}] {metric.unit}")
    return EnvelopeWorstCase(
        metric=metric.name, model=metric.model, unit=metric.unit, limit=metric.limit, sense=metric.sense,
        value=worst, limiting_configuration=cfg, method=found.method, evaluations=found.evaluations,
        exact=found.exact, limit_margin=lim, meets_limit=lim >= 0, report=metric.tested.report,
        construct_model_value=construct, construct_configuration=metric.tested.configuration, covered=covered,
        coverage_margin=cov, warnings=tuple(warnings), notes=tuple(notes))


def envelope_worst_cases(envelope: Envelope, settings: Settings = DEFAULT_SETTINGS, rng=None) -> tuple[EnvelopeWorstCase, ...]:
    """The envelope's worst case of every metric."""
    return tuple(envelope_worst_case(envelope, m, settings, rng) for m in envelope.metrics)
