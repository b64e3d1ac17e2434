"""Run one scenario end to end: build, simulate, write the results folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import results
from simulation.config import Scenario
from simulation.metrics import gini, months_to_half_peak, top_share
from simulation.model import MLMModel


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


def run_scenario(
    scenario: Scenario,
    *,
    scenario_path: Path | None = None,
    out: Path | None = None,
    results_root: Path = Path("results"),
    figures: bool = True,
    progress: bool = False,
    model_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario`` and write its results folder.

    Returns:
        ``{"run_dir": Path, "summary": dict, "model": MLMModel, "timings": dict}``.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    model = MLMModel(scenario=scenario, **(model_kwargs or {}))
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    months = scenario.scenario.months
    if progress:
        from tqdm import tqdm

        with tqdm(total=months, unit="month", desc=scenario.scenario.name, leave=False) as bar:
            model.run(progress=lambda _m: bar.update(1))
    else:
        model.run()
    timings["simulate"] = time.perf_counter() - t
    timings.update({f"phase_{k}": v for k, v in model.phase_seconds.items()})
    t = time.perf_counter()
    run_dir = (
        Path(out)
        if out is not None
        else results.new_run_dir(results_root, scenario.scenario.name, model.seed)
    )
    if run_dir.exists() and (run_dir / "manifest.json").exists():
        from simulation.errors import UserError

        raise UserError(f"{run_dir} already holds a finished run; choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    monthly = results.monthly_table(model)
    levels = results.level_table(model)
    dist = results.distributor_columns(model)
    files = ["monthly.csv", "levels.csv", "distributors.parquet"]
    results.write_csv(monthly, run_dir / "monthly.csv")
    results.write_csv(levels, run_dir / "levels.csv")
    results.write_parquet(dist, run_dir / "distributors.parquet")
    summary = summarise(model, monthly, dist)
    results.write_json(summary, run_dir / "summary.json")
    files.append("summary.json")
    timings["write_tables"] = time.perf_counter() - t
    if figures:
        t = time.perf_counter()
        from simulation import figures as fig

        frame = pd.DataFrame({k: dist[k] for k in ("level", "net_income", "commissions")})
        paths = fig.write_run_figures(run_dir, monthly, levels, frame)
        files += [str(p.relative_to(run_dir)) for p in paths]
        timings["figures"] = time.perf_counter() - t
    results.write_manifest(run_dir, model, scenario_path, timings, files, summary)
    return {"run_dir": run_dir, "summary": summary, "model": model, "timings": timings}
