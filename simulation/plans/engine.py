"""Load plan files and run one pay period through the registered components."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError

from simulation.errors import ConfigError, DataError, format_validation_error
from simulation.plans import incentives
from simulation.plans.base import (
    BASE,
    MATCHING,
    RANKS,
    REGISTRY,
    ComponentResult,
    ComponentSpec,
    Params,
    PayResult,
    PeriodContext,
    PeriodInput,
)
from simulation.tree import Forest
from simulation.userfile import read_toml

PLAN_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "plans"


class PlanMeta(Params):
    """The ``[plan]`` table: what the plan is and where it comes from."""

    name: str = Field("unnamed plan", description="Display name.")
    description: str = Field("", description="One paragraph on the plan.")
    modelled_on: str = Field("", description="The public plan it follows, with its source.")


class Qualification(Params):
    """The ``[qualification]`` table: the monthly minimum to be paid."""

    min_pv: float = Field(
        100.0,
        ge=0,
        description="Monthly PV (points) to be commission-qualified; inclusive. Young Living and "
        "doTERRA: 100 PV.",
    )
    inactive_volume: Literal["counts", "excluded"] = Field(
        "counts",
        description="Volume of inactive members: 'counts' (default; published plans: an "
        "unqualified or inactive member is not paid, but their purchases pay their uplines and "
        "are company revenue: Young Living compression, InfoTrax pay leg) for unilevel, group "
        "volume, ranks, binary legs, matrix and fast-start sources and the cap's revenue; "
        "'excluded': their volume counts nowhere.",
    )
    # Policies (docs/plans.md, "Pay conditional on retail" and "Household volume cap"); the
    # defaults never bind, so a plan without them pays exactly as before.
    min_retail_customers: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Retail customers a distributor must have this period to be paid (0: no "
        "condition). Amway 1979 (FTC, 93 F.T.C. 618): the ten-customer rule, ten sales to "
        "different retail customers a month to qualify for the performance bonus.",
    )
    min_retail_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of the distributor's own PV this period sold to retail customers "
        "needed to be paid (0: no condition). Amway 1979's 70% rule read as a retail share "
        "(a stricter reading than Amway's, where household use also counted).",
    )
    retail_rule: Literal["all", "any"] = Field(
        "all",
        description="With both retail conditions set: 'all' needs both, 'any' either one.",
    )
    max_household_pv: float | None = Field(
        None,
        ge=0,
        description="Most PV a distributor's own purchases (household use, top-ups, stock: "
        "everything not sold to a retail customer) count toward PV, group volume and "
        "commissions this period; beyond it they still cost the buyer but pay nobody "
        "(None: no cap). Models limits on self-consumption counted for pay, e.g. the 2016 "
        "Herbalife order (FTC), which counts a member's own purchases toward rewards only up "
        "to a monthly limit ('limited personal consumption').",
    )


class RecruitingCap(Params):
    """The ``[recruiting_cap]`` table: a cap on what one member earns for recruiting.

    Applies to the components that declare they pay for recruiting (fast start, enrolment
    bonuses), per member and period, after the base components and before matching bonuses.
    Both limits unset (the default): no cap.
    """

    usd_per_month: float | None = Field(
        None,
        ge=0,
        description="Most a member is paid for recruiting in one period, USD (None: no limit).",
    )
    share_of_pay: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Recruiting pay at most this share of the member's pay this period "
        "(recruiting plus other company-paid components; None: no limit). The Vemma 2016 "
        "order's idea that rewards follow sales to non-participants, as a cap.",
    )


class Retail(Params):
    """The ``[retail]`` table: retail price over wholesale (the distributor's margin)."""

    markup: float = Field(
        0.20,
        ge=0,
        le=5,
        description="Retail price = wholesale x (1 + markup). Amway: 20% above ABO price; "
        "Young Living: 24%.",
    )


class VolumeRules(Params):
    """The ``[volume]`` table: how net personal volume is made from its parts.

    Used when the input gives volume as its parts (a genealogy's ``purchases``, ``customer_pv``
    and ``returns`` columns): ``PV = purchases + customer_pv - returns``.
    """

    returns_timing: Literal["period_of_return", "clawback"] = Field(
        "period_of_return",
        description="'period_of_return' (default; Purium: volume is deducted in the month of "
        "the refund, ranks already paid are not changed): a return lowers the PV of the period "
        "it happens in. 'clawback' (Nu Skin addendum B: prior-month returns adjust that "
        "month's bonus): it lowers the PV of the period of the sale (a genealogy's "
        "sale_period column), which is paid as if the goods had never been sold.",
    )
    floor_at_zero: bool = Field(
        True,
        description="True (default): PV after returns is at least 0 (bought 50, returned 80 "
        "-> 0). False: negative PV is kept and lowers the uplines' group volumes.",
    )
    clawback_window_months: int = Field(
        0,
        ge=0,
        le=1200,
        description="With returns_timing = 'clawback': only a return made less than this many "
        "periods after the sale is charged to the period of the sale; a later one lowers the "
        "PV of the period of the return (as 'period_of_return'). 0 (default): every return "
        "is charged to the period of the sale.",
    )


class Cap(Params):
    """The ``[cap]`` table: global payout cap as a share of commissionable revenue."""

    ratio: float = Field(
        1.0, gt=0, le=1.0, description="Cap = ratio x commissionable revenue (e.g. 0.45)."
    )
    method: Literal["pro_rata"] = Field(
        "pro_rata", description="How the excess is removed: every capped payout scaled down."
    )
    basis: Literal["total", "capped_components"] = Field(
        "total",
        description="'total': all company payouts together <= cap (exempt ones paid first); "
        "'capped_components': only the capped ones together <= cap (LifeWave).",
    )
    applies_to: list[str] | None = Field(
        None, description="Components scaled by the cap (default: all company payouts)."
    )
    revenue: Literal["total_bv"] | float = Field(
        "total_bv",
        description="Commissionable revenue: 'total_bv' (sum of BV of the period) or an amount.",
    )


@dataclass
class Plan:
    """A validated plan: metadata, retail markup, default qualification, components, cap."""

    meta: PlanMeta
    qualification: Qualification
    retail: Retail
    cap: Cap | None
    components: dict[str, Params]
    source: str = "<plan>"
    raw: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    given: frozenset[str] = frozenset()
    volume: VolumeRules = field(default_factory=VolumeRules)
    recruiting_cap: RecruitingCap | None = None

    def kind(self, name: str) -> str:
        """The registered component type of the component ``name`` (a named table's type)."""
        return self.kinds.get(name, name)

    def spec(self, name: str) -> ComponentSpec:
        """The registered component of the plan's component ``name``."""
        return REGISTRY[self.kind(name)]

    def of_kind(self, kind: str) -> list[str]:
        """Names of the plan's components of one registered type, in plan order."""
        return [k for k in self.components if self.kind(k) == kind]

    @property
    def rank_names(self) -> list[str]:
        """The plan's ranks, lowest first (index = paid-as rank); [] without ranks."""
        ranks = self.components.get("ranks")
        return list(ranks.names) if ranks is not None else []

    @property
    def min_pv(self) -> float:
        """Default monthly PV for commission qualification."""
        return self.qualification.min_pv

    def engine(self) -> PlanEngine:
        """A fresh engine (carries per-period state such as binary carry-over)."""
        return PlanEngine(self)


class GivenParams(Params):
    """A component table ``{given = true}``: its earnings come from the input, not the plan.

    A genealogy gives them in an ``earned_<name>`` column; later steps (a matching bonus on
    them, the payout cap over them) take them as they are.
    """

    given: Literal[True] = Field(
        description="True: the earnings of this component are computed elsewhere and given."
    )


_FIXED = {
    "plan": PlanMeta,
    "qualification": Qualification,
    "retail": Retail,
    "cap": Cap,
    "volume": VolumeRules,
    "recruiting_cap": RecruitingCap,
}
# Optional tables a scenario's plan.set may add to a plan without them: every key has a
# default, so adding one changes nothing but the keys set (e.g. volume.returns_timing).
_DEFAULTED = ("volume",)
# Components a plan may hold only once (one placement tree, one set of ranks).
_SINGLE = {"ranks", "binary", "matrix", "retail_margin"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _tables(key: str, value: Any, source: str, errors: list[str]) -> list[tuple[str, Any]]:
    """(name, table) pairs of one top-level key: a table, or an array of named tables."""
    if not isinstance(value, list):
        return [(key, value)]
    if key in _SINGLE:
        errors.append(f"{source}: [[{key}]]: a plan holds one [{key}] table only")
        return []
    out = []
    for i, item in enumerate(value):
        where = f"{source}: [[{key}]] number {i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            errors.append(f'{where}: each table needs a name = "..." (e.g. name = "{key}_1")')
            continue
        name = item["name"]
        if not _NAME.match(name) or name in _FIXED or (name in REGISTRY and name != key):
            errors.append(
                f"{where}: name = {name!r} must be lower-case letters, digits and _ (starting "
                "with a letter) and not another table's name"
            )
            continue
        out.append((name, {k: v for k, v in item.items() if k != "name"}))
    return out


def plan_from_dict(data: dict[str, Any], source: str = "<plan>", strict: bool = False) -> Plan:
    """Validate a plan given as a dict (the parsed TOML).

    A component is a table (``[matching]``, named after its type) or several named tables of
    one type (``[[matching]]`` with ``name = "..."`` in each); ``{given = true}`` declares a
    component whose earnings the input gives. Every shipped component is registered: Python
    runs ``simulation/plans/__init__.py``, which imports them all, before any of its modules.
    ``strict`` (for files): no coercion, so ``percentages = ["0.1"]`` or ``width = true``
    are refused instead of read as numbers.
    """
    errors: list[str] = []
    parsed: dict[str, Any] = {}
    components: dict[str, Params] = {}
    kinds: dict[str, str] = {}
    given: set[str] = set()
    for key, value in data.items():
        if key in _FIXED:
            model = _FIXED[key]
        elif key in REGISTRY:
            model = REGISTRY[key].params
        else:
            known = ", ".join(sorted([*_FIXED, *REGISTRY]))
            errors.append(f"{source}: unknown table '{key}' (known: {known})")
            continue
        pairs = [(key, value)] if key in _FIXED else _tables(key, value, source, errors)
        for name, table in pairs:
            if not isinstance(table, dict):
                errors.append(f"{source}: '{name}' must be a table, got {table!r}")
                continue
            if name in components:
                errors.append(f"{source}: two components named '{name}'")
                continue
            is_given = key not in _FIXED and table.get("given") is True
            if is_given and (REGISTRY[key].stage == RANKS or key in _SINGLE):
                errors.append(
                    f"{source}: {name}: given = true is for paid components (unilevel, "
                    f"stairstep, fast_start, matching); [{key}] is computed"
                )
                continue
            try:
                obj = (GivenParams if is_given else model).model_validate(table, strict=strict)
            except ValidationError as err:
                errors.append(format_validation_error(err, source, prefix=name))
                continue
            if key in _FIXED:
                parsed[key] = obj
            else:
                components[name] = obj
                kinds[name] = key
                if is_given:
                    given.add(name)
    if not errors and not components:
        errors.append(f"{source}: the plan has no component (known: {', '.join(sorted(REGISTRY))})")
    cap = parsed.get("cap")
    if cap is not None and cap.applies_to:
        for name in cap.applies_to:
            if name not in components:
                errors.append(
                    f"{source}: cap.applies_to names '{name}', which is not a component of "
                    f"this plan ({', '.join(components)})"
                )
    if errors:
        raise ConfigError("\n".join(errors))
    plan = Plan(
        meta=parsed.get("plan", PlanMeta()),
        qualification=parsed.get("qualification", Qualification()),
        retail=parsed.get("retail", Retail()),
        cap=cap,
        components=components,
        volume=parsed.get("volume", VolumeRules()),
        recruiting_cap=parsed.get("recruiting_cap"),
        source=source,
        raw=data,
        kinds={k: v for k, v in kinds.items() if k != v},
        given=frozenset(given),
    )
    for name, params in components.items():
        if name in given:
            continue
        check = getattr(plan.spec(name).fn, "check_plan", None)
        if check is not None:
            problem = check(plan, params)
            if problem:
                raise ConfigError(f"{source}: {name}: {problem}")
    return plan


def resolve_plan_path(name: str | Path, base: Path | None = None) -> Path:
    """Find a plan file: a path (relative to ``base``), or a shipped plan's name."""
    p = Path(name)
    candidates = [p] if p.is_absolute() else []
    if not p.is_absolute():
        if base is not None:
            candidates.append(base / p)
        candidates += [p, PLAN_DIR / p, PLAN_DIR / f"{p}.toml"]
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(
        f"plan file '{name}' not found (looked in: {', '.join(map(str, candidates))})"
    )


def read_plan_file(path: Path) -> dict[str, Any]:
    """A plan file's tables, with ``[plan] extends = "other"`` resolved.

    A plan that extends another is that plan with each of its own tables put in place of the
    other's table of the same name (a whole table, or a whole list of ``[[...]]`` tables:
    nothing is merged key by key), and its own ``[plan]`` table (name, description, source)
    in place of the other's. The other plan is found as ``plan.file`` is (a path relative to
    this file, or a shipped plan's name) and may extend a third.

    Raises:
        ConfigError: naming the file and ``plan.extends``: not a name, a plan not found, or a
            chain that comes back to a file already in it.
    """
    chain: list[Path] = []
    layers: list[dict[str, Any]] = []
    here = path
    while True:
        data = read_toml(here, "plan")
        chain.append(here.resolve())
        meta = data.get("plan")
        parent = meta.get("extends") if isinstance(meta, dict) else None
        if parent is None:
            layers.append(data)
            break
        where = f"{here}: plan.extends = {parent!r}"
        if not isinstance(parent, str) or not parent.strip():
            raise ConfigError(
                f"{where}: expected the name or path of a plan file, e.g. 'doterra_like'"
            )
        try:
            nxt = resolve_plan_path(parent, base=here.parent)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        if nxt.resolve() in chain:
            names = " -> ".join(c.name for c in [*chain, nxt.resolve()])
            raise ConfigError(f"{where}: the plans extend each other in a circle ({names})")
        layers.append({**data, "plan": {k: v for k, v in meta.items() if k != "extends"}})
        here = nxt
    out: dict[str, Any] = {}
    for layer in reversed(layers):
        out.update(layer)
    return out


def with_changes(data: dict[str, Any], changes: dict[str, Any], source: str) -> dict[str, Any]:
    """A copy of plan ``data`` with ``changes`` (``"table.key" -> value``) applied.

    The scenario's ``plan.set`` (``--set plan.unilevel.percentages=[0.1,0.05]``): a change
    names a table the plan has (or a fixed table it leaves at its defaults: ``qualification``,
    ``retail``, ``cap``, ``volume``, ``recruiting_cap``) and one of its keys; the result is
    validated like a plan file.

    Raises:
        ConfigError: a change that names no table of the plan, or a malformed name.
    """
    if not changes:
        return data
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for name, value in changes.items():
        table, _, key = name.partition(".")
        if not key or "." in key:
            raise ConfigError(
                f"{source}: plan.{name}: expected plan.<table>.<key>, e.g. "
                "plan.unilevel.percentages"
            )
        defaulted = (table in _FIXED and table != "plan") or table in _DEFAULTED
        if defaulted and table not in out:
            out[table] = {}  # a fixed or optional table the file leaves at its defaults
        if not isinstance(out.get(table), dict):
            tables = ", ".join(k for k, v in out.items() if isinstance(v, dict))
            raise ConfigError(
                f"{source}: plan.{name}: the plan has no [{table}] table (its tables: {tables})"
            )
        out[table][key] = value
    return out


def load_plan(
    path: str | Path, base: Path | None = None, changes: dict[str, Any] | None = None
) -> Plan:
    """Read and validate a plan TOML file (a path or a shipped plan's name).

    ``changes`` (``"table.key" -> value``, a scenario's ``plan.set``) are applied to the file's
    values before they are validated (:func:`with_changes`).
    """
    p = resolve_plan_path(path, base)
    data = with_changes(read_plan_file(p), changes or {}, str(p))
    return plan_from_dict(data, source=str(p), strict=True)


def shipped_plans() -> list[Path]:
    """The plan files shipped in ``scenarios/plans``."""
    return sorted(PLAN_DIR.glob("*.toml"))


class PlanEngine:
    """Runs a plan period after period, keeping each component's carried state."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.state: dict[str, Any] = {}
        order = sorted(plan.components, key=lambda name: plan.spec(name).stage)
        self._order = order

    def incentives(
        self, recruit_bv: float, horizon: int, rank: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """What the plan pays each person for one more recruit and per USD of retail sale.

        Args:
            recruit_bv: a typical recruit's monthly BV (points).
            horizon: months counted.
            rank: int[k] the persons' paid-as ranks (-1 none: judged at the entry rank).

        Returns:
            ``(per_recruit, per_retail_usd)``: float64[k] USD paid over ``horizon`` months
            for one new personally enrolled recruit, and float64[k] USD of retail margin per
            USD of product sold to customers (see :mod:`simulation.plans.incentives`).
        """
        per_recruit = incentives.recruit_pay(self.plan, recruit_bv, horizon, rank)
        per_retail = np.full(per_recruit.size, incentives.retail_margin_per_usd(self.plan))
        return per_recruit, per_retail

    def pay(self, inp: PeriodInput) -> PayResult:
        """Pay one period. Components run by stage; the global cap applies last.

        The plan's policies act around the components: ``qualification.max_household_pv``
        lowers the volume every component sees, the retail conditions of pay narrow who is
        qualified, and ``[recruiting_cap]`` cuts recruiting pay after the base components.
        """
        q = self.plan.qualification
        if q.max_household_pv is not None:
            inp = household_capped(inp, q.max_household_pv)
        n = inp.n
        forest = inp.forest
        if forest is None:
            # Inactive rows keep their place in the tree: they hold a level (compression
            # "none"), are never qualified, and never cut their downline off from its uplines;
            # their own volume counts per qualification.inactive_volume.
            forest = Forest.from_parent(inp.sponsor)
        ctx = PeriodContext(
            inp=inp,
            forest=forest,
            default_min_pv=self.plan.min_pv,
            markup=self.plan.retail.markup,
            count_inactive_volume=self.plan.qualification.inactive_volume == "counts",
            kinds=dict(self.plan.kinds),
        )
        ctx.rank = inp.rank
        ctx.retail_ok = retail_conditions(inp, q)
        # Components may mark volume before anything runs (e.g. the fast start takes new
        # recruits' orders out of the unilevel): ``fn.prepare(ctx, params)``, in plan order.
        for name in self._order:
            prepare = getattr(self.plan.spec(name).fn, "prepare", None)
            if prepare is not None and name not in self.plan.given:
                prepare(ctx, self.plan.components[name])
        results: dict[str, ComponentResult] = {}
        extra: dict[str, np.ndarray] = {}
        capped = self.plan.recruiting_cap is None
        for name in self._order:
            spec = self.plan.spec(name)
            if not capped and spec.stage == MATCHING:
                cap_recruiting(self.plan, ctx, results)
                capped = True
            if name in self.plan.given:
                res = ComponentResult(pay=self._given(inp, name))
            else:
                res = spec.fn(ctx, self.plan.components[name], self.state.get(name))
            self.state[name] = res.state
            results[name] = res
            extra.update(res.extra)
            if spec.stage == RANKS:
                ctx.rank = res.extra.get("rank", ctx.rank)
                ctx.rank_names = list(getattr(self.plan.components[name], "names", []))
            elif spec.stage in (BASE, MATCHING):
                ctx.earnings[name] = res.pay
        if not capped:
            cap_recruiting(self.plan, ctx, results)
        return self._apply_cap(ctx, results, extra, n)

    def _given(self, inp: PeriodInput, name: str) -> np.ndarray:
        """float64[n] the given earnings of component ``name``.

        Raises:
            DataError: the input does not give them.
        """
        given = inp.given_earnings or {}
        if name not in given:
            raise DataError(
                f"the plan's component '{name}' is given = true, so its earnings come from the "
                f"input: add an earned_{name} column to the genealogy (or compute it: replace "
                f"given = true with its parameters)"
            )
        return np.asarray(given[name], dtype=np.float64)

    def _apply_cap(
        self,
        ctx: PeriodContext,
        results: dict[str, ComponentResult],
        extra: dict[str, np.ndarray],
        n: int,
    ) -> PayResult:
        paying = {k: r for k, r in results.items() if self.plan.spec(k).company_payout}
        pays = {k: np.asarray(r.pay, dtype=np.float64) for k, r in paying.items()}
        cap = self.plan.cap
        revenue = ctx.total_volume()
        if cap is not None and not isinstance(cap.revenue, str):
            revenue = float(cap.revenue)
        # Each component's sum over all rows, made once (and again after the cap for the
        # components it scales), added in the same order: the same figures.
        sums = {k: p.sum() for k, p in pays.items()}
        pre_cap_total = float(sum(sums.values()))
        breakage: dict[str, float] = {}
        for k, r in paying.items():
            if r.max_pay is not None:
                # (the sum made above is this array's unless it had to be converted)
                paid = sums[k] if pays[k] is r.pay else r.pay.sum()
                breakage[k] = float(r.max_pay - paid)
        scale = 1.0
        if cap is not None:
            capped = set(cap.applies_to) if cap.applies_to else set(pays)
            s = sum(float(sums[k]) for k in pays if k in capped)
            exempt = sum(float(sums[k]) for k in pays if k not in capped)
            limit = cap.ratio * revenue
            if cap.basis == "total":
                limit -= exempt
            if s > limit:
                scale = max(limit, 0.0) / s if s > 0 else 1.0
                for k in capped:
                    pays[k] = pays[k] * scale
                    sums[k] = pays[k].sum()
        breakage["cap"] = pre_cap_total - float(sum(sums.values()))
        # 0 + p1 + p2 + ...: the first addition made with the array's own (x + 0.0 is 0.0 + x
        # to the bit), not with a zeroed n-row array.
        parts = list(pays.values())
        total = parts[0] + 0.0 if parts else np.zeros(n, dtype=np.float64)
        for p in parts[1:]:
            total += p
        components = dict(pays)
        for k, r in results.items():
            if k not in pays and self.plan.spec(k).stage != RANKS:
                components[k] = np.asarray(r.pay, dtype=np.float64)
        return PayResult(
            components=components,
            total=total,
            revenue=revenue,
            pre_cap_total=pre_cap_total,
            breakage=breakage,
            cap_scale=scale,
            qualified=ctx.qualified(),
            rank=ctx.rank,
            extra=extra,
            component_sums={k: float(v) for k, v in sums.items()},
        )


# --------------------------------------------------------------------------------------------
# policies (docs/plans.md, "Policies")


def _need(inp: PeriodInput, name: str, key: str) -> np.ndarray:
    """The optional input array ``name``, or a DataError naming the plan key that needs it."""
    value = getattr(inp, name)
    if value is None:
        raise DataError(
            f"the plan's {key} needs each distributor's {name.replace('_', ' ')} this period, "
            "and the input does not give it (a genealogy would need a column for it); remove "
            f"{key} from the plan or give the data"
        )
    return np.asarray(value)


def household_capped(inp: PeriodInput, cap_pv: float) -> PeriodInput:
    """``inp`` with own purchases counted up to ``cap_pv`` PV per row (``max_household_pv``).

    Counted PV = min(PV - customer PV, cap) + customer PV; BV is scaled by the same factor.
    Rows within the cap keep their PV and BV exactly, and an input where no row exceeds it is
    returned as it is (a cap that never binds changes nothing, bit for bit). Returns a new
    input otherwise; ``inp`` is not changed.
    """
    customer = _need(inp, "customer_pv", "qualification.max_household_pv").astype(np.float64)
    pv = inp.pv
    over = pv - customer > cap_pv
    if not over.any():
        return inp
    counted = np.where(over, cap_pv + customer, pv)
    bv = np.where(over, inp.bv * np.divide(counted, pv, out=np.ones_like(pv), where=over), inp.bv)
    return replace(inp, pv=counted, bv=bv)


def retail_conditions(inp: PeriodInput, q: Qualification) -> np.ndarray | None:
    """bool[n]: rows meeting the plan's retail conditions of pay, or None when it sets none.

    ``min_retail_customers`` N: at least N retail customers this period; ``min_retail_share``
    x: customer PV >= x x PV (a row without PV fails). With both, ``retail_rule`` says
    whether both ('all') or either ('any') must hold.
    """
    tests = []
    if q.min_retail_customers > 0:
        customers = _need(inp, "customers", "qualification.min_retail_customers")
        tests.append(customers >= q.min_retail_customers)
    if q.min_retail_share > 0:
        customer = _need(inp, "customer_pv", "qualification.min_retail_share")
        tests.append((inp.pv > 0) & (customer >= q.min_retail_share * inp.pv))
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return tests[0] & tests[1] if q.retail_rule == "all" else tests[0] | tests[1]


def cap_recruiting(plan: Plan, ctx: PeriodContext, results: dict[str, ComponentResult]) -> None:
    """Scale each member's recruiting pay down to the plan's ``[recruiting_cap]``, in place.

    Recruiting pay is the sum of the components that declare ``pays_for_recruiting``; the
    limit per member is ``usd_per_month`` and ``share_of_pay`` s of their pay this period,
    i.e. recruiting <= s / (1 - s) x their other company-paid components. Every recruiting
    component of a member is scaled by the same factor; what is cut becomes breakage.
    """
    cap = plan.recruiting_cap
    if cap is None:
        return
    names = [k for k in results if plan.spec(k).pays_for_recruiting]
    if not names:
        return
    n = ctx.inp.n
    rec = np.zeros(n)
    for k in names:
        rec += results[k].pay
    limit = np.full(n, np.inf)
    if cap.usd_per_month is not None:
        limit[:] = cap.usd_per_month
    if cap.share_of_pay is not None and cap.share_of_pay < 1:
        other = np.zeros(n)
        for k, r in results.items():
            spec = plan.spec(k)
            if k not in names and spec.company_payout and spec.stage != RANKS:
                other += r.pay
        s = cap.share_of_pay
        limit = np.minimum(limit, s / (1.0 - s) * other)
    scale = np.divide(limit, rec, out=np.ones(n), where=rec > limit)
    for k in names:
        res = results[k]
        res.pay = np.asarray(res.pay, dtype=np.float64) * scale
        ctx.earnings[k] = res.pay
