"""Benchmark of the report (issue 11): render time from a record, for the sample cases and for a
1M-face design. Prints a table; asserts nothing (tests/test_report.py holds a loose bound).

Run from the repository root::

    python benchmarks/bench_report.py            # sample cases and a 1M-face plate (~1-2 min)
    python benchmarks/bench_report.py --quick    # sample cases only

The report is rendered from the record alone, so its time does not grow with the mesh: the
record's thickness map is the surface decimated to ~6000 triangles (pmd_envelope.surface_map).
The 1M-face design is an analytic spherical-cap plate (rings x segments chosen for 1M faces)
validated like a sample case; the time to validate it (measuring every face) is shown beside the
render time. Times are the best of ``--repeat`` renders; on a shared, loaded machine the wall time
is inflated, so the process CPU time is shown beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.mesh_io import write_binary_stl  # noqa: E402
from pmd_envelope.pipeline import validate  # noqa: E402
from pmd_envelope.report import render_report  # noqa: E402
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc)


def best(f, repeat):
    """Best wall time and best process CPU time of ``repeat`` calls, and the last result."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = f()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu), out


def big_case(folder: Path, faces: int = 1_000_000) -> tuple[Path, int]:
    """cranial-001's case with its design replaced by a ~``faces``-face cap plate (R 80, t 2 mm)."""
    case = folder / "cases" / "big"
    shutil.copytree(ROOT / "sample_scans" / "cranial-001", case)
    shutil.copytree(ROOT / "envelopes", folder / "envelopes")
    segments = int((faces / 4) ** 0.5 * 2)
    rings = max(2, faces // (4 * segments))
    mesh = spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=rings, segments=segments)
    write_binary_stl(case / "design.stl", mesh.vertices, mesh.faces)
    return case, len(mesh.faces)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample cases only")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    render_report(validate(ROOT / "sample_scans" / "cranial-001", now=NOW).record)  # warm imports and fonts
    print(f"{'design':<24}{'faces':>10}{'validate [s]':>14}{'render [s]':>12}{'render CPU [s]':>16}{'pages':>7}"
          f"{'PDF [kB]':>10}")
    cases = sorted(p for p in (ROOT / "sample_scans").iterdir() if (p / "case.toml").is_file())
    with tempfile.TemporaryDirectory() as tmp:
        todo = [(c.name, c, None) for c in cases]
        if not args.quick:
            big, n = big_case(Path(tmp))
            todo.append(("cap plate 1M faces", big, n))
        for name, path, _ in todo:
            t0 = time.perf_counter()
            rec = validate(path, now=NOW).record
            tv = time.perf_counter() - t0
            tr, tc, pdf = best(lambda: render_report(rec), args.repeat)
            pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page ")
            faces = rec["thickness_map"]["faces_total"]
            print(f"{name:<24}{faces:>10}{tv:>14.2f}{tr:>12.2f}{tc:>16.2f}{pages:>7}{len(pdf) / 1024:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
