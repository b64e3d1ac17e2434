"""``mlmsim stress PLAN.toml``: a compensation plan across a battery of futures.

A plan designer needs to know how a plan behaves across futures, not in one lucky run. The
battery (:data:`FUTURES`) runs the plan in the base scenario as given and in six futures,
each a set of scenario overrides computed from the base scenario (so the battery means the
same on a classroom town and on a city), some applied from the start and some as a shock
part-way through the run (the monthly rules read the scenario every month). Every future is
run with the same seeds (``--seeds``, from one master seed), so futures differ by what
changes, not by luck. It is an ordinary sweep underneath: parallel, resumable, on Dask with
``--scheduler``, with the sweep report.

Reported per future (distribution over seeds): the payout ratio over the run, the worst
month (the highest monthly payout ratio), breakage, the share of participants paid less than
their costs and the share of income from recruitment. Flags:

* payout above the cap: some month paid more than the plan's global cap allows;
* income from recruiting: over all runs, the median share of commissions paid for recruiting
  is at least one half (Koscot 1975 and BurnLounge 2014 speak of rewards "primarily" for
  recruiting; reading that as one half is a convention, see
  :func:`simulation.metrics.pyramid_indicators`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import results
from simulation.config import Scenario, load_scenario
from simulation.errors import ConfigError
from simulation.safepath import safe_name
from simulation.sweep import (
    Point,
    Sweep,
    add_executor_options,
    print_result,
    read_plan,
    run_sweep,
)

DEFAULT_ROOT = Path("results") / "stress"
TABLE_FILE = "stress.csv"
JSON_FILE = "stress.json"
RECRUITING_LINE = 0.5  # the pyramid_indicators line for recruitment_income_share

Values = dict[str, Any]
Shocks = list[dict[str, Any]]


def _bounded(key: str, value: float) -> float | int:
    """``value`` clipped to the scenario field's bounds (and rounded for integer fields)."""
    section, _, name = key.partition(".")
    f = Scenario.model_fields[section].annotation.model_fields[name]
    for m in f.metadata:
        if hasattr(m, "le"):
            value = min(value, m.le)
        if hasattr(m, "ge"):
            value = max(value, m.ge)
    return round(value) if f.annotation is int else float(value)


def _scaled(base: dict[str, Any], factors: dict[str, float]) -> Values:
    out = {}
    for key, f in factors.items():
        section, _, name = key.partition(".")
        out[key] = _bounded(key, base[section][name] * f)
    return out


def _at(base: dict[str, Any], fraction: float) -> int:
    """The month ``fraction`` of the way through the run (at least month 1)."""
    return max(1, round(base["scenario"]["months"] * fraction))


