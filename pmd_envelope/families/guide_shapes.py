"""Knee cutting guides by constructive solid geometry (manifold3d), with their closed-form truth.

A knee cutting guide here is a PA12 block (domain notes §3) with

- a closed **saw slot**: a box of width ``slot_width`` (the gap the blade runs in), length
  ``slot_length`` (along the cut, closed at both ends) cut through the whole depth of the block
  (the blade enters at the front face and leaves at the bone-facing face);
- a **slot wall** of thickness ``wall`` between the slot and the top face (the capture wall; the
  material below the slot is the guide body);
- two **pin holes** of diameter ``pin_diameter`` through the depth (pins into the bone);
- a **bone-facing surface** carved by a cylinder of radius ``back_radius`` whose axis is parallel
  to the slot's normal, ``back_sagitta`` deep at the centre: the patient-matched contact surface.

Frame of the design (mm): x along the slot (medio-lateral), y through the block (front face
y = 0, bone-facing face y = ``depth``), z across the slot (the slot's mid-plane is
z = ``height - wall - slot_width / 2``, normal +z).

Closed-form truth (the smooth solid; every vertex manifold3d makes lies on it):

- ``slot_width`` = slot_width, ``slot_length`` = slot_length (the slot's end faces are the
  planes x = +-slot_length / 2; the carved back does not reach them unless stated);
- ``slot_wall_thickness`` = min(wall, height - wall - slot_width): rays from a slot face along
  its inward normal run parallel to the carving cylinder's axis (z), so they end on the top or
  bottom face everywhere;
- ``pin_hole_diameter`` = pin_diameter (the polygon's corners lie on the circle, so the
  least-squares circle through them is the circle; the inscribed circle is
  ``pin_diameter * cos(pi / pin_segments)``);
- ``slot_plane_angle`` and ``slot_plane_offset`` against a planned plane: the plan of a sample is
  the slot's mid-plane turned by ``plan_tilt_deg`` about the y axis (a varus/valgus error) and
  moved by ``plan_offset`` along z at the slot centre (x = 0, z on the mid-plane), so the angle is
  ``plan_tilt_deg`` and the signed distance of the slot centre from the planned plane is
  ``-plan_offset * cos(plan_tilt_deg)`` (x = 0 at the slot centre removes the tilt's share).

The builders are deterministic (manifold3d's booleans are; the sample generator checks bytes).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["guide_parameters", "knee_guide", "guide_truth", "guide_plan", "SAMPLES"]


def guide_parameters(**kw) -> dict:
    """The builder's parameters with their defaults [mm, deg] (a plain dict: recorded in the manifest)."""
    p = {"length": 60.0, "depth": 14.0, "height": 25.0, "slot_width": 1.45, "slot_length": 40.0, "wall": 4.0,
         "pin_diameter": 3.35, "pin_x": 20.0, "pin_z": 7.0, "back_radius": 45.0, "back_sagitta": 2.5,
         "pin_segments": 32, "back_segments": 96, "plan_tilt_deg": 0.0, "plan_offset": 0.0}
    unknown = set(kw) - set(p)
    if unknown:
        raise TypeError(f"unknown guide parameters {sorted(unknown)}")
    p.update(kw)
    return p


def knee_guide(params: dict):
    """``(vertices, faces)`` of the guide described by ``params`` (:func:`guide_parameters`), design frame."""
    import manifold3d as m3

    p = params
    X, Y, Z = p["length"], p["depth"], p["height"]
    body = m3.Manifold.cube((X, Y, Z)).translate((-X / 2.0, 0.0, 0.0))
    z_top = Z - p["wall"]
    w = p["slot_width"]
    slot = m3.Manifold.cube((p["slot_length"], Y + 20.0, w)).translate((-p["slot_length"] / 2.0, -10.0, z_top - w))
    body = body - slot
    r = p["pin_diameter"] / 2.0
    for sx in (-1.0, 1.0):
        # cylinder along +z, turned onto -y by -90 deg about x, then moved through the block
        pin = m3.Manifold.cylinder(Y + 20.0, r, r, int(p["pin_segments"])).rotate((90.0, 0.0, 0.0))
        body = body - pin.translate((sx * p["pin_x"], Y + 10.0, p["pin_z"]))
    if p["back_sagitta"] > 0:
        R = p["back_radius"]
        # n divisible by 4: a corner points at -y, so the deepest point of the carving is exactly
        # back_sagitta deep at x = 0
        back = m3.Manifold.cylinder(Z + 20.0, R, R, int(p["back_segments"])).translate(
            (0.0, Y + R - p["back_sagitta"], -10.0))
        body = body - back
    out = body.to_mesh64()
    # copies: manifold3d's buffers are read-only
    v = np.array(out.vert_properties, dtype=np.float64)[:, :3].copy()
    f = np.array(out.tri_verts, dtype=np.int64)
    return v, f


