"""Electronic signatures (21 CFR Part 11 style) bound to a record's content hash, kept in the ledger.

A signature is an Ed25519 signature (RFC 8032, via ``cryptography``) over the canonical JSON of
``{record_id, content_sha256, name, role, meaning, signed_at, public_key, deviation}``, prefixed by
a domain string (``pmd-envelope signature v2``) so it cannot be replayed as anything else. The
deviation (or concession) reference is part of the signed message, so it cannot be added to or
taken off a signature afterwards. Signatures made before 0.2 (message v1, without ``deviation``;
their ledger detail has no ``signature_version``) keep verifying under v1. It therefore shows the printed name, the date
and time and the meaning (§11.50) and is linked to its record (§11.70): copied onto another
record, or left on a record whose content changed, it no longer verifies.

Keys: the signer's private key comes from ``--key FILE`` (PEM PKCS#8, e.g. made by
``openssl genpkey -algorithm ed25519``, or a file holding the 32-byte seed as 64 hex digits) or
from the environment variable ``PMD_ENVELOPE_SIGNING_KEY`` (the 64 hex digits). The private key
is never written anywhere; the ledger holds only the public key, so anyone can check a signature
years later. Who owns a public key is not something a signature can prove by itself: give
``records verify --trusted-keys FILE`` (lines ``<public key hex> <printed name>``) to require
that every signature was made by a listed key under the listed name.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

from pmd_envelope.errors import SignatureError
from pmd_envelope.record import canonical_json, verify_record_hash

__all__ = ["ROLES", "KEY_ENV", "load_private_key", "public_key_hex", "signed_message", "sign_fields", "check_signature",
           "read_trusted_keys", "signatures_for_report"]

#: Roles that sign with this command; "prepared" is the record itself (designer, created_at).
ROLES = ("reviewer", "approver")
KEY_ENV = "PMD_ENVELOPE_SIGNING_KEY"
ALGORITHM = "ed25519"
_DOMAIN = {1: b"pmd-envelope signature v1\n", 2: b"pmd-envelope signature v2\n"}
#: Message version of every new signature (v2 adds ``deviation``).
SIGNATURE_VERSION = 2
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def load_private_key(key_file: str | Path | None = None):
    """The signer's Ed25519 private key from ``key_file`` or ``$PMD_ENVELOPE_SIGNING_KEY``.

    Raises
    ------
    SignatureError
        When no key is given or it is not an Ed25519 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if key_file is not None:
        try:
            raw = Path(key_file).read_bytes()
        except OSError as exc:
            raise SignatureError(key_file, f"cannot read signing key ({exc.strerror or exc})") from None
        source = key_file
    elif os.environ.get(KEY_ENV):
        raw, source = os.environ[KEY_ENV].encode(), f"${KEY_ENV}"
    else:
        raise SignatureError("--key", f"no signing key: give --key FILE or set {KEY_ENV} to the 64-hex-digit seed")
    text = raw.strip()
    if _HEX64.match(text.decode("ascii", "replace")):
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text.decode()))
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(source, f"not an unencrypted PEM private key or 64 hex digits ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(source, f"is a {type(key).__name__}, not an Ed25519 key; "
                                     "make one with: openssl genpkey -algorithm ed25519")
    return key


def public_key_hex(private_key) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signed_message(*, record_id: str, content_sha256: str, name: str, role: str, meaning: str, signed_at: str,
                   public_key: str, version: int = 1, deviation: str | None = None) -> bytes:
    """The exact bytes a signature covers: message ``version`` 1 (before 0.2) or 2 (with ``deviation``)."""
    fields = {"record_id": record_id, "content_sha256": content_sha256, "name": name, "role": role,
              "meaning": meaning, "signed_at": signed_at, "public_key": public_key}
    if version == 2:
        fields["deviation"] = deviation
    elif version != 1 or deviation is not None:
        raise ValueError(f"signature message version {version!r} with deviation {deviation!r} does not exist")
    return _DOMAIN[version] + canonical_json(fields)


