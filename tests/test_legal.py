"""The legal tests and the purchase classes (simulation.metrics.legal, docs/legal.md).

Every number below is worked out by hand from the rule as its source states it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulation import outcomes
from simulation.collect import LEGAL_COLUMNS
from simulation.config import load_scenario, scenario_from_dict
from simulation.metrics import legal
from simulation.model import MLMModel
from simulation.results import load_run, run_data
from simulation.runner import run_scenario
from simulation.state import Status
from simulation.tree import Forest

# ---------------------------------------------------------------------------------------------
# A genealogy of 8 members, one pay period (PV). Sponsor tree:
#
#     0 ── 1 ── 3            7 (a root alone)
#     │    └─── 4
#     └─── 2 ── 5 ── 6
#
SPONSOR = np.array([-1, 0, 0, 1, 1, 2, 5, -1])
BOUGHT = np.array([100.0, 80, 60, 50, 40, 100, 30, 20])
SOLD = np.array([30.0, 20, 10, 30, 20, 60, 30, 5])  # customers' orders (non-participants)


def forest() -> Forest:
    return Forest.from_parent(SPONSOR)


def test_vemma_majority_of_own_and_downline_sales_by_hand():
    # Organisation = the member and the whole downline.
    #   3: 30/50 = 0.6          4: 20/40 = 0.5 (half is not a majority)   6: 30/30 = 1
    #   5: (60+30)/(100+30) = 90/130       1: (20+30+20)/(80+50+40) = 70/170
    #   2: (10+90)/(60+130) = 100/190      0: (30+70+100)/(100+170+190) = 200/460
    #   7: 5/20
    share = legal.vemma_share(forest(), BOUGHT, SOLD)
    want = [200 / 460, 70 / 170, 100 / 190, 0.6, 0.5, 90 / 130, 1.0, 0.25]
    assert share == pytest.approx(want, rel=1e-12)
    # Member 2 sells only 10 of 60 itself but its organisation sells a majority: it passes.
    assert (share > legal.VEMMA_MAJORITY).tolist() == [
        False, False, True, True, False, True, True, False,
    ]  # fmt: skip


def test_vemma_organisation_without_sales_has_no_majority():
    f = Forest.from_parent(np.array([-1, 0]))
    assert legal.vemma_share(f, [0.0, 0.0], [0.0, 0.0]).tolist() == [0.0, 0.0]


def test_retail_backed_rewards_and_recruitment_share_by_hand():
    comm = np.array([50.0, 20, 30, 0, 0, 10, 0, 8])
    recruiting = np.array([10.0, 0, 0, 0, 0, 0, 0, 0])  # a fast-start bonus to member 0
    backed = legal.retail_backed(forest(), comm, recruiting, BOUGHT, SOLD)
    # Pro rata to the downline's volume, the member excluded:
    #   0: (50 - 10) x (20+10+30+20+60+30) / (80+60+50+40+100+30) = 40 x 170/360 = 170/9
    #   1: 20 x (30+20)/(50+40) = 100/9      2: 30 x (60+30)/(100+30) = 270/13
    #   5: 10 x 30/30 = 10                   7: no downline, its own 8 x 5/20 = 2
    want = [170 / 9, 100 / 9, 270 / 13, 0, 0, 10, 0, 2]
    assert backed == pytest.approx(want, rel=1e-12)
    total = 170 / 9 + 100 / 9 + 270 / 13 + 10 + 2  # = 816/13
    assert backed.sum() == pytest.approx(816 / 13, rel=1e-12)
    # Herbalife: two thirds of rewards on retail sales? 816/13 / 118 = 0.532: no.
    assert backed.sum() / comm.sum() == pytest.approx(816 / 13 / 118, rel=1e-12)
    assert backed.sum() / comm.sum() < legal.HERBALIFE_RETAIL_REWARDS
    # Vander Nat & Keep: retail margin at 20% over wholesale on 205 PV sold = 41 USD, all
    # sales-driven; recruitment-driven = 118 - 816/13; share = (118 - 816/13) / (118 + 41).
    share = legal.recruitment_reward_share(comm.sum(), total, 0.2 * SOLD.sum())
    assert share == pytest.approx((118 - 816 / 13) / 159, rel=1e-12)
    assert share < legal.RECRUITMENT_PRIMARILY  # 0.347: sales-driven


def test_recruiting_bonuses_are_wholly_recruitment_driven():
    # Everything paid is an enrolment bonus: nothing is retail-backed, whatever is sold.
    backed = legal.retail_backed(forest(), [40.0] + [0] * 7, [40.0] + [0] * 7, BOUGHT, SOLD)
    assert backed.sum() == 0.0
    assert legal.recruitment_reward_share(40.0, 0.0, 10.0) == pytest.approx(0.8)
    assert math.isnan(legal.recruitment_reward_share(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="recruiting"):
        legal.retail_backed(forest(), [1.0] * 8, [2.0] + [0] * 7, BOUGHT, SOLD)
    with pytest.raises(ValueError, match="retail_backed"):
        legal.recruitment_reward_share(1.0, 2.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Five members' purchases in one month (PV): the 70% rule, ten customers, end use.
#   A: an autoshipper: bought 100, the household used 60, nothing sold
#   B: bought 100, household 60 (40 of it from stock), 30 sold to customers
#   C: bought nothing, the household used 60 from stock
#   D: bought 50, household 10, sold 20, returned 5 from old stock
#   E: a loader: bought 300, household 60, nothing sold
BUY = np.array([100.0, 100, 0, 50, 300])
HOME = np.array([60.0, 60, 60, 10, 60])
SALE = np.array([0.0, 30, 0, 20, 0])
BACK = np.array([0.0, 0, 0, 5, 0])


def test_amway_70_rule_by_hand():
    # (used + sold + returned) / bought: A 60/100, B 90/100, C nothing bought: 1,
    # D 35/50 = 0.7 (the line is inclusive), E 60/300.
    share = legal.amway_70(BUY, HOME, SALE, BACK)
    assert share == pytest.approx([0.6, 0.9, 1.0, 0.7, 0.2], rel=1e-12)
    assert (share >= legal.AMWAY_RESOLD_OR_USED).tolist() == [False, True, True, True, False]


def test_ten_customer_rule_by_hand():
    assert legal.ten_customers([10, 9, 0, 25, 3]).tolist() == [True, False, False, True, False]


def test_herbalife_end_use_by_hand():
    # Per member (household + sold) / bought, returns not end use: A 0.6, B 0.9, C 1,
    # D 30/50 = 0.6, E 0.2. Company-wide: (60+90+0+30+60) / 550 = 240/550 = 0.436 < 0.8.
    share = legal.end_use_share(BUY, HOME, SALE)
    assert share == pytest.approx([0.6, 0.9, 1.0, 0.6, 0.2], rel=1e-12)
    company = legal.company_share(np.minimum(HOME + SALE, BUY), BUY)
    assert company == pytest.approx(240 / 550)
    assert company < legal.HERBALIFE_END_USE


def test_purchase_classes_add_up_to_what_was_bought():
    c = legal.classify_purchases(BUY, HOME, SALE, BACK)
    # unconsumed = bought - household - sold - returned: A 40, B 10, C -60 (stock drawn
    # down), D 15, E 240.
    assert c["unconsumed"].tolist() == [40.0, 10.0, -60.0, 15.0, 240.0]
    total = c["consumed"] + c["sold"] + c["returned"] + c["unconsumed"]
    assert total.tolist() == BUY.tolist()
    with pytest.raises(ValueError, match="household"):
        legal.classify_purchases(BUY, -HOME, SALE, BACK)
    with pytest.raises(ValueError, match="differ in length"):
        legal.classify_purchases(BUY, HOME[:3], SALE, BACK)


def test_qualifying_topup_counts_household_use_before_stock():
    # A member's household uses 60, 40 of it from stock; the buy rule bought 20 for the
    # household and topped up 80 to reach 100. Bought beyond the month's needs: 100 - 60 = 40.
    assert legal.qualifying_topup([80.0], [60.0], [0.0], 100.0).tolist() == [40.0]
    # With 30 sold, only 10 is beyond the needs; needs above the minimum: nothing.
    assert legal.qualifying_topup([30.0, 0.0], [60.0, 90.0], [30.0, 20.0], 100.0).tolist() == [
        10.0,
        0.0,
    ]


def test_month_tests_cover_the_forest_members_only():
    n = 10  # rows 8 and 9 are not in the forest (prospects)
    f = Forest.from_parent(np.concatenate((SPONSOR, [-1, -1])), member=np.arange(n) < 8)
    pad = np.zeros(2)
    comm = np.array([50.0, 20, 30, 0, 0, 10, 0, 8, 0, 0])
    recruiting = np.array([10.0] + [0.0] * 9)
    t = legal.month_tests(
        f,
        bought=np.concatenate((BOUGHT, pad)),
        household=np.concatenate((BOUGHT - SOLD, pad)),  # the rest was used at home
        sold=np.concatenate((SOLD, pad)),
        returned=np.zeros(n),
        customers=np.array([12.0, 0, 0, 10, 0, 3, 0, 0, 0, 0]),
        commissions=comm,
        recruiting=recruiting,
    )
    assert sorted(t.paid_rows.tolist()) == list(range(8))
    # The same retail-backed rewards as the one-test function (worked out above): 816/13.
    want = legal.retail_backed(forest(), comm[:8], recruiting[:8], BOUGHT, SOLD)
    assert t.retail_backed == pytest.approx(want[t.paid_rows], rel=1e-12)
    assert t.retail_backed.sum() == pytest.approx(816 / 13, rel=1e-12)
    with pytest.raises(ValueError, match="bought must have shape"):
        legal.month_tests(
            f, bought=BOUGHT, household=BOUGHT, sold=SOLD, returned=BOUGHT,
            customers=BOUGHT, commissions=BOUGHT, recruiting=BOUGHT,
        )  # fmt: skip
    by_row = dict(zip(t.paid_rows.tolist(), t.vemma.tolist(), strict=True))
    assert [by_row[r] for r in range(8)] == [
        False, False, True, True, False, True, True, False,
    ]  # fmt: skip
    assert t.amway_70.all() and t.end_use.all()  # everything was used or sold
    assert sorted(t.paid_rows[t.ten_customers].tolist()) == [0, 3]


# ---------------------------------------------------------------------------------------------
# The model: one member with known household use, stock and customer sales


def _one_member_model(months: int) -> MLMModel:
    """One founder on autoship (100 PV minimum), household use 60 PV, customers ordering
    30 PV a month; no recruiting, no quitting, nobody else."""
    scen, _ = load_scenario("classroom")
    data = scen.to_dict()
    data["market"].update(population=20, founders=1, heterogeneity=False)
    data["recruit"].update(pitches_per_month=0.0)
    data["quit"].update(enabled=False)
    data["buy"].update(own_use_pv=60.0, autoship_share=1.0, loader_share=0.0)
    data["scenario"]["months"] = months

    def retail(model, rng):
        pop = model.pop
        pop.customer_pv[:] = 0.0
        pop.customer_pv[pop.status == Status.DISTRIBUTOR] = 30.0

    return MLMModel(scenario=scenario_from_dict(data, "test"), rules={"retail": retail})


def test_purchase_classes_of_a_member_with_household_use_stock_and_customers():
    m = _one_member_model(4).run()
    df = m.datacollector.get_model_vars_dataframe().iloc[1:]
    # Month 1: no stock; buys 60 for the household + 30 for customers + a top-up of 10 to
    # reach 100, which goes to stock (10). Month t: the household takes 10 (t - 1) from stock
    # first and the buy rule tops up 10 t, stock grows to 10 t. Every month: bought 100, used
    # 60, sold 30, kept in stock 10; bought only to qualify 100 - 60 - 30 = 10, while the buy
    # rule's own top-up column grows 10, 20, 30, 40 (household use drawn from stock).
    assert df["pv"].tolist() == [100.0] * 4
    assert df["household_pv"].tolist() == [60.0] * 4
    assert df["customer_pv"].tolist() == [30.0] * 4
    assert df["unconsumed_pv"].tolist() == pytest.approx([10.0] * 4)
    assert df["qualify_pv"].tolist() == pytest.approx([10.0] * 4)
    assert df["topup_pv"].tolist() == pytest.approx([10.0, 20.0, 30.0, 40.0])
    assert df["returned_pv"].tolist() == [0.0] * 4
    founder = int(m.ever_ids[0])
    assert m.pop.inventory_pv[founder] == pytest.approx(40.0)  # 4 months x 10
    # The 70% rule (90/100 sold or used) and the end-use line pass; Vemma (30/100 sold to
    # non-participants) and ten customers (none recorded as persons) fail.
    assert df["amway70_pass"].tolist() == [1] * 4
    assert df["end_use_pass"].tolist() == [1] * 4
    assert df["vemma_pass"].tolist() == [0] * 4
    assert df["ten_customers_pass"].tolist() == [0] * 4
    out = outcomes.sweep_outcomes(run_data(m))
    assert out["unconsumed_share"] == pytest.approx(0.1)
    assert out["qualify_share"] == pytest.approx(0.1)
    assert out["herbalife_end_user_share"] == pytest.approx(0.9)
    assert out["amway_70_pass_share"] == 1.0 and out["vemma_pass_share"] == 0.0


# ---------------------------------------------------------------------------------------------
# Consumer injury and the shipped plans


def test_consumer_injury_sums_losses_only():
    # Losses 100 + 20; the winner's 50 does not offset them.
    assert outcomes.consumer_injury(np.array([-100.0, 50.0, -20.0, 0.0])) == 120.0


def test_consumer_injury_of_a_run_is_the_sum_of_net_losses():
    scen, _ = load_scenario("classroom")
    m = MLMModel(scenario=scen, months=12).run()
    net = m.pop.net_income(rows=m.ever_ids)  # the one definition of net income
    want = float(-net[net < 0].sum())
    assert outcomes.summarise(run_data(m))["consumer_injury"] == pytest.approx(want, rel=1e-12)
    assert want > 0


def _recruitment_share(plan: str) -> float:
    scen, _ = load_scenario("classroom")
    m = MLMModel(scenario=scen, plan=plan, seed=42, months=24).run()
    return outcomes.sweep_outcomes(run_data(m))["recruitment_reward_share"]


def test_recruiting_heavy_fails_and_retail_heavy_passes_the_recruitment_test():
    # Classroom market, seed 42, 24 months (the growth years). recruiting_heavy pays 40 USD
    # per starter kit and 5/3 % on members' volume, mostly their own purchases; retail_heavy
    # needs no purchase and gives a 1/3 markup on what is sold to customers.
    heavy = _recruitment_share("recruiting_heavy")
    retail = _recruitment_share("retail_heavy")
    assert heavy > legal.RECRUITMENT_PRIMARILY > retail


def test_a_run_folder_written_before_the_legal_columns_still_loads(tmp_path):
    scen, path = load_scenario("classroom")
    scen.scenario.months = 6
    out = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=False)["run_dir"]
    monthly = out / "monthly.csv"
    pd.read_csv(monthly).drop(columns=list(LEGAL_COLUMNS)).to_csv(monthly, index=False)
    run = load_run(out)
    assert all(v is None for v in outcomes.legal_outcomes(run).values())
    tests = {t["name"]: t for t in outcomes.analyse(run).facts["legal"]}
    # Tests needing the new columns are "not recorded"; the two whose company figure comes
    # from older columns (retail share, customers per distributor) still have a verdict.
    assert all(t["pass_share"] is None and t["paid_share"] is None for t in tests.values())
    for name in ("amway_70", "herbalife_end_use", "herbalife_retail_rewards", "vander_nat_keep"):
        assert tests[name]["passes"] is None
    assert tests["vemma"]["passes"] is False and tests["ten_customers"]["passes"] is False
