"""Compensation plans: components registered by name, composed by plan files.

Importing this package registers every shipped component. See ``docs/plans.md``.
"""

from simulation.plans import retail, unilevel  # noqa: F401  (registration side effects)
from simulation.plans.base import (
    REGISTRY,
    ComponentResult,
    Params,
    PayResult,
    PeriodContext,
    PeriodInput,
    register,
)
from simulation.plans.engine import Plan, PlanEngine, load_plan, plan_from_dict, shipped_plans

__all__ = [
    "REGISTRY",
    "ComponentResult",
    "Params",
    "PayResult",
    "PeriodContext",
    "PeriodInput",
    "Plan",
    "PlanEngine",
    "load_plan",
    "plan_from_dict",
    "register",
    "shipped_plans",
]
