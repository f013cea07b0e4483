"""Command-line interface: ``pmd-envelope`` (also ``python -m pmd_envelope``).

Each command parses its arguments, makes one library call, formats the result and returns an
exit code. Only this module prints or exits.

Exit codes: 0 conforming / success; 1 nonconforming (or a verification failure); 2 bad input
(one line on stderr naming the file and the problem, nothing written); 3 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pmd_envelope import __version__
from pmd_envelope.errors import PmdEnvelopeError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_NONCONFORMING, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

_EPILOG = """exit codes:
  0  conforming / success
  1  nonconforming (record and report still written, with the reasons)
  2  bad input: one line on stderr naming the file and the problem; nothing written
  3  internal error (a bug: please report it with --debug output)
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
                                   "variables, and write DIR/<case_id>/record.json and report.pdf.")
    v.add_argument("case", help="case folder or its case.toml")
    v.add_argument("--out", default="evidence", metavar="DIR", help="evidence folder (default: ./evidence)")
    v.add_argument("--envelopes", metavar="DIR", help="folder of envelope files <id>/<version>.toml "
                                                      "(default: the nearest envelopes/ above the case, then ./envelopes)")
    v.add_argument("--json", action="store_true", help="print the record summary as JSON")
    v.set_defaults(func=_cmd_validate)

    m = sub.add_parser("measure", help="measure one mesh (integrity gate and geometry)",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                           "example:\n  pmd-envelope measure sample_scans/cranial-001/design.stl --units mm --json\n\n"
                           "exit codes:\n  0  measured, mesh passed the integrity gate\n"
                           "  1  measured, mesh failed the integrity gate\n  2  bad input\n  3  internal error\n"),
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
    ec = esub.add_parser("check", help="load and validate an envelope file",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                             "example:\n  pmd-envelope envelope check envelopes/cranial-plate-ti64-lpbf/1.0.0.toml\n\n"
                             "exit codes:\n  0  valid\n  2  invalid: one line naming the file, key and fix\n"))
    ec.add_argument("envelope_file")
    ec.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    ec.set_defaults(func=_cmd_envelope_check)

    r = sub.add_parser("report", help="re-render the PDF report from a saved record",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  pmd-envelope report evidence/cranial-001/record.json -o report.pdf\n")
    r.add_argument("record", help="record.json")
    r.add_argument("-o", "--output", metavar="PDF", help="output file (default: report.pdf beside the record)")
    r.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    from pmd_envelope.pipeline import validate, write_evidence

    result = validate(args.case, envelope_dir=args.envelopes)
    record_path, report_path = write_evidence(result, args.out)
    rec = result.record
    if args.json:
        print(json.dumps({"case_id": rec["case_id"], "verdict": rec["verdict"], "reasons": rec["reasons"],
                          "record": str(record_path), "report": str(report_path),
                          "content_sha256": rec["integrity"]["content_sha256"]}, indent=2, sort_keys=True))
    else:
        print(_verdict_table(rec))
        print(f"record: {record_path}")
        print(f"report: {report_path}")
    return EXIT_OK if rec["verdict"] == "conforming" else EXIT_NONCONFORMING


def _verdict_table(rec: dict) -> str:
    lines = [f"case {rec['case_id']}  envelope {rec['envelope']['id']} {rec['envelope']['version']}"]
    rows = [("item", "value", "limits", "decision")]
    for c in rec["checks"]:
        stat = "" if c["statistic"] == "value" else f" ({c['statistic']})"
        val = "-" if c["value"] is None else f"{c['value']:.4g} {c['unit']}"
        lim = f"[{_num(c['min'])}, {_num(c['max'])}] U={c['uncertainty']:g}"
        rows.append((c["parameter"] + stat, val, lim, c["decision"]))
    for w in rec["worst_case"]:
        op = ">=" if w["sense"] == "min" else "<="
        rows.append((f"{w['metric']} (worst case)", f"{w['value']:.4g} {w['unit']}", f"{op} {w['limit']:g}",
                     "pass" if w["passed"] else "FAIL"))
        rows.append((f"{w['metric']} (tested {w['coverage']['report']})", f"{w['coverage']['construct_model_value']:.4g} {w['unit']}",
                     "design >= construct" if w["sense"] == "min" else "design <= construct",
                     "covered" if w["coverage"]["covered"] else "NOT covered"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        lines.append("  ".join(s.ljust(wd) for s, wd in zip(r, widths)).rstrip())
    lines.append(f"verdict: {rec['verdict'].upper()}")
    for r in rec["reasons"]:
        lines.append(f"  - {r['item']}: {r['detail']}")
    return "\n".join(lines)


def _num(x) -> str:
    return "" if x is None else f"{x:g}"


def _cmd_measure(args) -> int:
    from pmd_envelope.envelope import load_envelope
    from pmd_envelope.errors import InputFileError
    from pmd_envelope.measure.core import measure_mesh
    from pmd_envelope.mesh_io import load_mesh, repair_mesh
    from pmd_envelope.settings import Settings

    try:
        direction = tuple(float(x) for x in args.build_direction.split(","))
        settings = Settings(ray_engine=args.ray_engine, build_direction=direction)
    except ValueError as exc:
        raise InputFileError(None, f"--build-direction '{args.build_direction}': {exc}; use X,Y,Z") from None
    env = load_envelope(args.envelope) if args.envelope else None
    mesh = load_mesh(args.mesh, args.units)
    file_sha = mesh.sha256
    repair = None
    if args.repair:
        mesh, repair = repair_mesh(mesh)
    anatomy = load_mesh(args.anatomy, args.anatomy_units or args.units) if args.anatomy else None
    params = {p.name: p for p in env.parameters} if env else {}
    method = args.thickness_method or (params["wall_thickness"].method if "wall_thickness" in params else "ray")
    gap = params.get("anatomy_gap")
    mm = measure_mesh(mesh, settings, expected_bodies=env.expected_bodies if env else None,
                      plausible_size=env.plausible_size if env else None, thickness_method=method,
                      anatomy=anatomy, gap_limit=gap.max if gap is not None else None)
    out = {"mesh": {"path": str(args.mesh), "sha256": file_sha, "units": mesh.units},
           "integrity": mm.integrity.as_dict(), "measurements": [m.as_dict() for m in mm.measurements],
           "settings": settings.as_dict()}
    if repair is not None:
        out["repair"] = repair
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True, allow_nan=False, default=str))
    else:
        print(f"{args.mesh}  sha256 {file_sha[:16]}…  units {mesh.units}")
        if repair is not None:
            print(f"REPAIRED ({repair['method']}): sha256 {repair['sha256_before'][:16]}… -> "
                  f"{repair['sha256_after'][:16]}…")
            for k in repair["before"]:
                if repair["before"][k] != repair["after"][k]:
                    print(f"  {k}: {repair['before'][k]} -> {repair['after'][k]}")
        ig = mm.integrity
        print(f"integrity: {'passed' if ig.passed else 'FAILED'}  ({ig.faces} faces, {ig.vertices} vertices, "
              f"{ig.bodies} bodies; self-intersections: "
              f"{ig.self_intersections if ig.self_intersections is not None else ig.self_intersection_method})")
        for p in ig.problems:
            print(f"  - {p}")
        for m in mm.measurements:
            print(f"{m.parameter:24s} {m.value:12.6g} {m.unit:5s} {m.method}")
            if m.witness is not None:
                w = m.witness
                print(f"{'':24s} witness faces {w.faces[0]} -> {w.faces[1]} at "
                      f"({', '.join(f'{x:.4f}' for x in w.point)})")
    return EXIT_OK if mm.integrity.passed else EXIT_NONCONFORMING


def _cmd_envelope_check(args) -> int:
    from pmd_envelope.envelope import load_envelope

    env = load_envelope(args.envelope_file)
    if args.json:
        print(json.dumps({"id": env.id, "version": env.version, "status": env.status, "sha256": env.sha256,
                          "parameters": [p.name for p in env.parameters], "variables": [v.name for v in env.variables],
                          "metrics": [m.name for m in env.metrics]}, indent=2, sort_keys=True))
    else:
        print(f"{args.envelope_file}: valid")
        print(f"  {env.id} {env.version} ({env.status}), {'implantable' if env.implantable else 'non-implantable'}, "
              f"sha256 {env.sha256[:16]}…")
        print(f"  parameters: {', '.join(p.name for p in env.parameters)}")
        print(f"  manufacturing variables: {', '.join(v.name for v in env.variables)}")
        print(f"  metrics: {', '.join(m.name for m in env.metrics)}")
    return EXIT_OK


def _cmd_report(args) -> int:
    from pmd_envelope.record import read_record, write_atomic
    from pmd_envelope.report import render_report

    record = read_record(args.record)
    out = Path(args.output) if args.output else Path(args.record).with_name("report.pdf")
    write_atomic(out, render_report(record))
    print(f"report: {out}")
    return EXIT_OK
