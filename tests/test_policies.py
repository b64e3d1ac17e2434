"""Policies: each rule worked by hand on a small genealogy, switched off it changes nothing
(bit for bit), and in the market model it does what the rule says with the money accounts
intact; the chain letter's joining payment by hand on a small tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import behaviour
from simulation.config import load_scenario
from simulation.errors import ConfigError, DataError
from simulation.model import MLMModel
from simulation.plans import PeriodInput, load_plan, plan_from_dict
from simulation.runner import run_scenario
from simulation.state import Status
from tests.helpers import check_invariants

BASE = Path(__file__).parent / "data" / "baseline"

# A small genealogy: 0 is the root, 1 and 2 its frontline, 3 under 1. Everyone has 100 PV.
SPONSOR = [-1, 0, 0, 1]
PV = [100.0, 100.0, 100.0, 100.0]
CUSTOMER_PV = [80.0, 20.0, 0.0, 60.0]  # retail shares 0.8, 0.2, 0, 0.6
CUSTOMERS = [10, 5, 0, 5]


def unilevel(**qualification) -> object:
    """A 10/5 % unilevel without compression, paid from 0 PV, plus the given conditions."""
    return plan_from_dict(
        {
            "qualification": {"min_pv": 0, **qualification},
            "unilevel": {"percentages": [0.10, 0.05], "compression": "none"},
        }
    )


def pay(plan, **inp) -> np.ndarray:
    period = PeriodInput.of(SPONSOR, PV, customers=CUSTOMERS, customer_pv=CUSTOMER_PV, **inp)
    return plan.engine().pay(period).total


def test_without_conditions_the_unilevel_pays_by_hand():
    # 0: 10% of (100 + 100) + 5% of 100 = 25; 1: 10% of 100 = 10.
    assert pay(unilevel()).tolist() == [25.0, 10.0, 0.0, 0.0]


def test_ten_customer_rule_pays_only_members_with_ten_customers():
    # Only 0 has ten customers: 1 is not qualified and its 10 is not paid.
    assert pay(unilevel(min_retail_customers=10)).tolist() == [25.0, 0.0, 0.0, 0.0]


def test_retail_share_rule_pays_only_members_selling_enough():
    # Shares 0.8, 0.2, 0, 0.6: 1 (0.2) fails at 0.5.
    assert pay(unilevel(min_retail_share=0.5)).tolist() == [25.0, 0.0, 0.0, 0.0]


def test_retail_rules_all_or_any():
    both = {"min_retail_customers": 5, "min_retail_share": 0.5}
    # all: 1 has 5 customers but a 0.2 share -> unpaid; any: 5 customers suffice -> 10.
    assert pay(unilevel(**both, retail_rule="all")).tolist() == [25.0, 0.0, 0.0, 0.0]
    assert pay(unilevel(**both, retail_rule="any")).tolist() == [25.0, 10.0, 0.0, 0.0]


def test_household_cap_counts_own_purchases_up_to_the_cap():
    # Own purchases (PV - customer PV) 20, 80, 100, 40, capped at 30: counted PV
    # 100, 50, 30, 90. Then 0: 10% of (50 + 30) + 5% of 90 = 12.5; 1: 10% of 90 = 9.
    got = pay(unilevel(max_household_pv=30.0))
    assert got.tolist() == pytest.approx([12.5, 9.0, 0.0, 0.0], abs=1e-12)


def test_household_cap_that_never_binds_returns_the_same_input():
    plan = unilevel(max_household_pv=1e12)
    assert pay(plan).tolist() == pay(unilevel()).tolist()


def test_retail_conditions_without_the_data_are_an_error():
    period = PeriodInput.of(SPONSOR, PV)
    with pytest.raises(DataError, match="min_retail_customers"):
        unilevel(min_retail_customers=1).engine().pay(period)
    with pytest.raises(DataError, match="max_household_pv"):
        unilevel(max_household_pv=10.0).engine().pay(period)


def recruiting_plan(**cap) -> object:
    data = {
        "qualification": {"min_pv": 0},
        "fast_start": {"mode": "flat", "amount": 40.0, "requires_kit": False, "window_periods": 1},
        "unilevel": {"percentages": [0.10]},
    }
    if cap:
        data["recruiting_cap"] = cap
    return plan_from_dict(data)


def recruiting_pay(plan):
    # 0 enrolled 1, 2 and 3 this period: a fast start of 3 x 40 = 120; unilevel 10% of 300.
    period = PeriodInput.of([-1, 0, 0, 0], [100.0] * 4, joined_period=[0, 1, 1, 1], period=1)
    return plan.engine().pay(period)


def test_recruiting_cap_by_hand():
    free = recruiting_pay(recruiting_plan())
    assert free.components["fast_start"][0] == 120.0 and free.components["unilevel"][0] == 30.0
    usd = recruiting_pay(recruiting_plan(usd_per_month=50.0))
    assert usd.components["fast_start"][0] == 50.0
    assert usd.breakage["fast_start"] == pytest.approx(70.0)
    # At most half of pay: recruiting <= 0.5 / 0.5 x 30 (the other pay) = 30.
    share = recruiting_pay(recruiting_plan(share_of_pay=0.5))
    assert share.components["fast_start"][0] == pytest.approx(30.0)
    both = recruiting_pay(recruiting_plan(usd_per_month=50.0, share_of_pay=0.5))
    assert both.total[0] == pytest.approx(60.0)
    never = recruiting_pay(recruiting_plan(usd_per_month=1e12, share_of_pay=1.0))
    assert never.total.tolist() == free.total.tolist()


def test_plan_value_may_name_a_fixed_table_the_file_leaves_out():
    plan = load_plan("unilevel_5", changes={"recruiting_cap.usd_per_month": 10.0})
    assert plan.recruiting_cap is not None and plan.recruiting_cap.usd_per_month == 10.0
    assert load_plan("unilevel_5").recruiting_cap is None


# ------------------------------------------------------------------------------ the model

NEVER_BINDING = [
    "plan.qualification.min_retail_customers=0",
    "plan.qualification.min_retail_share=0.0",
    "plan.qualification.max_household_pv=1e12",
    "plan.recruiting_cap.usd_per_month=1e12",
    "plan.recruiting_cap.share_of_pay=1.0",
    "policy.cooling_off_months=0",
    'policy.claim_cap="usd"',
    "policy.claim_cap_usd=1e9",
]


@pytest.mark.parametrize("name", ["monthly.csv", "levels.csv"])
def test_policies_that_never_bind_reproduce_the_stored_baseline(name, tmp_path):
    scen, path = load_scenario("classroom", NEVER_BINDING)
    assert scen.plan.set  # the plan values did reach the plan
    out = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)["run_dir"]
    got = (out / name).read_text().splitlines()
    want = (BASE / f"classroom_{name}").read_text().splitlines()
    assert got == want


def monthly(sets, scenario="policy_town"):
    scen, _ = load_scenario(scenario, ["market.population=600", "scenario.months=18", *sets])
    model = MLMModel(scenario=scen, agents=False)
    for _ in range(scen.scenario.months):
        model.step()
        check_invariants(model)
    return model, model.datacollector.get_model_vars_dataframe()


def test_never_binding_policies_change_nothing_with_expectations_and_a_fast_start():
    # policy_town: claims drive joining and the plan pays a fast start, so the claim cap and
    # the recruiting cap are on the path of every month.
    _, free = monthly([])
    _, capped = monthly(NEVER_BINDING)
    pd.testing.assert_frame_equal(free, capped, check_exact=True)


def test_claim_cap_holds_recruiters_claims():
    model, _ = monthly(['policy.claim_cap="usd"', "policy.claim_cap_usd=40"])
    pop = model.pop
    recruiters = model.active_ids()
    e = model.scenario.expectations
    up = pop.sponsor[recruiters]
    upline = np.where(up >= 0, pop.expected_income[np.maximum(up, 0)], 0.0)
    free = e.optimism * np.maximum(pop.expected_income[recruiters], upline)
    claim = behaviour.recruiter_claim(model, recruiters)
    assert (free > 40).any()
    np.testing.assert_array_equal(claim, np.minimum(free, 40.0))
    model.scenario.policy.claim_cap = "median"
    model.disclosed_median = 7.5
    np.testing.assert_array_equal(
        behaviour.recruiter_claim(model, recruiters), np.minimum(free, 7.5)
    )


def test_cooling_off_refunds_kit_and_unsold_purchases_from_the_company():
    k = 3
    model, table = monthly([f"policy.cooling_off_months={k}"], scenario="classroom")
    pop = model.pop
    quit_ = np.flatnonzero(pop.status == Status.QUIT)
    early = quit_[pop.quit_month[quit_] - pop.join_month[quit_] < k]
    late = quit_[pop.quit_month[quit_] - pop.join_month[quit_] >= k]
    assert early.size > 10 and late.size > 10
    resold = pop.retail_sales[early] - pop.retail_margin[early]
    expected = pop.kit_cost[early] + pop.purchases[early] - resold
    np.testing.assert_allclose(pop.buyback_refund[early], expected, rtol=1e-12)
    # Net of the refund they paid nothing but what they resold: costs = fixed costs + resold.
    costs = pop.costs(early)
    np.testing.assert_allclose(costs, pop.fixed_costs[early] + resold, rtol=1e-9, atol=1e-9)
    # The company paid it: revenue net of refunds (checked every month by check_invariants).
    assert table["revenue"].sum() == pytest.approx(model.company["revenue"])


# ------------------------------------------------------------------------------ chain letter


def test_chain_letter_joining_payments_by_hand():
    # One founder; everyone recruits exactly two (offspring [0, 0, 1]) in the month after
    # joining. Fee 100: 50 to the sponsor, 50 to the member 2 levels up (the sponsor's
    # sponsor). Nobody buys anything, so the plan pays nothing and commissions are the chain.
    scen, _ = load_scenario(
        "classroom",
        [
            "market.population=50",
            "market.founders=1",
            'recruit.mode="branching"',
            "recruit.branching_offspring=[0.0, 0.0, 1.0]",
            "scenario.months=2",
            "quit.enabled=false",
            "retail.enabled=false",
            "buy.own_use_pv=0",
            "buy.autoship_share=0",
            "buy.loader_share=0",
            "costs.fixed_usd_monthly=0",
            "chain.enabled=true",
            "chain.fee_usd=100",
            "chain.sponsor_share=0.5",
            "chain.upline_level=2",
        ],
    )
    model = MLMModel(scenario=scen, agents=False).run()
    pop = model.pop
    table = model.datacollector.get_model_vars_dataframe()
    ever = model.ever_ids
    founder = ever[0]
    first = ever[pop.join_month[ever] == 1]
    second = ever[pop.join_month[ever] == 2]
    assert first.size == 2 and second.size == 4
    # Month 1: A and B pay 100 each; the founder gets 2 x 50; nobody is 2 levels up: the
    # company keeps 2 x 50. Month 2: four recruits; A and B get 2 x 50 each, the founder
    # 4 x 50 as their sponsor's sponsor.
    assert pop.commissions[founder] == 300.0
    assert pop.commissions[first].tolist() == [100.0, 100.0]
    assert (pop.commissions[second] == 0).all()
    assert table["paid_chain"].tolist() == [0.0, 100.0, 400.0]
    assert table["paid_recruiting"].tolist() == [0.0, 100.0, 400.0]
    assert table["commissions"].tolist() == [0.0, 100.0, 400.0]
    kit = scen.costs.starter_kit_usd
    assert pop.kit_cost[founder] == kit
    assert (pop.kit_cost[np.concatenate([first, second])] == kit + 100.0).all()
    # Money is conserved: 600 of fees = 500 paid on + 100 kept by the organiser.
    assert model.company["paid"] == 500.0
    assert model.company["revenue"] == pytest.approx(7 * kit + 600.0)
    # Members together lost their kits and what the organiser kept.
    net = pop.net_income(rows=ever)
    assert net.sum() == pytest.approx(-7 * kit - 100.0)


def test_chain_needs_a_chain_letter_mode():
    with pytest.raises(ConfigError, match=r"chain\.enabled = true needs recruit\.mode"):
        load_scenario("classroom", ["chain.enabled=true"])
