"""People respond to what the plan pays: the plan's answers and the rules that use them.

Every number here is worked out by hand from the plan files (scenarios/plans/) and the
formulas of docs/odd.md (Mechanisms, landed) and docs/plans.md (What a plan pays ...).
"""

import math

import numpy as np
import pytest

from simulation import behaviour
from simulation.config import load_scenario
from simulation.model import MLMModel
from simulation.network import from_edges
from simulation.plans import load_plan
from simulation.plans.incentives import next_rank, next_step, recruit_pay
from simulation.state import Status
from tests.helpers import check_invariants


def classroom(*sets: str, **kwargs) -> MLMModel:
    scen, _ = load_scenario("classroom", list(sets))
    return MLMModel(scenario=scen, agents=False, **kwargs)


# ------------------------------------------------------------------- the plan's answers


@pytest.mark.parametrize(
    ("plan", "want"),
    [
        ("unilevel_5", 0.08 * 100 * 12),  # level 1 of 8% on 100 BV a month for a year
        ("unilevel_7_dt", 0.20 * 100 * 2 + 0.02 * 100 * 10),  # fast start 2 months, excluded
        ("pure_pyramid", 40.0),  # the flat amount, nothing on volume
        ("recruiting_heavy", 40.0 + 0.05 * 100 * 12),
        ("unilevel_5_fast_start", 50.0 + 0.08 * 100 * 12),
        ("retail_heavy_50", 0.03 * 100 * 12),
        ("stairstep_amway", 0.03 * 100 * 12),  # the first step's 3%
    ],
)
def test_pay_per_recruit_by_hand(plan, want):
    got = recruit_pay(load_plan(plan), 100.0, 12, np.array([-1, 0]))
    np.testing.assert_allclose(got, [want, want])


def test_pay_per_recruit_depends_on_the_rank_and_the_horizon():
    plan = load_plan("unilevel_7_dt")
    # A one-month horizon: the fast start's first month only; the unilevel gets no month.
    assert recruit_pay(plan, 100.0, 1)[0] == pytest.approx(0.20 * 100)
    # Without ranks unlocking level 1 the unilevel part is 0: drop the Consultant entry.
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in plan.raw.items()}
    raw["unilevel"]["levels_by_rank"] = {"Manager": 2, "Director": 3}
    from simulation.plans import plan_from_dict

    locked = plan_from_dict(raw)
    got = recruit_pay(locked, 100.0, 12, np.array([0, 1]))  # Consultant, Manager
    np.testing.assert_allclose(got, [40.0, 40.0 + 0.02 * 100 * 10])


def test_the_engine_answers_per_recruit_and_per_retail_dollar():
    per_recruit, per_retail = (
        load_plan("retail_heavy_50").engine().incentives(60.0, 6, np.array([-1, -1, -1]))
    )
    np.testing.assert_allclose(per_recruit, [0.03 * 60 * 6] * 3)
    np.testing.assert_allclose(per_retail, [0.50] * 3)


def test_bad_questions_are_refused():
    plan = load_plan("unilevel_5")
    with pytest.raises(ValueError, match="horizon must be at least 1 month, got 0"):
        recruit_pay(plan, 100.0, 0)
    with pytest.raises(ValueError, match="recruit_bv must be >= 0, got -1"):
        recruit_pay(plan, -1.0, 12)


def test_next_rank_gap_and_added_share_by_hand():
    # unilevel_7_dt ranks: Consultant pv 100; Manager pv 100 gv 500; Director gv 1000;
    # Executive 2000; Elite 3000; Premier and Silver need legs. Levels: Consultant 2,
    # (Manager inherits 2), Director 3, Executive 4, Elite 5 of 2/3/5/5/6/6/7 %.
    plan = load_plan("unilevel_7_dt")
    rank = np.array([-1, 0, 1, 3, 4, 6])
    pv = np.array([60.0, 100.0, 100.0, 150.0, 100.0, 100.0])
    gv = np.array([60.0, 450.0, 900.0, 2500.0, 5000.0, 9000.0])
    gap, added = next_rank(plan, rank, pv, gv)
    np.testing.assert_allclose(gap[:4], [40.0, 50.0, 100.0, 500.0])
    assert np.isinf(gap[4]) and np.isinf(gap[5])  # Premier needs legs; Silver is the top
    np.testing.assert_allclose(added[:4], [0.02 + 0.03, 0.0, 0.05, 0.06])
    assert added[5] == 0.0
    gap, added = next_rank(load_plan("unilevel_5"), rank, pv, gv)
    assert np.isinf(gap).all() and (added == 0).all()  # no ranks: nothing to load for


