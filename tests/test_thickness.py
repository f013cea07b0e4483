"""Ray wall thickness against closed-form truth."""

import numpy as np
import pytest

from pmd_envelope.measure.thickness import ray_thickness, weighted_percentile
from pmd_envelope.settings import DEFAULT_SETTINGS, Settings
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate, spherical_shell

# Tessellation error of a radial ray between two chordal facets is below the sagitta difference,
# ~ h^2/(8R) * t/R: < 1e-3 mm for these shapes; float32 adds < 1e-4 mm. 5e-3 mm bounds both.
CAP_TOL = 5e-3
# The icosphere's faces are not radially aligned between shells: error up to the sagitta, h^2/(8R) ~ 3e-3.
SHELL_TOL = 1e-2


@pytest.mark.parametrize("r,t,span", [(80.0, 2.0, 100.0), (100.0, 1.08, 139.5), (60.0, 3.0, 40.0)])
def test_cap_plate_thickness(r, t, span):
    mesh = spherical_cap_plate(r, t, cap_half_angle_for_span(r, t, span))
    field = ray_thickness(mesh, DEFAULT_SETTINGS)
    m = field.measurement
    assert m.value == pytest.approx(t, abs=CAP_TOL)
    for stat in ("p01", "p05", "median", "max"):
        assert m.statistic(stat) == pytest.approx(t, abs=CAP_TOL)
    # the rim band's rays run along the shell and leave through a non-opposing face
    rim = np.arange(len(mesh.faces))[-2 * 256:]
    assert field.edge_zone[rim].all()
    assert not field.edge_zone[: len(mesh.faces) // 2].any()


def test_shell_thickness():
    m = ray_thickness(spherical_shell(50.0, 3.0), DEFAULT_SETTINGS).measurement
    assert m.value == pytest.approx(3.0, abs=SHELL_TOL)
    assert m.statistic("min_all") == pytest.approx(3.0, abs=SHELL_TOL)
    assert m.statistic("edge_zone_area_fraction") == 0.0


def test_witness_reproduces_minimum():
    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0))
    m = ray_thickness(mesh, DEFAULT_SETTINGS).measurement
    w = m.witness
    assert np.linalg.norm(np.subtract(w.opposite, w.point)) == pytest.approx(m.value, abs=2e-4)
    start, hit = w.faces
    # start face on one surface, hit face on the other: radii differ by t
    v, f = mesh.vertices, mesh.faces
    r_start = np.linalg.norm(v[f[start]].mean(axis=0))
    r_hit = np.linalg.norm(v[f[hit]].mean(axis=0))
    assert abs(r_start - r_hit) == pytest.approx(2.0, abs=CAP_TOL)


def test_weighted_percentile():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    weights = np.array([1.0, 1.0, 1.0, 97.0])
    assert weighted_percentile(values, weights, 1.0) == 1.0
    assert weighted_percentile(values, weights, 3.5) == 4.0
    assert weighted_percentile(values, weights, 50.0) == 4.0


def test_settings_validate_themselves():
    with pytest.raises(ValueError):
        Settings(opposing_angle_deg=95.0)
    with pytest.raises(ValueError):
        Settings(ray_offset_mm=0.0)
