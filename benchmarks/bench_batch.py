"""Benchmark of batch validation (issue 14 item 7): the batch's own overhead per case and the
speed-up of 2 local worker processes, measured in one run. Prints a table; asserts nothing.

Run from the repository root::

    python benchmarks/bench_batch.py              # 20 sample-sized cases, best of 2 (~6 min)
    python benchmarks/bench_batch.py --cases 8    # quicker

The cases are copies of the six sample cases (four mesh-only cranial plates, two with a DICOM
series), cycled to ``--cases`` with case ids ``bench-01``...; the same cases go through three
runs in this one process, after one warm-up validation (imports, first figure):

1. *plain*: ``validate`` then ``write_evidence`` of each case, one after another, each timed;
2. *serial batch*: ``run_batch(..., workers=1)``;
3. *pool batch*: ``run_batch(..., workers=2)`` (spawned worker processes, their start included).

With ``--repeat N`` (default 2) the three runs are made N times in turn (plain, serial, pool,
plain, ...) and each is reported by its fastest repetition, so one burst of other load does not
decide the ratio; every repetition's wall time is printed too.

Per-case overhead = (serial batch time - sum of the plain times) / cases: what the batch adds
(summary table, batch record, bookkeeping) beyond validating and writing each case. Target
< 0.3 s. Speed-up = serial batch time / pool batch time; target >= 1.7x with 2 workers. The load
average is printed before and after: on a shared machine both numbers move with it, so the CPU
time of each run is printed beside its wall time (this process plus every child process it
waited for: the self-intersection checks and the pool's workers). CPU time is much less
sensitive to other load than wall time, so the CPU overhead per case is the number to trust on
a busy machine; the speed-up can only be measured on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.batch import run_batch  # noqa: E402
from pmd_envelope.pipeline import validate, write_evidence  # noqa: E402

SAMPLES = ("cranial-001", "cranial-002", "cranial-003", "cranial-004", "cranial-005", "cranial-006")


def make_cases(folder: Path, n: int) -> list[Path]:
    """``n`` copies of the sample cases, cycled, each with its own case id."""
    cases = []
    for i in range(n):
        src = ROOT / "sample_scans" / SAMPLES[i % len(SAMPLES)]
        dst = folder / f"bench-{i + 1:02d}"
        shutil.copytree(src, dst)
        toml = dst / "case.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.replace(f'case_id = "{src.name}"', f'case_id = "bench-{i + 1:02d}"', 1), encoding="utf-8")
        cases.append(dst)
    return cases


def cpu() -> float:
    """CPU seconds (user + system) of this process and of every child process it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20, help="number of cases (default 20)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the pool run (default 2)")
    ap.add_argument("--repeat", type=int, default=2, help="repetitions of the three runs, best reported (default 2)")
    args = ap.parse_args(argv)
    env = ROOT / "envelopes"
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = make_cases(tmp / "cases", args.cases)
        write_evidence(validate(cases[0], envelope_dir=env), tmp / "warmup")  # imports, first figure

        runs: dict[str, list[tuple[float, float]]] = {"plain": [], "serial": [], "pool": []}
        plain_best: list[float] = []
        for rep in range(args.repeat):
            plain = []
            c0 = cpu()
            for c in cases:
                t0 = time.perf_counter()
                write_evidence(validate(c, envelope_dir=env), tmp / f"plain{rep}")
                plain.append(time.perf_counter() - t0)
            runs["plain"].append((sum(plain), cpu() - c0))
            if not plain_best or sum(plain) < sum(plain_best):
                plain_best = plain

            t0, c0 = time.perf_counter(), cpu()
            serial = run_batch(cases, tmp / f"serial{rep}", envelope_dir=env, workers=1)
            runs["serial"].append((time.perf_counter() - t0, cpu() - c0))

            t0, c0 = time.perf_counter(), cpu()
            pool = run_batch(cases, tmp / f"pool{rep}", envelope_dir=env, workers=args.workers)
            runs["pool"].append((time.perf_counter() - t0, cpu() - c0))
            for b in (serial, pool):
                assert not b.counts["failed"], [o.reason for o in b.outcomes if o.reason]
    load1 = os.getloadavg()

    n = len(cases)
    (t_plain, c_plain), (t_serial, c_serial), (t_pool, c_pool) = (min(runs[k]) for k in ("plain", "serial", "pool"))
    overhead = (t_serial - t_plain) / n
    speedup = t_serial / t_pool
    print(f"batch benchmark: {n} sample-sized cases, {os.cpu_count()} CPUs, best of {args.repeat}, "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    print(f"{'run':34s} {'wall s':>8s} {'per case':>9s} {'CPU s':>8s} {'per case':>9s}  every repetition [wall s]")
    for key, name in (("plain", "plain validate + write_evidence"), ("serial", "batch, serial"),
                      ("pool", f"batch, {args.workers} worker processes")):
        wall, cpu_s = min(runs[key])
        print(f"{name:34s} {wall:8.2f} {wall / n:9.3f} {cpu_s:8.2f} {cpu_s / n:9.3f}  "
              + " ".join(f"{w:.2f}" for w, _ in runs[key]))
    print(f"plain per case: min {min(plain_best):.2f} s, max {max(plain_best):.2f} s (wall)")
    print(f"per-case overhead of the batch: {overhead:+.3f} s wall, {(c_serial - c_plain) / n:+.3f} s CPU "
          f"(target < 0.3 s)")
    print(f"speed-up with {args.workers} workers: {speedup:.2f}x wall (target >= 1.7x with 2); "
          f"CPU of the pool run / serial run: {c_pool / c_serial:.2f}")
    print(f"  (if the {args.workers} workers had {args.workers} idle cores, the speed-up could reach at most "
          f"{args.workers * c_serial / c_pool:.2f}x: {args.workers} x serial CPU / pool CPU; an estimate, not a measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
