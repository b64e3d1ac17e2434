"""What a plan pays for one more recruit, for retail selling, and for the next rank.

Queries of the plan's data (not of a period's payouts), vectorised over the persons asked
about, for behaviour rules that respond to the plan (``[incentives]``, ``docs/odd.md``):

* :func:`recruit_pay`: USD the plan pays an enroller for one new personally enrolled recruit
  who buys ``recruit_bv`` BV every month, counted over ``horizon`` months: every flat fast
  start's ``amount`` (once), every percent fast start's first-generation share of the
  recruit's BV over ``min(window_periods, horizon)`` months, every unilevel's level-1 share
  of the recruit's BV over the horizon (when the enroller's rank unlocks level 1; a percent
  fast start that excludes its orders from the unilevel takes those months out), and a
  stairstep's first-step percentage on that BV. Binary and matrix legs, matching bonuses,
  pools and payout caps are not counted: they depend on where the recruit is placed and on
  what others buy and earn, not on the recruit alone.
* :func:`retail_margin_per_usd`: the retail margin per USD of product bought at wholesale and
  sold to a customer (the plan's markup).
* :func:`next_rank`: for plans with a ``[ranks]`` table, the volume (PV) still missing to the
  next rank given this month's PV and group volume (``inf`` where volume alone cannot reach it:
  legs are required, or no higher rank exists), and the share of group volume that the rank
  adds to the member's unilevel pay (the percentages of the levels it unlocks).
* :func:`next_step`: for plans with a ``[stairstep]``, the volume missing to the schedule's
  next threshold and the performance bonus that step adds.

Every result is an estimate a member can make from the plan document; it is not a payout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.plans.ranks import rank_index_table

if TYPE_CHECKING:
    from simulation.plans.engine import Plan


def _rank_or_entry(plan: Plan, rank: np.ndarray | None, k: int) -> np.ndarray:
    """int64[k]: the rank each person is judged at (their rank, at least the entry rank 0)."""
    if rank is None:
        return np.zeros(k, dtype=np.int64)
    return np.maximum(np.asarray(rank, dtype=np.int64), 0)


def _levels(plan: Plan, name: str, rank: np.ndarray) -> np.ndarray:
    """int64[k] unilevel levels unlocked at ``rank`` for the unilevel component ``name``."""
    params = plan.components[name]
    depth = len(params.percentages)
    if params.levels_by_rank is None:
        return np.full(rank.size, depth, dtype=np.int64)
    names = plan.components["ranks"].names
    table = np.minimum(rank_index_table(names, params.levels_by_rank, 0), depth)
    return table[np.minimum(rank, len(names) - 1)].astype(np.int64)


def recruit_pay(
    plan: Plan, recruit_bv: float, horizon: int, rank: np.ndarray | None = None, k: int = 1
) -> np.ndarray:
    """float64[k]: USD the plan pays an enroller for one new recruit, over ``horizon`` months.

    Args:
        plan: the compensation plan.
        recruit_bv: the recruit's monthly BV (points), e.g. what a typical recruit buys.
        horizon: months counted (>= 1).
        rank: int[k] each enroller's paid-as rank (-1 none: judged at the entry rank 0), or
            None (everyone at the entry rank).
        k: number of persons when ``rank`` is None.

    The enroller is assumed qualified (a member judging the plan expects to meet its minimum).
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month, got {horizon}")
    if recruit_bv < 0:
        raise ValueError(f"recruit_bv must be >= 0, got {recruit_bv}")
    k = k if rank is None else int(np.asarray(rank).size)
    r = _rank_or_entry(plan, rank, k)
    pay = np.zeros(k, dtype=np.float64)
    excluded_months = 0
    for name in plan.of_kind("fast_start"):
        p = plan.components[name]
        if p.mode == "flat":
            pay += p.amount
        else:
            months = min(p.window_periods, horizon)
            pay += p.percentages[0] * recruit_bv * months
            if p.exclude_from_unilevel:
                excluded_months = max(excluded_months, months)
    for name in plan.of_kind("unilevel"):
        p = plan.components[name]
        first = (_levels(plan, name, r) >= 1).astype(np.float64)
        pay += first * p.percentages[0] * recruit_bv * (horizon - excluded_months)
    for name in plan.of_kind("stairstep"):
        p = plan.components[name]
        pay += p.percentages[0] * recruit_bv * horizon
    return pay


