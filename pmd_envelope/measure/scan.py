"""Design parameters read from the case: the planning scan and the HCP request.

The scan's numbers come from its DICOM series when the case names one (``[scan] series``),
else from the numbers typed in ``case.toml``; the record says which (``scan.source``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from pmd_envelope.case import Case, Scan
from pmd_envelope.errors import CaseError
from pmd_envelope.measure.records import Measurement

__all__ = ["measure_case", "resolve_scan", "TYPED", "FROM_SERIES"]

TYPED = "typed"
FROM_SERIES = "dicom_series"
_TOLERANCE_MM = 1e-6  # a typed number agrees with a header DS value when equal to 1e-6 mm (DS: 16 characters)


def resolve_scan(case: Case, series, case_file: Path) -> Scan:
    """The scan as validated: the series' header values, each typed number checked against them.

    Parameters
    ----------
    case : Case
    series : pmd_envelope.scan.series.Series or None
        The case's series, read; None when the case names none (typed numbers are used as typed).
    case_file : Path
        The ``case.toml``, named in errors.

    Raises
    ------
    CaseError
        A typed number disagrees with the series (both values named), or a value is in neither.
    """
    typed = case.scan
    if series is None:
        return typed
    header = {"modality": series.modality, "acquired": series.acquired,
              "slice_thickness": series.slice_thickness, "pixel_spacing": max(series.pixel_spacing)}
    attr = {"modality": "Modality", "acquired": "AcquisitionDate/SeriesDate", "slice_thickness": "SliceThickness",
            "pixel_spacing": "PixelSpacing (larger of the two)"}
    out = {}
    for k, h in header.items():
        t = getattr(typed, k)
        if t is not None and h is not None:
            same = abs(t - h) <= _TOLERANCE_MM if isinstance(t, float) else t == h
            if not same:
                raise CaseError(case_file, f"typed {k} {t!s} disagrees with the series' {attr[k]} {h!s} "
                                           f"({series.folder}); remove the typed value or correct it", f"scan.{k}")
        v = h if h is not None else t
        if v is None:
            raise CaseError(case_file, f"{k} is neither typed nor in the series' headers ({attr[k]}); type it under "
                                       "[scan]", f"scan.{k}")
        out[k] = v
    if out["modality"] not in ("CT", "CBCT", "MR"):
        raise CaseError(case_file, f"series modality '{out['modality']}' is not a planning scan (CT, CBCT or MR)",
                        "scan.series")
    if out["acquired"] > case.request.received:
        raise CaseError(case_file, f"the series was acquired {out['acquired']}, after the request was received "
                                   f"{case.request.received}", "scan.series")
    return dataclasses.replace(typed, **out)


def measure_case(case: Case, scan: Scan | None = None, series=None) -> tuple[Measurement, ...]:
    """Slice thickness and pixel spacing from the scan; scan age at the planned date of use.

    The age is counted to the planned date of use in the HCP request, not to today, so the same
    case always gives the same record (FDA AM guidance: time between imaging and use).

    With a series, ``slice_thickness`` is the larger of the SliceThickness attribute and the
    median slice spacing along the normal (a stack whose slices are farther apart than they are
    thick resolves no better than its spacing); both are statistics, with the largest gap.
    """
    scan = case.scan if scan is None else scan
    age = (_dt.date.fromisoformat(case.request.planned_use) - _dt.date.fromisoformat(scan.acquired)).days
    if series is None:
        thick = Measurement(parameter="slice_thickness", value=scan.slice_thickness, unit="mm", method="scan_header",
                            notes="typed in case.toml")
        pixel = Measurement(parameter="pixel_spacing", value=scan.pixel_spacing, unit="mm", method="scan_header",
                            notes="typed in case.toml")
    else:
        attr = series.slice_thickness
        thick = Measurement(parameter="slice_thickness", value=max(attr or 0.0, series.spacing), unit="mm",
                            method="scan_header",
                            statistics=(("attribute", attr), ("spacing", series.spacing),
                                        ("largest_gap", series.largest_gap)),
                            notes="DICOM series: larger of SliceThickness and the median spacing of "
                                  "ImagePositionPatient along the slice normal")
        pixel = Measurement(parameter="pixel_spacing", value=max(series.pixel_spacing), unit="mm",
                            method="scan_header",
                            statistics=(("row", series.pixel_spacing[0]), ("column", series.pixel_spacing[1])),
                            notes="DICOM series: larger of the two PixelSpacing values")
    return (
        thick, pixel,
        Measurement(parameter="scan_age", value=float(age), unit="d", method="request_dates",
                    notes=f"{scan.acquired} to planned use {case.request.planned_use}"),
    )
