"""Binary (two-leg) plan, ``docs/plans.md``, Binary.

Placement tree with at most two children per node (``L`` = 0, ``R`` = 1), separate from the
sponsor tree and carried from period to period in the component's state together with each
distributor's carry-over (see :mod:`simulation.plans.placement` for the spillover rules).

For each placed distributor ``u`` in one period:

* ``new_L(u)`` = Σ BV of the whole placement subtree under ``u``'s left child (unlimited depth;
  an inactive row never blocks it, and its own BV counts unless the plan's
  ``qualification.inactive_volume = "excluded"``); likewise ``new_R``. ``u``'s own BV is in
  neither leg.
* ``tot = carry + new`` per side.
* **pay leg** (default): ``matched = min(tot_L, tot_R)``, ``paid = min(pct(u) x matched, cap)``;
  **cycle**: ``cycles`` = the most cycles of ``a`` + ``b`` volume the two legs hold (the side
  giving ``b`` is chosen cycle by cycle), ``paid = min(min(cycles, max_cycles) x amount, cap)``.
* carry-out = ``tot - used`` per side, ``used`` = the matched volume (``capped_volume = "flush"``)
  or only the paid-for volume (``"carry"``), then limited to ``carry_cap``.
* not binary-qualified (inactive, PV below ``min_pv``, or without a personally sponsored
  qualified distributor in each leg when ``require_sponsored_each_leg``): paid nothing; carry
  reset to 0 (``inactive_policy = "flush"``) or kept (``"accumulate"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.plans.base import ComponentResult, Params, PeriodContext, register
from simulation.plans.placement import PlacementTree, place_period, subtree_sum

# Float noise guard when turning leg volume into whole cycles (volumes are sums of floats).
_EPS = 1e-9


class BinaryParams(Params):
    """The ``[binary]`` table."""

    variant: Literal["pay_leg", "cycle"] = Field(
        "pay_leg",
        description="'pay_leg': pct of the weaker leg's volume (InfoTrax: usually 10%); "
        "'cycle': a fixed amount per cycle of volume on both legs.",
    )
    pct: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Pay leg: share of the matched (weaker-leg) volume paid (0.10 = 10%).",
    )
    pct_by_rank: dict[str, float] | None = Field(
        None,
        description="Pay leg: share by paid-as rank name; a rank not listed takes the nearest "
        "listed rank below it, a distributor below every listed rank takes pct. Needs [ranks].",
    )
    cycle_volume: list[float] = Field(
        default_factory=lambda: [200.0, 200.0],
        min_length=2,
        max_length=2,
        description="Cycle: volume one cycle takes from the two legs, smaller first (Prime My "
        "Body 200/200; Beachbody-style 1/3-2/3: [100, 200], the side giving the larger share "
        "re-chosen cycle by cycle).",
    )
    amount_per_cycle: float = Field(0.0, ge=0, description="Cycle: money paid per cycle.")
    max_cycles_per_period: int | None = Field(
        None,
        ge=0,
        le=2**31 - 1,
        description="Cycle: most cycles paid per period (None: no limit).",
    )
    cap_per_period: float | None = Field(
        None, ge=0, description="Most a distributor earns from the binary in one period."
    )
    cap_by_rank: dict[str, float] | None = Field(
        None,
        description="Per-period cap by paid-as rank name (ranks not listed take the nearest "
        "listed rank below; below all: cap_per_period). Needs [ranks].",
    )
    capped_volume: Literal["flush", "carry"] = Field(
        "flush",
        description="When the cap binds: 'flush' consumes all matched volume; 'carry' consumes "
        "only the paid-for volume (paid / pct), the rest stays in both legs.",
    )
    carry_cap: float | None = Field(
        None, ge=0, description="Most volume carried to the next period per side (excess flushed)."
    )
    min_pv: float | None = Field(
        None, ge=0, description="Monthly PV to earn; default the plan's qualification.min_pv."
    )
    require_sponsored_each_leg: bool = Field(
        False,
        description="Binary qualification also needs a personally sponsored qualified "
        "distributor anywhere in each leg (HB Naturals, Be Infinity).",
    )
    inactive_policy: Literal["flush", "accumulate"] = Field(
        "flush",
        description="A distributor who is not binary-qualified: 'flush' resets the carry to 0 "
        "and discards this period's volume; 'accumulate' keeps adding it up unpaid.",
    )
    placement_rule: Literal["extreme_outside", "balanced", "weak_leg"] = Field(
        "extreme_outside",
        description="Spillover: 'extreme_outside' (end of the sponsor's outside line), "
        "'balanced' (breadth-first from the sponsor), 'weak_leg' (BFS inside the sponsor's "
        "weaker leg).",
    )
    preferred_leg: Literal["left", "right", "alternate"] = Field(
        "alternate",
        description="extreme_outside: the side each sponsor sends its recruits to; 'alternate' "
        "= left, right, left ... per sponsor. An imported 'leg' column without placement_id "
        "overrides it per recruit.",
    )
    weak_measure: Literal["count", "volume"] = Field(
        "count",
        description="weak_leg: 'count' of active members or 'volume' = their PV this period.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> BinaryParams:
        a, b = self.cycle_volume
        if self.variant == "cycle":
            if not (0 < a <= b):
                raise ValueError(f"cycle_volume must be [a, b] with 0 < a <= b, got {[a, b]}")
            if self.amount_per_cycle <= 0:
                raise ValueError("variant 'cycle' needs amount_per_cycle > 0")
        if self.pct_by_rank and any(not (0 <= p <= 1) for p in self.pct_by_rank.values()):
            raise ValueError("pct_by_rank values must be shares between 0 and 1 (0.10 = 10%)")
        return self


@dataclass
class BinaryState:
    """Carried between periods: the placement tree and each row's carry (float64[n, 2])."""

    tree: PlacementTree
    carry: np.ndarray

    @classmethod
    def empty(cls, n: int) -> BinaryState:
        """Nobody placed, no carry."""
        return cls(PlacementTree.empty(n, 2), np.zeros((n, 2), dtype=np.float64))

    def grow(self, n: int) -> None:
        """Extend to ``n`` rows."""
        self.tree.grow(n)
        extra = n - self.carry.shape[0]
        if extra > 0:
            self.carry = np.concatenate((self.carry, np.zeros((extra, 2))))


