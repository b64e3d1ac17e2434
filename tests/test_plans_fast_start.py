"""Fast start (docs/plans.md): percent and flat modes, compression, unilevel exclusion."""

import pytest
from pydantic import ValidationError

from simulation.errors import DataError
from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.fast_start import FastStartParams


def pay(components, sponsor, pv, **kw):
    plan = plan_from_dict({"qualification": {"min_pv": 100}, **components})
    return plan.engine().pay(PeriodInput.of(sponsor, pv, **kw))


# Chain 0 <- 1 <- 2 <- 3, period 5. 3 joined this period (200 BV), 2 last period (100 BV,
# still inside a 2-period window), 0 and 1 long ago. 1 has 50 PV: not a qualified enroller.
CHAIN = [-1, 0, 1, 2]
PV = [100, 50, 100, 200]
JOINED = [0, 0, 4, 5]
DT = [0.20, 0.10, 0.05]  # doTERRA


def test_percent_mode_without_compression():
    # 3 (200): 1st enroller 2 -> 40; 2nd 1 (unqualified) -> 20 breakage; 3rd 0 -> 5% = 10
    # 2 (100): 1st 1 -> 20 breakage; 2nd 0 -> 10% = 10; 3rd above the root -> 5 breakage
    # Paid: 0: 20, 2: 40 = 60; maximum 300 x 35% = 105.
    r = pay({"fast_start": {}}, CHAIN, PV, joined_period=JOINED, period=5)
    assert r.components["fast_start"] == pytest.approx([20, 0, 40, 0])
    assert r.breakage["fast_start"] == pytest.approx(105 - 60)


def test_percent_mode_with_dynamic_compression():
    # 3: 2 -> 40; 0 (1 skipped) -> 10% = 20.  2: 0 (1 skipped) -> 20% = 20.
    r = pay({"fast_start": {"compression": "dynamic"}}, CHAIN, PV, joined_period=JOINED, period=5)
    assert r.components["fast_start"] == pytest.approx([40, 0, 40, 0])


def test_window_counts_the_joining_period_as_the_first():
    # window 1: only 3 (joined this period) counts: 2 -> 40, 0 -> 10.
    fs = {"fast_start": {"window_periods": 1}}
    r = pay(fs, CHAIN, PV, joined_period=JOINED, period=5)
    assert r.components["fast_start"] == pytest.approx([10, 0, 40, 0])


def test_exclude_from_unilevel():
    # Unilevel 10% one level, dynamic. Without the exclusion: 1's 50 -> 0: 5; 2's 100 -> 0
    # (1 skipped): 10; 3's 200 -> 2: 20. With it, 2 and 3 (in the window) pay no unilevel: 0: 5.
    uni = {"percentages": [0.10]}
    r = pay({"unilevel": uni, "fast_start": {}}, CHAIN, PV, joined_period=JOINED, period=5)
    assert r.components["unilevel"] == pytest.approx([15, 0, 20, 0])
    both = {"unilevel": uni, "fast_start": {"exclude_from_unilevel": True}}
    r = pay(both, CHAIN, PV, joined_period=JOINED, period=5)
    assert r.components["unilevel"] == pytest.approx([5, 0, 0, 0])
    assert r.components["fast_start"] == pytest.approx([20, 0, 40, 0])
    # The excluded volume is not in the unilevel's maximum either: (100 + 50) x 10% = 15; the
    # breakage is the root's own 100 BV, which has no upline (10).
    assert r.breakage["unilevel"] == pytest.approx(15 - 5)


# Flat mode: 4 (under 1) and 3 joined this period; only 3 bought a kit.
FLAT_TREE = [-1, 0, 1, 2, 1]
FLAT_PV = [100, 50, 100, 200, 100]
FLAT_JOINED = [0, 0, 4, 5, 5]
KIT = [False, False, False, True, False]


def test_flat_mode_requires_a_kit():
    # 3 bought a kit: its enroller 2 gets 50. 4 has no kit: nothing. 2 joined last period.
    fs = {"fast_start": {"mode": "flat", "amount": 50}}
    r = pay(fs, FLAT_TREE, FLAT_PV, joined_period=FLAT_JOINED, period=5, kit_bought=KIT)
    assert r.components["fast_start"] == pytest.approx([0, 0, 50, 0, 0])
    assert r.breakage["fast_start"] == pytest.approx(0)


def test_flat_mode_without_kit_and_an_unqualified_enroller():
    # 3 and 4 joined this period and 2 last period, inside the default 2-period window: all
    # three count once. 3 -> its enroller 2: 50. 4 and 2 have enroller 1 (50 PV < 100,
    # unqualified): 2 x 50 = 100 breakage without compression; with dynamic compression both
    # go to 0: 100.
    fs = {"mode": "flat", "amount": 50, "requires_kit": False}
    kw = {"joined_period": FLAT_JOINED, "period": 5, "kit_bought": KIT}
    r = pay({"fast_start": fs}, FLAT_TREE, FLAT_PV, **kw)
    assert r.components["fast_start"] == pytest.approx([0, 0, 50, 0, 0])
    assert r.breakage["fast_start"] == pytest.approx(100)
    r = pay({"fast_start": {**fs, "compression": "dynamic"}}, FLAT_TREE, FLAT_PV, **kw)
    assert r.components["fast_start"] == pytest.approx([100, 0, 50, 0, 0])


