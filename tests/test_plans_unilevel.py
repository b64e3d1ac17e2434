"""Unilevel (docs/plans.md): hand-worked payouts for each compression mode."""

import numpy as np
import pytest

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.base import LevelSums, PeriodContext
from simulation.tree import Forest


def pay(components, sponsor, pv, **kw):
    plan = plan_from_dict({"qualification": {"min_pv": 100}, **components})
    return plan.engine().pay(PeriodInput.of(sponsor, pv, **kw))


# A chain 0 <- 1 <- 2 <- 3 <- 4 (0 at the top). BV = PV. Min PV 100 (inclusive: 0, 1 and 3 have
# exactly 100 and are qualified); 2 has 50 PV and is unqualified. Table 10/5/2 %.
CHAIN = [-1, 0, 1, 2, 3]
CHAIN_PV = [100, 100, 50, 100, 200]
PCT = [0.10, 0.05, 0.02]
# Theoretical maximum: (100 + 100 + 50 + 100 + 200) x 17% = 93.5.


def test_compression_none_unqualified_upline_keeps_its_level():
    # v=4 (200): L1 = 3 -> 20; L2 = 2 unqualified -> breakage; L3 = 1 -> 2% x 200 = 4
    # v=3 (100): L1 = 2 -> breakage; L2 = 1 -> 5; L3 = 0 -> 2
    # v=2 (50):  L1 = 1 -> 5;   L2 = 0 -> 2.5; L3 above the root -> breakage
    # v=1 (100): L1 = 0 -> 10
    # 0: 2 + 2.5 + 10 = 14.5; 1: 4 + 5 + 5 = 14; 3: 20. Total 48.5, breakage 93.5 - 48.5 = 45.
    r = pay({"unilevel": {"percentages": PCT, "compression": "none"}}, CHAIN, CHAIN_PV)
    assert r.components["unilevel"] == pytest.approx([14.5, 14, 0, 20, 0])
    assert r.breakage["unilevel"] == pytest.approx(45.0)


def test_compression_dynamic_skips_the_unqualified_upline():
    # v=4: L1 = 3 -> 20; L2 = 1 (2 skipped) -> 10; L3 = 0 -> 4
    # v=3: L1 = 1 -> 10; L2 = 0 -> 5;  v=2: L1 = 1 -> 5; L2 = 0 -> 2.5;  v=1: L1 = 0 -> 10
    # 0: 4 + 5 + 2.5 + 10 = 21.5; 1: 10 + 10 + 5 = 25; 3: 20. Total 66.5.
    r = pay({"unilevel": {"percentages": PCT, "compression": "dynamic"}}, CHAIN, CHAIN_PV)
    assert r.components["unilevel"] == pytest.approx([21.5, 25, 0, 20, 0])
    assert r.breakage["unilevel"] == pytest.approx(93.5 - 66.5)


def test_inactive_distributor_in_the_middle_of_a_chain():
    # Same chain but 2 is inactive (still in the imported tree). It holds its level without
    # compression and is skipped with dynamic compression. Published rule: its own 50 PV still
    # pays its uplines (the same numbers as when it was merely unqualified: [14.5, 14, 0, 20, 0]
    # and [21.5, 25, 0, 20, 0], maximum 93.5).
    active = [True, True, False, True, True]
    none = {"unilevel": {"percentages": PCT, "compression": "none"}}
    r = pay(none, CHAIN, CHAIN_PV, active=active)
    assert r.components["unilevel"] == pytest.approx([14.5, 14, 0, 20, 0])
    r = pay({"unilevel": {"percentages": PCT}}, CHAIN, CHAIN_PV, active=active)
    assert r.components["unilevel"] == pytest.approx([21.5, 25, 0, 20, 0])
    assert r.breakage["unilevel"] == pytest.approx(93.5 - 66.5)
    # inactive_volume = "excluded": v=2's 5 to 1 and 2.5 to 0 are gone, and its 50 PV leaves
    # the maximum (500 x 17% = 85).
    for comp, want in (("none", [12, 9, 0, 20, 0]), ("dynamic", [19, 20, 0, 20, 0])):
        plan = plan_from_dict(
            {
                "qualification": {"min_pv": 100, "inactive_volume": "excluded"},
                "unilevel": {"percentages": PCT, "compression": comp},
            }
        )
        r = plan.engine().pay(PeriodInput.of(CHAIN, CHAIN_PV, active=active))
        assert r.components["unilevel"] == pytest.approx(want)
    assert r.breakage["unilevel"] == pytest.approx(85 - 59)


RANKED = {
    # Given paid-as ranks: 1 holds "one" (1 level unlocked), everyone else "three".
    "ranks": {"use_given": True, "table": [{"name": "one"}, {"name": "three"}]},
}
RANK = [1, 0, 1, 1, 1]


def test_dynamic_locked_level_is_breakage():
    # dynamic: a qualified upline whose rank does not unlock level j occupies it.
    # v=4: L1 = 3 -> 20; L2 = 1 (locked) -> breakage; L3 = 0 -> 4
    # v=3: L1 = 1 -> 10; L2 = 0 -> 5;  v=2: L1 = 1 -> 5; L2 = 0 -> 2.5;  v=1: L1 = 0 -> 10
    # 0: 21.5; 1: 15; 3: 20.
    uni = {"percentages": PCT, "levels_by_rank": {"one": 1, "three": 3}}
    r = pay({**RANKED, "unilevel": uni}, CHAIN, CHAIN_PV, rank=RANK)
    assert r.components["unilevel"] == pytest.approx([21.5, 15, 0, 20, 0])


