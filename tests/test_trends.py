"""pmd-envelope trends: envelope utilisation from the ledger's records (issue 14 item 4).

Truth comes from the designs as built (tests/trends_evidence.py: walls 2.0, 0.8, 1.08, 2.5,
1.22 and 2.0 mm; spans 100, 90, 139.5, 110, 100 and 100 mm), not from the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pmd_envelope.cli import main
from pmd_envelope.errors import LedgerError
from pmd_envelope.ledger import open_ledger
from pmd_envelope.report.trends import render_trends
from pmd_envelope.trends import envelope_trends
from trends_evidence import SPAN, WALL, build, record_path

ALL = ("cranial-001", "cranial-002", "cranial-003", "cranial-004", "cap-122", "flat-100")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def evidence(trend_designs, tmp_path_factory):
    """Six designs recorded a day apart; all but cranial-004 approved (released)."""
    out = tmp_path_factory.mktemp("trends") / "ev"
    records = build(out, [trend_designs[c] for c in ALL], approve=set(ALL) - {"cranial-004"})
    return out, {r["case_id"]: r for r in records}


def _trends(out, **kw):
    with open_ledger(out / "ledger.sqlite") as ledger:
        return envelope_trends(ledger, **kw)


def _item(trends, name, statistic="value"):
    (g,) = trends.groups
    return next(i for i in g.items if i.name == name and i.statistic == statistic)


def test_counts_the_released_designs_against_their_truth(evidence):
    out, _ = evidence
    t = _trends(out)
    assert t.selection == "approved" and t.counted == 5 and t.ledger_records == 6 and not t.excluded
    (g,) = t.groups
    released = [c for c in ALL if c != "cranial-004"]
    assert sorted(g.cases) == sorted(released)
    wall = _item(t, "wall_thickness")
    walls = [WALL[c] for c in released]
    assert wall.lower == 1.0 and wall.upper is None and wall.uncertainty == 0.05
    assert wall.minimum == pytest.approx(min(walls), abs=0.01) and wall.maximum == pytest.approx(max(walls), abs=0.01)
    # 10 % of the wall range 1.0-3.0 mm is 0.2 mm: inside and within 0.2 mm of 1.0 is only the 1.08 mm wall
    assert wall.near_band == pytest.approx(0.2)
    expected_near = sum(1 for w in walls if 1.0 <= w <= 1.2)
    assert wall.near == expected_near == 1 and wall.near_fraction == pytest.approx(1 / 5)
    assert wall.beyond == sum(1 for w in walls if w < 1.0) == 1  # cranial-002, released under a deviation
    span = _item(t, "span")
    spans = [SPAN[c] for c in released]
    assert span.near_band == pytest.approx(11.0)
    assert span.near == sum(1 for s in spans if 140 - s <= 11 or s - 30 <= 11) == 1
    assert span.minimum == pytest.approx(min(spans), abs=0.1) and span.maximum == pytest.approx(max(spans), abs=0.1)
    load = _item(t, "yield_load", "worst case")
    assert load.kind == "metric" and load.lower == 420.0 and load.near_band == pytest.approx(42.0)
    assert load.beyond == 2  # cranial-002 (245 N) and cranial-003 (399 N) miss 420 N
    assert load.decisions() == {"failed": 2, "passed": 3}


def test_null_value_counts_as_not_measured_never_as_zero(evidence):
    out, _ = evidence
    roc = _item(_trends(out), "radius_of_curvature")
    (flat,) = [p for p in roc.points if p.value is None]
    assert flat.case_id == "flat-100" and flat.margin is None and "flat" in flat.reason
    assert roc.not_measured == 1 and len(roc.measured) == 4 and len(roc.points) == 5
    assert roc.minimum >= 60.0  # a null counted as 0 would show here
    assert roc.near_fraction == pytest.approx(roc.near / 4)


def test_all_latest_counts_every_case(evidence):
    out, _ = evidence
    t = _trends(out, selection="latest")
    assert t.counted == 6 and sorted(t.groups[0].cases) == sorted(ALL)
    assert next(p for p in _item(t, "span").points if p.case_id == "cranial-004").state == "unsigned"


def test_zero_approved_records_says_so(trend_designs, tmp_path, capsys):
    out = tmp_path / "ev"
    build(out, [trend_designs["cranial-001"]])
    t = _trends(out)
    assert t.counted == 0 and t.groups == () and t.ledger_records == 1
    files = render_trends(t)
    assert list(files) == ["index.html"]  # no empty plots
    page = files["index.html"].decode()
    assert "No approved (released) records to show" in page and "Nothing is drawn" in page and "<img" not in page
    assert main(["trends", "--out", str(out), "-o", str(tmp_path / "page")]) == 0
    assert "nothing to draw: no approved (released) record" in capsys.readouterr().out
    assert (tmp_path / "page" / "index.html").is_file()


def test_tampered_record_is_left_out_and_named(trend_designs, tmp_path, capsys):
    out = tmp_path / "ev"
    recs = build(out, [trend_designs[c] for c in ("cranial-001", "cap-122")], approve={"cranial-001", "cap-122"})
    f = record_path(out, recs[1])
    doc = json.loads(f.read_text())
    next(m for m in doc["measurements"] if m["parameter"] == "wall_thickness")["value"] = 1.9  # a better wall
    f.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    t = _trends(out)
    assert t.counted == 1 and t.groups[0].cases == ("cranial-001",)
    (x,) = t.excluded
    assert x.case_id == "cap-122" and "differs from the bytes the ledger recorded" in x.reason
    assert main(["trends", "--out", str(out), "-o", str(tmp_path / "page")]) == 1
    printed = capsys.readouterr().out
    assert "LEFT OUT cap-122" in printed
    page = (tmp_path / "page" / "index.html").read_text()
    assert "1 record(s) left out" in page and recs[1]["record_id"] in page


def test_broken_ledger_chain_is_refused(trend_designs, tmp_path, capsys):
    import sqlite3

    out = tmp_path / "ev"
    build(out, [trend_designs["cranial-001"]], approve={"cranial-001"})
    conn = sqlite3.connect(out / "ledger.sqlite", isolation_level=None)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'entries_no_update'").fetchone()
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET verdict = 'conforming' WHERE seq = 2")  # the review's row
    conn.execute(sql)
    conn.close()
    with pytest.raises(LedgerError, match="does not verify"):
        _trends(out)
    assert main(["trends", "--out", str(out), "-o", str(tmp_path / "page")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ledger.sqlite" in err and "records verify" in err
    assert not (tmp_path / "page").exists()


def _strip_time(page: str) -> str:
    return re.sub(r"Generated [0-9TZ:-]+", "Generated <time>", page)


def test_page_is_self_contained_and_deterministic(evidence, tmp_path):
    out, _ = evidence
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["trends", "--out", str(out), "-o", str(a)]) == 0
    assert main(["trends", "--out", str(out), "-o", str(b)]) == 0
    page = (a / "index.html").read_text()
    assert _strip_time(page) == _strip_time((b / "index.html").read_text())
    figures = sorted(p.name for p in (a / "figures").glob("*.png"))
    assert figures and figures == sorted(p.name for p in (b / "figures").glob("*.png"))
    assert "cranial-plate-ti64-lpbf_1.0.0_overview.png" in figures
    for name in figures:
        assert (a / "figures" / name).read_bytes() == (b / "figures" / name).read_bytes(), name
    # every figure is embedded, byte for byte; nothing is fetched from anywhere
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert sorted(hashlib.sha256(base64.b64decode(x)).hexdigest() for x in embedded) == sorted(
        hashlib.sha256((a / "figures" / n).read_bytes()).hexdigest() for n in figures)
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page and "http" not in page
    # a table row per item with n, min, max and the fraction within 10 % of a limit
    assert "<th>within 10 % of a limit</th>" in page and ">wall_thickness</td>" in page
    assert "1 of 5 (20 %)" in page  # the wall: the 1.08 mm design


def test_figure_draws_the_limits_and_guard_bands(evidence, tmp_path):
    """The wall figure, read back as pixels: red limit line at 1.0 mm, orange guard band around it."""
    import matplotlib.image as mpimg

    out, _ = evidence
    assert main(["trends", "--out", str(out), "-o", str(tmp_path)]) == 0
    img = mpimg.imread(tmp_path / "figures" / "cranial-plate-ti64-lpbf_1.0.0_wall_thickness.png")[..., :3]
    red = np.all(np.abs(img - np.array([0xb2, 0x18, 0x2b]) / 255) < 0.06, axis=-1)
    orange = np.all(np.abs(img - np.array([0xfd, 0xb8, 0x63]) / 255) < 0.25, axis=-1) & ~red
    assert red.sum() > 200 and orange.sum() > 200


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: "
                                              "apt-get install -y chromium); the page cannot be looked at here")
def test_page_renders_in_a_real_browser(evidence, tmp_path):
    """Headless Chromium opens the page from disk with the network off and paints the figures."""
    import matplotlib.image as mpimg

    out, _ = evidence
    assert main(["trends", "--out", str(out), "-o", str(tmp_path / "page")]) == 0
    shot = tmp_path / "shot.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1800", "--hide-scrollbars",
                           f"--screenshot={shot}", (tmp_path / "page" / "index.html").as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (1800, 1200)
    # the page painted: the table's grey header, and the histogram bars (#4393c3) of the embedded figures
    blue = np.all(np.abs(img - np.array([0x43, 0x93, 0xc3]) / 255) < 0.04, axis=-1)
    assert blue.sum() > 500, "no figure was painted"
    assert img.std() > 0.1


def test_envelope_filter_and_json(evidence, tmp_path, capsys):
    out, _ = evidence
    capsys.readouterr()
    assert main(["trends", "--out", str(out), "--envelope", "mandible-plate-ti64-lpbf", "-o", str(tmp_path / "m"),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counted"] == 0 and doc["groups"] == [] and doc["envelope"] == "mandible-plate-ti64-lpbf"
    assert "for envelope mandible-plate-ti64-lpbf" in (tmp_path / "m" / "index.html").read_text()
    assert main(["trends", "--out", str(out), "--envelope", "cranial-plate-ti64-lpbf", "--all-latest",
                 "-o", str(tmp_path / "c"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (g,) = doc["groups"]
    assert doc["counted"] == 6 and doc["selection"] == "latest" and g["version"] == "1.0.0"
    wall = next(i for i in g["items"] if i["name"] == "wall_thickness" and i["statistic"] == "value")
    assert wall["n"] == 6 and wall["range"] == [1.0, 3.0] and wall["near"] == 1  # cranial-003, 1.08 mm
