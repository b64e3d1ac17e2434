"""Fast start / enrollment bonus, ``docs/plans.md``, Fast start.

* Percent mode (doTERRA): a new recruit's BV this period (``period - joined_period <
  window_periods``) pays ``f_g x BV`` to its ``g``-th enroller up the sponsor chain. With
  ``compression = "none"`` (doTERRA: "no compression ... unearned bonuses do not roll up") the
  ``g``-th enroller is the ``g``-th physical ancestor and an unqualified one's share is breakage;
  with ``"dynamic"`` unqualified ancestors are skipped.
* ``tree = "enroller"`` walks the enroller chain (``PeriodInput.enroller``) instead: where an
  enroller placed the recruit under someone else (``[placement]``), doTERRA still pays the
  enroller ("Enrollership is important when determining Fast Start"). An enroller who has
  quit is unqualified. Without enroller information the sponsor chain is walked.
* Flat mode: ``amount`` once per new recruit to the enroller (the nearest qualified ancestor
  with ``"dynamic"``), in the first period within ``window_periods`` of joining in which the
  recruit is active and (with ``requires_kit``) bought a starter kit. Who was already paid for is
  carried in the component's state. ``requires_kit`` with no kit information
  (``PeriodInput.kit_bought`` is None) is an error, never an assumption.
* ``exclude_from_unilevel`` (doTERRA: "No Uni-level Bonus is paid on these orders"): the fast
  start's ``prepare`` hook marks the new recruits' volume before the unilevel runs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.errors import DataError
from simulation.plans.base import ComponentResult, LevelSums, Params, PeriodContext, register

NO_KIT_INFO = (
    "fast_start (mode 'flat', requires_kit = true) needs to know who bought a starter kit, and "
    "this period has no kit information: add a kit_bought column (1/0) to the genealogy, run "
    "with --assume-kits to count every recruit of the period as having bought one, or set "
    "requires_kit = false in the plan's [fast_start] table"
)


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
        description="Periods after joining that count, the joining period being the first "
        "(doTERRA 60 days = 2 monthly periods). Percent mode: orders in the window pay; flat "
        "mode: the kit must be bought (or, without requires_kit, the recruit be active) in it.",
    )
    amount: float = Field(
        0.0, ge=0, description="Flat mode: money paid to the enroller per qualifying recruit."
    )
    requires_kit: bool = Field(
        True,
        description="Flat mode: only recruits who bought a starter kit count "
        "(PeriodInput.kit_bought, a genealogy's kit_bought column); without kit information "
        "the period is refused (assumption: a kit is never guessed).",
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
    tree: Literal["sponsor", "enroller"] = Field(
        "sponsor",
        description="Whose chain is paid: the sponsor's (the tree commissions follow) or the "
        "enroller's (doTERRA: the Fast Start goes to who enrolled the recruit, wherever they "
        "placed them).",
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


def qualifying_recruits(
    ctx: PeriodContext, params: FastStartParams, paid_before: np.ndarray | None = None
) -> np.ndarray:
    """bool[n]: flat mode, recruits paid for this period.

    Active, inside the window (``0 <= period - joined_period < window_periods``), with a kit
    bought this period when ``requires_kit``, and not paid for in an earlier period.

    Raises:
        DataError: ``requires_kit``, recruits in the window and no kit information.
    """
    inp = ctx.inp
    new = in_window(ctx, params)
    if params.requires_kit:
        if inp.kit_bought is None:
            if new.any():  # kits would decide who is paid for
                raise DataError(NO_KIT_INFO)
            return new
        new &= inp.kit_bought
    if paid_before is not None:
        new &= ~paid_before[: inp.n]
    return new


def orders_in_window(ctx: PeriodContext, params: FastStartParams) -> np.ndarray:
    """bool[n]: percent mode, recruits in their window whose orders pay.

    Inactive recruits' orders pay too when their volume counts (``inactive_volume``).
    """
    key = ("orders_in_window", params.window_periods)
    done = ctx.masks.get(key)
    if done is not None:  # (asked before the components run, and again by the component)
        return done
    inp = ctx.inp
    age = inp.period - inp.joined_period
    window = (inp.joined_period >= 0) & (age >= 0) & (age < params.window_periods)
    window = window if ctx.count_inactive_volume else window & inp.active
    window.setflags(write=False)  # shared: read-only so that no caller changes it
    ctx.masks[key] = window
    return window


def _prepare(ctx: PeriodContext, params: FastStartParams) -> None:
    if params.exclude_from_unilevel:
        ctx.mark_unilevel_excluded(orders_in_window(ctx, params) & (ctx.volume(ctx.inp.bv) > 0))


def _sources(
    ctx: PeriodContext, params: FastStartParams, state: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The period's paying recruits, with what each generation gets.

    Returns the recruits' rows, the share per generation, each recruit's volume, and the flat
    mode's new state (who has been paid for; None in percent mode).
    """
    inp = ctx.inp
    n = inp.n
    if params.mode == "flat":
        paid_before = np.zeros(n, dtype=bool)
        if state is not None:
            m = min(n, state.shape[0])
            paid_before[:m] = state[:m]
        counted = qualifying_recruits(ctx, params, paid_before)
        src = np.flatnonzero(counted)
        return src, np.array([1.0]), np.full(src.size, params.amount), paid_before | counted
    bv = ctx.volume(inp.bv)
    src = np.flatnonzero(orders_in_window(ctx, params) & (bv > 0))
    return src, np.asarray(params.percentages, dtype=np.float64), bv[src], None


