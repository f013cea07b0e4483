#!/usr/bin/env python3
"""Make the sample cases with a DICOM CT series: cranial-005 (plate on its defect), cranial-006 (wrong side), cranial-007.

The patient is a seeded synthetic head phantom (pmd_envelope.scan.phantom): a spherical skull
shell with a circular defect, brain, scalp and air, written as an RLE Lossless CT series with
realistic headers and canary (fake) identity. cranial-005's design is a spherical-cap plate
0.5 mm off the outer table over the defect, with a 0.1 rad (7 mm) rim overlap. cranial-006 has
the same series and the same plate mirrored left-right in the scanner frame (x -> -x, as an
LPS/RAS mix-up in a file conversion does): every design parameter is the same, but the head
is not centred in the scanner, so the plate lands inside the other side of the skull.
cranial-007 is cranial-005 claimed against the released envelope 1.3.0 instead of the draft 1.2.0.

Deterministic: the seed draws the head's position and the defect's direction, which are then
stated at 7 significant digits and used as stated; the voxels are integer sums of sub-samples
(elementwise float operations only, see the phantom module); design vertices are snapped to the
2^-10 mm grid as in scripts/make_sample_cases.py. Both case folders hold identical series files
(git stores them once). Truth goes to sample_scans/SCANS_MANIFEST.json; a test re-runs this
script and compares the bytes.

Usage: python scripts/make_sample_scans.py [--out sample_scans]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from pmd_envelope.mesh_io import write_binary_stl
from pmd_envelope.resolution import at_resolution, round_reals
from pmd_envelope.scan.phantom import FAKE_IDENTITY, HU, HeadPhantom, StackGeometry, phantom_volume, write_series
from pmd_envelope.shapes import cap_plate_truth, spherical_cap_plate
from sample_common import GRID_MM, case_head, on_grid, sha256

SEED = 20261212
ENVELOPE = ("cranial-plate-ti64-lpbf", "1.2.0")
R_INNER, R_OUTER, R_SCALP = 64.0, 70.0, 75.0  # skull tables and scalp [mm]: adult vault bone ~6 mm
DEFECT_HALF_ANGLE = 0.35  # [rad]: a defect ~48 mm across
PLATE_GAP, PLATE_T, OVERLAP = 0.5, 2.0, 0.1  # [mm], [mm], [rad] (7 mm rim on bone, >= 5 mm, domain notes)
PIXEL, SLICE, ROWS, COLUMNS, SLICES = 0.8, 1.25, 128, 192, 60
RINGS, SEGMENTS = 30, 120

#: The case.toml after its head (sample_common.case_head).
CASE_TAIL = """\
defect_site = "right parietal"
rim_overlap_mm = 7.0
drainage_holes = false
notes = "Sample request for a patient-specific cranial plate"

