"""``mlmsim calibrate --evaluate N``: the scenario as it is against a target file, no fit."""

from __future__ import annotations

import json
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
    # An income's range leaves out the runs with nobody in its bucket (share and income 0).
    for stat, published in targets.observed.items():
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{stat}  "))
        kept = runs[stat]
        if stat.startswith("income: "):
            share = runs["share: " + stat.removeprefix("income: ")]
            kept = runs.loc[~((share == 0) & (runs[stat] == 0)), stat]
        lo, hi = kept.min(), kept.max()
        verdict = "inside" if lo <= published <= hi else "outside"
        if stat == "share: Silver to Presidential Diamond":  # weight 0 in the file
            verdict += " (not fitted)"
        if len(kept) < len(runs):
            verdict += f" ({len(runs) - len(kept)} of {len(runs)} runs: nobody in the bucket)"
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


@pytest.fixture(scope="module")
def pilot_folder(tmp_path_factory) -> Path:
    """A calibration folder holding only its prior-predictive pilot (--check-priors)."""
    folder = tmp_path_factory.mktemp("calibration") / "cal"
    code = main(["calibrate", "realistic", "--targets", str(REACH), "--priors", str(PRIORS),
                 *SMALL, "--population", "6", "--workers", "1", "--check-priors", "--quiet",
                 "--out", str(folder)])  # fmt: skip
    assert code == 0
    return folder


def _by_hand(pilot: pd.DataFrame, runs: pd.DataFrame, observed: dict, weights: dict) -> np.ndarray:
    """The calibration's distance written out: sqrt(sum_k (w_k (s_k - o_k) / scale_k)^2), the
    scale the pilot's median absolute deviation x 1.4826, else its standard deviation, else 1."""
    total = np.zeros(len(runs))
    for k, o in observed.items():
        x = pilot[k].to_numpy(dtype=np.float64)
        scale = 1.4826 * np.median(np.abs(x - np.median(x)))
        if not scale > 0:
            scale = np.std(x) if np.std(x) > 0 else 1.0
        total += (weights[k] * (runs[k].to_numpy(dtype=np.float64) - o) / scale) ** 2
    return np.sqrt(total)


@pytest.mark.slow
def test_evaluate_measures_each_run_with_a_calibrations_distance(tmp_path, capsys, pilot_folder):
    csv = tmp_path / "evaluate.csv"
    capsys.readouterr()
    assert _evaluate(csv, "--evaluate", "2", "--workers", "1",
                     "--distance-from", str(pilot_folder)) == 0  # fmt: skip
    out = capsys.readouterr().out
    runs = pd.read_csv(csv)
    ranks = ["Consultant", "Manager", "Director", "Executive", "Elite", "Premier", "Silver",
             "Gold", "Platinum", "Diamond"]  # fmt: skip
    targets = load_targets(REACH, ranks, "doterra_pools", 24)
    pilot = pd.read_parquet(pilot_folder / "pilot.parquet")
    expected = _by_hand(pilot, runs, targets.observed, targets.weights)
    np.testing.assert_allclose(runs["distance"].to_numpy(), expected, rtol=1e-12)
    # Silver and above's share is at weight 0: moving it does not move the distance.
    assert targets.weights["share: Silver to Presidential Diamond"] == 0.0
    line = next(ln for ln in out.splitlines() if "distance to the published figures" in ln)
    assert f"median {np.median(expected):.3g}, runs {expected.min():.3g} to" in line
    assert "final threshold" not in line  # a pilot only: no generation has run


@pytest.mark.slow
def test_a_distance_from_another_calibration_is_refused_before_any_run(
    tmp_path, capsys, pilot_folder
):
    # Fitted to another figure: the published share paid nothing changed in its record.
    other = tmp_path / "other"
    other.mkdir()
    spec = json.loads((pilot_folder / "calibration.json").read_text(encoding="utf-8"))
    spec["observed"]["share_paid_nothing"] = 0.5
    (other / "calibration.json").write_text(json.dumps(spec), encoding="utf-8")
    (other / "pilot.parquet").write_bytes((pilot_folder / "pilot.parquet").read_bytes())
    cases = [
        (other, "that calibration was fitted to other figures: 'share_paid_nothing' is 0.5 at "
         "weight 1.0 there, 0.6384 at weight 1.0 in --targets"),
        (tmp_path / "empty", "holds no calibration that can be read"),
    ]  # fmt: skip
    (tmp_path / "empty").mkdir()
    for folder, message in cases:
        csv = tmp_path / "runs" / "out.csv"
        code = _evaluate(csv, "--evaluate", "2", "--distance-from", str(folder))
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
        assert not csv.parent.exists()  # nothing written, nothing run
    # A pilot not written yet.
    (pilot_folder.parent / "nopilot").mkdir(exist_ok=True)
    (pilot_folder.parent / "nopilot" / "calibration.json").write_text(
        json.dumps(spec), encoding="utf-8"
    )
    code = _evaluate(tmp_path / "x.csv", "--evaluate", "2", "--distance-from",
                     str(pilot_folder.parent / "nopilot"))  # fmt: skip
    assert code == 2 and "has no pilot.parquet yet" in capsys.readouterr().err
    # Not beside a fit: a calibration measures its own distance.
    fit = ["calibrate", "realistic", "--targets", str(REACH), "--priors", str(PRIORS), *SMALL,
           "--distance-from", str(pilot_folder), "--out", str(tmp_path / "f")]  # fmt: skip
    code = main(fit)
    assert code == 2 and "--distance-from: only with --evaluate" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()
