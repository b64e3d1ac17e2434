"""Stairstep-breakaway (docs/plans.md): differential, breakaway, overrides, by hand.

The schedule is the default, Amway Europe: group PV >= 200/600/1,200/2,400/4,000/7,000/10,000
-> 3/6/9/12/15/18/21 %; breakaway at 21 %.
"""

import numpy as np
import pytest
from pydantic import ValidationError

from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.stairstep import StairstepParams


def pay(stairstep, sponsor, pv, min_pv=100, **kw):
    plan = plan_from_dict({"qualification": {"min_pv": min_pv}, "stairstep": stairstep})
    return plan.engine().pay(PeriodInput.of(sponsor, pv, **kw))


def test_amway_india_style_differential():
    # The India brochure: net = 21% x 6,00,000 - 14,400 - 14,400 - 5,400 - 36,000 (BV in Rs).
    # Leader 0 with four frontline groups (PV -> %, BV):
    #   1: 2,400 PV -> 12%, BV 1,20,000 -> gross 14,400;  2: the same -> 14,400
    #   3: 1,200 PV ->  9%, BV   60,000 -> gross  5,400
    #   4: 7,000 PV -> 18%, BV 2,00,000 -> gross 36,000
    # 0: own 1,000 PV -> GPV 14,000 -> 21%; GBV 1,00,000 + 5,00,000 = 6,00,000; gross 1,26,000;
    # net = 1,26,000 - 70,200 = 55,800. Everyone pays on its own group: the total is 21% x 6 lakh.
    sponsor = [-1, 0, 0, 0, 0]
    pv = [1000, 2400, 2400, 1200, 7000]
    bv = [100_000, 120_000, 120_000, 60_000, 200_000]
    r = pay({}, sponsor, pv, bv=bv, min_pv=0)
    assert r.components["stairstep"] == pytest.approx([55_800, 14_400, 14_400, 5_400, 36_000])
    assert r.extra["stairstep_pct"] == pytest.approx([0.21, 0.12, 0.12, 0.09, 0.18])
    assert r.paid == pytest.approx(0.21 * 600_000)
    assert r.breakage["stairstep"] == pytest.approx(0.0)


# 0 <- 1 <- 2 <- 3, BV = PV:
#   3: 500 PV -> 3%, gross 15, net 15.
#   2: 9,500 + 500 = 10,000 GPV exactly -> 21% (inclusive): breaks away from 1. gross 2,100,
#      net 2,100 - 15 = 2,085.
#   1: 1,200 (2's group left) -> 9%, gross 108, net 108.
#   0: 10,000 + 1,200 = 11,200 -> 21%, gross 2,352, net 2,352 - 108 = 2,244.
BREAKAWAY = [-1, 0, 1, 2]
BREAKAWAY_PV = [10_000, 1_200, 9_500, 500]


def test_breakaway_at_exactly_21_percent():
    r = pay({}, BREAKAWAY, BREAKAWAY_PV)
    assert r.extra["stairstep_pct"] == pytest.approx([0.21, 0.09, 0.21, 0.03])
    assert r.extra["stairstep_gpv"] == pytest.approx([11_200, 1_200, 10_000, 500])
    assert r.components["stairstep"] == pytest.approx([2_244, 108, 2_085, 15])
    # Telescoping: 21% of each group's GBV, 21% x (11,200 + 10,000) = 4,452.
    assert r.paid == pytest.approx(4_452)


def test_just_below_the_top_threshold_stays_in_the_group():
    # 2 at 9,999.99 GPV -> 18%: stays in 1's group. 1: 1,200 + 9,999.99 = 11,199.99 -> 21%.
    pv = [10_000, 1_200, 9_499.99, 500]
    r = pay({}, BREAKAWAY, pv)
    assert r.extra["stairstep_pct"][2] == pytest.approx(0.18)
    assert r.extra["stairstep_pct"][1] == pytest.approx(0.21)
    # 1 broke away from 0 instead: 0's GPV is its own 10,000 -> 21%, net 2,100.
    assert r.components["stairstep"][0] == pytest.approx(2_100)


