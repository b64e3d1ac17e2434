"""Run one scenario end to end: build the model, run it, write the results folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simulation import codebook, outcomes, report, results
from simulation.config import Scenario
from simulation.model import MLMModel


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

    Files: the monthly, per-level and per-distributor tables (the model's own observations),
    the analysis tables of :func:`simulation.outcomes.analyse` (income disclosure statement,
    concentration, saturation by level, survival, ``analysis.json``), ``summary.json``; with
    ``figures`` also the PNG figures and ``report.html``; ``manifest.json`` last.
    ``overrides`` (the ``section.key=value`` changes made to the scenario file) go into the
    manifest and the folder's name; ``provenance`` (e.g. ``repeated_from``) into the manifest.

    The folder is checked and locked before simulating (:func:`results.run_folder`): a
    finished run, a file, a device or a folder another command is writing is refused, so
    nothing already written is overwritten and no time is wasted.

    Returns:
        ``{"run_dir": Path, "summary": dict, "model": MLMModel, "timings": dict}``.
    """
    seed = (model_kwargs or {}).get("seed", scenario.scenario.seed)
    folder = results.run_folder(out, results_root, scenario.scenario.name, seed, overrides)
    record = {"overrides": list(overrides or []), **(provenance or {})}
    with folder as run_dir:
        return _simulate_and_write(
            run_dir, scenario, scenario_path, figures, progress, model_kwargs, record
        )


def _simulate_and_write(
    run_dir: Path,
    scenario: Scenario,
    scenario_path: Path | None,
    figures: bool,
    progress: bool,
    model_kwargs: dict[str, Any] | None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario`` and write its files into the locked ``run_dir``.

    ``record`` (overrides, where the run was repeated from) is added to the manifest.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    model = MLMModel(scenario=scenario, **(model_kwargs or {}))
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    if progress:
        months = scenario.scenario.months
        with tqdm(total=months, unit="month", desc=scenario.scenario.name, leave=False) as bar:
            model.run(progress=lambda _m: bar.update(1))
    else:
        model.run()
    timings["simulate"] = time.perf_counter() - t
    timings.update({f"phase_{k}": v for k, v in model.phase_seconds.items()})
    run = results.run_data(model, run_dir)
    summary = write_run_folder(run_dir, run, scenario_path, timings, figures, record)
    return {"run_dir": run_dir, "summary": summary, "model": model, "timings": timings}


def write_run_folder(
    run_dir: Path,
    run: outcomes.RunData,
    scenario_path: Path | None,
    timings: dict[str, float],
    figures: bool,
    record: dict[str, Any] | None = None,
    *,
    analysis: outcomes.Analysis | None = None,
    pngs: Callable[[], dict[str, bytes]] | None = None,
) -> dict[str, Any]:
    """Write a finished run's files into ``run_dir``; ``manifest.json`` last.

    The one writer of a run folder: ``mlmsim run`` calls it with the model's tables, an
    ensemble (``mlmsim run --seeds N``) with each member's tables sent back by its worker.

    Args:
        run_dir: the (locked) folder.
        run: the run's tables, scenario, plan and seed.
        scenario_path: the scenario file, for the manifest.
        timings: seconds spent so far (build, simulate, phases); this adds its own and
            stores them in the manifest.
        figures: also the PNG figures and ``report.html``.
        record: added to the manifest (overrides, ``repeated_from``, an ensemble member's
            place).
        analysis: the run's :func:`simulation.outcomes.analyse`, when the caller has it.
        pngs: returns the figures drawn elsewhere (a market draws them in another process
            while its companies' tables are written); by default they are drawn here.

    Returns:
        The run's summary (:func:`simulation.outcomes.summarise`).
    """
    t = time.perf_counter()
    files = ["monthly.csv", "levels.csv", "distributors.parquet"]
    results.write_csv(run.monthly, run_dir / "monthly.csv")
    results.write_csv(run.levels, run_dir / "levels.csv")
    results.write_parquet(
        {k: run.dist[k].to_numpy() for k in run.dist.columns}, run_dir / "distributors.parquet"
    )
    timings["write_tables"] = time.perf_counter() - t
    t = time.perf_counter()
    analysis = outcomes.analyse(run) if analysis is None else analysis
    summary = outcomes.summarise(run)
    results.write_json(summary, run_dir / "summary.json")
    files.append("summary.json")
    files += results.write_tables(run_dir, analysis)
    run.manifest = results.build_manifest(run, scenario_path, timings, files, summary)
    run.manifest.update(record or {})
    timings["analysis"] = time.perf_counter() - t
    if figures:
        t = time.perf_counter()
        # matplotlib: 0.7 s per process, not needed by sweep workers or --no-figures runs.
        from simulation import figures as fig  # noqa: PLC0415

        drawn = report.render_figures(run, analysis) if pngs is None else pngs()
        paths = fig.write_run_figures(run_dir, run.monthly, run.levels, run.dist, pngs=drawn)
        files += [str(p.relative_to(run_dir)) for p in paths]
        timings["figures"] = time.perf_counter() - t
        t = time.perf_counter()
        report.write_report(run_dir / report.REPORT_FILE, run, analysis, drawn)
        files.append(report.REPORT_FILE)
        timings["report"] = time.perf_counter() - t
    # The data dictionary of the tables just written (docs/codebook.md), before the manifest.
    files.append(codebook.write_columns(run_dir, codebook.RUN_TABLES))
    manifest = run.manifest
    manifest["timings_s"] = timings
    manifest["files"] = files
    results.write_json(manifest, run_dir / "manifest.json")
    return summary
