"""Run-level outcomes, defined once: the summary, the report's analysis, sweep outcomes.

Every function takes a :class:`RunData`: a run's tables (the monthly and per-level tables of
the model's DataCollector, the per-distributor table) with its typed :class:`Scenario` and
:class:`Plan`. ``mlmsim run`` builds it from the model in memory
(:func:`simulation.results.run_data`), ``mlmsim report`` reads it from a run folder
(:func:`simulation.results.load_run`) and a sweep builds it per run, so the three cannot
disagree. Renderers (the report, the sweep report, the page) only format what is here.
``docs/report.md`` defines every number and its population.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.collect import (
    EARLY_MONTHS,
    LEGAL_COLUMNS,
    RANK_COMPONENT_COLUMN,
    RANK_MEMBERS_COLUMN,
    RANK_PAID_COLUMN,
    rank_components,
)
from simulation.config import Scenario
from simulation.metrics import (
    BassFit,
    Indicator,
    annual_quit_rate,
    at_risk,
    bass_fit,
    concentration,
    gini,
    income_disclosure,
    legal,
    level_saturation,
    monthly_quit_rate,
    months_to_half_peak,
    pyramid_indicators,
    recruitment_income,
    survival_by_cohort,
    top_share,
)
from simulation.metrics.survey import SURVEY_ANSWERS, survey_answers
from simulation.plans import Plan

# Numeric outcomes of a run, described: the keys of summary.json and the columns of a sweep's
# runs.parquet after the identifiers and parameters. The first group is :func:`summarise` (the
# headline of a single run), the second what :func:`sweep_outcomes` adds.
OUTCOMES: dict[str, str] = {
    "population": "Persons in the market (N).",
    "months": "Months simulated.",
    "ever_joined": "Persons who ever joined.",
    "penetration": "ever_joined / N at the end.",
    "active_end": "Active distributors at the end.",
    "peak_joins": "Most joins in one month.",
    "peak_month": "Month of the most joins.",
    "half_peak_month": "First month after the peak with joins below half the peak (or empty).",
    "max_level": "Deepest level anyone reached.",
    "share_net_loss": "Share of joiners paid less than their costs (net income < 0, household "
    "use of the product valued at what it would have cost anyway).",
    "share_net_loss_strict": "The same with all purchases counted as a cost.",
    "survey_lost": "Share of the joiners who joined to make money (not for the discount; "
    "everyone without segments; no wholesale customers) whose lifetime net income as they "
    "would report it (household product worth what it cost, every business cost counted) is "
    "below -$100: a survey's 'lost money' (metrics.survey).",
    "survey_broke_even": "The same population: net income within $100 of zero ('broke even').",
    "survey_profit": "The same population: net income above $100 ('made a profit').",
    "median_net_income": "Median cumulative net income of joiners, USD.",
    "consumer_injury": "Total consumer injury: the sum of the net losses of everyone who "
    "joined, sum of max(-net income, 0) (own use valued, state.net_income), USD.",
    "gini_net_income": "Gini of cumulative net income (defined with losses).",
    "top1_commissions": "Share of all commissions received by the top 1% of joiners.",
    "top10_commissions": "Share of all commissions received by the top 10% of joiners.",
    "payout_ratio": "Commissions paid / commissionable revenue over the whole run.",
    "retail_share": "Volume bought for non-member customers / all volume, whole run.",
    "revenue": "Company revenue, USD.",
    "commissions": "Commissions paid, USD.",
    "worst_month_payout_ratio": "Highest monthly payout ratio (the plan's worst month).",
    "worst_month": "The month of that payout ratio.",
    "breakage": "Commissions the plan would pay if everyone qualified, not paid (incl. what "
    "the cap withheld), USD.",
    "breakage_ratio": "breakage / commissionable revenue.",
    "cap_ratio": "The plan's global payout cap (empty if it has none).",
    "months_over_cap": "Months whose payout ratio exceeded the cap.",
    "recruitment_income_share": "Share of commissions paid for recruiting: recruitment "
    "bonuses plus other commissions on new recruits' early orders, pro rata to volume "
    "(outcomes.recruitment, as in the run report).",
    "reachable_per_active_end": "Still-reachable prospects per active distributor at the end "
    "(contacts who never joined and are not refusing): how saturated the market is.",
    # The legal tests (docs/legal.md, simulation.metrics.legal), over the whole run; "member-
    # months" are the months each member was paid in (active in the pay phase).
    "amway_70_company_share": "Share of all volume bought that was sold, used by a household "
    "or returned, whole run (Amway's 70% rule applied to the company total).",
    "amway_70_pass_share": "Share of member-months passing Amway's 70% rule (at least 70% of "
    "the month's purchases sold, used or returned).",
    "amway_70_paid_share": "Share of commissions paid to members passing the 70% rule that month.",
    "ten_customer_pass_share": "Share of member-months passing Amway's ten-customer rule (ten "
    "or more retail customers that month).",
    "ten_customer_paid_share": "Share of commissions paid to members passing the ten-customer "
    "rule that month.",
    "vemma_pass_share": "Share of member-months whose own and downline's sales that month were "
    "more than half to non-participants (Vemma order 2016).",
    "vemma_paid_share": "Share of commissions paid to members passing the Vemma rule that month.",
    "herbalife_end_user_share": "Sales to end users (customers, and members' household use) / "
    "all sales, whole run (Herbalife order 2016: at least 80%).",
    "end_use_pass_share": "Share of member-months with at least 80% of their own purchases "
    "reaching an end user.",
    "end_use_paid_share": "Share of commissions paid to members with at least 80% of their "
    "own purchases reaching an end user that month.",
    "herbalife_retail_rewards_share": "Share of commissions traceable to sales to "
    "non-participants (Herbalife order 2016: at least two thirds of rewards on retail sales).",
    "recruitment_reward_share": "Recruitment-driven share of participants' rewards (Vander Nat "
    "& Keep 2002): commissions traceable to participants' own purchases and recruiting bonuses "
    "/ (commissions + retail margin); a pyramid when above one half.",
    "unconsumed_share": "Share of all volume bought that was never used by a household, sold "
    "to a customer or returned (kept in stock or lost on quitting).",
    "qualify_share": "Share of all volume bought only to reach the monthly minimum (top-up "
    "beyond the month's household use and customer orders).",
    "members_net_income": "Sum of the net income of everyone who joined (own use valued), USD.",
}

# The legal outcomes (the last group above), None for a run folder written before the tests.
LEGAL_OUTCOMES = tuple(list(OUTCOMES)[list(OUTCOMES).index("amway_70_company_share") :])


@dataclass
class RunData:
    """One run's tables with its typed scenario and plan.

    Attributes:
        scenario: the scenario as resolved (overrides applied).
        plan: the plan that paid.
        seed: the master seed.
        monthly: the monthly table (month 0 = the founders), the DataCollector's model
            reporters (:func:`simulation.collect.monthly_columns`).
        levels: the per-level monthly table.
        dist: one row per person who ever joined
            (:func:`simulation.results.distributor_columns`).
        manifest: the run's manifest, when there is one (for renderers).
        run_dir: the run folder, when there is one.
    """

    scenario: Scenario
    plan: Plan
    seed: int
    monthly: pd.DataFrame
    levels: pd.DataFrame
    dist: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None

    @property
    def months(self) -> int:
        """Months simulated (the last month of the monthly table)."""
        return int(self.monthly["month"].iloc[-1])


def rank_names(plan: Plan) -> dict[int, str]:
    """Rank index -> name from the plan's ranks component (-1 = "no rank")."""
    return {-1: "no rank", **dict(enumerate(plan.rank_names))}


