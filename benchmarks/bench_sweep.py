"""Sweep throughput: classroom runs per minute by executor, and the 1,000-run sweep.

Usage:
    python benchmarks/bench_sweep.py            # throughput (200 runs each) + the 1,000-run sweep
    python benchmarks/bench_sweep.py --quick    # 40 runs each, no 1,000-run sweep

Throughput: the classroom scenario as shipped (2,000 persons, 36 months), a Monte Carlo over
seeds, written to a fresh folder, without the report, with 1 worker (in this process), 2 local
processes and a Dask LocalCluster of 2 single-threaded worker processes. "runs/min" counts the
runs phase only (pool start-up included, merge excluded); "end to end" adds loading, merging
and the manifest. The 1,000-run sweep is ``scenarios/sweeps/classroom_monte_carlo.toml`` with
the default executor (every core) and the report, timed from the command line's point of view.
Prints a table and the core count; writes benchmarks/out/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "sweep.json"
sys.path.insert(0, str(ROOT))

TEXT = """
[sweep]
name = "bench"
scenario = "classroom"
replicates = {runs}
master_seed = {seed}
"""


def throughput(runs: int, executor: str, tmp: Path) -> dict:
    from simulation.sweep import load_sweep, run_sweep

    path = tmp / f"bench_{executor}.toml"
    path.write_text(TEXT.format(runs=runs, seed=len(executor)), encoding="utf-8")
    out = tmp / f"out_{executor}"
    kwargs: dict = {"progress": False, "report": False}
    cluster = None
    t0 = time.perf_counter()
    if executor == "in-process":
        kwargs["workers"] = 1
    elif executor == "2 processes":
        kwargs["workers"] = 2
    else:
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        kwargs["scheduler"] = cluster.scheduler_address
    t_started = time.perf_counter()
    try:
        res = run_sweep(load_sweep(path), out, **kwargs)
    finally:
        if cluster is not None:
            cluster.close()
    manifest = json.loads((out / "manifest.json").read_text())
    runs_s = manifest["timings_s"]["runs"]
    return {
        "executor": executor,
        "runs": runs,
        "ok": res.ok,
        "cluster_start_s": t_started - t0,
        "runs_s": runs_s,
        "runs_per_minute": 60 * runs / runs_s,
        "end_to_end_s": res.wall_s,
        "mean_run_s": manifest["timings_s"]["mean_run"],
    }


def big_sweep(tmp: Path) -> dict:
    out = tmp / "mc1000"
    cmd = [sys.executable, "-m", "simulation", "sweep", "classroom_monte_carlo", "--out", str(out),
           "--quiet"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "sweep": "classroom_monte_carlo",
        "runs": manifest["runs"]["total"],
        "ok": manifest["runs"]["ok"],
        "executor": manifest["executor"],
        "wall_s": wall,
        "runs_s": manifest["timings_s"]["runs"],
        "runs_per_minute": manifest["timings_s"]["runs_per_minute"],
        "under_10_min": wall < 600,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 runs each, no 1,000-run sweep")
    parser.add_argument("--runs", type=int, default=None, help="runs per throughput measurement")
    args = parser.parse_args()
    runs = args.runs or (40 if args.quick else 200)
    cpus = os.cpu_count()
    load_before = os.getloadavg()
    print(f"cores: {cpus}  ({platform.platform()}, Python {platform.python_version()})")
    print(f"load average before: {load_before[0]:.2f} (other work on the machine slows this)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for executor in ("in-process", "2 processes", "dask LocalCluster (2 processes)"):
            row = throughput(runs, executor, Path(tmp))
            rows.append(row)
            print(
                f"  {executor:<32} {row['runs']:>5} runs  {row['runs_per_minute']:>7.0f} runs/min"
                f"  ({row['runs_s']:.1f} s runs, {row['end_to_end_s']:.1f} s end to end, "
                f"{row['mean_run_s'] * 1000:.0f} ms per run in its worker)"
            )
        big = None
        if not args.quick:
            big = big_sweep(Path(tmp))
            print(
                f"  1,000-run sweep ({big['executor']}): {big['wall_s']:.1f} s wall "
                f"({big['runs_per_minute']:.0f} runs/min in the runs phase), under 10 min: "
                f"{big['under_10_min']}"
            )
    report = {
        "machine": {
            "cpu_count": cpus,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"),
            "load_average_before": load_before[0],
            "load_average_after": os.getloadavg()[0],
        },
        "scenario": "classroom (2,000 persons, 36 months)",
        "throughput": rows,
        "sweep_1000": big,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if args.quick and OUT.is_file():
        print(f"(--quick: {OUT} left as it is)")
    else:
        OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
