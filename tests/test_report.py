"""PDF report: deterministic bytes, metadata stripped, record id and page n of m on every page,
a changed record refused or marked on every page, signers verified only against trusted keys,
no text outside its cell or the page, the thickness map drawn from the record's surface."""

import copy
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, latest_record, latest_rel
from evidence_writer import fake_report
from pmd_envelope.cli import main
from pmd_envelope.errors import RecordError
from pmd_envelope.ledger import commit_evidence
from pmd_envelope.record import HASH_EXCLUDED, finalise_record, record_bytes
from pmd_envelope.report import CHANGED_MARK, render_report
from pmd_envelope.signatures import public_key_hex


@pytest.fixture(scope="module")
def pdf(validations):
    return render_report(validations["cranial-003"].record)


def _refinalise(rec):
    """A record edited by a test, re-hashed so it is a valid record again."""
    content = {k: v for k, v in rec.items() if k not in HASH_EXCLUDED}
    return finalise_record(content, now=None, record_id=rec["record_id"])


def _pages_text(data):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def test_metadata_stripped(pdf):
    assert pdf.startswith(b"%PDF")
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in pdf


def test_same_record_same_bytes_in_another_process(validations, pdf, tmp_path):
    rec = tmp_path / "record.json"
    rec.write_bytes(record_bytes(validations["cranial-003"].record))
    code = ("import json,sys; from pmd_envelope.report import render_report; "
            "sys.stdout.buffer.write(render_report(json.load(open(sys.argv[1]))))")
    out = subprocess.run([sys.executable, "-c", code, str(rec)], capture_output=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert out == pdf


def test_every_page_has_record_id_and_page_n_of_m(validations, pdf):
    rid = validations["cranial-003"].record["record_id"]
    pages = _pages_text(pdf)
    assert len(pages) >= 6
    for n, text in enumerate(pages, start=1):
        assert rid in text and f"Page {n} of {len(pages)}" in text and CHANGED_MARK not in text
    assert "NONCONFORMING" in pages[0] and validations["cranial-003"].record["integrity"]["content_sha256"] in pages[0]


# -- a report cannot lie -----------------------------------------------------------------------

def test_changed_record_refused_or_marked_on_every_page(validations):
    rec = copy.deepcopy(validations["cranial-003"].record)
    rec["verdict"] = "conforming"  # edited by hand
    with pytest.raises(RecordError, match="does not match its content hash"):
        render_report(rec)
    pdf = render_report(rec, mark_changed=True)
    pages = _pages_text(pdf)
    assert all(CHANGED_MARK in p for p in pages) and "CONFORMING (as edited)" in pages[0]
    assert not _overflows(pdf, "changed")[0]


def test_cli_report_on_an_edited_record(validations, tmp_path, capsys):
    path = tmp_path / "record.json"
    rec = copy.deepcopy(validations["cranial-003"].record)
    rec["verdict"] = "conforming"
    path.write_bytes(record_bytes(rec))
    out = tmp_path / "report.pdf"
    assert main(["report", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "does not match its content hash" in err
    assert not out.exists()
    assert main(["report", str(path), "-o", str(out), "--mark-changed"]) == 0
    assert CHANGED_MARK in capsys.readouterr().out
    assert all(CHANGED_MARK in p for p in _pages_text(out.read_bytes()))


def test_signature_valid_only_for_trusted_keys(validations, tmp_path, capsys):
    out = tmp_path / "ev"
    rec = validations["cranial-001"].record
    commit_evidence(out, rec, fake_report(rec["record_id"]))
    key = tmp_path / "k"
    key.write_text("a1" * 32 + "\n")
    path = latest_record(out, "cranial-001")
    assert main(["sign", str(path), "--name", "Ada Reviewer", "--role", "reviewer", "--meaning", "reviewed",
                 "--key", str(key)]) == 0
    capsys.readouterr()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = public_key_hex(Ed25519PrivateKey.from_private_bytes(bytes.fromhex("a1" * 32)))
    pdf_path = tmp_path / "r.pdf"
    assert main(["report", str(path), "-o", str(pdf_path)]) == 0
    assert "(signature valid, signer not verified)" in capsys.readouterr().out
    assert "signature valid, signer not verified" in "".join(_pages_text(pdf_path.read_bytes()))
    trusted = tmp_path / "trusted.txt"
    trusted.write_text(f"{pub} Ada Reviewer\n")
    assert main(["report", str(path), "-o", str(pdf_path), "--trusted-keys", str(trusted)]) == 0
    assert "(valid)" in capsys.readouterr().out
    text = "".join(_pages_text(pdf_path.read_bytes()))
    assert "Ada Reviewer" in text and "not verified" not in text.split("Check")[1].split("Electronic")[0]
    trusted.write_text(f"{'cd' * 32} Ada Reviewer\n")  # someone else's key under that name
    assert main(["report", str(path), "-o", str(pdf_path), "--trusted-keys", str(trusted)]) == 0
    assert "(signature valid, signer not verified)" in capsys.readouterr().out


def test_worst_case_details_and_signatures_rendered(validations):
    rec = validations["cranial-003"].record
    w = rec["worst_case"][0]
    mc = w["monte_carlo"]
    sigs = [{"role": "approver", "name": "Bo Approver", "signed_at": "2026-11-24T18:00:00Z",
             "meaning": "approved for manufacture", "public_key": "cd" * 32, "ledger_entry": 4, "valid": True,
             "signer_verified": False, "content_sha256": rec["integrity"]["content_sha256"]},
            {"role": "reviewer", "name": "Eve Forger", "signed_at": "2026-11-24T18:00:00Z", "meaning": "reviewed",
             "public_key": "ef" * 32, "ledger_entry": 5, "valid": False, "problem": "signature does not verify"}]
    text = "\n".join(_pages_text(render_report(rec, signatures=sigs)))
    # the Monte Carlo assumptions in words: what was assumed, how many samples, which seed
    assert f"{mc['samples']:,} samples".replace(",", " ") in text and f"seed {mc['seed']}" in text
    assert "Assumed, because the envelope declares no distribution" in text and "uniform(-0.1, 0.1)" in text
    assert "tornado" in text and "worst combination" in text and "limit 420 N" in text
    for row in w["sensitivities"]["variables"]:
        assert row["variable"] in text
    assert "Bo Approver" in text and "approved for manufacture" in text
    assert "signature valid, signer not verified" in text and "NOT VALID" in text
    # the optional blocks absent: the report still renders and says so
    rec = copy.deepcopy(rec)
    del rec["worst_case"][0]["monte_carlo"], rec["worst_case"][0]["sensitivities"]
    plain = "\n".join(_pages_text(render_report(_refinalise(rec))))
    assert "Monte Carlo: not evaluated" in plain and "(not signed)" in plain and "(tornado)" not in plain


def test_long_tables_continue_on_a_new_page(validations):
    rec = copy.deepcopy(validations["cranial-001"].record)
    extra = [{"parameter": f"hole_{i:02d}_diameter", "value": 2.0, "unit": "mm", "method": "hole_fit"}
             for i in range(60)]
    rec["measurements"] = rec["measurements"] + extra
    pages = _pages_text(render_report(_refinalise(rec)))
    assert any("Measurements (continued)" in p for p in pages)
    assert all(f"hole_{i:02d}_diameter" in "".join(pages) for i in range(60))


def test_units_and_precision_as_a_reader_expects(validations):
    text = "\n".join(_pages_text(render_report(validations["cranial-004"].record)))
    assert "mm³" in text and "mm²" in text and "mm^" not in text
    assert " 1\n" not in text and "hole_count 0 1" not in text
    # value, U and margin to the decimal place of U (U = 0.050 mm for the wall)
    assert "value 2.499 ± 0.050 mm" in text and "margin 1.499 mm" in text
    assert "value 109.99 ± 0.10 mm" in text and "margin 30.01 mm" in text
    assert "limit ≤ 0.8 mm" in text or "limit ≤ 0.80 mm" in text


# -- nothing outside its cell or the page ------------------------------------------------------

def _rectangles(page):
    """Axis-aligned rectangles drawn on a page (table cells, axes frames, boxes) [pt]."""
    import ctypes

    import pypdfium2.raw as raw

    rects = []
    for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_PATH,)):
        n = raw.FPDFPath_CountSegments(obj.raw)
        if n not in (4, 5):
            continue
        pts = []
        for i in range(n):
            seg = raw.FPDFPath_GetPathSegment(obj.raw, i)
            fx, fy = ctypes.c_float(), ctypes.c_float()
            raw.FPDFPathSegment_GetPoint(seg, fx, fy)
            pts.append((fx.value, fy.value))
        xs = sorted({round(p[0], 2) for p in pts})
        ys = sorted({round(p[1], 2) for p in pts})
        if len(xs) == 2 and len(ys) == 2:
            l, b, r, t = obj.get_bounds()  # noqa: E741 - bounds in page space (the matrix applied)
            if r - l > 2 and t - b > 2:
                rects.append((l, b, r, t))
    return rects


def _text_boxes(page):
    import pypdfium2.raw as raw

    return [(obj.get_bounds(), obj) for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_TEXT,))]


