"""``pmd-envelope selftest``: installation/operational qualification, against independent truth."""

import dataclasses
import json
import shutil

import pytest

from conftest import ROOT
from pmd_envelope import selftest as st
from pmd_envelope.cli import main


def test_shipped_pins_are_the_repository_pins():
    assert (ROOT / "pmd_envelope" / "data" / "constraints.txt").read_bytes() == (ROOT / "constraints.txt").read_bytes(), \
        "pmd_envelope/data/constraints.txt differs from constraints.txt: cp constraints.txt pmd_envelope/data/"


def test_manifest_is_current():
    recorded = (st.DATA_DIR / st.MANIFEST_NAME).read_text("utf-8")
    assert recorded == st.manifest_text(), \
        "pmd_envelope/data/manifest.sha256 is stale: run python scripts/update_manifest.py and commit it"


def test_manifest_covers_code_schema_and_pins():
    files = st.package_files()
    assert {"cli.py", "selftest.py", "measure/thickness.py", "report/selftest.py", "schema/record.schema.json",
            "data/constraints.txt"} <= set(files)
    assert f"data/{st.MANIFEST_NAME}" not in files and not any("__pycache__" in f for f in files)


def test_selftest_passes_and_writes_identical_reports(tmp_path, capsys):
    assert main(["selftest", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "selftest passed" in out and "known_answers" in out
    assert main(["selftest", "--out", str(tmp_path / "b"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    for name in ("selftest.json", "selftest.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    report = json.loads((tmp_path / "a" / "selftest.json").read_bytes())
    assert report == printed and report["passed"] and report["failed"] == []
    # the software's own hash is the SHA-256 of the manifest file, computed here independently
    import hashlib
    assert report["software"]["manifest_sha256"] == hashlib.sha256((st.DATA_DIR / st.MANIFEST_NAME).read_bytes()).hexdigest()
    names = {c["name"] for c in report["checks"] if c["group"] == "known_answers"}
    assert {"shell_thickness", "cap_plate_thickness", "cap_plate_span", "worst_case_corner_value",
            "worst_case_interior_value", "worst_case_interior_x", "tampered_ledger_edit_detected",
            "mandible_bar_bend_radius", "knee_guide_slot_width", "peek_plate_hole_count",
            "peek_plate_hole_edge_distance"} <= names
    assert {c["name"] for c in report["checks"] if c["group"] == "packages"} >= {"numpy", "trimesh", "scipy"}
    from pypdf import PdfReader
    pdf = PdfReader(tmp_path / "a" / "selftest.pdf")
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "result: PASSED" in text and report["software"]["manifest_sha256"] in text
    assert not {"/Creator", "/Producer", "/CreationDate"} & set(pdf.metadata or {})


def test_wrong_thickness_fails_naming_the_case(monkeypatch, tmp_path, capsys):
    from pmd_envelope.measure import thickness

    real = thickness.ray_thickness

    def off_by_point_05(mesh, settings, engine=None):
        field = real(mesh, settings, engine)
        return dataclasses.replace(field, measurement=dataclasses.replace(field.measurement,
                                                                          value=field.measurement.value + 0.05))

    monkeypatch.setattr(thickness, "ray_thickness", off_by_point_05)
    result = st.run_selftest()
    assert not result.passed
    assert {c.name for c in result.failed} == {"shell_thickness", "cap_plate_thickness"}
    assert main(["selftest", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    import re
    assert re.search(r"^FAIL known_answers/shell_thickness: expected 3 mm, observed 3\.0[45]\d* mm \(±0\.01 mm\)$", out, re.M), out
    assert "SELFTEST FAILED: 2 check(s)" in out
    report = json.loads((tmp_path / "selftest.json").read_bytes())
    assert report["failed"] == ["known_answers/shell_thickness", "known_answers/cap_plate_thickness"]


def test_crashing_case_is_a_named_failure(monkeypatch):
    from pmd_envelope import ledger

    def broken(*a, **k):
        raise RuntimeError("simulated")

    monkeypatch.setattr(ledger, "verify_ledger", broken)
    failed = st.run_selftest().failed
    assert [(c.name, c.observed) for c in failed] == [("tampered_ledger", "RuntimeError: simulated")]


@pytest.fixture
def package_copy(tmp_path):
    root = tmp_path / "pmd_envelope"
    shutil.copytree(st.PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_changed_missing_and_extra_files_named(package_copy):
    (package_copy / "conformance.py").write_text((package_copy / "conformance.py").read_text() + "\n# edit\n")
    (package_copy / "units.py").unlink()
    (package_copy / "measure" / "extra.py").write_text("x = 1\n")
    checks, _ = st._file_checks(package_copy)
    assert {c.name: c.observed for c in checks if not c.passed}.keys() == {"conformance.py", "units.py",
                                                                           "measure/extra.py"}
    assert {c.name: c.observed for c in checks if not c.passed}["units.py"] == "missing"


def test_version_other_than_the_pin_named(package_copy):
    pins = package_copy / "data" / "constraints.txt"
    pins.write_text(pins.read_text().replace("numpy==", "numpy==0.0.1.dev0+was") + "no-such-package-pmd==1.0\n")
    failed = {c.name: (c.expected, c.observed) for c in st._package_checks(package_copy) if not c.passed}
    import numpy
    assert failed == {"numpy": ("0.0.1.dev0+was" + _pinned("numpy"), numpy.__version__),
                      "no-such-package-pmd": ("1.0", "not installed")}


def _pinned(name):
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==")[1]


def test_pdf_shows_every_character_of_a_failed_check(package_copy):
    """A changed file's two hashes are wider than the page: the line wraps, nothing is cut off."""
    import pypdfium2

    from pmd_envelope.report.selftest import render_selftest

    (package_copy / "units.py").write_text("# changed\n", encoding="utf-8")
    result = st.run_selftest(package_copy).as_dict()
    (check,) = [c for c in result["checks"] if c["name"] == "units.py"]
    assert not check["passed"] and len(check["expected"]) == len(check["observed"]) == 64
    pdf = pypdfium2.PdfDocument(render_selftest(result))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    flat = "".join(text.split())  # wrapped lines joined again
    assert check["expected"] in flat and check["observed"] in flat
    for i in range(len(pdf)):  # every character inside the page
        page, tp = pdf[i], pdf[i].get_textpage()
        width = page.get_width()
        for k in range(tp.count_chars()):
            left, _, right, _ = tp.get_charbox(k)
            assert 0 <= left and right <= width, (i, k)
