"""Device families: the parameters one family is judged by, beyond the ones every design has.

Every design gets the common measurements (:mod:`pmd_envelope.measure.core`: wall thickness,
extents, holes, overhang, curvature, fit). A family adds its own: a mandible plate is judged by its
bar section and screw-hole pattern, a cutting guide by its saw slot. Each family module
(``pmd_envelope/families/<family>.py``) declares :class:`FamilyMeasurer` records; a measurer runs
when the envelope names one of its parameters, on a mesh that passed the closed-solid part of
the gate, and returns one :class:`~pmd_envelope.measure.records.Measurement` per parameter it
declares (``value`` None with the reason when a parameter does not apply). Its witnesses say
where each value was measured; the report draws them.

A family module imports nothing above :mod:`pmd_envelope.measure` (no envelope, no pipeline), so
:mod:`pmd_envelope.envelope` can read the parameter names and methods from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pmd_envelope.geometry import MeshData
from pmd_envelope.measure.records import Measurement
from pmd_envelope.settings import Settings

__all__ = ["FamilyContext", "FamilyMeasurer", "MEASURERS", "family_methods", "measurers_for", "run_measurers"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyContext:
    """What a family measurer may use beside the mesh.

    ``plan`` is the case's ``[plan]`` table (for example a knee guide's planned resection plane),
    empty when the case gives none or when a mesh is measured without a case; a measurer that
    needs it returns its parameter with a reason instead of guessing.
    """

    settings: Settings
    plan: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    bodies: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyMeasurer:
    """A measurement of one device family.

    Parameters
    ----------
    family : str
        The envelope's ``device_family`` this measurer was made for (documentation; a measurer
        runs whenever an envelope names one of its parameters).
    name : str
        Name of the measurement (e.g. ``bar_section``).
    methods : Mapping[str, str]
        Each parameter it measures -> the method name an envelope states for it.
    function : callable
        ``function(mesh, context) -> tuple[Measurement, ...]``, one per parameter in ``methods``.
    """

    family: str
    name: str
    methods: Mapping[str, str]
    function: Callable[[MeshData, FamilyContext], tuple[Measurement, ...]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", MappingProxyType(dict(self.methods)))

    def measure(self, mesh: MeshData, context: FamilyContext) -> tuple[Measurement, ...]:
        out = tuple(self.function(mesh, context))
        got = [m.parameter for m in out]
        if sorted(got) != sorted(self.methods):
            raise RuntimeError(f"family measurer {self.name} returned {got}, declared {sorted(self.methods)}")
        return out


def _collect() -> tuple[FamilyMeasurer, ...]:
    from pmd_envelope.families import registry

    found = registry.MEASURERS
    seen: dict[str, str] = {}
    for m in found:
        for p in m.methods:
            if p in seen:
                raise RuntimeError(f"parameter {p} is measured by both {seen[p]} and {m.name}")
            seen[p] = m.name
    return found


#: Every family measurer (the modules are listed in :mod:`pmd_envelope.families.registry`).
MEASURERS: tuple[FamilyMeasurer, ...] = _collect()


def family_methods() -> dict[str, tuple[str, ...]]:
    """Each family parameter -> the methods an envelope may name for it."""
    return {p: (method,) for m in MEASURERS for p, method in m.methods.items()}


def measurers_for(parameters) -> tuple[FamilyMeasurer, ...]:
    """The measurers that measure at least one of ``parameters``."""
    wanted = set(parameters)
    return tuple(m for m in MEASURERS if wanted & set(m.methods))


def run_measurers(mesh: MeshData, parameters, context: FamilyContext) -> tuple[Measurement, ...]:
    """Run every measurer needed for ``parameters``; each measures all of its parameters."""
    return tuple(x for m in measurers_for(parameters) for x in m.measure(mesh, context))