def test_next_stairstep_gap_and_added_bonus_by_hand():
    # Amway Europe: 200, 600, 1,200, 2,400, 4,000, 7,000, 10,000 PV -> 3, 6, ..., 21 %.
    gv = np.array([180.0, 500.0, 200.0, 9000.0, 10000.0])
    gap, added = next_step(load_plan("stairstep_amway"), gv)
    np.testing.assert_allclose(gap[:4], [20.0, 100.0, 400.0, 1000.0])
    np.testing.assert_allclose(added[:4], [0.03 * 200, 0.03 * 600, 0.03 * 600, 0.03 * 10000])
    assert np.isinf(gap[4]) and added[4] == 0.0  # 21% is the top
    gap, added = next_step(load_plan("unilevel_5"), gv)
    assert np.isinf(gap).all() and (added == 0).all()


def test_stairstep_loading_by_hand():
    # Founders only (no downline): group volume = own volume. Net cost of stock: 1 USD/PV x
    # (1 - 0.8 own-use value) = 0.2 a PV.
    m = classroom("incentives.loading=true", plan="stairstep_amway")
    who = m.active_ids()[:5]
    pv = np.array([180.0, 500.0, 200.0, 9000.0, 10000.0])
    got = behaviour.rank_loading(m, who, pv)
    # 180: 20 to 3% for 0.03 x 200 = 6 >= 4, buys 20. 500: 100 to 6% for 18 < 20, no.
    # 200: 400 to 6% for 18 < 80, no. 9,000: 1,000 to 21% for 300 >= 200, buys 1,000.
    np.testing.assert_allclose(got, [20.0, 0.0, 0.0, 1000.0, 0.0])
    m.scenario.incentives.max_loading_pv = 999.0  # the 1,000 PV gap is now too large
    np.testing.assert_allclose(behaviour.rank_loading(m, who, pv), [20.0, 0, 0, 0, 0])


# ------------------------------------------------------------------- effort


def test_recruiting_share_by_hand_for_the_classroom():
    m = classroom("incentives.effort=true")
    who = m.active_ids()
    # unilevel_5: R = 0.08 x max(60, 100) x 12 = 96; S = 0.24 x 1 x 35 x 12 = 100.8;
    # odds = (4 / 1.5) x (96 / 100.8)^0.8.
    odds = (4 / 1.5) * (96 / 100.8) ** 0.8
    want = odds / (1 + odds)
    np.testing.assert_allclose(behaviour.recruiting_share(m, who), want, rtol=1e-12)
    assert want == pytest.approx(0.71946, abs=1e-5)


def test_recruiting_share_at_the_limits():
    # No retail margin to earn: every pitch recruits.
    m = classroom("incentives.effort=true", "retail.enabled=false")
    np.testing.assert_array_equal(behaviour.recruiting_share(m, m.active_ids()), 1.0)
    # Sensitivity 0: the scenario's own split whatever the plan pays.
    m = classroom("incentives.effort=true", "incentives.sensitivity=0", plan="pure_pyramid")
    np.testing.assert_allclose(behaviour.recruiting_share(m, m.active_ids()), 4 / 5.5)
    # The pyramid's flat 40 against a customer's 50% margin on 35 PV a month for a year.
    m = classroom(
        "incentives.effort=true",
        'plan.file="pure_pyramid"',
        "plan.retail.markup=0.5",
    )
    share = behaviour.recruiting_share(m, m.active_ids())
    odds = (4 / 1.5) * (40 / (0.5 * 35 * 12)) ** 0.8
    np.testing.assert_allclose(share, odds / (1 + odds))
    # A scenario that pitches no opportunity recruits no one, whatever the plan pays.
    m = classroom(
        "incentives.effort=true",
        "recruit.pitches_per_month=0",
        "retail.enabled=false",
        plan="pure_pyramid",
    )
    np.testing.assert_array_equal(behaviour.recruiting_share(m, m.active_ids()), 0.0)
    # A recruit who buys nothing pays nothing under a unilevel: every pitch sells.
    m = classroom(
        "incentives.effort=true",
        "buy.own_use_pv=0",
        'plan.file="retail_heavy_50"',
        "plan.qualification.min_pv=0",
    )
    np.testing.assert_array_equal(behaviour.recruiting_share(m, m.active_ids()), 0.0)


