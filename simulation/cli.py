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
from simulation import rerun
from simulation.config import load_scenario, resolve_scenario_path, schema
from simulation.errors import UserError
from simulation.safepath import path_arg
from simulation.userfile import read_toml

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
    from simulation.runner import run_scenario  # noqa: PLC0415

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
    if source is None and _is_market(args.scenario):
        return _run_market(args, sets)
    if source is not None:
        scenario, path, model_kwargs, overrides, provenance = rerun.prepare(source, sets)
    else:
        scenario, path = load_scenario(args.scenario, sets)
        model_kwargs, overrides, provenance = None, sets, None
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


def _is_market(name: str | None) -> bool:
    """A scenario file with ``[[companies]]``: a market of several companies."""
    if name is None:
        return False
    try:
        return "companies" in read_toml(resolve_scenario_path(name), "scenario")
    except UserError:
        return False


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
        print(f"market: {s['population']:,} persons, {s['months']} months; "
              f"{s['ever_joined_any']:,} ({100 * s['penetration_any']:.1f}%) ever joined one "
              "of the companies")
        for name, c in s["companies"].items():
            print(f"  {name:<20} peak {c['peak_members']:>9,.0f} members in month "
                  f"{c['peak_month']:>3}; {100 * c['market_share_end']:5.1f}% of members at "
                  f"the end; {100 * c['penetration']:5.1f}% of the market ever joined")
    print(f"results: {result['run_dir']}")
    return 0


def _is_run(path: Path) -> bool:
    """A run folder (holding ``manifest.json``) or a run's ``manifest.json``."""
    return (path.is_dir() and (path / "manifest.json").is_file()) or (
        path.name == "manifest.json" and path.is_file()
    )


def print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    """The terminal summary table of a run."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def usd(x: float | None) -> str:
        return "n/a" if x is None else f"${x:,.0f}"

    s = summary
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
        ("lost money (own use valued)", pct(s["share_net_loss"])),
        ("lost money (own use as cost)", pct(s["share_net_loss_strict"])),
        ("median net income of joiners", usd(s["median_net_income"])),
        ("Gini of net income", f"{s['gini_net_income']:.3f}"),
        ("top 1% share of commissions", pct(s["top1_commissions"])),
        ("payout ratio (commissions/BV)", pct(s["payout_ratio"])),
        ("retail share of volume", pct(s["retail_share"])),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"\n  results: {run_dir}")
    report = Path(run_dir) / "report.html"
    if report.exists():
        print(f"  report:  {report}")


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled like Ctrl+C (workers stopped, finished results kept)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


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
