"""The default scenario at its fixed seed reproduces the stored baseline exactly.

A change that alters results on purpose refreshes the files with
``python tests/data/baseline/refresh.py`` and says why in its commit.
"""

from pathlib import Path

import pytest

from simulation.config import load_scenario
from simulation.runner import run_scenario

BASE = Path(__file__).parent / "data" / "baseline"


@pytest.mark.parametrize("name", ["monthly.csv", "levels.csv"])
def test_classroom_matches_stored_baseline(name, tmp_path):
    scen, path = load_scenario("classroom")
    out = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)["run_dir"]
    got = (out / name).read_text().splitlines()
    want = (BASE / f"classroom_{name}").read_text().splitlines()
    assert got[0] == want[0], "columns changed"
    diff = [i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b]
    assert len(got) == len(want) and not diff, f"first differing row: {diff[:1]}"
