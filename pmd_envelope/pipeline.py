"""The validation pipeline: case + mesh + envelope -> measurements -> checks -> worst case -> record.

:func:`validate` composes the stages and returns the evidence record (a plain dict ready for
canonical JSON) without touching the disk except to read the inputs; :func:`write_evidence`
writes the record and the report.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pmd_envelope.case import Case, load_case, resolve_case_path
from pmd_envelope.conformance import CONFORMING, Check, check_parameters
from pmd_envelope.envelope import Envelope, find_envelope, load_envelope
from pmd_envelope.errors import CaseError
from pmd_envelope.measure.core import MeshMeasurements, measure_design
from pmd_envelope.measure.records import Measurement
from pmd_envelope.measure.scan import FROM_SERIES, TYPED, measure_case, resolve_scan
from pmd_envelope.mesh_io import load_mesh
from pmd_envelope.record import SCHEMA_VERSION, finalise_record, software_versions
from pmd_envelope.resolution import at_resolution
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase import WorstCase, worst_case
from pmd_envelope.worstcase.metric import format_configuration

__all__ = ["Validation", "validate", "write_evidence", "locate_envelope_dir", "worst_cases_of_design",
           "decision_reasons"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Validation:
    """The outcome of :func:`validate`: the record and the intermediate stage records."""

    record: dict
    case: Case
    envelope: Envelope
    mesh: MeshMeasurements
    checks: tuple[Check, ...]
    worst: tuple[WorstCase, ...]

    @property
    def verdict(self) -> str:
        return self.record["verdict"]


def locate_envelope_dir(case_folder: Path, envelope_id: str) -> Path:
    """The nearest ``envelopes/`` folder holding ``envelope_id``: the case's ancestors, then ``./envelopes``."""
    for folder in [case_folder.resolve(), *case_folder.resolve().parents]:
        if (folder / "envelopes" / envelope_id).is_dir():
            return folder / "envelopes"
    return Path("envelopes")


