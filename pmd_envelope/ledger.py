"""The evidence ledger: an append-only, hash-chained SQLite file beside the evidence.

Every record written by :func:`commit_evidence` and every electronic signature is one row of
``entries``. Each row carries the SHA-256 of the previous row (``prev_hash``) and its own
``entry_hash`` = SHA-256 of the canonical JSON of all its other columns, so removing, reordering
or editing a row breaks the chain at a place :func:`verify_ledger` names.

Append-only: this module has no update or delete path, and the database refuses both with
triggers (``RAISE(ABORT)``), so an ordinary SQLite client cannot change a row by mistake. A
deliberate attacker with write access can drop the triggers and rebuild the whole chain (a hash
chain holds no secret): compare the head hash printed by ``records verify`` with a copy kept in
the quality system, and rely on the Ed25519 signatures for the signed records.

Concurrency: every append is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before
the previous hash is read, so two writers cannot fork the chain), with a busy timeout so the
second writer waits instead of failing. ``synchronous=FULL`` so a committed entry survives a
power cut.

Never half-written (:func:`commit_evidence`): the report and the record are first written in
full to pending files (fsync), the ledger transaction is the commit point, and the pending files
are then renamed into place. A process killed before the commit leaves only pending files, which
are discarded; killed after it, the next ledger operation finds the pending files whose hash the
ledger holds and completes the renames (roll forward, as SQLite does with a hot journal).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pmd_envelope.errors import LedgerError
from pmd_envelope.record import canonical_json, check_schema, content_hash, read_record, record_bytes, write_atomic
from pmd_envelope.signatures import check_signature

__all__ = ["LEDGER_NAME", "GENESIS", "Entry", "Break", "Verification", "Ledger", "open_ledger",
           "commit_evidence", "record_entry_fields", "ledger_for_record", "complete_pending", "record_folder",
           "latest_record_ids", "LATEST_NAME"]

LEDGER_NAME = "ledger.sqlite"
#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64
LEDGER_FORMAT = "pmd-envelope/ledger/1"
#: Seconds a writer waits for another writer's lock; an append takes milliseconds, so a long wait
#: means a stuck process, which should surface as an error rather than hang a release.
BUSY_TIMEOUT_S = 30.0
_PENDING_SUFFIX = ".pending"
#: ``DIR/<case_id>/LATEST``: the id of the case's newest record (a pointer, not evidence: the ledger
#: is the authority, and the file is rewritten from it whenever it is found stale).
LATEST_NAME = "LATEST"
#: A record id is a UUID; a record folder is named by it (``DIR/<case_id>/<record_id>/``).
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: Columns in hash order; ``entry_hash`` is the SHA-256 of the canonical JSON of all the others.
COLUMNS = ("seq", "kind", "record_id", "case_id", "content_sha256", "record_sha256", "file_sha256", "path",
           "verdict", "created_at", "retain_until", "appended_at", "detail", "prev_hash")

TRIGGERS = ("entries_no_update", "entries_no_delete", "meta_no_update", "meta_no_delete")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('record', 'signature')),
    record_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    record_sha256 TEXT,
    file_sha256 TEXT,
    path TEXT,
    verdict TEXT,
    created_at TEXT,
    retain_until TEXT,
    appended_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS entries_record ON entries (record_id);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'pmd-envelope ledger is append-only: entries cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'pmd-envelope ledger is append-only: entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
    BEGIN SELECT RAISE(ABORT, 'pmd-envelope ledger is append-only: meta cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
    BEGIN SELECT RAISE(ABORT, 'pmd-envelope ledger is append-only: meta cannot be deleted'); END;
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One ledger row. ``detail`` is a dict (stored as canonical JSON)."""

    seq: int
    kind: str
    record_id: str
    case_id: str
    content_sha256: str
    record_sha256: str | None
    file_sha256: str | None
    path: str | None
    verdict: str | None
    created_at: str | None
    retain_until: str | None
    appended_at: str
    detail: dict
    prev_hash: str
    entry_hash: str

    def hashed_fields(self) -> dict:
        out = {c: getattr(self, c) for c in COLUMNS}
        out["detail"] = canonical_json(self.detail).decode("utf-8")
        return out

    def computed_hash(self) -> str:
        """The entry hash recomputed from the row's other columns."""
        return entry_hash(self.hashed_fields())

    def as_dict(self) -> dict:
        return {c: getattr(self, c) for c in (*COLUMNS, "entry_hash")}


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    """One break found by :func:`verify_ledger`: where (entry seq or file) and what."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """Outcome of :func:`verify_ledger`."""

    ledger: str
    entries: int
    records: int
    signatures: int
    head_hash: str
    problems: tuple[Break, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ledger": self.ledger, "entries": self.entries, "records": self.records,
                "signatures": self.signatures, "head_hash": self.head_hash, "ok": self.ok,
                "problems": [{"where": p.where, "reason": p.reason} for p in self.problems],
                "notes": list(self.notes)}


def entry_hash(fields: dict) -> str:
    """SHA-256 of the canonical JSON of an entry's columns (``entry_hash`` itself excluded)."""
    return hashlib.sha256(canonical_json({c: fields[c] for c in COLUMNS})).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def record_entry_fields(record: dict, path: str, file_bytes: bytes) -> dict:
    """The columns of a ``record`` entry for ``record`` written at ``path`` (relative to the ledger)."""
    return {
        "kind": "record", "record_id": record["record_id"], "case_id": record["case_id"],
        "content_sha256": record["integrity"]["content_sha256"],
        "record_sha256": hashlib.sha256(canonical_json(record)).hexdigest(),
        "file_sha256": hashlib.sha256(file_bytes).hexdigest(), "path": path, "verdict": record["verdict"],
        "created_at": record["created_at"], "retain_until": record["retention"]["retain_until"],
        "detail": {"schema_version": record["schema_version"],
                   "envelope": f"{record['envelope']['id']} {record['envelope']['version']}"},
    }


