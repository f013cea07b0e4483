"""The stated resolution of reals in a record: 7 significant digits, the same on every machine."""

import math

import pytest

from pmd_envelope.resolution import SIGNIFICANT_DIGITS, at_resolution, round_reals


@pytest.mark.parametrize(("x", "stated"), [
    (0.6557528257577663, "0.6557528"),  # numpy's arcsin on one CPU ...
    (0.6557528257577662, "0.6557528"),  # ... and on another
    (1.9998851838976601, "1.999885"),
    (17101.472847086075, "17101.47"),
    (1720.2138524542638, "1720.214"),
    (-182.738021795161, "-182.7380"),
    (2.067902905608412e-06, "2.067903e-06"),
    (0.10000000000000009, "0.1"),
    (1.00000005, "1.000000"),   # the float nearest 1.00000005 is just below the tie
    (2.5e-300, "2.5e-300"),
])
def test_rounds_to_the_nearest_seven_digit_decimal(x, stated):
    assert SIGNIFICANT_DIGITS == 7
    assert at_resolution(x) == float(stated)


def test_idempotent_monotone_sign_keeping():
    xs = [k * 1.000000037e-3 - 0.5 for k in range(1000)] + [1e-17, -1e-17, 123456789.0, -9.9999995e-5]
    for x in xs:
        y = at_resolution(x)
        assert at_resolution(y) == y
        assert math.copysign(1.0, y) == math.copysign(1.0, x) or y == 0.0
        assert abs(y - x) <= 0.5e-6 * abs(x)  # half a step of the 7th digit, relative
    ys = [at_resolution(x) for x in sorted(xs)]
    assert ys == sorted(ys)


def test_zero_and_non_finite():
    assert math.copysign(1.0, at_resolution(-0.0)) == 1.0 and at_resolution(0.0) == 0.0
    assert at_resolution(math.inf) == math.inf and math.isnan(at_resolution(math.nan))


def test_tree_rounds_floats_only():
    tree = {"n": 3, "ok": True, "s": "1.23456789", "none": None, "v": [0.1 + 0.2, (1.0000000001, 7)], "big": 2**60}
    assert round_reals(tree) == {"n": 3, "ok": True, "s": "1.23456789", "none": None, "v": [0.3, [1.0, 7]],
                                 "big": 2**60}
    assert type(round_reals({"ok": True})["ok"]) is bool
