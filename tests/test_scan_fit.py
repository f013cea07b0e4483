"""The design against the scanned bone: known gaps on a phantom, and the sample cases with a series."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SAMPLES
from pmd_envelope.geometry import MeshData
from pmd_envelope.record import record_bytes
from pmd_envelope.scan.bone import measure_scan_fit
from pmd_envelope.scan.phantom import HeadPhantom, StackGeometry, phantom_volume, write_series
from pmd_envelope.scan.series import DEFAULT_SCAN_SETTINGS, read_series
from pmd_envelope.shapes import spherical_cap_plate

MANIFEST = json.loads((SAMPLES / "SCANS_MANIFEST.json").read_text())
CASES = {c["case_id"]: c for c in MANIFEST["cases"]}


@pytest.fixture(scope="module")
def skull(tmp_path_factory):
    """A skull cap (tables at 64 and 70 mm around the origin), no defect, 0.8 x 0.8 x 1.25 mm voxels."""
    head = HeadPhantom(centre=(0.0, 0.0, 0.0), r_inner=64.0, r_outer=70.0, r_scalp=75.0)
    geo = StackGeometry(origin=(-30.0, -30.0, 52.0), rows=76, columns=76, pixel_spacing=0.8,
                        z_steps=tuple(1.25 * k for k in range(22)))
    folder = tmp_path_factory.mktemp("skull") / "ct"
    write_series(folder, phantom_volume(head, geo), geo, seed=3, slice_thickness=1.25)
    return read_series(folder, salt="PSN-TEST01"), folder


def plate_at(gap):
    p = spherical_cap_plate(70.0 + gap, 2.0, 0.3, rings=20, segments=80)
    return MeshData(vertices=np.array(p.vertices), faces=np.array(p.faces), path="plate", sha256="", units="mm")


@pytest.mark.parametrize("gap", [0.0, 0.5, 1.0, 5.0])
def test_plate_at_a_known_gap(skull, gap):
    series, folder = skull
    g, frac = measure_scan_fit(plate_at(gap), series, folder, threshold_hu=300.0, gap_limit=2.5,
                               contact_angle_deg=30.0, settings=DEFAULT_SCAN_SETTINGS)
    s = dict(g.statistics)
    u = s["voxel_uncertainty"]
    assert u == pytest.approx(0.5 * np.sqrt(0.8**2 + 0.8**2 + 1.25**2))  # half the voxel diagonal
    # the 300 HU threshold (bone 1400, scalp 40) puts the surface outward: a systematic bias of
    # 0.3-0.65 mm (up to ~half the 1.25 mm slice); around it, every face's gap is within half
    # the voxel diagonal of the truth
    bias = s["mean"] - gap
    assert -0.7 <= bias <= -0.25
    assert abs(s["rms"] - abs(gap)) <= u
    assert gap + bias - u <= s["min"] <= s["mean"] <= g.value <= gap + bias + u
    assert s["contact_area"] > 0.9 * np.pi * (70 * np.sin(0.3)) ** 2 * 0.9
    assert frac.value == (1.0 if gap <= 1.0 else 0.0)  # limit 2.5 mm


def test_no_bone_near_the_design(skull):
    series, folder = skull
    far = plate_at(0.0)
    far = MeshData(vertices=far.vertices * np.array([1.0, 1.0, -1.0]), faces=far.faces[:, ::-1].copy(), path="p",
                   sha256="", units="mm")
    g, frac = measure_scan_fit(far, series, folder, threshold_hu=300.0, gap_limit=2.5, contact_angle_deg=30.0,
                               settings=DEFAULT_SCAN_SETTINGS)
    assert g.value is None and frac.value is None and "no bone" in g.reason


def test_sample_with_series_conforms_except_for_the_draft_envelope(validations):
    v = validations["cranial-005"]
    assert v.verdict == CASES["cranial-005"]["expected_verdict"]
    assert [r["item"] for r in v.record["reasons"]] == ["envelope"]
    got = {m["parameter"]: m for m in v.record["measurements"]}
    truth = CASES["cranial-005"]["truth"]
    assert abs(got["scan_fit_gap"]["statistics"]["mean"] - truth["scan_fit_gap"]) <= 1.5
    assert got["scan_contact_fraction"]["value"] == 1.0
    assert got["wall_thickness"]["value"] == pytest.approx(truth["wall_thickness"], abs=5e-3)


def test_wrong_side_is_nonconforming_on_the_fit_alone(validations):
    v = validations["cranial-006"]
    assert v.verdict == "nonconforming"
    bad = {r["item"] for r in v.record["reasons"]} - {"envelope"}
    assert bad == {"scan_fit_gap", "scan_contact_fraction"}
    assert all(c["decision"] == "conforming" for c in v.record["checks"] if not c["parameter"].startswith("scan_fit")
               and c["parameter"] != "scan_contact_fraction")
    same = {m["parameter"]: m["value"] for m in validations["cranial-005"].record["measurements"]}
    for m in v.record["measurements"]:
        if m["parameter"] in ("wall_thickness", "span", "radius_of_curvature", "volume"):
            assert m["value"] == pytest.approx(same[m["parameter"]], rel=1e-5)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_scan_sample_files_match_manifest(case_id):
    for name, digest in CASES[case_id]["files"].items():
        assert hashlib.sha256((SAMPLES / case_id / name).read_bytes()).hexdigest() == digest, name


def test_scan_sample_generator_reproduces_bytes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_scans.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for case_id, case in CASES.items():
        for name in case["files"]:
            assert (tmp_path / case_id / name).read_bytes() == (SAMPLES / case_id / name).read_bytes(), name
    assert (tmp_path / "SCANS_MANIFEST.json").read_bytes() == (SAMPLES / "SCANS_MANIFEST.json").read_bytes()


# -- the drawing the report's scan page takes from the record ----------------------------------

def test_drawing_of_a_plate_at_a_known_gap(skull):
    """A cap plate 1 mm off a spherical skull: the slice shows the plate's inner surface and the
    bone's outer table as arcs about the skull centre 1 mm apart (less the threshold bias), and
    every gap-map cell over bone holds the gap within the voxel uncertainty."""
    from pmd_envelope.scan.bone import fit_scan

    series, folder = skull
    fit = fit_scan(plate_at(1.0), series, folder, threshold_hu=300.0, gap_limit=2.5, contact_angle_deg=30.0,
                   settings=DEFAULT_SCAN_SETTINGS)
    d, u = fit.drawing, dict(fit.gap.statistics)["voxel_uncertainty"]
    assert d["version"] == 1 and fit.gap.value is not None
    origin, axes = np.asarray(d["frame"]["origin"]), np.asarray(d["frame"]["axes"])
    assert axes @ axes.T == pytest.approx(np.eye(3), abs=1e-6)
    # the skull centre (0, 0, 0) in the frame's (axis 1, axis 3) plane: axis 2 passes through it
    centre = (-origin) @ axes.T
    assert abs(centre[1]) < 0.05 and centre[2] < -60  # the bone side is -axis 3
    radius = lambda lines: np.hypot(*(np.concatenate(lines).reshape(-1, 2) - centre[[0, 2]]).T)  # noqa: E731
    bone, design = radius(d["slice"]["bone"]), radius(d["slice"]["design"])
    assert len(bone) > 20 and len(design) > 20
    # the outer table at 70 mm (the inner at 64 mm may enter the crop too), the plate's inner surface at 71 mm
    assert np.abs(bone[bone > 67] - 70.0).max() <= u + 0.7
    assert design.min() == pytest.approx(71.0, abs=0.05)
    cells = d["gap_map"]["cells"]
    gaps = np.array([c[2] for c in cells if c[2] is not None])
    assert len(gaps) > 0.8 * len(cells) and len(cells) <= 1500
    assert np.all(np.abs(gaps - 1.0) <= u + 0.7) and gaps.max() == pytest.approx(fit.gap.value, abs=1e-3)
    # the drawing is deterministic: the same fit gives the same block
    again = fit_scan(plate_at(1.0), series, folder, threshold_hu=300.0, gap_limit=2.5, contact_angle_deg=30.0,
                     settings=DEFAULT_SCAN_SETTINGS)
    assert json.dumps(again.drawing, sort_keys=True) == json.dumps(d, sort_keys=True)


def test_record_carries_the_scan_drawing_only_with_a_series(validations):
    assert "scan_fit" not in validations["cranial-001"].record
    for case in ("cranial-005", "cranial-006"):
        rec = validations[case].record
        without = {k: v for k, v in rec.items() if k != "scan_fit"}
        extra = len(record_bytes(rec)) - len(record_bytes(without))  # as written: indented JSON
        assert rec["scan_fit"]["version"] == 1 and extra < 100_000


def test_closest_points_agree_with_an_exhaustive_search(tmp_path):
    """The nearest-vertex candidate search gives the true closest distance on a marching-cubes bone.

    Against trimesh's R-tree closest point (every triangle whose box can hold a closer point is
    tested), on a skull with a defect: design face centres over the bone and over the defect
    (up to 17 mm from the rim, where many triangles are nearly equidistant) and random points.
    """
    import trimesh

    from pmd_envelope.geometry import face_normals
    from pmd_envelope.scan.bone import bone_surface, closest_points

    axis = np.array([0.0, 0.0, 1.0])
    head = HeadPhantom(centre=(0.0, 0.0, 0.0), r_inner=64.0, r_outer=70.0, r_scalp=75.0,
                       defect_axis=tuple(axis), defect_cos=float(np.cos(0.25)))
    geo = StackGeometry(origin=(-32.0, -32.0, 50.0), rows=81, columns=81, pixel_spacing=0.8,
                        z_steps=tuple(1.25 * k for k in range(20)))
    write_series(tmp_path / "ct", phantom_volume(head, geo), geo, seed=5, slice_thickness=1.25)
    series = read_series(tmp_path / "ct", salt="PSN-TEST01")
    bone = bone_surface(series, tmp_path / "ct", np.array([-40.0, -40.0, 40.0]), np.array([40.0, 40.0, 80.0]), 300.0)
    plate = plate_at(0.5)
    rng = np.random.default_rng(11)
    points = np.vstack([plate.vertices[plate.faces].mean(axis=1)[::3],
                        rng.uniform(bone.vertices.min(axis=0), bone.vertices.max(axis=0), size=(600, 3))])
    q, d, face = closest_points(points, bone)
    _, d_ref, _ = trimesh.proximity.closest_point(trimesh.Trimesh(bone.vertices, bone.faces, process=False), points)
    assert d.min() < 0.5 and d.max() > 15.0  # near and far points were both tested
    np.testing.assert_allclose(d, d_ref, rtol=0, atol=1e-9)
    # the face reported holds the point reported, at the distance reported
    a, b, c = (bone.vertices[bone.faces[face, i]] for i in range(3))
    n = face_normals(bone.vertices, bone.faces[face])
    assert np.abs(np.einsum("ij,ij->i", q - a, n)).max() < 1e-9
    np.testing.assert_allclose(np.linalg.norm(q - points, axis=1), d, rtol=0, atol=1e-12)
