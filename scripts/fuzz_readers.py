"""Coverage-guided fuzzing (atheris/libFuzzer) of the mesh readers and the case reader.

Every input must load or raise a PmdEnvelopeError (the one-line bad-input error, exit 2 in the
CLI); any other exception is a crash that atheris reports with the input that caused it.

    python scripts/fuzz_readers.py -runs=200000 -seed=1      # before a release (figure in README)
    python scripts/fuzz_readers.py -runs=300 -seed=1         # what tests/test_properties.py runs

The first byte of an input picks the reader (STL, PLY, OBJ, 3MF, case.toml); the rest is the
file. The seed corpus is the public meshes in tests/data/real and the sample case files.
"""

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["pmd_envelope"]):
    from pmd_envelope.case import load_case
    from pmd_envelope.errors import PmdEnvelopeError
    from pmd_envelope.mesh_io import load_mesh

TARGETS = (".stl", ".ply", ".obj", ".3mf", "case.toml")
WORK = Path(tempfile.mkdtemp(prefix="pmd-fuzz-"))
CASE = WORK / "case"
shutil.copytree(ROOT / "sample_scans" / "cranial-001", CASE)


def one_input(data: bytes) -> None:
    if not data:
        return
    target = TARGETS[data[0] % len(TARGETS)]
    body = data[1:]
    try:
        if target == "case.toml":
            (CASE / "case.toml").write_bytes(body)
            load_case(CASE)
        else:
            path = WORK / f"input{target}"
            path.write_bytes(body)
            load_mesh(path, "mm")
    except PmdEnvelopeError:
        pass


def seed_corpus() -> Path:
    corpus = WORK / "corpus"
    corpus.mkdir()
    real = sorted((ROOT / "tests" / "data" / "real").iterdir())
    for f in real:
        suffix = f.suffix.lower()
        if suffix in TARGETS and f.stat().st_size < 200_000:
            (corpus / f.name).write_bytes(bytes([TARGETS.index(suffix)]) + f.read_bytes())
    for case in sorted((ROOT / "sample_scans").glob("*/case.toml"))[:3]:
        (corpus / f"{case.parent.name}.toml").write_bytes(bytes([TARGETS.index("case.toml")]) + case.read_bytes())
    return corpus


def main() -> None:
    args = [a for a in sys.argv]
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(str(seed_corpus()))  # a corpus folder given on the command line replaces the seeds
    try:
        atheris.Setup(args, one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
