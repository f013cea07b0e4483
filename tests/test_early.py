"""The measurement's work started ahead of the gate (pmd_envelope.measure.early): the same answers
as measure_mesh starting it itself, never on another mesh, nothing left running."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import ROOT, process_alive
from pmd_envelope.integrity import SELF_CHECK_METHOD_HERE, SelfIntersectionCheck
from pmd_envelope.measure.core import measure_mesh
from pmd_envelope.measure.early import start_measurement
from pmd_envelope.mesh_io import mesh_from_arrays
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate


@pytest.fixture(scope="module")
def pierced():
    """A cap plate with a sliver from far below to far above it: the sliver's long edges pierce
    the cap, so the self-intersection count is positive (the worker casting every edge itself,
    with its own index, says how many)."""
    cap = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=12, segments=48)
    n = len(cap.vertices)
    v = np.vstack([cap.vertices, [[0.0, 0.0, -200.0], [0.0, 0.0, 200.0], [1.0, 0.0, 200.0]]])
    return mesh_from_arrays(v, np.vstack([cap.faces, [[n, n + 1, n + 2]]]))


def test_started_ahead_gives_what_measure_mesh_gives_alone(pierced):
    alone = measure_mesh(pierced, DEFAULT_SETTINGS)
    with start_measurement(pierced, DEFAULT_SETTINGS) as started:
        ahead = measure_mesh(pierced, DEFAULT_SETTINGS, started=started)
    assert ahead.integrity == alone.integrity
    assert [m.as_dict() for m in ahead.measurements] == [m.as_dict() for m in alone.measurements]
    worker = SelfIntersectionCheck(pierced.vertices, pierced.faces).result()  # edges cast in the worker
    assert worker[0] > 0 and ahead.integrity.self_intersections == worker[0]
    assert ahead.integrity.self_intersection_method == SELF_CHECK_METHOD_HERE
    assert ahead.integrity.manifold3d_status == worker[2]


def test_started_on_another_mesh_or_offset_is_refused(pierced):
    other = mesh_from_arrays(pierced.vertices.copy(), pierced.faces.copy())  # equal arrays, another mesh
    with start_measurement(pierced, DEFAULT_SETTINGS) as started:
        with pytest.raises(ValueError, match="another mesh or ray offset"):
            measure_mesh(other, DEFAULT_SETTINGS, started=started)
        with pytest.raises(ValueError, match="another mesh or ray offset"):
            measure_mesh(pierced, replace(DEFAULT_SETTINGS, ray_offset_mm=2e-4), started=started)


def test_leaving_it_ends_the_worker_and_the_threads(pierced):
    with start_measurement(pierced, DEFAULT_SETTINGS) as started:
        pid = started._check.pid
        assert pid is not None and process_alive(pid)
    assert not process_alive(pid)  # killed and reaped
    assert started.index.done()
    with pytest.raises(RuntimeError):  # a pool shut down takes no more work
        started.pool.submit(int)


def test_the_workers_box_is_the_box_measured_here_bit_for_bit(pierced):
    """The worker measures the oriented box (selfcheck_worker.box_extents) so the measuring
    process does not: on public meshes, a CSG plate and an analytic plate, its extents are the
    ones oriented_extents gives here, to the last bit, and its status line still follows."""
    from threadpoolctl import threadpool_limits

    from csg_shapes import cranial_plate
    from pmd_envelope.measure.extents import oriented_extents
    from pmd_envelope.mesh_io import load_mesh

    real = ROOT / "tests" / "data" / "real"
    meshes = [load_mesh(real / name, "mm") for name in ("plate_holes.STL", "round.stl", "teapot.stl", "tet.ply")]
    meshes += [cranial_plate(rng=7)[0], pierced]
    for mesh in meshes:
        with threadpool_limits(limits=1, user_api="blas"):
            here = tuple(float(x) for x in oriented_extents(mesh.vertices)[0])
        check = SelfIntersectionCheck(mesh.vertices, mesh.faces, edges=False, box=True)
        assert check.box_extents() == here
        assert check.result()[2] in ("NoError", "NotManifold")


def test_the_status_line_read_with_the_box_line_is_kept(pierced):
    """Both lines may arrive in one read of the pipe (the worker done before the box is asked
    for): the status past the box line is handed to result(), not lost."""
    check = SelfIntersectionCheck(pierced.vertices, pierced.faces, edges=False, box=True)
    check._proc.wait()  # the worker has written both lines and ended
    assert check.box_extents() is not None
    count, method, status = check.result()
    alone = SelfIntersectionCheck(pierced.vertices, pierced.faces, edges=False).result()  # no box line
    assert count is None and not method.startswith("not evaluated") and status == alone[2] == "NotManifold"


def test_no_box_from_the_worker_means_it_is_measured_here(pierced, monkeypatch):
    from pmd_envelope.measure import early

    alone = measure_mesh(pierced, DEFAULT_SETTINGS)
    monkeypatch.setattr(early.StartedMeasurement, "box_extents", lambda self: None)
    here = measure_mesh(pierced, DEFAULT_SETTINGS)
    assert [m.as_dict() for m in here.measurements] == [m.as_dict() for m in alone.measurements]
    assert here.integrity == alone.integrity


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
def test_box_extents_gives_none_when_the_box_cannot_be_measured():
    from pmd_envelope.selfcheck_worker import box_extents

    assert box_extents(np.zeros((0, 3))) is None  # the caller then measures it and meets the error itself
    assert box_extents(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])) is not None
