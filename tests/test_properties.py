"""Property-based tests (hypothesis): the expression evaluator, the TOML loaders and canonical JSON
either give an answer or raise the project's own error, never another exception.

Derandomized with a bounded number of examples, so the suite is deterministic and short; a longer
randomized run is ``PMD_PROPERTY_EXAMPLES=5000 python -m pytest tests/test_properties.py``.
"""

import json
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CRANIAL_ENVELOPE, SAMPLES
from pmd_envelope.case import load_case
from pmd_envelope.envelope import load_envelope
from pmd_envelope.errors import PmdEnvelopeError
from pmd_envelope.expressions import FUNCTIONS, Expression, ExpressionError, _ARITY
from pmd_envelope.record import canonical_json

EXAMPLES = int(os.environ.get("PMD_PROPERTY_EXAMPLES", "150"))
RANDOMIZED = "PMD_PROPERTY_EXAMPLES" in os.environ
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # large reprs of trees
PROPS = settings(max_examples=EXAMPLES, derandomize=not RANDOMIZED, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SYMBOLS = ("a", "b", "c")
numbers = st.one_of(st.integers(-10**6, 10**6).map(str),
                    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
                    st.sampled_from(["0", "0.0", "1e308", "1e-320", "pi"]))


def _node(children):
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    unary = st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: f"({t[0]}{t[1]})")
    compare = st.tuples(children, st.sampled_from(["<", "<=", ">", ">="]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    call = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda f: st.lists(children, min_size=_ARITY[f], max_size=_ARITY[f]).map(lambda args: f"{f}({', '.join(args)})"))
    return st.one_of(binop, unary, compare, call)


#: Expression trees over every allowed operator and function, with numbers and symbols at the leaves.
trees = st.recursive(st.one_of(numbers, st.sampled_from(SYMBOLS)), _node, max_leaves=12)
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3).map(np.array))


@PROPS
@given(trees, st.fixed_dictionaries({s: values for s in SYMBOLS}))
def test_allowed_expression_trees_evaluate_or_raise_expression_error(source, vals):
    try:
        e = Expression.parse(source)
    except ExpressionError:
        return  # e.g. more than MAX_NODES nodes: refused, by the project's error
    assert e.symbols <= set(SYMBOLS)
    out = np.asarray(e.evaluate(vals))
    # a number or an array of numbers (inf and nan are values here; the worst-case search refuses them later)
    assert out.dtype.kind in "fb" and out.shape in ((), (3,))


@PROPS
@given(st.one_of(st.text(max_size=80), trees.map(lambda s: s.replace("(", "[", 1)),
                 st.lists(st.sampled_from(["a", "b", "(", ")", ",", "+", "*", "**", ".", "__class__", "lambda",
                                           "sqrt", "if", "else", "[0]", "'s'", "1e999", "True", "not", "and",
                                           "==", "import", ":", "=", "@", "1j"]), max_size=20).map(" ".join)))
def test_any_text_parses_or_raises_expression_error(source):
    try:
        e = Expression.parse(source)
    except ExpressionError:
        return
    try:
        e.evaluate({s: 1.5 for s in e.symbols})
    except ExpressionError:
        pass


# --- TOML loaders: mutated real files and random text ----------------------------------------------
def _mutated_text(text: str):
    lines = text.splitlines()

    @st.composite
    def strategy(draw):
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["delete", "duplicate", "value", "key", "truncate", "junk"]))
            if not out:
                break
            i = draw(st.integers(0, len(out) - 1))
            if kind == "delete":
                del out[i]
            elif kind == "duplicate":
                out.insert(i, out[i])
            elif kind == "value" and "=" in out[i]:
                key = out[i].split("=", 1)[0]
                out[i] = key + "= " + draw(st.sampled_from(['""', "-1", "1e400", "nan", "inf", "[]", "{}", "true",
                                                            '"mm"', '"../../etc/passwd"', "2026-13-45", "0",
                                                            '"x" * 3', "[[1]]", '{ a = { b = 1 } }']))
            elif kind == "key" and "=" in out[i]:
                out[i] = draw(st.sampled_from(["x", "units", "unit", "min", "max", "a.b.c"])) + " =" + out[i].split("=", 1)[1]
            elif kind == "truncate":
                cut = draw(st.integers(0, len(out[i])))
                out = out[:i] + [out[i][:cut]]
            else:
                out.insert(i, draw(st.text(max_size=30)))
        return "\n".join(out) + "\n"
    return strategy()


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case") / "cranial-001"
    shutil.copytree(SAMPLES / "cranial-001", folder)
    return folder


@PROPS
@given(st.one_of(_mutated_text((SAMPLES / "cranial-001" / "case.toml").read_text()), st.text(max_size=200)))
def test_case_loader_loads_or_raises_project_error(case_folder, text):
    (case_folder / "case.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_case(case_folder)
    except PmdEnvelopeError:
        pass


@pytest.fixture(scope="module")
def envelope_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("env") / CRANIAL_ENVELOPE.parent.name / CRANIAL_ENVELOPE.name
    path.parent.mkdir()
    return path


@PROPS
@given(st.one_of(_mutated_text(CRANIAL_ENVELOPE.read_text()), st.text(max_size=200)))
def test_envelope_loader_loads_or_raises_project_error(envelope_path, text):
    envelope_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_envelope(envelope_path)
    except PmdEnvelopeError:
        pass


# --- canonical JSON ----------------------------------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=20),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)),
    max_leaves=30)


@PROPS
@given(json_values, st.randoms(use_true_random=False))
def test_canonical_json_round_trips_and_ignores_key_order(value, rnd):
    data = canonical_json(value)
    assert json.loads(data) == value
    assert canonical_json(json.loads(data)) == data

    def shuffled(v):
        if isinstance(v, dict):
            items = list(v.items())
            rnd.shuffle(items)
            return {k: shuffled(x) for k, x in items}
        if isinstance(v, list):
            return [shuffled(x) for x in v]
        return v

    assert canonical_json(shuffled(value)) == data


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"a": [1.0, float("-inf")]}])
def test_canonical_json_refuses_non_finite(bad):
    with pytest.raises(ValueError):
        canonical_json(bad)


# --- regressions found by the property tests and the fuzzer ---------------------------------------
def test_negated_comparison_evaluates():
    # numpy refuses '-' on booleans (TypeError, exit 3); found by hypothesis
    assert float(Expression.parse("-(0 < 0)").evaluate({})) == 0.0
    assert float(Expression.parse("(1 < 2) - (2 < 1)").evaluate({})) == 1.0


def test_damaged_3mf_zip_is_bad_input():
    from conftest import ROOT
    from pmd_envelope.errors import MeshError
    from pmd_envelope.mesh_io import load_mesh

    # a central directory pointing before the file start: zipfile raised ValueError (negative seek); found by atheris
    path = ROOT / "tests" / "data" / "fuzz" / "negative_seek.3mf"
    with pytest.raises(MeshError, match="not a valid zip archive"):
        load_mesh(path, "mm")


def test_coverage_guided_fuzz_of_readers_runs_clean():
    """A short atheris run (bounded executions, fixed seed) of scripts/fuzz_readers.py: no crash."""
    import subprocess
    import sys

    from conftest import ROOT

    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_readers.py"), "-runs=200", "-seed=2",
                        "-rss_limit_mb=2048", "-max_total_time=120"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT / "tests" / "data" / "fuzz")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 200 runs" in r.stderr
