"""People respond to the plan: member segments and income expectations.

Each mechanism has its own switch; with every switch off the stored baseline is reproduced
(tests/test_baseline.py), so these tests switch them on.
"""

import copy
import math

import numpy as np
import pytest

from simulation import collect
from simulation.behaviour import support
from simulation.config import load_scenario
from simulation.errors import ConfigError
from simulation.model import MLMModel
from simulation.plans import load_plan, plan_from_dict
from simulation.state import Segment, Status
from simulation.validation import quiet_scenario
from tests.helpers import check_invariants


def classroom(*sets: str, **kwargs) -> MLMModel:
    scen, _ = load_scenario("classroom", list(sets))
    return MLMModel(scenario=scen, agents=False, **kwargs)


# ------------------------------------------------------------------------------ segments


def test_joiners_split_into_segments_at_the_configured_shares():
    shares = {Segment.DISCOUNT: 0.6, Segment.RETAILER: 0.15}
    counts = np.zeros(4)
    for seed in range(4):
        m = classroom(
            "segments.enabled=true",
            "segments.discount_share=0.6",
            "segments.retailer_share=0.15",
            "segments.downgrade_prob=0",
            "quit.enabled=false",
            "scenario.months=18",
            seed=seed,
        ).run()
        recruits = m.ever_ids[m.pop.enroller[m.ever_ids] >= 0]
        counts += np.bincount(m.pop.segment[recruits], minlength=4)
        # Founders are builders: the company's first distributors build.
        founders = m.ever_ids[m.pop.enroller[m.ever_ids] < 0]
        assert (m.pop.segment[founders] == Segment.BUILDER).all()
    n = counts.sum()
    assert n > 300
    for seg, share in shares.items():
        se = math.sqrt(share * (1 - share) / n)
        assert abs(counts[seg] / n - share) < 4 * se, (seg, counts[seg] / n, share)


def test_discount_buyers_neither_recruit_sell_nor_buy_to_qualify():
    m = classroom(
        "segments.enabled=true",
        "segments.discount_share=0.5",
        "segments.retailer_share=0.25",
        "segments.downgrade_prob=0",
        "buy.loader_share=1",
        "scenario.months=18",
        seed=3,
    )
    for _ in range(18):
        m.step()
        check_invariants(m)
        pop = m.pop
        discount = (pop.segment == Segment.DISCOUNT) & (pop.join_month >= 0)
        # No stock bought: household use only, so nothing is ever left over.
        assert (pop.inventory_pv[discount] == 0).all()
        cust = np.flatnonzero(pop.status == Status.CUSTOMER)
        assert (pop.segment[pop.customer_of[cust]] != Segment.DISCOUNT).all()
    recruits = m.ever_ids[m.pop.enroller[m.ever_ids] >= 0]
    # Only builders pitch the opportunity (segments never change with downgrades off).
    assert (m.pop.segment[m.pop.enroller[recruits]] == Segment.BUILDER).all()
    pop = m.pop
    members = m.ever_ids
    discount = members[pop.segment[members] == Segment.DISCOUNT]
    months = np.where(pop.quit_month[discount] >= 0, pop.quit_month[discount], m.month)
    months = months - pop.join_month[discount] + 1
    # A discount buyer pays the membership fee ($2 a month by default), not $25 of business
    # costs: fixed costs = $2 x the months they were members.
    assert np.allclose(pop.fixed_costs[discount], 2.0 * months)


def test_builders_who_give_up_may_stay_on_for_the_discount():
    m = classroom(
        "segments.enabled=true",
        "segments.downgrade_prob=1",
        "segments.discount_quit_monthly=0",
        "scenario.months=24",
        seed=5,
    ).run()
    pop = m.pop
    # With every would-be quitter staying on and discount buyers never leaving, nobody quits,
    # and the builders who gave up are discount buyers now.
    assert (pop.status[m.ever_ids] == Status.DISTRIBUTOR).all()
    founders = m.ever_ids[pop.enroller[m.ever_ids] < 0]
    assert (pop.segment[founders] == Segment.DISCOUNT).any()


def _sharing_run(monkeypatch, months: int, seed: int, *sets: str):
    """Run the classroom with segments on; record each month's pitchers and its sharers.

    Retail off, so the only calls to ``_targets`` are the recruit rule's: its ``pitcher``
    argument is every pitch of the month, one entry per pitch.
    """
    import simulation.behaviour as bh

    months_seen = []
    real = bh._targets

    def spy(model, rng, pitcher, warm_share):
        # State as the recruit rule saw it: nothing changes between its draw and this call.
        months_seen.append((pitcher.copy(), bh.sharers(model), model.pop.segment.copy()))
        return real(model, rng, pitcher, warm_share)

    monkeypatch.setattr(bh, "_targets", spy)
    m = classroom(
        "segments.enabled=true",
        "segments.discount_share=0.5",
        "segments.retailer_share=0.2",
        "retail.enabled=false",
        f"scenario.months={months}",
        *sets,
        seed=seed,
    )
    for _ in range(months):
        m.step()
        check_invariants(m)
    return m, months_seen


