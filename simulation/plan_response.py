"""Does the plan change what people do? Paired-seed comparisons of two arms of one market.

An *arm* is a scenario (a shipped scenario with ``section.key=value`` changes, a plan among
them). :func:`compare` runs both arms on the same seeds (common random numbers: the same
network, persons and founders), takes the growth figures of every run
(:func:`growth_figures`) and returns, for each figure, the mean paired difference (arm A -
arm B) with a two-sided 95% t interval over the seeds (:func:`paired_interval`).

Used by ``benchmarks/bench_plan_response.py`` (the full figures: 20,000 people, 60 months, 20
seeds) and ``tests/test_plan_response.py`` (a smaller town, fewer seeds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from simulation.config import load_scenario
from simulation.metrics.diffusion import months_to_half_peak
from simulation.model import MLMModel

# What a run's growth looks like (names of growth_figures' keys, with their meaning).
FIGURES: dict[str, str] = {
    "peak_month": "month with the most joins (the first such month; month 0 = founders)",
    "peak_joins": "joins in the peak month, persons",
    "half_peak_month": "first month after the peak with joins below half the peak (the "
    "run's length + 1 if joins never fell that low)",
    "late_loss_share": "share of the later half of joiners (in join order) whose net income "
    "over the run (own use valued) is below 0",
    "joined_by_12": "persons who joined in months 1-12",
    "ever_joined": "persons who ever joined, founders included",
}


def growth_figures(model: MLMModel) -> dict[str, float]:
    """The growth figures (:data:`FIGURES`) of a finished run."""
    joins = np.asarray(model.datacollector.model_vars["joined"], dtype=np.float64)
    months = joins.size - 1
    after = joins[1:]  # month 0 is the founders
    peak = int(np.argmax(after)) if after.size else 0
    half = months_to_half_peak(after)
    ids = model.ever_ids
    late = ids[ids.size // 2 :]
    net = model.pop.net_income(rows=late)
    return {
        "peak_month": float(peak + 1),
        "peak_joins": float(after[peak]) if after.size else 0.0,
        "half_peak_month": float(half + 1) if half is not None else float(months + 1),
        "late_loss_share": float((net < 0).mean()) if late.size else math.nan,
        "joined_by_12": float(after[:12].sum()),
        "ever_joined": float(ids.size),
    }


@dataclass(frozen=True)
class Interval:
    """A mean paired difference with its two-sided 95% t interval.

    Attributes:
        mean: mean of the differences.
        low, high: the interval's ends.
        n: number of pairs (seeds).
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """True if the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0


def paired_interval(diffs: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of paired differences and its two-sided t interval (``level``) over the pairs.

    Raises:
        ValueError: fewer than 2 pairs, or a difference that is not finite.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < 2:
        raise ValueError(f"a paired interval needs at least 2 pairs, got {d.size}")
    if not np.isfinite(d).all():
        raise ValueError(f"paired differences must be finite, got {d[~np.isfinite(d)][0]}")
    half = stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    m = float(d.mean())
    return Interval(m, m - float(half), m + float(half), int(d.size))


def run_arm(scenario: str, sets: Sequence[str], seed: int) -> dict[str, float]:
    """Growth figures of one run of ``scenario`` with ``sets`` at ``seed``."""
    scen, _ = load_scenario(scenario, list(sets))
    model = MLMModel(scenario=scen, seed=seed, agents=False)
    return growth_figures(model.run())


def compare(
    scenario: str, arm_a: Sequence[str], arm_b: Sequence[str], seeds: Sequence[int]
) -> tuple[dict[str, Interval], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run arms A and B on the same seeds; the paired interval of A - B for each figure.

    Returns:
        ``(intervals, figures_a, figures_b)``: figure -> :class:`Interval`, and figure ->
        float64[seeds] for each arm.
    """
    runs_a = [run_arm(scenario, arm_a, s) for s in seeds]
    runs_b = [run_arm(scenario, arm_b, s) for s in seeds]
    a = {k: np.array([r[k] for r in runs_a]) for k in FIGURES}
    b = {k: np.array([r[k] for r in runs_b]) for k in FIGURES}
    return {k: paired_interval(a[k] - b[k]) for k in FIGURES}, a, b
