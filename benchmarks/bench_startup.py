"""Command-line start-up: what each import kept inside a function would add to every command.

Usage:
    python benchmarks/bench_startup.py            # 7 repeats per module
    python benchmarks/bench_startup.py --repeats 15

Every ``mlmsim`` command first builds its argument parser, which imports the modules of every
subcommand. An import kept inside a function (marked ``# noqa: PLC0415`` in the package) is
one whose module would add measurable time to that start; this script measures that time:
for each such module, a fresh Python builds the parser and then imports the module, and
``-X importtime`` gives the module's own cumulative import time (what is not loaded yet).
Prints the median and the range over the repeats, the parser's own start, and the core count;
writes benchmarks/out/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

# module imported lazily -> where
LAZY = {
    "mesa": "simulation.model (cli run, sweep.simulate, validation)",
    "matplotlib.figure": "simulation.figures (report, runner), sweep_report, sensitivity",
    "scipy.optimize": "metrics.diffusion.bass_fit",
    "scipy.stats": "sweep.expand (Latin hypercube)",
    "SALib.analyze.sobol": "simulation.sensitivity (sweep)",
    "distributed": "sweep._run_dask",
    "solara.__main__": "app_server.run",
}
BASE = "from simulation.cli import build_parser; build_parser()"


def cost_s(module: str) -> float:
    """Seconds importing ``module`` adds once the parser is built (fresh interpreter)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{BASE}; import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    m = re.search(rf"\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$", out, re.M)
    return int(m.group(1)) / 1e6 if m else 0.0  # 0: already loaded by the parser


def parser_s() -> float:
    """Wall time of a fresh interpreter that builds the parser."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASE], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.repeats} repeats")
    walls = [parser_s() for _ in range(args.repeats)]
    print(f"build the parser (python start included): median {statistics.median(walls):.2f} s")
    rows = {}
    print(f"{'module':<22} {'median s':>9} {'min s':>7} {'max s':>7}  imported lazily in")
    for module, where in LAZY.items():
        t = [cost_s(module) for _ in range(args.repeats)]
        rows[module] = {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t)}
        r = rows[module]
        print(f"{module:<22} {r['median_s']:>9.2f} {r['min_s']:>7.2f} {r['max_s']:>7.2f}  {where}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    data = {"cores": os.cpu_count(), "parser_wall_s": walls, "modules": rows}
    (out / "startup.json").write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
