"""Running a sweep (the driver): claim the folder, run what is missing, merge, report."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from simulation import codebook, results, safepath
from simulation.sweep.executors import (
    check_workers,
    executor_label,
    run_dask,
    run_inprocess,
    run_pool,
)
from simulation.sweep.spec import (
    DESIGN_FILE,
    MANIFEST_FILE,
    MONTHLY_FILE,
    RUNS_DIR,
    RUNS_FILE,
    SPEC_FILE,
    Sweep,
)
from simulation.sweep.store import check_sweep_folder, claim_folder, merge, read_run, write_run

# --------------------------------------------------------------------------------------------
# running a sweep


@dataclass
class SweepResult:
    """What :func:`run_sweep` did."""

    out: Path
    total: int
    ok: int
    failed: int
    ran: int
    skipped: int
    lost: int
    wall_s: float
    executor: str
    runs: pd.DataFrame
    files: list[str]


Step = Callable[[Path, Sweep, pd.DataFrame], list[str]]


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    report: bool = True,
    retry_failed: bool = False,
    steps: list[Step] | None = None,
) -> SweepResult:
    """Run (or resume) ``sweep`` into ``out``; see the module docstring for the files.

    Args:
        sweep: the resolved sweep (:func:`load_sweep`, or built by ``simulation.stress``).
        out: the output folder; a folder holding part of the same sweep is resumed.
        workers: local processes (default: every core); 1 runs in this process.
        scheduler: a Dask scheduler address; runs go to that cluster instead.
        progress: show a progress bar (runs done, failed, time left) on stderr.
        report: write the aggregate tables, figures and ``report.html``.
        retry_failed: run again the runs recorded with an error.
        steps: extra analyses ``step(out, sweep, runs) -> files`` run after the merge,
            before the report and the manifest (sensitivity, stress tables).
    """
    t_start = time.perf_counter()
    workers = check_workers(workers, scheduler)
    # Checked, created and locked before anything runs; temporary files of a killed
    # earlier sweep are removed (safepath.locked_folder).
    with safepath.locked_folder(out, check=check_sweep_folder) as out:
        safepath.make_folder(out / RUNS_DIR, root=out)
        spec = claim_folder(out, sweep)
        (out / MANIFEST_FILE).unlink(missing_ok=True)
        tasks = sweep.tasks()
        done = {t["run_id"]: read_run(out, t["run_id"]) for t in tasks}
        failed_before = sum(1 for r in done.values() if r and r["status"] == "error")
        todo = [
            t
            for t in tasks
            if done[t["run_id"]] is None
            or (retry_failed and done[t["run_id"]]["status"] == "error")
        ]
        skipped = len(tasks) - len(todo)
        counts = {"ok": 0, "failed": 0 if retry_failed else failed_before}
        elapsed: list[float] = []
        executor = executor_label(scheduler, workers, len(todo))
        bar = tqdm(
            total=len(tasks),
            initial=skipped,
            unit="run",
            desc=sweep.name,
            disable=not progress,
            dynamic_ncols=True,
        )
        bar.set_postfix(failed=counts["failed"])

        def on_result(res: dict[str, Any]) -> None:
            write_run(out, res)
            elapsed.append(res["elapsed_s"])
            counts["ok" if res["status"] == "ok" else "failed"] += 1
            bar.set_postfix(failed=counts["failed"], refresh=False)
            bar.update(1)

        t_runs = time.perf_counter()
        try:
            if scheduler:
                lost = run_dask(todo, scheduler, on_result)
            elif executor == "in-process":
                lost = run_inprocess(todo, on_result)
            else:
                lost = run_pool(todo, min(workers, len(todo)), on_result)
        finally:
            bar.close()
        runs_s = time.perf_counter() - t_runs
        runs, missing = merge(out, sweep)
        ok = int((runs["status"] == "ok").sum())
        failed = int((runs["status"] == "error").sum())
        files = [SPEC_FILE, DESIGN_FILE, RUNS_FILE, MONTHLY_FILE, f"{RUNS_DIR}/"]
        result = SweepResult(
            out,
            len(tasks),
            ok,
            failed,
            len(todo) - lost,
            skipped,
            missing,
            0.0,
            executor,
            runs,
            files,
        )
        if missing:
            result.wall_s = time.perf_counter() - t_start
            return result  # no manifest: the folder is an unfinished sweep; rerun to resume
        for step in steps or []:
            files += step(out, sweep, runs)
        if report:
            # matplotlib: 0.7 s at every CLI start, only for the report.
            from simulation import sweep_report  # noqa: PLC0415

            files += sweep_report.write_report(out)
        # The data dictionary of the tables written above (docs/codebook.md).
        files.append(codebook.write_columns(out, codebook.SWEEP_TABLES, codebook.SWEEP))
        result.wall_s = time.perf_counter() - t_start
        manifest = {
            "sweep": spec,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": results.versions(),
            "git_commit": results.git_commit(),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "executor": executor,
            "runs": {
                "total": len(tasks),
                "ok": ok,
                "failed": failed,
                "ran_now": len(todo),
                "skipped_as_done": skipped,
            },
            "timings_s": {
                "wall": result.wall_s,
                "runs": runs_s,
                "runs_per_minute": 60 * len(todo) / runs_s if runs_s > 0 and todo else None,
                "mean_run": float(np.mean(elapsed)) if elapsed else None,
            },
            "files": files,
        }
        results.write_json(manifest, out / MANIFEST_FILE)
        result.files = [*files, MANIFEST_FILE]
        return result
