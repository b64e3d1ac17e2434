"""The one-page HTML report of a run (``mlmsim report RUN_DIR``): rendering only.

The numbers come from :func:`simulation.outcomes.analyse` (a run folder is read by
:func:`simulation.results.load_run`); :func:`write_report` writes ``report.html``: one
self-contained page (figures embedded as base64 PNG, inline CSS, no script, no external
file) that opens in any browser without a network. ``docs/report.md`` defines every number
and its population.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.errors import UserError
from simulation.htmlpage import escape, figure_html, nav_html, page, table_html
from simulation.intervals import band_text, range_text, whole
from simulation.outcomes import Analysis, RunData, analyse
from simulation.parameters import loss_assumptions
from simulation.results import REQUIRED, atomic_write, load_run
from simulation.safepath import FolderLock, output_file, path_arg

REPORT_FILE = "report.html"


def render_figures(run: RunData, analysis: Analysis) -> dict[str, bytes]:
    """PNG bytes of the run's figures (see :data:`simulation.figures.FIGURES`)."""
    # matplotlib: 0.7 s at every CLI start (the command line imports this module).
    from simulation import figures  # noqa: PLC0415

    return figures.render_run_figures(
        run.monthly,
        run.levels,
        run.dist,
        bass=analysis.bass,
        disclosure=analysis.disclosure,
        rank_names=analysis.rank_names,
    )


# --------------------------------------------------------------------------------------------
# formatting


