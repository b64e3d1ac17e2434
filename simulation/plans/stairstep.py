"""Stairstep-breakaway (differential) bonus with generation overrides (``docs/plans.md``).

Modelled on the Amway Sales & Marketing Plan. Bottom-up, level by level:

* ``GPV(u) = PV(u) + sum GPV(c)`` over children ``c`` that have not broken away, ``GBV`` the same
  over BV; ``pct(u) = schedule(GPV(u))`` (inclusive lower bounds, 0 below the first);
  ``c`` has broken away when ``pct(c) >= breakaway_at``.
* ``gross(u) = pct(u) x GBV(u)``; ``net(u) = gross(u) - sum gross(c)`` over the children that have
  not broken away. Telescoping: the bonuses inside one group sum to ``pct(leader) x GBV(leader)``,
  so no BV unit is paid more than the top percentage.
* An unqualified distributor's net is breakage (default) or rolls up to the nearest qualified
  ancestor; its gross is still deducted from its sponsor (the differential is structural).
* Overrides: for each broken-away leader ``b``, walk up from ``sponsor(b)`` with ``gen = 1``; an
  ancestor that is qualified with ``pct >= min_pct`` receives ``o_gen x GBV(b)`` (every such
  ancestor of the generation; ``payees = "first_eligible"``: only the nearest); every leader
  passed ends a generation (``override_compression``: only eligible leaders do); stop after
  ``G`` generations. The theoretical maximum (for breakage) pays, in each generation, every
  ancestor at ``min_pct`` or above as if qualified (at least one payee per generation, also for
  the generations above the root).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from simulation.plans.base import ComponentResult, LevelSums, Params, PeriodContext, register

AMWAY_EUROPE_THRESHOLDS = [200.0, 600.0, 1200.0, 2400.0, 4000.0, 7000.0, 10000.0]
AMWAY_EUROPE_PERCENTAGES = [0.03, 0.06, 0.09, 0.12, 0.15, 0.18, 0.21]


class OverrideParams(Params):
    """The ``[stairstep.override]`` table: generation (leadership) overrides on breakaway groups."""

    percentages: list[float] = Field(
        default_factory=lambda: [0.04],
        min_length=1,
        max_length=20,
        description="Share of each breakaway group's GBV paid per generation (0.04 = 4%). Amway "
        "leadership bonus: 4% on each 21% group [amwaywiki].",
    )
    min_pct: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The earner's own stairstep percentage needed (Amway: 0.15); default "
        "breakaway_at (generic breakaway plans: the earner must be a leader itself).",
    )
    override_compression: bool = Field(
        False,
        description="False (default): every leader passed ends a generation, an ineligible "
        "one's override is breakage. True: only eligible leaders end a generation.",
    )
    payees: Literal["every_eligible", "first_eligible"] = Field(
        "every_eligible",
        description="Who is paid within one generation: 'every_eligible' (default, the "
        "published rule: every qualified ancestor at min_pct or above, generations counted by "
        "breakaway leaders passed [Amway leadership bonus; themodeler generational bonus]) or "
        "'first_eligible' (only the nearest such ancestor; assumption: a one-payee variant "
        "some engines use, kept for comparison).",
    )

    @model_validator(mode="after")
    def _shares(self) -> OverrideParams:
        if any(not (0 <= p <= 1) for p in self.percentages):
            raise ValueError("override percentages are shares between 0 and 1 (0.04 = 4%)")
        return self


class StairstepParams(Params):
    """The ``[stairstep]`` table."""

    thresholds: list[float] = Field(
        default_factory=lambda: list(AMWAY_EUROPE_THRESHOLDS),
        min_length=1,
        max_length=50,
        description="Monthly group PV (points) at which each percentage starts; inclusive, "
        "strictly increasing. Default Amway Europe: 200 ... 10,000 PV.",
    )
    percentages: list[float] = Field(
        default_factory=lambda: list(AMWAY_EUROPE_PERCENTAGES),
        min_length=1,
        max_length=50,
        description="Performance-bonus share of GBV at each threshold (0.03 = 3%); "
        "non-decreasing. Default Amway Europe: 3 ... 21%.",
    )
    breakaway_at: float | None = Field(
        None,
        gt=0,
        le=1,
        description="A group at this percentage or above breaks away from its sponsor's group; "
        "default the top percentage (Amway Europe 21%).",
    )
    min_pv_to_earn: float | None = Field(
        None,
        ge=0,
        description="Own PV (points) to be paid the net bonus; default the plan's "
        "qualification.min_pv (Amway ANZ: 50 PV).",
    )
    unqualified_policy: Literal["breakage", "roll_up"] = Field(
        "breakage",
        description="An unqualified distributor's net bonus: 'breakage' (kept by the company, "
        "themodeler) or 'roll_up' to the nearest qualified ancestor (Amway ANZ 2008).",
    )
    override: OverrideParams | None = Field(
        None, description="Generation overrides on breakaway groups; absent = none."
    )

    @model_validator(mode="after")
    def _schedule(self) -> StairstepParams:
        t, p = self.thresholds, self.percentages
        if len(t) != len(p):
            raise ValueError(f"{len(t)} thresholds but {len(p)} percentages")
        if any(b <= a for a, b in pairwise(t)):
            raise ValueError(f"thresholds must be strictly increasing, got {t}")
        if any(not (0 <= x <= 1) for x in p):
            raise ValueError("percentages are shares between 0 and 1 (0.21 = 21%)")
        if any(b < a for a, b in pairwise(p)):
            # A decreasing schedule makes net(u) < 0 where a child out-earns its sponsor.
            raise ValueError(f"percentages must be non-decreasing, got {p}")
        if self.breakaway_at is not None and self.breakaway_at > p[-1]:
            raise ValueError(
                f"breakaway_at = {self.breakaway_at} is above the top percentage {p[-1]}: "
                "nobody could break away"
            )
        return self

    @property
    def breakaway(self) -> float:
        """Breakaway percentage (default: the top one)."""
        return self.percentages[-1] if self.breakaway_at is None else self.breakaway_at


def schedule_pct(gpv: np.ndarray, params: StairstepParams) -> np.ndarray:
    """float64[m]: the schedule's percentage for each group PV (inclusive lower bounds)."""
    thr = np.asarray(params.thresholds, dtype=np.float64)
    pct = np.concatenate(([0.0], np.asarray(params.percentages, dtype=np.float64)))
    return pct[np.searchsorted(thr, gpv, side="right")]


