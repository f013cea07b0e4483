"""Interval arithmetic over numpy arrays, with first-order interval Taylor forms (value and gradient).

Used to *prove* bounds on a performance model over a box (:mod:`pmd_envelope.worstcase.proof`):
an :class:`Interval` holds arrays ``lo`` and ``hi`` (one interval per box, all boxes at once) and
every operation returns an interval that contains every real result for real operands inside
its inputs. A :class:`Taylor` adds the interval enclosure of the gradient with respect to the
box's continuous variables (forward-mode differentiation), which proves monotonicity and gives
the mean-value form.

Why written here rather than taken from a library: ``pyinterval`` and ``mpmath.iv`` work on one
scalar interval at a time (a Python object per number: ~10^3 x slower than one numpy call over
thousands of boxes), and neither carries a gradient. The numpy primitives used here are few and
their accuracy is documented, so the rounding argument fits in a paragraph:

- ``+ - * /`` and ``sqrt`` are correctly rounded in IEEE 754 double precision (numpy calls the
  hardware), so moving each result outward by at least one ulp (:func:`_dn`, :func:`_up`) is a
  true outward rounding;
- ``exp``, ``log``, ``log10``, ``sin``, ``cos``, ``tan`` and ``power`` come from libm or numpy's
  SIMD loops, which promise a few ulps at most (numpy's AVX512F float64 loops: < 4 ulp); their
  results are widened by the stated margin :data:`LIBM_MARGIN` (2^-46 relative, i.e. at least
  64 ulps) plus one ulp, far above any documented error and far below any tolerance used.

Domain: as in IEEE 1788, a function is enclosed over the part of its argument where it is
defined (``sqrt([-1, 4]) = [0, 2]``, ``log([0, 1]) = [-inf, 0]``); the point evaluations of the
search refuse a model that is undefined anywhere they look (``SearchSpace.check_finite``). An
argument wholly outside the domain gives the whole real line (no claim). Division by an interval
that contains 0 gives the whole real line.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Interval", "Taylor", "FUNCTIONS", "LIBM_MARGIN", "constant"]

#: Relative widening [-] of results of libm / SIMD transcendental functions (see module docstring).
LIBM_MARGIN = 2.0**-46
_INF = np.inf


_ULP = 2.0**-52   # |x| * 2^-52 >= one ulp of x for every normal double x
_TINY = 2.0**-1074  # the smallest subnormal: covers results near zero
_MAX = np.finfo(float).max


# Outward rounding by arithmetic, not np.nextafter (4-5x slower on the arrays here): for a
# correctly rounded result x, d = |x| 2^-52 + 2^-1074 is at least one ulp of x, and x - d rounds
# to a double at or below the double before x, hence below the exact result. +inf - inf is NaN:
# fmin turns it into the largest double (a lower bound of an overflowing real result).
def _dn(x):
    return np.fmin(x - (np.abs(x) * _ULP + _TINY), _MAX)


def _up(x):
    return np.fmax(x + (np.abs(x) * _ULP + _TINY), -_MAX)


def _wdn(x):
    return np.fmin(x - (np.abs(x) * (LIBM_MARGIN + _ULP) + _TINY), _MAX)


def _wup(x):
    return np.fmax(x + (np.abs(x) * (LIBM_MARGIN + _ULP) + _TINY), -_MAX)


class Interval:
    """Arrays of closed intervals ``[lo, hi]`` (broadcastable shapes), outward rounded."""

    __slots__ = ("lo", "hi")
    __array_ufunc__ = None  # numpy scalars defer to our reflected operators

    def __init__(self, lo, hi=None):
        self.lo = np.asarray(lo, dtype=float)
        self.hi = self.lo if hi is None else np.asarray(hi, dtype=float)

    @staticmethod
    def of(x) -> "Interval":
        return x if isinstance(x, Interval) else Interval(x)

    @staticmethod
    def entire(shape=()) -> "Interval":
        return Interval(np.full(shape, -_INF), np.full(shape, _INF))

    def __repr__(self) -> str:
        return f"Interval({self.lo!r}, {self.hi!r})"

    @property
    def thin(self) -> bool:
        return bool(np.all(self.lo == self.hi))

    def contains_zero(self):
        return (self.lo <= 0) & (self.hi >= 0)

    def __neg__(self):
        return Interval(-self.hi, -self.lo)

    def __pos__(self):
        return self

    def __add__(self, o):
        o = Interval.of(o)
        return Interval(_dn(self.lo + o.lo), _up(self.hi + o.hi))

    __radd__ = __add__

    def __sub__(self, o):
        o = Interval.of(o)
        return Interval(_dn(self.lo - o.hi), _up(self.hi - o.lo))

    def __rsub__(self, o):
        return Interval.of(o) - self

    def __mul__(self, o):
        o = Interval.of(o)
        for a, c in ((self, o), (o, self)):
            if c.lo.ndim == 0 and c.lo == c.hi:  # times one number: two products, no case analysis
                k = float(c.lo)
                if k == 0.0:
                    return Interval(np.zeros(np.broadcast(a.lo, a.hi).shape))
                lo, hi = (a.lo * k, a.hi * k) if k > 0 else (a.hi * k, a.lo * k)
                return Interval(_dn(lo), _up(hi))
        with np.errstate(invalid="ignore"):
            p = (self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi)
        # 0 x inf is NaN: the real product of 0 and any real is 0 (an infinite end is not a real),
        # and when an end is 0 the product with the other operand's other end, kept by fmin/fmax, is
        # a real product at least as extreme (all four NaN only for [0, 0] x [-inf, inf]: 0)
        lo = np.fmin(np.fmin(p[0], p[1]), np.fmin(p[2], p[3]))
        hi = np.fmax(np.fmax(p[0], p[1]), np.fmax(p[2], p[3]))
        return Interval(np.where(np.isnan(lo), 0.0, _dn(lo)), np.where(np.isnan(hi), 0.0, _up(hi)))

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = Interval.of(o)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = (self.lo / o.lo, self.lo / o.hi, self.hi / o.lo, self.hi / o.hi)
        bad = o.contains_zero() | np.any([np.isnan(x) for x in q], axis=0)
        lo = _dn(np.minimum(np.minimum(q[0], q[1]), np.minimum(q[2], q[3])))
        hi = _up(np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3])))
        return Interval(np.where(bad, -_INF, lo), np.where(bad, _INF, hi))

    def __rtruediv__(self, o):
        return Interval.of(o) / self

    def __pow__(self, o):
        return _power(self, Interval.of(o))

    def __rpow__(self, o):
        return _power(Interval.of(o), self)

    def hull(self, o) -> "Interval":
        o = Interval.of(o)
        return Interval(np.minimum(self.lo, o.lo), np.maximum(self.hi, o.hi))


def _constant_exponent(y: Interval):
    """The exponent's value when it is one known number, else None."""
    if y.lo.ndim == 0 and float(y.lo) == float(y.hi):
        return float(y.lo)
    return None


