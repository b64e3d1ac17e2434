"""The ``mlmsim`` command line.

``mlmsim run [SCENARIO]`` runs a scenario and writes ``results/<scenario>/<run-id>/``;
``mlmsim run --from RUN_DIR`` repeats a run from its manifest; ``mlmsim payout`` pays an
imported genealogy; ``mlmsim schema`` prints the scenario format. Errors in user input print
one message and exit with status 2; a reader that stops early (``mlmsim schema | head``) ends
the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import simulation
from simulation import errors, rerun
from simulation.config import load_scenario, schema
from simulation.errors import Terminated, UserError
from simulation.intervals import band_text, whole
from simulation.safepath import path_arg

DEFAULT_RESULTS = Path("results")

# Subcommands contributed by other modules: name -> (module, help). Each module exposes
# configure_parser(parser) and run(args) -> int.
PLUGINS = {
    "payout": ("simulation.payout", "pay one or more periods of an imported genealogy CSV"),
    "report": ("simulation.report", "write the HTML report of a run folder"),
    "sweep": ("simulation.sweep", "run a parameter sweep (local processes or Dask)"),
    "stress": ("simulation.stress", "stress-test a plan across a battery of futures"),
    "policy": ("simulation.policy", "compare regulators' policies across seeds on a scenario"),
    "app": ("simulation.app_server", "start the classroom web page"),
    "validate": ("simulation.validation", "rerun the validation table"),
    "calibrate": (
        "simulation.calibrate",
        "fit parameters to a published income disclosure statement (ABC-SMC)",
    ),
}


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a scenario and write its results folder")
    p.add_argument(
        "scenario",
        nargs="?",
        default=None,
        help="scenario file or shipped name (default: classroom); a run folder or its "
        "manifest.json repeats that run (as --from)",
    )
    p.add_argument(
        "--from",
        dest="from_run",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="repeat a run exactly from its folder (or its manifest.json): the same resolved "
        "scenario, plan, seed and months, written to a new folder; --seed, --months and --set "
        "change it",
    )
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the scenario's)")
    p.add_argument("--months", type=int, default=None, help="months to run")
    p.add_argument(
        "--out",
        type=path_arg,
        default=None,
        help="run folder to write (default: results/<scenario>/<run-id>)",
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter, e.g. --set market.population=5000 (repeatable)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip PNG figures and the report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    e = p.add_argument_group(
        "ensembles",
        "more than one run: the summary and the report show each figure as its median and "
        "90%% interval over the runs (docs/report.md, 'Ensembles')",
    )
    e.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="run N seeds derived from the scenario's seed (default 1: a single run); each "
        "run's folder is kept under runs/",
    )
    e.add_argument(
        "--posterior",
        action="store_true",
        help="a calibrated scenario: each parameter set is a draw from its [posterior] "
        "(docs/calibration.md); the intervals include parameter uncertainty",
    )
    e.add_argument(
        "--draws",
        type=int,
        default=None,
        metavar="M",
        help="with --posterior: posterior draws (default 20), each run with --seeds seeds",
    )
    e.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="K",
        help="local worker processes for the runs (default: every core; 1 runs in this process)",
    )
    e.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the runs on a Dask cluster, e.g. tcp://10.0.0.5:8786 (as mlmsim sweep)",
    )


def version() -> str:
    """The installed package's version (its metadata), or the source tree's if not installed."""
    try:
        return installed_version("mlmsim")
    except PackageNotFoundError:
        return simulation.__version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mlmsim``."""
    parser = argparse.ArgumentParser(
        prog="mlmsim",
        description="Simulate multi-level marketing networks: recruiting, saturation, plans, "
        "and who makes money.",
    )
    parser.add_argument("--version", action="version", version=f"mlmsim {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    sub.add_parser("schema", help="print the JSON Schema of scenario files")
    for name, (module, help_text) in PLUGINS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:
                continue  # not shipped in this version
            raise
        p = sub.add_parser(name, help=help_text)
        mod.configure_parser(p)
        p.set_defaults(_plugin=mod)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """``mlmsim run``: simulate, write the results folder, print the summary."""
    # mesa (through the model): 0.9 s that other subcommands and --help do not need
    # (measured with benchmarks/bench_startup.py, as every lazy import's figure).
    from simulation.market import is_market  # noqa: PLC0415 - as run_scenario
    from simulation.runner import run_scenario  # noqa: PLC0415

    ensemble = args.seeds != 1 or args.posterior or args.draws is not None
    if ensemble:
        # Checked before anything is read: a bad count is refused at once.
        from simulation.ensemble import check_counts  # noqa: PLC0415 - as run_scenario

        check_counts(args.seeds, args.draws, args.posterior)
    elif args.workers is not None or args.scheduler is not None:
        flag = "--workers" if args.workers is not None else "--scheduler"
        raise UserError(
            f"{flag}: workers run the runs of an ensemble; add --seeds N (N > 1) or "
            "--posterior, or leave it out for a single run"
        )
    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"scenario.seed={args.seed}")
    if args.months is not None:
        sets.append(f"scenario.months={args.months}")
    source = args.from_run
    if source is None and args.scenario is not None and _is_run(Path(args.scenario)):
        source = Path(args.scenario)
    elif source is not None and args.scenario is not None:
        raise UserError(
            f"--from {source} and scenario {args.scenario!r}: give one (--from repeats the "
            "run's own scenario)"
        )
    if source is not None and args.posterior:
        raise UserError(
            f"--from {source} --posterior: the posterior is read from the calibrated scenario "
            "file; give that file instead of a run folder"
        )
    if source is None and args.scenario is not None and is_market(args.scenario):
        if ensemble:
            raise UserError(
                f"{args.scenario}: --seeds and --posterior run one-company scenarios; a market "
                "of several companies runs one seed at a time (--seed)"
            )
        return _run_market(args, sets)
    if source is not None:
        scenario, path, model_kwargs, overrides, provenance = rerun.prepare(source, sets)
    else:
        scenario, path = load_scenario(args.scenario, sets)
        model_kwargs, overrides, provenance = None, sets, None
    if ensemble:
        return _run_ensemble(args, scenario, path, model_kwargs, overrides, provenance)
    result = run_scenario(
        scenario,
        scenario_path=path,
        out=args.out,
        results_root=DEFAULT_RESULTS,
        figures=not args.no_figures,
        progress=not args.quiet,
        model_kwargs=model_kwargs,
        overrides=overrides,
        provenance=provenance,
    )
    print_summary(result["summary"], result["run_dir"])
    return 0


