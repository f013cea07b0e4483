"""Envelope change impact: which recorded designs a new envelope version decides differently (issue 14 item 5).

For every record in the ledger made against an *earlier* version of the envelope, the record's
stored measurements are decided again under the new version, by the code ``validate`` uses
(:func:`pmd_envelope.conformance.check_parameters`,
:func:`pmd_envelope.pipeline.worst_cases_of_design`, :func:`pmd_envelope.pipeline.decision_reasons`),
with the record's own settings (seed and sample counts included). Nothing is re-measured and
nothing is written: the ledger is only read.

The stored measurements are the numbers the record states: at 7 significant digits for schema
1.1 (:mod:`pmd_envelope.resolution`), at full precision for schema 1.0; both are rounded to the
record resolution before deciding, as ``validate`` does.

A design is *listed* when, under the new version,

- its verdict changes (compared without the envelope-status reason on either side, so that a
  draft's what-if is readable: a draft makes every verdict nonconforming by itself);
- a check's decision changes (conforming, indeterminate, nonconforming, not evaluated; a new check
  counts when it is not conforming, a removed one when it was not);
- a metric's worst case changes whether it meets its limit or is covered by the tested
  construct, or whether it could be evaluated;
- its limiting configuration changes: a categorical level, the bound a continuous variable sits
  at (a bound that moved with the tolerance is the same bound), an interior point, or a variable
  added or removed;
- it cannot be re-decided without re-measuring: the new version limits a parameter the record
  never measured, or asks for a method, unit or statistic the record does not hold.

A worst value that moves without changing any of these is a *note*, not a listing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pmd_envelope.conformance import CONFORMING, check_parameters
from pmd_envelope.envelope import Envelope
from pmd_envelope.evidence import Excluded, LedgerRecord, ledger_records, version_key
from pmd_envelope.ledger import Ledger
from pmd_envelope.measure.records import Measurement
from pmd_envelope.resolution import at_resolution
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings

__all__ = ["Change", "CaseImpact", "Impact", "envelope_impact", "AFFECTED", "NOT_REDECIDABLE", "UNCHANGED"]

AFFECTED = "affected"
NOT_REDECIDABLE = "cannot be re-decided without re-measuring"
UNCHANGED = "unchanged"
#: Relative distance (of the variable's range) within which a value is at a bound: the record
#: states values at 7 significant digits (1e-7 to 1e-6 relative), far below this.
_AT_BOUND = 1e-5


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One thing the new version decides differently, or the reason it cannot decide."""

    item: str
    kind: str  # verdict, check, worst_case, coverage, limiting_configuration, evaluated, re-measure
    old: str | None
    new: str | None
    detail: str

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseImpact:
    """One record re-decided under the new version."""

    case_id: str
    record_id: str
    old_version: str
    old_verdict: str
    old_design_verdict: str
    new_design_verdict: str | None
    status: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        if self.status not in (AFFECTED, NOT_REDECIDABLE, UNCHANGED):
            raise ValueError(f"unknown status {self.status!r}")
        if (self.status == UNCHANGED) != (not self.changes):
            raise ValueError("a design is unchanged exactly when nothing changes")
        if (self.status == NOT_REDECIDABLE) != (self.new_design_verdict is None):
            raise ValueError("only a design that cannot be re-decided has no new verdict")

    @property
    def listed(self) -> bool:
        return self.status != UNCHANGED

    @property
    def new_verdict(self) -> str | None:
        return self.new_design_verdict

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "record_id": self.record_id, "old_version": self.old_version,
                "old_verdict": self.old_verdict, "old_design_verdict": self.old_design_verdict,
                "new_design_verdict": self.new_design_verdict, "status": self.status, "listed": self.listed,
                "changes": [c.as_dict() for c in self.changes], "notes": list(self.notes)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Impact:
    """The outcome of :func:`envelope_impact`."""

    ledger: str
    envelope_id: str
    version: str
    status: str
    sha256: str
    earlier_versions: tuple[str, ...]
    considered: int
    other_versions: int
    cases: tuple[CaseImpact, ...]
    excluded: tuple[Excluded, ...]

    def as_dict(self) -> dict:
        return {"ledger": self.ledger, "envelope": {"id": self.envelope_id, "version": self.version,
                                                    "status": self.status, "sha256": self.sha256},
                "earlier_versions": list(self.earlier_versions), "considered": self.considered,
                "other_versions": self.other_versions, "affected": sum(c.listed for c in self.cases),
                "cases": [c.as_dict() for c in self.cases],
                "excluded": [x.as_dict() for x in self.excluded],
                "method": "stored measurements re-decided under the new version by validate's code (check_parameters, "
                          "worst_cases_of_design, decision_reasons) with the record's settings; nothing re-measured, "
                          "nothing written; verdicts compared without the envelope-status reason"}