def test_sharers_pitch_at_their_own_poisson_rate(monkeypatch):
    # Each active non-builder pitches Poisson(c x effort) times a month, independently, so
    # the month's pitches by non-builders are Poisson with mean c x the sum of their efforts;
    # with heterogeneity off every effort is 1: c x the active non-builders. Summed over the
    # months and seeds the total is Poisson(sum of the means): a z-test within 4 SE.
    c = 0.7
    observed = expected = 0.0
    for seed in range(3):
        _, months_seen = _sharing_run(
            monkeypatch,
            12,
            seed,
            "market.heterogeneity=false",
            f"segments.sharer_pitches_per_month={c}",
        )
        for pitcher, share, segment in months_seen:
            observed += np.count_nonzero(segment[pitcher] != Segment.BUILDER)
            expected += c * share.size
    assert expected > 500
    z = (observed - expected) / math.sqrt(expected)
    assert abs(z) < 4, (observed, expected, z)


def test_with_fixed_counts_each_sharer_pitches_exactly_the_rate(monkeypatch):
    # pitch_count = "fixed" and an integer rate: exactly 2 pitches per active non-builder.
    m, months_seen = _sharing_run(
        monkeypatch,
        10,
        4,
        "recruit.pitch_count=fixed",
        "segments.sharer_pitches_per_month=2",
    )
    assert sum(share.size for _, share, _ in months_seen) > 100
    for pitcher, share, segment in months_seen:
        mine = pitcher[segment[pitcher] != Segment.BUILDER]
        assert np.array_equal(np.sort(mine), np.sort(np.repeat(share, 2)))
    # Their friends enroll under them: some recruits have a discount buyer or a retailer as
    # enroller (without sharing, every enroller is a builder).
    pop = m.pop
    recruits = m.ever_ids[pop.enroller[m.ever_ids] >= 0]
    assert (pop.segment[pop.enroller[recruits]] != Segment.BUILDER).any()


# Digest of a segments-on run (18 months, seed 7) by the code before sharing and the loyalty
# order existed: both at their default 0 must give it.
SEGMENTS_RUN_BEFORE = "1023ffed10f25bc6ab37a5e34fd97bbadc89278b3313af103d3fd0122e7c3d86"


def _fingerprint(*sets: str) -> str:
    import hashlib

    m = classroom(
        "segments.enabled=true",
        "segments.discount_share=0.5",
        "segments.retailer_share=0.2",
        "scenario.months=18",
        *sets,
        seed=7,
    ).run()
    h = hashlib.sha256()
    for name in ("status", "sponsor", "enroller", "segment", "join_month", "quit_month", "rank"):
        h.update(np.ascontiguousarray(getattr(m.pop, name)).tobytes())
    return h.hexdigest()


def test_sharing_off_takes_no_draws():
    # The default 0 gives the run of the code before sharing existed: the digest below is of
    # that code's run (segments on, 18 months, seed 7), and setting 0 explicitly changes
    # nothing; a rate above 0 does change the run.
    before = SEGMENTS_RUN_BEFORE
    default = _fingerprint()
    assert default == _fingerprint("segments.sharer_pitches_per_month=0")
    assert default == before
    assert default != _fingerprint("segments.sharer_pitches_per_month=0.5")


def test_wholesale_customers_off_take_no_draws():
    # The default 0 gives the run of the code before wholesale customers existed (the same
    # digest as the sharing test's); 0 set explicitly changes nothing. A share above 0 does
    # once discount buyers share (wholesale customers do not), as fewer friends enroll.
    assert _fingerprint("segments.wholesale_share=0") == SEGMENTS_RUN_BEFORE
    sharing = "segments.sharer_pitches_per_month=0.5"
    assert _fingerprint(sharing, "segments.wholesale_share=0.5") != _fingerprint(sharing)


def _wholesale_run(share: float, seed: int) -> MLMModel:
    m = classroom(
        "segments.enabled=true",
        "segments.discount_share=0.6",
        "segments.sharer_pitches_per_month=1",
        f"segments.wholesale_share={share}",
        "segments.downgrade_prob=0",  # every discount buyer was one when joining
        "scenario.months=18",
        seed=seed,
    )
    for _ in range(m.scenario.scenario.months):
        m.step()
        check_invariants(m)
    return m


