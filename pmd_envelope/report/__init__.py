"""PDF report rendered from an evidence record alone (never from a re-measurement).

matplotlib is imported lazily with the Agg backend, only here. Output is deterministic: fixed
rcParams, fixed figure sizes and fonts, PDF metadata stripped, so the same record gives the
same bytes.
"""

from __future__ import annotations

import io

__all__ = ["render_report"]

_PAGE = (8.27, 11.69)  # A4 portrait [in]
_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 10,
    "axes.labelsize": 8.5,
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": False,
    "svg.hashsalt": "pmd-envelope",
}
_VERDICT_COLOUR = {"conforming": "#1b7837", "nonconforming": "#b2182b"}
_DECISION_COLOUR = {"conforming": "#1b7837", "nonconforming": "#b2182b", "indeterminate": "#e08214",
                    "not_evaluated": "#777777"}


def render_report(record: dict) -> bytes:
    """Render the report of a record as PDF bytes.

    Parameters
    ----------
    record : dict
        An evidence record as written by :func:`pmd_envelope.pipeline.validate`.

    Returns
    -------
    bytes
        The PDF; identical bytes for an identical record.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from pmd_envelope.report import pages

    with matplotlib.rc_context(_RC):
        figures = []
        for build in pages.PAGES:  # a page builder returns a figure, a list of figures, or None
            out = build(record, plt, _PAGE)
            figures += [f for f in (out if isinstance(out, list) else [out]) if f is not None]
        buf = io.BytesIO()
        meta = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None,
                "Title": f"pmd-envelope record {record['record_id']}"}
        with PdfPages(buf, metadata=meta) as pdf:
            for n, fig in enumerate(figures, start=1):
                pages.footer(fig, record, n, len(figures))
                pdf.savefig(fig)
                plt.close(fig)
    return buf.getvalue()
