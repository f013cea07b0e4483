"""Envelope self-verification: the envelope's own worst case against its tested construct."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import CRANIAL_ENVELOPE, ROOT
from envelope_builder import continuous, expression_metric, write_envelope
from pmd_envelope.cli import main
from pmd_envelope.envelope import load_envelope
from pmd_envelope.worstcase import envelope_worst_cases


def roark(t, a, sy, r0=5.0, nu=0.34):
    return 2 * np.pi * t**2 * sy / (3 * (1 + nu) * np.log(a / r0))


def test_cranial_1_0_0_construct_does_not_cover_the_wide_corner():
    (e,) = envelope_worst_cases(load_envelope(CRANIAL_ENVELOPE))
    # thinnest (1.0 - 0.1 mm), widest (span 140: a = 70), HIP, vertical build
    assert e.value == pytest.approx(roark(0.9, 70.0, 780.0 * 0.9), rel=1e-12)
    assert dict(e.limiting_configuration) == {"wall_thickness": 1.0, "span": 140.0, "thickness_deviation": -0.1,
                                              "build_orientation": "z", "heat_treatment": "hip"}
    assert e.construct_model_value == pytest.approx(roark(0.9, 40.0, 780.0 * 0.9), rel=1e-12)
    assert not e.covered and e.coverage_margin == pytest.approx(e.value - e.construct_model_value)
    assert not e.meets_limit and e.exact
    assert len(e.warnings) == 1 and "does not cover the envelope" in e.warnings[0]


def _covering(tmp_path, construct_x):
    # m = 10 - x - wall_thickness over x in [0, 1], wall 1..3: worst (min) 10 - 1 - 3 = 6 at x = 1, wall = 3
    p = write_envelope(tmp_path, continuous("x", 0.0, 1.0)
                       + expression_metric("10 - x - wall_thickness", {"x": construct_x, "wall_thickness": 3.0},
                                           limit=5.0))
    return p


def test_construct_at_the_worst_case_covers(tmp_path):
    (e,) = envelope_worst_cases(load_envelope(_covering(tmp_path, 1.0)))
    assert e.value == 6.0 and e.construct_model_value == 6.0
    assert e.covered and e.meets_limit and e.warnings == () and e.notes == ()


def test_cli_exit_codes_and_json(tmp_path, capsys):
    covering = _covering(tmp_path / "a", 1.0)
    short = _covering(tmp_path / "b", 0.5)
    assert main(["envelope", "check", str(covering), "--strict"]) == 0
    assert main(["envelope", "check", str(short)]) == 0  # a warning is a finding, not bad input
    out = capsys.readouterr().out
    assert "WARNING: m: the tested construct TR-1 (6.5 1 by the model" in out
    assert main(["envelope", "check", str(short), "--strict"]) == 1
    capsys.readouterr()
    assert main(["envelope", "check", str(CRANIAL_ENVELOPE), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (w,) = doc["worst_case"]
    assert w["covered"] is False and doc["warnings"] == w["warnings"]
    assert w["limiting_configuration"]["span"] == 140.0


def test_cli_text_names_the_limiting_configuration():
    r = subprocess.run([sys.executable, "-m", "pmd_envelope", "envelope", "check", str(CRANIAL_ENVELOPE)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0
    assert "span=140, wall_thickness=1" in r.stdout and "does NOT cover the envelope" in r.stdout


def test_mandible_and_guide_envelopes_are_covered_by_their_constructs():
    mandible = load_envelope(ROOT / "envelopes" / "mandible-plate-ti64-lpbf" / "1.0.0.toml")
    (m,) = envelope_worst_cases(mandible)
    # M = sigma_y (h - d) t^2 / 6 at t = 1.0 - 0.1, d = 2.0 + 0.1, HIP
    assert m.value == pytest.approx(780.0 * (6.0 - 2.1) * 0.9**2 / 6, rel=1e-12)
    assert m.covered and m.meets_limit and m.warnings == ()
    guide = load_envelope(ROOT / "envelopes" / "cutting-guide-pa12-sls" / "1.0.0.toml")
    d, u = envelope_worst_cases(guide)
    # sense max: thinnest wall (3.0 - 0.2 mm), Z build; delta = 4 F L^3 / (E b t^3), sigma = 6 F L / (b t^2)
    assert d.value == pytest.approx(4 * 10 * 15**3 / (1450 * 20 * 2.8**3), rel=1e-12)
    assert u.value == pytest.approx(6 * 10 * 15 / (20 * 2.8**2) / 38.0, rel=1e-12)
    assert dict(u.limiting_configuration) == {"wall_thickness": 3.0, "build_orientation": "z",
                                              "thickness_deviation": -0.2}
    assert d.covered and u.covered and d.meets_limit and u.meets_limit


def test_open_ended_parameter_is_a_warning_not_an_error(tmp_path, capsys):
    p = write_envelope(tmp_path, continuous("x", 0.0, 1.0)
                       + expression_metric("10 - x - wall_thickness", {"x": 1.0, "wall_thickness": 3.0}, limit=5.0))
    p.write_text(p.read_text().replace("min = 1.0\nmax = 3.0", "max = 3.0", 1))
    (e,) = envelope_worst_cases(load_envelope(p))
    assert e.value is None and e.covered is None
    assert e.warnings == ("m: the envelope's worst case cannot be found: parameter wall_thickness has no min "
                          "(parameters.wall_thickness); add the limit so the tested construct can be shown to cover it",)
    assert main(["envelope", "check", str(p)]) == 0
    assert "m: not searched" in capsys.readouterr().out
    assert main(["envelope", "check", str(p), "--strict"]) == 1