def slot_centre(params: dict) -> np.ndarray:
    """Centre of the slot's mid-plane [mm] (x = 0, mid-depth, on the mid-plane); design frame."""
    p = params
    return np.array([0.0, p["depth"] / 2.0, p["height"] - p["wall"] - p["slot_width"] / 2.0])


def guide_plan(params: dict) -> dict:
    """The ``[plan]`` table of the guide (design frame): the slot's mid-plane turned by
    ``plan_tilt_deg`` about y and moved ``plan_offset`` along z."""
    p = params
    t = math.radians(p["plan_tilt_deg"])
    point = slot_centre(p) + np.array([0.0, 0.0, p["plan_offset"]])
    normal = [math.sin(t), 0.0, math.cos(t)]
    return {"length_unit": "mm", "resection_plane": {"point": [float(x) for x in point],
                                                     "normal": [float(x) for x in normal]}}


def guide_truth(params: dict) -> dict:
    """Closed-form value of every guide parameter (module notes)."""
    p = params
    t = math.radians(p["plan_tilt_deg"])
    return {"slot_width": p["slot_width"], "slot_length": p["slot_length"],
            "slot_wall_thickness": min(p["wall"], p["height"] - p["wall"] - p["slot_width"]),
            "pin_hole_diameter": p["pin_diameter"], "slot_plane_angle": abs(p["plan_tilt_deg"]),
            "slot_plane_offset": abs(p["plan_offset"] * math.cos(t)),
            "slot_plane_offset_signed": -p["plan_offset"] * math.cos(t)}


def _sample(case_id: str, title: str, verdict: str, why: str, **kw) -> dict:
    params = guide_parameters(**kw)

    def build():
        v, f = knee_guide(params)
        truth = {k: x for k, x in guide_truth(params).items() if k != "slot_plane_offset_signed"}
        return v, f, truth

    return {"case_id": case_id, "title": title, "envelope": ("cutting-guide-pa12-sls", "1.1.0"),
            "expected_verdict": verdict, "why": why, "build": build, "parameters": params,
            "plan": guide_plan(params),
            "characteristics": {"device": "knee cutting guide", "side": "left", "cut": "distal femoral",
                                "blade_thickness_mm": 1.27, "pin_diameter_mm": 3.2}}


#: Sample cases (scripts/make_family_cases.py). Numbers of the envelope: envelopes/cutting-guide-pa12-sls/1.1.0.toml.
SAMPLES = [
    _sample("guide-001", "Knee cutting guide: slot 1.45 mm for a 1.27 mm blade, wall 4 mm, plan 0.5 deg / 0.3 mm off",
            "conforming", "every parameter inside by more than U; slot still admits the blade at the worst "
                          "shrinkage (clearance 0.096 mm >= 0); slot wall deflection 0.085 mm <= 0.25 mm",
            plan_tilt_deg=0.5, plan_offset=0.3),
    _sample("guide-002", "Knee cutting guide: slot 1.30 mm, too narrow for a 1.27 mm blade after SLS shrinkage",
            "nonconforming", "slot width 1.30 mm below the 1.37 mm minimum; at the worst shrinkage and orientation "
                             "the printed slot is 0.054 mm narrower than the 1.27 mm blade",
            slot_width=1.30),
    _sample("guide-003", "Knee cutting guide: slot 4 deg off the planned resection plane",
            "nonconforming", "slot plane 4 deg from the planned resection plane (max 2 deg); every other "
                             "parameter and metric inside",
            plan_tilt_deg=4.0, plan_offset=0.2),
]
