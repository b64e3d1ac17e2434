"""mlmsim calibrate: targets and statistics by hand, parameter recovery, determinism, resume.

Bad inputs (unknown parameter, prior outside its range, shares above 1 or not summing to 1,
targets the model does not produce) are in tests/data/bad_inputs/cases.toml.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.calibrate import prepare, run_calibration, tomlout
from simulation.calibrate.driver import (
    distance,
    effective_sample_size,
    healthy_generation,
    prior_check,
    prior_summary,
    prior_warnings,
    scales,
    spec_differences,
    weighted_quantile,
)
from simulation.calibrate.outputs import target_rows
from simulation.calibrate.synthetic import synthetic_statement, write_statement
from simulation.calibrate.targets import load_targets, model_statistics
from simulation.config import load_scenario
from simulation.errors import ConfigError, UserError
from simulation.model import MLMModel
from simulation.plans.engine import load_plan

ROOT = Path(__file__).resolve().parents[1]
DOTERRA = ROOT / "scenarios" / "targets" / "doterra_us_2017.toml"
STATEMENT = ROOT / "scenarios" / "statements" / "doterra_us_2017.toml"
PLAN_RANKS = ["Consultant", "Manager", "Director", "Executive", "Elite", "Premier", "Silver"]


def pools_targets(stem: str):
    """A shipped realistic_* target file, loaded against doterra_pools's own ranks."""
    path = ROOT / "scenarios" / "targets" / f"{stem}.toml"
    return load_targets(path, list(load_plan("doterra_pools").rank_names), "doterra_pools")


def test_doterra_targets_merge_the_ranks_above_silver_by_hand():
    t = load_targets(DOTERRA, PLAN_RANKS, "unilevel_7_dt")
    labels = [b.label for b in t.buckets]
    assert labels[:2] == ["entry level (no profit)", "entry level (profitable)"]
    assert len(t.buckets) == 8
    top = t.buckets[-1]
    assert top.ranks == ("Silver",)
    # Silver .. Presidential Diamond as published: share and share-weighted income.
    shares = [0.0062, 0.0021, 0.0007, 0.0007, 0.0002, 0.0001]
    incomes = [27557, 58509, 112965, 201764, 463555, 1259587]
    assert top.share == pytest.approx(0.0100, abs=1e-12)
    weighted = sum(s * i for s, i in zip(shares, incomes, strict=True))
    assert top.income == pytest.approx(weighted / 0.01)
    assert t.observed["share: Manager"] == 0.0966
    assert t.observed["income: Manager"] == pytest.approx(math.log10(753))
    assert "income: entry level (no profit)" not in t.observed  # zero by definition
    assert t.observed["share_paid_nothing"] == 0.6384
    assert sum(b.share for b in t.buckets) == pytest.approx(1.0, abs=1e-9)


