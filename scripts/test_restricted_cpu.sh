#!/usr/bin/env bash
# Run the test suite as if on an older CPU: numpy's dispatched SIMD features off
# (NPY_DISABLE_CPU_FEATURES, computed from numpy on this machine) and, on x86-64, an older OpenBLAS
# kernel. Records and sample files must come out the same as with the CPU's full feature set.
# Usage: scripts/test_restricted_cpu.sh [pytest args]   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
NPY_DISABLE_CPU_FEATURES="$("$PY" tests/cpu_dispatch.py)"
export NPY_DISABLE_CPU_FEATURES
if [ "$(uname -m)" = "x86_64" ]; then export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Nehalem}"; fi
echo "NPY_DISABLE_CPU_FEATURES='$NPY_DISABLE_CPU_FEATURES' OPENBLAS_CORETYPE='${OPENBLAS_CORETYPE:-}'" >&2
exec "$PY" -m pytest "$@"
