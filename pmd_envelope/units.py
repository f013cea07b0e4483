"""Length units at file boundaries. Internally everything is mm, mm^2, mm^3, deg, N, MPa."""

from __future__ import annotations

__all__ = ["LENGTH_UNITS_TO_MM", "to_mm_factor"]

#: Declared length units accepted for meshes, and their factor to millimetres.
LENGTH_UNITS_TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, "um": 1e-3}


def to_mm_factor(unit: str) -> float:
    """Factor that converts a declared length unit to millimetres.

    Raises ``KeyError`` for an unknown unit; callers turn it into a :class:`UnitError` that
    names their file.
    """
    return LENGTH_UNITS_TO_MM[unit]
