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


def _member_prefix_count(forest, holds_m: np.ndarray) -> np.ndarray:
    """int32 per member (``member_slots`` order): generation holders from the root down."""
    bounds, pslot = forest.member_levels()
    key = np.where(holds_m, 1, 0).astype(np.int32)
    for d in range(1, bounds.size - 1):
        lo, hi = bounds[d], bounds[d + 1]
        key[lo:hi] += key[pslot[lo:hi]]
    return key


@register("matching", MatchingParams, stage=MATCHING, description="match downline earnings")
def matching(ctx: PeriodContext, params: MatchingParams, state: None) -> ComponentResult:
    """Pay the matching bonus for one period."""
    n = ctx.inp.n
    forest = ctx.forest
    m = np.asarray(params.percentages, dtype=np.float64)
    G = m.size
    base = base_earnings(ctx, params)
    src = np.flatnonzero(base > 0)
    pay = LevelSums(ctx)
    max_pay = float(base[src].sum() * m.sum())
    # Over the members' positions: the earners are members, and a source outside the forest
    # (parent -1) has no upline. The sources stay in row order and each step's pay is added
    # as over the n rows, so the sums are the same to the last bit.
    members, slot = forest.member_slots()
    _, pslot = forest.member_levels()
    qualified = ctx.qualified(params.min_pv)[members]
    if params.eligible_ranks is None:
        gens = np.where(qualified, G, 0)
    else:
        gens = np.where(qualified, per_rank(ctx, params.eligible_ranks, G)[members], 0)
    if params.generation_mode == "level":
        key = forest.depth[members].astype(np.int32)
    elif params.generation_mode == "compressed":
        key = _member_prefix_count(forest, qualified)
    else:
        rank = ctx.rank if ctx.rank is not None else np.full(n, -1, dtype=np.int16)
        leader = rank[members] >= ctx.rank_index(params.generation_rank)
        key = _member_prefix_count(forest, leader)
    at = slot[src]
    at = at[at >= 0]
    vol = base[members[at]]
    if params.generation_mode == "rank" and params.leader_position == "opening":
        start = key[at]
    else:
        p = pslot[at]
        start = np.where(p >= 0, key[np.maximum(p, 0)], 0)
    # Walk from each source to its possible earners only (members with >= 1 generation).
    step = forest.nearest_ancestor_slots(gens > 0)
    e = step[at].astype(np.int64)
    while e.size:
        keep = e >= 0
        e, start, vol = e[keep], start[keep], vol[keep]
        if not e.size:
            break
        gen = 1 + start - key[e]  # 1-based; non-decreasing going up
        live = gen <= G
        e, start, vol, gen = e[live], start[live], vol[live], gen[live]
        paid = gens[e] >= gen
        if paid.any():
            pay.add_slots(e[paid], m[gen[paid] - 1] * vol[paid])
        e = step[e].astype(np.int64)
    return ComponentResult(pay=pay.total(), max_pay=max_pay)


matching.check_plan = _check