class Ledger:
    """An open ledger file. Use :func:`open_ledger`; close with :meth:`close` or ``with``."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._conn.close()

    @property
    def folder(self) -> Path:
        """The evidence folder: record paths in the ledger are relative to it."""
        return self.path.parent

    # -- reading -------------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every entry in ``seq`` order."""
        rows = self._conn.execute(f"SELECT {', '.join(COLUMNS)}, entry_hash FROM entries ORDER BY seq").fetchall()
        return [self._entry(r) for r in rows]

    def _entry(self, row) -> Entry:
        d = dict(zip((*COLUMNS, "entry_hash"), row))
        try:
            d["detail"] = json.loads(d["detail"])
        except (TypeError, json.JSONDecodeError):
            d["detail"] = {"unreadable": str(d["detail"])}
        return Entry(**d)

    def find(self, record_id: str) -> list[Entry]:
        """Entries of one record (its record entry and its signatures); a unique id prefix is accepted."""
        rows = self._conn.execute(f"SELECT {', '.join(COLUMNS)}, entry_hash FROM entries "
                                  "WHERE record_id LIKE ? ESCAPE '\\' ORDER BY seq",
                                  (record_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)
                                  ).fetchall()
        entries = [self._entry(r) for r in rows]
        ids = {e.record_id for e in entries}
        if len(ids) > 1:
            raise LedgerError(self.path, f"record id prefix '{record_id}' is ambiguous ({len(ids)} records); "
                                         "give more characters")
        return entries

    def head(self) -> tuple[int, str]:
        row = self._conn.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS) if row is None else (row[0], row[1])

    # -- appending -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        """Hold the ledger's write lock (``BEGIN IMMEDIATE``) for the block; commit at its end."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(self.path, f"cannot lock the ledger for writing ({exc})") from None
        try:
            yield self
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:  # disk full, I/O error: the entry is not committed
                raise LedgerError(self.path, f"cannot commit to the ledger ({exc}); nothing was recorded: free "
                                             "space or fix the folder, then run again") from None
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def append(self, fields: dict) -> Entry:
        """Append one entry in its own transaction and return it."""
        with self.transaction():
            return self.insert(fields)

    def insert(self, fields: dict) -> Entry:
        """Append one entry inside the caller's :meth:`transaction` (the previous hash is read under the lock)."""
        if not self._conn.in_transaction:
            raise RuntimeError("Ledger.insert needs an open transaction; use append()")
        seq, prev = self.head()
        row = {c: fields.get(c) for c in COLUMNS}
        row.update(seq=seq + 1, prev_hash=prev, appended_at=fields.get("appended_at") or _now(),
                   detail=canonical_json(fields.get("detail") or {}).decode("utf-8"))
        row["entry_hash"] = entry_hash(row)
        cols = (*COLUMNS, "entry_hash")
        try:
            self._conn.execute(f"INSERT INTO entries ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                               [row[c] for c in cols])
        except sqlite3.Error as exc:
            raise LedgerError(self.path, f"cannot append to the ledger ({exc})") from None
        return self._entry([row[c] for c in cols])


def open_ledger(path: str | Path, *, create: bool = False) -> Ledger:
    """Open a ledger file; create it (and its folder) when ``create`` and it does not exist.

    Raises
    ------
    LedgerError
        When the file is missing (and ``create`` is false) or is not a pmd-envelope ledger.
    """
    path = Path(path)
    if not path.is_file():
        if not create:
            raise LedgerError(path, "no ledger here; run 'pmd-envelope validate CASE --out DIR' first, "
                                    "or give --ledger FILE / --out DIR")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(path.parent, f"cannot create the evidence folder ({exc.strerror or exc}); "
                                           "choose a writable --out DIR") from None
        if not os.access(path.parent, os.W_OK):
            raise LedgerError(path.parent, "the evidence folder is not writable; choose a writable --out DIR "
                                           "or fix its permissions") from None
    try:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA synchronous = FULL")
        if create:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT name FROM sqlite_master WHERE name = 'entries'").fetchone() is None:
                for stmt in _statements(_SCHEMA):
                    conn.execute(stmt)
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (LEDGER_FORMAT,))
            conn.execute("COMMIT")
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError as exc:
        # cannot open or write (read-only file or folder, locked, disk full): not a format problem
        raise LedgerError(path, f"cannot use the ledger ({exc}); check that the file and its folder are writable "
                                "and that no other process holds it") from None
    except sqlite3.DatabaseError as exc:
        raise LedgerError(path, f"not a pmd-envelope ledger ({exc}); a damaged ledger is restored from its backup, "
                                "never edited") from None
    if row is None or row[0] != LEDGER_FORMAT:
        conn.close()
        raise LedgerError(path, f"not a pmd-envelope ledger of format {LEDGER_FORMAT}")
    return Ledger(path, conn)


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    return out


