"""Shared paths and fixtures. Analytic shapes come from pmd_envelope.shapes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENVELOPES = ROOT / "envelopes"
SAMPLES = ROOT / "sample_scans"
CRANIAL_ENVELOPE = ENVELOPES / "cranial-plate-ti64-lpbf" / "1.0.0.toml"
#: Public meshes no one here made (trimesh repository, MIT): see tests/data/real/README.md
REAL_MESHES = ROOT / "tests" / "data" / "real"


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a zombie not yet reaped counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True



@pytest.fixture
def case_copy(tmp_path):
    """Copy a sample case (and the envelopes) into tmp_path so a test can edit it."""

    def make(case_id: str = "cranial-001") -> Path:
        shutil.copytree(ENVELOPES, tmp_path / "envelopes", dirs_exist_ok=True)
        dst = tmp_path / "cases" / case_id
        shutil.copytree(SAMPLES / case_id, dst)
        return dst

    return make


@pytest.fixture(scope="session")
def validations():
    """Every sample case validated once per session, at a fixed time stamp."""
    import datetime as dt

    from pmd_envelope.pipeline import validate

    now = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.timezone.utc)
    cases = sorted(p.name for p in SAMPLES.iterdir() if (p / "case.toml").is_file())
    return {c: validate(SAMPLES / c, now=now) for c in cases}


def latest_record(out: Path, case_id: str = "cranial-001") -> Path:
    """The newest record.json of a case in an evidence folder (``<case_id>/LATEST`` names its folder)."""
    return out / case_id / (out / case_id / "LATEST").read_text().strip() / "record.json"


def latest_rel(out: Path, case_id: str = "cranial-001") -> str:
    """:func:`latest_record` relative to the evidence folder, as the ledger and verify name it."""
    return latest_record(out, case_id).relative_to(out).as_posix()


@pytest.fixture(scope="session")
def trend_designs(validations, tmp_path_factory):
    """Records of six designs with known walls and spans (tests/trends_evidence.py), validated once."""
    import datetime as dt

    from pmd_envelope.pipeline import validate
    from trends_evidence import cap_case, flat_case

    root = tmp_path_factory.mktemp("trend-cases")
    now = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.timezone.utc)
    out = {c: validations[c].record for c in ("cranial-001", "cranial-002", "cranial-003", "cranial-004")}
    out["cap-122"] = validate(cap_case(root, "cap-122", 1.22), now=now).record
    out["flat-100"] = validate(flat_case(root, "flat-100"), now=now).record
    return out
