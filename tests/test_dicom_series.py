"""DICOM series headers and checks: known answers on phantoms, real pydicom test files, bad scans, privacy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from conftest import ENVELOPES, SAMPLES
from pmd_envelope.errors import CaseError, ScanError
from pmd_envelope.scan.phantom import FAKE_IDENTITY, StackGeometry, write_series
from pmd_envelope.scan.series import read_series, read_slice_header

PYDICOM_FILES = Path(get_testdata_file("CT_small.dcm")).parent


def stack(tmp_path, z_steps, *, tilt=0.0, thickness=1.25, name="ct", pixel=0.5):
    geo = StackGeometry(origin=(-8.0, -8.0, 0.0), rows=8, columns=8, pixel_spacing=pixel, z_steps=tuple(z_steps),
                        tilt_deg=tilt)
    hu = np.zeros((len(z_steps), 8, 8), dtype=np.int16)
    write_series(tmp_path / name, hu, geo, seed=1, slice_thickness=thickness, compress=False)
    return tmp_path / name


def finding(series, name):
    return next(f for f in series.findings if f.name == name)


# -- known answers on series made here ---------------------------------------------------------

def test_known_slice_spacing(tmp_path):
    s = read_series(stack(tmp_path, 0.625 * np.arange(12), thickness=0.625), salt="PSN-TEST01")
    assert s.spacing == pytest.approx(0.625, abs=1e-6) and s.largest_gap == pytest.approx(0.625, abs=1e-6)
    assert s.passed and len(s.files) == 12 and s.voxel == pytest.approx((0.5, 0.5, 0.625))


def test_missing_slice_is_reported_with_the_largest_gap(tmp_path):
    z = [1.25 * k for k in range(12) if k != 5]
    s = read_series(stack(tmp_path, z), salt="PSN-TEST01")
    f = finding(s, "uniform_slice_spacing")
    assert not f.passed and f.value == pytest.approx(2.5, abs=1e-6)
    assert "largest gap 2.5 mm" in f.detail and "~1 slice(s) missing" in f.detail
    assert s.spacing == pytest.approx(1.25, abs=1e-6)


def test_duplicated_slice(tmp_path):
    folder = stack(tmp_path, 1.25 * np.arange(6))
    shutil.copy(folder / "CT0003.dcm", folder / "CT0003b.dcm")
    f = finding(read_series(folder, salt="PSN-TEST01"), "uniform_slice_spacing")
    assert not f.passed and "duplicated" in f.detail


def _content_hash_by_definition(folder):
    """The series content hash as documented: SHA-256 over each file's name, NUL and SHA-256, in name order."""
    import hashlib

    content = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        content.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return content.hexdigest()


def test_content_hash_is_the_same_whoever_hashes(tmp_path, monkeypatch):
    import hashlib

    import pmd_envelope.scan.series as series_module

    folder = stack(tmp_path, 1.25 * np.arange(7))
    expected = _content_hash_by_definition(folder)
    assert read_series(folder, salt="PSN-TEST01").content_sha256 == expected
    paths = sorted(folder.iterdir())
    child = series_module._ChildDigests(paths, "ct")
    assert [d.hex() for d in child.result()] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert child.hashed_here == 0  # the child gave every digest
    # the child prints nonsense for every file: each digest is computed in this process
    monkeypatch.setattr(series_module, "_DIGEST_CHILD", "import sys; sys.stdin.buffer.read(); print(('x' * 64 + chr(10)) * 6 + 'x' * 64)")
    assert read_series(folder, salt="PSN-TEST01").content_sha256 == expected
    # the child fails
    monkeypatch.setattr(series_module, "_DIGEST_CHILD", "raise SystemExit(3)")
    assert read_series(folder, salt="PSN-TEST01").content_sha256 == expected
    # no child at all (the interpreter cannot be started)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert read_series(folder, salt="PSN-TEST01").content_sha256 == expected
    # and a changed byte in one slice changes the hash
    data = bytearray((folder / "CT0004.dcm").read_bytes())
    data[-1] ^= 1
    (folder / "CT0004.dcm").write_bytes(bytes(data))
    assert read_series(folder, salt="PSN-TEST01").content_sha256 == _content_hash_by_definition(folder) != expected


