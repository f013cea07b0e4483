"""Evidence ledger: hash chain, append-only, tamper detection, records commands, retention."""

import json
import shutil
import sqlite3
import subprocess
import sys
import os

import pytest

from conftest import ROOT, SAMPLES, latest_record, latest_rel
from evidence_writer import fake_report, fresh
from pmd_envelope.cli import main
from pmd_envelope.errors import LedgerError
from pmd_envelope.ledger import GENESIS, commit_evidence, open_ledger, verify_ledger


@pytest.fixture
def evidence(validations, tmp_path):
    """An evidence folder with three records (cranial-001, -002, -003) in its ledger."""
    out = tmp_path / "ev"
    for case in ("cranial-001", "cranial-002", "cranial-003"):
        rec = validations[case].record
        commit_evidence(out, rec, fake_report(rec["record_id"]))
    return out


def _verify(out):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return verify_ledger(ledger)


class _raw:
    """A plain sqlite3 connection with the append-only triggers dropped while it is open and put back
    on close: what a careful tamperer would do, so only the chain and the files can give it away."""

    def __init__(self, out):
        self.conn = sqlite3.connect(out / "ledger.sqlite", isolation_level=None)
        self.saved = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                       "AND tbl_name = 'entries'").fetchall()
        self.conn.execute("DROP TRIGGER entries_no_update")
        self.conn.execute("DROP TRIGGER entries_no_delete")

    def execute(self, *args):
        return self.conn.execute(*args)

    def close(self):
        for (sql,) in self.saved:
            self.conn.execute(sql)
        self.conn.close()


def test_chain_links_every_entry(evidence):
    with open_ledger(evidence / "ledger.sqlite") as ledger:
        entries = ledger.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:]))
    assert all(e.computed_hash() == e.entry_hash for e in entries)
    assert [e.case_id for e in entries] == ["cranial-001", "cranial-002", "cranial-003"]
    assert entries[0].content_sha256 == json.loads(latest_record(evidence, "cranial-001").read_text())[
        "integrity"]["content_sha256"]
    result = _verify(evidence)
    assert result.ok, result.problems
    assert result.head_hash == entries[-1].entry_hash


def test_database_refuses_update_and_delete(evidence):
    conn = sqlite3.connect(evidence / "ledger.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE entries SET verdict = 'conforming' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE seq = 3")
    conn.close()
    assert _verify(evidence).ok


def test_dropped_trigger_reported(evidence):
    conn = sqlite3.connect(evidence / "ledger.sqlite")
    conn.execute("DROP TRIGGER entries_no_delete")
    conn.close()
    assert [str(p) for p in _verify(evidence).problems] == [
        "ledger: append-only trigger entries_no_delete is missing (removed by hand: the ledger may have been edited)"]


def test_changed_byte_in_record_file_reported(evidence):
    p = latest_record(evidence, "cranial-002")
    data = bytearray(p.read_bytes())
    i = data.index(b'"verdict": "nonconforming"') + len(b'"verdict": "')
    data[i:i + 3] = b"con"  # nonconforming -> conconforming: one changed word, same length
    p.write_bytes(bytes(data))
    result = _verify(evidence)
    assert not result.ok
    assert {p.where for p in result.problems} == {f"entry 2 ({latest_rel(evidence, 'cranial-002')})"}
    assert any("changed after it was written" in p.reason for p in result.problems)


def test_whitespace_only_change_still_reported(evidence):
    # The canonical content is unchanged, but the file is not the bytes the ledger recorded.
    p = latest_record(evidence, "cranial-001")
    p.write_bytes(p.read_bytes() + b" ")
    result = _verify(evidence)
    assert [str(x) for x in result.problems] == [
        f"entry 1 ({latest_rel(evidence)}): record file differs from the bytes the ledger recorded "
        "(the file was changed after it was written)"]


def test_removed_entry_reported(evidence):
    conn = _raw(evidence)
    conn.execute("DELETE FROM entries WHERE seq = 2")
    conn.close()
    result = _verify(evidence)
    reasons = [str(p) for p in result.problems]
    assert any(r.startswith("entry 3: sequence number 3 where 2 was expected") for r in reasons)
    assert any(r.startswith("entry 3: previous-entry hash") for r in reasons)
    assert any(r.startswith(f"{latest_rel(evidence, 'cranial-002')}: record file has no ledger entry") for r in reasons)


