#!/usr/bin/env bash
# Create .venv and install pmd-envelope with the pinned versions of constraints.txt.
# Idempotent: installs again only when setup.cfg, pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.setup-stamp
want=$(cat setup.cfg pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if ! { [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,cluster]' >&2
  echo "$want" > "$stamp"
fi
# The package's bytecode, as a regular (non-editable) pip install writes it: an editable install
# writes none, and where PYTHONDONTWRITEBYTECODE is set no run ever does, so every command
# compiled the whole package again (~0.25 s of each `measure`, measured). Only stale or missing
# files are compiled; Python checks each one against its source, so an outdated one is never used.
.venv/bin/python -m compileall -q pmd_envelope >&2
