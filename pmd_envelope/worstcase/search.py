"""Worst-case search over a :class:`~pmd_envelope.worstcase.space.SearchSpace`.

Three methods, chosen by the size of the box and the shape of the model:

- **exhaustive corners**: every combination of both bounds of each continuous dimension and
  every level of each categorical one, evaluated in blocks (one array per dimension; the
  leading dimensions form a precomputed block, the trailing ones are scalars per block). Exact
  when the model is monotone in each continuous dimension.
- **monotonicity check** on the box: along random lines parallel to each continuous axis the
  differences must keep one sign. Where they do not (or the metric asks ``search = "global"``),
  a **bounded multi-start L-BFGS-B** starts from the best corners and the box centre, and its
  result is checked against a seeded dense uniform sample of the box.
- **monotone directions** for boxes with more corners than ``max_corners``: each continuous
  dimension's worse bound comes from a one-at-a-time evaluation at the nominal point, verified
  by the monotonicity check, by flipping each variable at the result, and by a dense sample of
  random corners; categorical levels are still enumerated. Exact for monotone models without
  enumerating 2^k corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from pmd_envelope.errors import EnvelopeError
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.worstcase.montecarlo import seed_and_stream
from pmd_envelope.worstcase.proof import Proof, box_derivatives, prove
from pmd_envelope.worstcase.space import SearchSpace

__all__ = ["Monotonicity", "Refinement", "SearchResult", "search", "check_monotonicity", "exhaustive_corners"]

INCREASING, DECREASING, CONSTANT, NOT_MONOTONE = "increasing", "decreasing", "constant", "not monotone"
#: The derivative's sign is not proven over the box and no sampled line shows a sign change.
NOT_PROVEN = "not proven"
PROVEN_DIRECTIONS = (INCREASING, DECREASING, CONSTANT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Monotonicity:
    """Direction of the metric along each continuous dimension.

    A direction (``increasing``, ``decreasing``, ``constant``) is *proven*: the interval
    enclosure of the partial derivative over the whole box (every combination of categorical
    levels) keeps one sign. Otherwise the variable is ``not monotone`` when a sampled line
    parallel to its axis shows the differences changing sign (a witness), else ``not proven``.
    Only proven directions make the model monotone.
    """

    directions: tuple[tuple[str, str], ...]
    lines: int
    points_per_line: int
    evaluations: int
    seed: int
    derivative_bounds: tuple[tuple[str, tuple[float, float]], ...] = ()

    @property
    def monotone(self) -> bool:
        return all(d in PROVEN_DIRECTIONS for _, d in self.directions)

    def as_dict(self) -> dict:
        from pmd_envelope.resolution import outward_at_resolution

        return {"monotone": self.monotone, "variables": dict(self.directions), "lines": self.lines,
                "points_per_line": self.points_per_line, "evaluations": self.evaluations, "seed": self.seed,
                "derivative_bounds": {k: [outward_at_resolution(a, -1) if math.isfinite(a) else None,
                                          outward_at_resolution(b, 1) if math.isfinite(b) else None]
                                      for k, (a, b) in self.derivative_bounds},
                "method": "proven by the interval enclosure of each partial derivative over the whole box "
                          "(forward-mode differentiation of the expression tree; derivative_bounds, null = unbounded); "
                          "where the sign is not proven, 'not monotone' if the differences change sign along random "
                          "lines parallel to the axis at random positions, else 'not proven'"}


def proven_directions(mono: Monotonicity, derivative_bounds) -> Monotonicity:
    """``mono`` (the sampled witness) with every direction the derivative enclosure proves."""
    proven = dict(derivative_bounds)
    out = []
    for name, sampled in mono.directions:
        lo, hi = proven.get(name, (-math.inf, math.inf))
        d = (CONSTANT if lo == 0 and hi == 0 else INCREASING if lo >= 0 else DECREASING if hi <= 0 else
             NOT_MONOTONE if sampled == NOT_MONOTONE else NOT_PROVEN)
        out.append((name, d))
    return Monotonicity(directions=tuple(out), lines=mono.lines, points_per_line=mono.points_per_line,
                        evaluations=mono.evaluations, seed=mono.seed, derivative_bounds=tuple(derivative_bounds))


@dataclass(frozen=True, slots=True, kw_only=True)
class Refinement:
    """Bounded local search from the best corners, and its check against a dense sample."""

    reason: str
    starts: int
    evaluations: int
    corner_value: float
    refined_value: float
    dense_samples: int
    dense_worst: float
    dense_found_worse: bool
    seed: int

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["method"] = "multi-start L-BFGS-B (scipy), bounded to the box, from the best corners and the box centre"
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    value: float
    point: tuple
    method: str
    evaluations: int
    exact: bool
    monotonicity: Monotonicity
    refinement: Refinement | None
    proof: Proof | None = None


def _rel_equal_or_better(a: float, b: float, tol: float) -> bool:
    """Objective a is not worse than b beyond the relative tolerance (objectives: smaller is worse)."""
    return a >= b - tol * max(abs(a), abs(b), 1e-300)


def exhaustive_corners(space: SearchSpace, settings: Settings = DEFAULT_SETTINGS, *, candidates=None, keep: int = 1):
    """Evaluate every corner in blocks and keep the ``keep`` worst.

    Returns
    -------
    objectives : numpy.ndarray
        The ``keep`` smallest objectives (sign x metric), ascending; ties in enumeration order.
    points : list of tuple
        The matching points (one scalar per dimension).
    evaluations : int
    """
    dims = space.dims
    cands = [np.asarray(c) for c in (candidates or [d.candidates() for d in dims])]
    sizes = [len(c) for c in cands]
    inner, block = 0, 1
    while inner < len(dims) and (block * sizes[inner] <= settings.corner_chunk or inner == 0):
        block *= sizes[inner]
        inner += 1
    grids = np.indices(sizes[:inner]).reshape(inner, -1) if inner else np.zeros((0, 1), dtype=np.intp)
    inner_cols = [cands[i][grids[i]] for i in range(inner)]
    del grids
    best_obj = np.empty(0)
    best_key: list[tuple] = []
    evaluations = 0
    for b, outer in enumerate(np.ndindex(*sizes[inner:])):
        cols = inner_cols + [cands[inner + j][o] for j, o in enumerate(outer)]
        vals = space.evaluate(cols)
        evaluations += len(vals)
        space.check_finite(vals, "a corner of the box")
        obj = space.sign * vals
        part = np.arange(len(obj)) if len(obj) <= keep else np.argpartition(obj, keep - 1)[:keep]
        merged_obj = np.concatenate([best_obj, obj[part]])
        merged_key = best_key + [(b, int(p), outer) for p in part]
        order = np.lexsort((np.array([k[0] * block + k[1] for k in merged_key]), merged_obj))[:keep]
        best_obj = merged_obj[order]
        best_key = [merged_key[i] for i in order]
    points = []
    for _, p, outer in best_key:
        digits = np.unravel_index(p, sizes[:inner]) if inner else ()
        idx = tuple(int(x) for x in digits) + tuple(outer)
        points.append(tuple(cands[i][j].item() for i, j in enumerate(idx)))
    return best_obj, points, evaluations


def check_monotonicity(space: SearchSpace, settings: Settings = DEFAULT_SETTINGS, rng=None, *,
                       seed: int | None = None) -> Monotonicity:
    """Monotonicity of the metric in each continuous dimension over the box.

    Along ``monotonicity_lines`` random lines parallel to each continuous axis (the other
    dimensions, categorical included, drawn uniformly), at both ends and ``monotonicity_points``
    - 2 random positions, the successive differences must all keep one sign (within the relative
    tolerance of the largest value). A sampled check, not a proof: it witnesses sign changes;
    :func:`proven_directions` puts the interval proof on top.
    ``seed`` is the seed to record when ``rng`` is a generator already started from it.
    """
    if seed is None and isinstance(rng, (int, np.integer)):
        seed = int(rng)
    rng = np.random.default_rng(rng)
    dims = space.dims
    cont = [i for i, d in enumerate(dims) if d.continuous]
    m, g = settings.monotonicity_lines, settings.monotonicity_points
    if not cont:
        return Monotonicity(directions=(), lines=m, points_per_line=g, evaluations=0, seed=seed)
    base = [rng.uniform(d.lo, d.hi, m) if d.continuous else rng.integers(0, d.size, m) for d in dims]
    # both ends, and g - 2 random positions in between on each line (sorted): evenly spaced points
    # at the same positions on every line would let a narrow basin between two of them escape
    # every line alike
    inner = np.sort(rng.random((len(cont), m, g - 2)), axis=2)
    t = np.concatenate([np.zeros((len(cont), m, 1)), inner, np.ones((len(cont), m, 1))], axis=2)
    shape = (len(cont), m, g)
    cols = []
    for j, d in enumerate(dims):
        col = np.broadcast_to(base[j][None, :, None], shape).copy()
        if d.continuous:
            r = cont.index(j)
            col[r] = d.lo + (d.hi - d.lo) * t[r]
        cols.append(col.ravel())
    vals = space.evaluate(cols)
    space.check_finite(vals, "a point of the box (monotonicity check)")
    vals = vals.reshape(shape)
    diff = np.diff(vals, axis=2)
    tol = settings.search_rel_tol * float(np.max(np.abs(vals)))
    directions = []
    for r, j in enumerate(cont):
        up, down = bool(np.all(diff[r] >= -tol)), bool(np.all(diff[r] <= tol))
        directions.append((dims[j].name, CONSTANT if up and down else INCREASING if up else
                           DECREASING if down else NOT_MONOTONE))
    return Monotonicity(directions=tuple(directions), lines=m, points_per_line=g, evaluations=int(vals.size), seed=seed)


def _uniform_points(space: SearchSpace, n: int, rng: np.random.Generator, corners: bool = False):
    """n uniform random points of the box (or of its corners), column-wise."""
    cols = []
    for d in space.dims:
        if not d.continuous:
            cols.append(rng.integers(0, d.size, n))
        elif corners:
            cols.append(np.where(rng.random(n) < 0.5, d.lo, d.hi))
        else:
            cols.append(rng.uniform(d.lo, d.hi, n))
    return cols


def _local(space: SearchSpace, start: tuple, cont: list[int]):
    """L-BFGS-B on the continuous dimensions (unit box), categorical ones fixed at ``start``.

    The gradient is a forward difference evaluated for all dimensions in one vectorised call.
    Returns (objective, point, evaluations).
    """
    dims = space.dims
    lo = np.array([dims[j].lo for j in cont])
    width = np.array([dims[j].hi - dims[j].lo for j in cont])
    m = len(cont)
    h = 1e-7  # forward step in the unit box: ~sqrt(machine epsilon), the textbook choice
    evals = [0]

    def columns(u):  # u: (m, n) unit coordinates
        cols = [np.asarray(x) for x in start]
        for r, j in enumerate(cont):
            cols[j] = lo[r] + width[r] * u[r]
        return cols

    def fg(u):
        steps = np.where(u + h <= 1.0, h, -h)
        uu = np.repeat(u[:, None], m + 1, axis=1)
        uu[np.arange(m), np.arange(1, m + 1)] += steps
        v = space.sign * space.evaluate(columns(uu))
        evals[0] += m + 1
        space.check_finite(v, "a point of the box (local search)")
        return float(v[0]), (v[1:] - v[0]) / steps

    u0 = np.array([(start[j] - dims[j].lo) / (dims[j].hi - dims[j].lo) for j in cont], dtype=float)
    res = minimize(fg, np.clip(u0, 0.0, 1.0), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * m,
                   options={"maxiter": 200})
    u = np.clip(res.x, 0.0, 1.0)
    point = list(start)
    for r, j in enumerate(cont):
        point[j] = float(lo[r] + width[r] * u[r])
    obj = float(space.sign * space.evaluate([np.asarray(x) for x in point])[0])
    return obj, tuple(point), evals[0] + 1


def _refine(space: SearchSpace, settings: Settings, rng: np.random.Generator, seed, starts: list[tuple],
            best_obj: float, best_point: tuple, reason: str):
    """Multi-start local search from ``starts``, then the dense-sample check."""
    cont = [i for i, d in enumerate(space.dims) if d.continuous]
    corner_obj = best_obj
    evaluations = 0
    for s in starts:
        obj, point, n = _local(space, s, cont)
        evaluations += n
        if obj < best_obj - settings.search_rel_tol * abs(best_obj):
            best_obj, best_point = obj, point
    cols = _uniform_points(space, settings.dense_samples, rng)
    dense = space.sign * space.evaluate(cols)
    space.check_finite(dense, "a point of the box (dense sample)")
    i = int(np.argmin(dense))
    found_worse = not _rel_equal_or_better(float(dense[i]), best_obj, settings.search_rel_tol)
    if found_worse:  # the sample found a worse basin: refine from it too
        s = tuple(c[i].item() for c in cols)
        obj, point, n = _local(space, s, cont)
        evaluations += n
        best_obj, best_point = (obj, point) if obj < dense[i] else (float(dense[i]), s)
    ref = Refinement(reason=reason, starts=len(starts), evaluations=evaluations,
                     corner_value=space.sign * corner_obj, refined_value=space.sign * best_obj,
                     dense_samples=settings.dense_samples, dense_worst=float(space.sign * dense[i]),
                     dense_found_worse=found_worse, seed=seed)
    return best_obj, best_point, ref


def search(space: SearchSpace, settings: Settings = DEFAULT_SETTINGS, rng=None) -> SearchResult:
    """The worst case of ``space`` over its box.

    Parameters
    ----------
    space : SearchSpace
    settings : Settings
        ``max_corners`` chooses between exhaustive corners and monotone directions;
        ``corner_chunk``, ``monotonicity_*``, ``refine_starts``, ``dense_samples`` and
        ``search_rel_tol`` tune the search.
    rng : int or numpy.random.Generator, optional
        Seed of the monotonicity lines and the dense sample (``settings.rng_seed`` when None).

    Returns
    -------
    SearchResult
        ``value`` is the worst metric value, ``point`` every dimension's value there,
        ``evaluations`` the model evaluations of the corner search and the refinement (the
        monotonicity check and the dense sample count their own).
    """
    seed = settings.rng_seed if rng is None else rng
    rng = np.random.default_rng(seed)
    seed = seed_and_stream(seed)[0]
    dims = space.dims
    mono = proven_directions(check_monotonicity(space, settings, rng, seed=seed), box_derivatives(space))
    corners = math.prod(d.size for d in dims)
    cont = [i for i, d in enumerate(dims) if d.continuous]
    if corners <= settings.max_corners:
        keep = max(1, settings.refine_starts)
        objs, points, evaluations = exhaustive_corners(space, settings, keep=keep)
        best_obj, best_point = float(objs[0]), points[0]
        method = f"exhaustive over {evaluations} corner configurations"
        starts = points
        verified = True
    else:
        best_obj, best_point, evaluations, method, verified = _monotone_directions(space, settings, rng, mono)
        starts = [best_point]
    refinement = None
    global_search = space.metric.search == "global"
    needs = bool(cont) and (global_search or not mono.monotone or (corners > settings.max_corners and not verified))
    if needs:
        centre = tuple((d.lo + d.hi) / 2 if d.continuous else x for d, x in zip(dims, best_point))
        bad = [n for n, d in mono.directions if d == NOT_MONOTONE]
        unproven = [n for n, d in mono.directions if d == NOT_PROVEN]
        reason = ("search = \"global\" requested" if global_search else
                  "; ".join(([f"not monotone in {', '.join(bad)}"] if bad else []) +
                            ([f"monotonicity not proven in {', '.join(unproven)}"] if unproven else []))
                  or "monotone directions not verified")
        best_obj, best_point, refinement = _refine(space, settings, rng, seed, list(starts) + [centre],
                                                   best_obj, best_point, reason)
        evaluations += refinement.evaluations
        method += f"; refined by multi-start L-BFGS-B from {refinement.starts} starts ({reason})"
    elif cont:
        method += "; monotone in every continuous variable (proven), so the worst case is at a corner"
    # the enclosure: a proven bound on the true worst value; where its search found a worse point,
    # that point is the worst case
    proof = prove(space, settings, found=space.sign * best_obj, point=best_point)
    if space.sign * proof.value < best_obj:
        best_obj, best_point = space.sign * proof.value, proof.point
        method += "; the interval branch and bound found a worse point, which replaces the search's result"
    method += f"; worst case {proof.status} by interval branch and bound ({proof.boxes} sub-boxes)"
    value = space.sign * best_obj
    # exact means proven: the enclosure is closed within its tolerance, nothing weaker
    return SearchResult(value=float(value), point=best_point, method=method, evaluations=int(evaluations),
                        exact=proof.proven, monotonicity=mono, refinement=refinement, proof=proof)


def _monotone_directions(space: SearchSpace, settings: Settings, rng: np.random.Generator, mono: Monotonicity):
    """Worse bound of each continuous dimension from a one-at-a-time evaluation, verified.

    Returns (objective, point, evaluations, method, verified).
    """
    dims = space.dims
    cont = [i for i, d in enumerate(dims) if d.continuous]
    m = len(cont)
    # one batch: for each continuous dimension its low and high bound, others nominal
    cols = []
    for j, d in enumerate(dims):
        col = np.full(2 * m, d.nominal_value(), dtype=float if d.continuous else np.intp)
        if d.continuous:
            r = cont.index(j)
            col[2 * r], col[2 * r + 1] = d.lo, d.hi
        cols.append(col)
    oat = space.sign * space.evaluate(cols)
    space.check_finite(oat, "a one-at-a-time point")
    evaluations = 2 * m
    directions = dict(mono.directions)
    # a proven direction decides the worse bound; the one-at-a-time evaluation decides the others
    worse_lo = oat[0::2] <= oat[1::2]
    for r, j in enumerate(cont):
        d = directions[dims[j].name]
        if d in (INCREASING, DECREASING):
            worse_lo[r] = (d == INCREASING) == (space.sign > 0)
    # the OAT direction must agree with the monotonicity check on random lines
    agree = True
    for r, j in enumerate(cont):
        d = directions[dims[j].name]
        objective_up = (d == INCREASING) == (space.sign > 0)
        if d not in PROVEN_DIRECTIONS or (d != CONSTANT and bool(worse_lo[r]) != objective_up):
            agree = False
    cands = [np.array([d.lo if worse_lo[cont.index(j)] else d.hi]) if d.continuous else d.candidates()
             for j, d in enumerate(dims)]
    n_cat = math.prod(len(c) for c in cands)
    if n_cat > settings.max_corners:
        raise EnvelopeError(space.envelope_path, f"{n_cat} combinations of categorical levels exceed max_corners "
                                                   f"({settings.max_corners}); merge levels or split the metric",
                            f"metrics.{space.metric.name}")
    objs, points, n = exhaustive_corners(space, settings, candidates=cands, keep=1)
    evaluations += n
    best_obj, best_point = float(objs[0]), points[0]
    # verification 1: flipping any one continuous variable at the result is not worse
    flip = []
    for j, d in enumerate(dims):
        col = np.full(m, best_point[j], dtype=float if d.continuous else np.intp)
        if d.continuous:
            r = cont.index(j)
            col[r] = d.hi if best_point[j] == d.lo else d.lo
        flip.append(col)
    fv = space.sign * space.evaluate(flip) if m else np.empty(0)
    # verification 2: a dense sample of random corners is not worse
    dcols = _uniform_points(space, settings.dense_samples, rng, corners=True)
    dv = space.sign * space.evaluate(dcols)
    evaluations += m
    verified = agree and bool(np.all(fv >= best_obj - settings.search_rel_tol * abs(best_obj))) and bool(
        np.all(dv >= best_obj - settings.search_rel_tol * abs(best_obj)))
    i = int(np.argmin(dv))
    if dv[i] < best_obj:  # not monotone after all: keep the worse corner as a start for the refinement
        best_obj, best_point = float(dv[i]), tuple(c[i].item() for c in dcols)
    method = (f"monotone directions of {m} continuous variables from a one-at-a-time evaluation "
              f"({'verified' if verified else 'NOT verified'} by the monotonicity check, single flips and "
              f"{settings.dense_samples} random corners) x {n} categorical combinations")
    return best_obj, best_point, evaluations, method, verified
