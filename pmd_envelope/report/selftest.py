"""PDF of an installation/operational qualification (``pmd-envelope selftest``), rendered from its JSON alone.

Deterministic like the record report: fixed rcParams and page size, PDF metadata stripped.
"""

from __future__ import annotations

import io
import textwrap

__all__ = ["render_selftest"]

_ROWS_PER_PAGE = 58
#: Characters per line: DejaVu Sans Mono at 6.5 pt is 3.9 pt a character, 0.9 of the A4 width is 536 pt.
_COLUMNS = 132


def render_selftest(result: dict) -> bytes:
    """Render the qualification report (the dict of :meth:`pmd_envelope.selftest.SelfTest.as_dict`) as PDF bytes."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from pmd_envelope.report import _PAGE, _RC

    sw = result["software"]
    verdict = "PASSED" if result["passed"] else f"FAILED ({len(result['failed'])} check(s))"
    head = [f"pmd-envelope {sw['version']}  installation / operational qualification",
            f"software hash (SHA-256 of the file manifest): {sw['manifest_sha256']}",
            f"result: {verdict}"] + [f"failed: {name}" for name in result["failed"]] + [""]
    rows = [f"{'PASS' if c['passed'] else 'FAIL'}  {c['group']}/{c['name']}: expected {c['expected']}, "
            + ("observed the same" if c["observed"] == c["expected"] else f"observed {c['observed']}")
            + (f" ({c['tolerance']})" if c["tolerance"] else "")
            for c in result["checks"]]
    # every character on the page (nothing cut at the margin): long lines wrap, indented under their check
    lines = [(part, "#b2182b" if text.startswith(("FAIL", "failed", "result: FAILED")) else "black")
             for text in head + rows
             for part in (textwrap.wrap(text, _COLUMNS, subsequent_indent=" " * 6, break_long_words=True) or [""])]
    pages = [lines[i:i + _ROWS_PER_PAGE] for i in range(0, len(lines), _ROWS_PER_PAGE)] or [[]]
    buf = io.BytesIO()
    meta = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None,
            "Title": f"pmd-envelope {sw['version']} selftest"}
    with matplotlib.rc_context(_RC), PdfPages(buf, metadata=meta) as pdf:
        for n, page in enumerate(pages, start=1):
            fig = plt.figure(figsize=_PAGE)
            for i, (text, colour) in enumerate(page):
                fig.text(0.05, 0.96 - i * 0.0158, text, fontsize=6.5, family="DejaVu Sans Mono", color=colour)
            fig.text(0.05, 0.02, f"page {n} of {len(pages)}  ·  {sw['manifest_sha256'][:16]}", fontsize=6.5)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()
