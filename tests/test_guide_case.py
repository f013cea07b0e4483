"""The case's [plan] table: read strictly, passed to the guide measurers, recorded; bad plans exit 2."""

import hashlib
import json
import re
import shutil

import pytest

from conftest import ENVELOPES, SAMPLES
from pmd_envelope.case import load_case
from pmd_envelope.cli import main
from pmd_envelope.errors import CaseError

CASE = "guide-001"


@pytest.fixture
def guide_case(tmp_path):
    shutil.copytree(ENVELOPES, tmp_path / "envelopes")
    dst = tmp_path / "cases" / CASE
    shutil.copytree(SAMPLES / CASE, dst)
    return dst


def _plan_lines(text: str) -> tuple[str, str]:
    """The case text before [plan] and the [plan] part."""
    i = text.index("\n[plan]")
    return text[:i], text[i:]


def test_plan_is_read_as_typed():
    case = load_case(SAMPLES / CASE)
    rp = case.plan["resection_plane"]
    text = (SAMPLES / CASE / "case.toml").read_text()
    point = [float(x) for x in re.search(r"point = \[(.*)\]", text).group(1).split(",")]
    normal = [float(x) for x in re.search(r"normal = \[(.*)\]", text).group(1).split(",")]
    assert case.plan["length_unit"] == "mm" and list(rp["point"]) == point and list(rp["normal"]) == normal


def test_a_case_without_plan_has_an_empty_plan(guide_case):
    before, _ = _plan_lines((guide_case / "case.toml").read_text())
    (guide_case / "case.toml").write_text(before + "\n")
    assert dict(load_case(guide_case).plan) == {}
    assert dict(load_case(SAMPLES / "cranial-001").plan) == {}


BAD_PLANS = {
    "unit missing": ('length_unit = "mm"\n', "", "plan.length_unit", "required key is missing"),
    "unit inches": ('length_unit = "mm"', 'length_unit = "in"', "plan.length_unit", "use mm"),
    "unknown key": ('length_unit = "mm"\n', 'length_unit = "mm"\ntolerance = 1.0\n', "plan.tolerance", "unknown key"),
    "no plane": ("[plan.resection_plane]\n", "[plan.other]\n", "plan.other", "unknown key"),
    "normal zero": (None, "normal = [0.0, 0.0, 0.0]", "plan.resection_plane.normal", "zero vector"),
    "point of two": (None, "point = [1.0, 2.0]", "plan.resection_plane.point", "three finite numbers"),
    "point text": (None, 'point = ["a", 2.0, 3.0]', "plan.resection_plane.point", "three finite numbers"),
    "point inf": (None, "point = [inf, 2.0, 3.0]", "plan.resection_plane.point", "three finite numbers"),
    "normal missing": (None, "", "plan.resection_plane.normal", "required key is missing"),
}


def _tree_hash(root) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("kind", sorted(BAD_PLANS))
def test_bad_plan_exit_2_one_line_nothing_written(kind, guide_case, capsys):
    old, new, key, words = BAD_PLANS[kind]
    path = guide_case / "case.toml"
    head, plan = _plan_lines(path.read_text())
    if old is None:  # replace the line of the key named
        field = key.rsplit(".", 1)[1]
        old = re.search(rf"^{field} = .*$", plan, re.M).group(0)
        if new == "":
            old += "\n"
    assert old in plan
    path.write_text(head + plan.replace(old, new, 1))
    with pytest.raises(CaseError):
        load_case(guide_case)
    root = guide_case.parent.parent
    before = _tree_hash(root)
    code = main(["validate", str(guide_case), "--out", str(root / "ev"), "--envelopes", str(root / "envelopes")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "case.toml" in err and f"[{key}]" in err and words in err, err
    assert _tree_hash(root) == before and not (root / "ev").exists()


def test_without_a_plan_the_angle_is_null_and_the_verdict_says_why(guide_case, capsys):
    before, _ = _plan_lines((guide_case / "case.toml").read_text())
    (guide_case / "case.toml").write_text(before + "\n")
    root = guide_case.parent.parent
    code = main(["validate", str(guide_case), "--out", str(root / "ev")])
    assert code == 1
    folder = root / "ev" / CASE
    rec = json.loads((folder / (folder / "LATEST").read_text().strip() / "record.json").read_text())
    assert "plan" not in rec
    got = {m["parameter"]: m for m in rec["measurements"]}
    for k in ("slot_plane_angle", "slot_plane_offset"):
        assert got[k]["value"] is None and "[plan.resection_plane]" in got[k]["reason"]
    checks = {c["parameter"]: c for c in rec["checks"]}
    assert checks["slot_plane_angle"]["decision"] == "indeterminate"
    assert rec["verdict"] == "nonconforming"
    assert {r["item"] for r in rec["reasons"]} == {"slot_plane_angle", "slot_plane_offset"}


def test_record_carries_the_plan_and_meets_the_schema(validations):
    from pmd_envelope.record import check_schema

    from pmd_envelope.resolution import round_reals

    rec = validations[CASE].record
    case = load_case(SAMPLES / CASE)
    # as typed, every real at the record's 7 significant digits
    assert rec["plan"] == round_reals({"length_unit": "mm",
                                       "resection_plane": {"point": list(case.plan["resection_plane"]["point"]),
                                                           "normal": list(case.plan["resection_plane"]["normal"])}})
    check_schema(json.loads(json.dumps(rec)))  # raises naming the field where it breaks the schema
    broken = json.loads(json.dumps(rec))
    broken["plan"]["resection_plane"]["normal"] = [0.0, 1.0]
    with pytest.raises(Exception, match="schema"):
        check_schema(broken)
    assert "plan" not in validations["cranial-001"].record
