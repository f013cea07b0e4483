"""Reading: bit-identical corners are one vertex, corners within the weld tolerance are welded and
counted, and two vertices farther apart than the tolerance are never one."""

import numpy as np
import pytest

from pmd_envelope.mesh_io import load_mesh, weld_corners, write_binary_stl


def _tetra(scale=10.0):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64) * scale
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return v[f].reshape(-1, 3)


def test_bit_identical_and_signed_zero_corners_are_one_vertex():
    corners = _tetra()
    corners[3] = -0.0  # corner of the second face at the origin, written as -0.0
    v, f, w = weld_corners(corners)
    assert len(v) == 4 and w.identical_vertices == 4 and w.welded == 0
    assert w.corners == 12


def test_corners_within_the_tolerance_are_welded_and_recorded():
    corners = _tetra()
    corners[4] += [0.0, 6e-17, 0.0]  # the CAD exporter's 1.0 and 1.0 + 6e-17 (relative 6e-18)
    corners[9] += [3e-6, 0.0, 0.0]   # 3e-7 of the 10 mm size: within 1e-6
    v, f, w = weld_corners(corners, 1e-6)
    assert len(v) == 4 and w.identical_vertices == 6 and w.welded == 2
    assert w.tolerance == pytest.approx(1e-5)
    assert w.max_distance == pytest.approx(3e-6)
    # the vertex seen first keeps its coordinates: nothing else moves
    np.testing.assert_array_equal(v, _tetra()[[0, 1, 2, 5]])


def test_vertices_just_above_the_tolerance_stay_two():
    corners = _tetra()
    corners[9] += [1.0001e-5, 0.0, 0.0]  # just above 1e-6 of the 10 mm size
    v, f, w = weld_corners(corners, 1e-6)
    assert len(v) == 5 and w.welded == 0


def test_a_chain_longer_than_the_tolerance_is_not_welded():
    """a-b and b-c are within the tolerance, a-c is not: welding all three would join two vertices
    farther apart than the tolerance, so none is welded and the group is counted."""
    corners = _tetra()
    corners[4] += [0.8e-5, 0.0, 0.0]
    corners[9] = corners[2] + [1.6e-5, 0.0, 0.0]
    v, f, w = weld_corners(corners, 1e-6)
    assert w.unwelded_groups == 1 and w.welded == 0 and len(v) == 6


def test_zero_tolerance_is_identity_only():
    corners = _tetra()
    corners[4] += [0.0, 6e-17, 0.0]
    v, _, w = weld_corners(corners, 0.0)
    assert len(v) == 5 and w.welded == 0 and w.tolerance == 0.0


def test_load_mesh_records_the_welding(tmp_path):
    corners = _tetra()
    corners[4] += [0.0, 1e-6, 0.0]  # float32-representable offset: survives the binary STL
    p = tmp_path / "t.stl"
    write_binary_stl(p, corners, np.arange(12).reshape(-1, 3))
    mesh = load_mesh(p, "mm")
    assert len(mesh.vertices) == 4 and mesh.welding.welded == 1
    assert load_mesh(p, "mm", weld_relative_tolerance=0.0).welding.welded == 0


def test_degenerate_coordinates_are_refused_not_welded_into_memory(tmp_path):
    """Fuzzing found it: 3000 corners crowded near the origin and one vertex 1e9 away make the
    relative tolerance (1e3) wider than the crowd, so every pair is a weld candidate. Counted
    first and refused as bad input with one line, instead of listing ~4.5 million pairs."""
    from pmd_envelope.errors import MeshError

    rng = np.random.default_rng(7)
    corners = rng.uniform(-1.0, 1.0, (3000, 3))
    corners[-1] = [1e9, 0.0, 0.0]
    p = tmp_path / "garbage.stl"
    write_binary_stl(p, corners, np.arange(3000).reshape(-1, 3))
    with pytest.raises(MeshError, match="garbage.stl.*coordinates are degenerate"):
        load_mesh(p, "mm")