def ledger_for_record(record_path: str | Path) -> Path:
    """The default ledger of a record written by ``validate --out DIR``: ``DIR/ledger.sqlite``.

    A record in its own folder (``DIR/<case_id>/<record_id>/record.json``, the layout since 0.2)
    has the ledger three folders above it; a record of the earlier layout
    (``DIR/<case_id>/record.json``) two folders above it. The layout is told by the folder name
    (a record id is a UUID), never by which file happens to exist.
    """
    folder = Path(record_path).resolve().parent
    if _UUID.match(folder.name):
        return folder.parent.parent / LEDGER_NAME
    return folder.parent / LEDGER_NAME


def record_folder(out_dir: str | Path, record: dict) -> Path:
    """Where a record's files go: ``<out_dir>/<case_id>/<record_id>/`` (never shared, never overwritten)."""
    return Path(out_dir) / record["case_id"] / record["record_id"]


# -- writing evidence ----------------------------------------------------------------------------
def _pending(path: Path, record_id: str) -> Path:
    return path.with_name(f".{record_id}.{path.name}{_PENDING_SUFFIX}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_evidence(out_dir: str | Path, record: dict, report_pdf: bytes, *,
                    ledger_path: str | Path | None = None) -> tuple[Path, Path, Entry]:
    """Write ``<out_dir>/<case_id>/<record_id>/record.json`` and ``report.pdf`` and append the ledger entry.

    Every record has its own folder, so evidence is never overwritten; ``<out_dir>/<case_id>/LATEST``
    then names the newest record of the case (see :func:`latest_record_ids`).

    Order (so a kill at any moment leaves the complete evidence or none): both files are written
    to pending names (fsync), the ledger entry is committed, then both are renamed into place and
    ``LATEST`` is rewritten (atomically). A kill after the commit is rolled forward by the next
    ledger operation (:func:`complete_pending`), which also rewrites a stale ``LATEST``.

    Returns
    -------
    (record_path, report_path, entry)
    """
    out_dir = Path(out_dir)
    ledger_path = Path(ledger_path) if ledger_path is not None else out_dir / LEDGER_NAME
    folder = record_folder(out_dir, record)
    record_path, report_path = folder / "record.json", folder / "report.pdf"
    check_schema(record)
    data = record_bytes(record)
    with open_ledger(ledger_path, create=True) as ledger:
        # Phase 1, under the write lock: pending files, then the entry; COMMIT is the commit point.
        # complete_pending only ever runs under the lock, so it never sees another writer's
        # pending files before that writer has committed or died.
        pending = (_pending(report_path, record["record_id"]), _pending(record_path, record["record_id"]))
        try:
            with ledger.transaction():
                complete_pending(ledger)
                if any(e.kind == "record" for e in ledger.find(record["record_id"])):
                    raise LedgerError(ledger.path, f"record {record['record_id']} is already in the ledger; "
                                                   "a record is written once")
                write_atomic(pending[0], report_pdf)
                write_atomic(pending[1], data)
                rel = os.path.relpath(record_path.resolve(), ledger.folder.resolve())
                entry = ledger.insert(record_entry_fields(record, Path(rel).as_posix(), data))
        except (OSError, LedgerError) as exc:
            # not committed: remove what this call wrote, so the folder holds complete evidence or none
            for p in pending:
                try:
                    p.unlink(missing_ok=True)
                except OSError:
                    pass
            for d in (folder, folder.parent):
                try:
                    d.rmdir()  # only if empty: a folder this call made and could not fill
                except OSError:
                    pass
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(folder, f"cannot write the evidence ({exc.strerror or exc}); nothing was recorded: "
                                      "choose a writable --out DIR with free space") from None
        # Phase 2, under the lock again: rename into place (unless another process already rolled
        # this write forward) and point LATEST at the case's newest record.
        with ledger.transaction():
            complete_pending(ledger)
    return record_path, report_path, entry