def _member_volumes(ctx: PeriodContext, params: StairstepParams):
    """Bottom-up group volumes, percentages and gross bonuses over the forest's members.

    Returns ``(gpv, gbv, pct, gross, child_gross, breakaway)`` per member (``member_slots``
    order), ``breakaway`` marking members whose group left their sponsor's (roots excluded).
    Worked over the members' positions (each level a slice, the same additions in the same
    order as over the n rows): non-members keep their own volume and have no percentage.
    """
    inp = ctx.inp
    forest = ctx.forest
    # Inactive rows' volume counts as in the unilevel and the cap's revenue (ctx.volume).
    pv, bv = ctx.volume(inp.pv), ctx.volume(inp.bv)
    members, _ = forest.member_slots()
    bounds, pslot = forest.member_levels()
    m = members.size
    gpv_m, gbv_m = pv[members], bv[members]
    pct_m, gross_m, child_m = np.zeros(m), np.zeros(m), np.zeros(m)
    broke_m = np.zeros(m, dtype=bool)
    at = params.breakaway
    for d in range(bounds.size - 2, -1, -1):
        lo, hi = bounds[d], bounds[d + 1]
        # Every child's group is complete once its level is done: fix this level, push up.
        p = schedule_pct(gpv_m[lo:hi], params)
        pct_m[lo:hi] = p
        g = p * gbv_m[lo:hi]
        gross_m[lo:hi] = g
        has_parent = pslot[lo:hi] >= 0
        leaves = has_parent & (p >= at)
        broke_m[lo:hi] = leaves
        stays = has_parent & ~leaves
        kids = np.flatnonzero(stays) + lo
        if kids.size:
            par = pslot[kids]
            np.add.at(gpv_m, par, gpv_m[kids])
            np.add.at(gbv_m, par, gbv_m[kids])
            np.add.at(child_m, par, g[stays])
    return gpv_m, gbv_m, pct_m, gross_m, child_m, broke_m