def test_dynamic_full_passes_a_locked_level_up():
    # dynamic_full: v=4: L1 = 3 -> 20; 1 is not entitled to L2 -> skipped; L2 = 0 -> 10.
    # v=3: L1 = 1 -> 10; L2 = 0 -> 5;  v=2: L1 = 1 -> 5; L2 = 0 -> 2.5;  v=1: L1 = 0 -> 10
    # 0: 10 + 5 + 2.5 + 10 = 27.5; 1: 15; 3: 20.
    uni = {
        "percentages": PCT,
        "levels_by_rank": {"one": 1, "three": 3},
        "compression": "dynamic_full",
    }
    r = pay({**RANKED, "unilevel": uni}, CHAIN, CHAIN_PV, rank=RANK)
    assert r.components["unilevel"] == pytest.approx([27.5, 15, 0, 20, 0])


def test_min_pv_is_inclusive():
    # 0 has exactly 100 PV: qualified, earns 10% of 1's 100. With 99.99 it earns nothing.
    r = pay({"unilevel": {"percentages": [0.10]}}, [-1, 0], [100, 100])
    assert r.components["unilevel"].tolist() == pytest.approx([10, 0])
    r = pay({"unilevel": {"percentages": [0.10]}}, [-1, 0], [99.99, 100])
    assert r.components["unilevel"].tolist() == [0, 0]


DOTERRA = [0.02, 0.03, 0.05, 0.05, 0.06, 0.06, 0.07]


def test_increasing_table_compression_lowers_the_total():
    # Chain 0 <- 1 <- 2 <- 3 <- 4; 1, 2, 3 have no PV (unqualified). Only 4's 100 BV pays.
    # none: 0 is at physical level 4 -> 5% = 5. dynamic: 0 becomes paid level 1 -> 2% = 2.
    chain, pv = [-1, 0, 1, 2, 3], [100, 0, 0, 0, 100]
    none = pay({"unilevel": {"percentages": DOTERRA, "compression": "none"}}, chain, pv)
    dyn = pay({"unilevel": {"percentages": DOTERRA, "compression": "dynamic"}}, chain, pv)
    assert none.components["unilevel"][0] == pytest.approx(5.0)
    assert dyn.components["unilevel"][0] == pytest.approx(2.0)
    assert dyn.paid < none.paid


def test_unqualified_volume_still_pays_uplines():
    # 1 has 60 PV (unqualified): its purchase is still commissionable; 0 earns 10% of 60.
    r = pay({"unilevel": {"percentages": [0.10]}}, [-1, 0], [100, 60])
    assert r.components["unilevel"].tolist() == pytest.approx([6, 0])


def test_paid_plus_breakage_is_the_theoretical_maximum():
    rng = np.random.default_rng(3)
    n = 30
    sponsor = np.concatenate(([-1], [rng.integers(0, i) for i in range(1, n)]))
    pv = rng.choice([0, 50, 100, 250], size=n)
    for mode in ("none", "dynamic", "dynamic_full"):
        r = pay({"unilevel": {"percentages": DOTERRA, "compression": mode}}, sponsor, pv)
        assert r.paid + r.breakage["unilevel"] == pytest.approx(pv.sum() * sum(DOTERRA))


def test_levels_by_rank_needs_a_rank_table():
    with pytest.raises(ConfigError, match="needs a \\[ranks\\] table"):
        plan_from_dict({"unilevel": {"percentages": [0.1], "levels_by_rank": {"a": 1}}})


def test_level_sums_add_like_full_bincounts_to_the_last_bit():
    """LevelSums (the per-level pay of unilevel, fast start, matching, overrides) gives the
    sums of pay += np.bincount(..., minlength=n), bit for bit, over the forest's members, and
    after a payee outside the forest too (the n-row array from then on)."""
    # Forest 0 <- 2 <- 4 and 1 <- 3; rows 5 and 6 are not in it.
    parent = np.array([-1, -1, 0, 1, 2, -1, -1])
    depth = np.array([0, 0, 1, 1, 2, -1, -1])
    ctx = PeriodContext(
        inp=PeriodInput.of(parent, np.zeros(7)),
        forest=Forest.from_depth(parent, depth),
        default_min_pv=0.0,
    )
    rng = np.random.default_rng(3)
    levels = [
        (np.array([0, 0, 2, 1, 0]), rng.random(5) * 1e3),
        (np.array([2, 2, 3]), rng.random(3) / 7),
        (np.array([4, 6, 0]), rng.random(3) * 1e-9),  # 6 is outside the forest
        (np.array([0, 6, 1]), rng.random(3) * 1e5),
    ]
    want = np.zeros(7)
    sums = LevelSums(ctx)
    for i, (rows, w) in enumerate(levels):
        want += np.bincount(rows, weights=w, minlength=7)
        sums.add(rows, w)
        if i == 1:
            assert sums.full is None  # members only so far
            assert sums.total().tobytes() == want.tobytes()
    assert sums.full is not None
    assert sums.total().tobytes() == want.tobytes()
    # By hand: row 5 never paid; row 6 gets its two amounts.
    assert sums.total()[5] == 0.0
    assert sums.total()[6] == levels[2][1][1] + levels[3][1][1]
