"""Batch validation (issue 14 items 3 and 6): the sample cases plus two broken ones, serially, with
two local worker processes and on a Dask LocalCluster; a summary of every case; the broken ones
reported with their reasons; the same record contents whichever way the cases were measured.

Truth: the verdicts of the sample cases are the ones the README's sample table states (made by
the seeded generator, not by the batch); a broken case's reason is validate's own bad-input line.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ENVELOPES, ROOT, SAMPLES
from pmd_envelope.batch import BATCHES_FOLDER, run_batch
from pmd_envelope.batch.executors import CaseResult, Task, run_pool
from pmd_envelope.batch.summary import COLUMNS, FLOAT_COLUMNS
from pmd_envelope.cli import main
from pmd_envelope.record import HASH_EXCLUDED, canonical_json, content_hash

#: The sample table of the README (scripts/make_sample_cases.py, make_sample_scans.py).
SAMPLE_VERDICTS = {"cranial-001": "conforming", "cranial-002": "nonconforming", "cranial-003": "nonconforming",
                   "cranial-004": "conforming", "cranial-005": "nonconforming", "cranial-006": "nonconforming"}


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pmd_envelope", *map(str, args)], capture_output=True, text=True,
                          env=_env(), **kw)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """The six sample cases, a path with no case and a case whose design mesh is cut short."""
    root = tmp_path_factory.mktemp("cases")
    corrupt = root / "corrupt-mesh"
    shutil.copytree(SAMPLES / "cranial-001", corrupt)
    (corrupt / "design.stl").write_bytes(b"solid broken\nfacet normal 0 0 1\nouter loop\nvertex 0 0\n")
    return [str(SAMPLES / c) for c in sorted(SAMPLE_VERDICTS)] + [str(root / "no-such-case"), str(corrupt)]


@pytest.fixture(scope="module")
def batches(cases, tmp_path_factory):
    """The same batch three ways: the CLI serially (no terminal), 2 local workers, a Dask LocalCluster."""
    from distributed import LocalCluster

    root = tmp_path_factory.mktemp("batches")
    serial = _cli("batch", *cases, "--out", root / "serial", "--envelopes", ENVELOPES, "--json")
    pool = run_batch(cases, root / "pool", envelope_dir=ENVELOPES, workers=2)
    # processes=True: the workers are other processes, as on a real cluster (and daemonic ones,
    # which must still be able to start the self-intersection check's subprocess)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = run_batch(cases, root / "dask", envelope_dir=ENVELOPES, scheduler=cluster.scheduler_address)
    return {"serial": serial, "serial_out": root / "serial", "pool": pool, "dask": dask}


def _batch_folder(out):
    (folder,) = (out / BATCHES_FOLDER).iterdir()
    return folder


def _content(path) -> bytes:
    record = json.loads(path.read_bytes())
    assert record["integrity"]["content_sha256"] == content_hash(record)
    content = {k: v for k, v in record.items() if k not in HASH_EXCLUDED}
    content["retention"] = {k: v for k, v in content["retention"].items() if k != "retain_until"}
    return canonical_json(content)


def _records(out) -> dict[str, bytes]:
    doc = json.loads((_batch_folder(out) / "batch.json").read_text())
    return {c["case_id"]: _content(out / c["record"]) for c in doc["cases"] if c["record"]}


def test_serial_cli_batch_summary_broken_reported_progress_lines(batches, cases):
    run = batches["serial"]
    assert run.returncode == 1, run.stderr  # some cases nonconforming or failed
    doc = json.loads(run.stdout)
    out = batches["serial_out"]
    assert doc == json.loads((_batch_folder(out) / "batch.json").read_text())
    assert [c["case"] for c in doc["cases"]] == cases
    status = {c["case"]: c["status"] for c in doc["cases"]}
    assert {c: status[str(SAMPLES / c)] for c in SAMPLE_VERDICTS} == SAMPLE_VERDICTS
    reasons = {c["case"]: c["reason"] for c in doc["cases"]}
    assert reasons[cases[6]] == f"bad input: {cases[6]}: case file not found; pass a case folder or its case.toml"
    assert status[cases[7]] == "failed" and reasons[cases[7]].startswith(f"bad input: {cases[7]}{os.sep}design.stl: ")
    assert doc["outcome"] == {"cases": 8, "conforming": 2, "nonconforming": 4, "failed": 2, "all_conforming": False}
    assert doc["executor"] == "serial, in the client process"
    assert len({c["measured_by"]["pid"] for c in doc["cases"] if c["measured_by"]}) == 1  # the client itself
    # progress: not a terminal, so one plain line per case on stderr, and nothing else
    lines = run.stderr.splitlines()
    assert lines[0] == "batch: 8 case(s)" and len(lines) == 9, run.stderr
    assert sorted(ln.split("]")[0] for ln in lines[1:]) == sorted(f"[{k}/8" for k in range(1, 9))
    assert any(ln.startswith("[") and cases[6] in ln and "failed (bad input" in ln for ln in lines)
    verify = _cli("records", "verify", "--out", out, "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["records"] == 6, verify.stdout


def test_summary_rows_of_every_case_csv_equals_parquet(batches):
    folder = _batch_folder(batches["serial_out"])
    csv = pd.read_csv(folder / "summary.csv", dtype={c: "str" for c in COLUMNS if c not in FLOAT_COLUMNS})
    parquet = pd.read_parquet(folder / "summary.parquet")
    assert list(parquet.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(csv, parquet)
    # rows sorted by case id, case, kind, item: the order cases finished in does not show
    keys = list(zip(parquet.case_id.fillna(""), parquet.case))
    assert keys == sorted(keys)
    failed = parquet[parquet.verdict == "failed"]
    assert len(failed) == 2 and set(failed.kind) == {"case"} and failed.reason.str.startswith("bad input: ").all()
    rec = json.loads((batches["serial_out"] / json.loads((folder / "batch.json").read_text())["cases"][2]["record"])
                     .read_text())  # cranial-003: every parameter inside, the load limit missed
    rows = parquet[parquet.case_id == "cranial-003"]
    assert set(rows.verdict) == {"nonconforming"}
    params = rows[rows.kind == "parameter"]
    assert len(params) == len(rec["checks"]) and set(params.decision) == {"conforming"}
    load = rows[(rows.kind == "metric") & (rows["item"] == "yield_load")].iloc[0]
    w = rec["worst_case"][0]
    assert (load.value, load["min"], load.margin, load.decision) == (w["value"], 420.0, w["margin"], "nonconforming")
    assert load.worst_case == "build_orientation=z, heat_treatment=hip, thickness_deviation=-0.1"
    assert 395 < load.value < 405  # README: 400 N < 420 N at the worst manufacturing configuration
    draft = parquet[(parquet.case_id == "cranial-005") & (parquet.kind == "finding")]
    assert list(draft["item"]) == ["envelope"] and "draft" in draft.reason.iloc[0]


def test_serial_two_workers_and_dask_give_the_same_contents(batches):
    serial = _records(batches["serial_out"])
    assert sorted(serial) == sorted(SAMPLE_VERDICTS)
    for name in ("pool", "dask"):
        other = _records(batches[name].folder.parent.parent)
        assert other.keys() == serial.keys()
        for case_id in serial:
            assert other[case_id] == serial[case_id], f"{name}: {case_id} differs from the serial record"
        frames = [pd.read_parquet(_batch_folder(o) / "summary.parquet").drop(columns="record_id")
                  for o in (batches["serial_out"], batches[name].folder.parent.parent)]
        pd.testing.assert_frame_equal(frames[0], frames[1])
        assert [(o.case, o.status, o.reason) for o in batches[name].outcomes] == \
               [(c["case"], c["status"], c["reason"])
                for c in json.loads((_batch_folder(batches["serial_out"]) / "batch.json").read_text())["cases"]]


@pytest.mark.parametrize("name", ["pool", "dask"])
def test_workers_measure_in_other_processes_with_the_self_check(batches, name):
    batch = batches[name]
    measured = [o for o in batch.outcomes if o.record is not None]
    assert len(measured) == 6 and all(o.pid and o.pid != os.getpid() for o in measured)
    assert "dask" in json.loads((batch.folder / "batch.json").read_text())["executor"] or name == "pool"
    # the self-intersection check ran (0 found), it was not skipped: in the pool's worker
    # itself (test_pool_workers_run_the_self_check_themselves), in a subprocess on Dask
    assert all(o.record["mesh_integrity"]["self_intersections"] == 0 for o in measured)
    verify = _cli("records", "verify", "--out", batch.folder.parent.parent)
    assert verify.returncode == 0, verify.stdout


def test_a_second_batch_keeps_the_first_summary(tmp_path):
    out = tmp_path / "ev"
    first = run_batch([tmp_path / "missing-a"], out)
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    second = run_batch([tmp_path / "missing-b"], out)
    assert second.folder != first.folder and second.folder.parent == first.folder.parent
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before
    assert sorted(p.name for p in first.folder.iterdir()) == ["batch.json", "summary.csv", "summary.parquet"]
    assert [o.status for o in second.outcomes] == ["failed"]


def test_a_case_that_crashes_is_a_row_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    import pmd_envelope.pipeline as pipeline

    real = pipeline.validate

    def validate(case, **kw):
        if "cranial-002" in str(case):
            raise RuntimeError("boom")
        return real(case, **kw)

    monkeypatch.setattr(pipeline, "validate", validate)
    code = main(["batch", str(SAMPLES / "cranial-002"), str(SAMPLES / "cranial-001"), "--out", str(tmp_path / "ev")])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    doc = json.loads(next((tmp_path / "ev" / BATCHES_FOLDER).iterdir()).joinpath("batch.json").read_text())
    assert [(c["status"], c["reason"]) for c in doc["cases"]] == [("failed", "internal error: RuntimeError: boom"),
                                                                  ("conforming", None)]
    assert "internal error: RuntimeError: boom" in captured.out


def _fake_measure(task: Task) -> CaseResult:
    """A stand-in worker for the pool tests: ends its process on a case named 'die'."""
    if task.case.endswith("die"):
        os._exit(9)
    return CaseResult(index=task.index, case=task.case, record=None, report_pdf=None, failure="bad input: fake",
                      seconds=0.0, pid=os.getpid(), host="")


def _self_check_mode(task: Task) -> CaseResult:
    """A stand-in worker: says where the self-intersection check of this process would run."""
    from pmd_envelope import integrity

    return CaseResult(index=task.index, case=task.case, record=None, report_pdf=None, seconds=0.0, host="",
                      failure=f"in this process: {integrity._IN_THIS_PROCESS}", pid=os.getpid())


def test_pool_workers_run_the_self_check_themselves(tmp_path):
    from pmd_envelope import integrity

    # the pool isolates crashes, so its workers skip the subprocess per design; the client does not
    tasks = [Task(index=i, case=str(tmp_path / c)) for i, c in enumerate("ab")]
    assert {r.failure for r in run_pool(tasks, 2, measure=_self_check_mode)} == {"in this process: True"}
    assert integrity._IN_THIS_PROCESS is False


def _hanging_self_check(task: Task) -> CaseResult:
    """A stand-in worker whose in-process self-intersection check hangs on a case named 'hang'."""
    import time

    import numpy as np

    from pmd_envelope import integrity, selfcheck_worker

    if task.case.endswith("hang"):
        selfcheck_worker.self_intersections_here = lambda v, f: time.sleep(120)
        integrity.SelfIntersectionCheck(np.eye(3), np.array([[0, 1, 2]]), timeout=0.5).result()
    return _fake_measure(task)


def test_a_hanging_in_process_check_ends_its_worker_and_is_a_row(capfd):
    tasks = [Task(index=i, case=c) for i, c in enumerate(["a", "hang", "b"])]
    results = {r.case: r for r in run_pool(tasks, 2, measure=_hanging_self_check)}
    assert sorted(results) == ["a", "b", "hang"]
    assert results["hang"].failure.startswith("worker died: ")
    assert results["a"].failure == results["b"].failure == "bad input: fake"
    assert "the self-intersection check did not finish within 0.5 s" in capfd.readouterr().err


def test_pool_hands_out_the_largest_cases_first(tmp_path):
    from pmd_envelope.batch import executors
    from pmd_envelope.batch.executors import _expected_cost

    sizes = {"small": 10, "large": 5000, "middle": 700}
    tasks = []
    for i, (name, size) in enumerate(sizes.items()):
        (tmp_path / name).mkdir()
        (tmp_path / name / "case.toml").write_bytes(b"x" * size)
        tasks.append(Task(index=i, case=str(tmp_path / name / "case.toml" if name == "middle" else tmp_path / name)))
    tasks.append(Task(index=3, case=str(tmp_path / "missing")))
    (tmp_path / "small" / "series").mkdir()  # a scan series: many small files, each costing time
    for k in range(3):
        (tmp_path / "small" / "series" / f"{k}.dcm").write_bytes(b"x")
    per_file = executors._COST_PER_FILE
    assert [_expected_cost(t) for t in tasks] == [13 + 4 * per_file, 5000 + per_file, 700 + per_file, 0]
    # one worker: the results come back in the order the cases were handed out
    assert [r.index for r in run_pool(tasks, 1, measure=_fake_measure)] == [0, 1, 2, 3]


def test_a_worker_that_dies_is_a_row_and_the_others_go_on():
    tasks = [Task(index=i, case=c) for i, c in enumerate(["a", "die", "b", "c"])]
    results = {r.case: r for r in run_pool(tasks, 2, measure=_fake_measure)}
    assert sorted(results) == ["a", "b", "c", "die"]
    assert results["die"].failure.startswith("worker died: ")
    assert all(results[c].failure == "bad input: fake" and results[c].pid != os.getpid() for c in "abc")


def test_a_dask_worker_that_dies_is_a_row_and_the_others_go_on():
    from distributed import LocalCluster

    from pmd_envelope.batch.executors import run_dask

    tasks = [Task(index=i, case=c) for i, c in enumerate(["a", "die", "b"])]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        results = {r.case: r for r in run_dask(tasks, cluster.scheduler_address, measure=_fake_measure)}
    assert sorted(results) == ["a", "b", "die"]
    assert results["die"].failure.startswith("worker died: KilledWorker"), results["die"].failure
    assert all(results[c].failure == "bad input: fake" and results[c].pid != os.getpid() for c in "ab")


@pytest.mark.parametrize("args, message", [
    (["{empty}"], "{empty}: holds no case (no case.toml in it or in its sub-folders); give case folders or a "
                  "folder of case folders"),
    (["{case}", "{case}/case.toml"], "{case}/case.toml: is given twice (also as {case}); name each case once"),
    (["{case}", "--workers", "0"], "--workers: 0 is not a number of worker processes; use 1 or more"),
    (["{case}", "--out", "{file}"], "{file}: is a file, not an evidence folder; choose a folder for --out DIR"),
])
def test_bad_input_of_the_batch_itself_exit_2_one_line(tmp_path, capsys, args, message):
    names = {"empty": tmp_path / "empty", "case": SAMPLES / "cranial-001", "file": tmp_path / "file.txt"}
    names["empty"].mkdir()
    names["file"].write_text("x")
    argv = ["batch", *(a.format(**names) for a in args)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "ev")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"pmd-envelope: error: {message.format(**names)}\n"
    assert not (tmp_path / "ev").exists()


def test_unreachable_scheduler_exit_2_nothing_written(tmp_path, capsys, monkeypatch):
    import pmd_envelope.batch.executors as executors

    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT_S", 2.0)
    code = main(["batch", str(SAMPLES / "cranial-001"), "--out", str(tmp_path / "ev"),
                 "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("pmd-envelope: error: --scheduler: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' (")
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("rows, columns", [(24, 100), (0, 0)])  # 0 x 0: a terminal that reports no size (``script``)
def test_progress_bar_on_a_terminal(tmp_path, rows, columns):
    """stderr on a pseudo-terminal: a tqdm bar (carriage returns, N/N, the unit), no plain lines."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pmd_envelope", "batch", str(tmp_path / "gone-1"),
                             str(tmp_path / "gone-2"), "--out", str(tmp_path / "ev")],
                            stdout=subprocess.PIPE, stderr=slave, env=_env())
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    tty = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 1
    assert "\r" in tty and "2/2" in tty and "case" in tty and "100%" in tty, tty
    assert "[1/2]" not in tty
    assert b"2 case(s): 0 conforming, 0 nonconforming, 2 failed" in out


