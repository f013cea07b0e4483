"""Fit of the design on the patient's anatomy: gap of the bone-contacting surface.

Method ``closest_point``: the bone-contacting surface is the set of design faces whose outward
normal looks at the anatomy (within ``contact_angle_deg`` of the direction from the face centroid
to its closest anatomy point). For each such face the gap is the float64 distance from its
centroid to the closest point of the anatomy surface (trimesh's exact point-triangle
projection), signed negative where the centroid lies inside the bone (behind the anatomy face,
by that face's normal): an interference, not a gap. Reported area-weighted: max and RMS gap,
min (most negative = deepest interference) and the fraction of the contact area whose gap is
within the limit (the envelope's ``anatomy_gap`` maximum, else the settings default).
"""

from __future__ import annotations

import numpy as np

from pmd_envelope.geometry import MeshData, mesh_face_centroids, mesh_face_geometry
from pmd_envelope.measure.records import Measurement, Witness

__all__ = ["contact_gaps", "measure_fit"]


def contact_gaps(design: MeshData, anatomy: MeshData, contact_angle_deg: float):
    """(contact face ids, signed gap per contact face [mm], closest anatomy points, anatomy face ids)."""
    import trimesh  # deferred: ~0.3 s to import, paid only by a case with an anatomy

    c = mesh_face_centroids(design)
    anat = trimesh.Trimesh(anatomy.vertices, anatomy.faces, process=False)
    q, dist, tri = trimesh.proximity.closest_point(anat, c)
    to_bone = q - c
    n = mesh_face_geometry(design)[0]
    looks = np.einsum("ij,ij->i", n, to_bone) >= np.cos(np.radians(contact_angle_deg)) * dist
    an = mesh_face_geometry(anatomy)[0][tri]
    # inside the bone when the centroid is behind the closest anatomy face (outward normals)
    inside = np.einsum("ij,ij->i", c - q, an) < 0
    gap = np.where(inside, -dist, dist)
    # a face touching the bone (gap 0) has no direction to it and is contact by definition
    contact = looks | (dist == 0.0) | inside
    ids = np.flatnonzero(contact)
    return ids, gap[ids], q[ids], tri[ids]


def measure_fit(design: MeshData, anatomy: MeshData, *, gap_limit: float, contact_angle_deg: float):
    """``anatomy_gap`` (value: max gap [mm]) and ``anatomy_contact_fraction`` (area within the limit)."""
    ids, gap, q, tri = contact_gaps(design, anatomy, contact_angle_deg)
    if len(ids) == 0:  # a finding about this design, not bad input: both parameters say why
        why = ("no design face looks at the anatomy: check that the design and the anatomy mesh share one "
               "coordinate frame")
        return (Measurement(parameter="anatomy_gap", value=None, unit="mm", method="closest_point", reason=why,
                            statistics=tuple((k, None) for k in ("max", "rms", "min", "mean", "contact_area"))),
                Measurement(parameter="anatomy_contact_fraction", value=None, unit="1", method="closest_point",
                            reason=why, statistics=(("gap_limit", float(gap_limit)),)))
    w = mesh_face_geometry(design)[1][ids]
    i_max = int(np.argmax(gap))
    c = design.vertices[design.faces[ids[i_max]]].mean(axis=0)
    within = float(w[gap <= gap_limit].sum() / w.sum())
    rms = float(np.sqrt(np.average(gap**2, weights=w)))
    how = (f"closest-point distance from each contact face centroid to the anatomy (float64); contact faces look "
           f"at the anatomy within {contact_angle_deg:g} deg; negative = interference")
    gap_m = Measurement(parameter="anatomy_gap", value=float(gap.max()), unit="mm", method="closest_point",
                        statistics=(("max", float(gap.max())), ("rms", rms), ("min", float(gap.min())),
                                    ("mean", float(np.average(gap, weights=w))),
                                    ("contact_area", float(w.sum()))),
                        witness=Witness(point=tuple(float(x) for x in c), opposite=tuple(float(x) for x in q[i_max]),
                                        faces=(int(ids[i_max]), int(tri[i_max])), distance=float(gap.max())),
                        notes=how)
    frac_m = Measurement(parameter="anatomy_contact_fraction", value=within, unit="1", method="closest_point",
                         statistics=(("gap_limit", float(gap_limit)),),
                         notes=f"area fraction of the contact surface with gap <= {gap_limit:g} mm")
    return gap_m, frac_m
