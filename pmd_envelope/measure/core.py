"""Compose the geometric measurements of one design mesh."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from threadpoolctl import threadpool_limits

from pmd_envelope.envelope import Envelope
from pmd_envelope.families import FamilyContext, family_methods, run_measurers
from pmd_envelope.geometry import MeshData, mesh_face_geometry
from pmd_envelope.integrity import IntegrityReport, check_integrity, with_self_check, with_unit_check
from pmd_envelope.measure.early import StartedMeasurement, start_measurement
from pmd_envelope.measure.extents import measure_box, measure_size_and_curvature
from pmd_envelope.measure.fit import measure_fit
from pmd_envelope.measure.holes import Hole, find_through_holes, hole_measurements
from pmd_envelope.measure.overhang import measure_overhang
from pmd_envelope.measure.records import Measurement
from pmd_envelope.measure.thickness import ThicknessField, ray_thickness, sphere_thickness
from pmd_envelope.settings import Settings

__all__ = ["MeshMeasurements", "measure_design", "measure_mesh", "THICKNESS_METHODS"]

#: Methods of ``wall_thickness`` an envelope may name (docs/formats.md).
THICKNESS_METHODS = ("ray", "max_sphere")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MeshMeasurements:
    """Integrity report, the measurements, the per-face thickness field (None if not measured) and
    the through-holes found (what the report's hole pattern draws)."""

    integrity: IntegrityReport
    measurements: tuple[Measurement, ...]
    thickness: ThicknessField | None
    holes: tuple[Hole, ...] = ()

    def get(self, name: str) -> Measurement:
        for m in self.measurements:
            if m.parameter == name:
                return m
        raise KeyError(name)


def measure_mesh(mesh: MeshData, settings: Settings, *, expected_bodies: int | None = None,
                 plausible_size: tuple[float, float] | None = None, thickness_method: str = "ray",
                 anatomy: MeshData | None = None, gap_limit: float | None = None,
                 family_parameters: tuple[str, ...] = (), plan: Mapping[str, object] | None = None,
                 started: StartedMeasurement | None = None) -> MeshMeasurements:
    """Gate and measure a mesh.

    The gate runs first; its unit-plausibility check is completed once the oriented box (measured
    by the self-intersection worker meanwhile) gives the span
    (:func:`pmd_envelope.integrity.with_unit_check`). Thickness, holes and the anatomy fit need a
    closed, consistently wound mesh; on a mesh that fails those checks they are not measured
    (``thickness`` is None) rather than reported wrong.

    Parameters
    ----------
    thickness_method : {"ray", "max_sphere"}
        The method the envelope names for ``wall_thickness``.
    anatomy : MeshData, optional
        The patient's anatomy in the design's frame: adds ``anatomy_gap`` and
        ``anatomy_contact_fraction``.
    gap_limit : float, optional
        Gap limit [mm] of the contact fraction (the envelope's ``anatomy_gap`` maximum);
        ``settings.anatomy_gap_limit_mm`` when omitted.
    family_parameters : tuple of str
        Device-family parameters to measure (:mod:`pmd_envelope.families`), on a closed mesh only.
    plan : Mapping, optional
        The case's ``[plan]`` table, for family measurers that compare the design with the plan.
    started : StartedMeasurement, optional
        The work needing no gate, already started on this very mesh with these settings
        (:func:`pmd_envelope.measure.early.start_measurement`); started here when omitted. The
        caller closes it (it is a context manager).
    """
    if thickness_method not in THICKNESS_METHODS:
        raise ValueError(f"unknown thickness method '{thickness_method}'")
    if started is None:
        with start_measurement(mesh, settings) as own:
            return measure_mesh(mesh, settings, expected_bodies=expected_bodies, plausible_size=plausible_size,
                                thickness_method=thickness_method, anatomy=anatomy, gap_limit=gap_limit,
                                family_parameters=family_parameters, plan=plan, started=own)
    if started.mesh is not mesh or started.ray_offset_mm != settings.ray_offset_mm:
        raise ValueError("the started measurement is of another mesh or ray offset")
    mesh_face_geometry(mesh)  # cached once here, before the ray thickness's threads read it
    # Beside the main thread's gate and measurements run (pmd_envelope.measure.early):
    # - manifold3d's status, in a worker process (SelfIntersectionCheck with edges=False: a crash
    #   there cannot end the run);
    # - in a pool thread, the embree index and on it the self-intersection check's edge rays
    #   (selfcheck_worker.edge_crossings). Neither needs the gate, and both release the GIL for
    #   most of their time (the index is committed and the rays are cast with it released), so
    #   they use the core the gate leaves idle. The index is the ray thickness's too: one build
    #   instead of one here and one in the worker, where the edge rays ran before (1M faces,
    #   alternating runs: ~4.2 s -> ~3.9 s, the same counts; the worker used 2.4 s of CPU, now
    #   ~1.1 s);
    # - on a closed mesh only, the ray thickness, in the other pool thread once the gate has run.
    #   Started after the gate, not before it (measured at 1M faces): the peak memory of a
    #   2M-face `measure` is lower (2037 MB -> 1661 MB when measured), and a mesh the gate finds
    #   open does not pay for a thickness it drops.
    # The oriented box (and trimesh's import, ~0.3-0.5 s) is measured by the worker process, off
    # this process's GIL, before manifold3d's status; the gate's unit check needs the span, so it
    # is added once the box is in (with_unit_check). The float64 engine runs after the holes.
    # BLAS runs on one thread here: its calls are small (3-column products, small fits), and
    # OpenBLAS's extra threads spin after each call, taking the core the worker and the ray
    # thread need (1M faces, measured: 1.1 s less CPU, 6.6-7.1 s -> 6.1-6.5 s; the same JSON).
    with threadpool_limits(limits=1, user_api="blas"):
        index = started.index
        integrity = check_integrity(mesh, expected_bodies=expected_bodies, self_check_timeout=None)
        closed = integrity.boundary_edges == 0 and integrity.nonmanifold_edges == 0 and integrity.winding_consistent \
            and integrity.signed_volume > 0
        early = (started.pool.submit(lambda: ray_thickness(mesh, settings, caster=index.result()))
                 if closed and settings.ray_engine == "embree" else None)
        size_and_curvature = measure_size_and_curvature(mesh, settings)
        later = (measure_overhang(mesh, settings.build_direction, settings.overhang_angle_deg),)
        holes: list[Hole] = []
        if closed:
            holes, genus = find_through_holes(mesh, settings.feature_angle_deg, bodies=integrity.bodies)
            later += hole_measurements(holes, genus, settings.feature_angle_deg)
            if anatomy is not None:
                limit = settings.anatomy_gap_limit_mm if gap_limit is None else gap_limit
                later += measure_fit(mesh, anatomy, gap_limit=limit, contact_angle_deg=settings.contact_angle_deg)
            if family_parameters:
                later += run_measurers(mesh, family_parameters, FamilyContext(
                    settings=settings, plan=MappingProxyType(dict(plan or {})), bodies=integrity.bodies))
        # the box last: the worker measures it (StartedMeasurement.box_extents), here only if it gave none
        box = measure_box(mesh, started.box_extents())
        # without an envelope the unit check still runs, on the default window for
        # patient-matched devices (its basis is in Settings), and says which window it used
        size, basis = ((plausible_size, "the envelope's plausible size") if plausible_size is not None
                       else (settings.default_plausible_size_mm,
                             "the default plausible size of a patient-matched device (no envelope given)"))
        integrity = with_unit_check(integrity, box[0].value, size, units=mesh.units, size_basis=basis,
                                    unit_size_slack=settings.unit_size_slack)
        extents = box + size_and_curvature
        thickness = None
        if closed:
            thickness = early.result() if early is not None else ray_thickness(mesh, settings)
            if thickness_method == "max_sphere":
                thickness = sphere_thickness(mesh, settings, thickness)
        measurements = ((thickness.measurement,) if thickness else ()) + extents + later
        integrity = with_self_check(integrity, started.self_check())
    return MeshMeasurements(integrity=integrity, measurements=measurements, thickness=thickness,
                            holes=tuple(holes))


def measure_design(mesh: MeshData, settings: Settings, envelope: Envelope | None = None, *,
                   anatomy: MeshData | None = None, thickness_method: str | None = None,
                   plan: Mapping[str, object] | None = None,
                   started: StartedMeasurement | None = None) -> MeshMeasurements:
    """Gate and measure a design mesh with the choices its envelope makes.

    The envelope gives the expected body count, the plausible size, the ``wall_thickness``
    method and the ``anatomy_gap`` limit of the contact fraction; without an envelope the body
    count is not checked and the defaults apply (``settings.default_plausible_size_mm`` for the
    unit check, ``ray``, ``settings.anatomy_gap_limit_mm``).
    :func:`pmd_envelope.pipeline.validate` and ``pmd-envelope measure`` both measure this way.

    Parameters
    ----------
    envelope : Envelope, optional
    anatomy : MeshData, optional
        The patient's anatomy in the design's frame.
    thickness_method : {"ray", "max_sphere"}, optional
        Overrides the envelope's method for ``wall_thickness``.
    plan : Mapping, optional
        The case's ``[plan]`` table (device-family measurers that compare the design with it).
    started : StartedMeasurement, optional
        As in :func:`measure_mesh`.
    """
    params = {p.name: p for p in envelope.parameters} if envelope is not None else {}
    wall, gap = params.get("wall_thickness"), params.get("anatomy_gap")
    method = thickness_method or (wall.method if wall is not None else "ray")
    family = family_methods()
    return measure_mesh(mesh, settings, expected_bodies=envelope.expected_bodies if envelope is not None else None,
                        plausible_size=envelope.plausible_size if envelope is not None else None,
                        thickness_method=method, anatomy=anatomy, gap_limit=gap.max if gap is not None else None,
                        family_parameters=tuple(p for p in params if p in family), plan=plan, started=started)