def test_a_pyramid_builder_pitches_the_whole_budget_to_recruiting():
    m = classroom(
        "incentives.effort=true",
        "recruit.pitch_count=fixed",
        "retail.enabled=false",
        "buy.own_use_pv=0",
        plan="pure_pyramid",
    )
    who = m.active_ids()
    counts = behaviour._pitch_counts(m, m.streams["recruit"], who, 4.0)
    # Budget 4 + 1.5 = 5.5, all recruiting: 5 or 6 pitches each.
    assert set(counts.tolist()) <= {5, 6}


def test_effort_moves_pitches_from_recruiting_to_selling_under_a_retail_plan():
    def pitches(plan, effort):
        sets = ["scenario.months=6", "quit.enabled=false", f"incentives.effort={effort}"]
        m = classroom(*sets, plan=plan, seed=3).run()
        return m.pop.pitched.sum(), m.stats["customers"]

    base_pitched, base_customers = pitches("retail_heavy_50", "false")
    pitched, customers = pitches("retail_heavy_50", "true")
    # retail_heavy_50: R = 0.03 x max(60, 50) x 12 = 21.6 against S = 0.5 x 35 x 12 = 210: the
    # share falls from 0.727 to about 0.30, so far fewer opportunity pitches, more customers.
    assert pitched < 0.8 * base_pitched
    assert customers > base_customers


# ------------------------------------------------------------------- loading


def test_loading_without_ranks_buys_no_stock_even_for_loaders():
    m = classroom("incentives.loading=true", "buy.loader_share=1", "scenario.months=4").run()
    assert sum(m.datacollector.model_vars["loading_pv"]) == 0


def test_rank_loading_follows_the_rule_by_hand():
    m = classroom("incentives.loading=true", "quit.enabled=false", plan="unilevel_7_dt", seed=2)
    for _ in range(8):
        m.step()
        check_invariants(m)
    pop = m.pop
    who = m.active_ids()
    pv = np.full(who.size, 80.0)
    got = behaviour.rank_loading(m, who, pv)
    # Group volume by hand: walk every member's ancestors and add their 80 PV.
    gv = dict.fromkeys(who.tolist(), 80.0)
    for i in who.tolist():
        a = int(pop.sponsor[i])
        while a >= 0:
            gv[a] += 80.0
            a = int(pop.sponsor[a])
    gvs = np.array([gv[i] for i in who.tolist()])
    gap, added = next_rank(m.plan, pop.rank[who], pv, gvs)
    gain = added * (gvs - pv)  # bv_per_pv = 1
    cost = gap * 1.0 * (1 - 0.8)  # usd_per_pv 1, own use valued at 80%
    want = np.where((gap > 0) & (gap <= 1000) & (gain >= cost), gap, 0.0)
    np.testing.assert_allclose(got, want)
    assert (got > 0).any() and (got == 0).any(), "the check needs loaders and non-loaders"
    # One who loads: no rank yet, 80 PV, the gap of 20 to Consultant, 2 + 3 % of the rest.
    i = int(np.flatnonzero(got > 0)[0])
    assert got[i] == pytest.approx(gap[i])


# ------------------------------------------------------------------- contacts and disclosure


def test_neighbour_sums_by_hand():
    net = from_edges(5, np.array([0, 0, 1, 3]), np.array([1, 2, 2, 4]))
    values = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    got = net.neighbour_sum(np.array([0, 2, 4, 0]), values)
    np.testing.assert_allclose(got, [110.0, 11.0, 1000.0, 110.0])
    np.testing.assert_allclose(net.neighbour_sum(np.array([], dtype=np.int64), values), [])
    with pytest.raises(ValueError, match=r"values must have shape \(5,\)"):
        net.neighbour_sum(np.array([0]), values[:3])


