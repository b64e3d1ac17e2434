"""Forced matrix (docs/plans.md): spillover, pay to depth with and without compression,
flat amounts per position, and invariants on random join sequences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict


def engine(min_pv=100, **matrix):
    return plan_from_dict({"qualification": {"min_pv": min_pv}, "matrix": matrix}).engine()


def test_spillover_fills_level_two_left_to_right_and_pays_it():
    # 2 wide, 2 deep, 10% / 5%. 0 recruits 1..6: 1, 2 on its frontline, then 3, 4 under 1 and
    # 5, 6 under 2 (level 2 left to right). All 100 PV.
    # 0: level 1 (1, 2) 10% x 200 = 20; level 2 (3..6) 5% x 400 = 20 -> 40.
    # 1: 10% x (3, 4) = 20; 2: 10% x (5, 6) = 20.
    eng = engine(width=2, depth=2, percentages=[0.10, 0.05])
    r = eng.pay(PeriodInput.of([-1, 0, 0, 0, 0, 0, 0], [100] * 7))
    tree = eng.state["matrix"].tree
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert r.components["matrix"] == pytest.approx([40, 20, 20, 0, 0, 0, 0])
    # Next period 0 recruits 7: level 3 under 3 (first open position, breadth first); 3 earns
    # 10% of its 100, 1 5%, and 0 nothing on it (below its 2 paid levels).
    r = eng.pay(
        PeriodInput.of([-1, 0, 0, 0, 0, 0, 0, 0], [100] * 8, period=1, joined_period=[0] * 7 + [1])
    )
    assert tree.parent.tolist() == [-1, 0, 0, 1, 1, 2, 2, 3]
    assert r.components["matrix"] == pytest.approx([40, 25, 20, 10, 0, 0, 0, 0])


# A chain 0 <- 1 <- 2 <- 3 <- 4 (each recruits the next, who sits right under them). 2 has
# 50 PV: unqualified. 3 levels paid, 10 / 5 / 2 %. Theoretical maximum 550 x 17% = 93.5.
CHAIN = [-1, 0, 1, 2, 3]
CHAIN_PV = [100, 100, 50, 100, 200]


def test_pay_to_depth_without_compression():
    # v=4 (200): L1 = 3 -> 20; L2 = 2 unqualified -> breakage; L3 = 1 -> 4
    # v=3 (100): L1 = 2 -> breakage; L2 = 1 -> 5; L3 = 0 -> 2
    # v=2 (50):  L1 = 1 -> 5; L2 = 0 -> 2.5.   v=1 (100): L1 = 0 -> 10
    # 4's volume is 4 levels below 0: nothing to 0.
    # 0: 2 + 2.5 + 10 = 14.5; 1: 4 + 5 + 5 = 14; 3: 20. Total 48.5, breakage 45.
    r = engine(width=3, depth=3, percentages=[0.10, 0.05, 0.02]).pay(
        PeriodInput.of(CHAIN, CHAIN_PV)
    )
    assert r.components["matrix"] == pytest.approx([14.5, 14, 0, 20, 0])
    assert r.breakage["matrix"] == pytest.approx(93.5 - 48.5)


def test_pay_to_depth_with_dynamic_compression():
    # 2 is skipped and does not hold a level:
    # v=4: L1 = 3 -> 20; L2 = 1 -> 10; L3 = 0 -> 4.   v=3: L1 = 1 -> 10; L2 = 0 -> 5
    # v=2: L1 = 1 -> 5; L2 = 0 -> 2.5.                 v=1: L1 = 0 -> 10
    # 0: 4 + 5 + 2.5 + 10 = 21.5; 1: 10 + 10 + 5 = 25; 3: 20.
    r = engine(width=3, depth=3, percentages=[0.10, 0.05, 0.02], compression="dynamic").pay(
        PeriodInput.of(CHAIN, CHAIN_PV)
    )
    assert r.components["matrix"] == pytest.approx([21.5, 25, 0, 20, 0])


def test_flat_amount_per_qualified_position():
    # $1 per qualified position one level down, $0.50 two levels down. Qualified positions:
    # 0, 1, 3, 4 (2 has 50 PV: its position pays nobody).
    # none:    v=4: 3 +1, (2 unqualified earner);  v=3: (2), 1 +0.5;  v=1: 0 +1
    #          -> 0: 1, 1: 0.5, 3: 1; maximum 4 positions x 1.5 = 6 -> breakage 3.5
    # dynamic: v=4: 3 +1, 1 +0.5;  v=3: 1 +1, 0 +0.5;  v=1: 0 +1 -> 0: 1.5, 1: 1.5, 3: 1
    flat = {"width": 3, "depth": 2, "flat_per_position": [1.0, 0.5]}
    r = engine(**flat).pay(PeriodInput.of(CHAIN, CHAIN_PV))
    assert r.components["matrix"] == pytest.approx([1, 0.5, 0, 1, 0])
    assert r.breakage["matrix"] == pytest.approx(3.5)
    r = engine(**flat, compression="dynamic").pay(PeriodInput.of(CHAIN, CHAIN_PV))
    assert r.components["matrix"] == pytest.approx([1.5, 1.5, 0, 1, 0])


def test_quitter_keeps_its_position_and_passes_volume():
    # 0 <- 1 <- 2 (a chain in a 3-wide matrix); 1 quits in period 1 but stays in the matrix:
    # 2's 100 still pays 0 at level 2 (5%), and 1 is paid nothing.
    eng = engine(width=3, depth=2, percentages=[0.10, 0.05])
    eng.pay(PeriodInput.of([-1, 0, 1], [100, 100, 100]))
    r = eng.pay(
        PeriodInput.of(
            [-1, -1, 0],
            [100, 0, 100],
            active=[True, False, True],
            period=1,
            joined_period=[0, 0, 0],
        )
    )
    assert eng.state["matrix"].tree.parent.tolist() == [-1, 0, 1]
    assert r.components["matrix"] == pytest.approx([5, 0, 0])


def test_table_must_match_depth():
    with pytest.raises(ConfigError, match="depth"):
        plan_from_dict({"matrix": {"width": 3, "depth": 7, "percentages": [0.05] * 6}})
    with pytest.raises(ConfigError, match="exactly one"):
        plan_from_dict({"matrix": {"width": 3, "depth": 1}})


@st.composite
def scenarios(draw):
    n = draw(st.integers(2, 30))
    sponsor = [-1] + [draw(st.integers(0, r - 1)) for r in range(1, n)]
    pv = [draw(st.sampled_from([0, 50, 100, 300])) for _ in range(n)]
    params = {
        "width": draw(st.integers(1, 4)),
        "depth": 3,
        "percentages": [0.10, 0.05, 0.05],
        "compression": draw(st.sampled_from(["none", "dynamic"])),
        "spill_order": draw(st.sampled_from(["bfs_sponsor", "branch_first"])),
    }
    cut = draw(st.integers(1, n))
    return sponsor, pv, params, cut


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_matrix_invariants(case):
    sponsor, pv, params, cut = case
    n = len(sponsor)
    eng = engine(**params)
    joined = np.where(np.arange(n) < cut, 0, 1)
    for p in (0, 1):
        member = joined <= p
        inp = PeriodInput(
            period=p,
            sponsor=np.where(member, sponsor, -1).astype(np.int32),
            pv=np.where(member, pv, 0.0),
            bv=np.where(member, pv, 0.0),
            active=member,
            joined_period=np.where(member, joined, -1).astype(np.int32),
            new_recruits=np.flatnonzero(joined == p),
        )
        r = eng.pay(inp)
        tree = eng.state["matrix"].tree
        assert tree.check() == []
        kids = np.bincount(tree.parent[tree.parent >= 0], minlength=n)
        assert (kids <= params["width"]).all()
        for v in np.flatnonzero(member & (np.array(sponsor) >= 0)):
            u = v
            while u >= 0 and u != sponsor[v]:
                u = tree.parent[u]
            assert u == sponsor[v]
        pay = r.components["matrix"]
        assert (pay >= 0).all()
        assert (pay[~(member & (np.array(pv) >= 100))] == 0).all()
        assert pay.sum() <= inp.bv.sum() * sum(params["percentages"]) + 1e-9
        assert r.breakage["matrix"] >= -1e-9
