"""FORM and importance sampling against closed forms and plain Monte Carlo; per-metric streams."""

import math

import numpy as np
import pytest
from scipy import stats

from envelope_builder import continuous, expression_metric, make_envelope
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.worstcase import build_search_space, monte_carlo, worst_cases
from pmd_envelope.worstcase.reliability import rare_event

NORMAL = 'distribution = "normal"\nmean = {m!r}\nsd = {s!r}'


def _space(tmp_path, body, expr, cfg, limit, sense="min"):
    env = make_envelope(tmp_path, body + expression_metric(expr, cfg, limit=limit, sense=sense))
    return build_search_space(env, env.metrics[0], {})


@pytest.mark.parametrize("beta", [3.0, 5.2, 6.0])
def test_linear_limit_state_in_normals(tmp_path, beta):
    # g = sum a_i x_i - c with x_i ~ N(mu_i, s_i): beta = (sum a_i mu_i - c) / sqrt(sum a_i^2 s_i^2), P = Phi(-beta)
    a = [1.0, -2.0, 0.5, 3.0, -1.0, 1.5]
    mu = [10.0, 2.0, 4.0, 1.0, 3.0, 2.0]
    sd = [1.0, 0.5, 2.0, 0.3, 0.8, 0.6]
    body = "".join(continuous(f"x{i}", mu[i] - 5 * sd[i], mu[i] + 5 * sd[i], NORMAL.format(m=mu[i], s=sd[i]))
                   for i in range(6))
    mean = sum(ai * mi for ai, mi in zip(a, mu))
    c = mean - beta * math.sqrt(sum((ai * si) ** 2 for ai, si in zip(a, sd)))
    expr = " + ".join(f"({ai!r}) * x{i}" for i, ai in enumerate(a))
    sp = _space(tmp_path, body, expr, {f"x{i}": mu[i] for i in range(6)}, c)
    r = rare_event(sp, DEFAULT_SETTINGS, 1)
    p = stats.norm.cdf(-beta)
    assert r.beta == pytest.approx(beta, rel=1e-6)
    assert r.probability_form == pytest.approx(p, rel=1e-5)
    assert r.interval[0] <= p <= r.interval[1]
    assert r.cv <= DEFAULT_SETTINGS.rare_event_cv
    assert r.probability == pytest.approx(p, rel=4 * r.cv)
    assert p > 5e-10 and r.samples <= 20_000  # beta 6: P = 9.9e-10


def test_lognormal_product(tmp_path):
    # m = exp(y1) exp(y2) exp(y3) with y_i ~ N(mu_i, s_i): ln m ~ N(sum mu, sqrt(sum s^2)); P(m < L) closed form
    mu, sd = [0.2, 0.1, -0.1], [0.1, 0.15, 0.05]
    body = "".join(continuous(f"y{i}", -2.0, 2.0, NORMAL.format(m=mu[i], s=sd[i])) for i in range(3))
    L = 0.45
    sp = _space(tmp_path, body, "exp(y0) * exp(y1) * exp(y2)", {f"y{i}": 0.0 for i in range(3)}, L)
    r = rare_event(sp, DEFAULT_SETTINGS, 2)
    s = math.sqrt(sum(x * x for x in sd))
    p = stats.norm.cdf((math.log(L) - sum(mu)) / s)
    assert 1e-9 < p < 1e-6
    assert r.interval[0] <= p <= r.interval[1]
    assert r.beta == pytest.approx(-stats.norm.ppf(p), rel=1e-6)  # ln m is linear in the normals: FORM exact


def test_agrees_with_plain_monte_carlo_where_it_resolves_p(tmp_path):
    # a non-linear limit state with P ~ 1e-2: both estimates must agree
    body = (continuous("x", -5.0, 5.0, NORMAL.format(m=0.0, s=1.0))
            + continuous("y", 0.0, 1.0))
    sp = _space(tmp_path, body, "3 - x - 0.2 * x**2 + y", {"x": 0.0, "y": 0.5}, 0.5)
    mc = monte_carlo(sp, DEFAULT_SETTINGS, 3, samples=200_000)
    r = rare_event(sp, DEFAULT_SETTINGS, 4, monte_carlo=mc)
    assert mc.failures > 100
    assert r.monte_carlo_agreement.startswith("agrees")
    lo, hi = mc.interval
    assert r.interval[0] <= hi and lo <= r.interval[1]


def test_zero_when_proven_inside_a_bounded_box(tmp_path):
    sp = _space(tmp_path, continuous("x", 0.0, 1.0), "x + 1", {"x": 0.0}, 0.5)
    r = rare_event(sp, DEFAULT_SETTINGS, 5, limit_met_proven=True)
    assert r.status == "zero (proven)" and r.probability == 0.0