def test_doterra_2017_is_transcribed_once_and_every_target_file_maps_it():
    # The statement's figures live in one file; the nine target files that fit it only map
    # its ranks onto a plan's. A target file with its own copy of a figure could drift from
    # it under the same citation (load_targets refuses one: the next test).
    published = tomllib.loads(STATEMENT.read_text(encoding="utf-8"))
    rows = published["statement"]["rows"]
    assert len(rows) == 13 and sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-9)
    assert rows[0]["rank"] == "entry level (no profit)" and rows[0]["avg_annual_income_usd"] == 0
    citing = []
    for path in sorted((ROOT / "scenarios" / "targets").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if data["statement"].get("published") != "doterra_us_2017":
            continue
        citing.append(path.name)
        assert "source" not in data, path.name
        assert [r["rank"] for r in data["statement"]["rows"]] == [r["rank"] for r in rows]
        assert all(set(r) <= {"rank", "model", "paid"} for r in data["statement"]["rows"])
        assert data["targets"]["share_paid_nothing"] == rows[0]["share"], path.name
    assert len(citing) == 9, citing


def test_a_published_statement_is_mapped_rank_by_rank_or_refused(tmp_path):
    text = DOTERRA.read_text(encoding="utf-8")
    ref = load_targets(DOTERRA, PLAN_RANKS, "unilevel_7_dt")
    assert ref.source["citation"].startswith("doTERRA, US income disclosure statement 2017")
    # A copy elsewhere finds the shipped statement by its name ...
    (tmp_path / "copy.toml").write_text(text, encoding="utf-8")
    assert load_targets(tmp_path / "copy.toml", PLAN_RANKS).observed == ref.observed
    # ... and a statement of one's own by a path relative to the target file.
    (tmp_path / "mine.toml").write_text(
        STATEMENT.read_text(encoding="utf-8").replace(
            "share = 0.0966, avg_annual_income_usd = 752",
            "share = 0.0966, avg_annual_income_usd = 800",
        ),
        encoding="utf-8",
    )
    own = text.replace('published = "doterra_us_2017"', 'published = "mine.toml"')
    (tmp_path / "own.toml").write_text(own, encoding="utf-8")
    t = load_targets(tmp_path / "own.toml", PLAN_RANKS)
    assert t.observed["income: Manager"] == pytest.approx(math.log10(801))
    assert {k: v for k, v in t.observed.items() if k != "income: Manager"} == {
        k: v for k, v in ref.observed.items() if k != "income: Manager"
    }
    source = '[source]\nname = "x"\ncitation = "y"\n\n'
    manager = '{ rank = "Manager", model'
    cases = {
        "nowhere": (
            text.replace('published = "doterra_us_2017"', 'published = "nowhere"'),
            r"statement.published 'nowhere' not found \(a file path, or one of: doterra_us_2017\)",
        ),
        "not published": (
            text.replace(manager, '{ rank = "Managers", model'),
            r"rows\[2\]: rank 'Managers' is not in the published statement",
        ),
        "left out": (
            text.replace('  { rank = "Presidential Diamond", model = ["Silver"] },\n', ""),
            r"published rank\(s\) 'Presidential Diamond' of .* are not mapped",
        ),
        "twice": (
            text.replace('{ rank = "Gold",', '{ rank = "Platinum",'),
            r"rows\[9\]: rank 'Platinum' is mapped twice",
        ),
        "a figure": (
            text.replace(manager, '{ rank = "Manager", share = 0.1, model'),
            r"rows\[2\] \('Manager'\): its figures come from the published statement",
        ),
        "two sources": (source + text, r"\[source\]: the source is the published statement's"),
        "no source": (
            text.replace('published = "doterra_us_2017"', ""),
            r"\[source\] is missing",
        ),
        "no figures": (
            source + text.replace('published = "doterra_us_2017"', ""),
            r"rows\[0\] \('entry level \(no profit\)'\): share is missing",
        ),
    }
    for name, (bad, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.toml"
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_targets(path, PLAN_RANKS, "unilevel_7_dt")


def test_model_statistics_of_a_hand_made_year():
    # Month 24 is the last; the year is months 13-24. Five members of the year, one quitter
    # from before it (left out).
    dist = pd.DataFrame(
        {
            "status": ["distributor", "distributor", "distributor", "quit", "quit", "distributor"],
            "join_month": [1, 5, 20, 3, 2, 10],
            "quit_month": [-1, -1, -1, 15, 8, -1],
            "rank": [-1, 0, 1, 0, 1, 2],
            "commissions_year": [0.0, 99.0, 500.0, 0.0, 900.0, 1000.0],
        }
    )
    monthly = pd.DataFrame(
        {
            "month": np.arange(25),
            "quit_this_month": np.zeros(25),
            "distributors": np.full(25, 10.0),
            "joined": np.zeros(25),
            "pv": np.full(25, 100.0),
            "customer_pv": np.full(25, 25.0),
        }
    )
    names = {-1: "no rank", 0: "Consultant", 1: "Manager", 2: "Director"}
    spec = {
        "buckets": [
            {"label": "entry unpaid", "ranks": ["no rank", "Consultant"], "paid": False},
            {"label": "entry paid", "ranks": ["no rank", "Consultant"], "paid": True},
            {"label": "Manager", "ranks": ["Manager"], "paid": None},
            {"label": "Director+", "ranks": ["Director"], "paid": None},
        ],
        "stats": [
            "share: entry unpaid",
            "share: entry paid",
            "share: Manager",
            "income: entry paid",
            "income: Manager",
            "share: Director+",
            "share_paid_nothing",
            "attrition",
            "retail_share",
        ],
    }
    s = model_statistics(dist, monthly, names, spec)
    assert s["share: entry unpaid"] == pytest.approx(2 / 5)  # ids 0 and 3
    assert s["share: entry paid"] == pytest.approx(1 / 5)  # id 1
    assert s["share: Manager"] == pytest.approx(1 / 5)  # id 2 (id 4 quit before the year)
    assert s["share: Director+"] == pytest.approx(1 / 5)
    assert s["income: entry paid"] == pytest.approx(math.log10(100.0))
    assert s["income: Manager"] == pytest.approx(math.log10(501.0))
    assert s["share_paid_nothing"] == pytest.approx(2 / 5)
    assert s["attrition"] == 0.0
    assert s["retail_share"] == pytest.approx(0.25)
    # On the monthly basis a rank bucket's income is 12 x its pay over its member-months in
    # the year (months 13-24): Manager held 2 + 3 member-months paid 100 + 50 in the year
    # (month 12, before it, is left out): 12 x 150 / 5 = 360. Director: 12 x 0 / 1 = 0. The
    # entry-level rows, split by the year's pay, and the shares keep the year.
    month = {c: np.zeros(25) for c in ("members_M", "paid_M", "members_D", "paid_D")}
    month["members_M"][[12, 13, 24]] = [4, 2, 3]
    month["paid_M"][[12, 13, 24]] = [999.0, 100.0, 50.0]
    month["members_D"][20] = 1
    for col, key in (("Manager", "M"), ("Director", "D")):
        monthly[f"rank_members_{col}"] = month[f"members_{key}"]
        monthly[f"rank_commissions_{col}"] = month[f"paid_{key}"]
    monthly["rank_members_Consultant"] = 0.0
    monthly["rank_commissions_Consultant"] = 0.0
    spec["stats"] = [*spec["stats"], "income: Director+"]
    m = model_statistics(dist, monthly, names, {**spec, "income_basis": "month_at_rank"})
    assert m["income: Manager"] == pytest.approx(math.log10(361.0))
    assert m["income: Director+"] == 0.0
    assert m["income: entry paid"] == s["income: entry paid"]
    assert m["share: Manager"] == s["share: Manager"]


def test_rank_columns_of_the_monthly_table_add_up_by_hand():
    # Every month: rank_members_<r> counts the distributors paid as r, rank_commissions_<r>
    # sums what the month paid them, from the persons' own arrays; the ranks' pay is at most
    # the month's. Wholesale customers (the shipped scenario has them) are in no rank column,
    # even when a plan pays one of them as a rank.
    from simulation.collect import rank_row

    scen, _ = load_scenario(
        "realistic", ["market.population=3000", "scenario.months=14", "recruit.join_prob=0.9"]
    )
    m = MLMModel(scenario=scen, agents=False, seed=5)
    names = list(m.plan.components["ranks"].names)
    held_any = 0
    for _ in range(14):
        m.step()
        row = rank_row(m)
        pop = m.pop
        for i, name in enumerate(names):
            mine = (pop.rank == i) & ~pop.wholesale
            assert row[f"rank_members_{name}"] == int(mine.sum())
            assert row[f"rank_commissions_{name}"] == pytest.approx(
                float(pop.commissions_month[mine].sum()), abs=1e-9
            )
        total = sum(row[f"rank_commissions_{n}"] for n in names)
        assert total <= m.stats["commissions"] + 1e-6
        held_any += sum(row[f"rank_members_{n}"] for n in names[1:])
        # The DataCollector's table holds the same row.
        last = m.datacollector.get_model_vars_dataframe().iloc[-1]
        assert all(last[k] == pytest.approx(v) for k, v in row.items())
    assert held_any > 0  # some months had members above the first rank
    assert m.pop.wholesale.sum() > 50  # and the run had wholesale customers to leave out


def test_rank_columns_split_by_component_add_up_and_pay_the_power_of_3_by_hand():
    # rank_paid_<component>_<rank>: what each paying component paid the distributors paid as
    # the rank. Over the components it is rank_commissions_<rank>; the Power of 3's column is
    # $50 / $250 / $1,500 (doTERRA's amounts, scenarios/plans/doterra_like.toml) times the
    # rank's members at each level of the bonus, counted here from the levels themselves, in
    # every month the plan's 45% cap did not scale the pay.
    from simulation.collect import RANK_COMPONENT_COLUMN, rank_components, rank_row

    scen, _ = load_scenario(
        "realistic", ["market.population=3000", "scenario.months=14", "recruit.join_prob=0.9"]
    )
    m = MLMModel(scenario=scen, agents=False, seed=5)
    names = list(m.plan.components["ranks"].names)
    comps = rank_components(m.plan)
    assert {"unilevel", "fast_start", "structure_bonus"} <= set(comps)
    bonus_months = 0
    for _ in range(14):
        m.step()
        row = rank_row(m)
        pay = m.last_pay
        level = pay.extra["structure_level"]
        for i, name in enumerate(names):
            parts = [row[RANK_COMPONENT_COLUMN.format(c, name)] for c in comps]
            assert sum(parts) == pytest.approx(row[f"rank_commissions_{name}"], abs=1e-6)
            assert min(parts) >= 0.0
            mine = (m.pop.rank == i) & ~m.pop.wholesale
            counts = [int(np.count_nonzero(mine & (level == k))) for k in (1, 2, 3)]
            by_hand = 50.0 * counts[0] + 250.0 * counts[1] + 1500.0 * counts[2]
            if pay.pre_cap_total == pytest.approx(pay.paid):
                assert row[RANK_COMPONENT_COLUMN.format("structure_bonus", name)] == by_hand
                bonus_months += by_hand > 0
    assert bonus_months > 0  # the Power of 3 paid ranked members in some month


def test_growth_targets_fit_the_shape_of_published_size(tmp_path):
    # Published 2,000, 8,000, 5,000 members at months 12, 24, 36: the shape is each over the
    # largest (0.25, 1, 0.625); the model's is its active distributors over their largest.
    text = DOTERRA.read_text(encoding="utf-8") + (
        "\n[targets.growth]\nmonths = [12, 24, 36]\nmembers = [2000, 8000, 5000]\n"
    )
    path = tmp_path / "growth.toml"
    path.write_text(text, encoding="utf-8")
    t = load_targets(path, PLAN_RANKS, "unilevel_7_dt", months=36)
    assert {k: t.observed[k] for k in t.observed if k.startswith("growth")} == {
        "growth: month 12": 0.25,
        "growth: month 24": 1.0,
        "growth: month 36": 0.625,
    }
    assert t.spec()["growth_months"] == [12, 24, 36]
    monthly = pd.DataFrame(
        {
            "month": np.arange(37),
            "distributors": np.arange(37, dtype=np.float64) * 10.0,  # 10 per month
            "quit_this_month": np.zeros(37),
            "joined": np.full(37, 10.0),
            "pv": np.full(37, 100.0),
            "customer_pv": np.zeros(37),
        }
    )
    dist = pd.DataFrame(
        {"status": ["distributor"], "join_month": [1], "quit_month": [-1], "rank": [-1],
         "commissions_year": [0.0]}
    )  # fmt: skip
    spec = {"buckets": [], "stats": ["growth: month 12", "growth: month 24", "growth: month 36"],
            "growth_months": [12, 24, 36]}  # fmt: skip
    s = model_statistics(dist, monthly, {-1: "no rank"}, spec)
    assert s == pytest.approx(
        {"growth: month 12": 120 / 360, "growth: month 24": 240 / 360, "growth: month 36": 1.0}
    )
    with pytest.raises(ConfigError, match="month 36 is after the scenario's last month 24"):
        load_targets(path, PLAN_RANKS, "unilevel_7_dt", months=24)


def test_distance_scales_and_weighted_quantile_by_hand():
    table = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0], "b": [5.0, 5.0, 5.0, 5.0, 5.0]})
    sc = scales(table, ["a", "b"])
    assert sc["a"] == pytest.approx(1.4826 * 1.0)  # median 2, |x - 2| = 2,1,0,1,2 -> MAD 1
    assert sc["b"] == 1.0  # no spread at all: unit scale
    d = distance(table, {"a": 2.0, "b": 5.0}, {"a": 2.0, "b": 1.0})
    assert d.tolist() == pytest.approx([4.0, 2.0, 0.0, 2.0, 4.0])
    x = np.array([3.0, 1.0, 2.0])
    assert weighted_quantile(x, np.array([0.2, 0.5, 0.3]), 0.5) == 1.0
    assert weighted_quantile(x, np.array([0.2, 0.3, 0.5]), 0.5) == 2.0


