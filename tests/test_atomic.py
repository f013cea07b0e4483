"""Never half-written: kills at random moments and concurrent writers leave a verifiable ledger."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from evidence_writer import fake_report, fresh
from pmd_envelope.ledger import _pending, commit_evidence, complete_pending, open_ledger, record_entry_fields, \
    verify_ledger
from pmd_envelope.record import record_bytes, write_atomic

WRITER = ROOT / "tests" / "evidence_writer.py"
#: Bounded so the suite stays short on a shared 2-core machine.
KILLS = 30


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))


@pytest.fixture
def base_record(validations, tmp_path):
    p = tmp_path / "base.json"
    p.write_text(json.dumps(validations["cranial-001"].record))
    return p


def _check_complete(out):
    """verify passes, every record on disk sits beside its own report (complete or none), every
    committed record has its files, and each case's LATEST names its newest record."""
    with open_ledger(out / "ledger.sqlite") as ledger:
        result = verify_ledger(ledger)
        entries = ledger.entries()
    assert result.ok, result.problems
    newest = {}
    for e in entries:
        if e.kind == "record":
            newest[e.case_id] = e
            assert (out / e.path).is_file(), e.path
    for case in (f for f in out.iterdir() if f.is_dir()):
        assert not list(case.glob(".*")), f"leftover temporary files in {case}"
        if (case / "record.json").is_file():  # a case folder of the layout before 0.2
            rec = json.loads((case / "record.json").read_bytes())
            assert (case / "report.pdf").read_bytes() == fake_report(rec["record_id"])
        for folder in (f for f in case.iterdir() if f.is_dir()):
            assert not list(folder.glob(".*")), f"leftover temporary files in {folder}"
            if not any(folder.iterdir()):
                # killed between making the record's folder and its first pending file: no
                # evidence (verify names no file), and the next write removes the folder
                assert folder.name not in {e.record_id for e in entries}
                continue
            rec = json.loads((folder / "record.json").read_bytes())
            assert folder.name == rec["record_id"]
            assert (folder / "report.pdf").read_bytes() == fake_report(rec["record_id"])
        if newest[case.name].path.count("/") == 2:
            assert (case / "LATEST").read_text() == newest[case.name].record_id + "\n"
    return entries


def test_killed_writer_leaves_complete_evidence_or_none(base_record, tmp_path):
    rng = np.random.default_rng(20261124)
    out = tmp_path / "ev"
    committed = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, str(WRITER), str(base_record), str(out), "1000"],
                                stdout=subprocess.PIPE, env=_env())
        # the writer says "ready" once its imports are done: the kill time counts from there, so
        # it does not depend on how long start-up takes on a loaded machine
        assert proc.stdout.readline().strip() == b"ready"
        # then let it finish 1 or 2 writes (it prints each id after its commit) and kill it at a
        # random moment of the next one: progress is guaranteed whatever the machine's speed
        done = [proc.stdout.readline().decode().strip() for _ in range(int(rng.integers(1, 3)))]
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        printed = done + proc.communicate()[0].decode().split()
        assert proc.returncode == -signal.SIGKILL
        if not (out / "ledger.sqlite").exists():
            continue
        entries = _check_complete(out)
        ids = [e.record_id for e in entries]
        # every record the writer reported as done is in the ledger (committed before it printed)
        assert set(printed) <= set(ids)
        assert len(ids) >= committed
        committed = len(ids)
    assert committed >= KILLS  # at least one finished write per run, by construction


def _stage(out, record, commit: bool, *, old_layout: bool = False):
    """Do the first half of commit_evidence by hand: pending files, and the ledger entry if ``commit``.

    ``old_layout``: as the writer before 0.2 did, into ``<case_id>/record.json`` (an interrupted
    write of an earlier version, found by this one)."""
    rel = f"{record['case_id']}/record.json" if old_layout else f"{record['case_id']}/{record['record_id']}/record.json"
    folder = (out / rel).parent
    data = record_bytes(record)
    with open_ledger(out / "ledger.sqlite", create=True) as ledger:
        with ledger.transaction():
            write_atomic(_pending(folder / "report.pdf", record["record_id"]), fake_report(record["record_id"]))
            write_atomic(_pending(folder / "record.json", record["record_id"]), data)
            if commit:
                ledger.insert(record_entry_fields(record, rel, data))


