"""Mandible plate family: known answers on CSG plates, robustness, the released envelope, the samples.

Truth is closed form (pmd_envelope/families/mandible_shapes.py builds the plates by CSG from
their parameters: an annular sector or a box, minus hole prisms); the measurement finds the
centre line from the mesh alone. Each plate is measured in its own frame and as a rotated and
translated copy (scanner coordinates).

Tolerances (stated per parameter, from how the measurement and the tessellation can differ):

* section (``bar_width``, ``bar_height``): the arc polygon's sagitta ``tolerance_arc``
  (<= 1.4e-4 mm) plus 1e-6 mm;
* ``bar_length``: 2e-3 mm (each end found to END_RESOLUTION_MM = 1e-3 mm) plus the chord
  shortfall of 0.5 mm stations on the arc, L h^2 / (24 R^2);
* ``hole_spacing``: 1e-3 mm plus the same chord shortfall over one spacing (hole centres from
  circle fits of the hole polygons, projected on the station polyline);
* ``bend_radius``: 1e-3 mm (the fit over the whole centre line); its ``min`` (20 mm windows)
  1e-3 mm plus 8 R^2 s / W^2 (the window's sagitta W^2 / (8R) carries the polygon sagitta s);
* ``hole_diameter``: between the k-gon's inscribed circle d cos(pi/k) and its corner circle d;
* ``hole_edge_distance``: between w/2 - |e| - d/2 and that plus the k-gon's sagitta.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import ENVELOPES, REAL_MESHES, SAMPLES
from csg_shapes import cranial_plate, rigid_transform
from pmd_envelope.families import FamilyContext
from pmd_envelope.families.mandible import BEND_WINDOW_MM, STATION_STEP_MM, bar_centre_line, measure_mandible_plate
from pmd_envelope.families.mandible_shapes import SAMPLES as SPECS
from pmd_envelope.families.mandible_shapes import mandible_plate
from pmd_envelope.measure.holes import measure_holes
from pmd_envelope.mesh_io import mesh_from_arrays
from pmd_envelope.settings import Settings

SETTINGS = Settings()
CONTEXT = FamilyContext(settings=SETTINGS, bodies=1)

PLATES = {
    "straight": dict(width=8.0, height=2.5, length=60.0, hole_diameter=2.4,
                     holes=((8.0, 0.0), (17.5, 0.6), (28.0, 0.0), (39.0, -1.1), (50.0, 0.0))),
    "wrap_R45": dict(width=7.5, height=2.2, length=100.0, hole_diameter=2.3, bend_radius=45.0, bend="wrap",
                     holes=((6.0, 0.0), (15.0, 0.0), (25.5, 1.2), (35.0, 0.0), (47.0, 0.0), (94.0, -0.4))),
    "in_plane_R30": dict(width=6.0, height=2.0, length=80.0, hole_diameter=2.0, bend_radius=30.0, bend="in_plane",
                         holes=((10.0, 0.0), (20.0, 0.0), (31.0, 0.8), (43.0, 0.0))),
    "wrap_R120_thick": dict(width=9.5, height=3.0, length=150.0, hole_diameter=2.8, bend_radius=120.0, bend="wrap",
                            holes=tuple((7.0 + 9.0 * i, 0.0) for i in range(16))),
}


def _measure(v, f):
    mesh = mesh_from_arrays(v, f, path="plate")
    got = {m.parameter: m for m in measure_mandible_plate(mesh, CONTEXT)}
    got.update({m.parameter: m for m in measure_holes(mesh, SETTINGS.feature_angle_deg, bodies=1)})
    return got


@pytest.fixture(scope="module", params=sorted(PLATES))
def plate(request):
    v, f, truth = mandible_plate(**PLATES[request.param])
    rot, shift = rigid_transform(sum(map(ord, request.param)))
    return request.param, truth, _measure(v, f), _measure(v @ rot.T + shift, f)


def _chord_shortfall(length, truth):
    r = truth.get("bend_radius")
    return 0.0 if r is None else length * STATION_STEP_MM**2 / (24.0 * r**2)


def test_section_width_and_height(plate):
    name, truth, *frames = plate
    tol = truth["tolerance_arc"] + 1e-6
    for got in frames:
        assert got["bar_width"].value == pytest.approx(truth["bar_width"], abs=tol), name
        assert got["bar_height"].value == pytest.approx(truth["bar_height"], abs=tol), name
        assert got["bar_width"].statistic("max") == pytest.approx(truth["bar_width"], abs=tol)
        w = got["bar_width"].witness
        assert math.dist(w.point, w.opposite) == pytest.approx(truth["bar_width"], abs=tol)


def test_length_along_the_centre_line(plate):
    name, truth, *frames = plate
    tol = 2e-3 + _chord_shortfall(truth["bar_length"], truth)
    for got in frames:
        assert got["bar_length"].value == pytest.approx(truth["bar_length"], abs=tol), name


def test_hole_spacing_along_the_arc(plate):
    name, truth, *frames = plate
    tol = 1e-3 + _chord_shortfall(truth["hole_spacing_max"], truth)
    for got in frames:
        hs = got["hole_spacing"]
        assert hs.value == pytest.approx(truth["hole_spacing"], abs=tol), name
        assert hs.statistic("max") == pytest.approx(truth["hole_spacing_max"], abs=tol), name


def test_bend_radius(plate):
    name, truth, *frames = plate
    for got in frames:
        b = got["bend_radius"]
        if "bend_radius" not in truth:
            assert b.value is None and b.reason.startswith("straight:"), name
            continue
        assert b.value == pytest.approx(truth["bend_radius"], abs=1e-3), name
        # a window's sagitta W^2/(8R) carries the stations' polygon error: dR = 8 R^2 dS / W^2
        r = truth["bend_radius"]
        assert b.statistic("min") == pytest.approx(r, abs=1e-3 + 8 * r**2 * truth["tolerance_arc"] / BEND_WINDOW_MM**2)
        assert b.statistic("out_of_plane") < 1e-6


def test_holes_on_the_bar(plate):
    name, truth, *frames = plate
    k = 48
    for got in frames:
        assert got["hole_count"].value == truth["hole_count"], name
        d = truth["hole_diameter"]
        assert d * math.cos(math.pi / k) - 1e-6 <= got["hole_diameter"].value <= d + 1e-6, name
        assert truth["hole_edge_distance"] - 1e-4 <= got["hole_edge_distance"].value \
            <= truth["hole_edge_distance"] + truth["tolerance_hole"] + 1e-4, name


def test_spacing_is_the_arc_not_the_chord():
    """On R = 30 mm, holes 10 mm apart along the arc are 9.954 mm apart as a chord: the
    measurement gives the arc (tolerance 2e-3 mm, far below the 0.046 mm difference)."""
    p = PLATES["in_plane_R30"]
    v, f, truth = mandible_plate(**p)
    got = _measure(v, f)["hole_spacing"].value
    chord = 2 * 30.0 * math.sin(10.0 / (2 * 30.0))
    assert got == pytest.approx(10.0, abs=2e-3) and abs(got - chord) > 0.04


def test_rounded_and_tilted_is_not_measured_wrong_when_short():
    """A stub shorter than twice its width is not a bar: every parameter null with the reason."""
    v, f, _ = mandible_plate(width=8.0, height=2.0, length=12.0, hole_diameter=2.0, holes=((6.0, 0.0),))
    got = measure_mandible_plate(mesh_from_arrays(v, f, path="stub"), CONTEXT)
    assert all(m.value is None and m.reason.startswith("not a bar") for m in got)


def test_two_bodies_named_not_guessed():
    v, f, _ = mandible_plate(width=8.0, height=2.0, length=40.0, hole_diameter=2.0, holes=((10.0, 0.0), (20.0, 0.0)))
    v2 = np.vstack([v, v + [0.0, 50.0, 0.0]])
    f2 = np.vstack([f, f + len(v)])
    got = measure_mandible_plate(mesh_from_arrays(v2, f2, path="two"), FamilyContext(settings=SETTINGS, bodies=2))
    assert all(m.value is None and "one body" in m.reason for m in got)
    got = measure_mandible_plate(mesh_from_arrays(v2, f2, path="two"), FamilyContext(settings=SETTINGS))
    assert all(m.value is None and "one connected body" in m.reason for m in got)


def test_one_hole_has_no_spacing():
    v, f, _ = mandible_plate(width=8.0, height=2.0, length=40.0, hole_diameter=2.0, holes=((20.0, 0.0),))
    got = {m.parameter: m for m in measure_mandible_plate(mesh_from_arrays(v, f, path="one"), CONTEXT)}
    assert got["hole_spacing"].value is None and "a spacing needs two" in got["hole_spacing"].reason
    assert got["bar_length"].value == pytest.approx(40.0, abs=2e-3)


def test_a_cranial_plate_is_not_a_bar():
    mesh, _ = cranial_plate(rng=5)
    got = measure_mandible_plate(mesh, CONTEXT)
    assert {m.parameter for m in got} == {"bar_width", "bar_height", "bar_length", "hole_spacing", "bend_radius"}
    assert all(m.value is None and m.reason.startswith("not a bar") for m in got)


def _real_meshes():
    from pmd_envelope.errors import PmdEnvelopeError
    from pmd_envelope.mesh_io import load_mesh

    out = []
    for p in sorted(REAL_MESHES.iterdir()):
        if p.name in ("README.md", "SHA256SUMS"):
            continue
        try:
            out.append((p.name, load_mesh(p, "mm")))
        except PmdEnvelopeError:  # refused as bad input: the reader's tests; here only what reads
            continue
    return out


def test_runs_cleanly_on_public_meshes():
    """Every public mesh that reads gives each parameter a finite value or a reason, never a crash."""
    from pmd_envelope.geometry import count_bodies

    meshes = _real_meshes()
    assert len(meshes) >= 10
    for name, mesh in meshes:
        if len(mesh.faces) == 0 or len(mesh.faces) > 300_000:
            continue
        got = measure_mandible_plate(mesh, FamilyContext(settings=SETTINGS,
                                                         bodies=count_bodies(mesh.vertices, mesh.faces)))
        assert len(got) == 5, name
        for m in got:
            assert (m.value is None) == bool(m.reason), (name, m)
            assert m.value is None or math.isfinite(m.value), (name, m)


def test_centre_line_points_lie_on_the_arc():
    """The stations themselves, not only the fitted radius: every section centre of the wrapped
    R = 45 mm plate is on the arc within the sagitta (in the plate's own frame the arc's axis is
    z and the bar centred on its box)."""
    p = PLATES["wrap_R45"]
    v, f, truth = mandible_plate(**p)
    line = bar_centre_line(mesh_from_arrays(v, f, path="p"))
    from pmd_envelope.measure.holes import circle_fit

    centre, r = circle_fit(line.points)
    assert r == pytest.approx(45.0, abs=1e-3)
    assert np.abs(np.linalg.norm(line.points[:, :2] - centre[:2], axis=1) - 45.0).max() < 1e-3
    assert np.abs(line.points[:, 2]).max() < 1e-6  # the centre line is at mid-width


# -- the released envelope and the sample cases ---------------------------------------------------------

FAMILY = json.loads((SAMPLES / "FAMILY_MANIFEST.json").read_text())
MINE = {c["case_id"]: c for c in FAMILY["cases"] if c["family_module"] == "pmd_envelope.families.mandible_shapes"}


def test_released_envelope_passes_strict_check():
    from pmd_envelope.cli import main

    assert main(["envelope", "check", str(ENVELOPES / "mandible-plate-ti64-lpbf" / "1.1.0.toml"), "--strict"]) == 0


def test_every_envelope_number_cites_a_source():
    import tomllib

    doc = tomllib.loads((ENVELOPES / "mandible-plate-ti64-lpbf" / "1.1.0.toml").read_text())
    for table in ("parameters", "variables", "metrics"):
        for name, d in doc[table].items():
            assert len(d["reference"]) > 20, f"{table}.{name}"


def test_sample_cases_listed():
    assert set(MINE) == {s["case_id"] for s in SPECS} == {"mandible-001", "mandible-002", "mandible-003"}
    assert {c["expected_verdict"] for c in MINE.values()} == {"conforming", "nonconforming"}


# The generator's bytes (every family's cases): tests/test_family_samples.py.


@pytest.mark.parametrize("case_id", sorted(MINE))
def test_sample_verdict_and_truth(validations, case_id):
    case = MINE[case_id]
    v = validations[case_id]
    assert v.verdict == case["expected_verdict"]
    got = {m["parameter"]: m for m in v.record["measurements"]}
    truth = case["truth"]
    # placed by a rotation and snapped to a 2^-10 mm grid: each vertex moves <= 0.00085 mm
    snap = 0.001
    for p in ("bar_width", "bar_height"):
        assert got[p]["value"] == pytest.approx(truth[p], abs=truth["tolerance_arc"] + snap), p
    assert got["bar_length"]["value"] == pytest.approx(truth["bar_length"], abs=2e-3 + snap + 1e-3)
    assert got["hole_spacing"]["value"] == pytest.approx(truth["hole_spacing"], abs=2e-3 + snap)
    assert got["hole_spacing"]["statistics"]["max"] == pytest.approx(truth["hole_spacing_max"], abs=2e-3 + snap)
    assert got["bend_radius"]["value"] == pytest.approx(truth["bend_radius"], abs=0.01)
    assert got["hole_count"]["value"] == truth["hole_count"]
    assert got["hole_edge_distance"]["value"] == pytest.approx(truth["hole_edge_distance"],
                                                              abs=truth["tolerance_hole"] + snap)
    failing = {r["item"] for r in v.record["reasons"]}
    expected = {"mandible-001": set(), "mandible-002": {"hole_edge_distance"}, "mandible-003": {"hole_spacing"}}
    assert failing == expected[case_id]
    wc = v.record["worst_case"][0]
    assert wc["passed"] and wc["coverage"]["covered"]


def test_cli_prints_the_reason_in_words(capsys, tmp_path):
    from pmd_envelope.cli import main

    assert main(["validate", str(SAMPLES / "mandible-002"), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "hole_edge_distance" in out and "is outside >= 1.5 mm" in out and "NONCONFORMING" in out
    assert main(["validate", str(SAMPLES / "mandible-001"), "--out", str(tmp_path)]) == 0


def test_finely_tessellated_plate_gives_the_same_answers():
    """The same wrapped plate with its faces split to <= 0.8 mm edges (53k faces): each section
    then reads only the faces of a few stations (``_Sectioner.along``), not every face near it."""
    import manifold3d

    p = dict(PLATES["wrap_R45"], holes=PLATES["wrap_R45"]["holes"][:3])
    v, f, truth = mandible_plate(**p)
    fine = manifold3d.Manifold(manifold3d.Mesh64(vert_properties=v, tri_verts=f.astype(np.uint64)))
    out = fine.refine_to_length(0.8).to_mesh64()
    vv, ff = np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts, dtype=np.int64)
    assert len(ff) > 10 * len(f)
    rot, shift = rigid_transform(7)
    got = _measure(vv @ rot.T + shift, ff)
    tol = truth["tolerance_arc"] + 1e-6
    assert got["bar_width"].value == pytest.approx(truth["bar_width"], abs=tol)
    assert got["bar_height"].value == pytest.approx(truth["bar_height"], abs=tol)
    assert got["bar_length"].value == pytest.approx(truth["bar_length"], abs=2e-3 + _chord_shortfall(100.0, truth))
    assert got["hole_spacing"].value == pytest.approx(truth["hole_spacing"], abs=2e-3)
    assert got["bend_radius"].value == pytest.approx(45.0, abs=1e-3)
