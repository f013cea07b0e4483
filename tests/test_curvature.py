"""Radius of curvature of the bone-facing surface against CSG shapes of known radius.

Every shape is built by manifold3d booleans (tests/csg_shapes.py), independently of
pmd_envelope.shapes, and placed by a seeded random rigid transform (scanner coordinates).
"""

import numpy as np
import pytest

from csg_shapes import chamfered_plate, cranial_plate, filleted_plate, flat_plate_one_hole, slotted_plate, solid
from pmd_envelope.measure.curvature import bone_surface_fit, measure_curvature
from pmd_envelope.measure.extents import concave_surface_radius, measure_extents, sphere_fit
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings

# The fit uses the interior vertices of the bone-facing patch, which manifold3d's sphere puts
# exactly on the sphere: the radius is exact up to float64 rounding (~1e-13 mm measured). The
# assertion leaves 1e-6 mm, far inside U = 1 mm.
RADIUS_TOL_MM = 1e-6

PLATES = {
    "cranial R80 t2 16 holes": lambda: cranial_plate(80.0, 2.0),
    "cranial R60 t1 16 holes": lambda: cranial_plate(60.0, 1.0, 40.0, rng=11),
    "slotted R60 t1 cylinder rim": lambda: slotted_plate(60.0, 1.0),
    "slotted R120 t3 cylinder rim": lambda: slotted_plate(120.0, 3.0, 40.0, rng=12),
    "chamfered R120 t3": lambda: chamfered_plate(120.0, 3.0),
}


@pytest.fixture(scope="module", params=sorted(PLATES))
def plate(request):
    return PLATES[request.param]()


def test_radius_of_the_bone_facing_surface_only(plate):
    mesh, truth = plate
    m = measure_curvature(mesh)
    assert m.value == pytest.approx(truth["radius_of_curvature"], abs=RADIUS_TOL_MM)
    assert m.statistic("rms_residual") < 1e-9
    # the bone-facing surface is a bit less than half the area (the outer one is larger, hole
    # walls and rim take the rest); the holes' and rim's walls are not in it
    assert 0.40 < m.statistic("area_fraction") < 0.5
    assert m.statistic("faces") >= 1000


def test_fitted_faces_point_at_the_centre(plate):
    # what was fitted is the concave surface and nothing else: every fitted face looks at the
    # centre within the stated angle, and no vertex of a fitted face is off the sphere by more
    # than the tessellation's sagitta
    mesh, truth = plate
    fit = bone_surface_fit(mesh)
    c = np.array(fit.centre)
    v, f = mesh.vertices, mesh.faces[fit.faces]
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    to_c = c - v[f].mean(axis=1)
    cos = np.einsum("ij,ij->i", n, to_c) / np.linalg.norm(to_c, axis=1)
    assert cos.min() >= np.cos(np.radians(DEFAULT_SETTINGS.curvature_normal_angle_deg))
    r = np.linalg.norm(v[np.unique(f)] - c, axis=1)
    assert truth["radius_of_curvature"] - truth["sagitta_inner"] - 1e-9 <= r.min()
    assert r.max() <= truth["radius_of_curvature"] + 1e-9


def test_chamfer_joined_to_the_surface_is_trimmed():
    # the 45 deg chamfer and the rim are one smooth patch with the bone-facing surface at the
    # 60 deg feature angle; the fit must still see only the sphere
    mesh, truth = chamfered_plate(120.0, 3.0)
    from pmd_envelope.measure.holes import smooth_patches

    labels = smooth_patches(mesh, DEFAULT_SETTINGS.feature_angle_deg)
    fit = bone_surface_fit(mesh)
    joined = labels == labels[fit.faces[0]]
    assert joined.sum() > len(fit.faces)  # the patch holds more than what was fitted
    assert fit.radius == pytest.approx(120.0, abs=RADIUS_TOL_MM)


def test_fillet_joined_to_the_surface_is_trimmed():
    # the fillet's faces within 15 deg of the sphere enter the fit; their vertices are at most
    # fillet (1 - cos 15 deg) off the sphere, a bound on the radius error (measured 9e-4 mm)
    mesh, truth = filleted_plate(80.0, 2.0, fillet=1.0)
    m = measure_curvature(mesh)
    assert m.value == pytest.approx(80.0, abs=truth["fillet_bias"])
    assert m.statistic("rms_residual") < truth["fillet_bias"]


