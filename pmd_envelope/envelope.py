"""Design envelope definitions: versioned TOML files loaded into validated, frozen records.

An envelope file lives at ``envelopes/<id>/<version>.toml`` and is part of the device master
record. A released file is never edited: a change is a new version file with a new entry in its
change record. Loading checks every key; any problem is reported with the file, the key path and
how to fix it. See ``docs/formats.md`` for the format.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pmd_envelope.errors import EnvelopeError, InputFileError
from pmd_envelope.expressions import Expression, ExpressionError
from pmd_envelope.families import family_methods
from pmd_envelope.glossary import GLOSSARY, STATISTICS
from pmd_envelope.models import MODELS
from pmd_envelope.tomlread import TomlReader

__all__ = [
    "Parameter", "Variable", "Level", "Distribution", "Constant", "TestedConstruct", "Metric", "ChangeEntry",
    "Envelope", "load_envelope", "find_envelope", "newer_released_versions",
]

SCHEMA = "pmd-envelope/envelope/1"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STATUSES = ("draft", "released", "superseded", "withdrawn")
DISTRIBUTIONS = ("uniform", "normal", "truncated_normal")
SEARCHES = ("auto", "global")
#: Model name of a metric declared as an arithmetic expression in the envelope file.
EXPRESSION_MODEL = "expression"
METHODS = {"wall_thickness": ("ray", "max_sphere"), "hole_count": ("surface_loops",),
           "hole_diameter": ("circle_fit",), "hole_edge_distance": ("ligament",),
           "overhang_area_fraction": ("facet_angle",), "anatomy_gap": ("closest_point",),
           "anatomy_contact_fraction": ("closest_point",), "span": ("obb",), "extent_mid": ("obb",), "extent_min": ("obb",),
           "volume": ("divergence",), "surface_area": ("triangle_sum",),
           "radius_of_curvature": ("sphere_fit",), "slice_thickness": ("scan_header",),
           "pixel_spacing": ("scan_header",), "scan_age": ("request_dates",),
           "scan_fit_gap": ("ct_bone_surface",), "scan_contact_fraction": ("ct_bone_surface",),
           **family_methods()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """A patient-matched design parameter with its validated limits."""

    name: str
    source: str
    method: str
    unit: str
    min: float | None
    max: float | None
    uncertainty: float
    lower_statistic: str
    upper_statistic: str
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One level of a categorical variable and the quantities it sets."""

    name: str
    quantities: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """Probability distribution of a continuous (or coupled latent) variable, for Monte Carlo.

    ``uniform`` spans the variable's [min, max]; ``normal`` has ``mean`` and standard deviation
    ``sd`` and is not truncated (samples may leave the worst-case box, which is the point of
    asking how often); ``truncated_normal`` is the normal restricted to [min, max].
    """

    kind: str
    mean: float | None = None
    sd: float | None = None

    def describe(self, lo: float, hi: float) -> str:
        if self.kind == "uniform":
            return f"uniform({lo:g}, {hi:g})"
        if self.kind == "normal":
            return f"normal(mean={self.mean:g}, sd={self.sd:g})"
        return f"truncated_normal(mean={self.mean:g}, sd={self.sd:g}, min={lo:g}, max={hi:g})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Variable:
    """A manufacturing variable.

    ``continuous``: a value within [min, max] with an optional distribution. ``categorical``:
    one of ``levels``, each setting named quantities, with optional ``weights`` (probabilities,
    in level order) and a nominal level. ``coupled``: a latent continuous variable within
    [min, max] that moves several ``derived`` quantities at once (e.g. a scale error acting on
    thickness and span), each an expression of the latent variable and constants.
    """

    name: str
    kind: str  # "continuous" | "categorical" | "coupled"
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    nominal: float | None = None
    levels: tuple[Level, ...] = ()
    reference: str = ""
    distribution: Distribution | None = None
    weights: tuple[float, ...] = ()
    nominal_level: str | None = None
    derived: tuple[tuple[str, Expression], ...] = ()

    @property
    def quantities(self) -> tuple[str, ...]:
        """Names of the quantities a categorical or coupled variable sets (empty for continuous)."""
        if self.kind == "coupled":
            return tuple(q for q, _ in self.derived)
        return tuple(q for q, _ in self.levels[0].quantities) if self.levels else ()

    @property
    def is_continuous(self) -> bool:
        """True for a variable searched over an interval (continuous, or a coupled latent)."""
        return self.kind != "categorical"


