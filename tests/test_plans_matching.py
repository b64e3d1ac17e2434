"""Matching bonus (docs/plans.md): generations by level, compressed and by rank, by hand."""

import numpy as np
import pytest

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.base import PeriodContext
from simulation.plans.matching import MatchingParams, matching
from simulation.tree import Forest


def match(params, sponsor, pv, base, rank=None, rank_names=()):
    """Run the matching component alone on given base earnings (as if paid by the unilevel)."""
    inp = PeriodInput.of(sponsor, pv)
    ctx = PeriodContext(
        inp=inp,
        forest=Forest.from_parent(inp.sponsor),
        default_min_pv=100,
        rank=None if rank is None else np.asarray(rank, dtype=np.int16),
        rank_names=list(rank_names),
        earnings={"unilevel": np.asarray(base, dtype=np.float64)},
    )
    return matching(ctx, MatchingParams(**params), None)


# Chain 0 <- 1 <- 2 <- 3 <- 4. 2 has 50 PV (unqualified) and earned nothing; 1, 3, 4 earned 100.
CHAIN = [-1, 0, 1, 2, 3]
PV = [100, 100, 50, 100, 100]
BASE = [0, 100, 0, 100, 100]
TWO = [0.10, 0.05]


def test_level_generations():
    # 0: gen 1 = 1 (100) -> 10; gen 2 = 2 (0) -> 0.          10
    # 1: gen 1 = 2 (0); gen 2 = 3 (100) -> 5.                  5
    # 2: unqualified -> 0.   3: gen 1 = 4 -> 10.              10
    r = match({"percentages": TWO}, CHAIN, PV, BASE)
    assert r.pay == pytest.approx([10, 5, 0, 10, 0])
    assert r.max_pay == pytest.approx(300 * 0.15)


def test_compressed_generations_skip_the_unqualified():
    # 2 does not hold a generation.
    # 0: gen 1 = 1 -> 10; gen 2 = 3 (2 skipped) -> 5.          15
    # 1: gen 1 = 3 -> 10; gen 2 = 4 -> 5.                      15
    # 3: gen 1 = 4 -> 10.                                      10
    r = match({"percentages": TWO, "generation_mode": "compressed"}, CHAIN, PV, BASE)
    assert r.pay == pytest.approx([15, 15, 0, 10, 0])


# Kuvera's example: Joe (0) <- Mary (1) <- Larry (2, leader) <- Sam (3) <- Tom (4); all
# qualified, each of 1-4 earned 100. Ranks: 0 = member, 1 = leader ("Global Executive").
KUVERA_PV = [100] * 5
KUVERA_BASE = [0, 100, 100, 100, 100]
KUVERA_RANK = [0, 0, 1, 0, 0]
RANKS = ("member", "leader")


def test_rank_generations_closing():
    # Closing: Larry is the last member of Joe's gen 1; Sam and Tom are gen 2.
    # Joe: 10% x (Mary + Larry) + 5% x (Sam + Tom) = 20 + 10 = 30
    # Mary: gen 1 = Larry (closes it) -> 10; gen 2 = Sam, Tom -> 10.   20
    # Larry: gen 1 = Sam, Tom -> 20.   Sam: gen 1 = Tom -> 10.
    params = {"percentages": TWO, "generation_mode": "rank", "generation_rank": "leader"}
    r = match(params, CHAIN, KUVERA_PV, KUVERA_BASE, KUVERA_RANK, RANKS)
    assert r.pay == pytest.approx([30, 20, 20, 10, 0])


def test_rank_generations_opening():
    # Opening: Larry starts Joe's gen 2. Joe: 10% x Mary + 5% x (Larry + Sam + Tom) = 10 + 15.
    # Mary: gen 1 is empty; gen 2 = Larry, Sam, Tom -> 15.  Larry: 20.  Sam: 10.
    params = {
        "percentages": TWO,
        "generation_mode": "rank",
        "generation_rank": "leader",
        "leader_position": "opening",
    }
    r = match(params, CHAIN, KUVERA_PV, KUVERA_BASE, KUVERA_RANK, RANKS)
    assert r.pay == pytest.approx([25, 15, 20, 10, 0])


def test_eligible_ranks_limit_generations():
    # Members match 1 generation, leaders 2 (level mode, everyone qualified):
    # Joe (member): gen 1 = Mary -> 10.  Mary (member): Larry -> 10.
    # Larry (leader): Sam 10 + Tom 5 = 15.  Sam: Tom -> 10.
    params = {"percentages": TWO, "eligible_ranks": {"member": 1, "leader": 2}}
    r = match(params, CHAIN, KUVERA_PV, KUVERA_BASE, KUVERA_RANK, RANKS)
    assert r.pay == pytest.approx([10, 10, 15, 10, 0])


def test_unranked_rows_do_not_earn_with_eligible_ranks():
    params = {"percentages": TWO, "eligible_ranks": {"leader": 2}}
    r = match(params, CHAIN, KUVERA_PV, KUVERA_BASE, KUVERA_RANK, RANKS)
    # Only Larry (leader) earns: Sam 10 + Tom 5.
    assert r.pay == pytest.approx([0, 0, 15, 0, 0])


def test_matching_through_the_engine_uses_the_unilevel_earnings():
    # Unilevel 10% one level: 0 <- 1 <- 2, PV 100 each. Unilevel: 0 earns 10 (on 1), 1 earns
    # 10 (on 2). Matching 50% of gen 1 on unilevel: 0 matches 1's 10 -> 5. Fast start (flat,
    # nobody new) is a base component but not in `base`.
    plan = plan_from_dict(
        {
            "unilevel": {"percentages": [0.10]},
            "fast_start": {"mode": "flat", "amount": 10, "window_periods": 1},
            "matching": {"percentages": [0.5], "base": ["unilevel"]},
        }
    )
    r = plan.engine().pay(PeriodInput.of([-1, 0, 1], [100, 100, 100], period=3))
    assert r.components["unilevel"] == pytest.approx([10, 10, 0])
    assert r.components["matching"] == pytest.approx([5, 0, 0])


def test_matching_base_must_be_a_base_component():
    with pytest.raises(ConfigError, match="not a component"):
        plan_from_dict({"matching": {"percentages": [0.1], "base": ["binary_x"]}})
    with pytest.raises(ConfigError, match="need a \\[ranks\\] table"):
        plan_from_dict(
            {
                "unilevel": {"percentages": [0.1]},
                "matching": {
                    "percentages": [0.1],
                    "generation_mode": "rank",
                    "generation_rank": "a",
                },
            }
        )
