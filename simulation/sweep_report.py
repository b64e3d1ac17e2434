"""Aggregates, figures and the one-page report of a sweep folder.

:func:`fan_table` turns the monthly rows of many runs into the mean and the 5%, 50% and 95%
quantiles over seeds of every monthly metric (per design point when there are few points,
over all runs otherwise); :func:`write_report` writes ``fan.parquet``, the figures
(``figures/*.png``) and ``report.html``: one self-contained page (figures embedded as base64
PNG, inline CSS, no script) that opens in any browser without a network.

``python -m simulation.sweep_report DIR`` rewrites them for a finished sweep folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from simulation import market_tables, results
from simulation.collect import MONTHLY_COLUMNS
from simulation.errors import UserError
from simulation.htmlpage import escape, figure_html, nav_html, page, png_bytes, table_html

REPORT_FILE = "report.html"
FAN_FILE = "fan.parquet"
FIG_DIR = "figures"
# More design points than this and the fans are pooled over all runs (lines would merge).
MAX_FANS = 8
QUANTILES = (0.05, 0.5, 0.95)
# Monthly metrics of the large fan figure at the top of the page.
KEY_METRICS = ("distributors", "joined", "payout_ratio", "share_net_loss")
# Outcomes of the table and of the outcome-vs-parameter figure.
KEY_OUTCOMES = (
    "penetration",
    "share_net_loss",
    "median_net_income",
    "payout_ratio",
    "recruitment_income_share",
    "top1_commissions",
)
# A sweep over a market: these outcomes of each company (``<outcome>__<company>`` columns).
KEY_MARKET_OUTCOMES = (
    "market_share_end",
    "market_share_at_peak",
    "peak_members",
    "ever_joined",
    "share_net_loss",
    "payout_ratio",
)
OUTCOME_LABELS = {
    "market_share_end": "share of members at the end",
    "market_share_at_peak": "share of members at its peak",
    "peak_members": "peak members",
    "ever_joined": "ever joined",
    "penetration": "penetration",
    "share_net_loss": "share who lost money",
    "median_net_income": "median net income, USD",
    "payout_ratio": "payout ratio",
    "recruitment_income_share": "income from recruiting",
    "top1_commissions": "top 1% share of commissions",
}
_PERCENT = {
    "penetration",
    "share_net_loss",
    "share_net_loss_strict",
    "payout_ratio",
    "recruitment_income_share",
    "top1_commissions",
    "top10_commissions",
    "retail_share",
    "worst_month_payout_ratio",
    "breakage_ratio",
    "gini_net_income",
    "market_share_end",
    "market_share_at_peak",
}
COLOURS = (
    "#2166ac",
    "#d6604d",
    "#1a9850",
    "#762a83",
    "#e08214",
    "#35978f",
    "#c51b7d",
    "#7f7f7f",
)
DPI = 100


# --------------------------------------------------------------------------------------------
# tables


def fan_groups(runs: pd.DataFrame, params: list[str] | None = None) -> pd.Series:
    """The fan group of each ok run (indexed by run id).

    With at most :data:`MAX_FANS` design points, one fan per point (its label). Otherwise
    one fan per value of the first varied parameter with 2 to :data:`MAX_FANS` values,
    pooling over the others (a 4 x 3 grid gives 4 fans); failing that, all runs together.
    """
    ok = runs[runs["status"] == "ok"].sort_values(["point", "replicate"], kind="stable")
    ids = ok["run_id"].to_numpy()
    if ok["point"].nunique() <= MAX_FANS:
        labels = ok["label"].where(ok["label"] != "", "point " + ok["point"].astype(str))
        return pd.Series(labels.to_numpy(), index=ids, name="group")
    for p in params or []:
        if p in ok and 2 <= ok[p].nunique() <= MAX_FANS:
            vals = [value_label(p, v) for v in ok[p]]
            return pd.Series(vals, index=ids, name="group")
    return pd.Series("all runs", index=ids, name="group")


def key_outcomes(spec: dict[str, Any]) -> tuple[str, ...]:
    """The outcomes of the report's table and figure: per company for a market sweep."""
    market = spec.get("market")
    if not market:
        return KEY_OUTCOMES
    sep = market_tables.OUTCOME_SEPARATOR
    return tuple(f"{o}{sep}{c}" for o in KEY_MARKET_OUTCOMES for c in market["companies"])