[scan]
series = "ct"
{typed}
[design]
mesh = "design.stl"
units = "mm"
"""


def rotation_to(axis: np.ndarray) -> np.ndarray:
    """A rotation matrix taking +z to ``axis`` (Rodrigues, closed form: no LAPACK)."""
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(z, axis)
    c = float(axis[2])
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "sample_scans"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(SEED)
    centre = np.array([at_resolution(x) for x in (rng.uniform(8.0, 16.0), rng.uniform(-24.0, -16.0), 40.0)])
    azimuth, elevation = at_resolution(rng.uniform(-0.2, 0.2)), at_resolution(rng.uniform(0.6, 0.8))
    # the defect on the patient's right (-x in LPS), pointing up by ``elevation``
    axis = np.array([-math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
                     math.sin(elevation)])
    axis = np.array([at_resolution(x) for x in axis])
    head = HeadPhantom(centre=tuple(float(x) for x in centre), r_inner=R_INNER, r_outer=R_OUTER, r_scalp=R_SCALP,
                       defect_axis=tuple(float(x) for x in axis),
                       defect_cos=at_resolution(math.cos(DEFECT_HALF_ANGLE)))
    origin = (round(centre[0] - PIXEL * (COLUMNS - 1) / 2, 3), round(centre[1] - PIXEL * (ROWS - 1) / 2, 3),
              round(centre[2] + 2.0, 3))
    geo = StackGeometry(origin=origin, rows=ROWS, columns=COLUMNS, pixel_spacing=PIXEL,
                        z_steps=tuple(SLICE * k for k in range(SLICES)))
    hu = phantom_volume(head, geo)

    r_plate = R_OUTER + PLATE_GAP
    half = DEFECT_HALF_ANGLE + OVERLAP
    plate = spherical_cap_plate(r_plate, PLATE_T, half, rings=RINGS, segments=SEGMENTS)
    verts = on_grid(np.array(plate.vertices) @ rotation_to(axis).T + centre)
    faces = np.array(plate.faces)
    truth = {k: float(v) for k, v in cap_plate_truth(r_plate, PLATE_T, half).items()}
    truth["radius_of_curvature"] = r_plate
    manifest = {"seed": SEED, "generator": "scripts/make_sample_scans.py", "vertex_grid_mm": GRID_MM,
                "reals": "7 significant digits",
                "phantom": {**head.as_dict(), "hu": HU, "defect_half_angle_rad": DEFECT_HALF_ANGLE,
                            "identity_canaries": FAKE_IDENTITY},
                "series": {"rows": ROWS, "columns": COLUMNS, "slices": SLICES, "pixel_spacing": PIXEL,
                           "slice_spacing": SLICE, "slice_thickness": SLICE, "origin": list(origin),
                           "transfer_syntax": "RLE Lossless"},
                "cases": []}
    cases = [
        ("cranial-005", verts, faces, "nonconforming",
         "plate 0.5 mm off the outer table over its defect, read from its DICOM series: every parameter and the "
         "scan fit conform; nonconforming only because envelope 1.2.0 is a draft", PLATE_GAP, "",
         "Design: spherical-cap plate over the phantom's defect, 0.5 mm off the bone."),
        ("cranial-006", verts * np.array([-1.0, 1.0, 1.0]), faces[:, ::-1], "nonconforming",
         "the same plate mirrored left-right in the scanner frame (wrong side): every design parameter inside the "
         "envelope, nonconforming on the scan fit (and on the draft envelope)", None,
         'modality = "CT"\nslice_thickness = 1.25\npixel_spacing = 0.8\nlength_unit = "mm"\n',
         "Design: the cranial-005 plate mirrored x -> -x (wrong side); typed scan numbers agree with the series."),
        ("cranial-007", verts, faces, "conforming",
         "the cranial-005 plate claimed against the released envelope 1.3.0 (which carries the scan fit of 1.2.0): "
         "every parameter, the scan fit and the worst case conform, so the verdict is conforming", PLATE_GAP, "",
         "Design: the cranial-005 plate, validated against the released envelope 1.3.0."),
    ]
    released = {"cranial-007": ("cranial-plate-ti64-lpbf", "1.3.0")}  # the others claim the draft ENVELOPE
    for num, (case_id, v, f, verdict, why, gap, typed, what) in enumerate(cases, start=5):
        env_id, env_version = released.get(case_id, ENVELOPE)
        folder = out / case_id
        folder.mkdir(parents=True, exist_ok=True)
        for old in (folder / "ct").glob("*.dcm") if (folder / "ct").is_dir() else ():
            old.unlink()
        paths = write_series(folder / "ct", hu, geo, seed=SEED, slice_thickness=SLICE, series_key="phantom-head")
        write_binary_stl(folder / "design.stl", v, f, header=f"pmd-envelope sample {case_id}".encode())
        (folder / "case.toml").write_text(case_head(
            generator="make_sample_scans.py", seed=SEED, comment=what, case_id=case_id,
            envelope=(env_id, env_version), request_id=f"HCP-REQ-2026-{num:04d}") + CASE_TAIL.format(typed=typed),
            encoding="utf-8")
        files = ["case.toml", "design.stl"] + [f"ct/{p.name}" for p in paths]
        t = dict(truth)
        if gap is not None:
            t["scan_fit_gap"] = gap
        manifest["cases"].append(round_reals({
            "case_id": case_id, "expected_verdict": verdict, "why": why, "mirrored": gap is None,
            "design": {"inner_radius": r_plate, "thickness": PLATE_T, "half_angle_rad": half, "rings": RINGS,
                       "segments": SEGMENTS, "axis": list(axis), "centre": list(centre)},
            "truth": t, "files": {name: sha256(folder / name) for name in files}}))
    (out / "SCANS_MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases with a DICOM series to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
