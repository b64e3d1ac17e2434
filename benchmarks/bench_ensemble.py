"""Ensembles (``mlmsim run --seeds N``): their cost, and the default command's time unchanged.

Usage:
    python benchmarks/bench_ensemble.py                      # 16 seeds, 5 paired default runs
    python benchmarks/bench_ensemble.py --seeds 8 --repeats 3
    python benchmarks/bench_ensemble.py --compare 10d2ba3    # default run: this tree vs a commit

Ensemble: ``mlmsim run classroom --seeds N`` as a command (imports included), with 1 worker
(in this process) and with 2 local processes, without figures (the runs, their folders and
the intervals), and once with 2 workers and the report; wall time and runs per minute.

Default command: ``mlmsim run`` (classroom, figures and report) of this tree, and with
``--compare COMMIT`` of that commit's tree (``git archive``) run the same way, alternating
the two so that the machine's load falls on both alike; medians and ranges. The load average
is printed: on a busy 2-core machine single timings move by up to 2x.
Prints a table with the core count; writes benchmarks/out/ensemble.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "ensemble.json"


def command(args: list[str], tree: Path, out: Path) -> float:
    """Seconds for ``python -m simulation ARGS --out OUT --quiet`` with ``tree`` on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "simulation", *args, "--out", str(out), "--quiet"],
        cwd=tree,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def export(commit: str, dest: Path) -> Path:
    """The source tree of ``commit`` (``git archive``) in ``dest``."""
    data = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", default=None, metavar="COMMIT")
    args = parser.parse_args()
    result: dict = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
        "seeds": args.seeds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows = []
        for label, extra in (
            ("1 worker, no figures", ["--workers", "1", "--no-figures"]),
            ("2 processes, no figures", ["--workers", "2", "--no-figures"]),
            ("2 processes, report", ["--workers", "2"]),
        ):
            out = tmp_path / f"ens-{len(rows)}"
            wall = command(["run", "classroom", "--seeds", str(args.seeds), *extra], ROOT, out)
            rows.append({"ensemble": label, "wall_s": wall, "runs_per_min": 60 * args.seeds / wall})
        result["ensemble"] = rows
        trees = {"this tree": ROOT}
        if args.compare:
            trees[args.compare] = export(args.compare, tmp_path / "base")
        times: dict[str, list[float]] = {k: [] for k in trees}
        for i in range(args.repeats):
            for name, tree in trees.items():
                out = tmp_path / f"one-{i}-{len(times[name])}-{abs(hash(name))}"
                times[name].append(command(["run"], tree, out))
        result["default_run"] = {
            k: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "all_s": v}
            for k, v in times.items()
        }
    result["load_after"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{os.cpu_count()} cores; load average before {result['load_before'][0]:.1f}, after "
          f"{result['load_after'][0]:.1f}")  # fmt: skip
    print(f"\nmlmsim run classroom --seeds {args.seeds}:")
    for r in rows:
        print(f"  {r['ensemble']:<26} {r['wall_s']:7.1f} s  {r['runs_per_min']:6.1f} runs/min")
    print(f"\nmlmsim run (classroom, figures and report), {args.repeats} runs each, alternating:")
    for k, v in result["default_run"].items():
        print(f"  {k:<26} median {v['median_s']:.2f} s (range {v['min_s']:.2f}-{v['max_s']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
