"""Sweeps over a market of several companies: per-company outcomes checked against the
companies' own tables, a sweep run equal to ``mlmsim run --set`` of the same market and seed,
the same bytes with one or two workers, and shocks in every company."""

import dataclasses
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

from simulation import codebook, results
from simulation.cli import main
from simulation.sweep import load_sweep, market_base, run_sweep

POPULATION = 600

SMALL = f"""
[sweep]
name = "market_tiny"
scenario = "two_companies"
replicates = 2
master_seed = 7

[base]
"market.population" = {POPULATION}
"scenario.months" = 14
"companies.beta.launch_month" = 2

[parameters]
"companies.beta.plan" = ["unilevel_5", "unilevel_5_fast_start"]
"""


def write(tmp: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """The small market sweep, in this process, with its report."""
    tmp = tmp_path_factory.mktemp("mkt")
    path = write(tmp, SMALL)
    res = run_sweep(load_sweep(path), tmp / "out", workers=1, progress=False)
    assert res.ok == 4 and res.failed == 0
    return {
        "path": path,
        "out": tmp / "out",
        "runs": pd.read_parquet(tmp / "out" / "runs.parquet"),
        "monthly": pd.read_parquet(tmp / "out" / "monthly.parquet"),
    }


def test_market_base_is_read_whole_and_travels_with_the_tasks(tmp_path):
    """The sweep's market: the file's companies, [base] in its data (the file's own data left
    as read), the varied plan axis; the same object, pickled, in every task."""
    sweep = load_sweep(write(tmp_path, SMALL))
    m = sweep.market
    raw = market_base("two_companies", tmp_path, "test")
    assert m.path == raw.path and m.path.endswith("two_companies.toml")
    assert m.companies == ["alpha", "beta"] and m.holdings == []
    assert m.plan_keys == ["companies.beta.plan"] and raw.plan_keys == []
    assert m.stressed is None
    assert raw.data["market"]["population"] == 5000  # scenarios/two_companies.toml
    assert m.data["market"]["population"] == POPULATION
    assert m.data["scenario"]["months"] == 14
    assert [c["launch_month"] for c in m.data["companies"]] == [0, 2]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.plan_keys = []
    tasks = sweep.tasks()
    assert len(tasks) == 4 and all(t["market"] is m for t in tasks)
    assert pickle.loads(pickle.dumps(tasks[0]))["market"] == m
    assert sweep.spec()["market"] == {
        "scenario_file": m.path,
        "companies": ["alpha", "beta"],
        "holdings": [],
    }


def test_outcomes_per_company_agree_with_the_companies_tables(ref):
    runs, monthly = ref["runs"], ref["monthly"]
    assert (runs["status"] == "ok").all()
    for _, r in runs.iterrows():
        rows = monthly[monthly["run_id"] == r["run_id"]]
        assert list(dict.fromkeys(rows["company"])) == ["alpha", "beta"]  # the file's order
        for c in ("alpha", "beta"):
            own = rows[rows["company"] == c]
            # The company's own monthly table (months on the market's clock) and the market's
            # companies table are two bookkeepings of the same members.
            assert r[f"ever_joined__{c}"] == own["ever_joined"].iloc[-1]
            assert r[f"members_end__{c}"] == own["distributors"].iloc[-1]
            assert r[f"peak_members__{c}"] == own["distributors"].max()
            first_peak = own["month"].iloc[int(own["distributors"].to_numpy().argmax())]
            assert r[f"peak_month__{c}"] == first_peak
            assert r[f"penetration__{c}"] == r[f"ever_joined__{c}"] / POPULATION
        beta_launch = rows.loc[rows["company"] == "beta", "month"].min()
        assert beta_launch == 2
        # Shares of all active distributors: they sum to one.
        assert r["market_share_end__alpha"] + r["market_share_end__beta"] == pytest.approx(1.0)
        # Everyone who joined one of them, once: at least each company's, at most the sum.
        joined = [r["ever_joined__alpha"], r["ever_joined__beta"]]
        assert max(joined) <= r["ever_joined_any"] <= sum(joined)
        assert r["penetration_any"] == r["ever_joined_any"] / POPULATION
    # Common seeds: both plans of beta run on the same seeds.
    seeds = runs.groupby("companies.beta.plan")["seed"].apply(sorted)
    assert seeds.iloc[0] == seeds.iloc[1]
    # A fast start pays more to beta's recruiters out of the same kits.
    fast = runs[runs["companies.beta.plan"] == "unilevel_5_fast_start"]
    plain = runs[runs["companies.beta.plan"] == "unilevel_5"]
    assert (
        fast["recruitment_income_share__beta"].min() > plain["recruitment_income_share__beta"].max()
    )


def test_a_sweep_run_is_the_market_run_with_set(ref, tmp_path, monkeypatch):
    runs, monthly = ref["runs"], ref["monthly"]
    r = runs[
        (runs["companies.beta.plan"] == "unilevel_5_fast_start") & (runs["replicate"] == 1)
    ].iloc[0]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    code = main([
        "run", "two_companies", "--set", f"market.population={POPULATION}",
        "--set", "scenario.months=14", "--set", "companies.beta.launch_month=2",
        "--set", "companies.beta.plan=unilevel_5_fast_start",
        "--set", f"scenario.seed={int(r['seed'])}", "--out", str(out), "--no-figures",
        "--quiet",
    ])  # fmt: skip
    assert code == 0
    # monthly.csv of the market folder, byte for byte, from the sweep's rows of that run.
    csv = (out / "monthly.csv").read_bytes()
    header = pd.read_csv(out / "monthly.csv", nrows=0).columns.tolist()
    rows = monthly[monthly["run_id"] == r["run_id"]][header].reset_index(drop=True)
    results.write_csv(rows, tmp_path / "from_sweep.csv")
    assert (tmp_path / "from_sweep.csv").read_bytes() == csv
    summary = json.loads((out / "summary.json").read_text())
    for c, s in summary["companies"].items():
        for k in (
            "peak_members",
            "peak_month",
            "members_end",
            "market_share_end",
            "ever_joined",
            "penetration",
            "switched_in",
            "switched_out",
        ):
            assert r[f"{k}__{c}"] == s[k], (c, k)
        own = json.loads((out / "companies" / c / "summary.json").read_text())
        for k in (
            "share_net_loss",
            "median_net_income",
            "consumer_injury",
            "payout_ratio",
            "revenue",
            "commissions",
        ):
            assert r[f"{k}__{c}"] == own[k], (c, k)
    assert r["ever_joined_any"] == summary["ever_joined_any"]


def test_same_bytes_with_two_workers(ref, tmp_path):
    res = run_sweep(
        load_sweep(ref["path"]), tmp_path / "two", workers=2, progress=False, report=False
    )
    assert res.ok == 4
    for f in ("runs.parquet", "monthly.parquet"):
        assert (tmp_path / "two" / f).read_bytes() == (ref["out"] / f).read_bytes()


def test_report_and_codebook(ref):
    html = (ref["out"] / "report.html").read_text()
    assert "share of members at the end (beta)" in html
    fan = pd.read_parquet(ref["out"] / "fan.parquet")
    assert {"beta.plan=unilevel_5: alpha", "beta.plan=unilevel_5_fast_start: beta"} <= set(
        fan["group"]
    )
    for t in ("runs.parquet", "monthly.parquet", "design.parquet"):
        cols = pd.read_parquet(ref["out"] / t).columns
        assert codebook.describe(codebook.SWEEP + t, cols)[1] == [], t


def test_shocks_reach_every_company(tmp_path):
    """From the shock on nobody is recruited, in the company already running and in the one
    launched after it; only the late company's founders join, at its launch."""
    text = f"""
[sweep]
scenario = "two_companies"
replicates = 1
[base]
"market.population" = {POPULATION}
"scenario.months" = 12
"companies.beta.launch_month" = 8
"switching.enabled" = false
[[shocks]]
month = 5
set = {{ "recruit.join_prob" = 0.0 }}
"""
    run_sweep(
        load_sweep(write(tmp_path, text)), tmp_path / "o", workers=1, progress=False, report=False
    )
    m = pd.read_parquet(tmp_path / "o" / "monthly.parquet")
    late = m[m["month"] >= 5]
    founders = late[(late["company"] == "beta") & (late["month"] == 8)]
    assert founders["joined"].tolist() == [10]  # market.founders of two_companies
    rest = late.drop(founders.index)
    assert rest["joined"].sum() == 0
    early = m[(m["company"] == "alpha") & (m["month"].between(1, 4))]
    assert early["joined"].sum() > 0


def test_market_keys_of_run_set(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            "two_companies",
            "--set",
            "companies.gamma.plan=unilevel_5",
            "--out",
            str(tmp_path / "x"),
            "--quiet",
            "--no-figures",
        ]
    )
    assert code == 2
    assert "no company 'gamma'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------ stress


