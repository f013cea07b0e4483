"""Build small envelope files in a temporary folder for worst-case tests (closed-form models)."""

from __future__ import annotations

from pathlib import Path

from pmd_envelope.envelope import load_envelope

HEAD = '''schema = "pmd-envelope/envelope/1"
id = "test-envelope"
version = "1.0.0"
status = "draft"
title = "Test envelope"
device_family = "test"
material = "test"
process = "test"
implantable = false
expected_bodies = 1

[units]
length = "mm"
force = "N"
stress = "MPa"
angle = "deg"

[plausible_size]
min = 1.0
max = 500.0
reference = "test"

[[change_record]]
version = "1.0.0"
date = 2026-01-01
author = "test"
description = "test"

[parameters.wall_thickness]
method = "ray"
min = 1.0
max = 3.0
unit = "mm"
uncertainty = 0.05
reference = "test"

[parameters.span]
method = "obb"
min = 30.0
max = 140.0
unit = "mm"
uncertainty = 0.1
reference = "test"
'''


def continuous(name: str, lo: float, hi: float, extra: str = "") -> str:
    return f'\n[variables.{name}]\nkind = "continuous"\nmin = {lo!r}\nmax = {hi!r}\nunit = "1"\nreference = "test"\n{extra}\n'


def expression_metric(expression: str, configuration: dict, *, limit: float = 0.0, sense: str = "min",
                      name: str = "m", extra: str = "") -> str:
    cfg = "\n".join(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in configuration.items())
    return (f'\n[metrics.{name}]\nmodel = "expression"\nexpression = "{expression}"\nunit = "1"\nlimit = {limit!r}\n'
            f'sense = "{sense}"\nreference = "test"\n{extra}\n[metrics.{name}.tested_worst_case]\nreport = "TR-1"\n'
            f'measured_value = 1.0\n[metrics.{name}.tested_worst_case.configuration]\n{cfg}\n')


def write_envelope(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "test-envelope"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "1.0.0.toml"
    path.write_text(HEAD + body)
    return path


def make_envelope(tmp_path: Path, body: str):
    return load_envelope(write_envelope(tmp_path, body))
