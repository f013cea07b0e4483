"""Ray wall thickness against closed-form truth."""

import numpy as np
import pytest

from conftest import REAL_MESHES
from pmd_envelope.measure.thickness import ray_thickness, vertex_ray_thickness, weighted_percentile
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


# --- engine independence: float32 embree vs exact float64, same rays, same exclusion rule ---------
# Stated agreement (settings.engine_tolerance_mm, recorded with every measurement) is 1e-3 mm; on
# these shapes the float32 error is a few ulps of the coordinates (1.5e-5 mm at 250 mm), so the
# tests also assert the tighter observed bound of 1e-4 mm.
ENGINE_OBSERVED_TOL = 1e-4


def _engine_shapes():
    from pmd_envelope.shapes import (flat_plate_with_holes, spherical_cap_plate_thin_spot, tilted_plate)
    yield "shell", spherical_shell(50.0, 3.0)
    yield "cap", spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=128)
    yield "thin_spot", spherical_cap_plate_thin_spot(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0),
                                                     depth=0.6, spot_angle=0.12, rings=24, segments=128)
    yield "holes", flat_plate_with_holes(60.0, 40.0, 2.0, ((15.0, 20.0, 4.0), (40.0, 15.0, 6.0)))
    yield "tilted", tilted_plate(50.0, 30.0, 2.0, 30.0)


@pytest.mark.parametrize("name", ["shell", "cap", "thin_spot", "holes", "tilted"])
def test_fast_and_exact_engines_agree(name):
    mesh = dict(_engine_shapes())[name]
    s = Settings(exact_recheck_faces=0)  # compare the raw float32 field, not the re-checked one
    a = ray_thickness(mesh, s, engine="embree")
    b = ray_thickness(mesh, s, engine="exact")
    both = np.isfinite(a.per_face) & np.isfinite(b.per_face)
    assert (np.isfinite(a.per_face) == np.isfinite(b.per_face)).all()
    # the same face is met, except where a ray passes exactly through a shared edge (either face
    # is right then, and the distance agrees)
    assert np.abs(a.per_face[both] - b.per_face[both]).max() <= min(s.engine_tolerance_mm, ENGINE_OBSERVED_TOL)
    assert a.measurement.value == pytest.approx(b.measurement.value, abs=ENGINE_OBSERVED_TOL)
    assert "exact-float64" in b.measurement.notes and "embree-float32" in a.measurement.notes


def test_recheck_makes_minimum_float64():
    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=128)
    fast = ray_thickness(mesh, DEFAULT_SETTINGS)
    exact = ray_thickness(mesh, DEFAULT_SETTINGS, engine="exact")
    # the reported minimum and its witness come from the float64 engine: the witness face's
    # distance and hit face are the exact engine's for that face. On this rotationally
    # symmetric cap many faces tie to the last bits, so which of them is the witness depends on
    # the CPU's rounding (with numpy's SIMD dispatch restricted it is a face 90 degrees round):
    # the witness is compared with the exact engine on its own face, not with its face
    w = fast.measurement.witness
    assert fast.measurement.value == pytest.approx(exact.measurement.value, abs=1e-12)
    assert fast.measurement.statistic("min_float64") == 1.0 and w.distance == fast.measurement.value
    assert w.distance == pytest.approx(float(exact.per_face[w.faces[0]]), abs=1e-12)
    assert w.faces[1] == int(exact.hit_face[w.faces[0]])
    assert 0.0 < fast.measurement.statistic("engine_difference") <= ENGINE_OBSERVED_TOL


def test_no_origin_offset_needed_for_a_wall_thinner_than_the_old_offset():
    # a 5e-5 mm slab: thinner than the re-cast step, measured by the exact engine from the true start
    import trimesh

    from pmd_envelope.mesh_io import mesh_from_arrays

    box = trimesh.creation.box(extents=(10.0, 10.0, 5e-3))
    m = mesh_from_arrays(box.vertices, box.faces)
    field = ray_thickness(m, DEFAULT_SETTINGS, engine="exact")
    assert field.measurement.value == pytest.approx(5e-3, abs=1e-12)


@pytest.mark.parametrize("engine", ["embree", "exact"])
def test_thin_spot_of_known_depth(engine):
    from pmd_envelope.shapes import spherical_cap_plate_thin_spot

    r, t, depth = 80.0, 2.0, 0.6
    mesh = spherical_cap_plate_thin_spot(r, t, cap_half_angle_for_span(r, t, 100.0), depth=depth, spot_angle=0.08)
    m = ray_thickness(mesh, DEFAULT_SETTINGS, engine=engine).measurement
    # flat-bottomed spot: concentric spheres t - depth apart; same tessellation bound as the cap
    assert m.value == pytest.approx(t - depth, abs=CAP_TOL)
    # the spot covers a small area: the median stays the plate's wall
    assert m.statistic("median") == pytest.approx(t, abs=CAP_TOL)
    # the witness sits on the spot (polar angle below the flat-spot angle)
    p = np.asarray(m.witness.point)
    assert np.arccos(p[2] / np.linalg.norm(p)) < 0.08