def test_removed_last_entry_reported_through_the_orphan_file(evidence):
    conn = _raw(evidence)
    conn.execute("DELETE FROM entries WHERE seq = 3")
    conn.close()
    result = _verify(evidence)
    assert [p.where for p in result.problems] == [latest_rel(evidence, "cranial-003")]


def test_reordered_entries_reported(evidence):
    conn = _raw(evidence)
    rows = conn.execute("SELECT * FROM entries ORDER BY seq").fetchall()
    conn.execute("DELETE FROM entries")
    # entries 2 and 3 swapped, each keeping its own (valid) entry hash
    for seq, row in zip((1, 2, 3), (rows[0], rows[2], rows[1])):
        conn.execute(f"INSERT INTO entries VALUES ({', '.join('?' * len(row))})", (seq, *row[1:]))
    conn.close()
    result = _verify(evidence)
    wheres = {p.where for p in result.problems}
    assert {"entry 2", "entry 3"} <= wheres
    assert any("chain is broken" in p.reason for p in result.problems)


def test_edited_entry_reported(evidence):
    conn = _raw(evidence)
    conn.execute("UPDATE entries SET retain_until = '2030-01-01' WHERE seq = 1")
    conn.close()
    result = _verify(evidence)
    assert [str(p) for p in result.problems] == [
        "entry 1: entry hash does not match its content (the entry was changed)"]


def test_missing_record_file_reported(evidence):
    rel = latest_rel(evidence, "cranial-003")
    shutil.rmtree(evidence / "cranial-003")
    assert [str(p) for p in _verify(evidence).problems] == [f"entry 3 ({rel}): record file is missing"]


def test_same_case_twice_keeps_both_records_and_verify_checks_both(evidence, validations):
    first = validations["cranial-001"].record
    rec = fresh(first)
    commit_evidence(evidence, rec, fake_report(rec["record_id"]))
    result = _verify(evidence)
    assert result.ok and result.records == 4 and not result.notes
    assert json.loads(latest_record(evidence, "cranial-001").read_text())["record_id"] == rec["record_id"]
    older = evidence / "cranial-001" / first["record_id"]
    assert json.loads((older / "record.json").read_text())["record_id"] == first["record_id"]
    assert (older / "report.pdf").read_bytes() == fake_report(first["record_id"])
    (older / "record.json").write_bytes((older / "record.json").read_bytes() + b" ")  # the older one is checked too
    assert [p.where for p in _verify(evidence).problems] == [f"entry 1 (cranial-001/{first['record_id']}/record.json)"]


def _old_layout(out, record):
    """An evidence folder as versions before 0.2 wrote it: ``<case_id>/record.json`` and ``report.pdf``."""
    from pmd_envelope.ledger import record_entry_fields
    from pmd_envelope.record import record_bytes

    data = record_bytes(record)
    (out / record["case_id"]).mkdir(parents=True, exist_ok=True)
    (out / record["case_id"] / "record.json").write_bytes(data)
    (out / record["case_id"] / "report.pdf").write_bytes(fake_report(record["record_id"]))
    with open_ledger(out / "ledger.sqlite", create=True) as ledger:
        ledger.append(record_entry_fields(record, f"{record['case_id']}/record.json", data))


def test_old_layout_keeps_verifying_beside_the_new_one(validations, tmp_path):
    out = tmp_path / "ev"
    old = validations["cranial-001"].record
    _old_layout(out, old)
    assert _verify(out).ok
    new = fresh(old)
    commit_evidence(out, new, fake_report(new["record_id"]))
    result = _verify(out)
    assert result.ok and result.records == 2
    # read in place, never migrated: the old files stay where they were, the new record has its folder
    assert json.loads((out / "cranial-001" / "record.json").read_text())["record_id"] == old["record_id"]
    assert latest_rel(out) == f"cranial-001/{new['record_id']}/record.json"
    (out / "cranial-001" / "record.json").write_bytes(b"{}")
    assert {p.where for p in _verify(out).problems} == {"entry 1 (cranial-001/record.json)"}