def envelope_impact(ledger: Ledger, new: Envelope) -> Impact:
    """Re-decide every record of an earlier version of ``new``'s envelope under ``new``.

    Parameters
    ----------
    ledger : Ledger
        The evidence ledger (read only).
    new : Envelope
        The new envelope version (any status; a draft is the usual what-if).

    Returns
    -------
    Impact
        One :class:`CaseImpact` per usable record of an earlier version, in ledger order, and the
        records left out because they do not verify against the ledger.

    Raises
    ------
    LedgerError
        When the ledger's hash chain is broken.
    """
    records = [r for r in ledger_records(ledger) if r.envelope[0] == new.id]
    earlier = [r for r in records if version_key(r.envelope[1]) < version_key(new.version)]
    cases = tuple(_case(r, new) for r in earlier if r.usable)
    excluded = tuple(r.excluded() for r in earlier if not r.usable)
    return Impact(ledger=str(ledger.path), envelope_id=new.id, version=new.version, status=new.status,
                  sha256=new.sha256, earlier_versions=tuple(sorted({r.envelope[1] for r in earlier}, key=version_key)),
                  considered=len(earlier), other_versions=len(records) - len(earlier), cases=cases, excluded=excluded)


def _settings(record: dict) -> tuple[Settings, str]:
    """The record's settings as a Settings record (the worst case is re-run with its seed and samples)."""
    names = {f.name for f in dataclasses.fields(Settings)}
    stored = record.get("settings") or {}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in names}
    try:
        return Settings(**kwargs), ""
    except (TypeError, ValueError) as exc:
        return DEFAULT_SETTINGS, f"the record's settings could not be used ({exc}); default settings used"


def _measurements(record: dict) -> dict[str, Measurement]:
    out = {}
    for m in record.get("measurements", []):
        value = None if m.get("value") is None else at_resolution(float(m["value"]))
        stats = tuple((k, None if v is None else at_resolution(float(v)))
                      for k, v in (m.get("statistics") or {}).items() if v is None or isinstance(v, (int, float)))
        out[m["parameter"]] = Measurement(parameter=m["parameter"], value=value, unit=m["unit"], method=m["method"],
                                          statistics=stats,
                                          reason="" if value is not None else (m.get("reason") or "not measured"))
    return out


def _not_redecidable(record: dict, new: Envelope, measured: dict[str, Measurement]) -> list[Change]:
    """Why the stored measurements cannot decide the new version's parameters (empty when they can)."""
    checked = {c["parameter"] for c in record.get("checks", [])}
    out = []
    # The integrity gate took the envelope's expected body count and plausible size; the record keeps
    # the gate's outcome, not the mesh, so a change of either needs the design gated again.
    gate = record.get("mesh_integrity") or {}
    if gate.get("expected_bodies") != new.expected_bodies:
        out.append(Change(item="expected_bodies", kind="re-measure", old=str(gate.get("expected_bodies")),
                          new=str(new.expected_bodies),
                          detail=f"{new.version} expects {new.expected_bodies} bodies, the record's gate expected "
                                 f"{gate.get('expected_bodies')}: cannot be re-decided without re-measuring"))
    window = f"[{new.plausible_size[0]:g}, {new.plausible_size[1]:g}]"
    if window not in str(gate.get("unit_check", "")):
        out.append(Change(item="plausible_size", kind="re-measure", old=None, new=window,
                          detail=f"the record's unit check was not made against {new.version}'s plausible size "
                                 f"{window} mm: cannot be re-decided without re-measuring"))
    for p in new.parameters:
        m = measured.get(p.name)
        if m is None:
            if p.name in checked:  # the record checked it but could not measure it: re-decided as it was
                continue
            out.append(Change(item=p.name, kind="re-measure", old=None, new=p.method,
                              detail=f"the record has no measurement of {p.name}, which {new.version} limits: "
                                     "cannot be re-decided without re-measuring"))
            continue
        if m.method != p.method:
            out.append(Change(item=p.name, kind="re-measure", old=m.method, new=p.method,
                              detail=f"measured by method '{m.method}', {new.version} asks for '{p.method}': "
                                     "cannot be re-decided without re-measuring"))
        elif m.unit != p.unit:
            out.append(Change(item=p.name, kind="re-measure", old=m.unit, new=p.unit,
                              detail=f"measured in {m.unit}, {new.version} limits it in {p.unit}: cannot be "
                                     "re-decided without re-measuring"))
        elif m.value is not None:
            have = {k for k, _ in m.statistics}
            for stat in {p.lower_statistic if p.min is not None else "value",
                         p.upper_statistic if p.max is not None else "value"} - {"value"} - have:
                out.append(Change(item=p.name, kind="re-measure", old=None, new=stat,
                                  detail=f"{new.version} limits the statistic '{stat}' of {p.name}, which the record "
                                         "does not hold: cannot be re-decided without re-measuring"))
    return out