def test_leadership_override_on_the_21_percent_leg():
    # 2's group (GBV 10,000) broke away. Walk up: 1 is at 9% < min_pct 21% (default: a leader);
    # 0 is at 21% and qualified -> 4% x 10,000 = 400. 0 is a leader: generation 1 ends; G = 1.
    r = pay({"override": {"percentages": [0.04]}}, BREAKAWAY, BREAKAWAY_PV)
    assert r.extra["stairstep_override"] == pytest.approx([400, 0, 0, 0])
    assert r.components["stairstep"] == pytest.approx([2_644, 108, 2_085, 15])
    assert r.breakage["stairstep"] == pytest.approx(0.0)


def test_override_min_pct_below_breakaway_pays_every_eligible_ancestor():
    # min_pct 9% (Amway lets a 15% sponsor earn it). Published rule: every qualified ancestor
    # at min_pct or above within generation 1 is paid: 1 (9%) -> 4% x 10,000 = 400, and 0
    # (21%, the leader that ends generation 1) -> 400 too. Both ancestors were visited in
    # generation 1, so the maximum is 800 and the breakage 0.
    ov = {"percentages": [0.04], "min_pct": 0.09}
    r = pay({"override": ov}, BREAKAWAY, BREAKAWAY_PV)
    assert r.extra["stairstep_override"] == pytest.approx([400, 400, 0, 0])
    assert r.breakage["stairstep"] == pytest.approx(0.0)
    # The one-payee variant: 1 is the first eligible ancestor and takes the 400; 0 ends
    # generation 1 unpaid; maximum 400 -> breakage 0.
    r = pay({"override": {**ov, "payees": "first_eligible"}}, BREAKAWAY, BREAKAWAY_PV)
    assert r.extra["stairstep_override"] == pytest.approx([0, 400, 0, 0])
    assert r.breakage["stairstep"] == pytest.approx(0.0)


def test_every_eligible_override_ancestor_in_two_generations():
    # Chain 0 <- 1 <- 2 <- 3 <- 4 <- 5, overrides 4% / 2%, min_pct 15%, BV = PV:
    #   5: 10,000 PV -> 21%, breaks away from 4 (group A, GBV 10,000).
    #   4: 4,000 -> 15%.  3: 500 -> GPV 4,500 -> 15% (4 stays in 3's group).
    #   2: 6,000 -> GPV 10,500 -> 21%: a leader, breaks away from 1 (group B, GBV 10,500).
    #   1: 4,100 -> 15%.  0: 10,000 -> GPV 14,100 -> 21% (root).
    # Group A walks up 4, 3, 2, 1, 0: generation 1 = 4 (15%), 3 (15%), 2 (21%, leader: the
    #   generation ends) -> 400 each; generation 2 = 1 (15%), 0 (21%) -> 2% x 10,000 = 200 each.
    # Group B walks up 1, 0: generation 1 -> 4% x 10,500 = 420 each.
    # Overrides: 0: 200 + 420 = 620, 1: 620, 2: 400, 3: 400, 4: 400. Total 2,440, and every
    # ancestor visited was eligible; group B's generation 2 lies above the root: 2% x 10,500 =
    # 210 of breakage.
    sponsor = [-1, 0, 1, 2, 3, 4]
    pv = [10_000, 4_100, 6_000, 500, 4_000, 10_000]
    ov = {"percentages": [0.04, 0.02], "min_pct": 0.15}
    r = pay({"override": ov}, sponsor, pv)
    assert r.extra["stairstep_pct"] == pytest.approx([0.21, 0.15, 0.21, 0.15, 0.15, 0.21])
    assert r.extra["stairstep_override"] == pytest.approx([620, 620, 400, 400, 400, 0])
    net = r.components["stairstep"] - r.extra["stairstep_override"]
    # Differential: telescoping, 21% of each group: 0.21 x (14,100 + 10,500 + 10,000).
    assert net.sum() == pytest.approx(0.21 * 34_600)
    assert r.breakage["stairstep"] == pytest.approx(210)


# Three stacked leaders 0 <- 1 <- 2, each 10,000 PV (21%); 3 under 1 with 9,950 PV (18%).
# 1 has only 50 PV of its own: GPV 10,000 -> 21% leader, but unqualified (< 100 PV).
#   3: gross 1,791, net 1,791.   2: 2,100.   1: gross 2,100 - 1,791 = 309 (forfeited).
#   0: 2,100 (both legs broke away).
LEADERS = [-1, 0, 1, 1]
LEADERS_PV = [10_000, 50, 10_000, 9_950]


