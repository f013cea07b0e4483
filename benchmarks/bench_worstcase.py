"""Benchmark of the worst-case engine (issue 4). Prints a table; asserts nothing.

Run from the repository root::

    python benchmarks/bench_worstcase.py            # full table (~10-20 s)
    python benchmarks/bench_worstcase.py --quick    # fewer repeats

Workloads use the built-in clamped-plate model (Roark) with k two-level manufacturing
variables spread over its inputs (thickness, plate radius, yield strength), built through an
envelope file like any user's, so the timings include expression evaluation. Times are the
best of ``--repeat`` runs (the machine is shared and noisy); peak memory is measured in a
separate run under :mod:`tracemalloc` (numpy reports its buffers to it), so tracing does not
inflate the times. A reference (numpy sum of 10^7 floats) is timed in the same run so results
can be compared across machines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.envelope import load_envelope  # noqa: E402
from pmd_envelope.settings import DEFAULT_SETTINGS  # noqa: E402
from pmd_envelope.worstcase import build_search_space, monte_carlo, search  # noqa: E402
from pmd_envelope.worstcase.proof import prove  # noqa: E402
from pmd_envelope.worstcase.reliability import rare_event  # noqa: E402
from pmd_envelope.worstcase.search import exhaustive_corners  # noqa: E402

#: Six-variable non-monotone expression of the enclosure row: a coupled bowl with a ripple (several
#: local minima on each axis), worst case inside the box.
NON_MONOTONE_6 = " + ".join(f"(x{i} - 0.3 * x{(i + 1) % 6} - 0.2)**2 + 0.05 * sin(7 * x{i})" for i in range(6))
#: Six normal variables in a linear limit state with P = Phi(-5.2) = 1.0e-7 (issue 9's anchor).
LINEAR_6 = ([1.0, -2.0, 0.5, 3.0, -1.0, 1.5], [10.0, 2.0, 4.0, 1.0, 3.0, 2.0], [1.0, 0.5, 2.0, 0.3, 0.8, 0.6])

HEAD = (ROOT / "tests" / "envelope_builder.py").read_text().split("HEAD = '''")[1].split("'''")[0]


def plate_envelope(folder: Path, k: int, search_mode: str = "auto", *, normal: bool = False, interior: bool = False):
    """Envelope with k continuous variables acting on the Roark plate's inputs.

    ``interior`` adds a convex term in v2 to the yield strength, so the worst case lies inside
    the box (at v2 = 0.001 - 1/800 = -0.00025, about 0.9 % below the best corner).
    """
    groups = {"t": [], "a": [], "s": []}
    body = ""
    for i in range(k):
        g = "tas"[i % 3]
        groups[g].append(f"v{i}")
        lo, hi = {"t": (-0.01, 0.01), "a": (-0.2, 0.2), "s": (-0.005, 0.005)}[g]
        dist = f'distribution = "normal"\nmean = 0.0\nsd = {hi / 3!r}\n' if normal else ""
        body += (f'\n[variables.v{i}]\nkind = "continuous"\nmin = {lo!r}\nmax = {hi!r}\nunit = "1"\n'
                 f'reference = "bench"\n{dist}')
    t = " + ".join(["wall_thickness"] + groups["t"])
    a = " + ".join(["span / 2"] + groups["a"])
    s = "780.0 * (1 + " + " + ".join(groups["s"] or ["0"]) + (" + 400 * (v2 - 0.001)**2" if interior else "") + ")"
    cfg = "\n".join(f"v{i} = 0.0" for i in range(k))
    body += f'''
[metrics.load]
model = "clamped_circular_plate_central_load"
unit = "N"
limit = 420.0
sense = "min"
search = "{search_mode}"
reference = "bench"
[metrics.load.inputs]
thickness = "{t}"
plate_radius = "{a}"
load_radius = "5.0"
yield_strength = "{s}"
poisson_ratio = "0.34"
[metrics.load.tested_worst_case]
report = "TR"
measured_value = 1.0
[metrics.load.tested_worst_case.configuration]
wall_thickness = 1.0
span = 140.0
{cfg}
'''
    d = folder / f"k{k}-{search_mode}-{int(normal)}-{int(interior)}" / "test-envelope"
    d.mkdir(parents=True, exist_ok=True)
    (d / "1.0.0.toml").write_text(HEAD + body)
    env = load_envelope(d / "1.0.0.toml")
    return build_search_space(env, env.metrics[0], {"wall_thickness": 1.2, "span": 120.0})


def expression_space(folder: Path, name: str, body: str, expr: str, limit: float):
    d = folder / name / "test-envelope"
    d.mkdir(parents=True, exist_ok=True)
    names = [ln.split(".")[1].rstrip("]") for ln in body.splitlines() if ln.startswith("[variables.")]
    cfg = "\n".join(f"{n} = 0.0" for n in names)
    (d / "1.0.0.toml").write_text(HEAD + body + f'''
[metrics.m]
model = "expression"
expression = "{expr}"
unit = "1"
limit = {limit!r}
sense = "min"
reference = "bench"
[metrics.m.tested_worst_case]
report = "TR"
measured_value = 1.0
[metrics.m.tested_worst_case.configuration]
{cfg}
''')
    env = load_envelope(d / "1.0.0.toml")
    return build_search_space(env, env.metrics[0], {})


def _var(name, lo, hi, extra=""):
    return f'\n[variables.{name}]\nkind = "continuous"\nmin = {lo!r}\nmax = {hi!r}\nunit = "1"\nreference = "bench"\n{extra}'


def openturns_rows(repeat: int):
    """FORM and importance sampling by OpenTURNS on the same linear limit state, when importable."""
    try:
        import openturns as ot
    except ImportError:
        return [("OpenTURNS FORM + importance sampling (same model)", None, None, "openturns not importable: skipped", "")]
    a, mu, sd = LINEAR_6
    c = sum(x * m for x, m in zip(a, mu)) - 5.2 * float(np.sqrt(sum((x * s) ** 2 for x, s in zip(a, sd))))
    expr = " + ".join(f"{x!r} * x{i}" for i, x in enumerate(a)) + f" - {c!r}"
    f = ot.SymbolicFunction([f"x{i}" for i in range(6)], [expr])
    dist = ot.ComposedDistribution([ot.Normal(m, s) for m, s in zip(mu, sd)])
    event = ot.ThresholdEvent(ot.CompositeRandomVector(f, ot.RandomVector(dist)), ot.Less(), 0.0)

    def form():
        algo = ot.FORM(ot.Cobyla(), event, dist.getMean())
        algo.run()
        return algo.getResult()

    t_form, _, res = measure(form, repeat)

    def importance():
        ot.RandomGenerator.SetSeed(1)
        std = ot.Normal(6)
        inst = ot.Normal(res.getStandardSpaceDesignPoint(), ot.CovarianceMatrix(6))
        exp = ot.ImportanceSamplingExperiment(inst)
        algo = ot.ProbabilitySimulationAlgorithm(ot.StandardEvent(event), exp)
        algo.setMaximumCoefficientOfVariation(0.05)
        algo.setMaximumOuterSampling(100_000)
        algo.setBlockSize(1000)
        algo.run()
        del std
        return algo.getResult()

    t_is, _, r = measure(importance, repeat)
    return [("OpenTURNS FORM (Cobyla), same linear model", t_form, None, f"beta = {res.getHasoferReliabilityIndex():.6g}", ""),
            ("OpenTURNS importance sampling at the design point, CV <= 5 %", t_is, None,
             f"P = {r.getProbabilityEstimate():.4g}, CV {r.getCoefficientOfVariation():.3f}, "
             f"{r.getOuterSampling() * r.getBlockSize()} samples", "")]


def measure(fn, repeat: int):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 repeats")
    args = ap.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    settings = DEFAULT_SETTINGS
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        x = np.random.default_rng(0).random(10**7)
        ref, _, _ = measure(lambda: x.sum(), repeat)
        rows.append(("reference: numpy sum of 1e7 floats", ref, None, "", ""))

        p20 = plate_envelope(tmp, 20)
        n = 2**16
        cols = [np.random.default_rng(1).uniform(d.lo, d.hi, n) for d in p20.dims]
        t, mem, _ = measure(lambda: p20.evaluate(cols), repeat)
        rows.append(("model evaluations, k = 20, block of 65,536", t, mem, f"{n / t / 1e6:.1f} M evaluations/s", ""))

        for k, target in ((10, ""), (16, ""), (20, "< 0.25 s, < 64 MB")):
            p = plate_envelope(tmp, k)
            t, mem, (objs, _, ev) = measure(lambda p=p: exhaustive_corners(p, settings), repeat)
            rows.append((f"exhaustive corners, k = {k} ({ev:,} configurations)", t, mem,
                         f"{ev / t / 1e6:.0f} M configurations/s", target))

        p = plate_envelope(tmp, 20)
        t, mem, r = measure(lambda: search(p, settings), repeat)
        rows.append(("search (auto: corners + monotonicity check), k = 20", t, mem, r.method.split(";")[0], ""))
        pg = plate_envelope(tmp, 20, interior=True)
        t, mem, r = measure(lambda: search(pg, settings), repeat)
        rows.append(("search incl. interior refinement, k = 20, worst case inside the box", t, mem,
                     f"{r.evaluations:,} evaluations; refined {r.refinement.refined_value:.6g} N vs best corner "
                     f"{r.refinement.corner_value:.6g} N", "< 0.5 s"))

        p50 = plate_envelope(tmp, 50)
        t, mem, r = measure(lambda: search(p50, settings), repeat)
        rows.append(("monotone directions, k = 50 (2^50 corners)", t, mem,
                     f"{r.evaluations} evaluations, exact={r.exact}", "< 0.1 s"))

        for normal in (False, True):
            pmc = plate_envelope(tmp, 20, normal=normal)
            t, mem, mc = measure(lambda pmc=pmc: monte_carlo(pmc, settings, 1, samples=10**6), repeat)
            rows.append((f"Monte Carlo, 1e6 samples, k = 20 ({'normal' if normal else 'uniform'} variables)", t, mem,
                         f"P = {mc.probability:.4g}, {mc.confidence:.0%} CI [{mc.interval[0]:.3g}, "
                         f"{mc.interval[1]:.3g}]", "< 0.25 s, < 200 MB"))
        # issue 9: proven worst cases and rare misses
        body6 = "".join(_var(f"x{i}", -1.0, 1.0) for i in range(6))
        p6 = expression_space(tmp, "nm6", body6, NON_MONOTONE_6, 0.0)
        found6 = search(p6, settings)
        t, mem, pr = measure(lambda: prove(p6, settings, found=found6.value, point=found6.point), repeat)
        rows.append(("enclosure (branch and bound) of a six-variable non-monotone expression to 1e-6 relative", t, mem,
                     f"{pr.status}: [{pr.bound:.7g}, {pr.found:.7g}], {pr.boxes:,} sub-boxes", "< 1 s"))
        t, mem, r = measure(lambda: search(p6, settings), repeat)
        rows.append(("whole search of the same (corners, refinement, enclosure)", t, mem,
                     f"exact={r.exact}", ""))
        t, mem, r = measure(lambda: search(p50, settings), repeat)
        rows.append(("proven monotonicity and exact worst case, k = 50 (whole search incl. enclosure)", t, mem,
                     f"{sum(d in ('increasing', 'decreasing') for _, d in r.monotonicity.directions)} of 50 directions "
                     f"proven; {r.proof.status}, {r.proof.boxes} sub-boxes", "< 0.1 s"))
        a, mu, sd = LINEAR_6
        c = sum(x * m for x, m in zip(a, mu)) - 5.2 * float(np.sqrt(sum((x * s) ** 2 for x, s in zip(a, sd))))
        bodyn = "".join(_var(f"x{i}", mu[i] - 8 * sd[i], mu[i] + 8 * sd[i],
                             f'distribution = "normal"\nmean = {mu[i]!r}\nsd = {sd[i]!r}\n') for i in range(6))
        pl = expression_space(tmp, "lin6", bodyn, " + ".join(f"({x!r}) * x{i}" for i, x in enumerate(a)), c)
        t, mem, re = measure(lambda: rare_event(pl, settings, 1), repeat)
        rows.append(("FORM + importance sampling, six normal variables, linear, P = Phi(-5.2) = 1.0e-7", t, mem,
                     f"beta = {re.beta:.6g}, P = {re.probability:.4g} (CV {re.cv:.3f}, {re.samples} samples)",
                     "< 0.05 s, CV <= 5 %"))
        rows += openturns_rows(repeat)
        gen = np.random.default_rng(2)
        t, _, _ = measure(lambda: [gen.standard_normal(2**16) for _ in range(20 * 16)], repeat)
        rows.append(("floor: numpy standard_normal, 20 x 1e6 draws", t, None, "the generator alone", ""))

    print("| workload | time [s] | peak traced memory [MB] | result | target |")
    print("|---|---:|---:|---|---|")
    for name, t, mem, note, target in rows:
        ts = "" if t is None else f"{t:.4f}"
        print(f"| {name} | {ts} | {'' if mem is None else f'{mem:.1f}'} | {note} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
