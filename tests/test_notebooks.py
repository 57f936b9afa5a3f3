"""The notebooks in notebooks/ run top to bottom in a fresh kernel, on this checkout's fnn.

Each notebook is executed with nbclient in a ``python3`` kernel; the kernel must be this
interpreter (jupyter_client starts the kernelspec's ``python`` as ``sys.executable``) and must
import fnn from this checkout, so a first cell added to the in-memory copy reports both.
Plots use the Agg backend. Notebooks are committed without outputs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PROBE = "import json, sys, fnn\nprint(json.dumps([sys.executable, fnn.__file__]))"


def test_the_three_notebooks_are_there():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_intro_to_deep_learning.ipynb",
        "02_functional_core.ipynb",
        "03_benchmarks.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # No path of the machine that wrote it.
    text = path.read_text()
    assert "/work/" not in text and "/tmp/" not in text and "/home/" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), pythonpath) if p))
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    executable, fnn_file = json.loads(nb.cells[0].outputs[0]["text"])
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(fnn_file).resolve().is_relative_to(ROOT)

    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    assert len(nb.cells) == n_cells + 1
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o["output_type"] == "error"]
    assert errors == []
    figures = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    shows = sum(c.source.count("plt.show()") for c in code)
    assert shows >= 2 and len(figures) == shows, "every plt.show() draws one inline figure"