# Inscribed sphere (shrinking ball): between concentric spheres the largest inscribed ball has
# diameter t exactly; the tessellation bounds are those of the ray method, and the ball converges
# to settings.sphere_tolerance_mm (1e-4 mm), so CAP_TOL / SHELL_TOL hold.
@pytest.mark.parametrize("name,truth,tol", [("shell", 3.0, SHELL_TOL), ("cap", 2.0, CAP_TOL), ("thin_spot", 1.4, CAP_TOL)])
def test_inscribed_sphere_thickness(name, truth, tol):
    from pmd_envelope.measure.thickness import sphere_thickness

    mesh = dict(_engine_shapes())[name]
    if name == "thin_spot":
        from pmd_envelope.shapes import spherical_cap_plate_thin_spot
        mesh = spherical_cap_plate_thin_spot(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), depth=0.6,
                                             spot_angle=0.08)
    ray = ray_thickness(mesh, DEFAULT_SETTINGS)
    m = sphere_thickness(mesh, DEFAULT_SETTINGS, ray).measurement
    assert m.method == "max_sphere"
    assert m.value == pytest.approx(truth, abs=tol)
    assert m.statistic("converged_fraction") == 1.0
    # never above the ray thickness at the same face (the ball holds the ray segment)
    assert m.value <= ray.measurement.value + 1e-9
    w = m.witness
    assert np.linalg.norm(np.subtract(w.opposite, w.point)) == pytest.approx(m.value, abs=tol)


def test_inscribed_sphere_not_converged_is_flagged():
    from pmd_envelope.measure.thickness import sphere_thickness

    mesh = dict(_engine_shapes())["thin_spot"]
    m = sphere_thickness(mesh, Settings(sphere_max_iter=1, sphere_faces=10**6), ray_thickness(mesh, DEFAULT_SETTINGS)).measurement
    # one step cannot confirm a ball that had to shrink (spot flank, rim band): those are flagged
    assert m.statistic("not_converged") > 0
    assert m.statistic("converged_fraction") < 1.0


def test_face_grid_is_a_superset_of_box_overlaps():
    # the float64 re-check builds its R-tree only from the faces FaceGrid.near returns: every
    # face whose box meets a query box must be among them, whatever the box sizes
    from pmd_envelope.rays import FaceGrid, face_boxes

    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=96)
    lo, hi = face_boxes(mesh.vertices, mesh.faces)
    rng = np.random.default_rng(7)
    for cell in (0.01, 2.0, 500.0):
        grid = FaceGrid(mesh.vertices, mesh.faces, size=cell)
        centre = mesh.vertices[rng.integers(0, len(mesh.vertices), 50)]
        half = rng.uniform(0.0, 3.0, (50, 3))
        q_lo, q_hi = centre - half, centre + half
        meets = ((lo[:, None, :] <= q_hi[None]) & (hi[:, None, :] >= q_lo[None])).all(axis=2).any(axis=1)
        near = grid.near(q_lo, q_hi)
        assert set(np.flatnonzero(meets)) <= set(near.tolist())
        if cell == 2.0:  # cells about the boxes' size: the filter drops part of the mesh
            assert len(near) < len(mesh.faces)


def test_exact_caster_on_a_face_subset_matches_the_whole_mesh():
    from pmd_envelope.rays import ExactCaster, FaceGrid
    from pmd_envelope.measure.thickness import face_rays

    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=96)
    c, inward, _, _ = face_rays(mesh)
    ids = np.arange(0, len(mesh.faces), 7)
    bound = np.full(len(ids), 2.5)

    def incident(ray, face):
        return face == ids[ray]

    whole = ExactCaster(mesh.vertices, mesh.faces).first_hit(c[ids], inward[ids], incident, t_max=bound)
    seg = ExactCaster.segment_boxes(c[ids], inward[ids], np.zeros(len(ids)), bound)
    only = FaceGrid(mesh.vertices, mesh.faces, size=2.5).near(*seg)
    part = ExactCaster(mesh.vertices, mesh.faces, only=only).first_hit(c[ids], inward[ids], incident, t_max=bound)
    assert len(only) < len(mesh.faces)
    assert np.array_equal(whole[0], part[0]) and np.array_equal(whole[1], part[1])


