"""One error tree for every "cannot give a trustworthy answer" condition.

Each error carries structured fields and builds its one-line message in ``__str__``:
*what* is wrong, *where* (file and key path), and *how to fix it*. Every subclass also derives
from the matching builtin so callers can catch ``ValueError`` / ``OSError`` as usual, and every
error pickles (``__reduce__``) so it survives worker processes. A design outside its envelope is
a *result*, never an exception.
"""

from __future__ import annotations

from os import PathLike, fspath

__all__ = [
    "PmdEnvelopeError",
    "InputFileError",
    "EnvelopeError",
    "CaseError",
    "MeshError",
    "UnitError",
    "RecordError",
    "LedgerError",
    "SignatureError",
    "ScanError",
]


class PmdEnvelopeError(Exception):
    """Base class: an input or state from which no trustworthy answer can be given.

    Parameters
    ----------
    path : str or path-like or None
        The file the problem is in.
    reason : str
        What is wrong, and how to fix it.
    key : str or None
        Dotted key path inside the file (``parameters.wall_thickness.unit``), if any.
    """

    def __init__(self, path: str | PathLike | None, reason: str, key: str | None = None):
        self.path = None if path is None else fspath(path)
        self.reason = reason
        self.key = key
        super().__init__(path, reason, key)

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.key))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.key:
            where += f" [{self.key}]"
        return f"{where}: {self.reason}"


class InputFileError(PmdEnvelopeError, OSError):
    """A file is missing, unreadable or of an unsupported format."""


class EnvelopeError(PmdEnvelopeError, ValueError):
    """An envelope definition file is malformed or inconsistent."""


class CaseError(PmdEnvelopeError, ValueError):
    """A case file is malformed, inconsistent, or carries patient-identifying data."""


class MeshError(PmdEnvelopeError, ValueError):
    """A design mesh cannot be measured trustworthily (empty, non-finite, broken indices)."""


class UnitError(PmdEnvelopeError, ValueError):
    """A unit is missing, unknown, or implausible for the geometry."""


class RecordError(PmdEnvelopeError, ValueError):
    """An evidence record or ledger is malformed or fails verification."""


class LedgerError(PmdEnvelopeError, ValueError):
    """The evidence ledger is missing, unreadable, or cannot take an entry."""


class SignatureError(PmdEnvelopeError, ValueError):
    """A signature cannot be made: no key, an unreadable key, or a record the ledger does not hold."""


class SignOffError(SignatureError):
    """A signature the sign-off policy refuses (order, separation of duties, a missing deviation, a repeat)."""


class ScanError(PmdEnvelopeError, ValueError):
    """A DICOM scan series cannot be read or trusted (not DICOM, mixed series, missing geometry)."""
