"""Refresh the stored baseline of the default scenario (classroom, seed 42).

Run only on purpose, when a change is meant to alter results, and say why in the commit:
    python tests/data/baseline/refresh.py
"""

import shutil
import tempfile
from pathlib import Path

from simulation.config import load_scenario
from simulation.runner import run_scenario

HERE = Path(__file__).parent

if __name__ == "__main__":
    scen, path = load_scenario("classroom")
    with tempfile.TemporaryDirectory() as tmp:
        out = run_scenario(scen, scenario_path=path, out=Path(tmp) / "run", figures=False)
        for name in ("monthly.csv", "levels.csv"):
            shutil.copy(out["run_dir"] / name, HERE / f"classroom_{name}")
    print("refreshed", sorted(p.name for p in HERE.glob("classroom_*")))
