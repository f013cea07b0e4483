"""Helper process for tests/test_atomic.py: append records to a ledger in a loop until killed.

usage: python evidence_writer.py BASE_RECORD.json OUT_DIR COUNT

Each record is the base record with a fresh id; its "report" is a few bytes naming the record id,
so a test can check that the report on disk belongs to the record on disk.
"""

import json
import sys
import uuid

from pmd_envelope.ledger import commit_evidence
from pmd_envelope.record import check_schema, finalise_record


def fake_report(record_id: str) -> bytes:
    return b"%PDF-fake report of " + record_id.encode()


def fresh(base: dict) -> dict:
    content = {k: v for k, v in base.items() if k not in ("record_id", "created_at", "integrity")}
    return finalise_record(content, record_id=str(uuid.uuid4()))


if __name__ == "__main__":
    base = json.loads(open(sys.argv[1], encoding="utf-8").read())
    check_schema(base)  # warm up (imports jsonschema), so the test's kill times start from here
    print("ready", flush=True)
    for _ in range(int(sys.argv[3])):
        rec = fresh(base)
        commit_evidence(sys.argv[2], rec, fake_report(rec["record_id"]))
        print(rec["record_id"], flush=True)