def _power(x: Interval, y: Interval) -> Interval:
    n = _constant_exponent(y)
    if n is not None and n == int(n) and abs(n) < 2**31:
        n = int(n)
        if n == 0:
            return Interval(np.ones(np.broadcast(x.lo, x.hi).shape))
        if n < 0:
            return Interval(1.0) / _power(x, Interval(float(-n)))
        if n == 1:
            return x
        with np.errstate(over="ignore"):
            a, b = np.power(x.lo, n), np.power(x.hi, n)
        if n % 2:
            return Interval(_wdn(a), _wup(b))
        lo = np.where(x.lo >= 0, a, np.where(x.hi <= 0, b, 0.0))
        hi = np.where(x.lo >= 0, b, np.where(x.hi <= 0, a, np.maximum(a, b)))
        return Interval(np.maximum(_wdn(lo), 0.0), _wup(hi))
    if n is not None:  # real exponent: defined for x >= 0 (numpy gives NaN below)
        xl = np.maximum(x.lo, 0.0)
        with np.errstate(over="ignore", divide="ignore"):
            a, b = np.power(xl, n), np.power(np.maximum(x.hi, 0.0), n)
        lo, hi = (a, b) if n > 0 else (b, a)
        out = Interval(np.maximum(_wdn(lo), 0.0), _wup(hi))
        return _outside(out, x.hi < 0)
    # both vary: x^y = exp(y log x) for x > 0
    out = exp(y * log(x))
    return _outside(out, x.lo <= 0)


