"""Golden vectors: formats that must still verify in 15 years (issue 10, item 6).

Each expected value here was computed outside pmd-envelope (sha256sum over the hand-written
canonical bytes; the Ed25519 signature by ``openssl pkeyutl -sign -rawin``), then frozen. A change to
canonical JSON, to the hashed fields of a record, to the ledger's hash columns or to the signed
message fails here instead of silently breaking every stored record.
"""

import hashlib

from pmd_envelope.ledger import COLUMNS, entry_hash
from pmd_envelope.record import canonical_json, content_hash

A, B, C, Z = "a" * 64, "b" * 64, "c" * 64, "0" * 64
RID = "00000000-0000-4000-8000-000000000000"

RECORD = {"record_id": RID, "created_at": "2026-11-24T12:00:00Z", "integrity": {"content_sha256": "x"},
          "retention": {"years": 15, "retain_until": "2041-11-24"}, "verdict": "conforming", "ü": "é",
          "measurements": [{"value": 1.5, "unit": "mm", "parameter": "wall_thickness"}]}
#: What the content hash covers: id, time stamp, integrity block and retain_until left out;
#: keys sorted, no spaces, UTF-8 as is.
RECORD_CANONICAL = ('{"measurements":[{"parameter":"wall_thickness","unit":"mm","value":1.5}],'
                    '"retention":{"years":15},"verdict":"conforming","ü":"é"}').encode("utf-8")
RECORD_SHA256 = "434e7cd80725e26178e78a107b24dce07a80110a561c8398ba4666328533409d"

ROW = {"seq": 1, "kind": "record", "record_id": RID, "case_id": "cranial-001", "content_sha256": A,
       "record_sha256": C, "file_sha256": B, "path": "cranial-001/record.json", "verdict": "conforming",
       "created_at": "2026-11-24T12:00:00Z", "retain_until": "2041-11-24", "appended_at": "2026-11-24T12:00:01Z",
       "detail": '{"envelope":"cranial-plate-ti64-lpbf 1.0.0","schema_version":"1.1"}', "prev_hash": Z}
ROW_ENTRY_HASH = "12bf8732b5d74fe12fa0429fda94267886797522b9d7d07aa796691fdb694c37"

#: RFC 8032 section 7.1, test 1: secret key and public key.
SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_EMPTY_SIGNATURE = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                           "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
MESSAGE_SHA256 = "4f9b0bbb598a5e051e393fe82177651a70fba050e167523f4179f7af379e485c"
SIGNATURE = ("8ada0ef588686bc7e9b5ca6d23fabcd75620b4505b66f364fd5ff5a0cf2e5ec6"
             "c137561602f6f21351ebc925a471661de896e88a6a8a8b65766b873971947d07")


def test_record_canonical_bytes_and_content_hash():
    assert hashlib.sha256(RECORD_CANONICAL).hexdigest() == RECORD_SHA256  # the vector itself
    assert content_hash(RECORD) == RECORD_SHA256
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode("utf-8")


def test_ledger_row_entry_hash():
    assert set(COLUMNS) == set(ROW)  # a column added or dropped changes every entry hash
    assert entry_hash(ROW) == ROW_ENTRY_HASH


def test_ed25519_library_on_rfc8032_vector():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pmd_envelope.signatures import public_key_hex

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))
    assert public_key_hex(key) == PUBLIC
    assert key.sign(b"").hex() == RFC8032_EMPTY_SIGNATURE


def test_signed_message_and_signature():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pmd_envelope.signatures import signed_message

    msg = signed_message(record_id=RID, content_sha256=A, name="A. Approver", role="approver",
                         meaning="approved for manufacture", signed_at="2026-11-24T12:30:00Z", public_key=PUBLIC)
    assert hashlib.sha256(msg).hexdigest() == MESSAGE_SHA256
    assert Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED)).sign(msg).hex() == SIGNATURE
