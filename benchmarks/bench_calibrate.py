"""Calibration benchmarks: cost per simulation, a whole calibration, and parameter recovery.

Part (a), ``--part cost``: the cost of one simulation of a 10,000-person, 60-month market
(the realistic_plain scenario, every member a builder, with the doTERRA-like plan), then a
calibration of ``--simulations`` simulations (default 5,000) to the doTERRA 2017 statement on
2 local processes and on a 2-worker Dask LocalCluster. Target: under 30 minutes each on 2 cores.

Part (b), ``--part recovery``: parameter recovery with simulation-based calibration (Talts
et al. 2018). ``--sets`` parameter sets are drawn from the priors; for each, the model makes
a synthetic statement (its own figures from those parameters) and a calibration fits it.
Reported: the share of sets whose 90% credible interval holds the true value (target 80-97%
per parameter) and rank histograms (the rank of the true value among ``L`` posterior draws;
uniform when the posterior is calibrated), written as PNG to ``docs/img/``.

    python benchmarks/bench_calibrate.py --part cost [--simulations 5000] [--no-dask]
    python benchmarks/bench_calibrate.py --part recovery [--sets 20] [--population 1500]

Both parts take ``--kernel-scale`` (default ``logit``, as ``mlmsim calibrate``; the figures
in docs/calibration.md name the scale each was measured with).

Figures are printed with the machine's core count and written to
``benchmarks/out/bench_calibrate_<part>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulation.calibrate import prepare, run_calibration  # noqa: E402
from simulation.calibrate.driver import prior_draws  # noqa: E402
from simulation.calibrate.simulate import run_once  # noqa: E402
from simulation.calibrate.synthetic import synthetic_statement, write_statement  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
IMG = ROOT / "docs" / "img"
TARGETS = ROOT / "scenarios" / "targets" / "doterra_us_2017.toml"
PRIORS = ROOT / "scenarios" / "priors" / "doterra_us_2017.toml"

RECOVERY_PRIORS = """
[priors."recruit.join_prob"]
distribution = "uniform"
low = 0.2
high = 0.8
reason = "recovery check: a wide range where the market grows"

