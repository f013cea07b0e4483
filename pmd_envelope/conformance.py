"""Conformance of each measured parameter to its envelope limits (ISO 14253-1 decision rules).

Conformance is proven only inside the limits narrowed by the expanded measurement uncertainty U;
nonconformance only outside the limits widened by U; in between the result is *indeterminate*,
which is not a pass and is reported as such (a guard band, never rounded to a pass).

The margin is taken at the record's resolution (:mod:`pmd_envelope.resolution`) before it is
compared with U, so the decision follows from the numbers the record states: a reader who
recomputes the margin from the written value and limits, and rounds it the same way, reaches the
same decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmd_envelope.envelope import Envelope, Parameter
from pmd_envelope.measure.records import Measurement
from pmd_envelope.resolution import at_resolution

__all__ = ["Check", "decide", "check_parameters", "CONFORMING", "NONCONFORMING", "INDETERMINATE", "NOT_EVALUATED"]

CONFORMING = "conforming"
NONCONFORMING = "nonconforming"
INDETERMINATE = "indeterminate"
NOT_EVALUATED = "not_evaluated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One parameter statistic against one or both limits.

    ``margin`` is the distance [unit] from the value to the nearest limit, positive inside the
    limits; conformance is proven when ``margin >= uncertainty``.
    """

    parameter: str
    statistic: str
    value: float | None
    unit: str
    min: float | None
    max: float | None
    uncertainty: float
    margin: float | None
    decision: str
    reason: str

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def decide(value: float, lo: float | None, hi: float | None, u: float) -> tuple[str, float]:
    """ISO 14253-1 decision for ``value`` against ``[lo, hi]`` with expanded uncertainty ``u``.

    Returns
    -------
    decision : str
        ``conforming``, ``nonconforming`` or ``indeterminate``.
    margin : float
        Distance to the nearest limit, positive inside, at the record's resolution.

    Examples
    --------
    >>> decide(1.10, 1.0, 3.0, 0.05)
    ('conforming', 0.1)
    >>> decide(1.02, 1.0, 3.0, 0.05)[0]
    'indeterminate'
    >>> decide(0.94, 1.0, 3.0, 0.05)[0]
    'nonconforming'
    """
    margins = []
    if lo is not None:
        margins.append(value - lo)
    if hi is not None:
        margins.append(hi - value)
    margin = at_resolution(min(margins))
    if margin >= u:
        return CONFORMING, margin
    if margin < -u:
        return NONCONFORMING, margin
    return INDETERMINATE, margin


def _check_one(p: Parameter, m: Measurement | None, statistic: str, lo, hi) -> Check:
    if m is None:
        return Check(parameter=p.name, statistic=statistic, value=None, unit=p.unit, min=lo, max=hi,
                     uncertainty=p.uncertainty, margin=None, decision=NOT_EVALUATED,
                     reason=f"{p.name} could not be measured (see the integrity gate)")
    value = m.statistic(statistic)
    if value is None:  # measured, but the parameter does not apply to this design: never a pass
        stat = "" if statistic == "value" else f" ({statistic})"
        return Check(parameter=p.name, statistic=statistic, value=None, unit=p.unit, min=lo, max=hi,
                     uncertainty=p.uncertainty, margin=None, decision=INDETERMINATE,
                     reason=f"{p.name}{stat} could not be measured on this design: {m.reason or 'statistic not available'}")
    decision, margin = decide(value, lo, hi, p.uncertainty)
    limits = " and ".join(s for s in (f">= {lo:g}" if lo is not None else "", f"<= {hi:g}" if hi is not None else "") if s)
    stat = "" if statistic == "value" else f" ({statistic})"
    reason = {
        CONFORMING: f"{p.name}{stat} {value:.4g} {p.unit} is {limits} {p.unit} by at least U = {p.uncertainty:g}",
        NONCONFORMING: f"{p.name}{stat} {value:.4g} {p.unit} is outside {limits} {p.unit} beyond U = {p.uncertainty:g}",
        INDETERMINATE: f"{p.name}{stat} {value:.4g} {p.unit} is within U = {p.uncertainty:g} of the limit ({limits} {p.unit}): "
                       "conformance cannot be proven",
    }[decision]
    return Check(parameter=p.name, statistic=statistic, value=value, unit=p.unit, min=lo, max=hi,
                 uncertainty=p.uncertainty, margin=margin, decision=decision, reason=reason)


def check_parameters(envelope: Envelope, measurements: dict[str, Measurement]) -> tuple[Check, ...]:
    """Check every envelope parameter; one check per distinct statistic the limits use."""
    out = []
    for p in envelope.parameters:
        m = measurements.get(p.name)
        if p.min is not None and p.max is not None and p.lower_statistic == p.upper_statistic:
            out.append(_check_one(p, m, p.lower_statistic, p.min, p.max))
            continue
        if p.min is not None:
            out.append(_check_one(p, m, p.lower_statistic, p.min, None))
        if p.max is not None:
            out.append(_check_one(p, m, p.upper_statistic, None, p.max))
    return tuple(out)