def _design_verdict(reasons) -> str:
    return CONFORMING if not [r for r in reasons if r.get("item") != "envelope"] else "nonconforming"


def _case(r: LedgerRecord, new: Envelope) -> CaseImpact:
    from pmd_envelope.pipeline import decision_reasons, worst_cases_of_design

    rec = r.record
    old_design = _design_verdict(rec.get("reasons", []))
    base = {"case_id": rec["case_id"], "record_id": rec["record_id"], "old_version": rec["envelope"]["version"],
            "old_verdict": rec["verdict"], "old_design_verdict": old_design}
    measured = _measurements(rec)
    blockers = _not_redecidable(rec, new, measured)
    if blockers:
        return CaseImpact(**base, new_design_verdict=None, status=NOT_REDECIDABLE, changes=tuple(blockers))
    settings, note = _settings(rec)
    notes = [note] if note else []
    checks = check_parameters(new, measured)
    # validate searched the worst case exactly when the mesh was closed, which is when it measured the wall
    closed = "wall_thickness" in measured
    worst, unmeasured = worst_cases_of_design(new, measured, settings) if closed else ((), [])
    integrity = rec.get("mesh_integrity") or {}
    reasons = decision_reasons(new, integrity.get("problems", []), integrity.get("unevaluated", []), checks, worst,
                               gate_closed=closed) + unmeasured
    # the scan series findings are the record's own (the new version does not re-read the series)
    reasons += [x for x in rec.get("reasons", []) if str(x.get("item", "")).startswith("scan_series.")]
    new_design = _design_verdict(reasons)
    changes: list[Change] = []
    if new_design != old_design:
        why = "; ".join(f"{x['item']}: {x['detail']}" for x in reasons if x.get("item") != "envelope") or \
              "every reason of the recorded verdict is resolved"
        changes.append(Change(item="verdict", kind="verdict", old=old_design, new=new_design, detail=why))
    changes += _check_changes(rec, checks)
    worst_changes, worst_notes = _worst_changes(rec, worst, unmeasured, new)
    changes += worst_changes
    notes += worst_notes
    return CaseImpact(**base, new_design_verdict=new_design, status=AFFECTED if changes else UNCHANGED,
                      changes=tuple(changes), notes=tuple(notes))


def _check_changes(rec: dict, checks) -> list[Change]:
    old = {(c["parameter"], c["statistic"]): c for c in rec.get("checks", [])}
    new = {(c.parameter, c.statistic): c for c in checks}
    out = []
    for key in sorted(set(old) | set(new)):
        o, n = old.get(key), new.get(key)
        od, nd = (o["decision"] if o else None), (n.decision if n else None)
        if od == nd or {od, nd} <= {CONFORMING, None}:
            continue
        label = key[0] if key[1] == "value" else f"{key[0]} ({key[1]})"
        if n is None:
            detail = f"no longer checked by the new version (was {od})"
        else:
            limits = " and ".join(s for s in (f">= {n.min:g}" if n.min is not None else "",
                                              f"<= {n.max:g}" if n.max is not None else "") if s)
            was = "" if o is None else f" (was {o['decision']} against " + " and ".join(
                s for s in (f">= {o['min']:g}" if o["min"] is not None else "",
                            f"<= {o['max']:g}" if o["max"] is not None else "") if s) + f", U = {o['uncertainty']:g})"
            detail = "stored value " + \
                     (f"{n.value:.7g} {n.unit}" if n.value is not None else "null") + \
                     f" against {limits} {n.unit}, U = {n.uncertainty:g}{was}"
        out.append(Change(item=label, kind="check", old=od, new=nd, detail=detail))
    return out


