"""Every notebook runs top to bottom on a small simulated province, so none of them rots.

Each ``notebooks/*.ipynb`` is executed with nbclient in a kernel of the
interpreter running the tests (a kernelspec written to a temporary prefix, so a
stale ``python3`` kernel elsewhere on the machine cannot be picked up), with
``DETECTOR_NOTEBOOK_DATA`` pointing at a 5,000-dossier province. A notebook
added later is picked up by the glob.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from nbclient import NotebookClient

from detector.simulate import SimConfig, simulate, write_province

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "detector-tests"
CELL_TIMEOUT_S = 300
#: twelve digits: the shape of a citizen ID (CCCD), the one thing no output may show in clear
_CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")


@pytest.fixture(scope="module")
def notebook_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The province the notebooks read: OUT/data/*.csv, OUT/labels.csv, OUT/scenarios.csv."""
    out = tmp_path_factory.mktemp("notebook-province")
    write_province(simulate(SimConfig(dossiers=5_000, months=3, seed=1)), out)
    return out


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data dir holding one kernelspec that starts ``sys.executable``."""
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install_kernelspec(kernel_name=KERNEL, prefix=str(prefix))
    return prefix / "share" / "jupyter"


@pytest.fixture
def notebook_env(
    notebook_data: Path, kernel_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("DETECTOR_NOTEBOOK_DATA", str(notebook_data))
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    # connection files and IPython's profile in the test's own folder, not the user's home
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # figures must reach the outputs, whatever backend the caller's shell chose
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return notebook_data


def _outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _citizen_ids(folder: Path) -> set[str]:
    """Every citizen ID of the province (people, owners, account holders)."""
    ids: set[str] = set()
    for table, column in (
        ("people", "person_id"),
        ("dossiers", "owner_id"),
        ("accounts", "holder_id"),
    ):
        values = pd.read_csv(folder / "data" / f"{table}.csv", dtype=str, usecols=[column])
        ids |= set(values[column].dropna().str.strip())
    return {i for i in ids if _CCCD.fullmatch(i)}


def test_notebooks_are_found() -> None:
    # the glob must see at least the exploration notebook, or the parametrised test runs nothing
    assert NOTEBOOK_DIR / "01_explore.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    # outputs would bloat the repository (images) and could carry personal data
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert with_outputs == [], f"{path.name}: clear the outputs of cells {with_outputs}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, notebook_env: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
    # no raw citizen ID in any text the notebook printed or displayed
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        + str(o.get("data", {}).get("text/html", ""))
        for o in outputs
    )  # fmt: skip
    leaked = set(_CCCD.findall(text)) & _citizen_ids(notebook_env)
    assert not leaked, f"{path.name} shows {len(leaked)} citizen ID(s) in clear"


def test_kernel_runs_this_interpreter(kernel_path: Path) -> None:
    # the kernel must import the packages under test, so it must be this very interpreter
    spec = json.loads((kernel_path / "kernels" / KERNEL / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
