"""Worst case over the manufacturing variables against closed-form truth."""

import numpy as np
import pytest

from conftest import CRANIAL_ENVELOPE
from pmd_envelope.envelope import load_envelope
from pmd_envelope.expressions import Expression, ExpressionError
from pmd_envelope.models import clamped_circular_plate_central_load
from pmd_envelope.worstcase import worst_cases


def roark_yield_load(t, a, r0=5.0, sy=780.0, nu=0.34):
    return 2 * np.pi * t**2 * sy / (3 * (1 + nu) * np.log(a / r0))


def test_model_matches_closed_form():
    assert clamped_circular_plate_central_load(1.5, 60.0, 5.0, 900.0, 0.34) == pytest.approx(roark_yield_load(1.5, 60.0, sy=900.0))
    # small loaded circle: Roark's equivalent radius r0' = sqrt(1.6 r0^2 + t^2) - 0.675 t
    r_eq = np.sqrt(1.6 * 0.5**2 + 2.0**2) - 0.675 * 2.0
    assert clamped_circular_plate_central_load(2.0, 50.0, 0.5, 800.0, 0.3) == pytest.approx(
        2 * np.pi * 4.0 * 800.0 / (3 * 1.3 * np.log(50.0 / r_eq)))


@pytest.mark.parametrize("t,span", [(2.0, 100.0), (1.08, 139.5), (3.0, 30.0)])
def test_worst_corner_is_thin_hip_vertical(t, span):
    env = load_envelope(CRANIAL_ENVELOPE)
    (w,) = worst_cases(env, {"wall_thickness": t, "span": span})
    expected = roark_yield_load(t - 0.1, span / 2, sy=780.0 * 0.9)
    assert w.value == pytest.approx(expected, rel=1e-12)
    assert dict(w.limiting_configuration) == {"thickness_deviation": -0.1, "heat_treatment": "hip",
                                              "build_orientation": "z"}
    assert w.evaluations == 8
    assert w.margin == pytest.approx(expected - 420.0)
    assert w.passed == (expected >= 420.0)
    construct = roark_yield_load(0.9, 40.0, sy=780.0 * 0.9)
    assert w.coverage.construct_model_value == pytest.approx(construct, rel=1e-12)
    assert w.coverage.covered == (expected >= construct)


def test_expressions_refuse_unsafe_code():
    for src in ["__import__('os').system('true')", "a.__class__", "x[0]", "(lambda: 1)()", "open('f')",
                "[1 for _ in a]", "a if b else c"]:
        with pytest.raises(ExpressionError):
            Expression.parse(src)
    e = Expression.parse("sqrt(a) * pi + min(b, 2)")
    assert e.evaluate({"a": 4.0, "b": 3.0}) == pytest.approx(2 * np.pi + 2)
    with pytest.raises(ExpressionError, match="unknown symbol 'a'"):
        e.evaluate({"b": 1.0})
