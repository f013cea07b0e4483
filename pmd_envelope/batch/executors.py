"""Where a batch's cases are measured: in this process, a local process pool, or a Dask cluster.

Each executor runs :func:`measure_case` on every case and yields a :class:`CaseResult` as each
one finishes. None of them writes to disk: a worker validates the case and renders its report
(the report is drawn from the record alone, so it can be drawn anywhere) and returns both; the
client alone commits the evidence and appends to the ledger, so the ledger keeps one writer.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pmd_envelope.errors import InputFileError, PmdEnvelopeError

__all__ = ["Task", "CaseResult", "measure_case", "run_serial", "run_pool", "run_dask"]

#: A case that broke the process pool together with others this many times is run alone; one
#: that breaks a pool of its own is reported as failed (so a case that kills its worker, e.g. a
#: segmentation fault in a native library, cannot stop the batch or loop for ever).
_BREAKS_BEFORE_ALONE = 2
#: Seconds to wait for a Dask scheduler to answer before the address is reported as unreachable.
DASK_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One case of a batch: its position in the batch, the path as given, the envelope folder, the time stamp.

    ``path``, when set, is where the worker opens the case (an absolute path for workers that may
    run in another folder or on another machine); ``case`` stays the path as the user gave it.
    """

    index: int
    case: str
    envelope_dir: str | None = None
    now: _dt.datetime | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CaseResult:
    """What a worker sends back for one case: the record and its report, or why there is none.

    ``failure`` starts with ``bad input:`` (the case cannot be trusted: the message names the
    file, key and fix), ``internal error:`` (a bug while validating it) or ``worker died:`` (the
    process measuring it ended). ``pid`` and ``host`` say which process measured it.
    """

    index: int
    case: str
    record: dict | None
    report_pdf: bytes | None
    failure: str | None
    seconds: float
    pid: int
    host: str


def measure_case(task: Task) -> CaseResult:
    """Validate one case and render its report; never raises for a problem of the case itself.

    Runs in a worker (process pool or Dask) or in the client (serial); it reads the case's files
    and writes nothing.
    """
    from pmd_envelope.pipeline import validate
    from pmd_envelope.report import render_report

    t0 = time.perf_counter()
    record = pdf = failure = None
    try:
        record = validate(task.path or task.case, envelope_dir=task.envelope_dir, now=task.now).record
        pdf = render_report(record)
    except PmdEnvelopeError as exc:
        record, failure = None, f"bad input: {exc}"
    except Exception as exc:  # a bug on this case: reported on its row, the other cases go on
        record, failure = None, f"internal error: {type(exc).__name__}: {exc}"
    return CaseResult(index=task.index, case=task.case, record=record, report_pdf=pdf if record else None,
                      failure=failure, seconds=time.perf_counter() - t0, pid=os.getpid(), host=os.uname().nodename)


def _died(task: Task, why: str) -> CaseResult:
    return CaseResult(index=task.index, case=task.case, record=None, report_pdf=None, failure=f"worker died: {why}",
                      seconds=0.0, pid=0, host="")


def run_serial(tasks: Iterable[Task]) -> Iterator[CaseResult]:
    """Measure the cases one after another in this process."""
    for task in tasks:
        yield measure_case(task)


def _pool_worker_start() -> None:
    """Runs once in each pool process: the self-intersection check runs in the worker itself,
    and malloc serves large arrays from reused memory (:mod:`pmd_envelope.allocator`).

    The pool isolates crashes already (see :func:`run_pool`), and with every core measuring a
    case, a subprocess per design would only add its start-up (0.2 s of CPU per case).
    """
    from pmd_envelope.allocator import tune_for_large_arrays
    from pmd_envelope.integrity import self_check_in_this_process

    self_check_in_this_process()
    tune_for_large_arrays()


#: Bytes a file in a case folder counts beyond its size in :func:`_expected_cost`: a scan series
#: is many small compressed slices, each read, decoded and segmented (a 60-slice sample series
#: takes longer than a mesh twice its bytes).
_COST_PER_FILE = 64 * 1024


def _expected_cost(task: Task) -> int:
    """A cheap guess of how long a case takes: the bytes in its folder, plus a fixed amount per file."""
    case = Path(task.path or task.case)
    folder = case.parent if case.name == "case.toml" else case
    try:
        return sum(p.stat().st_size + _COST_PER_FILE for p in folder.rglob("*") if p.is_file())
    except OSError:
        return 0


