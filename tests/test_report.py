"""PDF report: deterministic bytes, metadata stripped, record id and page n of m on every page,
optional worst-case fields (Monte Carlo, sensitivities) and signatures rendered when present."""

import copy
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from pmd_envelope.report import render_report

requires_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@pytest.fixture(scope="module")
def pdf(validations):
    return render_report(validations["cranial-003"].record)


def _pages_text(data, tmp_path):
    p = tmp_path / "r.pdf"
    p.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def test_metadata_stripped(pdf):
    assert pdf.startswith(b"%PDF")
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in pdf


def test_same_record_same_bytes_in_another_process(validations, pdf, tmp_path):
    rec = tmp_path / "record.json"
    rec.write_text(json.dumps(validations["cranial-003"].record))
    code = ("import json,sys; from pmd_envelope.report import render_report; "
            "sys.stdout.buffer.write(render_report(json.load(open(sys.argv[1]))))")
    out = subprocess.run([sys.executable, "-c", code, str(rec)], capture_output=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert out == pdf


@requires_pdftotext
def test_every_page_has_record_id_and_page_n_of_m(validations, pdf, tmp_path):
    rid = validations["cranial-003"].record["record_id"]
    pages = _pages_text(pdf, tmp_path)
    assert len(pages) >= 6
    for n, text in enumerate(pages, start=1):
        assert rid in text and f"Page {n} of {len(pages)}" in text
    assert "NONCONFORMING" in pages[0] and validations["cranial-003"].record["integrity"]["content_sha256"] in pages[0]


@requires_pdftotext
def test_optional_worst_case_fields_and_signatures_rendered(validations, tmp_path):
    rec = copy.deepcopy(validations["cranial-001"].record)
    w = rec["worst_case"][0]
    w["monte_carlo"] = {"probability": 0.0123, "ci": [0.0101, 0.0148], "confidence": 0.95, "samples": 100000,
                        "seed": 7}
    w["baseline"] = 1700.0
    w["sensitivities"] = [{"variable": "thickness_deviation", "low": -0.1, "high": 0.1, "metric_low": 1500.0,
                           "metric_high": 1900.0}]
    rec["signatures"] = [{"role": "approver", "name": "Bo Approver", "signed_at": "2026-11-24T18:00:00Z",
                          "meaning": "approved for manufacture", "public_key": "cd" * 32, "ledger_entry": 4,
                          "valid": True}]
    text = "\n".join(_pages_text(render_report(rec), tmp_path))
    assert "P(metric beyond limit) = 0.0123, 0.95 CI [0.0101, 0.0148], n 100000, seed 7" in text
    assert "tornado" in text and "thickness_deviation" in text
    assert "Bo Approver" in text and "approved for manufacture" in text
    plain = "\n".join(_pages_text(render_report(validations["cranial-001"].record), tmp_path))
    assert "Monte Carlo" in plain and "not evaluated" in plain and "(not signed)" in plain


@requires_pdftotext
def test_long_tables_continue_on_a_new_page(validations, tmp_path):
    rec = copy.deepcopy(validations["cranial-001"].record)
    extra = [{"parameter": f"hole_{i:02d}_diameter", "value": 2.0, "unit": "mm", "method": "hole_fit"}
             for i in range(40)]
    rec["measurements"] = rec["measurements"] + extra
    pages = _pages_text(render_report(rec), tmp_path)
    assert any("Measurements (continued)" in p for p in pages)
    assert all(f"hole_{i:02d}_diameter" in "".join(pages) for i in range(40))
