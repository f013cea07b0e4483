"""Extents, volume, area and curvature against closed-form truth."""

import numpy as np
import pytest

from pmd_envelope.measure.extents import measure_extents, oriented_extents, sphere_fit
from pmd_envelope.shapes import cap_half_angle_for_span, cap_plate_truth, spherical_cap_plate


@pytest.mark.parametrize("r,t,span", [(80.0, 2.0, 100.0), (100.0, 1.08, 139.5)])
def test_cap_plate_extents_volume_radius(r, t, span):
    a = cap_half_angle_for_span(r, t, span)
    mesh = spherical_cap_plate(r, t, a, rings=48, segments=256)
    truth = cap_plate_truth(r, t, a)
    got = {m.parameter: m.value for m in measure_extents(mesh)}
    # the rim is a 256-gon inscribed in the rim circle: the box spans D*cos(pi/256) to D
    assert span * np.cos(np.pi / 256) - 1e-9 <= got["span"] <= span + 1e-9
    assert got["extent_min"] == pytest.approx(truth["height"], abs=1e-6)
    # inscribed facets lose volume ~ sagitta * area: relative error ~ h^2 / (8 R^2) < 2e-4
    assert got["volume"] == pytest.approx(truth["volume"], rel=5e-4)
    assert got["radius_of_curvature"] == pytest.approx(r, abs=1e-6)


def test_obb_is_orientation_independent():
    from scipy.spatial.transform import Rotation

    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=128)
    e0, _ = oriented_extents(np.array(mesh.vertices))
    rot = Rotation.from_euler("xyz", [31.0, -47.0, 12.0], degrees=True)
    e1, _ = oriented_extents(rot.apply(np.array(mesh.vertices)) + [100.0, -20.0, 300.0])
    assert e1 == pytest.approx(e0, abs=1e-6)


def test_sphere_fit_exact_points():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(200, 3))
    pts = d / np.linalg.norm(d, axis=1, keepdims=True) * 42.0 + [1.0, 2.0, 3.0]
    c, r, resid = sphere_fit(pts)
    assert r == pytest.approx(42.0, abs=1e-9)
    assert c == pytest.approx([1.0, 2.0, 3.0], abs=1e-9)
    assert resid < 1e-9


def test_hull_prefilter_keeps_every_hull_vertex():
    """The Akl-Toussaint prefilter of the 2D hulls drops only points that are not hull vertices:
    qhull on the kept points gives the same hull as on all points (ties on axis-aligned grids,
    points on a circle, a rotated square's edges, collinear sets, clouds and a cap's projection)."""
    from scipy.spatial import ConvexHull, QhullError

    from pmd_envelope.measure.extents import _hull_candidates
    from pmd_envelope.shapes import spherical_cap_plate

    rng = np.random.default_rng(4)
    g = np.arange(60.0)
    angle = rng.uniform(0, 2 * np.pi, 5000)
    square = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    cap = spherical_cap_plate(80.0, 2.0, 0.6, rings=24, segments=96).vertices
    sets = {
        "gaussian": rng.normal(size=(20_000, 2)),
        "circle": np.column_stack([np.cos(angle), np.sin(angle)]) * 50.0 + 7.0,
        "grid": square,
        "rotated grid": square @ turn.T + 1e3,
        "line": np.column_stack([g, 2 * g + 1]),
        "cap from above": cap[:, :2],
        "cap edge-on": cap[:, 1:],
        "few": rng.normal(size=(5, 2)),
    }
    for name, p2 in sets.items():
        kept = _hull_candidates(p2)
        try:
            whole = p2[ConvexHull(p2).vertices]
        except QhullError:  # collinear: the caller falls back on the points themselves
            assert len(kept) == len(p2), name
            continue
        part = p2[kept][ConvexHull(p2[kept]).vertices]
        assert sorted(map(tuple, whole)) == sorted(map(tuple, part)), name
        if name in ("gaussian", "cap from above"):
            assert len(kept) < len(p2) / 5, name  # and it does drop most of a cloud