# --- vertex rays along the inward angle-weighted pseudonormal ------------------------------------
# Every vertex of these shapes lies exactly on its sphere, and the facets of a tessellated sphere
# lie inside it by at most their sagitta s (the largest of R - distance from the centre to a
# facet's plane, taken from the mesh). So a ray from an outer vertex (radius R + T) meets an
# inner facet at t in [T, T + s_inner] (no point within R of the centre is nearer than T), and
# a ray from an inner vertex meets an outer facet at t in [T - s_outer, T]. The pseudonormal is
# radial up to a tilt d < 0.2 deg (measured), which adds < T d^2 / 2 ~ 2e-5 mm; float32 adds
# < 2e-5 mm; VERTEX_FLOAT_TOL = 1e-4 mm covers both.
VERTEX_FLOAT_TOL = 1e-4


def _sagitta(mesh, radius):
    from pmd_envelope.geometry import mesh_face_geometry

    v, f = mesh.vertices, mesh.faces
    on = (np.abs(np.linalg.norm(v[f], axis=2) - radius) < 1e-9).all(axis=1)
    normals, _ = mesh_face_geometry(mesh)
    plane = np.abs(np.einsum("ij,ij->i", normals[on], v[f[on, 0]]))
    return radius - plane.min()


def _vertex_shapes():
    yield "shell", spherical_shell(50.0, 3.0), 47.0, 3.0, None
    half = cap_half_angle_for_span(80.0, 2.0, 100.0)
    yield "cap", spherical_cap_plate(80.0, 2.0, half), 80.0, 2.0, half
    half = cap_half_angle_for_span(60.0, 3.0, 40.0)
    yield "cap_small", spherical_cap_plate(60.0, 3.0, half, rings=24, segments=128), 60.0, 3.0, half


@pytest.mark.parametrize("engine", ["embree", "exact"])
@pytest.mark.parametrize("name", ["shell", "cap", "cap_small"])
def test_vertex_ray_thickness_matches_concentric_spheres(name, engine):
    from pmd_envelope.measure.thickness import vertex_ray_thickness

    _, mesh, r_in, t, half = next(s for s in _vertex_shapes() if s[0] == name)
    v = mesh.vertices
    r = np.linalg.norm(v, axis=1)
    outer, inner = np.abs(r - (r_in + t)) < 1e-9, np.abs(r - r_in) < 1e-9
    assert (outer | inner).all()
    # rim vertices of the cap (last ring) have tilted pseudonormals: no analytic value there
    interior = np.ones(len(v), dtype=bool) if half is None else np.arccos(v[:, 2] / r) < half * (1 - 1e-9)
    field = vertex_ray_thickness(mesh, DEFAULT_SETTINGS, engine)
    tv = field.per_vertex
    s_in, s_out = _sagitta(mesh, r_in), _sagitta(mesh, r_in + t)
    assert s_in < 0.1 and s_out < 0.1  # the bound is meaningful, not a wide-open interval
    o, i = outer & interior, inner & interior
    assert not field.edge_zone[interior].any()
    assert tv[o].min() >= t - VERTEX_FLOAT_TOL and tv[o].max() <= t + s_in + VERTEX_FLOAT_TOL
    assert tv[i].min() >= t - s_out - VERTEX_FLOAT_TOL and tv[i].max() <= t + VERTEX_FLOAT_TOL
    assert field.minimum == pytest.approx(t, abs=max(s_in, s_out) + VERTEX_FLOAT_TOL)
    # the witness reproduces the minimum
    assert field.point == tuple(v[field.vertex])
    assert np.linalg.norm(np.subtract(field.opposite, field.point)) == pytest.approx(field.minimum, abs=1e-9)


@pytest.mark.parametrize("name", ["shell", "cap", "cap_small"])
def test_vertex_rays_engines_agree(name):
    from pmd_envelope.measure.thickness import vertex_ray_thickness

    _, mesh, *_ = next(s for s in _vertex_shapes() if s[0] == name)
    a = vertex_ray_thickness(mesh, DEFAULT_SETTINGS, "embree")
    b = vertex_ray_thickness(mesh, DEFAULT_SETTINGS, "exact")
    # every vertex ray of these shapes meets a wall in both engines (none slips through a vertex
    # of the opposite surface, which radial rays aim at exactly)
    assert np.isfinite(a.per_vertex).all() and np.isfinite(b.per_vertex).all()
    assert np.abs(a.per_vertex - b.per_vertex).max() <= ENGINE_OBSERVED_TOL
    assert np.array_equal(a.edge_zone, b.edge_zone)


def test_vertex_pseudonormal_of_a_cube_corner_is_the_diagonal():
    import trimesh

    from pmd_envelope.measure.thickness import vertex_pseudonormals
    from pmd_envelope.mesh_io import mesh_from_arrays

    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    mesh = mesh_from_arrays(box.vertices, box.faces)
    # each corner has three right-angled faces however the squares are split: the angle weights
    # give (1, 1, 1) / sqrt(3) along the corner's octant, a face count would not
    n = vertex_pseudonormals(mesh)
    assert np.allclose(n, np.sign(mesh.vertices) / np.sqrt(3.0), atol=1e-12)


