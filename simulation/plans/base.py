"""The compensation-plan engine: period inputs, the component registry and the pay pipeline.

A plan is data (a TOML file, see ``docs/plans.md``) plus components. A component is a pure
function ``fn(ctx, params, state) -> ComponentResult`` of one pay period's volumes and trees,
registered by name with :func:`register`; adding one touches neither the model nor this file.

Order of evaluation in one period (``docs/plans.md``):

0. every component's optional ``prepare`` hook (marks volume others skip), 1. ranks (stage
``RANKS``), 2. base components (``BASE``: unilevel, stairstep, binary, matrix,
fast start), 3. components that pay on other components' earnings (``MATCHING``), 4. the
global payout cap (pro rata), breakage and payout ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from simulation.tree import Forest

RANKS, BASE, MATCHING = 0, 1, 2


class Params(BaseModel):
    """Base for component parameters: unknown keys are errors, values are validated.

    Numbers must be finite (``inf`` and ``nan`` are refused).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass
class PeriodInput:
    """Everything one pay period needs, as arrays over ``n`` rows (persons or genealogy rows).

    Attributes:
        period: index of the period (month), 0-based.
        sponsor: int32[n] current sponsor-tree parent (after roll-ups); -1 for roots/non-members.
        pv: float64[n] personal volume this period (points), 0 for non-members.
        bv: float64[n] business (commissionable) volume this period.
        active: bool[n] status is distributor (not quit, not a prospect).
        joined_period: int32[n] period of enrolment, -1 for non-members.
        new_recruits: int rows that joined this period, in join order (placed in that order).
        forest: the sponsor forest grouped by depth; built from ``sponsor`` if None (inactive
            rows keep their place: they are never qualified and carry no volume).
        rank: int16[n] given paid-as rank, or None to let a ``ranks`` component compute it.
        kit_bought: bool[n] bought a starter kit this period (flat fast-start bonus), or None.
        enroller: int[n] who enrolled each row (-1 none), for components that pay the enroller
            rather than the sponsor (``fast_start.tree = "enroller"``), or None.
        placement: int32[n] imported placement parents (binary/matrix) or None to place by rule.
        leg: int8[n] imported binary side (0 left, 1 right, -1 unknown) or None.
        retail_sales: float64[n] money received from non-member customers at retail price, net
            of refunds (for the retail margin), or None.
        given_earnings: component name -> float64[n] earnings computed elsewhere, for the
            plan's components declared ``given = true`` (taken as they are), or None.
        customers: int[n] retail customers of each row this period (for the plan's
            ``qualification.min_retail_customers``), or None.
        customer_pv: float64[n] the part of ``pv`` sold to retail customers (for
            ``min_retail_share`` and ``max_household_pv``), or None.
    """

    period: int
    sponsor: np.ndarray
    pv: np.ndarray
    bv: np.ndarray
    active: np.ndarray
    joined_period: np.ndarray
    new_recruits: np.ndarray
    forest: Forest | None = None
    rank: np.ndarray | None = None
    kit_bought: np.ndarray | None = None
    enroller: np.ndarray | None = None
    placement: np.ndarray | None = None
    leg: np.ndarray | None = None
    retail_sales: np.ndarray | None = None
    given_earnings: dict[str, np.ndarray] | None = None
    customers: np.ndarray | None = None
    customer_pv: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.pv.shape[0])

    @classmethod
    def of(
        cls,
        sponsor,
        pv,
        *,
        bv=None,
        active=None,
        joined_period=None,
        period: int = 0,
        **optional: Any,
    ) -> PeriodInput:
        """A period input from plain sequences (tests, notebooks, small imports).

        ``bv`` defaults to ``pv``, ``active`` to everyone, ``joined_period`` to 0 for everyone,
        ``new_recruits`` to the rows with ``joined_period == period``; other keywords
        (``rank``, ``kit_bought``, ``forest`` ...) are passed through.
        """
        pv = np.asarray(pv, dtype=np.float64)
        n = pv.shape[0]
        joined = (
            np.zeros(n, dtype=np.int32)
            if joined_period is None
            else np.asarray(joined_period, dtype=np.int32)
        )
        for key in ("kit_bought", "rank"):
            if optional.get(key) is not None:
                dtype = bool if key == "kit_bought" else np.int16
                optional[key] = np.asarray(optional[key], dtype=dtype)
        return cls(
            period=period,
            sponsor=np.asarray(sponsor, dtype=np.int32),
            pv=pv,
            bv=pv.copy() if bv is None else np.asarray(bv, dtype=np.float64),
            active=np.ones(n, dtype=bool) if active is None else np.asarray(active, dtype=bool),
            joined_period=joined,
            new_recruits=np.flatnonzero(joined == period),
            **optional,
        )


