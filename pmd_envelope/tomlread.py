"""Walking a parsed TOML document with errors that name the file, the key path and the fix.

Shared by the envelope and case loaders: each subclass sets the error class it raises.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from pmd_envelope.errors import PmdEnvelopeError

__all__ = ["TomlReader"]


class TomlReader:
    """Typed accessors over TOML tables; every failure raises ``error(path, reason, key)``."""

    error: type[PmdEnvelopeError] = PmdEnvelopeError

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, reason: str):
        raise self.error(self.path, reason, key or None)

    @staticmethod
    def _full(key: str, k: str) -> str:
        return f"{key}.{k}" if key else k

    def table(self, d, key: str, allowed: set[str], required: set[str]) -> dict:
        """``d`` as a table with no unknown keys (a typo must not drop a limit) and no missing ones."""
        if not isinstance(d, dict):
            self.fail(key, "must be a table")
        unknown = sorted(set(d) - allowed)
        if unknown:
            self.fail(self._full(key, unknown[0]), f"unknown key; allowed keys: {', '.join(sorted(allowed))}")
        missing = sorted(required - set(d))
        if missing:
            self.fail(self._full(key, missing[0]), "required key is missing")
        return d

    def string(self, d, k, key, pattern=None, choices=None, default=None) -> str:
        v = d.get(k, default)
        full = self._full(key, k)
        if not isinstance(v, str) or not v.strip():
            self.fail(full, "must be a non-empty string")
        if pattern is not None and not pattern.match(v):
            self.fail(full, f"'{v}' does not match {pattern.pattern}")
        if choices is not None and v not in choices:
            self.fail(full, f"'{v}' is not one of: {', '.join(choices)}")
        return v

    def number(self, d, k, key, default=None, positive=False, allow_none=False) -> float | None:
        v = d.get(k, default)
        full = self._full(key, k)
        if v is None and allow_none:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
            self.fail(full, "must be a finite number")
        if positive and not v > 0:
            self.fail(full, "must be > 0")
        return float(v)

    def date(self, d, k, key) -> _dt.date:
        v = d.get(k)
        if not isinstance(v, _dt.date) or isinstance(v, _dt.datetime):
            self.fail(self._full(key, k), "must be a TOML date (YYYY-MM-DD)")
        return v