def _latest(out, case_id="cranial-001"):
    return (out / case_id / "LATEST").read_text().strip()


def test_killed_after_commit_is_rolled_forward(validations, tmp_path):
    out = tmp_path / "ev"
    old = validations["cranial-001"].record
    commit_evidence(out, old, fake_report(old["record_id"]))
    new = fresh(old)
    _stage(out, new, commit=True)  # as if killed between the ledger commit and the renames
    assert not (out / "cranial-001" / new["record_id"] / "record.json").exists()
    assert _latest(out) == old["record_id"]
    _check_complete(out)  # verify completes the renames and moves LATEST on
    assert json.loads((out / "cranial-001" / new["record_id"] / "record.json").read_text())["record_id"] == new["record_id"]
    assert (out / "cranial-001" / old["record_id"] / "record.json").is_file()  # never overwritten
    assert _latest(out) == new["record_id"]


def test_killed_before_latest_is_rewritten(validations, tmp_path):
    out = tmp_path / "ev"
    old = validations["cranial-001"].record
    commit_evidence(out, old, fake_report(old["record_id"]))
    new = fresh(old)
    commit_evidence(out, new, fake_report(new["record_id"]))
    write_atomic(out / "cranial-001" / "LATEST", (old["record_id"] + "\n").encode())  # as if killed before
    _check_complete(out)  # the next ledger operation rewrites the stale pointer
    assert _latest(out) == new["record_id"]


def test_old_layout_write_killed_after_commit_is_rolled_forward(validations, tmp_path):
    out = tmp_path / "ev"
    rec = validations["cranial-001"].record
    _stage(out, rec, commit=True, old_layout=True)
    _check_complete(out)
    assert json.loads((out / "cranial-001" / "record.json").read_text())["record_id"] == rec["record_id"]
    assert not (out / "cranial-001" / "LATEST").exists()  # an old-layout case is not migrated


def test_killed_before_commit_leaves_old_evidence(validations, tmp_path):
    out = tmp_path / "ev"
    old = validations["cranial-001"].record
    commit_evidence(out, old, fake_report(old["record_id"]))
    new = fresh(old)
    _stage(out, new, commit=False)  # as if killed just before the ledger commit
    with open_ledger(out / "ledger.sqlite") as ledger:
        with ledger.transaction():
            notes = complete_pending(ledger)
    assert len(notes) == 2 and all(n.startswith("discarded uncommitted") for n in notes)
    entries = _check_complete(out)
    assert [e.record_id for e in entries] == [old["record_id"]]
    assert not (out / "cranial-001" / new["record_id"]).exists()
    assert _latest(out) == old["record_id"]


@pytest.mark.parametrize("same_case", [False, True])
def test_concurrent_appends_keep_one_chain(base_record, tmp_path, same_case):
    out = tmp_path / "ev"
    n = 12
    procs = []
    for k in range(2):
        src = base_record
        if not same_case:  # the second writer writes another case
            rec = json.loads(base_record.read_text())
            rec["case_id"] = f"cranial-00{k + 1}"
            src = tmp_path / f"base{k}.json"
            src.write_text(json.dumps(rec))
        procs.append(subprocess.Popen([sys.executable, str(WRITER), str(src), str(out), str(n)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()))
    outputs = [p.communicate() for p in procs]
    for p, (o, e) in zip(procs, outputs):
        assert p.returncode == 0, e.decode()
    entries = _check_complete(out)
    assert [e.seq for e in entries] == list(range(1, 2 * n + 1))
    written = (set(outputs[0][0].decode().split()) | set(outputs[1][0].decode().split())) - {"ready"}
    assert {e.record_id for e in entries} == written and len(written) == 2 * n
