"""Batch validation: many cases, one summary, one ledger writer.

:func:`run_batch` measures the cases (in this process, in a local process pool, or on a Dask
cluster: :mod:`pmd_envelope.batch.executors`), commits each case's evidence as its result comes
back (the same ``DIR/<case_id>/<record_id>/`` folders and ledger entries as ``validate``), and
finally writes the batch's own record, ``DIR/_batches/<batch_id>/``: ``batch.json`` (inputs,
per-case outcome, software versions) and the summary table as ``summary.csv`` and
``summary.parquet`` (:mod:`pmd_envelope.batch.summary`). A case that cannot be validated (bad
input, a crash, a worker that died) is a row with its reason; it never stops the other cases.

Only the client writes: workers return the record and the rendered report, so the ledger keeps
one writer whatever the number of workers. A batch killed part-way leaves every case committed
so far complete (each commit is atomic, :func:`pmd_envelope.ledger.commit_evidence`) and no
batch summary; running the batch again validates every case again (new records beside the
first ones: evidence is never overwritten) and writes the summary.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pmd_envelope.batch.executors import CaseResult, Task, run_dask, run_pool, run_serial
from pmd_envelope.errors import InputFileError, LedgerError, PmdEnvelopeError

__all__ = ["BATCHES_FOLDER", "BATCH_FORMAT", "CaseOutcome", "Batch", "expand_cases", "run_batch"]

#: Folder of the batch records inside the evidence folder: not a valid case id (a case id starts
#: with a letter or digit), so it never meets a case's folder.
BATCHES_FOLDER = "_batches"
BATCH_FORMAT = "pmd-envelope/batch/1"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CaseOutcome:
    """One case of a batch as committed: ``status`` is the record's verdict, or ``failed`` with ``reason``."""

    index: int
    case: str
    status: str
    reason: str | None
    seconds: float
    record: dict | None = None
    record_path: str | None = None
    ledger_seq: int | None = None
    host: str = ""
    pid: int = 0

    @property
    def case_id(self) -> str | None:
        return None if self.record is None else self.record["case_id"]

    def as_dict(self) -> dict:
        rec = self.record
        return {"case": self.case, "case_id": self.case_id, "status": self.status, "reason": self.reason,
                "record_id": None if rec is None else rec["record_id"],
                "content_sha256": None if rec is None else rec["integrity"]["content_sha256"],
                "record": self.record_path, "ledger_seq": self.ledger_seq,
                "measured_by": {"host": self.host, "pid": self.pid} if self.pid else None}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Batch:
    """A finished batch: its id, its folder (``DIR/_batches/<batch_id>``) and every case's outcome, in input order."""

    batch_id: str
    folder: Path
    outcomes: tuple[CaseOutcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.outcomes)

    @property
    def all_conforming(self) -> bool:
        return all(o.status == "conforming" for o in self.outcomes)


def _counts(outcomes) -> dict[str, int]:
    out = {"conforming": 0, "nonconforming": 0, "failed": 0}
    for o in outcomes:
        out[o.status] += 1
    return out


def expand_cases(paths: Sequence[str | Path]) -> tuple[str, ...]:
    """The cases of a batch, in the order given.

    Each path is a case folder, its ``case.toml``, or a folder whose sub-folders are cases (each
    sub-folder holding a ``case.toml`` is taken, sorted by name). A path that is none of these is
    kept as given: it becomes a failed row naming the problem, not an error of the whole batch.

    Raises
    ------
    InputFileError
        No case at all, or the same case given twice.
    """
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir() and not (path / "case.toml").is_file():
            subs = sorted(q for q in path.iterdir() if (q / "case.toml").is_file())
            if not subs:
                raise InputFileError(path, "holds no case (no case.toml in it or in its sub-folders); "
                                           "give case folders or a folder of case folders")
            out.extend(str(q) for q in subs)
        else:
            out.append(str(p))
    if not out:
        raise InputFileError(None, "no cases given; name case folders, their case.toml, or a folder of cases")
    seen: dict[Path, str] = {}
    for c in out:
        key = Path(c).resolve()
        key = key.parent if key.name == "case.toml" else key
        if key in seen:
            raise InputFileError(c, f"is given twice (also as {seen[key]}); name each case once")
        seen[key] = c
    return tuple(out)


def _usable_out(out: Path) -> bool:
    """Make sure ``out`` can take evidence; returns whether this call created it."""
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "is a file, not an evidence folder; choose a folder for --out DIR")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError:
        raise InputFileError(out, "the evidence folder is not writable; choose a writable --out DIR or fix its "
                                  "permissions") from None
    return created


