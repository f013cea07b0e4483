"""What the three sample-case generators share (scripts/make_sample_cases.py, make_sample_scans.py,
make_family_cases.py): the vertex grid, the file hash, the pseudonym and the head of a case.toml.

Imported by the generators as a sibling module (``python scripts/make_*.py`` puts scripts/ on the
path). Changing anything here changes the bytes of every bundled sample case: the regeneration
tests (tests/test_samples.py, test_scan_fit.py, test_family_samples.py) compare them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["GRID_MM", "on_grid", "sha256", "pseudonym", "case_head"]

#: Vertex grid [mm]: a power of two, so grid values are exact in float64 and float32 (|x| < 2^14 mm).
GRID_MM = 2.0**-10


def on_grid(vertices: np.ndarray) -> np.ndarray:
    """Vertices snapped to the GRID_MM grid (round half to even, exact: scaling by 2^10 is exact)."""
    return np.round(np.asarray(vertices, dtype=np.float64) / GRID_MM) * GRID_MM


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pseudonym(seed: int, case_id: str) -> str:
    """The sample case's pseudonymous patient reference suffix (8 hex digits of the seed and case id)."""
    return hashlib.sha256(f"{seed}:{case_id}".encode()).hexdigest()[:8].upper()


def case_head(*, generator: str, seed: int, comment: str, case_id: str, envelope: tuple[str, str],
              request_id: str) -> str:
    """A sample case.toml up to and including ``[request.characteristics]`` (the rest is the generator's)."""
    return f"""\
# Sample case {case_id} (made by scripts/{generator}, seed {seed}; do not edit by hand).
# {comment}
schema = "pmd-envelope/case/1"
case_id = "{case_id}"
patient_ref = "PSN-{pseudonym(seed, case_id)}"
design_iteration = "D1"
designer = "sample-designer"
physician_approval_ref = "APPR-{case_id}-D1"

[envelope]
id = "{envelope[0]}"
version = "{envelope[1]}"

[request]
id = "{request_id}"
received = 2026-09-20
planned_use = 2026-11-30
[request.characteristics]
"""