def validate(case_path: str | Path, *, envelope_dir: str | Path | None = None,
             settings: Settings = DEFAULT_SETTINGS, now: _dt.datetime | None = None) -> Validation:
    """Validate one case against the envelope it claims.

    Parameters
    ----------
    case_path : str or Path
        A case folder or its ``case.toml``.
    envelope_dir : str or Path, optional
        Folder of envelope files (``<id>/<version>.toml``); found from the case when omitted.
    settings : Settings
        Measurement settings, copied into the record.
    now : datetime, optional
        Time stamp of the record (UTC); the current time when omitted.

    Returns
    -------
    Validation
        ``record["verdict"]`` is ``conforming`` only when the mesh passes the integrity gate
        (every gate check evaluated: one that did not run makes the gate indeterminate),
        every check is proven conforming, and every metric's worst case meets its limit and is
        covered by the tested construct.

    Raises
    ------
    PmdEnvelopeError
        When an input cannot be read or trusted (bad file, malformed envelope, unknown unit).
    """
    case = load_case(case_path)
    case_file = resolve_case_path(case_path)
    env_dir = Path(envelope_dir) if envelope_dir is not None else locate_envelope_dir(case_file.parent, case.envelope_id)
    env_path = find_envelope(env_dir, case.envelope_id, case.envelope_version)
    envelope = load_envelope(env_path)
    if (envelope.id, envelope.version) != (case.envelope_id, case.envelope_version):
        raise CaseError(case_file, f"claims envelope {case.envelope_id} {case.envelope_version} but {env_path} "
                                   f"is {envelope.id} {envelope.version}", "envelope")
    series = _read_series(case, case_file)
    scan = resolve_scan(case, series, case_file)
    mesh = load_mesh(case.design_mesh, case.design_units, weld_relative_tolerance=settings.weld_relative_tolerance)
    anatomy = (load_mesh(case.anatomy_mesh, case.anatomy_units, weld_relative_tolerance=settings.weld_relative_tolerance)
               if case.anatomy_mesh is not None else None)
    mm = measure_design(mesh, settings, envelope, anatomy=anatomy, plan=case.plan)
    # decide on the numbers the record states: each value at the record's resolution
    scan_fit, scan_drawing = _scan_fit(mesh, mm, series, case, envelope, settings)
    measurements = {m.parameter: _at_resolution(m) for m in mm.measurements + measure_case(case, scan, series) + scan_fit}
    checks = check_parameters(envelope, measurements)
    worst: tuple[WorstCase, ...] = ()
    unmeasured: list[dict] = []
    if mm.thickness is not None:
        worst, unmeasured = worst_cases_of_design(envelope, measurements, settings)

    reasons = _reasons(envelope, mm, checks, worst) + unmeasured
    if series is not None:
        reasons += [{"item": f"scan_series.{f.name}", "decision": "nonconforming", "detail": f.detail}
                    for f in series.findings if not f.passed]
    inputs = [
        {"role": "case", "path": case.case_file.path, "sha256": case.case_file.sha256},
        {"role": "design_mesh", "path": _rel(case.design_mesh, case_file.parent), "sha256": mesh.sha256,
         "units": case.design_units},
        {"role": "envelope", "path": f"{envelope.id}/{envelope.version}.toml", "sha256": envelope.sha256},
    ]
    if anatomy is not None:
        inputs.append({"role": "anatomy_mesh", "path": _rel(case.anatomy_mesh, case_file.parent),
                       "sha256": anatomy.sha256, "units": case.anatomy_units})
    if series is not None:
        inputs.append({"role": "scan_series", "path": series.folder, "sha256": series.content_sha256,
                       "files": len(series.files)})
    content = {
        "schema_version": SCHEMA_VERSION,
        "case_id": case.case_id,
        "patient_ref": case.patient_ref,
        "design_iteration": case.design_iteration,
        "designer": case.designer,
        "physician_approval_ref": case.physician_approval_ref,
        "device": {"family": envelope.device_family, "title": envelope.title, "material": envelope.material,
                   "process": envelope.process},
        "verdict": CONFORMING if not reasons else "nonconforming",
        "reasons": reasons,
        "envelope": {"id": envelope.id, "version": envelope.version, "sha256": envelope.sha256,
                     "status": envelope.status},
        "request": {"id": case.request.id, "received": case.request.received,
                    "planned_use": case.request.planned_use, "characteristics": dict(case.request.characteristics)},
        "scan": _scan_block(scan, series),
        "inputs": inputs,
        "software": software_versions(),
        "settings": settings.as_dict(),
        "retention": {"implantable": envelope.implantable, "years": envelope.retention_years,
                      "basis": "IMDRF N58: at least 15 years for implantable devices, 5 years otherwise"},
        "mesh_integrity": mm.integrity.as_dict(),
        "measurements": [m.as_dict() for m in measurements.values()],
        "checks": [c.as_dict() for c in checks],
        "worst_case": [w.as_dict() for w in worst],
        "thickness_map": _thickness_map(mesh.vertices, mesh.faces, mm),
    }
    if series is not None:  # what the report's scan page draws (records without a series have no key)
        content["scan_fit"] = scan_drawing
    if case.plan:  # the plan the design was compared with, as typed (records of cases without one have no key)
        content["plan"] = _plan_block(case.plan)
    if mm.holes:  # what the report's witness page draws (records of designs without holes have no key)
        content["hole_pattern"] = _hole_pattern(mm)
    record = finalise_record(content, now=now)
    return Validation(record=record, case=case, envelope=envelope, mesh=mm, checks=checks, worst=worst)


def worst_cases_of_design(envelope: Envelope, measurements: dict[str, Measurement],
                          settings: Settings = DEFAULT_SETTINGS) -> tuple[tuple[WorstCase, ...], list[dict]]:
    """Each metric's worst case for a design, from its measurements as the record states them.

    A metric that uses a design parameter without a measured value is not evaluated; it gets a
    ``not_evaluated`` reason instead (never a pass). Shared by :func:`validate` and
    :mod:`pmd_envelope.impact` (which re-runs it on a record's stored measurements), so both
    decide by the same rule.

    Returns
    -------
    (worst cases, reasons of the metrics not evaluated)
    """
    names = {p.name for p in envelope.parameters}
    design = {p: m.value for p, m in measurements.items() if m.value is not None}
    worst: tuple[WorstCase, ...] = ()
    unmeasured: list[dict] = []
    for metric in envelope.metrics:
        missing = sorted((metric.symbols & names) - set(design))
        if missing:
            unmeasured.append({"item": metric.name, "decision": "not_evaluated",
                               "detail": f"worst case not evaluated: the design parameter {missing[0]} could not be "
                                         f"measured on this design ({_why(measurements.get(missing[0]))})"})
        else:
            worst += (worst_case(envelope, metric, design, settings),)
    return worst, unmeasured