def pct(x: Any, digits: int = 1) -> str:
    """``0.971`` -> ``"97.1%"``; ``"n/a"`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * float(x):.{digits}f}%"


def usd(x: Any) -> str:
    """``-472.9`` -> ``"−$473"`` (typographic minus); ``"n/a"`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    return f"{'−' if x < -0.5 else ''}${abs(x):,.0f}"


def num(x: Any, digits: int = 0) -> str:
    """A count or number with thousands separators; ``"n/a"`` for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{float(x):,.{digits}f}"


def _month(x: Any) -> str:
    return "never" if x is None or (isinstance(x, (int, float)) and x < 0) else f"month {int(x)}"


def _band_label(start: int, width: int, months: int) -> str:
    """``months 3–5`` (the last band ends at the run's last month)."""
    end = min(start + width - 1, months)
    return f"month {start}" if end <= start else f"months {start}–{end}"


def _people(n: int) -> str:
    """``"1 was"`` / ``"225 were"``."""
    return f"{num(n)} {'was' if n == 1 else 'were'}"


def _img(pngs: dict[str, bytes], name: str) -> str:
    from simulation.figures import FIGURES  # noqa: PLC0415 - matplotlib, as in render_figures

    if name not in pngs:
        return ""
    return figure_html(pngs[name], FIGURES[name][1], fig_id=f"fig-{name}")


def _flatten(prefix: str, value: Any, out: list[list[str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        text = json.dumps(value) if not isinstance(value, str) else value
        out.append([prefix, text])


# --------------------------------------------------------------------------------------------
# the page

# The rules of this page on top of htmlpage.CSS: the four answers, the reading, verdicts.
PAGE_CSS = """
.answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr));
  gap: 14px; margin: 20px 0; }
.answer { border: 1px solid #d0d7de; border-left: 6px solid #b2182b; border-radius: 6px;
  padding: 12px 14px; background: #fff; }
.answer .q { font-weight: 600; color: #444; font-size: 15px; }
.answer .big { font-size: 34px; font-weight: 700; color: #b2182b; margin: 4px 0; }
.answer .band { font-size: 14px; color: #444; margin: -2px 0 6px; }
.answer p { margin: 0; font-size: 15px; }
.reading p { margin: 10px 0; }
table.wide td:last-child { min-width: 320px; }
.risk { color: #b2182b; font-weight: 600; }
.ok { color: #1a7f37; font-weight: 600; }
"""


def _answers(run: RunData, a: Analysis) -> str:
    f = a.facts
    c = f["company"]
    own_use = _own_use_share(a)
    reach = ""
    if f["reachable_per_active_end"] is not None and f["reachable_per_active_start"] is not None:
        reach = (
            f" At the end each active member had {num(f['reachable_per_active_end'], 1)} "
            f"contacts left to recruit, against {num(f['reachable_per_active_start'], 1)} "
            "at the start."
        )
    if f["deepest_recruiting_level"] is None:
        stop = "Nobody recruited anyone: the founders were the whole network." + reach
    else:
        stop = (
            f"Level {f['max_level']} was the deepest anyone reached (first in month "
            f"{f['first_month_deepest_level']}), and nobody there recruited anyone; the "
            f"deepest level whose members recruited was {f['deepest_recruiting_level']}. "
            f"Recruiting peaked in month {f['peak_month']} and "
            + (
                f"fell below half its peak from month {f['half_peak_month']}."
                if f["half_peak_month"] is not None
                else "never fell below half its peak."
            )
            + reach
        )
    if f["top1_commissions"] is None:
        top = "No commissions were paid, so there is nothing to share out."
    else:
        top = (
            f"of all commissions went to the top 1% of joiners ({num(f['top1_people'], 1)} "
            f"people); the top 10% took {pct(f['top10_commissions'])}, and "
            f"{pct(f['share_no_commission'])} received no commission at all."
        )
    cards = [
        (
            "What share of everyone who joined lost money?",
            pct(f["share_net_loss"]),
            f"{num(f['lost_money'])} of the {num(f['ever_joined'])} people who ever joined "
            f"lost money as participants' surveys count it: net income after all costs below "
            f"zero, with product used at home valued at {pct(own_use, 0)} of its price. With "
            f"all costs, that product counted as a cost too: "
            f"{pct(f['share_net_loss_strict'])}. "
            + _survey_text(f["survey_lost"], f["survey_broke_even"], f["survey_profit"])
            + loss_assumptions(run.scenario),
        ),
        (
            "What did the top 1% take?",
            pct(f["top1_commissions"]),
            top,
        ),
        ("At which level did recruiting stop?", f"level {f['max_level']}", stop),
        (
            "What were the payout ratio and the retail share?",
            f"{pct(c['payout_ratio'])} · {pct(c['retail_share'])}",
            f"Payout ratio {pct(c['payout_ratio'])}: the share of commissionable revenue the "
            f"company paid back as commissions{_cap_text(c)}. Retail share "
            f"{pct(c['retail_share'])}: the share of all product volume bought for customers "
            "outside the network (the Vemma order's line is more than 50%).",
        ),
    ]
    return _cards_html([(q, big, "", text) for q, big, text in cards])


def _cards_html(cards: list[tuple[str, str, str, str]]) -> str:
    """The four cards: question, big number, its interval line (or ""), the text."""
    body = "".join(
        f'<div class="answer"><div class="q">{escape(q)}</div><div class="big">{escape(big)}</div>'
        + (f'<div class="band">({escape(band)})</div>' if band else "")
        + f"<p>{escape(text)}</p></div>"
        for q, big, band, text in cards
    )
    return f'<div class="answers" id="answers">{body}</div>'


def ensemble_answers(run: RunData, bands: dict[str, dict[str, Any]]) -> str:
    """The four cards of an ensemble: each number the median over the runs, with its interval.

    Args:
        run: one run of the ensemble (for the scenario's cost assumptions).
        bands: ``{outcome: {"median", "p05", "p95", "n", "runs"}}``
            (:func:`simulation.intervals.bands`).
    """

    def big(key: str, fmt: Any) -> str:
        b = bands.get(key)
        return "n/a" if b is None or b["median"] is None else fmt(b["median"])

    def rng(key: str, fmt: Any) -> str:
        b = bands.get(key)
        return "" if b is None or b["median"] is None else range_text(b, fmt)

    def level(x: Any) -> str:
        return f"level {whole(x)}"

    def month(x: Any) -> str:
        return f"month {whole(x)}"

    runs = next(iter(bands.values()))["runs"] if bands else 0
    own_use = run.scenario.buy.own_use_value_share
    half = bands.get("half_peak_month") or {"n": 0, "runs": runs, "median": None}
    never = runs - half["n"]
    stop = (
        f"The deepest level anyone reached, over {runs} runs: "
        f"{band_text(bands['max_level'], whole)}. Recruiting peaked in "
        f"{band_text(bands['peak_month'], month, whole)}"
        + (
            f" and fell below half its peak from {band_text(half, month, whole)}"
            if half["n"]
            else " and never fell below half its peak"
        )
        + (f"; in {never} of the {runs} runs it never did." if half["n"] and never else ".")
    )
    top = (
        f"of all commissions went to the top 1% of joiners (the median over {runs} runs); the "
        f"top 10% took {band_text(bands['top10_commissions'], pct)}."
    )
    c = (
        f"Payout ratio {band_text(bands['payout_ratio'], pct)}: the share of commissionable "
        "revenue the company paid back as commissions. Retail share "
        f"{band_text(bands['retail_share'], pct)}: the share of all product volume bought for "
        "customers outside the network (the Vemma order's line is more than 50%)."
    )
    pair = " · ".join(r for r in (rng("payout_ratio", pct), rng("retail_share", pct)) if r)
    cards = [
        (
            "What share of everyone who joined lost money?",
            big("share_net_loss", pct),
            rng("share_net_loss", pct),
            f"The median over {runs} runs of the share of people who ever joined whose net "
            f"income after all costs was below zero, with product used at home valued at "
            f"{pct(own_use, 0)} of its price. Counting that product as a cost: "
            f"{band_text(bands['share_net_loss_strict'], pct)}. "
            + _survey_text(*(bands.get(f"survey_{a}") for a in ("lost", "broke_even", "profit")))
            + loss_assumptions(run.scenario),
        ),
        (
            "What did the top 1% take?",
            big("top1_commissions", pct),
            rng("top1_commissions", pct),
            top,
        ),
        (
            "At which level did recruiting stop?",
            big("max_level", level),
            rng("max_level", whole),
            stop,
        ),
        (
            "What were the payout ratio and the retail share?",
            f"{big('payout_ratio', pct)} · {big('retail_share', pct)}",
            pair,
            c,
        ),
    ]
    return _cards_html(cards)


def _survey_text(lost: Any, even: Any, profit: Any) -> str:
    """What a survey of the members who joined to make money would answer ("" if none asked).

    Each answer is a share (one run) or a band (an ensemble: ``{"median", "p05", ...}``).
    """
    if lost is None or (isinstance(lost, dict) and lost.get("median") is None):
        return ""
    show = (lambda x: band_text(x, pct)) if isinstance(lost, dict) else pct
    return (
        "Asked as a survey of participants asks (the members who joined to make money, "
        "counting as they would: product used at home worth what they paid, every business "
        f"cost), {show(lost)} lost money, {show(even)} broke even and {show(profit)} made a "
        "profit (docs/validation.md, Survey answers). "
    )


def _cap_text(c: dict[str, Any]) -> str:
    if c.get("cap_ratio") is None:
        return ""
    return f" (the plan caps payouts at {pct(c['cap_ratio'], 0)})"


def _own_use_share(a: Analysis) -> float | None:
    return a.facts.get("own_use_value_share")


def _reading(run: RunData, a: Analysis) -> str:
    f = a.facts
    c = f["company"]
    b = f["bass"]
    ids = a.disclosure
    allr = ids[ids["rank"].isna()].set_index("population")
    paras = [
        f"<b>The market.</b> {num(f['population'])} people, {f['founders']} founders, "
        f"{f['months']} months. {num(f['ever_joined'])} people ({pct(f['penetration'])} of "
        f"the market) joined at some point; {_people(f['active_end'])} still "
        f"distributors at the end, and {num(f['attrition']['quit_total'])} had quit.",
    ]
    growth = (
        "<b>Growth and saturation.</b> Nobody joined after the founders."
        if not f["peak_joins"]
        else f"<b>Growth and saturation.</b> Joins peaked at {f['peak_joins']} in month "
        f"{f['peak_month']}"
        + (
            f" and fell below half that from month {f['half_peak_month']}"
            if f["half_peak_month"] is not None
            else " and never fell below half that"
        )
        + f"; the last person joined in month {f['last_join_month']}."
    )
    if b["ok"]:
        growth += (
            f" A Bass diffusion curve fits the joins with p = {b['p']:.2g} per month "
            f"(joining without being pushed) and q = {b['q']:.2f} (joining through "
            f"others), a market of {num(b['m'])} people, and a typical error of "
            f"{num(b['rmse'], 1)} people in the cumulative count ({pct(b['rmse_share'])} of "
            "those who joined)."
        )
    if f["reachable_per_active_end"] is not None:
        growth += (
            f" Recruiting slows as the people within reach run out: an active member "
            f"had {num(f['reachable_per_active_start'], 1)} contacts who could still be "
            f"recruited at the start and {num(f['reachable_per_active_end'], 1)} at the end."
        )
    paras.append(growth)
    full = allr.loc["active_full_year"] if "active_full_year" in allr.index else None
    quit_ = allr.loc["quit_during_year"] if "quit_during_year" in allr.index else None
    median = f["median_net_income"] or 0.0
    money = (
        f"<b>The money.</b> Distributors paid the company {usd(c['revenue'])} for starter "
        f"kits and product; the company paid {usd(c['commissions'])} in commissions, "
        f"{pct(c['payout_ratio'])} of commissionable revenue. The median person who joined "
        + (f"ended {usd(-median)} down" if median < 0 else f"ended with {usd(median)}")
    )
    money += f", and {pct(f['share_net_loss'])} lost money."
    if "clawbacks" in c:
        money += (
            f" Returns: {usd(c['returned_usd'])} of product came back; the company refunded "
            f"{usd(c['return_refunds'])} (already out of its revenue), members paid "
            f"{usd(c['customer_refunds'])} back to customers, and {usd(c['clawbacks'])} of "
            f"commissions were clawed back ({usd(c['commissions_net'])} net of clawbacks)."
        )
    if f["top1_commissions"] is not None:
        money += (
            f" The top 1% received {pct(f['top1_commissions'])} of all commissions (Gini of "
            f"commissions {num(f['gini_commissions'], 2)}; of net income "
            f"{num(f['gini_net_income'], 2)})."
        )
    paras.append(money)
    if full is not None and full["count"] > 0:
        text = (
            f"<b>What a published statement would show.</b> The {int(full['count'])} "
            f"distributors active during the whole last year earned a mean "
            f"{usd(full['mean_gross'])} and a median {usd(full['median_gross'])} in gross "
            f"commissions. A real statement stops there. After their costs the same people "
            f"averaged {usd(full['mean_net'])} and {pct(full['share_net_loss'], 0)} of them "
            "lost money"
        )
        if quit_ is not None and quit_["count"] > 0:
            text += (
                f"; the {int(quit_['count'])} who quit during the year, left out of real "
                f"statements, averaged {usd(quit_['mean_net'])}"
            )
        paras.append(text + ".")
    risky = [i for i in a.indicators if not i.passes and not math.isnan(i.value)]
    names = ", ".join(_INDICATOR_LABELS.get(i.name, i.name) for i in risky)
    paras.append(
        f"<b>Pyramid-risk indicators.</b> {len(risky)} of {len(a.indicators)} indicators are "
        f"on the risky side of their line{': ' + names if risky else ''}. "
        f"{pct(c['recruitment_income_share'])} of distributors' income came from "
        "recruitment (enrolment bonuses and commissions on new recruits' first "
        f"{f['early_months']} months of orders). None of these lines is law; see the table "
        "for where each comes from."
    )
    tests = [t for t in f.get("legal", []) if t["passes"] is not None]
    if tests:
        failed = [t["label"] for t in tests if not t["passes"]]
        vnk = next((t for t in tests if t["name"] == "vander_nat_keep"), None)
        text = (
            f"<b>Legal tests.</b> {len(failed)} of {len(tests)} tests fail company-wide"
            f"{': ' + ', '.join(failed) if failed else ''}."
        )
        if vnk is not None:
            text += (
                f" {pct(vnk['value'])} of what members earned is traceable to members' own "
                "purchases and recruiting rather than to sales to people outside the scheme."
            )
        if f.get("consumer_injury") is not None:
            text += (
                f" The members who lost money lost {usd(f['consumer_injury'])} in total "
                "(consumer injury)."
            )
        paras.append(text)
    paras.append(
        '<span class="note">These are simulated people following stated rules; the numbers '
        "show how the mechanisms play out, not what any real company pays.</span>"
    )
    return '<div class="reading">' + "".join(f"<p>{p}</p>" for p in paras) + "</div>"


_INDICATOR_LABELS = {
    "retail_share": "retail share",
    "recruitment_income_share": "income from recruitment",
    "customers_per_distributor": "customers per distributor",
    "qualifying_purchase_share": "purchases made only to qualify",
}


def _saturation_table(a: Analysis) -> str:
    rows = []
    for lv, r in a.saturation.iterrows():
        rows.append(
            [
                lv,
                num(r["ever_joined"]),
                num(r["active"]),
                pct(r["share_recruited"], 0),
                num(r["mean_recruits"], 2),
                _month(r["first_join_month"] if r["ever_joined"] else -1),
                _month(r["last_recruit_month"]),
                num(r["reachable_mean"], 1),
                pct(r["share_no_reachable"], 0),
            ]
        )
    return table_html(
        [
            "level",
            "joined",
            "active at end",
            "recruited ≥ 1",
            "recruits per member",
            "first joined",
            "last recruited anyone",
            "reachable prospects per active member",
            "active members with none left",
        ],
        rows,
        cls="saturation",
    )


def _conc_rows(a: Analysis, grouping: str, label: Any) -> list[list[Any]]:
    c = a.concentration
    g = c[(c.grouping == grouping) & (c.measure == "gross")].set_index("group")
    n = c[(c.grouping == grouping) & (c.measure == "net")].set_index("group")
    rows = []
    for key in g.index:
        rg, rn = g.loc[key], n.loc[key]
        rows.append(
            [
                label(key),
                num(rg["n"]),
                usd(rg["mean"]),
                usd(rg["median"]),
                pct(rg["share_zero"], 0),
                usd(rn["mean"]),
                usd(rn["median"]),
                pct(rn["share_loss"], 0),
            ]
        )
    return rows


_CONC_HEAD = [
    "group",
    "people",
    "mean gross",
    "median gross",
    "no commission",
    "mean net",
    "median net",
    "lost money",
]


def _concentration_section(a: Analysis) -> str:
    c = a.concentration
    overall = []
    for measure, label in (
        ("gross", "gross commissions"),
        ("net", "net income (own use valued)"),
        ("net_strict", "net income (own use as a cost)"),
    ):
        r = c[(c.measure == measure) & (c.grouping == "all")].iloc[0]
        overall.append(
            [
                label,
                num(r["n"]),
                usd(r["total"]),
                usd(r["mean"]),
                usd(r["median"]),
                num(r["gini"], 3),
                pct(r["top1"]),
                pct(r["top10"]),
                pct(r["share_loss"]),
                pct(r["share_zero"]),
            ]
        )
    parts = [
        "<h3>Everyone who joined</h3>",
        table_html(
            [
                "money per person",
                "people",
                "total",
                "mean",
                "median",
                "Gini",
                "top 1% share",
                "top 10% share",
                "below zero",
                "exactly zero",
            ],
            overall,
            cls="concentration",
        ),
        '<p class="note">Top shares of net income are n/a when net incomes add up to a loss '
        "(a share of a negative total has no meaning). The Gini of net income uses the "
        "Raffinetti–Siletti–Vernizzi normalisation, which stays between 0 and 1 with losses."
        "</p>",
        "<h3>By level at joining</h3>",
        table_html(_CONC_HEAD, _conc_rows(a, "level", lambda k: f"level {k}"), cls="by-level"),
    ]
    ranks = c[(c.grouping == "rank") & (c.measure == "gross")]
    if len(ranks) > 1:
        names = a.rank_names
        parts += [
            "<h3>By rank at the end</h3>",
            table_html(
                _CONC_HEAD,
                _conc_rows(a, "rank", lambda k: names.get(int(k), k)),
                cls="by-rank",
            ),
        ]
    else:
        parts.append('<p class="note">This plan has no ranks: everyone is in one rank group.</p>')
    w = a.band
    key = "cohort_band" if w > 1 else "cohort"

    def cohort_label(k: str) -> str:
        s = int(k)
        return _band_label(s, w, a.facts["months"])

    parts += [
        "<h3>By join cohort (month of joining)</h3>",
        table_html(_CONC_HEAD, _conc_rows(a, key, cohort_label), cls="by-cohort"),
        "<h3>Over time (cumulative to each month)</h3>",
        table_html(
            [
                "month",
                "active",
                "penetration",
                "Gini of commissions",
                "top 1% of commissions",
                "Gini of net income",
                "lost money",
                "lost money (own use as cost)",
            ],
            [
                [
                    int(r["month"]),
                    num(r["distributors"]),
                    pct(r["penetration"]),
                    num(r["gini_commissions"], 3),
                    pct(r["top1_commissions"]),
                    num(r["gini_net_income"], 3),
                    pct(r["share_net_loss"]),
                    pct(r["share_net_loss_strict"]),
                ]
                for _, r in a.over_time.iterrows()
            ],
            cls="over-time",
        ),
    ]
    return "".join(parts)


_POPULATION_LABELS = {
    "active_full_year": "active all year",
    "joined_during_year": "joined during the year",
    "quit_during_year": "quit during the year",
    "all_participants": "everyone in the year",
}


def _rank_pay_table(a: Analysis) -> str:
    """Who is paid by what: a year at each paid-as rank, split by plan component."""
    rp = a.rank_pay
    if rp.empty:
        return ""
    rp = rp[rp["member_months"] > 0]  # ranks nobody held in the year
    if rp.empty:
        return ""
    money = [c for c in rp.columns if c not in ("rank", "member_months", "paid")]
    comps = [c for c in money if rp[c].sum() > 0]
    heads = [c.replace("_", " ") for c in comps]
    rows = [
        [r["rank"], num(r["member_months"]), usd(r["paid"]), *(usd(r[c]) for c in comps)]
        for _, r in rp.iterrows()
    ]
    return "".join(
        [
            "<h3>Paid as each rank, month by month, by what pays it</h3>",
            '<p class="note">Everyone paid as the rank in a month of the year (a member '
            "who holds it for three months counts three member-months). “A year at the "
            "rank” is 12 × what those months paid ÷ the member-months, the way a statement "
            "that annualises monthly pay reports it; the other columns split it by the plan "
            "component that paid it.</p>",
            table_html(
                ["rank", "member-months", "a year at the rank", *heads],
                rows,
                cls="rank-pay",
            ),
        ]
    )


def _disclosure_section(a: Analysis, pngs: dict[str, bytes]) -> str:
    ids = a.disclosure
    names = a.rank_names
    first, last = a.facts["disclosure_year"]
    if ids["rank"].dropna().nunique() <= 1:  # a plan without ranks: one row per population
        ids = ids[ids["rank"].isna()]
    pub = ids[ids["population"] == "active_full_year"]
    rows = [
        [
            names.get(int(r["rank"]), r["rank"]) if pd.notna(r["rank"]) else "all ranks",
            num(r["count"]),
            pct(r["share_of_population"]),
            usd(r["mean_gross"]),
            usd(r["median_gross"]),
            pct(r["share_no_gross"]),
        ]
        for _, r in pub.iterrows()
    ]
    full = [
        [
            _POPULATION_LABELS.get(r["population"], r["population"]),
            names.get(int(r["rank"]), r["rank"]) if pd.notna(r["rank"]) else "all ranks",
            num(r["count"]),
            pct(r["share_of_participants"]),
            usd(r["mean_gross"]),
            usd(r["median_gross"]),
            usd(r["mean_costs"]),
            usd(r["mean_net"]),
            usd(r["median_net"]),
            pct(r["share_net_loss"]),
        ]
        for _, r in ids.iterrows()
    ]
    return "".join(
        [
            f"<p>The year is months {first}–{last}. Money is what each person received "
            "or paid during that year.</p>",
            "<h3>As companies publish it</h3>",
            '<p class="note">Distributors active during the whole year, by rank: gross '
            "commissions only, before any cost.</p>",
            table_html(
                [
                    "rank",
                    "distributors",
                    "% of distributors",
                    "mean gross",
                    "median gross",
                    "earned nothing",
                ],
                rows,
                cls="ids-published",
            ),
            _rank_pay_table(a),
            "<h3>What real statements leave out</h3>",
            '<p class="note">Costs (product bought, starter kit, fees, minus buy-back '
            "refunds), net income, and the people who joined or quit during the year. "
            "“Share of participants” is of everyone who was a distributor in at least one "
            "month of the year.</p>",
            table_html(
                [
                    "population",
                    "rank",
                    "people",
                    "share of participants",
                    "mean gross",
                    "median gross",
                    "mean costs",
                    "mean net",
                    "median net",
                    "lost money",
                ],
                full,
                numeric_from=2,
                cls="ids-full",
            ),
            _img(pngs, "income_disclosure"),
        ]
    )


def _company_section(a: Analysis) -> str:
    c = a.facts["company"]
    e = a.facts["early_months"]
    rows = [
        [
            "company revenue",
            usd(c["revenue"]),
            "Starter kits + product bought by distributors − buy-back refunds, whole run.",
        ],
        ["of which starter kits", usd(c["kits_revenue"]), "Kits sold, founders included."],
        [
            "commissionable revenue",
            usd(c["commissionable_revenue"]),
            "Sum of BV: the base percentages and the cap are measured on.",
        ],
        ["commissions paid", usd(c["commissions"]), "All commissions and bonuses, whole run."],
        [
            "payout ratio",
            pct(c["payout_ratio"]),
            "Commissions paid ÷ commissionable revenue"
            + (
                f"; the plan's cap is {pct(c['cap_ratio'], 0)}."
                if c["cap_ratio"]
                else "; the plan has no cap."
            ),
        ],
        [
            "breakage",
            f"{usd(c['breakage'])} ({pct(c['breakage_share'])})",
            "What the plan "
            "would have paid if everyone had qualified, but did not (share of commissionable "
            "revenue).",
        ],
        [
            "retail share",
            pct(c["retail_share"]),
            "Volume bought for customers outside the network ÷ all volume.",
        ],
        [
            "purchases made only to qualify",
            pct(c["qualifying_purchase_share"]),
            "Volume bought and never used by a household, sold to a customer or returned "
            "(kept in stock, or lost on quitting) ÷ all volume.",
        ],
        [
            "income from recruitment",
            pct(c["recruitment_income_share"]),
            "Enrolment / fast "
            f"start bonuses + commissions on new recruits' orders in their first {e} months "
            "(pro rata to volume) ÷ all commissions.",
        ],
        [
            "revenue from recruitment",
            pct(c["revenue_from_recruitment_share"]),
            "Starter kits "
            f"+ product bought by distributors in their first {e} months ÷ company revenue.",
        ],
        [
            "customers per distributor",
            num(c["customers_per_distributor"], 2),
            "Retail "
            "customers ÷ active distributors, averaged over the months (customer-months ÷ "
            "distributor-months).",
        ],
    ]
    if "clawbacks" in c:  # [returns] on
        rows += [
            [
                "product returned",
                usd(c["returned_usd"]),
                "Customers' orders and members' stock sent back, at wholesale.",
            ],
            [
                "refunds for returns",
                usd(c["return_refunds"]),
                "Paid back by the company for returned product (already out of revenue).",
            ],
            [
                "paid back to customers",
                usd(c["customer_refunds"]),
                "Retail price members refunded to customers who returned an order.",
            ],
            [
                "commissions clawed back",
                usd(c["clawbacks"]),
                "Taken back from uplines on returned and bought-back volume (the plan's "
                "returns_timing = 'clawback').",
            ],
            [
                "commissions net of clawbacks",
                usd(c["commissions_net"]),
                "Commissions paid − clawed back.",
            ],
        ]
    return table_html(["measure", "value", "definition"], rows, numeric_to=2, cls="company wide")


def _indicator_section(a: Analysis) -> str:
    rows = []
    for i in a.indicators:
        if math.isnan(i.value):
            value, verdict, cls = "not recorded", "n/a", ""
        else:
            value = num(i.value, 2) if i.name == "customers_per_distributor" else pct(i.value)
            verdict, cls = ("safe side", "ok") if i.passes else ("risky side", "risk")
        line = (
            f"{i.comparison} {num(i.threshold, 0)}"
            if i.name == "customers_per_distributor"
            else f"{i.comparison} {pct(i.threshold, 0)}"
        )
        rows.append(
            "<tr>"
            f"<td>{escape(_INDICATOR_LABELS.get(i.name, i.name))}</td>"
            f'<td class="num">{escape(value)}</td><td class="num">{escape(line)}</td>'
            f'<td class="{cls}">{escape(verdict)}</td><td>{escape(i.source)}</td>'
            f"<td>{escape(i.meaning)}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "indicator",
            "value",
            "safe if",
            "verdict",
            "where the line comes from",
            "meaning",
        )
    )
    return (
        '<div class="scroll"><table class="indicators"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    ) + _legal_table(a)


def _legal_table(a: Analysis) -> str:
    """The legal tests (docs/legal.md): rule, source, line, company figure, members passing."""
    tests = a.facts.get("legal", [])
    if not tests:
        return ""
    rows = []
    for t in tests:
        count = t["name"] == "ten_customers"
        fmt = (lambda x: num(x, 2)) if count else pct
        line = f"{t['comparison']} {num(t['threshold'], 0) if count else pct(t['threshold'], 0)}"
        if t["passes"] is None:
            value, verdict, cls = "not recorded", "n/a", ""
        else:
            value = fmt(t["value"])
            verdict, cls = ("passes", "ok") if t["passes"] else ("fails", "risk")
        share = "—" if t["pass_share"] is None else pct(t["pass_share"])
        paid = "—" if t["paid_share"] is None else pct(t["paid_share"])
        rows.append(
            "<tr>"
            f"<td>{escape(t['label'])}</td><td>{escape(t['rule'])}</td>"
            f'<td class="num">{escape(value)}</td><td class="num">{escape(line)}</td>'
            f'<td class="{cls}">{escape(verdict)}</td>'
            f'<td class="num">{escape(share)}</td><td class="num">{escape(paid)}</td>'
            f"<td>{escape(t['source'])}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "legal test",
            "rule as applied",
            "company-wide",
            "passes if",
            "verdict",
            "member-months passing",
            "pay to those passing",
            "source",
        )
    )
    return (
        "<p>Legal tests, each applied per member per month as its source applies it and "
        "summed company-wide (definitions and simplifications: docs/legal.md).</p>"
        '<div class="scroll"><table class="indicators legal"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _attrition_section(a: Analysis) -> str:
    t = a.facts["attrition"]
    w = a.band
    surv = a.survival
    ages = [c for c in surv.columns if c not in ("cohort", "n")]
    rows = [
        [
            _band_label(int(r["cohort"]), w, a.facts["months"]),
            num(r["n"]),
            *[pct(r[age], 0) if pd.notna(r[age]) else "—" for age in ages],
        ]
        for _, r in surv.iterrows()
    ]
    return "".join(
        [
            table_html(
                ["measure", "value"],
                [
                    ["annual quit rate, whole run", pct(t["annual_quit_rate"])],
                    ["annual quit rate, last 12 months", pct(t["annual_quit_rate_last_year"])],
                    ["mean monthly quit rate", pct(t["mean_monthly_quit_rate"])],
                    ["people who quit", num(t["quit_total"])],
                ],
                cls="attrition",
            ),
            "<h3>Survival by join cohort</h3>",
            '<p class="note">Share of each cohort still a distributor the given number of '
            "months after joining; — = not observed yet when the run ended.</p>",
            table_html(
                ["joined in", "people", *[f"after {age} mo" for age in ages]],
                rows,
                cls="survival",
            ),
        ]
    )


def _scenario_section(run: RunData) -> str:
    man = run.manifest
    rows: list[list[str]] = []
    _flatten("", man.get("scenario", {}), rows)
    plan_rows: list[list[str]] = []
    _flatten("", man.get("plan", {}), plan_rows)
    plan_meta = (man.get("plan") or {}).get("plan", {})
    return "".join(
        [
            "<h3>Scenario (as resolved, every parameter)</h3>",
            table_html(["parameter", "value"], rows, numeric_from=99, cls="scenario"),
            f"<h3>Compensation plan: {escape(plan_meta.get('name', 'unnamed'))}</h3>",
            f"<p>{escape(plan_meta.get('description', ''))}</p>",
            f'<p class="note">Modelled on: {escape(plan_meta.get("modelled_on", "—"))}. File: '
            f"<code>{escape(man.get('plan_file', ''))}</code></p>",
            table_html(["plan setting", "value"], plan_rows, numeric_from=99, cls="plan"),
        ]
    )


def _run_info(run: RunData) -> str:
    man = run.manifest
    versions = man.get("versions", {})
    rows = [
        ["run folder", str(run.run_dir)],
        ["seed", str(man.get("seed", ""))],
        ["created", str(man.get("created", ""))],
        ["mlmsim version", str(versions.get("mlmsim", ""))],
        ["git commit", str(man.get("git_commit") or "—")],
        ["scenario file", str(man.get("scenario_file") or "—")],
        ["report written", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")],
    ]
    return table_html(["item", "value"], rows, numeric_from=99, cls="run-info")


def _no_tree(joined: int, drawn: bool) -> str:
    from simulation.figures import MAX_TREE_NODES  # noqa: PLC0415 - matplotlib, as in render_figures

    if drawn and joined > MAX_TREE_NODES:
        why = (
            f"{num(joined)} people joined, more than the figure can show legibly "
            f"({num(MAX_TREE_NODES)})"
        )
    elif drawn:
        why = "nobody joined"
    else:
        why = "this page was written without figures"
    return f'<p class="note">The genealogy is not drawn: {why}.</p>'


SECTIONS = [
    ("answers", "The four answers"),
    ("reading", "Reading the results"),
    ("saturation", "Saturation"),
    ("income", "Who gets the money"),
    ("disclosure", "Income disclosure statement"),
    ("company", "Company and plan"),
    ("indicators", "Pyramid-risk indicators"),
    ("attrition", "Attrition"),
    ("genealogy", "Genealogy"),
    ("scenario", "Scenario and plan"),
    ("definitions", "Definitions"),
]


def render_html(run: RunData, a: Analysis, pngs: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page."""
    man = run.manifest
    scen = man["scenario"].get("scenario", {})
    f = a.facts
    title = f"mlmsim report: {scen.get('name', 'run')}"
    sections = render_sections(run, a, pngs)
    body = "".join(
        f'<section id="{k}"><h2>{escape(v)}</h2>{sections[k]}</section>'
        if k != "answers"
        else f'<section id="{k}">{sections[k]}</section>'
        for k, v in SECTIONS
    )
    head = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(scen.get("description", ""))} Seed {escape(man.get("seed", ""))}, '
        f"{f['months']} months, {num(f['population'])} people.</p>"
    )
    return page(title, head + nav_html(SECTIONS) + body, PAGE_CSS)


def render_sections(run: RunData, a: Analysis, pngs: dict[str, bytes]) -> dict[str, str]:
    """The HTML of each section of :data:`SECTIONS` (the ensemble's page reuses them)."""
    f = a.facts
    b = f["bass"]
    bass_rows = (
        [
            ["p (the curve's external-influence coefficient), per month", num(b["p"], 4)],
            ["q (the curve's imitation coefficient), per month", num(b["q"], 3)],
            ["m (market potential), people", num(b["m"])],
            ["RMSE of cumulative joins, people", num(b["rmse"], 1)],
            ["RMSE ÷ people who joined", pct(b["rmse_share"])],
            ["fitted peak", f"month {b['peak_month']}"],
        ]
        if b["ok"]
        else [["Bass fit", f"not possible: {b['message']}"]]
    )
    return {
        "answers": _answers(run, a),
        "reading": _reading(run, a),
        "saturation": "".join(
            [
                _img(pngs, "penetration_joins"),
                "<h3>The Bass curve fitted to the joins</h3>",
                table_html(["parameter", "value"], bass_rows, cls="bass"),
                _img(pngs, "members_by_level"),
                "<h3>By level at joining</h3>",
                '<p class="note">“Recruited ≥ 1” and “recruits per member” are over everyone '
                "who joined at that level; “reachable prospects” counts, for each member "
                "still active at the end, the social contacts who never joined and are not "
                "refusing a pitch.</p>",
                _saturation_table(a),
            ]
        ),
        "income": "".join(
            [
                _img(pngs, "lorenz"),
                _img(pngs, "income_by_level"),
                _concentration_section(a),
            ]
        ),
        "disclosure": _disclosure_section(a, pngs),
        "company": _company_section(a),
        "indicators": "".join(
            [
                "<p>No statute or court sets a number for any of these; each line is "
                "borrowed from a case, an order or one company's rules, as the last columns "
                "say. Values are over the whole run.</p>",
                _indicator_section(a),
            ]
        ),
        "attrition": _attrition_section(a),
        "genealogy": _img(pngs, "genealogy") or _no_tree(f["ever_joined"], bool(pngs)),
        "scenario": _scenario_section(run) + "<h3>Run</h3>" + _run_info(run),
        "definitions": DEFINITIONS,
    }


DEFINITIONS = """
<dl>
<dt><b>Everyone who joined</b></dt><dd>Every person who ever paid the starter kit, including
those who quit. Unless a table says otherwise this is the population.</dd>
<dt><b>Gross commissions</b></dt><dd>Commissions and bonuses paid by the company, before any
cost.</dd>
<dt><b>Net income</b></dt><dd>Commissions + retail sales to customers + buy-back refunds −
product bought − starter kit − fixed costs (fees, samples, events), with product used at home
credited at the scenario's share of its price. “Own use as a cost” credits nothing for it
(full-cost studies).</dd>
<dt><b>Lost money</b></dt><dd>Net income below zero.</dd>
<dt><b>Gini</b></dt><dd>0 = everyone has the same, near 1 = one person has everything. With
losses it is normalised by the mean absolute value (Raffinetti, Siletti &amp; Vernizzi 2015).
</dd>
<dt><b>Top 1% share</b></dt><dd>Share of the total received by the richest 1% of people
(fractional people counted pro rata).</dd>
<dt><b>Level</b></dt><dd>Depth in the recruitment tree at joining; founders are level 1, their
recruits level 2, and so on.</dd>
<dt><b>Penetration</b></dt><dd>People who ever joined ÷ the whole market.</dd>
<dt><b>Bass curve</b></dt><dd>N<sub>t+1</sub> = N<sub>t</sub> + (p + q N<sub>t</sub>/m)(m −
N<sub>t</sub>), fitted by least squares to the cumulative joins.</dd>
<dt><b>Payout ratio</b></dt><dd>Commissions paid ÷ commissionable revenue (sum of BV).</dd>
<dt><b>Retail share</b></dt><dd>Volume bought for customers who are not distributors ÷ all
volume.</dd>
<dt><b>Breakage</b></dt><dd>What the plan would pay if every distributor qualified, minus what
it paid.</dd>
</dl>
<p class="note">Every number, its formula and the population it covers are in
<code>docs/report.md</code>; the tables behind this page are CSV and JSON files in the run
folder.</p>
"""


def write_report(path: Path, run: RunData, analysis: Analysis, pngs: dict[str, bytes]) -> Path:
    """Write ``report.html`` atomically; returns its path."""
    text = render_html(run, analysis, pngs)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Read a run folder, analyse it, draw its figures and write its report.

    ``out`` (default ``run_dir/report.html``) must be a file name, not a folder, a device or
    one of the run's own files; its folder is locked while the report is written, so a run
    still writing ``run_dir`` refuses the report (and the reverse).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run folder")
    target = run_dir / REPORT_FILE if out is None else Path(out)
    inputs = [run_dir / name for name in REQUIRED]
    target = output_file(target, "--out", inputs=[run_dir, *inputs])
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"--out {target}: the folder {folder} does not exist")
    run = load_run(run_dir)  # reading only: a bad run folder is refused before any lock
    analysis = analyse(run)
    pngs = render_figures(run, analysis)
    with FolderLock(folder, remove=True):
        return write_report(target, run, analysis, pngs)


# --------------------------------------------------------------------------------------------
# command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mlmsim report``."""
    parser.add_argument("run_dir", type=Path, help="a run folder written by `mlmsim run`")
    parser.add_argument(
        "--out",
        type=path_arg,
        default=None,
        help="HTML file to write (default: RUN_DIR/report.html)",
    )


def run(args: argparse.Namespace) -> int:
    """``mlmsim report RUN_DIR``: write the HTML report of a run folder."""
    path = build_report(args.run_dir, args.out)
    print(path)
    return 0
