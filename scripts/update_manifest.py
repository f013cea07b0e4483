"""Regenerate pmd_envelope/data/manifest.sha256 (the SHA-256 of every shipped file) after a change.

    python scripts/update_manifest.py

``pmd-envelope selftest`` checks the installed files against this manifest, and
``tests/test_selftest.py`` fails while it is stale.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pmd_envelope.selftest import DATA_DIR, MANIFEST_NAME, manifest_text  # noqa: E402

(DATA_DIR / MANIFEST_NAME).write_text(manifest_text(), encoding="utf-8", newline="\n")
print(f"wrote {DATA_DIR / MANIFEST_NAME}")