def complete_pending(ledger: Ledger) -> list[str]:
    """Finish writes interrupted after their ledger commit; discard those interrupted before it.

    A pending file whose record id has a ledger entry for that path, and is the latest entry for
    it, is renamed into place (it is exactly what the ledger committed); every other pending file
    is removed. Then every case's ``LATEST`` that does not name the ledger's newest record of the
    case is rewritten. Returns one note per file handled (a ``LATEST`` rewrite is not evidence
    and makes no note). Pending files are looked for in both layouts: ``DIR/<case_id>/`` (before
    0.2) and ``DIR/<case_id>/<record_id>/``.
    """
    notes: list[str] = []
    # Temporary files of a pending write killed mid-write: their writer held the lock we hold now.
    for pattern in (f"*/.*{_PENDING_SUFFIX}.*.tmp", f"*/*/.*{_PENDING_SUFFIX}.*.tmp", f"*/.{LATEST_NAME}.*.tmp"):
        for tmp in ledger.folder.glob(pattern):
            tmp.unlink(missing_ok=True)
    pendings = sorted([*ledger.folder.glob(f"*/.*{_PENDING_SUFFIX}"), *ledger.folder.glob(f"*/*/.*{_PENDING_SUFFIX}")])
    entries = ledger.entries()
    latest: dict[str, Entry] = {}
    for e in entries:
        if e.kind == "record" and e.path:
            latest[e.path] = e
    for p in pendings:
        # name: .<record_id>.<target>.pending (a record id is a UUID: no dots)
        record_id, _, target_name = p.name[1:-len(_PENDING_SUFFIX)].partition(".")
        target = p.with_name(target_name)
        rel = Path(os.path.relpath(p.parent.resolve(), ledger.folder.resolve())) / "record.json"
        entry = latest.get(rel.as_posix())
        if entry is not None and entry.record_id == record_id and _is_committed(p, target_name, entry):
            os.replace(p, target)
            _fsync_dir(p.parent)
            notes.append(f"completed interrupted write of {target} (entry {entry.seq})")
        else:
            p.unlink(missing_ok=True)
            notes.append(f"discarded uncommitted {p.name}")
            try:
                p.parent.rmdir()  # a record folder left empty by a write that never committed
            except OSError:
                pass
    _refresh_latest(ledger, entries)
    return notes


def latest_record_ids(entries) -> dict[str, str]:
    """``{case_id: record_id}`` of each case's newest record written in its own folder."""
    out: dict[str, str] = {}
    for e in entries:
        if e.kind == "record" and e.path and e.path == f"{e.case_id}/{e.record_id}/record.json":
            out[e.case_id] = e.record_id
    return out


def _refresh_latest(ledger: Ledger, entries) -> None:
    """Rewrite each ``DIR/<case_id>/LATEST`` that does not name the case's newest record whose files are in place."""
    for case_id, record_id in latest_record_ids(entries).items():
        case_folder = ledger.folder / case_id
        if not (case_folder / record_id / "record.json").is_file():
            continue  # not yet renamed into place (or removed: verify reports that)
        f = case_folder / LATEST_NAME
        try:
            if f.read_text(encoding="utf-8").strip() == record_id:
                continue
        except OSError:
            pass
        write_atomic(f, (record_id + "\n").encode("ascii"))


def _is_committed(pending: Path, target_name: str, entry: Entry) -> bool:
    if target_name != "record.json":
        return True  # the report is renamed with its record; its bytes are not in the ledger
    return hashlib.sha256(pending.read_bytes()).hexdigest() == entry.file_sha256


