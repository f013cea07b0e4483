"""``python -m pmd_envelope`` runs the command-line interface."""

import sys

from pmd_envelope.cli import main

sys.exit(main())
