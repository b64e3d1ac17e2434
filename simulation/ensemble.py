"""Ensembles: one scenario run with many seeds (and posterior draws), summarised as intervals.

``mlmsim run SCENARIO --seeds N`` runs the scenario N times. The seed of run ``r`` is the
sweep's seed of replicate ``r`` (:func:`simulation.sweep.spec.replicate_seed`, common
seeding) under the scenario's seed: ``SeedSequence(seed, spawn_key=(0, r))``, 63 bits. With
``--posterior`` (a calibrated scenario, :mod:`simulation.posterior`) there are M posterior
draws (``--draws M``) and N seeds per draw: draw ``d`` takes the parameter values of a sample
row chosen from the scenario's seed and ``d`` alone, and its runs have the sweep's
independent seeds ``SeedSequence(seed, spawn_key=(1, d, r))``. Nothing depends on the number
of workers or the order in which runs finish.

The runs go through the sweep's executors (this process, local processes, a Dask cluster);
workers only compute and send each run's tables back, and this process writes everything::

    OUT/runs/seed-<s>/ (or runs/draw-<d>-seed-<s>/)  each run's folder, as `mlmsim run
                        --no-figures` writes it (its manifest says where it sits)
    OUT/ensemble.csv    one row per run: name, draw, replicate, seed, sample row, drawn
                        values, every outcome of simulation.outcomes.OUTCOMES
    OUT/intervals.csv   per outcome: runs with a value, median, 5th and 95th percentiles
    OUT/summary.json    the same as data (what the terminal prints)
    OUT/fan.parquet     per month and monthly metric: mean, 5%, 50%, 95% over the runs
    OUT/report.html     the report: cards with intervals, fan charts, one run in detail
    OUT/manifest.json   written last: the seeds, how they were derived, the posterior

Intervals (:mod:`simulation.intervals`) are ``numpy.percentile`` with its default linear
interpolation over the runs that have a value (an outcome such as the month recruiting fell
below half its peak is missing in a run where it never did; the count says how many runs
stand behind it).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from simulation import codebook, outcomes, results, safepath
from simulation.config import Scenario, apply_values, scenario_from_dict
from simulation.errors import ConfigError, UserError
from simulation.intervals import PERCENTILES, bands, interval_table
from simulation.outcomes import RunData
from simulation.plans import Plan, plan_from_dict
from simulation.posterior import Posterior
from simulation.runner import write_run_folder
from simulation.sweep.executors import (
    check_workers,
    executor_label,
    run_dask,
    run_inprocess,
    run_pool,
)
from simulation.sweep.spec import replicate_seed

RUNS_DIR = "runs"
RUNS_FILE = "ensemble.csv"
INTERVALS_FILE = "intervals.csv"
SUMMARY_FILE = "summary.json"
FAN_FILE = "fan.parquet"
MANIFEST_FILE = "manifest.json"
SEED_RULE = (
    "run r of N: numpy.random.SeedSequence(scenario seed, spawn_key=(0, r)).generate_state(1, "
    "uint64)[0] >> 1 (a sweep's replicate seeds, common seeding)"
)
POSTERIOR_SEED_RULE = (
    "run r of draw d: numpy.random.SeedSequence(scenario seed, spawn_key=(1, d, r))"
    ".generate_state(1, uint64)[0] >> 1 (a sweep's independent seeds, point = draw)"
)
# assumption: every run keeps its own folder (about ten files, its distributors' table
# included); beyond 100,000 runs a sweep (one summary row per run, no folders) is the tool.
MAX_RUNS = 100_000
# Outcomes that are numbers of a run (OUTCOMES), in their documented order.
OUTCOME_KEYS = tuple(outcomes.OUTCOMES)


@dataclass
class Member:
    """One run of an ensemble.

    Attributes:
        index: position in the ensemble (draw-major: draw 0's seeds first).
        replicate: the seed's index (within its draw).
        seed: the run's master seed.
        draw: the posterior draw, or None without ``--posterior``.
        row: the posterior sample row of the draw (0-based), or None.
        values: the drawn parameter values (``{"section.key": value}``), empty without one.
    """

    index: int
    replicate: int
    seed: int
    draw: int | None = None
    row: int | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's folder under ``runs/``: ``seed-<s>`` or ``draw-<d>-seed-<s>``."""
        return f"seed-{self.seed}" if self.draw is None else f"draw-{self.draw}-seed-{self.seed}"

    def describe(self) -> dict[str, Any]:
        """The member's place in the ensemble (its manifest and ``ensemble.csv``)."""
        return {
            "index": self.index,
            "name": self.name,
            "replicate": self.replicate,
            "seed": self.seed,
            "draw": self.draw,
            "sample_row": self.row,
            "values": dict(self.values),
        }


@dataclass
class Ensemble:
    """A planned ensemble: the base scenario, its plan and every run.

    Attributes:
        scenario: the base scenario as resolved (the file and every ``--set``).
        scenario_path: its file.
        plan: the plan that pays (the same in every run).
        seeds: seeds per parameter set (N).
        posterior: the posterior the draws come from, or None.
        draws: posterior draws (M), 0 without a posterior.
        members: every run, in order.
        overrides: the ``section.key=value`` changes made to the scenario file.
        provenance: added to every manifest (``repeated_from``).
    """

    scenario: Scenario
    scenario_path: Path | None
    plan: Plan
    seeds: int
    posterior: Posterior | None = None
    draws: int = 0
    members: list[Member] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    _scenarios: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def master_seed(self) -> int:
        """The scenario's seed, from which every run's seed and draw derive."""
        return self.scenario.scenario.seed

    def member_data(self, m: Member) -> dict[str, Any]:
        """The resolved scenario of run ``m`` as plain data (drawn values and seed set)."""
        return self._scenarios[m.index]

    def tasks(self) -> list[dict[str, Any]]:
        """One picklable task per run, in order (see :func:`run_member`)."""
        plan = {"data": self.plan.raw, "source": self.plan.source}
        return [
            {"index": m.index, "name": m.name, "scenario": self.member_data(m), "plan": plan}
            for m in self.members
        ]

    def label(self) -> list[str]:
        """What the default folder name adds: ``seeds=N`` (and ``posterior-draws=M``)."""
        shown = [f"seeds={self.seeds}"]
        if self.posterior is not None:
            shown.insert(0, f"posterior-draws={self.draws}")
        return shown


def check_counts(seeds: int, draws: int | None, posterior: bool) -> None:
    """Refuse run counts no ensemble can have (before anything is read or written).

    Raises:
        UserError: ``--seeds`` or ``--draws`` below 1, ``--draws`` without ``--posterior``,
            or more runs than a sweep may hold.
    """
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: need at least 1 run (1 is a single run)")
    if draws is not None and not posterior:
        raise UserError(
            f"--draws {draws}: draws are taken from a posterior; add --posterior (a "
            "calibrated scenario), or use --seeds N for more seeds"
        )
    if draws is not None and draws < 1:
        raise UserError(f"--draws {draws}: need at least 1 posterior draw")
    total = seeds * (draws or 1)
    if total > MAX_RUNS:
        raise UserError(
            f"--seeds {seeds}" + (f" x --draws {draws}" if draws else "") + f" = {total:,} "
            f"runs, more than the limit of {MAX_RUNS:,} (each run keeps its folder; for more "
            "runs, a sweep file keeps one row per run: docs/sweeps.md)"
        )


def plan_ensemble(
    scenario: Scenario,
    plan: Plan,
    *,
    seeds: int,
    scenario_path: Path | None = None,
    posterior: Posterior | None = None,
    draws: int | None = None,
    overrides: list[str] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Ensemble:
    """Every run of an ensemble, each run's scenario validated (nothing is written).

    Args:
        scenario: the base scenario (its seed is the master seed).
        plan: the plan every run pays with.
        seeds: seeds per parameter set.
        scenario_path: the scenario file (for the manifests).
        posterior: draw parameter sets from it (``draws`` of them, default 20).
        draws: posterior draws.
        overrides: ``section.key=value`` changes made to the file (manifest, folder name).
        provenance: added to every manifest.

    Raises:
        UserError: bad counts (:func:`check_counts`), or a drawn value the scenario
            refuses (naming the samples file, its row and the parameter).
    """
    check_counts(seeds, draws, posterior is not None)
    ens = Ensemble(
        scenario=scenario,
        scenario_path=scenario_path,
        plan=plan,
        seeds=seeds,
        posterior=posterior,
        overrides=list(overrides or []),
        provenance=dict(provenance or {}),
    )
    base = scenario.to_dict()
    master = ens.master_seed
    if posterior is None:
        for r in range(seeds):
            ens.members.append(Member(r, r, replicate_seed(master, 0, r, "common")))
    else:
        ens.draws = 20 if draws is None else draws
        for d in range(ens.draws):
            row = posterior.row(d, master)
            values = _typed(posterior.values_at(row), posterior, row)
            for r in range(seeds):
                seed = replicate_seed(master, d, r, "independent")
                ens.members.append(Member(len(ens.members), r, seed, d, row, values))
    checked: dict[int, dict[str, Any]] = {}  # sample row -> validated scenario data
    for m in ens.members:
        if m.row is not None and m.row not in checked:
            checked[m.row] = _drawn_scenario(base, m, posterior)
        data = _sections_copied(checked[m.row] if m.row is not None else base)
        data["scenario"]["seed"] = m.seed
        ens._scenarios[m.index] = data
    return ens


def _sections_copied(data: dict[str, Any]) -> dict[str, Any]:
    """Scenario data with new section dicts (their values shared): a run's seed can be set."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}


def _typed(values: dict[str, float], posterior: Posterior, row: int) -> dict[str, Any]:
    """Drawn values as the scenario's types: a whole number for an integer parameter."""
    out: dict[str, Any] = {}
    for key, v in values.items():
        section, _, name = key.partition(".")
        f = Scenario.model_fields[section].annotation.model_fields[name]
        if f.annotation is int:
            if not float(v).is_integer():
                raise UserError(
                    f"{posterior.samples_file}: data row {row + 1}: {key} = {v!r}: the "
                    "scenario needs a whole number"
                )
            v = int(v)
        out[key] = v
    return out


def _drawn_scenario(base: dict[str, Any], m: Member, posterior: Posterior | None) -> dict:
    """The base scenario with a draw's values, validated strictly (as a scenario file)."""
    assert posterior is not None
    where = f"{posterior.samples_file}: data row {m.row + 1} (posterior draw {m.draw})"
    try:
        data = apply_values(base, m.values, where)
        return scenario_from_dict(data, where, strict=True).to_dict()
    except ConfigError as err:
        raise UserError(f"{err}; the posterior holds a value the scenario refuses") from None


# --------------------------------------------------------------------------------------------
# one run (top-level and picklable: process pools and Dask workers call it)


def run_member(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate one run of an ensemble; return its tables (never raises for the run's error).

    Returns:
        ``{"index", "name", "status" ("ok" or "error"), "error", "traceback", "monthly",
        "levels", "dist" (DataFrames), "timings"}``.
    """
    # mesa (through the model): 0.9 s at every CLI start; only the runs need it.
    from simulation.model import MLMModel  # noqa: PLC0415

    out: dict[str, Any] = {"index": task["index"], "name": task["name"], "status": "ok"}
    out.update(error=None, traceback=None, monthly=None, levels=None, dist=None)
    timings: dict[str, float] = {}
    try:
        t = time.perf_counter()
        scenario = scenario_from_dict(task["scenario"], f"run {task['name']}")
        plan = plan_from_dict(task["plan"]["data"], source=task["plan"]["source"])
        model = MLMModel(scenario=scenario, plan=plan, agents=False)
        timings["build"] = time.perf_counter() - t
        t = time.perf_counter()
        model.run()
        timings["simulate"] = time.perf_counter() - t
        timings.update({f"phase_{k}": v for k, v in model.phase_seconds.items()})
        run = results.run_data(model)
        out.update(monthly=run.monthly, levels=run.levels, dist=run.dist)
    except Exception as err:
        out.update(
            status="error",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=-8),
        )
    out["timings"] = timings
    return out


# --------------------------------------------------------------------------------------------
# intervals


def representative(runs: pd.DataFrame, key: str = "share_net_loss") -> int:
    """The index of the run whose ``key`` is nearest the ensemble's median (first on ties)."""
    v = pd.to_numeric(runs[key], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(v).any():
        return int(runs["index"].iloc[0])
    med = float(np.percentile(v[np.isfinite(v)], 50))
    dist = np.where(np.isfinite(v), np.abs(v - med), np.inf)
    return int(runs["index"].iloc[int(np.argmin(dist))])


# --------------------------------------------------------------------------------------------
# running it


@dataclass
class EnsembleResult:
    """What :func:`run_ensemble` did: the folder, the bands and the runs table."""

    out: Path
    runs: pd.DataFrame
    intervals: pd.DataFrame
    summary: dict[str, Any]
    executor: str
    wall_s: float


class EnsembleRunError(UserError):
    """Some runs failed or were lost: no ensemble summary (exit status 1)."""

    exit_code = 1


def run_ensemble(
    ens: Ensemble,
    *,
    out: Path | None = None,
    results_root: Path = Path("results"),
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    figures: bool = True,
) -> EnsembleResult:
    """Run every member of ``ens`` and write the ensemble folder (see the module doc).

    Args:
        ens: the planned ensemble (:func:`plan_ensemble`).
        out: the folder (default ``results_root/<scenario>/<run-id>``).
        results_root: where default folders go.
        workers: local processes (default every core; 1 runs in this process).
        scheduler: a Dask scheduler address; the runs go to that cluster.
        progress: a progress bar (runs done) on stderr.
        figures: the fan charts and ``report.html``.

    Raises:
        UserError: bad ``workers`` or scheduler address, an unusable folder.
        EnsembleRunError: a run failed or was lost (the folder keeps the runs written, and
            has no manifest).
    """
    t_start = time.perf_counter()
    workers = check_workers(workers, scheduler)
    name = ens.scenario.scenario.name
    labels = [*ens.label(), *ens.overrides]
    if out is not None:
        folder = safepath.locked_folder(out, check=_fresh_folder)
    else:
        folder = results.run_folder(None, results_root, name, ens.master_seed, labels)
    with folder as run_dir:
        runs_dir = safepath.make_folder(run_dir / RUNS_DIR, root=run_dir)
        tasks = ens.tasks()
        rows: dict[int, dict[str, Any]] = {}
        monthly: dict[int, pd.DataFrame] = {}
        failed: list[dict[str, Any]] = []
        elapsed: list[float] = []
        executor = executor_label(scheduler, workers, len(tasks))
        bar = tqdm(total=len(tasks), unit="run", desc=name, disable=not progress, leave=False)

        def on_result(res: dict[str, Any]) -> None:
            bar.update(1)
            if res["status"] != "ok":
                failed.append(res)
                return
            m = ens.members[res["index"]]
            rows[m.index], monthly[m.index] = _write_member(ens, m, res, runs_dir, run_dir)
            elapsed.append(sum(res["timings"].get(k, 0.0) for k in ("build", "simulate")))

        t_runs = time.perf_counter()
        try:
            if scheduler:
                lost = run_dask(tasks, scheduler, on_result, fn=run_member)
            elif executor == "in-process":
                lost = run_inprocess(tasks, on_result, fn=run_member)
            else:
                lost = run_pool(tasks, min(workers, len(tasks)), on_result, fn=run_member)
        finally:
            bar.close()
        runs_s = time.perf_counter() - t_runs
        if failed or lost:
            first = failed[0]["error"] if failed else "a worker was lost"
            raise EnsembleRunError(
                f"{run_dir}: {len(failed)} of {len(tasks)} runs failed and {lost} were lost "
                f"(first: {first}); the runs that finished are in {runs_dir}, no ensemble "
                "summary was written"
            )
        runs = pd.DataFrame([rows[i] for i in sorted(rows)])
        intervals = interval_table(runs, OUTCOME_KEYS)
        summary = {
            "scenario": name,
            "seed": ens.master_seed,
            "runs": len(runs),
            "seeds_per_draw": ens.seeds,
            "posterior_draws": ens.draws if ens.posterior is not None else None,
            "percentiles": list(PERCENTILES),
            "outcomes": bands(intervals, len(runs)),
        }
        files = [RUNS_DIR + "/"]
        results.write_csv(runs, run_dir / RUNS_FILE)
        results.write_csv(intervals, run_dir / INTERVALS_FILE)
        results.write_json(summary, run_dir / SUMMARY_FILE)
        files += [RUNS_FILE, INTERVALS_FILE, SUMMARY_FILE]
        fan = fan_table(ens, monthly)
        results.write_parquet({c: fan[c].to_numpy() for c in fan.columns}, run_dir / FAN_FILE)
        files.append(FAN_FILE)
        timings = {"runs": runs_s, "mean_run": float(np.mean(elapsed))}
        if figures:
            t = time.perf_counter()
            # matplotlib: 0.7 s per process, only for the report.
            from simulation import ensemble_report  # noqa: PLC0415

            files.append(ensemble_report.write_report(run_dir, ens, runs, intervals, fan))
            timings["report"] = time.perf_counter() - t
        files.append(codebook.write_columns(run_dir, codebook.ENSEMBLE_TABLES, codebook.ENSEMBLE))
        wall = time.perf_counter() - t_start
        timings["wall"] = wall
        manifest = {
            "kind": "ensemble",
            "scenario": ens.scenario.to_dict(),
            "scenario_file": str(ens.scenario_path) if ens.scenario_path else None,
            "plan": ens.plan.raw,
            "plan_file": ens.plan.source,
            "seed": ens.master_seed,
            "months": ens.scenario.scenario.months,
            "seeds": {
                "per_draw": ens.seeds,
                "rule": POSTERIOR_SEED_RULE if ens.posterior is not None else SEED_RULE,
                "list": [m.seed for m in ens.members],
            },
            "posterior": ens.posterior.describe() if ens.posterior is not None else None,
            "draws": ens.draws if ens.posterior is not None else None,
            "runs": [m.describe() for m in ens.members],
            "overrides": ens.overrides,
            **ens.provenance,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": results.versions(),
            "git_commit": results.git_commit(),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "executor": executor,
            "timings_s": timings,
            "files": files,
            "summary": summary,
        }
        results.write_json(manifest, run_dir / MANIFEST_FILE)
        return EnsembleResult(run_dir, runs, intervals, summary, executor, wall)


def _fresh_folder(folder: Path) -> None:
    """Refuse an ``--out`` holding a finished run, a sweep or the runs of another ensemble.

    Runs of an unfinished ensemble are not reused or mixed with this one's: its runs would
    sit next to runs the summary does not count.
    """
    if (folder / MANIFEST_FILE).exists():
        raise UserError(f"{folder} already holds a finished run; choose another --out")
    if (folder / "sweep.json").exists():
        raise UserError(f"{folder} holds a sweep; choose another --out")
    if (folder / RUNS_DIR).exists():
        raise UserError(
            f"{folder} holds {RUNS_DIR}/ of an unfinished ensemble; choose another --out, or "
            "delete that folder to start again"
        )


def _write_member(
    ens: Ensemble, m: Member, res: dict[str, Any], runs_dir: Path, run_dir: Path
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Write one finished run's folder; return its ``ensemble.csv`` row and monthly table."""
    folder = safepath.make_folder(runs_dir / m.name, root=run_dir)
    scenario = scenario_from_dict(ens.member_data(m), f"run {m.name}")
    run = RunData(
        scenario=scenario,
        plan=ens.plan,
        seed=m.seed,
        monthly=res["monthly"],
        levels=res["levels"],
        dist=res["dist"],
        run_dir=folder,
    )
    record = {
        "overrides": ens.overrides,
        **ens.provenance,
        "ensemble": {
            **m.describe(),
            "master_seed": ens.master_seed,
            "rule": POSTERIOR_SEED_RULE if ens.posterior is not None else SEED_RULE,
        },
    }
    write_run_folder(folder, run, ens.scenario_path, dict(res["timings"]), False, record)
    row: dict[str, Any] = {
        "index": m.index,
        "name": m.name,
        "draw": m.draw,
        "replicate": m.replicate,
        "seed": m.seed,
        "sample_row": m.row,
    }
    if ens.posterior is not None:
        row.update({k: m.values[k] for k in ens.posterior.parameters})
    row.update({k: v for k, v in outcomes.sweep_outcomes(run).items() if k in OUTCOME_KEYS})
    return row, res["monthly"]


def fan_table(ens: Ensemble, monthly: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """The sweep's fan table over the ensemble's runs (one group: ``ensemble``)."""
    # matplotlib (the sweep report's module): 0.7 s, only once the runs are done.
    from simulation.sweep_report import fan_table as sweep_fan  # noqa: PLC0415

    frames = []
    for i in sorted(monthly):
        frame = monthly[i].copy()
        frame.insert(0, "run_id", ens.members[i].name)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    groups = pd.Series("ensemble", index=[ens.members[i].name for i in sorted(monthly)])
    return sweep_fan(rows, groups)
