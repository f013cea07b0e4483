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


def same_manifest(got, want, path="") -> list[str]:
    """Where two manifests differ: file hashes, counts and names exactly, reals within 1e-6 relative.

    Reals are stated to 7 significant digits; a value within its float64 jitter of a rounding
    boundary may still differ by one step on another machine, which is not a change of truth.
    """
    if isinstance(want, float) or isinstance(got, float):
        ok = isinstance(got, (int, float)) and got == pytest.approx(want, rel=1e-6, abs=1e-12)
        return [] if ok else [f"{path}: {got!r} != {want!r}"]
    if isinstance(want, dict) and isinstance(got, dict) and got.keys() == want.keys():
        return [d for k in want for d in same_manifest(got[k], want[k], f"{path}.{k}")]
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in same_manifest(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_generator_reproduces_bytes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_cases.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert same_manifest(json.loads((tmp_path / "MANIFEST.json").read_text()), MANIFEST) == []
    for case_id, case in CASES.items():  # the bytes themselves, not only the manifest's word for them
        for name in case["files"]:
            assert (tmp_path / case_id / name).read_bytes() == (SAMPLES / case_id / name).read_bytes(), name


def test_manifest_comparison_tolerates_the_last_digit_only():
    assert same_manifest({"a": [0.6557528, 3]}, {"a": [0.6557529, 3]}) == []
    assert same_manifest({"a": [0.65576, 3]}, {"a": [0.6557528, 3]}) != []
    assert same_manifest({"h": "ab"}, {"h": "ac"}) != [] and same_manifest({"n": 3}, {"n": 4}) != []


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_expected_verdict_and_truth(validations, case_id):
    v = validations[case_id]
    truth = CASES[case_id]["truth"]
    assert v.verdict == CASES[case_id]["expected_verdict"]
    got = {m["parameter"]: m["value"] for m in v.record["measurements"]}
    assert got["wall_thickness"] == pytest.approx(truth["wall_thickness"], abs=5e-3)
    # 200-gon rim placed by a random rotation: OBB extent between D cos(pi/200) and D; each vertex
    # moved up to sqrt(3)/2 * 2^-10 mm (0.85 um) onto the generator's grid
    assert truth["span"] * 0.99987 - 2e-3 <= got["span"] <= truth["span"] + 2e-3
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
