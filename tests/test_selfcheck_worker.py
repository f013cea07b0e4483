"""A check not run is not a pass: the self-intersection worker from a script, a REPL and a
notebook-like caller, its failures and its timeout (issue 10, item 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, SAMPLES, process_alive
from pmd_envelope.integrity import SelfIntersectionCheck, check_integrity, with_self_check
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate

# A plain script: no ``if __name__ == "__main__":`` guard. multiprocessing's spawn re-imports
# such a __main__ in the child and fails; the worker must not depend on it.
_SCRIPT = textwrap.dedent(f"""
    import json
    from pmd_envelope.pipeline import validate
    v = validate({str(SAMPLES / "cranial-001")!r})
    mi = v.record["mesh_integrity"]
    print(json.dumps({{"verdict": v.verdict, "self_intersections": mi["self_intersections"], "gate": mi["gate"],
                      "manifold3d_status": mi["manifold3d_status"]}}))
""")


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.fixture(scope="module")
def cap():
    return spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=12, segments=48)


def test_validate_from_a_script_without_main_guard(tmp_path):
    script = tmp_path / "plain_script.py"
    script.write_text(_SCRIPT)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=_env(),
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert "RuntimeError" not in run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"verdict": "conforming", "self_intersections": 0,
                                                       "gate": "passed", "manifold3d_status": "NoError"}


def test_self_check_from_a_repl_on_stdin(tmp_path, cap):
    # ``python -`` reads the program from stdin: __main__ has no file to re-import, like a REPL
    # or a notebook kernel
    program = textwrap.dedent("""
        from pmd_envelope.integrity import check_integrity
        from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate
        cap = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=12, segments=48)
        r = check_integrity(cap)
        print(r.gate, r.self_intersections)
    """)
    run = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, cwd=tmp_path,
                         env=_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["passed", "0"]


def test_worker_imports_this_package_whatever_the_working_folder(tmp_path, monkeypatch, cap):
    # ``python -m`` puts the working folder first on sys.path: a folder holding another
    # pmd_envelope (another checkout, another version) must not become the worker's package
    other = tmp_path / "pmd_envelope"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "selfcheck_worker.py").write_text("raise SystemExit('not this package')\n")
    monkeypatch.chdir(tmp_path)
    count, method, status = SelfIntersectionCheck(cap.vertices, cap.faces).result()
    assert (count, status) == (0, "NoError"), method


def test_worker_failure_is_not_evaluated_and_the_gate_indeterminate(cap):
    bad_faces = np.asarray(cap.faces) + 10**6  # out of range in the worker: it raises IndexError
    count, method, status = SelfIntersectionCheck(cap.vertices, bad_faces).result()
    assert count is None and status == "not evaluated"
    assert method.startswith("not evaluated: the worker failed (exit 1)") and "IndexError" in method
    report = with_self_check(check_integrity(cap, self_check_timeout=None), (count, method, status))
    assert report.problems == () and report.gate == "indeterminate" and not report.passed
    assert report.unevaluated == (f"self-intersection check: {method}",)


def test_timed_out_worker_is_killed(cap):
    check = SelfIntersectionCheck(cap.vertices, cap.faces, timeout=0.01)
    pid = check.pid
    count, method, _ = check.result()
    assert count is None and method == "not evaluated: the worker did not finish within 0.01 s and was killed"
    assert not process_alive(pid)


def test_context_exit_kills_a_running_worker(cap):
    with SelfIntersectionCheck(cap.vertices, cap.faces) as check:
        pid = check.pid
    assert not process_alive(pid)


def test_skipped_check_leaves_the_gate_indeterminate(cap):
    report = check_integrity(cap, self_check_timeout=None)
    assert report.gate == "indeterminate" and not report.passed
    assert report.as_dict()["unevaluated"] == ["self-intersection check: not evaluated: skipped by the caller"]


def test_validate_with_a_failed_worker_is_never_conforming(monkeypatch):
    import pmd_envelope.measure.early as early
    from pmd_envelope.pipeline import validate

    class Broken(SelfIntersectionCheck):  # its worker (manifold3d's status) dies
        def __init__(self, v, f, timeout=300.0, **kw):
            super().__init__(v, f, timeout, **kw)
            os.kill(self.pid, signal.SIGKILL)

    monkeypatch.setattr(early, "SelfIntersectionCheck", Broken)
    v = validate(SAMPLES / "cranial-001")
    assert v.verdict == "nonconforming"
    gate = [r for r in v.record["reasons"] if r["item"] == "mesh_integrity"]
    assert len(gate) == 1 and gate[0]["decision"] == "indeterminate"
    assert gate[0]["detail"].startswith("integrity gate indeterminate: self-intersection check: not evaluated: "
                                        "the worker ended by signal 9")
    assert v.record["mesh_integrity"]["gate"] == "indeterminate"
    assert v.record["mesh_integrity"]["self_intersections"] is None


def test_validate_with_failed_edge_rays_is_never_conforming(monkeypatch):
    import pmd_envelope.measure.early as early
    from pmd_envelope.pipeline import validate

    def broken(v, f, caster=None):
        raise MemoryError("no room for the edge rays")

    monkeypatch.setattr(early, "edge_crossings", broken)
    v = validate(SAMPLES / "cranial-001")
    assert v.verdict == "nonconforming" and v.record["mesh_integrity"]["gate"] == "indeterminate"
    assert v.record["mesh_integrity"]["self_intersection_method"] == \
        "not evaluated: the edge rays failed: MemoryError: no room for the edge rays"


def test_measure_casts_the_edges_on_its_own_index_and_the_worker_gives_the_status(cap):
    from pmd_envelope.integrity import SELF_CHECK_METHOD_HERE
    from pmd_envelope.measure.core import measure_mesh
    from pmd_envelope.mesh_io import mesh_from_arrays
    from pmd_envelope.settings import DEFAULT_SETTINGS

    v = np.vstack([cap.vertices, [[0.0, 0.0, -200.0], [0.0, 0.0, 200.0], [1.0, 0.0, 200.0]]])
    n = len(cap.vertices)
    pierced = np.vstack([cap.faces, [[n, n + 1, n + 2]]])
    alone = SelfIntersectionCheck(v, pierced).result()  # one worker casting the edges itself
    report = measure_mesh(mesh_from_arrays(v, pierced), DEFAULT_SETTINGS).integrity
    assert alone[0] > 0 and (report.self_intersections, report.manifold3d_status) == (alone[0], alone[2])
    assert report.self_intersection_method == SELF_CHECK_METHOD_HERE


def test_manifold_only_worker_and_the_joined_result(cap):
    from pmd_envelope.integrity import SELF_CHECK_METHOD_HERE, joined_self_check

    worker = SelfIntersectionCheck(cap.vertices, cap.faces, edges=False).result()
    assert worker[0] is None and worker[2] == "NoError"
    assert joined_self_check(3, worker) == (3, SELF_CHECK_METHOD_HERE, "NoError")
    assert joined_self_check(ValueError("x"), worker) == (None, "not evaluated: the edge rays failed: ValueError: x",
                                                          "NoError")
    failed = (None, "not evaluated: the worker ended by signal 9", "not evaluated")
    assert joined_self_check(3, failed) == failed


def test_edge_crossings_do_not_depend_on_the_index_or_the_chunk(cap, monkeypatch):
    from pmd_envelope import selfcheck_worker
    from pmd_envelope.rays import EmbreeCaster

    v = np.vstack([cap.vertices, [[0.0, 0.0, -200.0], [0.0, 0.0, 200.0], [1.0, 0.0, 200.0]]])
    n = len(cap.vertices)
    pierced = np.vstack([cap.faces, [[n, n + 1, n + 2]]])
    own = selfcheck_worker.edge_crossings(v, pierced)
    shared = selfcheck_worker.edge_crossings(v, pierced, EmbreeCaster(v, pierced, 1e-4))
    monkeypatch.setattr(selfcheck_worker, "EDGE_CHUNK", 7)
    chunked = selfcheck_worker.edge_crossings(v, pierced)
    assert own > 0 and own == shared == chunked


@pytest.fixture
def in_this_process():
    from pmd_envelope.integrity import self_check_in_this_process

    self_check_in_this_process()
    yield
    self_check_in_this_process(False)


def test_in_process_check_gives_the_subprocess_answer(cap):
    from pmd_envelope.integrity import self_check_in_this_process

    v = np.vstack([cap.vertices, [[0.0, 0.0, -200.0], [0.0, 0.0, 200.0], [1.0, 0.0, 200.0]]])
    n = len(cap.vertices)
    pierced = np.vstack([cap.faces, [[n, n + 1, n + 2]]])  # a sliver from far below to far above the cap
    v.flags.writeable = pierced.flags.writeable = False  # as a loaded mesh's arrays are
    answers = {}
    for here in (False, True):
        self_check_in_this_process(here)
        try:
            check = SelfIntersectionCheck(v, pierced)
            answers[here] = (check.pid, check.result())
        finally:
            self_check_in_this_process(False)
    (pid_sub, sub), (pid_here, here) = answers[False], answers[True]
    assert pid_sub is not None and pid_here is None  # the second ran in this process
    assert sub == here and sub[0] > 0  # the same count, method and manifold3d status


def test_in_process_failure_is_not_evaluated(cap, in_this_process):
    count, method, status = SelfIntersectionCheck(cap.vertices, np.asarray(cap.faces) + 10**6).result()
    assert count is None and status == "not evaluated"
    assert method.startswith("not evaluated: the check failed: IndexError")


def test_prestarted_worker_is_the_next_checks_worker(cap):
    from pmd_envelope import selfcheck_worker

    selfcheck_worker.prestart()
    ahead = selfcheck_worker._PRESTARTED
    assert ahead is not None and ahead.poll() is None
    check = SelfIntersectionCheck(cap.vertices, cap.faces)
    assert check.pid == ahead.pid and selfcheck_worker._PRESTARTED is None
    count, _, status = check.result()
    assert (count, status) == (0, "NoError")


def test_prestarted_worker_never_given_a_mesh_ends_quietly(tmp_path):
    # the CLI starts the worker before it reads the mesh; on a file it cannot read it exits 2, and
    # the worker, still waiting for its input, must end with it, exit 0 and say nothing
    program = textwrap.dedent("""
        import sys
        from pmd_envelope import selfcheck_worker
        selfcheck_worker.prestart()
        proc = selfcheck_worker._PRESTARTED
        print(proc.pid, flush=True)
        if sys.argv[1] == "atexit":
            sys.exit(2)
        selfcheck_worker._end_prestarted()
        print(proc.returncode, repr(proc.stderr.read() if not proc.stderr.closed else b""))
    """)
    script = tmp_path / "ahead.py"
    script.write_text(program)
    for how in ("atexit", "explicit"):
        run = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True, env=_env(),
                             timeout=120)
        pid = int(run.stdout.split()[0])
        assert not process_alive(pid), how
        assert run.stderr == ""
    assert run.returncode == 0 and run.stdout.split()[1] == "0"


def test_cli_on_an_unreadable_mesh_leaves_no_worker(tmp_path):
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"solid x\nfacet broken\n")
    before = set(_workers())
    run = subprocess.run([sys.executable, "-m", "pmd_envelope", "measure", str(bad), "--units", "mm"],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1
    assert set(_workers()) <= before


def _workers() -> list[int]:
    """Pids of the self-intersection workers running on this machine (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"pmd_envelope.selfcheck_worker" in cmd:
                found.append(int(entry))
    return found


def test_edges_embree_leaves_on_incident_faces_are_settled_in_float64(cap, monkeypatch):
    """An edge ray lies in the planes of the two faces sharing its edge, so Embree can keep
    meeting them (grazing hits); edges still unsettled after EDGE_RECASTS re-casts were counted
    as crossing nothing. They now go to the float64 engine (first_hit(settle=True)), which
    filters incident faces by id: with no re-casts at all, the count is the same, and the
    float64 engine alone over every edge agrees with it."""
    from pmd_envelope import selfcheck_worker
    from pmd_envelope.rays import EmbreeCaster

    v = np.vstack([cap.vertices, [[0.0, 0.0, -200.0], [0.0, 0.0, 200.0], [1.0, 0.0, 200.0]]])
    n = len(cap.vertices)
    pierced = np.vstack([cap.faces, [[n, n + 1, n + 2]]])
    default = selfcheck_worker.edge_crossings(v, pierced)
    settled = []
    exact = EmbreeCaster.settled

    def spy(self, origins, *args):
        settled.append(len(origins))
        return exact(self, origins, *args)

    monkeypatch.setattr(EmbreeCaster, "settled", spy)
    monkeypatch.setattr(selfcheck_worker, "EDGE_RECASTS", 0)
    assert selfcheck_worker.edge_crossings(v, pierced) == default > 0
    assert settled and settled[0] > 100  # most edges meet a face at their far end first
    e = np.unique(np.sort(np.vstack([pierced[:, [0, 1]], pierced[:, [1, 2]], pierced[:, [2, 0]]]), axis=1), axis=0)
    va, d = v[e[:, 0]], v[e[:, 1]] - v[e[:, 0]]
    length = np.linalg.norm(d, axis=1)
    d /= length[:, None]

    def incident(ray, face):
        ff = pierced[face]
        return (ff == e[ray, 0, None]).any(axis=1) | (ff == e[ray, 1, None]).any(axis=1)

    t, hit = exact(EmbreeCaster(v, pierced, 0.0), va, d, incident, length, 0.0)  # float64 over every edge
    assert int(((hit >= 0) & (t > 0) & (t < length)).sum()) == default