def retail_margin_per_usd(plan: Plan) -> float:
    """USD of retail margin per USD of product bought at wholesale and sold to a customer."""
    return float(plan.retail.markup)


def next_rank(
    plan: Plan, rank: np.ndarray, pv: np.ndarray, gv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The volume missing to the next rank and the pay share that rank adds.

    Args:
        plan: the compensation plan.
        rank: int[k] paid-as rank this month (-1 none).
        pv: float64[k] personal volume this month, PV.
        gv: float64[k] group volume this month (own PV and the whole downline's), PV.

    Returns:
        ``(gap_pv, added_share)``: float64[k] PV still missing (0 if already there;
        ``inf`` without a higher rank, when the next rank requires legs, or without a
        ``[ranks]`` table) and float64[k] the sum of unilevel percentages of the levels the
        next rank unlocks (the share of the downline's volume it adds to the member's pay).
    """
    rank = np.asarray(rank, dtype=np.int64)
    pv = np.asarray(pv, dtype=np.float64)
    gv = np.asarray(gv, dtype=np.float64)
    k = rank.size
    inf = np.full(k, np.inf)
    ranks = plan.components.get("ranks")
    if ranks is None:
        return inf, np.zeros(k)
    table = ranks.table
    nxt = rank + 1
    top = nxt >= len(table)
    idx = np.minimum(nxt, len(table) - 1)
    min_pv = np.array([r.min_pv for r in table])[idx]
    min_gv = np.array([r.min_gv for r in table])[idx]
    legs = np.array([r.min_legs > 0 or r.leg_rank_count > 0 for r in table])[idx]
    # Bought stock counts in the member's PV and group volume alike.
    gap = np.maximum(np.maximum(min_pv - pv, min_gv - gv), 0.0)
    gap = np.where(top | legs, np.inf, gap)
    added = np.zeros(k)
    for name in plan.of_kind("unilevel"):
        pct = np.concatenate(([0.0], np.cumsum(plan.components[name].percentages)))
        now = np.where(rank >= 0, _levels(plan, name, np.maximum(rank, 0)), 0)
        then = _levels(plan, name, idx)
        added += np.where(top, 0.0, pct[np.maximum(then, now)] - pct[now])
    return gap, added


def next_step(plan: Plan, gv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The volume missing to the next stairstep percentage and the pay it adds.

    Args:
        plan: the compensation plan.
        gv: float64[k] group volume this month, PV (the whole downline's and one's own: an
            upper bound of the stairstep's group PV, which leaves broken-away legs out).

    Returns:
        ``(gap_pv, added_bv)``: float64[k] PV missing to the next threshold of the plan's
        stairstep schedule (``inf`` above the last one, or without a ``[stairstep]``) and
        float64[k] the month's added performance bonus per BV point, ``(pct_next - pct_now) x
        (gv + gap)`` (a stairstep pays its percentage on the whole group volume, the stock
        bought included; what it passes down to the group's members does not change).
    """
    gv = np.asarray(gv, dtype=np.float64)
    names = plan.of_kind("stairstep")
    if not names:
        return np.full(gv.size, np.inf), np.zeros(gv.size)
    p = plan.components[names[0]]
    thr = np.asarray(p.thresholds, dtype=np.float64)
    pct = np.concatenate(([0.0], np.asarray(p.percentages, dtype=np.float64)))
    step = np.searchsorted(thr, gv, side="right")  # index into pct of the current step
    top = step >= thr.size
    nxt = np.minimum(step, thr.size - 1)
    finite_gap = thr[nxt] - gv
    added = np.where(top, 0.0, (pct[np.minimum(step + 1, thr.size)] - pct[step]) * thr[nxt])
    return np.where(top, np.inf, finite_gap), added
