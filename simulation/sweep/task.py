"""One run of a sweep (top-level and picklable: process pools and Dask workers call it)."""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import outcomes, results
from simulation.config import (
    apply_values,
    check_live,
    scenario_from_dict,
)
from simulation.plans import plan_from_dict
from simulation.plans.engine import with_changes

# --------------------------------------------------------------------------------------------
# one run (top-level and picklable: process pools and Dask workers call it)


def simulate(task: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build and run one task's model; return its monthly table and outcomes.

    The run is the model's own ``run()``; shocks are scheduled changes of the model
    (:meth:`MLMModel.schedule_change`, refused for parameters read only at the start), and
    the outcomes are :func:`simulation.outcomes.sweep_outcomes` of the model's tables, so a
    sweep run and ``mlmsim run`` of the same scenario and seed agree exactly.
    """
    if task.get("market") is not None:
        return simulate_market(task)
    model = build_model(task)
    for s in task["shocks"]:
        for key, value in s["set"].items():
            model.schedule_change(int(s["month"]), key, value)
    model.run()
    run = results.run_data(model)
    return run.monthly, outcomes.sweep_outcomes(run)


def build_model(task: dict[str, Any]) -> Any:
    """The model of one task (not run): scenario data with the task's values, plan, seed.

    ``task`` holds ``"scenario"`` (resolved scenario data), ``"plan"`` (``{"path", "data"}``),
    ``"values"`` (``{"section.key": value}``), ``"seed"``, ``"run_id"`` and ``"label"``.
    Returns an ``MLMModel`` (built with ``agents=False``).
    """
    # mesa (through the model): 0.9 s at every CLI start; only the runs need it.
    from simulation.model import MLMModel  # noqa: PLC0415

    src = f"run {task['run_id']} ({task['label'] or 'base'})"
    values = dict(task["values"])
    plan_info = task["plan"]
    if "plan.file" in values:
        values["plan.file"] = plan_info["path"]
    values["scenario.seed"] = task["seed"]
    scenario = scenario_from_dict(apply_values(task["scenario"], values, src), src)
    data = with_changes(plan_info["data"], scenario.plan.set, plan_info["path"])
    plan = plan_from_dict(data, source=plan_info["path"])
    return MLMModel(scenario=scenario, plan=plan, agents=False)


def simulate_market(task: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build and run one task's market; return its stacked monthly rows and outcomes.

    The market is the market scenario's data with the task's values, read as ``mlmsim run``
    reads a market scenario with ``--set`` (:func:`simulation.market.market_from_dict`), so a
    sweep run and ``mlmsim run MARKET --set KEY=VALUE --set scenario.seed=SEED`` agree
    exactly. Monthly rows: every company's monthly table with a ``company`` column, months
    on the market's clock; outcomes: :func:`simulation.market_run.market_outcomes`.
    """
    # mesa (through the market): only the runs need it.
    from simulation.market import Market, apply_market_values, market_from_dict  # noqa: PLC0415
    from simulation.market_run import market_outcomes, stack  # noqa: PLC0415

    src = f"run {task['run_id']} ({task['label'] or 'base'})"
    base = task["market"]  # a MarketBase (simulation.sweep.spec)
    values = {**task["market_values"], "scenario.seed": task["seed"]}
    spec = market_from_dict(apply_market_values(base.data, values, src), Path(base.path))
    market = Market(spec)
    run_market(market, task["shocks"])
    return stack(market), market_outcomes(market)


def run_market(market: Any, shocks: list[dict[str, Any]]) -> None:
    """Run ``market`` to its horizon with ``shocks`` (``[{"month", "set"}]``).

    A shock changes the shared scenario from its month on (the market's clock): every company
    gets it except in a key the company sets itself (its ``set``), as the shared values at
    the start. A company launched later starts with the shocks already due; the others get
    them as scheduled changes (:meth:`MLMModel.schedule_change`, which refuses parameters
    read only at the start).
    """
    shocks = sorted(shocks, key=lambda s: int(s["month"]))

    def changes(c: Any, s: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in s["set"].items() if k not in c.spec.set}

    for c in market.companies:
        if c.model is None:
            for s in shocks:
                if s["month"] <= c.spec.launch_month:
                    for key, value in changes(c, s).items():
                        check_live(key, value, f"shock at month {s['month']}")
                        section, _, name = key.partition(".")
                        setattr(getattr(c.scenario, section), name, value)
    scheduled: set[int] = set()

    def schedule() -> None:
        for c in market.launched():
            if c.index in scheduled:
                continue
            scheduled.add(c.index)
            for s in shocks:
                month = int(s["month"]) - c.spec.launch_month
                if month >= 1:
                    for key, value in changes(c, s).items():
                        c.model.schedule_change(month, key, value)

    schedule()
    for _ in range(market.spec.base.scenario.months):
        market.step()
        schedule()


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task; never raises for a run's own error (it is recorded in the result).

    Returns:
        ``{"run_id", "point", "replicate", "seed", "label", "values", "status" ("ok" or
        "error"), "error", "traceback", "summary", "monthly" (DataFrame), "elapsed_s",
        "worker"}``.
    """
    t0 = time.perf_counter()
    out = {k: task[k] for k in ("run_id", "point", "replicate", "seed", "label", "values")}
    out.update(status="ok", error=None, traceback=None, summary=None, monthly=None)
    try:
        monthly, summary = simulate(task)
    except Exception as err:
        out.update(
            status="error",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=-8),
        )
    else:
        out.update(summary=_clean(summary), monthly=monthly)
    out["elapsed_s"] = time.perf_counter() - t0
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values: numpy scalars to Python, NaN to None."""
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out