[priors."quit.base_monthly"]
distribution = "uniform"
low = 0.005
high = 0.06
reason = "recovery check: 6% to 52% a year for members doing fine"
"""


def _args(targets: Path, priors: Path, sets: list[str], **kw) -> argparse.Namespace:
    a = {
        "scenario": "realistic_plain",
        "targets": targets,
        "priors": priors,
        "sets": sets,
        "population": 100,
        "generations": None,
        "simulations": None,
        "seed": 1,
        "kernel_scale": "natural",
        "workers": 2,
        "scheduler": None,
        "out": None,
        "no_report": True,
        "quiet": False,
    }
    a.update(kw)
    return argparse.Namespace(**a)


def part_cost(ns: argparse.Namespace) -> dict:
    sets = ["plan.file=unilevel_7_dt", "market.population=10000", "scenario.months=60"]
    cal = prepare(_args(TARGETS, PRIORS, sets, simulations=ns.simulations,
                        kernel_scale=ns.kernel_scale))  # fmt: skip
    rng = np.random.default_rng(0)
    draws = prior_draws(cal.priors, ns.single, rng)
    times = []
    for i, v in enumerate(draws):
        t0 = time.perf_counter()
        run_once(cal.context, v, 1000 + i)
        times.append(time.perf_counter() - t0)
    per_sim = float(np.mean(times))
    print(f"one simulation (10,000 persons, 60 months, in-process, {ns.single} prior draws): "
          f"mean {per_sim:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")  # fmt: skip
    out: dict = {"cpu_count": os.cpu_count(), "per_simulation_s": per_sim,
                 "per_simulation_all_s": times}  # fmt: skip
    proj = ns.simulations * per_sim / 2
    print(f"projection: {ns.simulations} simulations / 2 cores = {proj / 60:.1f} min + overhead")
    out["projection_min"] = proj / 60
    runs = [] if ns.no_local else [("local 2 processes", None)]
    if not ns.no_dask:
        runs.append(("dask LocalCluster 2 workers", "dask"))
    for label, kind in runs:
        folder = OUT / f"calibrate_cost_{'dask' if kind else 'local'}"
        if ns.fresh and folder.exists():
            shutil.rmtree(folder)
        cluster = None
        scheduler = None
        if kind == "dask":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
            scheduler = cluster.scheduler_address
        t0 = time.perf_counter()
        try:
            res = run_calibration(
                prepare(
                    _args(
                        TARGETS,
                        PRIORS,
                        sets,
                        simulations=ns.simulations,
                        kernel_scale=ns.kernel_scale,
                    )
                ),
                folder,
                workers=2,
                scheduler=scheduler,
                progress=True,
                report=not ns.no_report,
            )
        finally:
            if cluster is not None:
                cluster.close()
        wall = time.perf_counter() - t0
        print(
            f"{label}: {res['simulations']} simulations in {wall / 60:.1f} min "
            f"({wall / res['simulations']:.2f} s each on 2 cores), "
            f"{res['generations']} generations; resumed after {res['resumed_after']}"
        )
        out[label] = {"wall_s": wall, "simulations": res["simulations"],
                      "generations": res["generations"], "resumed_after": res["resumed_after"],
                      "median": res["median"], "interval90": res["interval90"]}  # fmt: skip
    return out


def _rank_png(ranks: np.ndarray, L: int, key: str, n_sets: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    bins = min(10, L + 1)
    ax.hist(ranks, bins=bins, range=(0, L + 1), color="#1f4e8c", edgecolor="white")
    ax.axhline(n_sets / bins, color="#c0392b", ls="--", label="uniform")
    ax.set_xlabel(f"rank of the true value among {L} posterior draws")
    ax.set_ylabel("parameter sets")
    ax.set_title(f"SBC ranks: {key} ({n_sets} sets)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def part_recovery(ns: argparse.Namespace) -> dict:
    import pandas as pd

    work = OUT / f"calibrate_recovery{ns.tag}"
    work.mkdir(parents=True, exist_ok=True)
    priors = work / "priors.toml"
    priors.write_text(RECOVERY_PRIORS, encoding="utf-8")
    sets = ["plan.file=unilevel_7_dt", f"market.population={ns.population}",
            f"scenario.months={ns.months}"]  # fmt: skip
    base = prepare(_args(TARGETS, priors, sets))
    truths = prior_draws(base.priors, ns.sets, np.random.default_rng(ns.seed))
    L = ns.draws
    rows = []
    t_all = time.perf_counter()
    for i, truth in enumerate(truths):
        target = write_statement(
            synthetic_statement(base.context, truth, 10_000 + i, "unilevel_7_dt"),
            work / f"targets_{i:03d}.toml",
        )
        folder = work / f"set_{i:03d}"
        if ns.fresh and folder.exists():
            shutil.rmtree(folder)
        if ns.finished_only and not (folder / "posterior.parquet").is_file():
            print(f"set {i}: not finished; the summary covers sets 0-{i - 1}")
            break
        t0 = time.perf_counter()
        res = run_calibration(
            prepare(_args(target, priors, sets, population=ns.particles,
                          generations=ns.generations, seed=ns.seed + i, workers=ns.workers,
                          kernel_scale=ns.kernel_scale)),
            folder, workers=ns.workers, progress=False, report=False,
        )  # fmt: skip
        post = pd.read_parquet(folder / "posterior.parquet")
        rng = np.random.default_rng([ns.seed, i])
        pick = rng.choice(len(post), size=L, p=post["weight"].to_numpy())
        row = {"set": i, "seconds": time.perf_counter() - t0, "simulations": res["simulations"]}
        for k, v in truth.items():
            lo, hi = res["interval90"][k]
            row[f"{k} true"] = v
            row[f"{k} median"] = res["median"][k]
            row[f"{k} inside"] = bool(lo <= v <= hi)
            row[f"{k} rank"] = int((post[k].to_numpy()[pick] < v).sum())
        rows.append(row)
        print(f"set {i}: " + ", ".join(
            f"{k} true {truth[k]:.4g} median {res['median'][k]:.4g} "
            f"[{res['interval90'][k][0]:.4g}, {res['interval90'][k][1]:.4g}]" for k in truth
        ) + f" ({row['seconds']:.0f} s)", flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    table.to_csv(OUT / f"bench_calibrate_recovery{ns.tag}.csv", index=False)
    out = {"cpu_count": os.cpu_count(), "sets": len(table), "population": ns.population,
           "months": ns.months, "particles": ns.particles, "generations": ns.generations,
           "draws": L, "kernel_scale": ns.kernel_scale, "wall_s": time.perf_counter() - t_all,
           "coverage90": {}}  # fmt: skip
    IMG.mkdir(parents=True, exist_ok=True)
    for k in truths[0]:
        cov = float(table[f"{k} inside"].mean())
        out["coverage90"][k] = cov
        png = IMG / f"calibration_sbc_{k.replace('.', '_')}{ns.tag}.png"
        _rank_png(table[f"{k} rank"].to_numpy(), L, k, len(table), png)
        print(f"{k}: 90% intervals hold the truth in {cov:.0%} of {len(table)} sets; ranks: {png}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("cost", "recovery"), required=True)
    p.add_argument("--simulations", type=int, default=5000)
    p.add_argument("--single", type=int, default=10, help="(a) single runs timed in-process")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--no-local", action="store_true", help="(a) only the Dask calibration")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--fresh", action="store_true", help="start again instead of resuming")
    p.add_argument(
        "--finished-only",
        action="store_true",
        help="(b) summarise the sets already calibrated (stops at the first unfinished one)",
    )
    p.add_argument("--sets", type=int, default=20)
    p.add_argument("--population", type=int, default=1500, help="(b) persons in the market")
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--particles", type=int, default=40)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--draws", type=int, default=19, help="(b) posterior draws for SBC ranks")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument(
        "--kernel-scale", choices=("natural", "logit"), default="logit",
        help="where the kernel works (mlmsim calibrate --kernel-scale; default logit)",
    )  # fmt: skip
    p.add_argument("--tag", default="", help="suffix of the output files (e.g. _1500)")
    ns = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores")
    res = part_cost(ns) if ns.part == "cost" else part_recovery(ns)
    path = OUT / f"bench_calibrate_{ns.part}{ns.tag}.json"
    path.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