def test_a_weight_0_statistic_is_shown_but_not_fitted():
    """realistic_reach.toml leaves Silver and above's share out of the distance, not the file."""
    t = pools_targets("realistic_reach")
    top = "share: Silver to Presidential Diamond"
    assert t.observed[top] == pytest.approx(0.0100, abs=1e-12)
    assert t.weights[top] == 0.0
    assert all(w == 1.0 for k, w in t.weights.items() if k != top)
    # Two runs that differ only in that share are at the same distance from the statement.
    row = dict(t.observed)
    table = pd.DataFrame([{**row, top: 0.0}, {**row, top: 0.5}])
    w = {k: t.weights[k] / 0.01 for k in t.observed}
    assert distance(table, t.observed, w).tolist() == [0.0, 0.0]
    # The report shows it, outside the band, and counts only the fitted figures.
    rows = {r["statistic"]: r for r in target_rows(t, table)}
    assert rows[top]["fitted"] is False and rows[top]["inside"] is False
    assert rows[top]["published"] == pytest.approx(0.0100, abs=1e-12)
    assert all(r["fitted"] and r["inside"] for k, r in rows.items() if k != top)


@pytest.mark.parametrize("stem, weight", [("realistic_manager", 1.7), ("realistic_manager_3", 3.2)])
def test_the_manager_weighted_targets_differ_from_fit_x_s_only_in_that_weight(stem, weight):
    """realistic_manager*.toml: realistic_reach.toml's figures, Manager's income weighted."""
    reach, manager = pools_targets("realistic_reach"), pools_targets(stem)
    assert manager.observed == reach.observed
    assert manager.spec() == reach.spec()
    key = "income: Manager"
    assert manager.weights == {**reach.weights, key: weight}
    # A run that misses only Manager's income, by a factor of 753 / 475 (fit X's predictive
    # median against the statement, log10(1 + USD)), on the pilot's scale 0.454: 0.2001 /
    # 0.454 = 0.4408 from the statement with weight 1, the weight times that with the file's.
    miss = np.log10(753.0) - np.log10(475.0)
    table = pd.DataFrame([{**reach.observed, key: reach.observed[key] - miss}])
    scale = dict.fromkeys(reach.observed, 1.0) | {key: 0.454}
    before = distance(table, reach.observed, {k: reach.weights[k] / scale[k] for k in scale})
    after = distance(table, manager.observed, {k: manager.weights[k] / scale[k] for k in scale})
    assert before[0] == pytest.approx(0.4408, abs=1e-4)
    assert after[0] == pytest.approx({1.7: 0.7493, 3.2: 1.4104}[weight], abs=1e-4)


