"""Overhang area fraction against a tilted plate (closed form)."""

import numpy as np
import pytest

from pmd_envelope.measure.overhang import measure_overhang
from pmd_envelope.shapes import tilted_plate

L, W, T = 50.0, 30.0, 2.0
TOTAL = 2 * (L * W + W * T + L * T)


@pytest.mark.parametrize("tilt,expected", [
    (0.0, 0.0),              # flat: the bottom rests on the build plate
    (30.0, L * W / TOTAL),   # bottom 30 deg from horizontal < 45: overhang
    (44.0, L * W / TOTAL),
    (46.0, L * T / TOTAL),   # bottom now self-supporting; lower end 44 deg from horizontal
    (60.0, L * T / TOTAL),
    (90.0, 0.0),             # plate standing on its end: walls vertical, the end on the plate
])
def test_tilted_plate(tilt, expected):
    m = measure_overhang(tilted_plate(L, W, T, tilt), (0.0, 0.0, 1.0), 45.0)
    # areas are sums of exact rectangles: round-off only
    assert m.value == pytest.approx(expected, abs=1e-12)


def test_build_direction_matters():
    mesh = tilted_plate(L, W, T, 30.0)
    up = measure_overhang(mesh, (0.0, 0.0, 1.0), 45.0).value
    down = measure_overhang(mesh, (0.0, 0.0, -5.0), 45.0).value  # any length: normalised
    assert up == pytest.approx(L * W / TOTAL, abs=1e-12) and down == pytest.approx(L * W / TOTAL, abs=1e-12)
    sideways = measure_overhang(mesh, (1.0, 0.0, 0.0), 45.0)
    # built along x: the -x side (W x T) rests on the plate, nothing else faces down within 45 deg
    assert sideways.value == pytest.approx(0.0, abs=1e-12)
    assert sideways.statistic("on_plate_area_fraction") == pytest.approx(W * T / TOTAL, abs=1e-12)
    assert np.isclose(down, up)
