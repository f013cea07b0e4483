"""What the report's scan page draws, carried in the record (``scan_fit``): the report never measures.

Frame: the design's box frame (:func:`pmd_envelope.surface_map.box_frame`: origin at the box
centre, axis 3 through the plate pointing away from the concave, bone-facing side); its origin and
axes in patient coordinates [mm] are in the record, so every drawn point maps back to the scan.

- ``slice``: where the plane through the box centre normal to axis 2 cuts the design and the bone
  surface the fit was measured on (the same marching-cubes surface), as polylines
  ``[u0, w0, u1, w1, ...]`` in (axis 1, axis 3) [mm] (the cut segments chained end to end, which
  halves the numbers stored), within the design's span along axis 1 plus ``SLICE_PAD_MM``.
- ``gap_map``: the design's bone-facing faces (normal toward -axis 3, or a contact face of the fit)
  binned on a square grid in (axis 1, axis 2); each cell ``[i, j, gap]`` holds the largest gap of
  the contact faces in it (the statistic the envelope limits), or null when none of its faces
  looks at bone within the contact angle. Cell ``(i, j)`` is centred at
  ``origin + (i, j) * cell_mm``.

Only the drawing is simplified; the measurements come from every face.
"""

from __future__ import annotations

import math

import numpy as np

from pmd_envelope.geometry import MeshData, mesh_face_geometry

__all__ = ["DRAWING_VERSION", "GAP_MAP_CELLS", "SLICE_PAD_MM", "scan_fit_drawing"]

DRAWING_VERSION = 1
#: Cells of the gap map at most: ~1500 cells of ~2 mm on a 120 mm plate, finer than the ~3 mm at
#: which a colour change reads on the printed page, and ~30 kB of indented JSON.
GAP_MAP_CELLS = 1500
#: Bone drawn beyond the design's ends along axis 1 [mm]: enough to show the bone the rim rests on.
SLICE_PAD_MM = 10.0
#: Drawing resolution in the record: positions 0.01 mm, gaps 0.001 mm (far below the voxel size).
_XY_DECIMALS, _GAP_DECIMALS = 2, 3


def _cell_size(span1: float, span2: float) -> float:
    """Grid cell [mm], a multiple of 0.5 mm, giving at most ``GAP_MAP_CELLS`` cells over the box."""
    return max(0.5, math.ceil(2.0 * math.sqrt(max(span1 * span2, 1e-6) / GAP_MAP_CELLS)) / 2.0)


def _polylines(segs: list) -> list[list[float]]:
    """Chain segments ``[u0, w0, u1, w1]`` that share end points into polylines (flat lists).

    End points are matched at the drawing resolution; the walk starts from the sorted segments, so
    the same segments give the same polylines."""
    key = lambda u, w: (round(u, _XY_DECIMALS), round(w, _XY_DECIMALS))  # noqa: E731
    ends: dict = {}
    for k, (u0, w0, u1, w1) in enumerate(segs):
        ends.setdefault(key(u0, w0), []).append(k)
        ends.setdefault(key(u1, w1), []).append(k)
    used = [False] * len(segs)

    def walk(start, k):  # points from ``start`` along segment k and onward
        out, here = [], start
        while k is not None:
            used[k] = True
            a, b = key(*segs[k][:2]), key(*segs[k][2:])
            here = b if here == a else a
            out.append(here)
            k = next((j for j in ends[here] if not used[j]), None)
        return out

    lines = []
    for k in sorted(range(len(segs)), key=lambda k: (len(ends[key(*segs[k][:2])]) != 1, k)):  # open ends first
        if used[k]:
            continue
        start = key(*segs[k][:2])
        fwd = walk(start, k)
        back = walk(start, next((j for j in ends[start] if not used[j]), None)) if ends[start] else []
        pts = back[::-1] + [start] + fwd
        lines.append([x for pt in pts for x in pt])
    return lines


def scan_fit_drawing(design: MeshData, bone: MeshData, contact_ids: np.ndarray, gap: np.ndarray) -> dict:
    """The record's ``scan_fit`` drawing block (version 1).

    Parameters
    ----------
    design : MeshData
        The design, in patient coordinates [mm].
    bone : MeshData
        The bone surface the fit was measured on [mm].
    contact_ids : ndarray of int
        The design's contact faces (:func:`pmd_envelope.scan.bone._contact_gaps`).
    gap : ndarray of float
        Their signed gaps [mm] (negative: interference).
    """
    from pmd_envelope.surface_map import box_frame, section

    origin, axes = box_frame(design.vertices)
    p = (design.vertices - origin) @ axes.T
    b = (bone.vertices - origin) @ axes.T
    half = float(np.abs(p[:, 0]).max()) + SLICE_PAD_MM
    centre = np.zeros(3)
    design_cut = section(p, design.faces, centre, half)["segments"]
    bone_cut = section(b, bone.faces, centre, half)["segments"]
    # only the bone near the design across the plate too: the crop may reach past it
    w_lo, w_hi = float(p[:, 2].min()) - 2 * SLICE_PAD_MM, float(p[:, 2].max()) + 2 * SLICE_PAD_MM
    bone_cut = [s for s in bone_cut if w_lo <= min(s[1], s[3]) and max(s[1], s[3]) <= w_hi]

    n = mesh_face_geometry(design)[0] @ axes.T
    c = p[design.faces].mean(axis=1)
    per_face = np.full(len(design.faces), np.nan)
    per_face[contact_ids] = gap
    shown = (n[:, 2] < 0) | np.isfinite(per_face)
    lo, hi = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
    cell = _cell_size(*(hi - lo))
    ij = np.floor((c[shown, :2] - lo) / cell).astype(np.int64)
    g = per_face[shown]
    key = ij[:, 0] * (int(ij[:, 1].max()) + 1 if len(ij) else 1) + ij[:, 1]
    cells = []
    for k in np.unique(key):
        sel = key == k
        gg = g[sel]
        i, j = ij[sel][0]
        worst = float(np.round(np.nanmax(gg), _GAP_DECIMALS)) if np.isfinite(gg).any() else None
        cells.append([int(i), int(j), worst])
    r = lambda x: [round(float(v), _XY_DECIMALS) for v in x]  # noqa: E731
    return {
        "version": DRAWING_VERSION,
        "frame": {"origin": [round(float(v), 4) for v in origin], "axes": [[round(float(v), 7) for v in a] for a in axes],
                  "basis": "design's oriented box; axis 3 away from the bone-facing (concave) side"},
        "slice": {"plane": "through the design's box centre, normal to axis 2 (axes 1 and 3 drawn)",
                  "half_width_mm": round(half, _XY_DECIMALS), "design": _polylines(design_cut),
                  "bone": _polylines(bone_cut)},
        "gap_map": {"cell_mm": cell, "origin": r(lo + 0.5 * cell), "extent": r(lo) + r(hi),
                    "statistic": "largest gap of the contact faces in the cell [mm]; null: no contact face",
                    "cells": cells},
    }
