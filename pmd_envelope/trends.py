"""Envelope utilisation: where the released designs sit inside each range (issue 14 item 4).

Read from the evidence ledger's records alone (nothing is re-measured or re-decided): for every
envelope version, each parameter check and each performance metric of the counted records, with
the values, margins and decisions the records state.

What is counted (:data:`pmd_envelope.evidence.SELECTIONS`): by default one record per case,
its newest *approved* record (released: reviewed and approved under the sign-off policy,
:mod:`pmd_envelope.signoff`); with ``selection="latest"`` the newest record of each case
whatever its state. A record whose file does not match the ledger (changed after it was
written, missing, superseded) is left out and listed with the reason. A value the record states
as ``null`` (the parameter did not apply, or could not be measured) is counted as *not
measured*, never as 0.

Near a limit: a design is *within 10 % of a limit* when it is inside the limit (margin >= 0)
and its margin to the nearest limit is at most 10 % of the parameter's range (max - min, when
the envelope gives both limits of the parameter, over all its checks) or, for a one-sided
parameter or a performance metric, 10 % of the magnitude of the limit. The margin is the
record's own (``checks[].margin``, ``worst_case[].margin``), so the figure follows from the
numbers the records state (reals at 7 significant digits, :mod:`pmd_envelope.resolution`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from pmd_envelope.evidence import Excluded, LedgerRecord, ledger_records, select_records, version_key
from pmd_envelope.ledger import Ledger

__all__ = ["NEAR_FRACTION", "Point", "ItemTrend", "EnvelopeTrend", "Trends", "envelope_trends"]

#: "Within 10 % of a limit" (issue 14 item 4): the share of the range (or of the limit) a margin
#: must stay within to count as near the limit.
NEAR_FRACTION = 0.10


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One design's value of one item, as its record states it (``value`` None: not measured)."""

    case_id: str
    record_id: str
    created_at: str
    state: str
    value: float | None
    margin: float | None
    decision: str
    reason: str = ""

    def __post_init__(self):
        if self.value is None and self.margin is not None:
            raise ValueError(f"{self.case_id}: a margin without a value")

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemTrend:
    """Every counted design's value of one parameter check (or one metric's worst case).

    Parameters
    ----------
    kind : {"parameter", "metric"}
    name : str
        Parameter or metric name (glossary).
    statistic : str
        The statistic the limit uses (``value``, ``max``, ...); ``worst case`` for a metric.
    lower, upper : float or None
        The limits of this check [unit] (a metric has one, on the side of its ``sense``).
    uncertainty : float or None
        Expanded uncertainty U of the parameter [unit]: the ISO 14253-1 guard band is each limit
        +- U. None for a metric (its worst case is decided on the limit itself).
    near_band : float or None
        Margin [unit] within which a design counts as near a limit (:data:`NEAR_FRACTION` of
        the range, or of the limit); None when the limit is 0 and no range is known.
    near_basis : str
        What ``near_band`` is 10 % of, in words.
    """

    kind: str
    name: str
    statistic: str
    unit: str
    lower: float | None
    upper: float | None
    uncertainty: float | None
    near_band: float | None
    near_basis: str
    points: tuple[Point, ...]
    range: tuple[float, float] | None = None  # the parameter's min and max over all its checks, when both exist

    def __post_init__(self):
        if self.kind not in ("parameter", "metric"):
            raise ValueError(f"kind must be parameter or metric, not {self.kind!r}")
        if self.lower is None and self.upper is None:
            raise ValueError(f"{self.name}: an item without a limit")

    @property
    def label(self) -> str:
        if self.kind == "metric":
            return f"{self.name} (worst case)"
        return self.name if self.statistic == "value" else f"{self.name} ({self.statistic})"

    @property
    def key(self) -> str:
        """A file-name-safe key: ``name`` or ``name-statistic``."""
        return self.name if self.statistic in ("value", "worst case") else f"{self.name}-{self.statistic}"

    @property
    def measured(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.value is not None)

    @property
    def not_measured(self) -> int:
        return len(self.points) - len(self.measured)

    @property
    def minimum(self) -> float | None:
        return min((p.value for p in self.measured), default=None)

    @property
    def maximum(self) -> float | None:
        return max((p.value for p in self.measured), default=None)

    @property
    def near(self) -> int | None:
        """Designs inside the limits with a margin of at most ``near_band`` (None: no band)."""
        if self.near_band is None:
            return None
        return sum(1 for p in self.measured if p.margin is not None and 0 <= p.margin <= self.near_band)

    @property
    def beyond(self) -> int:
        """Designs with a negative margin: beyond a limit (released only under a deviation)."""
        return sum(1 for p in self.measured if p.margin is not None and p.margin < 0)

    @property
    def near_fraction(self) -> float | None:
        """``near`` / measured designs; None when nothing was measured or there is no band."""
        if self.near is None or not self.measured:
            return None
        return self.near / len(self.measured)

    def decisions(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.points:
            out[p.decision] = out.get(p.decision, 0) + 1
        return dict(sorted(out.items()))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "statistic": self.statistic, "unit": self.unit,
                "label": self.label, "lower": self.lower, "upper": self.upper, "uncertainty": self.uncertainty,
                "near_band": self.near_band, "near_basis": self.near_basis,
                "range": None if self.range is None else list(self.range), "n": len(self.points),
                "measured": len(self.measured), "not_measured": self.not_measured, "min": self.minimum,
                "max": self.maximum, "near": self.near, "near_fraction": self.near_fraction, "beyond": self.beyond,
                "decisions": self.decisions(), "points": [p.as_dict() for p in self.points]}


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeTrend:
    """The counted designs of one envelope version and every item's trend."""

    envelope_id: str
    version: str
    status: str
    sha256: tuple[str, ...]
    cases: tuple[str, ...]
    items: tuple[ItemTrend, ...]

    def as_dict(self) -> dict:
        return {"envelope_id": self.envelope_id, "version": self.version, "status": self.status,
                "sha256": list(self.sha256), "cases": list(self.cases), "items": [i.as_dict() for i in self.items]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Trends:
    """The outcome of :func:`envelope_trends`."""

    ledger: str
    selection: str
    envelope: str | None
    generated_at: str
    ledger_records: int
    counted: int
    groups: tuple[EnvelopeTrend, ...]
    excluded: tuple[Excluded, ...]

    @property
    def what(self) -> str:
        """What was counted, in words."""
        which = ("the newest approved (released) record of each case" if self.selection == "approved"
                 else "the newest record of each case, whatever its sign-off state")
        return which + (f", envelope {self.envelope}" if self.envelope else "")

    def as_dict(self) -> dict:
        return {"ledger": self.ledger, "selection": self.selection, "what": self.what, "envelope": self.envelope,
                "generated_at": self.generated_at, "ledger_records": self.ledger_records, "counted": self.counted,
                "near_fraction": NEAR_FRACTION, "groups": [g.as_dict() for g in self.groups],
                "excluded": [e.as_dict() for e in self.excluded]}


def envelope_trends(ledger: Ledger, *, selection: str = "approved", envelope: str | None = None,
                    now: _dt.datetime | None = None) -> Trends:
    """Where the counted designs sit inside their envelopes, from the ledger's records.

    Parameters
    ----------
    ledger : Ledger
        An open evidence ledger (read only: nothing is written).
    selection : {"approved", "latest"}
        Count each case's newest approved record (default) or its newest record.
    envelope : str, optional
        Only records of this envelope id.
    now : datetime, optional
        The generation time stamp (UTC); the current time when omitted.

    Returns
    -------
    Trends
        One :class:`EnvelopeTrend` per envelope version (sorted by id and version); the records
        left out because they do not verify, with the reasons.

    Raises
    ------
    LedgerError
        When the ledger's hash chain is broken.
    """
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).replace(microsecond=0)
    every = ledger_records(ledger)
    chosen = [r for r in select_records(every, selection) if envelope is None or r.envelope[0] == envelope]
    excluded = tuple(r.excluded() for r in chosen if not r.usable)
    usable = [r for r in chosen if r.usable]
    by_version: dict[tuple[str, str], list[LedgerRecord]] = {}
    for r in usable:
        env = r.record["envelope"]
        by_version.setdefault((env["id"], env["version"]), []).append(r)
    groups = tuple(_group(key, rs) for key, rs in sorted(by_version.items(),
                                                          key=lambda kv: (kv[0][0], version_key(kv[0][1]))))
    return Trends(ledger=str(ledger.path), selection=selection, envelope=envelope,
                  generated_at=now.isoformat().replace("+00:00", "Z"), ledger_records=len(every),
                  counted=len(usable), groups=groups, excluded=excluded)


