"""The records of an evidence ledger, each read from disk and checked against its ledger entry.

Readers of many records at once (``trends``, ``impact``) start here: they never measure, they
read what was recorded. A record enters an analysis only when the bytes on disk are the bytes the
ledger recorded (``file_sha256``), its content hash is the one the ledger holds, and the ledger's
own hash chain is intact; anything else is left out *and named* with the reason (a tampered
record must never enter a trend silently).

The sign-off state of each record comes from :func:`pmd_envelope.signoff.signoff_state` (only
valid signatures of the record's content count), so "released" means the same here as in
``records list``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pmd_envelope.errors import LedgerError, PmdEnvelopeError
from pmd_envelope.ledger import GENESIS, Entry, Ledger
from pmd_envelope.record import content_hash, read_record
from pmd_envelope.signoff import SignOff, signoff_state

__all__ = ["Excluded", "LedgerRecord", "ledger_records", "select_records", "SELECTIONS", "envelope_of", "version_key"]

#: Which records an analysis counts: ``approved`` = per case, the newest record whose sign-off
#: state is approved (released); ``latest`` = per case, the newest record whatever its state.
SELECTIONS = ("approved", "latest")


@dataclass(frozen=True, slots=True, kw_only=True)
class Excluded:
    """A record an analysis would have used but cannot, and why."""

    case_id: str
    record_id: str
    reason: str

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "record_id": self.record_id, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRecord:
    """One ``record`` entry of the ledger with its file as read, or the reason it cannot be used.

    ``record`` is None exactly when ``problem`` is set.
    """

    entry: Entry
    signoff: SignOff
    latest: bool
    record: dict | None
    problem: str = ""

    def __post_init__(self):
        if (self.record is None) != bool(self.problem):
            raise ValueError("a ledger record has its record or a problem, never both or neither")

    @property
    def usable(self) -> bool:
        return self.record is not None

    @property
    def envelope(self) -> tuple[str, str]:
        return envelope_of(self.entry)

    def excluded(self) -> Excluded:
        """This record as left out of an analysis, with its problem as the reason."""
        return Excluded(case_id=self.entry.case_id, record_id=self.entry.record_id, reason=self.problem)


def envelope_of(entry: Entry) -> tuple[str, str]:
    """``(id, version)`` of the envelope a record entry names (``detail.envelope`` = "id version")."""
    text = str(entry.detail.get("envelope", ""))
    env_id, _, version = text.partition(" ")
    return env_id, version


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a ``MAJOR.MINOR.PATCH`` version (envelope versions are checked to be of that form)."""
    try:
        return tuple(int(x) for x in version.split("."))
    except ValueError:
        return (-1,)


def _chain_break(entries: list[Entry]) -> str:
    """The first break of the ledger's hash chain, or '' (the same checks as ``records verify``)."""
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        if e.seq != i:
            return f"entry {e.seq}: sequence number where {i} was expected"
        if e.computed_hash() != e.entry_hash:
            return f"entry {e.seq}: entry hash does not match its content"
        if e.prev_hash != prev:
            return f"entry {e.seq}: previous-entry hash does not match the entry before it"
        prev = e.entry_hash
    return ""


def _read(ledger: Ledger, entry: Entry, superseded: bool) -> tuple[dict | None, str]:
    if superseded:
        return None, ("superseded: a later record was written to the same file (evidence layout before 0.2), "
                      "so this record's file is no longer on disk")
    if not entry.path:
        return None, "the ledger entry names no record file"
    path = ledger.folder / entry.path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"record file {entry.path} cannot be read ({exc.strerror or exc})"
    if hashlib.sha256(raw).hexdigest() != entry.file_sha256:
        return None, (f"record file {entry.path} differs from the bytes the ledger recorded (changed after it was "
                      "written); left out: run 'pmd-envelope records verify'")
    try:
        record = read_record(path)
    except PmdEnvelopeError as exc:
        return None, f"record file {entry.path} is not readable as a record ({exc.reason})"
    if record.get("record_id") != entry.record_id:
        return None, f"record file {entry.path} holds record {record.get('record_id')}, not {entry.record_id}"
    if content_hash(record) != entry.content_sha256:
        return None, f"record file {entry.path}: content hash differs from the ledger's; left out"
    return record, ""


def ledger_records(ledger: Ledger) -> tuple[LedgerRecord, ...]:
    """Every ``record`` entry of the ledger, in ledger order, with its verified file or its problem.

    Raises
    ------
    LedgerError
        When the ledger's hash chain is broken: no record of such a ledger can be trusted, so
        nothing is analysed (run ``pmd-envelope records verify`` to see every break).
    """
    entries = ledger.entries()
    broken = _chain_break(entries)
    if broken:
        raise LedgerError(ledger.path, f"the ledger does not verify ({broken}); nothing read from it is trusted: "
                                       "run 'pmd-envelope records verify' and restore the ledger from its backup")
    signatures: dict[str, list[Entry]] = {}
    newest_at_path: dict[str, int] = {}
    newest_of_case: dict[str, int] = {}
    for e in entries:
        if e.kind == "signature":
            signatures.setdefault(e.record_id, []).append(e)
        else:
            newest_of_case[e.case_id] = e.seq
            if e.path:
                newest_at_path[e.path] = e.seq
    out = []
    for e in entries:
        if e.kind != "record":
            continue
        record, problem = _read(ledger, e, superseded=bool(e.path) and newest_at_path[e.path] != e.seq)
        out.append(LedgerRecord(entry=e, signoff=signoff_state(e, signatures.get(e.record_id, [])),
                                latest=newest_of_case[e.case_id] == e.seq, record=record, problem=problem))
    return tuple(out)


def select_records(records, selection: str = "approved") -> tuple[LedgerRecord, ...]:
    """One record per case: its newest approved record (``approved``) or its newest record (``latest``).

    The chosen record may be unusable (``problem`` set): it is returned so that the caller names
    it; an older record is never substituted for it silently.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, not {selection!r}")
    chosen: dict[str, LedgerRecord] = {}
    for r in records:
        if selection == "latest" or r.signoff.released:
            chosen[r.entry.case_id] = r  # ledger order: the newest wins
    return tuple(sorted(chosen.values(), key=lambda r: r.entry.seq))