def test_wholesale_customers_are_drawn_among_discount_buyers_and_stay_unpaid_leaves():
    # Each discount buyer with a sponsor is a wholesale customer with probability w (no
    # leader moves companies here, so no joiner sponsors another of its batch): over the
    # seeds the count is Binomial(discount recruits, w), a z-test within 4 SE. A wholesale
    # customer shares with no one (the sharers pitch at 1 a month, so other discount buyers
    # do enroll friends), so none is anyone's enroller or sponsor, and none is ever paid.
    w = 0.4
    hits = trials = 0
    for seed in range(6):
        m = _wholesale_run(w, seed)
        pop, ever = m.pop, m.ever_ids
        ws = ever[pop.wholesale[ever]]
        assert (pop.segment[ws] == Segment.DISCOUNT).all()
        assert (pop.enroller[ws] >= 0).all()  # founders are builders, never wholesale
        recruits = ever[pop.enroller[ever] >= 0]
        discount = recruits[pop.segment[recruits] == Segment.DISCOUNT]
        hits += int(pop.wholesale[discount].sum())
        trials += discount.size
        assert not np.isin(ws, pop.enroller[ever]).any()
        assert not np.isin(ws, pop.sponsor[ever]).any()
        assert (pop.commissions[ws] == 0).all()
        assert (pop.pv_total[ws] > 0).all()  # they buy
        sharers = pop.enroller[recruits]
        assert (pop.segment[sharers] == Segment.DISCOUNT).any(), "no discount buyer shared"
    assert trials > 250
    se = math.sqrt(w * (1 - w) / trials)
    assert abs(hits / trials - w) < 4 * se, (hits, trials)


def test_income_statements_leave_wholesale_customers_out():
    # A statement of the run with wholesale customers is the statement of the same run's
    # table without their rows: model_statistics drops them itself. With them counted (the
    # column removed), the shares differ, so the check can fail.
    from simulation import outcomes, results
    from simulation.calibrate.targets import load_targets, model_statistics

    m = classroom(
        "segments.enabled=true",
        "segments.discount_share=0.6",
        "segments.wholesale_share=0.7",
        'plan.file="doterra_like"',
        "buy.own_use_pv=150",
        "recruit.pitches_per_month=8",
        "scenario.months=30",
        seed=3,
    ).run()
    run = results.run_data(m)
    names = outcomes.rank_names(run.plan)
    spec = load_targets("scenarios/targets/realistic.toml", list(run.plan.rank_names)).spec()
    dist = run.dist
    ws = dist["wholesale"].to_numpy()
    assert 40 < ws.sum() < len(dist) - 40
    with_column = model_statistics(dist, run.monthly, names, spec)
    distributors = dist[~ws].drop(columns="wholesale").reset_index(drop=True)
    assert with_column == model_statistics(distributors, run.monthly, names, spec)
    everyone = model_statistics(dist.drop(columns="wholesale"), run.monthly, names, spec)
    assert everyone != with_column
    # The month-by-month rank counts leave them out too: a wholesale customer buying 100 PV
    # or more is paid as a rank in the pay, but no rank_members column counts them.
    pop = m.pop
    assert ((pop.rank >= 0) & pop.wholesale).any()
    row = collect.rank_row(m)
    counted = sum(v for k, v in row.items() if k.startswith("rank_members_"))
    assert counted == int(((pop.rank >= 0) & ~pop.wholesale).sum())


def test_discount_buyers_on_autoship_keep_their_loyalty_order():
    # Own use 40 PV x spending; the classroom plan's minimum is 100 PV; no stock, no customers.
    # Loyalty order 100 PV: a discount buyer on autoship who needs 40 buys 100 (top-up 60), one
    # who needs 130 buys 130 (no top-up), one not on autoship buys 40; a builder on autoship
    # tops up to the plan's minimum as before (60), one not on autoship does not.
    import simulation.behaviour as bh

    m = classroom(
        "segments.enabled=true",
        "segments.discount_loyalty_pv=100",
        "buy.own_use_pv=40",
        "buy.loader_share=0",
        "retail.enabled=false",
        seed=1,
    )
    m.step()
    pop = m.pop
    who = m.active_ids()[:5]
    assert who.size == 5
    pop.segment[who] = [Segment.DISCOUNT] * 3 + [Segment.BUILDER] * 2
    pop.autoship[who] = [True, True, False, True, False]
    pop.spending[who] = [1.0, 3.25, 1.0, 1.0, 1.0]
    pop.inventory_pv[who] = 0.0
    pop.customer_pv[who] = 0.0
    p = bh.buy(m, np.random.default_rng(0))
    rows = np.searchsorted(p.who, who)
    assert np.array_equal(p.who[rows], who)
    assert p.own_use_pv[rows].tolist() == [40.0, 130.0, 40.0, 40.0, 40.0]
    assert p.topup_pv[rows].tolist() == [60.0, 0.0, 0.0, 60.0, 0.0]
    assert p.loading_pv[rows].tolist() == [0.0] * 5
    # A loyalty order of 30 PV: the discount buyer who needs 40 PV orders 40, no top-up; the
    # builder still tops up to the plan's 100 PV.
    m.scenario.segments.discount_loyalty_pv = 30.0
    p = bh.buy(m, np.random.default_rng(0))
    assert p.topup_pv[rows].tolist() == [0.0, 0.0, 0.0, 60.0, 0.0]


