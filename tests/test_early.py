"""The measurement's work started ahead of the gate (pmd_envelope.measure.early): the same answers
as measure_mesh starting it itself, never on another mesh, nothing left running."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
        assert pid is not None and _alive(pid)
    assert not _alive(pid)  # killed and reaped
    assert started.index.done()
    with pytest.raises(RuntimeError):  # a pool shut down takes no more work
        started.pool.submit(int)
