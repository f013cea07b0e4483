"""PDF report: deterministic bytes, metadata stripped, record id and page n of m on every page,
optional worst-case fields (Monte Carlo, sensitivities) and signatures rendered when present."""

import copy
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from pmd_envelope.report import render_report



@pytest.fixture(scope="module")
def pdf(validations):
    return render_report(validations["cranial-003"].record)


def _pages_text(data, tmp_path):
    """Text of each page (pypdf: a test dependency, so this runs on a fresh machine)."""
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # the thickness map's markers exceed its XObject count
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


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


def test_every_page_has_record_id_and_page_n_of_m(validations, pdf, tmp_path):
    rid = validations["cranial-003"].record["record_id"]
    pages = _pages_text(pdf, tmp_path)
    assert len(pages) >= 6
    for n, text in enumerate(pages, start=1):
        assert rid in text and f"Page {n} of {len(pages)}" in text
    assert "NONCONFORMING" in pages[0] and validations["cranial-003"].record["integrity"]["content_sha256"] in pages[0]


def test_worst_case_details_and_signatures_rendered(validations, tmp_path):
    rec = copy.deepcopy(validations["cranial-003"].record)
    w = rec["worst_case"][0]
    mc = w["monte_carlo"]
    rec["signatures"] = [{"role": "approver", "name": "Bo Approver", "signed_at": "2026-11-24T18:00:00Z",
                          "meaning": "approved for manufacture", "public_key": "cd" * 32, "ledger_entry": 4,
                          "valid": True}]
    text = "\n".join(_pages_text(render_report(rec), tmp_path))
    assert f"({mc['failures']} of {mc['samples']} samples)" in text and f"seed {mc['seed']}" in text
    assert "tornado" in text
    for row in w["sensitivities"]["variables"]:
        assert row["variable"] in text
    assert "Bo Approver" in text and "approved for manufacture" in text
    # the optional blocks absent: the report still renders and says so
    del w["monte_carlo"], w["sensitivities"]
    del rec["signatures"]
    plain = "\n".join(_pages_text(render_report(rec), tmp_path))
    assert "Monte Carlo" in plain and "not evaluated" in plain and "(not signed)" in plain and "tornado" not in plain


def test_long_tables_continue_on_a_new_page(validations, tmp_path):
    rec = copy.deepcopy(validations["cranial-001"].record)
    extra = [{"parameter": f"hole_{i:02d}_diameter", "value": 2.0, "unit": "mm", "method": "hole_fit"}
             for i in range(40)]
    rec["measurements"] = rec["measurements"] + extra
    pages = _pages_text(render_report(rec), tmp_path)
    assert any("Measurements (continued)" in p for p in pages)
    assert all(f"hole_{i:02d}_diameter" in "".join(pages) for i in range(40))
