"""Ensembles: ``mlmsim run --seeds N`` and ``--posterior`` (docs/report.md, "Ensembles").

The intervals are checked against numpy percentiles over the outcomes read back from each
run's own folder; the seeds and posterior draws against the documented rules, worked out
here independently; the outputs byte for byte across worker counts; each run's folder
against a single ``mlmsim run --seed S`` of the same seed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulation.cli import main
from simulation.intervals import band_text, interval_table, whole
from simulation.outcomes import OUTCOMES, sweep_outcomes
from simulation.report import pct
from simulation.results import load_run

SCENARIO = """\
[scenario]
name = "tiny"
seed = 7
months = 12

[market]
population = 300
founders = 3
mean_degree = 6

[recruit]
join_prob = 0.5
"""

# Tables every run folder holds; their bytes must not depend on the workers.
TABLES = (
    "monthly.csv",
    "levels.csv",
    "distributors.parquet",
    "summary.json",
    "income_disclosure.csv",
    "concentration.csv",
    "level_saturation.csv",
    "survival.csv",
    "analysis.json",
    "columns.json",
)


def seed_rule(master: int, *key: int) -> int:
    """The documented rule, written out: SeedSequence(master, spawn_key=key), 63 bits."""
    state = np.random.SeedSequence(master, spawn_key=key).generate_state(1, np.uint64)
    return int(state[0]) >> 1


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scen") / "tiny.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ensemble(scenario, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ens") / "five"
    args = ["run", str(scenario), "--seeds", "5", "--workers", "1", "--out", str(out), "--quiet"]
    return out, _run(args)


def _run(args: list[str]) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    assert code == 0
    return buf.getvalue()


def test_interval_table_by_hand():
    # Linear interpolation over 1..5: the 5th percentile sits 0.2 of the way from 1 to 2.
    runs = pd.DataFrame({"x": [5, 1, 4, 2, 3], "y": [1.0, None, np.nan, 3.0, 2.0]})
    t = interval_table(runs, ["x", "y", "absent"]).set_index("outcome")
    assert list(t.index) == ["x", "y"]
    assert t.loc["x", ["n", "median", "p05", "p95"]].tolist() == pytest.approx([5, 3, 1.2, 4.8])
    # Missing values are left out: 3 runs have y; 1, 2, 3 -> 1.1, 2, 2.9.
    assert t.loc["y", ["n", "median", "p05", "p95"]].tolist() == pytest.approx([3, 2, 1.1, 2.9])
    band = {"median": 0.5, "p05": 0.25, "p95": 0.75, "n": 3, "runs": 5}
    assert band_text(band, pct) == "50.0% (90% interval 25.0%–75.0%, 3 of 5 runs)"
    assert band_text({**band, "runs": 1, "n": 1}, pct) == "50.0%"
    # Medians of counts fall between whole numbers: shown, not rounded away.
    assert [whole(x) for x in (1234.0, 230.5, 13.75, None)] == ["1,234", "230.5", "13.8", "n/a"]


def test_seeds_follow_the_documented_rule(ensemble):
    out, _ = ensemble
    manifest = json.loads((out / "manifest.json").read_text())
    expected = [seed_rule(7, 0, r) for r in range(5)]
    assert manifest["seeds"]["list"] == expected
    assert "spawn_key=(0, r)" in manifest["seeds"]["rule"]
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(f"seed-{s}" for s in expected)
    for r, s in enumerate(expected):
        member = json.loads((out / "runs" / f"seed-{s}" / "manifest.json").read_text())
        assert member["seed"] == s and member["scenario"]["scenario"]["seed"] == s
        assert member["ensemble"]["replicate"] == r and member["ensemble"]["master_seed"] == 7


def test_intervals_are_percentiles_of_the_runs_read_back(ensemble):
    out, _ = ensemble
    folders = sorted((out / "runs").iterdir())
    # Each run's summary.json (its headline outcomes, exact), and the other outcomes
    # recomputed from its tables read back (monthly.csv holds 10 significant digits).
    own = [json.loads((f / "summary.json").read_text()) for f in folders]
    again = [sweep_outcomes(load_run(f)) for f in folders]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 5 and summary["percentiles"] == [5.0, 50.0, 95.0]
    bands = summary["outcomes"]
    assert set(bands) == set(OUTCOMES)
    spread = 0
    for key in OUTCOMES:
        exact = key in own[0]
        rows = own if exact else again
        values = np.array([r[key] for r in rows if r[key] is not None], dtype=float)
        b = bands[key]
        assert b["n"] == values.size and b["runs"] == 5, key
        if not values.size:
            assert b["median"] is None
            continue
        p05, p50, p95 = np.percentile(values, [5, 50, 95])
        tol = {"rel": 0.0, "abs": 0.0} if exact else {"rel": 1e-8, "abs": 1e-12}
        assert b["median"] == pytest.approx(p50, **tol), key
        assert b["p05"] == pytest.approx(p05, **tol), key
        assert b["p95"] == pytest.approx(p95, **tol), key
        assert b["p05"] <= b["median"] <= b["p95"], key
        spread += b["p95"] > b["p05"]
    assert spread >= 10  # the seeds differ: most outcomes vary across runs
    # Each run's own summary.json agrees with what the ensemble table holds.
    table = pd.read_csv(out / "ensemble.csv")
    assert len(table) == 5
    for f in folders:
        own = json.loads((f / "summary.json").read_text())
        row = table[table["name"] == f.name].iloc[0]
        assert row["share_net_loss"] == pytest.approx(own["share_net_loss"], rel=1e-9)
        assert row["ever_joined"] == own["ever_joined"]


def test_terminal_and_cards_show_intervals(ensemble):
    out, printed = ensemble
    b = json.loads((out / "summary.json").read_text())["outcomes"]
    loss = b["share_net_loss"]
    text = f"{pct(loss['median'])} (90% interval {pct(loss['p05'])}–{pct(loss['p95'])}, 5 runs)"
    assert re.search(rf"lost money \(own use valued\)\s+{re.escape(text)}", printed)
    top1 = b["top1_commissions"]
    assert f"{pct(top1['median'])} (90% interval {pct(top1['p05'])}–" in printed
    html = (out / "report.html").read_text()
    cards = html[html.index('id="answers"') : html.index('id="ensemble"')]
    assert f'<div class="big">{pct(loss["median"])}</div>' in cards
    assert f"(90% interval {pct(loss['p05'])}–{pct(loss['p95'])}, 5 runs)" in cards
    payout, retail = b["payout_ratio"], b["retail_share"]
    assert f"{pct(payout['median'])} · {pct(retail['median'])}" in cards
    lost = b["survey_lost"]
    said = f"{pct(lost['median'])} (90% interval {pct(lost['p05'])}–{pct(lost['p95'])}, 5 runs)"
    assert f"{said} lost money" in html.replace("&#x27;", "'")
    assert "fig-fans" in html and "One run in detail" in html
    # `mlmsim report` of the ensemble's folder points to its page and its runs.
    assert main(["report", str(out)]) == 2
    # The fan table: per month, the band holds the median, over the 5 runs.
    fan = pd.read_parquet(out / "fan.parquet")
    d = fan[fan["metric"] == "distributors"]
    assert (d["n"] == 5).all() and (d["p05"] <= d["p50"]).all() and (d["p50"] <= d["p95"]).all()


def test_single_run_output_has_no_intervals(scenario, tmp_path):
    printed = _run(["run", str(scenario), "--out", str(tmp_path / "one"), "--quiet"])
    assert "interval" not in printed and "lost money (own use valued)" in printed
    html = (tmp_path / "one" / "report.html").read_text()
    assert "90% interval" not in html
    assert not (tmp_path / "one" / "runs").exists()


def test_member_is_the_single_run_of_its_seed_and_executors_do_not_matter(scenario, tmp_path):
    one = tmp_path / "w1"
    two = tmp_path / "w2"
    base = ["run", str(scenario), "--seeds", "3", "--quiet", "--no-figures"]
    _run([*base, "--workers", "1", "--out", str(one)])
    _run([*base, "--workers", "2", "--out", str(two)])
    m1 = json.loads((one / "manifest.json").read_text())
    m2 = json.loads((two / "manifest.json").read_text())
    assert m1["executor"] == "in-process" and m2["executor"] == "local processes (2)"
    for key in ("created", "executor", "timings_s"):
        m1.pop(key), m2.pop(key)
    assert m1 == m2
    for name in ("ensemble.csv", "intervals.csv", "summary.json", "fan.parquet", "columns.json"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    names = sorted(p.name for p in (one / "runs").iterdir())
    assert names == sorted(p.name for p in (two / "runs").iterdir())
    for name in names:
        for table in TABLES:
            a, b = one / "runs" / name / table, two / "runs" / name / table
            assert a.read_bytes() == b.read_bytes(), (name, table)
    # On a Dask cluster (in this process: no worker start-up), the same bytes again.
    from distributed import LocalCluster

    dask = tmp_path / "dask"
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        _run([*base, "--scheduler", cluster.scheduler_address, "--out", str(dask)])
    md = json.loads((dask / "manifest.json").read_text())
    assert md["executor"].startswith("dask:")
    for name in ("ensemble.csv", "intervals.csv", "summary.json", "fan.parquet"):
        assert (one / name).read_bytes() == (dask / name).read_bytes(), name
    for name in names:
        for table in TABLES:
            a, b = one / "runs" / name / table, dask / "runs" / name / table
            assert a.read_bytes() == b.read_bytes(), (name, table)
    # A run of the ensemble is exactly `mlmsim run --seed S` of its seed.
    seed = int(names[0].removeprefix("seed-"))
    single = tmp_path / "single"
    _run(["run", str(scenario), "--seed", str(seed), "--out", str(single), "--quiet",
          "--no-figures"])  # fmt: skip
    for table in TABLES:
        assert (single / table).read_bytes() == (one / "runs" / names[0] / table).read_bytes()


# --------------------------------------------------------------------------------------------
# posterior draws


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cal")
    samples = {
        "recruit.join_prob": [0.2, 0.35, 0.5, 0.65, 0.8],
        "quit.base_monthly": [0.02, 0.03, 0.04, 0.05, 0.06],
        "weight": [0.25, 0.0, 0.5, 0.0, 0.25],  # rows 1 and 3 can never be drawn
        "distance": [0.1, 0.9, 0.2, 0.8, 0.3],  # written by mlmsim calibrate, not read
    }
    pq.write_table(pa.table(samples), folder / "tiny_posterior.parquet")
    text = SCENARIO.replace("join_prob = 0.5", "join_prob = 0.5\n\n[quit]\nbase_monthly = 0.04")
    text += """