def _by_row(members: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """``slots`` (member positions) ordered by their rows: the order of an n-row mask's rows."""
    return slots[np.argsort(members[slots], kind="stable")]


def _overrides(
    ctx: PeriodContext,
    params: StairstepParams,
    gbv_m: np.ndarray,
    pct_m: np.ndarray,
    broke_m: np.ndarray,
    qualified_m: np.ndarray,
) -> tuple[np.ndarray | None, LevelSums | None, float]:
    """Generation overrides over the members: (float64[members] paid, the sums, maximum).

    The walks go up the members' parent positions; the breakaway groups start in row order
    and each generation's pay is added per level as over the n rows, so every sum is the
    same to the last bit. The paid amounts are None when the plan has no overrides, and are
    in the returned sums only (None) if a row outside the forest was paid.
    """
    ov = params.override
    if ov is None:
        return None, None, 0.0
    pay = LevelSums(ctx)
    members, _ = ctx.forest.member_slots()
    _, parent = ctx.forest.member_levels()
    o = np.asarray(ov.percentages, dtype=np.float64)
    G = o.size
    min_pct = params.breakaway if ov.min_pct is None else ov.min_pct
    eligible = qualified_m & (pct_m >= min_pct)
    leader = pct_m >= params.breakaway
    # A generation ends at every leader passed, or only at eligible ones with compression.
    boundary = leader & eligible if ov.override_compression else leader
    group = _by_row(members, np.flatnonzero(broke_m))
    volume = gbv_m[group]
    first_only = ov.payees == "first_eligible"
    candidate = pct_m >= min_pct  # would be paid if qualified
    # tail[g] = o_g + ... + o_{G-1}: generations a walk leaving the tree does not reach.
    tail = np.concatenate((np.cumsum(o[::-1])[::-1], [0.0]))
    max_pay = float(volume.sum() * o.sum()) if first_only else 0.0
    a = parent[group].astype(np.int64)
    gen = np.zeros(group.size, dtype=np.int64)  # 0-based generation
    done = np.zeros(group.size, dtype=bool)  # first_eligible: this generation already paid
    cands = np.zeros(group.size, dtype=np.int64)  # candidates met in this generation
    while a.size:
        keep = a >= 0
        if not first_only and not keep.all():
            # A walk leaving the tree closes its generation (at least one payee) and counts
            # one payee for each generation above the root.
            out = ~keep
            closing = o[gen[out]] * np.maximum(cands[out], 1) + tail[gen[out] + 1]
            max_pay += float((closing * volume[out]).sum())
        a, gen, done, cands, volume = a[keep], gen[keep], done[keep], cands[keep], volume[keep]
        if not a.size:
            break
        paid = eligible[a] & ~done
        if paid.any():
            pay.add_slots(a[paid], o[gen[paid]] * volume[paid])
        if first_only:
            done |= paid
        cands += candidate[a]
        ends = boundary[a]
        if not first_only and ends.any():
            max_pay += float((o[gen[ends]] * np.maximum(cands[ends], 1) * volume[ends]).sum())
        cands[ends] = 0
        gen = gen + ends
        done &= ~ends
        live = gen < G
        a, gen, done, cands, volume = (
            parent[a[live]].astype(np.int64),
            gen[live],
            done[live],
            cands[live],
            volume[live],
        )
    return pay.member_total(), pay, max_pay


@register("stairstep", StairstepParams, description="stairstep-breakaway differential bonus")
def stairstep(ctx: PeriodContext, params: StairstepParams, state: None) -> ComponentResult:
    """Pay the performance (differential) bonus and the overrides for one period.

    Extra columns: ``stairstep_pct`` (each row's percentage), ``stairstep_gpv`` (personal-group
    PV), ``stairstep_override`` (the override part of the pay).
    """
    inp = ctx.inp
    n = inp.n
    forest = ctx.forest
    # Over the members' positions (the rows paid), put back in n-row arrays at the end: every
    # row outside the forest has no group bonus, so the same arrays to the last bit.
    members, _ = forest.member_slots()
    _, pslot = forest.member_levels()
    gpv_m, gbv_m, pct_m, gross_m, child_m, broke_m = _member_volumes(ctx, params)
    # net >= 0 when PV >= 0 (monotone schedule); clip rounding noise and negative-PV cases.
    net_m = np.maximum(gross_m - child_m, 0.0)
    qualified = ctx.qualified(params.min_pv_to_earn)
    qualified_m = qualified[members]
    pay_m = np.where(qualified_m, net_m, 0.0)
    override_m, sums, override_max = _overrides(ctx, params, gbv_m, pct_m, broke_m, qualified_m)
    if params.unqualified_policy == "roll_up" or (sums is not None and override_m is None):
        pay = np.zeros(n)
        pay[members] = pay_m
        if params.unqualified_policy == "roll_up":
            net = np.zeros(n)
            net[members] = net_m
            target = forest.nearest_ancestor(qualified)
            up = np.flatnonzero(~qualified & (net > 0) & (target >= 0))
            pay += np.bincount(target[up], weights=net[up], minlength=n)
        override = np.zeros(n) if sums is None else sums.total()
        total = pay + override
    else:
        override = np.zeros(n)
        total = np.zeros(n)
        if override_m is None:
            total[members] = pay_m + 0.0  # (as pay + zeros: a -0.0 becomes 0.0)
        else:
            override[members] = override_m
            total[members] = pay_m + override_m
    # Breakaway groups and roots, summed in row order as over an n-row mask.
    tops = _by_row(members, np.flatnonzero(broke_m | (pslot < 0)))
    max_pay = float(gross_m[tops].sum()) + override_max
    pct = np.zeros(n)
    pct[members] = pct_m
    pv = ctx.volume(inp.pv)
    gpv = pv.copy()
    gpv[members] = gpv_m
    return ComponentResult(
        pay=total,
        max_pay=max_pay,
        extra={"stairstep_pct": pct, "stairstep_gpv": gpv, "stairstep_override": override},
    )
