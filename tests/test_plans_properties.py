"""Invariants of docs/plans.md on random genealogies (Hypothesis), and agreement of the
vectorised components with slow per-node walks written straight from the rules."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation.plans import PeriodInput, load_plan, plan_from_dict

DOTERRA = [0.02, 0.03, 0.05, 0.05, 0.06, 0.06, 0.07]
RANKS = {
    "table": [
        {"name": "Consultant", "min_pv": 100},
        {"name": "Manager", "min_pv": 100, "min_gv": 500},
        {"name": "Director", "min_pv": 100, "min_gv": 1500, "min_legs": 2, "leg_min_gv": 300},
    ]
}
PERIOD = 3


@st.composite
def genealogies(draw, max_n=30):
    """Random forest (parent[i] < i, some roots), PV, BV, active flags and join periods."""
    n = draw(st.integers(1, max_n))
    # Mostly one tree; every fifth row may start a new one.
    parent = [-1] + [draw(st.integers(-1 if i % 5 == 0 else 0, i - 1)) for i in range(1, n)]
    pv = draw(
        st.lists(
            st.sampled_from([0, 20, 50, 99.5, 100, 150, 400, 1200, 3000, 9000]),
            min_size=n,
            max_size=n,
        )
    )
    ratio = draw(st.sampled_from([1.0, 0.8]))
    active = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))
    inactive = draw(st.lists(st.integers(0, n - 1), max_size=3))
    for i in inactive:
        active[i] = False
    joined = draw(st.lists(st.integers(0, PERIOD), min_size=n, max_size=n))
    kit = [j == PERIOD for j in joined]
    return {
        "sponsor": parent,
        "pv": np.asarray(pv, dtype=float),
        "bv": np.asarray(pv, dtype=float) * ratio,
        "active": np.asarray(active),
        "joined_period": joined,
        "period": PERIOD,
        "kit_bought": kit,
    }


def run(plan, g):
    inp = PeriodInput.of(
        g["sponsor"],
        g["pv"],
        bv=g["bv"],
        active=g["active"],
        joined_period=g["joined_period"],
        period=g["period"],
        kit_bought=g["kit_bought"],
    )
    return plan_from_dict(plan).engine().pay(inp)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def full_plan(compression, ratio, policy, mode, exclude):
    return {
        "qualification": {"min_pv": 100},
        "ranks": RANKS,
        "unilevel": {
            "percentages": DOTERRA,
            "compression": compression,
            "levels_by_rank": {"Consultant": 3, "Manager": 5, "Director": 7},
        },
        "stairstep": {
            "unqualified_policy": policy,
            "min_pv_to_earn": 50,
            "override": {"percentages": [0.04, 0.02]},
        },
        "fast_start": {"exclude_from_unilevel": exclude},
        "matching": {"percentages": [0.1, 0.05], "generation_mode": mode, "base": ["unilevel"]},
        "cap": {"ratio": ratio},
    }


@FAST
@given(
    g=genealogies(),
    compression=st.sampled_from(["none", "dynamic", "dynamic_full"]),
    ratio=st.sampled_from([0.05, 0.3, 1.0]),
    policy=st.sampled_from(["breakage", "roll_up"]),
    mode=st.sampled_from(["level", "compressed"]),
    exclude=st.booleans(),
)
def test_invariants_of_a_full_plan(g, compression, ratio, policy, mode, exclude):
    r = run(full_plan(compression, ratio, policy, mode, exclude), g)
    active, pv = g["active"], g["pv"]
    # Payouts are non-negative; the total never exceeds cap x revenue (basis total).
    for name, p in r.components.items():
        assert (p >= -1e-9).all(), name
    assert r.paid <= ratio * g["bv"].sum() + 1e-6  # inactive volume is revenue too
    assert r.breakage["cap"] >= -1e-9
    # Nobody unqualified is paid by any component (each with its own minimum).
    q100 = active & (pv >= 100)
    q50 = active & (pv >= 50)
    for name in ("unilevel", "fast_start", "matching"):
        assert (r.components[name][~q100] == 0).all(), name
    assert (r.components["stairstep"][~q50] == 0).all()
    # Ranks only for active rows.
    assert (r.rank[~active] == -1).all()


@FAST
@given(g=genealogies(), compression=st.sampled_from(["none", "dynamic", "dynamic_full"]))
def test_unilevel_paid_plus_breakage_is_the_bound(g, compression):
    plan = {"unilevel": {"percentages": DOTERRA, "compression": compression}}
    r = run(plan, g)
    bound = g["bv"].sum() * sum(DOTERRA)  # every purchase pays, inactive ones too
    assert r.paid + r.breakage["unilevel"] == pytest.approx(bound, abs=1e-6)
    assert r.breakage["unilevel"] >= -1e-9
    assert r.paid == pytest.approx(unilevel_reference(g, DOTERRA, compression).sum(), abs=1e-6)


@FAST
@given(g=genealogies(), policy=st.sampled_from(["breakage", "roll_up"]))
def test_stairstep_never_pays_more_than_the_top_percentage(g, policy):
    r = run({"stairstep": {"unqualified_policy": policy}}, g)
    pay = r.components["stairstep"]
    assert (pay >= 0).all()
    assert pay.sum() <= 0.21 * g["bv"].sum() + 1e-6
    # Bonuses paid + forfeited = sum over group leaders of pct(leader) x GBV(leader).
    ref_pay, ref_forfeit = stairstep_reference(g, policy)
    assert pay == pytest.approx(ref_pay, abs=1e-6)
    assert r.breakage["stairstep"] == pytest.approx(ref_forfeit, abs=1e-6)


@FAST
@given(g=genealogies(), compression=st.booleans())
def test_stairstep_overrides_match_the_walk(g, compression):
    ov = {"percentages": [0.04, 0.02, 0.01], "override_compression": compression}
    r = run({"stairstep": {"override": ov}}, g)
    expected = override_reference(g, r.extra["stairstep_pct"], [0.04, 0.02, 0.01], compression)
    assert r.extra["stairstep_override"] == pytest.approx(expected, abs=1e-6)


@FAST
@given(g=genealogies(), mode=st.sampled_from(["level", "compressed"]))
def test_matching_matches_the_walk(g, mode):
    plan = {
        "unilevel": {"percentages": [0.1, 0.05]},
        "matching": {"percentages": [0.2, 0.1, 0.05], "generation_mode": mode},
    }
    r = run(plan, g)
    expected = matching_reference(g, r.components["unilevel"], [0.2, 0.1, 0.05], mode)
    assert r.components["matching"] == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------- slow references, per node
def _chain(sponsor, v):
    """Ancestors of v, nearest first."""
    out, u = [], sponsor[v]
    while u >= 0:
        out.append(u)
        u = sponsor[u]
    return out


def unilevel_reference(g, pct, compression):
    sponsor, bv, active, pv = g["sponsor"], g["bv"], g["active"], g["pv"]
    q = active & (pv >= 100)
    pay = np.zeros(len(bv))
    for v in range(len(bv)):
        if not bv[v] > 0:  # an inactive member's purchase pays its uplines too
            continue
        level = 1
        for u in _chain(sponsor, v):
            if level > len(pct):
                break
            if q[u]:
                pay[u] += pct[level - 1] * bv[v]
                level += 1
            elif compression == "none":
                level += 1
    return pay


def _groups(g):
    """Post-order group volumes straight from the definitions (recursion over children)."""
    sponsor, n = g["sponsor"], len(g["pv"])
    pv, bv = g["pv"], g["bv"]  # inactive members' volume counts (published rule)
    thr = [200, 600, 1200, 2400, 4000, 7000, 10000]
    pcts = [0.03, 0.06, 0.09, 0.12, 0.15, 0.18, 0.21]
    children = [[c for c in range(n) if sponsor[c] == u] for u in range(n)]
    gpv, gbv, pct, stays = {}, {}, {}, {}

    def visit(u):
        for c in children[u]:
            visit(c)
        kids = [c for c in children[u] if stays[c]]
        gpv[u] = pv[u] + sum(gpv[c] for c in kids)
        gbv[u] = bv[u] + sum(gbv[c] for c in kids)
        pct[u] = max([p for t, p in zip(thr, pcts, strict=True) if gpv[u] >= t], default=0.0)
        stays[u] = pct[u] < 0.21

    for u in range(n):
        if sponsor[u] < 0:
            visit(u)
    return children, gbv, pct, stays


def stairstep_reference(g, policy):
    sponsor, n = g["sponsor"], len(g["pv"])
    q = g["active"] & (g["pv"] >= 100)
    children, gbv, pct, stays = _groups(g)
    pay, forfeit = np.zeros(n), 0.0
    for u in range(n):
        net = pct[u] * gbv[u] - sum(pct[c] * gbv[c] for c in children[u] if stays[c])
        if q[u]:
            pay[u] += net
            continue
        up = next((a for a in _chain(sponsor, u) if q[a]), None)
        if policy == "roll_up" and up is not None:
            pay[up] += net
        else:
            forfeit += net
    return pay, forfeit


def override_reference(g, pct, o, compression):
    sponsor, n = g["sponsor"], len(g["pv"])
    q = g["active"] & (g["pv"] >= 100)
    _, gbv, _, stays = _groups(g)
    pay = np.zeros(n)
    for b in range(n):
        if sponsor[b] < 0 or stays[b]:
            continue
        gen = 0
        for a in _chain(sponsor, b):
            # Every eligible ancestor within a generation is paid (published rule).
            eligible = q[a] and pct[a] >= 0.21
            if eligible:
                pay[a] += o[gen] * gbv[b]
            if pct[a] >= 0.21 and (eligible or not compression):
                gen += 1
            if gen >= len(o):
                break
    return pay


def matching_reference(g, base, m, mode):
    sponsor, n = g["sponsor"], len(g["pv"])
    q = g["active"] & (g["pv"] >= 100)
    pay = np.zeros(n)
    for x in range(n):
        if base[x] <= 0:
            continue
        between = 0  # rows strictly between the earner and x that hold a generation
        for e in _chain(sponsor, x):
            gen = between + 1
            if gen > len(m):
                break
            if q[e]:
                pay[e] += m[gen - 1] * base[x]
            between += 1 if mode == "level" else int(q[e])
    return pay


MINE = [
    "unilevel_5",
    "unilevel_7_dt",
    "stairstep_amway",
    "recruiting_heavy",
    "retail_heavy",
    "hybrid_unilevel_stairstep_matching",
    "doterra_like",
    "doterra_pools",
]


@pytest.mark.parametrize("name", MINE)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=genealogies())
def test_shipped_plans_keep_the_invariants(name, g):
    plan = load_plan(name)
    r = run(plan.raw, g)
    active = g["active"]
    q = active & (g["pv"] >= plan.min_pv)
    assert (r.total >= -1e-9).all()
    assert (r.total[~q] == 0).all()
    if plan.cap is not None and plan.cap.basis == "total":
        assert r.paid <= plan.cap.ratio * g["bv"].sum() + 1e-6
