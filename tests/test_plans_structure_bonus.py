"""Team-structure bonus, doTERRA's "Power of 3" (docs/plans.md): levels worked out by hand."""

import pytest

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict


def pay(sponsor, pv, **table):
    plan = plan_from_dict({"qualification": {"min_pv": 100}, "structure_bonus": table})
    return plan.engine().pay(PeriodInput.of(sponsor, pv))


def test_three_qualified_frontline_and_600_team_volume_pay_50():
    # 0 sponsors 1, 2, 3 (100 PV each). 0 at 100 PV: team volume 400 < 600, nothing;
    # at 300 PV: 600, $50. A frontline member at 99 PV is not qualified: 2 of 3, nothing.
    sponsor = [-1, 0, 0, 0]
    assert pay(sponsor, [100, 100, 100, 100]).components["structure_bonus"].tolist() == [0] * 4
    assert pay(sponsor, [300, 100, 100, 100]).components["structure_bonus"].tolist() == [
        50, 0, 0, 0,
    ]  # fmt: skip
    assert pay(sponsor, [400, 100, 100, 99]).components["structure_bonus"].tolist() == [0] * 4
    # The member's own order must qualify too: 99 PV with 600 team volume pays nothing.
    assert pay([-1, 0, 0, 0, 0], [99, 200, 200, 100, 100]).components["structure_bonus"][0] == 0


def test_levels_two_and_three_need_three_frontline_members_a_level_below():
    # Root 0; frontline 1, 2, 3; each of them sponsors three (4-12); 4, 5, 6 (under 1) each
    # sponsor three more (13-21). Everyone 100 PV, except those with a frontline of three at
    # 300 PV so that their team volume is 600.
    sponsor = [-1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, *[4] * 3, *[5] * 3, *[6] * 3]
    n = len(sponsor)
    pv = [100.0] * n
    for v in (0, 1, 2, 3, 4, 5, 6):
        pv[v] = 300.0
    r = pay(sponsor, pv)
    paid = r.components["structure_bonus"]
    # 4, 5, 6: level 1 ($50). 1: frontline 4, 5, 6 all at level 1 -> level 2 ($250).
    # 2, 3: level 1 ($50; their frontline are at level 0). 0: frontline 1 (level 2), 2 and 3
    # (level 1): three at level >= 1 -> level 2 ($250), not 3 (only one at level 2).
    expected = [0.0] * n
    for v in (4, 5, 6, 2, 3):
        expected[v] = 50.0
    expected[1] = 250.0
    expected[0] = 250.0
    assert paid.tolist() == expected
    assert r.total.sum() == pytest.approx(sum(expected))  # no cap in this plan
    # Lift 2 and 3 to level 2 as 1 is: 0 reaches level 3 ($1,500; not cumulative).
    sponsor2 = list(sponsor)
    pv2 = list(pv)
    for head in (2, 3):
        for child in [v for v in range(n) if sponsor[v] == head]:
            pv2[child] = 300.0
            sponsor2 += [child] * 3
            pv2 += [100.0] * 3
    paid2 = pay(sponsor2, pv2).components["structure_bonus"]
    assert paid2[0] == 1500.0
    assert paid2[1] == paid2[2] == paid2[3] == 250.0


def test_width_amounts_and_team_volume_are_parameters():
    # Width 2, one level of $20, team volume 300: 0 with two 100 PV frontline at 100 PV.
    r = pay([-1, 0, 0], [100, 100, 100], width=2, amounts=[20.0], team_volume=300)
    assert r.components["structure_bonus"].tolist() == [20, 0, 0]
    with pytest.raises(ConfigError, match="structure_bonus"):
        plan_from_dict({"structure_bonus": {"amounts": []}})