def _read_series(case: Case, case_file: Path):
    if case.scan.series is None:
        return None
    from pmd_envelope.scan.series import read_series

    return read_series(case.scan.series, salt=case.patient_ref, label=_rel(case.scan.series, case_file.parent))


def _scan_fit(mesh, mm: MeshMeasurements, series, case: Case, envelope: Envelope, settings: Settings,
              ) -> tuple[tuple, dict | None]:
    """``scan_fit_gap`` and ``scan_contact_fraction`` when the envelope limits them (else nothing),
    and the drawing of the fit for the report (None when not measured)."""
    params = {p.name: p for p in envelope.parameters}
    if not {"scan_fit_gap", "scan_contact_fraction"} & set(params):
        return (), None
    from pmd_envelope.scan.bone import METHOD, fit_scan
    from pmd_envelope.scan.series import DEFAULT_SCAN_SETTINGS

    gap_p = params.get("scan_fit_gap")
    limit = gap_p.max if gap_p is not None and gap_p.max is not None else settings.anatomy_gap_limit_mm
    threshold = next((c.value for c in envelope.constants if c.name == "scan_bone_threshold"), None)
    why = ("the case names no DICOM series ([scan] series)" if series is None else
           "the envelope gives no bone threshold ([constants.scan_bone_threshold], HU)" if threshold is None else
           "the design mesh failed the integrity gate" if mm.thickness is None else "")
    if why:
        return (Measurement(parameter="scan_fit_gap", value=None, unit="mm", method=METHOD, reason=why),
                Measurement(parameter="scan_contact_fraction", value=None, unit="1", method=METHOD, reason=why)), None
    fit = fit_scan(mesh, series, case.scan.series, threshold_hu=threshold, gap_limit=limit,
                   contact_angle_deg=DEFAULT_SCAN_SETTINGS.contact_angle_deg, settings=DEFAULT_SCAN_SETTINGS)
    return (fit.gap, fit.fraction), fit.drawing


def _scan_block(scan, series) -> dict:
    block = {"modality": scan.modality, "acquired": scan.acquired, "slice_thickness": scan.slice_thickness,
             "pixel_spacing": scan.pixel_spacing, "source": TYPED if series is None else FROM_SERIES}
    if series is not None:
        from pmd_envelope.scan.series import DEFAULT_SCAN_SETTINGS, UID_SALT_BASIS

        block["series"] = {"path": series.folder, "files": len(series.files), "content_sha256": series.content_sha256,
                           "series_uid_hmac": series.series_uid_hash, "uid_salt": UID_SALT_BASIS,
                           "header": series.header_dict(), "findings": [f.as_dict() for f in series.findings],
                           "settings": DEFAULT_SCAN_SETTINGS.as_dict()}
    return block


def _plan_block(plan) -> dict:
    """The case's ``[plan]`` as plain JSON values (lists, not tuples)."""
    rp = plan["resection_plane"]
    return {"length_unit": plan["length_unit"],
            "resection_plane": {"point": list(rp["point"]), "normal": list(rp["normal"])}}


def _at_resolution(m: Measurement) -> Measurement:
    """The measurement as the record states it (value and statistics at the record's resolution)."""
    return dataclasses.replace(m, value=None if m.value is None else at_resolution(m.value),
                               statistics=tuple((k, None if v is None else at_resolution(v)) for k, v in m.statistics))


def _why(m) -> str:
    return "not measured" if m is None else m.reason


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name


def _reasons(envelope: Envelope, mm: MeshMeasurements, checks, worst) -> list[dict]:
    return decision_reasons(envelope, mm.integrity.problems, mm.integrity.unevaluated, checks, worst,
                            gate_closed=mm.thickness is not None)


