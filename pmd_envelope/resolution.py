"""The stated resolution of every real number in an evidence record: 7 significant digits.

A measured or computed value carries float64 round-off that depends on the machine: numpy picks
SIMD routines for the CPU at run time (``arcsin``, ``sin``, sums), and OpenBLAS picks its
kernels the same way; neither promises the last bit. Metrology reports a value to the digits its
uncertainty supports, so the record states every real at a resolution far below any U and far
above that round-off, and the same inputs give the same record content on any machine.

Why 7 significant digits (relative resolution 1e-7 to 1e-6):

- far below U: the smallest U in the bundled envelopes is 0.05 mm on walls up to 6 mm (step
  <= 1e-6 mm, 5e4 x below U) and 0.1 mm on spans up to 250 mm (step 1e-4 mm, 1e3 x below U);
  loads of ~10^3 N are stated to 1e-3 N against limits of ~10^2 N;
- far above round-off: a float64 ulp is 1.1e-16 relative; sums over the ~10^5 faces of a mesh
  and ray hits on facet edges moved the area-weighted mean wall thickness of the sample cases by
  up to 5.8e-11 relative between numpy's SIMD dispatch levels (measured, see
  tests/test_determinism.py), 1e4 x below the step. At 10 digits that mean would have flipped
  its last digit in about one run pair in ten.

Residual risk: rounding cannot remove a difference, only make it rare. A value that lies within
its machine jitter of a rounding boundary (a half step) still rounds two ways: about 2e-9 per
value for 1-ulp jitter, about 1e-4 for the mean over a mesh. A quantity that is itself chaotic
(a ray that meets a facet edge and hits the neighbouring facet on another machine, which moved
16 of 32000 face thicknesses of a sample plate by up to 2.3e-6 mm) differs by more than the
step when it is the reported extreme; the record then differs by far less than U, and the
content hash shows it.

Rounding is to the nearest decimal with ``SIGNIFICANT_DIGITS`` digits, ties to even, on the exact
binary value (Python's correctly rounded ``format``; no libm or SIMD involved), so it is the same
on every machine. It is idempotent, monotone, keeps the sign, keeps zero (and writes -0.0 as 0.0),
and leaves integers (counts, seeds, face ids) and booleans alone.
"""

from __future__ import annotations

import decimal
import math

__all__ = ["SIGNIFICANT_DIGITS", "RESOLUTION_RULE", "at_resolution", "outward_at_resolution", "round_reals"]

#: Significant digits of every real in a record (see the module docstring for why 7).
SIGNIFICANT_DIGITS = 7
#: The rule in words, for the record's integrity block and the docs.
RESOLUTION_RULE = f"every real rounded to {SIGNIFICANT_DIGITS} significant digits (ties to even) before hashing"


def at_resolution(x: float) -> float:
    """``x`` rounded to :data:`SIGNIFICANT_DIGITS` significant digits.

    Non-finite values are returned unchanged (the canonical JSON refuses them).

    Examples
    --------
    >>> at_resolution(0.6557528257577663), at_resolution(0.6557528257577662)
    (0.6557528, 0.6557528)
    >>> at_resolution(1720.4523189)
    1720.452
    >>> at_resolution(-2.0679029056e-06)
    -2.067903e-06
    >>> at_resolution(-0.0)
    0.0
    """
    x = float(x)
    if not math.isfinite(x):
        return x
    return float(f"{x:.{SIGNIFICANT_DIGITS - 1}e}") + 0.0  # + 0.0 turns -0.0 into 0.0


def outward_at_resolution(x: float, direction: int) -> float:
    """``x`` stated at the resolution, rounded *away from the inside* of a bound.

    A proven lower bound (``direction`` -1) is rounded down and an upper bound (+1) up, so the
    stated number is still a bound; :func:`at_resolution` leaves the result unchanged (the
    record's rounding cannot move it back across the true value).

    Examples
    --------
    >>> outward_at_resolution(1.23456789, -1), outward_at_resolution(1.23456789, 1)
    (1.234567, 1.234568)
    >>> outward_at_resolution(-3.57012345, -1)
    -3.570124
    >>> outward_at_resolution(2.5, -1)
    2.5
    """
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x + 0.0
    stated = at_resolution(x)
    if (stated - x) * direction >= 0:
        return stated
    # one step of the last stated digit outward (exact decimal arithmetic on the exact binary value)
    d = decimal.Decimal(x)
    exp = d.adjusted() - (SIGNIFICANT_DIGITS - 1)
    q = d.quantize(decimal.Decimal(1).scaleb(exp),
                   rounding=decimal.ROUND_FLOOR if direction < 0 else decimal.ROUND_CEILING)
    out = float(q)
    # float(q) is the double nearest the decimal q; the record writes q back (7 digits), so the
    # stated number is q itself
    assert at_resolution(out) == out
    return out + 0.0


def round_reals(obj):
    """A copy of a JSON-like tree (dicts, lists, tuples) with every float at the stated resolution.

    Tuples become lists (as JSON writes them); ``bool``, ``int``, ``str`` and ``None`` are kept.

    Examples
    --------
    >>> round_reals({"a": [1, True, 0.1 + 0.2, None], "b": (2.00000000004, "x")})
    {'a': [1, True, 0.3, None], 'b': [2.0, 'x']}
    """
    if isinstance(obj, float):
        return at_resolution(obj)
    if isinstance(obj, dict):
        return {k: round_reals(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_reals(v) for v in obj]
    return obj
