"""Entry point of the self-intersection worker process: ``python -m pmd_envelope.selfcheck_worker``.

The worker is started by :class:`pmd_envelope.integrity.SelfIntersectionCheck` as a plain
subprocess with this fixed module as its entry point (:func:`start_worker`), or ahead of its
mesh by the CLI (:func:`prestart`). It never imports the caller's ``__main__``
(multiprocessing's ``spawn`` does, which fails from a script without an
``if __name__ == "__main__":`` guard, and from some notebooks and REPLs), so the check runs the
same from a script, a notebook, a REPL and the CLI.

Protocol: on stdin, one JSON line ``{"v": [n, 3], "f": [m, 3]}`` then the vertices (float64) and
faces (int64), little-endian; on stdout, one line of JSON ``{"count": int, "status": str}``. With
``"edges": false`` in the first line the worker gives manifold3d's status only (``"count": null``):
``measure`` casts the edges itself, on the index its ray thickness builds anyway. With
``"box": true`` it first writes a line ``{"box": [three extents] or null}``
(:func:`box_extents`), before the status line.
Through a pipe, not a file, so a full disk cannot stop the check. Input that ends before the
JSON line (a worker started ahead whose parent never gave it a mesh) exits 0 with no output.
Any failure exits non-zero with the error on stderr; the parent then records the check as not evaluated, which makes the
gate indeterminate (never a pass).

The check itself lives here, not in :mod:`pmd_envelope.integrity`, so the worker imports only
numpy and manifold3d at start, and the ray casters only when it casts the edges itself (0.2 s of
CPU to start instead of 0.45 s with the gate's scipy imports: a start per validated design).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["main", "self_intersections_here", "edge_crossings", "manifold_status", "box_extents", "prestart",
           "start_worker", "exit_now", "BOX_AHEAD", "EDGE_CHUNK", "EDGE_RECASTS"]


def main() -> int:
    from pmd_envelope.allocator import set_library_defaults, tune_for_large_arrays

    set_library_defaults()  # before numpy is imported below (pmd_envelope.allocator)
    tune_for_large_arrays()
    # what the check needs is imported before the input is read, so a worker started ahead of
    # its mesh (:func:`prestart`) has these imports done when the mesh arrives; the ray casters
    # only when the edges are asked for (``measure`` casts them itself: 0.07 s less to start)
    import manifold3d  # noqa: F401
    import numpy  # noqa: F401

    if BOX_AHEAD in sys.argv[1:]:  # it will be asked for the box: its imports (~0.3-0.5 s) while it waits
        import trimesh  # noqa: F401

        import pmd_envelope.measure.extents  # noqa: F401

    stdin = sys.stdin.buffer
    header = stdin.readline()
    if not header:  # started ahead and never given a mesh: its parent ended or closed the pipe
        return 0
    shapes = json.loads(header)
    v = _read(stdin, "<f8", shapes["v"])
    f = _read(stdin, "<i8", shapes["f"])
    if shapes.get("box", False):  # first, on a line of its own: the caller waits for it, not for the status
        sys.stdout.write(json.dumps({"box": box_extents(v)}) + "\n")
        sys.stdout.flush()
    if shapes.get("edges", True):
        count, status = self_intersections_here(v, f)
    else:  # the caller casts the edges itself (pmd_envelope.measure.core): manifold3d's status only
        count, status = None, manifold_status(v, f)
    sys.stdout.write(json.dumps({"count": None if count is None else int(count), "status": str(status)}) + "\n")
    sys.stdout.flush()
    return 0


#: The worker's argument that makes it import what :func:`box_extents` needs before its mesh arrives.
BOX_AHEAD = "--box-ahead"


def box_extents(v: np.ndarray) -> list[float] | None:
    """Extents [mm] of the vertices' oriented bounding box
    (:func:`pmd_envelope.measure.extents.oriented_extents`), or None when that raised: the
    caller then measures the box itself, and meets the error there.

    ``measure`` asks the worker for it (``"box": true``): the box is ~0.3 s of numpy and qhull,
    and trimesh's import another ~0.3-0.5 s, all holding the GIL in the measuring process beside
    its ray threads; here it runs in another process, and the imports while the worker waits
    for its mesh. BLAS on one thread, as in the measuring process, so the box is the same bit
    for bit (tested).
    """
    from threadpoolctl import threadpool_limits

    from pmd_envelope.measure.extents import oriented_extents

    try:
        with threadpool_limits(limits=1, user_api="blas"):
            extents, _ = oriented_extents(v)
    except Exception:  # noqa: BLE001 - the caller measures the box itself and reports the error
        return None
    return [float(x) for x in extents]


def self_intersections_here(v: np.ndarray, f: np.ndarray) -> tuple[int, str]:
    """Runs in a separate process: edges piercing faces (:func:`edge_crossings`) and manifold3d's
    verdict on the mesh."""
    status = manifold_status(v, f)  # first: its memory is freed before the edge rays allocate theirs
    return edge_crossings(v, f), status


#: Edges cast per round by :func:`edge_crossings`: bounds the memory of its rays (~30 MB a round).
EDGE_CHUNK = 1 << 18

#: Re-casts of an edge ray past faces incident to its ends. A ray along an edge lies in the
#: planes of the two faces that share the edge, and float32 Embree meets them again and again
#: along it (grazing hits): at 1M faces ~20 % of the edges need a re-cast, and each round keeps
#: about a fifth of the last; after 4 rounds ~0.3 % were left, which counted as crossing nothing
#: though nothing had been looked at past their last hit. The rounds cost little (their rays are
#: few), and the edges still left after them are settled in float64 (``first_hit(settle=True)``).
EDGE_RECASTS = 16


def edge_crossings(v: np.ndarray, f: np.ndarray, caster=None) -> int:
    """Edges of the mesh that pierce a face not incident to them.

    An edge (a, b) of the mesh is cast as a ray of its own length with the embree engine, the
    faces incident to a or b excluded; a hit is confirmed in float64 (Moller-Trumbore) before it
    counts. Two triangles that cross (not coplanar) always have an edge of one through the other.
    ``caster`` is an :class:`pmd_envelope.rays.EmbreeCaster` already built on this mesh (the ray
    thickness's): its index is reused with the least re-cast step; without one, one is built.
    The edges are cast :data:`EDGE_CHUNK` at a time (each ray's answer does not depend on the
    others, so the count is the same), which keeps their arrays small beside the measurement
    running in the same process.
    """
    import numpy as np

    from pmd_envelope.rays import EmbreeCaster, moller_trumbore

    # unique undirected edges by one int64 key each: a 1-D sort and a mask (0.2 s at 3M
    # half-edges), where np.unique(axis=0) on (3m, 2) rows sorts lexicographically (4 s) and
    # numpy 2.4's 1-D np.unique of integers hashes first (1.3 s); numpy, not pandas' hash unique,
    # so the worker process does not import pandas (0.5 s of its start-up)
    a, b = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)
    n = len(v)
    key = np.minimum(a, b).astype(np.int64)  # in place from here: 24 MB per temporary at 1M faces
    key *= n
    key += np.maximum(a, b)
    del a, b
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    e0, e1 = np.divmod(key, n)  # each edge's vertices, as two contiguous columns
    del key
    caster = EmbreeCaster(v, f, recast_step=0.0) if caster is None else caster.with_step(0.0)
    confirmed = 0
    for start in range(0, len(e0), EDGE_CHUNK):
        p, q = e0[start:start + EDGE_CHUNK], e1[start:start + EDGE_CHUNK]
        va = v[p]
        d = v[q] - va
        # the length as np.linalg.norm(axis=1) sums it, bit for bit, without its (k, 3) temporaries
        sq = d * d
        length = np.sqrt(sq[:, 0] + sq[:, 1] + sq[:, 2])
        del sq
        ok = length > 0
        if not ok.all():  # zero-length edges (a face listing a vertex twice) are not rays
            p, q, va, d, length = p[ok], q[ok], va[ok], d[ok], length[ok]
        d /= length[:, None]

        def incident(ray, face, p=p, q=q):
            ff = f[face]
            return (ff == p[ray, None]).any(axis=1) | (ff == q[ray, None]).any(axis=1)

        t, hit = caster.first_hit(va, d, incident, max_recasts=EDGE_RECASTS, t_max=length, settle=True)
        cand = np.flatnonzero((hit >= 0) & (t < length))
        tri = v[f[hit[cand]]]
        t64 = moller_trumbore(va[cand], d[cand], tri[:, 0], tri[:, 1], tri[:, 2])
        confirmed += int(((t64 > 0) & (t64 < length[cand])).sum())
    return confirmed


def manifold_status(v: np.ndarray, f: np.ndarray) -> str:
    """manifold3d's status of the mesh (``NoError``, ``NotManifold``, ...), or why it raised.

    A function of its own so manifold3d's copy of the mesh (its half-edges, sorted geometry and
    collider: ~150 MB at 1M faces) is freed before the edge rays allocate theirs, which then
    reuse that memory (the worker at 1M faces: peak memory 723 MB -> 570 MB, page faults 160k
    -> 115k, measured).
    """
    import manifold3d  # deferred: only the worker process needs it (a compiled library, ~0.2 s to import)
    import numpy as np

    try:
        # writable contiguous copies when needed: manifold3d (nanobind) refuses read-only arrays,
        # and a caller's mesh arrays are read-only (in a batch worker the check runs in-process)
        vv = np.require(v, dtype=np.float64, requirements=["C", "W"])
        ff = np.require(f, dtype=np.uint64, requirements=["C", "W"])
        return str(manifold3d.Manifold(manifold3d.Mesh64(vert_properties=vv, tri_verts=ff)).status()).split(".")[-1]
    except Exception as exc:  # manifold3d refuses some inputs by raising; record why
        return f"error: {type(exc).__name__}: {exc}"


def start_worker(box_ahead: bool = False) -> subprocess.Popen:
    """Start a worker process, its pipes open: the one started by :func:`prestart` if it is
    still waiting for a mesh, else a new one (with ``box_ahead``, importing what
    :func:`box_extents` needs before its mesh arrives). Raises OSError when no process can be
    started."""
    global _PRESTARTED
    with _LOCK:  # two checks started at once cannot both take the one started ahead
        proc, _PRESTARTED = _PRESTARTED, None
    if proc is not None and proc.poll() is None:
        return proc
    if proc is not None:
        _discard(proc)
    # the worker imports this very package, wherever it was imported from (an installed copy,
    # a checkout on PYTHONPATH, or a folder a notebook put on sys.path); -P keeps ``-m`` from
    # putting the working folder ahead of it (a folder holding another pmd_envelope, tested)
    root = str(Path(__file__).resolve().parent.parent)
    path = [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    argv = [sys.executable, "-P", "-m", "pmd_envelope.selfcheck_worker"] + ([BOX_AHEAD] if box_ahead else [])
    return subprocess.Popen(argv,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)))


def prestart() -> None:
    """Start the worker of this process's next self-intersection check now.

    The worker's start-up (a Python process importing numpy and manifold3d, and what
    :func:`box_extents` needs: ~0.6 s of CPU) then runs while the caller is still importing and
    reading the mesh, mostly on one core, instead of beside the measurement (``measure`` of a
    1M-face plate, five alternating runs: 4.45-4.65 s -> 4.30-4.55 s, the same JSON, before the
    box was asked of it). This module imports nothing heavy, so the CLI calls this before its
    own imports. A worker never used is ended when this process exits; started ahead, it waits
    on its input and exits quietly when the pipe closes.
    """
    global _PRESTARTED
    with _LOCK:
        if _PRESTARTED is not None:
            return
    try:
        proc = start_worker(box_ahead=True)
    except OSError:
        return  # the check starts its own worker then, and reports why if that fails too
    with _LOCK:
        _PRESTARTED, spare = proc, _PRESTARTED
    if spare is not None:
        _discard(spare)


_PRESTARTED: subprocess.Popen | None = None
_LOCK = threading.Lock()


def _end_prestarted() -> None:
    global _PRESTARTED
    with _LOCK:
        proc, _PRESTARTED = _PRESTARTED, None
    if proc is not None:
        _discard(proc)


atexit.register(_end_prestarted)  # once; nothing to do unless a worker was started ahead and never used


def _discard(proc: subprocess.Popen) -> None:
    """End a worker that was never given a mesh: its input closed, it exits by itself."""
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        stream.close()


def _read(stream, dtype: str, shape: list[int]):
    import numpy as np

    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"the worker's input ended after {len(data)} of {n} bytes")
    # read-only over the bytes: self_intersections_here makes the writable copy manifold3d needs
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def exit_now(code: int) -> None:
    """End this process with ``code`` once its output is flushed, without Python's teardown.

    The teardown of the modules a measuring process imports (numpy, scipy, pandas, trimesh, ...)
    takes ~0.2-0.3 s after the last line has run (measured: importing them and doing nothing
    else, the process still ran 0.24 s past its last line; 0.1 s with this), and whoever waits
    for the process waits for it: the measuring process for this worker's end (its pipe closes
    only then), a user for the CLI. Called only by process entry points, after their work and
    its output are done: the exit handlers registered with :mod:`atexit` run first; nothing
    else is left to tear down (files are closed, threads joined by then).
    """
    import atexit

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away: nothing more to deliver
            pass
    atexit._run_exitfuncs()  # CPython's own call for its exit handlers: no public one runs them
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
