"""Rank advancement (paid-as rank), ``docs/plans.md``, Ranks.

A rank table, lowest first. Each rank may require ``min_pv``; ``min_gv`` on the group volume
(OGV by default, or personal-group volume); a leg cap ``max_leg_share`` (each frontline leg counts
at most ``share x min_gv`` towards ``min_gv``, the "40/40/20 rule"); ``min_legs`` frontline legs
each with OGV >= ``leg_min_gv`` (Young Living); and ``leg_rank_count`` legs containing someone at
``leg_rank`` or above. The paid-as rank is the highest rank whose requirements all hold this
period; every threshold is inclusive (>=). Inactive rows have no rank (-1).

Volumes: ``OGV(u)`` is the PV of ``u`` and its whole downline (``Forest.subtree_sum``); the legs of
``u`` are the OGVs of its children, grouped by parent with ``np.bincount``. Requirements that
depend on other ranks (``leg_rank``, or ``gv = "personal_group"`` whose breakaway is a rank) are
evaluated bottom-up level by level, so that every leg's ranks are known before its sponsor's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.plans.base import RANKS, ComponentResult, Params, PeriodContext, register


class RankSpec(Params):
    """One row of the rank table (``[[ranks.table]]``)."""

    name: str = Field(min_length=1, description="Rank name (used by other components' tables).")
    min_pv: float = Field(0.0, ge=0, description="Personal volume (points) this period; >=.")
    min_gv: float = Field(
        0.0, ge=0, description="Group volume (points; OGV or personal-group, see `gv`); >=."
    )
    max_leg_share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Each frontline leg counts at most share x min_gv towards min_gv (IM Mastery "
        "40/40/20 rule: 0.4; Be Infinity example 0.8). None = no leg cap.",
    )
    min_legs: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Frontline legs with OGV >= leg_min_gv (Young Living: 2 or 3).",
    )
    leg_min_gv: float = Field(
        0.0, ge=0, description="OGV (points) a leg needs to count for min_legs (YL: 1,000)."
    )
    leg_rank: str | None = Field(
        None, description="A rank that must be held (paid-as, or above) somewhere in a leg."
    )
    leg_rank_count: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Number of frontline legs that must contain leg_rank or above.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> RankSpec:
        if self.max_leg_share is not None and self.min_gv <= 0:
            raise ValueError(f"rank '{self.name}': max_leg_share needs min_gv > 0")
        if (self.leg_rank is None) != (self.leg_rank_count == 0):
            raise ValueError(f"rank '{self.name}': give leg_rank and leg_rank_count together")
        return self


class RanksParams(Params):
    """The ``[ranks]`` table: the rank table and how group volume is measured."""

    table: list[RankSpec] = Field(
        min_length=1, max_length=64, description="Ranks, lowest first ([[ranks.table]])."
    )
    gv: Literal["ogv", "personal_group"] = Field(
        "ogv",
        description="Group volume for min_gv: 'ogv' (PV of the whole downline, default) or "
        "'personal_group' (legs whose frontline member holds group_breakaway_rank or above are "
        "left out).",
    )
    group_breakaway_rank: str | None = Field(
        None, description="For gv = 'personal_group': the rank at which a leg leaves the group."
    )
    cap_personal: bool = Field(
        False,
        description="Does max_leg_share also cap the distributor's own PV? Default no (one "
        "distributor with 2,000 PV alone reaches a 2,000 GV rank); Be Infinity: yes.",
    )
    use_given: bool = Field(
        False,
        description="Use the period input's rank (an imported genealogy's rank column) when "
        "present instead of computing it.",
    )

    @property
    def names(self) -> list[str]:
        """Rank names, lowest first (read by the engine)."""
        return [r.name for r in self.table]

    @model_validator(mode="after")
    def _names(self) -> RanksParams:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"rank names must be unique, got {names}")
        for r in self.table:
            if r.leg_rank is not None and r.leg_rank not in names:
                raise ValueError(f"rank '{r.name}': leg_rank '{r.leg_rank}' is not in {names}")
        if self.gv == "personal_group":
            if self.group_breakaway_rank not in names:
                raise ValueError(
                    f"gv = 'personal_group' needs group_breakaway_rank, one of {names}; got "
                    f"{self.group_breakaway_rank!r}"
                )
        elif self.group_breakaway_rank is not None:
            raise ValueError("group_breakaway_rank is only used with gv = 'personal_group'")
        return self


def rank_index_table(names: list[str], by_rank: dict[str, int], default: int = 0) -> np.ndarray:
    """int32[len(names)]: the value each rank takes from a ``{rank: value}`` table.

    Ranks not listed take the value of the nearest listed rank below them (``default`` if none).
    """
    table = np.empty(len(names), dtype=np.int32)
    current = default
    for i, name in enumerate(names):
        current = by_rank.get(name, current)
        table[i] = current
    return table


def per_rank(
    ctx: PeriodContext, by_rank: dict[str, int] | None, full: int, unranked: int = 0
) -> np.ndarray:
    """int32[n]: a rank-dependent count (levels, generations) for every row.

    Args:
        ctx: the period context (paid-as ranks and their names).
        by_rank: ``{rank name: count}``, ranks not listed inherit from below; None = ``full``
            for everyone.
        full: the count when no table is given (and the most any row gets).
        unranked: the count for rows without a rank (-1).
    """
    n = ctx.inp.n
    if by_rank is None:
        return np.full(n, full, dtype=np.int32)
    table = np.minimum(rank_index_table(ctx.rank_names, by_rank, unranked), full)
    rank = ctx.rank if ctx.rank is not None else np.full(n, -1, dtype=np.int16)
    if table.size == 0:
        return np.full(n, unranked, dtype=np.int32)
    return np.where(rank >= 0, table[np.maximum(rank, 0)], unranked).astype(np.int32)


class _Volumes:
    """Per-member counters the rank tests read; filled globally or level by level.

    Every array is over the forest's members (:meth:`Forest.member_slots` order), not the n
    rows: in a market a company's members are a fraction of the population.
    """

    def __init__(self, m: int, params: RanksParams, pv: np.ndarray, ogv: np.ndarray):
        self.pv = pv
        self.gv = ogv if params.gv == "ogv" else pv.copy()
        table = params.table
        self.leg_caps = {
            i: r.max_leg_share * r.min_gv for i, r in enumerate(table) if r.max_leg_share
        }
        self.capped = {i: np.zeros(m) for i in self.leg_caps}
        self.legs_at = {r.leg_min_gv: np.zeros(m, dtype=np.int32) for r in table if r.min_legs}
        names = params.names
        self.leg_rank_idx = sorted({names.index(r.leg_rank) for r in table if r.leg_rank})
        self.legs_with_rank = {k: np.zeros(m, dtype=np.int32) for k in self.leg_rank_idx}


def _add_legs(
    vol: _Volumes,
    kids: np.ndarray | slice,
    par: np.ndarray,
    contrib: np.ndarray,
    ogv: np.ndarray,
    m: int,
) -> None:
    """Add the legs ``kids`` (children of ``par``; member positions) to their sponsors' counters."""
    for i, cap in vol.leg_caps.items():
        vol.capped[i] += np.bincount(par, weights=np.minimum(contrib, cap), minlength=m)
    for threshold, count in vol.legs_at.items():
        count += np.bincount(par, weights=ogv[kids] >= threshold, minlength=m).astype(np.int32)


