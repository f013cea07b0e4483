"""Overhang area fraction of a design for a given build direction.

Method ``facet_angle``: a face needs support when its outward normal points down, within
``90 deg - overhang_angle_deg`` of the direction opposite to the build direction; i.e. the
surface is flatter than the self-supporting angle from horizontal (45 deg for Ti LPBF; < 30 deg
nearly always fails; domain notes §3). Faces resting on the build plate (every corner at the
lowest height along the build direction) are supported by the plate and are not counted; their
share is reported separately. The fraction is by area.
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.geometry import MeshData, mesh_face_geometry
from pmd_envelope.measure.records import Measurement

__all__ = ["overhang_mask", "measure_overhang"]


def overhang_mask(mesh: MeshData, build_direction, overhang_angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Faces needing support and faces on the build plate, for a build direction (any length).

    Notes
    -----
    With u the unit build direction and n the outward face normal, the surface's angle from
    horizontal is ``alpha = arccos(-n . u)`` for down-facing faces; the face is an overhang when
    ``alpha < overhang_angle_deg``, i.e. ``-n . u > cos(overhang_angle_deg)``. A face at exactly
    the threshold is self-supporting.
    """
    u = np.asarray(build_direction, dtype=float)
    u = u / np.linalg.norm(u)
    v, f = mesh.vertices, mesh.faces
    down = -mesh_face_geometry(mesh)[0] @ u
    height = v @ u
    # the plate: within 1e-9 of the part's height range of the lowest point (round-off of a
    # rotated mesh), far below a 20-60 um layer
    tol = 1e-9 * max(float(np.ptp(height)), 1.0)
    on_plate = (height[f] <= height.min() + tol).all(axis=1)
    needs = (down > np.cos(np.radians(overhang_angle_deg)) + 1e-12) & ~on_plate
    return needs, on_plate


def measure_overhang(mesh: MeshData, build_direction, overhang_angle_deg: float) -> Measurement:
    """``overhang_area_fraction`` [1] for ``build_direction`` (unit vector in mesh coordinates)."""
    needs, on_plate = overhang_mask(mesh, build_direction, overhang_angle_deg)
    areas = mesh_face_geometry(mesh)[1]
    total = float(areas.sum())
    u = np.asarray(build_direction, dtype=float) / np.linalg.norm(build_direction)
    return Measurement(
        parameter="overhang_area_fraction", value=float(areas[needs].sum() / total), unit="1", method="facet_angle",
        statistics=(("overhang_area", float(areas[needs].sum())), ("on_plate_area_fraction",
                                                                   float(areas[on_plate].sum() / total))),
        notes=f"build direction ({u[0]:.6g}, {u[1]:.6g}, {u[2]:.6g}) in mesh coordinates; down-facing surfaces "
              f"flatter than {overhang_angle_deg:g} deg from horizontal; faces on the build plate excluded")
