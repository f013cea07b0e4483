"""The evidence record: canonical JSON with a content hash, attached to the Device History Record.

The content hash (SHA-256 of the canonical JSON) covers everything except the fields that
differ between two runs on the same inputs: the record id, the creation time, and the retention
date derived from it. So the same inputs give the same content hash, byte for byte.

Canonical JSON: UTF-8, keys sorted, no whitespace, ``allow_nan=False`` (a NaN or infinity in
evidence is a bug, not a number).

Resolution: :func:`finalise_record` rounds every real in the content to 7 significant digits
(:mod:`pmd_envelope.resolution`) before hashing and writing, so the content hash is the same on
any machine, not only on the CPU that made it. Verification never rounds: it recomputes the hash
of the record as stored, so records of schema 1.0 (full-precision floats) still verify.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import tempfile
import uuid
from importlib import metadata
from pathlib import Path

import pmd_envelope
from pmd_envelope.resolution import RESOLUTION_RULE, round_reals

__all__ = ["SCHEMA_VERSION", "READABLE_SCHEMA_VERSIONS", "canonical_json", "content_hash", "software_versions", "retain_until",
           "finalise_record", "write_atomic", "read_record", "record_bytes", "verify_record_hash",
           "HASH_EXCLUDED", "record_schema", "check_schema"]

#: 1.1: a measurement's value (and statistics) may be null, with a ``reason``; every real is stated
#: to 7 significant digits (RESOLUTION_RULE). Records of every version in READABLE_SCHEMA_VERSIONS
#: are still read and verified.
SCHEMA_VERSION = "1.1"
READABLE_SCHEMA_VERSIONS = ("1.0", "1.1")
#: Top-level fields left out of the content hash, and why: they differ between two runs.
HASH_EXCLUDED = ("record_id", "created_at", "integrity")
#: Nested fields left out of the content hash (derived from ``created_at``).
HASH_EXCLUDED_NESTED = (("retention", "retain_until"),)
_VERSIONED = ("numpy", "scipy", "trimesh", "pandas", "matplotlib", "embreex", "manifold3d")


def canonical_json(obj) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, no NaN or infinity."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _hashed_content(record: dict) -> dict:
    content = {k: v for k, v in record.items() if k not in HASH_EXCLUDED}
    for outer, inner in HASH_EXCLUDED_NESTED:
        if isinstance(content.get(outer), dict):
            content[outer] = {k: v for k, v in content[outer].items() if k != inner}
    return content


def content_hash(record: dict) -> str:
    """SHA-256 of the canonical JSON of the record's content (time stamps and ids excluded)."""
    return hashlib.sha256(canonical_json(_hashed_content(record))).hexdigest()


def software_versions() -> dict:
    """Name and version of this tool and of every library that shapes a number in the record."""
    out = {"name": "pmd-envelope", "version": pmd_envelope.__version__,
           "python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def retain_until(release: _dt.datetime, years: int) -> str:
    """Retention end date: the release date plus ``years`` (29 Feb maps to 28 Feb)."""
    d = release.date()
    try:
        end = d.replace(year=d.year + years)
    except ValueError:
        end = d.replace(year=d.year + years, day=28)
    return end.isoformat()


def finalise_record(content: dict, *, now: _dt.datetime | None = None, record_id: str | None = None) -> dict:
    """Round the content's reals to the stated resolution, then add the id, the time stamp, the
    retention date and the integrity block (with the content hash of the rounded content)."""
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).replace(microsecond=0)
    record = round_reals(content)
    record["record_id"] = record_id or str(uuid.uuid4())
    record["created_at"] = now.isoformat().replace("+00:00", "Z")
    record["retention"] = dict(record["retention"], retain_until=retain_until(now, record["retention"]["years"]))
    record["integrity"] = {
        "algorithm": "sha256",
        "canonicalisation": f"JSON, keys sorted, separators (',', ':'), UTF-8, no NaN; {RESOLUTION_RULE}",
        "excluded_fields": list(HASH_EXCLUDED) + [".".join(p) for p in HASH_EXCLUDED_NESTED],
        "content_sha256": content_hash(record),
    }
    return record


def record_schema() -> dict:
    """The JSON Schema of evidence records shipped with the package (``schema/record.schema.json``)."""
    from importlib import resources

    return json.loads(resources.files("pmd_envelope").joinpath("schema/record.schema.json").read_text("utf-8"))


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema  # deferred: ~0.2 s to import

    return jsonschema.Draft202012Validator(record_schema(), format_checker=jsonschema.FormatChecker())


def check_schema(record: dict, path: str | Path | None = None) -> None:
    """Raise :class:`RecordError` naming the first field where ``record`` breaks the schema.

    Run on every record written (:func:`pmd_envelope.ledger.commit_evidence`) and read
    (:func:`read_record`), so a record that a later version could not read is never filed, and a
    file that is not such a record is refused with the field that is wrong.
    """
    from pmd_envelope.errors import RecordError

    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or None
        message = e.message if len(e.message) <= 200 else e.message[:200] + "…"
        raise RecordError(path, f"does not match the evidence record schema: {message}; a record is written by "
                                "pmd-envelope and never edited", where)


def verify_record_hash(record: dict) -> bool:
    """True when the record's stated content hash matches its content."""
    return record.get("integrity", {}).get("content_sha256") == content_hash(record)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves the old file or the new one, never a part.

    Temporary file in the same folder, flush, fsync, rename over the target, fsync the folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def record_bytes(record: dict) -> bytes:
    """The bytes of ``record.json``: canonical JSON, indented for people, newline-terminated."""
    return (json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def read_record(path: str | Path) -> dict:
    """Read a ``record.json``; raises RecordError or InputFileError naming the file."""
    from pmd_envelope.errors import InputFileError, RecordError

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read record ({exc.strerror or exc})") from None
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(path, f"not valid JSON ({exc})") from None
    if not isinstance(record, dict) or record.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
        raise RecordError(path, f"not a pmd-envelope record of a known schema version "
                                f"({', '.join(READABLE_SCHEMA_VERSIONS)})")
    check_schema(record, path)
    return record
