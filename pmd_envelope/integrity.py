"""Mesh integrity gate: every defect counted and reported, nothing repaired.

The gate uses the shared geometry (:mod:`pmd_envelope.geometry`) and the ray engine
(:mod:`pmd_envelope.rays`, for the self-intersection worker); repair on request is
:mod:`pmd_envelope.repair`, which imports the gate, never the other way.

A wall thickness or a volume measured on an open, inside-out or self-overlapping mesh is not a
number anyone can trust, so a design that fails this gate is nonconforming with the defects as
reasons. One sort of int64 edge keys in numpy gives boundary, non-manifold and winding checks
together (0.33 s at 2M faces against ~1.6 s for trimesh's separate properties; shared
performance notes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from pmd_envelope.geometry import MeshData, count_bodies, mesh_edges, mesh_face_geometry, mesh_signed_volume
from pmd_envelope.selfcheck_worker import start_worker
from pmd_envelope.units import LENGTH_UNITS_TO_MM

__all__ = ["IntegrityReport", "SelfIntersectionCheck", "SELF_CHECK_METHOD_HERE", "check_integrity", "joined_self_check",
           "nonmanifold_vertex_count", "self_check_in_this_process", "self_intersections", "with_self_check",
           "with_unit_check"]

# A face is degenerate when its area is below (1e-9 of the squared largest mesh extent): far below
# any printable feature (LPBF pins 0.5 mm -> 0.25 mm^2) yet above float64 round-off of a cross
# product at 250 mm (~1e-26 relative).
_DEGENERATE_REL_AREA = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrityReport:
    """Counts of every defect the gate looks for.

    ``problems`` lists, in words, each defect that makes the mesh untrustworthy; ``unevaluated``
    lists each gate check that was not run, and why. A check not run is not a pass: the gate is
    ``failed`` when there is a problem, ``indeterminate`` when a check was not evaluated, and
    ``passed`` only when every check ran and found nothing. ``self_intersections`` is ``None``
    when not evaluated.
    """

    vertices: int
    faces: int
    degenerate_faces: int
    duplicate_faces: int
    boundary_edges: int
    nonmanifold_edges: int
    nonmanifold_vertices: int
    winding_consistent: bool
    signed_volume: float
    bodies: int
    expected_bodies: int | None
    self_intersections: int | None
    self_intersection_method: str
    manifold3d_status: str
    unit_check: str
    welding: dict | None
    problems: tuple[str, ...]
    unevaluated: tuple[str, ...] = ()

    @property
    def gate(self) -> str:
        """``passed``, ``failed`` or ``indeterminate`` (a gate check was not evaluated)."""
        return "failed" if self.problems else "indeterminate" if self.unevaluated else "passed"

    @property
    def passed(self) -> bool:
        return self.gate == "passed"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__} | {
            "passed": self.passed, "gate": self.gate, "problems": list(self.problems),
            "unevaluated": list(self.unevaluated)}


def nonmanifold_vertex_count(f: np.ndarray, n: int, order: np.ndarray | None = None) -> int:
    """Vertices whose incident faces form more than one edge-connected fan (a "bow tie").

    Each face corner is a node; two corners at the same vertex are joined when their faces share
    an edge through that vertex. A manifold vertex has one component of corners.

    ``order`` is the stable argsort of the undirected edge keys of the half-edges
    (:func:`pmd_envelope.geometry.mesh_edges`), when the caller has it.

    Notes
    -----
    When every edge joins exactly two faces that traverse it in opposite directions (every
    valid mesh), turning about a vertex from one corner to the next across the shared edge is a
    permutation of the corners, and the fans are its cycles: a vertex is manifold when the cycle
    through one of its corners holds all of them (:func:`_fans_by_rotation`, ~0.07 s at 3M
    corners, against ~1 s for a sparse graph's connected components). Other meshes take the
    general graph.
    """
    a = f.reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    key = np.minimum(a, b) * n + np.maximum(a, b)
    if order is None:
        order = np.argsort(key, kind="stable")
    k = key[order]
    if len(k) % 2 == 0 and len(k):
        h1, h2 = order[0::2], order[1::2]
        paired = (k[0::2] == k[1::2]).all() and (k[2::2] != k[1:-1:2]).all()
        if paired and (a[h1] == b[h2]).all() and (b[h1] == a[h2]).all():
            return _fans_by_rotation(a, n, h1, h2)
    return _fans_by_graph(a, b, n, order, k)


def _fans_by_rotation(a: np.ndarray, n: int, h1: np.ndarray, h2: np.ndarray) -> int:
    """:func:`nonmanifold_vertex_count` of a closed, consistently wound mesh (edge twins h1 <-> h2).

    The corners at a vertex form one cycle of the rotation exactly when the vertex is manifold,
    so one walk per vertex suffices: from the vertex's first corner, one step per round for all
    vertices at once, until the walk is back; the vertex is manifold when the walk's length is
    its valence. A round gathers one pointer per open vertex (at 1M faces ~0.07 s in all,
    against 0.36 s for labelling every corner's cycle by pointer doubling over 3M corners).
    Vertices still open after ``_WALK_ROUNDS`` (a valence above it, e.g. a pole or a fan's
    apex) are counted by pointer doubling over their own corners only.
    """
    m3 = len(a)
    twin = np.empty(m3, dtype=np.int64)
    twin[h1], twin[h2] = h2, h1
    # corner c (= its outgoing half-edge c, at vertex a[c]) -> the twin's face's corner at a[c],
    # which is where the twin half-edge ends: the next corner about the vertex
    nxt = twin + np.where(twin % 3 == 2, -2, 1)
    valence = np.bincount(a, minlength=n)
    first = np.empty(n, dtype=np.int64)
    first[a[::-1]] = np.arange(m3 - 1, -1, -1)  # the last write wins: each vertex's smallest corner
    walking = np.flatnonzero(valence)
    at = nxt[first[walking]]
    bowties = 0
    for length in range(1, _WALK_ROUNDS + 1):
        back = at == first[walking]
        bowties += int((valence[walking[back]] != length).sum())
        walking, at = walking[~back], at[~back]
        if not len(walking):
            return bowties
        at = nxt[at]
    # the rest: label each corner by the smallest corner of its cycle (pointer doubling), over
    # the corners of the open vertices only (a cycle never leaves its vertex)
    open_vertex = np.zeros(n, dtype=bool)
    open_vertex[walking] = True
    corners = active = np.flatnonzero(open_vertex[a])
    label = np.arange(m3)
    span = 1  # label[c] is the smallest corner of c, nxt(c), ..., nxt^(span - 1)(c)
    while len(active):
        label[active] = np.minimum(label[active], label[nxt[active]])
        nxt[active] = nxt[nxt[active]]
        span *= 2
        active = active[valence[a[active]] > span]
    fans = np.bincount(a[corners[label[corners] == corners]], minlength=n)
    return bowties + int((fans > 1).sum())


#: Rounds of :func:`_fans_by_rotation`'s walk; vertices of higher valence are labelled instead.
_WALK_ROUNDS = 32


def _fans_by_graph(a: np.ndarray, b: np.ndarray, n: int, order: np.ndarray, k: np.ndarray) -> int:
    """:func:`nonmanifold_vertex_count` of any mesh: connected components of the corner graph."""
    from scipy.sparse import coo_matrix  # deferred, as in geometry.count_bodies
    from scipy.sparse.csgraph import connected_components

    corner_a = np.arange(len(a))
    corner_b = (corner_a // 3) * 3 + (corner_a % 3 + 1) % 3
    # consecutive half-edges on the same undirected edge are joined (a chain for edges shared by
    # more than two faces, already reported as non-manifold edges)
    j = np.flatnonzero(k[1:] == k[:-1])
    h1, h2 = order[j], order[j + 1]
    same = a[h1] == a[h2]
    src = np.concatenate([corner_a[h1], corner_b[h1]])
    dst = np.concatenate([np.where(same, corner_a[h2], corner_b[h2]), np.where(same, corner_b[h2], corner_a[h2])])
    g = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(len(a), len(a)))
    _, labels = connected_components(g, directed=False)
    pairs = np.unique(a.astype(np.int64) * len(a) + labels)  # distinct (vertex, fan) pairs
    fans = np.bincount(pairs // len(a), minlength=n)
    return int((fans > 1).sum())


_SELF_CHECK_NAME = "self-intersection check:"
_SKIPPED = "not evaluated: skipped by the caller"
_SELF_CHECK_METHOD = ("edge-face crossings: every edge cast by embree with its incident faces excluded, each hit "
                      "confirmed in float64, in a worker process; coplanar overlaps not detected")
#: The method when the caller casts the edges (:func:`joined_self_check`) and the worker gives
#: manifold3d's status only.
SELF_CHECK_METHOD_HERE = ("edge-face crossings: every edge cast by embree with its incident faces excluded, each hit "
                          "confirmed in float64, on the measurement's own embree index (manifold3d's status in a "
                          "worker process); coplanar overlaps not detected")
_WORKER_ONLY = "the worker gave manifold3d's status only; the caller casts the edges"


#: Set by :func:`self_check_in_this_process` in a process that is itself a batch worker.
_IN_THIS_PROCESS = False


def self_check_in_this_process(enabled: bool = True) -> None:
    """Run the self-intersection check in this process from now on (``False``: in a subprocess again).

    For a process that is itself a disposable worker of a batch's process pool
    (:func:`pmd_envelope.batch.executors.run_pool`): there, the pool already isolates a crash
    (a worker that dies is replaced, its case run again alone and, if it dies again, reported as
    failed), and both cores are busy measuring other cases, so a subprocess per design only
    costs its start (0.2 s of CPU, most of the check on a sample-sized plate) without running in
    parallel with anything. The count, method and status are the same as from the subprocess.
    """
    global _IN_THIS_PROCESS
    _IN_THIS_PROCESS = bool(enabled)


def _end_this_worker(timeout: float) -> None:
    """End this pool worker: its in-process self-intersection check outlived ``timeout``."""
    sys.stderr.write(f"pmd-envelope: the self-intersection check did not finish within {timeout:g} s; "
                     "ending this batch worker (its case is run again alone, then reported failed)\n")
    sys.stderr.flush()
    os._exit(70)


class SelfIntersectionCheck:
    """The self-intersection check running in a worker process while the caller goes on.

    The worker is a plain subprocess, ``python -m pmd_envelope.selfcheck_worker`` (started ahead
    by the CLI, :func:`pmd_envelope.selfcheck_worker.prestart`, or here), with the arrays passed
    through its stdin pipe: a fixed module entry point that never re-imports
    the caller's ``__main__``, so the check runs the same from a script without a main guard, a
    notebook, a REPL and the CLI (multiprocessing's ``spawn`` re-imports ``__main__``; ``fork``
    does not survive embree and BLAS threads). A crash in manifold3d or embree cannot end the run;
    a worker that fails, crashes or outlives ``timeout`` is killed and the check is reported as
    "not evaluated" with the reason, which makes the gate indeterminate, never passed.

    In a process that is itself a batch's pool worker (:func:`self_check_in_this_process`), the
    check runs in this process when :meth:`result` is called, and a failure of the check is
    recorded as "not evaluated" the same way; a crash there, or a check that outlives
    ``timeout``, ends the pool worker, which the pool reports.

    With ``edges=False`` the worker gives manifold3d's status only and :meth:`result`'s count is
    None: the caller casts the edges (:func:`pmd_envelope.selfcheck_worker.edge_crossings`) and
    joins the two (:func:`joined_self_check`). With ``box=True`` the worker also measures the
    vertices' oriented box first (:func:`pmd_envelope.selfcheck_worker.box_extents`), which
    :meth:`box_extents` returns.

    Use as a context manager, or call :meth:`result` once.
    """

    def __init__(self, v: np.ndarray, f: np.ndarray, timeout: float = 300.0, *, edges: bool = True,
                 box: bool = False):
        self.timeout = timeout
        self.edges = bool(edges)
        self._started = time.monotonic()
        self._here = (v, f) if _IN_THIS_PROCESS else None
        self._proc = None
        self._failed: str | None = "not evaluated: the check's result was already taken"
        self._box: threading.Thread | None = None
        self._box_answer: list = []  # the box line's extents (or None), then any stdout read past that line
        if self._here is not None:
            return
        try:
            self._proc = start_worker()  # the one the CLI started ahead (selfcheck_worker.prestart), or a new one
        except OSError as exc:  # no process could be started (limits, no executable): not evaluated
            self._proc = None
            self._failed = f"not evaluated: the worker could not be started ({exc})"
            return
        # the arrays go through the pipe, not a file: a full disk must not stop the check; a
        # thread feeds it so the caller goes on measuring meanwhile
        pipe, self._proc.stdin = self._proc.stdin, None  # the feeder owns it; communicate() leaves it alone
        self._feeder = threading.Thread(target=_feed, args=(pipe, v, f, self.edges, box), daemon=True)
        self._feeder.start()
        if box:
            self._box = threading.Thread(target=_read_box_line, args=(self._proc.stdout.fileno(), self._box_answer),
                                         daemon=True)
            self._box.start()

    def box_extents(self) -> tuple[float, float, float] | None:
        """The worker's oriented-box extents [mm] (``box=True``), waiting for them; None when it
        was not asked, runs in this process, failed, or gave none: the caller then measures the
        box itself. A worker that outlives ``timeout`` meanwhile is killed (:meth:`result` then
        says so)."""
        if self._box is None:
            return None
        self._box.join(max(0.0, self.timeout - (time.monotonic() - self._started)))
        if self._box.is_alive():
            self.close()  # the read then ends with the pipe
            self._box.join()
        extents = self._box_answer[0] if self._box_answer else None
        return tuple(float(x) for x in extents) if isinstance(extents, list) and len(extents) == 3 else None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def result(self) -> tuple[int | None, str, str]:
        """``(count or None, method or why not evaluated, manifold3d status)``."""
        if self._here is not None:
            from pmd_envelope.selfcheck_worker import manifold_status, self_intersections_here

            # the same time limit as the subprocess's: a check that hangs cannot be stopped
            # inside this process, so the disposable pool worker ends itself, and the pool
            # reports its case (run again alone, then failed) instead of waiting for ever
            remaining = max(0.0, self.timeout - (time.monotonic() - self._started))
            watchdog = threading.Timer(remaining, _end_this_worker, args=(self.timeout,))
            watchdog.daemon = True
            watchdog.start()
            try:
                if self.edges:
                    count, status = self_intersections_here(*self._here)
                else:
                    count, status = None, manifold_status(*self._here)
            except Exception as exc:  # the same as a worker that failed: not evaluated, with the reason
                return None, f"not evaluated: the check failed: {type(exc).__name__}: {exc}", "not evaluated"
            finally:
                watchdog.cancel()
                self._here = None
            return (int(count), _SELF_CHECK_METHOD, str(status)) if self.edges else (None, _WORKER_ONLY, str(status))
        if self._proc is None:
            return None, self._failed, "not evaluated"
        try:
            if self._box is not None:  # its line is read first, from the same pipe
                self.box_extents()
            remaining = max(0.0, self.timeout - (time.monotonic() - self._started))
            try:
                out, err = self._proc.communicate(timeout=remaining)
                out = (self._box_answer[1] if len(self._box_answer) > 1 else b"") + out
            except subprocess.TimeoutExpired:
                self.close()
                return None, f"not evaluated: the worker did not finish within {self.timeout:g} s and was killed", \
                    "not evaluated"
            if self._proc.returncode != 0:
                lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
                why = (f"ended by signal {-self._proc.returncode}" if self._proc.returncode < 0
                       else f"failed (exit {self._proc.returncode})")
                return None, f"not evaluated: the worker {why}: {lines[-1] if lines else 'no message'}", "not evaluated"
            try:
                answer = json.loads(out.decode("utf-8").strip().splitlines()[-1])
                if not self.edges:
                    return None, _WORKER_ONLY, str(answer["status"])
                return int(answer["count"]), _SELF_CHECK_METHOD, str(answer["status"])
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                return None, f"not evaluated: the worker's answer could not be read ({exc})", "not evaluated"
        finally:
            self.close()

    def close(self) -> None:
        """Kill the worker if it still runs."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.communicate(timeout=30)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _feed(pipe, v: np.ndarray, f: np.ndarray, edges: bool = True, box: bool = False) -> None:
    """Write the worker's input: one JSON line with the shapes (and whether to cast the edges
    and measure the box), then the float64 and int64 bytes."""
    v = np.ascontiguousarray(v, dtype="<f8")
    f = np.ascontiguousarray(f, dtype="<i8")
    try:
        pipe.write(json.dumps({"v": list(v.shape), "f": list(f.shape), "edges": bool(edges),
                               "box": bool(box)}).encode() + b"\n")
        pipe.write(memoryview(v).cast("B"))
        pipe.write(memoryview(f).cast("B"))
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):  # the worker died or was killed: result() says so
        pass


def _read_box_line(fd: int, answer: list) -> None:
    """Read the worker's first stdout line, the box, from the raw descriptor: ``answer`` gets its
    extents (None if the line is missing or unreadable) and the bytes read past it.

    ``os.read`` on the descriptor, not the pipe's buffered reader: ``communicate`` reads the
    descriptor too, so nothing may sit in a buffer between them; the bytes past the line are
    handed to :meth:`SelfIntersectionCheck.result`.
    """
    data = b""
    try:
        while b"\n" not in data:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    line, _, rest = data.partition(b"\n")
    try:
        extents = json.loads(line)["box"] if line else None
    except (ValueError, KeyError, TypeError):
        extents = None
    answer[:] = [extents, rest]


def self_intersections(v: np.ndarray, f: np.ndarray, timeout: float = 300.0) -> tuple[int | None, str, str]:
    """Count edges piercing a non-adjacent face, in a worker process so a crash cannot end the run.

    Returns ``(count or None, method or why not evaluated, manifold3d status)``. Coplanar
    overlaps (no edge crosses a face) are not detected; that limit is in the method string.
    """
    return SelfIntersectionCheck(v, f, timeout).result()


def joined_self_check(edges: int | BaseException, worker: tuple[int | None, str, str]) -> tuple[int | None, str, str]:
    """The ``(count or None, method or why not evaluated, manifold3d status)`` of a check whose
    edges the caller cast (``edges``: the count, or the exception that stopped it) and whose
    worker gave manifold3d's status (:class:`SelfIntersectionCheck` with ``edges=False``).

    Either part not evaluated leaves the whole check not evaluated, with the reason, as when one
    worker ran both: the gate is then indeterminate, never passed.
    """
    count, why, status = worker
    if why != _WORKER_ONLY:  # the worker failed, timed out or could not start
        return None, why, status
    if isinstance(edges, BaseException):
        return None, f"not evaluated: the edge rays failed: {type(edges).__name__}: {edges}", status
    return int(edges), SELF_CHECK_METHOD_HERE, status


def with_self_check(report: "IntegrityReport", result: tuple[int | None, str, str]) -> "IntegrityReport":
    """The report with the self-intersection result filled in (and its problem, if any)."""
    si, method, status = result
    problems = report.problems + ((f"{si} edges pierce a non-adjacent face: the surface intersects itself",) if si else ())
    unevaluated = tuple(u for u in report.unevaluated if not u.startswith(_SELF_CHECK_NAME))
    if si is None:
        unevaluated += (f"{_SELF_CHECK_NAME} {method}",)
    return replace(report, self_intersections=si, self_intersection_method=method, manifold3d_status=status,
                   problems=problems, unevaluated=unevaluated)


def check_integrity(mesh: MeshData, *, expected_bodies: int | None = None,
                    plausible_size: tuple[float, float] | None = None, largest_extent: float | None = None,
                    unit_size_slack: float = 2.0, self_check_timeout: float | None = 300.0,
                    size_basis: str = "the envelope's plausible size") -> IntegrityReport:
    """Run the integrity gate on a mesh.

    Parameters
    ----------
    mesh : MeshData
    expected_bodies : int, optional
        Number of connected solids the envelope expects.
    plausible_size : (float, float), optional
        The envelope's range of the largest extent [mm].
    largest_extent : float, optional
        The design's largest extent [mm] (from :mod:`pmd_envelope.measure.extents`).
    unit_size_slack : float
        How far outside ``plausible_size`` the extent may fall before the declared unit is
        judged implausible.
    size_basis : str
        What ``plausible_size`` is, for the messages ("the envelope's plausible size").
    self_check_timeout : float or None
        Seconds allowed to the self-intersection worker process; ``None`` skips the check
        (reported as "not evaluated", which leaves the gate indeterminate until
        :func:`with_self_check` adds a result).

    Returns
    -------
    IntegrityReport
    """
    v, f = mesh.vertices, mesh.faces
    n = len(v)
    problems: list[str] = []

    _, areas = mesh_face_geometry(mesh)
    scale = float(np.ptp(v, axis=0).max()) if n else 0.0
    degenerate = int(((areas <= _DEGENERATE_REL_AREA * scale**2) | (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2])
                      | (f[:, 0] == f[:, 2])).sum())
    if degenerate:
        problems.append(f"{degenerate} degenerate (zero-area) faces")

    # duplicate faces: the same three vertices in any order (rows sorted, then compared in
    # lexicographic order; no n^3 key, which would overflow int64 past ~2M vertices)
    sf = np.sort(f, axis=1)
    sf = sf[np.lexsort((sf[:, 2], sf[:, 1], sf[:, 0]))]
    duplicate = int((sf[1:] == sf[:-1]).all(axis=1).sum())
    if duplicate:
        problems.append(f"{duplicate} duplicate faces")

    # directed edges a->b of every face; an undirected edge is shared by exactly two faces in a
    # closed 2-manifold, and consistent winding means the two traverse it in opposite directions.
    # One sort of the undirected keys serves the counts, the winding and the vertex fans.
    a = f.reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    order, k = mesh_edges(mesh)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[starts, len(k)])
    boundary = int((counts == 1).sum())
    nonmanifold = int((counts > 2).sum())
    # within one undirected edge, a repeated direction is a winding fault
    if len(counts) and (counts == 2).all():  # every edge paired: compare each pair's two starts
        directed_dupes = int((a[order[0::2]] == a[order[1::2]]).sum())
    else:  # a repeated directed key (it names its undirected edge: one sort puts repeats together)
        ds = np.sort(a * n + b)
        directed_dupes = int((ds[1:] == ds[:-1]).sum())
    winding_ok = directed_dupes == 0
    if boundary:
        problems.append(f"{boundary} boundary (open) edges: the mesh is not watertight")
    if nonmanifold:
        problems.append(f"{nonmanifold} non-manifold edges (shared by more than two faces)")
    if not winding_ok:
        problems.append(f"winding is not consistent ({directed_dupes} edges traversed twice in the same direction)")

    nm_vertices = nonmanifold_vertex_count(f, n, order=order)
    if nm_vertices:
        problems.append(f"{nm_vertices} non-manifold vertices (faces around them form more than one fan)")

    pending = SelfIntersectionCheck(v, f, self_check_timeout) if self_check_timeout is not None else None

    vol = mesh_signed_volume(mesh)
    if boundary == 0 and winding_ok and vol <= 0:
        problems.append(f"faces point inward (signed volume {vol:.6g} mm^3 <= 0)")

    bodies = count_bodies(v, f)
    if expected_bodies is not None and bodies != expected_bodies:
        problems.append(f"{bodies} separate bodies where the envelope expects {expected_bodies}")

    report = IntegrityReport(
        vertices=n, faces=len(f), degenerate_faces=degenerate, duplicate_faces=duplicate, boundary_edges=boundary,
        nonmanifold_edges=nonmanifold, nonmanifold_vertices=nm_vertices, winding_consistent=winding_ok,
        signed_volume=vol, bodies=bodies, expected_bodies=expected_bodies, self_intersections=None,
        self_intersection_method=_SKIPPED, manifold3d_status="not evaluated",
        unit_check="not evaluated", welding=None if mesh.welding is None else mesh.welding.as_dict(),
        problems=tuple(problems), unevaluated=(f"{_SELF_CHECK_NAME} {_SKIPPED}",))
    if plausible_size is not None and largest_extent is not None:
        report = with_unit_check(report, largest_extent, plausible_size, units=mesh.units,
                                 unit_size_slack=unit_size_slack, size_basis=size_basis)
    return report if pending is None else with_self_check(report, pending.result())