def test_flat_plate_with_a_hole_is_flat_not_the_hole():
    # the old fit took the 4 mm hole's wall and read a 2.236 mm radius
    mesh, _ = flat_plate_one_hole()
    m = measure_curvature(mesh)
    assert m.value is None
    assert m.reason.startswith("flat: no measurable curvature (plane fits within")
    assert dict(m.statistics) == {"rms_residual": None, "area_fraction": None, "faces": None}
    got = {x.parameter: x for x in measure_extents(mesh)}["radius_of_curvature"]
    assert got.value is None and got.reason == m.reason


def test_nearly_flat_plate_is_flat_and_a_curved_one_is_not():
    # a 60 mm wide cap of R = 5000 mm has a sagitta of 60^2 / (8 x 5000) = 0.09 mm < 0.1 mm
    from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate

    a = cap_half_angle_for_span(5000.0, 2.0, 60.0)
    assert measure_curvature(spherical_cap_plate(5000.0, 2.0, a, rings=8, segments=64)).value is None
    # R = 1000 mm: sagitta 0.45 mm, curved; the radius is still measured
    a = cap_half_angle_for_span(1000.0, 2.0, 60.0)
    assert measure_curvature(spherical_cap_plate(1000.0, 2.0, a, rings=8, segments=64)).value == \
        pytest.approx(1000.0, rel=1e-9)


@pytest.mark.parametrize("kind", ["sphere", "block", "cylinder"])
def test_solids_without_concave_surface(kind):
    mesh, _ = solid(kind)
    m = measure_curvature(mesh)
    assert m.value is None and m.reason
    assert m.reason.startswith("no concave" if kind == "sphere" else "flat:")


def test_old_names_still_import():
    mesh, _ = cranial_plate(80.0, 2.0, holes=0)
    r, rms, why = concave_surface_radius(mesh)
    assert r == pytest.approx(80.0, abs=RADIUS_TOL_MM) and rms < 1e-9 and why == ""
    rng = np.random.default_rng(1)
    d = rng.normal(size=(50, 3))
    assert sphere_fit(d / np.linalg.norm(d, axis=1, keepdims=True) * 7.0)[1] == pytest.approx(7.0)


def test_settings_are_used():
    # a flatness limit above the plate's sagitta makes even the curved plate flat
    mesh, _ = cranial_plate(80.0, 2.0, holes=0)
    assert measure_curvature(mesh, Settings(curvature_flat_mm=50.0)).value is None
    with pytest.raises(ValueError):
        Settings(curvature_normal_angle_deg=0.0)


def test_boundary_by_twins_equals_boundary_by_sorted_keys():
    """The fit's interior vertices come from the cached half-edge twins on a closed mesh and from
    a sort of the subset's half-edge keys otherwise: the same vertices on any face subset."""
    from pmd_envelope.geometry import boundary_half_edges, mesh_twins
    from pmd_envelope.measure.curvature import _interior_vertices
    from pmd_envelope.mesh_io import mesh_from_arrays

    mesh, _ = cranial_plate(80.0, 2.0)
    f = mesh.faces
    rng = np.random.default_rng(2)
    for kept in (np.arange(len(f)), np.flatnonzero(rng.random(len(f)) < 0.5), np.arange(len(f) // 3),
                 rng.choice(len(f), 40, replace=False)):
        fast = _interior_vertices(f[np.sort(kept)], boundary_half_edges(mesh, kept))
        np.testing.assert_array_equal(fast, _interior_vertices(f[np.sort(kept)]))
    assert len(boundary_half_edges(mesh, np.arange(len(f)))[0]) == 0  # a closed mesh has no boundary
    # the loops of a subset: the same from the twins as from the sorted keys, in the same order
    from pmd_envelope.measure.holes import _boundary_loops

    part = np.arange(len(f) // 3)
    by_twins, by_sort = _boundary_loops(f[part], boundary_half_edges(mesh, part)), _boundary_loops(f[part])
    assert len(by_twins) == len(by_sort) >= 1
    assert all(np.array_equal(x, y) for x, y in zip(by_twins, by_sort))
    # an open or inconsistently wound mesh has no twins: the caller sorts
    assert mesh_twins(mesh_from_arrays(mesh.vertices, f[1:])) is None
    assert mesh_twins(mesh_from_arrays(mesh.vertices, np.vstack([f[:1, ::-1], f[1:]]))) is None