# -- verifying -----------------------------------------------------------------------------------
def verify_ledger(ledger: Ledger, *, trusted_keys: dict[str, str] | None = None) -> Verification:
    """Recompute every entry hash and the chain, check the record files and the signatures.

    Parameters
    ----------
    ledger : Ledger
    trusted_keys : dict, optional
        ``{public_key_hex: printed name}``; when given, every signature must be made with one of
        these keys under that name.

    Returns
    -------
    Verification
        ``problems`` lists each break with the entry (``entry 7``) or file it is in.
    """
    try:
        with ledger.transaction():
            notes = complete_pending(ledger)
    except (LedgerError, OSError):
        # A read-only copy (an auditor's) can still be verified; pending files then show as breaks.
        notes = ["ledger or folder is read-only: interrupted writes were not completed"]
    entries = ledger.entries()
    problems: list[Break] = []
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        where = f"entry {e.seq}"
        if e.seq != i:
            problems.append(Break(where=where, reason=f"sequence number {e.seq} where {i} was expected "
                                                        f"(an entry was removed or reordered)"))
        if e.computed_hash() != e.entry_hash:
            problems.append(Break(where=where, reason="entry hash does not match its content (the entry was changed)"))
        if e.prev_hash != prev:
            problems.append(Break(where=where, reason=f"previous-entry hash {e.prev_hash[:16]}… does not match the "
                                                        f"entry before it ({prev[:16]}…): the chain is broken here "
                                                        "(an entry was removed, inserted or reordered)"))
        prev = e.entry_hash

    triggers = {r[0] for r in ledger._conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for name in TRIGGERS:
        if name not in triggers:
            problems.append(Break(where="ledger", reason=f"append-only trigger {name} is missing (removed by hand: "
                                                           "the ledger may have been edited)"))

    records = {e.record_id: e for e in entries if e.kind == "record"}
    latest_at: dict[str, Entry] = {}
    for e in entries:
        if e.kind == "record" and e.path:
            latest_at[e.path] = e
    on_disk: dict[str, dict] = {}
    for path, e in sorted(latest_at.items()):
        f = ledger.folder / path
        where = f"entry {e.seq} ({path})"
        if not f.is_file():
            problems.append(Break(where=where, reason="record file is missing"))
            continue
        raw = f.read_bytes()
        if hashlib.sha256(raw).hexdigest() != e.file_sha256:
            problems.append(Break(where=where, reason="record file differs from the bytes the ledger recorded "
                                                        "(the file was changed after it was written)"))
        try:
            rec = read_record(f)
        except Exception as exc:  # an unreadable record is a finding, not a crash of the verifier
            problems.append(Break(where=where, reason=f"record file unreadable: {exc}"))
            continue
        on_disk[rec.get("record_id")] = rec
        if rec.get("record_id") != e.record_id:
            problems.append(Break(where=where, reason=f"record file holds record {rec.get('record_id')}, "
                                                        f"not {e.record_id}"))
        elif content_hash(rec) != e.content_sha256:
            problems.append(Break(where=where, reason="record content hash differs from the ledger's"))
    superseded = len(records) - len(latest_at)
    if superseded:
        notes.append(f"{superseded} earlier record(s) were superseded at the same path; the ledger keeps their hashes")
    # A record file the ledger does not know: its entry was removed (or it was written around the tool).
    for f in sorted([*ledger.folder.glob("*/record.json"), *ledger.folder.glob("*/*/record.json")]):
        rel = f.relative_to(ledger.folder).as_posix()
        if rel not in latest_at:
            problems.append(Break(where=rel, reason="record file has no ledger entry (entry removed, or written "
                                                      "outside pmd-envelope)"))

    n_sig = 0
    for e in entries:
        if e.kind != "signature":
            continue
        n_sig += 1
        where = f"entry {e.seq} (signature of {e.detail.get('name')}, {e.detail.get('role')})"
        rec_entry = records.get(e.record_id)
        if rec_entry is None or rec_entry.seq > e.seq:
            problems.append(Break(where=where, reason=f"signs record {e.record_id}, which has no earlier ledger entry"))
        elif rec_entry.content_sha256 != e.content_sha256:
            problems.append(Break(where=where, reason="signs a content hash that differs from its record's entry"))
        reason = check_signature(e, trusted_keys)
        if reason:
            problems.append(Break(where=where, reason=reason))
        rec = on_disk.get(e.record_id)
        if rec is not None and content_hash(rec) != e.content_sha256:
            problems.append(Break(where=where, reason="the record was changed after it was signed "
                                                        f"(signed {e.content_sha256[:16]}…, now {content_hash(rec)[:16]}…)"))
    return Verification(ledger=str(ledger.path), entries=len(entries), records=len(records), signatures=n_sig,
                        head_hash=prev, problems=tuple(problems), notes=tuple(notes))