@dataclass
class PeriodContext:
    """What a component sees: the input plus what earlier stages produced this period.

    Attributes:
        inp: the period's input arrays.
        forest: the sponsor forest grouped by depth.
        default_min_pv: the plan's ``qualification.min_pv``.
        markup: retail price over wholesale.
        rank: int16[n] paid-as rank (-1 none) once a ``RANKS`` component ran, or the given one.
        rank_names: rank names lowest first (the ranks component's ``params.names``).
        earnings: component name -> float64[n] paid by components that already ran (before the
            global cap; after per-distributor caps).
        unilevel_excluded: bool[n] rows whose BV the unilevel does not pay on, or None. Set by
            components' ``prepare`` hooks (fast start ``exclude_from_unilevel``), which the
            engine calls before any component runs; combine with ``mark_unilevel_excluded``.
        count_inactive_volume: the volume of inactive rows counts for their uplines and the
            cap's revenue (the plan's ``qualification.inactive_volume = "counts"``, default).
        kinds: component name -> registered type, for named tables (``[[matching]]``).
        retail_ok: bool[n] rows meeting the plan's retail conditions of pay
            (``qualification.min_retail_customers`` / ``min_retail_share``), or None when the
            plan sets none; :meth:`qualified` requires it.
        masks: read-only bool[n] masks that several components ask for in the same period,
            made by the first (e.g. the fast start's recruits in their window).
    """

    inp: PeriodInput
    forest: Forest
    default_min_pv: float
    markup: float = 0.0
    rank: np.ndarray | None = None
    rank_names: list[str] = field(default_factory=list)
    earnings: dict[str, np.ndarray] = field(default_factory=dict)
    unilevel_excluded: np.ndarray | None = None
    count_inactive_volume: bool = True
    kinds: dict[str, str] = field(default_factory=dict)
    retail_ok: np.ndarray | None = None
    masks: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _total_volume: float | None = field(default=None, repr=False, compare=False)
    _qualified: dict[tuple[float, int], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False
    )

    def kind(self, name: str) -> str:
        """Registered component type of a plan's component ``name`` (a named table's type)."""
        return self.kinds.get(name, name)

    def volume(self, values: np.ndarray) -> np.ndarray:
        """float64[n]: ``values`` (PV or BV) as they count for uplines and the cap's revenue.

        Everyone's volume with ``count_inactive_volume`` (an inactive member is not paid, but
        their purchases pay their uplines); otherwise 0 for inactive rows.
        """
        values = np.asarray(values, dtype=np.float64)
        if self.count_inactive_volume:
            return values
        return np.where(self.inp.active, values, 0.0)

    def total_volume(self) -> float:
        """The period's BV summed as it counts for uplines (:meth:`volume`); made once.

        The cap's revenue (``total_bv``) and every pool read it.
        """
        if self._total_volume is None:
            self._total_volume = float(self.volume(self.inp.bv).sum())
        return self._total_volume

    def qualified(self, min_pv: float | None = None) -> np.ndarray:
        """bool[n]: active, PV >= min_pv (inclusive) and the retail conditions of pay.

        The retail conditions (:attr:`retail_ok`) apply when the plan sets them
        (``docs/plans.md``, Qualification).
        """
        threshold = self.default_min_pv if min_pv is None else min_pv
        # Several components and the pay result ask for the same threshold: made once (three
        # passes over the n rows each), read-only so that no caller changes it for the next.
        key = (float(threshold), id(self.retail_ok))
        ok = self._qualified.get(key)
        if ok is None:
            ok = self.inp.active & (self.inp.pv >= threshold)
            if self.retail_ok is not None:
                ok &= self.retail_ok
            ok.setflags(write=False)
            self._qualified[key] = ok
        return ok

    def mark_unilevel_excluded(self, rows: np.ndarray) -> None:
        """Exclude ``rows`` (bool[n] mask) from the unilevel's volume, keeping earlier marks."""
        if self.unilevel_excluded is None:
            self.unilevel_excluded = np.zeros(self.inp.n, dtype=bool)
        self.unilevel_excluded |= rows

    def rank_index(self, name_or_index: str | int) -> int:
        """Rank index for a rank name (or pass an index through)."""
        if isinstance(name_or_index, int):
            return name_or_index
        return self.rank_names.index(name_or_index)


