"""Installation and operational qualification (IQ/OQ) of this installation: ``pmd-envelope selftest``.

A manufacturer validates the software it uses in its quality system (ISO 13485 §4.1.6; FDA,
*Computer Software Assurance for Production and Quality System Software*, 2022). This module
gives the objective evidence for one installation:

* IQ, packages: every package pinned in the shipped ``data/constraints.txt`` is installed at its
  pinned version (a package of an extra only, ``test`` or ``cluster``, may be absent).
* IQ, files: every file of the package matches the SHA-256 recorded in ``data/manifest.sha256``,
  and no module is present that the manifest does not list. The software's own hash is the
  SHA-256 of the manifest.
* OQ, known answers: closed-form cases (shell and cap-plate thickness, cap span, worst cases with
  a known optimum, a tampered ledger) each with a stated tolerance.

:func:`run_selftest` returns a frozen :class:`SelfTest`; the CLI writes it with
:func:`selftest_json` and :func:`pmd_envelope.report.selftest.render_selftest`. Both outputs hold
no time stamp and no path, so two runs on the same installation give the same bytes.
"""

from __future__ import annotations

import hashlib
import math
import importlib.metadata as _md
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import pmd_envelope
from pmd_envelope.record import canonical_json

__all__ = ["Check", "SelfTest", "run_selftest", "selftest_json", "manifest_text", "package_files",
           "MANIFEST_NAME", "SELFTEST_SCHEMA"]