def _overflows(pdf: bytes, label: str = "") -> tuple[list[str], int, int]:
    """Text objects outside the page margins or crossing the smallest drawn rectangle holding
    their centre; with the number of text objects and rectangles checked."""
    import pypdfium2 as pdfium

    tol = 0.8  # [pt]: glyph boxes are font bounding boxes, a little larger than the ink
    problems, texts, boxes = [], 0, 0
    doc = pdfium.PdfDocument(pdf)
    for n in range(len(doc)):
        page = doc[n]
        w, h = page.get_size()
        rects = [r for r in _rectangles(page) if (r[2] - r[0]) < w - 5 or (r[3] - r[1]) < h - 5]
        boxes += len(rects)
        for (l, b, r, t), _ in _text_boxes(page):  # noqa: E741
            texts += 1
            where = f"{label} page {n + 1}: text at ({l:.0f}, {b:.0f})-({r:.0f}, {t:.0f})"
            if not (10 <= l and r <= w - 10 and 10 <= b and t <= h - 10):
                problems.append(f"{where} outside the page")
                continue
            cx, cy = (l + r) / 2, (b + t) / 2
            holders = [q for q in rects if q[0] <= cx <= q[2] and q[1] <= cy <= q[3]]
            if holders:
                q = min(holders, key=lambda q: (q[2] - q[0]) * (q[3] - q[1]))
                if not (q[0] - tol <= l and r <= q[2] + tol and q[1] - tol <= b and t <= q[3] + tol):
                    problems.append(f"{where} crosses the box ({q[0]:.0f}, {q[1]:.0f})-({q[2]:.0f}, {q[3]:.0f})")
    return problems, texts, boxes


