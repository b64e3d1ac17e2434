"""``mlmsim calibrate --evaluate N``: the scenario as it is against a target file, no fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.calibrate.targets import load_targets
from simulation.cli import main

ROOT = Path(__file__).resolve().parents[1]
REACH = ROOT / "scenarios" / "targets" / "realistic_reach.toml"
PRIORS = ROOT / "scenarios" / "priors" / "realistic_costs.toml"
# A small town over two years, nobody quitting: attrition is 0 by construction.
SMALL = ["--set", "market.population=3000", "--set", "scenario.months=24",
         "--set", "quit.enabled=false"]  # fmt: skip


def _evaluate(out, *extra: str) -> int:
    return main(["calibrate", "realistic", "--targets", str(REACH), *SMALL, "--quiet",
                 "--out", str(out), *extra])  # fmt: skip


@pytest.mark.slow
def test_evaluate_runs_the_scenario_as_it_is_seed_by_seed(tmp_path, capsys):
    csv = tmp_path / "evaluate.csv"
    assert _evaluate(csv, "--evaluate", "3", "--workers", "1") == 0
    out = capsys.readouterr().out
    runs = pd.read_csv(csv)
    assert runs["seed"].tolist() == [1, 2, 3]
    ranks = ["Consultant", "Manager", "Director", "Executive", "Elite", "Premier", "Silver",
             "Gold", "Platinum", "Diamond"]  # fmt: skip
    targets = load_targets(REACH, ranks, "doterra_pools", 24)
    assert list(runs.columns[1:]) == list(targets.observed)
    # Nobody quits, so nobody quit in the year; every member is in exactly one bucket.
    assert (runs["attrition"] == 0.0).all()
    shares = [c for c in runs.columns if c.startswith("share: ")]
    np.testing.assert_allclose(runs[shares].sum(axis=1), 1.0, atol=1e-12)

    # Seed 1 is `mlmsim run` with seed 1: its share paid nothing, counted here from the run's
    # own table (the year's members: every distributor who joined by month 24, no wholesale
    # customers, since nobody quits), is the evaluation's.
    folder = tmp_path / "run"
    run_args = ["run", "realistic", *SMALL, "--seed", "1", "--out", str(folder), "--quiet",
                "--no-figures"]  # fmt: skip
    assert main(run_args) == 0
    capsys.readouterr()
    dist = pd.read_parquet(folder / "distributors.parquet")
    year = (dist["status"] == "distributor") & ~dist["wholesale"] & (dist["join_month"] >= 0)
    by_hand = float((dist.loc[year, "commissions_year"] <= 0).mean())
    assert runs.loc[0, "share_paid_nothing"] == pytest.approx(by_hand, abs=1e-12)

    # The verdicts: fewer than 20 runs, so the range is their lowest to highest.
    assert "lowest to highest of 3 runs (chance alone: the parameters are fixed)" in out
    for stat, published in targets.observed.items():
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{stat}  "))
        lo, hi = runs[stat].min(), runs[stat].max()
        verdict = "inside" if lo <= published <= hi else "outside"
        if stat == "share: Silver to Presidential Diamond":  # weight 0 in the file
            verdict += " (not fitted)"
        assert line.rstrip().endswith(verdict), line
    assert "attrition" in out and out.count("outside") >= 1  # 0% against 54%

    # The worker count does not change the runs.
    again = tmp_path / "again.csv"
    assert _evaluate(again, "--evaluate", "3", "--workers", "2") == 0
    assert again.read_bytes() == csv.read_bytes()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--evaluate", "0"], "--evaluate 0: need at least 1"),
        (["--evaluate", "2", "--priors", str(PRIORS)], "--priors: --evaluate runs the scenario"),
        (["--evaluate", "2", "--population", "50"], "--population: --evaluate runs the scenario"),
        (["--evaluate", "2", "--check-priors"], "--check-priors: --evaluate runs the scenario"),
        ([], "--priors: a calibration needs a prior file (or, to compare"),
    ],
)
def test_evaluate_refuses_what_it_cannot_do_and_writes_nothing(tmp_path, capsys, extra, message):
    code = _evaluate(tmp_path / "out.csv", *extra)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_writes_only_a_csv(tmp_path, capsys):
    code = _evaluate(tmp_path / "out.txt", "--evaluate", "2")
    err = capsys.readouterr().err
    assert code == 2 and "with --evaluate, a CSV file (a name ending in .csv)" in err
    assert list(tmp_path.iterdir()) == []
