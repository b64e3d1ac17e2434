"""``mlmsim sweep``: the command line."""

from __future__ import annotations

import argparse
from typing import Any

from simulation import safepath
from simulation.errors import ConfigError
from simulation.safepath import path_arg
from simulation.sweep.driver import SweepResult, run_sweep
from simulation.sweep.spec import DEFAULT_ROOT, load_sweep

# --------------------------------------------------------------------------------------------
# the command line


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``mlmsim sweep`` and ``mlmsim stress``."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: every core; 1 runs in this process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need mlmsim "
        "installed; results come back here, no shared disk needed)",
    )
    parser.add_argument("--out", type=path_arg, default=None, help="output folder")
    parser.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded with an error"
    )
    parser.add_argument("--no-report", action="store_true", help="skip the figures and report.html")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_battery_options(parser: argparse.ArgumentParser, per: str, set_help: str) -> None:
    """Options of a battery over common seeds (``mlmsim stress``, ``mlmsim policy``).

    ``--seeds`` (per ``per``: future, policy), ``--master-seed``, ``--set`` (``set_help``)
    and the executor options (:func:`add_executor_options`); check them with
    :func:`check_battery_seeds`.
    """
    parser.add_argument("--seeds", type=int, default=20, help=f"seeds per {per} (default 20)")
    parser.add_argument(
        "--master-seed", type=int, default=0, help="the seeds derive from it (default 0)"
    )
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )
    add_executor_options(parser)


def check_battery_seeds(args: argparse.Namespace) -> None:
    """Refuse ``--seeds`` below 1 and a negative ``--master-seed`` (exit 2)."""
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}: need at least 1")
    if args.master_seed < 0:
        raise ConfigError(f"--master-seed {args.master_seed}: need 0 or more")


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`run_sweep` that :func:`add_executor_options` reads."""
    return {
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.quiet,
        "report": not args.no_report,
        "retry_failed": args.retry_failed,
    }


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim sweep SWEEP.toml [--workers N] [--scheduler ADDRESS] [--out DIR]``."""
    parser.add_argument("sweep", help="sweep file (TOML) or a shipped sweep's name")
    add_executor_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the design and the run count, run nothing"
    )


def print_result(res: SweepResult) -> None:
    """The terminal summary of a sweep."""
    print(
        f"\n  {res.total} runs: {res.ok} ok, {res.failed} failed"
        + (f", {res.lost} not finished" if res.lost else "")
        + f" ({res.ran} run now, {res.skipped} already done); {res.wall_s:.1f} s, "
        f"{res.executor}"
    )
    errors = res.runs[res.runs["status"] == "error"]
    for _, row in errors.head(5).iterrows():
        print(f"  failed {row['run_id']} [{row['label']}]: {str(row['error']).splitlines()[0]}")
    if len(errors) > 5:
        print(f"  ... and {len(errors) - 5} more (runs.parquet: status, error)")
    if res.lost:
        print("  some runs did not finish (a worker was lost); run the same command to resume")
    print(f"\n  results: {res.out}")


def run(args: argparse.Namespace) -> int:
    """``mlmsim sweep``: run or resume a sweep, print a summary."""
    sweep = load_sweep(args.sweep)
    if args.dry_run:
        tasks = sweep.tasks()
        print(
            f"{sweep.name}: design {sweep.design}, {len(sweep.points)} points x "
            f"{sweep.replicates} replicates = {len(tasks)} runs"
        )
        for i, p in enumerate(sweep.points[:20]):
            print(f"  {i:>4}  {p.label}")
        if len(sweep.points) > 20:
            print(f"  ... {len(sweep.points) - 20} more")
        return 0
    out = args.out if args.out is not None else DEFAULT_ROOT / safepath.safe_name(sweep.name)
    steps = []
    if sweep.sensitivity is not None:
        from simulation import sensitivity  # noqa: PLC0415 - SALib, matplotlib: see expand()

        steps.append(sensitivity.step)
    res = run_sweep(sweep, out, steps=steps, **executor_options(args))
    print_result(res)
    return 1 if res.lost else 0
