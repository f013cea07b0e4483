"""The integrity gate on analytic shapes and on real-world meshes (shared/real-meshes)."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import REAL_MESHES
from pmd_envelope.errors import InputFileError, MeshError, UnitError
from pmd_envelope.integrity import SELF_CHECK_METHOD_HERE, check_integrity
from pmd_envelope.measure.core import measure_mesh
from pmd_envelope.mesh_io import load_mesh, mesh_from_arrays, write_binary_stl
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate


@pytest.fixture
def cap():
    return spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=16, segments=64)


def test_clean_cap_passes(cap):
    rep = check_integrity(cap, expected_bodies=1, plausible_size=(20.0, 250.0), largest_extent=100.0)
    assert rep.passed, rep.problems
    assert rep.bodies == 1 and rep.boundary_edges == 0 and rep.winding_consistent


def test_open_mesh_reported(cap):
    m = mesh_from_arrays(cap.vertices, cap.faces[1:])
    rep = check_integrity(m)
    assert rep.boundary_edges == 3
    assert any("watertight" in p for p in rep.problems)


def test_flipped_face_breaks_winding(cap):
    f = np.array(cap.faces)
    f[10] = f[10, ::-1]
    rep = check_integrity(mesh_from_arrays(cap.vertices, f))
    assert not rep.winding_consistent


def test_inside_out_reported(cap):
    rep = check_integrity(mesh_from_arrays(cap.vertices, np.array(cap.faces)[:, ::-1]))
    assert rep.winding_consistent and rep.signed_volume < 0
    assert any("inward" in p for p in rep.problems)


def test_degenerate_and_duplicate_faces(cap):
    f = np.vstack([cap.faces, cap.faces[:1], [[0, 0, 1]]])
    rep = check_integrity(mesh_from_arrays(cap.vertices, f))
    assert rep.duplicate_faces == 1
    assert rep.degenerate_faces == 1


def test_inch_file_declared_mm_is_an_error(cap, tmp_path):
    p = tmp_path / "plate.stl"
    write_binary_stl(p, np.array(cap.vertices) / 25.4, cap.faces)  # a 100 mm plate written in inches
    mesh = load_mesh(p, "mm")
    mm = measure_mesh(mesh, DEFAULT_SETTINGS, expected_bodies=1, plausible_size=(20.0, 250.0))
    assert not mm.integrity.passed
    assert mm.integrity.unit_check.endswith("would fit if the file were in cm or in")
    ok = measure_mesh(load_mesh(p, "in"), DEFAULT_SETTINGS, expected_bodies=1, plausible_size=(20.0, 250.0))
    assert ok.integrity.passed
    # 64-gon rim: the box spans 100 cos(pi/64) = 99.88 to 100 mm
    assert 99.87 <= ok.get("span").value <= 100.0 + 1e-4


def test_measure_reports_the_gate_of_check_integrity(cap, tmp_path):
    # measure runs the gate, then the unit check once the box gives the span (with_unit_check):
    # the report must be the one check_integrity gives with that span, problems in the same order
    p = tmp_path / "open_inch_plate.stl"
    write_binary_stl(p, np.array(cap.vertices) / 25.4, cap.faces[:-3])  # inches, and open
    mesh = load_mesh(p, "mm")
    mm = measure_mesh(mesh, DEFAULT_SETTINGS, expected_bodies=2, plausible_size=(20.0, 250.0))
    direct = check_integrity(mesh, expected_bodies=2, plausible_size=(20.0, 250.0),
                             largest_extent=mm.get("span").value)
    assert len(direct.problems) >= 3 and direct.problems[-1].startswith("implausible units")
    # the same answer; only the method says where the edges were cast (measure: on its own index)
    assert mm.integrity.self_intersection_method == SELF_CHECK_METHOD_HERE
    assert replace(mm.integrity, self_intersection_method=direct.self_intersection_method) == direct


def test_loader_errors(tmp_path):
    with pytest.raises(InputFileError, match="not.stl.*cannot read"):
        load_mesh(tmp_path / "not.stl", "mm")
    (tmp_path / "x.xyz").write_text("1 2 3")
    with pytest.raises(InputFileError, match="unsupported mesh format"):
        load_mesh(tmp_path / "x.xyz", "mm")
    with pytest.raises(UnitError, match="unit 'furlong' is not known"):
        load_mesh(tmp_path / "x.xyz", "furlong")
    p = tmp_path / "nan.stl"
    write_binary_stl(p, np.array([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]]), np.array([[0, 1, 2]]))
    with pytest.raises(MeshError, match="non-finite"):
        load_mesh(p, "mm")


def test_real_soup():
    rep = check_integrity(load_mesh(REAL_MESHES / "soup.stl", "mm"), expected_bodies=1)
    assert rep.bodies == 100
    assert rep.boundary_edges == 300
    assert not rep.passed


def test_real_multibody():
    rep = check_integrity(load_mesh(REAL_MESHES / "multibody.stl", "mm"), expected_bodies=1)
    assert rep.bodies == 2
    assert not rep.winding_consistent


def test_real_cube_20mm():
    mesh = load_mesh(REAL_MESHES / "20mm-xyz-cube.stl", "mm")
    mm = measure_mesh(mesh, DEFAULT_SETTINGS, expected_bodies=1)
    assert mm.integrity.bodies == 1
    assert mm.get("span").value == pytest.approx(20.0, abs=0.05)
    assert mm.get("extent_min").value == pytest.approx(20.0, abs=0.05)


def test_real_seven_eighths_cube_sharp_edges_do_not_fake_thin_walls():
    mesh = load_mesh(REAL_MESHES / "7_8ths_cube.stl", "mm")
    mm = measure_mesh(mesh, DEFAULT_SETTINGS, expected_bodies=1)
    assert mm.integrity.passed, mm.integrity.problems
    size = mm.get("span").value
    # every wall of the 7/8 cube is half its size thick or more: no face may report less
    assert mm.get("wall_thickness").value >= size / 2 - 1e-4  # float32 engine


def test_real_3mf_loads_as_one_part():
    # the same part exported by its CAD system as 3MF and as STL (tests/data/real): one body, the
    # same bounding box, and the same volume to the tessellation's 0.1 %
    from pmd_envelope.geometry import mesh_signed_volume

    mesh = load_mesh(REAL_MESHES / "featuretype.3MF", "mm")
    stl = load_mesh(REAL_MESHES / "featuretype.STL", "mm")
    assert check_integrity(mesh, self_check_timeout=None).bodies == 1
    np.testing.assert_allclose(np.ptp(mesh.vertices, axis=0), [5.0, 2.5, 1.375], atol=1e-6)
    np.testing.assert_allclose(np.ptp(stl.vertices, axis=0), [5.0, 2.5, 1.375], atol=1e-6)
    assert abs(mesh_signed_volume(mesh) / mesh_signed_volume(stl) - 1) < 1e-3


def test_clean_cap_has_no_self_intersection_or_bowtie(cap):
    rep = check_integrity(cap)
    assert rep.self_intersections == 0 and rep.nonmanifold_vertices == 0
    assert rep.manifold3d_status == "NoError"
    assert "worker process" in rep.self_intersection_method


def test_overlapping_boxes_self_intersect():
    import trimesh

    a, b = trimesh.creation.box(), trimesh.creation.box()
    b.apply_translation([0.5, 0.5, 0.5])
    rep = check_integrity(mesh_from_arrays(np.vstack([a.vertices, b.vertices]), np.vstack([a.faces, b.faces + 8])))
    # unit cubes offset by half a side along the diagonal: the 3 axis edges from A's corner
    # (0.5, 0.5, 0.5) pierce B's faces x=0, y=0, z=0 at interior points such as (0, 0.5, 0.5),
    # and symmetrically for B: at least 6 edges (face diagonals may add more)
    assert rep.self_intersections >= 6
    assert any("intersects itself" in p for p in rep.problems)


def test_bowtie_vertex_is_non_manifold():
    import trimesh

    box = trimesh.creation.box()
    v = np.vstack([box.vertices, box.vertices + 1.0])
    f = np.vstack([box.faces, box.faces + 8])
    corner = int(np.flatnonzero(np.all(v[:8] == 0.5, axis=1))[0])
    other = 8 + int(np.flatnonzero(np.all(v[8:] == 0.5, axis=1))[0])
    f[f == other] = corner  # two cubes touching at one shared vertex
    rep = check_integrity(mesh_from_arrays(v, f))
    assert rep.nonmanifold_vertices == 1
    assert rep.nonmanifold_edges == 0 and rep.boundary_edges == 0


def _pinched(*parts, at):
    """Closed meshes translated so their vertices ``at`` (one index per part) meet, then merged."""
    vs, fs, offset, target = [], [], 0, None
    for (v, f), i in zip(parts, at):
        v = v - v[i]
        f = f + offset
        if target is None:
            target = i
        else:
            f[f == i + offset] = target
        vs.append(v)
        fs.append(f)
        offset += len(v)
    return np.vstack(vs), np.vstack(fs)


def test_nonmanifold_vertices_walk_agrees_with_the_corner_graph():
    # the rotation walk (closed, consistently wound meshes) and the general corner graph count
    # the same bow ties: low valence (cubes), and above the walk's rounds (cone apexes, whose
    # valence is the cone's sections) where the walk hands over to pointer doubling
    import trimesh

    from pmd_envelope import integrity

    def cone(sections, flip=False):
        c = trimesh.creation.cone(radius=1.0, height=2.0, sections=sections)
        v, f = np.asarray(c.vertices, dtype=float), np.asarray(c.faces)
        if flip:  # mirrored through z = 0, its winding reversed so it stays outward
            v, f = v * [1.0, 1.0, -1.0], f[:, ::-1]
        return v, f, int(np.argmax(v[:, 2] * (-1 if flip else 1)))

    box = trimesh.creation.box()
    cube = (np.asarray(box.vertices, dtype=float), np.asarray(box.faces))
    high = cone(3 * integrity._WALK_ROUNDS)
    assert len(high[1]) > 2 * integrity._WALK_ROUNDS  # the apex's valence exceeds the walk's rounds
    cases = {
        "one cube": (cube, 0),
        "two cubes at a corner": (_pinched(cube, cube, at=(6, 0)), 1),
        "three cubes at a corner": (_pinched(cube, cube, cube, at=(7, 0, 0)), 1),
        "one high-valence cone": (high[:2], 0),
        "two cones at their apexes": (_pinched(high[:2], cone(3 * integrity._WALK_ROUNDS, flip=True)[:2],
                                               at=(high[2], cone(3 * integrity._WALK_ROUNDS, flip=True)[2])), 1),
        "a cone and a cube at the apex": (_pinched(high[:2], cube, at=(high[2], 0)), 1),
        "a small cone and a cube": (_pinched(cone(5)[:2], cube, at=(cone(5)[2], 0)), 1),
    }
    for name, ((v, f), expected) in cases.items():
        n = len(v)
        a, b = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)
        key = np.minimum(a, b) * n + np.maximum(a, b)
        order = np.argsort(key, kind="stable")
        walked = integrity.nonmanifold_vertex_count(f, n)
        graph = integrity._fans_by_graph(a, b, n, order, key[order])
        assert walked == graph == expected, name
        rep = check_integrity(mesh_from_arrays(v, f), self_check_timeout=None)
        assert rep.boundary_edges == 0 and rep.nonmanifold_edges == 0, name  # the walk's path, not the graph's
        assert rep.nonmanifold_vertices == expected, name


def test_self_check_can_be_skipped_and_says_so(cap):
    rep = check_integrity(cap, self_check_timeout=None)
    assert rep.self_intersections is None and rep.self_intersection_method.startswith("not evaluated")


def test_repair_is_logged_with_both_hashes():
    from pmd_envelope.repair import repair_mesh

    mesh = load_mesh(REAL_MESHES / "multibody.stl", "mm")
    fixed, log = repair_mesh(mesh)
    assert log["sha256_before"] == mesh.sha256 != log["sha256_after"] == fixed.sha256
    assert log["before"]["winding_consistent"] is False and log["after"]["winding_consistent"] is True