def test_an_income_band_leaves_out_the_runs_with_nobody_in_the_bucket():
    """A run without a Silver has no Silver income: counted, not banded as $0."""
    from simulation.calibrate.outputs import empty_note

    t = pools_targets("realistic_reach")
    bucket = "Silver to Presidential Diamond"
    share, income = f"share: {bucket}", f"income: {bucket}"
    # Seven runs with Silvers paid $50,000 to $80,000 a year, three with none (share 0, and
    # the income statistic 0 by definition: log10(1 + 0)).
    paid = [50_000.0, 55_000.0, 60_000.0, 65_000.0, 70_000.0, 75_000.0, 80_000.0]
    rows = [{**t.observed, share: 0.004, income: np.log10(1 + x)} for x in paid]
    rows += [{**t.observed, share: 0.0, income: 0.0}] * 3
    table = pd.DataFrame(rows)
    got = {r["statistic"]: r for r in target_rows(t, table, (0.0, 1.0))}
    r = got[income]
    assert r["empty"] == 3
    # Lowest to highest of the seven (not $0): $50,000 to $80,000, the median $65,000.
    assert r["low"] == pytest.approx(50_000.0) and r["high"] == pytest.approx(80_000.0)
    assert r["median"] == pytest.approx(65_000.0)
    assert r["inside"] is True  # $73,270 published
    # Buckets every run has, and the shares themselves, leave nothing out.
    assert got["income: Manager"]["empty"] == 0 and got[share]["empty"] == 0
    assert got[share]["low"] == 0.0
    assert empty_note(r, 10) == " (3 of 10 runs: nobody in the bucket)"
    assert empty_note(got["income: Manager"], 10) == ""
    # A run whose members held the rank in some of the year's months but not at its end
    # (share 0, income paid: the month-by-month reading) stays in the band.
    table.loc[9, income] = np.log10(1 + 90_000.0)
    r = {r["statistic"]: r for r in target_rows(t, table, (0.0, 1.0))}[income]
    assert r["empty"] == 2 and r["high"] == pytest.approx(90_000.0)
    # Nobody at the rank in any run: no band, and not inside.
    table[share], table[income] = 0.0, 0.0
    r = {r["statistic"]: r for r in target_rows(t, table, (0.0, 1.0))}[income]
    assert r["empty"] == 10 and r["inside"] is False and np.isnan(r["low"])


def test_toml_writer_round_trips():
    data = {
        "scenario": {"name": 'x "q"', "seed": 3, "on": True},
        "posterior": {"parameters": ["a.b"], "median": {"a.b": 0.25}, "n": None},
    }
    back = tomllib.loads(tomlout.dumps(data, header="h"))
    assert back == {
        "scenario": {"name": 'x "q"', "seed": 3, "on": True},
        "posterior": {"parameters": ["a.b"], "median": {"a.b": 0.25}},
    }


# ---------------------------------------------------------------------------------------------
# whole calibrations on a small town (in this process: a few hundred runs of ~0.05 s)

# The realistic scenario's calibrated values pinned to fixed ones, so that these tests do not
# move when the shipped scenario is recalibrated.
SETS = ["plan.file=unilevel_7_dt", "market.population=600", "scenario.months=24",
        "recruit.join_prob=0.5", "recruit.pitches_per_month=3.0", "buy.own_use_pv=60.0",
        "people.skill_sigma=0.0", "costs.starter_kit_usd=60.7",
        "quit.idle_extra=0.05", "segments.enabled=false",
        "costs.fixed_usd_monthly=25.0"]  # fmt: skip
TRUTH = {"quit.base_monthly": 0.03}
PRIORS = """
[priors."quit.base_monthly"]
distribution = "uniform"
low = 0.005
high = 0.08
reason = "test"
"""


def _args(targets: Path, priors: Path, **kw) -> argparse.Namespace:
    a = {
        "scenario": "realistic",
        "targets": targets,
        "priors": priors,
        "sets": SETS,
        "population": 30,
        "generations": 3,
        "simulations": None,
        "seed": 3,
        "kernel_scale": "natural",
        "workers": 1,
        "scheduler": None,
        "out": None,
        "no_report": True,
        "quiet": True,
    }
    a.update(kw)
    return argparse.Namespace(**a)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    """A statement the model produced from TRUTH (seed 7), and the priors."""
    tmp = tmp_path_factory.mktemp("synthetic")
    priors = tmp / "priors.toml"
    priors.write_text(PRIORS, encoding="utf-8")
    cal = prepare(_args(DOTERRA, priors))
    data = synthetic_statement(cal.context, TRUTH, 7, "unilevel_7_dt")
    # Shares per rank, the share paid nothing and attrition: the incomes of a town's few
    # ranked members are mostly noise.
    data["targets"]["income_per_rank"] = False
    return write_statement(data, tmp / "targets.toml"), priors


@pytest.mark.slow
def test_parameter_recovery_on_a_synthetic_statement(synthetic, tmp_path):
    targets, priors = synthetic
    cal = prepare(_args(targets, priors))
    res = run_calibration(cal, tmp_path / "out", workers=1, progress=False, report=True)
    for key, true in TRUTH.items():
        lo, hi = res["interval90"][key]
        assert lo <= true <= hi, (key, true, lo, hi)
    # The data inform the hazard: its 90% interval is well inside the prior's range.
    lo, hi = res["interval90"]["quit.base_monthly"]
    assert hi - lo < 0.6 * (0.08 - 0.005)
    post = pd.read_parquet(tmp_path / "out" / "posterior.parquet")
    assert list(post.columns) == ["quit.base_monthly", "weight", "distance"]
    assert len(post) == 30 and post["weight"].sum() == pytest.approx(1.0)
    assert (post["quit.base_monthly"].between(0.005, 0.08)).all()
    # The calibrated scenario runs as a scenario and records its posterior.
    scen, _ = load_scenario(tmp_path / "out" / "calibrated.toml")
    assert scen.quit.base_monthly == pytest.approx(res["median"]["quit.base_monthly"])
    assert scen.posterior.parameters == list(TRUTH)
    assert (tmp_path / "out" / scen.posterior.samples).is_file()
    assert scen.posterior.provenance["seed"] == 3
    # The report places every published figure among the pilot's runs (the truth's own
    # statement: the priors reach each figure).
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Which published figures the priors can reach" in page
    assert "Outside the prior predictive" not in page
    assert [r["verdict"] for r in res["prior_check"]].count("outside") == 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "share: Manager" in page and "90% band" in page
    # The final population's effective sample size is reported (Kish, from its weights).
    ess = effective_sample_size(post["weight"].to_numpy())
    assert res["ess"] == pytest.approx(ess) and 1.0 <= ess <= 30.0
    assert scen.posterior.provenance["effective_sample_size"] == pytest.approx(ess, abs=0.01)
    assert f"Effective sample size of the final population (Kish): {ess:.1f}" in page or (
        res["ess_low"] and "Warning:" in page
    )


