"""Evidence folders for tests/test_trends.py and tests/test_impact.py.

Designs with known truth, validated by the real pipeline: the sample cases cranial-001..004
(spherical-cap plates of wall 2.0, 0.8, 1.08 and 2.5 mm), a cap plate of wall 1.22 mm built here
with :func:`pmd_envelope.shapes.spherical_cap_plate` (R 80 mm, span 100 mm, as cranial-001), and
a flat plate built by manifold3d CSG (no concave surface: its radius of curvature is null with a
reason, so its check is indeterminate). Records are re-stamped a day apart (the time stamp is not
in the content hash) and signed through the CLI under the sign-off policy.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import uuid
from pathlib import Path

import numpy as np

from pmd_envelope.cli import main
from pmd_envelope.ledger import commit_evidence
from pmd_envelope.mesh_io import write_binary_stl
from pmd_envelope.record import finalise_record
from pmd_envelope.shapes import flat_plate_with_holes, spherical_cap_plate

ROOT = Path(__file__).resolve().parent.parent
REVIEWER_SEED, APPROVER_SEED = "d4" * 32, "e5" * 32
#: Truth of the designs: wall thickness [mm] and span [mm] as built.
WALL = {"cranial-001": 2.0, "cranial-002": 0.8, "cranial-003": 1.08, "cranial-004": 2.5, "cap-122": 1.22,
        "flat-100": 2.0}
SPAN = {"cranial-001": 100.0, "cranial-002": 90.0, "cranial-003": 139.5, "cranial-004": 110.0, "cap-122": 100.0,
        "flat-100": 100.0}
T0 = dt.datetime(2026, 10, 1, 9, 0, 0, tzinfo=dt.timezone.utc)


def _case_from(dst_root: Path, case_id: str, vertices, faces) -> Path:
    shutil.copytree(ROOT / "envelopes", dst_root / "envelopes", dirs_exist_ok=True)
    folder = dst_root / "cases" / case_id
    shutil.copytree(ROOT / "sample_scans" / "cranial-001", folder)
    toml = (folder / "case.toml").read_text().replace('case_id = "cranial-001"', f'case_id = "{case_id}"')
    (folder / "case.toml").write_text(toml)
    write_binary_stl(folder / "design.stl", np.asarray(vertices), np.asarray(faces), header=b"test design")
    return folder


def cap_case(dst_root: Path, case_id: str, wall: float, span: float = 100.0, radius: float = 80.0) -> Path:
    """A case folder (cranial-001's request and scan) with a spherical-cap plate design."""
    a = math.asin(span / (2.0 * (radius + wall)))
    mesh = spherical_cap_plate(radius, wall, a, rings=40, segments=200)
    return _case_from(dst_root, case_id, mesh.vertices, mesh.faces)


def flat_case(dst_root: Path, case_id: str) -> Path:
    """A flat 100 x 60 x 2 mm plate (manifold3d CSG): no radius of curvature."""
    mesh = flat_plate_with_holes(100.0, 60.0, 2.0, ())
    return _case_from(dst_root, case_id, mesh.vertices, mesh.faces)


def restamp(record: dict, when: dt.datetime) -> dict:
    """The same content with a new record id and time stamp (the content hash does not change)."""
    content = {k: v for k, v in record.items() if k not in ("record_id", "created_at", "integrity")}
    return finalise_record(content, now=when, record_id=str(uuid.uuid4()))


def record_path(out: Path, record: dict) -> Path:
    return out / record["case_id"] / record["record_id"] / "record.json"


def sign(out: Path, record: dict, role: str, *, deviation: str | None = None) -> None:
    seed = REVIEWER_SEED if role == "reviewer" else APPROVER_SEED
    key = out.parent / f"{role}.key"
    key.write_text(seed + "\n")
    name = "Rita Reviewer" if role == "reviewer" else "Alan Approver"
    extra = ["--deviation", deviation] if deviation else []
    assert main(["sign", str(record_path(out, record)), "--name", name, "--role", role, "--meaning",
                 f"{role} (test)", "--key", str(key), *extra]) == 0


def release(out: Path, record: dict) -> None:
    """Review and approve a record (with a deviation when it is nonconforming)."""
    sign(out, record, "reviewer")
    sign(out, record, "approver", deviation=None if record["verdict"] == "conforming" else "CON-TEST-1")


def build(out: Path, records: list[dict], *, approve=()) -> list[dict]:
    """Commit ``records`` a day apart (in order) and release those whose case is in ``approve``."""
    written = []
    for i, rec in enumerate(records):
        rec = restamp(rec, T0 + dt.timedelta(days=i))
        commit_evidence(out, rec, b"%PDF-fake report of " + rec["record_id"].encode())
        if rec["case_id"] in approve:
            release(out, rec)
        written.append(rec)
    return written
