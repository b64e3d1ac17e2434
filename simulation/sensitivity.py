"""Global sensitivity of sweep outcomes to parameters, through SALib (Morris and Sobol).

A sweep file with ``design = "morris"`` or ``"sobol"``, ranges under ``[parameters]`` and a
``[sensitivity]`` section runs like any sweep (in parallel, resumable, on Dask); this module
draws the design and, once the runs are merged, computes the indices.

* Morris (elementary effects; Morris 1991, Campolongo et al. 2007): ``samples`` trajectories
  of D + 1 points on a ``levels``-level grid. ``mu_star`` is the mean absolute change of the
  outcome when one parameter moves one step of the grid (outcome units), ``sigma`` the spread
  of those changes (non-linearity or interactions). A cheap screening: which parameters
  matter at all.
* Sobol (variance decomposition; Saltelli 2002, 2010): ``samples`` = N base samples (a power
  of two), N x (D + 2) points (N x (2D + 2) with second order). ``S1`` is the share of the
  outcome's variance due to a parameter alone, ``ST`` including all its interactions.

Designs are drawn in the unit cube, each parameter spread over its range (evenly in log
space for ``log = true``; rounded for integer parameters), so the indices refer to the ranges
as written. The outcome of a point is the mean over its replicates (seeds); with one
replicate the seed's noise enters the indices as if it were a parameter effect. Intervals are
SALib's bootstrap intervals (``conf_level`` 95%).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from simulation import results
from simulation.sweep_report import figure_png

if TYPE_CHECKING:
    from simulation.sweep import SensitivitySpec, Sweep

CSV_FILE = "sensitivity.csv"
PNG_FILE = "figures/sensitivity.png"
CONF_LEVEL = 0.95


def problem(names: list[str]) -> dict[str, Any]:
    """A SALib problem over the unit cube, one dimension per parameter."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def sample_unit(
    method: str,
    names: list[str],
    n: int,
    spec: SensitivitySpec | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The design in the unit cube: ``float64[points, len(names)]``.

    Args:
        method: ``"morris"`` (``n`` trajectories) or ``"sobol"`` (``n`` base samples).
        names: parameter keys (``section.key``).
        n: trajectories or base samples.
        spec: the ``[sensitivity]`` settings (levels, second order).
        rng: the sweep's design stream (from its master seed).
    """
    seed = int(rng.integers(0, 2**31 - 1))
    levels = spec.levels if spec is not None else 4
    second = spec.second_order if spec is not None else False
    if method == "morris":
        return morris_sample.sample(problem(names), N=n, num_levels=levels, seed=seed)
    if method == "sobol":
        return sobol_sample.sample(problem(names), N=n, calc_second_order=second, seed=seed)
    raise ValueError(f"unknown sensitivity method {method!r} (morris, sobol)")


def point_outcomes(design: pd.DataFrame, runs: pd.DataFrame, outcome: str) -> np.ndarray:
    """Mean of ``outcome`` over each point's replicates, ``float64[points]`` (NaN if none)."""
    values = runs.set_index("run_id")[outcome].astype(np.float64)
    ok = runs.set_index("run_id")["status"] == "ok"
    d = design[["point", "run_id"]].copy()
    d["y"] = d["run_id"].map(values.where(ok))
    means = d.groupby("point", sort=True)["y"].mean()  # NaN only if every replicate is NaN
    incomplete = d.groupby("point", sort=True)["y"].apply(lambda s: s.isna().any())
    return np.where(incomplete.to_numpy(), np.nan, means.to_numpy())


def analyse(
    method: str,
    names: list[str],
    unit: np.ndarray,
    y: np.ndarray,
    spec: SensitivitySpec,
    seed: int,
) -> pd.DataFrame:
    """Indices of one outcome: one row per parameter.

    Returns:
        Morris: ``parameter, mu_star, mu_star_conf, sigma, mu``; Sobol: ``parameter, S1,
        S1_conf, ST, ST_conf`` (confidence half-widths at :data:`CONF_LEVEL`).
    """
    prob = problem(names)
    if method == "morris":
        res = morris_analyze.analyze(
            prob,
            unit,
            y,
            num_levels=spec.levels,
            num_resamples=spec.resamples,
            conf_level=CONF_LEVEL,
            seed=seed,
        )
        cols = ("mu_star", "mu_star_conf", "sigma", "mu")
    else:
        res = sobol_analyze.analyze(
            prob,
            y,
            calc_second_order=spec.second_order,
            num_resamples=spec.resamples,
            conf_level=CONF_LEVEL,
            seed=seed,
        )
        cols = ("S1", "S1_conf", "ST", "ST_conf")
    table = pd.DataFrame({"parameter": names})
    for c in cols:
        table[c] = np.asarray(res[c], dtype=np.float64)
    return table


