"""The policy battery at scale: 8 policies x 20 seeds on 20,000 people, under 10 minutes.

Usage:
    python benchmarks/bench_policy.py              # the default battery, 20 seeds, 20,000 people
    python benchmarks/bench_policy.py --quick      # 3 seeds, 5,000 people

Runs ``mlmsim policy policy_town --set market.population=20000 --seeds 20`` (the shipped
default battery: the baseline and seven policies, 160 runs of 36 months) from the command
line, with every core (``--workers`` default) and the report, into a fresh folder, and times
it end to end as a user would see it. Prints the wall time, the runs per minute, the machine's
core count and its load average before and after (other work on the machine slows it); writes
benchmarks/out/policy.json. Exits 1 if the full battery takes 10 minutes or more.
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
OUT = ROOT / "benchmarks" / "out" / "policy.json"
LIMIT_S = 600.0  # issue: 8 policies x 20 seeds on 20,000 people in under 10 minutes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, 5,000 people")
    args = parser.parse_args(argv)
    seeds, population = (3, 5000) if args.quick else (20, 20000)
    mlmsim = Path(sys.executable).with_name("mlmsim")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "policy"
        cmd = [
            str(mlmsim), "policy", "policy_town", "--seeds", str(seeds),
            "--set", f"market.population={population}", "--out", str(out), "--quiet",
        ]  # fmt: skip
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n")
            return 1
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        table = json.loads((out / "policy.json").read_text(encoding="utf-8"))["table"]
    runs = manifest["runs"]["total"]
    result = {
        "policies": len(table),
        "seeds": seeds,
        "population": population,
        "months": 36,
        "runs": runs,
        "ok": manifest["runs"]["ok"],
        "wall_s": wall,
        "runs_s": manifest["timings_s"]["runs"],
        "runs_per_minute": 60 * runs / wall,
        "mean_run_s": manifest["timings_s"]["mean_run"],
        "executor": manifest["executor"],
        "cpu_count": os.cpu_count(),
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "platform": platform.platform(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"{len(table)} policies x {seeds} seeds on {population:,} people ({runs} runs, "
        f"{result['ok']} ok): {wall:.1f} s end to end ({result['runs_per_minute']:.0f} runs/min, "
        f"mean run {result['mean_run_s']:.2f} s), {result['executor']}, "
        f"{os.cpu_count()} cores; load average before {load_before[0]:.2f}, after "
        f"{load_after[0]:.2f} (1 min)"
    )
    if not args.quick and wall >= LIMIT_S:
        print(f"too slow: {wall:.0f} s >= {LIMIT_S:.0f} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