def _run_market(args: argparse.Namespace, sets: list[str]) -> int:
    """``mlmsim run`` on a market scenario: every company, the market tables, the page."""
    from simulation.market import load_market  # noqa: PLC0415  (mesa: see run_command)
    from simulation.market_run import run_market  # noqa: PLC0415

    spec = load_market(args.scenario, sets)
    result = run_market(
        spec,
        out=args.out,
        results_root=DEFAULT_RESULTS,
        figures=not args.no_figures,
        overrides=sets,
    )
    s = result["summary"]
    if not args.quiet:
        print(
            f"market: {s['population']:,} persons, {s['months']} months; "
            f"{s['ever_joined_any']:,} ({100 * s['penetration_any']:.1f}%) ever joined one "
            "of the companies"
        )
        for name, c in s["companies"].items():
            print(
                f"  {name:<20} peak {c['peak_members']:>9,.0f} members in month "
                f"{c['peak_month']:>3}; {100 * c['market_share_end']:5.1f}% of members at "
                f"the end; {100 * c['penetration']:5.1f}% of the market ever joined"
            )
    print(f"results: {result['run_dir']}")
    return 0


def _run_ensemble(
    args: argparse.Namespace,
    scenario: Any,
    path: Path | None,
    model_kwargs: dict[str, Any] | None,
    overrides: list[str],
    provenance: dict[str, Any] | None,
) -> int:
    """``mlmsim run --seeds N`` / ``--posterior``: the ensemble, its folder and summary."""
    # mesa (through the model and the runner): 0.9 s, as run_scenario above.
    from simulation import ensemble, posterior  # noqa: PLC0415
    from simulation.plans import load_plan  # noqa: PLC0415 - with the above

    post = None
    if args.posterior:
        assert path is not None
        post = posterior.from_scenario(scenario, path)
    plan = (model_kwargs or {}).get("plan") or load_plan(
        scenario.plan.file, changes=scenario.plan.set
    )
    ens = ensemble.plan_ensemble(
        scenario,
        plan,
        seeds=args.seeds,
        scenario_path=path,
        posterior=post,
        draws=args.draws,
        overrides=overrides,
        provenance=provenance,
    )
    res = ensemble.run_ensemble(
        ens,
        out=args.out,
        results_root=DEFAULT_RESULTS,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        figures=not args.no_figures,
    )
    if post is not None:
        label = (
            f"{len(ens.members)}: {ens.draws} posterior draws x {ens.seeds} "
            f"seed{'s' if ens.seeds > 1 else ''} (parameter uncertainty included)"
        )
    else:
        label = f"{len(ens.members)} seeds derived from seed {ens.master_seed}"
    print_summary(res.summary["outcomes"], res.out, bands=True, runs_label=label)
    return 0


