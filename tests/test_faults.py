"""Faults while writing evidence: complete evidence or none, one clear line, and ``records verify``
tells the truth afterwards (issue 10, item 4). Kill -9 and concurrent writers: tests/test_atomic.py.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, SAMPLES
from pmd_envelope.cli import main


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def _verify(out) -> tuple[int, dict | None]:
    """``records verify --json`` on ``out``: (exit code, result or None when there is no ledger)."""
    run = subprocess.run([sys.executable, "-m", "pmd_envelope", "records", "verify", "--out", str(out), "--json"],
                         capture_output=True, text=True, env=_env())
    return run.returncode, (json.loads(run.stdout) if run.returncode in (0, 1) else None)


def _complete_or_none(out, code: int, stderr: str) -> str:
    """Assert the evidence folder holds the complete evidence (and exit 0) or none (and exit 2)."""
    files = set(_files(out))
    case = {f for f in files if f.startswith("cranial-001/") and f.endswith(("/record.json", "/report.pdf"))}
    if code == 0:
        assert len(case) == 2 and {f.rsplit("/", 1)[0] for f in case} == {f"cranial-001/{(out / 'cranial-001' / 'LATEST').read_text().strip()}"}
        vcode, result = _verify(out)
        assert vcode == 0 and result["records"] == 1, result
        return "complete"
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmd-envelope: error: "), stderr
    assert not case, files
    assert not [f for f in files if f.endswith((".pending", ".tmp"))], files
    vcode, result = _verify(out)
    assert vcode == 2 or (vcode == 0 and result["records"] == 0), result  # no ledger, or an empty true one
    return "none"


def test_disk_full_by_file_size_limit_leaves_complete_evidence_or_none(tmp_path):
    """RLIMIT_FSIZE on the writer: every write past the limit fails with EFBIG (Python ignores SIGXFSZ)."""
    outcomes = {}
    for limit_kb in (1, 8, 40, 120, 400, 4000):
        out = tmp_path / f"ev{limit_kb}"

        def limit(kb=limit_kb):
            resource.setrlimit(resource.RLIMIT_FSIZE, (kb * 1024, kb * 1024))

        run = subprocess.run([sys.executable, "-m", "pmd_envelope", "validate", str(SAMPLES / "cranial-001"),
                              "--out", str(out)], capture_output=True, text=True, env=_env(), preexec_fn=limit)
        outcomes[limit_kb] = _complete_or_none(out, run.returncode, run.stderr)
    assert outcomes[1] == "none" and outcomes[4000] == "complete", outcomes
    assert "none" in {outcomes[k] for k in (8, 40, 120, 400)}, outcomes


def _read_only(folder) -> None:
    """Make ``folder`` read-only for this process, also for root (who ignores permission bits)."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)


def _writable(folder) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    folder.chmod(0o755)


def test_read_only_existing_folder_exit_2_says_so(tmp_path, capsys):
    out = tmp_path / "ev"
    out.mkdir()
    _read_only(out)
    try:
        code = main(["validate", str(SAMPLES / "cranial-001"), "--out", str(out)])
    finally:
        _writable(out)
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"pmd-envelope: error: {out}: the evidence folder is not writable; choose a writable " \
                          "--out DIR or fix its permissions"
    assert _files(out) == []


