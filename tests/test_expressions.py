"""The safe expression evaluator: whitelist, refusal of unsafe code, vectorised evaluation."""

import pickle

import numpy as np
import pytest

from envelope_builder import continuous, expression_metric, write_envelope
from pmd_envelope.envelope import load_envelope
from pmd_envelope.errors import EnvelopeError
from pmd_envelope.expressions import MAX_NODES, Expression, ExpressionError


@pytest.mark.parametrize("src,symbol", [
    ("__import__('os').system('true')", None),
    ("__import__('os')", "__import__"),
    ("().__class__.__bases__[0].__subclasses__()", None),
    ("span.real", "real"),
    ("__builtins__", "__builtins__"),
    ("getattr(span, 'real')", "getattr"),
    ("eval('1')", "eval"),
    ("sqrt(*a)", None),
    ("sqrt(x=1)", None),
    ("sqrt(1, 2)", "sqrt"),
    ("where(a, b)", "where"),
    ("a and b", None),
    ("a < b < c", None),
    ("a == b", None),
    ("a // b", None),
    ("a % b", None),
    ("'text'", None),
    ("True", None),
    ("1e400", None),
    ("x := 1", None),
    ("{a: 1}", None),
])
def test_unsafe_or_unsupported_expressions_refused(src, symbol):
    with pytest.raises(ExpressionError) as info:
        Expression.parse(src)
    if symbol is not None:
        assert info.value.symbol == symbol


def test_size_and_nesting_limits():
    with pytest.raises(ExpressionError, match="syntax nodes"):
        Expression.parse(" + ".join(["a"] * (MAX_NODES // 2 + 10)))
    with pytest.raises(ExpressionError):
        Expression.parse("(" * 1000 + "a" + ")" * 1000)


def test_vectorised_and_closed_form():
    e = Expression.parse("where(t < 1, 2 * t, t ** 2) + max(t, 1.5) - abs(-t) + log(exp(t))")
    t = np.array([0.5, 1.0, 2.0])
    truth = np.where(t < 1, 2 * t, t**2) + np.maximum(t, 1.5) - t + t
    np.testing.assert_allclose(e.evaluate({"t": t}), truth, rtol=1e-15)
    assert Expression.parse("pi * r ** 2").evaluate({"r": 2.0}) == pytest.approx(4 * np.pi)


def test_overflow_gives_inf_not_an_exception():
    assert Expression.parse("10.0 ** 400").evaluate({}) == np.inf
    assert Expression.parse("x ** 400").evaluate({"x": 10.0}) == np.inf
    assert Expression.parse("1 / x").evaluate({"x": 0.0}) == np.inf


def test_error_pickles():
    e = pickle.loads(pickle.dumps(ExpressionError("unknown symbol 'q'", "q")))
    assert (e.reason, e.symbol) == ("unknown symbol 'q'", "q")


def test_expression_metric_unknown_symbol_names_file_and_symbol(tmp_path):
    p = write_envelope(tmp_path, continuous("x", 0.0, 1.0) + expression_metric("x * shrinkage", {"x": 0.0}))
    with pytest.raises(EnvelopeError) as info:
        load_envelope(p)
    assert str(info.value).startswith(f"{p} [metrics.m.expression]: unknown symbol 'shrinkage'")


def test_expression_metric_refuses_attribute_access(tmp_path):
    p = write_envelope(tmp_path, continuous("x", 0.0, 1.0) + expression_metric("x.__class__", {"x": 0.0}))
    with pytest.raises(EnvelopeError, match=r"\[metrics.m.expression\]: attribute access"):
        load_envelope(p)


def test_coupled_quantity_may_use_only_its_latent_and_constants(tmp_path):
    body = ('\n[variables.s]\nkind = "coupled"\nmin = -0.01\nmax = 0.01\nunit = "1"\nreference = "t"\n'
            '[variables.s.quantities]\nk = "1 + s * span"\n')
    p = write_envelope(tmp_path, body + expression_metric("k", {"s": 0.0}))
    with pytest.raises(EnvelopeError, match=r"\[variables.s.quantities.k\]: unknown symbol 'span'"):
        load_envelope(p)


@pytest.mark.parametrize("extra,message", [
    ('distribution = "normal"\nmean = 0.0', r"\[variables.x.sd\]: required key is missing"),
    ('distribution = "truncated_normal"\nmean = 5.0\nsd = 1.0', r"\[variables.x.mean\]: must lie within"),
    ('distribution = "uniform"\nsd = 1.0', r"\[variables.x.sd\]: a uniform distribution spans"),
    ('mean = 0.0', r"\[variables.x.mean\]: needs a distribution"),
    ('distribution = "lognormal"', r"'lognormal' is not one of"),
])
def test_distribution_keys_checked(tmp_path, extra, message):
    p = write_envelope(tmp_path, continuous("x", 0.0, 1.0, extra) + expression_metric("x", {"x": 0.0}))
    with pytest.raises(EnvelopeError, match=message):
        load_envelope(p)


def test_categorical_weights_must_be_probabilities(tmp_path):
    body = ('\n[variables.m]\nkind = "categorical"\nreference = "t"\nweights = { a = 0.5, b = 0.6 }\n'
            '[variables.m.levels.a]\nq = 1.0\n[variables.m.levels.b]\nq = 2.0\n')
    p = write_envelope(tmp_path, body + expression_metric("q", {"m": "a"}))
    with pytest.raises(EnvelopeError, match=r"\[variables.m.weights\]: must be probabilities"):
        load_envelope(p)
