"""ISO 14253-1 decision rules around every boundary.

Values sit 1e-4 off each boundary: a decimal boundary such as 1.0 + 0.05 is not exact in binary.
"""

import pytest

from pmd_envelope.conformance import CONFORMING, INDETERMINATE, NONCONFORMING, decide


@pytest.mark.parametrize("value,expected", [
    (1.10, CONFORMING), (1.0501, CONFORMING), (1.0499, INDETERMINATE), (1.0, INDETERMINATE),
    (0.9501, INDETERMINATE), (0.9499, NONCONFORMING),
    (2.9499, CONFORMING), (2.9501, INDETERMINATE), (3.05, INDETERMINATE), (3.0501, NONCONFORMING),
])
def test_two_sided(value, expected):
    assert decide(value, 1.0, 3.0, 0.05)[0] == expected


def test_one_sided_and_zero_uncertainty():
    assert decide(1.25, None, 1.25, 0.0)[0] == CONFORMING
    assert decide(1.2500001, None, 1.25, 0.0)[0] == NONCONFORMING
    assert decide(500.0, 30.0, None, 0.1) == (CONFORMING, 470.0)


def test_margin_is_distance_to_nearest_limit():
    assert decide(1.2, 1.0, 3.0, 0.05)[1] == pytest.approx(0.2)
    assert decide(2.9, 1.0, 3.0, 0.05)[1] == pytest.approx(0.1)
    assert decide(0.8, 1.0, 3.0, 0.05)[1] == pytest.approx(-0.2)
