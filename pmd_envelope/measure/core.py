"""Compose the geometric measurements of one design mesh."""

from __future__ import annotations

from dataclasses import dataclass

from pmd_envelope.integrity import IntegrityReport, check_integrity
from pmd_envelope.measure.extents import measure_extents
from pmd_envelope.measure.records import Measurement
from pmd_envelope.measure.thickness import ThicknessField, ray_thickness
from pmd_envelope.mesh_io import MeshData
from pmd_envelope.settings import Settings

__all__ = ["MeshMeasurements", "measure_mesh"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MeshMeasurements:
    """Integrity report, the measurements, and the per-face thickness field (None if not measured)."""

    integrity: IntegrityReport
    measurements: tuple[Measurement, ...]
    thickness: ThicknessField | None

    def get(self, name: str) -> Measurement:
        for m in self.measurements:
            if m.parameter == name:
                return m
        raise KeyError(name)


def measure_mesh(mesh: MeshData, settings: Settings, *, expected_bodies: int | None = None,
                 plausible_size: tuple[float, float] | None = None) -> MeshMeasurements:
    """Gate and measure a mesh.

    The extents are measured first (they only need the vertices) so the unit-plausibility check
    can use them. Thickness needs a closed, consistently wound mesh; on a mesh that fails those
    checks it is not measured (``thickness`` is None) rather than reported wrong.
    """
    extents = measure_extents(mesh)
    span = extents[0].value
    integrity = check_integrity(mesh, expected_bodies=expected_bodies, plausible_size=plausible_size,
                                largest_extent=span, unit_size_slack=settings.unit_size_slack)
    closed = integrity.boundary_edges == 0 and integrity.nonmanifold_edges == 0 and integrity.winding_consistent \
        and integrity.signed_volume > 0
    thickness = ray_thickness(mesh, settings) if closed else None
    measurements = ((thickness.measurement,) if thickness else ()) + extents
    return MeshMeasurements(integrity=integrity, measurements=measurements, thickness=thickness)
