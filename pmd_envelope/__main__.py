"""``python -m pmd_envelope`` runs the command-line interface."""

from pmd_envelope.cli import run

run()
