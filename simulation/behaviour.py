"""Default behaviour rules: who is pitched and joins, who buys what, who quits.

Each rule is a replaceable callable ``rule(model, rng)``; pass your own with
``MLMModel(rules={"recruit": my_rule})``. Rules decide; the model books the consequences
(joins, money, roll-up), so a custom rule cannot break the invariants.

Signatures:

* ``recruit(model, rng) -> (joiners int64[k], sponsors int64[k])`` in join order; sponsor -1
  starts a new line. Joiners must be prospects or customers (or, with ``[rejoin]``, quitters),
  each listed once.
* ``retail(model, rng) -> None``: wins and loses customers through ``model.add_customers`` /
  ``model.drop_customers`` and sets ``model.pop.customer_pv`` for the month.
* ``buy(model, rng) -> Purchase``: what each active distributor buys this month.
* ``quit(model, rng) -> (quitters int64[k], claims_buyback bool[k])``. With ``[segments]``
  on, the default rule also moves builders and retailers who give up but stay on for the
  discount to ``Segment.DISCOUNT`` (a change of segment, not of status or money).

The shipped rules are registered in :data:`RULES` by phase and name; ``recruit.mode`` of a
scenario picks the recruit rule (:func:`rules_for`). Switchable mechanisms (``[segments]``,
``[expectations]``, ``[rejoin]``, ``[people]``) act inside these rules and change nothing
when off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulation.plans.incentives import next_rank, next_step
from simulation.state import Segment, Status

if TYPE_CHECKING:
    from simulation.config import Scenario
    from simulation.model import MLMModel


def logistic(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), elementwise, as (1 + tanh(x/2)) / 2.

    The tanh form never overflows, and numpy's tanh avoids scipy.special's 0.3 s import.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def business_appeal(model: MLMModel, claim: np.ndarray) -> np.ndarray:
    """float64: chance that a prospect told ``claim`` (USD a month) wants the business.

    ``logistic((claim - monthly business costs - outside option) / scale)`` (``[expectations]``).
    """
    e = model.scenario.expectations
    surplus = claim - model.scenario.costs.fixed_usd_monthly - e.outside_option_usd
    return logistic(surplus / e.scale_usd)


def recruiter_claim(model: MLMModel, recruiter: np.ndarray) -> np.ndarray:
    """float64: what recruiters tell prospects they will earn a month, USD.

    ``optimism`` x the better of the recruiter's own expected monthly income and their
    sponsor's: recruiters show their upline's success when it beats their own. A cap on
    earnings claims (``policy.claim_cap``) holds it at a dollar amount or at the disclosed
    median (:attr:`MLMModel.disclosed_median`).
    """
    pop = model.pop
    own = pop.expected_income[recruiter]
    up = pop.sponsor[recruiter]
    upline = np.where(up >= 0, pop.expected_income[np.maximum(up, 0)], 0.0)
    claim = model.scenario.expectations.optimism * np.maximum(own, upline)
    policy = model.scenario.policy
    if policy.claim_cap == "usd":
        claim = np.minimum(claim, policy.claim_cap_usd)
    elif policy.claim_cap == "median":
        claim = np.minimum(claim, model.disclosed_median)
    return claim


def contact_results(model: MLMModel, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ``who`` see of their social contacts' business: (sum of incomes, contacts seen).

    A contact is seen once they have been in the business for a whole month: active members
    who joined before this month, and quitters. Their income is their average monthly income
    from the business (commissions + retail margin) over their months in it, up to quitting
    for quitters; so a contact who quit having earned little counts with that little.

    Returns:
        float64[k] the sum of the seen contacts' average monthly incomes (USD) and float64[k]
        how many contacts each of ``who`` sees (0 without a social network).
    """
    net = model.network
    if net is None or who.size == 0:
        return np.zeros(who.size), np.zeros(who.size)
    pop = model.pop
    # Only the contacts of ``who`` are looked at (the sum of their degrees), not the market.
    row, c = net.neighbour_pairs(who)
    status, joined = pop.status[c], pop.join_month[c]
    quit_ = status == Status.QUIT
    seen = quit_ | ((status == Status.DISTRIBUTOR) & (joined < model.month))
    seen &= joined >= 0
    row, c, quit_, joined = row[seen], c[seen], quit_[seen], joined[seen]
    end = np.where(quit_, pop.quit_month[c] + 1, model.month)
    months = np.maximum(end - joined, 1).astype(np.float64)
    income = (pop.commissions[c] + pop.retail_margin[c]) / months
    total = np.bincount(row, weights=income, minlength=who.size)
    return total, np.bincount(row, minlength=who.size).astype(np.float64)


