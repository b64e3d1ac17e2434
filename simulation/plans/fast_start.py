"""Fast start / enrollment bonus, ``shared/PLANS.md`` section 7.

* Percent mode (doTERRA): a new recruit's BV this period (``period - joined_period <
  window_periods``) pays ``f_g x BV`` to its ``g``-th enroller up the sponsor chain. With
  ``compression = "none"`` (doTERRA: "no compression ... unearned bonuses do not roll up") the
  ``g``-th enroller is the ``g``-th physical ancestor and an unqualified one's share is breakage;
  with ``"dynamic"`` unqualified ancestors are skipped.
* Flat mode: ``amount`` per new recruit of this period (with a starter kit when ``requires_kit``)
  to the enroller (the nearest qualified ancestor with ``"dynamic"``).
* ``exclude_from_unilevel`` (doTERRA: "No Uni-level Bonus is paid on these orders"): the fast
  start's ``prepare`` hook marks the new recruits' volume before the unilevel runs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.plans.base import ComponentResult, Params, PeriodContext, register


class FastStartParams(Params):
    """The ``[fast_start]`` table."""

    mode: Literal["percent", "flat"] = Field(
        "percent",
        description="'percent': shares of new recruits' BV by enroller generation (doTERRA); "
        "'flat': an amount per new recruit to the enroller.",
    )
    percentages: list[float] = Field(
        default_factory=lambda: [0.20, 0.10, 0.05],
        min_length=1,
        max_length=10,
        description="Percent mode: share of the recruit's BV paid to the 1st, 2nd, ... enroller "
        "up the sponsor chain. Default doTERRA 20/10/5%.",
    )
    window_periods: int = Field(
        2,
        ge=1,
        le=1200,
        description="Percent mode: periods after joining whose orders count (doTERRA 60 days = "
        "2 monthly periods; the joining period is the first).",
    )
    amount: float = Field(
        0.0, ge=0, description="Flat mode: money paid to the enroller per qualifying recruit."
    )
    requires_kit: bool = Field(
        True,
        description="Flat mode: only recruits who bought a starter kit this period count "
        "(PeriodInput.kit_bought; if absent, everyone who joined this period).",
    )
    min_pv: float | None = Field(
        None,
        ge=0,
        description="Enroller's monthly PV to earn; default the plan's qualification.min_pv "
        "(doTERRA: a 100 PV LRP order).",
    )
    compression: Literal["none", "dynamic"] = Field(
        "none",
        description="'none' (doTERRA): an unqualified enroller's share is breakage; 'dynamic': "
        "unqualified ancestors are skipped.",
    )
    exclude_from_unilevel: bool = Field(
        False,
        description="Percent mode: the unilevel does not pay on new recruits' orders within the "
        "window (doTERRA: true).",
    )

    @model_validator(mode="after")
    def _coherent(self) -> FastStartParams:
        if any(not (0 <= p <= 1) for p in self.percentages):
            raise ValueError("each percentage must be a share between 0 and 1 (0.20 = 20%)")
        if sum(self.percentages) > 1:
            raise ValueError(f"percentages add up to {sum(self.percentages):.3f} > 1")
        if self.mode == "flat" and self.amount <= 0:
            raise ValueError("mode 'flat' needs amount > 0")
        if self.mode == "flat" and self.exclude_from_unilevel:
            raise ValueError("exclude_from_unilevel applies to mode 'percent' (orders) only")
        return self


def in_window(ctx: PeriodContext, params: FastStartParams) -> np.ndarray:
    """bool[n]: active new recruits whose orders this period count for the fast start."""
    inp = ctx.inp
    age = inp.period - inp.joined_period
    return inp.active & (inp.joined_period >= 0) & (age >= 0) & (age < params.window_periods)


def qualifying_recruits(ctx: PeriodContext, params: FastStartParams) -> np.ndarray:
    """bool[n]: flat mode, active recruits of this period (with a kit when required)."""
    inp = ctx.inp
    new = inp.active & (inp.joined_period == inp.period)
    if params.requires_kit and inp.kit_bought is not None:
        new &= inp.kit_bought
    return new


def _prepare(ctx: PeriodContext, params: FastStartParams) -> None:
    if params.exclude_from_unilevel:
        ctx.mark_unilevel_excluded(in_window(ctx, params) & (ctx.inp.bv > 0))


@register("fast_start", FastStartParams, description="bonus on new recruits' orders or kits")
def fast_start(ctx: PeriodContext, params: FastStartParams, state: None) -> ComponentResult:
    """Pay the fast-start (enrollment) bonus for one period."""
    inp = ctx.inp
    n = inp.n
    qualified = ctx.qualified(params.min_pv)
    parent = ctx.forest.parent
    step = parent if params.compression == "none" else ctx.forest.nearest_ancestor(qualified)
    if params.mode == "flat":
        src = np.flatnonzero(qualifying_recruits(ctx, params))
        share = np.array([1.0])
        vol = np.full(src.size, params.amount)
    else:
        src = np.flatnonzero(in_window(ctx, params) & (inp.bv > 0))
        share = np.asarray(params.percentages, dtype=np.float64)
        vol = inp.bv[src].astype(np.float64)
    max_pay = float(vol.sum() * share.sum())
    pay = np.zeros(n)
    u = step[src].astype(np.int64)
    for g in range(share.size):
        keep = u >= 0
        u, vol = u[keep], vol[keep]
        if not u.size:
            break
        paid = qualified[u]
        pay += np.bincount(u[paid], weights=share[g] * vol[paid], minlength=n)
        u = step[u].astype(np.int64)
    return ComponentResult(pay=pay, max_pay=max_pay)


fast_start.prepare = _prepare
