"""Matching bonus on the sponsored downline's earnings, ``docs/plans.md``, Matching.

``match(e) = sum_x m_gen(e,x) x base(x)`` over sponsor-tree descendants ``x`` within the paid
generations, where ``base(x)`` is what ``x`` earned this period from the ``base`` components
(after per-distributor caps, before the global cap; never a matching bonus). The earner must be
qualified, and its rank may unlock fewer generations (``eligible_ranks``).

The generation of ``x`` seen from an ancestor ``e`` is ``1 + K(e, x)``, where ``K`` counts the
rows on the path strictly between ``e`` and ``x`` that "hold" a generation:

* ``level``: every row (generation = sponsor level);
* ``compressed``: qualified rows only (Purium dynamic compression);
* ``rank``: leaders (rank >= ``generation_rank``); with ``leader_position = "opening"`` the
  source ``x`` counts too when it is a leader (the leader starts the next generation), with
  ``"closing"`` it does not (the leader is the last member of its generation, Kuvera).

With a top-down prefix count ``key`` of the rows that hold a generation, ``K(e, x) =
key(parent x) - key(e)`` (``key(x) - key(e)`` for "opening"), so each walk jumps straight from
one possible earner to the next (``Forest.nearest_ancestor``) instead of visiting every row.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from simulation.plans.base import (
    BASE,
    MATCHING,
    REGISTRY,
    ComponentResult,
    LevelSums,
    Params,
    PeriodContext,
    register,
)
from simulation.plans.ranks import per_rank


class MatchingParams(Params):
    """The ``[matching]`` table."""

    percentages: list[float] = Field(
        min_length=1,
        max_length=20,
        description="Share of the base earnings matched per generation (0.10 = 10%). ARIIX: "
        "[0.15, 0.10, 0.05, 0.05, 0.05, 0.05, 0.05]; Kuvera: up to 10% over 5 generations.",
    )
    base: list[str] | None = Field(
        None,
        description="Components whose earnings are matched (e.g. ['unilevel'] or ['binary']); "
        "default every base-stage company payout of the plan. Never a matching bonus.",
    )
    min_pv: float | None = Field(
        None, ge=0, description="Monthly PV to earn; default the plan's qualification.min_pv."
    )
    generation_mode: Literal["level", "compressed", "rank"] = Field(
        "level",
        description="'level': generation = sponsor level; 'compressed': only qualified rows "
        "hold a generation (Purium); 'rank': a generation runs down to the next leader at "
        "generation_rank or above (Kuvera, Merryvital, DirectScale).",
    )
    generation_rank: str | None = Field(
        None, description="For generation_mode = 'rank': the rank that makes a leader."
    )
    leader_position: Literal["closing", "opening"] = Field(
        "closing",
        description="'closing': a leader is the last member of the current generation (Kuvera); "
        "'opening': a leader starts the next one (Merryvital).",
    )
    eligible_ranks: dict[str, int] | None = Field(
        None,
        description="Generations unlocked by paid-as rank name; ranks not listed take the "
        "nearest listed rank below (0 if none, and 0 without a rank). Absent = all generations.",
    )

    @field_validator("percentages")
    @classmethod
    def _shares(cls, v: list[float]) -> list[float]:
        if any(not (0 <= p <= 1) for p in v):
            raise ValueError("each percentage must be a share between 0 and 1 (0.10 = 10%)")
        return v

    @model_validator(mode="after")
    def _mode(self) -> MatchingParams:
        if (self.generation_mode == "rank") != (self.generation_rank is not None):
            raise ValueError("generation_rank is needed by, and only by, generation_mode 'rank'")
        return self


def _check(plan, params: MatchingParams) -> str | None:
    names = plan.components
    if params.base is not None:
        for b in params.base:
            if b not in names:
                return f"base names '{b}', which is not a component of this plan ({list(names)})"
            spec = plan.spec(b)
            if spec.stage != BASE or not spec.company_payout:
                return f"base '{b}' is not a base-stage company payout (cannot be matched)"
    needs_ranks = params.generation_mode == "rank" or params.eligible_ranks is not None
    if not needs_ranks:
        return None
    ranks = names.get("ranks")
    if ranks is None:
        return "generation_mode 'rank' and eligible_ranks need a [ranks] table in the plan"
    wanted = set(params.eligible_ranks or {}) | (
        {params.generation_rank} if params.generation_rank else set()
    )
    unknown = sorted(wanted - set(ranks.names))
    if unknown:
        return f"unknown ranks {unknown} (ranks: {ranks.names})"
    return None


def base_earnings(ctx: PeriodContext, params: MatchingParams) -> np.ndarray:
    """float64[n]: each row's earnings this period from the matched components."""
    base = np.zeros(ctx.inp.n)
    if params.base is None:
        specs = {k: REGISTRY.get(ctx.kind(k)) for k in ctx.earnings}
        names = [
            k for k, spec in specs.items() if spec and spec.stage == BASE and spec.company_payout
        ]
    else:
        names = params.base
    for k in names:
        if k in ctx.earnings:
            base += ctx.earnings[k]
    return base


def _prefix_count(forest, holds: np.ndarray) -> np.ndarray:
    """int32[n]: rows holding a generation from the root down to each row (inclusive)."""
    key = np.where(holds, 1, 0).astype(np.int32)
    for rows in forest.top_down():
        key[rows] += key[forest.parent[rows]]
    return key


@register("matching", MatchingParams, stage=MATCHING, description="match downline earnings")
def matching(ctx: PeriodContext, params: MatchingParams, state: None) -> ComponentResult:
    """Pay the matching bonus for one period."""
    n = ctx.inp.n
    forest = ctx.forest
    parent = forest.parent
    m = np.asarray(params.percentages, dtype=np.float64)
    G = m.size
    base = base_earnings(ctx, params)
    qualified = ctx.qualified(params.min_pv)
    gens = np.where(qualified, per_rank(ctx, params.eligible_ranks, G), 0)
    src = np.flatnonzero(base > 0)
    pay = LevelSums(ctx)
    max_pay = float(base[src].sum() * m.sum())
    if params.generation_mode == "level":
        key = forest.depth.astype(np.int32)
    elif params.generation_mode == "compressed":
        key = _prefix_count(forest, qualified)
    else:
        rank = ctx.rank if ctx.rank is not None else np.full(n, -1, dtype=np.int16)
        leader = rank >= ctx.rank_index(params.generation_rank)
        key = _prefix_count(forest, leader)
    if params.generation_mode == "rank" and params.leader_position == "opening":
        start = key[src]
    else:
        p = parent[src]
        start = np.where(p >= 0, key[np.maximum(p, 0)], 0)
    # Walk from each source to its possible earners only (rows with >= 1 generation).
    step = forest.nearest_ancestor(gens > 0)
    e = step[src].astype(np.int64)
    vol = base[src]
    while src.size:
        keep = e >= 0
        e, start, vol, src = e[keep], start[keep], vol[keep], src[keep]
        if not e.size:
            break
        gen = 1 + start - key[e]  # 1-based; non-decreasing going up
        live = gen <= G
        e, start, vol, src, gen = e[live], start[live], vol[live], src[live], gen[live]
        paid = gens[e] >= gen
        if paid.any():
            pay.add(e[paid], m[gen[paid] - 1] * vol[paid])
        e = step[e].astype(np.int64)
    return ComponentResult(pay=pay.total(), max_pay=max_pay)


matching.check_plan = _check
