#!/usr/bin/env bash
# Quick start, command 1: set up, then validate the bundled conforming cranial-plate case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pmd-envelope validate sample_scans/cranial-001 --out evidence "$@"
