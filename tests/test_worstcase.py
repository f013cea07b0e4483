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


# --- search against closed-form truth --------------------------------------------------------

from dataclasses import replace  # noqa: E402

from envelope_builder import continuous, expression_metric, make_envelope  # noqa: E402
from pmd_envelope.errors import EnvelopeError  # noqa: E402
from pmd_envelope.settings import DEFAULT_SETTINGS  # noqa: E402
from pmd_envelope.worstcase import build_search_space, search, worst_case  # noqa: E402

LINEAR = {"a": (1.0, 2.0, 3.0), "b": (-1.0, 0.5, -2.0), "c": (0.0, 4.0, 0.5), "d": (2.0, 3.0, -1.5)}


def _linear_envelope(tmp_path, sense="min", search_key=""):
    body = "".join(continuous(n, lo, hi) for n, (lo, hi, _) in LINEAR.items())
    expr = " + ".join(f"({k!r}) * {n}" for n, (_, _, k) in LINEAR.items())
    cfg = {n: lo for n, (lo, _, _) in LINEAR.items()}
    return make_envelope(tmp_path, body + expression_metric(expr, cfg, sense=sense, limit=0.0, extra=search_key))


@pytest.mark.parametrize("sense", ["min", "max"])
def test_monotone_model_worst_corner_is_known(tmp_path, sense):
    env = _linear_envelope(tmp_path, sense)
    w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
    # linear: each variable at the bound that lowers (min) or raises (max) k * x
    pick = (lambda lo, hi, k: lo if k > 0 else hi) if sense == "min" else (lambda lo, hi, k: hi if k > 0 else lo)
    truth = {n: pick(lo, hi, k) for n, (lo, hi, k) in LINEAR.items()}
    assert dict(w.limiting_configuration) == truth
    assert w.value == pytest.approx(sum(k * truth[n] for n, (_, _, k) in LINEAR.items()), rel=1e-15)
    assert w.evaluations == 16 and w.exact and w.refinement is None
    assert w.monotonicity.as_dict()["variables"] == {n: "increasing" if k > 0 else "decreasing"
                                                     for n, (_, _, k) in LINEAR.items()}


def test_chunked_corners_match_one_block(tmp_path):
    env = _linear_envelope(tmp_path)
    p = build_search_space(env, env.metrics[0], {})
    one = search(p, DEFAULT_SETTINGS)
    tiny = search(p, replace(DEFAULT_SETTINGS, corner_chunk=2))
    assert (tiny.value, tiny.point, tiny.evaluations) == (one.value, one.point, one.evaluations)


QUADRATIC = "1 + (x - 0.3)**2 + 2 * (y + 0.2)**2"


def test_interior_worst_case_found_where_corners_miss(tmp_path):
    env = make_envelope(tmp_path, continuous("x", -1.0, 1.0) + continuous("y", -1.0, 1.0)
                        + expression_metric(QUADRATIC, {"x": 0.0, "y": 0.0}))
    w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
    # convex bowl: minimum 1 at (0.3, -0.2); the best corner (1, -1) gives 1 + 0.49 + 2 * 0.64 = 2.77
    assert w.refinement.corner_value == pytest.approx(2.77, rel=1e-12)
    assert w.value == pytest.approx(1.0, abs=1e-9)
    cfg = dict(w.limiting_configuration)
    assert cfg["x"] == pytest.approx(0.3, abs=1e-4) and cfg["y"] == pytest.approx(-0.2, abs=1e-4)
    # not monotone, yet exact: the interval branch and bound proves the interior minimum
    assert w.exact and not w.monotonicity.monotone and w.proof.status == "proven"
    assert w.proof.bound <= 1.0 <= w.proof.found and w.proof.gap <= w.proof.tolerance
    assert w.monotonicity.as_dict()["variables"] == {"x": "not monotone", "y": "not monotone"}
    assert not w.refinement.dense_found_worse and w.refinement.dense_worst >= w.value
    assert w.evaluations == 4 + w.refinement.evaluations


def test_global_search_on_request_keeps_a_monotone_corner(tmp_path):
    env = _linear_envelope(tmp_path, search_key='search = "global"')
    w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
    assert w.refinement is not None and "requested" in w.refinement.reason
    assert w.value == pytest.approx(1 * 3 + 0.5 * -2 + 0 * 0.5 + 3 * -1.5, rel=1e-12)


def test_categorical_levels_and_weights(tmp_path):
    body = (continuous("x", 0.0, 1.0)
            + '\n[variables.machine]\nkind = "categorical"\nreference = "t"\nweights = { m1 = 0.25, m2 = 0.75 }\n'
              '[variables.machine.levels.m1]\nstrength = 10.0\n[variables.machine.levels.m2]\nstrength = 7.0\n')
    env = make_envelope(tmp_path, body + expression_metric("strength * (1 + x)", {"x": 0.0, "machine": "m2"}))
    w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
    assert dict(w.limiting_configuration) == {"machine": "m2", "x": 0.0}
    assert w.value == 7.0 and w.evaluations == 4