def test_loyalty_order_off_leaves_the_run_unchanged():
    # The default 0 gives the run of the code before the loyalty order (the same digest as
    # the sharing test's, segments on, 18 months, seed 7); a loyalty order changes what
    # discount buyers buy (with 0 they never hold stock, downgrades off).
    before = SEGMENTS_RUN_BEFORE
    assert _fingerprint("segments.discount_loyalty_pv=0") == before
    bought = {}
    for loyalty in (0, 100):
        m = classroom(
            "segments.enabled=true",
            "segments.discount_share=0.5",
            "segments.retailer_share=0.2",
            "segments.downgrade_prob=0",  # no builder's stock left to a discount buyer
            "scenario.months=18",
            f"segments.discount_loyalty_pv={loyalty}",
            seed=7,
        ).run()
        discount = m.ever_ids[m.pop.segment[m.ever_ids] == Segment.DISCOUNT]
        bought[loyalty] = m.pop.pv_total[discount].sum()
        stocked = (m.pop.inventory_pv[discount] > 0).any()
        assert stocked == (loyalty > 0)
    assert bought[100] > bought[0]


def test_an_enrollment_kit_is_bought_in_the_joining_month_only():
    # A chain (everyone recruits exactly one, the month after joining) under unilevel_5
    # (8/5/4/4/4 %), everyone using 100 PV a month, a first order of 350 PV, no top-ups,
    # no stock, no customers. In month t the member joining at depth t buys 350 and the t - 1
    # before it 100 each; the member with d uplines pays pv x cum[min(d, 5)], so month t pays
    # 350 x cum[min(t, 5)] + 100 x sum_{d < t} cum[min(d, 5)] (the founders joined in month
    # 0 and buy no kit). Month 1: 0.08 x 350 = 28; month 2: 0.13 x 350 + 0.08 x 100 = 53.5.
    from simulation.validation.exact import unilevel_chain_model

    kit, pv, months = 350.0, 100.0, 8
    m = unilevel_chain_model(months, pv, f"buy.first_order_pv={kit}")
    cum = np.cumsum([0.08, 0.05, 0.04, 0.04, 0.04])
    for t in range(1, months + 1):
        m.step()
        d = np.arange(1, t)
        expected = kit * cum[min(t, 5) - 1] + pv * float(cum[np.minimum(d, 5) - 1].sum())
        assert m.stats["commissions"] == pytest.approx(expected, abs=1e-9), t
        # Each member bought its kit once and 100 PV in every later month; nothing was stocked.
        who = m.ever_ids
        months_in = m.month - m.pop.join_month[who]
        bought = np.where(m.pop.join_month[who] > 0, kit + pv * months_in, pv * months_in)
        assert np.allclose(m.pop.pv_total[who], bought, rtol=0, atol=1e-9)
        assert (m.pop.inventory_pv[who] == 0).all()
    assert m.stats["commissions"] == pytest.approx(
        kit * cum[4] + pv * float(cum[np.minimum(np.arange(1, months), 5) - 1].sum())
    )
    check_invariants(m)


# -------------------------------------------------------------------------- expectations


def test_expectations_move_toward_the_income_of_the_month():
    m = classroom(
        "expectations.enabled=true",
        "expectations.adaptation=0.25",
        "quit.enabled=false",
        seed=2,
    )
    for _ in range(6):
        m.step()
    before = m.pop.expected_income.copy()
    active_before = m.active_ids().copy()
    m.step()
    pop = m.pop
    old = active_before
    # The month's income from the business: commissions + retail margin (= customer PV x
    # usd_per_pv x markup, the customer PV of the month).
    margin = pop.customer_pv[old] * m.scenario.units.usd_per_pv * m.plan.retail.markup
    income = pop.commissions_month[old] + margin
    want = before[old] + 0.25 * (income - before[old])
    assert np.allclose(pop.expected_income[old], want, rtol=1e-12, atol=1e-9)


