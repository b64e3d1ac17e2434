"""``mlmsim stress PLAN.toml [PLAN ...]``: compensation plans across a battery of futures.

A plan designer needs to know how a plan behaves across futures, not in one lucky run. The
battery (:data:`FUTURES`) runs the plan in the base scenario as given and in six futures,
each a set of scenario overrides computed from the base scenario (so the battery means the
same on a classroom town and on a city), some applied from the start and some as a shock
part-way through the run (the monthly rules read the scenario every month). Every future is
run with the same seeds (``--seeds``, from one master seed), so futures differ by what
changes, not by luck. It is an ordinary sweep underneath: parallel, resumable, on Dask with
``--scheduler``, with the sweep report.

Several plans are run side by side on the same futures and seeds (one sweep; run labels
``plan/future``), in one table with a ``plan`` column and one report page, with the flags of
each plan.

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
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import market_tables, results
from simulation.config import Scenario, load_scenario, parse_override
from simulation.errors import ConfigError
from simulation.plans import plan_from_dict
from simulation.safepath import safe_name
from simulation.sweep import (
    Point,
    Sweep,
    add_battery_options,
    check_battery_seeds,
    executor_options,
    load_market_base,
    market_base,
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
    plan: str | list[str],
    scenario: str | None = None,
    sets: list[str] | None = None,
    seeds: int = 20,
    master_seed: int = 0,
    company: str | None = None,
) -> Sweep:
    """The stress sweep of one plan or several (paths or shipped names) on ``scenario``.

    With one plan the runs are labelled by future; with several, ``plan/future`` (the plan
    file's stem), every plan on the same futures and seeds. The plans are validated here: a
    plan that does not load is an error before anything runs.

    On a market scenario (``[[companies]]``) the plan is ``company``'s while the other
    companies keep theirs; the futures change the shared scenario (a company's own values in
    its ``set`` stay), so the whole market lives through them.
    """
    given = [plan] if isinstance(plan, str) else list(plan)
    market = market_base(scenario, Path.cwd(), "stress") if scenario is not None else None
    if market is None and company is not None:
        raise ConfigError(
            f"stress --company {company}: the scenario '{scenario or 'classroom'}' has one "
            "company; --company names a company of a market scenario ([[companies]])"
        )
    if market is not None and company not in market.companies:
        given_company = f" --company {company}" if company is not None else ""
        raise ConfigError(
            f"stress{given_company}: {scenario} is a market of "
            f"{', '.join(market.companies)}; name the company whose plan is stressed "
            "with --company NAME"
        )
    infos = [read_plan(p, Path.cwd(), "stress") for p in given]
    stems = [Path(i["path"]).stem for i in infos]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ConfigError(
            f"stress: plan file name(s) {', '.join(twice)} given twice; each plan needs its own "
            "file name (it labels the runs)"
        )
    objs = [plan_from_dict(i["data"], source=i["path"]) for i in infos]
    plans: dict[str, dict[str, Any]] = {}
    if market is None:
        scen, _path = load_scenario(scenario, sets or [])
        base = scen.to_dict()
        base["plan"]["file"] = infos[0]["path"]
        key = "plan.file"
    else:
        values = dict(parse_override(s) for s in sets or [])
        market, base = load_market_base(market, values, Path.cwd(), "stress --set", plans)
        key = f"companies.{company}.plan"
        stressed = {"company": company, "plans": [i["path"] for i in infos]}
        market = replace(market, plan_keys=[key], stressed=stressed)
    plans.update({i["path"]: i for i in infos})
    multi = len(infos) > 1
    points = []
    for info, stem in zip(infos, stems, strict=True):
        for name, fn in FUTURES.items():
            values, shocks = fn(base)
            if multi or market is not None:
                values = {**values, key: info["path"]}
            points.append(Point(values, label=f"{stem}/{name}" if multi else name, shocks=shocks))
    names = ", ".join(f"'{o.meta.name}' ({s})" for o, s in zip(objs, stems, strict=True))
    where = base["scenario"]["name"]
    of = f" for company '{company}' of the market" if company else ""
    return Sweep(
        name=f"stress-{'+'.join(stems)}-{where}{f'-{company}' if company else ''}",
        description=f"Plan{'s' if multi else ''} {names}{of} across {len(FUTURES)} futures "
        f"of the '{where}' scenario, {seeds} seeds each.",
        source=f"mlmsim stress {' '.join(given)}",
        base=base,
        plans=plans,
        points=points,
        replicates=seeds,
        master_seed=master_seed,
        design="battery",
        kind="stress",
        market=market,
    )


def _q(v: pd.Series, q: float) -> float:
    v = v.astype(np.float64).dropna()
    return float(v.quantile(q)) if len(v) else math.nan


def _column(outcome: str, company: str | None) -> str:
    """The runs' column of ``outcome``: a market's ``<outcome>__<company>``, else itself."""
    return f"{outcome}{market_tables.OUTCOME_SEPARATOR}{company}" if company else outcome


def stress_table(
    runs: pd.DataFrame, plans: list[str] | None = None, company: str | None = None
) -> pd.DataFrame:
    """One row per future: runs, and the distribution over seeds of each reported outcome.

    With ``plans`` (plan file stems; runs labelled ``plan/future``): one row per plan and
    future, with a ``plan`` column first. With ``company`` (a market): that company's
    outcomes (``<outcome>__<company>``), and its share of the market's members at the end.
    """
    rows = []
    pairs = [(p, f) for p in plans for f in FUTURES] if plans else [(None, f) for f in FUTURES]
    for plan, name in pairs:
        sub = runs[runs["label"] == (name if plan is None else f"{plan}/{name}")]
        ok = sub[sub["status"] == "ok"]

        def col(c: str, frame: pd.DataFrame = ok) -> pd.Series:
            c = _column(c, company)
            return frame[c] if c in frame else pd.Series(dtype=float)

        rows.append(
            {
                **({} if plan is None else {"plan": plan}),
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
                **(
                    {"market_share_end_median": _q(col("market_share_end"), 0.5)} if company else {}
                ),
            }
        )
    return pd.DataFrame(rows)


def flags(
    runs: pd.DataFrame, table: pd.DataFrame, cap: float | None, company: str | None = None
) -> list[dict[str, Any]]:
    """The two flags: payout above the cap, income that depends on recruiting.

    With ``company`` (a market): of that company's outcomes.
    """
    ok = runs[runs["status"] == "ok"]
    recruiting = _column("recruitment_income_share", company)
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
    share = ok[recruiting].astype(np.float64).dropna() if len(ok) else None
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
    stressed = sweep.market.stressed if sweep.market is not None else None
    if stressed:  # a market: the stressed company's plans, not the other companies'
        infos = [sweep.plans[p] for p in stressed["plans"]]
        company = stressed["company"]
    else:
        infos, company = list(sweep.plans.values()), None
    plan_keys = sweep.plan_keys()
    plans = [plan_from_dict(i["data"], source=i["path"]) for i in infos]
    stems = [Path(i["path"]).stem for i in infos]
    multi = len(infos) > 1
    futures = {}
    for p in sweep.points:
        name = p.label.rpartition("/")[2]
        values = {k: v for k, v in p.values.items() if k not in plan_keys}
        futures[name] = f"{describe(name)} Here: {_changes(values, p.shocks)}."

    def step(out: Path, _sweep: Sweep, runs: pd.DataFrame) -> list[str]:
        table = stress_table(runs, stems if multi else None, company)
        results.write_csv(table, out / TABLE_FILE)
        all_flags = []
        for plan, stem in zip(plans, stems, strict=True):
            cap = plan.cap.ratio if plan.cap is not None else None
            if multi:
                mine = runs[runs["label"].str.startswith(f"{stem}/")].copy()
                mine["label"] = mine["label"].str.partition("/")[2]
                part = table[table["plan"] == stem].drop(columns="plan").reset_index(drop=True)
                for f in flags(mine, part, cap, company):
                    all_flags.append({**f, "plan": stem, "title": f"{stem}: {f['title']}"})
            else:
                all_flags += flags(runs, table, cap, company)
        names = ", ".join(f"'{p.meta.name}'" for p in plans)
        data = {
            "plan": infos[0]["path"] if not multi else [i["path"] for i in infos],
            "plan_name": plans[0].meta.name if not multi else names,
            "cap": plans[0].cap.ratio if plans[0].cap is not None else None,
            "caps": {
                s: (p.cap.ratio if p.cap else None) for p, s in zip(plans, stems, strict=True)
            },
            "company": company,
            "intro": (
                f"Plan{'s' if multi else ''} {names}"
                + (
                    f" of company '{company}', the other companies keeping theirs,"
                    if company
                    else ""
                )
                + f" in {len(FUTURES)} futures, "
                f"{sweep.replicates} seeds each (the same seeds in every future"
                f"{' and for every plan' if multi else ''}). Money "
                "ratios are over the whole run; 'paid below costs' is the share of everyone "
                "who joined whose net income is negative."
            ),
            "flags": all_flags,
            "table": table.to_dict(orient="records"),
            "futures": futures,
        }
        results.write_json(data, out / JSON_FILE)
        return [TABLE_FILE, JSON_FILE]

    return step


def print_stress(out: Path) -> None:
    """The terminal table and flags of a stress folder."""
    data = json.loads((out / JSON_FILE).read_text(encoding="utf-8"))

    def pct(x: Any) -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"

    multi = bool(data["table"]) and "plan" in data["table"][0]
    share = bool(data.get("company"))  # a market: the company's share of members at the end
    head = (
        *(("plan",) if multi else ()),
        "future",
        "ok",
        "payout [5-95%]",
        "worst mo",
        "breakage",
        "below cost",
        "recruit",
        "over cap",
        *(("share end",) if share else ()),
    )
    rows = [
        (
            *((r["plan"],) if multi else ()),
            r["future"],
            str(r["runs_ok"]),
            f"{pct(r['payout_ratio_median'])} [{pct(r['payout_ratio_p05'])}-"
            f"{pct(r['payout_ratio_p95'])}]",
            pct(r["worst_month_payout_ratio_max"]),
            pct(r["breakage_ratio_median"]),
            pct(r["share_paid_below_costs_median"]),
            pct(r["recruitment_income_share_median"]),
            str(r["runs_over_cap"]),
            *((pct(r["market_share_end_median"]),) if share else ()),
        )
        for r in data["table"]
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    plans = data["plan"] if isinstance(data["plan"], list) else [data["plan"]]
    of = f" as company '{data['company']}' of the market" if share else ""
    print(f"\n  {data['plan_name']}{of} ({', '.join(plans)})")
    for row in (head, *rows):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i < 1 + multi else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "\n  medians over seeds; worst mo = highest monthly payout ratio of any run; below cost "
        "= share of joiners with net income < 0; recruit = share of commissions from recruiting"
        + ("; share end = the company's share of the market's members at the end" if share else "")
    )
    for f in data["flags"]:
        print(f"  {'FLAG' if f['raised'] else 'ok  '}  {f['title']}: {f['text']}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim stress PLAN.toml [PLAN ...] [--scenario S] [--seeds N] ...``."""
    parser.add_argument(
        "plan",
        nargs="+",
        help="plan file(s) (TOML) or shipped plan names; several are compared side by side",
    )
    parser.add_argument(
        "--scenario", default=None, help="base scenario file or shipped name (default: classroom)"
    )
    parser.add_argument(
        "--company",
        default=None,
        help="on a market scenario: the company whose plan is stressed (the others keep theirs)",
    )
    add_battery_options(
        parser,
        "future",
        "override a base scenario value, e.g. --set market.population=5000 (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    """``mlmsim stress``: run (or resume) the battery, print the table and the flags."""
    check_battery_seeds(args)
    sweep = build(args.plan, args.scenario, args.sets, args.seeds, args.master_seed, args.company)
    # The settings are part of the default folder's name, as for `mlmsim run`: a second
    # stress test of the same plan with other settings gets its own folder instead of being
    # refused as "a different sweep" in the first one's.
    name = safe_name(sweep.name.removeprefix("stress-"), "stress")
    name += results.override_label(args.sets or [])
    out = args.out if args.out is not None else DEFAULT_ROOT / name
    res = run_sweep(sweep, out, steps=[make_step(sweep)], **executor_options(args))
    print_result(res)
    if res.lost:
        return 1
    print_stress(out)
    return 0