@dataclass(frozen=True, slots=True, kw_only=True)
class Constant:
    name: str
    value: float
    unit: str
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TestedConstruct:
    """The physically tested worst-case construct of a metric."""

    report: str
    configuration: tuple[tuple[str, float | str], ...]
    measured_value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """A performance metric: a model, how its inputs bind, and its limit.

    ``sense`` is ``"min"`` when the metric must stay at or above ``limit`` (a strength; the worst
    case is the minimum) and ``"max"`` when it must stay at or below it (a deflection). A metric
    with ``model == "expression"`` has one input named ``expression``: the metric itself.
    """

    name: str
    model: str
    unit: str
    limit: float
    sense: str
    inputs: tuple[tuple[str, Expression], ...]
    tested: TestedConstruct
    reference: str
    search: str = "auto"  # "auto": corners, refined where not monotone; "global": always refined

    @property
    def symbols(self) -> frozenset[str]:
        out: set[str] = set()
        for _, e in self.inputs:
            out |= e.symbols
        return frozenset(out)

    def margin(self, value: float, reference: float) -> float:
        """How far ``value`` is on the good side of ``reference`` (a limit or another value).

        Signed so that >= 0 means no worse: ``value - reference`` for a strength (sense ``min``),
        ``reference - value`` for a deflection (sense ``max``).
        """
        return value - reference if self.sense == "min" else reference - value


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEntry:
    version: str
    date: str
    author: str
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A validated design envelope. Construct with :func:`load_envelope`."""

    id: str
    version: str
    status: str
    title: str
    device_family: str
    material: str
    process: str
    implantable: bool
    units: tuple[tuple[str, str], ...]
    plausible_size: tuple[float, float]
    expected_bodies: int
    change_record: tuple[ChangeEntry, ...]
    parameters: tuple[Parameter, ...]
    variables: tuple[Variable, ...]
    constants: tuple[Constant, ...]
    metrics: tuple[Metric, ...]
    path: str = ""
    sha256: str = ""

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def retention_years(self) -> int:
        """Record retention: 15 years for implants, 5 for others (IMDRF N58)."""
        return 15 if self.implantable else 5


def find_envelope(envelope_dir: str | Path, envelope_id: str, version: str) -> Path:
    """Path of ``<envelope_dir>/<id>/<version>.toml``; raises InputFileError if absent."""
    path = Path(envelope_dir) / envelope_id / f"{version}.toml"
    if not path.is_file():
        versions = sorted((p.stem for p in path.parent.glob("*.toml") if _VERSION_RE.match(p.stem)),
                          key=lambda v: tuple(int(x) for x in v.split(".")))
        have = (f"versions of {envelope_id} in {path.parent}: {', '.join(versions)}" if versions
                else f"no version of {envelope_id} in {Path(envelope_dir)}")
        raise InputFileError(path, f"envelope {envelope_id} version {version} not found ({have}); "
                                   f"name one of them in the case, put the file at {path} or pass --envelopes DIR")
    return path


def newer_released_versions(path: str | Path, envelope: Envelope) -> list[str]:
    """Versions of the same envelope id, beside ``path``, newer than ``envelope`` and released.

    A released file is never edited, so its ``status`` stays ``released`` after a newer version
    is released: this is how ``envelope check`` says the older one is superseded (new designs
    claim the newest). A sibling file that does not load is not counted.
    """
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    newer = []
    for p in Path(path).parent.glob("*.toml"):
        if _VERSION_RE.match(p.stem) and key(p.stem) > key(envelope.version):
            try:
                other = load_envelope(p)
            except (InputFileError, EnvelopeError):
                continue
            if other.id == envelope.id and other.status == "released":
                newer.append(other.version)
    return sorted(newer, key=key)


def load_envelope(path: str | Path) -> Envelope:
    """Load and validate an envelope file.

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file.

    Returns
    -------
    Envelope

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    EnvelopeError
        Any key is missing, unknown, of the wrong type or inconsistent; the message names the
        file, the key path and how to fix it.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read envelope file ({exc.strerror or exc})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise EnvelopeError(path, "not UTF-8 text; save the file as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise EnvelopeError(path, f"not valid TOML ({exc}); fix the syntax there") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise EnvelopeError(path, "TOML nested too deeply to read; an envelope needs a few levels") from None
    r = _Reader(path)
    env = r.envelope(doc)
    object.__setattr__(env, "path", str(path))
    object.__setattr__(env, "sha256", hashlib.sha256(raw).hexdigest())
    if path.parent.name != env.id or path.stem != env.version:
        raise EnvelopeError(path, f"file must be named {env.id}/{env.version}.toml after its id and version")
    return env


class _Reader(TomlReader):
    """Walks the envelope document, raising EnvelopeError with the key path on any problem."""

    error = EnvelopeError

    def envelope(self, doc: dict) -> Envelope:
        top = {"schema", "id", "version", "status", "title", "device_family", "material", "process",
               "implantable", "units", "plausible_size", "expected_bodies", "change_record",
               "parameters", "variables", "constants", "metrics"}
        self.table(doc, "", top, top - {"constants"})
        schema = doc["schema"]
        if schema != SCHEMA:
            self.fail("schema", f"'{schema}' is not supported; this version reads '{SCHEMA}'")
        env_id = self.string(doc, "id", "", _ID_RE)
        version = self.string(doc, "version", "", _VERSION_RE)
        status = self.string(doc, "status", "", choices=STATUSES)
        if not isinstance(doc["implantable"], bool):
            self.fail("implantable", "must be true or false")
        units = self.table(doc["units"], "units", {"length", "force", "stress", "angle"},
                           {"length", "force", "stress", "angle"})
        want = {"length": "mm", "force": "N", "stress": "MPa", "angle": "deg"}
        for k, v in units.items():
            if v != want[k]:
                self.fail(f"units.{k}", f"unit '{v}' is not allowed; use {want[k]}")
        ps = self.table(doc["plausible_size"], "plausible_size", {"min", "max", "reference"}, {"min", "max", "reference"})
        lo, hi = self.number(ps, "min", "plausible_size", positive=True), self.number(ps, "max", "plausible_size", positive=True)
        if not lo < hi:
            self.fail("plausible_size", "min must be below max")
        bodies = doc["expected_bodies"]
        if isinstance(bodies, bool) or not isinstance(bodies, int) or bodies < 1:
            self.fail("expected_bodies", "must be a whole number >= 1")
        changes = self.changes(doc["change_record"], version)
        params = tuple(self.parameter(n, d) for n, d in self.named(doc["parameters"], "parameters"))
        variables = tuple(self.variable(n, d) for n, d in self.named(doc["variables"], "variables"))
        constants = tuple(self.constant(n, d) for n, d in self.named(doc.get("constants", {}), "constants"))
        env = Envelope(
            id=env_id, version=version, status=status,
            title=self.string(doc, "title", ""), device_family=self.string(doc, "device_family", "", _NAME_RE),
            material=self.string(doc, "material", ""), process=self.string(doc, "process", ""),
            implantable=doc["implantable"], units=tuple(sorted(units.items())), plausible_size=(lo, hi),
            expected_bodies=bodies, change_record=changes, parameters=params, variables=variables,
            constants=constants, metrics=(),
        )
        symbols = self.symbol_table(env)
        metrics = tuple(self.metric(n, d, symbols, env) for n, d in self.named(doc["metrics"], "metrics"))
        if not metrics:
            self.fail("metrics", "at least one performance metric is required")
        object.__setattr__(env, "metrics", metrics)
        return env

    def named(self, d, key: str):
        if not isinstance(d, dict):
            self.fail(key, "must be a table of named entries")
        for name, value in d.items():
            if not _NAME_RE.match(name):
                self.fail(f"{key}.{name}", "name must be lower_snake_case")
            if not isinstance(value, dict):
                self.fail(f"{key}.{name}", f"must be a table ([{key}.{name}] with its keys), not a single value")
        return sorted(d.items())

    def changes(self, entries, version: str) -> tuple[ChangeEntry, ...]:
        if not isinstance(entries, list) or not entries:
            self.fail("change_record", "must be a non-empty array of tables ([[change_record]])")
        out = []
        for i, e in enumerate(entries):
            key = f"change_record[{i}]"
            self.table(e, key, {"version", "date", "author", "description"}, {"version", "date", "author", "description"})
            out.append(ChangeEntry(version=self.string(e, "version", key, _VERSION_RE), date=self.date(e, "date", key).isoformat(),
                                   author=self.string(e, "author", key), description=self.string(e, "description", key)))
        if out[-1].version != version:
            self.fail(f"change_record[{len(out) - 1}].version",
                      f"the last change entry must describe this version {version}")
        return tuple(out)

    def parameter(self, name: str, d: dict) -> Parameter:
        key = f"parameters.{name}"
        self.table(d, key, {"method", "min", "max", "unit", "uncertainty", "lower_statistic",
                            "upper_statistic", "reference"}, {"method", "unit", "uncertainty", "reference"})
        term = GLOSSARY.get(name)
        if term is None:
            self.fail(key, f"unknown parameter; known parameters: {', '.join(sorted(GLOSSARY))}")
        unit = self.string(d, "unit", key)
        if unit != term.unit:
            self.fail(f"{key}.unit", f"unit '{unit}' is not allowed; use {term.unit}")
        method = self.string(d, "method", key, choices=METHODS[name])
        lo = self.number(d, "min", key, allow_none=True)
        hi = self.number(d, "max", key, allow_none=True)
        if lo is None and hi is None:
            self.fail(key, "needs a min, a max or both")
        if lo is not None and hi is not None and not lo < hi:
            self.fail(key, f"min {lo} must be below max {hi}")
        u = self.number(d, "uncertainty", key)
        if u < 0:
            self.fail(f"{key}.uncertainty", "must be >= 0 (expanded uncertainty U, k=2)")
        if lo is not None and hi is not None and 2 * u >= hi - lo:
            self.fail(f"{key}.uncertainty", "2U spans the whole range: no design could be proven conforming")
        stats = {}
        for s in ("lower_statistic", "upper_statistic"):
            stats[s] = self.string(d, s, key, choices=STATISTICS, default="value")
        return Parameter(name=name, source=term.source, method=method, unit=unit, min=lo, max=hi, uncertainty=u,
                         reference=self.string(d, "reference", key), **stats)

    def variable(self, name: str, d: dict) -> Variable:
        key = f"variables.{name}"
        kind = self.string(d, "kind", key, choices=("continuous", "categorical", "coupled"))
        if kind in ("continuous", "coupled"):
            allowed = {"kind", "min", "max", "nominal", "unit", "reference", "distribution", "mean", "sd"}
            required = {"kind", "min", "max", "unit", "reference"}
            if kind == "coupled":
                allowed.add("quantities")
                required.add("quantities")
            self.table(d, key, allowed, required)
            lo, hi = self.number(d, "min", key), self.number(d, "max", key)
            if not lo < hi:
                self.fail(key, f"min {lo} must be below max {hi}")
            nominal = self.number(d, "nominal", key, default=(lo + hi) / 2)
            if not lo <= nominal <= hi:
                self.fail(f"{key}.nominal", "must lie within [min, max]")
            derived: tuple[tuple[str, Expression], ...] = ()
            if kind == "coupled":
                qs = d["quantities"]
                if not isinstance(qs, dict) or not qs:
                    self.fail(f"{key}.quantities", "must be a table of quantity = \"expression of the latent variable\"")
                out = []
                for q, src in sorted(qs.items()):
                    qkey = f"{key}.quantities.{q}"
                    if not _NAME_RE.match(q):
                        self.fail(qkey, "name must be lower_snake_case")
                    out.append((q, self.expression(src, qkey)))
                derived = tuple(out)
            return Variable(name=name, kind=kind, unit=self.string(d, "unit", key), min=lo, max=hi, nominal=nominal,
                            reference=self.string(d, "reference", key), distribution=self.distribution(d, key, lo, hi),
                            derived=derived)
        self.table(d, key, {"kind", "levels", "reference", "weights", "nominal"}, {"kind", "levels", "reference"})
        levels = []
        names = None
        for lname, ld in self.named(d["levels"], f"{key}.levels"):
            lkey = f"{key}.levels.{lname}"
            if not isinstance(ld, dict) or not ld:
                self.fail(lkey, "must be a table of the quantities this level sets")
            if names is None:
                names = set(ld)
            elif set(ld) != names:
                self.fail(lkey, f"every level must set the same quantities: {', '.join(sorted(names))}")
            qs = tuple((q, self.number(ld, q, lkey)) for q in sorted(ld))
            for q, _ in qs:
                if not _NAME_RE.match(q):
                    self.fail(f"{lkey}.{q}", "name must be lower_snake_case")
            levels.append(Level(name=lname, quantities=qs))
        if len(levels) < 1:
            self.fail(f"{key}.levels", "needs at least one level")
        level_names = [lv.name for lv in levels]
        weights: tuple[float, ...] = ()
        if "weights" in d:
            w = self.table(d["weights"], f"{key}.weights", set(level_names), set(level_names))
            weights = tuple(self.number(w, n, f"{key}.weights") for n in level_names)
            if any(x < 0 for x in weights) or abs(sum(weights) - 1.0) > 1e-9:
                self.fail(f"{key}.weights", f"must be probabilities >= 0 summing to 1 (they sum to {sum(weights):g})")
        nominal_level = None
        if "nominal" in d:
            nominal_level = self.string(d, "nominal", key, choices=level_names)
        return Variable(name=name, kind=kind, levels=tuple(levels), reference=self.string(d, "reference", key),
                        weights=weights, nominal_level=nominal_level)

    def distribution(self, d: dict, key: str, lo: float, hi: float) -> Distribution | None:
        if "distribution" not in d:
            for k in ("mean", "sd"):
                if k in d:
                    self.fail(f"{key}.{k}", "needs a distribution (normal or truncated_normal)")
            return None
        kind = self.string(d, "distribution", key, choices=DISTRIBUTIONS)
        if kind == "uniform":
            for k in ("mean", "sd"):
                if k in d:
                    self.fail(f"{key}.{k}", "a uniform distribution spans [min, max]; remove this key")
            return Distribution(kind=kind)
        for k in ("mean", "sd"):
            if k not in d:
                self.fail(f"{key}.{k}", f"required key is missing (a {kind} distribution needs mean and sd)")
        mean, sd = self.number(d, "mean", key), self.number(d, "sd", key, positive=True)
        if kind == "truncated_normal" and not lo <= mean <= hi:
            self.fail(f"{key}.mean", "must lie within [min, max] for a truncated normal")
        return Distribution(kind=kind, mean=mean, sd=sd)

    def expression(self, src, key: str) -> Expression:
        try:
            return Expression.parse(src)
        except ExpressionError as exc:
            self.fail(key, str(exc))

    def constant(self, name: str, d: dict) -> Constant:
        key = f"constants.{name}"
        self.table(d, key, {"value", "unit", "reference"}, {"value", "unit", "reference"})
        return Constant(name=name, value=self.number(d, "value", key), unit=self.string(d, "unit", key),
                        reference=self.string(d, "reference", key))

    def symbol_table(self, env: Envelope) -> dict[str, str]:
        """Every name an expression may use, and what defines it."""
        table: dict[str, str] = {}

        def add(name, what):
            if name in table:
                self.fail(what, f"name '{name}' is already defined by {table[name]}; names must be unique")
            table[name] = what

        for p in env.parameters:
            add(p.name, f"parameters.{p.name}")
        for v in env.variables:
            if v.is_continuous:
                add(v.name, f"variables.{v.name}")
            for q in v.quantities:
                add(q, f"variables.{v.name}.{'quantities' if v.kind == 'coupled' else 'levels'}")
        for c in env.constants:
            add(c.name, f"constants.{c.name}")
        constants = {c.name for c in env.constants}
        for v in env.variables:
            for q, e in v.derived:
                bad = sorted(e.symbols - constants - {v.name})
                if bad:
                    self.fail(f"variables.{v.name}.quantities.{q}",
                              f"unknown symbol '{bad[0]}'; a coupled quantity may use only its latent variable "
                              f"'{v.name}' and constants")
        return table

    def metric(self, name: str, d: dict, symbols: dict[str, str], env: Envelope) -> Metric:
        key = f"metrics.{name}"
        common = {"model", "unit", "limit", "sense", "tested_worst_case", "reference"}
        if d.get("model") == EXPRESSION_MODEL:
            self.table(d, key, common | {"expression", "search"}, common | {"expression"})
            model_name, unit = EXPRESSION_MODEL, self.string(d, "unit", key)
            sources = [("expression", f"{key}.expression", d["expression"])]
        else:
            self.table(d, key, common | {"inputs", "search"}, common | {"inputs"})
            model = MODELS.get(d["model"])
            if model is None:
                self.fail(f"{key}.model", f"unknown model '{d['model']}'; built-in models: {', '.join(sorted(MODELS))}, "
                                          f"or '{EXPRESSION_MODEL}' with an expression key")
            unit = self.string(d, "unit", key)
            if unit != model.unit:
                self.fail(f"{key}.unit", f"unit '{unit}' is not allowed; model {model.name} gives {model.unit}")
            inputs = self.table(d["inputs"], f"{key}.inputs", set(model.inputs), set(model.inputs))
            model_name = model.name
            sources = [(inp, f"{key}.inputs.{inp}", inputs[inp]) for inp in model.inputs]
        bound = []
        for inp, ikey, src in sources:
            expr = self.expression(src, ikey)
            unknown = sorted(expr.symbols - set(symbols))
            if unknown:
                self.fail(ikey, f"unknown symbol '{unknown[0]}'; define it under [constants] or use one of: "
                                f"{', '.join(sorted(symbols))}")
            bound.append((inp, expr))
        tw = self.table(d["tested_worst_case"], f"{key}.tested_worst_case",
                        {"report", "configuration", "measured_value"}, {"report", "configuration", "measured_value"})
        tkey = f"{key}.tested_worst_case"
        cfg = tw["configuration"]
        if not isinstance(cfg, dict):
            self.fail(f"{tkey}.configuration", "must be a table")
        needed = {s for s in set().union(*(e.symbols for _, e in bound)) if not symbols[s].startswith("constants.")}
        needed_names = set()
        for s in needed:
            owner = symbols[s]
            needed_names.add(owner.split(".")[1])
        known = {p.name for p in env.parameters} | {v.name for v in env.variables}
        unknown = sorted(set(cfg) - known)
        if unknown:  # a typo would silently drop a construct value
            self.fail(f"{tkey}.configuration.{unknown[0]}", "not a parameter or variable of this envelope; "
                                                             f"use one of: {', '.join(sorted(known))}")
        missing = sorted(needed_names - set(cfg))
        if missing:
            self.fail(f"{tkey}.configuration.{missing[0]}", "the tested construct must state every parameter and variable the model uses")
        config = []
        for k in sorted(cfg):
            v = cfg[k]
            var = next((x for x in env.variables if x.name == k), None)
            if var is not None and var.kind == "categorical":
                if v not in {lv.name for lv in var.levels}:
                    self.fail(f"{tkey}.configuration.{k}", f"'{v}' is not a level of {k}")
            else:
                v = self.number(cfg, k, f"{tkey}.configuration")
            config.append((k, v))
        return Metric(name=name, model=model_name, unit=unit, limit=self.number(d, "limit", key),
                      sense=self.string(d, "sense", key, choices=("min", "max")), inputs=tuple(bound),
                      tested=TestedConstruct(report=self.string(tw, "report", tkey), configuration=tuple(config),
                                             measured_value=self.number(tw, "measured_value", tkey)),
                      reference=self.string(d, "reference", key),
                      search=self.string(d, "search", key, choices=SEARCHES, default="auto"))