def sign_fields(record: dict, *, name: str, role: str, meaning: str, private_key, deviation: str | None = None,
                now: _dt.datetime | None = None) -> dict:
    """Ledger columns of a signature entry for ``record`` (whose content hash must verify).

    ``deviation``: the deviation or concession reference under which a nonconforming record is
    released; signed with the rest (message v2). Whether one is required is the sign-off policy's
    question (:mod:`pmd_envelope.signoff`), not this function's.
    """
    if role not in ROLES:
        raise SignatureError(None, f"role '{role}' is not one of: {', '.join(ROLES)}")
    for label, value in (("name", name), ("meaning", meaning)):
        if not value or not value.strip():
            raise SignatureError(None, f"--{label} must not be empty: a signature shows the printed name and "
                                       "its meaning (21 CFR 11.50)")
    if not verify_record_hash(record):
        raise SignatureError(None, f"record {record.get('record_id')} does not match its own content hash; "
                                   "it was changed after it was written and cannot be signed")
    if deviation is not None:
        deviation = deviation.strip()
        if not deviation:
            raise SignatureError("--deviation", "must not be empty: give the deviation or concession reference")
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).replace(microsecond=0)
    signed_at = now.isoformat().replace("+00:00", "Z")
    pub = public_key_hex(private_key)
    content = record["integrity"]["content_sha256"]
    msg = signed_message(record_id=record["record_id"], content_sha256=content, name=name.strip(), role=role,
                         meaning=meaning.strip(), signed_at=signed_at, public_key=pub,
                         version=SIGNATURE_VERSION, deviation=deviation)
    return {"kind": "signature", "record_id": record["record_id"], "case_id": record["case_id"],
            "content_sha256": content,
            "detail": {"name": name.strip(), "role": role, "meaning": meaning.strip(), "signed_at": signed_at,
                       "algorithm": ALGORITHM, "public_key": pub, "signature": private_key.sign(msg).hex(),
                       "signature_version": SIGNATURE_VERSION, "deviation": deviation}}


def check_signature(entry, trusted_keys: dict[str, str] | None = None) -> str | None:
    """None when a signature entry verifies; else the reason it does not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    d = entry.detail
    try:
        if d.get("algorithm") != ALGORITHM:
            return f"unknown signature algorithm {d.get('algorithm')!r}"
        version = d.get("signature_version", 1)
        if version == 1 and "deviation" in d:
            return "signature entry is malformed (a deviation without message version 2 is not covered by the signature)"
        msg = signed_message(record_id=entry.record_id, content_sha256=entry.content_sha256, name=d["name"],
                             role=d["role"], meaning=d["meaning"], signed_at=d["signed_at"], public_key=d["public_key"],
                             version=version, deviation=d.get("deviation") if version == 2 else None)
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(d["public_key"])).verify(bytes.fromhex(d["signature"]), msg)
    except InvalidSignature:
        return "signature does not verify (forged, or the signed fields were changed)"
    except (KeyError, TypeError, ValueError) as exc:
        return f"signature entry is malformed ({type(exc).__name__}: {exc})"
    if trusted_keys is not None:
        owner = trusted_keys.get(d["public_key"].lower())
        if owner is None:
            return f"signed with key {d['public_key'][:16]}…, which is not in the trusted keys"
        if owner != d["name"]:
            return f"signed with the key of {owner!r} under the name {d['name']!r}"
    return None


def read_trusted_keys(path: str | Path) -> dict[str, str]:
    """``{public key hex: printed name}`` from lines ``<64 hex digits> <name>`` (``#`` comments)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SignatureError(path, f"cannot read trusted keys ({exc.strerror or exc})") from None
    out = {}
    for n, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, name = line.partition(" ")
        if not _HEX64.match(key) or not name.strip():
            raise SignatureError(path, f"line {n}: expected '<64 hex digits public key> <printed name>'")
        out[key.lower()] = name.strip()
    return out


def signatures_for_report(entries, trusted_keys: dict[str, str] | None = None) -> list[dict]:
    """The signature block rows of one record's ledger entries, each with whether it verifies.

    ``valid``: the Ed25519 signature verifies over the signed fields. ``signer_verified``: it is
    also made by a key listed in ``trusted_keys`` under the printed name shown (never true without
    a trusted-keys file: a signature alone cannot prove who owns its key). ``problem`` says why
    the signature does not verify, ``signer_problem`` why its signer is not verified.
    """
    rows = []
    for e in entries:
        if e.kind != "signature":
            continue
        reason = check_signature(e)
        if reason is not None:
            signer = "the signature does not verify"
        elif trusted_keys is None:
            signer = "no trusted keys given (--trusted-keys)"
        else:
            signer = check_signature(e, trusted_keys)
        rows.append({"role": e.detail.get("role"), "name": e.detail.get("name"), "signed_at": e.detail.get("signed_at"),
                     "meaning": e.detail.get("meaning"), "deviation": e.detail.get("deviation"), "public_key": e.detail.get("public_key"),
                     "ledger_entry": e.seq, "content_sha256": e.content_sha256, "valid": reason is None,
                     "problem": reason, "signer_verified": signer is None, "signer_problem": signer})
    return rows
