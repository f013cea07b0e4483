"""Anatomy fit against a cap plate offset from a spherical anatomy by a known gap."""

import numpy as np
import pytest

from pmd_envelope.geometry import face_normals
from pmd_envelope.measure.fit import measure_fit
from pmd_envelope.shapes import anatomy_sphere, cap_half_angle_for_span, spherical_cap_plate

R, T = 80.0, 2.0


def _sagitta(mesh, radius):
    """Largest depth of a facet below the sphere its vertices lie on [mm] (analytic bound of the
    anatomy's tessellation error)."""
    v, f = mesh.vertices, mesh.faces
    n = face_normals(v, f)
    return float((radius - np.einsum("ij,ij->i", n, v[f[:, 0]])).max())


@pytest.mark.parametrize("gap", [0.3, 1.0, -0.2])
def test_offset_plate_gap(gap):
    plate = spherical_cap_plate(R, T, cap_half_angle_for_span(R, T, 100.0), rings=24, segments=128)
    anatomy = anatomy_sphere(R - gap)
    s_anat = _sagitta(anatomy, R - gap)
    s_plate = _sagitta(spherical_cap_plate(R, T, cap_half_angle_for_span(R, T, 100.0), rings=24, segments=128), R + T)
    g, frac = measure_fit(plate, anatomy, gap_limit=0.5, contact_angle_deg=60.0)
    # plate centroids lie up to the plate's sagitta inside radius R, anatomy facets up to the
    # anatomy's sagitta inside R - gap: every gap is within [gap - s_plate, gap + s_anat]
    tol_lo, tol_hi = 2 * s_plate + 1e-9, s_anat + 1e-9
    assert gap - tol_lo <= g.statistic("min") <= g.value <= gap + tol_hi
    assert g.statistic("rms") == pytest.approx(abs(gap), abs=max(tol_lo, tol_hi))
    assert frac.value == (1.0 if gap <= 0.5 else 0.0)
    # contact surface = the bone-facing surface only: area of the inner cap, 2 pi R^2 (1 - cos a)
    a = cap_half_angle_for_span(R, T, 100.0)
    assert g.statistic("contact_area") == pytest.approx(2 * np.pi * R**2 * (1 - np.cos(a)), rel=2e-3)
    w = g.witness
    assert np.linalg.norm(np.subtract(w.opposite, w.point)) == pytest.approx(abs(g.value), abs=1e-9)


def test_fraction_within_limit_is_area_weighted():
    plate = spherical_cap_plate(R, T, cap_half_angle_for_span(R, T, 100.0), rings=24, segments=128)
    # anatomy centre shifted 0.5 mm along the pole axis: gap grows from ~0.1 at the pole to
    # larger towards the rim; the fraction must be strictly between 0 and 1 for a middle limit
    from pmd_envelope.mesh_io import mesh_from_arrays

    a = anatomy_sphere(R - 0.6)
    shifted = mesh_from_arrays(np.asarray(a.vertices) + [0.0, 0.0, 0.5], a.faces)
    g, _ = measure_fit(plate, shifted, gap_limit=0.5, contact_angle_deg=60.0)
    mid = 0.5 * (g.statistic("min") + g.value)
    _, frac = measure_fit(plate, shifted, gap_limit=mid, contact_angle_deg=60.0)
    assert 0.0 < frac.value < 1.0
    assert g.statistic("min") == pytest.approx(0.1, abs=0.03)


def test_no_face_looking_at_the_anatomy_is_a_finding_not_a_crash():
    """Anatomy in another frame (1 m away) with a contact cone too narrow for any facet: both
    parameters are null with the reason, never an exception (exit 3) or a number."""
    from pmd_envelope.mesh_io import mesh_from_arrays

    plate = spherical_cap_plate(R, T, cap_half_angle_for_span(R, T, 100.0), rings=12, segments=48)
    a = anatomy_sphere(R - 0.3)
    far = mesh_from_arrays(np.asarray(a.vertices) + [1000.0, 0.0, 0.0], a.faces)
    g, frac = measure_fit(plate, far, gap_limit=0.5, contact_angle_deg=1e-6)
    assert g.value is None and frac.value is None
    assert "share one coordinate frame" in g.reason and g.reason == frac.reason
