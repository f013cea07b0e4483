"""Fuzzing the mesh readers with mutated public files: every outcome is a mesh or a one-line
bad-input error (a PmdEnvelopeError), never another exception.

Hypothesis runs derandomized (a fixed sequence of examples, the same on every machine) with a
bounded number of examples, so the test is deterministic and short; a longer, randomized run is
``PMD_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz_readers.py`` outside CI.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REAL_MESHES
from pmd_envelope.errors import PmdEnvelopeError
from pmd_envelope.integrity import check_integrity
from pmd_envelope.mesh_io import load_mesh

SEEDS = ["unit_cube.STL", "angle_block.STL", "tet.ply", "sphere.ply", "box.obj", "tube.obj", "counterX.3MF"]
EXAMPLES = int(os.environ.get("PMD_FUZZ_EXAMPLES", "40"))


@st.composite
def mutated(draw, data: bytes):
    """A file made from ``data`` by a few byte overwrites, a truncation or a duplicated slice."""
    b = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "digit"]))
        if not b:
            break
        i = draw(st.integers(0, len(b) - 1))
        if kind == "flip":
            b[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del b[i:]
        elif kind == "duplicate":
            j = draw(st.integers(i, min(len(b), i + 64)))
            b[i:i] = b[i:j]
        else:  # change a digit: numbers stay numbers, so the parser goes deeper
            digits = [k for k in range(len(b)) if chr(b[k]).isdigit()]
            if digits:
                b[draw(st.sampled_from(digits))] = ord(str(draw(st.integers(0, 9))))
    return bytes(b)


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_files_read_or_refuse_cleanly(seed, tmp_path_factory):
    original = (REAL_MESHES / seed).read_bytes()
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=EXAMPLES, derandomize=EXAMPLES <= 40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(original))
    def check(data):
        p = folder / seed
        p.write_bytes(data)
        try:
            mesh = load_mesh(p, "mm")
        except PmdEnvelopeError as exc:
            message = str(exc)
            assert "\n" not in message and str(p) in message
            return
        report = check_integrity(mesh, self_check_timeout=None)
        assert report.faces == len(mesh.faces) > 0

    check()
