"""PDF report rendered from an evidence record alone (never from a re-measurement).

matplotlib is imported lazily with the Agg backend, only here. Output is deterministic: fixed
rcParams, fixed figure sizes and fonts, PDF metadata stripped, so the same record gives the
same bytes.

A report cannot lie about its record: :func:`render_report` recomputes the record's content
hash and refuses a record that no longer matches it, unless asked to render it marked
"CHANGED AFTER RECORDING" on every page. A signature reads "valid" only when its signer is
verified against a trusted-keys file; otherwise "signature valid, signer not verified".
"""

from __future__ import annotations

import io

__all__ = ["render_report", "check_renderable", "signature_state", "CHANGED_MARK"]

_PAGE = (8.27, 11.69)  # A4 portrait [in]
_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 10,
    "axes.labelsize": 8.5,
    # Type 3: glyphs embedded as drawing procedures, text still extractable (tests read it back); Type 42
    # subsets the TrueType font with fontTools, a third of the render time for no visible gain
    "pdf.fonttype": 3,
    "pdf.compression": 6,
    "path.simplify": False,
    "svg.hashsalt": "pmd-envelope",
    "hatch.linewidth": 0.6,
    "savefig.dpi": 200,  # resolution of the rasterised thickness-map surface only; text and lines stay vector
}
_VERDICT_COLOUR = {"conforming": "#1b7837", "nonconforming": "#b2182b"}
_DECISION_COLOUR = {"conforming": "#1b7837", "nonconforming": "#b2182b", "indeterminate": "#e08214",
                    "not_evaluated": "#777777"}
CHANGED_MARK = "CHANGED AFTER RECORDING"


class _Figures:
    """What a page builder makes its pages with: ``figure(figsize=...)``, a bare matplotlib Figure.

    Not pyplot: pyplot keeps every figure in a global registry until closed and costs a fresh
    process (a batch worker) ~0.1 s more to import; the PDF backend draws a bare Figure the same.
    """

    @staticmethod
    def figure(figsize):
        from matplotlib.figure import Figure

        return Figure(figsize=figsize)


_FIGURES = _Figures()


def check_renderable(record: dict, path=None, *, mark_changed: bool = False) -> bool:
    """Whether the record changed after it was written (its content no longer matches its hash).

    Raises
    ------
    RecordError
        When it changed and ``mark_changed`` is false: such a record must not be rendered as if
        it were the evidence.
    """
    from pmd_envelope.errors import RecordError
    from pmd_envelope.record import verify_record_hash

    if verify_record_hash(record):
        return False
    if not mark_changed:
        raise RecordError(path, f"record {record.get('record_id')} does not match its content hash (it was changed "
                                "after it was written); not rendered. Render the recorded evidence, or give "
                                "--mark-changed to render it marked CHANGED AFTER RECORDING on every page")
    return True


def signature_state(sig: dict, record: dict) -> tuple[str, str | None]:
    """What a signature row says and its colour: verified, valid but unverified signer, or not valid."""
    if not sig.get("valid", False):
        return f"NOT VALID: {sig.get('problem') or 'does not verify'}", "#b2182b"
    if sig.get("content_sha256") not in (None, record.get("integrity", {}).get("content_sha256")):
        return "NOT VALID: signs other content than this record's", "#b2182b"
    if sig.get("signer_verified", False):
        return "valid", "#1b7837"
    return "signature valid, signer not verified", "#e08214"


def render_report(record: dict, *, signatures: list[dict] | None = None, mark_changed: bool = False) -> bytes:
    """Render the report of a record as PDF bytes.

    Parameters
    ----------
    record : dict
        An evidence record as written by :func:`pmd_envelope.pipeline.validate`.
    signatures : list of dict, optional
        Signature rows from :func:`pmd_envelope.signatures.signatures_for_report` (kept in the
        ledger, never in the record).
    mark_changed : bool
        Render a record whose content no longer matches its hash, with CHANGED AFTER RECORDING
        on every page. Without it such a record raises RecordError.

    Returns
    -------
    bytes
        The PDF; identical bytes for an identical record.
    """
    changed = check_renderable(record, mark_changed=mark_changed)
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.backends.backend_pdf import PdfPages

    from pmd_envelope.report import pages

    with matplotlib.rc_context(_RC):
        figures = []
        context = {"signatures": signatures or [], "changed": changed}
        for build in pages.PAGES:  # a page builder returns a figure, a list of figures, or None
            out = build(record, _FIGURES, _PAGE, context)
            figures += [f for f in (out if isinstance(out, list) else [out]) if f is not None]
        buf = io.BytesIO()
        meta = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None,
                "Title": f"pmd-envelope record {record['record_id']}" + (f" ({CHANGED_MARK})" if changed else "")}
        with PdfPages(buf, metadata=meta) as pdf:
            for n, fig in enumerate(figures, start=1):
                pages.footer(fig, record, n, len(figures), changed)
                pdf.savefig(fig)
    return buf.getvalue()