def disclosure_figure(model: MLMModel) -> float | None:
    """USD: the company's income disclosure figure, or None before any month was paid.

    The mean monthly gross compensation per active distributor over the last 12 paid months
    (commissions paid / distributor-months), computed from the model's own pay records.
    """
    history = model.pay_history[-12:]
    members = sum(h[1] for h in history)
    if not members:
        return None
    return sum(h[0] for h in history) / members


def prospect_expectation(
    model: MLMModel, recruiter: np.ndarray, prospect: np.ndarray
) -> np.ndarray:
    """float64: the monthly income (USD) each ``prospect`` expects when ``recruiter`` pitches.

    The recruiter's claim (:func:`recruiter_claim`), blended with what the prospect sees
    (``[expectations]``): with contact weight w, disclosure weight d and figure D (when
    ``disclosure_shown`` and the company has paid a month),

    ``E = (claim + w x sum of contacts' incomes + d x D) / (1 + w x contacts seen + d)``,

    a weighted average in which the claim counts as one observation and each contact seen
    and the statement as w and d observations (DeGroot 1974 weights; the claim is the prior
    of Stivers, Smith and Jin's optimistic recruits). Without either it is the claim.

    A recruiter of -1 makes no claim (a person weighing a company that did not pitch them,
    in a market of several companies): E is then the same average without the claim's term,
    and 0 when the person sees neither contacts nor a statement (nothing known, nothing
    expected).
    """
    told = recruiter >= 0
    claim = recruiter_claim(model, np.where(told, recruiter, 0))
    e = model.scenario.expectations
    figure = disclosure_figure(model) if e.disclosure_shown else None
    use_contacts = e.contact_weight > 0 and model.network is not None
    # A claim counts as one observation where one is made (told), none where not.
    num = np.where(told, claim, 0.0)
    den = told.astype(np.float64)
    if not use_contacts and figure is None:
        return num
    if use_contacts:
        total, seen = contact_results(model, prospect)
        num += e.contact_weight * total
        den += e.contact_weight * seen
    if figure is not None:
        num += e.disclosure_weight * figure
        den += e.disclosure_weight
    return np.divide(num, den, out=np.zeros(num.size), where=den > 0)


def recruiting_share(model: MLMModel, who: np.ndarray) -> np.ndarray:
    """float64[k]: the share of their pitches builders ``who`` give to recruiting.

    The generalised matching law (Baum 1974): recruiting pitches / selling pitches =
    ``(c_r / c_s) x (R / S)^sensitivity``, with ``c_r`` = ``recruit.pitches_per_month``,
    ``c_s`` = ``retail.pitches_per_month``, R what the plan pays for one recruit and S what
    retail margin one customer brings, both over ``incentives.horizon_months``
    (:meth:`~simulation.plans.engine.PlanEngine.incentives`). A typical recruit buys
    ``max(own_use_pv, the plan's minimum)`` a month; a customer orders ``retail.order_pv``.
    When R = S (or both are 0) the share is ``c_r / (c_r + c_s)``, today's split; with
    S = 0 (no retail margin, retail off) everything goes to recruiting.
    """
    sc = model.scenario
    c_r, c_s = sc.recruit.pitches_per_month, sc.retail.pitches_per_month
    if c_r <= 0:  # the scenario pitches no opportunity at all
        return np.zeros(who.size)
    if c_s <= 0:
        return np.ones(who.size)
    h = sc.incentives.horizon_months
    recruit_bv = max(sc.buy.own_use_pv, model.plan.min_pv) * sc.units.bv_per_pv
    per_recruit, per_retail = model.pay_engine.incentives(recruit_bv, h, model.pop.rank[who])
    r = sc.retail
    sells = r.enabled and r.accept_prob > 0 and r.max_customers > 0
    per_customer = per_retail * sc.units.usd_per_pv * r.order_pv * h * sells
    bias = c_r / c_s
    s = sc.incentives.sensitivity
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds = bias * (per_recruit / per_customer) ** s
        odds = np.where((per_recruit == per_customer) | (s == 0), bias, odds)
        return np.where(np.isinf(odds), 1.0, odds / (1.0 + odds))


def pitchers(model: MLMModel) -> np.ndarray:
    """Active distributors who pitch the opportunity: builders (everyone without segments)."""
    active = model.active_ids()
    if model.scenario.segments.enabled:
        active = active[model.pop.segment[active] == Segment.BUILDER]
    return active


