"""The report page of an ensemble (``mlmsim run --seeds N`` / ``--posterior``): rendering only.

One self-contained page, as a run's report: the four cards with each number the median over
the runs and its 90% interval (:func:`simulation.report.ensemble_answers`); every outcome's
interval; the monthly curves as fan charts (median line, 5-95% band); with a posterior, the
drawn parameters; then one run in detail (the run whose share who lost money is nearest the
median), with every section of a run's report. ``docs/report.md`` ("Ensembles") defines it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from simulation import report, results, sweep_report
from simulation.ensemble import RUNS_DIR, Ensemble, representative
from simulation.htmlpage import escape, figure_html, nav_html, page, table_html
from simulation.intervals import bands, interval_table
from simulation.outcomes import OUTCOMES, analyse

# Monthly metrics of the fan charts: the large ones first.
FAN_METRICS = (
    "distributors",
    "joined",
    "penetration",
    "share_net_loss",
    "share_net_loss_strict",
    "payout_ratio",
    "top1_commissions",
    "gini_net_income",
)
LABELS = {
    "ever_joined": "ever joined",
    "penetration": "penetration (ever joined ÷ N)",
    "active_end": "active at the end",
    "peak_joins": "most joins in one month",
    "peak_month": "month of the most joins",
    "half_peak_month": "first month below half the peak",
    "max_level": "deepest level reached",
    "share_net_loss": "share who lost money (own use valued)",
    "share_net_loss_strict": "share who lost money (own use as a cost)",
    "median_net_income": "median net income of joiners",
    "gini_net_income": "Gini of net income",
    "top1_commissions": "top 1% share of commissions",
    "top10_commissions": "top 10% share of commissions",
    "payout_ratio": "payout ratio",
    "retail_share": "retail share of volume",
}


def _fmt(value: Any, outcome: str) -> str:
    return sweep_report.fmt(value, outcome)


def _outcomes_table(intervals: pd.DataFrame, runs: int) -> str:
    rows = []
    for r in intervals.itertuples(index=False):
        if r.outcome in ("population", "months") and r.p05 == r.p95:
            continue  # the same in every run: in the page's subtitle
        rows.append(
            [
                LABELS.get(r.outcome, r.outcome.replace("_", " ")),
                _fmt(r.median, r.outcome),
                _fmt(r.p05, r.outcome),
                _fmt(r.p95, r.outcome),
                f"{r.n}" if r.n == runs else f"{r.n} of {runs}",
                OUTCOMES.get(r.outcome, ""),
            ]
        )
    return table_html(
        ["outcome", "median", "5th percentile", "95th percentile", "runs", "definition"],
        rows,
        numeric_to=5,
        cls="intervals wide",
    )


def _posterior_section(ens: Ensemble, runs: pd.DataFrame) -> str:
    post = ens.posterior
    assert post is not None
    drawn = interval_table(runs.drop_duplicates("draw"), post.parameters)
    rows = [
        [
            r.outcome,
            f"{post.record.median[r.outcome]:.4g}",
            f"{r.median:.4g}",
            f"{r.p05:.4g}",
            f"{r.p95:.4g}",
        ]
        for r in drawn.itertuples(index=False)
    ]
    prov = {"method": post.record.method, **post.record.provenance}
    made = "; ".join(f"{k}: {v}" for k, v in prov.items() if v != "") or "not recorded"
    return "".join(
        [
            f"<p>Every run's parameters are a draw from the posterior of "
            f"<code>{escape(post.scenario_file)}</code>: {ens.draws} draws from "
            f"{len(post.weights):,} samples (<code>{escape(post.samples_file.name)}</code>), "
            f"{ens.seeds} seed{'s' if ens.seeds > 1 else ''} each. The intervals on this page "
            "therefore include the uncertainty of the calibrated parameters, not only the "
            "luck of the draw.</p>",
            table_html(
                [
                    "parameter",
                    "posterior median",
                    "median of the draws",
                    "5th percentile",
                    "95th percentile",
                ],
                rows,
                cls="posterior",
            ),
            f'<p class="note">How the posterior was made: {escape(made)}.</p>',
        ]
    )


def render_html(
    ens: Ensemble,
    runs: pd.DataFrame,
    intervals: pd.DataFrame,
    fan: pd.DataFrame,
    detail_dir: Path,
) -> str:
    """The ensemble's page; ``detail_dir`` is the folder of the run shown in detail."""
    n = len(runs)
    b = bands(intervals, n)
    run = results.load_run(detail_dir)
    analysis = analyse(run)
    pngs = report.render_figures(run, analysis)
    scen = ens.scenario.scenario
    name = scen.name
    title = f"mlmsim report: {name}, {n} runs"
    if ens.posterior is not None:
        how = (
            f"{ens.draws} posterior draws x {ens.seeds} seed{'s' if ens.seeds > 1 else ''} "
            "(parameter uncertainty included)"
        )
    else:
        how = f"{n} seeds derived from seed {ens.master_seed}"
    sub = (
        f"{scen.description} {n} runs: {how}; {scen.months} months, "
        f"{ens.scenario.market.population:,} people. Each figure: the median over the runs "
        "and its 90% interval (5th–95th percentile)."
    )
    fan_png = sweep_report.figure_png(
        sweep_report.fan_figure(fan, [m for m in FAN_METRICS if m in set(fan["metric"])],
                                centre="p50")
    )  # fmt: skip
    across = "".join(
        [
            _outcomes_table(intervals, n),
            '<p class="note">Every run\'s own tables are in its folder under '
            "<code>runs/</code>; <code>ensemble.csv</code> has one row per run, "
            "<code>intervals.csv</code> this table.</p>",
            "<h3>The months, over the runs</h3>",
            figure_html(
                fan_png,
                "Median (line) and 5–95% band over the runs of monthly figures: active "
                "distributors, joins per month, penetration, the shares of joiners so far who "
                "lost money, the monthly payout ratio, the top 1% share of commissions and the "
                "Gini of net income.",
                fig_id="fig-fans",
            ),
        ]
    )
    detail = report.render_sections(run, analysis, pngs)
    seed = int(runs.loc[runs["name"] == detail_dir.name, "seed"].iloc[0])
    nav = [("answers", "The four answers"), ("ensemble", f"Across the {n} runs")]
    if ens.posterior is not None:
        nav.append(("posterior", "The posterior draws"))
    nav.append(("detail", f"One run in detail (seed {seed})"))
    parts = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(sub)}</p>',
        nav_html(nav),
        '<section id="answers">',
        report.ensemble_answers(run, b),
        "</section>",
        f'<section id="ensemble"><h2>Across the {n} runs</h2>{across}</section>',
    ]
    if ens.posterior is not None:
        parts.append(
            '<section id="posterior"><h2>The posterior draws</h2>'
            f"{_posterior_section(ens, runs)}</section>"
        )
    parts.append(
        f'<section id="detail"><h2>One run in detail (seed {seed})</h2>'
        f"<p>The rest of this page is one of the {n} runs, <code>runs/{escape(detail_dir.name)}"
        "</code>: the run whose share of joiners who lost money is nearest the median. Its "
        "numbers are single values, not intervals.</p></section>"
    )
    for key, label in report.SECTIONS:
        if key == "answers":
            continue
        parts.append(f'<section id="{key}"><h2>{escape(label)}</h2>{detail[key]}</section>')
    return page(title, "".join(parts), report.PAGE_CSS)


def write_report(
    out: Path, ens: Ensemble, runs: pd.DataFrame, intervals: pd.DataFrame, fan: pd.DataFrame
) -> str:
    """Write ``out/report.html``; returns its name."""
    index = representative(runs)
    detail = out / RUNS_DIR / ens.members[index].name
    text = render_html(ens, runs, intervals, fan, detail)
    results.atomic_write(out / report.REPORT_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    return report.REPORT_FILE
