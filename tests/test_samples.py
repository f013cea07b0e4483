"""The bundled sample cases: reproducible bytes, closed-form truth, expected verdicts."""

import hashlib
import json
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLES

MANIFEST = json.loads((SAMPLES / "MANIFEST.json").read_text())
CASES = {c["case_id"]: c for c in MANIFEST["cases"]}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_files_match_manifest(case_id):
    for name, digest in CASES[case_id]["files"].items():
        assert hashlib.sha256((SAMPLES / case_id / name).read_bytes()).hexdigest() == digest, name


def test_generator_reproduces_bytes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_cases.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert json.loads((tmp_path / "MANIFEST.json").read_text()) == MANIFEST


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_expected_verdict_and_truth(validations, case_id):
    v = validations[case_id]
    truth = CASES[case_id]["truth"]
    assert v.verdict == CASES[case_id]["expected_verdict"]
    got = {m["parameter"]: m["value"] for m in v.record["measurements"]}
    assert got["wall_thickness"] == pytest.approx(truth["wall_thickness"], abs=5e-3)
    # 200-gon rim placed by a random rotation: OBB extent between D cos(pi/200) and D
    assert truth["span"] * 0.99987 - 1e-6 <= got["span"] <= truth["span"] + 1e-4
    assert got["radius_of_curvature"] == pytest.approx(truth["radius_of_curvature"], abs=1e-3)
    assert got["volume"] == pytest.approx(truth["volume"], rel=1e-3)
    if "anatomy_gap" in truth:
        # both surfaces are inscribed polyhedra: the plate's facets sit up to ~0.01 mm inside its
        # sphere, the icosphere's (edge ~3 mm at R 90) up to ~0.02 mm inside the skull sphere
        fit = next(m for m in v.record["measurements"] if m["parameter"] == "anatomy_gap")
        assert fit["statistics"]["rms"] == pytest.approx(truth["anatomy_gap"], abs=0.02)
        assert truth["anatomy_gap"] - 0.02 <= fit["statistics"]["min"] <= fit["value"] <= truth["anatomy_gap"] + 0.03
        assert {i["role"] for i in v.record["inputs"]} >= {"anatomy_mesh"}


def test_thin_and_wide_case_fails_only_on_the_combination(validations):
    v = validations["cranial-003"]
    assert all(c["decision"] == "conforming" for c in v.record["checks"])
    (w,) = v.record["worst_case"]
    assert not w["passed"] and w["margin"] < 0
    assert {r["item"] for r in v.record["reasons"]} == {"yield_load"}


def test_too_thin_case_names_the_thickness(validations):
    reasons = validations["cranial-002"].record["reasons"]
    assert any(r["item"] == "wall_thickness" and r["decision"] == "nonconforming" for r in reasons)