@pytest.mark.parametrize("kind", ["grid", "random", "pairs_at_the_tolerance", "crowd"])
def test_the_close_pair_bound_never_undercounts(kind):
    """The weld's cheap bound decides whether the exact count runs: it must never be below the
    exact number of pairs within the tolerance (scipy's count), on CAD grids, random points,
    pairs just inside the tolerance along the bound's own direction (a narrower window misses
    them), and a degenerate crowd."""
    from scipy.spatial import cKDTree

    from pmd_envelope.mesh_io import close_pairs_bound

    rng = np.random.default_rng(11)
    tol = 1e-3
    if kind == "grid":  # an axis-aligned grid with rows 1/2 tol apart: many pairs along each axis
        g = np.arange(40) * (tol / 2)
        pts = np.stack(np.meshgrid(g, g, g[:5], indexing="ij"), axis=-1).reshape(-1, 3) + 100.0
    elif kind == "random":
        pts = rng.uniform(-50.0, 50.0, (20_000, 3))
    elif kind == "pairs_at_the_tolerance":  # along the bound's own direction: the sharpest case
        from pmd_envelope.mesh_io import _GENERIC_DIRECTION

        base = rng.uniform(-50.0, 50.0, (3000, 3))
        pts = np.vstack([base, base + _GENERIC_DIRECTION * tol * (1.0 - 1e-9)])
    else:
        pts = rng.uniform(-tol, tol, (2000, 3))
    exact = (int(cKDTree(pts).count_neighbors(cKDTree(pts), tol)) - len(pts)) // 2
    bound = close_pairs_bound(pts, tol)
    assert bound >= exact
    if kind == "pairs_at_the_tolerance":
        assert exact >= 3000
    if kind == "random":  # and it is tight enough to skip the exact count on a sparse cloud
        assert bound <= 4 * len(pts)


@pytest.mark.parametrize("kind", ["grid", "random", "pairs_at_the_tolerance", "just_above", "clusters"])
def test_close_pairs_are_the_k_d_trees_pairs(kind):
    """The weld lists its pairs from the bound's candidates instead of a k-d tree: the same set
    as scipy's ``query_pairs``, including pairs at a hair inside and outside the tolerance."""
    from scipy.spatial import cKDTree

    from pmd_envelope.mesh_io import _GENERIC_DIRECTION, close_pairs

    rng = np.random.default_rng(5)
    tol = 1e-3
    if kind == "grid":
        g = np.arange(30) * (tol / 2)
        pts = np.stack(np.meshgrid(g, g, g[:4], indexing="ij"), axis=-1).reshape(-1, 3) - 20.0
    elif kind == "random":
        pts = rng.uniform(-50.0, 50.0, (20_000, 3))
        pts[0::2][:3000] = pts[1::2][:3000] + rng.uniform(-tol, tol, (3000, 3)) / 2  # some pairs within tol
    elif kind == "pairs_at_the_tolerance":
        base = rng.uniform(-50.0, 50.0, (3000, 3))
        pts = np.vstack([base, base + _GENERIC_DIRECTION * tol * (1.0 - 1e-9)])
    elif kind == "just_above":
        base = rng.uniform(-50.0, 50.0, (3000, 3))
        axis = np.eye(3)[rng.integers(0, 3, 3000)]
        pts = np.vstack([base, base + axis * tol * (1.0 + 1e-9)])
    else:  # tight clusters of 2-5 points (a CAD exporter's rounding), far apart
        centres = rng.uniform(-50.0, 50.0, (2000, 3))
        pts = np.repeat(centres, rng.integers(2, 6, 2000), axis=0)
        pts = pts + rng.uniform(-tol / 4, tol / 4, pts.shape)
    expected = {tuple(p) for p in cKDTree(pts).query_pairs(tol, output_type="ndarray").tolist()}
    got = close_pairs(pts, tol, budget=len(pts) ** 2)
    assert got is not None and {tuple(p) for p in got.tolist()} == expected and len(got) == len(expected)
    if kind != "just_above":
        assert len(expected) >= 2000
    if kind == "just_above":
        assert len(expected) == 0
    assert close_pairs(pts, tol, budget=-1) is None  # above the budget: the caller asks the tree


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_corners_survive_colliding_keys(monkeypatch, dtype):
    """Corners are mixed into one 64-bit key per corner, which two different corners could share:
    the corner-by-corner check catches it and the exact keys decide. Forced here by giving every
    corner the same key; the vertices, their order and the codes are those of the exact rule."""
    from pmd_envelope import mesh_io

    rng = np.random.default_rng(3)
    pts = rng.uniform(-10.0, 10.0, (500, 3)).astype(dtype)
    corners = pts[rng.integers(0, 500, 3000)]
    corners[::5] *= -1.0  # sign flips: -x is not x
    corners[::7] = -0.0  # signed zeros: -0.0 is 0.0
    corners[::11] = 0.0
    expected_v, expected_codes = mesh_io._identical(corners)
    monkeypatch.setattr(mesh_io, "_mixed_keys", lambda wide, shift: np.zeros(len(wide), dtype=np.uint64))
    v, codes = mesh_io._identical(corners)
    np.testing.assert_array_equal(v, expected_v)
    np.testing.assert_array_equal(codes, expected_codes)
    # and both are the rule itself: first appearance order, one vertex per distinct point
    flat = corners.astype(np.float64) + 0.0
    _, first = np.unique(flat, axis=0, return_index=True)
    assert len(v) == len(first)
    np.testing.assert_array_equal(v[codes], flat)
    assert (np.diff(codes[np.sort(first)]) == 1).all() and codes[0] == 0
