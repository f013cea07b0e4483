"""How numbers and units read in the report.

Rules (a reviewer reads these on paper, at 100 %):

- Units as a reader writes them: none for counts and fractions (the record's unit ``"1"``),
  ``mm³``, ``mm²``, ``°``; days spelt ``d``.
- A measured value is stated to the decimal place of its expanded uncertainty U given to two
  significant digits (JCGM 100:2008, GUM §7.2.6: "the numerical values of the estimate and its
  uncertainty should not be given with an excessive number of digits"), and its margin to the
  same decimal place, so value, U and margin line up: ``1.079 ± 0.050 mm, margin 0.079 mm``.
- A value with U = 0 (a header value, a date difference) is stated as recorded.
- Anything else: four significant digits, never in exponent notation between 1e-4 and 1e7.
"""

from __future__ import annotations

import math

__all__ = ["unit_text", "sig", "decimals_for", "fixed", "quantity", "probability", "number"]

_UNITS = {"1": "", "": "", "mm^3": "mm³", "mm^2": "mm²", "deg": "°", "degree": "°", "degrees": "°"}


def unit_text(unit: str | None) -> str:
    """The unit as printed (empty for counts and fractions)."""
    if unit is None:
        return ""
    return _UNITS.get(unit, unit)


def with_unit(text: str, unit: str | None) -> str:
    u = unit_text(unit)
    if not u:
        return text
    return f"{text}{u}" if u == "°" else f"{text} {u}"


def sig(x: float, n: int = 4) -> str:
    """``x`` to ``n`` significant digits, in positional notation when 1e-4 <= |x| < 1e7."""
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e7):
        return f"{int(x)}"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag < -4 or mag >= 7:
        return f"{x:.{n - 1}e}"
    dec = max(0, n - 1 - mag)
    text = f"{x:.{dec}f}"
    if dec and float(f"{x:.{n}g}") == x:  # recorded with fewer digits (0.625, 0.45): as recorded
        text = text.rstrip("0").rstrip(".")
    return text


def decimals_for(uncertainty: float | None, value: float | None) -> int:
    """Decimal places to state a value with expanded uncertainty ``uncertainty``.

    U > 0: the decimal place of U's second significant digit. U = 0 or absent: the places the
    recorded value needs (up to 6), so an exact header value is printed as recorded.
    """
    if uncertainty:
        return max(0, 1 - math.floor(math.log10(abs(uncertainty))))
    if value is None or float(value).is_integer():
        return 0
    text = f"{abs(value):.7g}"
    if "e" in text:
        return 6
    return min(6, len(text.split(".")[1]) if "." in text else 0)


def fixed(x: float | None, dec: int) -> str:
    if x is None:
        return "-"
    text = f"{x:.{dec}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def quantity(x, unit: str | None, dec: int | None = None) -> str:
    """A number with its unit; ``dec`` decimals when given, else :func:`sig`."""
    if x is None:
        return "-"
    if unit == "1" and isinstance(x, (int, float)) and float(x).is_integer() and dec is None:
        return str(int(x))
    return with_unit(sig(x) if dec is None else fixed(x, dec), unit)


def probability(p: float) -> str:
    """A probability: two significant digits; exponent form (``3.0 × 10⁻⁵``) below 0.001."""
    if p == 0:
        return "0"
    if abs(p) >= 1e-3:
        return sig(p, 2)
    mant, exp = f"{p:.1e}".split("e")
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"{mant} × 10{str(int(exp)).translate(sup)}"


def number(x) -> str:
    """A number as a count (integer) or with four significant digits; strings as they are."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e7:
        return str(int(x))
    return sig(x) if isinstance(x, (int, float)) else str(x)


def trim(x: float) -> str:
    """A setting or level as written (``-0.1``, ``0.25``): up to 6 significant digits, no padding."""
    return f"{x:.6g}"