@pytest.mark.parametrize("dist", ["", NORMAL.format(m=0.5, s=0.1)])
def test_one_when_every_point_misses(tmp_path, dist):
    # every point of the box misses the limit (x + 1 <= 2 < 5): P = 1, not 0, and plain Monte Carlo agrees
    sp = _space(tmp_path, continuous("x", 0.0, 1.0, dist), "x + 1", {"x": 0.0}, 5.0)
    mc = monte_carlo(sp, DEFAULT_SETTINGS, 6, samples=20_000)
    r = rare_event(sp, DEFAULT_SETTINGS, 7, monte_carlo=mc)
    assert mc.failures == mc.samples
    assert r.probability == 1.0 and r.interval == (1.0, 1.0) and r.probability_form == 1.0
    assert r.monte_carlo_agreement.startswith("agrees"), r.monte_carlo_agreement
    if not dist:  # bounded: no surface at all; normal: the surface at x = 4 (u = 35), P = 1 - Phi(-35)
        assert "centre misses the limit" in r.reason


def test_centre_missing_the_limit_is_sampled_by_its_complement(tmp_path):
    # x ~ N(0, 1), the metric x must reach 2.5: the centre misses: P = P(x < 2.5) = Phi(2.5), beta = -2.5
    sp = _space(tmp_path, continuous("x", -8.0, 8.0, NORMAL.format(m=0.0, s=1.0)), "x", {"x": 0.0}, 2.5)
    r = rare_event(sp, DEFAULT_SETTINGS, 9)
    p = stats.norm.cdf(2.5)
    assert r.interval[0] <= p <= r.interval[1] and r.probability == pytest.approx(p, rel=1e-3)
    assert r.probability_form == pytest.approx(p, rel=1e-9) and r.beta == pytest.approx(-2.5, rel=1e-6)


def test_half_of_the_levels_miss_everywhere(tmp_path):
    # level a misses everywhere, level b nowhere: P = weight of a
    body = (continuous("x", 0.0, 1.0)
            + '\n[variables.lot]\nkind = "categorical"\nreference = "t"\nweights = { a = 0.25, b = 0.75 }\n'
              '[variables.lot.levels.a]\nq = 0.0\n[variables.lot.levels.b]\nq = 10.0\n')
    sp = _space(tmp_path, body, "x + q", {"x": 0.0, "lot": "a"}, 5.0)
    r = rare_event(sp, DEFAULT_SETTINGS, 8)
    assert r.probability == pytest.approx(0.25, abs=1e-12) and r.interval == (pytest.approx(0.25), pytest.approx(0.25))


def test_categorical_levels_weighted(tmp_path):
    body = (continuous("x", -6.0, 6.0, NORMAL.format(m=0.0, s=1.0))
            + '\n[variables.lot]\nkind = "categorical"\nreference = "t"\nweights = { a = 0.25, b = 0.75 }\n'
              '[variables.lot.levels.a]\nq = 3.0\n[variables.lot.levels.b]\nq = 4.0\n')
    sp = _space(tmp_path, body, "q + x", {"x": 0.0, "lot": "a"}, 0.0)
    r = rare_event(sp, DEFAULT_SETTINGS, 6)
    p = 0.25 * stats.norm.cdf(-3.0) + 0.75 * stats.norm.cdf(-4.0)
    assert r.combinations == 2 and r.interval[0] <= p <= r.interval[1]
    assert dict(r.design_point)["lot"] == "a"


def test_stable_standard_deviation(tmp_path):
    # 1e6 + 1e-5 x, x uniform on [0, 1]: std 1e-5 / sqrt(12) (a one-pass sum of squares gives 0)
    sp = _space(tmp_path, continuous("x", 0.0, 1.0), "1e6 + 1e-5 * x", {"x": 0.0}, 0.0)
    mc = monte_carlo(sp, DEFAULT_SETTINGS, 7, samples=100_000)
    assert mc.std == pytest.approx(1e-5 / math.sqrt(12), rel=0.01)


def test_metrics_draw_independent_streams(tmp_path):
    # two metrics with the same model: their Monte Carlo samples must differ (not one shared seed)
    body = continuous("x", -5.0, 5.0, NORMAL.format(m=0.0, s=1.0))
    body += expression_metric("x", {"x": 0.0}, limit=-1.0, name="m1")
    body += expression_metric("x", {"x": 0.0}, limit=-1.0, name="m2")
    env = make_envelope(tmp_path, body)
    a, b = worst_cases(env, {}, monte_carlo_samples=20_000)
    assert a.monte_carlo.seed == b.monte_carlo.seed == DEFAULT_SETTINGS.rng_seed
    assert a.monte_carlo.stream == (0, 1) and b.monte_carlo.stream == (1, 1)
    assert a.monte_carlo.failures != b.monte_carlo.failures
    # independent: the streams' draws are uncorrelated
    u = np.random.default_rng(np.random.SeedSequence(DEFAULT_SETTINGS.rng_seed, spawn_key=(0, 1))).standard_normal(20_000)
    v = np.random.default_rng(np.random.SeedSequence(DEFAULT_SETTINGS.rng_seed, spawn_key=(1, 1))).standard_normal(20_000)
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(20_000)