@pytest.mark.slow
def test_same_seed_same_posterior_bytes_and_a_resume_continues_exactly(synthetic, tmp_path):
    targets, priors = synthetic
    small = {"population": 12}
    a = run_calibration(
        prepare(_args(targets, priors, generations=2, **small)), tmp_path / "a", progress=False,
        report=False,
    )  # fmt: skip
    # The same calibration stopped after one generation, then continued to two.
    run_calibration(
        prepare(_args(targets, priors, generations=1, **small)), tmp_path / "b", progress=False,
        report=False,
    )  # fmt: skip
    b = run_calibration(
        prepare(_args(targets, priors, generations=2, **small)), tmp_path / "b", progress=False,
        report=False,
    )  # fmt: skip
    assert b["resumed_after"] == 1
    bytes_a = (tmp_path / "a" / "posterior.parquet").read_bytes()
    assert bytes_a == (tmp_path / "b" / "posterior.parquet").read_bytes()
    assert a["median"] == b["median"]
    # The pilot alone first (--check-priors), then the calibration: it reuses the pilot.
    p = run_calibration(
        prepare(_args(targets, priors, generations=2, **small)), tmp_path / "p", progress=False,
        pilot_only=True,
    )  # fmt: skip
    assert sorted(f.name for f in (tmp_path / "p").iterdir() if not f.name.startswith(".")) == [
        "calibration.json",
        "pilot.parquet",
    ]
    assert p["pilot"] == 12 and p["prior_check"] == a["prior_check"]
    run_calibration(
        prepare(_args(targets, priors, generations=2, **small)), tmp_path / "p", progress=False,
        report=False,
    )  # fmt: skip
    assert (tmp_path / "p" / "posterior.parquet").read_bytes() == bytes_a
    # Another seed gives another posterior.
    c = run_calibration(
        prepare(_args(targets, priors, generations=2, seed=4, **small)), tmp_path / "c",
        progress=False, report=False,
    )  # fmt: skip
    assert (tmp_path / "c" / "posterior.parquet").read_bytes() != bytes_a
    assert c["median"] != a["median"]


@pytest.mark.slow
def test_two_local_processes_give_the_same_posterior_as_one(synthetic, tmp_path):
    targets, priors = synthetic
    args = {"population": 10, "generations": 1}
    one = prepare(_args(targets, priors, **args))
    run_calibration(one, tmp_path / "one", workers=1, progress=False, report=False)
    two = prepare(_args(targets, priors, **args))
    run_calibration(two, tmp_path / "two", workers=2, progress=False, report=False)
    assert (tmp_path / "one" / "posterior.parquet").read_bytes() == (
        tmp_path / "two" / "posterior.parquet"
    ).read_bytes()


def test_prior_check_places_each_published_figure_among_the_pilot_runs_by_hand():
    pilot = pd.DataFrame(
        {
            "share: Manager": [0.1, 0.2, 0.2, 0.4],
            # log10(1 + USD), as the statistics hold incomes: $99, $999, $9,999 and a NaN.
            "income: Manager": [2.0, 3.0, 4.0, np.nan],
            "attrition": [np.nan] * 4,
        }
    )
    observed = {"share: Manager": 0.2, "income: Manager": math.log10(1 + 20_000), "attrition": 0.5}
    rows = {r["statistic"]: r for r in prior_check(pilot, observed)}
    # 0.2: one run below, two tied (half each), one above: (1 + 2 x 0.5) / 4 = 0.5.
    assert rows["share: Manager"]["below"] == 0.5
    assert rows["share: Manager"]["verdict"] == "inside"
    assert (rows["share: Manager"]["low"], rows["share: Manager"]["high"]) == (0.1, 0.4)
    # $20,000 is above all three runs that gave a number (in USD: $99 to $9,999).
    inc = rows["income: Manager"]
    assert inc["verdict"] == "outside" and inc["below"] == 1.0 and inc["runs"] == 3
    assert inc["low"] == pytest.approx(99) and inc["high"] == pytest.approx(9_999)
    assert inc["published"] == pytest.approx(20_000)
    # A statistic no run produced is outside too.
    assert rows["attrition"]["verdict"] == "outside" and rows["attrition"]["runs"] == 0
    assert rows["attrition"]["low"] is None and rows["attrition"]["below"] is None
    # Tail: 100 runs 0, 1, ..., 99. At 98.5, 99 runs are below and 1 beyond (1% < 2.5%);
    # at 97 (a tie), 97.5 below and 2.5 beyond: not fewer than 2.5%, so inside.
    runs = pd.DataFrame({"x": np.arange(100.0)})
    assert prior_check(runs, {"x": 98.5})[0]["verdict"] == "tail"
    assert prior_check(runs, {"x": 97.0})[0]["below"] == 0.975
    assert prior_check(runs, {"x": 97.0})[0]["verdict"] == "inside"
    assert prior_check(runs, {"x": -0.5})[0]["verdict"] == "outside"
    # A figure of weight 0 is placed the same way, and said to be left out of the fit.
    (row,) = prior_check(pilot, {"share: Manager": 0.5}, {"share: Manager": 0.0})
    assert row["verdict"] == "outside" and row["fitted"] is False
    assert prior_warnings([row]) == [
        "'share: Manager' published 50.00% lies outside the prior predictive (the 4 runs gave "
        "10.00% to 40.00%): no parameter set drawn from the priors reached it, and it is not "
        "fitted (weight 0 in the target file)"
    ]
    assert prior_summary([row])[0].endswith(": share: Manager (not fitted)")
    warn = prior_warnings(prior_check(pilot, observed))
    assert len(warn) == 2
    assert "'income: Manager' published $20,000 lies outside" in warn[0]
    assert "$99 to $9,999" in warn[0] and "cannot cover it" in warn[0]
    assert "no run gave a number" in warn[1]
    assert prior_warnings(prior_check(runs, {"x": 98.5})) == [
        "'x' published 9850.00% lies in the prior predictive's tail (1.0% of 100 runs beyond it)"
    ]
    both = prior_check(pilot, observed) + prior_check(runs, {"x": 98.5})
    assert prior_summary(both) == [
        "2 published figure(s) outside the prior predictive (no pilot run reached them; the "
        "posterior cannot cover them): income: Manager, attrition",
        "1 published figure(s) in the prior predictive's tail (fewer than 2.5% of the pilot "
        "runs beyond them): x",
    ]


def test_check_priors_runs_the_pilot_only_and_names_the_target_it_cannot_reach(
    synthetic, tmp_path, capsys
):
    from simulation.cli import main

    targets, priors = synthetic
    data = tomllib.loads(targets.read_text(encoding="utf-8"))
    # A quit hazard of at most 0.08 a month cannot lose 99.9% of the members in a year.
    text = targets.read_text(encoding="utf-8")
    old = f"attrition = {data['targets']['attrition']!r}"
    assert old in text
    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(text.replace(old, "attrition = 0.999"), encoding="utf-8")
    out = tmp_path / "out"
    sets = [part for s in SETS for part in ("--set", s)]
    code = main(["calibrate", "realistic", *sets, "--targets", str(unreachable),
                 "--priors", str(priors), "--out", str(out), "--population", "8",
                 "--workers", "1", "--check-priors", "--quiet"])  # fmt: skip
    cap = capsys.readouterr()
    assert code == 0
    assert "among the 8 prior-predictive runs" in cap.out
    line = next(ln for ln in cap.out.splitlines() if ln.strip().startswith("attrition"))
    assert "published     99.90%" in line and line.endswith("below it 100.00%  outside")
    assert "1 published figure(s) outside the prior predictive" in cap.err
    assert cap.err.rstrip().endswith("cannot cover them): attrition")
    assert sorted(f.name for f in out.iterdir() if not f.name.startswith(".")) == [
        "calibration.json",
        "pilot.parquet",
    ]
    assert len(pd.read_parquet(out / "pilot.parquet")) == 8


