#!/usr/bin/env python3
"""Make the bundled sample cases in sample_scans/ (reproducible: fixed shapes, seeded placement).

Each design is an analytic spherical-cap cranial plate (pmd_envelope.shapes) placed in scanner
coordinates by a seeded random rotation and translation, so measurements must not depend on
orientation. The script writes every case folder and sample_scans/MANIFEST.json with the seed,
the closed-form truth of each design, the expected verdict, and the SHA-256 of every file; a test
re-runs this script and checks the bytes are the same, with numpy's SIMD dispatch as found and
restricted (tests/test_determinism.py).

Machine independence: numpy's vectorised sin, cos and arcsin and OpenBLAS's kernels are chosen
for the CPU at run time and may differ in the last bit (one float32 normal of cranial-003 changed
between dispatch levels before this rule). So every vertex is snapped to a grid of 2^-10 mm
(~1 um, 50x below the wall's U of 0.05 mm): grid values are exact in float32, the STL holds them
exactly, and the facet normals are computed from exact coordinates by correctly rounded
operations only. A coordinate changes only if its float64 jitter (~1e-13 mm) straddles a grid
midpoint: ~1e-10 per coordinate, ~1e-5 per run of this script. The reals in MANIFEST.json are
stated to 7 significant digits (pmd_envelope.resolution), like those of a record.

Usage: python scripts/make_sample_cases.py [--out sample_scans]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pmd_envelope.mesh_io import write_binary_stl
from pmd_envelope.resolution import round_reals
from pmd_envelope.shapes import anatomy_sphere, cap_plate_truth, spherical_cap_plate
from sample_common import GRID_MM, case_head, on_grid, sha256

SEED = 20261124
ENVELOPE = ("cranial-plate-ti64-lpbf", "1.0.0")
RINGS, SEGMENTS = 40, 200

CASES = [
    # case id, inner radius R [mm], thickness t [mm], span [mm], expected verdict, why, anatomy gap [mm]
    ("cranial-001", 80.0, 2.0, 100.0, "conforming",
     "every parameter inside its range by more than U; worst case far above the limit", None),
    ("cranial-002", 75.0, 0.8, 90.0, "nonconforming",
     "wall 0.8 mm is below the envelope's 1.0 mm minimum (and the worst-case load fails)", None),
    ("cranial-003", 100.0, 1.08, 139.5, "nonconforming",
     "thickness and span each inside their ranges, but thin and wide together fail the yield-load limit "
     "at the worst manufacturing configuration (-0.1 mm, HIP, Z build)", None),
    ("cranial-004", 90.0, 2.5, 110.0, "conforming",
     "conforming plate with the patient's skull surface (a sphere 0.3 mm inside the plate's concave side) "
     "as the anatomy mesh: the fit is measured and recorded", 0.3),
]
ANATOMY_SUBDIVISIONS = 5

#: The case.toml after its head (sample_common.case_head).
CASE_TAIL = """\
defect_site = "{site}"
rim_overlap_mm = 6.0
drainage_holes = false
notes = "Sample request for a patient-specific cranial plate"

[scan]
modality = "CT"
acquired = 2026-09-14
slice_thickness = 0.625
pixel_spacing = 0.45
length_unit = "mm"

[design]
mesh = "design.stl"
units = "mm"
{anatomy}"""
ANATOMY_TOML = """
[anatomy]
mesh = "anatomy.stl"
units = "mm"
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "sample_scans"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(SEED)
    manifest = {"seed": SEED, "generator": "scripts/make_sample_cases.py", "vertex_grid_mm": GRID_MM,
                "reals": "7 significant digits", "cases": []}
    sites = ["left parietal", "right frontal", "bifrontal", "right parietal"]
    for num, (case_id, r, t, span, verdict, why, gap) in enumerate(CASES, start=1):
        a = math.asin(span / (2.0 * (r + t)))  # scalar libm, not numpy's CPU-dispatched arcsin
        mesh = spherical_cap_plate(r, t, a, rings=RINGS, segments=SEGMENTS)
        rot = Rotation.random(random_state=rng)
        shift = rng.uniform(-60.0, 60.0, size=3) + np.array([0.0, 0.0, 120.0])
        verts = on_grid(rot.apply(np.array(mesh.vertices)) + shift)
        folder = out / case_id
        folder.mkdir(parents=True, exist_ok=True)
        write_binary_stl(folder / "design.stl", verts, mesh.faces, header=f"pmd-envelope sample {case_id}".encode())
        files = ["case.toml", "design.stl"]
        if gap is not None:
            # the skull: a sphere concentric with the plate, ``gap`` inside its concave surface
            skull = anatomy_sphere(r - gap, subdivisions=ANATOMY_SUBDIVISIONS)
            write_binary_stl(folder / "anatomy.stl", on_grid(rot.apply(np.array(skull.vertices)) + shift), skull.faces,
                             header=f"pmd-envelope sample {case_id} anatomy".encode())
            files.append("anatomy.stl")
        (folder / "case.toml").write_text(case_head(
            generator="make_sample_cases.py", seed=SEED, case_id=case_id, envelope=ENVELOPE,
            comment=f"Design: spherical-cap cranial plate, inner radius {r} mm, wall {t} mm, span {span} mm.",
            request_id=f"HCP-REQ-2026-{num:04d}") + CASE_TAIL.format(
            site=sites[num - 1], anatomy=ANATOMY_TOML if gap is not None else ""), encoding="utf-8")
        truth = {k: float(v) for k, v in cap_plate_truth(r, t, a).items()}
        truth["radius_of_curvature"] = r
        if gap is not None:
            truth["anatomy_gap"] = gap
        manifest["cases"].append(round_reals({
            "case_id": case_id, "expected_verdict": verdict, "why": why,
            "design": {"inner_radius": r, "thickness": t, "span": span, "half_angle_rad": a, "rings": RINGS,
                       "segments": SEGMENTS, "rotation_quat_xyzw": [float(x) for x in rot.as_quat()],
                       "translation": [float(x) for x in shift]},
            "truth": truth,
            "files": {name: sha256(folder / name) for name in files},
        }))
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
