"""The plan stress battery: futures as overrides of the base scenario, the table, the flags."""

import json
import math

import pandas as pd
import pytest

from simulation.cli import main
from simulation.config import load_scenario, scenario_from_dict
from simulation.stress import FUTURES, build, flags, stress_table

SMALL = ["--set", "market.population=300", "--set", "scenario.months=12"]


def future(name: str, scenario: str = "classroom", sets: tuple[str, ...] = ()):
    base = load_scenario(scenario, list(sets))[0].to_dict()
    return base, *FUTURES[name](base)


def test_futures_change_what_their_description_says():
    base, values, shocks = future("fast_growth")
    assert values == {"recruit.pitches_per_month": 8.0, "recruit.join_prob": pytest.approx(0.9)}
    assert not shocks
    _, values, _ = future("fast_growth", sets=("recruit.join_prob=0.8",))
    assert values["recruit.join_prob"] == 1.0  # capped at the field's bound
    _, values, shocks = future("stall")
    assert not values and shocks == [
        {"month": 9, "set": {"recruit.pitches_per_month": 2.0, "recruit.join_prob": 0.24}}
    ]
    _, values, shocks = future("recruiting_collapse")
    assert shocks[0]["month"] == 12 and shocks[0]["set"]["recruit.join_prob"] == pytest.approx(0.03)
    assert shocks[0]["set"]["recruit.bad_news"] == 0.6
    _, values, _ = future("high_attrition")
    assert values["quit.base_monthly"] == pytest.approx(3 * base["quit"]["base_monthly"])
    _, values, _ = future("inventory_loading")
    assert values["buy.loader_share"] == 0.4 and values["buy.loading_months"] == 6
    _, values, _ = future("early_saturation")
    assert values["market.population"] == 500 and isinstance(values["market.population"], int)
    _, values, _ = future("early_saturation", sets=("market.population=300",))
    assert values["market.population"] == 100  # 10 per founder


@pytest.mark.parametrize("name", list(FUTURES))
def test_every_future_is_a_valid_scenario(name):
    from simulation.config import apply_values

    base, values, shocks = future(name, sets=("market.population=300",))
    scen = scenario_from_dict(apply_values(base, values, name), name)
    for s in shocks:
        for key, value in s["set"].items():
            section, _, field = key.partition(".")
            setattr(getattr(scen, section), field, value)  # validated on assignment