def test_read_only_file_system_exit_2(tmp_path, capsys, monkeypatch):
    """EROFS at the system call that creates a file (as on a read-only mount), after the ledger opened."""
    import pmd_envelope.record as record

    def erofs(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    out = tmp_path / "ev"
    monkeypatch.setattr(record.tempfile, "mkstemp", erofs)
    code = main(["validate", str(SAMPLES / "cranial-001"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    head, _, tail = err.strip().partition(": cannot write the evidence")
    assert head.startswith(f"pmd-envelope: error: {out / 'cranial-001'}{os.sep}")  # the record's own folder
    assert tail == " (Read-only file system); nothing was recorded: choose a writable --out DIR with free space"
    monkeypatch.undo()
    assert _files(out) == ["ledger.sqlite"]
    assert _verify(out) == (0, _verify(out)[1]) and _verify(out)[1]["records"] == 0


def test_locked_ledger_exit_2_nothing_written(tmp_path, capsys, monkeypatch, validations):
    import pmd_envelope.ledger as ledger
    from pmd_envelope.pipeline import write_evidence

    out = tmp_path / "ev"
    write_evidence(validations["cranial-002"], out)
    before = _files(out)
    monkeypatch.setattr(ledger, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(out / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        code = main(["validate", str(SAMPLES / "cranial-001"), "--out", str(out)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"pmd-envelope: error: {out / 'ledger.sqlite'}: cannot use the ledger (database is locked)")
    assert _files(out) == before
    vcode, result = _verify(out)
    assert vcode == 0 and result["records"] == 1


def test_records_list_into_a_closed_pipe_exits_0_quietly(tmp_path, validations):
    from pmd_envelope.pipeline import write_evidence

    out = tmp_path / "ev"
    write_evidence(validations["cranial-001"], out)
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first byte (``| head -0``)
    proc = subprocess.Popen([sys.executable, "-m", "pmd_envelope", "records", "list", "--json", "--out", str(out)],
                            stdout=w, stderr=subprocess.PIPE, env=_env())
    os.close(w)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == b""


def test_head_1_of_records_list(tmp_path, validations):
    from pmd_envelope.pipeline import write_evidence

    out = tmp_path / "ev"
    write_evidence(validations["cranial-001"], out)
    run = subprocess.run(["bash", "-o", "pipefail", "-c",
                          f"{sys.executable} -m pmd_envelope records list --json --out {out} | head -1"],
                         capture_output=True, text=True, env=_env())
    assert run.returncode == 0 and run.stdout == "[\n" and run.stderr == ""


def test_truncated_ledger_verify_tells_the_truth(tmp_path, validations):
    from pmd_envelope.pipeline import write_evidence

    out = tmp_path / "ev"
    write_evidence(validations["cranial-001"], out)
    raw = (out / "ledger.sqlite").read_bytes()
    (out / "ledger.sqlite").write_bytes(raw[: len(raw) // 2])
    run = subprocess.run([sys.executable, "-m", "pmd_envelope", "records", "verify", "--out", str(out)],
                         capture_output=True, text=True, env=_env())
    assert run.returncode in (1, 2) and "verified: every hash" not in run.stdout
    assert "ledger.sqlite" in run.stderr + run.stdout


def test_two_validations_into_one_folder_at_once(tmp_path):
    out = tmp_path / "ev"
    procs = [subprocess.Popen([sys.executable, "-m", "pmd_envelope", "validate", str(SAMPLES / c), "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
             for c in ("cranial-001", "cranial-001", "cranial-003")]
    codes = [p.wait(timeout=600) for p in procs]
    assert codes == [0, 0, 1], [p.stderr.read() for p in procs]  # cranial-003 is nonconforming
    vcode, result = _verify(out)
    assert vcode == 0 and result["records"] == 3, result
    records = [f for f in _files(out) if f.endswith("/record.json")]
    assert sorted(f.split("/")[0] for f in records) == ["cranial-001", "cranial-001", "cranial-003"]  # none overwritten


@pytest.mark.parametrize("delay", [0.0, *np.random.default_rng(20261125).uniform(0.0, 1.5, size=2).round(3)])
def test_kill_9_during_a_batch_keeps_the_evidence_consistent_and_a_rerun_completes(tmp_path, delay):
    """kill -9 of the batch process at a random moment once some case is committed (issue 10 item
    4; seeded delays after the first commit: between commits, inside a commit, inside the batch
    record): every case committed before the kill is complete and verifies, no batch record claims a
    batch that did not finish, and running the same batch again validates every case again (new
    records beside the first ones: evidence is never overwritten) and writes its record."""
    import signal

    out = tmp_path / "ev"
    cases = [str(SAMPLES / c) for c in ("cranial-001", "cranial-002", "cranial-003", "cranial-004")]
    cmd = [sys.executable, "-m", "pmd_envelope", "batch", *cases, "--out", str(out), "--workers", "2"]
    # a session of its own, so the workers the killed process leaves behind can be ended after it
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not list(out.glob("*/LATEST")):  # LATEST is written once a case's commit is in place
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no case was committed within 600 s"
            time.sleep(0.02)
        time.sleep(delay)
        finished = proc.poll() is not None  # a fast machine may finish the batch within the delay
        if not finished:
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned workers (they never write evidence)
        except ProcessLookupError:
            pass
        proc.stderr.close()
    vcode, result = _verify(out)
    committed = result["records"] if result else None
    assert vcode == 0 and 1 <= committed <= len(cases), result
    records = [p for p in (out / "_batches").iterdir() if (p / "batch.json").is_file()] if (out / "_batches").exists() else []
    assert len(records) == (1 if finished else 0)  # a batch record only for a batch that finished
    assert not [f for f in _files(out) if f.endswith((".pending", ".tmp"))]

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    assert rerun.returncode == 1, rerun.stderr  # cranial-002 and -003 are nonconforming
    (batch,) = [p for p in (out / "_batches").iterdir() if not p.name.startswith(".") and p not in records]
    doc = json.loads((batch / "batch.json").read_text())
    assert [(c["case"], c["status"]) for c in doc["cases"]] == list(zip(cases, ["conforming", "nonconforming",
                                                                               "nonconforming", "conforming"]))
    vcode, result = _verify(out)
    assert vcode == 0 and result["records"] == committed + len(cases), result