def sensitivity_table(sweep: Sweep, design: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Indices of every outcome named in the sweep's ``[sensitivity]`` section (long table).

    An outcome with a missing value at any point (a failed run, or an outcome undefined in a
    run, such as a payout ratio without revenue) cannot be analysed: its rows hold NaN and
    ``note`` says why.
    """
    spec = sweep.sensitivity
    assert spec is not None
    names = [p.key for p in sweep.params.values() if p.is_range]
    unit = np.array([p.unit for p in sweep.points], dtype=np.float64)
    tables = []
    for i, outcome in enumerate(spec.outcomes):
        y = point_outcomes(design, runs, outcome) if outcome in runs else np.full(len(unit), np.nan)
        bad = int(np.isnan(y).sum())
        if bad:
            t = pd.DataFrame({"parameter": names})
            t["note"] = f"{bad} of {y.size} points without a value (failed runs or undefined)"
        elif np.ptp(y) == 0:
            t = pd.DataFrame({"parameter": names})
            t["note"] = "the outcome is the same at every point"
        else:
            t = analyse(sweep.design, names, unit, y, spec, seed=sweep.master_seed + i)
            t["note"] = ""
        t.insert(0, "outcome", outcome)
        t.insert(1, "method", sweep.design)
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    rest = [c for c in table.columns if c != "note"]
    return table[[*rest, "note"]]


def sensitivity_figure(table: pd.DataFrame):
    """One panel per outcome: Morris mu* (bars, CI whiskers) and sigma (dots), or Sobol S1/ST."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    method = table["method"].iloc[0]
    ncols = min(3, len(outcomes))
    nrows = -(-len(outcomes) // ncols)
    names = list(dict.fromkeys(table["parameter"]))
    h = 0.9 + 0.45 * len(names)
    fig = Figure(figsize=(5.6 * ncols, h * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    ypos = np.arange(len(names))
    for ax, outcome in zip(axes, outcomes, strict=False):
        t = table[table["outcome"] == outcome].set_index("parameter").reindex(names)
        ax.set_title(outcome.replace("_", " "), fontsize=12)
        ax.set_yticks(ypos, [n.partition(".")[2] or n for n in names], fontsize=10)
        ax.invert_yaxis()
        ax.spines[["top", "right"]].set_visible(False)
        if t["note"].astype(str).str.len().gt(0).all():
            ax.text(
                0.5,
                0.5,
                str(t["note"].iloc[0]),
                ha="center",
                va="center",
                wrap=True,
                transform=ax.transAxes,
                fontsize=9,
                color="#555",
            )
            continue
        if method == "morris":
            ax.barh(
                ypos,
                t["mu_star"],
                xerr=t["mu_star_conf"],
                color="#2166ac",
                alpha=0.85,
                label="mu* (mean |effect|)",
            )
            ax.scatter(t["sigma"], ypos, color="#d6604d", zorder=3, label="sigma (spread)")
        else:
            ax.barh(
                ypos - 0.2,
                t["S1"],
                height=0.38,
                xerr=t["S1_conf"],
                color="#2166ac",
                label="S1 (alone)",
            )
            ax.barh(
                ypos + 0.2,
                t["ST"],
                height=0.38,
                xerr=t["ST_conf"],
                color="#d6604d",
                label="ST (with interactions)",
            )
            ax.axvline(0, color="black", linewidth=0.8)
        ax.tick_params(axis="x", labelsize=9)
    for ax in axes[len(outcomes) :]:
        ax.set_visible(False)
    handles, labels = next(
        (a.get_legend_handles_labels() for a in axes if a.get_legend_handles_labels()[0]),
        ([], []),
    )
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False)
    return fig


def step(out: Path, sweep: Sweep, runs: pd.DataFrame) -> list[str]:
    """Sweep step: write ``sensitivity.csv`` and ``figures/sensitivity.png``.

    The design (which run id belongs to which point) comes from the sweep itself; it is the
    same table the sweep wrote to its folder as ``design.parquet``.
    """
    design = pd.DataFrame(sweep.design_rows(), columns=["point", "run_id"])
    table = sensitivity_table(sweep, design, runs)
    results.write_csv(table, out / CSV_FILE)
    png = figure_png(sensitivity_figure(table))
    results.atomic_write(out / PNG_FILE, lambda p: p.write_bytes(png))
    return [CSV_FILE, PNG_FILE]