def test_no_text_outside_its_cell_or_the_page(validations):
    """Every text object of every page of every sample report lies inside the page margins and
    inside the smallest drawn rectangle that holds its centre (a table cell, an axes frame)."""
    for case, v in sorted(validations.items()):
        problems, texts, boxes = _overflows(render_report(v.record), case)
        assert not problems
        assert texts > 300 and boxes > 80  # the check saw the tables' cells and their text


def test_the_overflow_check_sees_clipped_text():
    """Control: a cell whose text runs past its right edge, and text off the page, are caught."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.add_artist(Rectangle((0.1, 0.5), 0.2, 0.03, transform=fig.transFigure, fill=False))
        fig.text(0.11, 0.51, "exhaustive over 8 corner configurations, so the worst case is at a corn", fontsize=8)
        fig.text(0.9, 0.2, "runs off the page", fontsize=8)
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf")
        plt.close(fig)
    problems, _, _ = _overflows(buf.getvalue())
    assert len(problems) == 2 and "crosses the box" in problems[0] and "outside the page" in problems[1]


# -- thickness map -----------------------------------------------------------------------------

def test_thickness_map_is_the_surface_in_the_box_frame(validations):
    rec = validations["cranial-003"].record
    tm = rec["thickness_map"]
    assert tm["version"] == 2
    p, tri = np.asarray(tm["vertices"]), np.asarray(tm["triangles"])
    t = np.array([np.nan if x is None else x for x in tm["thickness"]])
    edge = np.zeros(len(tri), dtype=bool)
    edge[tm["edge_triangles"]] = True
    assert 1000 < len(tri) <= 1.2 * 4000 and tri.max() < len(p) and len(t) == len(tri)
    # the frame is the oriented box: extents along the axes match the recorded obb extents
    ext = {m["parameter"]: m["value"] for m in rec["measurements"]}
    span = np.ptp(p, axis=0)
    cell = tm["cell_mm"]  # a cluster is drawn at the mean of its vertices: the outline shrinks by < 1 cell
    assert span[0] == pytest.approx(ext["span"], abs=cell) and span[2] == pytest.approx(ext["extent_min"], abs=cell)
    # a cap's concave side faces -axis 3: its rim is lower than its middle along axis 3
    r = np.hypot(p[:, 0], p[:, 1])
    assert p[r > 0.9 * r.max(), 2].mean() < p[r < 0.2 * r.max(), 2].mean()
    # never thinner than measured; the thinnest drawn triangle is the measured minimum
    wt = next(m for m in rec["measurements"] if m["parameter"] == "wall_thickness")
    assert np.nanmin(t[~edge]) == pytest.approx(wt["value"], abs=1e-3)
    assert edge.any()  # the rim of the cap is in the sharp-edge zone
    a, b = np.asarray(tm["witness"]["point"]), np.asarray(tm["witness"]["opposite"])
    assert np.linalg.norm(b - a) == pytest.approx(wt["value"], abs=2e-3)
    assert tm["section"]["segments"]


def test_schema_1_0_record_renders_its_point_map(validations):
    rec = copy.deepcopy(validations["cranial-001"].record)
    tm = rec["thickness_map"]
    p, tri = np.asarray(tm["vertices"]), np.asarray(tm["triangles"])
    c = p[tri].mean(axis=1)
    edge = np.isin(np.arange(len(tri)), tm["edge_triangles"]).astype(int).tolist()
    rec["schema_version"] = "1.0"
    rec["thickness_map"] = {"columns": ["x", "y", "z", "thickness", "edge"], "faces_total": tm["faces_total"],
                            "stride": 6, "points": [[*map(float, xyz), th if th is not None else 1.0, e]
                                                    for xyz, th, e in zip(c, tm["thickness"], edge)]}
    pdf = render_report(_refinalise(rec))
    text = "\n".join(_pages_text(pdf))
    assert "Schema 1.0 record" in text and "Wall thickness map" in text
    assert not _overflows(pdf, "schema 1.0")[0]


def test_render_time_of_a_sample_case(validations):
    """A guard against drawing the map face by face again (seconds per page). CPU time, not wall
    time: the shared CI cores are contended. benchmarks/bench_report.py measures properly."""
    import time

    rec = validations["cranial-004"].record
    render_report(rec)  # warm: imports and font cache
    t0 = time.process_time()
    render_report(rec)
    assert time.process_time() - t0 < 4.0


# -- scan page ---------------------------------------------------------------------------------

def test_scan_page_only_with_a_series(validations):
    """The scan page: series checks, fit in words, slice and gap map, from the record's scan blocks;
    absent from a record that read no DICOM series."""
    title = "Patient scan and fit to the bone"
    assert not any(title in p for p in _pages_text(render_report(validations["cranial-001"].record)))
    for case, words in (("cranial-005", "(conforming)"), ("cranial-006", "(nonconforming)")):
        rec = validations[case].record
        pages = [p for p in _pages_text(render_report(rec)) if title in p]
        assert len(pages) == 1
        text = pages[0]
        for f in rec["scan"]["series"]["findings"]:
            assert f["name"] in text
        assert "Slice through the design's centre" in text and "Gap map of the bone-facing surface" in text
        assert "scan_fit_gap: largest gap" in text and words in text
    # a record without the drawing still shows the checks and says why nothing is drawn
    rec = copy.deepcopy(validations["cranial-006"].record)
    rec["scan_fit"] = None
    text = "\n".join(_pages_text(render_report(_refinalise(rec))))
    assert "No slice or gap map" in text and "uniform_slice_spacing" in text