def test_effective_sample_size_by_hand():
    assert effective_sample_size(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(4.0)
    assert effective_sample_size(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(4.0)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    # (3 + 1)^2 / (9 + 1) = 1.6
    assert effective_sample_size(np.array([3.0, 1.0])) == pytest.approx(1.6)


def test_from_logit_maps_the_standard_logistic_onto_each_prior_by_hand():
    from simulation.calibrate.priors import Prior

    uni = Prior("recruit.join_prob", "uniform", {"low": 0.1, "high": 0.9}, "t", (0.0, 1.0))
    log = Prior("recruit.pitches_per_month", "loguniform", {"low": 1.0, "high": 100.0}, "t",
                (0.0, 1000.0))  # fmt: skip
    nrm = Prior("quit.base_monthly", "normal", {"mean": 0.02, "sd": 0.01}, "t", (0.0, 1.0))
    # z = 0: the uniform's midpoint, the log-uniform's geometric mean.
    assert uni.from_logit(0.0) == pytest.approx(0.5)
    assert log.from_logit(0.0) == pytest.approx(10.0)
    # The standard logistic's q-quantile, log(q / (1 - q)), lands on the prior's q-quantile:
    # low + (high - low) q and low (high / low)^q. So the logistic prior on z is the prior.
    for q in (0.01, 0.25, 0.9, 0.999):
        z = math.log(q / (1 - q))
        assert uni.from_logit(z) == pytest.approx(0.1 + 0.8 * q)
        assert log.from_logit(z) == pytest.approx(100.0**q)
    # Far out the values stay inside the bounds (no overflow); a normal prior is not moved.
    assert uni.from_logit(-800.0) == 0.1 and uni.from_logit(800.0) == 0.9
    assert log.from_logit(800.0) == 100.0
    assert nrm.from_logit(0.013) == 0.013
    assert (uni.on_logit_scale(), log.on_logit_scale(), nrm.on_logit_scale()) == (True, True, False)


@pytest.mark.slow
def test_a_logit_scale_calibration_recovers_the_truth_and_is_its_own_calibration(
    synthetic, tmp_path
):
    targets, priors = synthetic
    cal = prepare(_args(targets, priors, kernel_scale="logit"))
    res = run_calibration(cal, tmp_path / "z", workers=1, progress=False, report=False)
    lo, hi = res["interval90"]["quit.base_monthly"]
    # Three generations of 30 particles: the natural scale's interval here is 0.026-0.068,
    # this one 0.028-0.075 (the logit kernel proposes wider); both well inside the prior's.
    assert lo <= TRUTH["quit.base_monthly"] <= hi and hi - lo < 0.7 * (0.08 - 0.005)
    # The posterior is written on the parameter's own scale, inside the prior's bounds.
    post = pd.read_parquet(tmp_path / "z" / "posterior.parquet")
    assert post["quit.base_monthly"].between(0.005, 0.08).all()
    assert res["method"].endswith("), kernel on the logit scale")
    scen, _ = load_scenario(tmp_path / "z" / "calibrated.toml")
    assert scen.posterior.method == res["method"]
    # Same seed, same bytes; the natural scale is another calibration, refused in its folder.
    again = run_calibration(
        prepare(_args(targets, priors, kernel_scale="logit")), tmp_path / "z2", workers=1,
        progress=False, report=False,
    )  # fmt: skip
    written = (tmp_path / "z" / "posterior.parquet").read_bytes()
    assert (tmp_path / "z2" / "posterior.parquet").read_bytes() == written
    assert again["median"] == res["median"]
    with pytest.raises(UserError, match=r"kernel_scale \('logit' there, 'natural' here\)"):
        run_calibration(prepare(_args(targets, priors)), tmp_path / "z", progress=False,
                        report=False)  # fmt: skip


def test_a_posterior_resting_on_few_particles_is_warned_with_what_to_try():
    from simulation.calibrate.driver import ess_warning

    assert ess_warning({"ess": 40.0, "ess_low": False}, 200) is None
    natural = ess_warning({"ess": 13.66, "ess_low": True, "kernel_scale": "natural"}, 200)
    assert natural.startswith("the final population's effective sample size is 13.7 of 200 ")
    assert "(below 20%)" in natural and "--kernel-scale logit" in natural
    logit = ess_warning({"ess": 13.66, "ess_low": True, "kernel_scale": "logit"}, 200)
    assert "--kernel-scale" not in logit
    assert logit.endswith("--min-ess stops a calibration when a generation's falls below a share")
    # With the stopping rule on, it is not suggested again.
    ruled = {"ess": 13.66, "ess_low": True, "kernel_scale": "logit", "min_ess": 0.05}
    assert ess_warning(ruled, 200).endswith("calibrate fewer parameters")


def test_a_refused_folder_says_which_input_differs():
    stored = {
        "fingerprint": "0",
        "scenario": {"recruit": {"join_prob": 0.5}, "seed": 1},
        "seed": 3,
        "simulations": 100,
    }
    now = {
        "scenario": {"recruit": {"join_prob": 0.6}, "seed": 1, "buy": {"first_order_pv": 0.0}},
        "seed": 3,
        "simulations": 5000,  # the budget may grow: a longer run continues a shorter one
    }
    assert spec_differences(stored, now) == [
        "scenario.buy.first_order_pv (not in the stored calibration: a newer mlmsim's field?)",
        "scenario.recruit.join_prob (0.5 there, 0.6 here)",
    ]
    # A key left out at its default is compared at its value, both ways.
    assert spec_differences({"kernel_scale": "logit"}, {}) == [
        "kernel_scale ('logit' there, 'natural' here)"
    ]
    assert spec_differences({}, {"income_basis": "month_at_rank"}) == [
        "income_basis ('year' there, 'month_at_rank' here)"
    ]
    many = spec_differences({"a": {str(i): i for i in range(7)}}, {"a": {}}, most=4)
    assert len(many) == 5 and many[-1] == "and 3 more"


@pytest.mark.slow
def test_a_calibration_with_another_scenario_is_refused_with_the_key(synthetic, tmp_path):
    targets, priors = synthetic
    args = {"population": 10, "generations": 1}
    run_calibration(prepare(_args(targets, priors, **args)), tmp_path / "o", progress=False,
                    report=False)  # fmt: skip
    before = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir() if p.is_file()}
    other = prepare(_args(targets, priors, sets=[*SETS, "recruit.join_prob=0.6"], **args))
    with pytest.raises(UserError, match=r"scenario\.recruit\.join_prob \(0\.5 there, 0\.6 here\)"):
        run_calibration(other, tmp_path / "o", progress=False, report=False)
    after = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir() if p.is_file()}
    assert after == before


