"""Through-holes against a flat plate with holes of known diameter and edge distance."""

import numpy as np
import pytest

from conftest import REAL_MESHES
from pmd_envelope.measure.holes import measure_holes
from pmd_envelope.mesh_io import load_mesh
from pmd_envelope.shapes import cap_half_angle_for_span, flat_plate_with_holes, spherical_cap_plate

FEATURE = 60.0


def _by_name(ms):
    return {m.parameter: m for m in ms}


def test_flat_plate_holes_known_diameter_and_edge_distance():
    # hole (x, y, d): ligaments min(x, 60-x, y, 40-y) - d/2 = 13.0 and 12.0 mm
    holes = ((15.0, 20.0, 4.0), (40.0, 15.0, 6.0), (30.0, 30.0, 2.5))
    got = _by_name(measure_holes(flat_plate_with_holes(60.0, 40.0, 2.0, holes), FEATURE))
    assert got["hole_count"].value == 3
    assert got["hole_count"].statistic("genus") == 3
    # the polygon's corners lie on the circle: the circle fit is exact up to round-off
    assert got["hole_diameter"].value == pytest.approx(2.5, abs=1e-9)
    assert got["hole_diameter"].statistic("max") == pytest.approx(6.0, abs=1e-9)
    # 64-gon with a corner pointing at each side: the ligament is exact; 10 - 1.25 = 8.75 for hole 3
    assert got["hole_edge_distance"].value == pytest.approx(8.75, abs=1e-9)
    w = got["hole_edge_distance"].witness
    assert w.distance == pytest.approx(8.75, abs=1e-9)


def test_plate_without_holes():
    got = _by_name(measure_holes(spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0),
                                                     rings=16, segments=64), FEATURE))
    assert got["hole_count"].value == 0 and got["hole_count"].statistic("genus") == 0
    assert "hole_diameter" not in got


def test_real_plate_with_holes():
    got = _by_name(measure_holes(load_mesh(REAL_MESHES / "plate_holes.STL", "mm"), FEATURE))
    # five round through-holes, each a 24-gon, in a 203.2 x 304.8 x 12.7 mm plate with rounded edges
    assert got["hole_count"].value == 5 and got["hole_count"].statistic("genus") == 5
    assert got["hole_diameter"].value == pytest.approx(6.756, abs=1e-3)
    # nearest hole centre x = 166.68 + r; the side is at x = 203.2: ligament 203.2 - 166.68
    assert got["hole_edge_distance"].value == pytest.approx(203.2 - 166.68, abs=1e-3)


def test_known_body_count_gives_the_same_answer():
    # measure_mesh passes the integrity gate's body count instead of counting again
    from pmd_envelope.geometry import count_bodies

    for mesh in (flat_plate_with_holes(60.0, 40.0, 2.0, ((15.0, 20.0, 4.0), (40.0, 15.0, 6.0))),
                 spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=16, segments=64)):
        assert measure_holes(mesh, FEATURE, bodies=count_bodies(mesh.vertices, mesh.faces)) == \
            measure_holes(mesh, FEATURE)


def test_boundary_loops_of_a_surface_with_an_opening():
    from pmd_envelope.measure.holes import _boundary_loops

    # a square annulus: outer rim 0-1-2-3, opening 4-5-6-7, eight triangles between them
    faces = np.array([[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
    loops = _boundary_loops(faces)
    assert [lp.tolist() for lp in loops] == [[0, 1, 2, 3], [5, 4, 7, 6]]
    assert _boundary_loops(np.vstack([faces, [[4, 5, 6], [4, 6, 7]]]))[0].tolist() == [0, 1, 2, 3]
