"""The part of a mesh's measurement that needs no gate, started as soon as the mesh is read.

Four things need only the mesh's arrays, not the gate's verdict: in the self-intersection
worker process, the oriented bounding box and then manifold3d's status; here, the embree index
(the ray thickness's, later) and on it the self-intersection check's edge rays.
:func:`start_measurement` starts them; the caller then goes on (importing and gating) while
they run, and hands the started work to :func:`pmd_envelope.measure.core.measure_mesh`, which
starts it itself when given none, so both paths run the same code.

This module imports only what the read needs already and the ray casters, so a caller can read a
mesh, start this, and only then import the rest of the measurement: the CLI does, so the index
build and the worker's start on the mesh run on the core its imports leave idle (1M faces,
alternating runs: see README, Measurement benchmark).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from pmd_envelope.geometry import MeshData
from pmd_envelope.integrity import SelfIntersectionCheck, joined_self_check
from pmd_envelope.rays import EmbreeCaster
from pmd_envelope.selfcheck_worker import edge_crossings
from pmd_envelope.settings import Settings

__all__ = ["StartedMeasurement", "start_measurement"]


class StartedMeasurement:
    """The measurement's work started on one mesh ahead of its gate (:func:`start_measurement`).

    ``index`` is a future of the :class:`pmd_envelope.rays.EmbreeCaster` built with
    ``settings.ray_offset_mm``; ``pool`` is the thread pool that runs it and the edge rays (two
    threads: the ray thickness is submitted to it once the gate has run). Use as a context
    manager: leaving it waits for the threads and ends the worker process.
    """

    def __init__(self, mesh: MeshData, settings: Settings):
        self.mesh = mesh
        self.ray_offset_mm = settings.ray_offset_mm
        # the worker first: its feeder thread hands it the mesh while the index builds
        self._check = SelfIntersectionCheck(mesh.vertices, mesh.faces, edges=False, box=True)
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.index: Future = self.pool.submit(EmbreeCaster, mesh.vertices, mesh.faces, settings.ray_offset_mm)
        self._edges: Future = self.pool.submit(lambda: edge_crossings(mesh.vertices, mesh.faces, self.index.result()))

    def box_extents(self) -> tuple[float, float, float] | None:
        """The oriented box's extents [mm] from the worker, waiting for them; None when it gave
        none (it failed, or the check runs in this process): then measure the box here
        (:meth:`pmd_envelope.integrity.SelfIntersectionCheck.box_extents`)."""
        return self._check.box_extents()

    def self_check(self) -> tuple[int | None, str, str]:
        """The self-intersection check's ``(count or None, method or why not evaluated, manifold3d
        status)`` (:func:`pmd_envelope.integrity.joined_self_check`): waits for both parts."""
        try:
            crossings = self._edges.result()
        except Exception as exc:  # the check did not run: not evaluated, with the reason
            crossings = exc
        return joined_self_check(crossings, self._check.result())

    def close(self) -> None:
        """Wait for the threads (work not begun is dropped) and end the worker if it still runs."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._check.close()

    def __enter__(self) -> "StartedMeasurement":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_measurement(mesh: MeshData, settings: Settings) -> StartedMeasurement:
    """Start the work on ``mesh`` that needs no gate (module notes); use the result as a context
    manager and pass it to :func:`pmd_envelope.measure.core.measure_mesh` as ``started``."""
    return StartedMeasurement(mesh, settings)