COUPLED = ('\n[variables.scale_error]\nkind = "coupled"\nmin = -0.01\nmax = 0.02\nunit = "1"\nreference = "t"\n'
           '[variables.scale_error.quantities]\nthickness_scale = "1 + scale_error"\nspan_scale = "1 + 2 * scale_error"\n')


def test_coupled_variable_moves_its_quantities_together(tmp_path):
    # independent scales would give a worst case of (1 - 0.01) - (1 + 0.04) = -0.05; coupled,
    # thickness_scale - span_scale = -scale_error, worst at the upper bound: -0.02
    env = make_envelope(tmp_path, COUPLED + expression_metric("thickness_scale - span_scale", {"scale_error": 0.0}))
    w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
    assert dict(w.limiting_configuration) == {"scale_error": 0.02}
    assert w.value == pytest.approx(-0.02, abs=1e-15)
    assert w.monotonicity.as_dict()["variables"] == {"scale_error": "decreasing"}


def test_coupled_scale_on_roark_plate(tmp_path):
    body = COUPLED + '''
[metrics.load]
model = "clamped_circular_plate_central_load"
unit = "N"
limit = 100.0
sense = "min"
reference = "t"
[metrics.load.inputs]
thickness = "wall_thickness * thickness_scale"
plate_radius = "span * span_scale / 2"
load_radius = "5.0"
yield_strength = "780.0"
poisson_ratio = "0.34"
[metrics.load.tested_worst_case]
report = "TR"
measured_value = 1.0
[metrics.load.tested_worst_case.configuration]
wall_thickness = 1.0
span = 140.0
scale_error = -0.01
'''
    env = make_envelope(tmp_path, body)
    w = worst_case(env, env.metrics[0], {"wall_thickness": 2.0, "span": 100.0}, monte_carlo_samples=0)
    # W ~ t^2 / ln(a / r0): at s = -0.01, t = 1.98, a = 49; at s = 0.02, t = 2.04, a = 52
    lo, hi = roark_yield_load(1.98, 49.0), roark_yield_load(2.04, 52.0)
    assert w.value == pytest.approx(min(lo, hi), rel=1e-12)
    assert dict(w.limiting_configuration)["scale_error"] == (-0.01 if lo < hi else 0.02)


def test_many_variables_monotone_directions_exact(tmp_path):
    k = 30
    coef = [(-1.0) ** i * (1 + i / 10) for i in range(k)]
    body = "".join(continuous(f"v{i}", -1.0, 2.0) for i in range(k))
    expr = " + ".join(f"({c!r}) * v{i}" for i, c in enumerate(coef))
    env = make_envelope(tmp_path, body + expression_metric(expr, {f"v{i}": 0.0 for i in range(k)}))
    settings = replace(DEFAULT_SETTINGS, max_corners=2**10)
    w = worst_case(env, env.metrics[0], {}, settings, monte_carlo_samples=0)
    truth = {f"v{i}": (-1.0 if c > 0 else 2.0) for i, c in enumerate(coef)}
    assert dict(w.limiting_configuration) == truth
    assert w.value == pytest.approx(sum(c * truth[f"v{i}"] for i, c in enumerate(coef)), rel=1e-12)
    assert w.exact and "monotone directions" in w.method and "verified" in w.method
    assert w.evaluations < 2 * k + 2 * k + 2  # no 2^k enumeration


def test_many_variables_not_monotone_falls_back_to_refinement(tmp_path):
    k = 12
    body = "".join(continuous(f"v{i}", -1.0, 1.0) for i in range(k))
    expr = " + ".join(f"(v{i} - 0.25)**2" for i in range(k))
    env = make_envelope(tmp_path, body + expression_metric(expr, {f"v{i}": 0.0 for i in range(k)}))
    w = worst_case(env, env.metrics[0], {}, replace(DEFAULT_SETTINGS, max_corners=16), monte_carlo_samples=0)
    assert w.refinement is not None and not w.monotonicity.monotone
    assert w.exact and w.proof.bound <= 0.0 <= w.proof.found  # proven: the true minimum is 0
    assert w.value == pytest.approx(0.0, abs=1e-9)
    assert all(v == pytest.approx(0.25, abs=1e-4) for v in dict(w.limiting_configuration).values())


def test_non_finite_model_is_an_envelope_error(tmp_path):
    env = make_envelope(tmp_path, continuous("x", -1.0, 1.0) + expression_metric("log(x)", {"x": 0.5}))
    with pytest.raises(EnvelopeError, match=r"\[metrics.m\]: the model gives a non-finite value"):
        worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)


def test_worst_case_is_deterministic(tmp_path):
    env = make_envelope(tmp_path, continuous("x", -1.0, 1.0) + continuous("y", -1.0, 1.0)
                        + expression_metric(QUADRATIC, {"x": 0.0, "y": 0.0}, limit=1.2))
    a = worst_case(env, env.metrics[0], {}, rng=7).as_dict()
    b = worst_case(env, env.metrics[0], {}, rng=7).as_dict()
    assert a == b and a["monte_carlo"]["seed"] == 7 and a["monotonicity"]["seed"] == 7


