"""Electronic signatures: bound to the record's content hash, checked by records verify."""

import json
import sqlite3

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_writer import fake_report, fresh
from pmd_envelope.cli import main
from pmd_envelope.errors import SignatureError
from pmd_envelope.ledger import commit_evidence, open_ledger, verify_ledger
from pmd_envelope.signatures import KEY_ENV, load_private_key, public_key_hex

SEED_A = "a1" * 32
SEED_B = "b2" * 32


@pytest.fixture
def signed(validations, tmp_path, monkeypatch):
    """Evidence with cranial-001 and cranial-002 recorded and cranial-001 signed by a reviewer."""
    out = tmp_path / "ev"
    for case in ("cranial-001", "cranial-002"):
        rec = validations[case].record
        commit_evidence(out, rec, fake_report(rec["record_id"]))
    key = tmp_path / "reviewer.key"
    key.write_text(SEED_A + "\n")
    assert main(["sign", str(out / "cranial-001" / "record.json"), "--name", "Ada Reviewer", "--role", "reviewer",
                 "--meaning", "reviewed: design verified against the envelope", "--key", str(key)]) == 0
    return out


def _verify(out, trusted=None):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return verify_ledger(ledger, trusted_keys=trusted)


def _signature_row(out):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return next(e for e in ledger.entries() if e.kind == "signature")


def _tamper(out, seq, column, value):
    """Edit one ledger cell, dropping the update trigger for the edit and putting it back after."""
    conn = sqlite3.connect(out / "ledger.sqlite", isolation_level=None)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'entries_no_update'").fetchone()
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = ?", (value, seq))
    conn.execute(sql)
    conn.close()


def test_signature_entry_verifies(signed, capsys):
    sig = _signature_row(signed)
    assert sig.seq == 3 and sig.detail["role"] == "reviewer" and sig.detail["name"] == "Ada Reviewer"
    assert sig.detail["signed_at"].endswith("Z")
    assert SEED_A not in json.dumps(sig.as_dict())  # the private key is never stored
    result = _verify(signed)
    assert result.ok and result.signatures == 1
    pub = public_key_hex(load_private_key_from_seed(SEED_A))
    assert _verify(signed, {pub: "Ada Reviewer"}).ok


def load_private_key_from_seed(seed):
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))


def test_forged_signature_reported(signed):
    sig = _signature_row(signed)
    # A forger changes the meaning and re-hashes the entry so the chain itself still holds.
    detail = dict(sig.detail, meaning="approved for manufacture")
    from pmd_envelope.record import canonical_json
    from pmd_envelope.ledger import entry_hash
    fields = dict(sig.hashed_fields(), detail=canonical_json(detail).decode())
    _tamper(signed, 3, "detail", fields["detail"])
    _tamper(signed, 3, "entry_hash", entry_hash(fields))
    result = _verify(signed)
    assert [str(p) for p in result.problems] == [
        "entry 3 (signature of Ada Reviewer, reviewer): signature does not verify (forged, or the signed fields "
        "were changed)"]


def test_signature_moved_to_another_record_reported(signed, validations):
    other = validations["cranial-002"].record
    _tamper(signed, 3, "record_id", other["record_id"])
    _tamper(signed, 3, "content_sha256", other["integrity"]["content_sha256"])
    reasons = [p.reason for p in _verify(signed).problems]
    assert "signature does not verify (forged, or the signed fields were changed)" in reasons


def test_signature_by_untrusted_key_reported(signed):
    stranger = public_key_hex(load_private_key_from_seed(SEED_B))
    result = _verify(signed, {stranger: "Ada Reviewer"})
    assert [p.reason for p in result.problems] == [
        f"signed with key {public_key_hex(load_private_key_from_seed(SEED_A))[:16]}…, which is not in the "
        "trusted keys"]


def test_record_changed_after_signing_reported(signed):
    p = signed / "cranial-001" / "record.json"
    rec = json.loads(p.read_text())
    rec["checks"][0]["margin"] = 9.0
    from pmd_envelope.record import record_bytes
    p.write_bytes(record_bytes(rec))
    reasons = [str(x) for x in _verify(signed).problems]
    assert any(r.startswith("entry 3 (signature of Ada Reviewer, reviewer): the record was changed after it was "
                            "signed") for r in reasons)


def test_sign_refuses_changed_record(signed, tmp_path, capsys):
    p = signed / "cranial-002" / "record.json"
    p.write_bytes(p.read_bytes().replace(b'"nonconforming"', b'"conforming"', 1))
    rc = main(["sign", str(p), "--name", "Bo Approver", "--role", "approver", "--meaning", "approved",
               "--key", str(tmp_path / "reviewer.key")])
    assert rc == 2
    assert "changed after it was written and cannot be signed" in capsys.readouterr().err


def test_sign_refuses_record_not_in_ledger(signed, validations, tmp_path, capsys, monkeypatch):
    rec = fresh(validations["cranial-003"].record)
    loose = tmp_path / "loose" / "cranial-003" / "record.json"
    loose.parent.mkdir(parents=True)
    from pmd_envelope.record import record_bytes
    loose.write_bytes(record_bytes(rec))
    monkeypatch.setenv(KEY_ENV, SEED_B)
    rc = main(["sign", str(loose), "--name", "Bo Approver", "--role", "approver", "--meaning", "approved",
               "--ledger", str(signed / "ledger.sqlite")])
    assert rc == 2
    assert "is not in the ledger" in capsys.readouterr().err
    assert _verify(signed).entries == 3


def test_sign_without_key_exit_2(signed, capsys, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    rc = main(["sign", str(signed / "cranial-001" / "record.json"), "--name", "Bo", "--role", "approver",
               "--meaning", "approved"])
    assert rc == 2
    assert capsys.readouterr().err == ("pmd-envelope: error: --key: no signing key: give --key FILE or set "
                                       "PMD_ENVELOPE_SIGNING_KEY to the 64-hex-digit seed\n")


def test_pem_key_and_wrong_key_type(tmp_path):
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    assert public_key_hex(load_private_key(pem)) == public_key_hex(key)
    from cryptography.hazmat.primitives.asymmetric import ec
    other = tmp_path / "ec.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(SignatureError, match="not an Ed25519 key"):
        load_private_key(other)


def test_report_shows_signatures_without_changing_the_record(signed, capsys):
    rec_path = signed / "cranial-001" / "record.json"
    before = rec_path.read_bytes()
    out_pdf = signed / "signed.pdf"
    assert main(["report", str(rec_path), "-o", str(out_pdf)]) == 0
    assert "signature: reviewer Ada Reviewer" in capsys.readouterr().out
    assert rec_path.read_bytes() == before
    from pmd_envelope.record import read_record
    from pmd_envelope.report import render_report
    assert out_pdf.read_bytes() != render_report(read_record(rec_path))  # the block is filled
    assert _verify(signed).ok
