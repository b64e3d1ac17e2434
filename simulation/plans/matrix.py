"""Forced matrix (width x depth), ``docs/plans.md``, Forced matrix.

Placement: each recruit takes the first open position breadth-first from its sponsor
(``spill_order = "bfs_sponsor"``: level by level, left to right; or ``"branch_first"``: position
0 under every node of a level before any position 1), or from the root of the sponsor's tree
(``spill_root = "company"``: one company-wide matrix). A node holds at most ``width`` children,
numbered in arrival order. The placement tree is carried between periods; quitters keep their
position (no roll-up, see :mod:`simulation.plans.placement`).

Pay, for each source ``v``: the upline at placement distance ``k <= depth`` receives
``p_k x BV(v)`` (``percentages``; every row with BV is a source, an inactive one too unless
``qualification.inactive_volume = "excluded"``) or a flat ``x_k``
(``flat_per_position``; only qualified positions count: an inactive or unqualified position
pays nobody). Earners must be qualified. ``compression = "none"``: an unqualified upline holds
its level and its share is breakage; ``"dynamic"``: unqualified uplines are skipped and the
level passes to the next qualified one. Volume below ``depth`` levels pays that upline nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.plans.base import ComponentResult, Params, PeriodContext, register
from simulation.plans.placement import PlacementTree, follow, place_period


class MatrixParams(Params):
    """The ``[matrix]`` table."""

    width: int = Field(3, ge=1, le=64, description="Children per position (frontline limit).")
    depth: int = Field(7, ge=1, le=30, description="Levels paid below each position.")
    percentages: list[float] | None = Field(
        None,
        description="Share of BV paid to the upline at level 1 … depth (0.05 = 5%). One of "
        "percentages / flat_per_position.",
    )
    flat_per_position: list[float] | None = Field(
        None,
        description="Money paid to the upline at level 1 … depth per qualified position "
        "(e.g. $1 per position: everlasting-gold's matrix).",
    )
    min_pv: float | None = Field(
        None, ge=0, description="Monthly PV to earn; default the plan's qualification.min_pv."
    )
    compression: Literal["none", "dynamic"] = Field(
        "none",
        description="'none': an unqualified upline holds its level (share is breakage); "
        "'dynamic': it is skipped.",
    )
    spill_order: Literal["bfs_sponsor", "branch_first"] = Field(
        "bfs_sponsor", description="Order in which open positions under the start are filled."
    )
    spill_root: Literal["sponsor", "company"] = Field(
        "sponsor",
        description="Where the search for an open position starts: the sponsor, or the root "
        "of the sponsor's tree (a company-wide matrix).",
    )

    @model_validator(mode="after")
    def _coherent(self) -> MatrixParams:
        given = [x for x in (self.percentages, self.flat_per_position) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of percentages, flat_per_position")
        table = given[0]
        if len(table) != self.depth:
            raise ValueError(f"the table has {len(table)} levels but depth is {self.depth}")
        if any(x < 0 for x in table):
            raise ValueError("amounts and percentages must be >= 0")
        if self.percentages is not None:
            if any(p > 1 for p in self.percentages):
                raise ValueError("each percentage must be a share between 0 and 1 (0.05 = 5%)")
            if sum(self.percentages) > 1:
                raise ValueError(f"percentages add up to {sum(self.percentages):.3f} > 1")
        return self


@dataclass
class MatrixState:
    """Carried between periods: the placement tree."""

    tree: PlacementTree


def nearest_ok_ancestor(parent: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """int64[n]: nearest strict ancestor with ``ok`` (-1 where none).

    Pointer jumping: placement trees can be deeper than is comfortable level by level.
    """
    parent = np.asarray(parent, dtype=np.int64)
    has = parent >= 0
    p = np.maximum(parent, 0)
    stop = ~has | ok[p]
    # Chain through non-ok parents; the end of a chain is its first ok parent (or none).
    nxt = np.where(stop, -1, parent)
    end = np.where(has & ok[p], parent, -1)
    return follow(nxt, end)


@register(
    "matrix",
    MatrixParams,
    description="forced width x depth matrix with spillover",
    placement_width=lambda params: params.width,
)
def matrix(ctx: PeriodContext, params: MatrixParams, state: MatrixState | None) -> ComponentResult:
    """Place this period's recruits in the matrix, then pay ``depth`` levels up."""
    inp = ctx.inp
    n = inp.n
    if state is None:
        state = MatrixState(PlacementTree.empty(n, params.width))
    tree = state.tree
    place_period(tree, inp, rule=params.spill_order, spill_root=params.spill_root)
    placed = tree.placed
    parent = np.where(placed, tree.parent, -1).astype(np.int64)
    qualified = ctx.qualified(params.min_pv) & placed
    if params.percentages is not None:
        table = np.asarray(params.percentages, dtype=np.float64)
        bv = ctx.volume(inp.bv)
        src = np.flatnonzero(placed & (bv > 0))
        amount = bv[src]
        max_pay = float(amount.sum() * table.sum())
    else:
        table = np.asarray(params.flat_per_position, dtype=np.float64)
        src = np.flatnonzero(qualified)
        amount = np.ones(src.size)
        max_pay = float(src.size * table.sum())
    step = parent if params.compression == "none" else nearest_ok_ancestor(parent, qualified)
    pay = np.zeros(n, dtype=np.float64)
    u = step[src]
    for k in range(params.depth):
        live = u >= 0
        u, amount = u[live], amount[live]
        if not u.size:
            break
        earn = qualified[u]
        pay += np.bincount(u[earn], weights=table[k] * amount[earn], minlength=n)
        u = step[u]
    return ComponentResult(pay=pay, max_pay=max_pay, state=state)