def _expectation_model(*sets):
    m = classroom("expectations.enabled=true", "expectations.optimism=2", *sets)
    m.month = 10
    pop = m.pop
    prospect = 500
    contacts = m.network.neighbours(prospect).astype(np.int64)
    assert contacts.size >= 3
    pop.status[contacts] = Status.PROSPECT
    a, b, c = contacts[:3].tolist()
    # a: active since month 4 (6 whole months), 300 commissions + 60 margin -> 60 a month.
    pop.status[a], pop.join_month[a] = Status.DISTRIBUTOR, 4
    pop.commissions[a], pop.retail_margin[a] = 300.0, 60.0
    # b: joined month 2, quit in month 5 (4 months), earned 20 in all -> 5 a month.
    pop.status[b], pop.join_month[b], pop.quit_month[b] = Status.QUIT, 2, 5
    pop.commissions[b] = 20.0
    # c: joined this month: not seen yet.
    pop.status[c], pop.join_month[c] = Status.DISTRIBUTOR, 10
    pop.commissions[c] = 999.0
    recruiter = int(m.active_ids()[0])
    pop.expected_income[recruiter] = 150.0  # a founder: claim = 2 x 150 = 300
    return m, np.array([recruiter]), np.array([prospect])


def test_contacts_seen_and_their_incomes_by_hand():
    m, _, prospect = _expectation_model()
    total, seen = behaviour.contact_results(m, prospect)
    assert seen[0] == 2 and total[0] == pytest.approx(60.0 + 5.0)


def test_the_expectation_blends_claim_contacts_and_disclosure_by_hand():
    m, recruiter, prospect = _expectation_model()
    assert behaviour.prospect_expectation(m, recruiter, prospect)[0] == 300.0  # claim alone
    m.scenario.expectations.contact_weight = 0.5
    # (300 + 0.5 x 65) / (1 + 0.5 x 2) = 332.5 / 2
    assert behaviour.prospect_expectation(m, recruiter, prospect)[0] == pytest.approx(166.25)
    m.scenario.expectations.disclosure_shown = True
    # No month paid yet: nothing to disclose, the statement does not enter.
    m.pay_history = []
    assert behaviour.disclosure_figure(m) is None
    assert behaviour.prospect_expectation(m, recruiter, prospect)[0] == pytest.approx(166.25)
    # 13 paid months; the last 12: 1,200 paid to 10 distributors each month except one
    # month with 600 to 20: (11 x 1200 + 600) / (11 x 10 + 20) = 13800 / 130.
    m.pay_history = [(1e9, 1)] + [(1200.0, 10)] * 11 + [(600.0, 20)]
    d = 13800 / 130
    assert behaviour.disclosure_figure(m) == pytest.approx(d)
    m.scenario.expectations.disclosure_weight = 2.0
    want = (300 + 0.5 * 65 + 2 * d) / (1 + 0.5 * 2 + 2)
    assert behaviour.prospect_expectation(m, recruiter, prospect)[0] == pytest.approx(want)


def test_without_a_recruiter_the_expectation_leaves_the_claim_out_by_hand():
    """Recruiter -1 (a company that did not pitch the person, in a market): the same
    weighted average without the claim's term, and 0 when nothing is seen."""
    m, recruiter, prospect = _expectation_model()
    none = np.array([-1])
    assert behaviour.prospect_expectation(m, none, prospect)[0] == 0.0  # nothing known
    m.scenario.expectations.contact_weight = 0.5
    # (0.5 x 65) / (0.5 x 2): the contacts' average, 32.5
    assert behaviour.prospect_expectation(m, none, prospect)[0] == pytest.approx(32.5)
    m.scenario.expectations.disclosure_shown = True
    m.pay_history = [(1200.0, 10)]
    # (0.5 x 65 + 120) / (0.5 x 2 + 1)
    assert behaviour.prospect_expectation(m, none, prospect)[0] == pytest.approx(152.5 / 2)
    # Mixed: the told prospect keeps the claim, the other does not.
    both = behaviour.prospect_expectation(m, np.r_[recruiter, -1], np.r_[prospect, prospect])
    assert both == pytest.approx([(300 + 32.5 + 120) / 3, 152.5 / 2])


