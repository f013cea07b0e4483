"""Render every page of every sample case's report to PNG, for review and for the README.

usage: python scripts/render_report_pages.py [--out build/report-pages] [--dpi 100] [--readme]

Each sample case in ``sample_scans/`` is validated at a fixed time stamp with a fixed record id,
so the images change only when the report or the measurements change. Pages are rasterised
with pypdfium2 (a test dependency: the same renderer the tests use), so no system tool is
needed. ``--readme`` also writes the README's images into ``docs/``: the cover, the parameter
page, the thickness map and the worst-case page of cranial-003, and the witness page of peek-003.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pmd_envelope.pipeline import validate  # noqa: E402
from pmd_envelope.record import finalise_record  # noqa: E402
from pmd_envelope.report import render_report  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc)
#: README images: (case, page title to find, file name in docs/)
README_PAGES = (("cranial-003", "Design verification record", "report-cover.png"),
                ("cranial-003", "Design parameters against the envelope", "report-parameters.png"),
                ("cranial-003", "Wall thickness map", "report-thickness-map.png"),
                ("cranial-003", "Worst case over the manufacturing variables", "report-worst-case.png"),
                ("peek-003", "Where each parameter was measured", "report-witnesses.png"))


def sample_record(case: str) -> dict:
    """The record of a sample case at a fixed time stamp and a fixed record id."""
    rec = validate(ROOT / "sample_scans" / case, now=NOW).record
    content = {k: v for k, v in rec.items() if k not in ("record_id", "created_at", "integrity")}
    n = int("".join(ch for ch in case if ch.isdigit()) or 0)
    return finalise_record(content, now=NOW, record_id=f"00000000-0000-4000-8000-{n:012d}")


def render_pages(pdf: bytes, dpi: int = 100):
    """Yield ``(page number, page text, PIL image)`` for each page of a PDF."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(doc)):
            page = doc[i]
            text = page.get_textpage().get_text_range()
            yield i + 1, text, page.render(scale=dpi / 72).to_pil()
    finally:
        doc.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "report-pages"), help="folder for the PNG files")
    ap.add_argument("--dpi", type=int, default=100)
    ap.add_argument("--cases", nargs="*", help="sample cases (default: all)")
    ap.add_argument("--readme", action="store_true", help="also write the README images into docs/")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = args.cases or sorted(p.name for p in (ROOT / "sample_scans").iterdir() if (p / "case.toml").is_file())
    for case in cases:
        written = set()
        for n, text, img in render_pages(render_report(sample_record(case)), args.dpi):
            path = out / f"{case}-page{n:02d}.png"
            img.save(path, optimize=True)
            print(path)
            for c, title, name in README_PAGES if args.readme else ():
                if c == case and name not in written and title in text:
                    img.save(ROOT / "docs" / name, optimize=True)
                    written.add(name)
                    print(ROOT / "docs" / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
