"""Knee cutting guide (PA12 SLS): the saw slot, its walls, its plane against the plan, the pin holes.

A patient-matched cutting guide puts the saw cut where the surgeon planned it: the blade runs in a
slot, the guide is pinned to the bone. What must hold (domain notes §2-3): the slot admits the
blade (1.19-1.27 mm) with 0.1-0.4 mm clearance; the slot walls are stiff enough to guide it; the
slot's plane is the planned resection plane (FDA guidance on patient-matched guides: resection
within ~1.5 mm, alignment within 2-3 deg); the pin holes take 3.2 mm pins.

Parameters and methods
----------------------
``slot_width``, ``slot_length`` (method ``slot_plane_pair``)
    The slot is found as a pair of planar faces facing each other across a narrow gap. The surface
    is split into smooth patches at sharp edges (:func:`pmd_envelope.measure.holes.smooth_patches`,
    ``settings.feature_angle_deg``); a patch is *planar* when its vertices lie within
    :data:`PLANAR_TOL_MM` of their least-squares plane (SVD). Two planar patches A, B form a slot
    when their outward normals are opposed within :data:`PARALLEL_DEG`, each lies in front of the
    other (the gap between them is outside the material: the outward normals face each other),
    their outlines overlap in the mid-plane, and the gap is narrow: at most
    :data:`NARROW_RATIO` x the smaller in-plane extent of the overlap (a saw slot is a thin gap;
    the slot's two end faces, facing each other across the slot length, are not). Rays cast from
    A along its outward normal must reach B first on at least :data:`FACING_FRACTION` of A's
    overlap (nothing between the faces). ``slot_width`` is the distance between the two fitted
    planes along the mid-plane normal at the slot centre (statistics: at the corners of the
    overlap, ``min_corner``/``max_corner``, and the angle between the two faces,
    ``parallelism_deg``). In the mid-plane, the overlap of the two faces' outlines is a rectangle
    (axes of the minimum-area rectangle of A's outline, trimesh's ``oriented_bounds_2D``, and the
    intervals both outlines cover along them); ``slot_length`` is its longer side (along the
    cut, statistic ``depth``: the shorter side, along the blade's travel). With several slots each
    value is the smallest (the narrowest slot must admit the blade), ``slots`` the count.
``slot_wall_thickness`` (method ``slot_wall_ray``)
    The material between each slot face and the guide's outer surface on the far side: from
    points spread over each slot face (a barycentric lattice, ~:data:`WALL_SAMPLES` a face), a
    ray into the material along the face's inward normal (Embree, the distance recomputed in
    float64 on the face met: :class:`_Caster`); a hit counts as a wall only where the face met
    looks back within ``settings.opposing_angle_deg`` (the thickness module's sharp-edge rule).
    Value: the thinnest wall of any slot face, with its witness; statistics: the thinnest point
    of the thinner and of the thicker wall of the slot (``thinner_wall``, ``thicker_wall``).
``slot_plane_angle`` (method ``plan_plane_angle``), ``slot_plane_offset`` (``plan_plane_distance``)
    Against the case's planned resection plane (``[plan.resection_plane]``, a point and a normal
    in the design mesh's coordinates [mm]): the angle between the slot's mid-plane normal and the
    planned normal, ``arccos |n . m|`` [deg, 0-90] (computed as ``atan2``, accurate near 0), and the distance of the slot centre (centre of
    the overlap rectangle, on the mid-plane) from the planned plane, ``|(c - p) . m|`` [mm]
    (statistics ``signed`` along the planned normal, and ``max_over_slot``: the largest distance
    of the overlap rectangle's corners, where an angle error moves the cut most). The blade's
    centre plane is the slot's mid-plane. With several slots, the one whose centre is nearest the
    planned plane is compared. Without a plan both are null with the reason: never guessed.
``pin_hole_diameter`` (method ``cylinder_fit``)
    Pin holes are cylindrical through-bores: a smooth patch whose face normals are perpendicular
    to one axis (smallest eigenvector of the area-weighted normal scatter; every normal within
    :data:`CYLINDER_AXIS_DEG` of perpendicular) and go all the way round (no gap above 90 deg
    between the normals' directions, which leaves out fillets and rounded edges); its vertices,
    projected along the axis, fit a least-squares circle (Kasa 1976, as
    :func:`pmd_envelope.measure.holes.circle_fit`) within :data:`CIRCLE_RMS_REL` of the radius;
    the normals point at the axis (a bore, not a pin or boss); and a ray along the axis from the
    bore's middle meets nothing within the bore's length plus its diameter either way (a blind
    hole's bottom is met). Value: the smallest diameter; statistics ``min``, ``max``, ``count``.
    :func:`~pmd_envelope.measure.holes.find_through_holes` is not used: it looks for openings of
    the two largest surfaces, which on a block are not the faces the pins pass through. Limits: a
    bore whose wall blends into the surface through a fillet (edges bending less than the feature
    angle) joins that surface's patch and is not seen; each step of a counterbored hole is a bore
    of its own (the smallest diameter is the one a pin must pass).

Why written here: no installed library finds slots or bores in a triangle mesh (trimesh has no
feature recognition; manifold3d gives the genus, not where the holes are). Each step is a
standard fit (SVD plane, Kasa circle, first-hit rays) on the patches :mod:`pmd_envelope.measure.holes`
already finds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pmd_envelope.families import FamilyContext, FamilyMeasurer
from pmd_envelope.geometry import MeshData, mesh_edges, mesh_face_geometry
from pmd_envelope.measure.holes import _smooth_patches
from pmd_envelope.measure.records import Measurement, Witness
from pmd_envelope.settings import DEFAULT_SETTINGS

__all__ = ["MEASURERS", "Slot", "find_slots", "find_pin_holes", "measure_slot", "measure_pin_holes", "plan_plane"]

#: A patch is planar when its vertices lie within this distance [mm] of their least-squares plane.
#: 0.01 mm is 1/10 of the slot width's U budget and 1/20 of the SLS dimensional tolerance (+-0.2 mm,
#: envelope); CAD exports of flat faces are planar to round-off, the sample cases' 2^-10 mm vertex
#: grid to 0.0009 mm.
PLANAR_TOL_MM = 0.01
#: Largest angle [deg] between the two faces of a slot (opposed normals). 5 deg: a drafted or
#: tapered slot is still a slot (its parallelism is reported); beyond that it is a wedge.
PARALLEL_DEG = 5.0
#: A gap is a slot when it is at most this fraction of the smaller in-plane extent of the overlap.
#: A saw slot is 1.3-1.7 mm wide and 10-60 mm long and deep (ratio < 0.2); 0.5 leaves room and
#: rejects the slot's own end faces (facing each other across the slot length, overlapping only
#: by the slot width).
NARROW_RATIO = 0.5
#: Share of a face's sample rays along its normal that must reach the other face first.
FACING_FRACTION = 0.5
#: Ray samples per slot face for the wall thickness and the facing test (a lattice; ~1 per
#: 0.1 mm^2 on a 40 x 12 mm slot face, < 0.05 s).
WALL_SAMPLES = 4000
#: Planar patches examined (the largest by area): a block has a few dozen; a CAD part a few hundred.
MAX_PLANAR_PATCHES = 200
#: A bore's face normals must be within this angle [deg] of perpendicular to its axis.
CYLINDER_AXIS_DEG = 5.0
#: Largest RMS distance of a bore's vertices from the fitted circle, relative to the radius.
#: Vertices of a tessellated cylinder lie on the circle (0); 2 % allows a bore meshed with
#: vertices a little off it and still rejects non-circular channels.
CIRCLE_RMS_REL = 0.02
#: Largest angle [deg] between neighbouring normal directions of a bore around its axis: a full
#: bore has none above 360/7 deg (a 7-gon is the coarsest polygon kept in one patch at 60 deg);
#: a fillet or rounded edge leaves a gap of at least 270 deg.
BORE_GAP_DEG = 90.0

SLOT_METHOD, WALL_METHOD, ANGLE_METHOD, OFFSET_METHOD, PIN_METHOD = (
    "slot_plane_pair", "slot_wall_ray", "plan_plane_angle", "plan_plane_distance", "cylinder_fit")
SLOT_PARAMETERS = ("slot_width", "slot_length", "slot_wall_thickness", "slot_plane_angle", "slot_plane_offset")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Slot:
    """One saw slot: the two faces' fitted planes, the mid-plane and the overlap rectangle.

    ``normal``: mid-plane normal (along face A's outward normal); ``centre``: centre of the overlap
    rectangle, on the mid-plane [mm]; ``axes``: rows, along the slot and along the blade's travel;
    ``length``, ``depth`` [mm]: the rectangle's sides; ``width`` [mm]: at the centre;
    ``corner_widths`` [mm]: smallest and largest at the rectangle's corners; ``parallelism_deg``;
    ``corners``: the rectangle's corners on the mid-plane; ``faces``: face ids of A and B;
    ``planes``: (centroid, outward unit normal) of A and B; ``facing_fraction``: share of A's rays
    reaching B first.
    """

    normal: np.ndarray
    centre: np.ndarray
    axes: np.ndarray
    length: float
    depth: float
    width: float
    corner_widths: tuple[float, float]
    parallelism_deg: float
    corners: np.ndarray
    faces: tuple[np.ndarray, np.ndarray]
    planes: tuple
    facing_fraction: float


def _plane_fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares plane: (centroid, unit normal, largest vertex distance) [mm]."""
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[-1]
    return c, n, float(np.abs((points - c) @ n).max())


def _lattice(v: np.ndarray, f: np.ndarray, area: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Points spread over faces ``f`` (about ``total`` in all) and the face of each.

    Each triangle is cut into k^2 similar sub-triangles (k from its share of the area, at most 64)
    and the centroid of each is taken: interior points, never on an edge, deterministic (no random
    draw). Triangles with the same k share one barycentric pattern (one array operation per k).
    """
    cell = max(float(area.sum()) / total, 1e-12)
    k_of = np.clip(np.ceil(np.sqrt(area / cell)), 1, 64).astype(np.int64)
    pts, owner = [], []
    for k in np.unique(k_of):
        ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        up, dn = (ii + jj) <= k - 1, (ii + jj) <= k - 2
        # upward sub-triangles (i, j) have their centroid at (i + 1/3, j + 1/3) / k, downward ones at + 2/3
        b = np.vstack([np.column_stack([ii[up] + 1 / 3, jj[up] + 1 / 3]),
                       np.column_stack([ii[dn] + 2 / 3, jj[dn] + 2 / 3])]) / k
        tri = np.flatnonzero(k_of == k)
        p0, p1, p2 = (v[f[tri, c]] for c in range(3))
        p = p0[:, None, :] + b[None, :, :1] * (p1 - p0)[:, None, :] + b[None, :, 1:] * (p2 - p0)[:, None, :]
        pts.append(p.reshape(-1, 3))
        owner.append(np.repeat(tri, len(b)))
    order = np.argsort(np.concatenate(owner), kind="stable")  # face order, as the faces were given
    return np.vstack(pts)[order], np.concatenate(owner)[order]


class _Caster:
    """First hits by Embree (float32, fast) with each distance recomputed in float64 on the face
    met: ``t = n . (a - o) / (n . d)`` for that face's plane (n its normal, a a corner), so a
    reported distance carries no float32 rounding. A ray meeting a facet edge may name either
    neighbour; both contain the edge, so the distance is the same to round-off. The exact R-tree
    engine (:class:`pmd_envelope.rays.ExactCaster`) took 2-20 s on a 3k-190k-face guide for the
    ~8000 slot-face rays, whose long segments meet the bounding boxes of the block's large faces.
    """

    def __init__(self, mesh: MeshData, recast_step: float):
        from pmd_envelope.rays import EmbreeCaster

        self.mesh = mesh
        self.embree = EmbreeCaster(mesh.vertices, mesh.faces, recast_step)

    def first_hit(self, origins, directions, start_face=None, t_max=None):
        """``(t [mm] in float64, inf on a miss; face id, -1)``; ``start_face`` is excluded per ray."""
        if start_face is None:
            incident = lambda r, tri: np.zeros(len(r), dtype=bool)  # noqa: E731
        else:
            incident = lambda r, tri: tri == start_face[r]  # noqa: E731
        t, face = self.embree.first_hit(origins, directions, incident,
                                        t_max=None if t_max is None else np.asarray(t_max, dtype=float))
        hit = face >= 0
        if hit.any():
            normals = mesh_face_geometry(self.mesh)[0]
            n = normals[face[hit]]
            a = self.mesh.vertices[self.mesh.faces[face[hit], 0]]
            t = t.copy()
            t[hit] = np.einsum("ij,ij->i", n, a - origins[hit]) / np.einsum("ij,ij->i", n, directions[hit])
        return t, face


def _caster(mesh: MeshData, settings) -> _Caster:
    return _Caster(mesh, settings.ray_offset_mm)


def _planar_patches(mesh: MeshData, feature_angle_deg: float):
    """``[(face ids, centroid, outward normal, area)]`` of the planar patches, largest first."""
    v, f = mesh.vertices, mesh.faces
    normals, area = mesh_face_geometry(mesh)
    labels = _smooth_patches(f, normals, mesh_edges(mesh), feature_angle_deg)
    patch_area = np.bincount(labels, weights=area)
    order = np.argsort(-patch_area, kind="stable")
    groups = np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])
    out = []
    for lab in order:
        if len(out) >= MAX_PLANAR_PATCHES or patch_area[lab] <= 0:
            break
        ids = groups[lab]
        pts = v[np.unique(f[ids])]
        if len(pts) < 3:
            continue
        c, n, dev = _plane_fit(pts)
        if dev > PLANAR_TOL_MM:
            continue
        # orient the fitted normal as the faces' (area-weighted) outward normal
        mean_n = (normals[ids] * area[ids, None]).sum(axis=0)
        if float(mean_n @ n) < 0:
            n = -n
        out.append((ids, c, n, float(patch_area[lab])))
    return out


def _rectangle(points2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axes (2x2 rows) and extents of the minimum-area rectangle of 2D points."""
    import trimesh
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = points2[ConvexHull(points2).vertices]
    except QhullError:
        return np.eye(2), np.ptp(points2, axis=0)
    t2, ext = trimesh.bounds.oriented_bounds_2D(hull)
    return np.asarray(t2)[:2, :2], np.asarray(ext, dtype=float)


def _width_at(q: np.ndarray, n: np.ndarray, planes) -> float:
    """Distance [mm] between the two fitted planes along ``n`` through point ``q``."""
    (ca, na), (cb, nb) = planes
    ta = float(na @ (ca - q)) / float(na @ n)
    tb = float(nb @ (cb - q)) / float(nb @ n)
    return abs(tb - ta)


def find_slots(mesh: MeshData, feature_angle_deg: float, caster=None, settings=DEFAULT_SETTINGS) -> list[Slot]:
    """Every saw slot of the mesh (module notes), largest overlap first.

    ``caster``: a ray caster of this mesh when one is already built; ``settings`` gives its ray
    offset otherwise."""
    v, f = mesh.vertices, mesh.faces
    patches = _planar_patches(mesh, feature_angle_deg)
    if len(patches) < 2:
        return []
    normals, area = mesh_face_geometry(mesh)
    cos_par = math.cos(math.radians(PARALLEL_DEG))
    found = []
    for ia, (fa, ca, na, _) in enumerate(patches):
        for ib in range(ia + 1, len(patches)):
            fb, cb, nb, _ = patches[ib]
            if float(na @ nb) > -cos_par:
                continue
            # facing: each centroid in front of the other's outward normal
            if float(na @ (cb - ca)) <= 0 or float(nb @ (ca - cb)) <= 0:
                continue
            n = na - nb
            n /= np.linalg.norm(n)
            mid = 0.5 * (ca + cb)
            helper = np.eye(3)[int(np.argmin(np.abs(n)))]
            e1 = np.cross(n, helper)
            e1 /= np.linalg.norm(e1)
            e2 = np.cross(n, e1)
            pa = v[np.unique(f[fa])] - mid
            pb = v[np.unique(f[fb])] - mid
            a2 = np.column_stack([pa @ e1, pa @ e2])
            b2 = np.column_stack([pb @ e1, pb @ e2])
            rot, _ = _rectangle(a2)
            ra, rb = a2 @ rot.T, b2 @ rot.T
            lo = np.maximum(ra.min(axis=0), rb.min(axis=0))
            hi = np.minimum(ra.max(axis=0), rb.max(axis=0))
            ext = hi - lo
            if (ext <= 0).any():
                continue
            planes = ((ca, na), (cb, nb))
            centre2 = 0.5 * (lo + hi)
            axes3 = rot @ np.vstack([e1, e2])  # rows: rectangle axes in 3D
            centre = mid + centre2 @ axes3
            width = _width_at(centre, n, planes)
            if width > NARROW_RATIO * float(ext.min()):
                continue
            # nothing between the faces: A's rays along its normal reach B first
            if caster is None:
                caster = _caster(mesh, settings)
            pts, owner = _lattice(v, f[fa], area[fa], WALL_SAMPLES)
            start = fa[owner]
            inside = _in_rect((pts - mid) @ axes3.T, lo, hi)
            if not inside.any():
                continue
            pts, start = pts[inside], start[inside]
            dirs = np.broadcast_to(na, pts.shape).copy()
            t, hit = caster.first_hit(pts, dirs, start, t_max=np.full(len(pts), 4.0 * width))
            in_b = np.isin(hit, fb)
            frac = float(in_b.mean())
            if frac < FACING_FRACTION:
                continue
            order = np.argsort(ext)[::-1]
            corners2 = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
            corners = mid + corners2 @ axes3
            cw = [_width_at(c, n, planes) for c in corners]
            found.append(Slot(normal=n, centre=centre, axes=axes3[order], length=float(ext[order[0]]),
                              depth=float(ext[order[1]]), width=width, corner_widths=(min(cw), max(cw)),
                              parallelism_deg=_angle_deg(na, -nb),
                              corners=corners, faces=(fa, fb), planes=planes, facing_fraction=frac))
    found.sort(key=lambda s: -s.length * s.depth)
    return found


def _in_rect(p3: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (p3[:, 0] >= lo[0]) & (p3[:, 0] <= hi[0]) & (p3[:, 1] >= lo[1]) & (p3[:, 1] <= hi[1])


def _wall(mesh: MeshData, faces: np.ndarray, outward: np.ndarray, caster, opposing_deg: float):
    """Thinnest wall [mm] behind a slot face, with (point, opposite, start face, hit face); None if no wall."""
    v, f = mesh.vertices, mesh.faces
    normals, area = mesh_face_geometry(mesh)
    pts, owner = _lattice(v, f[faces], area[faces], WALL_SAMPLES)
    start = faces[owner]
    d = np.broadcast_to(-outward, pts.shape).copy()
    t, hit = caster.first_hit(pts, d, start)
    ok = hit >= 0
    ok[ok] = normals[hit[ok]] @ -outward >= math.cos(math.radians(opposing_deg))
    if not ok.any():
        return None
    i = int(np.flatnonzero(ok)[np.argmin(t[ok])])
    return float(t[i]), pts[i], pts[i] + t[i] * d[i], int(start[i]), int(hit[i])


def plan_plane(plan) -> tuple[np.ndarray, np.ndarray] | None:
    """(point [mm], unit normal) of the plan's resection plane, None when the plan has none.

    The case loader has validated the table (:mod:`pmd_envelope.case`); the normal is a
    direction, so it is scaled to unit length here.
    """
    rp = plan.get("resection_plane") if plan else None
    if not rp:
        return None
    n = np.asarray(rp["normal"], dtype=float)
    return np.asarray(rp["point"], dtype=float), n / np.linalg.norm(n)


def measure_slot(mesh: MeshData, context: FamilyContext) -> tuple[Measurement, ...]:
    """``slot_width``, ``slot_length``, ``slot_wall_thickness``, ``slot_plane_angle``, ``slot_plane_offset``."""
    s = context.settings
    caster = _caster(mesh, s)
    slots = find_slots(mesh, s.feature_angle_deg, caster)
    if not slots:
        why = (f"no saw slot found: no two planar faces (within {PLANAR_TOL_MM:g} mm) face each other within "
               f"{PARALLEL_DEG:g} deg across a gap narrower than {NARROW_RATIO:g} x their overlap")
        return (_none("slot_width", "mm", SLOT_METHOD, why), _none("slot_length", "mm", SLOT_METHOD, why),
                _none("slot_wall_thickness", "mm", WALL_METHOD, why), _none("slot_plane_angle", "deg", ANGLE_METHOD, why),
                _none("slot_plane_offset", "mm", OFFSET_METHOD, why))
    count = float(len(slots))
    narrow = min(slots, key=lambda x: x.width)
    short = min(slots, key=lambda x: x.length)
    found = (f"{len(slots)} slot(s): planar faces (within {PLANAR_TOL_MM:g} mm) facing each other within "
             f"{PARALLEL_DEG:g} deg, smooth patches split at {s.feature_angle_deg:g} deg")
    width = Measurement(
        parameter="slot_width", value=narrow.width, unit="mm", method=SLOT_METHOD,
        statistics=(("min_corner", narrow.corner_widths[0]), ("max_corner", narrow.corner_widths[1]),
                    ("parallelism_deg", narrow.parallelism_deg), ("slots", count)),
        witness=_across(narrow), notes=found + "; distance between the fitted planes at the slot centre")
    length = Measurement(
        parameter="slot_length", value=short.length, unit="mm", method=SLOT_METHOD,
        statistics=(("depth", short.depth), ("slots", count)),
        witness=Witness(point=_t(short.centre - 0.5 * short.length * short.axes[0]),
                        opposite=_t(short.centre + 0.5 * short.length * short.axes[0]), faces=(-1, -1),
                        distance=short.length),
        notes=found + "; longer side of the faces' overlap in the mid-plane (depth: the shorter, along the blade)")
    walls = []
    for sl in slots:
        for faces, (_, outward) in zip(sl.faces, sl.planes):
            walls.append(_wall(mesh, faces, outward, caster, s.opposing_angle_deg))
    measured = [w for w in walls if w is not None]
    if measured:
        thin = min(measured, key=lambda w: w[0])
        per_slot = [sorted(x[0] for x in walls[2 * i:2 * i + 2] if x is not None) for i in range(len(slots))]
        thin_slot = min(per_slot, key=lambda x: x[0] if x else math.inf)
        wall = Measurement(
            parameter="slot_wall_thickness", value=thin[0], unit="mm", method=WALL_METHOD,
            statistics=(("thinner_wall", thin_slot[0]), ("thicker_wall", thin_slot[-1] if len(thin_slot) == 2 else None)),
            witness=Witness(point=_t(thin[1]), opposite=_t(thin[2]), faces=(thin[3], thin[4]), distance=thin[0]),
            notes=(f"rays (Embree, distance in float64 on the face met) into the material from ~{WALL_SAMPLES} lattice points per slot face; a hit counts "
                   f"where the face met looks back within {s.opposing_angle_deg:g} deg"))
    else:
        wall = _none("slot_wall_thickness", "mm", WALL_METHOD,
                     "no opposing wall behind either slot face (every ray left through a sharp edge or escaped)")
    plane = plan_plane(context.plan)
    if plane is None:
        why = ("the case gives no planned resection plane ([plan.resection_plane] point and normal); the slot's "
               "angle and offset from the plan are not guessed")
        return (width, length, wall, _none("slot_plane_angle", "deg", ANGLE_METHOD, why),
                _none("slot_plane_offset", "mm", OFFSET_METHOD, why))
    p, m = plane
    target = min(slots, key=lambda x: abs(float((x.centre - p) @ m)))
    angle = _angle_deg(target.normal, m if float(target.normal @ m) >= 0 else -m)
    signed = float((target.centre - p) @ m)
    corner = float(np.abs((target.corners - p) @ m).max())
    foot = target.centre - signed * m
    note = (f"slot mid-plane against the planned resection plane; {len(slots)} slot(s), the one whose centre is "
            f"nearest the plane compared")
    ang = Measurement(parameter="slot_plane_angle", value=angle, unit="deg", method=ANGLE_METHOD,
                      statistics=(("slots", count),),
                      witness=Witness(point=_t(target.centre), opposite=_t(target.centre + target.normal),
                                      faces=(-1, -1), distance=angle),
                      notes=note + "; angle between the normals, arccos |n . m| (as atan2(|n x m|, |n . m|))")
    off = Measurement(parameter="slot_plane_offset", value=abs(signed), unit="mm", method=OFFSET_METHOD,
                      statistics=(("signed", signed), ("max_over_slot", corner)),
                      witness=Witness(point=_t(target.centre), opposite=_t(foot), faces=(-1, -1), distance=abs(signed)),
                      notes=note + "; distance of the slot centre from the plane (signed: along the planned normal)")
    return width, length, wall, ang, off


def _across(sl: Slot) -> Witness:
    (ca, na), (cb, nb) = sl.planes
    ta = float(na @ (ca - sl.centre)) / float(na @ sl.normal)
    tb = float(nb @ (cb - sl.centre)) / float(nb @ sl.normal)
    return Witness(point=_t(sl.centre + ta * sl.normal), opposite=_t(sl.centre + tb * sl.normal), faces=(-1, -1),
                   distance=sl.width)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle [deg] between two unit vectors, atan2(|a x b|, a . b): accurate near 0, where
    arccos(a . b) loses half the digits (arccos(1 - 1e-16) is already 8e-7 deg)."""
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b)))


def _t(x) -> tuple[float, float, float]:
    return (float(x[0]), float(x[1]), float(x[2]))


def _none(parameter: str, unit: str, method: str, reason: str) -> Measurement:
    return Measurement(parameter=parameter, value=None, unit=unit, method=method, reason=reason)


def find_pin_holes(mesh: MeshData, feature_angle_deg: float, caster=None,
                   settings=DEFAULT_SETTINGS) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Cylindrical through-bores: ``[(centre [mm], unit axis, diameter [mm])]`` (module notes)."""
    v, f = mesh.vertices, mesh.faces
    normals, area = mesh_face_geometry(mesh)
    labels = _smooth_patches(f, normals, mesh_edges(mesh), feature_angle_deg)
    groups = np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])
    sin_ax = math.sin(math.radians(CYLINDER_AXIS_DEG))
    out = []
    for ids in groups:
        if len(ids) < 6 or area[ids].sum() <= 0:
            continue
        nn, aa = normals[ids], area[ids]
        scatter = (nn * aa[:, None]).T @ nn
        w, vec = np.linalg.eigh(scatter)
        axis = vec[:, 0]
        if np.abs(nn[aa > 0] @ axis).max() > sin_ax:
            continue
        e1 = np.cross(axis, np.eye(3)[int(np.argmin(np.abs(axis)))])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        phi = np.sort(np.arctan2(nn[aa > 0] @ e2, nn[aa > 0] @ e1))
        gaps = np.diff(np.r_[phi, phi[0] + 2 * np.pi])
        if np.degrees(gaps.max()) > BORE_GAP_DEG:
            continue
        pts = v[np.unique(f[ids])]
        uv = np.column_stack([pts @ e1, pts @ e2])
        mu = uv.mean(axis=0)
        a = np.hstack([2.0 * (uv - mu), np.ones((len(uv), 1))])
        sol, *_ = np.linalg.lstsq(a, ((uv - mu) ** 2).sum(axis=1), rcond=None)
        c2 = sol[:2] + mu
        r = math.sqrt(max(float(sol[2] + sol[:2] @ sol[:2]), 0.0))
        if r <= 0:
            continue
        resid = np.sqrt((((uv - c2) ** 2).sum(axis=1)))
        if math.sqrt(float(((resid - r) ** 2).mean())) > CIRCLE_RMS_REL * r:
            continue
        real = aa > 0  # a degenerate face has no normal to judge
        cen = v[f[ids[real]]].mean(axis=1)
        to_axis = np.column_stack([cen @ e1, cen @ e2]) - c2
        inward = -(to_axis * np.column_stack([nn[real] @ e1, nn[real] @ e2])).sum(axis=1)
        if (inward <= 0).any():
            continue  # a normal points away from the axis: a pin or boss, not a bore
        h = pts @ axis
        mid_h = 0.5 * (h.min() + h.max())
        centre = c2[0] * e1 + c2[1] * e2 + mid_h * axis
        if caster is None:
            caster = _caster(mesh, settings)
        reach = np.full(2, 0.5 * float(np.ptp(h)) + 2.0 * r)
        t, _ = caster.first_hit(np.vstack([centre, centre]), np.vstack([axis, -axis]), t_max=reach)
        if np.isfinite(t).any():
            continue  # capped at one end: a blind hole
        out.append((centre, axis, 2.0 * r))
    return out


def measure_pin_holes(mesh: MeshData, context: FamilyContext) -> tuple[Measurement, ...]:
    """``pin_hole_diameter``: the smallest cylindrical through-bore (module notes)."""
    s = context.settings
    bores = find_pin_holes(mesh, s.feature_angle_deg, settings=s)
    if not bores:
        return (_none("pin_hole_diameter", "mm", PIN_METHOD,
                      f"no cylindrical through-bore found (smooth patches split at {s.feature_angle_deg:g} deg whose "
                      f"normals go round one axis and point at it)"),)
    d = np.array([b[2] for b in bores])
    i = int(np.argmin(d))
    c, ax, dia = bores[i]
    return (Measurement(
        parameter="pin_hole_diameter", value=float(dia), unit="mm", method=PIN_METHOD,
        statistics=(("min", float(d.min())), ("max", float(d.max())), ("count", float(len(d)))),
        witness=Witness(point=_t(c), opposite=_t(c + ax), faces=(-1, -1), distance=float(dia)),
        notes=(f"{len(d)} cylindrical through-bore(s); least-squares circle through each bore's vertices seen along "
               f"its axis (witness: the bore's centre and its axis direction)")),)


MEASURERS = (
    FamilyMeasurer(family="cutting_guide", name="saw_slot",
                   methods={"slot_width": SLOT_METHOD, "slot_length": SLOT_METHOD, "slot_wall_thickness": WALL_METHOD,
                            "slot_plane_angle": ANGLE_METHOD, "slot_plane_offset": OFFSET_METHOD},
                   function=measure_slot),
    FamilyMeasurer(family="cutting_guide", name="pin_holes", methods={"pin_hole_diameter": PIN_METHOD},
                   function=measure_pin_holes),
)
