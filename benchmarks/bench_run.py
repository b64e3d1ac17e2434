"""End-to-end run benchmark: named sizes, wall time per phase, throughput, peak memory.

Usage:
    python benchmarks/bench_run.py                 # classroom, baseline
    python benchmarks/bench_run.py --all           # + 250k, 500k, city (1,000,000)
    python benchmarks/bench_run.py --sizes city

Each size runs in its own process (so peak memory is that size's), end to end: network build,
all months, result tables, figures and manifest. Prints a table and writes
benchmarks/out/run.json.
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

# Every behaviour mechanism switched on (docs/model.md, "Why people join..."): the cost of
# the behaviour work at each size ("<size>_behaviour").
BEHAVIOUR = [
    "segments.enabled=true",
    "expectations.enabled=true",
    "buy.qualify_rule=expected_gain",
    "quit.buyback_window_months=12",
    "quit.kit_refundable=true",
    "rejoin.enabled=true",
    "people.skill_sigma=0.5",
    "people.leader_founders=true",
    "people.overload_strength=0.2",
    # Returns within 3 months, and the plan clawing back commissions on them (the costlier
    # timing: the month is paid a second time without the volume that comes back).
    "returns.enabled=true",
    "returns.window_months=3",
    "plan.volume.returns_timing=clawback",
    # The plan drives effort and loading; contacts' results and the disclosure statement
    # enter the expectation.
    "incentives.effort=true",
    "incentives.loading=true",
    "expectations.contact_weight=1",
    "expectations.disclosure_shown=true",
]

SIZES = {
    # name: (scenario, overrides)
    "classroom": ("classroom", []),
    "classroom_behaviour": ("classroom", BEHAVIOUR),
    "city_behaviour": ("city", BEHAVIOUR),
    # The same with assumptions that keep the city growing (far more optimistic claims, fewer
    # discount buyers, slower learning, no outside option), so that every mechanism works on
    # a number of distributors closer to the plain city's.
    "city_behaviour_growing": (
        "city",
        [
            *BEHAVIOUR,
            "expectations.optimism=30",
            "expectations.adaptation=0.1",
            "expectations.outside_option_usd=0",
            "segments.discount_share=0.2",
        ],
    ),
    "baseline": ("baseline", []),
    "city_250k": ("city", ["market.population=250000", "market.founders=25"]),
    "city_500k": ("city", ["market.population=500000", "market.founders=50"]),
    "city": ("city", []),
}
DEFAULT = ["classroom", "baseline"]


def _one(name: str, queue) -> None:
    from simulation.config import load_scenario
    from simulation.runner import run_scenario

    scenario, overrides = SIZES[name]
    t0 = time.perf_counter()
    scen, path = load_scenario(scenario, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        res = run_scenario(scen, scenario_path=path, out=Path(tmp) / "run", figures=True)
        wall = time.perf_counter() - t0
        model = res["model"]
        monthly = model.datacollector.get_model_vars_dataframe()
        distributor_months = int(monthly["distributors"].iloc[1:].sum())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "size": name,
            "population": scen.market.population,
            "months": scen.scenario.months,
            "wall_s": wall,
            "timings_s": res["timings"],
            "person_months_per_s": scen.market.population * scen.scenario.months / wall,
            "distributor_months_per_s": distributor_months / wall,
            "peak_rss_mb": peak_mb,
            "ever_joined": res["summary"]["ever_joined"],
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="all sizes up to the 1,000,000 city")
    ap.add_argument("--sizes", nargs="*", choices=list(SIZES), default=None)
    args = ap.parse_args(argv)
    sizes = list(SIZES) if args.all else (args.sizes or DEFAULT)
    ctx = mp.get_context("spawn")
    rows = []
    for name in sizes:
        q = ctx.Queue()
        p = ctx.Process(target=_one, args=(name, q))
        p.start()
        row = q.get()
        p.join()
        rows.append(row)
        t = row["timings_s"]
        phases = ", ".join(
            f"{k.removeprefix('phase_')} {v:.2f}" for k, v in t.items() if k.startswith("phase_")
        )
        print(
            f"{name:>10}: N={row['population']:>9,} {row['months']} months  "
            f"wall {row['wall_s']:6.2f} s  peak {row['peak_rss_mb']:7.0f} MB  "
            f"{row['person_months_per_s'] / 1e6:6.2f} M person-months/s  "
            f"{row['distributor_months_per_s'] / 1e3:7.1f} k distributor-months/s"
        )
        print(
            f"{'':>12}build {t['build']:.2f}  simulate {t['simulate']:.2f} ({phases})  "
            f"tables {t['write_tables']:.2f}  figures {t.get('figures', 0):.2f}"
        )
        sys.stdout.flush()
    if len(rows) > 1:
        per = {r["size"]: r["wall_s"] / r["population"] * 1e6 for r in rows}
        print("time per million persons (s):", {k: round(v, 2) for k, v in per.items()})
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    meta = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "run.json").write_text(json.dumps({"machine": meta, "runs": rows}, indent=2))
    print(f"cores: {os.cpu_count()}  ({meta['platform']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
