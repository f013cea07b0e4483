"""Render the README's report images: pages 1 and 2 of the report of sample case cranial-003.

usage: python scripts/render_readme_images.py   (needs pdftoppm from poppler-utils)

The record is made at a fixed time stamp with a fixed record id so the images only change when
the report or the measurements change. 100 dpi keeps each image small.
"""

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.pipeline import validate  # noqa: E402
from pmd_envelope.record import finalise_record  # noqa: E402
from pmd_envelope.report import render_report  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)

if __name__ == "__main__":
    rec = validate(ROOT / "sample_scans" / "cranial-003", now=NOW).record
    content = {k: v for k, v in rec.items() if k not in ("record_id", "created_at", "integrity")}
    rec = finalise_record(content, now=NOW, record_id="00000000-0000-4000-8000-000000000003")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(render_report(rec))
        for page in (1, 2):
            subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(pdf), str(ROOT / "docs" / f"report-page{page}")], check=True)
    print("wrote docs/report-page1.png, docs/report-page2.png")
