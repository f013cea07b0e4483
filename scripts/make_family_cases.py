#!/usr/bin/env python3
"""Make the bundled sample cases of the device families other than the cranial plate.

Each family module named in FAMILY_MODULES (``pmd_envelope.families.<family>_shapes``) exports
``SAMPLES``: a list of dicts with

- ``case_id``, ``envelope`` (id, version), ``expected_verdict`` and ``why`` (in words);
- ``build``: a callable returning ``(vertices, faces, truth)``, the design made by CSG
  (manifold3d) from the case's seeded parameters, in the design's own frame, with the
  closed-form truth of every family parameter;
- ``parameters``: the inputs of ``build`` (recorded in the manifest);
- ``characteristics``: the HCP request's characteristics table;
- ``plan`` (optional): the case's ``[plan]`` table in the design's own frame (a key named
  ``point`` is moved like the design, a key named ``normal`` or ``direction`` rotated).

The script places every design in scanner coordinates by a seeded random rotation and
translation drawn from a stream of its own (seed and case id; a measurement must not depend on
how the design sits), snaps the vertices to a
2^-10 mm grid (exact in float32; see scripts/make_sample_cases.py for why), and writes each case
folder and ``sample_scans/FAMILY_MANIFEST.json`` with the seed, the parameters, the transform, the
truth, the expected verdict and the SHA-256 of every file. A test re-runs it and compares bytes.

Usage: python scripts/make_family_cases.py [--out sample_scans]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pmd_envelope.mesh_io import write_binary_stl
from pmd_envelope.resolution import round_reals
from sample_common import GRID_MM, case_head, on_grid, sha256

SEED = 20261125
FAMILY_MODULES: tuple[str, ...] = (
    "pmd_envelope.families.mandible_shapes",
    "pmd_envelope.families.guide_shapes",
    "pmd_envelope.families.cranial_shapes",
)

#: The case.toml after its head (sample_common.case_head).
CASE_TAIL = """\
{characteristics}
[scan]
modality = "CT"
acquired = 2026-09-14
slice_thickness = 0.625
pixel_spacing = 0.45
length_unit = "mm"

[design]
mesh = "design.stl"
units = "mm"
{plan}"""


def toml_value(x) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        return repr(float(x)) if isinstance(x, float) else str(x)
    if isinstance(x, str):
        return json.dumps(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in x) + "]"
    raise TypeError(f"no TOML form for {x!r}")


def plan_toml(plan: dict | None) -> str:
    """The ``[plan]`` table; sub-tables become ``[plan.<name>]``."""
    if not plan:
        return ""
    flat = [f"{k} = {toml_value(v)}" for k, v in plan.items() if not isinstance(v, dict)]
    out = "\n[plan]\n" + "".join(line + "\n" for line in flat)
    for k, v in plan.items():
        if isinstance(v, dict):
            out += f"[plan.{k}]\n" + "".join(f"{kk} = {toml_value(vv)}\n" for kk, vv in v.items())
    return out


def moved_plan(plan, rot: Rotation, shift: np.ndarray):
    """The plan in scanner coordinates: points moved, normals and directions rotated, on the grid."""
    if isinstance(plan, dict):
        out = {}
        for k, v in plan.items():
            if k == "point":
                out[k] = [float(x) for x in on_grid(rot.apply(np.asarray(v, dtype=float)) + shift)]
            elif k in ("normal", "direction"):
                out[k] = [float(x) for x in round_reals(list(rot.apply(np.asarray(v, dtype=float))))]
            else:
                out[k] = moved_plan(v, rot, shift)
        return out
    return plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "sample_scans"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": SEED, "generator": "scripts/make_family_cases.py", "vertex_grid_mm": GRID_MM,
                "reals": "7 significant digits", "cases": []}
    for module_name in FAMILY_MODULES:
        module = importlib.import_module(module_name)
        for spec in module.SAMPLES:
            case_id = spec["case_id"]
            # one stream per case, so adding a case or a family moves no other case
            rng = np.random.default_rng([SEED, int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16)])
            verts, faces, truth = spec["build"]()
            rot = Rotation.random(random_state=rng)
            shift = rng.uniform(-60.0, 60.0, size=3) + np.array([0.0, 0.0, 120.0])
            placed = on_grid(rot.apply(np.asarray(verts, dtype=float)) + shift)
            folder = out / case_id
            folder.mkdir(parents=True, exist_ok=True)
            write_binary_stl(folder / "design.stl", placed, np.asarray(faces),
                             header=f"pmd-envelope sample {case_id}".encode())
            chars = "".join(f"{k} = {toml_value(v)}\n" for k, v in spec["characteristics"].items())
            plan = moved_plan(spec.get("plan"), rot, shift)
            (folder / "case.toml").write_text(case_head(
                generator="make_family_cases.py", seed=SEED, comment=spec["title"], case_id=case_id,
                envelope=tuple(spec["envelope"]), request_id=f"HCP-REQ-{case_id}") + CASE_TAIL.format(
                characteristics=chars, plan=plan_toml(plan)), encoding="utf-8")
            manifest["cases"].append(round_reals({
                "case_id": case_id, "family_module": module_name, "expected_verdict": spec["expected_verdict"],
                "why": spec["why"], "envelope": list(spec["envelope"]), "parameters": spec["parameters"],
                "placement": {"rotation_quat_xyzw": [float(x) for x in rot.as_quat()],
                              "translation": [float(x) for x in shift]},
                "plan": plan, "truth": {k: float(v) for k, v in truth.items()},
                "files": {name: sha256(folder / name) for name in ("case.toml", "design.stl")},
            }))
    (out / "FAMILY_MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(manifest['cases'])} cases to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
