"""Command-line interface: ``pmd-envelope`` (also ``python -m pmd_envelope``).

Each command parses its arguments, makes one library call, formats the result and returns an
exit code. Only this module prints or exits.

Exit codes: 0 conforming / success; 1 nonconforming (or a ledger verification break); 2 bad input
(one line on stderr naming the file and the problem, nothing written); 3 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from pathlib import Path

from pmd_envelope import __version__
from pmd_envelope.allocator import set_library_defaults, tune_for_large_arrays
from pmd_envelope.errors import PmdEnvelopeError

__all__ = ["main", "run", "build_parser"]

EXIT_OK, EXIT_NONCONFORMING, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

_EPILOG = """exit codes:
  0  conforming / success
  1  nonconforming (record and report still written, with the reasons)
  2  bad input: one line on stderr naming the file and the problem; nothing written
  3  internal error (a bug: please report it with --debug output)
  output closed early by its reader (| head): the rest is dropped quietly, the exit code is the command's own
"""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message):  # pragma: no cover - exercised through main()
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pmd-envelope", formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Design-envelope conformance and worst-case evidence for patient-matched medical devices.",
                epilog=_EPILOG)
    p.add_argument("--version", action="version", version=f"pmd-envelope {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="validate a case against its envelope and write the evidence",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                           "example:\n  pmd-envelope validate sample_scans/cranial-001 --out evidence\n\n" + _EPILOG),
                       description="Load a case, gate and measure its design mesh, check every parameter against "
                                   "the envelope (ISO 14253-1), find each metric's worst case over the manufacturing "
                                   "variables, and write DIR/<case_id>/<record_id>/record.json and report.pdf (never "
                                   "overwritten; DIR/<case_id>/LATEST names the newest record of the case).")
    v.add_argument("case", help="case folder or its case.toml")
    v.add_argument("--out", default="evidence", metavar="DIR", help="evidence folder (default: ./evidence)")
    v.add_argument("--envelopes", metavar="DIR", help="folder of envelope files <id>/<version>.toml "
                                                      "(default: the nearest envelopes/ above the case, then ./envelopes)")
    v.add_argument("--json", action="store_true", help="print the record summary as JSON")
    v.set_defaults(func=_cmd_validate)

    b = sub.add_parser("batch", help="validate many cases: evidence for each, one summary table (CSV and Parquet)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                           "examples:\n  pmd-envelope batch sample_scans --out evidence --workers 2\n"
                           "  pmd-envelope batch cases/a cases/b/case.toml --out evidence --scheduler tcp://head:8786\n\n"
                           "exit codes:\n  0  every case conforming\n"
                           "  1  at least one case nonconforming or failed (bad input of a case, a crash, a worker that\n"
                           "     died: each is a row with its reason; the other cases' evidence is written)\n"
                           "  2  bad input of the batch itself (no cases, a case given twice, --out not usable,\n"
                           "     --workers below 1, the scheduler unreachable): one line on stderr; nothing written\n"
                           "     (and, rarely, a batch summary that cannot be written at the end: its line says the\n"
                           "     cases' evidence was committed)\n"
                           "  3  internal error (a bug: please report it with --debug output)\n"),
                       description="Validate every case as validate does, writing each case's record, report and "
                                   "ledger entry into DIR as its result comes back (a case that cannot be validated "
                                   "is recorded with its reason and does not stop the others), then the batch record "
                                   "DIR/_batches/<batch_id>/: batch.json (inputs, each case's outcome, software "
                                   "versions) and summary.csv / summary.parquet (one row per case and parameter or "
                                   "metric: value, limits, margin, decision, worst case, verdict). Progress: a bar on "
                                   "a terminal, one line per case otherwise (on stderr). Workers (--workers, or a Dask "
                                   "cluster with --scheduler, which needs the 'cluster' extra) measure and render; "
                                   "only this process writes evidence, so the ledger keeps one writer. A batch "
                                   "killed part-way keeps every case committed so far; run it again to validate "
                                   "every case again (new records beside the old) and write the summary.")
    b.add_argument("cases", nargs="+", metavar="CASE", help="case folder, its case.toml, or a folder of case folders")
    b.add_argument("--out", default="evidence", metavar="DIR", help="evidence folder (default: ./evidence)")
    b.add_argument("--envelopes", metavar="DIR", help="folder of envelope files <id>/<version>.toml "
                                                      "(default: the nearest envelopes/ above each case, then ./envelopes)")
    b.add_argument("--workers", type=int, default=1, metavar="N",
                   help="local worker processes (default 1: validate in this process)")
    b.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786): measure on that "
                                                          "cluster's workers instead of --workers (needs pip install "
                                                          "'pmd-envelope[cluster]')")
    b.add_argument("--json", action="store_true", help="print the batch record (batch.json) instead of a table")
    b.set_defaults(func=_cmd_batch)

    m = sub.add_parser("measure", help="measure one mesh (integrity gate and geometry)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                           "example:\n  pmd-envelope measure sample_scans/cranial-001/design.stl --units mm --json\n\n"
                           "exit codes:\n  0  measured, mesh passed the integrity gate\n"
                           "  1  measured, mesh failed the integrity gate or a gate check was not evaluated\n  2  bad input\n  3  internal error\n"),
                       description="Measure a design mesh: integrity gate, wall thickness with witness, extents, "
                                   "volume, area, radius of curvature.")
    m.add_argument("mesh", help="STL, PLY, OBJ or 3MF file")
    m.add_argument("--units", required=True, help="length unit of the file: mm, cm, m, in, um (never guessed)")
    m.add_argument("--envelope", metavar="FILE", help="envelope file: adds its body-count and unit-plausibility checks")
    m.add_argument("--thickness-method", choices=("ray", "max_sphere"), default=None,
                   help="wall thickness method (default: the envelope's, else ray)")
    m.add_argument("--ray-engine", choices=("embree", "exact"), default="embree",
                   help="ray engine: embree (float32, fast; thinnest faces re-checked in float64) or exact (float64)")
    m.add_argument("--build-direction", metavar="X,Y,Z", default="0,0,1",
                   help="build direction in mesh coordinates for the overhang fraction (default 0,0,1)")
    m.add_argument("--anatomy", metavar="FILE", help="anatomy mesh in the design's frame: adds the gap measurements")
    m.add_argument("--anatomy-units", default=None, help="length unit of the anatomy file (default: --units)")
    m.add_argument("--repair", action="store_true",
                   help="repair the mesh before measuring (never the default); the repair is logged with "
                        "before/after counts and both hashes")
    m.add_argument("--json", action="store_true", help="print JSON instead of a table")
    m.set_defaults(func=_cmd_measure)

    e = sub.add_parser("envelope", help="envelope file commands")
    esub = e.add_subparsers(dest="envelope_command", required=True, parser_class=_Parser)
    ec = esub.add_parser("check", help="validate an envelope file and verify it against its own worst case",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope envelope check envelopes/cranial-plate-ti64-lpbf/1.0.0.toml\n\n"
                             "exit codes:\n  0  valid (warnings, if any, are printed: a warning is a finding, not bad input)\n"
                             "  1  valid but with warnings, only with --strict\n"
                             "  2  invalid: one line naming the file, key and fix\n"),
                         description="Load and validate an envelope file, then find each metric's worst case over the "
                                     "whole envelope (every design parameter across its limits x the manufacturing "
                                     "box) and warn when the tested construct is not at or beyond it.")
    ec.add_argument("envelope_file")
    ec.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    ec.add_argument("--strict", action="store_true", help="exit 1 when there are warnings (e.g. for CI)")
    ec.set_defaults(func=_cmd_envelope_check)

    r = sub.add_parser("report", help="re-render the PDF report from a saved record",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Render the PDF report from a saved record.json alone (a report never measures). "
                                   "The record's content hash is recomputed first: a record changed after it was "
                                   "written is refused, unless --mark-changed renders it with CHANGED AFTER "
                                   "RECORDING on every page. A signature shows 'valid' only when its key is in "
                                   "--trusted-keys under the signer's printed name; otherwise 'signature valid, "
                                   "signer not verified'.",
                       epilog=("example:\n  pmd-envelope report evidence/cranial-001/$(cat evidence/cranial-001/LATEST)/record.json -o report.pdf "
                               "--trusted-keys keys.txt\n\n"
                               "exit codes:\n  0  rendered\n"
                               "  2  bad input: unreadable record, or a record that does not match its content "
                               "hash (without --mark-changed); nothing written\n"))
    r.add_argument("record", help="record.json")
    r.add_argument("-o", "--output", metavar="PDF", help="output file (default: report.pdf beside the record)")
    r.add_argument("--ledger", metavar="FILE", help="ledger whose signatures fill the signature block "
                                                    "(default: DIR/ledger.sqlite of the evidence folder the record is in, "
                                                    "DIR/<case_id>/<record_id>/record.json or, written before 0.2, "
                                                    "DIR/<case_id>/record.json; if any)")
    r.add_argument("--trusted-keys", metavar="FILE", help="lines '<public key hex> <printed name>' (as in records "
                                                          "verify): only these signers are shown as verified")
    r.add_argument("--mark-changed", action="store_true",
                   help="render a record that no longer matches its content hash, marked CHANGED AFTER RECORDING "
                        "on every page (for investigation; never for release)")
    r.set_defaults(func=_cmd_report)

    s = sub.add_parser("sign", help="sign a record (reviewer or approver) in the evidence ledger",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                           "example:\n  openssl genpkey -algorithm ed25519 -out ~/.pmd-envelope-key.pem\n"
                           "  pmd-envelope sign evidence/cranial-001/$(cat evidence/cranial-001/LATEST)/record.json --name \"A. Reviewer\" --role reviewer \\\n"
                           "      --meaning \"reviewed: design verified against the envelope\" --key ~/.pmd-envelope-key.pem\n\n"
                           "sign-off policy: an approver needs an earlier reviewer signature by another person "
                           "(different\nname and key); approving a nonconforming record needs --deviation REF; "
                           "a person signs a\nrecord once in a role.\n\n"
                           "exit codes:\n  0  signed\n  2  bad input (no key, record changed or not in the ledger) "
                           "or refused by the sign-off policy\n"),
                       description="Append an Ed25519 signature bound to the record's content hash to the ledger: "
                                   "printed name, role, date and time (UTC) and meaning. The private key is read from "
                                   "--key FILE or $PMD_ENVELOPE_SIGNING_KEY and never stored.")
    s.add_argument("record", help="record.json (must be in the ledger, unchanged)")
    s.add_argument("--name", required=True, help="printed name of the signer")
    s.add_argument("--role", required=True, choices=("reviewer", "approver"), help="role of the signer")
    s.add_argument("--meaning", required=True, help='what the signature means, e.g. "approved for manufacture"')
    s.add_argument("--key", metavar="FILE", help="Ed25519 private key (PEM, or 64 hex digits); "
                                                 "default $PMD_ENVELOPE_SIGNING_KEY (64 hex digits)")
    s.add_argument("--deviation", metavar="REF", help="deviation or concession reference (required to approve a "
                                                      "nonconforming record); signed with the rest")
    _ledger_options(s, default_hint="DIR/ledger.sqlite of the evidence folder DIR the record is in")
    s.set_defaults(func=_cmd_sign)

    k = sub.add_parser("key", help="signing key commands: public")
    ksub = k.add_subparsers(dest="key_command", required=True, parser_class=_Parser)
    kp = ksub.add_parser("public", help="print a signer's trusted-keys line: <public key hex> <name>",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope key public --key reviewer.pem --name \"A. Reviewer\" >> signers.txt\n\n"
                             "exit codes:\n  0  printed\n  2  no key, or not an Ed25519 key\n"),
                         description="Print the line '<public key hex> <printed name>' of a signing key for the "
                                     "trusted-keys file of records verify and report (the private key is read, "
                                     "never printed).")
    kp.add_argument("--key", metavar="FILE", help="Ed25519 private key (PEM, or 64 hex digits); "
                                                  "default $PMD_ENVELOPE_SIGNING_KEY")
    kp.add_argument("--name", required=True, help="printed name of the key's owner, as they sign")
    kp.set_defaults(func=_cmd_key_public)

    rec = sub.add_parser("records", help="evidence ledger commands: list, show, verify")
    rsub = rec.add_subparsers(dest="records_command", required=True, parser_class=_Parser)
    rl = rsub.add_parser("list", help="list the records in the ledger",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope records list --out evidence --expiring-before 2030-01-01\n\n"
                             "exit codes:\n  0  listed\n  2  no ledger, or a bad date\n"))
    _ledger_options(rl)
    rl.add_argument("--expiring-before", metavar="DATE", help="only records whose retention ends before DATE "
                                                              "(YYYY-MM-DD)")
    rl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rl.set_defaults(func=_cmd_records_list)
    rs = rsub.add_parser("show", help="show one record's ledger entries and signatures",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope records show 7c22055a --out evidence\n\n"
                             "exit codes:\n  0  shown\n  2  no ledger, or no such record\n"))
    rs.add_argument("id", help="record id (a unique prefix is enough)")
    _ledger_options(rs)
    rs.add_argument("--json", action="store_true", help="print JSON instead of text")
    rs.set_defaults(func=_cmd_records_show)
    rv = rsub.add_parser("verify", help="verify the hash chain, the record files and the signatures",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope records verify --out evidence\n\n"
                             "exit codes:\n  0  every entry, file and signature verifies\n"
                             "  1  at least one break (each is listed)\n  2  no ledger, or an unreadable file\n"),
                         description="Recompute every entry hash and the chain, check that each record file on disk "
                                     "is the one the ledger recorded and that no record file lacks an entry, and "
                                     "check every signature. Prints the head hash: compare it with a copy kept in "
                                     "the quality system.")
    _ledger_options(rv)
    rv.add_argument("--trusted-keys", metavar="FILE", help="lines '<public key hex> <printed name>': every "
                                                            "signature must use a listed key under its name")
    rv.add_argument("--json", action="store_true", help="print JSON instead of text")
    rv.set_defaults(func=_cmd_records_verify)
    tr = sub.add_parser("trends", help="envelope utilisation: where the released designs sit in each range (HTML + PNG)",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                            "example:\n  pmd-envelope trends --out evidence --envelope cranial-plate-ti64-lpbf -o trends\n\n"
                            "exit codes:\n  0  written (a page over zero records says so)\n"
                            "  1  written, but at least one record was left out because it does not verify "
                            "against the ledger (each is named)\n"
                            "  2  no ledger, a ledger whose hash chain is broken, or an output folder that cannot "
                            "be written\n"),
                        description="Read the ledger's records (nothing re-measured) and draw, per envelope version, "
                                    "parameter and metric, where the counted designs sit inside their range: "
                                    "histograms against the limits and the ISO 14253-1 guard bands (limit +- U), "
                                    "margins over time, and the fraction within 10 %% of a limit; writes "
                                    "FOLDER/index.html (self-contained: figures embedded, no network) and "
                                    "FOLDER/figures/*.png. Counted: the newest approved (released) record of each "
                                    "case, or with --all-latest the newest record of each case. Each record file is "
                                    "checked against its ledger entry first; one that does not match is left out "
                                    "and named.")
    _ledger_options(tr)
    tr.add_argument("--envelope", metavar="ID", help="only records of this envelope id")
    tr.add_argument("--all-latest", action="store_true",
                    help="count the newest record of each case whatever its sign-off state (default: the newest "
                         "approved record of each case)")
    tr.add_argument("-o", "--output", metavar="FOLDER", default="trends",
                    help="folder for index.html and figures/ (default: ./trends)")
    tr.add_argument("--json", action="store_true", help="print the numbers as JSON instead of a summary")
    tr.set_defaults(func=_cmd_trends)

    im = sub.add_parser("impact", help="which recorded designs a new envelope version would decide differently",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                            "example:\n  pmd-envelope impact envelopes/cranial-plate-ti64-lpbf/1.1.0.toml --out evidence\n\n"
                            "exit codes:\n  0  no recorded design is affected\n"
                            "  1  at least one design is affected, cannot be re-decided without re-measuring, or "
                            "was left out because its record does not verify (each is listed)\n"
                            "  2  bad input: unreadable envelope file, no ledger, a broken ledger\n"),
                        description="For every record in the ledger made against an earlier version of the "
                                    "envelope NEW_ENVELOPE names, re-decide conformance and re-run the worst case "
                                    "from the record's stored measurements (7 significant digits) under the new "
                                    "version, by the same code as validate, and list each design whose verdict, "
                                    "check decisions, worst-case outcome or limiting configuration changes, with "
                                    "the reason. Nothing is re-measured and nothing is written (the ledger is only "
                                    "read). A parameter the record never measured (or measured by another method) "
                                    "makes the design 'cannot be re-decided without re-measuring'. The verdicts are "
                                    "compared without the envelope-status reason, so a draft's what-if is "
                                    "readable; the output says when the new version is not released.")
    im.add_argument("envelope_file", metavar="NEW_ENVELOPE", help="the new envelope version file")
    _ledger_options(im)
    im.add_argument("--all", action="store_true", help="list the unaffected designs too")
    im.add_argument("--json", action="store_true", help="print JSON instead of a table")
    im.set_defaults(func=_cmd_impact)

    st = sub.add_parser("selftest", help="qualify this installation (IQ/OQ): packages, file hashes, known answers",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                            "example:\n  pmd-envelope selftest --out selftest\n\n"
                            "exit codes:\n  0  every check passed\n"
                            "  1  at least one check failed (each is named)\n"
                            "  2  the output folder cannot be written\n"),
                        description="Check the installed packages against the shipped pins (constraints.txt) and "
                                    "the package files against their recorded SHA-256, run the known-answer cases "
                                    "(closed-form thickness and span, worst cases with a known optimum, a tampered "
                                    "ledger) with their tolerances, and write selftest.json and selftest.pdf, "
                                    "identical bytes on every run of the same installation, for the quality file.")
    st.add_argument("--out", metavar="DIR", default="selftest", help="folder for selftest.json and selftest.pdf "
                                                                     "(default: ./selftest)")
    st.add_argument("--json", action="store_true", help="print the JSON report instead of text")
    st.set_defaults(func=_cmd_selftest)
    return p


def _ledger_options(parser, default_hint: str = "evidence/ledger.sqlite") -> None:
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--out", metavar="DIR", help="evidence folder holding ledger.sqlite (as in validate --out)")
    g.add_argument("--ledger", metavar="FILE", help=f"ledger file (default: {default_hint})")


def _ledger_path(args, record: str | None = None) -> Path:
    from pmd_envelope.ledger import LEDGER_NAME, ledger_for_record

    if args.ledger:
        return Path(args.ledger)
    if args.out:
        return Path(args.out) / LEDGER_NAME
    if record is not None:
        return ledger_for_record(record)
    return Path("evidence") / LEDGER_NAME


class _QuietPipe:
    """stdout that stops writing, quietly, once the reader has gone (``... | head -1``).

    The command still runs to its end and returns its own exit code (a verdict is not lost
    because a pager closed early); the rest of the output goes to the null device, so Python's
    final flush does not fail either.
    """

    def __init__(self, stream):
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text):
        if self.closed_by_reader:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self):
        import os

        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def run() -> None:
    """The process entry point (the ``pmd-envelope`` script and ``python -m pmd_envelope``):
    :func:`main`, then the process ends with its exit code without Python's ~0.2 s teardown of
    the imported modules (:func:`pmd_envelope.selfcheck_worker.exit_now`). A command's files are
    written and closed, and its output flushed, before it returns; should a thread or a child
    process still run (none does when a command returns), the ordinary exit waits for it."""
    import threading

    from pmd_envelope.selfcheck_worker import exit_now

    code = main()
    children = sys.modules.get("multiprocessing")
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()) \
            or (children is not None and children.active_children()):
        sys.exit(code)
    exit_now(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_library_defaults()  # before numpy loads: its huge pages off, OpenBLAS on one thread (pmd_envelope.allocator)
    tune_for_large_arrays()  # this process measures large meshes (pmd_envelope.allocator)
    stdout = sys.stdout
    sys.stdout = _QuietPipe(stdout)
    try:
        return _run(args)
    finally:
        sys.stdout.flush()
        sys.stdout = stdout


def _run(args) -> int:
    try:
        return args.func(args)
    except PmdEnvelopeError as exc:
        print(f"pmd-envelope: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pmd-envelope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, unless --debug
        if args.debug:
            raise
        print(f"pmd-envelope: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL


def _cmd_validate(args) -> int:
    _prestart_self_check()
    with _collector_restored():
        return _validate(args)


def _validate(args) -> int:
    from pmd_envelope.ledger import LATEST_NAME
    from pmd_envelope.pipeline import validate, write_evidence

    _imports_done()
    result = validate(args.case, envelope_dir=args.envelopes)
    record_path, report_path = write_evidence(result, args.out)
    rec = result.record
    entry = _ledger_entry(Path(args.out), rec["record_id"])
    if args.json:
        print(json.dumps({"case_id": rec["case_id"], "verdict": rec["verdict"], "reasons": rec["reasons"],
                          "record": str(record_path), "report": str(report_path),
                          "evidence_folder": str(record_path.parent),
                          "content_sha256": rec["integrity"]["content_sha256"],
                          "ledger": {"path": str(Path(args.out) / "ledger.sqlite"), "seq": entry.seq,
                                     "entry_hash": entry.entry_hash}}, indent=2, sort_keys=True))
    else:
        print(_verdict_table(rec))
        print(f"evidence: {record_path.parent}{os.sep} (latest of the case: {record_path.parent.parent / LATEST_NAME})")
        print(f"record: {record_path}")
        print(f"report: {report_path}")
        print(f"ledger: {Path(args.out) / 'ledger.sqlite'} entry {entry.seq} (hash {entry.entry_hash[:16]}…)")
    return EXIT_OK if rec["verdict"] == "conforming" else EXIT_NONCONFORMING


def _cmd_batch(args) -> int:
    from pmd_envelope.batch import run_batch

    progress, done = _batch_progress()
    try:
        batch = run_batch(args.cases, args.out, envelope_dir=args.envelopes, workers=args.workers,
                          scheduler=args.scheduler, progress=progress)
    finally:
        done()
    if args.json:
        print((batch.folder / "batch.json").read_text(encoding="utf-8"), end="")
    else:
        rows = [("case", "case id", "outcome", "record or reason")]
        rows += [(o.case, o.case_id or "-", o.status, o.record_path or o.reason or "") for o in batch.outcomes]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            print("  ".join(x.ljust(w) for x, w in zip(r[:3], widths)) + "  " + r[3])
        c = batch.counts
        print(f"{len(batch.outcomes)} case(s): {c['conforming']} conforming, {c['nonconforming']} nonconforming, "
              f"{c['failed']} failed")
        print(f"summary: {batch.folder / 'summary.csv'} (and summary.parquet); batch record {batch.folder / 'batch.json'}")
        if (Path(args.out) / "ledger.sqlite").is_file():
            print(f"ledger: {Path(args.out) / 'ledger.sqlite'}")
    return EXIT_OK if batch.all_conforming else EXIT_NONCONFORMING


def _batch_progress():
    """``(callback, close)``: a tqdm bar on a terminal, else one plain line per case, both on stderr."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = None

        def bar_update(done, total, outcome):
            nonlocal bar
            if bar is None:
                # a terminal that reports no size (a bare pseudo-terminal, ``script``) gets no bar
                # from tqdm (no width, and line 0 is "below the screen"): assume 80 x 24 there
                try:
                    size = os.get_terminal_size(sys.stderr.fileno())
                except (OSError, ValueError):
                    size = os.terminal_size((0, 0))
                bar = tqdm(total=total, unit="case", desc="batch", file=sys.stderr,
                           dynamic_ncols=bool(size.columns and size.lines), ncols=None if size.columns else 80,
                           nrows=None if size.lines else 24)
            if outcome is None:
                return
            bar.set_postfix_str(f"{outcome.case_id or Path(outcome.case).name}: {outcome.status}", refresh=False)
            bar.update(1)

        return bar_update, lambda: bar is not None and bar.close()

    def line(done, total, outcome):
        if outcome is None:
            print(f"batch: {total} case(s)", file=sys.stderr, flush=True)
            return
        why = f" ({outcome.reason})" if outcome.reason else ""
        print(f"[{done}/{total}] {outcome.case}: {outcome.status}{why} {outcome.seconds:.1f} s", file=sys.stderr,
              flush=True)

    return line, lambda: None