class LevelSums:
    """Money paid up the tree one level (or generation) at a time, summed per row.

    ``pay = np.zeros(n)`` then ``pay += np.bincount(rows, weights, minlength=n)`` per level
    makes and adds n values per level, where the rows paid are the forest's members (uplines
    of the volume), in a market a fraction of n. :meth:`add` sums each level over the
    members' slots and :meth:`total` makes the n-row array once; every row gets the same
    additions in the same order, so the sums are the same to the last bit. A row outside the
    forest switches to the n-row array from then on.
    """

    def __init__(self, ctx: PeriodContext):
        self.members, self.slot = ctx.forest.member_slots()  # made once per forest
        self.n = ctx.inp.n
        self.acc = np.zeros(self.members.size)
        self.full: np.ndarray | None = None

    def add(self, rows: np.ndarray, weights: np.ndarray) -> None:
        """Add ``weights`` to ``rows`` (one level: a row may appear several times)."""
        if self.full is None:
            at = self.slot[rows]
            if not at.size or at.min() >= 0:
                self.acc += np.bincount(at, weights=weights, minlength=self.acc.size)
                return
            self.full = self.total()
        self.full += np.bincount(rows, weights=weights, minlength=self.n)

    def add_slots(self, at: np.ndarray, weights: np.ndarray) -> None:
        """:meth:`add` given the members' positions (``member_slots`` order), not their rows."""
        if self.full is None:
            self.acc += np.bincount(at, weights=weights, minlength=self.acc.size)
        else:
            self.full += np.bincount(self.members[at], weights=weights, minlength=self.n)

    def member_total(self) -> np.ndarray | None:
        """float64[members] the sums so far, or None once a row outside the forest was paid.

        In :meth:`total` the members' sums are these; a non-member's is 0 while this is not
        None.
        """
        return self.acc if self.full is None else None

    def total(self) -> np.ndarray:
        """float64[n] the sums so far."""
        if self.full is not None:
            return self.full
        out = np.zeros(self.n)
        out[self.members] = self.acc
        return out


@dataclass
class ComponentResult:
    """Output of one component for one period.

    Attributes:
        pay: float64[n] amount paid to each row (before the global cap).
        max_pay: theoretical maximum of the component this period (everyone entitled); breakage
            = max_pay - pay.sum(). None when the notion does not apply.
        state: carried to the next period (e.g. binary carry-over).
        extra: per-row arrays worth reporting (e.g. ``rank``, ``carry_left``).
    """

    pay: np.ndarray
    max_pay: float | None = None
    state: Any = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


ComponentFn = Callable[[PeriodContext, Any, Any], ComponentResult]


@dataclass(frozen=True)
class ComponentSpec:
    """A registered component and the properties it declares about itself.

    Attributes:
        name: the plan file's table name.
        params: the parameter model.
        fn: the component function.
        stage: ``RANKS``, ``BASE`` or ``MATCHING`` (order of evaluation).
        company_payout: the company pays what it computes (False for ranks and the retail
            margin, which customers pay).
        description: one line for listings.
        pays_for_recruiting: it pays for bringing people in (enrolment and fast-start
            bonuses); its payouts count as income from recruitment.
        placement_width: for components paid over a placement tree (binary, matrix), the
            children allowed per placement parent, from the component's parameters; None
            for components paid over the sponsor tree.
    """

    name: str
    params: type[Params]
    fn: ComponentFn
    stage: int = BASE
    company_payout: bool = True
    description: str = ""
    pays_for_recruiting: bool = False
    placement_width: Callable[[Any], int] | None = None


REGISTRY: dict[str, ComponentSpec] = {}


def register(
    name: str,
    params: type[Params],
    *,
    stage: int = BASE,
    company_payout: bool = True,
    description: str = "",
    pays_for_recruiting: bool = False,
    placement_width: Callable[[Any], int] | None = None,
) -> Callable[[ComponentFn], ComponentFn]:
    """Decorator registering a component function under ``name`` (the plan file's table name).

    The keywords declare the component's properties (see :class:`ComponentSpec`), so no
    list of component names is kept anywhere else. Optional attributes on the function:
    ``fn.check_plan(plan, params) -> str | None`` for
    cross-table checks at load time, and ``fn.prepare(ctx, params) -> None``, called for every
    component before any component runs in a period (to mark volume other components skip).
    """

    def deco(fn: ComponentFn) -> ComponentFn:
        REGISTRY[name] = ComponentSpec(
            name,
            params,
            fn,
            stage,
            company_payout,
            description,
            pays_for_recruiting,
            placement_width,
        )
        return fn

    return deco


@dataclass
class PayResult:
    """One period's payouts.

    Attributes:
        components: name -> float64[n] paid after the global cap.
        total: float64[n] sum over company-payout components.
        revenue: commissionable revenue of the period (cap basis).
        pre_cap_total: what the components would pay without the global cap.
        breakage: name -> amount not paid against the component's theoretical maximum, plus
            ``"cap"`` for what the global cap withheld.
        cap_scale: factor applied to capped components (1.0 if the cap did not bind).
        qualified: bool[n] active and PV >= the plan's default minimum.
        rank: int16[n] paid-as rank (or None).
        extra: per-row arrays reported by components.
        component_sums: each company-paid component's sum over all rows after the cap (its
            ``components`` array's ``sum()``, made once), when the engine made them.
    """

    components: dict[str, np.ndarray]
    total: np.ndarray
    revenue: float
    pre_cap_total: float
    breakage: dict[str, float]
    cap_scale: float
    qualified: np.ndarray
    rank: np.ndarray | None
    extra: dict[str, np.ndarray]
    component_sums: dict[str, float] = field(default_factory=dict)

    @property
    def paid(self) -> float:
        """Total company payout this period."""
        return float(self.total.sum())

    @property
    def payout_ratio(self) -> float:
        """Paid / commissionable revenue (NaN when there was no revenue)."""
        return self.paid / self.revenue if self.revenue > 0 else float("nan")
