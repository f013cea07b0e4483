"""Patient cases: ``<case folder>/case.toml`` plus the design mesh (and optional anatomy mesh).

A case carries a pseudonymous patient reference only. Keys that look like patient identity
(names, birth dates, record numbers) are refused, wherever they appear in the file, so they can
never reach an evidence record.
"""

from __future__ import annotations

import hashlib
import re
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pmd_envelope.errors import CaseError, InputFileError
from pmd_envelope.tomlread import TomlReader
from pmd_envelope.units import LENGTH_UNITS_TO_MM

__all__ = ["InputFile", "Request", "Scan", "Case", "load_case", "resolve_case_path"]

SCHEMA = "pmd-envelope/case/1"
_CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A pseudonym: letters, digits and dashes, no spaces (a person's name has spaces or is a word).
_PATIENT_REF_RE = re.compile(r"^[A-Z]{2,6}-[A-Za-z0-9-]{4,40}$")
# Keys that carry patient identity in DICOM and hospital exports; refused anywhere in a case.
_IDENTIFYING_KEYS = re.compile(
    r"(^|_)(name|patient_name|first_name|last_name|surname|given_name|birth|birthdate|birth_date|dob|"
    r"date_of_birth|mrn|ssn|social_security|national_id|address|phone|email|patient_id)($|_)")


@dataclass(frozen=True, slots=True, kw_only=True)
class InputFile:
    """An input file with its role and SHA-256."""

    role: str
    path: str  # as given, relative to the case folder where possible
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """The health care professional's documented request."""

    id: str
    received: str  # ISO date
    planned_use: str  # ISO date
    characteristics: tuple[tuple[str, str | float | int | bool], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """The planning scan as ``[scan]`` states it.

    Without ``series`` every number is typed and required. With ``series`` (a DICOM series
    folder) the numbers come from its headers (:mod:`pmd_envelope.scan.series`); any number also
    typed must agree with them (:func:`pmd_envelope.measure.scan.resolve_scan`), so a typed
    number here may be None.
    """

    modality: str | None
    acquired: str | None  # ISO date
    slice_thickness: float | None  # [mm]
    pixel_spacing: float | None  # [mm]
    series: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A validated case. Construct with :func:`load_case`."""

    case_id: str
    folder: str
    case_file: InputFile
    patient_ref: str
    design_iteration: str
    designer: str
    physician_approval_ref: str | None
    envelope_id: str
    envelope_version: str
    request: Request
    scan: Scan
    design_mesh: Path
    design_units: str
    anatomy_mesh: Path | None
    anatomy_units: str | None
    #: The ``[plan]`` table as validated (:func:`_read_plan`): ``{"length_unit": "mm",
    #: "resection_plane": {"point": (x, y, z), "normal": (nx, ny, nz)}}``; empty without a plan.
    plan: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


def resolve_case_path(case: str | Path) -> Path:
    """The ``case.toml`` of a case folder, or the file itself."""
    p = Path(case)
    if p.is_dir():
        p = p / "case.toml"
    if not p.is_file():
        raise InputFileError(p, "case file not found; pass a case folder or its case.toml")
    return p


def load_case(case: str | Path) -> Case:
    """Load and validate a case file.

    Raises
    ------
    InputFileError
        The case file or a mesh it names is missing.
    CaseError
        A key is missing, malformed, or looks like patient identity.
    """
    path = resolve_case_path(case)
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot read case file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CaseError(path, "not UTF-8 text; save the file as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(path, f"not valid TOML ({exc}); fix the syntax there") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise CaseError(path, "TOML nested too deeply to read; a case needs a few levels") from None
    _refuse_identity(path, doc, "")
    r = _CaseReader(path)
    top = {"schema", "case_id", "patient_ref", "design_iteration", "designer", "physician_approval_ref",
           "envelope", "request", "scan", "design", "anatomy", "plan"}
    r.table(doc, "", top, top - {"anatomy", "physician_approval_ref", "plan"})
    if doc["schema"] != SCHEMA:
        r.fail("schema", f"'{doc['schema']}' is not supported; this version reads '{SCHEMA}'")
    case_id = r.string(doc, "case_id", "", _CASE_ID_RE)
    patient_ref = doc["patient_ref"]
    if not isinstance(patient_ref, str) or not _PATIENT_REF_RE.match(patient_ref):
        r.fail("patient_ref", "must be a pseudonymous reference like 'PSN-7F3A9C' (prefix, dash, code; "
                              "never a name or birth date)")
    env = r.table(doc["envelope"], "envelope", {"id", "version"}, {"id", "version"})
    req = r.table(doc["request"], "request", {"id", "received", "planned_use", "characteristics"},
                  {"id", "received", "planned_use", "characteristics"})
    chars = req["characteristics"]
    if not isinstance(chars, dict):
        r.fail("request.characteristics", "must be a table of the requested characteristics")
    for k, v in chars.items():
        if not isinstance(v, (str, int, float, bool)):
            r.fail(f"request.characteristics.{k}", "must be a string, number or boolean")
    received, planned = r.date(req, "received", "request"), r.date(req, "planned_use", "request")
    if planned < received:
        r.fail("request.planned_use", "planned date of use is before the request was received")
    scan_keys = {"modality", "acquired", "slice_thickness", "pixel_spacing", "length_unit"}
    has_series = isinstance(doc["scan"], dict) and "series" in doc["scan"]
    scan = r.table(doc["scan"], "scan", scan_keys | {"series"}, set() if has_series else scan_keys)
    if "length_unit" in scan and scan["length_unit"] != "mm":
        r.fail("scan.length_unit", f"unit '{scan['length_unit']}' is not allowed; use mm")
    if not has_series or any(k in scan for k in ("slice_thickness", "pixel_spacing")):
        if "length_unit" not in scan:
            r.fail("scan.length_unit", "missing: typed lengths need length_unit = \"mm\"")
    acquired = r.date(scan, "acquired", "scan") if "acquired" in scan else None
    if acquired is not None and acquired > received:
        r.fail("scan.acquired", "scan date is after the request was received")
    series = r.folder(scan, "series", "scan") if has_series else None
    design = r.table(doc["design"], "design", {"mesh", "units"}, {"mesh", "units"})
    design_mesh, design_units = r.mesh(design, "design")
    anatomy_mesh = anatomy_units = None
    if "anatomy" in doc:
        anat = r.table(doc["anatomy"], "anatomy", {"mesh", "units"}, {"mesh", "units"})
        anatomy_mesh, anatomy_units = r.mesh(anat, "anatomy")
    plan = _read_plan(r, doc["plan"]) if "plan" in doc else MappingProxyType({})
    approval = doc.get("physician_approval_ref")
    if approval is not None:
        approval = r.string(doc, "physician_approval_ref", "")
    return Case(
        case_id=case_id, folder=str(path.parent), patient_ref=patient_ref,
        case_file=InputFile(role="case", path=path.name, sha256=hashlib.sha256(raw).hexdigest()),
        design_iteration=r.string(doc, "design_iteration", ""), designer=r.string(doc, "designer", ""),
        physician_approval_ref=approval,
        envelope_id=r.string(env, "id", "envelope"), envelope_version=r.string(env, "version", "envelope"),
        request=Request(id=r.string(req, "id", "request"), received=received.isoformat(),
                        planned_use=planned.isoformat(), characteristics=tuple(sorted(chars.items()))),
        scan=Scan(modality=r.string(scan, "modality", "scan", choices=("CT", "CBCT", "MR")) if "modality" in scan else None,
                  acquired=acquired.isoformat() if acquired is not None else None,
                  slice_thickness=r.positive(scan, "slice_thickness", "scan") if "slice_thickness" in scan else None,
                  pixel_spacing=r.positive(scan, "pixel_spacing", "scan") if "pixel_spacing" in scan else None,
                  series=series),
        design_mesh=design_mesh, design_units=design_units, anatomy_mesh=anatomy_mesh, anatomy_units=anatomy_units,
        plan=plan,
    )


def _read_plan(r: _CaseReader, d) -> Mapping[str, object]:
    """The ``[plan]`` table: the surgical plan the design is compared with, in the design mesh's
    coordinates after its units are applied (mm).

    ``length_unit = "mm"`` (stated, as every length at a file boundary) and
    ``[plan.resection_plane]`` with ``point = [x, y, z]`` [mm] and ``normal = [nx, ny, nz]`` (a
    direction: any non-zero length; the measurers scale it to unit length, the record keeps it
    as typed). Nothing is filled in or repaired: a missing, non-finite or zero-length entry is
    refused naming the key.
    """
    plan = r.table(d, "plan", {"length_unit", "resection_plane"}, {"length_unit", "resection_plane"})
    if plan["length_unit"] != "mm":
        r.fail("plan.length_unit", f"unit '{plan['length_unit']}' is not allowed; use mm (the design mesh's "
                                   "coordinates after its units are applied)")
    rp = r.table(plan["resection_plane"], "plan.resection_plane", {"point", "normal"}, {"point", "normal"})
    point, normal = (_vector3(r, rp, k, "plan.resection_plane") for k in ("point", "normal"))
    if math.hypot(*normal) == 0.0:
        r.fail("plan.resection_plane.normal", "is the zero vector; give the plane's normal direction, e.g. [0, 0, 1]")
    return MappingProxyType({"length_unit": "mm", "resection_plane": MappingProxyType({"point": point,
                                                                                       "normal": normal})})


def _vector3(r: _CaseReader, d, k: str, key: str) -> tuple[float, float, float]:
    v = d[k]
    if (not isinstance(v, list) or len(v) != 3
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in v)):
        r.fail(f"{key}.{k}", "must be three finite numbers [x, y, z] (mm, design coordinates)")
    return (float(v[0]), float(v[1]), float(v[2]))


#: Deepest nesting a case file may have: a case is three levels deep (request.characteristics.x).
_MAX_DEPTH = 16


def _refuse_identity(path: Path, d, key: str, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise CaseError(path, f"nested more than {_MAX_DEPTH} levels deep; a case needs three", key)
    if isinstance(d, dict):
        for k, v in d.items():
            full = f"{key}.{k}" if key else k
            # PatientName (DICOM keyword style) -> patient_name
            snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", k).lower()
            if _IDENTIFYING_KEYS.search(snake):
                raise CaseError(path, "looks like patient-identifying data; remove it and use the pseudonymous "
                                      "patient_ref only", full)
            _refuse_identity(path, v, full, depth + 1)
    elif isinstance(d, list):
        for i, v in enumerate(d):
            _refuse_identity(path, v, f"{key}[{i}]", depth + 1)


class _CaseReader(TomlReader):
    error = CaseError

    def positive(self, d, k, key) -> float:
        v = d.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v == float("inf"):
            self.fail(f"{key}.{k}", "must be a positive number")
        return float(v)

    def folder(self, d, k, key) -> Path:
        rel = self.string(d, k, key)
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            self.fail(f"{key}.{k}", "must be a folder inside the case folder")
        full = self.path.parent / p
        if not full.is_dir():
            raise InputFileError(full, f"scan series folder not found (named by {self.path.name} [{key}.{k}])")
        return full

    def mesh(self, d, key) -> tuple[Path, str]:
        rel = self.string(d, "mesh", key)
        units = d["units"]
        if units not in LENGTH_UNITS_TO_MM:
            self.fail(f"{key}.units", f"unit '{units}' is not known; use one of: {', '.join(LENGTH_UNITS_TO_MM)}")
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            self.fail(f"{key}.mesh", "must be a path inside the case folder")
        full = self.path.parent / p
        if not full.is_file():
            raise InputFileError(full, f"{key} mesh not found (named by {self.path.name} [{key}.mesh])")
        # a symbolic link (of the file or a folder on the way) must not lead out of the case folder:
        # the evidence names the case's own files
        if not full.resolve().is_relative_to(self.path.parent.resolve()):
            self.fail(f"{key}.mesh", f"'{rel}' leads out of the case folder (through a symbolic link to "
                                     f"{full.resolve()}); copy the mesh into the case folder")
        return full, units
