"""The batch summary: one table row per case and checked item, as CSV and Parquet, and ``batch.json``.

Rows (columns :data:`COLUMNS`), sorted by case id, case path, kind and item so the same batch
gives the same table whatever order its cases finished in:

* ``parameter``: one check of a design or scan parameter (value, limits, U, margin, decision);
* ``metric``: one performance metric's worst case (value, limit as ``min`` or ``max``, margin,
  the limiting configuration in ``worst_case``; ``conforming`` only when the worst case meets the
  limit *and* the tested construct covers it), or a metric not evaluated, with its reason;
* ``finding``: any other reason of the verdict (draft envelope, integrity gate, scan series);
* ``case``: a case that gave no record (bad input, internal error, worker died), with its reason.

Numbers are copied from the records, which state them at 7 significant digits; a number that
does not exist is empty (CSV) or null (Parquet), never NaN in a record.
"""

from __future__ import annotations

import io

from pmd_envelope.worstcase.metric import format_configuration

__all__ = ["COLUMNS", "FLOAT_COLUMNS", "summary_rows", "summary_frame", "csv_bytes", "parquet_bytes"]

COLUMNS = ("case_id", "case", "verdict", "kind", "item", "statistic", "value", "unit", "min", "max", "uncertainty",
           "margin", "decision", "worst_case", "reason", "record_id", "content_sha256")
FLOAT_COLUMNS = ("value", "min", "max", "uncertainty", "margin")
_KIND_ORDER = {"case": 0, "parameter": 1, "metric": 2, "finding": 3}


def _row(**fields) -> dict:
    return {c: fields.get(c) for c in COLUMNS}


def case_rows(case: str, record: dict | None, failure: str | None) -> list[dict]:
    """The rows of one case: its checks, worst cases and other findings, or one ``case`` row when it failed."""
    if record is None:
        return [_row(case=case, verdict="failed", kind="case", decision="failed", reason=failure)]
    base = {"case": case, "case_id": record["case_id"], "verdict": record["verdict"],
            "record_id": record["record_id"], "content_sha256": record["integrity"]["content_sha256"]}
    rows = [_row(**base, kind="parameter", item=c["parameter"], statistic=c["statistic"], value=c["value"],
                 unit=c["unit"], min=c["min"], max=c["max"], uncertainty=c["uncertainty"], margin=c["margin"],
                 decision=c["decision"], reason=c["reason"]) for c in record["checks"]]
    metrics = set()
    for w in record["worst_case"]:
        metrics.add(w["metric"])
        cov = w["coverage"]
        ok = w["passed"] and cov["covered"]
        rows.append(_row(**base, kind="metric", item=w["metric"], statistic="worst_case", value=w["value"],
                         unit=w["unit"], min=w["limit"] if w["sense"] == "min" else None,
                         max=w["limit"] if w["sense"] == "max" else None, margin=w["margin"],
                         decision="conforming" if ok else "nonconforming",
                         worst_case=format_configuration(sorted(w["limiting_configuration"].items())),
                         reason=f"worst case {'meets' if w['passed'] else 'misses'} the limit; "
                                f"{'covered' if cov['covered'] else 'NOT covered'} by the tested construct "
                                f"{cov['report']}"))
    checked = {c["parameter"] for c in record["checks"]}
    for r in record["reasons"]:
        if r["item"] in checked or r["item"] in metrics:
            continue  # already a row of its own
        metric = r["decision"] == "not_evaluated" and r["item"] != "worst_case"
        rows.append(_row(**base, kind="metric" if metric else "finding", item=r["item"],
                         statistic="worst_case" if metric else None, decision=r["decision"], reason=r["detail"]))
    return rows


def summary_rows(cases) -> list[dict]:
    """Rows of every case, sorted: ``cases`` is an iterable of ``(case path, record or None, failure or None)``."""
    rows = [r for case, record, failure in cases for r in case_rows(case, record, failure)]
    return sorted(rows, key=lambda r: (r["case_id"] or "", r["case"], _KIND_ORDER[r["kind"]], r["item"] or "",
                                       r["statistic"] or "", r["reason"] or ""))


def summary_frame(rows: list[dict]):
    """The rows as a pandas DataFrame with fixed column types (text, or float64 with missing as NaN/null)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in COLUMNS:
        frame[c] = frame[c].astype("float64" if c in FLOAT_COLUMNS else "str")
    return frame


def csv_bytes(frame) -> bytes:
    """UTF-8 CSV, a header line then one line per row; reals as Python's shortest round-trip repr."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def parquet_bytes(frame) -> bytes:
    """Parquet (pyarrow), no index; missing values are nulls."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()