@register(
    "fast_start",
    FastStartParams,
    description="bonus on new recruits' orders or kits",
    pays_for_recruiting=True,
)
def fast_start(
    ctx: PeriodContext, params: FastStartParams, state: np.ndarray | None
) -> ComponentResult:
    """Pay the fast-start (enrollment) bonus for one period.

    ``state`` (flat mode): bool[n] recruits already paid for in earlier periods.
    """
    if params.tree == "enroller" and ctx.inp.enroller is not None:
        return _by_enroller(ctx, params, state)
    # The enrollers are walked over the forest's members' positions (a recruit outside the
    # forest has no upline); the recruits stay in row order, so the sums are those of a walk
    # over the n rows to the last bit.
    members, slot = ctx.forest.member_slots()
    qualified = ctx.qualified(params.min_pv)[members]
    if params.compression == "none":
        step = ctx.forest.member_levels()[1]
    else:
        step = ctx.forest.nearest_ancestor_slots(qualified)
    src, share, vol, state = _sources(ctx, params, state)
    max_pay = float(vol.sum() * share.sum())
    pay = LevelSums(ctx)
    at = slot[src]
    inside = at >= 0
    u, vol = step[at[inside]].astype(np.int64), vol[inside]
    for g in range(share.size):
        keep = u >= 0
        u, vol = u[keep], vol[keep]
        if not u.size:
            break
        paid = qualified[u]
        pay.add_slots(u[paid], share[g] * vol[paid])
        u = step[u].astype(np.int64)
    return ComponentResult(pay=pay.total(), max_pay=max_pay, state=state)


def _by_enroller(
    ctx: PeriodContext, params: FastStartParams, state: np.ndarray | None
) -> ComponentResult:
    """:func:`fast_start` up the enroller chain (``tree = "enroller"``), over the rows."""
    inp = ctx.inp
    n = inp.n
    enroller = np.asarray(inp.enroller, dtype=np.int64)
    qualified = ctx.qualified(params.min_pv)
    src, share, vol, state = _sources(ctx, params, state)
    max_pay = float(vol.sum() * share.sum())
    pay = np.zeros(n, dtype=np.float64)
    u = enroller[src]
    for g in range(share.size):
        if params.compression == "dynamic":
            # Skip the unqualified: up the chain to the nearest qualified (at most n steps).
            for _ in range(n):
                skip = (u >= 0) & ~qualified[np.maximum(u, 0)]
                if not skip.any():
                    break
                u[skip] = enroller[u[skip]]
        keep = u >= 0
        u, vol = u[keep], vol[keep]
        if not u.size:
            break
        paid = qualified[u]
        np.add.at(pay, u[paid], share[g] * vol[paid])
        u = enroller[u]
    return ComponentResult(pay=pay, max_pay=max_pay, state=state)


fast_start.prepare = _prepare
