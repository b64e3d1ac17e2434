"""Does the plan change what people do? Paired-seed comparisons at 20,000 people x 60 months.

Two comparisons on ``scenarios/plan_response.toml`` (builders split their pitches by what the
plan pays; stock is loaded to reach a rank when it pays), each over the same seeds in both
arms (common random numbers), reported as mean paired differences with 95% t intervals:

1. a pure pyramid (``pure_pyramid``: 40 per recruit, no product; run with no household
   product and no retail customers) against a retail-heavy plan (``retail_heavy_50``): month of
   the peak in joins, joins in the peak month, month joins fell below half the peak, and the
   share of the later half of joiners who lost money;
2. the default unilevel with a large enrollment bonus (``unilevel_5_fast_start``) against the
   same plan without it (``unilevel_5``): joins in the first 12 months and in all.

``--with-expectations`` runs both again with ``[expectations]`` on (contacts' results in the
expectation, weight 1; ``buy.qualify_rule = expected_gain``), at the expectations' assumed
defaults otherwise.

    python benchmarks/bench_plan_response.py [--population 20000] [--months 60] [--seeds 20]
        [--with-expectations]

Prints a table per comparison with the core count and writes JSON to ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from simulation.plan_response import FIGURES, compare

SCENARIO = "plan_response"
PYRAMID = ['plan.file="pure_pyramid"', "buy.own_use_pv=0", "retail.enabled=false"]
RETAIL_HEAVY = ['plan.file="retail_heavy_50"']
FAST_START = ['plan.file="unilevel_5_fast_start"']
NO_FAST_START = ['plan.file="unilevel_5"']
EXPECTATIONS = [
    "expectations.enabled=true",
    "expectations.contact_weight=1",
    "buy.qualify_rule=expected_gain",
]
COMPARISONS = {
    "pyramid - retail_heavy": (
        PYRAMID,
        RETAIL_HEAVY,
        ("peak_month", "peak_joins", "half_peak_month", "late_loss_share", "ever_joined"),
    ),
    "fast_start - no_fast_start": (
        FAST_START,
        NO_FAST_START,
        ("joined_by_12", "ever_joined", "peak_joins", "peak_month"),
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--with-expectations", action="store_true")
    args = ap.parse_args()
    base = [f"market.population={args.population}", f"scenario.months={args.months}"]
    variants = {"effort and loading": []}
    if args.with_expectations:
        variants["with expectations and contacts"] = EXPECTATIONS
    seeds = list(range(args.seeds))
    out = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "population": args.population,
        "months": args.months,
        "seeds": args.seeds,
        "results": {},
    }
    print(
        f"{args.population:,} people x {args.months} months x {args.seeds} seeds, "
        f"{os.cpu_count()} cores"
    )
    for variant, extra in variants.items():
        for name, (arm_a, arm_b, shown) in COMPARISONS.items():
            t0 = time.perf_counter()
            iv, a, b = compare(SCENARIO, [*base, *extra, *arm_a], [*base, *extra, *arm_b], seeds)
            secs = time.perf_counter() - t0
            print(f"\n{variant}: {name} ({secs:.0f} s)")
            print(f"  {'figure':16s} {'arm A':>10s} {'arm B':>10s} {'A - B':>10s}  95% interval")
            rows = {}
            for k in shown:
                v = iv[k]
                mark = "" if v.excludes_zero else "  (includes 0)"
                print(
                    f"  {k:16s} {a[k].mean():10.3f} {b[k].mean():10.3f} {v.mean:10.3f}  "
                    f"[{v.low:.3f}, {v.high:.3f}]{mark}"
                )
                rows[k] = {
                    "meaning": FIGURES[k],
                    "a_mean": float(a[k].mean()),
                    "b_mean": float(b[k].mean()),
                    "diff": v.mean,
                    "low": v.low,
                    "high": v.high,
                    "excludes_zero": v.excludes_zero,
                }
            out["results"][f"{variant}: {name}"] = {"seconds": secs, "figures": rows}
    dest = Path(__file__).parent / "out"
    dest.mkdir(exist_ok=True)
    path = dest / "plan_response.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