def test_recruits_start_from_their_recruiters_claim():
    m = classroom("expectations.enabled=true", "expectations.optimism=2", seed=1)
    m.step()
    pop = m.pop
    claims = {}
    for _ in range(3):
        snapshot = pop.expected_income.copy()
        sponsors_before = pop.sponsor.copy()
        m.step()
        new = m.joined_this_month
        new = new[pop.enroller[new] >= 0]
        r = pop.enroller[new]
        up = sponsors_before[r]
        upline = np.where(up >= 0, snapshot[np.maximum(up, 0)], 0.0)
        # The claim is made at the pitch, before this month's pay: 2 x the better of the
        # recruiter's and their sponsor's expectation, then one month of adaptation.
        claim = 2.0 * np.maximum(snapshot[r], upline)
        margin = pop.customer_pv[new] * m.scenario.units.usd_per_pv * m.plan.retail.markup
        income = pop.commissions_month[new] + margin
        a = m.scenario.expectations.adaptation
        assert np.allclose(pop.expected_income[new], claim + a * (income - claim))
        claims[m.month] = claim
    assert sum(c.size for c in claims.values()) > 0


def _ever_joined(plan, seeds, months=24):
    out = []
    for seed in seeds:
        scen, _ = load_scenario(
            "classroom", ["expectations.enabled=true", f"scenario.months={months}"]
        )
        m = MLMModel(scenario=scen, plan=plan, seed=seed, agents=False).run()
        out.append(m.stats["ever_joined"])
    return np.array(out, dtype=float)


@pytest.mark.slow
def test_a_fast_start_bonus_recruits_faster_when_people_respond_to_pay():
    raw = copy.deepcopy(load_plan("unilevel_7_dt").raw)
    with_fs = plan_from_dict(raw)
    raw.pop("fast_start")
    without = plan_from_dict(raw)
    seeds = range(20)
    # Common random numbers: the same seeds under both plans, compared pairwise.
    diff = _ever_joined(with_fs, seeds) - _ever_joined(without, seeds)
    half = 2.093 * diff.std(ddof=1) / math.sqrt(diff.size)  # t(0.975, 19)
    assert diff.mean() - half > 0, (diff.mean(), half)


def test_without_expectations_the_fast_start_does_not_change_who_joins():
    # The recruit rule ignores pay when expectations are off: same joins under both plans.
    raw = copy.deepcopy(load_plan("unilevel_7_dt").raw)
    with_fs = plan_from_dict(raw)
    raw.pop("fast_start")
    without = plan_from_dict(raw)
    scen, _ = load_scenario("classroom", ["scenario.months=3", "quit.enabled=false"])
    a = MLMModel(scenario=scen, plan=with_fs, seed=1, agents=False).run()
    b = MLMModel(scenario=scen, plan=without, seed=1, agents=False).run()
    assert (a.pop.join_month == b.pop.join_month).all()


# ------------------------------------------------------------------------ buyback policy


def _stock_builder(*sets: str) -> MLMModel:
    """Founders only, each buying exactly 100 PV of stock a month (the plan's minimum, on
    autoship, with no household use and no customers); person 0's founder quits in month 5
    and claims the buyback."""
    scen, _ = load_scenario(
        "classroom",
        [
            "market.heterogeneity=false",
            "buy.autoship_share=1",
            "buy.loader_share=0",
            "buy.own_use_pv=0",
            "retail.enabled=false",
            "recruit.join_prob=0",
            "quit.buyback_share=0.9",
            *sets,
        ],
    )

    def quit_rule(model, rng):
        if model.month == 5:
            first = model.active_ids()[:1]
            return first, np.ones(1, dtype=bool)
        return np.empty(0, np.int64), np.empty(0, bool)

    return MLMModel(scenario=scen, agents=False, rules={"quit": quit_rule})