def _outside(out: Interval, mask) -> Interval:
    """The whole real line where ``mask`` (argument outside the domain: no claim)."""
    if not np.any(mask):
        return out
    return Interval(np.where(mask, -_INF, out.lo), np.where(mask, _INF, out.hi))


def exp(x: Interval) -> Interval:
    with np.errstate(over="ignore"):
        return Interval(np.maximum(_wdn(np.exp(x.lo)), 0.0), _wup(np.exp(x.hi)))


def log(x: Interval) -> Interval:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = Interval(_wdn(np.log(np.maximum(x.lo, 0.0))), _wup(np.log(np.maximum(x.hi, 0.0))))
    return _outside(out, x.hi <= 0)


def log10(x: Interval) -> Interval:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = Interval(_wdn(np.log10(np.maximum(x.lo, 0.0))), _wup(np.log10(np.maximum(x.hi, 0.0))))
    return _outside(out, x.hi <= 0)


def sqrt(x: Interval) -> Interval:
    out = Interval(_dn(np.sqrt(np.maximum(x.lo, 0.0))).clip(0.0), _up(np.sqrt(np.maximum(x.hi, 0.0))))
    return _outside(out, x.hi < 0)


def _contains_point(x: Interval, offset: float, period: float):
    """Whether [lo, hi] may contain offset + k * period for an integer k (conservative: a point
    within rounding of an end counts as inside)."""
    with np.errstate(invalid="ignore"):
        a = (x.lo - offset) / period
        b = (x.hi - offset) / period
        slack = 1e-9 * (1 + np.abs(a) + np.abs(b))
        return np.floor(b + slack) >= np.ceil(a - slack)


def cos(x: Interval) -> Interval:
    a, b = np.cos(x.lo), np.cos(x.hi)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    hi = np.where(_contains_point(x, 0.0, 2 * np.pi), 1.0, _wup(hi))
    lo = np.where(_contains_point(x, np.pi, 2 * np.pi), -1.0, _wdn(lo))
    wide = ~np.isfinite(x.lo) | ~np.isfinite(x.hi) | (x.hi - x.lo >= 2 * np.pi)
    return Interval(np.where(wide, -1.0, np.maximum(lo, -1.0)), np.where(wide, 1.0, np.minimum(hi, 1.0)))


def sin(x: Interval) -> Interval:
    a, b = np.sin(x.lo), np.sin(x.hi)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    hi = np.where(_contains_point(x, np.pi / 2, 2 * np.pi), 1.0, _wup(hi))
    lo = np.where(_contains_point(x, -np.pi / 2, 2 * np.pi), -1.0, _wdn(lo))
    wide = ~np.isfinite(x.lo) | ~np.isfinite(x.hi) | (x.hi - x.lo >= 2 * np.pi)
    return Interval(np.where(wide, -1.0, np.maximum(lo, -1.0)), np.where(wide, 1.0, np.minimum(hi, 1.0)))


def tan(x: Interval) -> Interval:
    pole = _contains_point(x, np.pi / 2, np.pi) | ~np.isfinite(x.lo) | ~np.isfinite(x.hi) | (x.hi - x.lo >= np.pi)
    return _outside(Interval(_wdn(np.tan(x.lo)), _wup(np.tan(x.hi))), pole)


def fabs(x: Interval) -> Interval:
    lo = np.where(x.lo >= 0, x.lo, np.where(x.hi <= 0, -x.hi, 0.0))
    return Interval(lo, np.maximum(np.abs(x.lo), np.abs(x.hi)))


def minimum(a: Interval, b: Interval) -> Interval:
    return Interval(np.minimum(a.lo, b.lo), np.minimum(a.hi, b.hi))


def maximum(a: Interval, b: Interval) -> Interval:
    return Interval(np.maximum(a.lo, b.lo), np.maximum(a.hi, b.hi))


# numpy's radians/degrees multiply by the double nearest pi/180 (resp. 180/pi); the interval
# holds the exact factor
_RAD = Interval(_dn(np.pi / 180), _up(np.pi / 180))
_DEG = Interval(_dn(180 / np.pi), _up(180 / np.pi))
#: pi as the expressions' constant ``pi``: np.pi is the double nearest pi
PI = Interval(_dn(np.pi), _up(np.pi))


