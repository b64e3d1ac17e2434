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


def group_volumes(ctx: PeriodContext, params: StairstepParams):
    """Bottom-up group volumes, percentages and gross bonuses.

    Returns:
        (gpv, gbv, pct, gross, child_gross, breakaway) as float64[n] arrays and a bool[n] mask
        ``breakaway`` of rows whose group left their sponsor's (roots excluded).
    """
    inp = ctx.inp
    n = inp.n
    forest = ctx.forest
    # Inactive rows' volume counts as in the unilevel and the cap's revenue (ctx.volume).
    pv, bv = ctx.volume(inp.pv), ctx.volume(inp.bv)
    # Worked over the members' positions (each level a slice, the same additions in the same
    # order as over the n rows), then put back in n-row arrays: non-members keep their own
    # volume and no percentage.
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
    gpv, gbv = pv.copy(), bv.copy()
    gpv[members], gbv[members] = gpv_m, gbv_m
    pct, gross, child_gross = np.zeros(n), np.zeros(n), np.zeros(n)
    pct[members], gross[members], child_gross[members] = pct_m, gross_m, child_m
    broke = np.zeros(n, dtype=bool)
    broke[members] = broke_m
    return gpv, gbv, pct, gross, child_gross, broke


def _overrides(
    ctx: PeriodContext,
    params: StairstepParams,
    gbv: np.ndarray,
    pct: np.ndarray,
    broke: np.ndarray,
    qualified: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Generation overrides: (float64[n] paid, theoretical maximum)."""
    ov = params.override
    if ov is None:
        return np.zeros(ctx.inp.n), 0.0
    pay = LevelSums(ctx)
    o = np.asarray(ov.percentages, dtype=np.float64)
    G = o.size
    parent = ctx.forest.parent
    min_pct = params.breakaway if ov.min_pct is None else ov.min_pct
    eligible = qualified & (pct >= min_pct)
    leader = pct >= params.breakaway
    # A generation ends at every leader passed, or only at eligible ones with compression.
    boundary = leader & eligible if ov.override_compression else leader
    group = np.flatnonzero(broke)
    volume = gbv[group]
    first_only = ov.payees == "first_eligible"
    candidate = pct >= min_pct  # would be paid if qualified
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
            pay.add(a[paid], o[gen[paid]] * volume[paid])
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
    return pay.total(), max_pay


@register("stairstep", StairstepParams, description="stairstep-breakaway differential bonus")
def stairstep(ctx: PeriodContext, params: StairstepParams, state: None) -> ComponentResult:
    """Pay the performance (differential) bonus and the overrides for one period.

    Extra columns: ``stairstep_pct`` (each row's percentage), ``stairstep_gpv`` (personal-group
    PV), ``stairstep_override`` (the override part of the pay).
    """
    inp = ctx.inp
    n = inp.n
    gpv, gbv, pct, gross, child_gross, broke = group_volumes(ctx, params)
    # net >= 0 when PV >= 0 (monotone schedule); clip rounding noise and negative-PV cases.
    net = np.maximum(gross - child_gross, 0.0)
    qualified = ctx.qualified(params.min_pv_to_earn)
    pay = np.where(qualified, net, 0.0)
    if params.unqualified_policy == "roll_up":
        target = ctx.forest.nearest_ancestor(qualified)
        up = np.flatnonzero(~qualified & (net > 0) & (target >= 0))
        pay += np.bincount(target[up], weights=net[up], minlength=n)
    override, override_max = _overrides(ctx, params, gbv, pct, broke, qualified)
    tops = broke | ((ctx.forest.parent < 0) & (ctx.forest.depth >= 0))
    max_pay = float(gross[tops].sum()) + override_max
    return ComponentResult(
        pay=pay + override,
        max_pay=max_pay,
        extra={"stairstep_pct": pct, "stairstep_gpv": gpv, "stairstep_override": override},
    )