def by_rank(ctx: PeriodContext, table: dict[str, float] | None, default: float) -> np.ndarray:
    """float64[n]: the value of each row's paid-as rank in a ``{rank: value}`` table.

    A rank not listed takes the nearest listed rank below it; ``default`` applies below every
    listed rank, to rows without a rank, and when there is no table.
    """
    n = ctx.inp.n
    if not table or ctx.rank is None or not ctx.rank_names:
        return np.full(n, default, dtype=np.float64)
    values = np.empty(len(ctx.rank_names), dtype=np.float64)
    current = default
    for i, name in enumerate(ctx.rank_names):
        current = table.get(name, current)
        values[i] = current
    rank = np.asarray(ctx.rank)
    return np.where(rank >= 0, values[np.maximum(rank, 0)], default)


def sponsored_in_each_leg(tree: PlacementTree, sponsor: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """bool[n]: the row has a personally sponsored row with ``ok`` in each placement leg.

    For each ``ok`` row ``x`` with sponsor ``s``, the ancestor of ``x`` one level below ``s``
    (if ``x`` is in ``s``'s placement subtree) tells the leg.
    """
    n = tree.n
    x = np.flatnonzero(ok & (sponsor >= 0) & tree.placed)
    s = sponsor[x].astype(np.int64)
    head = tree.ancestor_below(x, s)
    hit = head >= 0
    has = np.zeros((n, 2), dtype=bool)
    has[s[hit], tree.position[head[hit]]] = True
    return has.all(axis=1)


def max_cycles(X: np.ndarray, Y: np.ndarray, a: float, b: float) -> tuple[np.ndarray, ...]:
    """Most cycles of ``a`` + ``b`` volume from legs ``X``, ``Y`` and the volume they use.

    A cycle takes ``a`` from one leg and ``b`` from the other (``a <= b``); with ``c`` cycles of
    which ``c1`` take ``b`` from ``X``, ``X`` gives ``c·a + c1·(b − a)`` and ``Y`` gives
    ``c·a + (c − c1)·(b − a)``. ``c`` is the largest count for which some integer ``c1`` fits
    (binary search; feasibility is monotone in ``c``), and ``c1`` the split leaving the legs
    most even — what choosing the stronger side cycle by cycle does.

    Returns:
        (cycles int64[m], used_X float64[m], used_Y float64[m]).
    """
    X = np.maximum(X, 0.0)
    Y = np.maximum(Y, 0.0)
    d = b - a
    hi = np.floor(np.minimum(np.minimum(X, Y) / a, (X + Y) / (a + b)) + _EPS).astype(np.int64)
    if d == 0:
        c = hi
        return c, c * a, c * a

    def bounds(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c1_hi = np.minimum(c, np.floor((X - c * a) / d + _EPS)).astype(np.int64)
        c1_lo = np.maximum(0, c - np.floor((Y - c * a) / d + _EPS)).astype(np.int64)
        return c1_lo, c1_hi

    lo = np.zeros_like(hi)
    top = hi.copy()
    while (lo < top).any():
        mid = (lo + top + 1) // 2
        c1_lo, c1_hi = bounds(mid)
        feasible = (c1_lo <= c1_hi) & (mid * a <= np.minimum(X, Y) + _EPS)
        lo = np.where(feasible, mid, lo)
        top = np.where(feasible, top, mid - 1)
    c = lo
    c1_lo, c1_hi = bounds(c)
    even = np.floor((X - Y + c * d) / (2 * d) + 0.5).astype(np.int64)
    c1 = np.clip(even, c1_lo, np.maximum(c1_lo, c1_hi))
    return c, c * a + c1 * d, c * a + (c - c1) * d


def _check(plan, params: BinaryParams) -> str | None:
    for key in ("pct_by_rank", "cap_by_rank"):
        table = getattr(params, key)
        if not table:
            continue
        ranks = plan.components.get("ranks")
        if ranks is None:
            return f"{key} needs a [ranks] table in the plan"
        unknown = sorted(set(table) - set(ranks.names))
        if unknown:
            return f"{key} names unknown ranks {unknown} (ranks: {ranks.names})"
    return None


@register(
    "binary",
    BinaryParams,
    description="weaker-leg pay (or cycles) over a placement tree",
    placement_width=lambda params: 2,
)
def binary(ctx: PeriodContext, params: BinaryParams, state: BinaryState | None) -> ComponentResult:
    """Place this period's recruits, then pay the binary and update each carry-over."""
    inp = ctx.inp
    n = inp.n
    if state is None:
        state = BinaryState.empty(n)
    state.grow(n)
    tree = state.tree
    place_period(
        tree,
        inp,
        rule=params.placement_rule,
        preferred=params.preferred_leg,
        weak_measure=params.weak_measure,
    )
    placed = tree.placed
    volume = ctx.volume(inp.bv)
    sub = subtree_sum(tree.forest(), volume)
    kids = tree.kids
    new = np.where(kids >= 0, sub[np.maximum(kids, 0)], 0.0)
    tot = np.where(placed[:, None], state.carry + new, 0.0)

    qualified = ctx.qualified(params.min_pv) & placed
    if params.require_sponsored_each_leg:
        qualified &= sponsored_in_each_leg(tree, inp.sponsor, ctx.qualified(params.min_pv))
    base_cap = np.inf if params.cap_per_period is None else params.cap_per_period
    cap = by_rank(ctx, params.cap_by_rank, base_cap)

    if params.variant == "pay_leg":
        pct = by_rank(ctx, params.pct_by_rank, params.pct)
        matched = tot.min(axis=1)
        raw = pct * matched
        paid = np.where(qualified, np.minimum(raw, cap), 0.0)
        used = matched
        if params.capped_volume == "carry":
            capped = raw > cap
            used = np.where(capped & (pct > 0), paid / np.where(pct > 0, pct, 1.0), matched)
        used = np.stack((used, used), axis=1)
        top_pct = max([params.pct, *(params.pct_by_rank or {}).values()])
        max_pay = float(top_pct * matched[placed].sum())
    else:
        a, b = params.cycle_volume
        amount = params.amount_per_cycle
        cycles, used_l, used_r = max_cycles(tot[:, 0], tot[:, 1], a, b)
        paid_cycles = cycles
        if params.max_cycles_per_period is not None:
            paid_cycles = np.minimum(cycles, params.max_cycles_per_period)
        raw = paid_cycles * amount
        paid = np.where(qualified, np.minimum(raw, cap), 0.0)
        used = np.stack((used_l, used_r), axis=1)
        if params.capped_volume == "carry":
            # Only the cycles paid for (a fraction where the money cap cuts one) use volume.
            share = np.where(cycles > 0, (paid / amount) / np.maximum(cycles, 1), 0.0)
            used = used * share[:, None]
        max_pay = float(cycles[placed].sum() * amount)

    carry = np.maximum(tot - used, 0.0)
    if params.inactive_policy == "flush":
        carry[~qualified] = 0.0
    else:
        carry[~qualified] = tot[~qualified]
    if params.carry_cap is not None:
        carry = np.minimum(carry, params.carry_cap)
    carry[~placed] = 0.0
    state.carry = carry
    extra = {
        "binary_left": new[:, 0],
        "binary_right": new[:, 1],
        "binary_carry_left": carry[:, 0].copy(),
        "binary_carry_right": carry[:, 1].copy(),
        "binary_qualified": qualified,
    }
    return ComponentResult(pay=paid, max_pay=max_pay, state=state, extra=extra)


binary.check_plan = _check