def _verdict_table(rec: dict) -> str:
    lines = [f"case {rec['case_id']}  envelope {rec['envelope']['id']} {rec['envelope']['version']}"]
    rows = [("item", "value", "limits", "decision")]
    for c in rec["checks"]:
        stat = "" if c["statistic"] == "value" else f" ({c['statistic']})"
        val = "-" if c["value"] is None else f"{c['value']:.4g} {c['unit']}"
        lim = f"{_limits(c['min'], c['max'])}  U={c['uncertainty']:g}"
        rows.append((c["parameter"] + stat, val, lim, c["decision"]))
    for w in rec["worst_case"]:
        op = ">=" if w["sense"] == "min" else "<="
        rows.append((f"{w['metric']} (worst case)", f"{w['value']:.4g} {w['unit']}", f"{op} {w['limit']:g}",
                     "pass" if w["passed"] else "FAIL"))
        rows.append((f"{w['metric']} (tested {w['coverage']['report']})", f"{w['coverage']['construct_model_value']:.4g} {w['unit']}",
                     "design >= construct" if w["sense"] == "min" else "design <= construct",
                     "covered" if w["coverage"]["covered"] else "NOT covered"))
        proof = w.get("proof")  # records before the interval proof have none
        if proof:
            lo, hi = sorted((proof["bound"], proof["found"]))
            rows.append((f"{w['metric']} (worst case proof)", f"[{lo:.4g}, {hi:.4g}] {w['unit']}",
                         f"interval B&B, {proof['boxes']} boxes", proof["status"]))
        mc = w.get("monte_carlo")
        if mc:
            lo, hi = mc["interval"]
            span = f"<= {hi:.2g}" if mc["upper_bound_only"] else f"{mc['probability']:.3g} [{lo:.3g}, {hi:.3g}]"
            rows.append((f"{w['metric']} (P {'below' if w['sense'] == 'min' else 'above'} limit)", span,
                         f"{mc['confidence']:.0%} CI, n={mc['samples']}", f"seed {mc['seed']}"))
        rare = w.get("rare_event")
        if rare and rare.get("probability") is not None:
            lo, hi = rare["interval"]
            rows.append((f"{w['metric']} (P by FORM + IS)", f"{rare['probability']:.3g} [{lo:.3g}, {hi:.3g}]",
                         f"{rare['confidence']:.0%} CI" + ("" if rare.get("beta") is None else f", beta={rare['beta']:.3g}"),
                         rare["status"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        lines.append("  ".join(s.ljust(wd) for s, wd in zip(r, widths)).rstrip())
    lines.append(f"verdict: {rec['verdict'].upper()}")
    for r in rec["reasons"]:
        lines.append(f"  - {r['item']}: {r['detail']}")
    return "\n".join(lines)


def _limits(lo, hi) -> str:
    if lo is None:
        return f"<= {hi:g}"
    if hi is None:
        return f">= {lo:g}"
    return f"[{lo:g}, {hi:g}]"


def _prestart_self_check() -> None:
    """Start the self-intersection worker before the command's own imports (its start-up then
    overlaps them on the other core; :func:`pmd_envelope.selfcheck_worker.prestart`)."""
    from pmd_envelope.selfcheck_worker import prestart

    prestart()


def _imports_done() -> None:
    """Freeze every object alive now out of the cycle collector's scans, and turn it back on.

    ``measure`` and ``validate`` turn the collector off while they import (the modules' objects
    are not garbage, and each import ran a scan of all objects made so far) and call this once
    the imports are done: the imported modules' objects (~80,000 in ``measure``) are then never
    scanned again while the mesh is measured (1M faces: the collector's time in
    ``measure`` 0.16 s -> 0.05 s after the imports, ~0.07 s during them -> none, measured with
    ``gc.callbacks``). :func:`_collector_restored` undoes both when the command ends.
    """
    gc.freeze()
    gc.enable()


@contextlib.contextmanager
def _collector_restored():
    """The cycle collector off for the block (until :func:`_imports_done`), and on and unfrozen
    after it, whatever happens: ``main`` may be called again in the same process."""
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def _cmd_measure(args) -> int:
    _prestart_self_check()
    with _collector_restored():
        return _measure(args)


def _measure(args) -> int:
    # only what reading needs is imported before the mesh is read: the measurement's work that
    # needs no gate then starts on it (pmd_envelope.measure.early) while the rest is imported
    from pmd_envelope.errors import InputFileError
    from pmd_envelope.mesh_io import load_mesh
    from pmd_envelope.settings import Settings

    try:
        direction = tuple(float(x) for x in args.build_direction.split(","))
        settings = Settings(ray_engine=args.ray_engine, build_direction=direction)
    except ValueError as exc:
        raise InputFileError(None, f"--build-direction '{args.build_direction}': {exc}; use X,Y,Z") from None
    env = None
    if args.envelope:
        from pmd_envelope.envelope import load_envelope

        env = load_envelope(args.envelope)
    mesh = load_mesh(args.mesh, args.units, weld_relative_tolerance=settings.weld_relative_tolerance)
    file_sha = mesh.sha256
    repair = None
    if args.repair:
        from pmd_envelope.repair import repair_mesh

        mesh, repair = repair_mesh(mesh)
    anatomy = (load_mesh(args.anatomy, args.anatomy_units or args.units,
                         weld_relative_tolerance=settings.weld_relative_tolerance) if args.anatomy else None)
    from pmd_envelope.measure.early import start_measurement

    with start_measurement(mesh, settings) as started:
        from pmd_envelope.measure.core import measure_design
        from pmd_envelope.resolution import round_reals

        _imports_done()
        mm = measure_design(mesh, settings, env, anatomy=anatomy, thickness_method=args.thickness_method,
                            started=started)
    out = {"mesh": {"path": str(args.mesh), "sha256": file_sha, "units": mesh.units},
           "integrity": mm.integrity.as_dict(), "measurements": [m.as_dict() for m in mm.measurements],
           "settings": settings.as_dict()}
    if repair is not None:
        out["repair"] = repair
    if args.json:  # reals at the record's resolution, so the JSON is the same on any machine
        print(json.dumps(round_reals(out), indent=2, sort_keys=True, allow_nan=False, default=str))
    else:
        print(f"{args.mesh}  sha256 {file_sha[:16]}…  units {mesh.units}")
        if repair is not None:
            print(f"REPAIRED ({repair['method']}): sha256 {repair['sha256_before'][:16]}… -> "
                  f"{repair['sha256_after'][:16]}…")
            for k in repair["before"]:
                if repair["before"][k] != repair["after"][k]:
                    print(f"  {k}: {repair['before'][k]} -> {repair['after'][k]}")
        ig = mm.integrity
        print(f"integrity: {ig.gate.upper() if ig.gate != 'passed' else 'passed'}  ({ig.faces} faces, {ig.vertices} vertices, "
              f"{ig.bodies} bodies; self-intersections: "
              f"{ig.self_intersections if ig.self_intersections is not None else ig.self_intersection_method})")
        if ig.welding and ig.welding["welded"]:
            w = ig.welding
            print(f"  read: {w['welded']} vertices welded beyond bit-identity (tolerance {w['tolerance']:.3g} "
                  f"{mesh.units}, {w['relative_tolerance']:g} of the size; largest distance closed "
                  f"{w['max_distance']:.3g} {mesh.units})")
        for p in ig.problems + ig.unevaluated:
            print(f"  - {p}")
        for m in mm.measurements:
            if m.value is None:
                print(f"{m.parameter:24s} {'-':>12s} {m.unit:5s} {m.method}: not measured, {m.reason}")
                continue
            print(f"{m.parameter:24s} {m.value:12.6g} {m.unit:5s} {m.method}")
            if m.witness is not None:
                w = m.witness
                print(f"{'':24s} witness faces {w.faces[0]} -> {w.faces[1]} at "
                      f"({', '.join(f'{x:.4f}' for x in w.point)})")
    return EXIT_OK if mm.integrity.passed else EXIT_NONCONFORMING


def _cmd_envelope_check(args) -> int:
    from pmd_envelope.envelope import load_envelope, newer_released_versions
    from pmd_envelope.worstcase import envelope_worst_cases
    from pmd_envelope.worstcase.metric import format_configuration

    env = load_envelope(args.envelope_file)
    worst = envelope_worst_cases(env)
    warnings = [w for e in worst for w in e.warnings]
    newer = newer_released_versions(args.envelope_file, env) if env.status == "released" else []
    if args.json:
        print(json.dumps({"id": env.id, "version": env.version, "status": env.status, "sha256": env.sha256,
                          "superseded_by": newer,
                          "parameters": [p.name for p in env.parameters], "variables": [v.name for v in env.variables],
                          "metrics": [m.name for m in env.metrics], "worst_case": [e.as_dict() for e in worst],
                          "warnings": warnings}, indent=2, sort_keys=True, allow_nan=False))
    else:
        print(f"{args.envelope_file}: valid")
        print(f"  {env.id} {env.version} ({env.status}), {'implantable' if env.implantable else 'non-implantable'}, "
              f"sha256 {env.sha256[:16]}…")
        if newer:
            print(f"  superseded: the newer released version {newer[-1]} is beside it; new designs claim {newer[-1]} "
                  "(a released file is never edited, so its status still reads 'released')")
        print(f"  parameters: {', '.join(p.name for p in env.parameters)}")
        print(f"  manufacturing variables: {', '.join(v.name for v in env.variables)}")
        print(f"  metrics: {', '.join(m.name for m in env.metrics)}")
        print("envelope worst case (design parameters across their limits x manufacturing box):")
        for e in worst:
            op = ">=" if e.sense == "min" else "<="
            if e.value is None:
                print(f"  {e.metric}: not searched (an envelope limit is missing; see the warning)")
                continue
            print(f"  {e.metric}: {e.value:.4g} {e.unit} (limit {op} {e.limit:g}) at {format_configuration(e.limiting_configuration)}")
            print(f"    method: {e.method}; {e.evaluations} evaluations")
            print(f"    tested construct {e.report}: {e.construct_model_value:.4g} {e.unit} by the same model at "
                  f"{format_configuration(e.construct_configuration)}: {'covers' if e.covered else 'does NOT cover'} the envelope")
            for n in e.notes:
                print(f"    note: {n}")
        for w in warnings:
            print(f"WARNING: {w}")
    return EXIT_NONCONFORMING if warnings and args.strict else EXIT_OK


def _ledger_entry(out: Path, record_id: str):
    from pmd_envelope.ledger import LEDGER_NAME, open_ledger

    with open_ledger(out / LEDGER_NAME) as ledger:
        return next(e for e in ledger.find(record_id) if e.kind == "record")


def _cmd_report(args) -> int:
    from pmd_envelope.ledger import ledger_for_record, open_ledger
    from pmd_envelope.record import read_record, write_atomic
    from pmd_envelope.report import check_renderable, render_report, signature_state
    from pmd_envelope.signatures import read_trusted_keys, signatures_for_report

    record = read_record(args.record)
    changed = check_renderable(record, args.record, mark_changed=args.mark_changed)
    trusted = read_trusted_keys(args.trusted_keys) if args.trusted_keys else None
    ledger_path = Path(args.ledger) if args.ledger else ledger_for_record(args.record)
    sigs = []
    if args.ledger or ledger_path.is_file():
        with open_ledger(ledger_path) as ledger:
            sigs = signatures_for_report(ledger.find(record["record_id"]), trusted)
    out = Path(args.output) if args.output else Path(args.record).with_name("report.pdf")
    # Signatures join the rendering input only; the record file and its content hash are unchanged.
    write_atomic(out, render_report(record, signatures=sigs, mark_changed=args.mark_changed))
    print(f"report: {out}")
    if changed:
        print("  CHANGED AFTER RECORDING: the record does not match its content hash; every page is marked")
    for s in sigs:
        print(f"  signature: {s['role']} {s['name']} {s['signed_at']} ({signature_state(s, record)[0]})")
    return EXIT_OK


def _cmd_sign(args) -> int:
    from pmd_envelope.errors import SignatureError
    from pmd_envelope.ledger import open_ledger
    from pmd_envelope.record import read_record
    from pmd_envelope.signatures import load_private_key, sign_fields
    from pmd_envelope.signoff import check_signoff, signoff_state

    record = read_record(args.record)
    key = load_private_key(args.key)
    fields = sign_fields(record, name=args.name, role=args.role, meaning=args.meaning, private_key=key,
                         deviation=args.deviation)
    d = fields["detail"]
    with open_ledger(_ledger_path(args, args.record)) as ledger:
        with ledger.transaction():  # the policy is checked under the write lock, against the ledger as it is
            entries = ledger.find(record["record_id"])
            held = [e for e in entries if e.kind == "record"]
            if not held:
                raise SignatureError(args.record, f"record {record['record_id']} is not in the ledger "
                                                  f"{ledger.path}; only recorded evidence can be signed")
            if held[0].content_sha256 != record["integrity"]["content_sha256"]:
                raise SignatureError(args.record, "record content differs from its ledger entry; it cannot be signed")
            check_signoff(held[0], entries, name=d["name"], role=d["role"], public_key=d["public_key"],
                          deviation=d["deviation"], where=args.record)
            entry = ledger.insert(fields)
            state = signoff_state(held[0], [*entries, entry])
    print(f"signed record {entry.record_id} ({entry.case_id}) as {d['role']}: {d['name']}, {d['signed_at']}, "
          f"\"{d['meaning']}\"" + (f", deviation {d['deviation']}" if d["deviation"] else ""))
    print(f"state: {state.state}" + (" (released)" if state.released else ""))
    print(f"ledger: {_ledger_path(args, args.record)} entry {entry.seq} (hash {entry.entry_hash[:16]}…)")
    return EXIT_OK


def _cmd_records_list(args) -> int:
    import datetime as dt

    from pmd_envelope.errors import LedgerError
    from pmd_envelope.ledger import open_ledger
    from pmd_envelope.signoff import signoff_state

    before = None
    if args.expiring_before:
        try:
            before = dt.date.fromisoformat(args.expiring_before).isoformat()
        except ValueError:
            raise LedgerError("--expiring-before", f"'{args.expiring_before}' is not a date; use YYYY-MM-DD") from None
    with open_ledger(_ledger_path(args)) as ledger:
        entries = ledger.entries()
    signed: dict[str, list] = {}
    latest: dict[str, str] = {}
    for e in entries:
        if e.kind == "signature":
            signed.setdefault(e.record_id, []).append(e)
        else:
            latest[e.case_id] = e.record_id
    rows = [e for e in entries if e.kind == "record" and (before is None or (e.retain_until or "") < before)]
    states = {e.record_id: signoff_state(e, signed.get(e.record_id, [])) for e in rows}
    if args.json:
        print(json.dumps([{"seq": e.seq, "record_id": e.record_id, "case_id": e.case_id, "verdict": e.verdict,
                           "created_at": e.created_at, "retain_until": e.retain_until, "path": e.path,
                           "latest": latest[e.case_id] == e.record_id, "content_sha256": e.content_sha256,
                           "signatures": [{"role": s.detail.get("role"), "name": s.detail.get("name"),
                                           "deviation": s.detail.get("deviation")} for s in signed.get(e.record_id, [])],
                           "signoff": states[e.record_id].as_dict()}
                          for e in rows], indent=2, sort_keys=True))
        return EXIT_OK
    table = [("seq", "record id", "case", "verdict", "created (UTC)", "retain until", "state", "signers")]
    table += [(str(e.seq), e.record_id + (" *" if latest[e.case_id] == e.record_id else ""), e.case_id,
               e.verdict or "", e.created_at or "", e.retain_until or "", _state_cell(states[e.record_id]),
               _signers_cell(states[e.record_id])) for e in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())
    print(f"{len(rows)} record(s)" + (f" with retention ending before {before}" if before else "")
          + "; * latest of its case; state: unsigned, reviewed, approved = released")
    return EXIT_OK


def _state_cell(state) -> str:
    return "approved (released)" if state.released else state.state


def _signers_cell(state) -> str:
    names = [f"reviewer {n}" for n in state.reviewers] + [f"approver {n}" for n in state.approvers]
    return ", ".join(names) or "-"


def _cmd_key_public(args) -> int:
    from pmd_envelope.errors import SignatureError
    from pmd_envelope.signatures import load_private_key, public_key_hex

    name = " ".join(args.name.split())
    if not name:
        raise SignatureError("--name", "must not be empty: the trusted-keys line names the key's owner")
    print(f"{public_key_hex(load_private_key(args.key))} {name}")
    return EXIT_OK


def _cmd_records_show(args) -> int:
    from pmd_envelope.errors import LedgerError
    from pmd_envelope.ledger import open_ledger
    from pmd_envelope.signatures import check_signature

    with open_ledger(_ledger_path(args)) as ledger:
        entries = ledger.find(args.id)
        if not entries:
            raise LedgerError(ledger.path, f"no record with id '{args.id}' in the ledger")
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], indent=2, sort_keys=True))
        return EXIT_OK
    for e in entries:
        print(f"entry {e.seq}  {e.kind}  appended {e.appended_at}  hash {e.entry_hash}")
        if e.kind == "record":
            print(f"  record {e.record_id}  case {e.case_id}  verdict {e.verdict}")
            print(f"  file {e.path}  sha256 {e.file_sha256}")
            print(f"  content sha256 {e.content_sha256}  created {e.created_at}  retain until {e.retain_until}")
        else:
            d = e.detail
            problem = check_signature(e)
            dev = f", deviation {d['deviation']}" if d.get("deviation") else ""
            print(f"  {d.get('role')}: {d.get('name')}, {d.get('signed_at')}, \"{d.get('meaning')}\"{dev}  "
                  f"({'signature valid' if problem is None else 'NOT VALID: ' + problem})")
            print(f"  key {d.get('public_key')}  signs content sha256 {e.content_sha256}")
    return EXIT_OK