def test_another_calibration_is_refused_in_the_same_folder(synthetic, tmp_path, capsys):
    from simulation.cli import main

    targets, priors = synthetic
    out = tmp_path / "out"
    out.mkdir()
    (out / "calibration.json").write_text('{"fingerprint": "0000"}', encoding="utf-8")
    before = sorted(p.name for p in out.iterdir())
    sets = [part for s in SETS for part in ("--set", s)]
    code = main(["calibrate", "realistic", *sets,
                 "--targets", str(targets), "--priors", str(priors), "--out", str(out),
                 "--population", "10", "--generations", "1"])  # fmt: skip
    assert code == 2
    assert "holds another calibration" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_posterior_as_this_process(tmp_path):
    from distributed import LocalCluster

    priors = ROOT / "tests" / "data" / "bad_inputs" / "calibrate" / "priors_ok.toml"
    tiny = {
        "sets": ["plan.file=unilevel_7_dt", "market.population=300", "scenario.months=12"],
        "population": 6,
        "generations": 1,
        "seed": 5,
    }
    run_calibration(prepare(_args(DOTERRA, priors, **tiny)), tmp_path / "one", workers=1,
                    progress=False, report=False)  # fmt: skip
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        res = run_calibration(
            prepare(_args(DOTERRA, priors, **tiny)), tmp_path / "dask", workers=2,
            scheduler=cluster.scheduler_address, progress=False, report=False,
        )  # fmt: skip
    assert res["simulations"] > 6
    assert (tmp_path / "one" / "posterior.parquet").read_bytes() == (
        tmp_path / "dask" / "posterior.parquet"
    ).read_bytes()


def test_prior_draws_stay_inside_each_prior_and_the_valid_range():
    from simulation.calibrate.driver import prior_draws
    from simulation.calibrate.priors import Prior

    priors = [
        Prior("quit.base_monthly", "normal", {"mean": 0.01, "sd": 0.05}, "r", (0.0, 1.0)),
        Prior(
            "recruit.pitches_per_month", "loguniform", {"low": 0.5, "high": 8.0}, "r", (0.0, 1000.0)
        ),
    ]
    draws = prior_draws(priors, 2000, np.random.default_rng(1))
    q = np.array([d["quit.base_monthly"] for d in draws])
    p = np.array([d["recruit.pitches_per_month"] for d in draws])
    assert q.min() >= 0.0 and q.max() <= 1.0
    # Truncated at 0 = 0.2 sd below the mean: P(q < mean) = (0.5 - Phi(-0.2)) / (1 - Phi(-0.2))
    # = (0.5 - 0.42074) / 0.57926 = 0.1368.
    assert (q < 0.01).mean() == pytest.approx(0.1368, abs=0.025)
    assert p.min() >= 0.5 and p.max() <= 8.0
    # log-uniform: half the draws below the geometric mean of the bounds, sqrt(0.5 * 8) = 2
    assert (p < 2.0).mean() == pytest.approx(0.5, abs=0.05)


def test_the_generation_a_stopping_rule_keeps_by_hand():
    # 200 particles, --min-ess 0.1: a generation below 20 effective particles is a collapse.
    assert healthy_generation([50, 40, 30, 5, 4], 200, 0.1) == 2  # 3 is the first below
    assert healthy_generation([50, 10, 60], 200, 0.1) == 0  # later recovery does not count
    assert healthy_generation([10, 50], 200, 0.1) == 1  # generation 0 has none before it
    assert healthy_generation([50, 40, 30], 200, 0.1) == 2  # none below: the last
    assert healthy_generation([50, 5, 4], 200, None) == 2  # no rule: the last
    assert healthy_generation([50, 20.0], 200, 0.1) == 1  # at the share is not below it


@pytest.mark.slow
def test_min_ess_stops_after_a_collapse_and_keeps_the_generation_before(synthetic, tmp_path):
    # --min-ess 1: every generation after the first (weights no longer equal) is below it,
    # so the calibration stops before sampling generation 2 and the posterior is generation 0,
    # read here from the history database with pyabc itself.
    import pyabc

    targets, priors = synthetic
    small = {"population": 10}
    res = run_calibration(
        prepare(_args(targets, priors, generations=4, min_ess=1.0, **small)), tmp_path / "s",
        progress=False, report=True,
    )  # fmt: skip
    history = pyabc.History(f"sqlite:///{tmp_path / 's' / 'history.db'}")
    assert history.max_t == 1  # generations 2 and 3 never ran
    ess1 = effective_sample_size(history.get_distribution(m=0, t=1)[1])
    assert ess1 < 10
    assert res["stopped_early"] == (
        f"generation 1's effective sample size fell to {ess1:.1f} of 10 particles (below "
        "--min-ess 1); the results are those of generation 0, the last one above it"
    )
    gen0, w0 = history.get_distribution(m=0, t=0)
    post = pd.read_parquet(tmp_path / "s" / "posterior.parquet")
    assert np.array_equal(
        np.sort(post["quit.base_monthly"].to_numpy()), np.sort(gen0["quit.base_monthly"].to_numpy())
    )
    assert res["ess"] == pytest.approx(effective_sample_size(w0))
    eps = history.get_all_populations().set_index("t")["epsilon"]
    assert res["final_epsilon"] == pytest.approx(eps[0])
    assert "Stopped early:" in (tmp_path / "s" / "report.html").read_text(encoding="utf-8")
    # The calibrated file says which generation its posterior is, and by which rule.
    scen, _ = load_scenario(tmp_path / "s" / "calibrated.toml")
    prov = scen.posterior.provenance
    assert prov["min_ess"] == 1.0 and prov["posterior_generation"] == 0
    assert prov["generations"] == 2 and prov["final_epsilon"] == pytest.approx(eps[0])
    # Resumed with the same command: nothing more is sampled, the same bytes come out.
    first = (tmp_path / "s" / "posterior.parquet").read_bytes()
    again = run_calibration(
        prepare(_args(targets, priors, generations=4, min_ess=1.0, **small)), tmp_path / "s",
        progress=False, report=False,
    )  # fmt: skip
    assert again["simulations"] == res["simulations"]
    assert (tmp_path / "s" / "posterior.parquet").read_bytes() == first
    # Without the rule, the same folder continues past the collapse (the rule is not part of
    # the calibration's identity, like the budget).
    on = run_calibration(
        prepare(_args(targets, priors, generations=3, **small)), tmp_path / "s",
        progress=False, report=False,
    )  # fmt: skip
    assert on["stopped_early"] is None and on["generations"] == 3


