#!/usr/bin/env python3
"""Scan stage vs pydicom's raw pixel read, on a 512 x 512 x 300 CT series made in a temp dir.

Times, in one run on the same files:
  raw   pydicom.dcmread + pixel_array of every slice (what reading the series costs at least)
  scan  read_series (allow-listed headers, content hash, checks) + measure_scan_fit (crop to the
        design's region, HU, marching cubes, closest-point gaps)
and prints scan / raw (issue 12 target: <= 3). The series is a head phantom at 0.45 mm pixels,
0.625 mm slices, uncompressed; the design a cranial plate 0.5 mm off the bone. Nothing is
committed: the series is deleted afterwards.

Usage: python benchmarks/bench_scan.py [--slices 300] [--rows 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--rows", type=int, default=512)
    args = ap.parse_args(argv)
    import pydicom
    # what validate has imported before its scan stage runs (the mesh was read and measured):
    # imported here so that the timed stage does not count their first import (~0.5 s)
    import scipy.spatial  # noqa: F401
    import skimage.measure  # noqa: F401
    import trimesh  # noqa: F401

    from pmd_envelope.geometry import MeshData
    from pmd_envelope.scan.bone import measure_scan_fit
    from pmd_envelope.scan.phantom import HeadPhantom, StackGeometry, phantom_volume, write_series
    from pmd_envelope.scan.series import DEFAULT_SCAN_SETTINGS, read_series
    from pmd_envelope.shapes import spherical_cap_plate

    n, px, dz = args.rows, 0.45, 0.625
    axis = np.array([-0.6, 0.0, 0.8])
    head = HeadPhantom(centre=(0.0, 0.0, 0.0), r_inner=64.0, r_outer=70.0, r_scalp=75.0,
                       defect_axis=tuple(axis), defect_cos=float(np.cos(0.35)))
    geo = StackGeometry(origin=(-px * (n - 1) / 2, -px * (n - 1) / 2, -dz * args.slices / 2), rows=n, columns=n,
                        pixel_spacing=px, z_steps=tuple(dz * k for k in range(args.slices)))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        hu = phantom_volume(head, geo)
        write_series(Path(tmp) / "ct", hu, geo, seed=1, slice_thickness=dz, compress=False)
        del hu
        print(f"made {args.slices} slices of {n} x {n} in {time.perf_counter() - t0:.1f} s (not timed below)")
        files = sorted((Path(tmp) / "ct").iterdir())
        t0 = time.perf_counter()
        for f in files:
            pydicom.dcmread(f).pixel_array
        raw = time.perf_counter() - t0

        plate = spherical_cap_plate(70.5, 2.0, 0.45, rings=40, segments=200)
        v = np.array(plate.vertices)
        z = np.array([0.0, 0.0, 1.0])
        k = np.cross(z, axis)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + kx + kx @ kx / (1 + axis[2])
        design = MeshData(vertices=v @ rot.T, faces=np.array(plate.faces), path="plate", sha256="", units="mm")
        t0 = time.perf_counter()
        series = read_series(Path(tmp) / "ct", salt="PSN-BENCH1")
        t1 = time.perf_counter()
        gap, frac = measure_scan_fit(design, series, Path(tmp) / "ct", threshold_hu=300.0, gap_limit=2.5,
                                     contact_angle_deg=DEFAULT_SCAN_SETTINGS.contact_angle_deg,
                                     settings=DEFAULT_SCAN_SETTINGS)
        scan = time.perf_counter() - t0
        # where segment + fit goes, timed again stage by stage (not part of the ratio)
        from pmd_envelope.scan.bone import _contact_gaps, bone_surface

        margin = DEFAULT_SCAN_SETTINGS.fit_margin_mm
        lo, hi = design.vertices.min(axis=0) - margin, design.vertices.max(axis=0) + margin
        t2 = time.perf_counter()
        bone = bone_surface(series, Path(tmp) / "ct", lo, hi, 300.0)
        t3 = time.perf_counter()
        _contact_gaps(design, bone, DEFAULT_SCAN_SETTINGS.contact_angle_deg)
        t4 = time.perf_counter()
    print(f"pydicom raw pixel read : {raw:.2f} s")
    print(f"headers + checks + hash: {t1 - t0:.2f} s")
    print(f"segment + fit (cropped): {scan - (t1 - t0):.2f} s  (gap mean {dict(gap.statistics)['mean']:.3f} mm, "
          f"contact fraction {frac.value:.3f})")
    print(f"scan stage / raw read  : {scan / raw:.2f}  (target <= 3)")
    print(f"  stages, timed again: crop read + marching cubes {t3 - t2:.2f} s ({len(bone.faces)} bone faces); "
          f"closest-point gaps of {len(design.faces)} design faces {t4 - t3:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
