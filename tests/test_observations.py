"""The model observes itself: every consumer reads the same columns through one path.

``mlmsim run``, ``mesa.batch_run`` and the classroom page all take their monthly figures
from the model's DataCollector; parameters read every month change a run from the month
they are changed, start-up parameters cannot be changed mid-run; money has one owner.
"""

import math

import mesa
import numpy as np
import pandas as pd
import pytest

from simulation import collect, config, results
from simulation.app_views import ClassroomModel
from simulation.config import load_scenario
from simulation.errors import ConfigError
from simulation.model import MLMModel
from simulation.runner import run_scenario
from simulation.state import INFLOWS, OUTFLOWS
from tests.helpers import scenario_with

SETS = [
    "market.population=400",
    "scenario.months=8",
    'plan.file="unilevel_7_dt"',  # has a fast start: a recruiting component column
    "recruit.join_prob=0.5",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    # The default scenario (what MLMModel(**keywords) and batch_run start from).
    out = tmp_path_factory.mktemp("obs") / "run"
    return run_scenario(scenario_with(*SETS), out=out, figures=False)["run_dir"]


def same(a, b) -> bool:
    """Equal as written to the CSV (10 significant digits, results.FLOAT_FORMAT)."""
    a = float(results.FLOAT_FORMAT % a)
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_run_tables_hold_component_payouts_that_add_up(run_dir):
    monthly = pd.read_csv(run_dir / "monthly.csv")
    assert {"paid_unilevel", "paid_fast_start", "paid_recruiting", "reachable_per_active"} <= set(
        monthly.columns
    )
    parts = monthly[
        [c for c in monthly.columns if c.startswith("paid_") and c != "paid_recruiting"]
    ]
    assert np.allclose(parts.sum(axis=1), monthly["commissions"], rtol=1e-9, atol=1e-6)
    # The fast start is the plan's only component that declares it pays for recruiting.
    assert (monthly["paid_recruiting"] == monthly["paid_fast_start"]).all()
    assert monthly["paid_fast_start"].sum() > 0


def test_batch_run_rows_carry_every_column_the_run_writes(run_dir):
    monthly = pd.read_csv(run_dir / "monthly.csv").set_index("month")
    rows = mesa.batch_run(
        MLMModel,
        parameters={
            "population": 400,
            "months": 8,
            "plan": "unilevel_7_dt",
            "join_prob": 0.5,
            "seed": scenario_with().scenario.seed,
        },
        iterations=1,
        max_steps=100,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    # Mesa 3.3 returns months 0..months-1 (see test_batch_run.py).
    assert len(rows) == 8
    for row in rows:
        want = monthly.loc[row["month"]]
        for col in monthly.columns:
            assert same(row[col], float(want[col])), (row["month"], col)


def test_the_page_model_carries_the_same_columns_as_a_run(tmp_path):
    page = ClassroomModel(population=300, months=5, seed=3, plan="unilevel_7_dt")
    page.run()
    scen, path = load_scenario(
        "classroom",
        [
            "market.population=300",
            "scenario.months=5",
            "scenario.seed=3",
            'plan.file="unilevel_7_dt"',
            f"recruit.pitches_per_month={page.scenario.recruit.pitches_per_month}",
            f"recruit.join_prob={page.scenario.recruit.join_prob}",
        ],
    )
    out = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)
    written = pd.read_csv(out["run_dir"] / "monthly.csv")
    shown = results.monthly_table(page)
    assert list(shown.columns) == list(written.columns)
    for col in written.columns:
        a, b = shown[col].to_numpy(dtype=float), written[col].to_numpy(dtype=float)
        # The CSV keeps 10 significant digits.
        assert np.allclose(a, b, rtol=1e-9, equal_nan=True), col


# ------------------------------------------------------------------------------------------
# parameters read every month vs at the start

# (parameter, value that moves it far from the default, overrides that make it matter)
LIVE = {
    "recruit.pitches_per_month": (8.0, []),
    "recruit.pitch_count": ("fixed", []),
    "recruit.warm_share": (0.0, []),
    "recruit.join_prob": (0.9, []),
    "recruit.fatigue": (1.0, []),
    "recruit.bad_news": (0.9, []),
    "recruit.refusals": (False, []),
    "recruit.refusal_memory_months": (0, []),
    "recruit.spontaneous_join_prob": (0.05, []),
    "recruit.fixed_join_prob": (0.2, ["recruit.mode=uniform_sponsor"]),
    "recruit.pyramid_r": (3, ["recruit.mode=pyramid", "recruit.pyramid_r=1"]),
    "recruit.pyramid_every_month": (True, ["recruit.mode=pyramid", "recruit.pyramid_r=1"]),
    "retail.enabled": (False, []),
    "retail.pitches_per_month": (10.0, []),
    "retail.accept_prob": (0.9, []),
    "retail.order_pv": (200.0, []),
    "retail.churn_monthly": (0.9, []),
    "retail.max_customers": (0, []),
    "buy.own_use_pv": (300.0, []),
    "buy.own_use_value_share": (0.1, []),
    "buy.first_order_pv": (2000.0, []),
    "buy.loading_pv": (2000.0, ["buy.loader_share=1"]),
    "buy.loading_months": (0, ["buy.loader_share=1"]),
    "costs.starter_kit_usd": (500.0, []),
    "costs.fixed_usd_monthly": (400.0, []),
    "quit.enabled": (False, []),
    "quit.base_monthly": (0.5, []),
    "quit.loss_extra": (0.5, []),
    "quit.idle_extra": (0.9, []),
    "quit.idle_horizon_months": (1, []),
    "quit.buyback_share": (0.0, ["quit.buyback_claim_prob=1"]),
    "quit.buyback_claim_prob": (1.0, []),
    "units.usd_per_pv": (3.0, []),
    "units.bv_per_pv": (0.3, []),
    "observe.reachable": (False, []),
    "buy.qualify_rule": ("expected_gain", ["expectations.enabled=true"]),
    "quit.kit_refundable": (True, ["quit.buyback_claim_prob=1"]),
    "segments.discount_share": (0.0, ["segments.enabled=true"]),
    "segments.retailer_share": (0.0, ["segments.enabled=true"]),
    "segments.discount_fixed_usd_monthly": (100.0, ["segments.enabled=true"]),
    "segments.discount_quit_monthly": (0.9, ["segments.enabled=true"]),
    "segments.downgrade_prob": (1.0, ["segments.enabled=true"]),
    "segments.sharer_pitches_per_month": (3.0, ["segments.enabled=true"]),
    "segments.discount_loyalty_pv": (150.0, ["segments.enabled=true"]),
    # Read at each join; wholesale customers share with no one, so the sharers must pitch.
    "segments.wholesale_share": (
        1.0,
        ["segments.enabled=true", "segments.sharer_pitches_per_month=3"],
    ),
    "expectations.optimism": (10.0, ["expectations.enabled=true"]),
    "expectations.outside_option_usd": (1000.0, ["expectations.enabled=true"]),
    "expectations.scale_usd": (1.0, ["expectations.enabled=true"]),
    "expectations.adaptation": (1.0, ["expectations.enabled=true"]),
    "expectations.disappointment_extra": (0.9, ["expectations.enabled=true"]),
    "recruit.bass_p": (0.2, ["recruit.mode=bass"]),
    "recruit.bass_q": (5.0, ["recruit.mode=bass"]),
    "recruit.branching_offspring": ([0.0, 0.0, 1.0], ["recruit.mode=branching"]),
    "recruit.max_joins_per_month": (1, ["recruit.pitches_per_month=8"]),
    "expectations.contact_weight": (5.0, ["expectations.enabled=true"]),
    "expectations.disclosure_shown": (True, ["expectations.enabled=true"]),
    "expectations.disclosure_weight": (
        50.0,
        ["expectations.enabled=true", "expectations.disclosure_shown=true"],
    ),
    "incentives.effort": (True, []),
    "incentives.sensitivity": (3.0, ["incentives.effort=true"]),
    # A percent fast start (window 2 months) makes the pay ratio depend on the horizon.
    "incentives.horizon_months": (1, ['plan.file="unilevel_7_dt"', "incentives.effort=true"]),
    "incentives.loading": (True, ['plan.file="unilevel_7_dt"']),
    "incentives.max_loading_pv": (
        0.0,
        ['plan.file="unilevel_7_dt"', "incentives.loading=true"],
    ),
    "people.leader_quit_factor": (5.0, ["people.leader_founders=true"]),
    "people.overload_strength": (5.0, []),
    "rejoin.cooldown_months": (0, ["rejoin.enabled=true", "quit.base_monthly=0.2"]),
    "rejoin.appeal": (
        1.0,
        [
            "rejoin.enabled=true",
            "rejoin.cooldown_months=0",
            "rejoin.appeal=0.05",
            "quit.base_monthly=0.2",
            "recruit.pitches_per_month=10",
            "recruit.join_prob=0.9",
        ],
    ),
    "policy.cooling_off_months": (6, []),
    "policy.claim_cap": ("usd", ["expectations.enabled=true", "policy.claim_cap_usd=0"]),
    "policy.claim_cap_usd": (0.0, ["expectations.enabled=true", 'policy.claim_cap="usd"']),
    "chain.fee_usd": (500.0, ['recruit.mode="branching"', "chain.enabled=true"]),
    "chain.sponsor_share": (1.0, ['recruit.mode="branching"', "chain.enabled=true"]),
    "chain.upline_level": (2, ['recruit.mode="branching"', "chain.enabled=true"]),
    "returns.customer_prob": (1.0, ["returns.enabled=true"]),
    "returns.member_prob": (1.0, ["returns.enabled=true"]),
    "returns.customer_refund_share": (
        0.0,
        ["returns.enabled=true", "returns.customer_prob=0.5"],
    ),
    "returns.member_refund_share": (0.0, ["returns.enabled=true", "returns.member_prob=0.5"]),
    "placement.rule": ("legs", ["segments.enabled=true"]),
    "placement.share": (0.0, ["segments.enabled=true", 'placement.rule="legs"']),
    "placement.builder_share": (
        1.0,
        [
            "segments.enabled=true",
            "segments.discount_share=0.1",
            'placement.rule="legs"',
            "placement.width=1",
        ],
    ),
    "placement.width": (1, ["segments.enabled=true", 'placement.rule="legs"', "placement.width=6"]),
}
SHOCK_MONTH = 5


def _all_parameters():
    for section, info in config.Scenario.model_fields.items():
        for name in info.annotation.model_fields:
            yield f"{section}.{name}"


def test_every_parameter_declares_when_it_is_read():
    schema = config.schema()
    for key in _all_parameters():
        section, _, name = key.partition(".")
        sec_schema = schema["$defs"][config.Scenario.model_fields[section].annotation.__name__]
        assert sec_schema["properties"][name]["read"] == config.parameter_reading(key)
    monthly = {k for k in _all_parameters() if config.parameter_reading(k) == "monthly"}
    assert monthly == set(LIVE), "a live parameter without a shock test, or a stale entry"


def _trajectory(sets, change=None):
    scen, _ = load_scenario(
        "classroom",
        ["market.population=600", "scenario.months=9", "retail.accept_prob=0.5", *sets],
    )
    model = MLMModel(scenario=scen, agents=False)
    if change is not None:
        model.schedule_change(SHOCK_MONTH, *change)
    model.run()
    table = results.monthly_table(model)
    return table.drop(columns="month").to_numpy(dtype=float), model


@pytest.mark.parametrize("key", sorted(LIVE))
def test_a_live_parameter_changes_the_run_from_the_month_it_changes(key):
    value, sets = LIVE[key]
    base, _ = _trajectory(sets)
    shocked, model = _trajectory(sets, (key, value))
    section, _, name = key.partition(".")
    assert getattr(getattr(model.scenario, section), name) == value
    before = slice(0, SHOCK_MONTH)
    np.testing.assert_array_equal(base[before], shocked[before])
    after = ~np.isclose(base[SHOCK_MONTH:], shocked[SHOCK_MONTH:], equal_nan=True)
    assert after.any(), f"{key} = {value!r} from month {SHOCK_MONTH} changed nothing"


@pytest.mark.parametrize(
    "key", sorted(k for k in _all_parameters() if config.parameter_reading(k) == "start")
)
def test_a_start_up_parameter_cannot_change_mid_run(key):
    model = MLMModel(population=100, months=3, agents=False)
    with pytest.raises(ConfigError, match=rf"{key} is read once when the model is built"):
        model.schedule_change(2, key, 1)


def test_a_change_with_a_bad_value_is_refused_before_the_run():
    model = MLMModel(population=100, months=3, agents=False)
    with pytest.raises(ConfigError, match=r"recruit\.join_prob"):
        model.schedule_change(2, "recruit.join_prob", 1.5)
    with pytest.raises(ConfigError, match="not a scenario parameter"):
        model.schedule_change(2, "recruit.joinprob", 0.5)


# ------------------------------------------------------------------------------------------
# one owner of money


def test_money_identity_for_every_person_in_every_view(tmp_path):
    scen, path = load_scenario(
        "classroom", ["market.population=500", "scenario.months=14", "quit.buyback_claim_prob=1"]
    )
    out = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)
    model = out["model"]
    dist = pd.read_parquet(out["run_dir"] / "distributors.parquet").set_index("id")
    assert (dist["buyback_refund"] > 0).any(), "the check needs people who sold stock back"
    inflow = dist[list(INFLOWS)].sum(axis=1)
    outflow = dist[list(OUTFLOWS)].sum(axis=1)
    # Net income = money in - money out (+ home use valued in the survey definition).
    assert np.allclose(dist["net_income_strict"], inflow - outflow, rtol=0, atol=1e-6)
    assert np.allclose(
        dist["net_income"], inflow - outflow + dist["own_use_value"], rtol=0, atol=1e-6
    )
    assert np.allclose(dist["costs"], outflow - dist["buyback_refund"], rtol=0, atol=1e-6)
    # The agent's story gives the same numbers, person by person.
    for pid in dist.index:
        s = model.distributor(int(pid)).story()
        row = dist.loc[pid]
        for k in ("costs", "net_income", "net_income_strict", *INFLOWS, *OUTFLOWS):
            assert s[k] == pytest.approx(row[k], abs=1e-9), (pid, k)
    # The disclosure statement's year is the same accounts over its 12 months.
    ids = pd.read_csv(out["run_dir"] / "income_disclosure.csv")
    everyone = ids[(ids.population == "all_participants") & ids["rank"].isna()].iloc[0]
    # Participants of the year (months 3-14): everyone who had not quit before month 3.
    year_ = dist[(dist.quit_month < 0) | (dist.quit_month >= 3)]
    assert everyone["count"] == len(year_)
    assert everyone["mean_net"] == pytest.approx(year_["net_income_year"].mean(), rel=1e-9)
    # ... and those accounts are the cumulative ones less the snapshot 12 months back.
    pop, start, ids_ = model.pop, model.year_start, dist.index.to_numpy()

    def year(k):
        return getattr(pop, k)[ids_] - start[k][ids_]

    money_in = year("commissions") + year("retail_sales") + year("buyback_refund")
    money_out = year("purchases") + year("kit_cost") + year("fixed_costs")
    assert np.allclose(dist["commissions_year"], year("commissions"), atol=1e-9)
    assert np.allclose(dist["costs_year"], money_out - year("buyback_refund"), atol=1e-6)
    assert np.allclose(
        dist["net_income_year"], money_in - money_out + year("own_use_value"), atol=1e-6
    )


def test_collect_describes_every_monthly_column(run_dir):
    monthly = pd.read_csv(run_dir / "monthly.csv")
    model = MLMModel(scenario=scenario_with(*SETS), agents=False)
    described = collect.monthly_columns(model.plan, model.scenario)
    assert list(monthly.columns) == list(described)
    assert all(text.strip() for text in described.values())