def rank_pay(monthly: pd.DataFrame, plan: Plan, months: range) -> pd.DataFrame:
    """Pay by paid-as rank and plan component over ``months``: who is paid by what.

    One row per rank of the plan: ``member_months`` (distributors paid as the rank, summed over
    the months), ``paid`` (12 x what those months paid them / member_months: a year at the rank,
    as a statement that annualises monthly pay reports it) and one column per paying component
    with its part of ``paid``. Empty for a plan without ranks and for a monthly table without
    these columns (a run folder written before them: the report then leaves the table out); a
    rank nobody held has NaN pay.
    """
    names = list(plan.rank_names)
    comps = rank_components(plan)
    header = ["rank", "member_months", "paid", *comps]
    # Per rank: its members, its commissions, then each component's part, in header's order.
    cols = {
        name: [
            RANK_MEMBERS_COLUMN.format(name),
            RANK_PAID_COLUMN.format(name),
            *(RANK_COMPONENT_COLUMN.format(c, name) for c in comps),
        ]
        for name in names
    }
    wanted = [col for group in cols.values() for col in group]
    if not names or not set(wanted) <= set(monthly.columns):
        return pd.DataFrame(columns=header)
    sums = monthly.loc[monthly["month"].isin(list(months)), wanted].sum()
    out = []
    for name, (members, *money) in cols.items():
        n = float(sums[members])
        per = 12.0 / n if n > 0 else float("nan")
        out.append([name, int(n), *(float(sums[c]) * per for c in money)])
    return pd.DataFrame(out, columns=header)


