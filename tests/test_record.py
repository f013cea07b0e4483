"""The evidence record: schema, verdict logic, hashing, determinism of record and report."""

import datetime as dt
import json
from importlib import resources

import jsonschema
import pytest

from conftest import SAMPLES
from pmd_envelope.pipeline import validate, write_evidence
from pmd_envelope.record import content_hash, finalise_record, read_record, retain_until, verify_record_hash
from pmd_envelope.report import render_report


@pytest.fixture(scope="module")
def schema():
    return json.loads(resources.files("pmd_envelope").joinpath("schema/record.schema.json").read_text())


@pytest.mark.parametrize("case_id", ["cranial-001", "cranial-002", "cranial-003"])
def test_record_validates_against_schema(validations, schema, case_id):
    rec = json.loads(json.dumps(validations[case_id].record))
    jsonschema.validate(rec, schema)
    assert verify_record_hash(rec)


def test_record_fields(validations):
    rec = validations["cranial-001"].record
    assert rec["retention"] == {"implantable": True, "years": 15, "retain_until": "2041-11-24",
                                "basis": "IMDRF N58: at least 15 years for implantable devices, 5 years otherwise"}
    assert {i["role"] for i in rec["inputs"]} == {"case", "design_mesh", "envelope"}
    assert rec["envelope"]["id"] == "cranial-plate-ti64-lpbf"
    assert rec["software"]["name"] == "pmd-envelope" and rec["software"]["trimesh"]
    text = json.dumps(rec)
    assert "Jane" not in text and "birth" not in text


def test_same_inputs_same_content_hash_and_pdf():
    a = validate(SAMPLES / "cranial-003", now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    b = validate(SAMPLES / "cranial-003", now=dt.datetime(2026, 6, 1, 8, 30, tzinfo=dt.timezone.utc))
    assert a.record["record_id"] != b.record["record_id"]
    assert a.record["integrity"]["content_sha256"] == b.record["integrity"]["content_sha256"]
    # re-rendering the record as saved and read back (JSON) gives the same bytes as rendering it fresh
    assert render_report(json.loads(json.dumps(a.record))) == render_report(a.record)


def test_changed_content_changes_hash(validations):
    rec = json.loads(json.dumps(validations["cranial-001"].record))
    rec["measurements"][0]["value"] += 1e-9
    assert not verify_record_hash(rec)


def test_retain_until_leap_day():
    assert retain_until(dt.datetime(2028, 2, 29, tzinfo=dt.timezone.utc), 5) == "2033-02-28"
    assert retain_until(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc), 15) == "2041-03-01"


def test_finalise_refuses_nan():
    with pytest.raises(ValueError):
        finalise_record({"retention": {"years": 5}, "x": float("nan")})


def test_written_record_round_trips(validations, tmp_path):
    record_path, report_path = write_evidence(validations["cranial-002"], tmp_path)
    rec = read_record(record_path)
    assert rec == json.loads(json.dumps(validations["cranial-002"].record))
    assert content_hash(rec) == rec["integrity"]["content_sha256"]
    assert report_path.read_bytes() == render_report(rec)


def _significant_digits(x: float) -> int:
    """Digits of the shortest decimal that reads back as ``x`` (what the JSON file shows)."""
    return len(repr(abs(x)).split("e")[0].replace(".", "").strip("0"))


def _reals(obj):
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _reals(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _reals(v)


@pytest.mark.parametrize("case_id", ["cranial-001", "cranial-003", "cranial-004"])
def test_every_real_is_stated_to_seven_significant_digits(validations, case_id):
    rec = validations[case_id].record
    reals = list(_reals(rec))
    assert len(reals) > 50
    assert [x for x in reals if _significant_digits(x) > 7] == []
    assert "7 significant digits" in rec["integrity"]["canonicalisation"]


@pytest.mark.parametrize("case_id", ["cranial-001", "cranial-002", "cranial-003", "cranial-004"])
def test_decisions_follow_from_the_written_numbers(validations, case_id):
    from pmd_envelope.conformance import decide
    from pmd_envelope.resolution import at_resolution

    rec = validations[case_id].record
    for c in rec["checks"]:
        if c["value"] is not None:
            assert decide(c["value"], c["min"], c["max"], c["uncertainty"]) == (c["decision"], c["margin"]), c
    for w in rec["worst_case"]:
        margin = w["value"] - w["limit"] if w["sense"] == "min" else w["limit"] - w["value"]
        assert w["margin"] == at_resolution(margin) and w["passed"] == (margin >= 0) == (w["margin"] >= 0)
        cov = w["coverage"]
        diff = (w["value"] - cov["construct_model_value"] if w["sense"] == "min"
                else cov["construct_model_value"] - w["value"])
        assert cov["margin"] == at_resolution(diff) and cov["covered"] == (diff >= 0)


def test_full_precision_record_of_schema_1_0_still_verifies(validations, tmp_path):
    """Verification hashes the record as stored: it never rounds, so 1.0 records keep verifying."""
    from pmd_envelope.record import record_bytes

    rec = json.loads(json.dumps(validations["cranial-001"].record))
    rec["schema_version"] = "1.0"
    rec["measurements"][0]["statistics"]["mean"] = 1.9998851838976601  # as 1.0 wrote it
    rec["integrity"]["canonicalisation"] = "JSON, keys sorted, separators (',', ':'), UTF-8, no NaN"
    rec["integrity"]["content_sha256"] = content_hash(rec)
    (tmp_path / "record.json").write_bytes(record_bytes(rec))
    old = read_record(tmp_path / "record.json")
    assert old["measurements"][0]["statistics"]["mean"] == 1.9998851838976601
    assert verify_record_hash(old)
    old["measurements"][0]["statistics"]["mean"] = 1.999885
    assert not verify_record_hash(old)