@pytest.mark.parametrize(
    ("sets", "refund"),
    [
        # 500 PV bought in months 1-5, all still in stock: 90% of $500.
        ([], 450.0),
        # Window of 3 months (3, 4, 5): 300 PV refundable, 90% of $300.
        (["quit.buyback_window_months=3"], 270.0),
        # The kit ($60 in the classroom) joined in month 0, outside a 3-month window.
        (["quit.buyback_window_months=3", "quit.kit_refundable=true"], 270.0),
        # Inside a 12-month window: stock 450 + 90% of the $60 kit.
        (["quit.buyback_window_months=12", "quit.kit_refundable=true"], 450.0 + 54.0),
    ],
)
def test_buyback_inside_and_outside_its_window(sets, refund):
    m = _stock_builder(*sets)
    assert m.plan.min_pv == 100 and m.scenario.costs.starter_kit_usd == 60
    first = int(m.active_ids()[0])
    revenue_before = None
    for _ in range(5):
        revenue_before = m.company["revenue"]
        m.step()
    assert m.pop.status[first] == Status.QUIT
    assert m.pop.buyback_refund[first] == pytest.approx(refund)
    # The refund is the company's: this month's revenue is the month's sales less it.
    n_active = m.stats["distributors"] + 1
    assert m.company["revenue"] - revenue_before == pytest.approx(100.0 * n_active - refund)
    check_invariants(m)


def test_household_use_takes_the_oldest_stock_first():
    # 100 PV bought a month for 4 months (window 2: months 4 and 5 hold 200 PV); in month 5
    # the household starts to use 150 PV a month: stock 500 - 150 = 350, of which the newest
    # 200 are inside the window.
    m = _stock_builder("quit.buyback_window_months=2")
    for _ in range(4):
        m.step()
    m.scenario.buy.own_use_pv = 150.0
    first = int(m.active_ids()[0])
    m.step()
    # Month 5: own use 150 from stock (none bought for it), top-up 100 (PV 0 < 100).
    assert m.pop.buyback_refund[first] == pytest.approx(0.9 * 200.0)


# ------------------------------------------------------------------ buying to qualify


def test_members_buy_the_gap_when_they_expect_it_to_pay():
    m = _stock_builder(
        "expectations.enabled=true",
        "buy.qualify_rule=expected_gain",
        "buy.own_use_value_share=0.8",
        "quit.enabled=false",
    )
    m.rules = dict(m.rules, quit=lambda model, rng: (np.empty(0, np.int64), np.empty(0, bool)))
    rich, poor = (int(x) for x in m.active_ids()[:2])
    # The gap is the whole minimum (100 PV, no household use): net cost 100 x (1 - 0.8) = $20.
    m.pop.expected_income[rich] = 20.0
    m.pop.expected_income[poor] = 19.99
    m.step()
    assert m.pop.inventory_pv[rich] == 100.0
    assert m.pop.inventory_pv[poor] == 0.0


def test_expected_gain_buying_needs_expectations():
    with pytest.raises(ConfigError, match=r"needs expectations\.enabled"):
        load_scenario("classroom", ["buy.qualify_rule=expected_gain"])


def _qualifying_volume(min_pv: float, seed: int, *sets: str) -> tuple[float, float]:
    raw = copy.deepcopy(load_plan("unilevel_5").raw)
    raw.setdefault("qualification", {})["min_pv"] = min_pv
    scen, _ = load_scenario("classroom", ["scenario.months=24", *sets])
    m = MLMModel(scenario=scen, plan=plan_from_dict(raw), seed=seed, agents=False).run()
    t = m.datacollector.get_model_vars_dataframe()
    return float(t["topup_pv"].sum()), float(t["topup_pv"].sum() / t["pv"].sum())


@pytest.mark.parametrize(
    "sets", [[], ["expectations.enabled=true", "buy.qualify_rule=expected_gain"]]
)
def test_a_higher_minimum_to_be_paid_raises_buying_to_qualify(sets):
    low = np.array([_qualifying_volume(100, s, *sets) for s in range(6)])
    high = np.array([_qualifying_volume(200, s, *sets) for s in range(6)])
    # Volume bought only to qualify, and its share of all volume, rise on every seed.
    assert (high[:, 0] > low[:, 0]).all() and (high[:, 1] > low[:, 1]).all()


# ---------------------------------------------------------------------------- rejoining


def test_quitters_rejoin_only_after_their_cool_down_and_keep_their_accounts():
    m = classroom(
        "rejoin.enabled=true",
        "rejoin.cooldown_months=4",
        "rejoin.appeal=1",
        "quit.base_monthly=0.08",
        "scenario.months=30",
        seed=4,
    )
    last_quit = np.full(m.pop.n, -1)
    rejoiners = set()
    for _ in range(30):
        before_status = m.pop.status.copy()
        quit_before = m.pop.quit_month.copy()
        money_before = m.pop.kit_cost.copy()
        m.step()
        check_invariants(m)
        back = m.joined_this_month[before_status[m.joined_this_month] == Status.QUIT]
        assert m.stats["rejoined"] == back.size
        # Pitched again only once the cool-down has passed since they quit.
        assert (m.month - quit_before[back] >= 4).all()
        # They pay a new kit on top of what they paid before, in the same row.
        assert np.allclose(m.pop.kit_cost[back], money_before[back] + 60.0)
        rejoiners.update(back.tolist())
        last_quit[m.quit_this_month] = m.month
    assert rejoiners, "nobody rejoined: the check needs rejoiners"
    # One row per person however often they joined: ever_joined counts people.
    assert np.unique(m.ever_ids).size == m.ever_ids.size == m.stats["ever_joined"]


