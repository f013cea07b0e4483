"""The knee cutting guide sample cases: reproducible bytes, closed-form truth, expected verdicts, and
the released guide envelope."""

import hashlib
import json

import pytest

from conftest import ENVELOPES, SAMPLES
from pmd_envelope.cli import main

MANIFEST = json.loads((SAMPLES / "FAMILY_MANIFEST.json").read_text())
GUIDES = {c["case_id"]: c for c in MANIFEST["cases"] if c["family_module"] == "pmd_envelope.families.guide_shapes"}


def test_there_are_conforming_and_nonconforming_guides():
    verdicts = {c["expected_verdict"] for c in GUIDES.values()}
    assert verdicts == {"conforming", "nonconforming"} and len(GUIDES) >= 3


@pytest.mark.parametrize("case_id", sorted(GUIDES))
def test_files_match_manifest(case_id):
    for name, digest in GUIDES[case_id]["files"].items():
        assert hashlib.sha256((SAMPLES / case_id / name).read_bytes()).hexdigest() == digest, name


# The generator's bytes (every family's cases): tests/test_family_samples.py.


# The generator snaps every vertex and the plan's point to a 2^-10 mm grid (each moved up to
# sqrt(3)/2 * 2^-10 = 0.85 um) and writes the plan's normal at 7 significant digits (1e-7 rad):
# a plane fitted over a 40 mm slot can tilt by ~2 x 0.85 um / 14 mm (the slot's depth) = 1.2e-4
# rad = 0.007 deg, and a distance move by ~2 um + the point's 0.85 um.
TOLERANCE = {"slot_width": 2e-3, "slot_length": 2e-3, "slot_wall_thickness": 2e-3, "pin_hole_diameter": 2e-3,
             "slot_plane_angle": 0.01, "slot_plane_offset": 3e-3}


@pytest.mark.parametrize("case_id", sorted(GUIDES))
def test_expected_verdict_and_truth(validations, case_id):
    v = validations[case_id]
    truth = GUIDES[case_id]["truth"]
    assert v.verdict == GUIDES[case_id]["expected_verdict"]
    got = {m["parameter"]: m["value"] for m in v.record["measurements"]}
    assert set(TOLERANCE) <= set(truth)
    for k, tol in TOLERANCE.items():
        assert got[k] == pytest.approx(truth[k], abs=tol), k
    assert v.record["plan"]["resection_plane"]["point"] == GUIDES[case_id]["plan"]["resection_plane"]["point"]


def test_the_narrow_slot_fails_for_the_blade(validations):
    rec = validations["guide-002"].record
    items = {r["item"] for r in rec["reasons"]}
    assert items == {"slot_width", "slot_blade_clearance"}
    w = next(w for w in rec["worst_case"] if w["metric"] == "slot_blade_clearance")
    # 1.30 x (1 - 0.003) - 0.08 - 1.27: the printed slot is 0.054 mm narrower than the blade
    assert w["value"] == pytest.approx(1.30 * 0.997 - 0.08 - 1.27, abs=2e-3)
    assert w["limiting_configuration"]["build_orientation"] == "z" and not w["passed"]


def test_the_tilted_slot_fails_only_on_its_angle(validations):
    rec = validations["guide-003"].record
    assert {r["item"] for r in rec["reasons"]} == {"slot_plane_angle"}
    assert all(w["passed"] and w["coverage"]["covered"] for w in rec["worst_case"])


def test_conforming_guide_passes_everything(validations):
    rec = validations["guide-001"].record
    assert rec["reasons"] == [] and rec["envelope"]["status"] == "released"
    assert {c["decision"] for c in rec["checks"]} == {"conforming"}
    assert {w["metric"] for w in rec["worst_case"]} == {"slot_blade_clearance", "slot_wall_deflection",
                                                        "slot_wall_utilisation"}


def test_released_guide_envelope_passes_strict_check(capsys):
    path = ENVELOPES / "cutting-guide-pa12-sls" / "1.1.0.toml"
    assert main(["envelope", "check", "--strict", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(released)" in out and "covers the envelope" in out
    assert "cutting-guide-pa12-sls/1.1.0.toml" in (ENVELOPES / "RELEASED.sha256").read_text()