def test_the_ends_a_prior_is_checked_at_by_hand():
    from simulation.calibrate.priors import Prior

    assert Prior("a.b", "uniform", {"low": 0.2, "high": 0.7}, "r", (0, 1)).ends() == (0.2, 0.7)
    assert Prior("a.b", "loguniform", {"low": 1, "high": 30}, "r", (0, 1e3)).ends() == (1, 30)
    # A normal prior is truncated to the valid range: its ends are the range where finite,
    # else five standard deviations from the mean (2 - 5 x 0.5 = -0.5, 2 + 2.5 = 4.5).
    assert Prior("a.b", "normal", {"mean": 0.02, "sd": 0.01}, "r", (0, 1)).ends() == (0, 1)
    assert Prior("a.b", "normal", {"mean": 2, "sd": 0.5}, "r", (0, math.inf)).ends() == (0, 4.5)
    assert Prior("a.b", "normal", {"mean": 2, "sd": 0.5}, "r", (-math.inf, math.inf)).ends() == (
        -0.5,
        4.5,
    )


def test_revenue_per_member_counts_everyone_with_an_account(tmp_path):
    # Year = months 13-24. Members of the year: ids 0, 1 (a wholesale customer: counted here,
    # unlike in the statement's shares), 2 (quit in month 15); id 3 quit in month 8 (out).
    # Revenue in the year: 12 months x 300 = 3,600 (month 12's 10,000 is before it), so
    # 3,600 / 3 = 1,200 a member: log10(1,201).
    text = DOTERRA.read_text(encoding="utf-8").replace(
        "[targets]\n", "[targets]\nrevenue_per_member = 600.0\n", 1
    )
    path = tmp_path / "revenue.toml"
    path.write_text(text, encoding="utf-8")
    t = load_targets(path, PLAN_RANKS, "unilevel_7_dt")
    assert t.observed["revenue per member"] == pytest.approx(math.log10(601.0))
    dist = pd.DataFrame(
        {
            "status": ["distributor", "distributor", "quit", "quit"],
            "join_month": [1, 14, 3, 2],
            "quit_month": [-1, -1, 15, 8],
            "wholesale": [False, True, False, False],
            "rank": [-1, -1, -1, -1],
            "commissions_year": [0.0, 0.0, 0.0, 0.0],
        }
    )
    revenue = np.full(25, 300.0)
    revenue[12] = 10_000.0
    monthly = pd.DataFrame({"month": np.arange(25), "revenue": revenue})
    spec = {"buckets": [], "stats": ["revenue per member"]}
    s = model_statistics(
        dist,
        monthly.assign(quit_this_month=0.0, distributors=1.0, joined=0.0, pv=1.0, customer_pv=0.0),
        {-1: "no rank"},
        spec,
    )
    assert s["revenue per member"] == pytest.approx(math.log10(1201.0))
    # A target that is not a positive dollar figure is refused, naming the key.
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("revenue_per_member = 600.0", "revenue_per_member = -5"))
    with pytest.raises(ConfigError, match="revenue_per_member"):
        load_targets(bad, PLAN_RANKS, "unilevel_7_dt")


@pytest.mark.slow
def test_a_generation_pyabc_cannot_weight_ends_the_calibration_at_the_last_complete_one(
    synthetic, tmp_path, monkeypatch
):
    # pyabc refuses a generation whose weights underflow ("The population total weight nan
    # is not normalized."). Simulated here: generation 1 runs, then the next raises. The
    # results are those of generation 1, said on the page, in the summary and on stderr,
    # exactly those of a calibration asked for one generation.
    import pyabc

    targets, priors = synthetic
    small = {"population": 10}
    ref = run_calibration(
        prepare(_args(targets, priors, generations=1, **small)), tmp_path / "ref",
        progress=False, report=False,
    )  # fmt: skip
    real_run = pyabc.ABCSMC.run

    def failing_run(self, *args, **kw):
        real_run(self, *args, **{**kw, "max_nr_populations": 1})
        raise AssertionError("The population total weight nan is not normalized.")

    monkeypatch.setattr(pyabc.ABCSMC, "run", failing_run)
    res = run_calibration(
        prepare(_args(targets, priors, generations=3, **small)), tmp_path / "cut",
        progress=False, report=True,
    )  # fmt: skip
    assert res["stopped_early"].startswith("generation 1 could not be weighted")
    assert "the results are those of generation 0" in res["stopped_early"]
    assert res["generations"] == ref["generations"] == 1
    assert res["median"] == ref["median"]
    page = (tmp_path / "cut" / "report.html").read_text(encoding="utf-8")
    assert "Stopped early:" in page
    # Any other failure inside pyabc is not swallowed.
    monkeypatch.setattr(pyabc.ABCSMC, "run", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("something else")
    ))  # fmt: skip
    with pytest.raises(AssertionError, match="something else"):
        run_calibration(
            prepare(_args(targets, priors, generations=3, seed=9, **small)), tmp_path / "other",
            progress=False, report=False,
        )  # fmt: skip


def test_every_shipped_prior_file_loads_and_the_later_fits_keep_fit_x_s_ten():
    # Every prior file in scenarios/priors loads (each prior with its reason, inside its
    # parameter's range). The realistic_* files run on the shipped scenario without a run
    # lost to a limit the scenario checks (check_support). The fits after the shipped one
    # (docs/calibration.md, fits Z and Z2) add priors to its ten; the ten are copies of
    # realistic_costs.toml's and must stay so, or a comparison with fit X means nothing.
    from simulation.calibrate.priors import check_support, load_priors

    folder = ROOT / "scenarios" / "priors"
    realistic = load_scenario("realistic")[0].to_dict()
    loaded = {}
    for path in sorted(folder.glob("*.toml")):
        loaded[path.stem] = {p.key: p for p in load_priors(path)}
        assert all(p.reason.strip() for p in loaded[path.stem].values()), path.name
        if path.stem.startswith("realistic_"):
            check_support(list(loaded[path.stem].values()), realistic, path.name)
    shipped = loaded["realistic_costs"]
    assert len(shipped) == 10
    added = {
        "realistic_spending": {"market.spending_sigma"},
        "realistic_kit_costs": {"market.spending_sigma", "buy.first_order_pv"},
    }
    for stem, extra in added.items():
        assert set(loaded[stem]) == set(shipped) | extra, stem
        assert all(loaded[stem][k] == p for k, p in shipped.items()), stem