def outcome_label(outcome: str) -> str:
    """An outcome's label; a market sweep's ``<outcome>__<company>`` names the company."""
    base, _, company = outcome.partition(market_tables.OUTCOME_SEPARATOR)
    label = OUTCOME_LABELS.get(base, base)
    return f"{label} ({company})" if company else label


def is_percent(outcome: str) -> bool:
    """Whether an outcome (or a monthly metric) is a share, shown as a percentage."""
    base = outcome.partition(market_tables.OUTCOME_SEPARATOR)[0]
    return base in _PERCENT or base.endswith("_share")


def value_label(key: str, value: Any) -> str:
    """``join_prob=0.3``, ``plan=unilevel_5``: a parameter value as a short label."""
    if key == "plan.file":
        return f"plan={Path(str(value)).stem}"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{key.partition('.')[2]}={text}"


def fan_metrics(monthly: pd.DataFrame) -> list[str]:
    """Numeric monthly metrics present in ``monthly``, in the collector's order."""
    return [c for c in MONTHLY_COLUMNS if c != "month" and c in monthly]


def fan_table(monthly: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Mean and quantiles over runs of every monthly metric, per group and month.

    Args:
        monthly: one row per run x month (``run_id``, ``month`` and metric columns).
        groups: run id -> group name (:func:`fan_groups`).

    Returns:
        Long table ``group, month, metric, n, mean, p05, p50, p95`` (NaN months of a run,
        e.g. a payout ratio with no revenue, are left out of that month's statistics).
    """
    metrics = fan_metrics(monthly)
    company = "company" in monthly  # a market sweep: one fan per company in each group
    df = monthly[["run_id", "month", *metrics, *(["company"] if company else [])]].copy()
    df["group"] = df["run_id"].map(groups)
    df = df.dropna(subset=["group"])
    order = list(dict.fromkeys(groups.to_numpy()))
    if company:
        df["group"] = df["group"] + ": " + df["company"].astype(str)
        names = list(dict.fromkeys(monthly["company"].astype(str)))
        present = set(df["group"])
        order = [f"{g}: {c}" for g in order for c in names if f"{g}: {c}" in present]
        df = df.drop(columns="company")
    long = df.melt(id_vars=["group", "month"], value_vars=metrics, var_name="metric")
    long["value"] = long["value"].astype(np.float64)
    g = long.groupby(["group", "metric", "month"], sort=False)["value"]
    stats = g.agg(["count", "mean"]).rename(columns={"count": "n"})
    for q in QUANTILES:
        stats[f"p{round(100 * q):02d}"] = g.quantile(q)
    stats = stats.reset_index()
    stats["group"] = pd.Categorical(stats["group"], categories=order, ordered=True)
    stats["metric"] = pd.Categorical(stats["metric"], categories=metrics, ordered=True)
    stats = stats.sort_values(["group", "metric", "month"]).reset_index(drop=True)
    stats["group"] = stats["group"].astype(str)
    stats["metric"] = stats["metric"].astype(str)
    return stats[["group", "month", "metric", "n", "mean", "p05", "p50", "p95"]]


def outcome_table(runs: pd.DataFrame, outcomes: tuple[str, ...] = KEY_OUTCOMES) -> pd.DataFrame:
    """Per design point: runs ok, failed, and mean / 5% / 95% of each outcome over seeds."""
    rows = []
    for point, sub in runs.groupby("point", sort=True):
        ok = sub[sub["status"] == "ok"]
        row: dict[str, Any] = {
            "point": int(point),
            "label": sub["label"].iloc[0],
            "ok": len(ok),
            "failed": int((sub["status"] == "error").sum()),
        }
        for o in outcomes:
            v = ok[o].astype(np.float64).dropna() if o in ok else pd.Series(dtype=float)
            row[f"{o}_mean"] = v.mean() if len(v) else math.nan
            row[f"{o}_p05"] = v.quantile(0.05) if len(v) else math.nan
            row[f"{o}_p95"] = v.quantile(0.95) if len(v) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# figures


def figure_png(fig: Figure) -> bytes:
    """A sweep figure as PNG bytes at the report's resolution, the same under any matplotlib.

    No "Software" tag: the same sweep gives the same bytes under any matplotlib version.
    """
    return png_bytes(fig, DPI, metadata={"Software": None})


def _title(metric: str) -> str:
    return metric.replace("_", " ")


def fan_figure(
    fan: pd.DataFrame,
    metrics: list[str],
    *,
    ncols: int = 4,
    big: bool = False,
    centre: str = "mean",
):
    """Small multiples: each metric's mean (line) and 5-95% band (shaded) over months.

    ``centre="p50"`` draws the median instead of the mean (an ensemble's report).
    """
    groups = list(dict.fromkeys(fan["group"]))
    nrows = max(1, math.ceil(len(metrics) / ncols))
    w, h = (7.5, 4.2) if big else (4.6, 3.0)
    fig = Figure(figsize=(w * ncols, h * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        sub = fan[fan["metric"] == metric]
        for i, g in enumerate(groups):
            s = sub[sub["group"] == g]
            c = COLOURS[i % len(COLOURS)]
            ax.fill_between(s["month"], s["p05"], s["p95"], color=c, alpha=0.18, linewidth=0)
            ax.plot(s["month"], s[centre], color=c, linewidth=2 if big else 1.5, label=g)
        ax.set_title(_title(metric), fontsize=15 if big else 11)
        ax.tick_params(labelsize=12 if big else 9)
        ax.spines[["top", "right"]].set_visible(False)
        if metric in _PERCENT:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.supxlabel("month", fontsize=13 if big else 11)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside upper center",
            ncols=min(len(labels), 4),
            fontsize=12 if big else 10,
            frameon=False,
        )
    return fig


def outcome_figure(
    runs: pd.DataFrame, params: list[str], outcomes: tuple[str, ...] = KEY_OUTCOMES
) -> Figure:
    """Outcome vs parameter: one panel per (outcome, parameter); every run a dot.

    Numeric parameters: dots and the mean per value (or per decile bin when values are all
    distinct, as in sampled designs). Listed text values (plans): dots per value with the
    mean marked. With no parameter (Monte Carlo): each outcome's distribution over seeds.
    """
    ok = runs[runs["status"] == "ok"].sort_values(["point", "replicate"], kind="stable")
    outcomes = tuple(o for o in outcomes if o in ok and ok[o].notna().any())
    params = [p for p in params if p in ok and ok[p].nunique() > 1][:6]
    if not params:
        ncols = 3
        nrows = max(1, math.ceil(len(outcomes) / ncols))
        fig = Figure(figsize=(5 * ncols, 3.4 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, o in zip(axes, outcomes, strict=False):
            v = ok[o].astype(np.float64).dropna()
            ax.hist(v, bins=min(40, max(5, len(v) // 10)), color=COLOURS[0], alpha=0.8)
            for q in (0.05, 0.95):
                ax.axvline(v.quantile(q), color=COLOURS[1], linestyle="--", linewidth=1)
            ax.axvline(v.mean(), color="black", linewidth=1.5)
            ax.set_title(outcome_label(o), fontsize=12)
            ax.set_ylabel("runs", fontsize=10)
            if is_percent(o):
                ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        for ax in axes[len(outcomes) :]:
            ax.set_visible(False)
        return fig
    fig = Figure(
        figsize=(4.4 * len(params), 3.0 * len(outcomes) + 0.3), layout="constrained", dpi=DPI
    )
    axes = fig.subplots(len(outcomes), len(params), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only; the figure is the same every time
    for j, p in enumerate(params):
        x = ok[p]
        numeric = pd.api.types.is_numeric_dtype(x)
        if numeric:
            xs = x.astype(np.float64).to_numpy()
            uniq = np.unique(xs)
            if uniq.size <= 20:
                bins, centres = xs, uniq
            else:
                edges = np.unique(np.quantile(xs, np.linspace(0, 1, 11)))
                bins = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, edges.size - 2)
                centres = np.arange(edges.size - 1)
        else:
            cats = list(dict.fromkeys(x.astype(str)))
            xs = x.astype(str).map({c: i for i, c in enumerate(cats)}).to_numpy(np.float64)
        for i, o in enumerate(outcomes):
            ax = axes[i, j]
            y = ok[o].astype(np.float64).to_numpy()
            if numeric:
                ax.scatter(xs, y, s=8, alpha=0.35, color=COLOURS[0], linewidths=0)
                if uniq.size <= 20:
                    means = [np.nanmean(y[bins == c]) for c in centres]
                    ax.plot(centres, means, color=COLOURS[1], linewidth=2, marker="o")
                else:
                    means = [np.nanmean(y[bins == c]) for c in centres]
                    mids = [np.nanmean(xs[bins == c]) for c in centres]
                    ax.plot(mids, means, color=COLOURS[1], linewidth=2, marker="o")
                if sweep_log(ok, p):
                    ax.set_xscale("log")
            else:
                jitter = rng.uniform(-0.18, 0.18, xs.size)
                ax.scatter(xs + jitter, y, s=8, alpha=0.35, color=COLOURS[0], linewidths=0)
                means = [np.nanmean(y[xs == k]) for k in range(len(cats))]
                ax.scatter(range(len(cats)), means, color=COLOURS[1], s=90, marker="_", lw=3)
                ax.set_xticks(range(len(cats)))
                ax.set_xticklabels([Path(c).stem for c in cats], rotation=20, fontsize=9)
            if is_percent(o):
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=9)
            if j == 0:
                ax.set_ylabel(outcome_label(o), fontsize=11)
            if i == len(outcomes) - 1:
                ax.set_xlabel("future" if p == "label" else p, fontsize=11)
    return fig


def sweep_log(ok: pd.DataFrame, p: str) -> bool:
    """Whether a numeric parameter spans enough orders of magnitude for a log axis."""
    x = ok[p].astype(np.float64)
    return bool((x > 0).all() and x.max() / x.min() >= 50)


# --------------------------------------------------------------------------------------------
# the page


# The rules of this page on top of htmlpage.CSS: a wider page with denser tables, so that the
# 15 columns of the stress table fit without scrolling sideways, and the stress test's flags.
PAGE_CSS = """
main { max-width: 1250px; }
table { font-size: 14px; }
th, td { padding: 4px 9px; }
.flag { border-left: 6px solid #b2182b; background: #fdf0ef; padding: 8px 12px; margin: 8px 0; }
.pass { border-left: 6px solid #1a7f37; background: #eef8f0; padding: 8px 12px; margin: 8px 0; }
"""


def fmt(value: Any, outcome: str = "") -> str:
    """A table cell: percentages for shares (or ``outcome="pct"``), dollars for money."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    v = float(value)
    # A market sweep's <outcome>__<company>: formatted as the outcome.
    outcome = outcome.partition(market_tables.OUTCOME_SEPARATOR)[0]
    if is_percent(outcome) or outcome == "pct":
        return f"{100 * v:.1f}%"
    if "income" in outcome or outcome in ("revenue", "commissions", "breakage"):
        return f"{'−' if v < -0.5 else ''}${abs(v):,.0f}"
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.4g}"


def _band(row: pd.Series, o: str) -> str:
    m, lo, hi = row[f"{o}_mean"], row[f"{o}_p05"], row[f"{o}_p95"]
    if isinstance(m, float) and math.isnan(m):
        return "n/a"
    return f"{fmt(m, o)} [{fmt(lo, o)}, {fmt(hi, o)}]"


STRESS_HEADERS = {
    "runs_ok": "runs ok",
    "runs_failed": "failed",
    "payout_ratio_p05": "payout ratio 5%",
    "payout_ratio_median": "payout ratio median",
    "payout_ratio_p95": "payout ratio 95%",
    "worst_month_payout_ratio_max": "worst month: highest payout ratio",
    "worst_month_median": "worst month (median month)",
    "breakage_ratio_median": "breakage / revenue, median",
    "share_paid_below_costs_median": "paid below costs, median",
    "share_paid_below_costs_p95": "paid below costs, 95%",
    "recruitment_income_share_median": "income from recruiting, median",
    "recruitment_income_share_p95": "income from recruiting, 95%",
    "runs_over_cap": "runs over the cap",
    "penetration_median": "penetration, median",
    "market_share_end_median": "share of the market's members at the end, median",
}


def _stress_section(out: Path) -> str:
    path = out / "stress.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text(encoding="utf-8"))
    parts = ['<h2 id="stress">Stress test</h2>', f"<p>{escape(data.get('intro', ''))}</p>"]
    for flag in data.get("flags", []):
        cls = "flag" if flag.get("raised") else "pass"
        parts.append(
            f'<div class="{cls}"><b>{escape(flag["title"])}</b>: {escape(flag["text"])}</div>'
        )
    table = data.get("table", [])
    if table:
        cols = list(table[0])
        heads = [STRESS_HEADERS.get(c, c.replace("_", " ")) for c in cols]
        counts = {"plan", "future", "runs_ok", "runs_failed", "runs_over_cap", "worst_month_median"}
        rows = [[fmt(r[c]) if c in counts else fmt(r[c], "pct") for c in cols] for r in table]
        parts.append(table_html(heads, rows))
    futures = data.get("futures", {})
    if futures:
        rows = [[k, v] for k, v in futures.items()]
        parts.append(
            "<h3>The futures</h3>" + table_html(["future", "what changes"], rows, numeric_from=9)
        )
    return "\n".join(parts)


def _policy_section(out: Path) -> str:
    """The policy battery's section (``policy.json``, ``figures/tradeoff.png``), if any."""
    path = out / "policy.json"
    if not path.is_file():
        return ""
    # The battery's formats, read only for a policy folder.
    from simulation import policy  # noqa: PLC0415 - scipy through it: 0.3 s at CLI start

    data = json.loads(path.read_text(encoding="utf-8"))
    base = data.get("baseline", "baseline")
    parts = [
        '<h2 id="policy">Policies compared</h2>',
        f"<p>{escape(data.get('intro', ''))}</p>",
    ]
    for note in data.get("notes", []):
        parts.append(f'<div class="pass"><b>No effect</b>: {escape(note)}</div>')
    table = data.get("table", [])
    outcomes = list(policy.OUTCOMES)
    if table:
        head = ["policy", "runs ok", *[policy.OUTCOMES[o][0] for o in outcomes]]
        rows = [
            [
                r["policy"],
                fmt(r["runs_ok"]),
                *[
                    f"{policy.fmt_value(o, r[f'{o}_mean'])} [{policy.fmt_value(o, r[f'{o}_p05'])}"
                    f", {policy.fmt_value(o, r[f'{o}_p95'])}]"
                    for o in outcomes
                ],
            ]
            for r in table
        ]
        parts.append("<h3>Each policy: mean over seeds [5%, 95%]</h3>" + table_html(head, rows))
        rows = [
            [r["policy"], *[policy.fmt_diff(o, r) for o in outcomes]]
            for r in table
            if r["policy"] != base
        ]
        parts.append(
            f"<h3>Difference to the baseline ('{escape(base)}'): mean of paired differences "
            "[95% interval]</h3>"
            '<p class="note">An interval that does not include 0 means the policy changes the '
            "outcome beyond what the luck of the seeds explains.</p>"
            + table_html(["policy", *[policy.OUTCOMES[o][0] for o in outcomes]], rows)
        )
    fig = out / "figures" / "tradeoff.png"
    if fig.is_file():
        parts.append(
            figure_html(
                fig.read_bytes(),
                "The trade-off: each marker is a policy at its mean over seeds, with bars from "
                "the 5% to the 95% seed. Left: what the company takes in against what members "
                "lose; right: what members make in total against what they lose. Further "
                "left is less consumer injury; the baseline is in red. Differences of shares "
                "are in percentage points (pp).",
            )
        )
    policies = data.get("policies", {})
    if policies:
        rows = [
            [k, v.get("title", ""), v.get("rule", ""), v.get("changes", "")]
            for k, v in policies.items()
        ]
        parts.append(
            "<h3>The policies</h3>"
            + table_html(
                ["policy", "what it does", "the rule it models", "changes"], rows, numeric_from=9
            )
        )
    return "\n".join(parts)


def _sensitivity_section(out: Path, pngs: dict[str, bytes]) -> str:
    path = out / "sensitivity.csv"
    if not path.is_file():
        return ""
    df = pd.read_csv(path)
    parts = [
        '<h2 id="sensitivity">Sensitivity</h2>',
        '<p class="note">Morris: mu* is the mean absolute elementary effect of moving a '
        "parameter one grid step (in units of the outcome), sigma its spread (interactions or "
        "non-linearity). Sobol: S1 is the share of the outcome's variance due to the parameter "
        "alone, ST including its interactions. Intervals are bootstrap 95% intervals. Outcomes "
        "are averaged over the replicates of each point first.</p>",
    ]
    cols = list(df.columns)
    rows = [[fmt(v) if not isinstance(v, str) else v for v in r] for r in df.itertuples(False)]
    parts.append(table_html(cols, rows, numeric_from=2))
    if "sensitivity" in pngs:
        parts.append(figure_html(pngs["sensitivity"], "Sensitivity indices per outcome."))
    return "\n".join(parts)


def render_html(
    spec: dict[str, Any], runs: pd.DataFrame, outcomes: pd.DataFrame, pngs: dict[str, bytes], out
) -> str:
    """The report page."""
    keys = key_outcomes(spec)
    ok = int((runs["status"] == "ok").sum())
    failed = runs[runs["status"] == "error"]
    base = spec.get("base_scenario", {})
    scen = base.get("scenario", {})
    market = base.get("market", {})
    sub = (
        f"{spec.get('kind', 'sweep')} of {len(runs)} runs ({ok} ok, {len(failed)} failed): "
        f"design {spec.get('design')}, {spec.get('points')} points x {spec.get('replicates')} "
        f"seeds from master seed {spec.get('master_seed')} ({spec.get('seeding')} seeds). "
        f"Base scenario '{scen.get('name')}': {market.get('population', 0):,} persons, "
        f"{scen.get('months')} months."
    )
    nav = [("outcomes", "Outcomes"), ("fans", "Monthly fans"), ("params", "Outcome vs parameter")]
    if (out / "sensitivity.csv").is_file():
        nav.append(("sensitivity", "Sensitivity"))
    if (out / "stress.json").is_file():
        nav.insert(0, ("stress", "Stress test"))
    if (out / "policy.json").is_file():
        nav.insert(0, ("policy", "Policies compared"))
    nav.append(("runs", "Failed runs and files"))
    parts = [
        f"<h1>{escape(spec.get('name'))}</h1>",
        f'<p class="sub">{escape(spec.get("description", ""))}</p>',
        f'<p class="sub">{escape(sub)}</p>',
        nav_html(nav),
        _stress_section(out),
        _policy_section(out),
        '<h2 id="outcomes">Outcomes by point</h2>',
        '<p class="note">Mean over seeds [5%, 95%]. Money in USD. "Lost money": net income '
        "below zero with the household's own use of the product valued at what it would "
        "have cost anyway.</p>",
    ]
    head = ["point", "runs ok", *[outcome_label(o) for o in keys]]
    shown = outcomes.head(40)
    rows = [
        [r["label"] or f"point {r['point']}", r["ok"], *[_band(r, o) for o in keys]]
        for _, r in shown.iterrows()
    ]
    parts.append(table_html(head, rows))
    if len(outcomes) > len(shown):
        parts.append(
            f'<p class="note">First {len(shown)} of {len(outcomes)} points; all are in '
            "runs.parquet and design.parquet.</p>"
        )
    parts.append('<h2 id="fans">Monthly fans</h2>')
    grouped = "each design point" if len(outcomes) <= MAX_FANS else "groups of points"
    if "key_fans" in pngs:
        parts.append(
            figure_html(
                pngs["key_fans"],
                f"Mean (line) and 5-95% band over seeds, for {grouped}: active distributors, "
                "joins per month, the monthly payout ratio and the share of joiners so far "
                "who lost money.",
            )
        )
    if "fans" in pngs:
        parts.append(
            figure_html(pngs["fans"], "Every monthly metric (fan.parquet has the numbers).")
        )
    parts.append('<h2 id="params">Outcome vs parameter</h2>')
    if "outcomes" in pngs:
        parts.append(
            figure_html(
                pngs["outcomes"],
                "Each dot is a run; the line or bar marks the mean per parameter value (per "
                "decile bin for sampled designs). With no varied parameter: each outcome's "
                "distribution over seeds (mean solid, 5% and 95% dashed).",
            )
        )
    parts.append(_sensitivity_section(out, pngs))
    parts.append('<h2 id="runs">Failed runs and files</h2>')
    if len(failed):
        rows = [
            [r["run_id"], r["label"], r["seed"], str(r["error"]).splitlines()[0]]
            for _, r in failed.head(50).iterrows()
        ]
        parts.append(table_html(["run id", "point", "seed", "error"], rows, numeric_from=9))
    else:
        parts.append("<p>No run failed.</p>")
    parts.append(
        '<p class="note">runs.parquet: one row per run (parameters, seed, status, error, '
        "outcomes); monthly.parquet: one row per run x month; design.parquet: every (point, "
        "replicate) with its run id; fan.parquet: the bands drawn above; runs/: one file pair "
        f"per run; sweep.json: the resolved sweep (source {escape(spec.get('source'))}, "
        f"fingerprint {escape(spec.get('fingerprint'))}).</p>"
    )
    body = "\n".join(p for p in parts if p)
    return page(f"{spec.get('name')}: sweep report", body, PAGE_CSS)


def write_report(out: Path) -> list[str]:
    """Write ``fan.parquet``, ``figures/*.png`` and ``report.html`` for a sweep folder.

    Returns:
        The files written, relative to ``out``.
    """
    out = Path(out)
    try:
        spec = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
        runs = pd.read_parquet(out / "runs.parquet")
        monthly = pd.read_parquet(out / "monthly.parquet")
    except (OSError, ValueError) as err:
        raise UserError(f"{out}: not a sweep folder with merged tables ({err})") from None
    files = []
    pngs: dict[str, bytes] = {}
    ok = runs[runs["status"] == "ok"]
    if len(ok):
        params = [k for k in spec.get("param_keys", []) if k in runs]
        if spec.get("kind") in ("stress", "policy"):
            params = ["label"]  # one fan and one column of dots per future
        fan = fan_table(monthly, fan_groups(runs, params))
        table = fan.copy()
        results.atomic_write(out / FAN_FILE, lambda p: table.to_parquet(p, index=False))
        files.append(FAN_FILE)
        metrics = fan_metrics(monthly)
        pngs["key_fans"] = figure_png(
            fan_figure(fan, [m for m in KEY_METRICS if m in metrics], big=True, ncols=2)
        )
        pngs["fans"] = figure_png(fan_figure(fan, metrics))
        pngs["outcomes"] = figure_png(outcome_figure(runs, params, key_outcomes(spec)))
    sens = out / FIG_DIR / "sensitivity.png"
    if sens.is_file():
        pngs["sensitivity"] = sens.read_bytes()
    for name in ("key_fans", "fans", "outcomes"):
        if name in pngs:
            path = out / FIG_DIR / f"{name}.png"
            data = pngs[name]
            results.atomic_write(path, lambda p, d=data: p.write_bytes(d))
            files.append(f"{FIG_DIR}/{name}.png")
    text = render_html(spec, runs, outcome_table(runs, key_outcomes(spec)), pngs, out)
    results.atomic_write(out / REPORT_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    files.append(REPORT_FILE)
    return files


def main(argv: list[str] | None = None) -> int:
    """``python -m simulation.sweep_report DIR``: rewrite a sweep folder's report."""
    parser = argparse.ArgumentParser(prog="python -m simulation.sweep_report")
    parser.add_argument("folder", type=Path, help="a sweep folder (with runs.parquet)")
    args = parser.parse_args(argv)
    try:
        files = write_report(args.folder)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {', '.join(files)} in {args.folder}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
