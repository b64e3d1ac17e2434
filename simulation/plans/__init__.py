"""Compensation plans: components registered by name, composed by plan files.

Importing this package imports every module in it, which registers every shipped component
(a new component is a new module here; nothing else changes). See ``docs/plans.md``.
"""

import importlib
import pkgutil

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

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _mod not in ("base", "engine"):
        importlib.import_module(f"{__name__}.{_mod}")

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
