"""Monte Carlo probability of missing the limit, and one-at-a-time sensitivities.

Sampling is column-wise (one array per dimension) in blocks of ``corner_chunk`` samples, so
10^6 samples at k = 20 stay within tens of MB (shared performance notes: as an N x k matrix
they take 264 MB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase.space import Dimension, SearchSpace

__all__ = ["MonteCarlo", "Sensitivity", "Sensitivities", "monte_carlo", "clopper_pearson", "sensitivities",
           "sample_dimension", "seed_and_stream"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MonteCarlo:
    """Probability that the metric misses its limit, with a Clopper-Pearson interval."""

    samples: int
    seed: int | None
    failures: int
    probability: float
    confidence: float
    interval: tuple[float, float]
    upper_bound_only: bool
    distributions: tuple[tuple[str, str], ...]
    mean: float
    std: float
    stream: tuple[int, ...] = ()
    failures_inside_box: int = 0
    worst_inside_box: float | None = None  # worst sample value with every continuous variable in [min, max]
    worst_inside_configuration: tuple[tuple[str, float | str], ...] = ()

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["interval"] = list(self.interval)
        d["distributions"] = dict(self.distributions)
        d["stream"] = list(self.stream)
        d["worst_inside_configuration"] = dict(self.worst_inside_configuration)
        d["statistics"] = "mean and std by a two-pass sum per block, blocks combined by Chan et al.'s update (Welford)"
        d["method"] = ("Clopper-Pearson exact binomial interval"
                       + ("; no sample failed, so the interval is the one-sided upper bound [0, u]"
                          if self.upper_bound_only else " (two-sided)"))
        return d


def merge_batch(count: int, mean: float, m2: float, batch: np.ndarray) -> tuple[int, float, float]:
    """Running ``(count, mean, sum of squared deviations)`` with one more batch of values merged in.

    Two-pass within the batch, Chan et al.'s pairwise update across batches (Chan, Golub and
    LeVeque 1983): stable where the one-pass sum of squares loses every digit (``1e6 + 1e-5 x``).
    """
    m = len(batch)
    bm = float(batch.mean())
    bm2 = float(np.square(batch - bm).sum())
    delta = bm - mean
    tot = count + m
    return tot, mean + delta * m / tot, m2 + bm2 + delta * delta * count * m / tot


def clopper_pearson(failures: int, n: int, confidence: float = 0.95) -> tuple[float, float, bool]:
    r"""Exact binomial confidence interval for a probability.

    Parameters
    ----------
    failures : int
        Number of failing samples f.
    n : int
        Number of samples.
    confidence : float
        Confidence level 1 - alpha.

    Returns
    -------
    lo, hi : float
        The interval [-].
    upper_bound_only : bool
        True when f = 0: then the interval is the one-sided bound [0, 1 - alpha^(1/n)].

    Notes
    -----
    Two-sided: :math:`p_{lo} = B(\alpha/2; f, n-f+1)`, :math:`p_{hi} = B(1-\alpha/2; f+1, n-f)`
    with B the beta quantile. With no failure the one-sided bound :math:`1 - \alpha^{1/n}` (about
    3/n at 95 %, the "rule of three").

    References
    ----------
    .. [1] C. J. Clopper, E. S. Pearson, "The use of confidence or fiducial limits illustrated in
       the case of the binomial", Biometrika 26 (1934) 404-413.

    Examples
    --------
    >>> lo, hi, one = clopper_pearson(0, 1000)
    >>> (lo, round(hi, 6), one)
    (0.0, 0.002991, True)
    """
    alpha = 1.0 - confidence
    if failures == 0:
        return 0.0, float(1.0 - alpha ** (1.0 / n)), True
    # the beta quantiles by scipy.special.betaincinv, which scipy.stats.beta.ppf calls (the same
    # values, tested): scipy.stats costs a worker 0.2 s to import, for this one use
    lo = float(special.betaincinv(failures, n - failures + 1, alpha / 2))
    hi = 1.0 if failures == n else float(special.betaincinv(failures + 1, n - failures, 1 - alpha / 2))
    return lo, hi, False


def sample_dimension(d: Dimension, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of one dimension from its distribution (level indices for a categorical one).

    Without a declared distribution a continuous dimension is uniform over [min, max] and a
    categorical one takes its levels with equal weights; the record states which was used.
    """
    if not d.continuous:
        if d.weights:
            return np.searchsorted(np.cumsum(d.weights), rng.random(n) * sum(d.weights), side="right").clip(
                0, d.size - 1)
        return rng.integers(0, d.size, n)
    dist = d.distribution
    if dist is None or dist.kind == "uniform":
        return rng.uniform(d.lo, d.hi, n)
    if dist.kind == "normal":
        return dist.mean + dist.sd * rng.standard_normal(n)
    # truncated normal by inversion: u uniform between Phi(a) and Phi(b)
    a, b = special.ndtr((d.lo - dist.mean) / dist.sd), special.ndtr((d.hi - dist.mean) / dist.sd)
    return np.clip(dist.mean + dist.sd * special.ndtri(a + (b - a) * rng.random(n)), d.lo, d.hi)


def seed_and_stream(rng) -> tuple[int | None, tuple[int, ...]]:
    """The recordable seed and spawn key of an int seed or a :class:`numpy.random.SeedSequence`."""
    if isinstance(rng, np.random.SeedSequence):
        return (int(rng.entropy) if isinstance(rng.entropy, (int, np.integer)) else None), tuple(rng.spawn_key)
    if isinstance(rng, (int, np.integer)):
        return int(rng), ()
    return None, ()


