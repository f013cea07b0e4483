"""The Embree scene handed the mesh as shared buffers against embreex's own copy: the same hits."""

import sys

import numpy as np
import pytest

from csg_shapes import cranial_plate
from pmd_envelope import rays
from pmd_envelope.rays import EmbreeCaster, embree_scene


class _FailingEmbree:
    """The real library, except that Embree reports an error after the scene is built."""

    def __init__(self, lib):
        self._lib = lib

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def rtcGetDeviceError(self, device):  # noqa: N802 (Embree's name)
        self._lib.rtcGetDeviceError(device)
        return 3  # RTC_ERROR_INVALID_OPERATION


@pytest.fixture(scope="module")
def plate():
    # CSG (manifold3d), rotated and moved: a mesh this project's generator did not make
    return cranial_plate(rng=7)[0]


def _casts(mesh, seed=0):
    """First hits of rays from every face centroid along random directions, and along the
    inward normal (the wall-thickness rays), with the start face excluded."""
    v, f = mesh.vertices, mesh.faces
    rng = np.random.default_rng(seed)
    centroids = v[f].mean(axis=1)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.linalg.norm(n, axis=1)[:, None]
    d = rng.normal(size=centroids.shape)
    d /= np.linalg.norm(d, axis=1)[:, None]
    origins = np.vstack([centroids, centroids])
    directions = np.vstack([d, -n])
    start = np.concatenate([np.arange(len(f)), np.arange(len(f))])
    caster = EmbreeCaster(v, f, recast_step=1e-4)
    return caster, caster.first_hit(origins, directions, lambda ray, face: face == start[ray])


def test_shared_buffers_are_used_on_linux():
    # the fast path must really run where CI runs, or the comparisons below compare a path with itself
    if sys.platform.startswith("linux"):
        assert rays._embree_library() is not None
        scene, kept = embree_scene(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]]))
        assert len(kept) == 2 and scene.is_committed == 1


def test_shared_buffers_give_embreex_hits(plate, monkeypatch):
    caster, (t, face) = _casts(plate)
    assert len(caster._buffers) == 2
    assert np.isfinite(t).mean() > 0.5 and (face >= 0).mean() > 0.5  # random rays leave an open cap
    monkeypatch.setattr(rays, "_embree_library", lambda: None)
    copied, (t_copy, face_copy) = _casts(plate)
    assert copied._buffers == ()
    np.testing.assert_array_equal(face, face_copy)
    np.testing.assert_array_equal(t, t_copy)


def test_embree_error_falls_back_to_embreex(plate, monkeypatch):
    _, (t, face) = _casts(plate, seed=1)
    failing = _FailingEmbree(rays._embree_library())
    monkeypatch.setattr(rays, "_embree_library", lambda: failing)
    caster, (t_fb, face_fb) = _casts(plate, seed=1)
    assert caster._buffers == ()
    np.testing.assert_array_equal(face, face_fb)
    np.testing.assert_array_equal(t, t_fb)


def test_scene_handle_checks_the_layout(monkeypatch):
    from embreex import rtcore_scene

    scene = rtcore_scene.EmbreeScene()
    assert rays._scene_handle(scene) is not None
    assert scene.is_committed == 0  # the probe value is put back
    # a field that does not follow the handle where expected: not read as a scene
    monkeypatch.setattr(rays.ctypes, "sizeof", lambda t: 16)
    assert rays._scene_handle(scene) is None


def test_with_step_gives_the_hits_of_a_caster_built_with_that_step(plate):
    # the self-intersection edge rays reuse the ray thickness's index with the least step
    v, f = plate.vertices, plate.faces
    a, b = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)
    start, d = v[a], v[b] - v[a]
    length = np.linalg.norm(d, axis=1)
    d /= length[:, None]

    def incident(ray, face):
        return (f[face] == a[ray, None]).any(axis=1) | (f[face] == b[ray, None]).any(axis=1)

    shared = EmbreeCaster(v, f, recast_step=1e-4).with_step(0.0)
    own = EmbreeCaster(v, f, recast_step=0.0)
    assert shared.recast_step == own.recast_step < 1e-4
    t1, h1 = shared.first_hit(start, d, incident, t_max=length)
    t2, h2 = own.first_hit(start, d, incident, t_max=length)
    assert np.array_equal(h1, h2) and np.array_equal(t1, t2) and (h1 >= 0).any()