def _cmd_records_verify(args) -> int:
    from pmd_envelope.ledger import open_ledger, verify_ledger
    from pmd_envelope.signatures import read_trusted_keys

    trusted = read_trusted_keys(args.trusted_keys) if args.trusted_keys else None
    with open_ledger(_ledger_path(args)) as ledger:
        result = verify_ledger(ledger, trusted_keys=trusted)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        print(f"ledger {result.ledger}: {result.entries} entries ({result.records} records, "
              f"{result.signatures} signatures)")
        print(f"head hash {result.head_hash}")
        for n in result.notes:
            print(f"note: {n}")
        for p in result.problems:
            print(f"BREAK {p}")
        print("verified: every hash, link, file and signature checks" if result.ok
              else f"NOT VERIFIED: {len(result.problems)} break(s)")
    return EXIT_OK if result.ok else EXIT_NONCONFORMING


def _cmd_trends(args) -> int:
    from pmd_envelope.errors import InputFileError
    from pmd_envelope.ledger import open_ledger
    from pmd_envelope.record import write_atomic
    from pmd_envelope.report.trends import render_trends
    from pmd_envelope.trends import envelope_trends

    with open_ledger(_ledger_path(args)) as ledger:
        result = envelope_trends(ledger, selection="latest" if args.all_latest else "approved",
                                 envelope=args.envelope)
    files = render_trends(result)
    out = Path(args.output)
    try:
        for name, data in sorted(files.items()):  # the page last: it is complete only when every figure is
            if name != "index.html":
                write_atomic(out / name, data)
        write_atomic(out / "index.html", files["index.html"])
    except OSError as exc:
        raise InputFileError(out, f"cannot write the trends page ({exc.strerror or exc}); choose a writable "
                                  "--output FOLDER") from None
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True, allow_nan=False))
    else:
        print(f"counted {result.counted} record(s) of {result.ledger_records} in {result.ledger}: {result.what}")
        if not result.groups:
            print("nothing to draw: no " + ("approved (released) " if result.selection == "approved" else "")
                  + "record" + (" of that envelope" if result.envelope else ""))
        for g in result.groups:
            print(f"{g.envelope_id} {g.version}: {len(g.cases)} design(s)")
            for it in g.items:
                near = "-" if it.near_fraction is None else f"{it.near}/{len(it.measured)} within 10 % of a limit"
                print(f"  {it.label:34s} n={len(it.points):<3d} not measured {it.not_measured:<3d} "
                      f"min {_g(it.minimum):>10s} max {_g(it.maximum):>10s} {it.unit:4s} {near}")
        for x in result.excluded:
            print(f"LEFT OUT {x.case_id} {x.record_id}: {x.reason}")
        print(f"wrote {out / 'index.html'} ({len(files) - 1} figure(s) in {out / 'figures'})")
    return EXIT_NONCONFORMING if result.excluded else EXIT_OK


