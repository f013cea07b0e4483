"""CLI contract: exit codes, one-line errors, nothing written on bad input, help everywhere."""

import json
import os
import subprocess
import sys

import pytest

from conftest import CRANIAL_ENVELOPE, ROOT, SAMPLES, latest_record, latest_rel
from pmd_envelope.cli import build_parser, main


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pmd_envelope", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_validate_conforming_exit_0(tmp_path):
    r = run("validate", SAMPLES / "cranial-001", "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    assert "verdict: CONFORMING" in r.stdout
    path = latest_record(tmp_path / "ev", "cranial-001")
    rec = json.loads(path.read_text())
    assert rec["verdict"] == "conforming" and rec["reasons"] == []
    assert path.parent.name == rec["record_id"]
    assert (path.parent / "report.pdf").read_bytes().startswith(b"%PDF")
    assert f"evidence: {path.parent}{os.sep} (latest of the case: {path.parent.parent / 'LATEST'})" in r.stdout
    assert f"record: {path}" in r.stdout and f"report: {path.parent / 'report.pdf'}" in r.stdout
    # the table states the proof of the worst case and the rare-event estimate as the record does
    proof, rare = rec["worst_case"][0]["proof"], rec["worst_case"][0]["rare_event"]
    row = next(x for x in r.stdout.splitlines() if x.startswith("yield_load (worst case proof)"))
    assert f"[{proof['bound']:.4g}, {proof['found']:.4g}] N" in row and row.endswith(proof["status"]) and proof["status"] == "proven"
    row = next(x for x in r.stdout.splitlines() if x.startswith("yield_load (P by FORM + IS)"))
    assert row.endswith(rare["status"]) and rare["status"] == "zero (proven)"


def test_validate_twice_keeps_both(tmp_path):
    for _ in range(2):
        assert run("validate", SAMPLES / "cranial-001", "--out", tmp_path / "ev").returncode == 0
    folders = sorted(p for p in (tmp_path / "ev" / "cranial-001").iterdir() if p.is_dir())
    assert len(folders) == 2 and all((f / "record.json").is_file() and (f / "report.pdf").is_file() for f in folders)
    r = run("records", "verify", "--out", tmp_path / "ev")
    assert r.returncode == 0 and "2 records" in r.stdout, r.stdout


def test_validate_nonconforming_exit_1_still_writes(tmp_path):
    r = run("validate", SAMPLES / "cranial-002" / "case.toml", "--out", tmp_path / "ev", "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["verdict"] == "nonconforming"
    assert any(x["item"] == "wall_thickness" for x in out["reasons"])
    assert latest_record(tmp_path / "ev", "cranial-002").is_file()


def test_validate_bad_input_exit_2_one_line_nothing_written(case_copy, tmp_path):
    folder = case_copy("cranial-001")
    p = folder / "case.toml"
    p.write_text(p.read_text().replace('units = "mm"', 'units = "furlong"'))
    out = tmp_path / "ev"
    r = run("validate", folder, "--out", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr == (f"pmd-envelope: error: {p} [design.units]: unit 'furlong' is not known; "
                        "use one of: mm, cm, m, in, um\n")
    assert not out.exists()


def test_validate_missing_case_exit_2(tmp_path):
    r = run("validate", tmp_path / "nowhere", "--out", tmp_path / "ev")
    assert r.returncode == 2
    assert "case file not found" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "ev").exists()


def test_validate_corrupt_mesh_exit_2(case_copy, tmp_path):
    folder = case_copy("cranial-001")
    (folder / "design.stl").write_bytes(b"solid broken\nfacet normal 0 0 1\nouter loop\nvertex 0 0\n")
    r = run("validate", folder, "--out", tmp_path / "ev")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "design.stl" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "ev").exists()


def test_measure_json(tmp_path):
    r = run("measure", SAMPLES / "cranial-001" / "design.stl", "--units", "mm", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    values = {m["parameter"]: m["value"] for m in out["measurements"]}
    assert values["wall_thickness"] == pytest.approx(2.0, abs=5e-3)
    assert out["integrity"]["passed"]


def test_measure_in_process_leaves_the_cycle_collector_as_it_found_it(tmp_path, capsys):
    """measure and validate turn Python's cycle collector off while importing and freeze the
    imported objects out of its scans (cli._imports_done); called in-process, every path back
    leaves it on and nothing frozen: a measured mesh, and a bad input (exit 2)."""
    import gc

    for argv, code in ((["measure", ROOT / "tests" / "data" / "real" / "20mm-xyz-cube.stl", "--units", "mm", "--json"],
                        0),
                       (["measure", tmp_path / "missing.stl", "--units", "mm"], 2)):
        assert main([str(a) for a in argv]) == code
        assert gc.isenabled() and gc.get_freeze_count() == 0
    capsys.readouterr()


def test_measure_requires_units():
    r = run("measure", SAMPLES / "cranial-001" / "design.stl")
    assert r.returncode == 2
    assert "--units" in r.stderr


def test_envelope_check():
    r = run("envelope", "check", CRANIAL_ENVELOPE)
    assert r.returncode == 0 and "valid" in r.stdout
    assert main(["envelope", "check", str(CRANIAL_ENVELOPE), "--json"]) == 0


def test_envelope_check_bad_file_exit_2(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("schema = 1")
    r = run("envelope", "check", p)
    assert r.returncode == 2 and r.stderr.startswith(f"pmd-envelope: error: {p}")


def _subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _subcommands(sub, prefix + (name,))


def test_every_subcommand_has_help_and_is_in_readme():
    readme = (ROOT / "README.md").read_text()
    for path, sub in _subcommands(build_parser()):
        assert sub.format_help().strip()
        assert f"pmd-envelope {' '.join(path)}" in readme, f"README does not document {' '.join(path)}"
    r = run("--help")
    assert r.returncode == 0 and "exit codes" in r.stdout


def test_process_entry_ends_without_teardown_but_runs_exit_handlers_and_joins_threads(tmp_path):
    """cli.run (the script and python -m) ends the process with main's exit code and without
    Python's teardown of the imported modules, after the atexit handlers; a thread main left
    running (none does) is waited for by the ordinary exit instead."""
    program = (
        "import atexit, pathlib, sys, threading, time\n"
        "import pmd_envelope.cli as cli\n"
        "out = pathlib.Path(sys.argv[1])\n"
        "def fake_main():\n"
        "    atexit.register(lambda: (out / 'atexit').write_text('ran'))\n"
        "    if sys.argv[2] == 'thread':\n"
        "        threading.Thread(target=lambda: (time.sleep(0.3), (out / 'thread').write_text('done'))).start()\n"
        "    print('printed')\n"
        "    return 3\n"
        "cli.main = fake_main\n"
        "cli.run()\n"
        "(out / 'after').write_text('run() returned')\n")
    for how in ("plain", "thread"):
        folder = tmp_path / how
        folder.mkdir()
        r = subprocess.run([sys.executable, "-c", program, str(folder), how], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert r.returncode == 3 and r.stdout == "printed\n" and r.stderr == "", (how, r.stderr)
        assert (folder / "atexit").read_text() == "ran" and not (folder / "after").exists()
        assert (folder / "thread").exists() == (how == "thread")
