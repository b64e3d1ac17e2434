"""Which assumed defaults matter: each assumption at both ends of its plausible range.

Usage:
    python benchmarks/bench_assumptions.py                        # classroom, 3 seeds
    python benchmarks/bench_assumptions.py --scenario realistic --seeds 2
    python benchmarks/bench_assumptions.py --keys costs.fixed_usd_monthly buy.autoship_share

Every scenario parameter whose default is an assumption (``simulation/provenance.py``) has a
plausible range. This script moves one assumption at a time to the low and to the high end of
its range, everything else at the scenario's values, with the same seeds (common random
numbers), and reports how far each outcome moves: the share of everyone who joined who lost
money (own use valued, and own use as a cost), the final penetration, annual attrition and
the retail share. The table is sorted by the largest move of the loss share, so its top rows
are the assumptions the headline figures depend on most. One-at-a-time ranges miss
interactions; ``mlmsim sweep`` with a Morris or Sobol design (``docs/sweeps.md``) covers them.

Prints a markdown table with the core count and writes ``benchmarks/out/assumptions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTCOMES = ("share_net_loss", "share_net_loss_strict", "penetration", "attrition", "retail_share")


def outcomes(scenario, seed: int) -> dict[str, float]:
    """Run ``scenario`` with ``seed`` and return the outcomes of :data:`OUTCOMES`."""
    from simulation.metrics import annual_quit_rate, at_risk
    from simulation.model import MLMModel

    model = MLMModel(scenario=scenario, seed=seed, agents=False)
    model.run()
    df = model.datacollector.get_model_vars_dataframe()
    risk = at_risk(df["distributors"].to_numpy(float), df["joined"].to_numpy(float))
    pv = float(df["pv"].sum())
    return {
        "share_net_loss": float(df["share_net_loss"].iloc[-1]),
        "share_net_loss_strict": float(df["share_net_loss_strict"].iloc[-1]),
        "penetration": float(df["penetration"].iloc[-1]),
        "attrition": annual_quit_rate(df["quit_this_month"].to_numpy(float)[1:], risk[1:]),
        "retail_share": float(df["customer_pv"].sum()) / pv if pv > 0 else float("nan"),
    }


def one_at_a_time(
    scenario_name: str, seeds: list[int], keys: list[str] | None = None, overrides=()
) -> dict:
    """Outcomes at the scenario's values and at each end of each assumption's range.

    Returns:
        ``{"base": {outcome: mean}, "rows": [{key, default, low, high, outcome: {"low":
        mean, "high": mean, "delta": high - low}}, ...]}``, means over ``seeds``.
    """
    from simulation.config import load_scenario, scenario_from_dict
    from simulation.provenance import PROVENANCE

    base, _ = load_scenario(scenario_name, list(overrides))
    keys = keys or [k for k, p in PROVENANCE.items() if p.plausible is not None]
    unknown = [k for k in keys if k not in PROVENANCE or PROVENANCE[k].plausible is None]
    if unknown:
        raise SystemExit(f"not assumptions with a plausible range: {unknown}")

    def mean_outcomes(scen) -> dict[str, float]:
        runs = [outcomes(scen, s) for s in seeds]
        return {o: sum(r[o] for r in runs) / len(runs) for o in OUTCOMES}

    result = {"base": mean_outcomes(base), "rows": []}
    for key in keys:
        section, _, name = key.partition(".")
        low, high = PROVENANCE[key].plausible
        integer = type(getattr(getattr(base, section), name)) is int
        ends = {}
        for label, value in (("low", low), ("high", high)):
            data = base.to_dict()
            data[section][name] = int(value) if integer else value
            ends[label] = mean_outcomes(scenario_from_dict(data, f"{key}={value}"))
        result["rows"].append(
            {
                "key": key,
                "value": getattr(getattr(base, section), name),
                "low": low,
                "high": high,
                **{
                    o: {
                        "low": ends["low"][o],
                        "high": ends["high"][o],
                        "delta": ends["high"][o] - ends["low"][o],
                    }
                    for o in OUTCOMES
                },
            }
        )
    result["rows"].sort(key=lambda r: -abs(r["share_net_loss"]["delta"]))
    return result


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def table(result: dict) -> str:
    """The markdown table of :func:`one_at_a_time` (percentages, low -> high)."""
    head = (
        "| assumption | value | range | lost money % (own use valued) | lost money % "
        "(own use as cost) | penetration % | attrition %/yr | retail share % |"
    )
    lines = [head, "| --- | ---: | --- | --- | --- | --- | --- | --- |"]
    b = result["base"]
    lines.append("| (scenario as is) | | | " + " | ".join(_pct(b[o]) for o in OUTCOMES) + " |")
    for r in result["rows"]:
        cells = [
            f"{_pct(r[o]['low'])} -> {_pct(r[o]['high'])} ({'+' if r[o]['delta'] >= 0 else ''}"
            f"{_pct(r[o]['delta'])})"
            for o in OUTCOMES
        ]
        lines.append(
            f"| `{r['key']}` | {r['value']:g} | {r['low']:g} to {r['high']:g} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the one-at-a-time analysis, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="classroom")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    parser.add_argument("--keys", nargs="*", help="only these assumptions (section.key)")
    parser.add_argument("--set", action="append", default=[], help="section.key=value")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = one_at_a_time(args.scenario, list(range(1, args.seeds + 1)), args.keys, args.set)
    wall = time.perf_counter() - t0
    print(
        f"scenario {args.scenario}, seeds 1..{args.seeds}, {len(result['rows'])} assumptions, "
        f"{wall:.0f} s on {os.cpu_count()} cores"
    )
    print(table(result))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    result.update(scenario=args.scenario, seeds=args.seeds, wall_s=wall, cores=os.cpu_count())
    (out / "assumptions.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