def _position(value, lo, hi) -> str:
    if isinstance(value, str):
        return value
    if lo is None or hi is None:
        return f"{at_resolution(float(value)):.7g}"
    tol = _AT_BOUND * max(abs(hi - lo), 1e-300)
    if abs(value - lo) <= tol:
        return "lower bound"
    if abs(value - hi) <= tol:
        return "upper bound"
    return f"interior {at_resolution(float(value)):.7g}"


def _old_bounds(w: dict) -> dict[str, tuple]:
    """The variables' bounds the record's search used, from its sensitivities (each variable at its low and high)."""
    sens = w.get("sensitivities") or {}
    return {v["variable"]: (v["low"], v["high"]) for v in sens.get("variables", [])
            if v.get("kind") != "categorical" and isinstance(v.get("low"), (int, float))}


def _worst_changes(rec: dict, worst, unmeasured, new: Envelope) -> tuple[list[Change], list[str]]:
    old = {w["metric"]: w for w in rec.get("worst_case", [])}
    now = {w.metric: w for w in worst}
    not_now = {x["item"]: x["detail"] for x in unmeasured}
    variables = {v.name: v for v in new.variables}
    changes, notes = [], []
    for name in sorted(set(old) | set(now) | set(not_now)):
        o, n = old.get(name), now.get(name)
        if o is None and n is None:
            continue  # not evaluated before nor now
        if (o is None) != (n is None):
            changes.append(Change(item=name, kind="evaluated", old="evaluated" if o else "not evaluated",
                                  new="evaluated" if n else "not evaluated",
                                  detail=(not_now.get(name, f"{new.version} has no metric {name}") if n is None else
                                          f"worst case now evaluated: {n.value:.4g} {n.unit}, "
                                          f"{'meets' if n.passed else 'misses'} the limit {n.limit:g}")))
            continue
        op = ">=" if n.sense == "min" else "<="
        if bool(o["passed"]) != bool(n.passed):
            changes.append(Change(item=name, kind="worst_case", old="meets limit" if o["passed"] else "misses limit",
                                  new="meets limit" if n.passed else "misses limit",
                                  detail=f"worst case {o['value']:.4g} -> {n.value:.4g} {n.unit} against the limit "
                                         + (f"{op} {n.limit:g} {n.unit}" if o["limit"] == n.limit else
                                            f"{op} {o['limit']:g} -> {op} {n.limit:g} {n.unit}")))
        if bool(o["coverage"]["covered"]) != bool(n.coverage.covered):
            changes.append(Change(item=name, kind="coverage", old="covered" if o["coverage"]["covered"] else "not covered",
                                  new="covered" if n.coverage.covered else "not covered",
                                  detail=f"worst case {n.value:.4g} {n.unit} against the tested construct "
                                         f"{n.coverage.report} ({n.coverage.construct_model_value:.4g} {n.unit} by the "
                                         f"same model; was {o['coverage']['construct_model_value']:.4g})"))
        bounds = _old_bounds(o)
        old_cfg = {k: _position(v, *bounds.get(k, (None, None))) for k, v in o["limiting_configuration"].items()}
        new_cfg = {}
        for k, v in n.limiting_configuration:
            var = variables.get(k)
            # a bound is compared with a bound only when the record shows its own bounds (its sensitivities)
            known = var is not None and var.is_continuous and (k in bounds or k not in old_cfg)
            new_cfg[k] = _position(v, var.min, var.max) if known else _position(v, None, None)
        moved = [f"{k}: {old_cfg.get(k, 'absent')} -> {new_cfg.get(k, 'absent')}"
                 for k in sorted(set(old_cfg) | set(new_cfg)) if old_cfg.get(k) != new_cfg.get(k)]
        if moved:
            changes.append(Change(item=name, kind="limiting_configuration", old=_cfg_text(o["limiting_configuration"]),
                                  new=_cfg_text(dict(n.limiting_configuration)), detail="; ".join(moved)))
        if at_resolution(n.value) != o["value"]:
            notes.append(f"{name}: worst case {o['value']:.7g} -> {at_resolution(n.value):.7g} {n.unit} at "
                         f"{_cfg_text(dict(n.limiting_configuration))}")
    return changes, notes


def _cfg_text(cfg: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in sorted(cfg.items()))