def _group(key: tuple[str, str], records: list[LedgerRecord]) -> EnvelopeTrend:
    records = sorted(records, key=lambda r: (r.record["created_at"], r.entry.seq))
    items: dict[tuple[str, str, str], dict] = {}
    ranges: dict[str, list] = {}
    for r in records:
        for c in r.record.get("checks", []):
            k = ("parameter", c["parameter"], c["statistic"])
            items.setdefault(k, {"unit": c["unit"], "lower": c["min"], "upper": c["max"], "u": c["uncertainty"]})
            lo, hi = ranges.setdefault(c["parameter"], [None, None])
            ranges[c["parameter"]] = [c["min"] if c["min"] is not None else lo, c["max"] if c["max"] is not None else hi]
        for w in r.record.get("worst_case", []):
            k = ("metric", w["metric"], "worst case")
            side = {"lower": w["limit"], "upper": None} if w["sense"] == "min" else {"lower": None, "upper": w["limit"]}
            items.setdefault(k, {"unit": w["unit"], **side, "u": None})
    out = []
    for (kind, name, stat), meta in items.items():
        if kind == "parameter":
            lo, hi = ranges[name]
            if lo is not None and hi is not None:
                band, basis = NEAR_FRACTION * (hi - lo), f"10 % of the range {lo:g} to {hi:g} {meta['unit']}"
            else:
                limit = lo if lo is not None else hi
                band = NEAR_FRACTION * abs(limit) if limit else None
                basis = f"10 % of the limit {limit:g} {meta['unit']}" if limit else "no band: the limit is 0"
        else:
            limit = meta["lower"] if meta["lower"] is not None else meta["upper"]
            band = NEAR_FRACTION * abs(limit) if limit else None
            basis = f"10 % of the limit {limit:g} {meta['unit']}" if limit else "no band: the limit is 0"
        points = tuple(_point(r, kind, name, stat) for r in records)
        both = ranges.get(name) if kind == "parameter" and None not in ranges.get(name, [None]) else None
        out.append(ItemTrend(kind=kind, name=name, statistic=stat, unit=meta["unit"], lower=meta["lower"],
                             upper=meta["upper"], uncertainty=meta["u"], near_band=band, near_basis=basis,
                             points=points, range=tuple(both) if both else None))
    # in the order the records list their measurements (the pipeline's: mesh, then scan and request), then by name
    order = {m["parameter"]: n for n, m in enumerate(records[0].record.get("measurements", []))}
    out.sort(key=lambda i: (i.kind != "parameter", order.get(i.name, len(order)), i.name,
                            i.statistic not in ("value", "worst case"), i.statistic))
    env = records[0].record["envelope"]
    return EnvelopeTrend(envelope_id=key[0], version=key[1], status=env.get("status", ""),
                         sha256=tuple(sorted({r.record["envelope"]["sha256"] for r in records})),
                         cases=tuple(r.entry.case_id for r in records), items=tuple(out))


def _point(r: LedgerRecord, kind: str, name: str, stat: str) -> Point:
    rec = r.record
    base = {"case_id": rec["case_id"], "record_id": rec["record_id"], "created_at": rec["created_at"],
            "state": r.signoff.state}
    if kind == "parameter":
        c = next((c for c in rec.get("checks", []) if c["parameter"] == name and c["statistic"] == stat), None)
        if c is None:
            return Point(**base, value=None, margin=None, decision="not_evaluated",
                         reason=f"the record has no check of {name} ({stat})")
        value = c["value"]
        return Point(**base, value=value, margin=c["margin"] if value is not None else None,
                     decision=c["decision"], reason=c.get("reason") or "")
    w = next((w for w in rec.get("worst_case", []) if w["metric"] == name), None)
    if w is None:  # not evaluated: the record says why among its reasons
        why = next((x["detail"] for x in rec.get("reasons", []) if x.get("item") in (name, "worst_case")),
                   "the record has no worst case of this metric")
        return Point(**base, value=None, margin=None, decision="not_evaluated", reason=why)
    decision = "passed" if w["passed"] else "failed"
    return Point(**base, value=w["value"], margin=w["margin"], decision=decision)