def test_two_generations_with_an_unqualified_leader():
    ov = {"percentages": [0.04, 0.02]}
    # Group 2: 1 is an ineligible leader -> generation 1 (400) is breakage, the generation ends;
    #          0 -> generation 2: 2% x 10,000 = 200.
    # Group 1 (GBV 10,000): 0 -> generation 1: 400. 0's override: 600.
    r = pay({"override": ov}, LEADERS, LEADERS_PV)
    assert r.extra["stairstep_override"] == pytest.approx([600, 0, 0, 0])
    assert r.components["stairstep"] == pytest.approx([2_700, 0, 2_100, 1_791])
    # Breakage: 1's net 309, group 2's generation 1 (400) and group 1's generation 2, which
    # would sit above the root (2% x 10,000 = 200).
    assert r.breakage["stairstep"] == pytest.approx(309 + 400 + 200)


def test_override_compression_skips_the_ineligible_leader():
    # With compression 1 does not end a generation: 0 gets generation 1 on group 2 (400).
    ov = {"percentages": [0.04, 0.02], "override_compression": True}
    r = pay({"override": ov}, LEADERS, LEADERS_PV)
    assert r.extra["stairstep_override"] == pytest.approx([800, 0, 0, 0])


def test_unqualified_net_rolls_up_to_the_next_qualified_ancestor():
    r = pay({"unqualified_policy": "roll_up"}, LEADERS, LEADERS_PV)
    assert r.components["stairstep"] == pytest.approx([2_100 + 309, 0, 2_100, 1_791])
    assert r.breakage["stairstep"] == pytest.approx(0.0)


def test_inactive_distributor_in_the_middle():
    # 0 <- 1 <- 2; 1 is inactive (not paid) but its 300 PV counts for its upline (published
    # rule, inactive_volume = "counts"), and it links 2's group to 0:
    # 2: 700 -> 6%, gross 42. 1: 300 + 700 = 1,000 -> 6%, gross 60, net 18 (forfeited).
    # 0: 500 + 1,000 = 1,500 -> 9%, gross 135, net 135 - 60 = 75.
    r = pay({}, [-1, 0, 1], [500, 300, 700], active=[True, False, True])
    assert r.components["stairstep"] == pytest.approx([75, 0, 42])
    assert r.breakage["stairstep"] == pytest.approx(18)
    # inactive_volume = "excluded": 1 carries no volume. 1: 700 -> 6%, gross 42, net 0.
    # 0: 500 + 700 = 1,200 -> 9%, gross 108, net 108 - 42 = 66.
    plan = plan_from_dict(
        {"qualification": {"min_pv": 100, "inactive_volume": "excluded"}, "stairstep": {}}
    )
    r = plan.engine().pay(PeriodInput.of([-1, 0, 1], [500, 300, 700], active=[True, False, True]))
    assert r.components["stairstep"] == pytest.approx([66, 0, 42])


def test_min_pv_to_earn_overrides_the_plan_minimum():
    # 0 <- 1: 1 has 200 PV -> 3%, gross 6. 0 has 60 PV: GPV 260 -> 3%, gross 7.8, net 1.8.
    # Amway ANZ rule (50 PV to earn): 0 is paid 1.8. With the plan's 100 PV it is breakage.
    sponsor, pv = [-1, 0], [60, 200]
    r = pay({"min_pv_to_earn": 50}, sponsor, pv)
    assert r.components["stairstep"] == pytest.approx([1.8, 6])
    r = pay({}, sponsor, pv)
    assert r.components["stairstep"] == pytest.approx([0, 6])
    assert r.breakage["stairstep"] == pytest.approx(1.8)


def test_schedule_must_be_monotone():
    with pytest.raises(ValidationError, match="non-decreasing"):
        StairstepParams(thresholds=[100, 200], percentages=[0.1, 0.05])
    with pytest.raises(ValidationError, match="strictly increasing"):
        StairstepParams(thresholds=[100, 100], percentages=[0.1, 0.2])


def test_no_bv_unit_paid_more_than_the_top_percentage():
    rng = np.random.default_rng(7)
    n = 30
    sponsor = np.concatenate(([-1], [rng.integers(0, i) for i in range(1, n)]))
    pv = rng.choice([0, 100, 600, 3000, 9000], size=n).astype(float)
    r = pay({}, sponsor, pv)
    assert r.paid <= 0.21 * pv.sum() + 1e-9