def _g(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _cmd_impact(args) -> int:
    from pmd_envelope.envelope import load_envelope
    from pmd_envelope.impact import envelope_impact
    from pmd_envelope.ledger import open_ledger

    new = load_envelope(args.envelope_file)
    with open_ledger(_ledger_path(args)) as ledger:
        result = envelope_impact(ledger, new)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True, allow_nan=False))
    else:
        print(f"impact of {new.id} {new.version} ({new.status}) on {result.considered} record(s) made against "
              f"earlier versions ({', '.join(result.earlier_versions) or 'none'}); nothing re-measured, nothing written")
        if new.status != "released":
            print(f"note: {new.id} {new.version} is '{new.status}': verdicts are compared as if it were released "
                  "(the envelope-status reason left out on both sides)")
        shown = [c for c in result.cases if args.all or c.listed]
        for c in shown:
            print(f"{c.case_id}  record {c.record_id[:8]}  {c.old_version} -> {new.version}: {c.status.upper()}  "
                  f"design verdict {c.old_design_verdict} -> {c.new_verdict or 'not re-decided'}")
            for ch in c.changes:
                print(f"  - {ch.item} [{ch.kind}]" + (f" {ch.old} -> {ch.new}" if ch.kind != "re-measure" else "")
                      + f": {ch.detail}")
            if args.all:
                for n in c.notes:
                    print(f"  note: {n}")
        for x in result.excluded:
            print(f"LEFT OUT {x.case_id} {x.record_id}: {x.reason}")
        print(f"{sum(c.listed for c in result.cases)} of {len(result.cases)} design(s) affected"
              + (f"; {len(result.excluded)} record(s) left out" if result.excluded else ""))
    return EXIT_NONCONFORMING if result.excluded or any(c.listed for c in result.cases) else EXIT_OK


