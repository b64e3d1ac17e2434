"""Experiments at scale: parameter sweeps and Monte Carlo over a base scenario.

A sweep file (TOML, ``scenarios/sweeps/*.toml``; format in ``docs/sweeps.md``) names a base
scenario, the parameters to vary and how (a grid, random or Latin hypercube samples over
ranges, lists of values or plan files; Morris or Sobol designs for :mod:`simulation.sensitivity`)
and the number of seeds per point. ``mlmsim sweep FILE`` runs it on all local cores, in this
process (``--workers 1``) or on a Dask cluster (``--scheduler ADDRESS``) and writes::

    OUT/sweep.json         the resolved sweep and its fingerprint (written first)
    OUT/design.parquet     one row per (point, replicate): run id, seed, parameter values
    OUT/runs/<id>.parquet  one run's monthly rows        } written atomically as each run
    OUT/runs/<id>.json     its summary row, status, error } finishes (the json last)
    OUT/runs.parquet       one row per run, sorted by run id
    OUT/monthly.parquet    one row per run x month, sorted by run id and month
    OUT/fan.parquet, figures/*.png, report.html (see simulation.sweep_report)
    OUT/manifest.json      written last: a folder without it is an unfinished sweep

Reproducibility. Every random number of a run flows from its seed, and every seed from the
sweep's master seed through ``numpy.random.SeedSequence(master_seed, spawn_key=...)`` keyed by
the replicate index (``seeding = "common"``: replicate r of every point shares a seed, so
differences between points are not differences in luck) or by (point, replicate)
(``"independent"``), never by the order in which runs execute. A run's id is a hash of its
parameter values, replicate index and seed, so a rerun of the same sweep finds the runs that
finished and redoes only the rest; the merged tables are sorted by run id, so they are the
same bytes whatever the number of workers or the executor.

Executors. Locally a :class:`concurrent.futures.ProcessPoolExecutor` (spawn): it starts
without a scheduler, opens no network port and needs nothing beyond the standard library, which
suits laptops and classroom machines; a Dask ``LocalCluster`` would add a scheduler, nannies
and a dashboard for no gain on one machine. Beyond one machine, ``--scheduler ADDRESS``
connects a ``distributed.Client`` to a running Dask scheduler (a ``LocalCluster``, a SLURM
cluster from ``dask-jobqueue``, ...). In every case workers only compute: the run's monthly
rows and summary travel back to this process, which is the only writer of the output folder,
so workers need no shared file system and no two processes ever write the same file.

The package by concept: :mod:`~simulation.sweep.spec` (the sweep file, its parameters and
design), :mod:`~simulation.sweep.task` (one run, picklable for pools and Dask),
:mod:`~simulation.sweep.store` (the output folder), :mod:`~simulation.sweep.executors`
(in-process, local processes, Dask), :mod:`~simulation.sweep.driver` (running a sweep) and
:mod:`~simulation.sweep.command` (``mlmsim sweep``).
"""

from simulation.sweep.command import (
    add_battery_options,
    add_executor_options,
    check_battery_seeds,
    configure_parser,
    executor_options,
    print_result,
    run,
)
from simulation.sweep.driver import SweepResult, run_sweep
from simulation.sweep.executors import check_scheduler_address, run_dask, run_inprocess, run_pool
from simulation.sweep.spec import (
    DEFAULT_ROOT,
    DESIGN_FILE,
    MANIFEST_FILE,
    MAX_RUNS,
    MONTHLY_FILE,
    OUTCOMES,
    RUNS_DIR,
    RUNS_FILE,
    SPEC_FILE,
    SWEEP_DIR,
    MarketBase,
    Param,
    Point,
    RangeSpec,
    SensitivitySpec,
    ShockSpec,
    Sweep,
    SweepFile,
    SweepMeta,
    design_size,
    expand,
    load_base,
    load_market_base,
    load_sweep,
    market_base,
    read_plan,
    replicate_seed,
    resolve_sweep_path,
    run_id,
)
from simulation.sweep.store import merge, read_run, write_run
from simulation.sweep.task import run_task, simulate

__all__ = [
    "DEFAULT_ROOT",
    "DESIGN_FILE",
    "MANIFEST_FILE",
    "MAX_RUNS",
    "MONTHLY_FILE",
    "OUTCOMES",
    "RUNS_DIR",
    "RUNS_FILE",
    "SPEC_FILE",
    "SWEEP_DIR",
    "MarketBase",
    "Param",
    "Point",
    "RangeSpec",
    "SensitivitySpec",
    "ShockSpec",
    "Sweep",
    "SweepFile",
    "SweepMeta",
    "SweepResult",
    "add_battery_options",
    "add_executor_options",
    "check_battery_seeds",
    "check_scheduler_address",
    "configure_parser",
    "design_size",
    "executor_options",
    "expand",
    "load_base",
    "load_market_base",
    "load_sweep",
    "market_base",
    "merge",
    "print_result",
    "read_plan",
    "read_run",
    "replicate_seed",
    "resolve_sweep_path",
    "run",
    "run_dask",
    "run_id",
    "run_inprocess",
    "run_pool",
    "run_sweep",
    "run_task",
    "simulate",
    "write_run",
]