def test_flat_mode_honours_the_window_and_pays_each_recruit_once():
    # Chain 0 <- 1 <- 2, everyone qualified (100 PV). 2 joined in period 4 and buys its kit in
    # period 5. Window 2: period 5 is the second period of 2's window -> 1 gets 40. Window 1:
    # the kit comes too late -> nothing (40 not even counted as breakage: no qualifying recruit).
    tree, pv, joined = [-1, 0, 1], [100, 100, 100], [0, 0, 4]
    kit = [False, False, True]
    for window, want in ((2, [0, 40, 0]), (1, [0, 0, 0])):
        fs = {"fast_start": {"mode": "flat", "amount": 40, "window_periods": window}}
        r = pay(fs, tree, pv, joined_period=joined, period=5, kit_bought=kit)
        assert r.components["fast_start"] == pytest.approx(want)
    # Without a kit requirement the recruit is paid for in its first active period in the
    # window only: period 4 pays 40, period 5 (same engine, state carried) pays nothing.
    plan = plan_from_dict(
        {
            "qualification": {"min_pv": 100},
            "fast_start": {"mode": "flat", "amount": 40, "requires_kit": False},
        }
    )
    engine = plan.engine()
    first = engine.pay(PeriodInput.of(tree, pv, joined_period=joined, period=4))
    second = engine.pay(PeriodInput.of(tree, pv, joined_period=joined, period=5))
    assert first.components["fast_start"] == pytest.approx([0, 40, 0])
    assert second.components["fast_start"] == pytest.approx([0, 0, 0])


def test_flat_mode_requiring_a_kit_refuses_input_without_kit_information():
    fs = {"fast_start": {"mode": "flat", "amount": 50}}
    with pytest.raises(DataError, match=r"fast_start .*kit_bought column.*--assume-kits"):
        pay(fs, FLAT_TREE, FLAT_PV, joined_period=FLAT_JOINED, period=5)


def test_flat_mode_needs_an_amount():
    with pytest.raises(ValidationError, match="amount > 0"):
        FastStartParams(mode="flat")
    with pytest.raises(ValidationError, match="percent"):
        FastStartParams(mode="flat", amount=10, exclude_from_unilevel=True)


# Enroller chain (tree = "enroller"): rows 0..4. 0 enrolled 1 and 4 and placed 4 under 2; 1
# enrolled 2 and 3. Sponsor tree: 0 <- 1 <- 2 <- 4 and 1 <- 3. 4 joined this period (300 BV).
SPONSOR_PLACED = [-1, 0, 1, 1, 2]
ENROLLER_PLACED = [-1, 0, 1, 1, 0]
PV_PLACED = [100, 100, 100, 100, 300]
JOINED_PLACED = [0, 0, 0, 0, 5]


def test_enroller_tree_pays_the_enroller_not_the_sponsor():
    # By enroller: 4's enroller 0 -> 20% of 300 = 60; 0 has no enroller: 10% and 5% breakage.
    # By sponsor: 2 -> 60, 1 -> 30, 0 -> 15.
    kw = {"joined_period": JOINED_PLACED, "period": 5, "enroller": ENROLLER_PLACED}
    r = pay({"fast_start": {"tree": "enroller"}}, SPONSOR_PLACED, PV_PLACED, **kw)
    assert r.components["fast_start"] == pytest.approx([60, 0, 0, 0, 0])
    assert r.breakage["fast_start"] == pytest.approx(300 * 0.35 - 60)
    r = pay({"fast_start": {}}, SPONSOR_PLACED, PV_PLACED, **kw)
    assert r.components["fast_start"] == pytest.approx([15, 30, 60, 0, 0])


def test_enroller_tree_compression():
    # 3 enrolled by 1 (50 PV: unqualified) whose enroller is 0. 3 joined now with 200 BV.
    # none: 1's 20% is breakage, 0 gets 10% = 20. dynamic: 0 gets 20% = 40, then nobody.
    sponsor, enroller = [-1, 0, 0, 0], [-1, 0, 0, 1]
    pv, joined = [100, 50, 100, 200], [0, 0, 0, 5]
    kw = {"joined_period": joined, "period": 5, "enroller": enroller}
    r = pay({"fast_start": {"tree": "enroller"}}, sponsor, pv, **kw)
    assert r.components["fast_start"] == pytest.approx([20, 0, 0, 0])
    fs = {"fast_start": {"tree": "enroller", "compression": "dynamic"}}
    r = pay(fs, sponsor, pv, **kw)
    assert r.components["fast_start"] == pytest.approx([40, 0, 0, 0])


def test_enroller_tree_without_enroller_information_walks_the_sponsors():
    # An imported genealogy without an enroller column: the sponsor chain, as tree = "sponsor".
    kw = {"joined_period": JOINED, "period": 5}
    a = pay({"fast_start": {"tree": "enroller"}}, CHAIN, PV, **kw)
    b = pay({"fast_start": {}}, CHAIN, PV, **kw)
    assert a.components["fast_start"] == pytest.approx(b.components["fast_start"])