def sharers(model: MLMModel) -> np.ndarray:
    """Active members who are not builders but share the product (``[segments]``).

    Discount buyers and retailers who recommend the product to friends, who enroll under
    them: pitched at ``segments.sharer_pitches_per_month``; wholesale customers do not. Empty
    when segments are off or the rate is 0 (the default), so no draw is taken for them.
    """
    seg = model.scenario.segments
    if not seg.enabled or seg.sharer_pitches_per_month <= 0:
        return np.empty(0, np.int64)
    active = model.active_ids()
    pop = model.pop
    return active[(pop.segment[active] != Segment.BUILDER) & ~pop.wholesale[active]]


def sellers(model: MLMModel) -> np.ndarray:
    """Active distributors who look for retail customers: all but discount buyers."""
    active = model.active_ids()
    if model.scenario.segments.enabled:
        active = active[model.pop.segment[active] != Segment.DISCOUNT]
    return active


def join_appeal(model: MLMModel, recruiter: np.ndarray, prospect: np.ndarray) -> np.ndarray:
    """float64: the factor expectations and segments put on a pitch's chance to convert.

    Without expectations 1. With them, a prospect joins for the business with probability
    :func:`business_appeal` of what they expect (:func:`prospect_expectation`); with segments
    on, discount buyers join for the product whatever the claim: ``discount_share + (1 -
    discount_share) x appeal``.
    """
    if not model.scenario.expectations.enabled:
        return np.ones(recruiter.size)
    appeal = business_appeal(model, prospect_expectation(model, recruiter, prospect))
    if model.scenario.segments.enabled:
        d = model.scenario.segments.discount_share
        return d + (1.0 - d) * appeal
    return appeal


def support(model: MLMModel, who: np.ndarray) -> np.ndarray:
    """float64: the help ``who`` get from their sponsor, 1 without overload.

    With ``people.overload_strength`` s > 0, a member whose sponsor has k active frontline
    members gets ``1 / (1 + s (k - 1))``; roots (no sponsor) get 1.
    """
    s = model.scenario.people.overload_strength
    if s <= 0:
        return np.ones(who.size)
    pop = model.pop
    active = model.active_ids()
    parent = pop.sponsor[active]
    frontline = np.bincount(parent[parent >= 0], minlength=pop.n)
    sponsor = pop.sponsor[who]
    k = np.where(sponsor >= 0, frontline[np.maximum(sponsor, 0)], 1)
    return 1.0 / (1.0 + s * np.maximum(k - 1, 0))


def ability(model: MLMModel, who: np.ndarray) -> np.ndarray | None:
    """float64: skill x support of ``who``, or None when both are off (everyone 1)."""
    people = model.scenario.people
    if people.skill_sigma <= 0 and not people.leader_founders and people.overload_strength <= 0:
        return None
    return model.pop.skill[who].astype(np.float64) * support(model, who)


def _pitch_counts(model: MLMModel, rng: np.random.Generator, who: np.ndarray, mean: float):
    """int[k] pitches per distributor this month (Poisson(mean x effort), or fixed).

    With ``incentives.effort`` the mean is each builder's share of the pitch budget
    (``recruit.pitches_per_month + retail.pitches_per_month``) by :func:`recruiting_share`.
    """
    if model.scenario.incentives.effort:
        budget = mean + model.scenario.retail.pitches_per_month
        means = budget * recruiting_share(model, who)
        if model.scenario.recruit.pitch_count == "fixed":
            whole = np.floor(means)
            return (whole + (rng.random(who.size) < means - whole)).astype(np.int64)
        return rng.poisson(means * model.pop.effort[who].astype(np.float64))
    return _counts(model, rng, who, mean)


def _counts(model: MLMModel, rng: np.random.Generator, who: np.ndarray, mean: float):
    """int[k] pitches per person at one rate: Poisson(mean x effort), or fixed.

    Builders without ``incentives.effort``, and members who only share the product
    (``segments.sharer_pitches_per_month``: they recommend the product, not the business, so
    their rate is their own, outside the builders' pitch budget).
    """
    if model.scenario.recruit.pitch_count == "fixed":
        # A fixed count with a fractional mean is drawn, keeping the expected value exact.
        return _draw_count(rng, mean, who.size)
    return rng.poisson(mean * model.pop.effort[who].astype(np.float64))


