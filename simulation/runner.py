"""Run one scenario end to end: build, simulate, write the results folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import report, results
from simulation.config import Scenario
from simulation.errors import UserError
from simulation.metrics import gini, months_to_half_peak, reachable_prospects, top_share
from simulation.model import MLMModel
from simulation.state import Status

# A recruit's "early orders": the month of joining and the two after (see report.py).
EARLY_MONTHS = report.EARLY_MONTHS

# Plan components that pay for bringing people in (enrolment / fast start bonuses).
RECRUITMENT_COMPONENTS = ("fast_start",)


def summarise(model: MLMModel, monthly: pd.DataFrame, dist: dict[str, np.ndarray]) -> dict:
    """Headline outcomes of a run (what the terminal and the report lead with)."""
    joins = monthly["joined"].to_numpy()[1:]  # month 0 is the founders
    net = dist["net_income"]
    comm = dist["commissions"]
    peak = int(np.argmax(joins)) if joins.size else 0
    half = months_to_half_peak(joins) if joins.size else None
    bv = monthly["commissionable_revenue"].sum()
    pv = monthly["pv"].sum()
    return {
        "scenario": model.scenario.scenario.name,
        "seed": model.seed,
        "population": model.pop.n,
        "months": model.month,
        "ever_joined": int(net.size),
        "penetration": float(net.size / model.pop.n),
        "active_end": int(monthly["distributors"].iloc[-1]),
        "peak_joins": int(joins[peak]) if joins.size else 0,
        "peak_month": peak + 1,
        "half_peak_month": None if half is None else int(half) + 1,
        "max_level": int(dist["level"].max()) if net.size else 0,
        "share_net_loss": float((net < 0).mean()) if net.size else None,
        "share_net_loss_strict": float((dist["net_income_strict"] < 0).mean())
        if net.size
        else None,
        "median_net_income": float(np.median(net)) if net.size else None,
        "gini_net_income": float(gini(net)) if net.size else float("nan"),
        "top1_commissions": float(top_share(comm, 0.01)) if comm.sum() > 0 else None,
        "top10_commissions": float(top_share(comm, 0.1)) if comm.sum() > 0 else None,
        "payout_ratio": float(monthly["commissions"].sum() / bv) if bv > 0 else None,
        "retail_share": float(
            monthly["retail_sales"].sum()
            / (1 + model.plan.retail.markup)
            / pv
            / model.scenario.units.usd_per_pv
        )
        if pv > 0
        else None,
        "revenue": float(model.company["revenue"]),
        "commissions": float(model.company["paid"]),
    }


class MonthlyExtras:
    """Per-month flows the monthly table does not hold, recorded after each month.

    Written as ``monthly_extra.csv`` (one row per month, month 0 = the founders):

    - ``paid_<component>``: what each company-paid plan component paid (after the cap), USD;
      ``paid_recruiting`` is the sum over :data:`RECRUITMENT_COMPONENTS`.
    - ``bv`` and ``bv_new_recruits``: all BV, and the BV of recruits (distributors with an
      enroller) in their first :data:`EARLY_MONTHS` months (month of joining included).
    - ``customer_pv``: volume bought for retail customers (non-members), PV.
    - ``kits_revenue``: starter kits sold (everyone who joins buys one), USD;
      ``new_recruit_purchases``: product bought by recruits in their first
      :data:`EARLY_MONTHS` months, USD.
    - ``reachable_per_active``: mean still-reachable prospects per active distributor at the
      end of the month (contacts who never joined and are not refusing; NaN without a social
      network).

    It also keeps, per person, the paid-as rank last held while a distributor
    (``last_rank``; the model resets a quitter's rank to -1) and the highest one
    (``highest_rank``), for the income disclosure statement's quitters.
    """

    def __init__(self, model: MLMModel):
        from simulation.plans.base import REGISTRY

        self.components = [k for k in model.plan.components if REGISTRY[k].company_payout]
        self.rows: list[dict[str, float]] = []
        self.last_rank = np.full(model.pop.n, -1, dtype=np.int16)
        self.highest_rank = np.full(model.pop.n, -1, dtype=np.int16)

    def __call__(self, model: MLMModel) -> None:
        """Record the month that just ended."""
        pop = model.pop
        f = model._month_flow
        units = model.scenario.units
        month = model.month
        row: dict[str, float] = {"month": month}
        pay = model.last_pay if month > 0 else None
        for k in self.components:
            row[f"paid_{k}"] = float(pay.components[k].sum()) if pay is not None else 0.0
        row["paid_recruiting"] = sum(
            row[f"paid_{k}"] for k in self.components if k in RECRUITMENT_COMPONENTS
        )
        ever = model.ever_ids
        # Recruits only: founders (and spontaneous joiners) were not brought in by anyone.
        recent = ever[(pop.join_month[ever] > month - EARLY_MONTHS) & (pop.enroller[ever] >= 0)]
        pv_new = float(pop.pv[recent].sum()) if month > 0 else 0.0
        row["bv"] = f["bv"]
        row["bv_new_recruits"] = pv_new * units.bv_per_pv
        row["customer_pv"] = f["customer_pv"]
        row["kits_revenue"] = f["kits"]
        row["new_recruit_purchases"] = pv_new * units.usd_per_pv
        row["reachable_per_active"] = _mean_reachable(model)
        self.rows.append(row)
        # Ranks are paid before quitting, so this month's quitters still hold theirs.
        held = np.concatenate((model.active_ids(), model.quit_this_month))
        self.last_rank[held] = pop.rank[held]
        np.maximum.at(self.highest_rank, held, pop.rank[held])

    def frame(self) -> pd.DataFrame:
        """The recorded months as a table."""
        return pd.DataFrame(self.rows)


def _mean_reachable(model: MLMModel) -> float:
    active = model.active_ids()
    if model.network is None or not active.size:
        return float("nan")
    return float(reachable_at_end(model, active).mean())


def reachable_at_end(model: MLMModel, rows: np.ndarray) -> np.ndarray:
    """Still-reachable prospects of ``rows`` as of the month after the last one simulated."""
    if model.network is None:
        return np.full(rows.size, np.nan)
    pop = model.pop
    return reachable_prospects(
        model.network.indptr,
        model.network.indices,
        pop.status,
        pop.refused_until,
        model.month + 1,
        rows=rows,
        open_status=(Status.PROSPECT, Status.CUSTOMER),
    ).astype(np.float64)


def run_scenario(
    scenario: Scenario,
    *,
    scenario_path: Path | None = None,
    out: Path | None = None,
    results_root: Path = Path("results"),
    figures: bool = True,
    progress: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario`` and write its results folder.

    Files: the monthly, per-level and per-distributor tables, ``monthly_extra.csv``, the
    analysis tables of :mod:`simulation.report` (income disclosure statement, concentration,
    saturation by level, survival, ``analysis.json``), ``summary.json``; with ``figures``
    also the PNG figures and ``report.html``; ``manifest.json`` last. ``overrides`` (the
    ``section.key=value`` changes made to the scenario file) go into the manifest and the
    folder's name; ``provenance`` (e.g. ``repeated_from``) into the manifest.

    Returns:
        ``{"run_dir": Path, "summary": dict, "model": MLMModel, "timings": dict}``.
    """
    timings: dict[str, float] = {}
    if out is not None and (Path(out) / "manifest.json").exists():
        # Checked before simulating: nothing already written is overwritten, no time wasted.
        raise UserError(f"{out} already holds a finished run; choose another --out")
    t = time.perf_counter()
    model = MLMModel(scenario=scenario, **(model_kwargs or {}))
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    months = scenario.scenario.months
    extras = MonthlyExtras(model)
    extras(model)  # month 0: the founders
    if progress:
        from tqdm import tqdm

        with tqdm(total=months, unit="month", desc=scenario.scenario.name, leave=False) as bar:

            def tick(_m: int) -> None:
                extras(model)
                bar.update(1)

            model.run(progress=tick)
    else:
        model.run(progress=lambda _m: extras(model))
    timings["simulate"] = time.perf_counter() - t
    timings.update({f"phase_{k}": v for k, v in model.phase_seconds.items()})
    t = time.perf_counter()
    run_dir = (
        Path(out)
        if out is not None
        else results.new_run_dir(results_root, scenario.scenario.name, model.seed, overrides)
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    monthly = results.monthly_table(model)
    levels = results.level_table(model)
    dist = results.distributor_columns(model)
    dist["reachable_prospects"] = reachable_at_end(model, dist["id"])
    dist["rank_last_held"] = extras.last_rank[dist["id"]]
    dist["rank_highest"] = extras.highest_rank[dist["id"]]
    extra = extras.frame()
    files = ["monthly.csv", "levels.csv", "distributors.parquet", report.MONTHLY_EXTRA]
    results.write_csv(monthly, run_dir / "monthly.csv")
    results.write_csv(levels, run_dir / "levels.csv")
    results.write_parquet(dist, run_dir / "distributors.parquet")
    results.write_csv(extra, run_dir / report.MONTHLY_EXTRA)
    summary = summarise(model, monthly, dist)
    results.write_json(summary, run_dir / "summary.json")
    files.append("summary.json")
    timings["write_tables"] = time.perf_counter() - t
    t = time.perf_counter()
    manifest = results.build_manifest(model, scenario_path, timings, files, summary)
    manifest["overrides"] = list(overrides or [])
    manifest.update(provenance or {})
    run = report.RunData(run_dir, manifest, monthly, levels, pd.DataFrame(dist), extra)
    analysis = report.analyse(run)
    files += report.write_tables(run_dir, analysis)
    timings["analysis"] = time.perf_counter() - t
    if figures:
        t = time.perf_counter()
        from simulation import figures as fig

        pngs = report.render_figures(run, analysis)
        paths = fig.write_run_figures(run_dir, monthly, levels, run.dist, pngs=pngs)
        files += [str(p.relative_to(run_dir)) for p in paths]
        timings["figures"] = time.perf_counter() - t
        t = time.perf_counter()
        report.write_report(run_dir / report.REPORT_FILE, run, analysis, pngs)
        files.append(report.REPORT_FILE)
        timings["report"] = time.perf_counter() - t
    manifest["timings_s"] = timings
    manifest["files"] = files
    results.write_json(manifest, run_dir / "manifest.json")
    return {"run_dir": run_dir, "summary": summary, "model": model, "timings": timings}
