"""Sweeps: design expansion, seeds, executors agree byte for byte, resume after a kill,
failing runs recorded, bad sweep files, shocks, the report and the sensitivity analysis."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import codebook, results
from simulation.cli import main
from simulation.config import apply_values, scenario_from_dict
from simulation.errors import ConfigError
from simulation.model import MLMModel
from simulation.plans import load_plan
from simulation.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
[sweep]
name = "tiny"
scenario = "classroom"
design = "grid"
replicates = 2
master_seed = 5

[base]
market.population = 300
scenario.months = 12

[parameters]
recruit.join_prob = [0.3, 0.7]
plan.file = ["unilevel_5", "recruiting_heavy"]
"""


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def tables(out: Path) -> dict[str, bytes]:
    return {f: (out / f).read_bytes() for f in ("runs.parquet", "monthly.parquet")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small sweep run in this process, uninterrupted: the reference tables."""
    tmp = tmp_path_factory.mktemp("ref")
    path = write(tmp, SMALL)
    res = run_sweep(load_sweep(path), tmp / "out", workers=1, progress=False, report=False)
    return path, res


# ------------------------------------------------------------------------------ the design


def test_grid_points_seeds_and_stable_run_ids(tmp_path):
    sweep = load_sweep(write(tmp_path, SMALL))
    tasks = sweep.tasks()
    assert len(sweep.points) == 4 and len(tasks) == 8
    assert [p.values for p in sweep.points] == [
        {"recruit.join_prob": 0.3, "plan.file": "unilevel_5"},
        {"recruit.join_prob": 0.3, "plan.file": "recruiting_heavy"},
        {"recruit.join_prob": 0.7, "plan.file": "unilevel_5"},
        {"recruit.join_prob": 0.7, "plan.file": "recruiting_heavy"},
    ]
    # Common random numbers: replicate r has the same seed at every point, and only r matters.
    seeds = {(t["point"], t["replicate"]): t["seed"] for t in tasks}
    assert len({seeds[(p, 0)] for p in range(4)}) == 1
    assert seeds[(0, 0)] != seeds[(0, 1)]
    assert seeds[(0, 0)] == int(
        np.random.SeedSequence(5, spawn_key=(0, 0)).generate_state(1, np.uint64)[0] >> 1
    )
    ids = [t["run_id"] for t in tasks]
    assert len(set(ids)) == 8
    assert ids == [t["run_id"] for t in load_sweep(write(tmp_path, SMALL)).tasks()]
    other = load_sweep(write(tmp_path, SMALL.replace("master_seed = 5", "master_seed = 6")))
    assert not set(ids) & {t["run_id"] for t in other.tasks()}


def test_independent_seeding_gives_every_run_its_own_seed(tmp_path):
    text = SMALL.replace("master_seed = 5", 'master_seed = 5\nseeding = "independent"')
    seeds = [t["seed"] for t in load_sweep(write(tmp_path, text)).tasks()]
    assert len(set(seeds)) == len(seeds) == 8


def test_latin_hypercube_one_sample_per_stratum_and_reproducible(tmp_path):
    text = """
[sweep]
design = "lhs"
samples = 10
master_seed = 3
[parameters]
recruit.join_prob = { low = 0.1, high = 0.6 }
quit.base_monthly = { low = 0.001, high = 0.1, log = true }
market.population = { low = 200, high = 400 }
plan.file = ["unilevel_5", "recruiting_heavy"]
"""
    sweep = load_sweep(write(tmp_path, text))
    assert len(sweep.points) == 20  # 10 samples x 2 plans, the same samples under each plan
    first = [p for p in sweep.points if p.values["plan.file"] == "unilevel_5"]
    jp = np.array([p.values["recruit.join_prob"] for p in first])
    qb = np.array([p.values["quit.base_monthly"] for p in first])
    assert sorted(np.floor((jp - 0.1) / 0.05).astype(int)) == list(range(10))
    strata = np.floor(np.log(qb / 0.001) / np.log(100) * 10).astype(int)
    assert sorted(strata) == list(range(10))
    assert all(isinstance(p.values["market.population"], int) for p in first)
    again = load_sweep(write(tmp_path, text))
    assert [p.values for p in again.points] == [p.values for p in sweep.points]


def test_monte_carlo_without_parameters_is_one_point(tmp_path):
    sweep = load_sweep(write(tmp_path, "[sweep]\nreplicates = 7\n"))
    assert len(sweep.points) == 1 and len(sweep.tasks()) == 7


def test_shipped_sweep_files_load():
    sizes = {p.stem: len(load_sweep(p).tasks()) for p in (ROOT / "scenarios/sweeps").glob("*.toml")}
    assert sizes["classroom_monte_carlo"] == 1000
    assert sizes["classroom_grid"] == 60
    assert sizes["two_companies_fast_start"] == 20  # a market: 2 plans of beta x 10 seeds
    # 2 plans x income term off/on x expectations off/on x 30 seeds
    assert sizes["two_companies_fast_start_income"] == 240
    assert {"classroom_lhs", "classroom_morris"} <= set(sizes)


# ------------------------------------------------------------------------------ runs


def test_sweep_run_equals_a_direct_model_run(reference):
    path, res = reference
    sweep = load_sweep(path)
    task = sweep.tasks()[3]
    data = apply_values(
        sweep.base,
        {
            "recruit.join_prob": task["values"]["recruit.join_prob"],
            "plan.file": task["plan"]["path"],
            "scenario.seed": task["seed"],
        },
        "test",
    )
    model = MLMModel(scenario=scenario_from_dict(data), plan=load_plan(task["plan"]["path"]))
    model.run()
    direct = results.monthly_table(model)
    monthly = pd.read_parquet(res.out / "monthly.parquet")
    rows = monthly[monthly["run_id"] == task["run_id"]].drop(
        columns=["run_id", "point", "replicate"]
    )
    # Columns of components this run's plan does not have (another plan's) are empty.
    other = [c for c in rows.columns if c not in direct.columns]
    assert all(c.startswith("paid_") for c in other) and rows[other].isna().all().all()
    rows = rows[list(direct.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, direct, check_exact=True)


def test_outcomes_are_those_of_the_single_run_report(tmp_path):
    from simulation.config import load_scenario
    from simulation.runner import run_scenario
    from simulation.sweep import run_task

    sets = ["plan.file=recruiting_heavy", "market.population=300", "scenario.months=12"]
    scen, _ = load_scenario("classroom", sets)
    single = run_scenario(scen, out=tmp_path / "run", figures=False)
    analysis = json.loads((single["run_dir"] / "analysis.json").read_text())
    sweep = load_sweep(write(tmp_path, SMALL))
    task = next(t for t in sweep.tasks() if t["values"]["plan.file"] == "recruiting_heavy")
    task = {**task, "values": {"plan.file": "recruiting_heavy"}, "seed": scen.scenario.seed}
    task["scenario"] = {**sweep.base, "recruit": scen.recruit.model_dump()}
    res = run_task(task)
    assert res["status"] == "ok"
    for key, value in single["summary"].items():
        assert res["summary"][key] == value, key
    share = analysis["company"]["recruitment_income_share"]
    assert res["summary"]["recruitment_income_share"] == pytest.approx(share, rel=1e-12)


def test_tables_sorted_by_run_id_one_row_per_run_and_month(reference):
    _, res = reference
    runs = pd.read_parquet(res.out / "runs.parquet")
    monthly = pd.read_parquet(res.out / "monthly.parquet")
    assert list(runs["run_id"]) == sorted(runs["run_id"]) and runs["run_id"].is_unique
    assert (runs["status"] == "ok").all() and len(runs) == 8
    assert len(monthly) == 8 * 13
    assert not monthly.duplicated(["run_id", "month"]).any()
    assert list(monthly["run_id"]) == sorted(monthly["run_id"])
    assert set(runs.columns) >= {"recruit.join_prob", "plan.file", "seed", "payout_ratio"}
    manifest = json.loads((res.out / "manifest.json").read_text())
    assert manifest["runs"] == {
        "total": 8,
        "ok": 8,
        "failed": 0,
        "ran_now": 8,
        "skipped_as_done": 0,
    }


def test_identical_tables_in_process_two_workers_and_dask(reference, tmp_path, capsys):
    from distributed import LocalCluster

    path, res = reference
    ref = tables(res.out)
    two = tmp_path / "two"
    assert main(["sweep", str(path), "--workers", "2", "--out", str(two), "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    assert "local processes (2)" in capsys.readouterr().out
    assert tables(two) == ref
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dask = tmp_path / "dask"
        code = main(["sweep", str(path), "--scheduler", cluster.scheduler_address,
                     "--out", str(dask), "--quiet", "--no-report"])  # fmt: skip
    assert code == 0
    assert "dask:" in capsys.readouterr().out
    assert tables(dask) == ref


def test_resume_after_kill_loses_and_duplicates_nothing(reference, tmp_path):
    path, _ = reference
    text = path.read_text().replace("population = 300", "population = 2000")
    text = text.replace("months = 12", "months = 36").replace("replicates = 2", "replicates = 8")
    big = write(tmp_path, text, "big.toml")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "simulation", "sweep", str(big), "--out", str(out),
           "--workers", "2", "--quiet", "--no-report"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300  # generous: spawning workers is slow under load
        while len(list((out / "runs").glob("*.json"))) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = sorted((out / "runs").glob("*.json"))
    assert 3 <= len(done) < 32 and not (out / "manifest.json").exists()
    # Also the moment between a run's two files: rows written, summary not yet.
    done[0].unlink()
    (out / "runs" / ".stale.json.x1y2z3w4.tmp").write_text("half")
    first = run_sweep(load_sweep(big), out, workers=1, progress=False, report=False)
    assert first.skipped == len(done) - 1 and first.ran == 32 - first.skipped
    fresh = run_sweep(load_sweep(big), tmp_path / "fresh", workers=1, progress=False, report=False)
    assert tables(out) == tables(fresh.out)
    runs = pd.read_parquet(out / "runs.parquet")
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert runs["run_id"].is_unique and len(runs) == 32
    assert not monthly.duplicated(["run_id", "month"]).any() and len(monthly) == 32 * 37
    assert not list((out / "runs").glob(".*.tmp"))
    again = run_sweep(load_sweep(big), out, workers=1, progress=False, report=False)
    assert again.ran == 0 and again.skipped == 32 and tables(out) == tables(fresh.out)


def test_failing_runs_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # Two failures only a run can find: a plan that does not validate (plans are validated by
    # each run) and a combination the scenario refuses (more founders than persons). A value
    # no run could use (join_prob = 1.5) is refused when the file is read instead (below).
    broken = write(tmp_path, "[plan]\nname = 'broken'\n[unilevel]\npercentages = [1.5]\n", "p.toml")
    text = SMALL.replace("recruit.join_prob = [0.3, 0.7]", "market.founders = [3, 400]").replace(
        '"recruiting_heavy"]', f'"{broken.name}"]'
    )
    path = write(tmp_path, text)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out), "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "8 runs: 2 ok, 6 failed" in printed
    runs = pd.read_parquet(out / "runs.parquet").set_index("run_id")
    ok = runs[runs["status"] == "ok"]
    assert set(ok["market.founders"]) == {3} and set(ok["plan.file"]) == {"unilevel_5"}
    bad_founders = runs[runs["market.founders"] == 400]
    assert (bad_founders["status"] == "error").all()
    assert (
        bad_founders["error"]
        .str.contains("market.founders (400) cannot exceed market.population (300)", regex=False)
        .all()
    )
    bad_plan = runs[(runs["plan.file"] == "p.toml") & (runs["market.founders"] == 3)]
    assert bad_plan["error"].str.contains("unilevel.percentages").all()
    assert runs.loc[bad_plan.index, "seed"].notna().all()
    record = json.loads((out / "runs" / f"{bad_plan.index[0]}.json").read_text())
    assert record["values"] == {"market.founders": 3, "plan.file": "p.toml"}
    assert "Traceback" in record["traceback"] and record["status"] == "error"
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert set(monthly["run_id"]) == set(ok.index)
    # A rerun keeps the recorded failures; --retry-failed runs them again.
    again = run_sweep(load_sweep(path), out, workers=1, progress=False, report=False)
    assert again.ran == 0 and again.failed == 6
    retry = run_sweep(
        load_sweep(path), out, workers=1, progress=False, report=False, retry_failed=True
    )
    assert retry.ran == 6 and retry.failed == 6


def die_on_replicate_one(task):
    """A worker that dies hard (as if killed or out of memory) on replicate 1."""
    from simulation.sweep import run_task

    if task["replicate"] == 1:
        os._exit(1)
    return run_task(task)


def test_a_dead_worker_loses_runs_but_not_the_finished_ones(tmp_path):
    from simulation.sweep import run_pool as _run_pool

    tasks = load_sweep(write(tmp_path, SMALL)).tasks()
    got = []
    lost = _run_pool(tasks, 2, got.append, fn=die_on_replicate_one)
    assert lost >= 1 and lost + len(got) == len(tasks)
    assert all(r["status"] == "ok" and r["replicate"] == 0 for r in got)


def test_lost_runs_leave_the_sweep_unfinished_until_rerun(tmp_path, monkeypatch, capsys):
    import simulation.sweep.driver as sw

    real = sw.run_inprocess

    def lose_half(tasks, on_result):
        return real(tasks[::2], on_result) + len(tasks[1::2])

    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    monkeypatch.setattr(sw, "run_inprocess", lose_half)
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out), "--quiet"]) == 1
    assert "4 not finished" in capsys.readouterr().out
    assert not (out / "manifest.json").exists()
    assert len(pd.read_parquet(out / "runs.parquet")) == 4
    monkeypatch.setattr(sw, "run_inprocess", real)
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out), "--quiet"]) == 0
    assert "(4 run now, 4 already done)" in capsys.readouterr().out
    assert (out / "manifest.json").exists() and len(pd.read_parquet(out / "runs.parquet")) == 8


def test_a_different_sweep_in_the_same_folder_is_refused(reference, tmp_path, capsys):
    _, res = reference
    other = write(tmp_path, SMALL.replace("replicates = 2", "replicates = 3"))
    assert main(["sweep", str(other), "--out", str(res.out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds runs of a different sweep" in err and str(res.out) in err


def test_a_shock_changes_the_run_from_its_month_on(tmp_path):
    base = SMALL.replace("[parameters]", "[parameters]\nrecruit.pitches_per_month = [4.0]")
    shock = base + "\n[[shocks]]\nmonth = 6\nset = { recruit.join_prob = 0.0 }\n"
    runs = {}
    for name, text in (("plain", base), ("shock", shock)):
        out = tmp_path / name
        run_sweep(load_sweep(write(tmp_path, text)), out, workers=1, progress=False, report=False)
        m = pd.read_parquet(out / "monthly.parquet")
        runs[name] = m[(m["point"] == 2) & (m["replicate"] == 0)].set_index("month")
    plain, shocked = runs["plain"], runs["shock"]
    cols = [c for c in plain.columns if c != "run_id"]
    pd.testing.assert_frame_equal(plain.loc[:5, cols], shocked.loc[:5, cols])
    assert (shocked.loc[6:, "joined"] == 0).all() and plain.loc[6:, "joined"].sum() > 0


def test_dry_run_prints_the_design(tmp_path, capsys):
    assert main(["sweep", str(write(tmp_path, SMALL)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 points x 2 replicates = 8 runs" in out and "join_prob=0.7, plan=unilevel_5" in out


# ------------------------------------------------------------------------------ bad files


BAD = {
    "[sweeps]\n": ["unknown key 'sweeps'"],
    "[sweep]\nreplicate = 3\n": ["unknown key 'sweep.replicate' (value 3)"],
    "[sweep]\nreplicates = 0\n": ["sweep.replicates = 0", "greater than or equal to 1"],
    '[sweep]\ndesign = "magic"\n': ["sweep.design = 'magic'", "'lhs'"],
    '[sweep]\nscenario = "nowhere"\n': ["sweep.scenario = 'nowhere'", "not found"],
    "x = \n": ["not valid TOML"],
    "[sweep]\n[base]\nmarket.population = -5\n": ["[base]: market.population = -5"],
    "[sweep]\n[base]\nscenario.seed = 3\n": ["base.scenario.seed", "master_seed"],
    '[sweep]\n[base]\nplan.file = "no_such_plan"\n': ["plan.file = 'no_such_plan'", "not found"],
    "[sweep]\n[parameters]\nmarkets.population = [300]\n": [
        "parameters.markets.population: unknown key 'markets.population'; "
        "closest valid keys: market.population"
    ],
    "[sweep]\n[parameters]\nrecruit.join_probability = [0.1]\n": [
        "parameters.recruit.join_probability: unknown key 'recruit.join_probability'; "
        "closest valid keys: recruit.join_prob"
    ],
    "[sweep]\n[parameters]\nrecruit.join_prob = []\n": ["parameters.recruit.join_prob = []"],
    "[sweep]\n[parameters]\nrecruit.join_prob = [0.1, 0.1]\n": ["0.1 is listed twice"],
    "[sweep]\n[parameters]\nrecruit.join_prob = 0.3\n": [
        "parameters.recruit.join_prob = 0.3: expected a list of values or a range"
    ],
    "[sweep]\n[parameters]\nrecruit.join_prob = { low = 0.5, high = 0.2, levels = 3 }\n": [
        "parameters.recruit.join_prob",
        "low (0.5) must be below high (0.2)",
    ],
    "[sweep]\n[parameters]\nrecruit.join_prob = { low = 0.1, high = 0.2, step = 3 }\n": [
        "unknown key 'parameters.recruit.join_prob.step'"
    ],
    "[sweep]\n[parameters]\nquit.base_monthly = { low = 0, high = 0.1, log = true, levels = 2 }"
    "\n": ["log = true needs low > 0"],
    "[sweep]\n[parameters]\nrecruit.join_prob = { low = 0.1, high = 0.6 }\n": [
        "parameters.recruit.join_prob: a grid needs levels = N"
    ],
    "[sweep]\n[parameters]\nplan.file = { low = 1, high = 2 }\n": ["needs a numeric parameter"],
    "[sweep]\n[parameters]\nscenario.seed = [1, 2]\n": ["seeds are not a parameter"],
    '[sweep]\n[parameters]\nplan.file = ["unilevel_5", "no_such_plan"]\n': [
        "plan.file = 'no_such_plan'"
    ],
    '[sweep]\ndesign = "lhs"\n[parameters]\nrecruit.join_prob = { low = 0.1, high = 0.6 }\n': [
        "sweep.samples: design 'lhs' needs samples = N"
    ],
    '[sweep]\ndesign = "sobol"\nsamples = 10\n[parameters]\nrecruit.join_prob = '
    "{ low = 0.1, high = 0.6 }\n[sensitivity]\noutcomes = ['penetration']\n": [
        "sweep.samples = 10",
        "power of two",
    ],
    '[sweep]\ndesign = "morris"\nsamples = 4\n[parameters]\nrecruit.join_prob = '
    "{ low = 0.1, high = 0.6 }\nquit.base_monthly = { low = 0.01, high = 0.05 }\n": [
        "design 'morris' needs a [sensitivity] section"
    ],
    '[sweep]\ndesign = "morris"\nsamples = 4\n[parameters]\nrecruit.join_prob = '
    "{ low = 0.1, high = 0.6 }\nplan.file = ['unilevel_5']\n"
    "[sensitivity]\noutcomes = ['penetration']\n": ["parameters.plan.file", "ranges only"],
    "[sweep]\n[sensitivity]\noutcomes = ['penetration']\n": ["[sensitivity] needs design"],
    '[sweep]\ndesign = "sobol"\nsamples = 8\n[parameters]\nrecruit.join_prob = '
    "{ low = 0.1, high = 0.6 }\n[sensitivity]\noutcomes = ['happiness']\n": [
        "sensitivity.outcomes: unknown outcome 'happiness'"
    ],
    "[sweep]\n[[shocks]]\nmonth = 3\nset = { market.population = 10 }\n": [
        "shocks[0].set.market.population is read once when the model is built"
    ],
    "[sweep]\n[[shocks]]\nmonth = 0\nset = { recruit.join_prob = 0.1 }\n": ["shocks.0.month = 0"],
}


@pytest.mark.parametrize("text", list(BAD), ids=range(len(BAD)))
def test_bad_sweep_file_names_file_key_and_value(text, tmp_path, capsys):
    path = write(tmp_path, text, "bad.toml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and "Traceback" not in err
    for fragment in BAD[text]:
        assert fragment in err
    assert not (tmp_path / "out").exists()


def test_missing_sweep_file_and_bad_workers(tmp_path, capsys):
    assert main(["sweep", "no_such_sweep"]) == 2
    assert "sweep file 'no_such_sweep' not found" in capsys.readouterr().err
    path = write(tmp_path, SMALL)
    assert main(["sweep", str(path), "--workers", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--workers 0: need at least 1" in capsys.readouterr().err


def test_unreachable_scheduler_is_a_user_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("simulation.sweep.executors.CONNECT_TIMEOUT", "1s")
    path = write(tmp_path, SMALL)
    code = main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--out",
                 str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err


# ------------------------------------------------------------------------------ report


def test_report_fans_and_page(reference, tmp_path):
    from simulation import sweep_report

    _, res = reference
    files = sweep_report.write_report(res.out)
    assert {"fan.parquet", "report.html", "figures/fans.png", "figures/outcomes.png"} <= set(files)
    fan = pd.read_parquet(res.out / "fan.parquet")
    monthly = pd.read_parquet(res.out / "monthly.parquet")
    runs = pd.read_parquet(res.out / "runs.parquet")
    point = runs[runs["point"] == 3]
    label = point["label"].iloc[0]
    sel = monthly[monthly["run_id"].isin(point["run_id"]) & (monthly["month"] == 12)]
    row = fan[(fan["group"] == label) & (fan["metric"] == "distributors") & (fan["month"] == 12)]
    assert row["n"].item() == 2
    assert row["mean"].item() == pytest.approx(sel["distributors"].mean())
    assert row["p05"].item() == pytest.approx(np.quantile(sel["distributors"], 0.05))
    assert row["p95"].item() == pytest.approx(np.quantile(sel["distributors"], 0.95))
    assert set(fan["group"]) == set(runs["label"])  # 4 points: one fan each
    page = (res.out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "join_prob=0.7, plan=recruiting_heavy" in page


def test_morris_finds_that_conversion_drives_penetration(tmp_path):
    text = """
[sweep]
design = "morris"
samples = 4
replicates = 1
master_seed = 2
[base]
market.population = 300
scenario.months = 12
[parameters]
recruit.join_prob = { low = 0.1, high = 0.9 }
costs.fixed_usd_monthly = { low = 0.0, high = 30.0 }
retail.order_pv = { low = 20.0, high = 40.0 }
[sensitivity]
outcomes = ["penetration", "median_net_income"]
"""
    sweep = load_sweep(write(tmp_path, text))
    assert len(sweep.points) == 4 * (3 + 1)
    out = tmp_path / "out"
    assert main(["sweep", sweep.source, "--workers", "1", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "sensitivity.csv")
    pen = table[table["outcome"] == "penetration"].set_index("parameter")["mu_star"]
    assert pen["recruit.join_prob"] > 5 * pen["costs.fixed_usd_monthly"]
    assert pen["recruit.join_prob"] > 5 * pen["retail.order_pv"]
    net = table[table["outcome"] == "median_net_income"].set_index("parameter")
    # Fixed costs push net income down: the mean elementary effect is negative.
    assert net.loc["costs.fixed_usd_monthly", "mu"] < 0
    assert (out / "figures" / "sensitivity.png").stat().st_size > 10_000
    assert "Sensitivity" in (out / "report.html").read_text()
    # The folder's data dictionary (docs/codebook.md) describes every column of every table,
    # the design's unit:<parameter> columns and the report's fan.parquet included.
    described = json.loads((out / "columns.json").read_text())["tables"]
    assert set(described) == {
        f for f in codebook.SWEEP_TABLES if f not in ("stress.csv", "policy.csv")
    }
    for name, columns in described.items():
        assert list(columns) == codebook.file_columns(out / name), name


def test_sobol_design_size(tmp_path):
    text = """
[sweep]
design = "sobol"
samples = 8
[parameters]
recruit.join_prob = { low = 0.1, high = 0.9 }
costs.fixed_usd_monthly = { low = 0.0, high = 30.0 }
quit.base_monthly = { low = 0.005, high = 0.05, log = true }
[sensitivity]
outcomes = ["penetration"]
"""
    sweep = load_sweep(write(tmp_path, text))
    assert len(sweep.points) == 8 * (3 + 2)
    values = np.array([p.values["quit.base_monthly"] for p in sweep.points])
    assert values.min() >= 0.005 and values.max() <= 0.05


def test_plan_values_changed_in_the_base_reach_every_run(tmp_path):
    # A cap of 1% of BV binds every month the plan pays: every run's payout ratio <= 1%.
    text = SMALL.replace("[base]\n", '[base]\nplan.set = { "cap.ratio" = 0.01 }\n').replace(
        'plan.file = ["unilevel_5", "recruiting_heavy"]', 'plan.file = ["unilevel_5"]'
    )
    res = run_sweep(load_sweep(write(tmp_path, text)), tmp_path / "o", workers=1, progress=False,
                    report=False)  # fmt: skip
    runs = pd.read_parquet(res.out / "runs.parquet")
    assert (runs["status"] == "ok").all() and len(runs) == 4
    assert (runs["cap_ratio"] == 0.01).all()
    assert (runs["payout_ratio"] <= 0.01 + 1e-12).all() and (runs["payout_ratio"] > 0).all()


def test_a_plan_value_is_a_sweep_parameter(tmp_path):
    text = SMALL.replace(
        'plan.file = ["unilevel_5", "recruiting_heavy"]', "plan.cap.ratio = [0.01, 0.45]"
    )
    res = run_sweep(load_sweep(write(tmp_path, text)), tmp_path / "o", workers=1, progress=False,
                    report=False)  # fmt: skip
    runs = pd.read_parquet(res.out / "runs.parquet")
    assert (runs["status"] == "ok").all() and len(runs) == 8
    assert sorted(runs["cap_ratio"].unique()) == [0.01, 0.45]
    # The 1% cap binds; the 45% cap does not (the plan pays at most 25% of BV).
    tight = runs[runs["cap_ratio"] == 0.01]
    assert (tight["payout_ratio"] <= 0.01 + 1e-12).all()
    loose = runs[runs["cap_ratio"] == 0.45]
    assert (loose["payout_ratio"] > 0.01).all()


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ("[0.3, 2.0]", "parameters.plan.cap.ratio = 2.0"),
        ("{ low = 0.1, high = 3.0, levels = 2 }", "parameters.plan.cap.ratio (range end) = 3.0"),
    ],
)
def test_a_bad_plan_value_in_a_sweep_is_refused_when_read(tmp_path, values, fragment):
    text = SMALL.replace(
        'plan.file = ["unilevel_5", "recruiting_heavy"]', f"plan.cap.ratio = {values}"
    )
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_sweep(write(tmp_path, text))
