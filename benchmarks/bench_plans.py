"""Benchmark: one pay period of the hybrid plan (unilevel 7 levels with dynamic compression +
stairstep-breakaway with overrides + matching + global cap) on a large genealogy.

Run: ``.venv/bin/python benchmarks/bench_plans.py [--n 1000000] [--seed 1] [--tree uniform]``.
Prints wall time per component, the engine total, peak memory and the core count, and writes
the same to ``benchmarks/out/plans.json``. Target: under 2 s for 1,000,000 distributors.

Genealogy: a random recursive tree (each distributor's sponsor uniform among earlier rows, the
law of uniform random recruiting; depth about ln n, deepest around e ln n), or ``--tree
preferential`` (sponsor chosen with probability proportional to 1 + number of recruits, a
heavier-tailed frontline). PV: 60 % of distributors at 100 PV or more (100 + exponential with
mean 60), the rest uniform below 100; BV = PV; 3 % inactive.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulation.plans import REGISTRY, PeriodInput, load_plan
from simulation.tree import Forest

PLAN = "hybrid_unilevel_stairstep_matching"
OUT = Path(__file__).resolve().parent / "out" / "plans.json"


def random_recursive_tree(n: int, rng: np.random.Generator) -> np.ndarray:
    """int32[n] sponsors: row i's sponsor uniform on 0 .. i-1 (row 0 is the root)."""
    parent = np.floor(rng.random(n) * np.arange(n)).astype(np.int32)
    parent[0] = -1
    return parent


def preferential_tree(n: int, rng: np.random.Generator) -> np.ndarray:
    """int32[n] sponsors chosen with probability proportional to 1 + recruits so far.

    Drawing a uniform element of the list of (each row once + each sponsor once per recruit)
    is the classic linear-time construction; vectorised in blocks that only look at earlier
    rows, which changes the law negligibly for blocks small relative to n.
    """
    parent = np.full(n, -1, dtype=np.int32)
    pool = np.empty(2 * n, dtype=np.int32)
    pool[0] = 0
    size = 1
    i = 1
    block = 1
    while i < n:
        j = min(n, i + block)
        pick = pool[(rng.random(j - i) * size).astype(np.int64)]
        parent[i:j] = pick
        k = j - i
        pool[size : size + k] = np.arange(i, j)
        pool[size + k : size + 2 * k] = pick
        size += 2 * k
        i = j
        block = max(1, i // 100)
    return parent


def timed(name: str, fn, times: dict[str, float]):
    """Wrap a component function to record its wall time (keeps check_plan/prepare)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tree", choices=["uniform", "preferential"], default="uniform")
    ap.add_argument("--repeat", type=int, default=3, help="periods paid; the best is reported")
    ap.add_argument("--profile", action="store_true", help="cProfile one period")
    ap.add_argument("--plan", default=PLAN, help="a shipped plan name or a plan file")
    args = ap.parse_args()

    rng = np.random.default_rng(np.random.SeedSequence(args.seed))
    t0 = time.perf_counter()
    build = random_recursive_tree if args.tree == "uniform" else preferential_tree
    sponsor = build(args.n, rng)
    high = rng.random(args.n) < 0.6
    pv = np.where(high, 100.0 + rng.exponential(60.0, args.n), rng.uniform(0, 100, args.n))
    active = rng.random(args.n) >= 0.03
    t_data = time.perf_counter() - t0

    t0 = time.perf_counter()
    forest = Forest.from_parent(sponsor)
    t_forest = time.perf_counter() - t0

    plan = load_plan(args.plan)
    times: dict[str, float] = {}
    saved = dict(REGISTRY)
    for name in plan.components:
        spec = REGISTRY[name]
        REGISTRY[name] = dataclasses.replace(spec, fn=timed(name, spec.fn, times))
    engine = plan.engine()
    inp = PeriodInput(
        period=12,
        sponsor=sponsor,
        pv=pv,
        bv=pv.copy(),
        active=active,
        joined_period=np.zeros(args.n, dtype=np.int32),
        new_recruits=np.empty(0, dtype=np.int64),
        forest=forest,
    )
    runs = []
    for _ in range(args.repeat):
        times.clear()
        t0 = time.perf_counter()
        result = engine.pay(inp)
        total = time.perf_counter() - t0
        runs.append((total, dict(times)))
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        engine.pay(inp)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    REGISTRY.update(saved)

    total, comp = min(runs, key=lambda r: r[0])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = {
        "benchmark": "plans",
        "plan": args.plan,
        "n": args.n,
        "tree": args.tree,
        "seed": args.seed,
        "depth_max": len(forest.levels) - 1,
        "depth_mean": float(forest.depth.mean()),
        "seconds": {
            "make_genealogy": t_data,
            "forest_from_parent": t_forest,
            **{f"component_{k}": v for k, v in comp.items()},
            "engine_pay_total": total,
            "engine_pay_runs": [r[0] for r in runs],
        },
        "paid": result.paid,
        "pre_cap_total": result.pre_cap_total,
        "payout_ratio": result.payout_ratio,
        "cap_scale": result.cap_scale,
        "peak_rss_mib": peak_kib / 1024,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "target_seconds": 2.0,
        "within_target": total < 2.0,
    }
    print(f"plan {args.plan}, n = {args.n:,}, {args.tree} tree, depth max {report['depth_max']}")
    print(f"  genealogy            {t_data:7.3f} s (not part of a pay period)")
    print(f"  Forest.from_parent   {t_forest:7.3f} s (the model keeps its forest)")
    for k, v in comp.items():
        print(f"  {k:<20} {v:7.3f} s")
    print(f"  engine.pay total     {total:7.3f} s  (best of {args.repeat}; target < 2 s)")
    print(f"  payout ratio {result.payout_ratio:.3f}, cap scale {result.cap_scale:.3f}")
    print(f"  peak memory {report['peak_rss_mib']:.0f} MiB, cpu_count {os.cpu_count()}")
    out = OUT if args.plan == PLAN else OUT.with_name(f"plans_{Path(args.plan).stem}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"  wrote {out}")


if __name__ == "__main__":
    main()