def _is_run(path: Path) -> bool:
    """A run folder (holding ``manifest.json``) or a run's ``manifest.json``."""
    return (path.is_dir() and (path / "manifest.json").is_file()) or (
        path.name == "manifest.json" and path.is_file()
    )


def print_summary(
    summary: dict[str, Any], run_dir: Path, bands: bool = False, runs_label: str = ""
) -> None:
    """The terminal summary table of a run, or of an ensemble.

    Args:
        summary: a run's ``summary.json``; with ``bands``, an ensemble's
            ``{outcome: {"median", "p05", "p95", "n", "runs"}}`` (summary.json's
            ``outcomes``), shown as ``median (90% interval p05–p95, N runs)``.
        run_dir: the folder written.
        bands: ``summary`` holds intervals.
        runs_label: with ``bands``, what the runs are (``"8 posterior draws x 1 seed"``).
    """

    def show(key: str, fmt: Any, ends: Any = None) -> str:
        if bands:
            return band_text(summary.get(key), fmt, ends)
        return fmt(summary[key])

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def usd(x: float | None) -> str:
        return "n/a" if x is None else f"${x:,.0f}"

    def month(x: float | None) -> str:
        return "never" if x is None else f"month {whole(x)}"

    def gini(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    s = summary
    if bands:
        runs = next(iter(s.values()))["runs"] if s else 0
        population = s["population"]["median"]
        months = s["months"]["median"]
        half = s.get("half_peak_month") or {"n": 0}
        rows = [
            ("market", f"{population:,.0f} persons, {months:.0f} months"),
            ("runs", runs_label or f"{runs} seeds"),
            ("ever joined", show("ever_joined", whole)),
            ("penetration", show("penetration", pct)),
            ("active at the end", show("active_end", whole)),
            ("peak recruiting (joins)", show("peak_joins", whole)),
            ("peak recruiting (month)", show("peak_month", month, whole)),
            (
                "recruiting below half its peak",
                "never" if not half["n"] else show("half_peak_month", month, whole),
            ),
            ("deepest level reached", show("max_level", whole)),
        ]
    else:
        rows = [
            ("market", f"{s['population']:,} persons, {s['months']} months"),
            ("ever joined (penetration)", f"{s['ever_joined']:,} ({pct(s['penetration'])})"),
            ("active at the end", f"{s['active_end']:,}"),
            ("peak recruiting", f"{s['peak_joins']:,} joins in month {s['peak_month']}"),
            (
                "recruiting below half its peak",
                "never" if s["half_peak_month"] is None else f"from month {s['half_peak_month']}",
            ),
            ("deepest level reached", str(s["max_level"])),
        ]
    rows += [
        ("lost money (own use valued)", show("share_net_loss", pct)),
        ("lost money (own use as cost)", show("share_net_loss_strict", pct)),
        ("asked as a survey: lost", show("survey_lost", pct)),
        ("  broke even", show("survey_broke_even", pct)),
        ("  made a profit", show("survey_profit", pct)),
        ("median net income of joiners", show("median_net_income", usd)),
        ("Gini of net income", show("gini_net_income", gini)),
        ("top 1% share of commissions", show("top1_commissions", pct)),
    ]
    if bands:
        rows.append(("top 10% share of commissions", show("top10_commissions", pct)))
    rows += [
        ("payout ratio (commissions/BV)", show("payout_ratio", pct)),
        ("retail share of volume", show("retail_share", pct)),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"\n  results: {run_dir}")
    report = Path(run_dir) / "report.html"
    if report.exists():
        print(f"  report:  {report}")


def _on_sigterm(signum: int, frame: object) -> None:
    errors.request_termination()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mlmsim``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.command == "run":
            code = run_command(args)
        elif args.command == "schema":
            print(json.dumps(schema(), indent=2))
            code = 0
        else:
            code = int(args._plugin.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    finally:
        errors.clear_termination()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _closed_pipe() -> int:
    """The reader of stdout went away (``mlmsim schema | head``): stop quietly, as Unix tools do.

    Python would otherwise print a BrokenPipeError, and again when it flushes stdout at exit;
    pointing stdout at /dev/null silences the second. The status is the shell's for SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (captured in tests)
        pass
    return 128 + 13


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