def test_stress_one_company_of_a_market(tmp_path, monkeypatch, capsys):
    """Beta's plan in every future, alpha keeping its own; the baseline future is the plain
    market run with beta's plan set, and the table reads beta's outcomes."""
    from simulation import stress

    monkeypatch.chdir(tmp_path)
    sets = [f"market.population={POPULATION}", "scenario.months=12"]
    sweep = stress.build("unilevel_5_fast_start", "two_companies", sets, seeds=1, company="beta")
    assert all(
        p.values["companies.beta.plan"].endswith("unilevel_5_fast_start.toml") for p in sweep.points
    )
    out = tmp_path / "st"
    res = run_sweep(
        sweep, out, workers=1, progress=False, report=False, steps=[stress.make_step(sweep)]
    )
    assert res.ok == len(stress.FUTURES)
    runs = pd.read_parquet(out / "runs.parquet")
    table = pd.read_csv(out / "stress.csv")
    assert table["future"].tolist() == list(stress.FUTURES)
    for _, row in table.iterrows():
        r = runs[runs["label"] == row["future"]].iloc[0]
        assert row["payout_ratio_median"] == pytest.approx(r["payout_ratio__beta"], rel=1e-9)
        assert row["market_share_end_median"] == pytest.approx(
            r["market_share_end__beta"], rel=1e-9
        )
    base = runs[runs["label"] == "baseline"].iloc[0]
    code = main(["run", "two_companies", *[x for s in sets for x in ("--set", s)],
                 "--set", "companies.beta.plan=unilevel_5_fast_start",
                 "--set", f"scenario.seed={int(base['seed'])}", "--out", str(tmp_path / "r"),
                 "--no-figures", "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for c in ("alpha", "beta"):
        assert base[f"ever_joined__{c}"] == summary["companies"][c]["ever_joined"]
        assert base[f"market_share_end__{c}"] == summary["companies"][c]["market_share_end"]
    assert sweep.market.plan_keys == ["companies.beta.plan"]
    stressed = sweep.market.stressed
    assert stressed["company"] == "beta" and len(stressed["plans"]) == 1
    assert stressed["plans"][0].endswith("unilevel_5_fast_start.toml")
    flags = json.loads((out / "stress.json").read_text())
    assert flags["company"] == "beta"
    assert flags["caps"] == {"unilevel_5_fast_start": 0.45}  # beta's plan only, not alpha's


def test_stress_market_needs_the_company(tmp_path, monkeypatch):
    from simulation import stress
    from simulation.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="a market of alpha, beta; name the company"):
        stress.build("unilevel_5", "two_companies")
    with pytest.raises(ConfigError, match=r"--company gamma: .* a market of alpha, beta"):
        stress.build("unilevel_5", "two_companies", company="gamma")
    with pytest.raises(ConfigError, match="has one company"):
        stress.build("unilevel_5", "classroom", company="beta")


def test_plan_files_relative_to_the_sweep_file(tmp_path, monkeypatch):
    """A company's plan and the shared plan, given as files next to the sweep file, are read
    from there whatever the current folder (as plan.file in a one-company sweep)."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "mine.toml").write_bytes(
        (root / "scenarios" / "plans" / "unilevel_5_fast_start.toml").read_bytes()
    )
    text = """
[sweep]
scenario = "two_companies"
[base]
"market.population" = 300
"scenario.months" = 8
[parameters]
"plan.file" = ["plans/mine.toml"]
"companies.beta.plan" = ["plans/mine.toml", "unilevel_5"]
"""
    path = write(tmp_path, text)
    monkeypatch.chdir(root)
    res = run_sweep(load_sweep(path), tmp_path / "o", workers=1, progress=False, report=False)
    assert res.ok == 2
    runs = pd.read_parquet(tmp_path / "o" / "runs.parquet")
    mine = runs[runs["companies.beta.plan"] == "plans/mine.toml"].iloc[0]
    plain = runs[runs["companies.beta.plan"] == "unilevel_5"].iloc[0]
    # The fast start of mine.toml pays beta's enrollers. (The shared plan.file is only read:
    # both companies of two_companies name their own plan.)
    assert mine["recruitment_income_share__beta"] > plain["recruitment_income_share__beta"]


def test_identical_companies_are_symmetric_over_seeds(tmp_path):
    """Two identical companies launched together: over 12 seeds the paired difference of
    their outcomes has a 95% interval holding zero, and their end shares sum to one."""
    from scipy import stats

    text = """
[sweep]
scenario = "two_companies"
replicates = 12
master_seed = 2
[base]
"market.population" = 800
"scenario.months" = 18
"companies.beta.launch_month" = 0
"companies.beta.plan" = "unilevel_5"
"""
    run_sweep(
        load_sweep(write(tmp_path, text)), tmp_path / "o", workers=1, progress=False, report=False
    )
    runs = pd.read_parquet(tmp_path / "o" / "runs.parquet")
    assert len(runs) == 12 and (runs["status"] == "ok").all()
    shares = runs["market_share_end__alpha"] + runs["market_share_end__beta"]
    assert shares.to_numpy() == pytest.approx(1.0)
    for o in ("ever_joined", "peak_members", "market_share_end"):
        d = (runs[f"{o}__alpha"] - runs[f"{o}__beta"]).to_numpy(dtype=float)
        half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / d.size**0.5
        assert abs(d.mean()) <= half, (o, d.mean(), half)
