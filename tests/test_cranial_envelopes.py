"""The released cranial envelopes verify themselves: titanium 1.3.0 and PEEK 1.0.0.

Closed-form truth: the worst corner of the clamped-plate yield load written out here by hand
(Roark Table 11.2 case 16, r0' = r0 since the 5 mm load radius exceeds half of every wall in the
envelope), not by pmd_envelope.models.
"""

import json
import math
import re

import pytest

from conftest import ENVELOPES
from pmd_envelope.cli import main
from pmd_envelope.envelope import load_envelope
from pmd_envelope.worstcase import envelope_worst_cases

TI_1_3 = ENVELOPES / "cranial-plate-ti64-lpbf" / "1.3.0.toml"
PEEK = ENVELOPES / "cranial-plate-peek" / "1.0.0.toml"


def yield_load(t, a, sigma_y, nu, r0=5.0):
    """W_y = 2 pi t^2 sigma_y / (3 (1 + nu) ln(a / r0)) [N]."""
    return 2.0 * math.pi * t**2 * sigma_y / (3.0 * (1.0 + nu) * math.log(a / r0))


def _version(path):
    return tuple(int(x) for x in path.stem.split("."))


def test_newest_released_version_of_every_envelope_passes_strict(capsys):
    newest = {}
    for path in ENVELOPES.glob("*/*.toml"):
        if load_envelope(path).status == "released":
            if path.parent.name not in newest or _version(path) > _version(newest[path.parent.name]):
                newest[path.parent.name] = path
    assert {"cranial-plate-ti64-lpbf", "cranial-plate-peek"} <= set(newest)
    for path in newest.values():
        assert main(["envelope", "check", str(path), "--strict"]) == 0, capsys.readouterr().out


def test_titanium_1_3_0_worst_corner_meets_the_limit_and_is_covered():
    (e,) = envelope_worst_cases(load_envelope(TI_1_3))
    # thinnest wall 1.2 - 0.1 mm and widest span 140 mm, both shrunk by the -0.2 % scale error; HIP, Z build
    want = yield_load((1.2 - 0.1) * 0.998, 140.0 * 0.998 / 2.0, 780.0 * 0.9, 0.34)
    assert e.value == pytest.approx(want, rel=1e-9) and 501.0 < e.value < 502.0
    assert dict(e.limiting_configuration) == {"wall_thickness": 1.2, "span": 140.0, "thickness_deviation": -0.1,
                                              "scale_error": -0.002, "build_orientation": "z",
                                              "heat_treatment": "hip"}
    # TR-CR-2025-011: wall 1.0 mm at span 80 mm, nominal scale, weaker than every design of 1.3.0
    assert e.construct_model_value == pytest.approx(yield_load(0.9, 40.0, 780.0 * 0.9, 0.34), rel=1e-9)
    assert e.covered and e.meets_limit and e.warnings == ()


def test_titanium_1_3_0_carries_the_draft_additions():
    env, draft = load_envelope(TI_1_3), load_envelope(ENVELOPES / "cranial-plate-ti64-lpbf" / "1.2.0.toml")
    assert env.status == "released" and draft.status == "draft"
    assert {p.name for p in env.parameters} == {p.name for p in draft.parameters}
    assert {"scan_fit_gap", "scan_contact_fraction"} <= {p.name for p in env.parameters}
    assert {v.name for v in env.variables} == {v.name for v in draft.variables}
    wall = {p.name: p for p in env.parameters}["wall_thickness"]
    assert (wall.min, wall.max) == (1.2, 3.0)
    # the change record says why, with the numbers the check finds
    text = TI_1_3.read_text()
    assert "335.7 N" in text and "1.116 mm" in text and "427.4 N" in text


def test_peek_worst_corner_is_the_thin_wide_printed_plate_across_its_layers():
    (e,) = envelope_worst_cases(load_envelope(PEEK))
    want = yield_load(4.3 - 0.2, 70.0, 90.0 * 0.5, 0.4)
    assert e.value == pytest.approx(want, rel=1e-9)
    assert dict(e.limiting_configuration) == {"wall_thickness": 4.3, "span": 140.0, "tolerance_position": -1.0,
                                              "process_route": "printed_z"}
    assert e.meets_limit and e.covered and e.exact
    # 4.3 mm is the smallest 0.1 mm step that meets 420 N: 4.2 mm would not
    assert yield_load(4.2 - 0.2, 70.0, 45.0, 0.4) < 420.0 <= e.value


def test_peek_numbers_match_their_sources():
    env = load_envelope(PEEK)
    p = {x.name: x for x in env.parameters}
    assert (p["wall_thickness"].min, p["wall_thickness"].max) == (4.3, 6.0)  # inside PEEK's 3-6 mm
    assert p["hole_diameter"].min <= 2.0 <= p["hole_diameter"].max  # perfusion holes 2 mm (K121102)
    assert p["hole_edge_distance"].min == 5.0  # rim overlap on bone >= 5 mm
    text = PEEK.read_text()
    for source in ("K121102", "K121153", "90-100 MPa", "illustrative"):
        assert source in text
    assert re.search(r"measured_value = 468\.0 .*illustrative", text)


def test_cranial_007_is_cranial_005_conforming_under_the_released_envelope(validations):
    """The same plate and DICOM series as cranial-005, claimed against 1.3.0: the draft status was
    cranial-005's only reason, so under the released envelope the verdict is conforming, with the
    same measurements and the scan fit evaluated."""
    v5, v7 = validations["cranial-005"], validations["cranial-007"]
    assert [r["item"] for r in v5.record["reasons"]] == ["envelope"]
    assert v7.verdict == "conforming" and v7.record["reasons"] == []
    assert v7.record["envelope"]["version"] == "1.3.0" and v7.record["envelope"]["status"] == "released"
    m5 = {m["parameter"]: m["value"] for m in v5.record["measurements"]}
    m7 = {m["parameter"]: m["value"] for m in v7.record["measurements"]}
    assert m5 == m7 and m7["scan_fit_gap"] is not None
    (w,) = v7.record["worst_case"]
    assert w["passed"] and w["coverage"]["covered"]


def test_check_names_the_newer_released_version(capsys):
    """1.0.0 stays released and unchanged (it still fails --strict); the check says 1.3.0 supersedes it."""
    folder = ENVELOPES / "cranial-plate-ti64-lpbf"
    assert main(["envelope", "check", str(folder / "1.0.0.toml")]) == 0
    assert "superseded: the newer released version 1.3.0 is beside it" in capsys.readouterr().out
    assert main(["envelope", "check", str(folder / "1.3.0.toml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["superseded_by"] == []
    assert main(["envelope", "check", str(folder / "1.0.0.toml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["superseded_by"] == ["1.3.0"]