def with_unit_check(report: IntegrityReport, largest_extent: float, plausible_size: tuple[float, float], *,
                    units: str, unit_size_slack: float = 2.0,
                    size_basis: str = "the envelope's plausible size") -> IntegrityReport:
    """The report with the unit-plausibility check filled in (and its problem, if any).

    The check of :func:`check_integrity`, for a caller that measures the largest extent after
    the rest of the gate (``measure`` starts the ray thickness before the oriented box).
    """
    lo, hi = plausible_size
    if lo / unit_size_slack <= largest_extent <= hi * unit_size_slack:
        text = (f"plausible: largest extent {largest_extent:.4g} mm is within {size_basis} [{lo:g}, {hi:g}] mm "
                f"widened by a factor {unit_size_slack:g} ([{lo / unit_size_slack:g}, {hi * unit_size_slack:g}] mm)")
        return replace(report, unit_check=text)
    text = _unit_hint(largest_extent, lo, hi, units, size_basis, unit_size_slack)
    return replace(report, unit_check=text, problems=report.problems + (text,))


def _unit_hint(extent: float, lo: float, hi: float, declared: str, basis: str, slack: float) -> str:
    """Say which unit would make the size plausible, without applying it."""
    declared_factor = LENGTH_UNITS_TO_MM[declared]
    fits = [u for u, k in LENGTH_UNITS_TO_MM.items()
            if u != declared and lo <= extent / declared_factor * k <= hi]
    hint = f"; the numbers would fit if the file were in {' or '.join(fits)}" if fits else ""
    return (f"implausible units: largest extent {extent:.4g} mm (declared '{declared}') is outside {basis} "
            f"[{lo:g}, {hi:g}] mm by more than a factor {slack:g}{hint}")
