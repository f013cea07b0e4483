"""The witness page: every measurement with a witness drawn where it was measured, the device
families' parameters listed, the hole pattern from the record; generic over parameter names."""

import copy
import json

import numpy as np
import pytest

from conftest import SAMPLES
from pmd_envelope.record import HASH_EXCLUDED, finalise_record
from pmd_envelope.report import render_report
from pmd_envelope.report.witnesses import witness_rows

TITLE = "Where each parameter was measured"
FAMILY = {c["case_id"]: c for c in json.loads((SAMPLES / "FAMILY_MANIFEST.json").read_text())["cases"]}


def _refinalise(rec):
    content = {k: v for k, v in rec.items() if k not in HASH_EXCLUDED}
    return finalise_record(content, now=None, record_id=rec["record_id"])


def _page_text(rec) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(render_report(rec))
    pages = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    mine = [p for p in pages if TITLE in p]
    assert len(mine) >= 1
    return "\n".join(mine)


def test_every_witness_is_numbered_and_listed_with_its_decision(validations):
    rec = validations["peek-003"].record
    rows = witness_rows(rec)
    with_witness = [m["parameter"] for m in rec["measurements"] if m.get("witness")]
    assert [r["parameter"] for r in rows] == with_witness == ["wall_thickness", "hole_diameter", "hole_edge_distance"]
    assert [r["n"] for r in rows] == [1, 2, 3]
    decisions = {r["parameter"]: r["decision"] for r in rows}
    assert decisions == {"wall_thickness": "conforming", "hole_diameter": "conforming",
                         "hole_edge_distance": "nonconforming"}
    text = _page_text(rec)
    for name in with_witness:
        assert name in text
    assert "49 through-holes" in text and "nonconforming" in text
    # the ligament's witness stated in the box frame has the measured length
    assert "4.503 mm" in text


def test_a_cranial_record_without_holes_draws_its_thickness_witness(validations):
    rec = validations["cranial-003"].record
    assert "hole_pattern" not in rec  # no through-holes: no block (older records neither)
    rows = witness_rows(rec)
    assert [r["parameter"] for r in rows] == ["wall_thickness"]
    text = _page_text(rec)
    assert "wall_thickness" in text and "through-holes" not in text


def test_hole_pattern_centres_lie_on_the_mid_wall_sphere(validations):
    """Known answer: the generator places the plate's sphere centre at its translation, so every
    hole centre (the mean of its two openings' centres, radii R_i and R_o) is ~R_i + t/2 from it."""
    for case_id in ("peek-001", "peek-002", "peek-003"):
        rec, case = validations[case_id].record, FAMILY[case_id]
        p = case["parameters"]
        centres = np.array([h["centre"] for h in rec["hole_pattern"]["holes"]])
        assert len(centres) == case["truth"]["hole_count"]
        r = np.linalg.norm(centres - np.asarray(case["placement"]["translation"]), axis=1)
        # an opening's circle-fit centre lies on the hole axis, within its polygon's sagitta of the sphere
        assert np.abs(r - (p["inner_radius"] + p["wall"] / 2.0)).max() < 0.05
        assert all(h["diameter"] == pytest.approx(2.0, abs=0.01) for h in rec["hole_pattern"]["holes"])
        e = min(h["edge_distance"] for h in rec["hole_pattern"]["holes"])
        assert e == next(m["value"] for m in rec["measurements"] if m["parameter"] == "hole_edge_distance")


def test_family_parameters_show_up_without_naming_them(validations, monkeypatch):
    """A family parameter (here a made-up saw slot) is listed with its witness drawn, and another
    without a witness is still listed: the page is driven by family_methods(), not by names."""
    import pmd_envelope.families as families

    monkeypatch.setattr(families, "family_methods", lambda: {"slot_width": ("slot_gauge",),
                                                              "slot_angle": ("plane_fit",)})
    rec = copy.deepcopy(validations["peek-001"].record)
    w = next(m for m in rec["measurements"] if m["parameter"] == "wall_thickness")["witness"]
    rec["measurements"] += [
        {"parameter": "slot_width", "value": 1.42, "unit": "mm", "method": "slot_gauge", "statistics": {},
         "witness": {"point": w["point"], "opposite": w["opposite"], "faces": [-1, -1], "distance": 1.42}},
        {"parameter": "slot_angle", "value": None, "unit": "deg", "method": "plane_fit", "statistics": {},
         "reason": "no planned plane in the case"}]
    rows = {r["parameter"]: r for r in witness_rows(rec)}
    assert rows["slot_width"]["family"] and rows["slot_width"]["n"] is not None
    assert rows["slot_angle"]["n"] is None and rows["slot_angle"]["decision"] is None
    text = _page_text(_refinalise(rec))
    assert "slot_width (family)" in text and "slot_angle (family)" in text
    assert "no witness recorded" in text and "not limited by the envelope" in text


def test_no_page_without_witnesses_or_family_parameters(validations):
    rec = copy.deepcopy(validations["peek-001"].record)
    for m in rec["measurements"]:
        m.pop("witness", None)
    assert witness_rows(rec) == []
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(render_report(_refinalise(rec)))
    assert not any(TITLE in doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def test_witness_page_is_deterministic(validations):
    rec = validations["peek-002"].record
    assert render_report(rec) == render_report(copy.deepcopy(rec))


def test_witnesses_move_into_the_frame_the_thickness_map_uses(validations):
    """The page's frame transform, checked against the thickness map's own witness (placed in the
    box frame by pmd_envelope.surface_map when the record was made)."""
    from pmd_envelope.report.witnesses import _to_frame

    for case_id in ("cranial-003", "peek-003"):
        rec = validations[case_id].record
        tm = rec["thickness_map"]
        w = next(m for m in rec["measurements"] if m["parameter"] == "wall_thickness")["witness"]
        a, b = _to_frame([w["point"], w["opposite"]], tm["frame"])
        assert a == pytest.approx(tm["witness"]["point"], abs=0.02)
        assert b == pytest.approx(tm["witness"]["opposite"], abs=0.02)
