"""docs/traceability.md maps each requirement to a record field, a report section and a test;
this test fails when one of them disappears, or when a record field is mapped to nothing."""

import re

import pytest

from conftest import ROOT

TRACE = ROOT / "docs" / "traceability.md"


def _rows():
    rows = []
    for line in TRACE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("Requirement", "---") and not set(cells[0]) <= {"-"}:
            rows.append(cells)
    return rows


ROWS = _rows()


def _field(record: dict, dotted: str) -> bool:
    node = record
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _test_exists(ref: str) -> bool:
    path, _, name = ref.partition("::")
    f = ROOT / path
    return f.is_file() and re.search(rf"^def {re.escape(name)}\(", f.read_text(encoding="utf-8"), re.M) is not None


def test_table_is_read():
    assert len(ROWS) >= 20


@pytest.mark.parametrize("requirement, field, section, test", ROWS, ids=[r[0][:60] for r in ROWS])
def test_mapped_field_section_and_test_exist(validations, requirement, field, section, test):
    assert _field(validations["cranial-001"].record, field), f"{requirement}: record field '{field}' is gone"
    pages = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "pmd_envelope" / "report").glob("*.py")))
    assert f'"{section}' in pages, f"{requirement}: report section '{section}' is gone"
    assert _test_exists(test), f"{requirement}: test {test} is gone"


def test_every_record_field_is_mapped(validations):
    mapped = {r[1].split(".")[0] for r in ROWS}
    unmapped = sorted(set(validations["cranial-001"].record) - mapped)
    assert not unmapped, f"record fields mapped to no requirement in docs/traceability.md: {unmapped}"


def test_check_fails_when_a_mapped_test_is_removed():
    assert _test_exists("tests/test_golden.py::test_ledger_row_entry_hash")
    assert not _test_exists("tests/test_golden.py::test_that_was_removed")
