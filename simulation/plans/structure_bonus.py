"""Team-structure bonus ("Power of 3", doTERRA), ``docs/plans.md``, Team-structure bonus.

A fixed monthly amount for a frontline of ``width`` qualified members, paid at the highest
level reached (not cumulative):

* level 1: the member is qualified (active, PV >= ``min_pv``), at least ``width`` of the
  members they personally sponsored (their frontline in the sponsor tree) are qualified, and
  the team volume (own PV plus the frontline's PV) reaches ``team_volume``;
* level k > 1: level 1, and at least ``width`` frontline members reach level k - 1.

doTERRA (blog "Why Power of 3?", doterra.com; doterraeveryday.com/powerof3): a 100 PV
Loyalty Rewards order, three personally sponsored members with 100 PV orders and 600 team
volume pay $50; three frontline members each at $50 pay $250; three at $250 pay $1,500; "one
may earn either the $50, $250, or $1,500 bonus, but not all three at one time". Left out: a
second structure built with further frontline members after the first is complete.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from simulation.plans.base import ComponentResult, Params, PeriodContext, register


class StructureBonusParams(Params):
    """The ``[structure_bonus]`` table."""

    width: int = Field(
        3, ge=1, le=100, description="Qualified frontline members needed at every level."
    )
    min_pv: float = Field(
        100.0,
        ge=0,
        description="PV of the member's own order and of each counted frontline member's "
        "(doTERRA: a 100 PV Loyalty Rewards order).",
    )
    team_volume: float = Field(
        600.0, ge=0, description="Own PV plus the frontline's PV needed for level 1 (doTERRA 600)."
    )
    amounts: list[float] = Field(
        default_factory=lambda: [50.0, 250.0, 1500.0],
        min_length=1,
        max_length=10,
        description="Amount paid a period at level 1, 2, ... (doTERRA $50, $250, $1,500).",
    )


def structure_levels(ctx: PeriodContext, params: StructureBonusParams) -> np.ndarray:
    """int8[n]: the level each row reaches this period (0: none)."""
    inp = ctx.inp
    n = inp.n
    parent = ctx.forest.parent.astype(np.int64)
    has_parent = parent >= 0
    up = parent[has_parent]
    qualified = ctx.qualified(params.min_pv)
    pv = ctx.volume(inp.pv)
    frontline_ok = np.bincount(up, weights=qualified[has_parent], minlength=n)
    team = pv + np.bincount(up, weights=pv[has_parent], minlength=n)
    level = np.zeros(n, dtype=np.int8)
    reached = qualified & (frontline_ok >= params.width) & (team >= params.team_volume)
    level[reached] = 1
    for k in range(2, len(params.amounts) + 1):
        below = (level >= k - 1)[has_parent]
        count = np.bincount(up, weights=below, minlength=n)
        level[reached & (level == k - 1) & (count >= params.width)] = k
    return level


@register(
    "structure_bonus",
    StructureBonusParams,
    description="fixed monthly bonus for a qualified frontline (doTERRA Power of 3)",
    pays_for_recruiting=True,
)
def structure_bonus(
    ctx: PeriodContext, params: StructureBonusParams, state: None
) -> ComponentResult:
    """Pay the team-structure bonus for one period: the amount of each row's level."""
    level = structure_levels(ctx, params)
    amounts = np.concatenate(([0.0], np.asarray(params.amounts, dtype=np.float64)))
    pay = amounts[level]
    return ComponentResult(pay=pay, max_pay=float(pay.sum()), extra={"structure_level": level})