def test_a_recruit_starts_from_the_blended_expectation():
    m = classroom(
        "expectations.enabled=true",
        "expectations.contact_weight=1",
        "expectations.disclosure_shown=true",
        seed=5,
    )
    for _ in range(6):
        m.step()
    pop = m.pop
    prospects = np.flatnonzero(pop.status == Status.PROSPECT).astype(np.int64)
    _, seen = behaviour.contact_results(m, prospects)
    # Some who see members in the business, some who see none.
    prospects = np.concatenate((prospects[seen > 0][:30], prospects[seen == 0][:10]))
    active = m.active_ids()
    sponsors = active[np.arange(prospects.size) % active.size].astype(np.int64)
    total, seen = behaviour.contact_results(m, prospects)
    assert (seen > 0).any(), "the check needs prospects with contacts in the business"
    claim = 3.0 * np.maximum(
        pop.expected_income[sponsors],
        np.where(pop.sponsor[sponsors] >= 0, pop.expected_income[pop.sponsor[sponsors]], 0.0),
    )
    d = behaviour.disclosure_figure(m)
    want = (claim + total + d) / (1 + seen + 1)
    m._join(prospects, sponsors)
    np.testing.assert_allclose(pop.expected_income[prospects], want, rtol=1e-12)


def test_a_disclosure_shown_at_the_pitch_slows_recruiting_when_pay_is_low():
    # The claim is optimism x expectation; the statement's mean pay per member is far lower
    # in a young company of unpaid members, so showing it lowers the expectations people
    # join on: fewer join, over common seeds.
    diffs = []
    for seed in range(6):
        runs = []
        for shown in ("false", "true"):
            m = classroom(
                "expectations.enabled=true",
                f"expectations.disclosure_shown={shown}",
                "expectations.disclosure_weight=3",
                "scenario.months=12",
                seed=seed,
            ).run()
            runs.append(m.stats["ever_joined"])
        diffs.append(runs[1] - runs[0])
    assert np.mean(diffs) < 0 and sum(d < 0 for d in diffs) >= 5, diffs


def test_switches_off_give_the_same_run_as_the_landed_expectations_model():
    # contact_weight 0 and no statement: the claim alone, bit for bit.
    a = classroom("expectations.enabled=true", "scenario.months=10", seed=4).run()
    b = classroom(
        "expectations.enabled=true",
        "expectations.contact_weight=0",
        "expectations.disclosure_shown=false",
        "expectations.disclosure_weight=7",
        "incentives.sensitivity=2",
        "incentives.max_loading_pv=5",
        "scenario.months=10",
        seed=4,
    ).run()
    np.testing.assert_array_equal(a.pop.expected_income, b.pop.expected_income)
    np.testing.assert_array_equal(a.pop.join_month, b.pop.join_month)
    assert math.isclose(a.company["revenue"], b.company["revenue"], rel_tol=0, abs_tol=0)


class _Recorder:
    """A random generator that records the means of its Poisson draws."""

    def __init__(self, rng):
        self.rng = rng
        self.poisson_means = []

    def poisson(self, lam, *args, **kwargs):
        self.poisson_means.append(np.asarray(lam, dtype=float).copy())
        return self.rng.poisson(lam, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.rng, name)


def test_builders_sell_what_recruiting_leaves_and_retailers_keep_their_rate():
    m = classroom(
        "incentives.effort=true",
        "market.heterogeneity=false",  # effort 1 for everyone: the means are the rates
        "segments.enabled=true",
        "segments.discount_share=0",
        "segments.retailer_share=0.5",
        "quit.enabled=false",
        'plan.file="retail_heavy_50"',
    )
    for _ in range(3):
        m.step()
    from simulation.state import Segment

    rec = _Recorder(np.random.default_rng(0))
    behaviour.retail(m, rec)
    sellers = behaviour.sellers(m)
    mean = rec.poisson_means[0]
    builder = m.pop.segment[sellers] == Segment.BUILDER
    assert builder.any() and (~builder).any()
    # retail_heavy_50: a recruit buys max(60 own use, 50 minimum) = 60 PV a month, so
    # R = 0.03 x 60 x 12 = 21.6; S = 0.5 x 35 x 12 = 210; budget 4 + 1.5.
    odds = (4 / 1.5) * (21.6 / 210) ** 0.8
    np.testing.assert_allclose(mean[builder], 5.5 * (1 - odds / (1 + odds)))
    np.testing.assert_allclose(mean[~builder], 1.5)
    rec = _Recorder(np.random.default_rng(0))
    behaviour._pitch_counts(m, rec, behaviour.pitchers(m), 4.0)
    np.testing.assert_allclose(rec.poisson_means[0], 5.5 * odds / (1 + odds))
