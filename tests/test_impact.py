"""pmd-envelope impact: recorded designs re-decided under a new envelope version (issue 14 item 5).

The designs (tests/trends_evidence.py) are validated against cranial-plate-ti64-lpbf 1.0.0; the
new versions are drafts written here from 1.0.0's text. Which designs must be listed is worked
out from the stored values with the ISO 14253-1 rule and the closed-form Roark plate load, not
by the code under test.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from conftest import CRANIAL_ENVELOPE
from pmd_envelope.cli import main
from pmd_envelope.envelope import load_envelope
from pmd_envelope.impact import AFFECTED, NOT_REDECIDABLE, UNCHANGED, envelope_impact
from pmd_envelope.ledger import open_ledger
from trends_evidence import build, record_path

ALL = ("cranial-001", "cranial-002", "cranial-003", "cranial-004", "cap-122", "flat-100")


def draft(folder: Path, version: str, *edits: tuple[str, str]) -> Path:
    """A draft version of the 1.0.0 cranial envelope with ``edits`` (old text, new text) applied."""
    text = CRANIAL_ENVELOPE.read_text()
    text = text.replace('version = "1.0.0"\nstatus = "released"', f'version = "{version}"\nstatus = "draft"', 1)
    text = text.replace('description = "Initial release of the cranial plate envelope."\n',
                        'description = "Initial release of the cranial plate envelope."\n\n[[change_record]]\n'
                        f'version = "{version}"\ndate = 2026-11-25\nauthor = "test"\ndescription = "test draft"\n', 1)
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / "cranial-plate-ti64-lpbf" / f"{version}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def evidence(trend_designs, tmp_path_factory):
    out = tmp_path_factory.mktemp("impact") / "ev"
    records = build(out, [trend_designs[c] for c in ALL], approve={"cranial-001"})
    return out, {r["case_id"]: r for r in records}


def _impact(out, env_path):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return envelope_impact(ledger, load_envelope(env_path))


def _snapshot(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _stored(rec: dict, name: str) -> float:
    return next(m["value"] for m in rec["measurements"] if m["parameter"] == name)


def _roark(t: float, span: float) -> float:
    """Yield load of a clamped circular plate, central load on r0 = 5 mm (Roark Table 11.2 case 16), HIP, Z build."""
    sigma, nu, r0 = 780.0 * 0.9, 0.34, 5.0  # r0 >= t / 2 for every wall here: no equivalent-radius correction
    return 2 * math.pi * t**2 * sigma / (3 * (1 + nu) * math.log(span / 2 / r0))


def _iso(value: float, lo: float, u: float) -> str:
    margin = round(value - lo, 9)
    return "conforming" if margin >= u else "nonconforming" if margin < -u else "indeterminate"


def test_tightened_limit_and_widened_tolerance_list_exactly_the_crossing_designs(evidence, tmp_path, capsys):
    out, recs = evidence
    new = draft(tmp_path / "envelopes", "1.3.0", ('method = "ray"\nmin = 1.0', 'method = "ray"\nmin = 1.1'),
                ("min = -0.1\nmax = 0.1", "min = -0.3\nmax = 0.3"))
    before = _snapshot(out)
    result = _impact(out, new)
    assert _snapshot(out) == before  # nothing written: not the ledger, not a file beside it
    assert result.considered == 6 and result.earlier_versions == ("1.0.0",) and not result.excluded
    construct = _roark(1.0 - 0.1, 80.0)  # the tested construct, same configuration in both versions
    expected = set()
    for case, rec in recs.items():
        t, span = _stored(rec, "wall_thickness"), _stored(rec, "span")
        wall_crosses = _iso(t, 1.0, 0.05) != _iso(t, 1.1, 0.05)
        old_w, new_w = _roark(t - 0.1, span), _roark(t - 0.3, span)
        load_crosses = (old_w >= 420) != (new_w >= 420) or (old_w >= construct) != (new_w >= construct)
        if wall_crosses or load_crosses:
            expected.add(case)
        (c,) = [c for c in result.cases if c.case_id == case]
        assert c.new_design_verdict is not None
        stored_old = next(w for w in rec["worst_case"] if w["metric"] == "yield_load")["value"]
        assert stored_old == pytest.approx(old_w, rel=1e-5)
        # no corner moved: thickness_deviation stays at its lower bound, z and HIP stay worst
        assert all(ch.kind != "limiting_configuration" for ch in c.changes), c.changes
        if case in ("cranial-001", "cranial-004", "flat-100", "cranial-002"):
            assert c.status == UNCHANGED and not c.changes
    assert expected == {"cranial-003", "cap-122"}  # the truth of these designs, worked out above
    assert {c.case_id for c in result.cases if c.listed} == expected
    c003 = next(c for c in result.cases if c.case_id == "cranial-003")
    assert [(ch.kind, ch.item, ch.old, ch.new) for ch in c003.changes] == [
        ("check", "wall_thickness", "conforming", "indeterminate")]
    cap = next(c for c in result.cases if c.case_id == "cap-122")
    assert (cap.old_design_verdict, cap.new_design_verdict, cap.status) == ("conforming", "nonconforming", AFFECTED)
    assert {ch.kind for ch in cap.changes} == {"verdict", "worst_case", "coverage"}
    note = next(n for n in cap.notes if n.startswith("yield_load"))
    new_value = float(note.split("-> ")[1].split(" ")[0])
    assert new_value == pytest.approx(_roark(_stored(recs["cap-122"], "wall_thickness") - 0.3, 100.0), rel=1e-4)

    capsys.readouterr()
    assert main(["impact", str(new), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "2 of 6 design(s) affected" in printed and "cap-122" in printed and "cranial-003" in printed
    assert "cranial-001" not in printed and "draft" in printed
    assert _snapshot(out) == before


def test_same_content_under_a_new_version_changes_nothing(evidence, tmp_path, capsys):
    """Re-deciding with the record's settings by validate's code reproduces every stored decision."""
    out, _ = evidence
    same = draft(tmp_path / "envelopes", "1.0.1")
    result = _impact(out, same)
    assert len(result.cases) == 6 and all(c.status == UNCHANGED for c in result.cases)
    assert all(not c.notes for c in result.cases)  # the same worst values, to the last stated digit
    assert main(["impact", str(same), "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["affected"] == 0 and doc["envelope"]["version"] == "1.0.1"
    # records of the same version are not "earlier": nothing to compare
    assert main(["impact", str(CRANIAL_ENVELOPE), "--out", str(out)]) == 0
    assert "on 0 record(s)" in capsys.readouterr().out


def test_parameter_the_record_never_measured_cannot_be_redecided(evidence, tmp_path):
    out, _ = evidence
    new = draft(tmp_path / "envelopes", "1.4.0", ("[parameters.span]", '[parameters.anatomy_gap]\nmethod = "closest_point"\n'
                                                   'max = 0.5\nunit = "mm"\nuncertainty = 0.05\nreference = "test"\n\n'
                                                   "[parameters.span]"))
    result = _impact(out, new)
    by_case = {c.case_id: c for c in result.cases}
    for case in set(ALL) - {"cranial-004"}:
        c = by_case[case]
        assert c.status == NOT_REDECIDABLE and c.listed and c.new_design_verdict is None
        (ch,) = c.changes
        assert ch.item == "anatomy_gap" and "cannot be re-decided without re-measuring" in ch.detail
    # cranial-004 has an anatomy mesh: its stored gap (0.3 mm inside the plate) decides the new limit
    c004 = by_case["cranial-004"]
    assert c004.status != NOT_REDECIDABLE and c004.new_design_verdict == "conforming"


def test_moved_corner_is_a_limiting_configuration_change(evidence, tmp_path):
    out, recs = evidence
    # z builds now stronger than xy: the worst orientation moves from z to xy for every design
    new = draft(tmp_path / "envelopes", "1.5.0", ("[variables.build_orientation.levels.z]\norientation_factor = 0.9",
                                                   "[variables.build_orientation.levels.z]\norientation_factor = 1.2"))
    result = _impact(out, new)
    for c in result.cases:
        assert recs[c.case_id]["worst_case"][0]["limiting_configuration"]["build_orientation"] == "z"
        (ch,) = [ch for ch in c.changes if ch.kind == "limiting_configuration"]
        assert ch.item == "yield_load" and ch.detail == "build_orientation: z -> xy"
        assert c.listed


def test_tampered_record_is_left_out(trend_designs, tmp_path, capsys):
    out = tmp_path / "ev"
    recs = build(out, [trend_designs[c] for c in ("cranial-001", "cap-122")])
    f = record_path(out, recs[1])
    f.write_bytes(f.read_bytes().replace(b'"verdict": "conforming"', b'"verdict": "nonconforming"'))
    new = draft(tmp_path / "envelopes", "1.0.1")
    result = _impact(out, new)
    assert [c.case_id for c in result.cases] == ["cranial-001"]
    (x,) = result.excluded
    assert x.case_id == "cap-122" and x.record_id == recs[1]["record_id"] and "differs from the bytes" in x.reason
    assert main(["impact", str(new), "--out", str(out)]) == 1
    assert "LEFT OUT cap-122" in capsys.readouterr().out


def _schema_1_0(rec: dict) -> dict:
    """``rec`` as schema 1.0 wrote it: reals at full precision, content hashed as stored."""
    import copy

    from pmd_envelope.record import content_hash

    old = copy.deepcopy(rec)
    old["schema_version"] = "1.0"
    wall = next(m for m in old["measurements"] if m["parameter"] == "wall_thickness")
    wall["value"] += 3.1e-10  # below the 7-digit resolution: 1.0 wrote such digits
    wall["statistics"]["mean"] += 2.7e-10
    old["integrity"]["canonicalisation"] = "JSON, keys sorted, separators (',', ':'), UTF-8, no NaN"
    old["integrity"]["content_sha256"] = content_hash(old)
    return old


def test_schema_1_0_record_is_redecided_from_its_full_precision_values(trend_designs, tmp_path):
    from pmd_envelope.ledger import commit_evidence
    from trends_evidence import restamp

    out = tmp_path / "ev"
    rec = _schema_1_0(restamp(trend_designs["cap-122"], dt_utc()))
    commit_evidence(out, rec, b"%PDF-fake")
    assert json.loads(record_path(out, rec).read_text())["measurements"][0]["value"] != \
        trend_designs["cap-122"]["measurements"][0]["value"]
    same = _impact(out, draft(tmp_path / "envelopes", "1.0.1"))
    (c,) = same.cases
    assert c.status == UNCHANGED  # rounded as validate rounds: the same decisions
    tightened = _impact(out, draft(tmp_path / "envelopes", "1.3.0", ("min = -0.1\nmax = 0.1", "min = -0.3\nmax = 0.3")))
    (c,) = tightened.cases
    assert c.status == AFFECTED and c.new_design_verdict == "nonconforming"


def dt_utc():
    import datetime as dt

    return dt.datetime(2026, 10, 1, 9, 0, 0, tzinfo=dt.timezone.utc)


def test_old_layout_record_superseded_at_its_path_is_named_not_used(trend_designs, tmp_path, capsys):
    """Before 0.2 a case's record.json was replaced by each re-validation: the earlier record is gone."""
    from pmd_envelope.ledger import record_entry_fields
    from pmd_envelope.record import record_bytes
    from pmd_envelope.trends import envelope_trends
    from trends_evidence import restamp

    out = tmp_path / "ev"
    first, second = restamp(trend_designs["cranial-001"], dt_utc()), restamp(trend_designs["cranial-001"], dt_utc())
    with open_ledger(out / "ledger.sqlite", create=True) as ledger:
        for rec in (first, second):
            data = record_bytes(rec)
            (out / "cranial-001").mkdir(parents=True, exist_ok=True)
            (out / "cranial-001" / "record.json").write_bytes(data)
            ledger.append(record_entry_fields(rec, "cranial-001/record.json", data))
    result = _impact(out, draft(tmp_path / "envelopes", "1.0.1"))
    assert [c.record_id for c in result.cases] == [second["record_id"]]
    (x,) = result.excluded
    assert x.record_id == first["record_id"] and "superseded" in x.reason
    with open_ledger(out / "ledger.sqlite") as ledger:
        t = envelope_trends(ledger, selection="latest")
    assert t.counted == 1 and not t.excluded and t.groups[0].items[0].points[0].record_id == second["record_id"]


def test_changed_integrity_gate_inputs_need_the_design_gated_again(evidence, tmp_path):
    out, _ = evidence
    new = draft(tmp_path / "envelopes", "1.6.0", ("min = 20.0\nmax = 250.0", "min = 20.0\nmax = 200.0"),
                ("expected_bodies = 1 ", "expected_bodies = 2 "))
    result = _impact(out, new)
    for c in result.cases:
        assert c.status == NOT_REDECIDABLE
        assert {ch.item for ch in c.changes} == {"plausible_size", "expected_bodies"}
