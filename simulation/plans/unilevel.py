"""Unilevel (level commission), ``docs/plans.md``, Unilevel.

For each distributor ``v`` with ``BV(v) > 0``, the upline at *paid level* ``j`` (1 <= j <= L)
receives ``p_j x BV(v)`` if it is entitled to level ``j`` (qualified, and level ``j`` unlocked by
its rank). How paid levels are counted is the ``compression`` choice:

* ``none``: every upline occupies its physical level; a non-entitled one's share is breakage.
* ``dynamic``: unqualified uplines are skipped (do not occupy a level); a qualified upline whose
  rank does not unlock level ``j`` occupies it and its share is breakage.
* ``dynamic_full``: any upline not entitled to the current level ``j`` is skipped; the level
  passes to the next entitled upline.

An unqualified distributor's own volume still pays its uplines; so does an inactive one's,
unless the plan's ``qualification.inactive_volume = "excluded"``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from simulation.plans.base import ComponentResult, LevelSums, Params, PeriodContext, register


class UnilevelParams(Params):
    """The ``[unilevel]`` table."""

    percentages: list[float] = Field(
        description="Share of BV paid at paid level 1, 2, ... (0.08 = 8%). Young Living: "
        "[0.08, 0.05, 0.04, 0.04, 0.04].",
        min_length=1,
        max_length=30,
    )
    min_pv: float | None = Field(
        None, ge=0, description="Monthly PV to earn; default the plan's qualification.min_pv."
    )
    compression: Literal["none", "dynamic", "dynamic_full"] = Field(
        "dynamic", description="How paid levels are counted (see module docs)."
    )
    levels_by_rank: dict[str, int] | None = Field(
        None,
        description="Levels unlocked by paid-as rank name; ranks not listed take the nearest "
        "listed rank below them (0 levels if none). Needs a [ranks] table.",
    )

    @field_validator("percentages")
    @classmethod
    def _shares(cls, v: list[float]) -> list[float]:
        if any(not (0 <= p <= 1) for p in v):
            raise ValueError("each percentage must be a share between 0 and 1 (0.05 = 5%)")
        if sum(v) > 1:
            raise ValueError(f"percentages add up to {sum(v):.3f} > 1 (more than the volume)")
        return v


def _unlock_table(ctx: PeriodContext, params: UnilevelParams) -> np.ndarray:
    """int32[ranks] paid levels of each paid-as rank (``levels_by_rank``, at most L)."""
    L = len(params.percentages)
    names = ctx.rank_names
    table = np.zeros(len(names), dtype=np.int32)
    current = 0
    for i, name in enumerate(names):
        current = params.levels_by_rank.get(name, current)
        table[i] = min(current, L)
    return table


def levels_unlocked(
    ctx: PeriodContext,
    params: UnilevelParams,
    rows: np.ndarray | None = None,
    table: np.ndarray | None = None,
) -> np.ndarray:
    """int32[n] number of paid levels each row may earn on (int32[len(rows)]: of ``rows``).

    ``table``: :func:`_unlock_table`'s, when the caller has made it.
    """
    L = len(params.percentages)
    size = ctx.inp.n if rows is None else len(rows)
    if params.levels_by_rank is None:
        return np.full(size, L, dtype=np.int32)
    if table is None:
        table = _unlock_table(ctx, params)
    if ctx.rank is None:
        return np.zeros(size, dtype=np.int32)  # nobody holds a rank
    rank = ctx.rank if rows is None else ctx.rank[rows]
    return np.where(rank >= 0, table[np.maximum(rank, 0)], 0).astype(np.int32)


def _check(plan, params: UnilevelParams) -> str | None:
    if params.levels_by_rank is None:
        return None
    ranks = plan.components.get("ranks")
    if ranks is None:
        return "levels_by_rank needs a [ranks] table in the plan"
    unknown = sorted(set(params.levels_by_rank) - set(ranks.names))
    if unknown:
        return f"levels_by_rank names unknown ranks {unknown} (ranks: {ranks.names})"
    return None


@register("unilevel", UnilevelParams, description="percent of BV per paid level")
def unilevel(ctx: PeriodContext, params: UnilevelParams, state: None) -> ComponentResult:
    """Pay the unilevel commission for one period."""
    inp = ctx.inp
    pct = np.asarray(params.percentages, dtype=np.float64)
    L = pct.size
    qualified = ctx.qualified(params.min_pv)
    # The levels unlocked by rank are read at the uplines reached only; without a table
    # every upline has all L levels (j <= L in the loop below).
    table = _unlock_table(ctx, params) if params.levels_by_rank is not None else None
    bv = ctx.volume(inp.bv)
    volume_mask = bv > 0
    excluded = getattr(ctx, "unilevel_excluded", None)
    if excluded is not None:
        volume_mask &= ~excluded
    src = np.flatnonzero(volume_mask)
    pay = LevelSums(ctx)
    max_pay = float(bv[src].sum() * pct.sum())
    # The walks go up the members' positions (the uplines paid are members, and a source
    # outside the forest has no upline): no n-row arrays, the same additions in the same
    # order (the sources in row order, one level at a time).
    members, slot = ctx.forest.member_slots()
    qualified_m = qualified[members]
    if params.compression == "none":
        step = ctx.forest.member_levels()[1]
    else:
        step = ctx.forest.nearest_ancestor_slots(qualified_m)
    at = slot[src]
    inside = at >= 0
    u = step[at[inside]]
    vol = bv[src[inside]]
    j = np.ones(u.size, dtype=np.int32)
    while u.size:
        keep = u >= 0
        u, j, vol = u[keep], j[keep], vol[keep]
        if not u.size:
            break
        entitled = qualified_m[u]
        if table is not None:
            entitled &= levels_unlocked(ctx, params, members[u], table) >= j
        if entitled.any():
            pay.add_slots(u[entitled], pct[j[entitled] - 1] * vol[entitled])
        if params.compression == "dynamic_full":
            # Only an entitled upline uses up the level; others pass it on.
            j = j + entitled
        else:
            j = j + 1
        live = j <= L
        u, j, vol = step[u[live]], j[live], vol[live]
    return ComponentResult(pay=pay.total(), max_pay=max_pay)


unilevel.check_plan = _check
