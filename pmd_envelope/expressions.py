"""Safe arithmetic expressions over named quantities, vectorised over numpy arrays.

Envelope files declare how a performance model's inputs derive from measured parameters,
manufacturing variables and constants (``"wall_thickness + thickness_deviation"``). They are
parsed with :mod:`ast` and evaluated by walking the tree: no ``eval``, no attribute access, no
subscripts, no comprehensions, only the whitelisted functions below. Python's ``eval`` with
empty builtins is not a sandbox (attribute chains reach ``__subclasses__``), hence the walker.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass

import numpy as np

__all__ = ["Expression", "ExpressionError", "FUNCTIONS"]

#: Whitelisted functions, all elementwise on numpy arrays.
FUNCTIONS = {
    "sqrt": np.sqrt, "log": np.log, "log10": np.log10, "exp": np.exp,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "abs": np.abs,
    "min": np.minimum, "max": np.maximum, "where": np.where,
    "radians": np.radians, "degrees": np.degrees,
}
#: Number of arguments each function takes (``min``/``max`` are numpy's elementwise two-argument forms).
_ARITY = {name: 1 for name in FUNCTIONS}
_ARITY.update({"min": 2, "max": 2, "where": 3})
_CONSTANTS = {"pi": np.pi}
#: Largest parse tree accepted [nodes]. A performance-model expression has tens of nodes; the cap
#: keeps a hostile file from costing time or recursion depth in the tree walker.
MAX_NODES = 500
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


class ExpressionError(ValueError):
    """An expression is not allowed or names an unknown symbol (``symbol`` is set then)."""

    def __init__(self, reason: str, symbol: str | None = None):
        self.reason = reason
        self.symbol = symbol
        super().__init__(reason, symbol)

    def __reduce__(self):
        return (type(self), (self.reason, self.symbol))

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, validated expression.

    Examples
    --------
    >>> e = Expression.parse("wall_thickness + dt")
    >>> sorted(e.symbols)
    ['dt', 'wall_thickness']
    >>> float(e.evaluate({"wall_thickness": 2.0, "dt": -0.1}))
    1.9
    """

    source: str
    tree: ast.Expression
    symbols: frozenset[str]

    @classmethod
    def parse(cls, source: str) -> "Expression":
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("expression must be a non-empty string")
        if len(source) > 2000:
            raise ExpressionError("expression longer than 2000 characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"not a valid expression ({exc.msg})") from None
        except (RecursionError, MemoryError):
            raise ExpressionError("expression is nested too deeply") from None
        nodes = list(ast.walk(tree))
        if len(nodes) > MAX_NODES:
            raise ExpressionError(f"expression has {len(nodes)} syntax nodes; at most {MAX_NODES} are allowed")
        symbols: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                    raise ExpressionError(f"function '{name}' is not allowed; allowed: {', '.join(sorted(FUNCTIONS))}", name)
                if node.keywords:
                    raise ExpressionError("keyword arguments are not allowed")
                if len(node.args) != _ARITY[node.func.id]:
                    raise ExpressionError(f"function '{node.func.id}' takes {_ARITY[node.func.id]} argument(s), "
                                          f"got {len(node.args)}", node.func.id)
            elif isinstance(node, ast.Name):
                if node.id.startswith("_"):
                    raise ExpressionError(f"name '{node.id}' is not allowed", node.id)
            elif isinstance(node, ast.Constant):
                if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                    raise ExpressionError(f"constant {node.value!r} is not a number")
                if not np.isfinite(float(node.value)):
                    raise ExpressionError(f"constant {node.value!r} is not finite")
            elif isinstance(node, ast.BinOp):
                if type(node.op) not in _BINOPS:
                    raise ExpressionError(f"operator '{type(node.op).__name__}' is not allowed")
            elif isinstance(node, ast.UnaryOp):
                if type(node.op) not in _UNARY:
                    raise ExpressionError(f"operator '{type(node.op).__name__}' is not allowed")
            elif isinstance(node, ast.Compare):
                if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                    raise ExpressionError("only single comparisons <, <=, >, >= are allowed")
            elif isinstance(node, ast.Attribute):
                raise ExpressionError(f"attribute access '{ast.unparse(node)}' is not allowed", node.attr)
            elif not isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop, ast.cmpop)):
                raise ExpressionError(f"'{type(node).__name__}' is not allowed in an expression")
        for node in nodes:
            if isinstance(node, ast.Name) and not _is_function_name(tree, node):
                if node.id not in _CONSTANTS:
                    symbols.add(node.id)
        return cls(source=source, tree=tree, symbols=frozenset(symbols))

    def evaluate(self, values: dict):
        """Evaluate with ``values`` (numbers or broadcastable numpy arrays)."""
        missing = sorted(self.symbols - set(values))
        if missing:
            raise ExpressionError(f"unknown symbol '{missing[0]}' in '{self.source}'", missing[0])
        with np.errstate(all="ignore"):
            return _eval(self.tree.body, values)

    def enclose(self, values: dict):
        """Interval enclosure of the expression (with its gradient) over boxes.

        ``values`` maps each symbol to a :class:`pmd_envelope.intervals.Taylor` (or a number,
        taken exactly). Constants in the text become exact enclosures of the double they parse
        to; ``pi`` encloses the real pi. Returns a ``Taylor`` whose value contains every real
        value of the expression for real symbol values inside their enclosures, and whose
        gradient contains every partial derivative (see :mod:`pmd_envelope.intervals`).
        """
        from pmd_envelope import intervals

        missing = sorted(self.symbols - set(values))
        if missing:
            raise ExpressionError(f"unknown symbol '{missing[0]}' in '{self.source}'", missing[0])
        with np.errstate(all="ignore"):
            return _enclose(self.tree.body, values, intervals)


def _enclose(node: ast.AST, values: dict, iv):
    if isinstance(node, ast.Constant):
        return iv.constant(float(node.value))
    if isinstance(node, ast.Name):
        v = values[node.id] if node.id in values else iv.CONSTANTS[node.id]
        return v if isinstance(v, iv.Taylor) else iv.constant(v)
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_enclose(node.left, values, iv), _enclose(node.right, values, iv))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_enclose(node.operand, values, iv))
    if isinstance(node, ast.Compare):
        return _COMPARE[type(node.ops[0])](_enclose(node.left, values, iv),
                                           _enclose(node.comparators[0], values, iv))
    if isinstance(node, ast.Call):
        return iv.FUNCTIONS[node.func.id](*(_enclose(a, values, iv) for a in node.args))
    raise ExpressionError(f"'{type(node).__name__}' is not allowed")  # unreachable after parse


def _is_function_name(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def _eval(node: ast.AST, values: dict):
    if isinstance(node, ast.Constant):
        # numpy scalars, not Python floats: 10.0 ** 400 must give inf (then caught as a non-finite
        # model value), not raise OverflowError from inside the walker.
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        v = values[node.id] if node.id in values else _CONSTANTS[node.id]
        return np.float64(v) if isinstance(v, (int, float)) else v
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))
    if isinstance(node, ast.Compare):
        # 1.0 / 0.0, not numpy booleans: numpy refuses '-' and '-x' on booleans (TypeError), and a
        # comparison is an ordinary term here ("-(a < b)", "(a < b) - (b < c)"); found by hypothesis
        return np.multiply(_COMPARE[type(node.ops[0])](_eval(node.left, values), _eval(node.comparators[0], values)), 1.0)
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id](*(_eval(a, values) for a in node.args))
    raise ExpressionError(f"'{type(node).__name__}' is not allowed")  # unreachable after parse
