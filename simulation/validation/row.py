"""One row of the validation table, and what every check shares: the quiet settings, z-scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from simulation.config import Scenario, apply_overrides, scenario_from_dict

# Settings that switch off everything but the mechanism under test: no refusals, quits,
# retail customers, differences between persons, fatigue or bad news.
QUIET = (
    "recruit.refusals=false",
    "quit.enabled=false",
    "retail.enabled=false",
    "market.heterogeneity=false",
    "recruit.fatigue=1",
    "recruit.bad_news=0",
)

Z_LIMIT = 4.0  # a check passes when the mean difference is within 4 standard errors
TEST_FILE = "tests/test_validation.py"


@dataclass
class Row:
    """One line of the validation table.

    Attributes:
        name: short identifier (``rrt_leaf_share``).
        kind: ``"exact"`` (degenerate mathematics) or ``"calibration"`` (published figures).
        what: what is checked, in words.
        source: where the expected value comes from (derivation or citation).
        population: whom the figure counts (e.g. everyone who ever joined, net of costs).
        expected: the expected value or range, as shown.
        model: the model's value, as shown.
        passed: True if the model value is within the expectation.
        note: comments: textbook value beside the batched one, why a figure is outside.
        rerun: how to rerun this check alone.
        values: the raw numbers behind ``expected`` and ``model`` (for tests and the doc).
    """

    name: str
    kind: Literal["exact", "calibration"]
    what: str
    source: str
    population: str
    expected: str
    model: str
    passed: bool
    note: str = ""
    rerun: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def quiet_scenario(*sets: str) -> Scenario:
    """Default scenario with :data:`QUIET` and then ``sets`` (``section.key=value``) applied."""
    return scenario_from_dict(apply_overrides({}, [*QUIET, *sets], "validation"), "validation")


def zscore(diff: np.ndarray) -> float:
    """Mean of ``diff`` over seeds divided by its standard error (0 if it never varies)."""
    diff = np.asarray(diff, dtype=np.float64)
    se = diff.std(ddof=1) / math.sqrt(diff.size) if diff.size > 1 else 0.0
    if se == 0.0:
        return 0.0 if abs(diff.mean()) < 1e-9 else math.inf
    return float(diff.mean() / se)


def percent(x: float, digits: int = 1) -> str:
    """``x`` (a fraction) as a percentage with ``digits`` decimals: ``0.123 -> "12.3%"``."""
    return f"{100 * x:.{digits}f}%"