def retail_share(monthly: pd.DataFrame) -> float | None:
    """Volume bought for non-member customers / all volume, over the whole run."""
    pv = float(monthly["pv"].sum())
    return float(monthly["customer_pv"].sum()) / pv if pv > 0 else None


def recruitment(monthly: pd.DataFrame) -> dict[str, float]:
    """Income from recruitment over the run (:func:`simulation.metrics.recruitment_income`).

    Uses the monthly columns ``commissions``, ``paid_recruiting``, ``bv_new_recruits`` and
    ``bv``: recruiting bonuses, plus commissions on recruits' volume in their first
    :data:`~simulation.collect.EARLY_MONTHS` months.
    """
    paid = monthly["commissions"].to_numpy(dtype=np.float64)
    bv = monthly["bv"].to_numpy(dtype=np.float64)
    return recruitment_income(
        paid,
        np.minimum(monthly["paid_recruiting"].to_numpy(dtype=np.float64), paid),
        np.minimum(monthly["bv_new_recruits"].to_numpy(dtype=np.float64), bv),
        bv,
    )


def consumer_injury(net_income: np.ndarray) -> float:
    """Total consumer injury, USD: the sum of participants' net losses, sum max(-net, 0).

    ``net_income`` is each joiner's cumulative net income (:func:`simulation.state.net_income`,
    own use valued: the ``net_income`` column of the distributors table). Gains of the
    winners do not offset the losers' losses.
    """
    net = np.asarray(net_income, dtype=np.float64)
    return float(np.maximum(-net, 0.0).sum())


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def legal_outcomes(run: RunData) -> dict[str, float | None]:
    """The legal tests over the whole run (:data:`LEGAL_OUTCOMES`, ``docs/legal.md``).

    From the monthly columns of :data:`simulation.collect.LEGAL_COLUMNS`: pass shares are
    passing member-months / member-months paid (``distributors + quit_this_month`` of months
    1..T); paid shares are commissions to those passing / all commissions; company figures are
    sums over the run. All None for a run folder without those columns.
    """
    m = run.monthly
    if any(c not in m.columns for c in LEGAL_COLUMNS):
        return dict.fromkeys(LEGAL_OUTCOMES)
    paid_months = m.iloc[1:]
    members = float((paid_months["distributors"] + paid_months["quit_this_month"]).sum())
    comm = float(m["commissions"].sum())
    pv = float(m["pv"].sum())
    total = {c: float(m[c].sum()) for c in LEGAL_COLUMNS}
    markup = run.plan.retail.markup
    margin = float(m["retail_sales"].sum()) * markup / (1.0 + markup)
    backed = min(total["commissions_retail_backed"], comm)
    end_use = total["household_pv"] + float(m["customer_pv"].sum())
    out: dict[str, float | None] = {
        "amway_70_company_share": _ratio(pv - total["unconsumed_pv"], pv),
        "amway_70_pass_share": _ratio(total["amway70_pass"], members),
        "amway_70_paid_share": _ratio(total["amway70_paid"], comm),
        "ten_customer_pass_share": _ratio(total["ten_customers_pass"], members),
        "ten_customer_paid_share": _ratio(total["ten_customers_paid"], comm),
        "vemma_pass_share": _ratio(total["vemma_pass"], members),
        "vemma_paid_share": _ratio(total["vemma_paid"], comm),
        "herbalife_end_user_share": _ratio(min(end_use, pv), pv),
        "end_use_pass_share": _ratio(total["end_use_pass"], members),
        "end_use_paid_share": _ratio(total["end_use_paid"], comm),
        "herbalife_retail_rewards_share": _ratio(backed, comm),
        "recruitment_reward_share": _f(legal.recruitment_reward_share(comm, backed, margin)),
        "unconsumed_share": _ratio(total["unconsumed_pv"], pv),
        "qualify_share": _ratio(total["qualify_pv"], pv),
    }
    return out