def run_batch(cases: Sequence[str | Path], out: str | Path, *, envelope_dir: str | Path | None = None,
              workers: int = 1, scheduler: str | None = None,
              progress: Callable[[int, int, CaseOutcome | None], None] | None = None,
              now: _dt.datetime | None = None) -> Batch:
    """Validate ``cases`` and write their evidence and the batch summary into ``out``.

    Parameters
    ----------
    cases : sequence of str or Path
        Case folders, their ``case.toml``, or folders of cases (:func:`expand_cases`).
    out : str or Path
        Evidence folder (as ``validate --out``); created if missing.
    envelope_dir : str or Path, optional
        Folder of envelope files; found from each case when omitted.
    workers : int
        1 measures in this process; more starts that many local worker processes.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): the cases are measured on its workers
        (``workers`` is then ignored). Needs the ``cluster`` extra.
    progress : callable, optional
        Called as ``progress(0, total, None)`` when the cases are known, then as
        ``progress(done, total, outcome)`` after each case is committed.
    now : datetime, optional
        Time stamp of every record (UTC); each record's own commit time when omitted.

    Returns
    -------
    Batch
        Every case's outcome in input order, and the folder of the batch record.

    Raises
    ------
    PmdEnvelopeError
        Bad input of the batch itself: no cases, a case given twice, ``out`` unusable,
        ``workers`` below 1, a Dask scheduler that cannot be reached. A bad case is a row.
    """
    if workers < 1:
        raise InputFileError("--workers", f"{workers} is not a number of worker processes; use 1 or more")
    names = expand_cases(cases)
    out = Path(out)
    created = _usable_out(out)
    started = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    batch_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    env = None if envelope_dir is None else str(envelope_dir)
    tasks = [Task(index=i, case=c, envelope_dir=env, now=now) for i, c in enumerate(names)]
    if scheduler is not None:
        # Dask workers resolve paths in their own working folder (or on another machine): send
        # absolute ones, which a shared file system shows at the same place
        tasks = [Task(index=t.index, case=t.case, now=now, path=os.path.abspath(t.case),
                      envelope_dir=None if env is None else os.path.abspath(env)) for t in tasks]
        try:
            results, executor = run_dask(tasks, scheduler), f"dask scheduler {scheduler}"
        except InputFileError:
            if created and not any(out.iterdir()):
                out.rmdir()  # the scheduler could not be reached: leave no trace of this batch
            raise
    elif workers > 1 and len(tasks) > 1:
        results, executor = run_pool(tasks, workers), f"{workers} local worker processes"
    else:
        results, executor = run_serial(tasks), "serial, in the client process"
    outcomes: dict[int, CaseOutcome] = {}
    t0 = time.perf_counter()
    if progress is not None:
        progress(0, len(tasks), None)
    for result in results:
        outcomes[result.index] = _commit(out, result)
        if progress is not None:
            progress(len(outcomes), len(tasks), outcomes[result.index])
    ordered = tuple(outcomes[i] for i in range(len(tasks)))
    folder = _write_batch_record(out, batch_id, ordered, {
        "cases": list(names), "out": str(out), "envelope_dir": env, "workers": workers, "scheduler": scheduler,
        "record_time": None if now is None else now.isoformat()}, executor, started, time.perf_counter() - t0)
    return Batch(batch_id=batch_id, folder=folder, outcomes=ordered)


def _commit(out: Path, result: CaseResult) -> CaseOutcome:
    """Write one case's evidence (record, report, ledger entry) in the client; a failure is a row, not an end."""
    from pmd_envelope.ledger import commit_evidence

    base = {"index": result.index, "case": result.case, "seconds": result.seconds, "host": result.host,
            "pid": result.pid}
    if result.record is None:
        return CaseOutcome(**base, status="failed", reason=result.failure)
    try:
        record_path, _, entry = commit_evidence(out, result.record, result.report_pdf)
    except PmdEnvelopeError as exc:
        # a full disk, a locked ledger, a record the schema refuses: nothing of this case was
        # recorded (commit_evidence is all or nothing); the case fails with the reason, the batch goes on
        return CaseOutcome(**base, status="failed", reason=f"evidence not written: {exc}")
    except Exception as exc:  # a bug while writing this case: the same, with the error named
        return CaseOutcome(**base, status="failed",
                           reason=f"evidence not written: internal error: {type(exc).__name__}: {exc}")
    return CaseOutcome(**base, status=result.record["verdict"], reason=None, record=result.record,
                       record_path=record_path.relative_to(out).as_posix(), ledger_seq=entry.seq)


def _batch_versions() -> dict:
    """Versions of the libraries that write the summary and spread the work."""
    from importlib import metadata

    out = {}
    for dist in ("pyarrow", "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _write_batch_record(out: Path, batch_id: str, outcomes: tuple[CaseOutcome, ...], inputs: dict, executor: str,
                        started: _dt.datetime, seconds: float) -> Path:
    """Write ``DIR/_batches/<batch_id>/`` (summary.csv, summary.parquet, batch.json) all at once.

    The files are written into a hidden folder that is then renamed: a batch record is complete
    or absent, and a new batch never touches an earlier one's folder.
    """
    from pmd_envelope.batch.summary import csv_bytes, parquet_bytes, summary_frame, summary_rows
    from pmd_envelope.record import software_versions, write_atomic

    frame = summary_frame(summary_rows((o.case, o.record, o.reason) for o in outcomes))
    files = {"summary.csv": csv_bytes(frame), "summary.parquet": parquet_bytes(frame)}
    counts = _counts(outcomes)
    doc = {
        "format": BATCH_FORMAT,
        "batch_id": batch_id,
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "seconds": round(seconds, 3),
        "inputs": inputs,
        "executor": executor,
        "software": dict(software_versions(), **_batch_versions()),
        "outcome": dict(counts, cases=len(outcomes), all_conforming=counts["conforming"] == len(outcomes)),
        "cases": [o.as_dict() for o in outcomes],
        "summary_files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files["batch.json"] = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
                           + "\n").encode("utf-8")
    root = out / BATCHES_FOLDER
    final, partial = root / batch_id, root / f".{batch_id}.partial"
    try:
        for name, data in files.items():
            write_atomic(partial / name, data)
        os.rename(partial, final)  # batch ids are unique: the target never exists
    except OSError as exc:
        raise LedgerError(final, f"cannot write the batch summary ({exc.strerror or exc}); the cases' evidence is "
                                 "committed (records verify); choose a writable --out DIR with free space") from None
    return final