class Taylor:
    """A value enclosure with the enclosure of its gradient over the continuous variables.

    ``grad`` is an :class:`Interval` whose first axis runs over the variables (shape (m, n) for n
    boxes), or None for a quantity that depends on no variable. A function that is not
    continuous where its argument's interval straddles a switch (``where``, comparisons) gets
    the whole real line as gradient there: no monotonicity can be claimed across a jump.
    """

    __slots__ = ("v", "grad")
    __array_ufunc__ = None

    def __init__(self, v: Interval, grad: Interval | None = None):
        self.v = v
        self.grad = grad

    def __repr__(self) -> str:
        return f"Taylor({self.v!r}, grad={self.grad!r})"

    @staticmethod
    def of(x) -> "Taylor":
        if isinstance(x, Taylor):
            return x
        return Taylor(Interval.of(x))

    def _chain(self, dv: Interval) -> Interval | None:
        """Gradient of f(self) given f'(self) enclosed by ``dv``."""
        return None if self.grad is None else self.grad * dv

    def __neg__(self):
        return Taylor(-self.v, None if self.grad is None else -self.grad)

    def __pos__(self):
        return self

    def __add__(self, o):
        o = Taylor.of(o)
        return Taylor(self.v + o.v, _gsum(self.grad, o.grad))

    __radd__ = __add__

    def __sub__(self, o):
        o = Taylor.of(o)
        return Taylor(self.v - o.v, _gsum(self.grad, None if o.grad is None else -o.grad))

    def __rsub__(self, o):
        return Taylor.of(o) - self

    def __mul__(self, o):
        o = Taylor.of(o)
        g = _gsum(None if self.grad is None else self.grad * o.v, None if o.grad is None else o.grad * self.v)
        return Taylor(self.v * o.v, g)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = Taylor.of(o)
        v = self.v / o.v
        if self.grad is None and o.grad is None:
            return Taylor(v)
        # (a/b)' = (a' - (a/b) b') / b
        num = _gsum(self.grad, None if o.grad is None else -(o.grad * v))
        return Taylor(v, num / o.v)

    def __rtruediv__(self, o):
        return Taylor.of(o) / self

    def __pow__(self, o):
        o = Taylor.of(o)
        v = self.v ** o.v
        if o.grad is None:
            n = _constant_exponent(o.v)
            if self.grad is None:
                return Taylor(v)
            if n is not None:
                d = Interval(0.0) if n == 0 else Interval(n) * self.v ** Interval(n - 1)
            else:
                d = o.v * (v / self.v)
            return Taylor(v, self._chain(d))
        # x^y = exp(y log x): d = x^y (y' log x + y x' / x)
        lx = log(self.v)
        g = _gsum(o.grad * lx, None if self.grad is None else self.grad * (o.v / self.v))
        return Taylor(v, g * v)

    def __rpow__(self, o):
        return Taylor.of(o) ** self

    def _compare(self, o, op):
        """0/1 interval of a comparison: [1, 1] certainly true, [0, 0] certainly false, else [0, 1]."""
        o = Taylor.of(o)
        a, b = self.v, o.v
        if op in ("<", "<="):
            a, b = b, a  # a > b or a >= b
        strict = op in ("<", ">")
        true = (a.lo > b.hi) if strict else (a.lo >= b.hi)
        false = (a.hi <= b.lo) if strict else (a.hi < b.lo)
        lo = np.where(true, 1.0, 0.0)
        hi = np.where(false, 0.0, 1.0)
        return _step(Interval(lo, hi), self, o)

    def __lt__(self, o):
        return self._compare(o, "<")

    def __le__(self, o):
        return self._compare(o, "<=")

    def __gt__(self, o):
        return self._compare(o, ">")

    def __ge__(self, o):
        return self._compare(o, ">=")


def _gsum(a: Interval | None, b: Interval | None) -> Interval | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _entire_where(grad: Interval | None, mask, like: Taylor) -> Interval | None:
    """``grad`` with every variable's derivative made the whole line where ``mask``."""
    if not np.any(mask):
        return grad
    base = grad if grad is not None else Interval(np.zeros((0,)))
    if grad is None:
        return None  # depends on no variable: a jump in a constant is no jump in x
    return Interval(np.where(mask, -_INF, base.lo), np.where(mask, _INF, base.hi))