@pytest.mark.parametrize("engine", ["embree", "exact"])
def test_vertex_rays_sharp_edges_do_not_fake_thin_walls(engine):
    from pmd_envelope.measure.thickness import vertex_ray_thickness
    from pmd_envelope.mesh_io import load_mesh

    mesh = load_mesh(REAL_MESHES / "7_8ths_cube.stl", "mm")
    field = vertex_ray_thickness(mesh, DEFAULT_SETTINGS, engine)
    size = float(np.ptp(mesh.vertices, axis=0).max())
    wall = ~field.edge_zone & np.isfinite(field.per_vertex)
    assert wall.any()
    # every vertex is a corner of the part: the thinnest wall is the removed octant's slab, size/2
    assert field.per_vertex[wall].min() >= size / 2.0 - 1e-4
    assert field.minimum >= size / 2.0 - 1e-4


def test_min_vertex_statistic_in_the_wall_thickness_measurement():
    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=24, segments=128)
    m = ray_thickness(mesh, DEFAULT_SETTINGS).measurement
    assert m.statistic("min_vertex") == pytest.approx(2.0, abs=CAP_TOL)


def test_cached_face_centroids_are_the_mean_bit_for_bit():
    """The face rays start at cached centroids summed (a + b) + c, then / 3: the same bits as
    ``v[f].mean(axis=1)``, so no record moves; read-only, since every stage shares them."""
    from pmd_envelope.geometry import mesh_face_centroids
    from pmd_envelope.mesh_io import mesh_from_arrays

    rng = np.random.default_rng(9)
    v = rng.normal(scale=50.0, size=(3000, 3)) + 1e3
    f = rng.integers(0, 3000, (5000, 3))
    for mesh in (mesh_from_arrays(v, f), spherical_cap_plate(80.0, 2.0, 0.6, rings=24, segments=96)):
        c = mesh_face_centroids(mesh)
        assert np.array_equal(c, mesh.vertices[mesh.faces].mean(axis=1))
        assert not c.flags.writeable


def test_rays_embree_leaves_on_their_start_faces_are_cast_in_float64(monkeypatch):
    """A thickness ray embree still finds on a face at its start after its re-casts was read as
    a miss (its face dropped from the statistics unlooked); it is now cast again by the float64
    engine (first_hit(settle=True)). None are left on real plates, so embree is made to see
    every seventh ray's first hit as a start face, with no re-cast allowed: the thicknesses are
    then those of the ordinary run, within the engines' stated agreement, and no ray is lost."""
    from pmd_envelope.rays import EmbreeCaster

    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=12, segments=48)
    plain = ray_thickness(mesh, DEFAULT_SETTINGS)
    plain_vertex = vertex_ray_thickness(mesh, DEFAULT_SETTINGS)
    real_first_hit, real_settled = EmbreeCaster.first_hit, EmbreeCaster.settled
    in_float64, settled = [False], []

    def first_hit(self, origins, directions, incident, *args, **kwargs):
        def forced(ray, face):  # embree sees every seventh ray's hit as its start face
            return incident(ray, face) if in_float64[0] else incident(ray, face) | (ray % 7 == 0)
        return real_first_hit(self, origins, directions, forced, *args, **dict(kwargs, max_recasts=0))

    def settle(self, origins, *args):
        settled.append(len(origins))
        in_float64[0] = True
        try:
            return real_settled(self, origins, *args)
        finally:
            in_float64[0] = False

    monkeypatch.setattr(EmbreeCaster, "first_hit", first_hit)
    monkeypatch.setattr(EmbreeCaster, "settled", settle)
    settled_faces = ray_thickness(mesh, DEFAULT_SETTINGS)
    settled_vertex = vertex_ray_thickness(mesh, DEFAULT_SETTINGS)
    assert len(settled) == 2 and settled[0] >= len(mesh.faces) // 7 and settled[1] >= len(mesh.vertices) // 7
    assert np.isfinite(settled_faces.per_face).all() and np.isfinite(settled_vertex.per_vertex).all()
    assert np.abs(settled_faces.per_face - plain.per_face).max() <= DEFAULT_SETTINGS.engine_tolerance_mm
    assert np.abs(settled_vertex.per_vertex - plain_vertex.per_vertex).max() <= DEFAULT_SETTINGS.engine_tolerance_mm
    # a face ray meets the same face; a vertex ray aimed at a vertex of the opposite surface may
    # meet another face of its fan at the same distance (the float64 engine takes the lowest id)
    assert (settled_faces.hit_face == plain.hit_face).all() and (settled_vertex.hit_face >= 0).all()
