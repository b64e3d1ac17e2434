"""Benchmark: placing 1,000,000 recruits with spillover (binary and forced matrix), one binary
pay period on top, and reading a 1,000,000-line genealogy CSV.

Run: ``.venv/bin/python benchmarks/bench_placement.py [--n 1000000] [--seed 1] [--tree uniform]``.
Each case runs in a fresh process (so its peak memory is its own) and prints wall seconds,
peak memory (RSS) and the core count; the report goes to ``benchmarks/out/placement.json``.
Target: binary placement of 1,000,000 recruits in under 5 s.

Recruits join in row order, each sponsored by an earlier row (a random recursive tree, or
``--tree preferential``), all in one period, as when a genealogy without placement is
imported. Placement is sequential by nature (each recruit sees the slots its predecessors
took); ``extreme_outside`` is vectorised (recruits that go to the same outside line are
chained in join order), the breadth-first rules are one tight Python pass with per-node
frontier queues, ``weak_leg`` also walks up each new node's ancestors to keep leg counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plans import preferential_tree, random_recursive_tree  # noqa: E402

from simulation.plans import PeriodInput, plan_from_dict  # noqa: E402
from simulation.plans.placement import PlacementTree, placement_order  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "placement.json"
TARGET_S = 5.0
CASES = {
    # name: (width, rule, extra keyword arguments of PlacementTree.place)
    "binary_extreme_outside": (2, "extreme_outside", {}),
    "binary_balanced": (2, "balanced", {}),
    "binary_weak_leg_count": (2, "weak_leg", {"measure": "count"}),
    "binary_weak_leg_volume": (2, "weak_leg", {"measure": "volume"}),
    "matrix3_bfs_sponsor": (3, "bfs_sponsor", {}),
    "matrix3_branch_first": (3, "branch_first", {}),
    "matrix3_company_root": (3, "bfs_sponsor", {"spill_root": "company"}),
}


def peak_mib() -> float:
    """Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sponsors(args: argparse.Namespace) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence(args.seed))
    build = random_recursive_tree if args.tree == "uniform" else preferential_tree
    return build(args.n, rng)


def run_case(name: str, args: argparse.Namespace) -> dict:
    """One placement case (in this process): order + place, then checks."""
    width, rule, extra = CASES[name]
    sponsor = sponsors(args)
    n = args.n
    pv = np.random.default_rng(args.seed + 1).choice([0.0, 50.0, 100.0, 150.0, 300.0], n)
    base = peak_mib()
    tree = PlacementTree.empty(n, width)
    t0 = time.perf_counter()
    rows = placement_order(
        np.arange(n), sponsor, np.ones(n, bool), np.zeros(n, np.int32), tree.placed
    )
    t_order = time.perf_counter() - t0
    kw = {"spill_root": extra.get("spill_root", "sponsor")}
    if rule == "weak_leg":
        kw["weight"] = pv if extra["measure"] == "volume" else np.ones(n, dtype=np.int64)
    t0 = time.perf_counter()
    tree.place(rows, sponsor, rule, **kw)
    t_place = time.perf_counter() - t0
    kids = np.bincount(tree.parent[tree.parent >= 0], minlength=n)
    report = {
        "case": name,
        "rule": rule,
        "width": width,
        "seconds_order": t_order,
        "seconds_place": t_place,
        "seconds_total": t_order + t_place,
        "depth_max": int(tree.depth.max()),
        "depth_mean": float(tree.depth.mean()),
        "max_children": int(kids.max()),
        "all_placed": bool(tree.placed.all()),
        "peak_rss_mib": peak_mib(),
        "rss_before_mib": base,
    }
    if width == 2:
        # A binary plan paying on the same join sequence with the same rule: the first period
        # places everyone and pays; the next one (no recruits) only pays.
        params = {"placement_rule": rule}
        if rule == "weak_leg":
            params["weak_measure"] = extra["measure"]
        engine = plan_from_dict({"binary": params}).engine()
        joined = np.zeros(n, np.int32)
        t0 = time.perf_counter()
        engine.pay(PeriodInput.of(sponsor, pv, joined_period=joined))
        report["seconds_binary_first_period"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.pay(PeriodInput.of(sponsor, pv, period=1, joined_period=joined))
        report["seconds_binary_next_period"] = time.perf_counter() - t0
        report["peak_rss_mib"] = peak_mib()
    return report


def run_genealogy(args: argparse.Namespace) -> dict:
    """Write and read a genealogy CSV of ``n`` lines."""
    from simulation.genealogy import read_genealogy

    sponsor = sponsors(args)
    n = args.n
    pv = (np.arange(n) * 37) % 400
    ids = np.char.add("d", np.arange(n).astype(str))
    sp = np.where(sponsor >= 0, np.char.add("d", np.maximum(sponsor, 0).astype(str)), "")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "genealogy.csv"
        body = np.char.add(np.char.add(np.char.add(ids, ","), np.char.add(sp, ",")), pv.astype(str))
        path.write_text("id,sponsor_id,pv\n" + "\n".join(body.tolist()) + "\n")
        base = peak_mib()
        t0 = time.perf_counter()
        g = read_genealogy(path, placement_width=2)
        seconds = time.perf_counter() - t0
    return {
        "case": "genealogy_read",
        "seconds_total": seconds,
        "rows": g.n,
        "peak_rss_mib": peak_mib(),
        "rss_before_mib": base,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tree", choices=["uniform", "preferential"], default="uniform")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.case:
        fn = run_genealogy if args.case == "genealogy_read" else lambda a: run_case(args.case, a)
        print(json.dumps(fn(args)))
        return

    results = []
    for case in [*CASES, "genealogy_read"]:
        cmd = [
            sys.executable,
            __file__,
            "--case",
            case,
            "--n",
            str(args.n),
            "--seed",
            str(args.seed),
            "--tree",
            args.tree,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(r)
        line = f"  {case:<26} {r['seconds_total']:6.2f} s  peak {r['peak_rss_mib']:6.0f} MiB"
        if "depth_max" in r:
            line += f"  depth max {r['depth_max']:>5}, mean {r['depth_mean']:6.1f}"
        if "seconds_binary_first_period" in r:
            line += (
                f"  (binary plan: first period {r['seconds_binary_first_period']:.2f} s,"
                f" next {r['seconds_binary_next_period']:.2f} s)"
            )
        print(line, flush=True)
    binary = [r for r in results if r["case"].startswith("binary")]
    report = {
        "benchmark": "placement",
        "n": args.n,
        "tree": args.tree,
        "seed": args.seed,
        "cases": results,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "target_seconds": TARGET_S,
        "binary_within_target": all(r["seconds_total"] < TARGET_S for r in binary),
    }
    print(
        f"  n = {args.n:,} recruits, {args.tree} sponsor tree, cpu_count {os.cpu_count()}; "
        f"target: binary placement < {TARGET_S:.0f} s"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"  wrote {OUT}")


if __name__ == "__main__":
    main()
