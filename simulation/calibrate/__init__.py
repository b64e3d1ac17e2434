"""``mlmsim calibrate``: fit scenario parameters to a published income disclosure statement.

Likelihood-free Bayesian inference (ABC-SMC with pyabc) whose simulations run on the sweep
executors (this process, local processes, or a Dask cluster); see ``docs/calibration.md``.
Every input is checked before anything is written: a bad prior, target or option exits with
status 2 and one message.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation import safepath
from simulation.calibrate.driver import (
    KERNEL_SCALES,
    Calibration,
    calibration_distance,
    distance,
    ess_warning,
    predictive_runs,
    prior_summary,
    run_calibration,
)
from simulation.calibrate.priors import check_support, load_priors
from simulation.calibrate.targets import Targets, format_stat, load_targets
from simulation.config import apply_overrides, load_scenario
from simulation.errors import UserError
from simulation.plans.engine import load_plan
from simulation.safepath import path_arg
from simulation.sweep.executors import check_scheduler_address
from simulation.sweep.spec import read_plan
from simulation.userfile import read_toml

DEFAULT_ROOT = Path("results") / "calibrations"
DEFAULT_POPULATION = 100
DEFAULT_GENERATIONS = 8

__all__ = ["Calibration", "configure_parser", "prepare", "run", "run_calibration"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim calibrate SCENARIO --targets T --priors P [options]``."""
    parser.add_argument("scenario", help="scenario file or a shipped scenario's name")
    parser.add_argument("--targets", type=path_arg, required=True, help="target file (TOML)")
    parser.add_argument(
        "--priors", type=path_arg, default=None, help="prior file (TOML; not with --evaluate)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change the scenario before calibrating, e.g. --set plan.file=unilevel_7_dt",
    )
    parser.add_argument(
        "--population",
        type=int,
        default=None,
        metavar="N",
        help=f"particles per generation (default {DEFAULT_POPULATION})",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--generations",
        type=int,
        default=None,
        metavar="G",
        help=f"generations to run (default {DEFAULT_GENERATIONS})",
    )
    budget.add_argument(
        "--simulations",
        type=int,
        default=None,
        metavar="N",
        help="run generations until this many simulations (the pilot included) are done",
    )
    parser.add_argument("--seed", type=int, default=1, help="calibration seed (default 1)")
    parser.add_argument(
        "--kernel-scale",
        choices=KERNEL_SCALES,
        default="logit",
        help="where the kernel proposing new particles works: logit (default: uniform and "
        "log-uniform priors on the logit scale, so that proposals do not thin out against a "
        "prior's bounds; docs/calibration.md, 'Effective sample size') or natural (the "
        "parameters as they are: the default of mlmsim before 2026-12-04, to resume or repeat "
        "a calibration made then)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="K",
        help="local worker processes (default: every core; 1 runs in this process); the "
        "result does not depend on it",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need mlmsim)",
    )
    parser.add_argument(
        "--min-ess",
        type=float,
        default=None,
        metavar="SHARE",
        help="stop when a generation's effective sample size falls below this share of the "
        "particles (0-1, e.g. 0.05); the results are then the generation before it (default: "
        "no such stop)",
    )
    parser.add_argument("--out", type=path_arg, default=None, help="output folder")
    parser.add_argument(
        "--no-report", action="store_true", help="skip the predictive runs and page"
    )
    parser.add_argument(
        "--check-priors",
        action="store_true",
        help="run only the prior-predictive pilot and say where each published figure falls "
        "in it (a figure no run reaches cannot be fitted); a later run with the same inputs "
        "and --out reuses the pilot",
    )
    parser.add_argument(
        "--evaluate",
        type=int,
        default=None,
        metavar="N",
        help="fit nothing: run the scenario as it is (--set applied) with seeds 1..N and "
        "print each target beside the published figure, in minutes; --out writes the runs' "
        "figures as CSV",
    )
    parser.add_argument(
        "--distance-from",
        type=path_arg,
        default=None,
        metavar="FOLDER",
        help="with --evaluate: also each run's distance to the published figures as the "
        "calibration in FOLDER measures it (its pilot's scales), beside its final threshold",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _positive(value: int | None, option: str, least: int) -> None:
    if value is not None and value < least:
        raise UserError(f"{option} {value}: need at least {least}")


def _scenario_and_targets(args: argparse.Namespace) -> tuple[Any, Path, str, Targets, dict]:
    """The scenario (``--set`` applied), its plan's name, the checked targets, the context."""
    scen, path = load_scenario(args.scenario, list(args.sets))
    plan = load_plan(Path(scen.plan.file), changes=scen.plan.set)
    plan_name = Path(scen.plan.file).stem
    targets = load_targets(args.targets, plan.rank_names, plan_name, scen.scenario.months)
    context = {
        "scenario": scen.to_dict(),
        "plan": read_plan(scen.plan.file, path.parent, str(path)),
        "spec": targets.spec(),
    }
    return scen, path, plan_name, targets, context


def prepare(args: argparse.Namespace) -> Calibration:
    """Check every input (scenario, --set, plan, priors, targets, options); nothing written.

    Raises:
        UserError: naming the file or option, the key or row, and what was expected.
    """
    _positive(args.population, "--population", 5)
    _positive(args.generations, "--generations", 1)
    _positive(args.simulations, "--simulations", 10)
    _positive(args.workers, "--workers", 1)
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: expected a number >= 0")
    min_ess = getattr(args, "min_ess", None)
    if min_ess is not None and not 0 < min_ess <= 1:
        raise UserError(
            f"--min-ess {min_ess:g}: expected a share of the particles, above 0 and at most 1"
        )
    if args.scheduler:
        check_scheduler_address(args.scheduler)
    if getattr(args, "distance_from", None) is not None:
        raise UserError(
            "--distance-from: only with --evaluate (a calibration measures its own distance)"
        )
    if args.priors is None:
        raise UserError(
            "--priors: a calibration needs a prior file (or, to compare the scenario as it is "
            "with the targets, --evaluate N)"
        )
    priors = load_priors(args.priors)
    scen, path, plan_name, targets, context = _scenario_and_targets(args)
    check_support(priors, context["scenario"], f"--priors {args.priors}")
    population = args.population or DEFAULT_POPULATION
    generations = args.generations
    if args.simulations is None and generations is None:
        generations = DEFAULT_GENERATIONS
    if args.simulations is not None and args.simulations <= population:
        raise UserError(
            f"--simulations {args.simulations}: must exceed --population {population} (the "
            "pilot alone runs that many)"
        )
    raw = apply_overrides(read_toml(path, "scenario"), list(args.sets), str(path))
    return Calibration(
        name=f"{scen.scenario.name} ({plan_name}) to {Path(args.targets).stem}",
        scenario_data=raw,
        context=context,
        priors=priors,
        targets=targets,
        population=population,
        generations=generations,
        simulations=args.simulations,
        seed=args.seed,
        kernel_scale=args.kernel_scale,
        min_ess=min_ess,
        sources={
            "scenario": path.name,
            "targets": Path(args.targets).name,
            "priors": Path(args.priors).name,
        },
    )


def _print_prior_check(rows: list[dict], runs: int) -> None:
    """The prior-predictive check as a table on stdout."""
    fmt = format_stat
    width = max(len(r["statistic"]) for r in rows)
    print(f"\n  where each published figure falls among the {runs} prior-predictive runs")
    for r in rows:
        k = r["statistic"]
        span = f"{fmt(k, r['low'])} to {fmt(k, r['high'])}"
        print(
            f"  {k:<{width}}  published {fmt(k, r['published']):>10}  runs {span:>22}  "
            f"below it {fmt('share', r['below']):>7}  {r['verdict']}"
        )


def run(args: argparse.Namespace) -> int:
    """``mlmsim calibrate``: run or resume a calibration, print the posterior."""
    if args.evaluate is not None:
        return evaluate_command(args)
    cal = prepare(args)
    out = args.out
    if out is None:
        out = DEFAULT_ROOT / safepath.safe_name(
            f"{cal.context['scenario']['scenario']['name']}-{Path(args.targets).stem}"
        )
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if args.check_priors:
        res = run_calibration(
            cal,
            Path(out),
            workers=workers,
            scheduler=args.scheduler,
            progress=not args.quiet,
            pilot_only=True,
        )
        _print_prior_check(res["prior_check"], res["pilot"])
        print(f"\n  pilot: {res['out']} ({res['wall_s']:.1f} s)")
        for w in prior_summary(res["prior_check"]):
            print(f"  warning: {w}", file=sys.stderr)
        return 0
    res = run_calibration(
        cal,
        Path(out),
        workers=workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        report=not args.no_report,
    )
    print(
        f"\n  {res['simulations']:,} simulations, {res['generations']} generations, "
        f"{res['wall_s']:.1f} s; final epsilon {res['final_epsilon']:.4g}"
    )
    width = max(len(k) for k in res["parameters"])
    for k in res["parameters"]:
        lo, hi = res["interval90"][k]
        print(f"  {k:<{width}}  median {res['median'][k]:.4g}  90% interval {lo:.4g} to {hi:.4g}")
    print(f"  effective sample size {res['ess']:.1f} of {cal.population} particles")
    warn = ess_warning(res, cal.population)
    if warn:
        print(f"  warning: {warn}", file=sys.stderr)
    if res.get("stopped_early"):
        print(f"  warning: stopped early: {res['stopped_early']}", file=sys.stderr)
    for w in prior_summary(res["prior_check"]):
        print(
            f"  warning: {w} (report.html, 'Which published figures the priors can reach')",
            file=sys.stderr,
        )
    print(f"\n  results: {res['out']}")
    return 0


# Options that shape a fit: refused with --evaluate, which runs none.
FIT_OPTIONS = (
    ("priors", "--priors"),
    ("population", "--population"),
    ("generations", "--generations"),
    ("simulations", "--simulations"),
    ("min_ess", "--min-ess"),
    ("check_priors", "--check-priors"),
    ("no_report", "--no-report"),
)


def evaluate(args: argparse.Namespace) -> tuple[pd.DataFrame, Targets, float | None]:
    """Run the scenario as it is with seeds 1..N; the target statistics of each run.

    The runs are a calibration's predictive runs with no parameter drawn (the scenario's own
    values), on the same executors. Nothing is written.

    Returns:
        One row per seed (``seed`` and every target statistic, as fitted: shares 0-1,
        incomes ``log10(1 + USD)``; with ``--distance-from``, each run's ``distance`` as that
        calibration measures it), the checked targets, and that calibration's final
        threshold (None without ``--distance-from``, or before its first generation).

    Raises:
        UserError: a bad count, a fit option beside --evaluate, or any input
            :func:`prepare` refuses.
    """
    _positive(args.evaluate, "--evaluate", 1)
    _positive(args.workers, "--workers", 1)
    for attr, flag in FIT_OPTIONS:
        if getattr(args, attr, None) not in (None, False):
            raise UserError(
                f"{flag}: --evaluate runs the scenario as it is and fits nothing; drop {flag} "
                "(or --evaluate to calibrate)"
            )
    if args.scheduler:
        check_scheduler_address(args.scheduler)
    _, _, _, targets, context = _scenario_and_targets(args)
    measure = None
    if getattr(args, "distance_from", None) is not None:  # checked before the runs
        measure = calibration_distance(Path(args.distance_from), targets)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    seeds = np.arange(1, args.evaluate + 1)
    runs = predictive_runs(context, [{}] * len(seeds), seeds, workers, args.scheduler, False)
    runs = runs[["seed", *targets.observed]]
    if measure is None:
        return runs, targets, None
    return runs.assign(distance=distance(runs, targets.observed, measure[0])), targets, measure[1]


def evaluate_command(args: argparse.Namespace) -> int:
    """``mlmsim calibrate SCENARIO --targets T --evaluate N``: print the comparison."""
    from simulation.calibrate.outputs import (  # noqa: PLC0415 - matplotlib
        BAND,
        empty_note,
        target_rows,
    )

    out = None
    if args.out is not None:  # checked before the runs
        out = safepath.output_file(args.out, "--out", inputs=[Path(args.targets)])
        if out.suffix.lower() != ".csv":
            raise UserError(f"--out {out}: with --evaluate, a CSV file (a name ending in .csv)")
    runs, targets, final = evaluate(args)
    # From 20 runs on, their 5-95% band; below, too few to estimate its ends: all of them.
    many = len(runs) >= 20
    rows = target_rows(targets, runs, BAND if many else (0.0, 1.0))
    what = "5-95% of" if many else "lowest to highest of"
    print(
        f"\n  {targets.source['name']}: the scenario as it is, {what} {len(runs)} runs "
        "(chance alone: the parameters are fixed)"
    )
    width = max(len(r["statistic"]) for r in rows)
    for r in rows:
        k = r["statistic"]
        span = f"{format_stat(k, r['low'])} to {format_stat(k, r['high'])}"
        verdict = "inside" if r["inside"] else "outside"
        print(
            f"  {k:<{width}}  published {format_stat(k, r['published']):>10}  median "
            f"{format_stat(k, r['median']):>10}  runs {span:>22}  "
            f"{verdict}{'' if r['fitted'] else ' (not fitted)'}{empty_note(r, len(runs))}"
        )
    fitted = [r for r in rows if r["fitted"]]
    print(f"\n  {sum(r['inside'] for r in fitted)} of {len(fitted)} fitted figures inside")
    if "distance" in runs:
        d = runs["distance"]
        print(
            f"  distance to the published figures ({args.distance_from}'s measure): median "
            f"{d.median():.3g}, runs {d.min():.3g} to {d.max():.3g}"
            + ("" if final is None else f"; that calibration's final threshold {final:.3g}")
        )
    if out is not None:
        safepath.write_output_file(out, lambda p: runs.to_csv(p, index=False))
        print(f"  runs: {out}")
    return 0