def _assign(
    rows: np.ndarray | slice, params: RanksParams, vol: _Volumes, active: np.ndarray
) -> np.ndarray:
    """int16[len(rows)]: highest rank whose requirements all hold for each member position."""
    pv = vol.pv[rows]
    out = np.full(pv.size, -1, dtype=np.int16)
    names = params.names
    for i, r in enumerate(params.table):
        ok = active[rows] & (pv >= r.min_pv)
        if r.min_gv > 0:
            if i in vol.leg_caps:
                cap = vol.leg_caps[i]
                own = np.minimum(pv, cap) if params.cap_personal else pv
                gv = own + vol.capped[i][rows]
            else:
                gv = vol.gv[rows]
            ok &= gv >= r.min_gv
        if r.min_legs:
            ok &= vol.legs_at[r.leg_min_gv][rows] >= r.min_legs
        if r.leg_rank is not None:
            ok &= vol.legs_with_rank[names.index(r.leg_rank)][rows] >= r.leg_rank_count
        out[ok] = i
    return out


def compute_ranks(ctx: PeriodContext, params: RanksParams) -> np.ndarray:
    """int16[n] paid-as rank of every row (-1: none) for one period.

    Worked over the forest's members only (the same additions in the same order as over the
    n rows, so the same ranks): non-members have no rank.
    """
    inp = ctx.inp
    n = inp.n
    forest = ctx.forest
    rank = np.full(n, -1, dtype=np.int16)
    members, _ = forest.member_slots()
    m = members.size
    if m == 0:
        return rank
    bounds, pslot = forest.member_levels()
    active = inp.active[members]
    pv = ctx.volume(inp.pv)[members]
    ogv = forest.member_subtree_sum(pv)
    vol = _Volumes(m, params, pv, ogv)
    bottom_up = params.gv == "personal_group" or bool(vol.leg_rank_idx)
    if not bottom_up:
        # Every requirement reads this period's volumes only: one vectorised pass.
        kids = np.flatnonzero(pslot >= 0)
        _add_legs(vol, kids, pslot[kids], ogv[kids], ogv, m)
        rank[members] = _assign(slice(None), params, vol, active)
        return rank
    # Ranks of the legs first: deepest level first, then push to the sponsors.
    breakaway = (
        params.names.index(params.group_breakaway_rank)
        if params.gv == "personal_group"
        else np.iinfo(np.int16).max
    )
    rank_m = np.full(m, -1, dtype=np.int16)
    best_below = np.full(m, -1, dtype=np.int16)  # highest rank in each member's subtree
    for d in range(bounds.size - 2, -1, -1):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        rank_m[lo:hi] = _assign(slice(lo, hi), params, vol, active)
        # Every member below depth 0 has a parent, and no root has one.
        if d == 0:
            continue
        kids = slice(lo, hi)  # the level's member positions (a view, no index array)
        par = pslot[kids]
        best_below[lo:hi] = np.maximum(best_below[lo:hi], rank_m[lo:hi])
        np.maximum.at(best_below, par, best_below[lo:hi])
        for k in vol.leg_rank_idx:
            vol.legs_with_rank[k] += np.bincount(
                par, weights=best_below[lo:hi] >= k, minlength=m
            ).astype(np.int32)
        if params.gv == "personal_group":
            contrib = np.where(rank_m[lo:hi] >= breakaway, 0.0, vol.gv[lo:hi])
            np.add.at(vol.gv, par, contrib)
        else:
            contrib = ogv[lo:hi]
        _add_legs(vol, kids, par, contrib, ogv, m)
    rank[members] = rank_m
    return rank


@register(
    "ranks",
    RanksParams,
    stage=RANKS,
    company_payout=False,
    description="paid-as rank from PV, GV and leg rules",
)
def ranks(ctx: PeriodContext, params: RanksParams, state: np.ndarray | None) -> ComponentResult:
    """Compute this period's paid-as ranks (``extra["rank"]``) and the lifetime best rank.

    The carried state is the highest rank ever held (``extra["rank_achieved"]``, the title);
    components pay on the paid-as rank.
    """
    n = ctx.inp.n
    if params.use_given and ctx.inp.rank is not None:
        rank = np.asarray(ctx.inp.rank, dtype=np.int16)
    else:
        rank = compute_ranks(ctx, params)
    achieved = rank.copy()
    if state is not None:
        m = min(n, state.shape[0])
        achieved[:m] = np.maximum(achieved[:m], state[:m])
    return ComponentResult(
        pay=np.zeros(n),
        state=achieved,
        extra={"rank": rank, "rank_achieved": achieved},
    )