def _targets(model: MLMModel, rng: np.random.Generator, pitcher: np.ndarray, warm_share: float):
    """A target person for each pitch: a random contact (warm) or a random person (cold).

    In a market of several towns (``market.network = "regions"``) a cold pitch goes to a
    random person of the pitcher's own town: strangers are met where one lives.
    """
    n = model.pop.n
    if model.region_start is None:
        cold = rng.integers(0, n, size=pitcher.size)
    else:
        town = model.region[pitcher]
        low = model.region_start[town]
        cold = rng.integers(low, low + model.region_size[town])
    if model.network is None or warm_share <= 0:
        return cold
    warm = rng.random(pitcher.size) < warm_share
    contact = model.network.random_neighbour(pitcher, rng)
    return np.where(warm & (contact >= 0), contact, cold)


def first_per_target(rng: np.random.Generator, target: np.ndarray, *others: np.ndarray):
    """Keep one entry per distinct target, chosen uniformly at random, in random order."""
    order = rng.permutation(target.size)
    t = target[order]
    _, first = np.unique(t, return_index=True)
    keep = order[np.sort(first)]
    return (target[keep], *(o[keep] for o in others))


def within_room(seller: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Which entries fit their seller's room (a bool mask): the first ones in the order given.

    Args:
        seller: int64[k] the seller of each entry (a new customer), in priority order.
        room: int[k] places the entry's seller has left.
    """
    order = np.argsort(seller, kind="stable")
    s_sorted = seller[order]
    rank_in_seller = np.arange(seller.size) - np.searchsorted(s_sorted, s_sorted)
    fits = np.empty(seller.size, dtype=bool)
    fits[order] = rank_in_seller < room[order]
    return fits


def _draw_count(rng: np.random.Generator, mean: float, size: int) -> np.ndarray:
    """int64[size] draws of a fixed count with expected value ``mean`` (floor, +1 w.p. frac)."""
    whole = math.floor(mean)
    if whole == mean:  # no draw: an integer count takes no random numbers
        return np.full(size, whole, dtype=np.int64)
    return whole + (rng.random(size) < mean - whole).astype(np.int64)


def _join_draws(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Active distributors, and this month's joiners: each prospect with ``fixed_join_prob``.

    The joiners do not depend on the tree, so the monthly counts are exogenous to the sponsor
    choice: expectations conditional on them are exact.
    """
    pop = model.pop
    active = model.active_ids()
    candidates = np.flatnonzero(pop.status <= Status.CUSTOMER)
    if not active.size or not candidates.size:
        return active, np.empty(0, np.int64)
    p = model.scenario.recruit.fixed_join_prob
    return active, rng.permutation(candidates[rng.random(candidates.size) < p])


def _spontaneous(
    model: MLMModel, rng: np.random.Generator, joiners: list[np.ndarray], sponsors: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Add joiners without a pitch (``spontaneous_join_prob``) and concatenate."""
    p = model.scenario.recruit.spontaneous_join_prob
    if p > 0:
        candidates = np.flatnonzero(model.pop.status <= Status.CUSTOMER)
        if model.unavailable is not None:
            candidates = candidates[~model.unavailable[candidates]]
        s = candidates[rng.random(candidates.size) < p]
        s = np.setdiff1d(s, np.concatenate(joiners))
        joiners.append(rng.permutation(s))
        sponsors.append(np.full(s.size, -1, dtype=np.int64))
    return np.concatenate(joiners), np.concatenate(sponsors)


def pitch_recruit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``network`` / ``well_mixed``: pitches, refusal memory, fatigue, bad news.

    ``network`` pitches a social contact with probability ``warm_share`` and a random person
    otherwise; ``well_mixed`` pitches random persons only.
    """
    cfg = model.scenario.recruit
    pop = model.pop
    month = model.month
    active = pitchers(model)
    share = sharers(model)
    seg_rate = model.scenario.segments.sharer_pitches_per_month
    joiners = [np.empty(0, np.int64)]
    sponsors = [np.empty(0, np.int64)]
    if active.size or share.size:
        pitcher = np.empty(0, np.int64)
        if active.size:
            pitcher = np.repeat(active, _pitch_counts(model, rng, active, cfg.pitches_per_month))
        if share.size:
            # Members who only buy or sell share the product too (off by default: no draw).
            pitcher = np.concatenate(
                [pitcher, np.repeat(share, _counts(model, rng, share, seg_rate))]
            )
        warm_share = cfg.warm_share if cfg.mode == "network" else 0.0
        target = _targets(model, rng, pitcher, warm_share)
        open_ = pop.status[target] <= Status.CUSTOMER
        rejoin = model.scenario.rejoin
        if rejoin.enabled:
            # Quitters whose cool-down has passed can be pitched again.
            open_ |= (pop.status[target] == Status.QUIT) & (
                pop.quit_month[target] + rejoin.cooldown_months <= month
            )
        if cfg.refusals:
            open_ &= pop.refused_until[target] <= month
        if model.unavailable is not None:
            # Members and customers of other companies, towns not opened (several companies).
            open_ &= ~model.unavailable[target]
        pitcher, target = pitcher[open_], target[open_]
        p = cfg.join_prob * pop.willingness[target].astype(np.float64)
        if rejoin.enabled:
            p = np.where(pop.status[target] == Status.QUIT, p * rejoin.appeal, p)
        if cfg.fatigue < 1:
            p *= cfg.fatigue ** pop.pitched[target]
        if cfg.bad_news > 0:
            p *= (1.0 - cfg.bad_news) ** pop.quit_contacts[target]
        if model.scenario.expectations.enabled:
            p *= join_appeal(model, pitcher, target)
        skill = ability(model, pitcher)
        if skill is not None:
            p = np.minimum(p * skill, 1.0)
        yes = rng.random(target.size) < p
        # (a one of the array's own type: np.add.at's fast path, many times faster than int 1)
        np.add.at(pop.pitched, target, pop.pitched.dtype.type(1))
        jt, js = first_per_target(rng, target[yes], pitcher[yes])
        if cfg.refusals:
            # Everyone who said no, except this month's joiners (who also said yes to
            # someone), is not pitched again for a while: one scatter and the joiners' old
            # values put back, instead of sorting the refusals (np.setdiff1d).
            kept = pop.refused_until[jt]
            pop.refused_until[target[~yes]] = month + cfg.refusal_memory_months + 1
            pop.refused_until[jt] = kept
        joiners.append(jt)
        sponsors.append(js)
    return _spontaneous(model, rng, joiners, sponsors)


def uniform_recruit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``uniform_sponsor``: a random recursive tree, one month's batch at a time.

    Each prospect joins with ``recruit.fixed_join_prob`` per month under a sponsor drawn
    uniformly among the distributors active at the start of the month.
    """
    active, j = _join_draws(model, rng)
    sponsors = active[rng.integers(0, active.size, size=j.size)] if j.size else j
    return _spontaneous(model, rng, [j], [sponsors.astype(np.int64)])


def preferential_recruit(
    model: MLMModel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``preferential``: sponsor chosen with probability ~ personal recruits + 1.

    Each prospect joins with ``recruit.fixed_join_prob`` per month (as in ``uniform_sponsor``);
    each joiner picks a sponsor among the distributors active at the start of the month with
    weight ``recruits + 1``. One joiner at a time this grows a plane-oriented recursive tree
    (a node with k children has k + 1 "gaps"), whose expected leaf count is ``(2n - 1) / 3``
    (leaf share -> 2/3). Use with quits off (the weight counts personal enrolments, including
    recruits who quit).
    """
    active, joiners = _join_draws(model, rng)
    if not joiners.size:
        return joiners, np.empty(0, np.int64)
    weight = model.pop.recruits[active].astype(np.float64) + 1.0
    cum = np.cumsum(weight)
    pick = np.searchsorted(cum, rng.random(joiners.size) * cum[-1], side="right")
    return joiners, active[np.minimum(pick, active.size - 1)]


def pyramid_recruit(r: int, every_month: bool = False) -> Callable:
    """Recruit rule of the deterministic pyramid: every distributor recruits exactly ``r``.

    Args:
        r: recruits per distributor.
        every_month: False (the chain letter): each distributor recruits ``r`` in the month
            after joining and then stops, so level k joins in month k - 1 and has
            ``F r^(k-1)`` members. True: every active distributor recruits ``r`` every month,
            so after t months level k has ``F C(t, k-1) r^(k-1)`` members.

    Recruits are the lowest-numbered prospects, given to sponsors in row order; when the
    market runs out the last level is partial (the first sponsors in row order fill it).
    No randomness. In a scenario file: ``recruit.mode = "pyramid"`` with ``pyramid_r`` and
    ``pyramid_every_month``.
    """
    if r < 1:
        raise ValueError(f"pyramid_recruit: r must be a positive integer, got {r}")

    def recruit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        pop = model.pop
        active = model.active_ids()
        if not every_month:
            active = active[pop.join_month[active] == model.month - 1]
        prospects = np.flatnonzero(pop.status <= Status.CUSTOMER)
        k = min(prospects.size, r * active.size)
        return prospects[:k].astype(np.int64), np.repeat(active, r)[:k].astype(np.int64)

    recruit.__name__ = f"pyramid_recruit_r{r}{'_every_month' if every_month else ''}"
    return recruit


def bass_recruit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``bass``: the month-stepped Bass model.

    Each prospect (or customer) joins this month with probability ``bass_p + bass_q x D / N``
    (D active distributors at the start of the month, N the market): with ``bass_p`` on their
    own (no sponsor), with ``bass_q x D / N`` under a sponsor drawn uniformly among the D.
    With quits off, the expected share ever joined follows ``x_{t+1} = x_t + (p + q x_t)(1 -
    x_t)``.
    """
    cfg = model.scenario.recruit
    pop = model.pop
    active = model.active_ids()
    candidates = np.flatnonzero(pop.status <= Status.CUSTOMER)
    imitate = cfg.bass_q * active.size / pop.n
    u = rng.random(candidates.size)
    joiners = rng.permutation(candidates[u < min(cfg.bass_p + imitate, 1.0)])
    # Who among them was brought in: a second draw, so the split does not bias who joins.
    share = imitate / (cfg.bass_p + imitate) if cfg.bass_p + imitate > 0 else 0.0
    brought = (rng.random(joiners.size) < share) & (active.size > 0)
    sponsors = np.full(joiners.size, -1, dtype=np.int64)
    if active.size:
        sponsors[brought] = active[rng.integers(0, active.size, size=int(brought.sum()))]
    return joiners.astype(np.int64), sponsors


def branching_recruit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``branching``: a Galton-Watson chain letter.

    Every member who joined last month recruits k people this month, k drawn independently
    from ``branching_offspring`` (probabilities of 0, 1, 2, ...), and then stops. Recruits are
    the lowest-numbered prospects; in a market large enough never to run out, generation g has
    in expectation ``F m^g`` members (F founders, m the offspring mean). When the market runs
    out the last generation is cut (the first sponsors in row order fill it).
    """
    pop = model.pop
    active = model.active_ids()
    last = active[pop.join_month[active] == model.month - 1]
    probs = np.asarray(model.scenario.recruit.branching_offspring, dtype=np.float64)
    k = rng.choice(probs.size, size=last.size, p=probs / probs.sum())
    sponsors = np.repeat(last, k)
    prospects = np.flatnonzero(pop.status <= Status.CUSTOMER)
    n = min(prospects.size, sponsors.size)
    return prospects[:n].astype(np.int64), sponsors[:n].astype(np.int64)


def scenario_pyramid_recruit(
    model: MLMModel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Recruit rule ``pyramid``: :func:`pyramid_recruit` with the scenario's r and timing."""
    cfg = model.scenario.recruit
    return pyramid_recruit(cfg.pyramid_r, cfg.pyramid_every_month)(model, rng)


def retail(model: MLMModel, rng: np.random.Generator) -> None:
    """Default retail: churn, win new customers among non-member contacts, take orders."""
    cfg = model.scenario.retail
    pop = model.pop
    # Last month's customer PV is on the rows it was added to below: clearing them clears all.
    pop.customer_pv[model.customer_pv_rows] = 0
    model.customer_pv_rows = np.empty(0, np.int64)
    if not cfg.enabled:
        return
    customers = model.customer_ids()
    churn_p = cfg.churn_monthly
    if model.scenario.people.overload_strength > 0 and customers.size:
        # Customers of an overstretched member stop buying sooner.
        churn_p = np.minimum(churn_p / support(model, pop.customer_of[customers]), 1.0)
    churn = customers[rng.random(customers.size) < churn_p]
    model.drop_customers(churn)
    active = sellers(model)
    if active.size and cfg.pitches_per_month > 0 and cfg.max_customers > 0:
        mean = np.full(active.size, cfg.pitches_per_month)
        if model.scenario.incentives.effort:
            # Builders give selling what recruiting leaves of their pitch budget; retailers
            # (who never recruit) keep the retail rate.
            builder = np.ones(active.size, dtype=bool)
            if model.scenario.segments.enabled:
                builder = pop.segment[active] == Segment.BUILDER
            budget = model.scenario.recruit.pitches_per_month + cfg.pitches_per_month
            share = recruiting_share(model, active)
            mean = np.where(builder, budget * (1.0 - share), mean)
        k = rng.poisson(mean * pop.effort[active].astype(np.float64))
        seller = np.repeat(active, k)
        target = _targets(model, rng, seller, model.scenario.recruit.warm_share)
        accept = cfg.accept_prob
        skill = ability(model, seller)
        if skill is not None:
            accept = np.minimum(accept * skill, 1.0)
        ok = (pop.status[target] == Status.PROSPECT) & (rng.random(seller.size) < accept)
        rivals = model.rival_customers
        if model.unavailable is not None:
            closed = model.unavailable[target]
            if rivals is not None:
                # Another company's customers are pitched too (several companies).
                closed &= ~rivals.open[target]
            ok &= ~closed
        t, s = first_per_target(rng, target[ok], seller[ok])
        # Respect each seller's capacity: keep the first (random order) up to the cap.
        fits = within_room(s, cfg.max_customers - pop.customers[s])
        t, s = t[fits], s[fits]
        if rivals is not None:
            # Those of another company's customers who accepted choose between the two.
            theirs = np.flatnonzero(rivals.open[t])
            if theirs.size:
                keep = np.ones(t.size, dtype=bool)
                keep[theirs] = rivals.decide(t[theirs], s[theirs])
                t, s = t[keep], s[keep]
        model.add_customers(t, s)
    customers = model.customer_ids()
    orders = cfg.order_pv * pop.spending[customers].astype(np.float64)
    # Added to the zeros set above (nothing else writes them in this phase), in the order
    # np.bincount sums in: the same sums without making and copying an n-row array.
    seller_rows = pop.customer_of[customers]
    np.add.at(pop.customer_pv, seller_rows, orders)
    model.customer_pv_rows = seller_rows


@dataclass
class Purchase:
    """What each active distributor (``who``) buys this month, in PV.

    Attributes:
        who: int64[k] active distributors.
        own_use_pv: product the household consumes this month (from stock or bought).
        from_inventory_pv: the part of own use taken from unsold stock (not bought).
        topup_pv: bought only to reach the monthly minimum (goes to stock).
        loading_pv: bought as stock to reach a rank (inventory loading).
    """

    who: np.ndarray
    own_use_pv: np.ndarray
    from_inventory_pv: np.ndarray
    topup_pv: np.ndarray
    loading_pv: np.ndarray


def buy(model: MLMModel, rng: np.random.Generator) -> Purchase:
    """Default buying: own use (stock first), autoship top-up to the minimum, loading."""
    cfg = model.scenario.buy
    pop = model.pop
    who = model.active_ids()
    need = cfg.own_use_pv * pop.spending[who].astype(np.float64)
    if cfg.first_order_pv > 0:
        # A joiner's first order (an enrollment kit) is the household's product that month.
        first = pop.join_month[who] == model.month
        need = np.where(first, np.maximum(need, cfg.first_order_pv * pop.spending[who]), need)
    stock = pop.inventory_pv[who].astype(np.float64)
    from_stock = np.minimum(stock, need)
    bought_own = need - from_stock
    pv = bought_own + pop.customer_pv[who]
    gap = np.maximum(model.plan.min_pv - pv, 0.0)
    if cfg.qualify_rule == "expected_gain":
        # Buy the gap when what qualifying is expected to pay covers its net cost (the
        # product keeps own_use_value_share of its value for the household).
        cost = gap * model.scenario.units.usd_per_pv * (1.0 - cfg.own_use_value_share)
        topup = np.where(pop.expected_income[who] >= cost, gap, 0.0)
    else:
        topup = np.where(pop.autoship[who], gap, 0.0)
    if model.scenario.incentives.loading:
        loading = rank_loading(model, who, pv + topup)
    else:
        age = model.month - pop.join_month[who]
        loading = np.where(pop.loader[who] & (age < cfg.loading_months), cfg.loading_pv, 0.0)
    if model.scenario.segments.enabled:
        # Discount buyers buy for the household: no top-up to qualify, no stock for a rank,
        business = pop.segment[who] != Segment.DISCOUNT
        loyalty = model.scenario.segments.discount_loyalty_pv
        if loyalty > 0:
            # ... except a loyalty order: those on autoship order at least `loyalty` PV (the
            # part their need does not cover goes to stock, like a builder's top-up).
            kept = np.where(pop.autoship[who], np.maximum(loyalty - pv, 0.0), 0.0)
        else:
            kept = 0.0
        topup = np.where(business, topup, kept)
        loading = np.where(business, loading, 0.0)
    return Purchase(who, need, from_stock, topup, loading)


def rank_loading(model: MLMModel, who: np.ndarray, pv: np.ndarray) -> np.ndarray:
    """float64[k] PV of stock each of ``who`` buys to reach the next rank (``incentives.loading``).

    With ``pv`` what ``who`` buy this month before loading, a member's group volume GV is the
    sum of ``pv`` over their downline and themselves. The plan gives the gap g to the next
    rank (:func:`simulation.plans.incentives.next_rank`: the pay it adds is the share a of
    the downline's volume, ``a x (GV - pv)``) and to the next stairstep percentage
    (:func:`~simulation.plans.incentives.next_step`: ``(pct_next - pct_now) x (GV + g)``). The
    member buys g as stock when ``0 < g <= max_loading_pv`` and the month's added pay x
    ``bv_per_pv`` covers the gap's net cost, ``g x usd_per_pv x (1 - own_use_value_share)``
    (the stock is used at home later, as for the top-up of ``qualify_rule = expected_gain``);
    with both a rank and a step worth it, the one with the larger surplus. Ranks and steps are
    paid month by month, so the gain counted is one month's.
    """
    sc = model.scenario
    pop = model.pop
    plan = model.plan
    has_ranks = "ranks" in plan.components
    has_steps = bool(plan.of_kind("stairstep"))
    if not (has_ranks or has_steps) or who.size == 0:
        return np.zeros(who.size)
    own = np.zeros(pop.n)
    own[who] = pv
    gv = model.sponsor_forest().subtree_sum(own)[who]
    unit_cost = sc.units.usd_per_pv * (1.0 - sc.buy.own_use_value_share)
    load = np.zeros(who.size)
    best = np.zeros(who.size)  # the best surplus (gain - cost) found so far
    candidates = []
    if has_ranks:
        gap, added = next_rank(plan, pop.rank[who], pv, gv)
        candidates.append((gap, added * (gv - pv)))
    if has_steps:
        candidates.append(next_step(plan, gv))
    for gap, gain_bv in candidates:
        with np.errstate(invalid="ignore"):  # inf gaps are never bought
            surplus = gain_bv * sc.units.bv_per_pv - gap * unit_cost
        ok = (gap > 0) & (gap <= sc.incentives.max_loading_pv) & (surplus >= 0)
        better = ok & ((load == 0) | (surplus > best))
        load = np.where(better, gap, load)
        best = np.where(better, surplus, best)
    return load


def quit(model: MLMModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Default quitting: a base hazard, more after a losing month and months without income."""
    cfg = model.scenario.quit
    pop = model.pop
    who = model.active_ids()
    if not cfg.enabled or who.size == 0:
        return np.empty(0, np.int64), np.empty(0, bool)
    idle = np.minimum(pop.months_idle[who], cfg.idle_horizon_months) / cfg.idle_horizon_months
    hazard = cfg.base_monthly + cfg.loss_extra * (pop.net_month[who] < 0) + cfg.idle_extra * idle
    exp = model.scenario.expectations
    if exp.enabled:
        # Disappointment: expected income below the business's monthly costs.
        shortfall = model.scenario.costs.fixed_usd_monthly - pop.expected_income[who]
        hazard = hazard + exp.disappointment_extra * logistic(shortfall / exp.scale_usd)
    people = model.scenario.people
    if people.leader_founders:
        hazard = np.where(pop.leader[who], hazard * people.leader_quit_factor, hazard)
    seg = model.scenario.segments
    if seg.enabled:
        # Discount buyers stop when they stop wanting the product, not over income.
        discount = pop.segment[who] == Segment.DISCOUNT
        hazard = np.where(discount, seg.discount_quit_monthly, hazard)
    quitters = who[rng.random(who.size) < np.minimum(hazard, 1.0)]
    if seg.enabled and quitters.size:
        # A builder or retailer who gives up may stay on for the discount.
        business = pop.segment[quitters] != Segment.DISCOUNT
        stay = business & (rng.random(quitters.size) < seg.downgrade_prob)
        pop.segment[quitters[stay]] = Segment.DISCOUNT
        quitters = quitters[~stay]
    claims = rng.random(quitters.size) < cfg.buyback_claim_prob
    return quitters, claims


# The one registry of behaviour rules: phase -> name -> rule. ``recruit.mode`` of a scenario
# picks the recruit rule by name; the other phases have one shipped rule each ("default").
RULES: dict[str, dict[str, Callable]] = {
    "recruit": {
        "network": pitch_recruit,
        "well_mixed": pitch_recruit,
        "uniform_sponsor": uniform_recruit,
        "preferential": preferential_recruit,
        "pyramid": scenario_pyramid_recruit,
        "bass": bass_recruit,
        "branching": branching_recruit,
    },
    "retail": {"default": retail},
    "buy": {"default": buy},
    "quit": {"default": quit},
}
PHASES = tuple(RULES)


def rules_for(scenario: Scenario) -> dict[str, Callable]:
    """The rule of each phase that ``scenario`` selects (``recruit.mode`` for recruiting)."""
    return {
        "recruit": RULES["recruit"][scenario.recruit.mode],
        "retail": RULES["retail"]["default"],
        "buy": RULES["buy"]["default"],
        "quit": RULES["quit"]["default"],
    }