def _step(v: Interval, *args: Taylor) -> Taylor:
    """A 0/1 result: zero gradient where decided, the whole line where it may jump."""
    grads = [a.grad for a in args if a.grad is not None]
    if not grads:
        return Taylor(v)
    g = grads[0] * Interval(0.0)
    for h in grads[1:]:
        g = g + h * Interval(0.0)
    undecided = v.lo != v.hi
    return Taylor(v, _entire_where(g, undecided, args[0]))


def _unary(f, df):
    def g(x):
        x = Taylor.of(x)
        v = f(x.v)
        return Taylor(v, None if x.grad is None else x._chain(df(x.v, v)))
    return g


def _t_abs(x):
    x = Taylor.of(x)
    v = fabs(x.v)
    if x.grad is None:
        return Taylor(v)
    sign = Interval(np.where(x.v.lo >= 0, 1.0, -1.0), np.where(x.v.hi <= 0, -1.0, 1.0))
    return Taylor(v, x.grad * sign)


def _t_minmax(pick, first_wins):
    def g(a, b):
        a, b = Taylor.of(a), Taylor.of(b)
        v = pick(a.v, b.v)
        if a.grad is None and b.grad is None:
            return Taylor(v)
        ga = a.grad if a.grad is not None else b.grad * Interval(0.0)
        gb = b.grad if b.grad is not None else a.grad * Interval(0.0)
        only_a, only_b = first_wins(a.v, b.v), first_wins(b.v, a.v)
        # min and max are continuous: where either may be the result, the hull of both gradients
        h = ga.hull(gb)
        return Taylor(v, Interval(np.where(only_a, ga.lo, np.where(only_b, gb.lo, h.lo)),
                                  np.where(only_a, ga.hi, np.where(only_b, gb.hi, h.hi))))
    return g


def _t_where(c, a, b):
    c, a, b = Taylor.of(c), Taylor.of(a), Taylor.of(b)
    true = ~c.v.contains_zero()            # nonzero everywhere: the first branch
    false = (c.v.lo == 0) & (c.v.hi == 0)  # zero everywhere: the second
    h = a.v.hull(b.v)
    v = Interval(np.where(true, a.v.lo, np.where(false, b.v.lo, h.lo)),
                 np.where(true, a.v.hi, np.where(false, b.v.hi, h.hi)))
    if a.grad is None and b.grad is None and c.grad is None:
        return Taylor(v)
    zero = next(g for g in (a.grad, b.grad, c.grad) if g is not None) * Interval(0.0)
    ga = a.grad if a.grad is not None else zero
    gb = b.grad if b.grad is not None else zero
    gh = ga.hull(gb)
    g = Interval(np.where(true, ga.lo, np.where(false, gb.lo, gh.lo)),
                 np.where(true, ga.hi, np.where(false, gb.hi, gh.hi)))
    undecided = ~(true | false)
    if c.grad is None:
        # the branch is fixed by constants per box; an undecided one cannot happen without a
        # variable, but stay safe
        return Taylor(v, _entire_where(g, undecided, a))
    return Taylor(v, _entire_where(g, undecided, a))


def _one(_x, _v):
    return Interval(1.0)


FUNCTIONS = {
    "sqrt": _unary(sqrt, lambda x, v: Interval(0.5) / v),
    "log": _unary(log, lambda x, v: Interval(1.0) / x),
    "log10": _unary(log10, lambda x, v: Interval(1.0) / (x * log(Interval(10.0)))),
    "exp": _unary(exp, lambda x, v: v),
    "sin": _unary(sin, lambda x, v: cos(x)),
    "cos": _unary(cos, lambda x, v: -sin(x)),
    "tan": _unary(tan, lambda x, v: Interval(1.0) + v * v),
    "abs": _t_abs,
    "min": _t_minmax(minimum, lambda a, b: a.hi <= b.lo),
    "max": _t_minmax(maximum, lambda a, b: a.lo >= b.hi),
    "where": _t_where,
    "radians": _unary(lambda x: x * _RAD, lambda x, v: _RAD),
    "degrees": _unary(lambda x: x * _DEG, lambda x, v: _DEG),
}
CONSTANTS = {"pi": Taylor(PI)}


def constant(x) -> Taylor:
    """A number (or array of numbers) as an exact thin enclosure with no gradient."""
    return Taylor(Interval(x))