def run_pool(tasks: Iterable[Task], workers: int, measure: Callable[[Task], CaseResult] = measure_case,
             ) -> Iterator[CaseResult]:
    """Measure the cases in ``workers`` local processes, yielding each result as it finishes.

    The processes are *spawned* (a fresh interpreter importing this package), not forked: a fork
    copies embree's and OpenBLAS's threads in an unknown state. A worker runs the
    self-intersection check in its own process (:func:`pmd_envelope.integrity.self_check_in_this_process`),
    not in a subprocess of its own: the pool is the crash isolation. ``measure`` must be
    importable by name in a fresh interpreter. The largest cases (bytes in the case folder: a scan
    series, a fine mesh) are handed out first, so the batch does not end with one worker measuring
    a long case while the others wait; results are reported in any order and the batch puts them
    back in input order. A worker that dies breaks the whole pool; the unfinished cases then run
    again in a new pool, and a case that keeps breaking pools is run alone and, if it breaks that
    one too, reported as failed.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pending = sorted(tasks, key=lambda t: (-_expected_cost(t), t.index))
    breaks: Counter[int] = Counter()
    ctx = multiprocessing.get_context("spawn")
    while pending:
        alone = [t for t in pending if breaks[t.index] >= _BREAKS_BEFORE_ALONE]
        group = alone[:1] or pending
        finished: set[int] = set()
        pool = ProcessPoolExecutor(max_workers=min(workers, len(group)), mp_context=ctx,
                                   initializer=_pool_worker_start)
        try:
            futures = {pool.submit(measure, t): t for t in group}
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    continue  # every unfinished case of this pool: counted below
                except Exception as exc:  # the result could not come back (e.g. not picklable): a bug
                    t = futures[fut]
                    result = CaseResult(index=t.index, case=t.case, record=None, report_pdf=None, seconds=0.0,
                                        failure=f"internal error: {type(exc).__name__}: {exc}", pid=0, host="")
                finished.add(result.index)
                yield result
        except BaseException:  # interrupted, or the consumer stopped: drop the queued cases
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        broken = [t for t in group if t.index not in finished]
        for t in broken:
            breaks[t.index] += 1
            if alone:
                finished.add(t.index)
                yield _died(t, "the process measuring this case ended abnormally (run alone, it ended again)")
        pending = [t for t in pending if t.index not in finished]


def run_dask(tasks: Iterable[Task], address: str, measure: Callable[[Task], CaseResult] = measure_case,
             ) -> Iterator[CaseResult]:
    """Measure the cases on the Dask cluster whose scheduler listens at ``address``.

    Connects at once (so an unreachable scheduler is reported before anything is measured or
    written), then returns the results as they finish.

    Workers need the same pmd-envelope installation and the case and envelope files at the same
    paths (a shared file system). Results come back to this client, which alone writes evidence.
    A case whose worker dies repeatedly (Dask's ``KilledWorker``) is reported as failed.
    ``measure`` must be importable by name on the workers.
    """
    try:
        from distributed import Client
    except ImportError:
        raise InputFileError("--scheduler", "running on a Dask cluster needs the optional 'cluster' extra; "
                                            "install it with: pip install 'pmd-envelope[cluster]'") from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputFileError("--scheduler", f"cannot reach the Dask scheduler at '{address}' ({exc}); start one "
                                            "(dask scheduler) or give its address, e.g. tcp://host:8786") from None
    return _dask_results(client, list(tasks), measure)


def _dask_results(client, tasks: list[Task], measure: Callable[[Task], CaseResult]) -> Iterator[CaseResult]:
    from distributed import as_completed

    token = uuid.uuid4().hex[:12]
    with client:
        futures = {}
        for t in tasks:
            fut = client.submit(measure, t, key=f"pmd-envelope-{token}-{t.index}", pure=False)
            futures[fut.key] = (fut, t)
        for fut in as_completed([f for f, _ in futures.values()], loop=client.loop):
            task = futures[fut.key][1]
            try:
                result = fut.result()
            except Exception as exc:  # KilledWorker, a lost connection: this case failed, the others go on
                result = _died(task, f"{type(exc).__name__}: {exc}")
            fut.release()
            yield result