CRANIAL_1_1 = CRANIAL_ENVELOPE.with_name("1.1.0.toml")


def test_cranial_1_1_coupled_scale_error_closed_form():
    env = load_envelope(CRANIAL_1_1)
    (w,) = worst_cases(env, {"wall_thickness": 2.0, "span": 100.0}, monte_carlo_samples=20_000)
    # W ~ t^2 / ln(a / r0) rises with a common scale (d ln W / ds = 2 - 1 / ln(a / r0) > 0): worst at -0.2 %
    assert w.value == pytest.approx(roark_yield_load(1.9 * 0.998, 50.0 * 0.998, sy=780.0 * 0.9), rel=1e-12)
    assert dict(w.limiting_configuration) == {"build_orientation": "z", "heat_treatment": "hip",
                                              "scale_error": -0.002, "thickness_deviation": -0.1}
    assert w.evaluations == 16 and w.exact
    assert w.monte_carlo.as_dict()["distributions"]["thickness_deviation"] == \
        "truncated_normal(mean=0, sd=0.05, min=-0.1, max=0.1)"
    s = w.sensitivities
    assert dict(s.baseline_configuration) == {"build_orientation": "xy", "heat_treatment": "hip",
                                              "scale_error": 0.0, "thickness_deviation": 0.0}
    assert s.baseline == pytest.approx(roark_yield_load(2.0, 50.0), rel=1e-12)


def test_validation_record_carries_search_evidence(validations):
    from pmd_envelope.settings import DEFAULT_SETTINGS

    (w,) = validations["cranial-003"].record["worst_case"]
    mc = w["monte_carlo"]
    assert mc["seed"] == DEFAULT_SETTINGS.rng_seed and mc["samples"] == DEFAULT_SETTINGS.monte_carlo_samples
    assert mc["interval"][0] <= mc["probability"] <= mc["interval"][1]
    assert 0 < mc["probability"] < 1  # cranial-003 fails only in the weaker configurations
    assert w["monotonicity"]["variables"] == {"thickness_deviation": "increasing"} and w["refinement"] is None
    tornado = {v["variable"]: v for v in w["sensitivities"]["variables"]}
    assert set(tornado) == {"thickness_deviation", "build_orientation", "heat_treatment"}
    t = tornado["thickness_deviation"]
    m = {x["parameter"]: x["value"] for x in validations["cranial-003"].record["measurements"]}
    # baseline levels: without a declared nominal, the first level in name order (xy, hip)
    assert w["sensitivities"]["baseline_configuration"] == {"build_orientation": "xy", "heat_treatment": "hip",
                                                            "thickness_deviation": 0.0}
    # the record states reals to 7 significant digits (pmd_envelope.resolution): half a step is <= 5e-7 relative
    assert t["metric_at_low"] == pytest.approx(roark_yield_load(m["wall_thickness"] - 0.1, m["span"] / 2), rel=5e-7)
    assert (t["low"], t["high"]) == (-0.1, 0.1) and t["baseline"] == w["sensitivities"]["baseline"]


def test_metric_without_variables(tmp_path):
    env = make_envelope(tmp_path, continuous("x", 0.0, 1.0) + expression_metric("wall_thickness * 2", {"wall_thickness": 1.0},
                                                                                 limit=5.0))
    w = worst_case(env, env.metrics[0], {"wall_thickness": 2.0}, monte_carlo_samples=1000)
    assert (w.value, w.limiting_configuration, w.evaluations, w.exact) == (4.0, (), 1, True)
    assert w.monte_carlo.failures == 1000 and w.monte_carlo.probability == 1.0
    assert w.sensitivities.variables == () and w.sensitivities.baseline == 4.0


def test_many_variables_with_categorical_levels(tmp_path):
    k = 24
    body = "".join(continuous(f"v{i}", 0.0, 1.0) for i in range(k))
    body += ('\n[variables.lot]\nkind = "categorical"\nreference = "t"\n[variables.lot.levels.a]\nq = 1.0\n'
             '[variables.lot.levels.b]\nq = 0.7\n[variables.lot.levels.c]\nq = 1.3\n')
    # m = q * (100 + sum_i (i - 11.5) v_i) >= q * (100 - 72): positive on the box, so q = 0.7 is the weakest level and
    # each v_i sits at 1 when its coefficient is negative (i < 12), else at 0
    expr = "q * (100 + " + " + ".join(f"({i - 11.5!r}) * v{i}" for i in range(k)) + ")"
    env = make_envelope(tmp_path, body + expression_metric(expr, {f"v{i}": 0.0 for i in range(k)} | {"lot": "a"}))
    w = worst_case(env, env.metrics[0], {}, replace(DEFAULT_SETTINGS, max_corners=2**12), monte_carlo_samples=0)
    truth = {f"v{i}": (1.0 if i < 12 else 0.0) for i in range(k)} | {"lot": "b"}
    assert dict(w.limiting_configuration) == truth
    assert w.value == pytest.approx(0.7 * (100 - 72), rel=1e-12)
    assert w.exact and "x 3 categorical combinations" in w.method
