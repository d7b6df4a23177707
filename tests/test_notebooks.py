"""Execute the documentation notebooks top to bottom, at their small (CI) size by default.

Each notebook is copied to a temporary directory and run there with nbclient, so
nothing (outputs, files a notebook writes) lands in the repository. The kernel is
ipykernel's ``python3``, which jupyter_client launches with the interpreter running
the tests, so the notebooks see the same installed tlkit and plugins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NAMES = ["compare_depths.ipynb", "new_target.ipynb"]
#: the size the notebooks run at: ``small`` (CI) unless the environment asks for another
#: (``nox -s notebooks -- full`` sets ``TLKIT_NOTEBOOK_SIZE=full``)
SIZE = os.environ.get("TLKIT_NOTEBOOK_SIZE", "small")
#: seconds any one cell may take (a generous bound; the notebooks take far less)
CELL_TIMEOUT = 300 if SIZE == "small" else 1800


def _errors(nb: object) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_clean(name: str) -> None:
    """Committed notebooks are valid nbformat 4 and carry no outputs."""
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: code cells {dirty} have outputs; save the notebook cleared"
    # The size switch is what makes CI fast: every notebook must read it.
    sources = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "TLKIT_NOTEBOOK_SIZE" in sources, f"{name} does not read TLKIT_NOTEBOOK_SIZE"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs every cell at ``SIZE`` (small by default); no cell may raise."""
    copy = tmp_path / name
    shutil.copyfile(NOTEBOOKS / name, copy)
    nb = nbformat.read(copy, as_version=4)
    # The kernel inherits this environment.
    monkeypatch.setenv("TLKIT_NOTEBOOK_SIZE", SIZE)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        # "python3" is ipykernel's own kernel; jupyter_client starts it with the
        # interpreter running the tests, so the kernel sees the same installed packages.
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        # nbclient's message carries the kernel's coloured traceback; strip the colours.
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        pytest.fail(f"{name}: a cell raised:\n{message[-3000:]}")
    assert not _errors(nb), json.dumps(_errors(nb))
    # Every code cell ran.
    missing = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and not cell.execution_count
    ]
    assert not missing, f"{name}: cells {missing} did not run"
