"""Sign-off policy: who may sign a record, in which order, and what state the record is in.

Rules (checked by :func:`check_signoff` under the ledger's write lock, before a signature is
appended; each refusal is a :class:`~pmd_envelope.errors.SignOffError`, exit 2):

1. The same person does not sign the same record in the same role twice. A person is a printed
   name (compared without case or surrounding spaces) or a public key: either one repeated is the
   same signer.
2. An approval needs an earlier, valid reviewer signature of the same content by another person:
   a different printed name *and* a different public key (separation of duties; ISO 13485 §4.2.4
   and §7.3.5 ask for review and approval by people other than the one who did the work, and
   21 CFR 820.40 for approval by a designated individual: one person holding two names, or two
   people sharing a key, is not two signers).
3. Approving a nonconforming record needs a deviation or concession reference (ISO 13485 §8.3.2:
   a nonconforming product is released only under a documented concession), which is recorded
   with the signature and covered by it (message v2).

States (:func:`signoff_state`): ``unsigned`` (no valid reviewer signature), ``reviewed`` (a valid
reviewer signature, no approval that satisfies the rules), ``approved`` (released: a valid
approval that satisfies rules 2 and 3 on the record's content). Only signatures that verify and
sign the record's ledger content hash count, so a ledger written before this policy shows an
approval that skipped review as ``reviewed`` or ``unsigned``, never as released.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmd_envelope.errors import SignOffError
from pmd_envelope.signatures import check_signature

__all__ = ["STATES", "SignOff", "check_signoff", "signoff_state"]

STATES = ("unsigned", "reviewed", "approved")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOff:
    """A record's sign-off state and the printed names of its valid signers, in signing order."""

    state: str
    reviewers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()

    def __post_init__(self):
        if self.state not in STATES:
            raise ValueError(f"sign-off state {self.state!r} is not one of {STATES}")

    @property
    def released(self) -> bool:
        return self.state == "approved"

    def as_dict(self) -> dict:
        return {"state": self.state, "released": self.released, "reviewers": list(self.reviewers),
                "approvers": list(self.approvers)}


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def _valid(signatures, record_entry) -> list:
    """Signature entries that verify and sign the record's ledger content, in ledger order."""
    return [s for s in signatures if s.kind == "signature" and s.record_id == record_entry.record_id
            and s.content_sha256 == record_entry.content_sha256 and check_signature(s) is None]


def _approval_ok(approval, reviews, verdict: str | None) -> bool:
    d = approval.detail
    other = any(_person(r.detail["name"]) != _person(d["name"]) and r.detail["public_key"] != d["public_key"]
                and r.seq < approval.seq for r in reviews)
    return other and (verdict == "conforming" or bool(d.get("deviation")))


def check_signoff(record_entry, signatures, *, name: str, role: str, public_key: str,
                  deviation: str | None, where=None) -> None:
    """Refuse a new signature that breaks the sign-off policy (rules in the module docstring).

    Parameters
    ----------
    record_entry : pmd_envelope.ledger.Entry
        The record's ledger entry (its verdict decides whether a deviation is needed).
    signatures : iterable of pmd_envelope.ledger.Entry
        The record's signature entries already in the ledger.
    name, role, public_key, deviation
        The new signature's printed name, role, signing key (hex) and deviation reference.
    where : str or path-like, optional
        Named in the error (the record file).

    Raises
    ------
    SignOffError
    """
    valid = _valid(signatures, record_entry)
    rid = record_entry.record_id
    for s in valid:
        d = s.detail
        if d["role"] == role and (_person(d["name"]) == _person(name) or d["public_key"] == public_key):
            same = "name" if _person(d["name"]) == _person(name) else f"key {public_key[:16]}…"
            raise SignOffError(where, f"{d['name']} already signed record {rid} as {role} (ledger entry {s.seq}, "
                                      f"same {same}); a person signs a record once in a role")
    if role != "approver":
        return
    reviews = [s for s in valid if s.detail["role"] == "reviewer"]
    if not reviews:
        raise SignOffError(where, f"record {rid} has no reviewer signature; approval needs a prior review by "
                                  "another person: sign as reviewer first")
    if not any(_person(r.detail["name"]) != _person(name) and r.detail["public_key"] != public_key for r in reviews):
        raise SignOffError(where, f"record {rid} was reviewed only by {', '.join(r.detail['name'] for r in reviews)} "
                                  "with this name or key; approval needs a review by another person "
                                  "(different name and key)")
    if record_entry.verdict != "conforming" and not (deviation and deviation.strip()):
        raise SignOffError(where, f"record {rid} is {record_entry.verdict}; approving it needs the deviation or "
                                  "concession reference: add --deviation REF")


def signoff_state(record_entry, signatures) -> SignOff:
    """The sign-off state of a record from its ledger entry and its signature entries."""
    valid = _valid(signatures, record_entry)
    reviews = [s for s in valid if s.detail["role"] == "reviewer"]
    approvals = [s for s in valid if s.detail["role"] == "approver"
                 and _approval_ok(s, reviews, record_entry.verdict)]
    state = "approved" if approvals else "reviewed" if reviews else "unsigned"
    return SignOff(state=state, reviewers=tuple(s.detail["name"] for s in reviews),
                   approvers=tuple(s.detail["name"] for s in approvals))
