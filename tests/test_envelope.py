"""Envelope files: every bundled file loads; every malformed one is refused with file, key and fix."""

import pickle

import pytest

from conftest import CRANIAL_ENVELOPE, ENVELOPES
from pmd_envelope.envelope import load_envelope
from pmd_envelope.errors import EnvelopeError, InputFileError, PmdEnvelopeError


@pytest.mark.parametrize("path", sorted(ENVELOPES.glob("*/*.toml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_envelope_loads(path):
    env = load_envelope(path)
    assert (path.parent.name, path.stem) == (env.id, env.version)
    assert env.change_record[-1].version == env.version
    assert len(env.sha256) == 64


def test_cranial_envelope_content():
    env = load_envelope(CRANIAL_ENVELOPE)
    assert env.implantable and env.retention_years == 15
    wt = env.parameter("wall_thickness")
    assert (wt.min, wt.max, wt.unit, wt.upper_statistic) == (1.0, 3.0, "mm", "max")
    assert {v.name for v in env.variables} >= {"thickness_deviation", "build_orientation", "heat_treatment"}
    assert env.metrics[0].tested.report == "TR-CR-2025-011"


def _edited(tmp_path, old, new):
    text = CRANIAL_ENVELOPE.read_text()
    assert old in text
    d = tmp_path / "cranial-plate-ti64-lpbf"
    d.mkdir(exist_ok=True)
    p = d / "1.0.0.toml"
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize("old,new,message", [
    ('[parameters.wall_thickness]\nmethod = "ray"\nmin = 1.0\nmax = 3.0\nunit = "mm"',
     '[parameters.wall_thickness]\nmethod = "ray"\nmin = 1.0\nmax = 3.0\nunit = "cm"',
     r"\[parameters.wall_thickness.unit\]: unit 'cm' is not allowed; use mm"),
    ('thickness = "wall_thickness + thickness_deviation"', 'thickness = "wall_thickness + shrinkage"',
     r"\[metrics.yield_load.inputs.thickness\]: unknown symbol 'shrinkage'"),
    ('thickness = "wall_thickness + thickness_deviation"', 'thickness = "__import__(\'os\')"',
     r"\[metrics.yield_load.inputs.thickness\]: function '__import__' is not allowed"),
    ('plate_radius = "span / 2"', 'plate_radius = "span.real / 2"',
     r"attribute access 'span.real' is not allowed"),
    ('min = 30.0\nmax = 140.0', 'min = 140.0\nmax = 30.0', r"\[parameters.span\]: min 140.0 must be below max 30.0"),
    ('expected_bodies = 1', 'expected_bodies = 1\ncolour = "blue"', r"\[colour\]: unknown key"),
    ('status = "released"', 'status = "approved"', r"\[status\]: 'approved' is not one of"),
    ('model = "clamped_circular_plate_central_load"', 'model = "fea_magic"', r"unknown model 'fea_magic'"),
    ('heat_treatment = "hip"\n', 'heat_treatment = "annealed"\n', r"'annealed' is not a level of heat_treatment"),
])
def test_malformed_envelope_refused(tmp_path, old, new, message):
    p = _edited(tmp_path, old, new)
    with pytest.raises(EnvelopeError, match=message) as info:
        load_envelope(p)
    assert str(info.value).startswith(str(p))


def test_file_name_must_match_id_and_version(tmp_path):
    p = tmp_path / "wrong" / "9.9.9.toml"
    p.parent.mkdir()
    p.write_text(CRANIAL_ENVELOPE.read_text())
    with pytest.raises(EnvelopeError, match="must be named cranial-plate-ti64-lpbf/1.0.0.toml"):
        load_envelope(p)


def test_missing_and_invalid_toml(tmp_path):
    with pytest.raises(InputFileError):
        load_envelope(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("id = [unclosed")
    with pytest.raises(EnvelopeError, match="not valid TOML"):
        load_envelope(bad)


def test_errors_pickle_and_keep_fields():
    e = EnvelopeError("env.toml", "unit 'cm' is not allowed; use mm", "parameters.span.unit")
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.path, e2.key, e2.reason) == (e.path, e.key, e.reason)
    assert str(e2) == "env.toml [parameters.span.unit]: unit 'cm' is not allowed; use mm"
    assert isinstance(e2, ValueError) and isinstance(e2, PmdEnvelopeError)
    assert isinstance(InputFileError("x", "y"), OSError)


def test_released_envelopes_are_never_edited():
    """Every released envelope file is listed, with its SHA-256, in envelopes/RELEASED.sha256.

    A change to a released file breaks this test: make a new version file instead and add its
    line when it is released.
    """
    listed = {}
    for line in (ENVELOPES / "RELEASED.sha256").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    for path in sorted(ENVELOPES.glob("*/*.toml")):
        name = path.relative_to(ENVELOPES).as_posix()
        env = load_envelope(path)
        if env.status == "released":
            assert name in listed, f"{name} is released but not listed in RELEASED.sha256"
        if name in listed:
            assert env.sha256 == listed[name], f"{name} was edited after release; make a new version file"
