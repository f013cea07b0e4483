"""Benchmark of the knee cutting guide measurers: time of the slot and pin-hole measurements against
the mesh size, beside the whole ``measure_mesh`` of the same guide (the reference measured in the same
run: the machine is noisy). Prints a table; asserts nothing.

Run from the repository root::

    python benchmarks/bench_guide.py             # up to ~760k faces (~1 min)
    python benchmarks/bench_guide.py --quick     # up to ~50k faces

The guide is the CSG guide of pmd_envelope/families/guide_shapes.py with fine pins (256-gons) and a
fine bone-facing carving (1024-gon), then split by trimesh's 4-way subdivision (the measured values
stay the closed-form ones; the pin diameter moves by the subdivided chords' sagitta, < 2e-4 mm).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trimesh  # noqa: E402

from pmd_envelope.families import FamilyContext  # noqa: E402
from pmd_envelope.families.guide import measure_pin_holes, measure_slot  # noqa: E402
from pmd_envelope.families.guide_shapes import guide_parameters, guide_plan, knee_guide  # noqa: E402
from pmd_envelope.measure.core import measure_mesh  # noqa: E402
from pmd_envelope.mesh_io import mesh_from_arrays  # noqa: E402
from pmd_envelope.settings import DEFAULT_SETTINGS  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    p = guide_parameters(pin_segments=256, back_segments=1024)
    v, f = knee_guide(p)
    print("| faces | slot [s] | pin holes [s] | whole measure_mesh [s] | slot width, wall, pin [mm] |")
    print("|---:|---:|---:|---:|---|")
    for level in range(3 if args.quick else 5):
        mesh = mesh_from_arrays(v, f)
        ctx = FamilyContext(settings=DEFAULT_SETTINGS, plan=guide_plan(p))
        t0 = time.perf_counter()
        slot = measure_slot(mesh, ctx)
        t1 = time.perf_counter()
        pins = measure_pin_holes(mesh, ctx)
        t2 = time.perf_counter()
        measure_mesh(mesh, DEFAULT_SETTINGS)
        t3 = time.perf_counter()
        got = {m.parameter: m.value for m in slot + pins}
        print(f"| {len(f)} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | {got['slot_width']:.6f}, "
              f"{got['slot_wall_thickness']:.6f}, {got['pin_hole_diameter']:.6f} |", flush=True)
        v, f = trimesh.remesh.subdivide(v, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