def decision_reasons(envelope: Envelope, problems, unevaluated, checks, worst, *, gate_closed: bool) -> list[dict]:
    """The reasons of a nonconforming verdict (the verdict is ``conforming`` only when there are none).

    Parameters
    ----------
    envelope : Envelope
    problems, unevaluated : sequence of str
        The integrity gate's problems and the gate checks that did not run.
    checks : sequence of Check
    worst : sequence of WorstCase
    gate_closed : bool
        Whether the mesh was closed enough to measure its wall and search the worst case.
    """
    reasons = []
    if envelope.status != "released":
        reasons.append({"item": "envelope", "decision": "nonconforming",
                        "detail": f"envelope {envelope.id} {envelope.version} is '{envelope.status}', not released"})
    for p in problems:
        reasons.append({"item": "mesh_integrity", "decision": "nonconforming", "detail": p})
    for u in unevaluated:  # a gate check not run is not a pass: the gate is indeterminate
        reasons.append({"item": "mesh_integrity", "decision": "indeterminate",
                        "detail": f"integrity gate indeterminate: {u}; a check not run is not a pass"})
    for c in checks:
        if c.decision != CONFORMING:
            reasons.append({"item": c.parameter, "decision": c.decision, "detail": c.reason})
    for w in worst:
        if not w.passed:
            reasons.append({"item": w.metric, "decision": "nonconforming",
                            "detail": f"worst case {w.value:.4g} {w.unit} at {format_configuration(w.limiting_configuration)} "
                                      f"{'below' if w.sense == 'min' else 'above'} the limit {w.limit:g} {w.unit}"})
        if not w.coverage.covered:
            reasons.append({"item": w.metric, "decision": "nonconforming",
                            "detail": f"worst case {w.value:.4g} {w.unit} is weaker than the tested construct "
                                      f"{w.coverage.report} ({w.coverage.construct_model_value:.4g} {w.unit} by the same "
                                      f"model): the design is not covered by the physical test"})
    if not gate_closed and envelope.metrics:
        reasons.append({"item": "worst_case", "decision": "not_evaluated",
                        "detail": "worst case not evaluated: the mesh failed the integrity gate"})
    return reasons


def _thickness_map(v: np.ndarray, f: np.ndarray, mm: MeshMeasurements) -> dict | None:
    """The record's thickness map (version 2): the surface simplified for drawing, in the
    design's box frame, each triangle with the thinnest thickness measured under it
    (:mod:`pmd_envelope.surface_map`). The measured values are in ``measurements``."""
    from pmd_envelope.surface_map import thickness_map

    t = mm.thickness
    if t is None:
        return None
    wt = next((m for m in mm.measurements if m.parameter == "wall_thickness"), None)
    witness = None
    if wt is not None and getattr(wt, "witness", None) is not None:
        witness = {"point": wt.witness.point, "opposite": wt.witness.opposite}
    return thickness_map(v, f, np.asarray(t.per_face, dtype=float), np.asarray(t.edge_zone, dtype=bool), witness)


def _hole_pattern(mm: MeshMeasurements) -> dict:
    """The record's hole pattern (version 1): every through-hole's centre [mm, scanner
    coordinates, as the witnesses], diameter and ligament to the rim [mm], for the report's
    drawing. The limited values are ``hole_diameter`` and ``hole_edge_distance`` in ``measurements``."""
    return {"version": 1, "frame": "scanner coordinates of the design mesh (as the measurements' witnesses)",
            "holes": [{"centre": list(h.centre), "diameter": h.diameter, "edge_distance": h.edge_distance}
                      for h in mm.holes]}


def write_evidence(validation: Validation, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<out_dir>/<case_id>/<record_id>/record.json`` and ``report.pdf`` and append the record to the ledger.

    The ledger is ``<out_dir>/ledger.sqlite``, created on first use. The report is rendered first
    (from the record alone), so a failure there writes nothing; then
    :func:`pmd_envelope.ledger.commit_evidence` writes both files and the ledger entry so that a
    process killed at any moment leaves the complete evidence or none.
    """
    from pmd_envelope.ledger import commit_evidence
    from pmd_envelope.report import render_report

    pdf = render_report(validation.record)
    record_path, report_path, _ = commit_evidence(out_dir, validation.record, pdf)
    return record_path, report_path