PACKAGE_DIR = Path(pmd_envelope.__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
MANIFEST_NAME = "manifest.sha256"
SELFTEST_SCHEMA = "pmd-envelope/selftest/1"
#: File kinds the manifest covers: code, the record schema and the shipped pins.
_HASHED_SUFFIXES = (".py", ".json", ".txt")


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One qualification check: its group (``packages``, ``files``, ``known_answers``), name, verdict and detail."""

    group: str
    name: str
    passed: bool
    expected: str
    observed: str
    tolerance: str = ""

    def __post_init__(self):
        if self.group not in ("packages", "files", "known_answers"):
            raise ValueError(f"unknown check group {self.group!r}")

    def as_dict(self) -> dict:
        return {"group": self.group, "name": self.name, "passed": self.passed, "expected": self.expected,
                "observed": self.observed, "tolerance": self.tolerance}


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfTest:
    """Result of :func:`run_selftest`. ``passed`` only when every check passed."""

    version: str
    software_sha256: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def as_dict(self) -> dict:
        return {"schema": SELFTEST_SCHEMA, "software": {"name": "pmd-envelope", "version": self.version,
                                                        "manifest_sha256": self.software_sha256},
                "passed": self.passed, "failed": [f"{c.group}/{c.name}" for c in self.failed],
                "checks": [c.as_dict() for c in self.checks]}


def selftest_json(result: SelfTest) -> bytes:
    """Canonical JSON of the qualification report (sorted keys, no NaN, newline-terminated)."""
    return canonical_json(result.as_dict()) + b"\n"


# -- IQ: files --------------------------------------------------------------------------------------
def package_files(root: Path = PACKAGE_DIR) -> list[str]:
    """Paths (POSIX, relative to the package) of every file the manifest covers, sorted."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.suffix in _HASHED_SUFFIXES and "__pycache__" not in rel and rel != f"data/{MANIFEST_NAME}":
            out.append(rel)
    return sorted(out)


def manifest_text(root: Path = PACKAGE_DIR) -> str:
    """The manifest for the files under ``root``: ``<sha256>  <path>`` lines, sorted by path."""
    return "".join(f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in package_files(root))


def _read_manifest(root: Path) -> tuple[dict[str, str], str]:
    raw = (root / "data" / MANIFEST_NAME).read_bytes()
    entries = {}
    for line in raw.decode("utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        entries[rel] = digest
    return entries, hashlib.sha256(raw).hexdigest()


def _file_checks(root: Path) -> tuple[list[Check], str]:
    try:
        recorded, software = _read_manifest(root)
    except (OSError, UnicodeDecodeError) as exc:
        return [Check(group="files", name=f"data/{MANIFEST_NAME}", passed=False, expected="readable manifest",
                      observed=f"unreadable ({exc})")], "unknown"
    checks = []
    present = set(package_files(root))
    for rel in sorted(set(recorded) | present):
        if rel not in present:
            checks.append(Check(group="files", name=rel, passed=False, expected=recorded[rel], observed="missing"))
        elif rel not in recorded:
            checks.append(Check(group="files", name=rel, passed=False, expected="not in the manifest",
                                observed=hashlib.sha256((root / rel).read_bytes()).hexdigest()))
        else:
            got = hashlib.sha256((root / rel).read_bytes()).hexdigest()
            checks.append(Check(group="files", name=rel, passed=got == recorded[rel], expected=recorded[rel],
                                observed=got))
    return checks, software


# -- IQ: packages -----------------------------------------------------------------------------------
def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _test_only() -> set[str]:
    """Packages required only by an extra (``test``, ``cluster``; from the installed distribution's metadata)."""
    try:
        reqs = _md.requires("pmd-envelope") or []
    except _md.PackageNotFoundError:
        return set()
    return {_canonical(re.match(r"[A-Za-z0-9_.-]+", r).group(0)) for r in reqs if "extra ==" in r}


def _package_checks(root: Path) -> list[Check]:
    pins = []
    for line in (root / "data" / "constraints.txt").read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins.append((name.strip(), version.strip()))
    test_only = _test_only()
    checks = []
    for name, version in pins:
        try:
            got = _md.version(name)
        except _md.PackageNotFoundError:
            optional = _canonical(name) in test_only
            checks.append(Check(group="packages", name=name, passed=optional, expected=version,
                                observed="not installed (optional extra only)" if optional else "not installed"))
            continue
        checks.append(Check(group="packages", name=name, passed=got == version, expected=version, observed=got))
    return checks


# -- OQ: known answers ------------------------------------------------------------------------------
def _within(name: str, got: float, truth: float, tol: float, unit: str) -> Check:
    return Check(group="known_answers", name=name, passed=bool(abs(got - truth) <= tol),
                 expected=f"{truth:.6g} {unit}".strip(), observed=f"{got:.6g} {unit}".strip(),
                 tolerance=f"±{tol:g} {unit}".strip())


def _between(name: str, got: float, lo: float, hi: float, pad: float, unit: str) -> Check:
    """``got`` within [lo - pad, hi + pad]: a polygon's reading between its inscribed and circumscribed bounds."""
    return _within(name, got, (lo + hi) / 2, (hi - lo) / 2 + pad, unit)


def _case(name, fn) -> list[Check]:
    try:
        return fn(name)
    except Exception as exc:  # a known-answer case that crashes is a failed case, named, not a crash
        return [Check(group="known_answers", name=name, passed=False, expected="a result",
                      observed=f"{type(exc).__name__}: {exc}")]


def _shell_thickness(name):
    from pmd_envelope.measure.thickness import ray_thickness
    from pmd_envelope.settings import DEFAULT_SETTINGS
    from pmd_envelope.shapes import spherical_shell

    # the icosphere faces of the two shells are not radially aligned: error up to the sagitta h^2/(8R) ~ 3e-3 mm
    m = ray_thickness(spherical_shell(50.0, 3.0), DEFAULT_SETTINGS).measurement
    return [_within(name, m.value, 3.0, 1e-2, "mm")]


def _cap_plate(name):
    from pmd_envelope.measure.extents import measure_extents
    from pmd_envelope.measure.thickness import ray_thickness
    from pmd_envelope.settings import DEFAULT_SETTINGS
    from pmd_envelope.shapes import cap_half_angle_for_span, cap_plate_truth, spherical_cap_plate

    r, t, span = 80.0, 2.0, 100.0
    a = cap_half_angle_for_span(r, t, span)
    mesh = spherical_cap_plate(r, t, a, rings=48, segments=256)
    truth = cap_plate_truth(r, t, a)
    got = {m.parameter: m.value for m in measure_extents(mesh)}
    thick = ray_thickness(mesh, DEFAULT_SETTINGS).measurement.value
    return [
        # radial rays between chordal facets: error below h^2/(8R) * t/R < 1e-3 mm, float32 < 1e-4 mm
        _within(f"{name}_thickness", thick, truth["wall_thickness"], 5e-3, "mm"),
        # the rim is a 256-gon inscribed in the rim circle: the box spans D cos(pi/256) .. D
        _within(f"{name}_span", got["span"], truth["span"], truth["span"] * (1 - math.cos(math.pi / 256)) + 1e-9, "mm"),
        # the sphere fit passes through vertices on the exact sphere
        _within(f"{name}_radius_of_curvature", got["radius_of_curvature"], r, 1e-6, "mm"),
    ]


_ENVELOPE = '''schema = "pmd-envelope/envelope/1"
id = "selftest"
version = "1.0.0"
status = "draft"
title = "Self-test envelope (closed-form metrics)"
device_family = "test"
material = "test"
process = "test"
implantable = false
expected_bodies = 1
[units]
length = "mm"
force = "N"
stress = "MPa"
angle = "deg"
[plausible_size]
min = 1.0
max = 500.0
reference = "test"
[[change_record]]
version = "1.0.0"
date = 2026-01-01
author = "pmd-envelope selftest"
description = "known-answer envelope"
[parameters.wall_thickness]
method = "ray"
min = 1.0
max = 3.0
unit = "mm"
uncertainty = 0.05
reference = "test"
[variables.x]
kind = "continuous"
min = -1.0
max = 1.0
unit = "1"
reference = "test"
[variables.y]
kind = "continuous"
min = -1.0
max = 1.0
unit = "1"
reference = "test"
[metrics.{name}]
model = "expression"
expression = "{expression}"
unit = "1"
limit = 0.0
sense = "min"
reference = "test"
[metrics.{name}.tested_worst_case]
report = "TR-1"
measured_value = 1.0
[metrics.{name}.tested_worst_case.configuration]
x = 0.0
y = 0.0
'''


def _worst_case(name, expression, truth_value, truth_point, tol_value, tol_point):
    def run(_):
        from pmd_envelope.envelope import load_envelope
        from pmd_envelope.worstcase import worst_case

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "selftest" / "1.0.0.toml"
            path.parent.mkdir()
            path.write_text(_ENVELOPE.format(name="m", expression=expression), encoding="utf-8")
            env = load_envelope(path)
        w = worst_case(env, env.metrics[0], {}, monte_carlo_samples=0)
        cfg = dict(w.limiting_configuration)
        out = [_within(f"{name}_value", w.value, truth_value, tol_value, "")]
        for var, v in truth_point.items():
            out.append(_within(f"{name}_{var}", float(cfg[var]), v, tol_point, ""))
        return out
    return run


def _tampered_ledger(name):
    from pmd_envelope.ledger import open_ledger, verify_ledger

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        with open_ledger(path, create=True) as ledger:
            for i in (1, 2, 3):
                ledger.append({"kind": "record", "record_id": f"selftest-{i}", "case_id": f"case-{i}",
                               "content_sha256": f"{i:064x}", "verdict": "conforming",
                               "appended_at": "2026-01-01T00:00:00Z"})
            clean = verify_ledger(ledger)
        # what a careful tamperer does: drop the append-only triggers, edit a verdict, put them back
        conn = sqlite3.connect(path, isolation_level=None)
        saved = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_no_update'").fetchall()
        conn.execute("DROP TRIGGER entries_no_update")
        conn.execute("UPDATE entries SET verdict = 'nonconforming' WHERE seq = 2")
        for (sql,) in saved:
            conn.execute(sql)
        conn.close()
        with open_ledger(path) as ledger:
            tampered = verify_ledger(ledger)
    where = sorted({p.where for p in tampered.problems})
    return [
        Check(group="known_answers", name=f"{name}_clean_verifies", passed=clean.ok, expected="verified",
              observed="verified" if clean.ok else f"{len(clean.problems)} break(s)"),
        Check(group="known_answers", name=f"{name}_edit_detected", passed=where == ["entry 2"],
              expected="break at entry 2", observed=f"breaks at {', '.join(where) or 'none'}"),
    ]


def _placement():
    """Turn 30 deg about (1, 2, 2)/3, then move by (40, -25, 120) mm: a fixed placement in scanner
    coordinates, so a family's answer must not depend on how the design sits. (point map, rotation)"""
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec(np.radians(30.0) * np.array([1.0, 2.0, 2.0]) / 3.0)
    return (lambda p: rot.apply(np.asarray(p, dtype=float)) + np.array([40.0, -25.0, 120.0])), rot


def _placed(v: np.ndarray, f: np.ndarray):
    """The mesh at :func:`_placement`."""
    from pmd_envelope.mesh_io import mesh_from_arrays

    move, _ = _placement()
    return mesh_from_arrays(move(v), f, path="selftest")


def _mandible_bar(name):
    from pmd_envelope.families import FamilyContext
    from pmd_envelope.families.mandible import measure_mandible_plate
    from pmd_envelope.families.mandible_shapes import mandible_plate
    from pmd_envelope.settings import DEFAULT_SETTINGS

    # a plate bent around an arch of R 45 mm (CSG, manifold3d): section, length and spacing along the
    # arc within the arc polygon's sagitta plus the 0.5 mm stations' chord shortfall (tests/test_mandible.py)
    v, f, truth = mandible_plate(width=7.5, height=2.2, length=100.0, hole_diameter=2.3, bend_radius=45.0,
                                 bend="wrap", holes=((6.0, 0.0), (15.0, 0.0), (25.5, 0.0), (35.0, 0.0)))
    mesh = _placed(v, f)
    got = {m.parameter: m.value for m in measure_mandible_plate(mesh, FamilyContext(settings=DEFAULT_SETTINGS))}
    arc = truth["tolerance_arc"] + 1e-6
    return [_within(f"{name}_bar_width", got["bar_width"], 7.5, arc, "mm"),
            _within(f"{name}_bar_height", got["bar_height"], 2.2, arc, "mm"),
            _within(f"{name}_bar_length", got["bar_length"], 100.0, 3e-3, "mm"),
            _within(f"{name}_hole_spacing", got["hole_spacing"], 9.0, 2e-3, "mm"),
            _within(f"{name}_bend_radius", got["bend_radius"], 45.0, 1e-3, "mm")]


def _knee_guide(name):
    from pmd_envelope.families import FamilyContext
    from pmd_envelope.families.guide import measure_pin_holes, measure_slot
    from pmd_envelope.families.guide_shapes import guide_parameters, guide_plan, guide_truth, knee_guide
    from pmd_envelope.settings import DEFAULT_SETTINGS

    # the CSG guide of the sample cases, slot 1.45 mm, the plan 2 deg and 0.3 mm off the slot; the
    # measurers fit planes and cylinders to exact CSG faces: 1e-6-level agreement, 1e-3 stated
    p = guide_parameters(plan_tilt_deg=2.0, plan_offset=0.3)
    v, f = knee_guide(p)
    mesh = _placed(v, f)
    move, rot = _placement()
    rp = guide_plan(p)["resection_plane"]
    plan = {"length_unit": "mm", "resection_plane": {"point": tuple(move(rp["point"])),
                                                     "normal": tuple(rot.apply(np.asarray(rp["normal"])))}}
    ctx = FamilyContext(settings=DEFAULT_SETTINGS, plan=plan)
    got = {m.parameter: m.value for m in measure_slot(mesh, ctx) + measure_pin_holes(mesh, ctx)}
    truth = guide_truth(p)
    return [_within(f"{name}_{k}", got[k], truth[k], 1e-3, "deg" if k == "slot_plane_angle" else "mm")
            for k in ("slot_width", "slot_length", "slot_wall_thickness", "slot_plane_angle", "slot_plane_offset",
                      "pin_hole_diameter")]


def _peek_plate(name):
    from pmd_envelope.families.cranial_shapes import peek_plate
    from pmd_envelope.measure.core import measure_mesh
    from pmd_envelope.settings import DEFAULT_SETTINGS

    # a perforated PEEK cap (CSG: a revolved section less radial 24-gon holes), R_i 72 mm, wall
    # 4 mm, placed in scanner coordinates; tolerances from the tessellation (cranial_shapes.peek_plate)
    v, f, truth = peek_plate(72.0, 4.0, 34.0, hole_diameter=2.0, pitch=10.0, clearance=7.0)
    got = {m.parameter: m for m in measure_mesh(_placed(v, f), DEFAULT_SETTINGS).measurements}
    span, d, k = truth["span"], truth["hole_diameter"], truth["hole_segments"]
    n = truth["span_polygon"]
    diameters = dict(got["hole_diameter"].statistics)
    return [_within(f"{name}_wall_thickness", got["wall_thickness"].value, 4.0, truth["wall_thickness_tolerance"], "mm"),
            # the rim is an n-gon: the box spans D cos(pi/n) .. D
            _between(f"{name}_span", got["span"].value, span * math.cos(math.pi / n), span, 1e-6, "mm"),
            _within(f"{name}_radius_of_curvature", got["radius_of_curvature"].value, 72.0, 0.01, "mm"),
            _within(f"{name}_hole_count", got["hole_count"].value, truth["hole_count"], 0.0, ""),
            # a k-gon hole reads between d cos(pi/k) and d
            _between(f"{name}_hole_diameter_min", diameters["min"], d * math.cos(math.pi / k), d, 2e-3, "mm"),
            _within(f"{name}_hole_edge_distance", got["hole_edge_distance"].value, truth["hole_edge_distance"],
                    truth["hole_edge_distance_tolerance"], "mm")]


#: The known-answer cases, in report order: (name, function returning checks).
KNOWN_ANSWERS = (
    ("shell_thickness", _shell_thickness),
    ("cap_plate", _cap_plate),
    ("mandible_bar", _mandible_bar),
    ("knee_guide", _knee_guide),
    ("peek_plate", _peek_plate),
    # linear metric: the worst (minimum) corner is the bound that lowers each term: x = -1, y = +1 -> 2 - 3 - 1 = -2
    ("worst_case_corner", _worst_case("worst_case_corner", "2 + 3 * x - y", -2.0, {"x": -1.0, "y": 1.0}, 1e-12, 0.0)),
    # convex bowl: interior minimum 1 at (0.3, -0.2), which no corner reaches (best corner 2.77)
    ("worst_case_interior", _worst_case("worst_case_interior", "1 + (x - 0.3)**2 + 2 * (y + 0.2)**2", 1.0,
                                        {"x": 0.3, "y": -0.2}, 1e-9, 1e-4)),
    ("tampered_ledger", _tampered_ledger),
)


def run_selftest(root: Path | None = None) -> SelfTest:
    """Qualify this installation: packages, file hashes and known-answer cases.

    Parameters
    ----------
    root : Path, optional
        The package folder to check (default: the installed ``pmd_envelope``); tests point it at a copy.

    Returns
    -------
    SelfTest
        Every check with its expected and observed value; ``passed`` only when all passed.
    """
    root = Path(root) if root is not None else PACKAGE_DIR
    files, software = _file_checks(root)
    checks = _package_checks(root) + files
    for name, fn in KNOWN_ANSWERS:
        checks += _case(name, fn)
    return SelfTest(version=pmd_envelope.__version__, software_sha256=software, checks=tuple(checks))
