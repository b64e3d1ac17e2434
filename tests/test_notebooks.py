"""Every teaching notebook runs top to bottom and its final cell asserts its key claim.

The notebooks are executed with nbclient in a kernel running this interpreter (the project's
virtual environment, through a kernelspec made for the test), from the notebooks folder, so
they need nothing but the project's own dependencies. They are also checked to be what
notebooks/build_notebooks.py writes, with no outputs committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
TIMEOUT_PER_CELL = 120  # seconds: a bound for a hung kernel, generous for a busy machine


def test_there_are_five_stories():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_saturation",
        "02_where_the_money_goes",
        "03_comparing_plans",
        "04_known_mathematics",
        "05_retail_mlm_pyramid",
        "06_several_companies",
    ]


def test_notebooks_are_built_by_the_generator_without_outputs():
    build = NOTEBOOK_DIR / "build_notebooks.py"
    done = subprocess.run(
        [sys.executable, str(build), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


KERNEL = "mlmsim-tests"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernelspec that runs ipykernel in this interpreter (the project's environment).

    A ``python3`` spec found first in the user's Jupyter folders could start another Python
    without the project's packages; JUPYTER_PATH comes before every other folder, so this
    spec is the one used, on any machine where the test extras are installed.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "mlmsim tests",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")]))
        mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        yield KERNEL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_claim_holds(path: Path, kernel: str):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_PER_CELL,
        kernel_name=kernel,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    t = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{err}")
    seconds = time.perf_counter() - t
    last = nb.cells[-1]
    assert last.cell_type == "code" and "assert" in last.source, "must end with its claim"
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    assert text.strip(), f"{path.name}: the claim cell printed nothing"
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 1, f"{path.name}: expected its figures, found none"
    assert seconds < 60, f"{path.name} took {seconds:.0f} s; notebooks should run in seconds"
