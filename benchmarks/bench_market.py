"""Markets of several companies: wall time and peak memory per size, end to end.

Usage:
    python benchmarks/bench_market.py                      # town, 100k
    python benchmarks/bench_market.py --sizes city_2       # 1,000,000 persons, 2 companies

Each size runs `mlmsim run` of a market scenario in its own process (so peak memory is that
size's): every company's run folder, the market tables and page. Prints a table and writes
benchmarks/out/market.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SIZES = {
    # name: (scenario, overrides)
    "town": ("two_companies", []),
    "holding_towns": ("holding_towns", []),
    "100k_2": (
        "two_companies",
        ["market.population=100000", "market.founders=50", "scenario.months=120"],
    ),
    "city_2": (
        "two_companies",
        ["market.population=1000000", "market.founders=100", "scenario.months=120"],
    ),
}


def _one(name: str, queue: mp.Queue) -> None:
    sys.path.insert(0, str(ROOT))
    from simulation.cli import main

    scenario, sets = SIZES[name]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["run", scenario, "--out", str(Path(tmp) / "out"), "--quiet"]
        for s in sets:
            args += ["--set", s]
        t = time.perf_counter()
        code = main(args)
        wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"size": name, "exit": code, "wall_s": wall, "peak_mb": peak_mb})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["town", "holding_towns", "100k_2"],
                        choices=sorted(SIZES))
    args = parser.parse_args(argv)
    rows = []
    ctx = mp.get_context("spawn")
    for name in args.sizes:
        q: mp.Queue = ctx.Queue()
        p = ctx.Process(target=_one, args=(name, q))
        p.start()
        row = q.get()
        p.join()
        rows.append(row)
        print(f"{name:<16} exit {row['exit']}  {row['wall_s']:8.1f} s  {row['peak_mb']:8.0f} MB",
              flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    machine = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
               "load_average": os.getloadavg()}
    (out / "market.json").write_text(json.dumps({"machine": machine, "runs": rows}, indent=2))
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