def summarise(run: RunData) -> dict[str, Any]:
    """Headline outcomes of a run: what the terminal, ``summary.json`` and the report show."""
    monthly, dist = run.monthly, run.dist
    joins = monthly["joined"].to_numpy()[1:]  # month 0 is the founders
    net = dist["net_income"].to_numpy(dtype=np.float64)
    strict = dist["net_income_strict"].to_numpy(dtype=np.float64)
    comm = dist["commissions"].to_numpy(dtype=np.float64)
    population = run.scenario.market.population
    peak = int(np.argmax(joins)) if joins.size else 0
    half = months_to_half_peak(joins) if joins.size else None
    bv = monthly["commissionable_revenue"].sum()
    # Survey answers need the reported net income (tables written before it existed, and
    # hand-built or imported ones, may not have it: then they are unknown, not zero).
    asked = survey_answers(dist) if "net_income_reported" in dist else {"asked": 0}
    survey = {f"survey_{a}": _f(asked[a]) if asked["asked"] else None for a in SURVEY_ANSWERS}
    return {
        "scenario": run.scenario.scenario.name,
        "seed": run.seed,
        "population": population,
        "months": run.months,
        "ever_joined": int(net.size),
        "penetration": float(net.size / population),
        "active_end": int(monthly["distributors"].iloc[-1]),
        "peak_joins": int(joins[peak]) if joins.size else 0,
        "peak_month": peak + 1,
        "half_peak_month": None if half is None else int(half) + 1,
        "max_level": int(dist["level"].max()) if net.size else 0,
        "share_net_loss": float((net < 0).mean()) if net.size else None,
        "share_net_loss_strict": float((strict < 0).mean()) if net.size else None,
        **survey,
        "median_net_income": float(np.median(net)) if net.size else None,
        "consumer_injury": consumer_injury(net),
        "gini_net_income": float(gini(net)) if net.size else float("nan"),
        "top1_commissions": float(top_share(comm, 0.01)) if comm.sum() > 0 else None,
        "top10_commissions": float(top_share(comm, 0.1)) if comm.sum() > 0 else None,
        "payout_ratio": float(monthly["commissions"].sum() / bv) if bv > 0 else None,
        "retail_share": retail_share(monthly),
        "revenue": float(monthly["revenue"].sum()),
        "commissions": float(monthly["commissions"].sum()),
    }


