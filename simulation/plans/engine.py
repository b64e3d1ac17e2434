"""Load plan files and run one pay period through the registered components."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError

from simulation.errors import ConfigError, format_validation_error
from simulation.plans.base import (
    BASE,
    MATCHING,
    RANKS,
    REGISTRY,
    ComponentResult,
    Params,
    PayResult,
    PeriodContext,
    PeriodInput,
)
from simulation.tree import Forest

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


class Retail(Params):
    """The ``[retail]`` table: retail price over wholesale (the distributor's margin)."""

    markup: float = Field(
        0.20,
        ge=0,
        le=5,
        description="Retail price = wholesale x (1 + markup). Amway: 20% above ABO price; "
        "Young Living: 24%.",
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

    @property
    def min_pv(self) -> float:
        """Default monthly PV for commission qualification."""
        return self.qualification.min_pv

    def engine(self) -> PlanEngine:
        """A fresh engine (carries per-period state such as binary carry-over)."""
        return PlanEngine(self)


_FIXED = {"plan": PlanMeta, "qualification": Qualification, "retail": Retail, "cap": Cap}


def plan_from_dict(data: dict[str, Any], source: str = "<plan>", strict: bool = False) -> Plan:
    """Validate a plan given as a dict (the parsed TOML).

    ``strict`` (for files): no coercion, so ``percentages = ["0.1"]`` or ``width = true``
    are refused instead of read as numbers.
    """
    _ensure_components_loaded()
    errors: list[str] = []
    parsed: dict[str, Any] = {}
    components: dict[str, Params] = {}
    for key, value in data.items():
        if key in _FIXED:
            model = _FIXED[key]
        elif key in REGISTRY:
            model = REGISTRY[key].params
        else:
            known = ", ".join(sorted([*_FIXED, *REGISTRY]))
            errors.append(f"{source}: unknown table '{key}' (known: {known})")
            continue
        if not isinstance(value, dict):
            errors.append(f"{source}: '{key}' must be a table, got {value!r}")
            continue
        try:
            obj = model.model_validate(value, strict=strict)
        except ValidationError as err:
            errors.append(format_validation_error(err, source, prefix=key))
            continue
        if key in _FIXED:
            parsed[key] = obj
        else:
            components[key] = obj
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
        source=source,
        raw=data,
    )
    for name, params in components.items():
        check = getattr(REGISTRY[name].fn, "check_plan", None)
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


def load_plan(path: str | Path, base: Path | None = None) -> Plan:
    """Read and validate a plan TOML file (a path or a shipped plan's name)."""
    from simulation.userfile import read_toml

    p = resolve_plan_path(path, base)
    return plan_from_dict(read_toml(p, "plan"), source=str(p), strict=True)


def shipped_plans() -> list[Path]:
    """The plan files shipped in ``scenarios/plans``."""
    return sorted(PLAN_DIR.glob("*.toml"))


def _ensure_components_loaded() -> None:
    # Importing the package registers every shipped component.
    import simulation.plans  # noqa: F401


class PlanEngine:
    """Runs a plan period after period, keeping each component's carried state."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.state: dict[str, Any] = {}
        order = sorted(plan.components, key=lambda name: REGISTRY[name].stage)
        self._order = order

    def pay(self, inp: PeriodInput) -> PayResult:
        """Pay one period. Components run by stage; the global cap applies last."""
        n = inp.n
        forest = inp.forest
        if forest is None:
            # Inactive rows keep their place in the tree: they hold a level (compression
            # "none"), are never qualified and carry no volume, and never cut their downline
            # off from its uplines.
            forest = Forest.from_parent(inp.sponsor)
        ctx = PeriodContext(
            inp=inp,
            forest=forest,
            default_min_pv=self.plan.min_pv,
            markup=self.plan.retail.markup,
        )
        ctx.rank = inp.rank
        # Components may mark volume before anything runs (e.g. the fast start takes new
        # recruits' orders out of the unilevel): ``fn.prepare(ctx, params)``, in plan order.
        for name in self._order:
            prepare = getattr(REGISTRY[name].fn, "prepare", None)
            if prepare is not None:
                prepare(ctx, self.plan.components[name])
        results: dict[str, ComponentResult] = {}
        extra: dict[str, np.ndarray] = {}
        for name in self._order:
            spec = REGISTRY[name]
            res = spec.fn(ctx, self.plan.components[name], self.state.get(name))
            self.state[name] = res.state
            results[name] = res
            extra.update(res.extra)
            if spec.stage == RANKS:
                ctx.rank = res.extra.get("rank", ctx.rank)
                ctx.rank_names = list(getattr(self.plan.components[name], "names", []))
            elif spec.stage in (BASE, MATCHING):
                ctx.earnings[name] = res.pay
        return self._apply_cap(ctx, results, extra, n)

    def _apply_cap(
        self,
        ctx: PeriodContext,
        results: dict[str, ComponentResult],
        extra: dict[str, np.ndarray],
        n: int,
    ) -> PayResult:
        inp = ctx.inp
        paying = {k: r for k, r in results.items() if REGISTRY[k].company_payout}
        pays = {k: np.asarray(r.pay, dtype=np.float64) for k, r in paying.items()}
        cap = self.plan.cap
        revenue = float(inp.bv[inp.active].sum()) if inp.active.any() else 0.0
        if cap is not None and not isinstance(cap.revenue, str):
            revenue = float(cap.revenue)
        pre_cap_total = float(sum(p.sum() for p in pays.values()))
        scale = 1.0
        if cap is not None:
            capped = set(cap.applies_to) if cap.applies_to else set(pays)
            s = sum(float(pays[k].sum()) for k in pays if k in capped)
            exempt = sum(float(pays[k].sum()) for k in pays if k not in capped)
            limit = cap.ratio * revenue
            if cap.basis == "total":
                limit -= exempt
            if s > limit:
                scale = max(limit, 0.0) / s if s > 0 else 1.0
                for k in capped:
                    pays[k] = pays[k] * scale
        breakage: dict[str, float] = {}
        for k, r in paying.items():
            if r.max_pay is not None:
                breakage[k] = float(r.max_pay - r.pay.sum())
        breakage["cap"] = pre_cap_total - float(sum(p.sum() for p in pays.values()))
        total = np.zeros(n, dtype=np.float64)
        for p in pays.values():
            total += p
        components = dict(pays)
        for k, r in results.items():
            if k not in pays and REGISTRY[k].stage != RANKS:
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
        )