def monte_carlo(space: SearchSpace, settings: Settings = DEFAULT_SETTINGS, rng=None, *, samples: int | None = None) -> MonteCarlo:
    """Probability that the metric falls below (sense ``min``) or above (``max``) its limit.

    Parameters
    ----------
    space : SearchSpace
    settings : Settings
        ``monte_carlo_samples``, ``monte_carlo_confidence``, ``corner_chunk`` (block size).
    rng : int or numpy.random.SeedSequence, optional
        Seed (``settings.rng_seed`` when None), or the metric's own stream
        (``SeedSequence(seed, spawn_key=...)``); seed and spawn key are recorded.
    samples : int, optional
        Overrides ``settings.monte_carlo_samples``.

    Returns
    -------
    MonteCarlo
        With the worst sample that lies inside the box (every continuous variable within its
        [min, max]): a normal distribution is not truncated, so samples outside the box may miss
        the limit without contradicting the worst case over the box; one inside cannot.

    Notes
    -----
    Samples are drawn block by block, dimension by dimension, so the result depends only on the
    seed, the number of samples and the block size. Mean and standard deviation: two passes over
    each block, blocks merged by the pairwise update of Chan, Golub & LeVeque (1983), so a
    metric of 1e6 with a spread of 1e-5 keeps its spread (a one-pass sum of squares loses it).
    """
    seed = settings.rng_seed if rng is None else rng
    recorded, stream = seed_and_stream(seed)
    rng = np.random.default_rng(seed)
    n = int(samples or settings.monte_carlo_samples)
    limit, sign = space.metric.limit, space.sign
    failures = inside_failures = 0
    count, mean, m2 = 0, 0.0, 0.0
    worst, worst_cfg = None, ()
    for start in range(0, n, settings.corner_chunk):
        m = min(settings.corner_chunk, n - start)
        cols = [sample_dimension(d, m, rng) for d in space.dims]
        # broadcast: a metric that depends on no variable evaluates to one value
        vals = np.broadcast_to(space.evaluate(cols), (m,))
        space.check_finite(vals, "a Monte Carlo sample")
        miss = sign * (vals - limit) < 0
        failures += int(np.count_nonzero(miss))
        inside = np.ones(m, dtype=bool)
        for d, c in zip(space.dims, cols):
            if d.continuous:
                inside &= (c >= d.lo) & (c <= d.hi)
        inside_failures += int(np.count_nonzero(miss & inside))
        if np.any(inside):
            obj = np.where(inside, sign * vals, np.inf)
            i = int(np.argmin(obj))
            if worst is None or sign * vals[i] < sign * worst:
                worst = float(vals[i])
                worst_cfg = space.configuration([c[i] for c in cols])
        count, mean, m2 = merge_batch(count, mean, m2, vals)
    std = float(np.sqrt(m2 / max(n - 1, 1)))
    lo, hi, one = clopper_pearson(failures, n, settings.monte_carlo_confidence)
    return MonteCarlo(samples=n, seed=recorded, stream=stream, failures=failures,
                      probability=failures / n, confidence=settings.monte_carlo_confidence, interval=(lo, hi),
                      upper_bound_only=one, mean=mean, std=std, failures_inside_box=inside_failures,
                      worst_inside_box=worst, worst_inside_configuration=worst_cfg,
                      distributions=tuple((d.name, d.describe_distribution()) for d in space.dims))


@dataclass(frozen=True, slots=True, kw_only=True)
class Sensitivity:
    """Swing of the metric when one variable moves from its low to its high value, others nominal."""

    variable: str
    kind: str
    unit: str
    low: float | str
    high: float | str
    metric_at_low: float
    metric_at_high: float
    baseline: float
    swing: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class Sensitivities:
    baseline: float
    baseline_configuration: tuple[tuple[str, float | str], ...]
    variables: tuple[Sensitivity, ...]
    evaluations: int

    def as_dict(self) -> dict:
        return {"method": "one-at-a-time: each variable at its low and high value, every other at nominal; "
                          "categorical low/high are the levels giving the lowest/highest metric",
                "baseline": self.baseline, "baseline_configuration": dict(self.baseline_configuration),
                "evaluations": self.evaluations, "variables": [s.as_dict() for s in self.variables]}


def sensitivities(space: SearchSpace) -> Sensitivities:
    """One-at-a-time sensitivities for a tornado chart, largest swing first.

    Continuous variables go to their bounds; a categorical variable takes every level, and its
    ``low``/``high`` are the levels giving the lowest/highest metric. All points are evaluated
    in one vectorised call.
    """
    dims = space.dims
    nominal = [d.nominal_value() for d in dims]
    rows: list[tuple[int, object]] = [(-1, None)]
    for j, d in enumerate(dims):
        rows += [(j, x) for x in d.candidates()]
    cols = []
    for j, d in enumerate(dims):
        col = np.array([x if r == j else nominal[j] for r, x in rows], dtype=float if d.continuous else np.intp)
        cols.append(col)
    vals = space.evaluate(cols) if rows else np.empty(0)
    space.check_finite(vals, "a one-at-a-time point")
    base = float(vals[0])
    out = []
    k = 1
    for j, d in enumerate(dims):
        v = vals[k:k + d.size]
        cand = d.candidates()
        k += d.size
        if d.continuous:
            lo_i, hi_i = 0, 1
        else:
            lo_i, hi_i = int(np.argmin(v)), int(np.argmax(v))
        out.append(Sensitivity(variable=d.name, kind=d.kind, unit=d.unit, low=d.label(cand[lo_i]),
                               high=d.label(cand[hi_i]), metric_at_low=float(v[lo_i]), metric_at_high=float(v[hi_i]),
                               baseline=base, swing=float(abs(v[hi_i] - v[lo_i]))))
    out.sort(key=lambda s: (-s.swing, s.variable))
    return Sensitivities(baseline=base, baseline_configuration=space.configuration(nominal),
                         variables=tuple(out), evaluations=len(vals))