def _cmd_selftest(args) -> int:
    from pmd_envelope.errors import InputFileError
    from pmd_envelope.record import write_atomic
    from pmd_envelope.report.selftest import render_selftest
    from pmd_envelope.selftest import run_selftest, selftest_json

    result = run_selftest()
    out = Path(args.out)
    data = selftest_json(result)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "selftest.json", data)
        write_atomic(out / "selftest.pdf", render_selftest(result.as_dict()))
    except OSError as exc:
        raise InputFileError(out, f"cannot write the selftest report ({exc.strerror or exc}); "
                                  "choose a writable --out DIR") from None
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        groups = {}
        for c in result.checks:
            groups.setdefault(c.group, []).append(c)
        print(f"pmd-envelope {result.version}  software hash {result.software_sha256}")
        for group, checks in groups.items():
            print(f"{group:14s} {sum(c.passed for c in checks)}/{len(checks)} passed")
        for c in result.failed:
            print(f"FAIL {c.group}/{c.name}: expected {c.expected}, observed {c.observed}"
                  + (f" ({c.tolerance})" if c.tolerance else ""))
        print(f"wrote {out / 'selftest.json'} and {out / 'selftest.pdf'}")
        print("selftest passed" if result.passed else f"SELFTEST FAILED: {len(result.failed)} check(s)")
    return EXIT_OK if result.passed else EXIT_NONCONFORMING
