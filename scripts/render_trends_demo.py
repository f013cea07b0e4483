"""Build a demonstration evidence folder, draw its trends page and take the README screenshot.

usage: python scripts/render_trends_demo.py [--out build/trends-demo] [--designs 14] [--readme]

Seeded (SEED): spherical-cap cranial plates with walls, spans and radii drawn across the
cranial envelope 1.0.0, scans of varied slice thickness, pixel spacing and age, each validated
by the real pipeline into ``OUT/evidence``, stamped a fortnight apart (the time stamp is not in
the content hash), and released (reviewed and approved; a nonconforming one under a deviation)
with two demonstration keys (fixed seeds: for this demonstration only, never for evidence).
Then ``pmd-envelope trends`` writes ``OUT/trends/index.html`` and headless Chromium takes
``OUT/trends.png`` (and, with ``--readme``, ``docs/trends.png``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.cli import main as cli  # noqa: E402
from pmd_envelope.ledger import commit_evidence  # noqa: E402
from pmd_envelope.mesh_io import write_binary_stl  # noqa: E402
from pmd_envelope.pipeline import validate  # noqa: E402
from pmd_envelope.record import finalise_record  # noqa: E402
from pmd_envelope.report import render_report  # noqa: E402
from pmd_envelope.shapes import spherical_cap_plate  # noqa: E402

SEED = 20261125
KEYS = {"reviewer": ("D. Reviewer", "d4" * 32), "approver": ("E. Approver", "e5" * 32)}
T0 = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.timezone.utc)


def make_case(root: Path, case_id: str, rng) -> Path:
    wall = float(rng.choice([rng.uniform(1.05, 1.3), rng.uniform(1.3, 2.8)], p=[0.35, 0.65]))
    span = float(rng.uniform(70.0, 132.0))
    radius = float(rng.uniform(66.0, 116.0))
    folder = root / case_id
    shutil.copytree(ROOT / "sample_scans" / "cranial-001", folder)
    acquired = dt.date(2026, 11, 30) - dt.timedelta(days=int(rng.integers(20, 175)))
    text = (folder / "case.toml").read_text()
    text = text.replace('case_id = "cranial-001"', f'case_id = "{case_id}"')
    text = text.replace("acquired = 2026-09-14", f"acquired = {acquired.isoformat()}")
    text = text.replace("received = 2026-09-20", f"received = {(acquired + dt.timedelta(days=5)).isoformat()}")
    text = text.replace("slice_thickness = 0.625", f"slice_thickness = {rng.choice([0.5, 0.625, 0.75, 1.0, 1.25])}")
    text = text.replace("pixel_spacing = 0.45", f"pixel_spacing = {round(float(rng.uniform(0.35, 0.78)), 2)}")
    (folder / "case.toml").write_text(text)
    a = math.asin(span / (2.0 * (radius + wall)))
    mesh = spherical_cap_plate(radius, wall, a, rings=40, segments=200)
    write_binary_stl(folder / "design.stl", np.asarray(mesh.vertices), mesh.faces, header=b"pmd-envelope trends demo")
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "trends-demo"))
    ap.add_argument("--designs", type=int, default=14)
    ap.add_argument("--readme", action="store_true", help="also write docs/trends.png")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    evidence, cases = out / "evidence", out / "cases"
    cases.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    keys = {}
    for role, (name, seed) in KEYS.items():
        keys[role] = out / f"{role}.key"
        keys[role].write_text(seed + "\n")
    env_dir = ROOT / "envelopes"
    for i in range(args.designs):
        case_id = f"demo-{i + 1:03d}"
        folder = make_case(cases, case_id, rng)
        when = T0 + dt.timedelta(days=14 * i, hours=int(rng.integers(0, 9)))
        v = validate(folder, envelope_dir=env_dir, now=when)
        content = {k: x for k, x in v.record.items() if k not in ("record_id", "created_at", "integrity")}
        rec = finalise_record(content, now=when, record_id=str(uuid.uuid4()))
        commit_evidence(evidence, rec, render_report(rec))
        path = evidence / case_id / rec["record_id"] / "record.json"
        if i == args.designs - 1:
            print(f"{case_id}: {rec['verdict']}, left unsigned (the newest design, still in review)")
            continue
        for role in ("reviewer", "approver"):
            name = KEYS[role][0]
            extra = ["--deviation", "CON-DEMO-1"] if role == "approver" and rec["verdict"] != "conforming" else []
            assert cli(["sign", str(path), "--name", name, "--role", role, "--meaning", f"{role} (demonstration)",
                        "--key", str(keys[role]), *extra]) == 0
        print(f"{case_id}: {rec['verdict']}, released")
    os.chdir(out)  # relative paths, so the page names the ledger as a user would type it
    code = cli(["trends", "--out", "evidence", "-o", "trends"])
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: no screenshot (apt-get install -y chromium)")
        return 1
    shot = out / "trends.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--window-size=1180,1480", "--hide-scrollbars", f"--screenshot={shot}",
                        (out / "trends" / "index.html").as_uri()], check=True, capture_output=True, timeout=180)
    print(f"screenshot: {shot}")
    if args.readme:
        shutil.copyfile(shot, ROOT / "docs" / "trends.png")
        print(f"copied to {ROOT / 'docs' / 'trends.png'}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
