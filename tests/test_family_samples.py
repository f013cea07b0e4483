"""The device-family sample cases (scripts/make_family_cases.py): reproducible bytes, closed-form
truth, expected verdicts. Only the cases of the family modules tested here are compared, so
another family's cases can be added to the manifest without touching this file."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SAMPLES
from test_samples import same_manifest

MANIFEST = json.loads((SAMPLES / "FAMILY_MANIFEST.json").read_text())
CRANIAL = "pmd_envelope.families.cranial_shapes"
PEEK = {c["case_id"]: c for c in MANIFEST["cases"] if c["family_module"] == CRANIAL}


def test_peek_cases_cover_both_verdicts():
    assert sorted(PEEK) == ["peek-001", "peek-002", "peek-003"]
    assert {c["expected_verdict"] for c in PEEK.values()} == {"conforming", "nonconforming"}


@pytest.mark.parametrize("case_id", sorted(PEEK))
def test_files_match_manifest(case_id):
    for name, digest in PEEK[case_id]["files"].items():
        assert hashlib.sha256((SAMPLES / case_id / name).read_bytes()).hexdigest() == digest, name


def test_generator_reproduces_every_family_case(tmp_path):
    """One run of the generator for every family (mandible, guide, PEEK): the whole manifest and
    every file's bytes, not only the manifest's word for them."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_family_cases.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    again = json.loads((tmp_path / "FAMILY_MANIFEST.json").read_text())
    assert same_manifest(again, MANIFEST) == []
    assert {m for c in MANIFEST["cases"] for m in [c["family_module"]]} == {
        "pmd_envelope.families.mandible_shapes", "pmd_envelope.families.guide_shapes", CRANIAL}
    for case in MANIFEST["cases"]:
        for name in case["files"]:
            assert (tmp_path / case["case_id"] / name).read_bytes() == (SAMPLES / case["case_id"] / name).read_bytes(), \
                (case["case_id"], name)


def test_no_sliver_faces_in_the_plate_frame():
    from pmd_envelope.families.cranial_shapes import MIN_EDGE_MM, MIN_FACE_AREA_MM2, SAMPLES as SPECS, smallest_face

    for spec in SPECS:
        v, f, _ = spec["build"]()
        area, edge = smallest_face(v, f)
        assert area >= MIN_FACE_AREA_MM2 and edge >= MIN_EDGE_MM, spec["case_id"]


def _hole_truth_by_hand(p):
    """Holes and smallest ligament counted again here from the case parameters, by a different
    route than hole_layout: every grid point tested in polar form on the mid-wall sphere."""
    ri, t, a = p["inner_radius"], p["wall"], np.radians(p["half_angle_deg"])
    d, pitch = p["hole_diameter"], p["pitch"]
    clearance = max(p["clearance"], p.get("ring_ligament", -np.inf) + pitch)
    g = np.arange(-30, 31) * pitch
    x, y = np.meshgrid(g, g)
    theta = np.hypot(x, y) / (ri + t / 2.0)
    lig = ri * np.sin(a - theta) - d / 2.0
    keep = (theta < a) & (lig >= clearance)
    count, ligaments = int(keep.sum()), list(lig[keep])
    if p.get("ring_holes"):
        count += p["ring_holes"]
        ligaments.append(p["ring_ligament"])
    return count, min(ligaments)


@pytest.mark.parametrize("case_id", sorted(PEEK))
def test_expected_verdict_and_truth(validations, case_id):
    case, v = PEEK[case_id], validations[case_id]
    truth, p = case["truth"], case["parameters"]
    assert v.verdict == case["expected_verdict"]
    got = {m["parameter"]: m for m in v.record["measurements"]}
    val = {k: m["value"] for k, m in got.items()}
    count, ligament = _hole_truth_by_hand(p)
    assert val["hole_count"] == count == truth["hole_count"]
    # span: chord across the outer rim; a 180-gon placed by a random rotation reads between D cos(pi/180) and D,
    # each vertex moved up to 0.85 um onto the 2^-10 mm grid
    ro, a = p["inner_radius"] + p["wall"], np.radians(p["half_angle_deg"])
    span = 2.0 * ro * np.sin(a)
    assert span * np.cos(np.pi / 180) - 2e-3 <= val["span"] <= span + 2e-3
    assert val["radius_of_curvature"] == pytest.approx(p["inner_radius"], abs=0.01)
    # a 24-gon hole: between d cos(pi/24) and d
    d = p["hole_diameter"]
    assert d * np.cos(np.pi / 24) - 2e-3 <= got["hole_diameter"]["statistics"]["min"]
    assert got["hole_diameter"]["statistics"]["max"] <= d + 2e-3
    assert val["hole_edge_distance"] == pytest.approx(ligament, abs=truth["hole_edge_distance_tolerance"])
    tol = truth["wall_thickness_tolerance"]
    assert got["wall_thickness"]["statistics"]["median"] == pytest.approx(p["wall"], abs=tol)
    if p.get("ring_holes"):
        # the in-plane ligament between a rim-band hole and the rim is itself a section thinner than the
        # plate: the ray thickness reads it (at mid-wall the ligament is (R_i + t/2) / R_i wider)
        assert p["ring_ligament"] - tol <= val["wall_thickness"] <= p["wall"] + tol
    else:
        assert val["wall_thickness"] == pytest.approx(p["wall"], abs=tol)


def test_too_thin_peek_plate_fails_on_wall_and_load(validations):
    reasons = {(r["item"], r["decision"]) for r in validations["peek-002"].record["reasons"]}
    assert reasons == {("wall_thickness", "nonconforming"), ("yield_load", "nonconforming")}
    (w,) = validations["peek-002"].record["worst_case"]
    assert w["limiting_configuration"] == {"process_route": "printed_z", "tolerance_position": -1.0}
    assert w["value"] < 420.0 and not w["passed"]


def test_rim_band_holes_fail_only_on_the_ligament(validations):
    rec = validations["peek-003"].record
    assert {r["item"] for r in rec["reasons"]} == {"hole_edge_distance"}
    m = next(x for x in rec["measurements"] if x["parameter"] == "hole_edge_distance")
    # the witness runs from a hole's opening to the rim: its length is the value
    w = m["witness"]
    assert np.linalg.norm(np.subtract(w["point"], w["opposite"])) == pytest.approx(m["value"], abs=0.02)


def test_family_cases_same_with_simd_dispatch_restricted(tmp_path):
    """The CSG plates are placed with numpy (sin, arcsin, rotations) before manifold3d cuts them and
    before the vertices are snapped to the grid: the bytes must not depend on numpy's SIMD routines
    (as tests/test_determinism.py checks for scripts/make_sample_cases.py) nor on the CSG being
    run twice."""
    import os

    from cpu_dispatch import restricted_env

    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = tmp_path / "restricted"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_family_cases.py"), "--out", str(out)],
                       env=restricted_env(env), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "NPY_DISABLE_CPU_FEATURES" not in r.stderr, r.stderr
    for case in MANIFEST["cases"]:  # every family's cases
        for name in case["files"]:
            assert (out / case["case_id"] / name).read_bytes() == (SAMPLES / case["case_id"] / name).read_bytes(), \
                (case["case_id"], name)