[posterior]
parameters = ["recruit.join_prob", "quit.base_monthly"]
samples = "tiny_posterior.parquet"
median = { "recruit.join_prob" = 0.5, "quit.base_monthly" = 0.04 }
method = "written by hand for this test"

[posterior.provenance]
targets = "none: a test"
"""
    path = folder / "tiny_calibrated.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_posterior_draws_follow_the_rule_and_widen_the_bands(calibrated, tmp_path):
    out = tmp_path / "post"
    args = ["run", str(calibrated), "--posterior", "--draws", "6", "--seeds", "2"]
    printed = _run([*args, "--workers", "1", "--out", str(out), "--quiet"])
    assert re.search(r"runs\s+12: 6 posterior draws x 2 seeds \(parameter uncertainty", printed)
    manifest = json.loads((out / "manifest.json").read_text())
    samples = pq.read_table(calibrated.parent / "tiny_posterior.parquet").to_pandas()
    w = samples["weight"].to_numpy() / samples["weight"].sum()
    assert manifest["posterior"]["parameters"] == ["recruit.join_prob", "quit.base_monthly"]
    assert manifest["posterior"]["samples"] == 5 and manifest["draws"] == 6
    rows_seen = set()
    for run in manifest["runs"]:
        d, r = run["draw"], run["replicate"]
        rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3, d)))
        row = int(rng.choice(5, p=w))
        assert run["sample_row"] == row and run["seed"] == seed_rule(7, 1, d, r)
        rows_seen.add(row)
        member = json.loads((out / "runs" / run["name"] / "manifest.json").read_text())
        assert member["scenario"]["recruit"]["join_prob"] == samples["recruit.join_prob"][row]
        assert member["scenario"]["quit"]["base_monthly"] == samples["quit.base_monthly"][row]
        assert member["seed"] == run["seed"]
    assert rows_seen <= {0, 2, 4} and len(rows_seen) >= 2  # zero weight: never drawn
    assert len(manifest["runs"]) == 12
    # The intervals are over all 12 runs, parameter draws included.
    table = pd.read_csv(out / "ensemble.csv")
    assert len(table) == 12 and set(table["draw"]) == set(range(6))
    bands = json.loads((out / "summary.json").read_text())["outcomes"]
    p05, p50, p95 = np.percentile(table["penetration"], [5, 50, 95])
    assert bands["penetration"]["median"] == pytest.approx(p50)
    assert (bands["penetration"]["p05"], bands["penetration"]["p95"]) == pytest.approx((p05, p95))
    html = (out / "report.html").read_text()
    assert "The posterior draws" in html and "parameter uncertainty" in html
    assert "written by hand for this test" in html and "none: a test" in html


def test_posterior_draws_do_not_depend_on_how_many(calibrated, tmp_path):
    """Draw d takes the same sample row whatever --draws is (the rule keys on d only)."""
    few, many = tmp_path / "few", tmp_path / "many"
    base = ["run", str(calibrated), "--posterior", "--quiet", "--no-figures", "--workers", "1"]
    _run([*base, "--draws", "2", "--out", str(few)])
    _run([*base, "--draws", "4", "--out", str(many)])
    a = json.loads((few / "manifest.json").read_text())["runs"]
    b = json.loads((many / "manifest.json").read_text())["runs"]
    assert a == b[:2]
    for run in a:
        for table in TABLES:
            x = few / "runs" / run["name"] / table
            assert x.read_bytes() == (many / "runs" / run["name"] / table).read_bytes()


def test_a_failed_run_leaves_no_summary_and_exit_status_1(scenario, tmp_path, monkeypatch, capsys):
    from simulation import ensemble

    real = ensemble.run_member

    def failing(task):
        if task["index"] == 1:
            return {**real({**task}), "status": "error", "error": "RuntimeError: injected"}
        return real(task)

    monkeypatch.setattr(ensemble, "run_member", failing)
    out = tmp_path / "failed"
    code = main(["run", str(scenario), "--seeds", "3", "--workers", "1", "--out", str(out),
                 "--quiet", "--no-figures"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "1 of 3 runs failed and 0 were lost (first: RuntimeError: injected)" in err
    assert not (out / "manifest.json").exists() and not (out / "summary.json").exists()
    # The two runs that finished keep their complete folders.
    finished = [p for p in (out / "runs").iterdir() if (p / "manifest.json").is_file()]
    assert len(finished) == 2


def test_posterior_written_by_mlmsim_calibrate(tmp_path):
    """The calibrated file `mlmsim calibrate` writes, drawn from as it is (with that command)."""
    pytest.importorskip("simulation.calibrate", reason="mlmsim calibrate is not in this tree")
    root = Path(__file__).resolve().parents[1]
    cal = tmp_path / "cal"
    code = main(["calibrate", "realistic",
                 "--targets", str(root / "scenarios" / "targets" / "doterra_us_2017.toml"),
                 "--priors", str(root / "scenarios" / "priors" / "doterra_us_2017.toml"),
                 "--set", "plan.file=unilevel_7_dt", "--set", "market.population=600",
                 "--set", "scenario.months=24", "--population", "20", "--generations", "2",
                 "--workers", "1", "--out", str(cal), "--no-report", "--quiet"])  # fmt: skip
    assert code == 0
    out = tmp_path / "post"
    _run(["run", str(cal / "calibrated.toml"), "--posterior", "--draws", "4", "--workers", "1",
          "--out", str(out), "--quiet", "--no-figures"])  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    samples = pd.read_parquet(cal / "posterior.parquet")
    params = manifest["posterior"]["parameters"]
    assert params and set(params) <= set(samples.columns)
    for run in manifest["runs"]:
        member = json.loads((out / "runs" / run["name"] / "manifest.json").read_text())
        for key in params:
            section, _, name = key.partition(".")
            assert member["scenario"][section][name] == samples[key][run["sample_row"]]