def test_summary_rows_sorted_and_csv_round_trip(validations):
    """A failed case's row sorts first (no case id); the CSV reads back to the same frame."""
    from pmd_envelope.batch.summary import summary_frame, summary_rows, csv_bytes

    rec = dict(validations["cranial-002"].record)
    rows = summary_rows([("x", rec, None), ("y", None, "bad input: y: nope")])
    frame = summary_frame(rows)
    assert list(frame.case) == ["y"] + ["x"] * (len(rows) - 1)
    assert frame.value.dtype == "float64" and frame[frame.case == "y"].value.isna().all()
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), dtype={c: "str" for c in COLUMNS if c not in FLOAT_COLUMNS})
    pd.testing.assert_frame_equal(back, frame)


def test_evidence_that_cannot_be_written_fails_that_case_only(tmp_path, monkeypatch, validations):
    """The ledger refuses one case's commit: that case is a failed row, the next is committed."""
    import pmd_envelope.batch.executors as executors
    import pmd_envelope.ledger as ledger
    from pmd_envelope.errors import LedgerError

    def measured(task):
        return CaseResult(index=task.index, case=task.case, record=validations[task.case].record, report_pdf=b"%PDF-",
                          failure=None, seconds=0.0, pid=os.getpid(), host="here")

    real = ledger.commit_evidence

    def commit(out, record, pdf, **kw):
        if record["case_id"] == "cranial-002":
            raise LedgerError(out, "cannot use the ledger (database is locked)")
        return real(out, record, pdf, **kw)

    monkeypatch.setattr(executors, "measure_case", measured)
    monkeypatch.setattr(ledger, "commit_evidence", commit)
    batch = run_batch(["cranial-002", "cranial-001"], tmp_path / "ev")
    assert [(o.status, o.reason) for o in batch.outcomes] == [
        ("failed", f"evidence not written: {tmp_path / 'ev'}: cannot use the ledger (database is locked)"),
        ("conforming", None)]
    monkeypatch.undo()
    verify = _cli("records", "verify", "--out", tmp_path / "ev", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["records"] == 1
