"""Markets of several companies: wall time and peak memory per size, end to end.

Usage:
    python benchmarks/bench_market.py                      # town, 100k
    python benchmarks/bench_market.py --sizes city_3       # the issue's case (see below)
    python benchmarks/bench_market.py --sizes city_2       # 1,000,000 persons, 2 companies

Each size runs `mlmsim run` of a market scenario in its own process (so peak memory is that
size's): every company's run folder, the market tables and page. Prints a table (wall time,
the process's CPU time and its forked child's, which draws the figures, peak RSS and the
market's phase times) and writes
benchmarks/out/market.json.

`city_3` is the case of the issue on markets (1,000,000 persons, 3 companies, 120 months,
limits 40 s and 2 GB): `two_companies` with a third company, `gamma` (the 7-level plan with a
dynamic compression, launched in month 12), all three in one town with switching on.
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
THIRD = "three_companies"

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
    "100k_3": (
        THIRD,
        ["market.population=100000", "market.founders=50", "scenario.months=120"],
    ),
    "city_3": (
        THIRD,
        ["market.population=1000000", "market.founders=100", "scenario.months=120"],
    ),
    "holding_city": (
        "holding_towns",
        ["market.population=1000000", "market.founders=100", "scenario.months=120"],
    ),
}

# A third company added to two_companies (written next to the run, see _scenario).
GAMMA = """
[[companies]]
name = "gamma"
plan = "unilevel_7_dt"
launch_month = 12
"""


def _scenario(name: str, tmp: Path) -> str:
    """The scenario to run: a shipped one, or two_companies with a third company."""
    if name != THIRD:
        return name
    text = (ROOT / "scenarios" / "two_companies.toml").read_text()
    at = text.index("[switching]")
    path = tmp / "three_companies.toml"
    path.write_text(text[:at] + GAMMA.lstrip() + "\n" + text[at:])
    return str(path)


def _one(name: str, queue: mp.Queue) -> None:
    sys.path.insert(0, str(ROOT))
    from simulation.cli import main

    scenario, sets = SIZES[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        args = ["run", _scenario(scenario, Path(tmp)), "--out", str(out), "--quiet"]
        for s in sets:
            args += ["--set", s]
        t = time.perf_counter()
        cpu = time.process_time()
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        code = main(args)
        wall = time.perf_counter() - t
        cpu = time.process_time() - cpu
        # The figures drawn in a forked child while the tables are written (market_run), when
        # a core is idle.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = (after.ru_utime + after.ru_stime) - (child.ru_utime + child.ru_stime)
        timings = {}
        if (out / "manifest.json").is_file():
            timings = json.loads((out / "manifest.json").read_text())["timings_s"]
    # (a forked child's own peak is not shown: it counts the pages it shares with this
    # process, and any subprocess, e.g. git for the manifest, reports this process's peak)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "size": name,
            "exit": code,
            "wall_s": wall,
            "cpu_s": cpu,
            "child_cpu_s": child_cpu,
            "peak_mb": peak_mb,
            "timings_s": timings,
            "load_average": os.getloadavg(),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", nargs="+", default=["town", "holding_towns", "100k_2"], choices=sorted(SIZES)
    )
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
        phases = "  ".join(f"{k} {v:.1f}" for k, v in row["timings_s"].items())
        print(
            f"{name:<16} exit {row['exit']}  {row['wall_s']:8.1f} s wall  {row['cpu_s']:8.1f} s "
            f"CPU (+{row['child_cpu_s']:.1f} s in child processes)  {row['peak_mb']:8.0f} MB  "
            f"load {row['load_average'][0]:.1f}  ({phases})",
            flush=True,
        )
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }
    (out / "market.json").write_text(json.dumps({"machine": machine, "runs": rows}, indent=2))
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
