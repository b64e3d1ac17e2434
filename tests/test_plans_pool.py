"""Leadership pools (docs/plans.md, Leadership pools): shares of company volume worked by hand."""

import numpy as np
import pytest

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict

RANKS = {
    "gv": "ogv",
    "table": [
        {"name": "Consultant", "min_pv": 100},
        {"name": "Leader", "min_pv": 100, "min_gv": 500},
        {"name": "Star", "min_pv": 100, "min_gv": 1000},
    ],
}
# 0 sponsors 1 and 2; 1 sponsors 3 and 4; 2 sponsors 5. Organisation volumes: 5, 4, 3: 100;
# 2: 300 + 100 = 400 (Consultant); 1: 300 + 200 = 500 (Leader); 0: 100 + 500 + 400 = 1,000
# (Star). The period's volume is 1,000 PV.
SPONSOR = [-1, 0, 0, 1, 1, 2]
PV = [100, 300, 300, 100, 100, 100]


def pay(pools, pv=PV, **kw):
    data = {"qualification": {"min_pv": 100}, "ranks": RANKS}
    data["pool"] = pools  # a table, or a list of named tables
    plan = plan_from_dict(data)
    return plan.engine().pay(PeriodInput.of(SPONSOR, pv, **kw))


def test_the_pool_is_divided_by_the_shares_of_each_rank():
    # A 10% pool of 1,000 PV is $100. Star holds 3 shares, Leader 1: S = 4, so the Star (0)
    # gets 100 x 3/4 = $75 and the Leader (1) $25. All of it is paid: no breakage.
    r = pay({"share": 0.1, "shares": {"Leader": 1, "Star": 3}})
    assert r.rank.tolist() == [2, 1, 0, 0, 0, 0]
    assert r.components["pool"].tolist() == pytest.approx([75, 25, 0, 0, 0, 0])
    assert r.breakage["pool"] == pytest.approx(0.0)


def test_ranks_not_listed_hold_no_share_and_an_empty_pool_is_breakage():
    # Only Leaders hold shares: 1 takes the whole $100.
    r = pay({"share": 0.1, "shares": {"Leader": 1}})
    assert r.components["pool"].tolist() == pytest.approx([0, 100, 0, 0, 0, 0])
    # Only Stars hold shares. With 1 at 299 PV, 0's organisation has 999 PV, one short of
    # Star (0 is a Leader now): nobody holds a share, and the pool of 0.1 x 999 = $99.90 is
    # not paid.
    pv = [100, 299, 300, 100, 100, 100]
    r = pay({"share": 0.1, "shares": {"Star": 1}}, pv=pv)
    assert r.rank.tolist()[0] == 1
    assert r.components["pool"].tolist() == [0] * 6
    assert r.breakage["pool"] == pytest.approx(99.9)


def test_an_inactive_member_holds_no_share_but_their_volume_fills_the_pool():
    # 1 has quit this period: their 300 PV still counts (the plan's default), so the pool is
    # still $100 and 0 is still a Star, who now holds all 3 shares.
    active = [True, False, True, True, True, True]
    r = pay({"share": 0.1, "shares": {"Leader": 1, "Star": 3}}, active=active)
    assert r.components["pool"].tolist() == pytest.approx([100, 0, 0, 0, 0, 0])


def test_min_enrollments_counts_this_period_s_recruits_by_enroller():
    # 3 and 4 joined this period (the others in period 0 ... period 1 is this one); their
    # enroller is 1, so with one enrollment needed only 1 holds shares: the whole $100.
    joined = [0, 0, 0, 1, 1, 0]
    table = {"share": 0.1, "shares": {"Leader": 1, "Star": 3}, "min_enrollments": 1}
    r = pay(table, joined_period=joined, period=1)
    assert r.components["pool"].tolist() == pytest.approx([0, 100, 0, 0, 0, 0])
    # Enrolled by 0 but placed under 1 (the enroller counts, not the sponsor): 0 holds 3
    # shares alone. Two enrollments needed: nobody; the pool is breakage.
    enroller = [-1, 0, 0, 0, 0, 2]
    r = pay(table, joined_period=joined, period=1, enroller=enroller)
    assert r.components["pool"].tolist() == pytest.approx([100, 0, 0, 0, 0, 0])
    r = pay({**table, "min_enrollments": 2}, joined_period=joined, period=1, enroller=enroller)
    assert r.components["pool"].tolist() == pytest.approx([100, 0, 0, 0, 0, 0])
    r = pay({**table, "min_enrollments": 3}, joined_period=joined, period=1, enroller=enroller)
    assert r.components["pool"].sum() == 0
    assert r.breakage["pool"] == pytest.approx(100.0)


def test_several_named_pools_are_paid_side_by_side():
    # doTERRA-like: a 1% pool shared equally by Leaders and Stars, a 2% pool for Stars only.
    pools = [
        {"name": "empowerment", "share": 0.01, "shares": {"Leader": 1, "Star": 1}},
        {"name": "performance", "share": 0.02, "shares": {"Star": 1}},
    ]
    r = pay(pools)
    assert r.components["empowerment"].tolist() == pytest.approx([5, 5, 0, 0, 0, 0])
    assert r.components["performance"].tolist() == pytest.approx([20, 0, 0, 0, 0, 0])
    assert r.total.tolist() == pytest.approx([25, 5, 0, 0, 0, 0])


def test_the_global_cap_scales_a_pool_like_any_payout():
    # A 60% pool under a 45% cap: $600 is cut to $450, in the same 3:1 split.
    data = {
        "qualification": {"min_pv": 100},
        "ranks": RANKS,
        "pool": {"share": 0.6, "shares": {"Leader": 1, "Star": 3}},
        "cap": {"ratio": 0.45},
    }
    r = plan_from_dict(data).engine().pay(PeriodInput.of(SPONSOR, PV))
    assert r.components["pool"].tolist() == pytest.approx([337.5, 112.5, 0, 0, 0, 0])
    assert r.breakage["cap"] == pytest.approx(150.0)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"share": 0.1, "shares": {"Chief": 1}}, "unknown rank 'Chief'"),
        ({"share": 0.1, "shares": {"Star": -1}}, ">= 0"),
        ({"share": 0.1, "shares": {"Star": 0}}, "above 0"),
        ({"share": 1.5, "shares": {"Star": 1}}, "share"),
        ({"shares": {"Star": 1}}, "share"),
    ],
)
def test_bad_pool_tables_name_the_key(table, needle):
    with pytest.raises(ConfigError, match="pool") as err:
        plan_from_dict({"ranks": RANKS, "pool": table})
    assert needle in str(err.value)


def test_a_pool_needs_ranks():
    with pytest.raises(ConfigError, match=r"\[ranks\]"):
        plan_from_dict({"pool": {"share": 0.1, "shares": {"Star": 1}}})


def test_the_pool_pays_exactly_its_share_whenever_anyone_holds_one():
    # Random organisations: whenever a share is held, the payouts add to share x volume.
    rng = np.random.default_rng(3)
    plan = plan_from_dict(
        {"qualification": {"min_pv": 100}, "ranks": RANKS,
         "pool": {"share": 0.05, "shares": {"Leader": 1, "Star": 4}}}
    )  # fmt: skip
    for _ in range(20):
        n = 200
        sponsor = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
        pv = rng.choice([0.0, 50.0, 100.0, 250.0], size=n)
        r = plan.engine().pay(PeriodInput.of(sponsor, pv))
        paid = r.components["pool"].sum()
        assert paid + r.breakage["pool"] == pytest.approx(0.05 * pv.sum())
        assert paid == pytest.approx(0.05 * pv.sum()) or paid == 0
