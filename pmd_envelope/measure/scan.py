"""Design parameters read from the case: the planning scan and the HCP request."""

from __future__ import annotations

import datetime as _dt

from pmd_envelope.case import Case
from pmd_envelope.measure.records import Measurement

__all__ = ["measure_case"]


def measure_case(case: Case) -> tuple[Measurement, ...]:
    """Slice thickness and pixel spacing from the scan; scan age at the planned date of use.

    The age is counted to the planned date of use in the HCP request, not to today, so the same
    case always gives the same record (FDA AM guidance: time between imaging and use).
    """
    age = (_dt.date.fromisoformat(case.request.planned_use) - _dt.date.fromisoformat(case.scan.acquired)).days
    return (
        Measurement(parameter="slice_thickness", value=case.scan.slice_thickness, unit="mm", method="scan_header"),
        Measurement(parameter="pixel_spacing", value=case.scan.pixel_spacing, unit="mm", method="scan_header"),
        Measurement(parameter="scan_age", value=float(age), unit="d", method="request_dates",
                    notes=f"{case.scan.acquired} to planned use {case.request.planned_use}"),
    )
