"""Every notebook in notebooks/ executes under a real Jupyter kernel (nbclient, ipykernel's
``python3`` spec installed from PyPI by scripts/setup.sh), and is committed with its outputs:
a reader browsing the file sees every plot. scripts/run_notebooks.py regenerates the outputs.
"""

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_the_kernel_is_installed_in_this_environment():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(run_notebooks.KERNEL)
    assert spec.language == "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_under_a_kernel(path):
    nb = run_notebooks.execute(path)  # raises CellExecutionError naming the cell on a failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_with_its_outputs(path):
    """Every code cell has run, in order, and every cell that draws has its PNG saved."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run scripts/run_notebooks.py"
    for c in code:
        if "plt.show()" in c.source:
            assert any("image/png" in o.get("data", {}) for o in c.outputs), f"cell without its plot: {c.source[:60]}"
