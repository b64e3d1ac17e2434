"""The report of a run: its files, its figures and tables, the four answers, and the errors
of ``mlmsim report`` on folders that are not complete runs."""

import base64
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from simulation import outcomes, report
from simulation.cli import main
from simulation.config import load_scenario, scenario_from_dict
from simulation.figures import FIGURES
from simulation.plans import plan_from_dict
from simulation.runner import run_scenario

# A NaN or an empty slice in a figure or a table is a bug here, not a warning to ignore.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

QUESTIONS = (
    "What share of everyone who joined lost money?",
    "What did the top 1% take?",
    "At which level did recruiting stop?",
    "What were the payout ratio and the retail share?",
)
TABLE_CLASSES = (
    "bass",
    "saturation",
    "concentration",
    "by-level",
    "by-cohort",
    "over-time",
    "ids-published",
    "ids-full",
    "company",
    "indicators",
    "attrition",
    "survival",
    "scenario",
    "plan",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The default (classroom) scenario at its seed, with figures and report."""
    scen, path = load_scenario("classroom")
    out = tmp_path_factory.mktemp("report") / "run"
    return run_scenario(scen, scenario_path=path, out=out)["run_dir"]


@pytest.fixture(scope="module")
def page(run_dir):
    return (run_dir / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def section(page, name):
    """The HTML of one <section id=name>."""
    m = re.search(rf'<section id="{name}">(.*?)</section>', page, flags=re.S)
    assert m, f"section {name} missing"
    return m.group(1)


def test_run_writes_report_and_tables_before_the_manifest(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for name in (
        "report.html",
        "income_disclosure.csv",
        "concentration.csv",
        "level_saturation.csv",
        "survival.csv",
        "analysis.json",
    ):
        assert name in manifest["files"], name
        assert (run_dir / name).stat().st_mtime <= (run_dir / "manifest.json").stat().st_mtime
    assert {"analysis", "figures", "report"} <= set(manifest["timings_s"])


def test_every_figure_is_embedded_as_a_png(page, run_dir):
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    # The classroom run has 628 joiners: all six figures, the genealogy included.
    assert len(images) == len(FIGURES) == 6
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    on_disk = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert on_disk == sorted(f for f, _ in FIGURES.values())


def test_page_is_self_contained(page):
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"(?!data:|#)", page), "a reference leaves the page"
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page


def test_tables_are_present(page):
    for cls in TABLE_CLASSES:
        assert re.search(rf'<table class="[^"]*\b{cls}\b', page), cls


def test_four_answers_state_the_numbers_of_the_summary(page, summary):
    answers = section(page, "answers")
    for q in QUESTIONS:
        assert q in answers
    assert report.pct(summary["share_net_loss"]) in answers
    assert report.pct(summary["share_net_loss_strict"]) in answers
    assert report.pct(summary["top1_commissions"]) in answers
    assert f"level {summary['max_level']}" in answers
    assert report.pct(summary["payout_ratio"]) in answers
    assert report.pct(summary["retail_share"]) in answers
    assert f"{summary['ever_joined']} people who ever joined" in answers
    # The survey's answers (the classroom run: 87.3 / 8.4 / 4.3%) beside the loss shares.
    said = (
        f"{report.pct(summary['survey_lost'])} lost money, "
        f"{report.pct(summary['survey_broke_even'])} broke even and "
        f"{report.pct(summary['survey_profit'])} made a profit"
    )
    assert said in answers
    assert said == "87.3% lost money, 8.4% broke even and 4.3% made a profit"


def test_first_answer_states_the_cost_assumptions_behind_the_loss_figure(page):
    # The classroom scenario keeps the default costs: kit $60 (published), fees $25 a month,
    # 70% on autoship, own use valued at 80% (assumptions).
    answers = section(page, "answers")
    assert (
        "The costs behind this figure: a starter kit of $60.00 (a published figure), $25.00 a "
        "month of fees, samples and events (an assumption), 70% of members topping up to the "
        "monthly minimum (an assumption) and household product valued at 80% of its price "
        "(an assumption)" in answers
    )


def test_reading_quotes_the_summary(page, summary):
    reading = section(page, "reading")
    assert f"{summary['ever_joined']} people ({report.pct(summary['penetration'])}" in reading
    assert f"Joins peaked at {summary['peak_joins']} in month {summary['peak_month']}" in reading
    assert f"from month {summary['half_peak_month']}" in reading
    assert report.usd(-summary["median_net_income"]) + " down" in reading


def test_indicator_table_gives_line_source_and_verdict(page):
    table = section(page, "indicators")
    for text in ("Vemma", "Koscot", "Amway", "&gt; 50%", "&lt; 50%", "&gt;= 10", "&lt;= 30%"):
        assert text in table
    assert table.count("side</td>") == 4


def test_legal_tests_table_gives_each_test_with_source_and_line(page, run_dir):
    table = section(page, "indicators")
    analysis = json.loads((run_dir / "analysis.json").read_text())
    tests = analysis["legal"]
    assert [t["name"] for t in tests] == [
        "amway_70",
        "ten_customers",
        "vemma",
        "herbalife_end_use",
        "herbalife_retail_rewards",
        "vander_nat_keep",
    ]
    for text in ("93 F.T.C. 618", "Vemma", "Herbalife", "Vander Nat", "&gt;= 70%", "&gt;= 67%"):
        assert text in table
    # One verdict per test, each matching its company figure against its line.
    assert table.count("passes</td>") + table.count("fails</td>") == len(tests)
    for t in tests:
        below = t["value"] < t["threshold"]
        assert t["passes"] == (below if t["comparison"] == "<" else not below)
    assert "(consumer injury)" in section(page, "reading")


def test_analysis_tables_agree_with_the_distributors_table(run_dir, summary):
    dist = pd.read_parquet(run_dir / "distributors.parquet")
    sat = pd.read_csv(run_dir / "level_saturation.csv")
    assert sat["ever_joined"].sum() == len(dist) == summary["ever_joined"]
    assert sat["level"].max() == summary["max_level"]
    share = (dist.groupby("level")["recruits"].apply(lambda r: (r > 0).mean())).to_numpy()
    assert np.allclose(sat["share_recruited"], share)
    conc = pd.read_csv(run_dir / "concentration.csv")
    gross = conc[(conc.measure == "gross") & (conc.grouping == "all")].iloc[0]
    assert gross["top1"] == pytest.approx(summary["top1_commissions"])
    by_level = conc[(conc.measure == "net") & (conc.grouping == "level")]
    assert by_level["n"].sum() == len(dist)
    ids = pd.read_csv(run_dir / "income_disclosure.csv")
    everyone = ids[(ids.population == "all_participants") & ids["rank"].isna()].iloc[0]
    year = dist[
        (dist.status == "distributor") | ((dist.quit_month >= 25) & (dist.quit_month <= 36))
    ]
    assert everyone["count"] == len(year)
    facts = json.loads((run_dir / "analysis.json").read_text())
    assert facts["company"]["payout_ratio"] == pytest.approx(summary["payout_ratio"])
    assert facts["max_level"] == summary["max_level"]


def test_monthly_plan_flows_add_up(run_dir):
    extra = monthly = pd.read_csv(run_dir / "monthly.csv")
    paid = extra[[c for c in extra if c.startswith("paid_") and c != "paid_recruiting"]]
    assert np.allclose(paid.sum(axis=1), monthly["commissions"])
    assert (extra["bv_new_recruits"] <= extra["bv"] + 1e-9).all()
    # Penetration grows, so the reachable prospects per active member fall.
    r = extra["reachable_per_active"].to_numpy()
    assert r[-1] < r[0]


def test_report_command_rebuilds_the_same_answers_from_the_files(run_dir, page, tmp_path):
    out = tmp_path / "again.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    again = out.read_text(encoding="utf-8")
    assert section(again, "answers") == section(page, "answers")
    assert section(again, "company") == section(page, "company")


def test_report_of_a_run_without_figures(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", "--out", str(run), "--quiet", "--no-figures", "--months", "14"]) == 0
    assert not (run / "report.html").exists()
    assert (run / "income_disclosure.csv").exists()
    assert main(["report", str(run)]) == 0
    assert str(run / "report.html") in capsys.readouterr().out
    assert "What did the top 1% take?" in (run / "report.html").read_text()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("manifest.json", "missing manifest.json (mlmsim run writes manifest.json last"),
        ("distributors.parquet", "missing distributors.parquet"),
    ],
)
def test_report_on_an_incomplete_folder_names_the_missing_file(
    run_dir, tmp_path, capsys, remove, message
):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / remove).unlink()
    assert main(["report", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "not a complete run folder" in err and message in err


def test_report_on_a_missing_folder_or_a_bad_table(run_dir, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    broken = tmp_path / "cols"
    shutil.copytree(run_dir, broken)
    monthly = pd.read_csv(broken / "monthly.csv").drop(columns=["retail_sales"])
    monthly.to_csv(broken / "monthly.csv", index=False)
    assert main(["report", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "monthly.csv: missing retail_sales" in err
    (broken / "manifest.json").write_text("{not json")
    assert main(["report", str(broken)]) == 2
    assert "manifest.json: not valid JSON" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the analysis of a hand-built run


def hand_run(tmp_path):
    """Five people over 12 months: founders A (a winner) and B; A recruited C (month 2) and
    D (month 11, quit month 12); C recruited E (month 11)."""
    months = 12
    dist = pd.DataFrame(
        {
            "id": [0, 1, 2, 3, 4],
            "status": ["distributor", "distributor", "distributor", "quit", "distributor"],
            "enroller": [-1, -1, 0, 0, 2],
            "level": [1, 1, 2, 2, 3],
            "join_month": [0, 0, 2, 11, 11],
            "quit_month": [-1, -1, -1, 12, -1],
            "recruits": [2, 0, 1, 0, 0],
            "rank": [-1, -1, -1, -1, -1],
            "rank_last": [-1, -1, -1, -1, -1],
            "commissions": [900.0, 0.0, 60.0, 0.0, 0.0],
            "net_income": [500.0, -300.0, -100.0, -80.0, -60.0],
            "net_income_strict": [300.0, -500.0, -200.0, -90.0, -70.0],
            "commissions_year": [900.0, 0.0, 60.0, 0.0, 0.0],
            "costs_year": [400.0, 300.0, 160.0, 80.0, 60.0],
            "net_income_year": [500.0, -300.0, -100.0, -80.0, -60.0],
            "reachable_prospects": [3.0, 0.0, 2.0, 9.0, 1.0],
        }
    )
    joined = [2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]
    active = [2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5, 4]
    quit_ = [0] * 12 + [1]
    monthly = pd.DataFrame(
        {
            "month": range(months + 1),
            "joined": joined,
            "penetration": np.cumsum(joined) / 10,
            "distributors": active,
            "customers": [0] + [4] * 12,
            "quit_this_month": quit_,
            "ever_joined": np.cumsum(joined),
            "revenue": [120.0] + [300.0] * 12,
            "commissionable_revenue": [0.0] + [300.0] * 12,
            "commissions": [0.0] + [80.0] * 12,
            "breakage": [0.0] + [10.0] * 12,
            "retail_sales": [0.0] + [62.0] * 12,  # 50 PV to customers at a 24% markup
            "pv": [0.0] + [300.0] * 12,
            "topup_pv": [0.0] + [30.0] * 12,
            "loading_pv": [0.0] * 13,
            "gini_commissions": [np.nan] + [0.5] * 12,
            "gini_net_income": [0.0] + [0.4] * 12,
            "share_net_loss": [1.0] + [0.8] * 12,
            "share_net_loss_strict": [1.0] + [0.8] * 12,
            "top1_commissions": [np.nan] + [0.2] * 12,
            # A fast start of $20 in month 11 (D and E's first orders).
            "paid_recruiting": [0.0] * 11 + [20.0, 0.0],
            "bv": [0.0] + [300.0] * 12,
            # C's first three months (2-4) at 30 BV; D and E's at 30 each in months 11-12.
            "bv_new_recruits": [0.0, 0.0, 30.0, 30.0, 30.0] + [0.0] * 6 + [60.0, 60.0],
            "customer_pv": [0.0] + [50.0] * 12,
            "kits_revenue": [120.0, 0.0, 60.0] + [0.0] * 8 + [120.0, 0.0],
            "new_recruit_purchases": [0.0, 0.0, 30.0, 30.0, 30.0] + [0.0] * 6 + [60.0, 60.0],
            "reachable_per_active": [5.0] + [2.0] * 12,
        }
    )
    levels = pd.DataFrame({"month": [0], "level": [1], "members": [2]})
    manifest = {
        "scenario": {
            "scenario": {"name": "hand", "description": "hand-built"},
            "market": {"population": 10, "mean_degree": 4},
            "buy": {"own_use_value_share": 0.8},
            "units": {"usd_per_pv": 1.0},
        },
        "plan": {
            "retail": {"markup": 0.24},
            "unilevel": {"percentages": [0.08, 0.05]},
            "cap": {"ratio": 0.45},
        },
        "months": months,
        "seed": 1,
        "summary": {
            "penetration": 0.5,
            "share_net_loss": 0.8,
            "share_net_loss_strict": 0.8,
            "median_net_income": -80.0,
            "gini_net_income": 0.4,
            "top1_commissions": 0.05 * 900 / 960,  # 1% of 5 people = 0.05 of A
            "peak_joins": 2,
            "peak_month": 11,
            "half_peak_month": 12,
            "payout_ratio": 80 / 300,
            "retail_share": 50 / 300,
        },
    }
    return outcomes.RunData(
        scenario=scenario_from_dict(manifest["scenario"]),
        plan=plan_from_dict(manifest["plan"]),
        seed=1,
        monthly=monthly,
        levels=levels,
        dist=dist,
        manifest=manifest,
        run_dir=tmp_path,
    )


def test_analysis_of_a_hand_built_run(tmp_path):
    a = outcomes.analyse(hand_run(tmp_path))
    ids = a.disclosure[a.disclosure["rank"].isna()].set_index("population")
    # Year = months 1..12: A and B were in all of it (joined in month 0); C and E joined in
    # it; D joined and quit in it.
    assert ids.loc["active_full_year", "count"] == 2
    assert ids.loc["active_full_year", "mean_gross"] == pytest.approx(450.0)
    assert ids.loc["active_full_year", "median_gross"] == pytest.approx(450.0)
    assert ids.loc["active_full_year", "share_no_gross"] == pytest.approx(0.5)
    assert ids.loc["active_full_year", "mean_net"] == pytest.approx(100.0)
    assert ids.loc["joined_during_year", "count"] == 2
    assert ids.loc["quit_during_year", "count"] == 1
    assert ids.loc["all_participants", "count"] == 5
    assert ids.loc["all_participants", "share_net_loss"] == pytest.approx(0.8)
    sat = a.saturation
    assert sat["ever_joined"].tolist() == [2, 2, 1]
    assert sat["share_recruited"].tolist() == [0.5, 0.5, 0.0]
    # Level 1's last recruit is D (month 11); level 2's is E (month 11); level 3 never.
    assert sat["last_recruit_month"].tolist() == [11, 11, -1]
    # Active members only: A 3 and B 0 -> 1.5; C 2 (D quit) -> 2; E 1.
    assert sat["reachable_mean"].tolist() == [1.5, 2.0, 1.0]
    c = a.facts["company"]
    assert c["qualifying_purchase_share"] == pytest.approx(0.1)
    # 4 customers in each of months 1..12; 2 + 9 x 3 + 5 + 4 = 38 distributor-months.
    assert c["customers_per_distributor"] == pytest.approx(48 / 38)
    assert c["retail_share"] == pytest.approx(50 / 300)
    assert c["breakage_share"] == pytest.approx(120 / 3600)
    assert a.facts["deepest_recruiting_level"] == 2 and a.facts["max_level"] == 3
    # Income from recruitment: the $20 fast start, plus commissions pro rata to new
    # recruits' BV: months 2-4 80 x 30/300 = 8 each, month 11 (80 - 20) x 60/300 = 12,
    # month 12 80 x 60/300 = 16: 20 + 24 + 12 + 16 = 72 of 960 paid.
    rec = next(i for i in a.indicators if i.name == "recruitment_income_share")
    assert rec.value == pytest.approx(72 / 960)
    assert c["recruitment_income"] == pytest.approx(72.0)
    # Kits 120 + 60 + 120 and early orders 90 + 120 of revenue 120 + 12 x 300.
    assert c["revenue_from_recruitment_share"] == pytest.approx(510 / 3720)
    assert a.facts["reachable_per_active_start"] == 5.0
    # The summary behind the facts comes from the tables themselves.
    assert a.facts["penetration"] == 0.5 and a.facts["share_net_loss"] == pytest.approx(0.8)
    assert a.facts["peak_month"] == 11 and a.facts["peak_joins"] == 2
    html = report.render_html(hand_run(tmp_path), a, {})
    assert "level 3" in section(html, "answers")


def test_quitters_keep_the_rank_they_held(tmp_path):
    scen, path = load_scenario("classroom", ['plan.file="unilevel_7_dt"', "scenario.months=24"])
    run = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)["run_dir"]
    dist = pd.read_parquet(run / "distributors.parquet")
    active = dist[dist.status == "distributor"]
    assert (active["rank_last"] == active["rank"]).all()
    assert (dist["rank_highest"] >= dist["rank_last"]).all()
    quit_ = dist[(dist.status == "quit") & (dist.quit_month < 24)]
    assert (quit_["rank"] == -1).all()  # the rank paid this month: quitters hold none
    assert (quit_["rank_last"] >= 0).any()
    ids = pd.read_csv(run / "income_disclosure.csv")
    assert (ids[(ids.population == "quit_during_year") & (ids["rank"] >= 0)]["count"] > 0).any()


def test_rank_pay_annualises_each_rank_s_months_by_hand():
    # Two months of the year at Manager: 2 then 3 members, paid fast start 30 + 45 and the
    # Power of 3 50 + 100: 5 member-months, a year at Manager 12 x 225 / 5 = $540, of which
    # fast start 12 x 75 / 5 = $180 and Power of 3 12 x 150 / 5 = $360. Month 0 (outside the
    # year) is left out; a rank nobody held has NaN pay.
    from simulation.plans import load_plan

    plan = load_plan("doterra_like")
    names = plan.rank_names
    comps = outcomes.rank_components(plan)
    monthly = pd.DataFrame({"month": [0, 1, 2]})
    for name in names:
        monthly[f"rank_members_{name}"] = 0
        monthly[f"rank_commissions_{name}"] = 0.0
        for c in comps:
            monthly[f"rank_paid_{c}_{name}"] = 0.0
    monthly["rank_members_Manager"] = [7, 2, 3]
    monthly["rank_paid_fast_start_Manager"] = [999.0, 30.0, 45.0]
    monthly["rank_paid_structure_bonus_Manager"] = [999.0, 50.0, 100.0]
    monthly["rank_commissions_Manager"] = [1998.0, 80.0, 145.0]
    rp = outcomes.rank_pay(monthly, plan, range(1, 3)).set_index("rank")
    assert list(rp.index) == names
    assert rp.loc["Manager", "member_months"] == 5
    assert rp.loc["Manager", "paid"] == pytest.approx(540.0)
    assert rp.loc["Manager", "fast_start"] == pytest.approx(180.0)
    assert rp.loc["Manager", "structure_bonus"] == pytest.approx(360.0)
    assert rp.loc["Manager", "unilevel"] == 0.0
    assert np.isnan(rp.loc["Director", "paid"])
    # A plan without ranks has no such table, and its report no such section; nor has a
    # monthly table written before the component columns (an older run folder).
    assert outcomes.rank_pay(monthly, load_plan("unilevel_5"), range(1, 3)).empty
    older = monthly.drop(columns=[c for c in monthly.columns if c.startswith("rank_paid_")])
    assert outcomes.rank_pay(older, plan, range(1, 3)).empty


def test_report_shows_who_is_paid_by_what_at_each_rank(tmp_path):
    # The shipped doTERRA-like market, small: the report's rank-pay table states, for each
    # rank held in the year, 12 x the year's rank_commissions_<rank> / rank_members_<rank>
    # of the monthly table, and its components add up to it.
    scen, path = load_scenario(
        "realistic", ["market.population=3000", "scenario.months=14", "recruit.join_prob=0.9"]
    )
    run_dir = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)["run_dir"]
    assert main(["report", str(run_dir)]) == 0  # the page, rebuilt from the run's files
    monthly = pd.read_csv(run_dir / "monthly.csv")
    year = monthly[monthly["month"].between(3, 14)]
    html = section((run_dir / "report.html").read_text(encoding="utf-8"), "disclosure")
    table = re.search(r'<table class="[^"]*\brank-pay\b.*?</table>', html, flags=re.S)
    assert table, "the rank-pay table is missing"
    held = 0
    for name in ("Consultant", "Manager", "Director"):
        n = year[f"rank_members_{name}"].sum()
        if n == 0:
            continue
        held += 1
        paid = 12 * year[f"rank_commissions_{name}"].sum() / n
        parts = [
            12 * year[c].sum() / n
            for c in year.columns
            if c.startswith("rank_paid_") and c.endswith(f"_{name}")
        ]
        assert sum(parts) == pytest.approx(paid)
        row = re.search(rf"<tr><td>{name}</td>(.*?)</tr>", table.group(0), flags=re.S)
        assert row, name
        assert report.usd(paid) in row.group(1)
    assert held >= 2