def test_gantry_tilt_is_measured_from_the_positions(tmp_path):
    s = read_series(stack(tmp_path, 1.25 * np.arange(8), tilt=15.0), salt="PSN-TEST01")
    f = finding(s, "gantry_tilt")
    assert not f.passed and f.value == pytest.approx(15.0, abs=1e-3) and s.gantry_tilt == 15.0
    # the table moves 1.25 mm; the slices are 1.25 cos 15 deg apart along their normal
    assert s.spacing == pytest.approx(1.25 * np.cos(np.radians(15.0)), abs=1e-5)
    assert finding(read_series(stack(tmp_path, 1.25 * np.arange(4), name="flat"), salt="PSN-TEST01"),
                   "gantry_tilt").passed


def test_spacing_wider_than_thickness(tmp_path):
    f = finding(read_series(stack(tmp_path, 1.5 * np.arange(5), thickness=1.0), salt="PSN-TEST01"),
                "spacing_vs_thickness")
    assert not f.passed and f.value == pytest.approx(0.5, abs=1e-6) and "gaps" in f.detail


# -- real files no one here made (pydicom's test data, shipped in the package) ------------------

def test_real_ct_header():
    h = read_slice_header(get_testdata_file("CT_small.dcm"), salt="PSN-TEST01")
    assert (h.modality, h.slice_thickness, h.pixel_spacing, h.rows, h.columns) == \
        ("CT", 5.0, (0.661468, 0.661468), 128, 128)
    assert (h.kvp, h.kernel, h.gantry_tilt, h.acquired) == (120.0, "STANDARD", 0.0, "1997-04-30")
    assert h.rescale == (1.0, -1024.0) and h.position == pytest.approx((-158.135803, -179.035797, -75.699997))
    assert "CompressedSamples" not in repr(h) and "1CT1" not in repr(h) and "JFK" not in repr(h)


