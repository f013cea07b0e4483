"""The measurement record shared by every measurement family."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Measurement", "Witness"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Witness:
    """Where a reported extreme was measured, so a reviewer can re-measure it.

    ``point`` is the start of the measurement on the surface, ``opposite`` where it ended, and
    ``faces`` the ids of the start and end faces in the mesh as read.
    """

    point: tuple[float, float, float]
    opposite: tuple[float, float, float]
    faces: tuple[int, int]
    distance: float

    def as_dict(self) -> dict:
        return {"point": list(self.point), "opposite": list(self.opposite), "faces": list(self.faces),
                "distance": self.distance}


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One measured design parameter.

    ``value`` is the headline figure the envelope and the models use; ``statistics`` holds the
    other statistics of a distribution-valued measurement (``min``, ``p01``, ``median``, ...).

    A parameter that does not apply to a design (no concave surface to give a radius of
    curvature, say) has ``value`` None and ``reason`` saying why; a statistic that does not apply
    is None too. Every number is finite: an ``inf`` or ``NaN`` never reaches a record.
    """

    parameter: str
    value: float | None
    unit: str
    method: str
    statistics: tuple[tuple[str, float | None], ...] = ()
    witness: Witness | None = None
    notes: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.value is None) != bool(self.reason):
            raise ValueError(f"{self.parameter}: a measurement has a value or a reason why not, never both or neither")
        for name, x in (("value", self.value), *self.statistics):
            if x is not None and not math.isfinite(x):
                raise ValueError(f"{self.parameter}: {name} is {x}; a statistic that does not apply is None "
                                 "with the reason")

    def statistic(self, name: str) -> float | None:
        if name == "value" or self.value is None:  # nothing measured: no statistic applies either
            return self.value
        for k, v in self.statistics:
            if k == name:
                return v
        raise KeyError(f"{self.parameter} has no statistic '{name}'")

    def as_dict(self) -> dict:
        d = {"parameter": self.parameter, "value": self.value, "unit": self.unit, "method": self.method,
             "statistics": dict(self.statistics)}
        if self.witness is not None:
            d["witness"] = self.witness.as_dict()
        if self.notes:
            d["notes"] = self.notes
        if self.reason:
            d["reason"] = self.reason
        return d