def sweep_outcomes(run: RunData) -> dict[str, Any]:
    """The outcomes a sweep records per run: :func:`summarise` plus stress figures.

    The stress figures: worst month's payout ratio, breakage, months over the cap, income
    from recruitment, reachable prospects at the end; members' total net income (a policy
    figure, with consumer injury from :func:`summarise`); then the legal tests
    (:func:`legal_outcomes`).
    """
    monthly = run.monthly
    out = summarise(run)
    pr = monthly["payout_ratio"].to_numpy(dtype=np.float64)[1:]
    finite = np.isfinite(pr)
    worst = int(np.argmax(np.where(finite, pr, -np.inf))) if finite.any() else None
    cap = run.plan.cap.ratio if run.plan.cap is not None else None
    brk = float(monthly["breakage"].sum())
    rev = float(monthly["commissionable_revenue"].sum())
    reach = float(monthly["reachable_per_active"].iloc[-1])
    out.update(
        {
            "worst_month_payout_ratio": float(pr[worst]) if worst is not None else None,
            "worst_month": worst + 1 if worst is not None else None,
            "breakage": brk,
            "breakage_ratio": brk / rev if rev > 0 else None,
            "cap_ratio": cap,
            "months_over_cap": int(np.sum(pr[finite] > cap + 1e-9)) if cap is not None else 0,
            "recruitment_income_share": recruitment(monthly)["share"],
            "reachable_per_active_end": reach if math.isfinite(reach) else None,
            "members_net_income": float(run.dist["net_income"].to_numpy(np.float64).sum()),
        }
    )
    out.update(legal_outcomes(run))
    return out


def legal_facts(values: dict[str, float | None]) -> list[dict[str, Any]]:
    """Each legal test of :data:`simulation.metrics.legal.TESTS` with its figures.

    Returns one JSON-ready dict per test: name, label, source, rule, threshold, comparison,
    ``value`` (the company-wide figure), ``passes`` (the company figure on the safe side of
    the line; None when not recorded), ``pass_share`` and ``paid_share`` (None when the rule
    is not per member or not recorded).
    """
    compare = {">": operator.gt, ">=": operator.ge, "<": operator.lt}
    out = []
    for t in legal.TESTS:
        value = _f(values.get(t.company))
        out.append(
            {
                "name": t.name,
                "label": t.label,
                "source": t.source,
                "rule": t.rule,
                "threshold": t.threshold,
                "comparison": t.comparison,
                "value": value,
                "passes": None if value is None else compare[t.comparison](value, t.threshold),
                "pass_share": _f(values.get(t.pass_share)) if t.pass_share else None,
                "paid_share": _f(values.get(t.paid_share)) if t.paid_share else None,
            }
        )
    return out


@dataclass
class Analysis:
    """Everything the report shows, computed from a :class:`RunData`.

    Tables are DataFrames (see ``docs/report.md`` for every column); ``facts`` holds the
    scalar results (JSON-ready) that ``analysis.json`` stores and the text quotes.
    """

    facts: dict[str, Any]
    bass: BassFit
    saturation: pd.DataFrame
    concentration: pd.DataFrame
    over_time: pd.DataFrame
    disclosure: pd.DataFrame
    indicators: list[Indicator]
    survival: pd.DataFrame
    survival_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    rank_pay: pd.DataFrame = field(default_factory=pd.DataFrame)
    rank_names: dict[int, str] = field(default_factory=dict)
    band: int = 1


def cohort_band_width(months: int) -> int:
    """Months per join-cohort band in the report's tables (at most about 13 rows)."""
    for width in (1, 3, 6, 12):
        if months <= 12 * width:
            return width
    return 12 * math.ceil(months / 144)


