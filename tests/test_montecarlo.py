"""Monte Carlo probability and one-at-a-time sensitivities against analytic truth."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from envelope_builder import continuous, expression_metric, make_envelope
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.worstcase import build_search_space, clopper_pearson, monte_carlo, sensitivities

N = 200_000


def _space(tmp_path, body, expr, cfg, limit, sense="min"):
    env = make_envelope(tmp_path, body + expression_metric(expr, cfg, limit=limit, sense=sense))
    return build_search_space(env, env.metrics[0], {})


def _inside(mc, p):
    lo, hi = mc.interval
    assert lo <= p <= hi, (mc.interval, p)
    # the interval is tight: a 95 % interval at n = 2e5 is ~ +-4 sqrt(p(1-p)/n) wide at most
    assert hi - lo < 5 * np.sqrt(p * (1 - p) / mc.samples)


def test_normal_variable_through_linear_model(tmp_path):
    # m = 100 + 10 x, x ~ N(0.2, 1): P(m < 85) = Phi((-1.5 - 0.2) / 1)
    p = _space(tmp_path, continuous("x", -5.0, 5.0, 'distribution = "normal"\nmean = 0.2\nsd = 1.0'),
                 "100 + 10 * x", {"x": 0.0}, 85.0)
    mc = monte_carlo(p, DEFAULT_SETTINGS, 1, samples=N)
    _inside(mc, stats.norm.cdf(-1.7))
    assert mc.mean == pytest.approx(102.0, abs=0.1) and mc.std == pytest.approx(10.0, rel=0.01)


def test_truncated_normal_and_sense_max(tmp_path):
    # x ~ N(0, 1) truncated to [-1, 2]; m = x must stay <= 1: P(x > 1) = (Phi(2) - Phi(1)) / (Phi(2) - Phi(-1))
    p = _space(tmp_path, continuous("x", -1.0, 2.0, 'distribution = "truncated_normal"\nmean = 0.0\nsd = 1.0'),
                 "x", {"x": 0.0}, 1.0, sense="max")
    mc = monte_carlo(p, DEFAULT_SETTINGS, 2, samples=N)
    phi = stats.norm.cdf
    _inside(mc, (phi(2) - phi(1)) / (phi(2) - phi(-1)))


def test_uniform_default_and_categorical_weights(tmp_path):
    body = (continuous("x", 0.0, 1.0)
            + '\n[variables.mc]\nkind = "categorical"\nreference = "t"\nweights = { a = 0.3, b = 0.7 }\n'
              '[variables.mc.levels.a]\nq = 0.0\n[variables.mc.levels.b]\nq = 1.0\n')
    # fails when x < 0.25 (any level) or when level a (q = 0) and x < 0.75: P = 0.25 + 0.3 * 0.5 = 0.4
    p = _space(tmp_path, body, "where(q > 0.5, x - 0.25, x - 0.75)", {"x": 0.0, "mc": "a"}, 0.0)
    mc = monte_carlo(p, DEFAULT_SETTINGS, 3, samples=N)
    _inside(mc, 0.4)
    assert mc.as_dict()["distributions"] == {
        "mc": "categorical(a=0.3, b=0.7; declared weights)", "x": "uniform(0, 1) (no distribution declared)"}


def test_no_failure_gives_an_upper_bound(tmp_path):
    p = _space(tmp_path, continuous("x", 0.0, 1.0), "x + 1", {"x": 0.0}, 0.5)
    mc = monte_carlo(p, DEFAULT_SETTINGS, 4, samples=1000)
    assert mc.failures == 0 and mc.upper_bound_only
    assert mc.interval == (0.0, pytest.approx(1 - 0.05 ** (1 / 1000)))
    assert 2.99e-3 < mc.interval[1] < 3.0e-3  # rule of three: ~3 / n


def test_clopper_pearson_reference_values():
    # by definition: P(X >= 5 | lo) = P(X <= 5 | hi) = alpha / 2 for X ~ Binomial(100, p)
    lo, hi, one = clopper_pearson(5, 100)
    assert stats.binom.sf(4, 100, lo) == pytest.approx(0.025, rel=1e-9)
    assert stats.binom.cdf(5, 100, hi) == pytest.approx(0.025, rel=1e-9)
    assert (round(lo, 4), round(hi, 4), one) == (0.0164, 0.1128, False)
    assert clopper_pearson(10, 10)[1] == 1.0
    # the same values as scipy.stats.beta.ppf, which the module no longer imports
    for k, n in ((1, 100), (5, 100), (3, 1000), (999, 1000), (2, 20_000)):
        lo, hi, _ = clopper_pearson(k, n)
        alpha = 1.0 - 0.95
        assert lo == stats.beta.ppf(alpha / 2, k, n - k + 1) and hi == stats.beta.ppf(1 - alpha / 2, k + 1, n - k)


def test_seeded_and_independent_of_block_size_only_through_the_seed(tmp_path):
    p = _space(tmp_path, continuous("x", -5.0, 5.0, 'distribution = "normal"\nmean = 0.0\nsd = 1.0'),
                 "x", {"x": 0.0}, -1.0)
    a = monte_carlo(p, DEFAULT_SETTINGS, 11, samples=50_000)
    b = monte_carlo(p, DEFAULT_SETTINGS, 11, samples=50_000)
    c = monte_carlo(p, DEFAULT_SETTINGS, 12, samples=50_000)
    assert a == b and a.seed == 11
    assert a.failures != c.failures
    small = monte_carlo(p, replace(DEFAULT_SETTINGS, corner_chunk=1000), 11, samples=50_000)
    _inside(small, stats.norm.cdf(-1.0))


def test_sensitivities_of_a_linear_model(tmp_path):
    body = (continuous("x", -1.0, 3.0, "nominal = 0.0") + continuous("y", 0.0, 1.0)
            + '\n[variables.lot]\nkind = "categorical"\nreference = "t"\nnominal = "b"\n'
              '[variables.lot.levels.a]\nq = 5.0\n[variables.lot.levels.b]\nq = 0.0\n[variables.lot.levels.c]\nq = -2.0\n')
    p = _space(tmp_path, body, "2 * x - 10 * y + q", {"x": 0.0, "y": 0.0, "lot": "a"}, 0.0)
    s = sensitivities(p)
    base = 2 * 0.0 - 10 * 0.5 + 0.0
    assert s.baseline == base and dict(s.baseline_configuration) == {"lot": "b", "x": 0.0, "y": 0.5}
    got = {v.variable: v.as_dict() for v in s.variables}
    assert got["x"] == {"variable": "x", "kind": "continuous", "unit": "1", "low": -1.0, "high": 3.0,
                        "metric_at_low": base - 2, "metric_at_high": base + 6, "baseline": base, "swing": 8.0}
    assert (got["y"]["metric_at_low"], got["y"]["metric_at_high"], got["y"]["swing"]) == (base + 5, base - 5, 10.0)
    assert (got["lot"]["low"], got["lot"]["high"], got["lot"]["swing"]) == ("c", "a", 7.0)
    assert [v.variable for v in s.variables] == ["y", "x", "lot"]  # tornado order: largest swing first