def test_battery_runs_reports_and_futures_differ(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["stress", "unilevel_5", *SMALL, "--seeds", "3", "--workers", "1", "--out", str(out)]
    assert main([*args, "--quiet", "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert "21 runs: 21 ok, 0 failed" in printed
    assert "Unilevel 8/5/4/4/4" in printed and "recruiting_collapse" in printed
    assert "Payout above the cap: no month of any run paid more than the 45% cap" in printed
    table = pd.read_csv(out / "stress.csv")
    assert list(table["future"]) == list(FUTURES) and (table["runs_ok"] == 3).all()
    runs = pd.read_parquet(out / "runs.parquet")
    # The same seeds in every future: differences are what changed, not luck.
    assert runs.groupby("label")["seed"].apply(sorted).map(tuple).nunique() == 1
    joined = runs.groupby("label")["ever_joined"].sum()
    assert joined["recruiting_collapse"] < joined["baseline"] < joined["fast_growth"]
    assert set(runs.loc[runs["label"] == "early_saturation", "population"]) == {100}
    monthly = pd.read_parquet(out / "monthly.parquet").merge(runs[["run_id", "label"]])
    loading = monthly.groupby("label")["loading_pv"].sum()
    assert loading["inventory_loading"] > 3 * loading["baseline"]
    assert (runs["months_over_cap"] == 0).all() and (runs["cap_ratio"] == 0.45).all()
    data = json.loads((out / "stress.json").read_text())
    assert [f["name"] for f in data["flags"]] == ["payout_above_cap", "income_from_recruiting"]
    assert not any(f["raised"] for f in data["flags"])
    assert "from month 3: recruit.pitches_per_month = 2" in data["futures"]["stall"]
    # The folder's data dictionary (docs/codebook.md) describes every column of stress.csv.
    described = json.loads((out / "columns.json").read_text())["tables"]
    assert list(described["stress.csv"]) == list(table.columns)
    # Resumable like any sweep: nothing is run twice.
    assert main([*args, "--quiet", "--no-report"]) == 0
    assert "(0 run now, 21 already done)" in capsys.readouterr().out


def test_a_plan_that_pays_for_recruiting_and_past_its_cap_is_flagged(tmp_path, capsys):
    plan = tmp_path / "kit_bonus.toml"
    plan.write_text(
        """
[plan]
name = "Kit bonus with a cap on the unilevel only"
[qualification]
min_pv = 50
[fast_start]
mode = "flat"
amount = 50.0
[unilevel]
percentages = [0.05, 0.03]
[cap]
ratio = 0.05
basis = "capped_components"
applies_to = ["unilevel"]
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["stress", str(plan), *SMALL, "--seeds", "2", "--workers", "1", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "FLAG  Payout above the cap" in printed
    assert "FLAG  Income depends on recruiting" in printed
    data = json.loads((out / "stress.json").read_text())
    assert all(f["raised"] for f in data["flags"])
    runs = pd.read_parquet(out / "runs.parquet")
    assert (runs["recruitment_income_share"] > 0.5).mean() > 0.5
    page = (out / "report.html").read_text()
    assert 'id="stress"' in page and '<div class="flag"><b>Payout above the cap</b>' in page
    assert "http://" not in page and "https://" not in page


def test_flag_logic_on_hand_made_runs():
    runs = pd.DataFrame(
        {
            "run_id": list("abcd"),
            "label": ["baseline", "baseline", "fast_growth", "fast_growth"],
            "status": ["ok"] * 4,
            "payout_ratio": [0.3, 0.32, 0.4, 0.41],
            "worst_month_payout_ratio": [0.4, 0.45, 0.44, 0.5],
            "worst_month": [3, 4, 2, 2],
            "breakage_ratio": [0.01, 0.02, 0.01, 0.01],
            "share_net_loss": [0.9, 0.95, 0.97, 0.99],
            "recruitment_income_share": [0.2, 0.3, 0.55, 0.6],
            "months_over_cap": [0, 0, 0, 2],
            "penetration": [0.3, 0.3, 0.5, 0.5],
        }
    )
    table = stress_table(runs)
    fg = table.set_index("future").loc["fast_growth"]
    assert fg["runs_ok"] == 2 and fg["runs_over_cap"] == 1
    assert fg["payout_ratio_median"] == pytest.approx(0.405)
    assert fg["worst_month_payout_ratio_max"] == 0.5
    assert math.isnan(table.set_index("future").loc["stall", "payout_ratio_median"])
    cap, rec = flags(runs, table, cap=0.45)
    assert cap["raised"] and "in 1 of 4 runs" in cap["text"] and "fast_growth" in cap["text"]
    # Median over all runs 0.425 < 0.5: not raised, but the future above the line is named.
    assert not rec["raised"] and "at or above the line in: fast_growth" in rec["text"]
    nocap, _ = flags(runs, table, cap=None)
    assert not nocap["raised"] and "no global payout cap" in nocap["text"]


def test_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["stress", "no_such_plan", "--quiet"]) == 2
    assert "plan.file = 'no_such_plan'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[unilevel]\npercentages = [2.0]\n", encoding="utf-8")
    assert main(["stress", str(bad), "--quiet"]) == 2
    assert "unilevel.percentages" in capsys.readouterr().err
    assert main(["stress", "unilevel_5", "--seeds", "0"]) == 2
    assert "--seeds 0" in capsys.readouterr().err
    assert main(["stress", "unilevel_5", "--scenario", "nowhere"]) == 2
    assert "scenario 'nowhere' not found" in capsys.readouterr().err


def test_build_names_the_sweep_after_plan_and_scenario():
    sweep = build("recruiting_heavy", seeds=4, sets=["market.population=300"])
    assert sweep.name == "stress-recruiting_heavy-classroom" and sweep.kind == "stress"
    assert [p.label for p in sweep.points] == list(FUTURES) and len(sweep.tasks()) == 28


def test_several_plans_side_by_side(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["stress", "unilevel_5", "recruiting_heavy", *SMALL, "--seeds", "2", "--workers", "1"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "28 runs: 28 ok, 0 failed" in printed
    table = pd.read_csv(out / "stress.csv")
    # One row per plan and future, the plan first.
    assert list(table.columns[:2]) == ["plan", "future"]
    assert list(zip(table["plan"], table["future"], strict=True)) == [
        (p, f) for p in ("unilevel_5", "recruiting_heavy") for f in FUTURES
    ]
    assert (table["runs_ok"] == 2).all()
    runs = pd.read_parquet(out / "runs.parquet")
    # Every plan on the same futures and seeds, so what differs between the plans is the plan.
    by_label = runs.groupby("label")["seed"].apply(sorted).map(tuple)
    assert by_label.nunique() == 1
    ratios = table[table["future"] == "baseline"].set_index("plan")["payout_ratio_median"]
    assert ratios["unilevel_5"] != ratios["recruiting_heavy"]
    data = json.loads((out / "stress.json").read_text())
    titles = [f["title"] for f in data["flags"]]
    assert titles == [
        "unilevel_5: Payout cap"
        if data["caps"]["unilevel_5"] is None
        else "unilevel_5: Payout above the cap",
        "unilevel_5: Income depends on recruiting",
        "recruiting_heavy: Payout cap"
        if data["caps"]["recruiting_heavy"] is None
        else "recruiting_heavy: Payout above the cap",
        "recruiting_heavy: Income depends on recruiting",
    ]
    page = (out / "report.html").read_text()
    assert "<td>recruiting_heavy</td>" in page and "<td>unilevel_5</td>" in page


def test_default_folder_names_the_settings(tmp_path, monkeypatch, capsys):
    """Two stress tests of one plan with other --set values land in two folders.

    Before, both went to ``results/stress/<plan>-<scenario>/`` and the second was refused
    as "a different sweep".
    """
    monkeypatch.chdir(tmp_path)
    base = ["stress", "unilevel_5", *SMALL, "--seeds", "1", "--workers", "1", "--quiet"]
    assert main([*base, "--no-report", "--set", "recruit.join_prob=0.2"]) == 0
    assert main([*base, "--no-report", "--set", "recruit.join_prob=0.3"]) == 0
    folders = sorted(p.name for p in (tmp_path / "results" / "stress").iterdir())
    assert len(folders) == 2, folders
    assert folders[0].endswith("-recruit.join_prob=0.2")
    assert folders[1].endswith("-recruit.join_prob=0.3")
    for name in folders:
        runs = pd.read_parquet(tmp_path / "results" / "stress" / name / "runs.parquet")
        assert len(runs) == len(FUTURES)
