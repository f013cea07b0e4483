"""Built-in performance models against their closed forms, and their documented examples."""

import doctest

import numpy as np
import pytest

from pmd_envelope import models
from pmd_envelope.models import (MODELS, cantilever_tab_deflection, clamped_circular_plate_central_load,
                                 plate_section_bending_strength)


def test_docstring_examples_run():
    failed, tried = doctest.testmod(models, verbose=False)
    assert tried >= 3 and failed == 0


def test_plate_section_closed_form():
    # M = sigma_y (h - d) t^2 / 6; doubling t quadruples it, a hole as wide as the plate zeroes it
    assert plate_section_bending_strength(10.0, 2.5, 1.5, 880.0) == pytest.approx(880.0 * 7.5 * 2.25 / 6)
    assert plate_section_bending_strength(8.0, 2.0, 4.0, 900.0) == pytest.approx(
        4 * plate_section_bending_strength(8.0, 2.0, 2.0, 900.0))
    assert plate_section_bending_strength(2.0, 2.0, 2.0, 900.0) == 0.0


def test_cantilever_closed_form():
    # delta = F L^3 / (3 E b t^3 / 12) = 4 F L^3 / (E b t^3)
    assert cantilever_tab_deflection(5.0, 12.0, 8.0, 2.5, 1700.0) == pytest.approx(4 * 5 * 12**3 / (1700 * 8 * 2.5**3))


def test_clamped_plate_edge_stress_governs_for_a_large_load_circle():
    # (1 + nu) ln(a / r0) < 1: the edge stress 3 W / (2 pi t^2) governs, W = 2 pi t^2 sigma_y / 3
    a, r0, t, sy, nu = 10.0, 5.0, 1.0, 800.0, 0.3
    assert (1 + nu) * np.log(a / r0) < 1
    assert clamped_circular_plate_central_load(t, a, r0, sy, nu) == pytest.approx(2 * np.pi * t**2 * sy / 3)


def test_models_are_vectorised_and_registered():
    t = np.array([1.0, 2.0, 3.0])
    out = clamped_circular_plate_central_load(t, 50.0, 5.0, 780.0, 0.34)
    assert out.shape == (3,) and np.allclose(out / out[0], t**2)
    for name, m in MODELS.items():
        assert m.name == name and m.reference and m.function.__doc__ and "References" in m.function.__doc__


@pytest.mark.parametrize("name", sorted(MODELS))
def test_expression_form_equals_the_function(name):
    """The expression form (whose interval extension proves worst cases) is the same model."""
    m = MODELS[name]
    rng = np.random.default_rng(5)
    n = 2000
    ranges = {"thickness": (0.5, 6.0), "plate_radius": (15.0, 70.0), "load_radius": (0.2, 8.0),
              "yield_strength": (300.0, 1100.0), "poisson_ratio": (0.3, 0.4), "width": (6.0, 12.0),
              "hole_diameter": (1.5, 2.7), "force": (1.0, 50.0), "length": (5.0, 30.0),
              "elastic_modulus": (1500.0, 115000.0)}
    values = {k: rng.uniform(*ranges[k], n) for k in m.inputs}
    # the same operations in the same order: equal to the last bit
    np.testing.assert_array_equal(m.expression.evaluate(values), m.function(**values))