def test_rejoining_switched_off_keeps_quitters_out():
    m = classroom("quit.base_monthly=0.08", "scenario.months=24", seed=4).run()
    assert "rejoined" not in m.datacollector.model_vars
    joined = np.array(m.datacollector.model_vars["joined"][1:]).sum()
    founders = m.scenario.market.founders
    assert joined + founders == m.stats["ever_joined"]


# ------------------------------------------------- skill, leader founders, overstretched uplines


def test_support_thins_with_the_size_of_the_sponsors_frontline():
    # The chain letter with r = 3 from one founder: after month 1 the founder has 3 frontline
    # members and each of them 3 after month 2 (deterministic).
    scen, _ = load_scenario(
        "classroom",
        [
            "recruit.mode=pyramid",
            "recruit.pyramid_r=3",
            "market.founders=1",
            "quit.enabled=false",
            "people.overload_strength=0.5",
        ],
    )
    m = MLMModel(scenario=scen, agents=False)
    m.step()
    founder = int(m.ever_ids[0])
    level2 = m.ever_ids[m.pop.level[m.ever_ids] == 2]
    assert level2.size == 3
    # Root: 1. Three siblings under one sponsor: 1 / (1 + 0.5 x (3 - 1)) = 1/2.
    assert support(m, np.array([founder]))[0] == 1.0
    assert np.allclose(support(m, level2), 0.5)
    m.scenario.people.overload_strength = 0.0
    assert np.allclose(support(m, level2), 1.0)


def test_leader_founders_are_well_connected_and_stay():
    m = classroom(
        "people.leader_founders=true",
        "people.leader_top_share=0.05",
        "people.leader_quit_factor=0",
        "quit.base_monthly=0.2",
        "scenario.months=12",
        seed=7,
    )
    degree = np.diff(m.network.indptr)
    founders = m.ever_ids[: m.scenario.market.founders]
    # The founders come from the best-connected 5% (100 of 2,000 persons).
    cutoff = np.sort(degree)[::-1][int(np.ceil(0.05 * m.pop.n)) - 1]
    assert (degree[founders] >= cutoff).all()
    assert m.pop.leader[founders].all() and m.pop.leader.sum() == founders.size
    assert np.allclose(m.pop.skill[founders], 2.0)  # leader_skill x skill 1
    m.run()
    assert (m.pop.status[founders] == Status.DISTRIBUTOR).all()  # hazard x 0
    others = m.ever_ids[~m.pop.leader[m.ever_ids]]
    assert (m.pop.status[others] == Status.QUIT).any()


def test_skill_has_mean_one_and_skilled_members_recruit_more():
    scen, _ = load_scenario(
        "classroom", ["people.skill_sigma=1.0", "quit.enabled=false", "scenario.months=18"]
    )
    recruits_hi, recruits_lo = [], []
    for seed in range(4):
        m = MLMModel(scenario=scen, seed=seed, agents=False)
        skill = m.pop.skill.astype(float)
        # Lognormal with mean 1: the sample mean of 2,000 draws (sd about 1.31) within 4 SE.
        assert abs(skill.mean() - 1.0) < 4 * math.sqrt(math.e - 1) / math.sqrt(skill.size)
        m.run()
        early = m.ever_ids[m.pop.join_month[m.ever_ids] <= 6]
        median = np.median(skill[early])
        recruits_hi.append(m.pop.recruits[early][skill[early] > median].mean())
        recruits_lo.append(m.pop.recruits[early][skill[early] <= median].mean())
    assert np.mean(recruits_hi) > 1.5 * np.mean(recruits_lo)


# ------------------------------------------------------- the textbook processes as modes


