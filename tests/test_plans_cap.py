"""Global payout cap (docs/plans.md): pro rata, basis, applies_to, breakage."""

import pytest

from simulation.errors import ConfigError
from simulation.plans import PeriodInput, plan_from_dict


def pay(plan, sponsor, pv, **kw):
    return plan_from_dict(plan).engine().pay(PeriodInput.of(sponsor, pv, **kw))


# 0 <- 1 <- 2: 0 has 0 PV but qualification 0, 1 and 2 have 100 BV each: revenue 200.
# Unilevel 40/20: 1 earns 40 (on 2); 0 earns 40 (on 1) + 20 (on 2) = 60. Pre-cap 100.
TREE, PV = [-1, 0, 1], [0, 100, 100]
UNI = {"qualification": {"min_pv": 0}, "unilevel": {"percentages": [0.40, 0.20]}}


def test_cap_that_binds_scales_pro_rata():
    # Cap 30% x 200 = 60 < 100: every payout x 0.6 -> 0: 36, 1: 24. Cap breakage 40.
    r = pay({**UNI, "cap": {"ratio": 0.30}}, TREE, PV)
    assert r.cap_scale == pytest.approx(0.6)
    assert r.components["unilevel"] == pytest.approx([36, 24, 0])
    assert r.paid == pytest.approx(60)
    assert r.breakage["cap"] == pytest.approx(100 - 60)
    assert r.payout_ratio == pytest.approx(0.30)


def test_cap_that_does_not_bind():
    r = pay({**UNI, "cap": {"ratio": 0.5}}, TREE, PV)
    assert r.cap_scale == 1.0
    assert r.paid == pytest.approx(100)
    assert r.breakage["cap"] == 0.0


def test_explicit_revenue():
    # Revenue given as 150 (e.g. net sales): cap 40% x 150 = 60 -> scale 0.6.
    r = pay({**UNI, "cap": {"ratio": 0.4, "revenue": 150}}, TREE, PV)
    assert r.revenue == 150
    assert r.paid == pytest.approx(60)


# Add a flat fast start exempt from the cap: 2 joined this period with a kit, 1 gets 20.
MIXED = {
    **UNI,
    "fast_start": {"mode": "flat", "amount": 20, "min_pv": 0},
}
JOINED = {"joined_period": [0, 0, 1], "period": 1, "kit_bought": [False, False, True]}


def test_basis_total_pays_exempt_components_first():
    # Cap 30% x 200 = 60. Fast start (exempt) 20 is paid first: the unilevel gets 60 - 20 = 40
    # of its 100 (scale 0.4): 0: 24, 1: 16. Total 60 = the cap.
    plan = {**MIXED, "cap": {"ratio": 0.30, "applies_to": ["unilevel"]}}
    r = pay(plan, TREE, PV, **JOINED)
    assert r.cap_scale == pytest.approx(0.4)
    assert r.components["fast_start"] == pytest.approx([0, 20, 0])
    assert r.components["unilevel"] == pytest.approx([24, 16, 0])
    assert r.paid == pytest.approx(60)
    assert r.breakage["cap"] == pytest.approx(120 - 60)


def test_basis_capped_components_limits_only_those():
    # LifeWave: only the unilevel together <= 60 (scale 0.6); the fast start's 20 comes on top.
    cap = {"ratio": 0.30, "applies_to": ["unilevel"], "basis": "capped_components"}
    r = pay({**MIXED, "cap": cap}, TREE, PV, **JOINED)
    assert r.components["unilevel"] == pytest.approx([36, 24, 0])
    assert r.paid == pytest.approx(80)
    assert r.breakage["cap"] == pytest.approx(40)


def test_cap_applies_to_every_component_by_default():
    # Both scaled: pre-cap 120, limit 60 -> scale 0.5.
    r = pay({**MIXED, "cap": {"ratio": 0.30}}, TREE, PV, **JOINED)
    assert r.cap_scale == pytest.approx(0.5)
    assert r.components["fast_start"] == pytest.approx([0, 10, 0])


def test_matching_is_computed_on_pre_cap_earnings_then_capped():
    # Matching 50% of gen 1's unilevel: 0 matches 1's 40 -> 20. Pre-cap 120; cap 60 -> x 0.5.
    plan = {**UNI, "matching": {"percentages": [0.5]}, "cap": {"ratio": 0.30}}
    r = pay(plan, TREE, PV)
    assert r.pre_cap_total == pytest.approx(120)
    assert r.components["matching"] == pytest.approx([10, 0, 0])
    assert r.paid == pytest.approx(60)


def test_retail_margin_is_never_capped():
    plan = {**UNI, "retail_margin": {}, "cap": {"ratio": 0.30}}
    r = pay(plan, TREE, PV, retail_sales=[0, 120, 0])
    # Margin 120 x 0.2 / 1.2 = 20, outside the cap and the payouts.
    assert r.components["retail_margin"] == pytest.approx([0, 20, 0])
    assert r.paid == pytest.approx(60)


def test_applies_to_must_name_a_component():
    with pytest.raises(ConfigError, match="applies_to names 'binary'"):
        plan_from_dict({**UNI, "cap": {"ratio": 0.3, "applies_to": ["binary"]}})