def _f(x: Any) -> float | None:
    """A JSON-ready float (None for NaN or None)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _survival_bands(table: pd.DataFrame, width: int, ages: list[int]) -> pd.DataFrame:
    """Cohort survival aggregated into bands of ``width`` join months, weighted by size.

    A cell is shown only if every cohort of the band is observed at that age (NaN otherwise).
    """
    if table.empty:
        return pd.DataFrame(columns=["cohort", "n", *ages])
    sizes = pd.Series(table.attrs.get("n", {}), dtype=float).reindex(table.index).fillna(0)
    band = (table.index.to_numpy() // width) * width
    cols = [a for a in ages if a in table.columns]
    vals = table[cols]
    weighted = vals.mul(sizes, axis=0).groupby(band).sum()
    censored = vals.isna().groupby(band).any()
    n = sizes.groupby(band).sum()
    share = weighted.div(n, axis=0).mask(censored)
    share.insert(0, "n", n.astype(np.int64))
    share.index.name = "cohort"
    return share.reset_index()


def _returns_facts(monthly: pd.DataFrame, paid: float, usd_per_pv: float) -> dict[str, Any]:
    """The whole run's returns, refunds and clawbacks (only with ``[returns]`` on).

    ``returned_pv`` (PV) and ``returned_usd`` (at wholesale): product returned;
    ``return_refunds``: what the company refunded for it; ``customer_refunds``: retail price
    members paid back to customers; ``clawbacks``; ``commissions_net``: commissions paid
    less clawed back. USD unless it says PV.
    """
    if "clawbacks" not in monthly.columns:  # returns off (returned_pv is always there)
        return {}
    returned = float(monthly["returned_pv"].sum())
    clawbacks = float(monthly["clawbacks"].sum())
    return {
        "returned_pv": returned,
        "returned_usd": returned * usd_per_pv,
        "return_refunds": float(monthly["return_refunds"].sum()),
        "customer_refunds": float(monthly["customer_refunds"].sum()),
        "clawbacks": clawbacks,
        "commissions_net": paid - clawbacks,
    }


def analyse(run: RunData) -> Analysis:
    """Compute every table and number of the report from a run's tables."""
    summary = summarise(run)
    monthly = run.monthly
    dist = run.dist
    months = run.months
    population = run.scenario.market.population
    usd_per_pv = run.scenario.units.usd_per_pv
    names = rank_names(run.plan)
    band = cohort_band_width(months)

    # ---- saturation
    joins = monthly["joined"].to_numpy(dtype=np.float64)
    bass = bass_fit(joins[1:], population, initial=joins[0]) if joins.size > 1 else None
    if bass is None:
        bass = bass_fit([], population)
    reach = dist.get("reachable_prospects")
    if reach is not None:
        reach = reach.to_numpy(dtype=np.float64)
        if np.isnan(reach).any():  # no social network (well-mixed runs)
            reach = None
    active = dist["status"].astype(str).to_numpy() == "distributor"
    sat = level_saturation(dist["level"], dist["recruits"], active, dist["join_month"], reach)
    # The last month a member of level L recruited anyone = the last join at level L + 1.
    sat["last_recruit_month"] = sat["last_join_month"].shift(-1).fillna(-1).astype(np.int64)
    sat.loc[sat["share_recruited"].fillna(0) == 0, "last_recruit_month"] = -1
    recruiting = sat.index[sat["share_recruited"].fillna(0) > 0]
    reach_series = monthly["reachable_per_active"].to_numpy(dtype=np.float64)

    # ---- concentration
    level = dist["level"].to_numpy()
    # The paid-as rank last held (quitters keep theirs).
    rank = dist["rank_last"].to_numpy()
    cohort = dist["join_month"].to_numpy()
    groupings = {
        "level": level,
        "rank": rank,
        "cohort": cohort,
        "cohort_band": (cohort // band) * band,
    }
    conc = concentration(
        {
            "gross": dist["commissions"].to_numpy(dtype=np.float64),
            "net": dist["net_income"].to_numpy(dtype=np.float64),
            "net_strict": dist["net_income_strict"].to_numpy(dtype=np.float64),
        },
        groupings,
    )
    step = max(1, band)
    keep = sorted({*range(0, months + 1, step), months})
    over_time = monthly.loc[
        monthly["month"].isin(keep),
        [
            "month",
            "distributors",
            "penetration",
            "gini_commissions",
            "top1_commissions",
            "gini_net_income",
            "share_net_loss",
            "share_net_loss_strict",
        ],
    ].reset_index(drop=True)

    # ---- income disclosure statement (the last 12 months, or the whole run if shorter)
    first = max(months - 11, 1) if months >= 12 else min(1, months)
    ids = income_disclosure(dist.assign(rank=rank), range(first, months + 1))

    # ---- company and plan
    revenue = float(monthly["revenue"].sum())
    comm_rev = float(monthly["commissionable_revenue"].sum())
    paid = float(monthly["commissions"].sum())
    breakage = float(monthly["breakage"].sum())
    pv = float(monthly["pv"].sum())
    legal_out = legal_outcomes(run)
    if "unconsumed_pv" in monthly.columns:
        # Bought and never used, sold or returned (the purchase classes, docs/legal.md).
        topup = max(float(monthly["unconsumed_pv"].sum()), 0.0)
    else:  # a run folder written before the purchase classes: top-ups and stock
        topup = float(monthly["topup_pv"].sum() + monthly["loading_pv"].sum())
    customer_pv = float(monthly["customer_pv"].sum())
    cust_months = float(monthly["customers"].iloc[1:].sum())
    dist_months = float(monthly["distributors"].iloc[1:].sum())
    rec = recruitment(monthly)
    kits = float(monthly["kits_revenue"].sum())
    early = float(monthly["new_recruit_purchases"].sum())
    indicators = pyramid_indicators(
        retail_sales_nonmember=customer_pv * usd_per_pv,
        total_sales=pv * usd_per_pv,
        recruitment_income=rec["recruitment_income"],
        total_income=rec["total_income"],
        customers=cust_months,
        distributors=dist_months,
        purchases_to_qualify=topup * usd_per_pv,
        total_purchases=pv * usd_per_pv,
    )
    cap = run.plan.cap.ratio if run.plan.cap is not None else None

    # ---- attrition
    quit_ = monthly["quit_this_month"].to_numpy(dtype=np.float64)
    act = monthly["distributors"].to_numpy(dtype=np.float64)
    hazard = monthly_quit_rate(quit_, act, joins)
    risk = at_risk(act, joins)
    annual_all = annual_quit_rate(quit_[1:], risk[1:]) if months else math.nan
    last12 = slice(max(1, months - 11), months + 1)
    annual_last = annual_quit_rate(quit_[last12], risk[last12]) if months else math.nan
    horizon = min(months, 36)
    surv = survival_by_cohort(dist["join_month"], dist["quit_month"], horizon, last_month=months)
    ages = [a for a in (1, 3, 6, 12, 24, 36) if a <= horizon]
    surv_bands = _survival_bands(surv, band, ages)

    # ---- headline facts
    n = len(dist)
    gross_all = conc[(conc.measure == "gross") & (conc.grouping == "all")].iloc[0]
    net_all = conc[(conc.measure == "net") & (conc.grouping == "all")].iloc[0]
    reach_end = float(reach[active].mean()) if reach is not None and active.any() else None
    facts: dict[str, Any] = {
        "population": population,
        "months": months,
        "founders": int(joins[0]) if joins.size else 0,
        "ever_joined": n,
        "active_end": int(act[-1]),
        "penetration": _f(summary.get("penetration")),
        "share_net_loss": _f(summary.get("share_net_loss")),
        "share_net_loss_strict": _f(summary.get("share_net_loss_strict")),
        **{f"survey_{a}": summary.get(f"survey_{a}") for a in SURVEY_ANSWERS},
        "lost_money": int((dist["net_income"] < 0).sum()),
        "median_net_income": _f(summary.get("median_net_income")),
        "mean_net_income": _f(net_all["mean"]),
        "gini_net_income": _f(summary.get("gini_net_income")),
        "gini_commissions": _f(gross_all["gini"]),
        "top1_commissions": _f(summary.get("top1_commissions")),
        "top10_commissions": _f(gross_all["top10"]),
        "top1_people": 0.01 * n,
        "share_no_commission": _f(gross_all["share_zero"]),
        "peak_joins": summary.get("peak_joins"),
        "peak_month": summary.get("peak_month"),
        "half_peak_month": summary.get("half_peak_month"),
        "max_level": int(sat.index.max()) if len(sat) else 0,
        "deepest_recruiting_level": int(recruiting.max()) if len(recruiting) else None,
        "first_month_deepest_level": int(sat["first_join_month"].iloc[-1]) if len(sat) else None,
        "last_join_month": int(dist["join_month"].max()) if n else None,
        "reachable_per_active_start": _f(reach_series[0]),
        "reachable_per_active_end": _f(reach_end),
        "bass": {
            "ok": bool(bass.ok),
            "p": _f(bass.p),
            "q": _f(bass.q),
            "m": _f(bass.m),
            "rmse": _f(bass.rmse),
            "rmse_share": _f(bass.rmse / max(n, 1)) if bass.ok else None,
            "peak_month": int(np.argmax(bass.fitted)) + 1 if bass.ok else None,
            "message": bass.message,
        },
        "company": {
            "revenue": revenue,
            "kits_revenue": _f(kits),
            "commissionable_revenue": comm_rev,
            "commissions": paid,
            "payout_ratio": _f(summary.get("payout_ratio")),
            "cap_ratio": _f(cap),
            "breakage": breakage,
            "breakage_share": _f(breakage / comm_rev) if comm_rev > 0 else None,
            "retail_share": _f(summary.get("retail_share")),
            "qualifying_purchase_share": _f(topup / pv) if pv > 0 else None,
            "recruitment_income": rec["recruitment_income"],
            "recruitment_income_share": _f(rec["share"]),
            "revenue_from_recruitment_share": _f((kits + early) / revenue) if revenue > 0 else None,
            "customers_per_distributor": _f(cust_months / dist_months) if dist_months else None,
            "customers_end": int(monthly["customers"].iloc[-1]),
            **_returns_facts(monthly, paid, usd_per_pv),
        },
        "attrition": {
            "annual_quit_rate": _f(annual_all),
            "annual_quit_rate_last_year": _f(annual_last),
            "mean_monthly_quit_rate": _f(np.nanmean(hazard[1:])) if months else None,
            "quit_total": int(quit_.sum()),
        },
        "disclosure_year": [first, months],
        "early_months": EARLY_MONTHS,
        "own_use_value_share": _f(run.scenario.buy.own_use_value_share),
        "consumer_injury": _f(summary.get("consumer_injury")),
        "legal": legal_facts(
            {
                **legal_out,
                "retail_share": summary.get("retail_share"),
                "customers_per_distributor": cust_months / dist_months if dist_months else None,
            }
        ),
        "indicators": [
            {
                "name": i.name,
                "value": _f(i.value),
                "threshold": i.threshold,
                "comparison": i.comparison,
                "passes": i.passes,
                "source": i.source,
                "meaning": i.meaning,
            }
            for i in indicators
        ],
    }
    return Analysis(
        facts=facts,
        bass=bass,
        saturation=sat,
        concentration=conc,
        over_time=over_time,
        disclosure=ids,
        indicators=indicators,
        survival=surv_bands,
        survival_by_month=surv,
        rank_pay=rank_pay(monthly, run.plan, range(first, months + 1)),
        rank_names=names,
        band=band,
    )