def test_default_ledger_for_both_layouts(tmp_path):
    from pmd_envelope.ledger import ledger_for_record

    rid = "0b8f5a52-2d7e-4c1b-9a43-5b2f7f1e3c11"
    assert ledger_for_record(tmp_path / "ev" / "c-1" / rid / "record.json") == (tmp_path / "ev" / "ledger.sqlite").resolve()
    assert ledger_for_record(tmp_path / "ev" / "c-1" / "record.json") == (tmp_path / "ev" / "ledger.sqlite").resolve()


def test_same_record_is_not_appended_twice(evidence, validations):
    with pytest.raises(LedgerError, match="already in the ledger"):
        commit_evidence(evidence, validations["cranial-001"].record, b"%PDF")
    assert _verify(evidence).entries == 3


def test_not_a_ledger_refused(tmp_path):
    p = tmp_path / "ledger.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="not a pmd-envelope ledger"):
        open_ledger(p)
    with pytest.raises(LedgerError, match="no ledger here"):
        open_ledger(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


# -- CLI ---------------------------------------------------------------------------------------
def test_records_verify_cli_exit_codes(evidence, capsys):
    assert main(["records", "verify", "--out", str(evidence)]) == 0
    assert "verified" in capsys.readouterr().out
    p = latest_record(evidence, "cranial-001")
    p.write_bytes(p.read_bytes().replace(b'"conforming"', b'"Conforming"', 1))
    assert main(["records", "verify", "--ledger", str(evidence / "ledger.sqlite"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["problems"][0]["where"] == f"entry 1 ({latest_rel(evidence)})"


def test_records_list_and_expiring_before(evidence, capsys):
    assert main(["records", "list", "--out", str(evidence), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["case_id"] for r in rows] == ["cranial-001", "cranial-002", "cranial-003"]
    assert {r["retain_until"] for r in rows} == {"2041-11-24"}
    assert main(["records", "list", "--out", str(evidence), "--expiring-before", "2041-11-24", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["records", "list", "--out", str(evidence), "--expiring-before", "2041-11-25"]) == 0
    assert "3 record(s) with retention ending before 2041-11-25" in capsys.readouterr().out
    assert main(["records", "list", "--out", str(evidence), "--expiring-before", "next year"]) == 2
    assert capsys.readouterr().err == ("pmd-envelope: error: --expiring-before: 'next year' is not a date; "
                                       "use YYYY-MM-DD\n")


def test_records_show(evidence, validations, capsys):
    rid = validations["cranial-002"].record["record_id"]
    assert main(["records", "show", rid[:8], "--out", str(evidence)]) == 0
    out = capsys.readouterr().out
    assert f"record {rid}  case cranial-002  verdict nonconforming" in out
    assert main(["records", "show", "no-such-id", "--out", str(evidence)]) == 2
    assert "no record with id 'no-such-id'" in capsys.readouterr().err


def test_records_without_ledger_exit_2_nothing_created(tmp_path, capsys):
    assert main(["records", "list", "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no ledger here" in err
    assert not (tmp_path / "ev").exists()


def test_validate_appends_to_ledger_and_verify_passes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "ev"
    r = subprocess.run([sys.executable, "-m", "pmd_envelope", "validate", str(SAMPLES / "cranial-001"), "--out",
                        str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert f"ledger: {out / 'ledger.sqlite'} entry 1 (hash " in r.stdout
    r = subprocess.run([sys.executable, "-m", "pmd_envelope", "records", "verify", "--out", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 entries (1 records, 0 signatures)" in r.stdout


def test_identifying_case_refused_by_cli_and_nothing_recorded(case_copy, tmp_path):
    folder = case_copy("cranial-001")
    p = folder / "case.toml"
    p.write_text('patient_name = "Jane Doe"\n' + p.read_text())
    out = tmp_path / "ev"
    r = subprocess.run([sys.executable, "-m", "pmd_envelope", "validate", str(folder), "--out", str(out)],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 2
    assert r.stderr == (f"pmd-envelope: error: {p} [patient_name]: looks like patient-identifying data; remove it "
                        "and use the pseudonymous patient_ref only\n")
    assert not out.exists()