def baseline(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """Baseline.

    The scenario as given: the plan's own expected future.
    """
    return {}, []


def fast_growth(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """Fast growth.

    A hot start: twice the pitching and 1.5 times the conversion (capped at 1). Tests whether
    payouts outrun revenue while the tree grows fast and deep.
    """
    return _scaled(base, {"recruit.pitches_per_month": 2.0, "recruit.join_prob": 1.5}), []


def stall(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """Growth that stalls.

    A quarter of the way through, pitching halves and conversion falls to 40% of what it was
    (the story gets old); the company lives on the members it has.
    """
    shock = _scaled(base, {"recruit.pitches_per_month": 0.5, "recruit.join_prob": 0.4})
    return {}, [{"month": _at(base, 0.25), "set": shock}]


def recruiting_collapse(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """A collapse of recruiting.

    A third of the way through (a scandal, a regulator's warning), conversion falls to 5% of
    what it was, pitching to a quarter, and bad news about quitters weighs at least 0.6 per
    quitting contact.
    """
    shock = _scaled(base, {"recruit.join_prob": 0.05, "recruit.pitches_per_month": 0.25})
    shock["recruit.bad_news"] = max(base["recruit"]["bad_news"], 0.6)
    return {}, [{"month": _at(base, 1 / 3), "set": shock}]


def high_attrition(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """High attrition.

    Three times the base monthly hazard of quitting, twice the extra hazard after a losing
    month and after months without income (typically 80-90% a year instead of 50-60%).
    """
    return _scaled(
        base, {"quit.base_monthly": 3.0, "quit.loss_extra": 2.0, "quit.idle_extra": 2.0}
    ), []


def inventory_loading(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """Inventory loading.

    40% of joiners buy stock to reach a rank, twice the usual amount, for six months; 95% are
    on autoship; only 10% of quitters claim the buyback (FTC 2018 guidance on purchases made
    to qualify).
    """
    b = base["buy"]
    return {
        "buy.loader_share": max(b["loader_share"], 0.4),
        "buy.loading_pv": _bounded("buy.loading_pv", b["loading_pv"] * 2),
        "buy.loading_months": max(b["loading_months"], 6),
        "buy.autoship_share": max(b["autoship_share"], 0.95),
        "quit.buyback_claim_prob": min(base["quit"]["buyback_claim_prob"], 0.1),
    }, []


def early_saturation(base: dict[str, Any]) -> tuple[Values, Shocks]:
    """A market that saturates early.

    A quarter of the population (one town, one community; at least 10 persons per founder and
    4 times the mean number of contacts), 95% of pitches to contacts, refusers off limits
    twice as long.
    """
    m = base["market"]
    pop = max(m["population"] // 4, 10 * m["founders"], 4 * m["mean_degree"])
    return {
        "market.population": min(pop, m["population"]),
        "recruit.warm_share": max(base["recruit"]["warm_share"], 0.95),
        "recruit.refusal_memory_months": _bounded(
            "recruit.refusal_memory_months", base["recruit"]["refusal_memory_months"] * 2
        ),
    }, []


FUTURES: dict[str, Callable[[dict[str, Any]], tuple[Values, Shocks]]] = {
    "baseline": baseline,
    "fast_growth": fast_growth,
    "stall": stall,
    "recruiting_collapse": recruiting_collapse,
    "high_attrition": high_attrition,
    "inventory_loading": inventory_loading,
    "early_saturation": early_saturation,
}


def describe(name: str) -> str:
    """A future's description: its docstring after the title line."""
    doc = (FUTURES[name].__doc__ or "").strip().split("\n", 1)
    return " ".join(doc[-1].split())


def _changes(values: Values, shocks: Shocks) -> str:
    def fmt(d: dict[str, Any]) -> str:
        return ", ".join(
            f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in d.items()
        )

    parts = [fmt(values)] if values else []
    parts += [f"from month {s['month']}: {fmt(s['set'])}" for s in shocks]
    return "; ".join(parts) or "nothing"


def build(
    plan: str,
    scenario: str | None = None,
    sets: list[str] | None = None,
    seeds: int = 20,
    master_seed: int = 0,
) -> Sweep:
    """The stress sweep of ``plan`` (a path or shipped name) on ``scenario``.

    The plan is validated here: a plan that does not load is an error before anything runs.
    """
    from simulation.plans import plan_from_dict

    scen, _path = load_scenario(scenario, sets or [])
    info = read_plan(plan, Path.cwd(), "stress")
    plan_obj = plan_from_dict(info["data"], source=info["path"])
    base = scen.to_dict()
    base["plan"]["file"] = info["path"]
    points = []
    for name, fn in FUTURES.items():
        values, shocks = fn(base)
        points.append(Point(values, label=name, shocks=shocks))
    stem = Path(info["path"]).stem
    return Sweep(
        name=f"stress-{stem}-{scen.scenario.name}",
        description=f"Plan '{plan_obj.meta.name}' ({stem}) across {len(points)} futures of "
        f"the '{scen.scenario.name}' scenario, {seeds} seeds each.",
        source=f"mlmsim stress {plan}",
        base=base,
        plans={info["path"]: info},
        points=points,
        replicates=seeds,
        master_seed=master_seed,
        design="battery",
        kind="stress",
    )


def _q(v: pd.Series, q: float) -> float:
    v = v.astype(np.float64).dropna()
    return float(v.quantile(q)) if len(v) else math.nan


def stress_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per future: runs, and the distribution over seeds of each reported outcome."""
    rows = []
    for name in FUTURES:
        sub = runs[runs["label"] == name]
        ok = sub[sub["status"] == "ok"]

        def col(c: str, frame: pd.DataFrame = ok) -> pd.Series:
            return frame[c] if c in frame else pd.Series(dtype=float)

        rows.append(
            {
                "future": name,
                "runs_ok": len(ok),
                "runs_failed": int((sub["status"] == "error").sum()),
                "payout_ratio_p05": _q(col("payout_ratio"), 0.05),
                "payout_ratio_median": _q(col("payout_ratio"), 0.5),
                "payout_ratio_p95": _q(col("payout_ratio"), 0.95),
                "worst_month_payout_ratio_max": float(
                    col("worst_month_payout_ratio").astype(np.float64).max()
                )
                if len(ok)
                else math.nan,
                "worst_month_median": _q(col("worst_month"), 0.5),
                "breakage_ratio_median": _q(col("breakage_ratio"), 0.5),
                "share_paid_below_costs_median": _q(col("share_net_loss"), 0.5),
                "share_paid_below_costs_p95": _q(col("share_net_loss"), 0.95),
                "recruitment_income_share_median": _q(col("recruitment_income_share"), 0.5),
                "recruitment_income_share_p95": _q(col("recruitment_income_share"), 0.95),
                "runs_over_cap": int((col("months_over_cap").fillna(0) > 0).sum()),
                "penetration_median": _q(col("penetration"), 0.5),
            }
        )
    return pd.DataFrame(rows)


def flags(runs: pd.DataFrame, table: pd.DataFrame, cap: float | None) -> list[dict[str, Any]]:
    """The two flags: payout above the cap, income that depends on recruiting."""
    ok = runs[runs["status"] == "ok"]
    out = []
    worst = table["worst_month_payout_ratio_max"]
    worst_future = table.loc[worst.idxmax(), "future"] if worst.notna().any() else "n/a"
    worst_text = f"{100 * worst.max():.1f}%" if worst.notna().any() else "n/a"
    if cap is None:
        out.append(
            {
                "name": "payout_above_cap",
                "title": "Payout cap",
                "raised": False,
                "text": f"the plan has no global payout cap; its highest monthly payout ratio "
                f"was {worst_text} (future {worst_future}).",
            }
        )
    else:
        over = table[table["runs_over_cap"] > 0]
        n_over = int(over["runs_over_cap"].sum())
        if n_over:
            text = (
                f"in {n_over} of {len(ok)} runs some month paid more than the "
                f"{100 * cap:.0f}% cap (futures: {', '.join(over['future'])}); highest "
                f"month {worst_text}."
            )
        else:
            text = (
                f"no month of any run paid more than the {100 * cap:.0f}% cap; highest "
                f"month {worst_text} (future {worst_future})."
            )
        out.append(
            {
                "name": "payout_above_cap",
                "title": "Payout above the cap",
                "raised": n_over > 0,
                "text": text,
            }
        )
    share = ok["recruitment_income_share"].astype(np.float64).dropna() if len(ok) else None
    median = float(share.median()) if share is not None and len(share) else math.nan
    heavy = table[table["recruitment_income_share_median"] >= RECRUITING_LINE]["future"]
    raised = bool(median >= RECRUITING_LINE)
    text = (
        f"over all runs the median share of commissions paid for recruiting is "
        f"{100 * median:.0f}% (line: {100 * RECRUITING_LINE:.0f}%)"
        if not math.isnan(median)
        else "no commissions were paid"
    )
    if len(heavy):
        text += f"; at or above the line in: {', '.join(heavy)}"
    text += (
        ". Recruitment income: bonuses for enrolling plus the part of other commissions paid "
        "on new recruits' first three months of orders."
    )
    out.append(
        {
            "name": "income_from_recruiting",
            "title": "Income depends on recruiting",
            "raised": raised,
            "text": text,
        }
    )
    return out


def make_step(sweep: Sweep) -> Callable[[Path, Sweep, pd.DataFrame], list[str]]:
    """The sweep step writing ``stress.csv`` and ``stress.json``."""
    from simulation.plans import plan_from_dict

    info = next(iter(sweep.plans.values()))
    plan = plan_from_dict(info["data"], source=info["path"])
    cap = plan.cap.ratio if plan.cap is not None else None
    futures = {}
    for p in sweep.points:
        futures[p.label] = f"{describe(p.label)} Here: {_changes(p.values, p.shocks)}."

    def step(out: Path, _sweep: Sweep, runs: pd.DataFrame) -> list[str]:
        table = stress_table(runs)
        results.write_csv(table, out / TABLE_FILE)
        data = {
            "plan": info["path"],
            "plan_name": plan.meta.name,
            "cap": cap,
            "intro": (
                f"Plan '{plan.meta.name}' in {len(FUTURES)} futures, "
                f"{sweep.replicates} seeds each (the same seeds in every future). Money "
                "ratios are over the whole run; 'paid below costs' is the share of everyone "
                "who joined whose net income is negative."
            ),
            "flags": flags(runs, table, cap),
            "table": table.to_dict(orient="records"),
            "futures": futures,
        }
        results.write_json(data, out / JSON_FILE)
        return [TABLE_FILE, JSON_FILE]

    return step


def print_stress(out: Path) -> None:
    """The terminal table and flags of a stress folder."""
    import json

    data = json.loads((out / JSON_FILE).read_text(encoding="utf-8"))

    def pct(x: Any) -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"

    head = (
        "future",
        "ok",
        "payout [5-95%]",
        "worst mo",
        "breakage",
        "below cost",
        "recruit",
        "over cap",
    )
    rows = [
        (
            r["future"],
            str(r["runs_ok"]),
            f"{pct(r['payout_ratio_median'])} [{pct(r['payout_ratio_p05'])}-"
            f"{pct(r['payout_ratio_p95'])}]",
            pct(r["worst_month_payout_ratio_max"]),
            pct(r["breakage_ratio_median"]),
            pct(r["share_paid_below_costs_median"]),
            pct(r["recruitment_income_share_median"]),
            str(r["runs_over_cap"]),
        )
        for r in data["table"]
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    print(f"\n  {data['plan_name']} ({data['plan']})")
    for row in (head, *rows):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "\n  medians over seeds; worst mo = highest monthly payout ratio of any run; below cost "
        "= share of joiners with net income < 0; recruit = share of commissions from recruiting"
    )
    for f in data["flags"]:
        print(f"  {'FLAG' if f['raised'] else 'ok  '}  {f['title']}: {f['text']}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim stress PLAN.toml [--scenario S] [--seeds N] ...``."""
    parser.add_argument("plan", help="plan file (TOML) or a shipped plan's name")
    parser.add_argument(
        "--scenario", default=None, help="base scenario file or shipped name (default: classroom)"
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds per future (default 20)")
    parser.add_argument(
        "--master-seed", type=int, default=0, help="the seeds derive from it (default 0)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a base scenario value, e.g. --set market.population=5000 (repeatable)",
    )
    add_executor_options(parser)


def run(args: argparse.Namespace) -> int:
    """``mlmsim stress``: run (or resume) the battery, print the table and the flags."""
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}: need at least 1")
    if args.master_seed < 0:
        raise ConfigError(f"--master-seed {args.master_seed}: need 0 or more")
    sweep = build(args.plan, args.scenario, args.sets, args.seeds, args.master_seed)
    name = safe_name(sweep.name.removeprefix("stress-"), "stress")
    out = args.out if args.out is not None else DEFAULT_ROOT / name
    res = run_sweep(
        sweep,
        out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        report=not args.no_report,
        retry_failed=args.retry_failed,
        steps=[make_step(sweep)],
    )
    print_result(res)
    if res.lost:
        return 1
    print_stress(out)
    return 0
