"""One simulation of a calibration: parameters and a seed in, target statistics out.

Top-level and picklable: process pools and Dask workers call these. The model is built as a
sweep run builds it (:func:`simulation.sweep.task.build_model`), so a calibrated parameter
set run with ``mlmsim run --set ...`` and the same seed gives the same figures.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulation import outcomes, results
from simulation.calibrate.targets import model_statistics
from simulation.sweep.task import build_model

# Entries of the run's summary that are settings, not outcomes (left out of the report).
SETTINGS = frozenset({"seed", "population", "months", "cap_ratio"})
# The largest seed drawn for a simulation (the model's master seed is any int >= 0).
SEED_MAX = 2**31 - 1


def run_once(
    context: dict[str, Any], values: dict[str, float], seed: int, outcomes_too: bool = False
) -> dict[str, Any]:
    """Run the calibrated scenario with ``values`` and ``seed``; measure the statistics.

    Args:
        context: ``{"scenario": resolved scenario data, "plan": {"path", "data"}, "spec":
            Targets.spec()}``.
        values: ``{"section.key": value}`` for the calibrated parameters.
        seed: the run's master seed.
        outcomes_too: also return the run's outcomes (:func:`outcomes.sweep_outcomes`).

    Returns:
        ``{"stats": {name: float}, "outcomes": {name: float} or None}``.
    """
    model = build_model(
        {
            "scenario": context["scenario"],
            "plan": context["plan"],
            "values": {k: float(v) for k, v in values.items()},
            "seed": int(seed),
            "label": f"calibration seed {seed}",
            "run_id": "calibration",
        }
    )
    model.run()
    run = results.run_data(model)
    names = outcomes.rank_names(run.plan)
    stats = model_statistics(run.dist, run.monthly, names, context["spec"])
    out = None
    if outcomes_too:
        out = {
            k: float(v)
            for k, v in outcomes.sweep_outcomes(run).items()
            if k not in SETTINGS
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        }
    return {"stats": stats, "outcomes": out}


def abc_model(context: dict[str, Any], pars: Any) -> dict[str, float]:
    """The model as pyabc calls it: parameters in, statistics out (seed: numpy global RNG).

    The calibration seeds numpy's global generator for each particle's task from the
    calibration seed, the generation and the particle's index
    (:func:`simulation.calibrate.abc.particle_task`), so the seed drawn here is reproducible.
    """
    seed = int(np.random.randint(0, SEED_MAX))
    return run_once(context, dict(pars), seed)["stats"]


def predictive_task(task: dict[str, Any]) -> dict[str, Any]:
    """A posterior- or prior-predictive run: ``{"index", "values", "seed", "context"}``."""
    res = run_once(task["context"], task["values"], task["seed"], outcomes_too=task["outcomes"])
    return {"index": task["index"], "values": task["values"], "seed": task["seed"], **res}
