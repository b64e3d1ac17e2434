"""Rank advancement (docs/plans.md): paid-as ranks worked out by hand."""

import numpy as np
import pytest
from pydantic import ValidationError

from simulation.plans import PeriodInput, plan_from_dict
from simulation.plans.ranks import RanksParams


def ranks_of(ranks, sponsor, pv, engine=None, **kw):
    plan = plan_from_dict({"ranks": ranks})
    engine = engine or plan.engine()
    return engine.pay(PeriodInput.of(sponsor, pv, **kw)).rank.tolist()


# Young Living-like table [plan: YL]: Star 500 OGV; Senior Star 2,000; Executive 4,000 with 2
# legs of 1,000 OGV; Silver 10,000 with 2 legs of 4,000. All need 100 PV.
YL = {
    "table": [
        {"name": "Star", "min_pv": 100, "min_gv": 500},
        {"name": "Senior Star", "min_pv": 100, "min_gv": 2000},
        {"name": "Executive", "min_pv": 100, "min_gv": 4000, "min_legs": 2, "leg_min_gv": 1000},
        {"name": "Silver", "min_pv": 100, "min_gv": 10000, "min_legs": 2, "leg_min_gv": 4000},
    ]
}

#        0 (100)
#     /  |  \    \
#   1    2    3    5 (inactive)
# (1000)(500)(1900)
#        |
#        4 (500)
# OGV: 0 = 100 + 1,000 + 1,000 + 1,900 = 4,000 (exactly); legs 1,000 / 1,000 / 1,900 / 0.
TREE = [-1, 0, 0, 0, 2, 0]
TREE_PV = [100, 1000, 500, 1900, 500, 0]
ACTIVE = [True, True, True, True, True, False]


def test_young_living_executive_at_exact_thresholds():
    # 0: OGV 4,000 >= 4,000 and 3 legs >= 1,000 (leg 2 is exactly 1,000) -> Executive (2).
    # 1: 1,000 -> Star; 2: OGV 1,000 -> Star; 3: 1,900 -> Star; 4: 500 -> Star (exactly);
    # 5 is inactive -> no rank.
    assert ranks_of(YL, TREE, TREE_PV, active=ACTIVE) == [2, 0, 0, 0, 0, -1]


def test_a_leg_just_below_the_leg_threshold_does_not_count():
    # With 4 at 499.99 PV leg 2 has 999.99: only legs 1 and 3 count -> still 2 legs, but OGV is
    # 3,999.99 < 4,000 -> Senior Star (1); 4 is no longer a Star.
    pv = [100, 1000, 500, 1900, 499.99, 0]
    assert ranks_of(YL, TREE, pv, active=ACTIVE) == [1, 0, 0, 0, -1, -1]


def test_min_legs_counts_legs_not_volume():
    # Executive asking 3 legs of 1,000: with 1,000 / 1,000 / 1,900 it holds; move 4 under 1 so
    # that leg 2 has 500 and leg 1 has 1,500: only two legs of 1,000 -> Senior Star.
    table = [dict(r) for r in YL["table"]]
    table[2]["min_legs"] = 3
    assert ranks_of({"table": table}, TREE, TREE_PV, active=ACTIVE)[0] == 2
    moved = [-1, 0, 0, 0, 1, 0]
    assert ranks_of({"table": table}, moved, TREE_PV, active=ACTIVE)[0] == 1


# 40/40/20 rule: Manager needs 1,000 GV with each leg counting at most 40% x 1,000 = 400.
MANAGER = {"table": [{"name": "Manager", "min_gv": 1000, "max_leg_share": 0.4}]}


def test_leg_cap_counts_at_most_share_of_min_gv_per_leg():
    # 0: own 200 + min(800, 400) + min(300, 400) + min(100, 400) = 1,000 -> Manager (exactly).
    # Raw OGV is 1,400; with the 300 leg at 299 it would be 999.
    sponsor = [-1, 0, 0, 0]
    assert ranks_of(MANAGER, sponsor, [200, 800, 300, 100])[0] == 0
    assert ranks_of(MANAGER, sponsor, [200, 800, 299, 100])[0] == -1


