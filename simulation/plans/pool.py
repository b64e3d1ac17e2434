"""Leadership pools, ``docs/plans.md``, Leadership pools.

A pool is a fixed share of the period's commissionable volume, divided among the members who
qualify for it that period in proportion to the shares their paid-as rank holds:

* ``pool = share x V``, ``V`` the period's total BV as it counts for the cap's revenue;
* member ``v`` holds ``s(v) = shares[rank(v)]`` shares when qualified (active, PV >=
  ``min_pv``, the plan's retail conditions) and, with ``min_enrollments`` k > 0, when at least
  k members they enrolled joined this period; otherwise 0;
* ``pay(v) = pool x s(v) / S``, ``S = sum s``. With ``S = 0`` nothing is paid: the pool is
  breakage, as is any rounding left over.

doTERRA's policy manual and its "Unilevel and rank bonuses" page (doterra.com): the
Leadership Performance Pool is 2% of global volume, Silvers hold 1 share, Golds 5 and
Platinums 10; the Diamond pools are 1% each, Diamonds hold 3 shares in theirs; the Empowerment
Pool (1%) is divided equally among Premiers and Silvers with at least one personal enrollment
that month. Left out: the one-off extra shares for a newly ranked personal enrollee.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulation.plans.base import ComponentResult, Params, PeriodContext, register


class PoolParams(Params):
    """One ``[pool]`` table (or one of several named ``[[pool]]`` tables)."""

    share: float = Field(
        ...,
        gt=0,
        le=1,
        description="The pool's share of the period's commissionable volume (doTERRA's "
        "Leadership Performance Pool: 0.02).",
    )
    shares: dict[str, float] = Field(
        ...,
        min_length=1,
        description="Shares a qualified member holds by paid-as rank; ranks not listed hold "
        "none (doTERRA: Silver 1, Gold 5, Platinum 10).",
    )
    min_enrollments: int = Field(
        0,
        ge=0,
        le=1000,
        description="Members the earner enrolled who joined this period, needed to hold "
        "shares (doTERRA's Empowerment Pool: 1).",
    )
    min_pv: float | None = Field(
        None, ge=0, description="Own PV to qualify (default: the plan's qualification.min_pv)."
    )


def _check(plan, params: PoolParams) -> str | None:
    """Cross-table check: the plan has ranks and every share names one of them."""
    if "ranks" not in plan.components:
        return "a pool divides its money by rank: the plan needs a [ranks] table"
    names = plan.components["ranks"].names
    unknown = [k for k in params.shares if k not in names]
    if unknown:
        return f"shares: unknown rank {unknown[0]!r}; the plan's ranks are {', '.join(names)}"
    if any(v < 0 for v in params.shares.values()):
        return "shares: every rank's shares must be >= 0"
    if not any(v > 0 for v in params.shares.values()):
        return "shares: at least one rank must hold a share above 0"
    return None


def enrollments(ctx: PeriodContext) -> np.ndarray:
    """int64[n]: members each row enrolled who joined this period (by enroller, else sponsor)."""
    inp = ctx.inp
    who = inp.enroller if inp.enroller is not None else inp.sponsor
    who = np.asarray(who, dtype=np.int64)[inp.new_recruits]
    who = who[who >= 0]
    return np.bincount(who, minlength=inp.n)


@register(
    "pool",
    PoolParams,
    description="a share of company volume divided among ranks by shares (leadership pools)",
)
def pool(ctx: PeriodContext, params: PoolParams, state: None) -> ComponentResult:
    """Divide one period's pool among the qualified members by their ranks' shares."""
    n = ctx.inp.n
    amount = params.share * ctx.total_volume()
    table = np.array(
        [float(params.shares.get(name, 0.0)) for name in ctx.rank_names] + [0.0],
        dtype=np.float64,
    )
    # Rank -1 (none) reads the appended 0.
    held = table[np.asarray(ctx.rank, dtype=np.int64)]
    held = np.where(ctx.qualified(params.min_pv), held, 0.0)
    if params.min_enrollments:
        held = np.where(enrollments(ctx) >= params.min_enrollments, held, 0.0)
    total = float(held.sum())
    if total <= 0 or amount <= 0:
        return ComponentResult(pay=np.zeros(n), max_pay=amount)
    return ComponentResult(pay=held * (amount / total), max_pay=amount)


pool.check_plan = _check
