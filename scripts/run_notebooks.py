"""Execute every notebook in notebooks/ with a real Jupyter kernel and save it with its outputs.

usage: python scripts/run_notebooks.py [NOTEBOOK ...]

The kernel is ipykernel's ``python3`` spec installed in this environment (``.venv``); it runs with
``notebooks/`` as its working directory and this checkout first on ``PYTHONPATH``, so it imports
the code next to it. The saved outputs (plots as PNG) are what a reader sees when browsing the
file; tests/test_notebooks.py executes the notebooks the same way and checks them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "python3"
TIMEOUT = 600  # [s] per cell: the sweep cell runs a few hundred worst-case searches


def execute(path: Path):
    """The notebook at ``path`` executed top to bottom (raises on the first failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    before = os.environ.get("PYTHONPATH")
    # the kernel inherits this process's environment; ipykernel selects the inline plot backend
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), before]))
    try:
        NotebookClient(nb, kernel_name=KERNEL, timeout=TIMEOUT,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    return nb


def main(argv=None) -> int:
    import nbformat

    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        nb = execute(path)
        for cell in nb.cells:  # execution metadata (timings) would change the file on every run
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