def test_cap_personal():
    # A lone distributor with 1,000 PV: counts in full by default (Manager), but only 400 when
    # the leg cap also caps personal volume (Be Infinity).
    assert ranks_of(MANAGER, [-1], [1000]) == [0]
    assert ranks_of({**MANAGER, "cap_personal": True}, [-1], [1000]) == [-1]


def test_legs_containing_a_rank():
    # Director: 2 legs each containing a Leader (500 PV) somewhere below.
    #   0 -> 1 -> 3 (Leader);  0 -> 2 -> 4 -> 5 (Leader);  0 -> 6 (no Leader)
    table = {
        "table": [
            {"name": "Member", "min_pv": 100},
            {"name": "Leader", "min_pv": 500},
            {"name": "Director", "min_pv": 100, "leg_rank": "Leader", "leg_rank_count": 2},
        ]
    }
    sponsor = [-1, 0, 0, 1, 2, 4, 0]
    pv = [100, 100, 100, 500, 100, 500, 100]
    assert ranks_of(table, sponsor, pv) == [2, 0, 0, 1, 0, 1, 0]
    # Without 5 as a Leader (PV 400) only one leg has one: 0 is a Member.
    pv[5] = 400
    assert ranks_of(table, sponsor, pv)[0] == 0


def test_personal_group_volume_leaves_out_ranked_legs():
    # gv = personal_group: a child holding "Lead" (500 GV) or above takes its group away.
    # 0 (100) -> 1 (600, Lead) ; 0 -> 2 (300). 0's OGV = 1,000, personal group = 100 + 300 = 400.
    table = [{"name": "Lead", "min_gv": 500}, {"name": "Boss", "min_gv": 1000}]
    ogv = {"table": table}
    pgv = {"table": table, "gv": "personal_group", "group_breakaway_rank": "Lead"}
    sponsor, pv = [-1, 0, 0], [100, 600, 300]
    assert ranks_of(ogv, sponsor, pv) == [1, 0, -1]
    assert ranks_of(pgv, sponsor, pv) == [-1, 0, -1]


def test_highest_rank_whose_requirements_all_hold():
    # The top rank may hold without the middle one (the table need not be nested).
    table = {
        "table": [
            {"name": "A", "min_pv": 100},
            {"name": "B", "min_pv": 100, "min_gv": 5000},
            {"name": "C", "min_pv": 100, "min_legs": 1, "leg_min_gv": 100},
        ]
    }
    assert ranks_of(table, [-1, 0], [100, 100]) == [2, 0]


def test_achieved_rank_is_kept_as_state():
    plan = plan_from_dict({"ranks": MANAGER})
    engine = plan.engine()
    engine.pay(PeriodInput.of([-1], [1000]))
    r = engine.pay(PeriodInput.of([-1], [10]))
    assert r.rank.tolist() == [-1]
    assert r.extra["rank_achieved"].tolist() == [0]


def test_given_ranks_can_be_used():
    ranks = {**MANAGER, "use_given": True}
    assert ranks_of(ranks, [-1, 0], [0, 0], rank=[0, -1]) == [0, -1]


def test_rank_table_is_validated():
    with pytest.raises(ValidationError, match="unique"):
        RanksParams(table=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError, match="leg_rank 'x'"):
        RanksParams(table=[{"name": "a", "leg_rank": "x", "leg_rank_count": 1}])
    with pytest.raises(ValidationError, match="group_breakaway_rank"):
        RanksParams(table=[{"name": "a"}], gv="personal_group")


def test_vectorised_and_bottom_up_paths_agree():
    # A leg_rank nobody can hold forces the level-by-level path; ranks must not change.
    rng = np.random.default_rng(11)
    n = 30
    sponsor = np.concatenate(([-1], [rng.integers(0, i) for i in range(1, n)]))
    pv = rng.choice([0, 100, 400, 1500], size=n)
    table = [dict(r) for r in YL["table"]]
    fast = ranks_of({"table": table}, sponsor, pv)
    table.append({"name": "Never", "min_pv": 1e12, "leg_rank": "Silver", "leg_rank_count": 1})
    assert ranks_of({"table": table}, sponsor, pv) == fast
