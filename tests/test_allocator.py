"""The malloc settings of the measuring processes: large arrays reuse memory already mapped.

Each check runs in a fresh process: an entry point (or nothing), then 48 MB arrays allocated
and freed three times, and the page faults of the last round. glibc maps an array that large
afresh each time (zero-filled by the kernel, page by page); once tuned, the heap serves it
again from memory already mapped. Measured here: 0 faults against ~480 (huge pages) or ~11700
(4 kB pages).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

_ROUNDS = """
import resource
import numpy as np
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(6_000_000)
    del a
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt; CI runs on Linux")


def _run(entry: str, stdin: bytes = b"", **env: str) -> list[str]:
    """stdout words of ``entry`` followed by the allocation rounds, in a fresh process."""
    return subprocess.run([sys.executable, "-c", entry + _ROUNDS], input=stdin, capture_output=True, check=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env}).stdout.decode().split()


_TUNE = "from pmd_envelope.allocator import tune_for_large_arrays\nprint(tune_for_large_arrays())\n"


def test_tuned_process_reuses_large_arrays_without_page_faults():
    applied, tuned = _run(_TUNE)
    plain = int(_run("")[-1])
    assert applied == "True"
    assert int(tuned) < 50 < plain


_THREAD_ROUNDS = """
import resource, threading
import numpy as np
out = []
def rounds():
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        a, b = np.ones(5_000_000), np.ones(5_000_000)
        del a, b
        out.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
thread = threading.Thread(target=rounds)
thread.start()
thread.join()
print(out[-1])
"""


def test_threads_reuse_the_heap():
    # two 40 MB arrays at once outgrow one 64 MB heap of a thread's own arena: glibc maps a
    # second heap and unmaps it once empty, so each round is zero-filled again, unless the
    # thread allocates from the one arena (measured here: 0 faults against ~570 without it)
    def run(entry: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", entry + _THREAD_ROUNDS], capture_output=True, check=True,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.decode().split()

    applied, tuned = run(_TUNE)
    thresholds_only = run("import ctypes\nm = ctypes.CDLL(None).mallopt\nm(-3, 64 << 20)\nm(-1, 128 << 20)\n")
    assert applied == "True"
    assert int(tuned) < 50 < int(thresholds_only[-1])


@pytest.mark.parametrize("tunable", [("MALLOC_MMAP_THRESHOLD_", "131072"), ("MALLOC_ARENA_MAX", "8")])
def test_user_malloc_tunables_win(tunable):
    applied, faults = _run(_TUNE, **dict([tunable]))
    assert applied == "False" and int(faults) > 50


def test_cli_and_worker_entry_points_tune_the_allocator():
    # the process entry points this project owns apply it; importing the package does not
    cube = ROOT / "tests" / "data" / "real" / "20mm-xyz-cube.stl"
    cli = ("import contextlib, io\nfrom pmd_envelope.cli import main\n"
           f"with contextlib.redirect_stdout(io.StringIO()):\n    main(['measure', {str(cube)!r}, '--units', 'mm', '--json'])\n")
    assert int(_run(cli)[-1]) < 50
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype="<f8")
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype="<i8")
    worker_input = b'{"v": [4, 3], "f": [4, 3]}\n' + v.tobytes() + f.tobytes()
    assert int(_run("from pmd_envelope.selfcheck_worker import main\nmain()\n", worker_input)[-1]) < 50
    assert int(_run("from pmd_envelope.batch.executors import _pool_worker_start\n_pool_worker_start()\n")[-1]) < 50
    assert int(_run("import pmd_envelope.cli, pmd_envelope.measure\n")[-1]) > 50


# set_library_defaults: each check in a fresh process whose environment holds none of the
# variables a user could have set, unless the test sets one
_LIBRARY_VARS = ("NUMPY_MADVISE_HUGEPAGE", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
_REPORT = """
import os, numpy, threadpoolctl
print(numpy._core.multiarray._get_madvise_hugepage(), max(i["num_threads"] for i in threadpoolctl.threadpool_info()),
      os.environ.get("NUMPY_MADVISE_HUGEPAGE"), os.environ.get("OPENBLAS_NUM_THREADS"))
"""


def _library_state(entry: str, stdin: bytes = b"", **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _LIBRARY_VARS}
    return subprocess.run([sys.executable, "-c", entry + _REPORT], input=stdin, capture_output=True, check=True,
                          cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), **env}).stdout.decode().split()


_DEFAULTS = "from pmd_envelope.allocator import set_library_defaults\nprint(*set_library_defaults())\n"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts one thread on one core either way")
def test_library_defaults_turn_numpy_huge_pages_off_and_blas_to_one_thread():
    plain = _library_state("")
    assert plain[0] == "True" and int(plain[1]) > 1 and plain[2:] == ["None", "None"]  # numpy's and OpenBLAS's own
    assert _library_state(_DEFAULTS) == ["NUMPY_MADVISE_HUGEPAGE", "OPENBLAS_NUM_THREADS", "False", "1", "0", "1"]


def test_user_library_variables_win():
    out = _library_state(_DEFAULTS, NUMPY_MADVISE_HUGEPAGE="1", OMP_NUM_THREADS="2")
    assert out == ["True", "2", "1", "None"]  # nothing set: the user's huge pages, and OMP's two threads
    out = _library_state(_DEFAULTS, OPENBLAS_NUM_THREADS="2")
    assert out == ["NUMPY_MADVISE_HUGEPAGE", "False", "2", "0", "2"]


def test_library_defaults_are_not_set_once_numpy_is_loaded():
    out = _library_state("import numpy\n" + _DEFAULTS)
    assert out[0] == "True" and out[2:] == ["None", "None"]


def test_cli_and_worker_entry_points_set_the_library_defaults():
    cube = ROOT / "tests" / "data" / "real" / "20mm-xyz-cube.stl"
    cli = ("import contextlib, io\nfrom pmd_envelope.cli import main\n"
           f"with contextlib.redirect_stdout(io.StringIO()):\n    main(['measure', {str(cube)!r}, '--units', 'mm', '--json'])\n")
    assert _library_state(cli) == ["False", "1", "0", "1"]
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype="<f8")
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype="<i8")
    worker_input = b'{"v": [4, 3], "f": [4, 3]}\n' + v.tobytes() + f.tobytes()
    assert _library_state("from pmd_envelope.selfcheck_worker import main\nmain()\n", worker_input)[-4:] \
        == ["False", "1", "0", "1"]