def test_bass_mode_follows_the_month_stepped_bass_model():
    # x_{t+1} = x_t + (p + q x_t)(1 - x_t) with quits off. Given the month's start, the joins
    # are binomial(prospects, p + q D/N): sum over months and seeds of (J - E[J]) divided by
    # the square root of the summed variances is standard normal; |z| < 4.
    p, q, n, months = 0.01, 0.5, 5000, 18
    scen = quiet_scenario(
        "recruit.mode=bass",
        f"recruit.bass_p={p}",
        f"recruit.bass_q={q}",
        f"market.population={n}",
        "market.founders=5",
        f"scenario.months={months}",
    )
    resid, var, curves = 0.0, 0.0, []
    for seed in range(12):
        m = MLMModel(scenario=scen, seed=seed, agents=False)
        path = [m.stats["ever_joined"] / n]
        for _ in range(months):
            d, prospects = m.stats["distributors"], n - m.stats["ever_joined"]
            prob = min(p + q * d / n, 1.0)
            m.step()
            resid += m.stats["joined"] - prospects * prob
            var += prospects * prob * (1 - prob)
            path.append(m.stats["ever_joined"] / n)
        curves.append(path)
    assert abs(resid / math.sqrt(var)) < 4
    # The mean curve is the recursion within 4 standard errors (plus the tiny Jensen bias
    # q Var(x_t), below 1e-3 here).
    x = [5 / n]
    for _ in range(months):
        x.append(x[-1] + (p + q * x[-1]) * (1 - x[-1]))
    curves = np.array(curves)
    se = curves.std(axis=0, ddof=1) / math.sqrt(len(curves)) + 1e-12
    assert (np.abs(curves.mean(axis=0) - np.array(x)) < 4 * se + 1e-3).all()


def test_branching_mode_has_galton_watson_generations():
    # Offspring 0-3 with probability 1/4 each: mean m = 1.5, variance s2 = 1.25. Generation g
    # (level g + 1, joining in month g) of F founders: E = F m^g,
    # Var = F s2 m^(g-1) (m^g - 1) / (m - 1).
    f, m_, s2, gens, runs = 4, 1.5, 1.25, 7, 60
    scen = quiet_scenario(
        "recruit.mode=branching",
        "recruit.branching_offspring=[0.25, 0.25, 0.25, 0.25]",
        "market.population=200000",
        f"market.founders={f}",
        f"scenario.months={gens}",
    )
    sizes = np.zeros((runs, gens + 1))
    for seed in range(runs):
        m = MLMModel(scenario=scen, seed=seed, agents=False).run()
        sizes[seed] = np.bincount(m.pop.level[m.ever_ids], minlength=gens + 2)[1 : gens + 2]
    for g in range(1, gens + 1):
        mean = f * m_**g
        sd = math.sqrt(f * s2 * m_ ** (g - 1) * (m_**g - 1) / (m_ - 1))
        assert abs(sizes[:, g].mean() - mean) < 4 * sd / math.sqrt(runs), g


def test_at_most_the_monthly_cap_joins():
    m = classroom("recruit.max_joins_per_month=1", "scenario.months=12", seed=1).run()
    joins = np.array(m.datacollector.model_vars["joined"][1:])
    assert (joins <= 1).all() and joins.sum() == 12  # demand always exceeds one a month


def test_branching_offspring_must_be_probabilities():
    with pytest.raises(ConfigError, match="sum to 1"):
        load_scenario("classroom", ["recruit.branching_offspring=[0.5, 0.6]"])


def test_net_income_of_many_rows_is_each_rows_sum_to_the_last_bit():
    # Population.net_income takes a pass over everyone then one gather when more than an
    # eighth of the rows are asked for; each row's value must be its own fields' sum.
    from simulation.state import Population

    rng = np.random.default_rng(11)
    pop = Population(40)
    for k in ("commissions", "retail_sales", "buyback_refund", "purchases", "kit_cost"):
        getattr(pop, k)[:] = rng.lognormal(3.0, 2.0, 40)
    pop.fixed_costs[:] = rng.lognormal(2.0, 1.0, 40)
    pop.own_use_value[:] = rng.lognormal(2.0, 1.0, 40)
    many, few = np.arange(0, 40, 2), np.array([3, 17])
    for cost in (False, True):
        want = [
            pop.commissions[r]
            + pop.retail_sales[r]
            + pop.buyback_refund[r]
            - pop.purchases[r]
            - pop.kit_cost[r]
            - pop.fixed_costs[r]
            + (0.0 if cost else pop.own_use_value[r])
            for r in range(40)
        ]
        everyone = pop.net_income(own_use_as_cost=cost)
        assert everyone.tolist() == want
        assert pop.net_income(cost, rows=many).tolist() == [want[r] for r in many]
        assert pop.net_income(cost, rows=few).tolist() == [want[r] for r in few]
        assert pop.net_income(cost, rows=7) == want[7]  # one person
        mask = np.arange(40) % 3 == 0  # a mask is a set of rows too
        assert pop.net_income(cost, rows=mask).tolist() == [want[r] for r in range(0, 40, 3)]
