"""Electronic signatures: bound to the record's content hash, checked by records verify."""

from conftest import latest_record, latest_rel
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
    assert main(["sign", str(latest_record(out, "cranial-001")), "--name", "Ada Reviewer", "--role", "reviewer",
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
    p = latest_record(signed, "cranial-001")
    rec = json.loads(p.read_text())
    rec["checks"][0]["margin"] = 9.0
    from pmd_envelope.record import record_bytes
    p.write_bytes(record_bytes(rec))
    reasons = [str(x) for x in _verify(signed).problems]
    assert any(r.startswith("entry 3 (signature of Ada Reviewer, reviewer): the record was changed after it was "
                            "signed") for r in reasons)


def test_sign_refuses_changed_record(signed, tmp_path, capsys):
    p = latest_record(signed, "cranial-002")
    p.write_bytes(p.read_bytes().replace(b'"nonconforming"', b'"conforming"', 1))
    rc = main(["sign", str(p), "--name", "Bo Approver", "--role", "approver", "--meaning", "approved",
               "--key", str(tmp_path / "reviewer.key")])
    assert rc == 2
    assert "changed after it was written and cannot be signed" in capsys.readouterr().err


def test_sign_refuses_record_not_in_ledger(signed, validations, tmp_path, capsys, monkeypatch):
    rec = fresh(validations["cranial-003"].record)
    loose = tmp_path / "loose" / "cranial-003" / rec["record_id"] / "record.json"
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
    rc = main(["sign", str(latest_record(signed, "cranial-001")), "--name", "Bo", "--role", "approver",
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
    rec_path = latest_record(signed, "cranial-001")
    before = rec_path.read_bytes()
    out_pdf = signed / "signed.pdf"
    assert main(["report", str(rec_path), "-o", str(out_pdf)]) == 0
    assert "signature: reviewer Ada Reviewer" in capsys.readouterr().out
    assert rec_path.read_bytes() == before
    from pmd_envelope.record import read_record
    from pmd_envelope.report import render_report
    assert out_pdf.read_bytes() != render_report(read_record(rec_path))  # the block is filled
    assert _verify(signed).ok


# -- sign-off policy ------------------------------------------------------------------------------
SEED_C = "c3" * 32


def _sign(out, case, name, role, seed, *extra, monkeypatch=None):
    return main(["sign", str(latest_record(out, case)), "--name", name, "--role", role, "--meaning", "m",
                 *extra, "--key", str(_keyfile(out, seed))])


def _keyfile(out, seed):
    p = out.parent / f"{seed[:4]}.key"
    p.write_text(seed + "\n")
    return p


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pmd-envelope: error: "), err
    for w in words:
        assert w in err, err
    return err


def _list(out, capsys):
    capsys.readouterr()
    assert main(["records", "list", "--out", str(out), "--json"]) == 0
    return {r["case_id"]: r for r in json.loads(capsys.readouterr().out)}


def test_approval_after_review_by_another_person_releases(signed, capsys):
    assert _list(signed, capsys)["cranial-001"]["signoff"] == {"state": "reviewed", "released": False,
                                                               "reviewers": ["Ada Reviewer"], "approvers": []}
    assert _sign(signed, "cranial-001", "Bo Approver", "approver", SEED_B) == 0
    assert "state: approved (released)" in capsys.readouterr().out
    row = _list(signed, capsys)["cranial-001"]
    assert row["signoff"] == {"state": "approved", "released": True, "reviewers": ["Ada Reviewer"],
                              "approvers": ["Bo Approver"]}
    assert main(["records", "list", "--out", str(signed)]) == 0
    table = capsys.readouterr().out
    assert "approved (released)" in table and "reviewer Ada Reviewer, approver Bo Approver" in table
    assert _verify(signed).ok


def test_approval_without_review_refused(signed, capsys):
    assert _sign(signed, "cranial-002", "Bo Approver", "approver", SEED_B, "--deviation", "CON-1") == 2
    _one_line_error(capsys, "has no reviewer signature", "sign as reviewer first")
    assert _list(signed, capsys)["cranial-002"]["signoff"]["state"] == "unsigned"


@pytest.mark.parametrize("name, seed", [("Ada Reviewer", SEED_B), ("  ada   reviewer ", SEED_B),
                                        ("Bo Approver", SEED_A)])
def test_approval_by_the_reviewer_refused(signed, capsys, name, seed):
    """Same printed name with another key, or the reviewer's key under another name: one person."""
    assert _sign(signed, "cranial-001", name, "approver", seed) == 2
    _one_line_error(capsys, "approval needs a review by another person (different name and key)")
    assert _verify(signed).signatures == 1


def test_nonconforming_approval_needs_deviation_signed_with_it(signed, capsys):
    assert _sign(signed, "cranial-002", "Ada Reviewer", "reviewer", SEED_A) == 0
    assert _sign(signed, "cranial-002", "Bo Approver", "approver", SEED_B) == 2
    _one_line_error(capsys, "is nonconforming", "add --deviation REF")
    assert _sign(signed, "cranial-002", "Bo Approver", "approver", SEED_B, "--deviation", "  ") == 2
    _one_line_error(capsys, "--deviation: must not be empty")
    assert _sign(signed, "cranial-002", "Bo Approver", "approver", SEED_B, "--deviation", "CON-2026-017") == 0
    assert "deviation CON-2026-017" in capsys.readouterr().out
    row = _list(signed, capsys)["cranial-002"]
    assert row["signoff"]["state"] == "approved"
    assert {"role": "approver", "name": "Bo Approver", "deviation": "CON-2026-017"} in row["signatures"]
    sig = [e for e in _ledger_entries(signed) if e.kind == "signature"][-1]
    assert sig.detail["signature_version"] == 2 and sig.detail["deviation"] == "CON-2026-017"
    # the reference is covered by the signature: changing or removing it breaks it
    for detail in ({**sig.detail, "deviation": "CON-2026-999"},
                   {k: v for k, v in sig.detail.items() if k not in ("deviation", "signature_version")}):
        _tamper(signed, sig.seq, "detail", json.dumps(detail, sort_keys=True, separators=(",", ":")))
        reasons = [p.reason for p in _verify(signed).problems if p.where.startswith(f"entry {sig.seq} ")]
        assert any("signature does not verify" in r or "deviation without message version 2" in r
                   for r in reasons), reasons


def _ledger_entries(out):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return ledger.entries()


@pytest.mark.parametrize("name, seed", [("Ada Reviewer", SEED_A), ("ADA REVIEWER", SEED_C),
                                        ("Cy Other", SEED_A)])
def test_same_person_same_role_twice_refused(signed, capsys, name, seed):
    assert _sign(signed, "cranial-001", name, "reviewer", seed) == 2
    _one_line_error(capsys, "already signed record", "as reviewer (ledger entry 3")
    assert _verify(signed).signatures == 1


def test_second_reviewer_and_second_approver_allowed(signed, capsys):
    assert _sign(signed, "cranial-001", "Cy Second", "reviewer", SEED_C) == 0
    assert _sign(signed, "cranial-001", "Bo Approver", "approver", SEED_B) == 0
    assert _sign(signed, "cranial-001", "Bo Approver", "approver", SEED_B) == 2
    _one_line_error(capsys, "already signed record", "as approver")
    assert _list(signed, capsys)["cranial-001"]["signoff"]["reviewers"] == ["Ada Reviewer", "Cy Second"]


def test_v1_signature_keeps_verifying(signed):
    """A signature made before 0.2 (message v1, no deviation) still verifies and counts as a review."""
    from pmd_envelope.signatures import signed_message
    from pmd_envelope.signoff import signoff_state

    rec_entry = next(e for e in _ledger_entries(signed) if e.kind == "record" and e.case_id == "cranial-002")
    key = load_private_key(_keyfile(signed, SEED_C))
    d = {"name": "Old Reviewer", "role": "reviewer", "meaning": "reviewed", "signed_at": "2026-01-01T00:00:00Z",
         "algorithm": "ed25519", "public_key": public_key_hex(key)}
    d["signature"] = key.sign(signed_message(record_id=rec_entry.record_id, content_sha256=rec_entry.content_sha256,
                                             **{k: d[k] for k in ("name", "role", "meaning", "signed_at",
                                                                  "public_key")})).hex()
    with open_ledger(signed / "ledger.sqlite") as ledger:
        ledger.append({"kind": "signature", "record_id": rec_entry.record_id, "case_id": "cranial-002",
                       "content_sha256": rec_entry.content_sha256, "detail": d})
    assert _verify(signed).ok
    sigs = [e for e in _ledger_entries(signed) if e.kind == "signature" and e.record_id == rec_entry.record_id]
    assert signoff_state(rec_entry, sigs).state == "reviewed"


def test_key_public_prints_trusted_keys_line(signed, capsys):
    assert main(["key", "public", "--key", str(_keyfile(signed, SEED_A)), "--name", " Ada  Reviewer "]) == 0
    line = capsys.readouterr().out
    assert line == f"{public_key_hex(load_private_key(_keyfile(signed, SEED_A)))} Ada Reviewer\n"
    keys = signed.parent / "signers.txt"
    keys.write_text(line)
    assert _verify(signed, trusted={line.split()[0]: "Ada Reviewer"}).ok
    assert main(["records", "verify", "--out", str(signed), "--trusted-keys", str(keys)]) == 0
    capsys.readouterr()
    assert main(["key", "public", "--key", str(signed.parent / "missing.key"), "--name", "X"]) == 2
    _one_line_error(capsys, "cannot read signing key")
