"""Binary (docs/plans.md): hand-worked payouts and carry-over, and invariants on random
join sequences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.binary import max_cycles

L, R = 0, 1


def engine(min_pv=100, **binary):
    return plan_from_dict({"qualification": {"min_pv": min_pv}, "binary": binary}).engine()


def period(sponsor, pv, placement=None, leg=None, period=0, **kw):
    """A period input with an imported placement (parents and sides) when given."""
    extra = {}
    if placement is not None:
        extra["placement"] = np.asarray(placement, dtype=np.int32)
        extra["leg"] = np.asarray(leg, dtype=np.int8)
    return PeriodInput.of(sponsor, pv, period=period, joined_period=[0] * len(pv), **kw, **extra)


def carry(res):
    return np.stack((res.extra["binary_carry_left"], res.extra["binary_carry_right"]), axis=1)


# Placement used by several tests (everyone personally sponsored by 0):
#
#        0
#      /   \
#     1     2
#    /     /
#   3     4
SPONSOR5 = [-1, 0, 0, 0, 0]
PLACE5 = [-1, 0, 0, 1, 2]
LEG5 = [-1, L, R, L, L]


def test_carry_over_across_two_periods():
    eng = engine(pct=0.10)
    # Period 0, PV 100/100/100/300/50 (4 is unqualified).
    # 0: left = 1 + 3 = 400, right = 2 + 4 = 150 -> matched 150 -> 15; carry 250 | 0.
    # 1: left = 300, right 0 -> 0 paid, carry 300 | 0 (qualified: the volume waits).
    # 2: left = 50 -> carry 50 | 0.  3, 4: no legs.
    r0 = eng.pay(period(SPONSOR5, [100, 100, 100, 300, 50], PLACE5, LEG5))
    assert r0.components["binary"] == pytest.approx([15, 0, 0, 0, 0])
    assert carry(r0)[:3].tolist() == [[250, 0], [300, 0], [50, 0]]
    # Period 1, PV 100/100/400/0/100.
    # 0: left = 250 carried + 100 + 0 = 350; right = 0 + 400 + 100 = 500 -> matched 350 -> 35;
    #    carry 0 | 150.
    # 1: left = 300 + 0 = 300 -> carry 300 | 0.  2: left = 50 + 100 = 150 -> carry 150 | 0.
    r1 = eng.pay(period(SPONSOR5, [100, 100, 400, 0, 100], PLACE5, LEG5, period=1))
    assert r1.components["binary"] == pytest.approx([35, 0, 0, 0, 0])
    assert carry(r1)[:3].tolist() == [[0, 150], [300, 0], [150, 0]]
    # Theoretical maximum: 10% of every matched volume (only 0 has both legs) -> no breakage.
    assert r1.breakage["binary"] == pytest.approx(0.0)


def test_min_pv_and_cycle_threshold_are_inclusive():
    # 0 has exactly 100 PV (qualified). Cycles of 200|200 paying 20: left exactly 200, right
    # 399 -> 1 cycle -> 20; carry 0 | 199. A left of 199.99 would make no cycle.
    eng = engine(variant="cycle", cycle_volume=[200, 200], amount_per_cycle=20)
    r = eng.pay(period([-1, 0, 0], [100, 200, 399], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == pytest.approx(20)
    assert carry(r)[0].tolist() == [0, 199]
    eng = engine(variant="cycle", cycle_volume=[200, 200], amount_per_cycle=20)
    r = eng.pay(period([-1, 0, 0], [100, 199.99, 399], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == 0
    assert carry(r)[0].tolist() == pytest.approx([199.99, 399])
    # Pay leg: 99.99 PV is one cent short of qualifying.
    r = engine().pay(period([-1, 0, 0], [99.99, 200, 399], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == 0


def test_inactive_distributor_in_the_middle_of_a_placement_chain():
    # 0 -L- 1 -L- 2 and 0 -R- 3. 1 is inactive: not paid, but (published rule, inactive
    # volume counts) its own 500 PV is in 0's left leg with 2's 200: left 700, right 150 ->
    # 10% x 150 = 15; 0 carries 550 | 0. 1's own carry (left 200) is flushed by default; with
    # inactive_policy "accumulate" it keeps 200 | 0.
    sponsor = [-1, 0, 1, 0]
    args = (sponsor, [100, 500, 200, 150], [-1, 0, 1, 0], [-1, L, L, R])
    active = [True, False, True, True]
    r = engine().pay(period(*args, active=active))
    assert r.components["binary"] == pytest.approx([15, 0, 0, 0])
    assert carry(r)[1].tolist() == [0, 0]
    assert carry(r)[0].tolist() == [550, 0]
    r = engine(inactive_policy="accumulate").pay(period(*args, active=active))
    assert r.components["binary"] == pytest.approx([15, 0, 0, 0])
    assert carry(r)[1].tolist() == [200, 0]
    # inactive_volume = "excluded": 1's 500 is no volume: left 200 -> 0 carries 50 | 0.
    plan = {"qualification": {"min_pv": 100, "inactive_volume": "excluded"}, "binary": {}}
    r = plan_from_dict(plan).engine().pay(period(*args, active=active))
    assert r.components["binary"] == pytest.approx([15, 0, 0, 0])
    assert carry(r)[0].tolist() == [50, 0]


@pytest.mark.parametrize(
    ("capped_volume", "carry0", "pay1", "carry1"),
    [
        # flush: matched 3000 is consumed although only 1000 of it was paid for.
        ("flush", [2000, 0], 0, [2000, 0]),
        # carry: only 100 / 10% = 1000 is consumed; next period 4000 | 2000 -> matched 2000
        # -> 200 capped to 100 again, 1000 consumed -> 3000 | 1000.
        ("carry", [4000, 2000], 100, [3000, 1000]),
    ],
)
def test_per_period_cap_binds_flush_or_carry(capped_volume, carry0, pay1, carry1):
    # 0 -L- 1 (5,000 PV), 0 -R- 2 (3,000 PV); 10%, cap 100 per period.
    # Matched 3000 -> 300 -> paid 100 (the cap binds).
    eng = engine(pct=0.10, cap_per_period=100, capped_volume=capped_volume)
    tree = ([-1, 0, 0], [-1, 0, 0], [-1, L, R])
    r0 = eng.pay(period(tree[0], [100, 5000, 3000], tree[1], tree[2]))
    assert r0.components["binary"][0] == pytest.approx(100)
    assert carry(r0)[0].tolist() == pytest.approx(carry0)
    # Theoretical maximum 300; breakage 200 from the cap.
    assert r0.breakage["binary"] == pytest.approx(200)
    # Period 1: no new volume (1 and 2 buy nothing).
    r1 = eng.pay(period(tree[0], [100, 0, 0], tree[1], tree[2], period=1))
    assert r1.components["binary"][0] == pytest.approx(pay1)
    assert carry(r1)[0].tolist() == pytest.approx(carry1)


def test_carry_cap_flushes_the_excess():
    # As above (flush): carry 2000 | 0 limited to 1500.
    eng = engine(pct=0.10, cap_per_period=100, carry_cap=1500)
    r = eng.pay(period([-1, 0, 0], [100, 5000, 3000], [-1, 0, 0], [-1, L, R]))
    assert carry(r)[0].tolist() == [1500, 0]


def test_require_sponsored_each_leg():
    # 0 -L- 1, 0 -R- 2, 2 -L- 3. 1 and 3 are sponsored by 0; 2 was sponsored by 1 and spilled
    # under 0. Legs of 0: left {1}, right {2, 3}: 100 | 100 + PV(3).
    # With PV(3) = 100, 3 is a personally sponsored qualified distributor on the right: 0 is
    # paid 10% x 100 = 10. With PV(3) = 50 the right leg has none (2 is 1's recruit): 0 is
    # not binary-qualified, paid 0, its carry flushed.
    sponsor = [-1, 0, 1, 0]
    tree = ([-1, 0, 0, 2], [-1, L, R, L])
    eng = engine(require_sponsored_each_leg=True)
    r = eng.pay(period(sponsor, [100, 100, 100, 100], *tree))
    assert r.components["binary"][0] == pytest.approx(10)
    assert r.extra["binary_qualified"][0]
    eng = engine(require_sponsored_each_leg=True)
    r = eng.pay(period(sponsor, [100, 100, 100, 50], *tree))
    assert r.components["binary"][0] == 0
    assert not r.extra["binary_qualified"][0]
    assert carry(r)[0].tolist() == [0, 0]
    # Without the requirement 0 earns 10% x min(100, 150) = 10.
    r = engine().pay(period(sponsor, [100, 100, 100, 50], *tree))
    assert r.components["binary"][0] == pytest.approx(10)


def test_placement_by_rule_then_pay():
    # No imported placement: extreme outside, alternating. 0 recruits 1 (L), 2 (R); 1 recruits
    # 3 (L of 1); 2 recruits 4 (L of 2). 0: left 100 + 300, right 100 + 500 -> 40; carry 0|200.
    r = engine().pay(PeriodInput.of([-1, 0, 0, 1, 2], [100, 100, 100, 300, 500]))
    assert r.components["binary"] == pytest.approx([40, 0, 0, 0, 0])
    assert carry(r)[0].tolist() == [0, 200]


def test_cycle_one_to_two_re_chooses_the_strong_side():
    # Cycles of 100 + 200 paying 15 (Beachbody-style 1/3-2/3).
    # 300 | 300: one cycle takes 200 left + 100 right, the next 100 left + 200 right -> 2
    # cycles, 30, nothing carried.
    eng = engine(variant="cycle", cycle_volume=[100, 200], amount_per_cycle=15)
    r = eng.pay(period([-1, 0, 0], [100, 300, 300], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == pytest.approx(30)
    assert carry(r)[0].tolist() == [0, 0]
    # 500 | 100: one cycle (200 from the left) -> 15; carry 300 | 0.
    eng = engine(variant="cycle", cycle_volume=[100, 200], amount_per_cycle=15)
    r = eng.pay(period([-1, 0, 0], [100, 500, 100], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == pytest.approx(15)
    assert carry(r)[0].tolist() == [300, 0]
    # 1000 | 1000: 6 cycles (1800 of 2000), at most 4 paid -> 60; flush uses all 6 cycles
    # (900 | 900) -> carry 100 | 100.
    eng = engine(
        variant="cycle", cycle_volume=[100, 200], amount_per_cycle=15, max_cycles_per_period=4
    )
    r = eng.pay(period([-1, 0, 0], [100, 1000, 1000], [-1, 0, 0], [-1, L, R]))
    assert r.components["binary"][0] == pytest.approx(60)
    assert carry(r)[0].tolist() == [100, 100]


def test_max_cycles_matches_a_cycle_by_cycle_count():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 2000, 300).astype(float)
    Y = rng.integers(0, 2000, 300).astype(float)
    c, ux, uy = max_cycles(X, Y, 100.0, 250.0)
    assert (ux <= X).all() and (uy <= Y).all()
    assert ux + uy == pytest.approx(c * 350.0)
    for x, y, ci in zip(X, Y, c, strict=True):
        n = 0
        while True:  # the stronger side gives the larger share, cycle by cycle
            if x >= y and x >= 250 and y >= 100:
                x, y = x - 250, y - 100
            elif y > x and y >= 250 and x >= 100:
                x, y = x - 100, y - 250
            else:
                break
            n += 1
        assert ci == n


def test_pct_by_rank():
    # Given ranks: 0 is "gold" (15%), 3 has no rank. 0: 100 | 100 -> 15.
    plan = plan_from_dict(
        {
            "qualification": {"min_pv": 100},
            "ranks": {"use_given": True, "table": [{"name": "silver"}, {"name": "gold"}]},
            "binary": {"pct": 0.10, "pct_by_rank": {"gold": 0.15}},
        }
    )
    inp = period([-1, 0, 0], [100, 100, 100], [-1, 0, 0], [-1, L, R], rank=[1, -1, -1])
    assert plan.engine().pay(inp).components["binary"][0] == pytest.approx(15)
    inp = period([-1, 0, 0], [100, 100, 100], [-1, 0, 0], [-1, L, R], rank=[0, -1, -1])
    assert plan.engine().pay(inp).components["binary"][0] == pytest.approx(10)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="pct_by_rank needs a \\[ranks\\] table"):
        plan_from_dict({"binary": {"pct_by_rank": {"gold": 0.1}}})
    with pytest.raises(ConfigError, match="amount_per_cycle"):
        plan_from_dict({"binary": {"variant": "cycle"}})


# --- invariants on random join sequences ---------------------------------------------------


@st.composite
def scenarios(draw):
    n = draw(st.integers(2, 30))
    sponsor = [-1] + [draw(st.integers(0, r - 1)) for r in range(1, n)]
    periods = draw(st.integers(1, 3))
    joined = sorted(draw(st.integers(0, periods - 1)) for _ in range(n))
    joined[0] = 0
    pvs = [
        [draw(st.sampled_from([0, 50, 100, 150, 400, 1000])) for _ in range(n)]
        for _ in range(periods)
    ]
    quit_ = [draw(st.integers(0, 9)) == 0 for _ in range(n)]
    params = {
        "placement_rule": draw(st.sampled_from(["extreme_outside", "balanced", "weak_leg"])),
        "capped_volume": draw(st.sampled_from(["flush", "carry"])),
        "inactive_policy": draw(st.sampled_from(["flush", "accumulate"])),
        "require_sponsored_each_leg": draw(st.booleans()),
        "cap_per_period": draw(st.sampled_from([None, 20.0, 100.0])),
        "carry_cap": draw(st.sampled_from([None, 300.0])),
    }
    return sponsor, joined, pvs, quit_, params


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_binary_invariants(case):
    sponsor, joined, pvs, quit_, params = case
    n = len(sponsor)
    eng = engine(**params)
    sponsor = np.array(sponsor)
    joined = np.array(joined)
    for p, pv in enumerate(pvs):
        member = joined <= p
        active = member & ~(np.array(quit_) & (p > 0))
        inp = PeriodInput(
            period=p,
            sponsor=np.where(member, sponsor, -1).astype(np.int32),
            pv=np.where(active, pv, 0.0),
            bv=np.where(active, pv, 0.0),
            active=active,
            joined_period=np.where(member, joined, -1).astype(np.int32),
            new_recruits=np.flatnonzero(joined == p),
        )
        r = eng.pay(inp)
        pay = r.components["binary"]
        c = carry(r)
        tree = eng.state["binary"].tree
        # Placement: <= 2 children, a tree, every recruit in its sponsor's subtree.
        assert tree.check() == []
        assert (tree.placed == member).all()
        for v in np.flatnonzero(member & (sponsor >= 0)):
            u = v
            while u >= 0 and u != sponsor[v]:
                u = tree.parent[u]
            assert u == sponsor[v]
        # Money and carry.
        assert (pay >= 0).all()
        assert (c >= 0).all()
        if params["carry_cap"] is not None:
            assert (c <= params["carry_cap"]).all()
        qualified = r.extra["binary_qualified"]
        assert (pay[~qualified] == 0).all()
        assert (pay[~(active & (np.asarray(pv) >= 100))] == 0).all()
        # The weaker side carries nothing for a paid distributor (flush, or cap not binding:
        # with capped_volume "carry" a binding cap leaves unpaid volume on both sides).
        paid = pay > 0
        if params["capped_volume"] == "flush" or params["cap_per_period"] is None:
            assert (c[paid].min(axis=1) == 0).all()
        assert n == pay.size