def test_real_ct_series_uniform():
    s = read_series(PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT5N", salt="PSN-TEST01")
    assert s.passed and len(s.files) == 5 and s.spacing == pytest.approx(2.5, abs=1e-5)
    assert s.kvp == 120.0 and s.slice_thickness == 2.5


def test_real_ct_series_with_missing_slices():
    s = read_series(PYDICOM_FILES / "dicomdirtests" / "77654033" / "CT2", salt="PSN-TEST01")
    f = finding(s, "uniform_slice_spacing")
    assert not f.passed and s.largest_gap == pytest.approx(202.5, abs=1e-4) and s.spacing == pytest.approx(1.25)


def test_real_localizers_are_refused():
    with pytest.raises(ScanError, match="localizer"):
        read_series(PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT2N", salt="PSN-TEST01")


def test_uid_hash_is_salted_by_the_pseudonym():
    a = read_slice_header(get_testdata_file("CT_small.dcm"), salt="PSN-AAAA1")
    b = read_slice_header(get_testdata_file("CT_small.dcm"), salt="PSN-BBBB2")
    uid = str(pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True).SeriesInstanceUID)
    assert a.series_uid_hash != b.series_uid_hash and len(a.series_uid_hash) == 64
    assert uid not in repr(a)


# -- cases with a series -----------------------------------------------------------------------

def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pmd_envelope", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture
def scan_case(tmp_path):
    shutil.copytree(ENVELOPES, tmp_path / "envelopes")

    def make(case_id="cranial-005"):
        dst = tmp_path / "cases" / case_id
        shutil.copytree(SAMPLES / case_id, dst)
        return dst

    return make


def _edit(path: Path, **changes):
    ds = pydicom.dcmread(path)
    for k, v in changes.items():
        if v is None:
            delattr(ds, k)
        else:
            setattr(ds, k, v)
    ds.save_as(path)


def _other_series(path: Path):
    ds = pydicom.dcmread(path)
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.99999"
    ds.ImagePositionPatient = [0.0, 0.0, 999.0]
    ds.save_as(path.with_name("ZZ_other.dcm"))


def _jpeg_lossless(path: Path):
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGLosslessSV1
    ds.save_as(path.with_name("ZZ_jpeg.dcm"), enforce_file_format=True)


BAD_SCANS = {
    "not_dicom": (lambda ct: (ct / "notes.txt").write_text("scanner log\n"), "notes.txt", "not a DICOM file"),
    "missing_spacing": (lambda ct: _edit(ct / "CT0007.dcm", PixelSpacing=None), "CT0007.dcm", "missing PixelSpacing"),
    "missing_position": (lambda ct: _edit(ct / "CT0009.dcm", ImagePositionPatient=None), "CT0009.dcm",
                         "missing ImagePositionPatient"),
    "two_series": (lambda ct: _other_series(ct / "CT0002.dcm"), "ZZ_other.dcm", "another series"),
    "compressed": (lambda ct: _jpeg_lossless(ct / "CT0002.dcm"), "ZZ_jpeg.dcm", "pylibjpeg-libjpeg"),
    "localizer": (lambda ct: _edit(ct / "CT0004.dcm", ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"]), "CT0004.dcm",
                  "localizer"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SCANS))
def test_bad_scan_exit_2_one_line_nothing_written(scan_case, tmp_path, kind):
    case = scan_case()
    spoil, name, problem = BAD_SCANS[kind]
    spoil(case / "ct")
    out = tmp_path / "evidence"
    r = run_cli("validate", case, "--out", out)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and problem in lines[0], lines
    assert r.stdout == "" and not out.exists()
    for value in FAKE_IDENTITY.values():
        assert value not in r.stderr


def test_typed_number_must_agree_with_the_series(scan_case):
    from pmd_envelope.pipeline import validate

    case = scan_case("cranial-006")
    toml = case / "case.toml"
    toml.write_text(toml.read_text().replace("slice_thickness = 1.25", "slice_thickness = 1.0"))
    with pytest.raises(CaseError) as err:
        validate(case)
    assert "typed slice_thickness 1.0" in str(err.value) and "SliceThickness 1.25" in str(err.value)
    assert err.value.key == "scan.slice_thickness"


def test_record_says_where_the_scan_numbers_came_from(validations):
    typed = validations["cranial-001"].record["scan"]
    assert typed["source"] == "typed" and "series" not in typed
    scan = validations["cranial-005"].record["scan"]
    assert scan["source"] == "dicom_series" and scan["slice_thickness"] == 1.25 and scan["pixel_spacing"] == 0.8
    assert [f["name"] for f in scan["series"]["findings"]] == [
        "single_series", "consistent_geometry", "uniform_slice_spacing", "gantry_tilt", "spacing_vs_thickness"]
    assert all(f["passed"] for f in scan["series"]["findings"])
    assert len(scan["series"]["series_uid_hmac"]) == 64 and scan["series"]["files"] == 60
    assert {"role": "scan_series", "path": "ct", "sha256": scan["series"]["content_sha256"], "files": 60} in \
        validations["cranial-005"].record["inputs"]


def _identifying_values(ct: Path) -> list[str]:
    ds = pydicom.dcmread(sorted(ct.iterdir())[0])
    values = list(FAKE_IDENTITY.values()) + [str(ds.SeriesInstanceUID), str(ds.StudyInstanceUID),
                                            str(ds.SOPInstanceUID), str(ds.FrameOfReferenceUID)]
    values.append(ds.PatientBirthDate)
    values.append(str(ds.PatientName).replace("^", " "))
    return values


def test_no_identity_in_any_output(scan_case, tmp_path):
    """Every output of validate, report and the ledger, and stdout/stderr, grepped for the series' identity."""
    from pypdf import PdfReader

    case = scan_case("cranial-005")
    out = tmp_path / "evidence"
    runs = [run_cli("validate", case, "--out", out), run_cli("validate", case, "--out", out, "--json")]
    assert [r.returncode for r in runs] == [1, 1], [r.stderr for r in runs]
    values = _identifying_values(case / "ct")
    texts = [r.stdout + r.stderr for r in runs]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".json", ".pdf", ".sqlite"}
    for p in files:
        data = p.read_bytes()
        texts.append(data.decode("latin-1"))
        if p.suffix == ".pdf":
            texts.append("\n".join(page.extract_text() for page in PdfReader(p).pages))
    for v in values:
        for t in texts:
            assert v not in t, v
    record = json.loads(next(out.rglob("record.json")).read_text())
    assert record["scan"]["series"]["series_uid_hmac"] not in values
