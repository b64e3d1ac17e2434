"""Validation: the model reproduces known mathematics and what companies and surveys report.

Two kinds of checks, each returning a :class:`Row` of the validation table
(``docs/validation.md``; ``mlmsim validate`` reruns it):

* **exact** checks in degenerate settings, against exact expectations. Recruiting happens in
  monthly batches (everyone who joins in month t chose among the distributors active at its
  start), which changes several textbook answers; each check derives the month-batched
  expectation *conditional on the realised monthly counts* (which, in these settings, do not
  depend on who sponsors whom), compares the mean over many seeds with it within a few
  standard errors, and states the continuous-time textbook value beside it.

  - uniform sponsor choice -> a random recursive tree (RRT): the share who never recruit,
    the expected recruits of the i-th joiner, the expected count per level;
  - preferential sponsor choice (weight = personal recruits + 1) -> a plane-oriented
    recursive tree: its leaf share (2/3 in the textbook limit);
  - the deterministic "everyone recruits r" pyramid: its level sizes and bottom-level share;
  - the well-mixed market -> the month-stepped Bass curve, and the logistic curve (p = 0);
  - a unilevel plan on a chain pays exactly the sum of its level percentages.

* **calibration** checks: ``scenarios/realistic.toml`` (parameters from published plans and
  rules, each cited in the file) is run over a few seeds, and its outcomes are compared with
  published figures (income disclosure statements, surveys, attrition), each with the
  population definition used, because those definitions drive the numbers.

The degenerate recruiting modes (uniform and preferential sponsor choice, the deterministic
pyramid) are recruit rules of :mod:`simulation.behaviour`, selectable as ``recruit.mode``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from simulation.behaviour import preferential_recruit, pyramid_recruit
from simulation.config import Scenario, apply_overrides, load_scenario, scenario_from_dict
from simulation.metrics import annual_quit_rate, at_risk, income_disclosure, top_share

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
REALISTIC = "realistic"
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


def _z(diff: np.ndarray) -> float:
    """Mean of ``diff`` over seeds divided by its standard error (0 if it never varies)."""
    diff = np.asarray(diff, dtype=np.float64)
    se = diff.std(ddof=1) / math.sqrt(diff.size) if diff.size > 1 else 0.0
    if se == 0.0:
        return 0.0 if abs(diff.mean()) < 1e-9 else math.inf
    return float(diff.mean() / se)


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


# ============================================================================================
# Exact expectations (pure functions of the realised monthly counts)


def _months_after(join_month: np.ndarray, per_month: np.ndarray) -> np.ndarray:
    """For each person, the sum of ``per_month[t]`` over months t after their join month.

    ``per_month[k]`` belongs to month k + 1 (month 0 is the founders).
    """
    tail = np.concatenate((np.cumsum(per_month[::-1])[::-1], [0.0]))
    return tail[np.asarray(join_month, dtype=np.int64)]


def rrt_never_recruit_probability(
    join_month: np.ndarray, n_before: np.ndarray, joins: np.ndarray
) -> np.ndarray:
    """P(a person never recruits) under uniform sponsor choice in monthly batches.

    Each joiner of month t picks one of the ``D_t`` distributors active at its start, so a
    person who joined in month s is never picked with probability
    ``prod_{t > s} (1 - 1/D_t)^{J_t}``.

    Args:
        join_month: int[n] join month of each person.
        n_before: float[T] active distributors at the start of months 1..T (``D_t``).
        joins: float[T] joiners in months 1..T (``J_t``).

    Returns:
        float64[n] the probability for each person.
    """
    n_t = np.asarray(n_before, dtype=np.float64)
    j_t = np.asarray(joins, dtype=np.float64)
    with np.errstate(divide="ignore"):  # D_t = 1: the lone founder is surely picked
        log_keep = np.where(j_t > 0, j_t * np.log1p(-1.0 / n_t), 0.0)
    return np.exp(_months_after(join_month, log_keep))


def rrt_expected_recruits(
    join_month: np.ndarray, n_before: np.ndarray, joins: np.ndarray
) -> np.ndarray:
    """Expected personal recruits of each person under uniform sponsor choice, batched.

    ``E[R_i | counts] = sum_{t > s_i} J_t / D_t`` (each of the ``J_t`` joiners picks person i
    with probability ``1/D_t``). One joiner at a time (``J_t = 1``, ``D_t = t``) this is the
    textbook ``H_{n-1} - H_{i-1}`` of :func:`rrt_textbook_recruits`.

    Returns:
        float64[n] expected recruits at the end of month T.
    """
    rate = np.asarray(joins, dtype=np.float64) / np.asarray(n_before, dtype=np.float64)
    return _months_after(join_month, rate)


def harmonic(n: np.ndarray | int) -> np.ndarray:
    """Harmonic numbers ``H_n = sum_{k=1}^{n} 1/k`` (``H_0 = 0``), exact for n < 10^7."""
    n = np.asarray(n, dtype=np.int64)
    top = int(n.max()) if n.size else 0
    h = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, top + 1))))
    return h[n]


def rrt_textbook_recruits(i: np.ndarray | int, n: int) -> np.ndarray:
    """Expected children of the i-th node (1-based, the root is 1) of an n-node RRT.

    Node j > i attaches to node i with probability ``1/(j - 1)``, so the expectation is
    ``sum_{j=i+1}^{n} 1/(j-1) = H_{n-1} - H_{i-1}``.
    """
    i = np.asarray(i, dtype=np.int64)
    return harmonic(n - 1) - harmonic(i - 1)


def rrt_expected_levels(n_before: np.ndarray, joins: np.ndarray, founders: int) -> np.ndarray:
    """Expected count per level of a batched random recursive forest, given the counts.

    With ``e_t(l)`` the expected members of level l after month t, a joiner of month t lands
    on level l + 1 when its uniformly chosen sponsor is on level l, so
    ``e_t(l) = e_{t-1}(l) + (J_t / D_t) e_{t-1}(l - 1)``: the generating function is
    ``F z prod_t (1 + z J_t / D_t)``. One joiner at a time from one root (``J_t = 1``,
    ``D_t = t``) it is ``z prod_{k=1}^{n-1} (1 + z/k)``, the textbook law (unsigned Stirling
    numbers of the first kind over (n-1)!; :func:`rrt_textbook_levels`).

    Returns:
        float64[L] with entry l - 1 the expected members of level l (founders are level 1).
    """
    rate = np.asarray(joins, dtype=np.float64) / np.asarray(n_before, dtype=np.float64)
    return _level_polynomial(rate, float(founders))


def _level_polynomial(rate: np.ndarray, founders: float, max_levels: int = 200) -> np.ndarray:
    coef = np.zeros(max_levels)
    coef[0] = founders
    top = 1
    for x in rate:
        if x == 0:
            continue
        top = min(top + 1, max_levels)
        coef[1:top] += x * coef[: top - 1].copy()
    return coef[:top]


def rrt_textbook_levels(n: int) -> np.ndarray:
    """Expected count per level of an n-node random recursive tree (one root, level 1).

    ``E[level d + 1] = [n, d + 1] / (n - 1)!`` with ``[n, k]`` the unsigned Stirling numbers
    of the first kind: the coefficients of ``prod_{k=1}^{n-1} (1 + z/k)``. For large n the
    depth of a random node is close to Poisson(log n) (mean ``H_{n-1}``, the textbook depth
    of the n-th node is a sum of independent Bernoulli(1/k)).
    """
    return _level_polynomial(1.0 / np.arange(1, n, dtype=np.float64), 1.0)


def preferential_expected_leaves(n_before: np.ndarray, joins: np.ndarray, founders: int) -> float:
    """Expected leaves (members without recruits) under preferential sponsor choice, batched.

    Weights are ``recruits + 1``; their total over the ``D_t`` members active at the start
    of month t is ``W_t = 2 D_t - F`` (every non-founder is somebody's recruit). A leaf has
    weight 1 and stays a leaf with probability ``(1 - 1/W_t)^{J_t}``; the ``J_t`` joiners
    are new leaves: ``E[L_t] = E[L_{t-1}] (1 - 1/W_t)^{J_t} + J_t``, from ``L_0 = F``. One
    joiner at a time from one root this gives the textbook ``(2n - 1)/3``.
    """
    leaves = float(founders)
    for d, j in zip(n_before, joins, strict=True):
        if j == 0:
            continue
        w = 2.0 * d - founders
        leaves = leaves * (1.0 - 1.0 / w) ** j + j
    return leaves


def pyramid_level_sizes(founders: int, r: int, population: int) -> list[int]:
    """Level sizes of the chain-letter pyramid in a market of ``population`` persons.

    Level k has ``founders * r^(k-1)`` members until the market runs out; the last level holds
    whoever is left.
    """
    sizes, total, k = [], 0, 0
    while total < population:
        size = min(founders * r**k, population - total)
        sizes.append(size)
        total += size
        k += 1
    return sizes


def pyramid_never_recruited(founders: int, r: int, population: int) -> int:
    """How many members of the chain-letter pyramid recruit nobody (exact).

    The bottom level recruits nobody; when it is partial, only ``ceil(bottom / r)`` members
    of the level above recruited anyone.
    """
    sizes = pyramid_level_sizes(founders, r, population)
    if len(sizes) == 1:
        return sizes[0]
    bottom, above = sizes[-1], sizes[-2]
    return bottom + above - math.ceil(bottom / r)


def pyramid_monthly_level_sizes(founders: int, r: int, months: int) -> list[int]:
    """Level sizes after ``months`` months when everyone recruits ``r`` every month.

    ``e_t(k) = e_{t-1}(k) + r e_{t-1}(k-1)``, so level k has ``F C(t, k-1) r^(k-1)`` members
    and the total is ``F (1 + r)^t`` (no market limit).
    """
    return [founders * math.comb(months, k) * r**k for k in range(months + 1)]


def bass_recursion(
    population: int, pitches: float, join_prob: float, spontaneous: float, x0: float, months: int
) -> np.ndarray:
    """Deterministic month-stepped Bass curve of the well-mixed model (share ever joined).

    A prospect receives each of the ``c D_t`` pitches with probability 1/N, each converting
    with probability a, and joins spontaneously with probability p, so
    ``x_{t+1} = x_t + (1 - x_t)(1 - (1 - p)(1 - a/N)^{c N x_t})`` (quits off, so everyone who
    joined is active). With ``p = 0`` it is the month-stepped logistic curve.
    """
    x = [x0]
    for _ in range(months):
        d = x[-1] * population
        q = 1.0 - (1.0 - spontaneous) * (1.0 - join_prob / population) ** (pitches * d)
        x.append(x[-1] + (1.0 - x[-1]) * q)
    return np.asarray(x)


def logistic_continuous(x0: float, rate: float, t: np.ndarray) -> np.ndarray:
    """The continuous logistic curve ``x(t) = 1 / (1 + (1/x0 - 1) e^{-rate t})``."""
    return 1.0 / (1.0 + (1.0 / x0 - 1.0) * np.exp(-rate * np.asarray(t, dtype=np.float64)))


# ============================================================================================
# Simulations of the degenerate settings (cached: tests and the command share them)


@dataclass(frozen=True)
class TreeRun:
    """One run of a recruiting-only model, everyone in join order.

    Attributes:
        n_before: float64[T] active distributors at the start of months 1..T (``D_t``).
        joins: float64[T] joiners in months 1..T (``J_t``).
        join_month: int64[n] join month of everyone who joined, in join order.
        recruits: int64[n] personal recruits at the end.
        level: int64[n] level (founders 1).
        founders: founders (month 0).
    """

    n_before: np.ndarray
    joins: np.ndarray
    join_month: np.ndarray
    recruits: np.ndarray
    level: np.ndarray
    founders: int


@functools.lru_cache(maxsize=512)
def simulate_tree(
    mode: Literal["uniform", "preferential"],
    seed: int,
    population: int,
    join_prob: float,
    months: int,
    founders: int = 1,
) -> TreeRun:
    """Run the model with uniform (``uniform_sponsor``) or preferential sponsor choice."""
    from simulation.model import MLMModel

    scen = quiet_scenario(
        'recruit.mode="uniform_sponsor"',
        f"recruit.fixed_join_prob={join_prob}",
        f"market.population={population}",
        f"market.founders={founders}",
        'market.network="well_mixed"',
        f"scenario.months={months}",
        f"scenario.seed={seed}",
    )
    rules = {"recruit": preferential_recruit} if mode == "preferential" else None
    m = MLMModel(scenario=scen, agents=False, rules=rules)
    n_before, joins = [], []
    for _ in range(months):
        n_before.append(m.stats["distributors"])
        m.step()
        joins.append(m.stats["joined"])
    ever = m.ever_ids
    pop = m.pop
    return TreeRun(
        n_before=np.asarray(n_before, dtype=np.float64),
        joins=np.asarray(joins, dtype=np.float64),
        join_month=pop.join_month[ever].astype(np.int64),
        recruits=pop.recruits[ever].astype(np.int64),
        level=pop.level[ever].astype(np.int64),
        founders=founders,
    )


@dataclass(frozen=True)
class TreeDesign:
    """Sizes of the tree runs: seeds, market, monthly join probability, months, founders."""

    seeds: tuple[int, ...]
    population: int = 6000
    join_prob: float = 0.004
    months: int = 150
    founders: int = 1

    def runs(self, mode: Literal["uniform", "preferential"]) -> list[TreeRun]:
        """The runs, one per seed (cached)."""
        return [
            simulate_tree(mode, s, self.population, self.join_prob, self.months, self.founders)
            for s in self.seeds
        ]

    def describe(self) -> str:
        """The design in words."""
        return (
            f"{len(self.seeds)} seeds, N = {self.population:,}, join probability "
            f"{self.join_prob}/prospect/month, {self.months} months, {self.founders} founder(s)"
        )


# ============================================================================================
# Exact checks


def check_rrt_leaf_share(design: TreeDesign) -> Row:
    """Uniform recruiting: the share who never recruit, against its batched expectation."""
    obs, exp = [], []
    for run in design.runs("uniform"):
        obs.append(float((run.recruits == 0).mean()))
        p = rrt_never_recruit_probability(run.join_month, run.n_before, run.joins)
        exp.append(float(p.mean()))
    o, e = np.array(obs), np.array(exp)
    z = _z(o - e)
    passed = abs(z) < Z_LIMIT and 0.45 < o.mean() < 0.56
    return Row(
        name="rrt_leaf_share",
        kind="exact",
        what="Uniform sponsor choice: share of joiners who never recruit anyone",
        source="Random recursive tree: P(node i is a leaf) = prod_t (1 - 1/D_t)^{J_t} "
        "(month-batched, derived); textbook one-at-a-time limit 1/2",
        population="everyone who joined (no quits)",
        expected=f"{_pct(e.mean(), 2)} (batched); 1/2 textbook",
        model=f"{_pct(o.mean(), 2)} (z = {z:+.2f})",
        passed=passed,
        note=f"{design.describe()}. One joiner at a time an n-node RRT has exactly n/2 "
        "leaves in expectation (node i >= 2 is a leaf with probability (i-1)/(n-1)); "
        "batching keeps the share close to 1/2.",
        rerun="pytest tests/test_math.py::test_uniform_recruiting_gives_a_random_recursive_tree",
        values={"observed": o.mean(), "expected": e.mean(), "z": z},
    )


def check_rrt_recruits_of_ith(
    design: TreeDesign, ranks: Sequence[int] = (1, 2, 25, 100, 1000)
) -> Row:
    """Uniform recruiting: expected personal recruits of the i-th joiner (join order)."""
    runs = design.runs("uniform")
    diffs = {i: [] for i in ranks}
    exp = {i: [] for i in ranks}
    obs = {i: [] for i in ranks}
    book = {i: [] for i in ranks}
    for run in runs:
        e_all = rrt_expected_recruits(run.join_month, run.n_before, run.joins)
        n = run.join_month.size
        for i in ranks:
            if i > n:
                raise ValueError(f"rank {i} exceeds the {n} joiners of a run; use a larger design")
            obs[i].append(run.recruits[i - 1])
            exp[i].append(e_all[i - 1])
            diffs[i].append(run.recruits[i - 1] - e_all[i - 1])
            book[i].append(float(rrt_textbook_recruits(i, n)))
    zs = {i: _z(np.array(diffs[i])) for i in ranks}
    passed = all(abs(z) < Z_LIMIT for z in zs.values())
    shown_e = "; ".join(f"i={i}: {np.mean(exp[i]):.2f}" for i in ranks)
    shown_o = "; ".join(f"i={i}: {np.mean(obs[i]):.2f} (z {zs[i]:+.1f})" for i in ranks)
    shown_b = "; ".join(f"i={i}: {np.mean(book[i]):.2f}" for i in ranks)
    return Row(
        name="rrt_recruits_of_ith",
        kind="exact",
        what="Uniform sponsor choice: expected personal recruits of the i-th joiner",
        source="E[R_i | counts] = sum over months t after i joined of J_t / D_t (derived); "
        "textbook H_{n-1} - H_{i-1} one joiner at a time",
        population="the i-th person to join (1 = the founder), at the end of the run",
        expected=shown_e,
        model=shown_o,
        passed=passed,
        note=f"{design.describe()}. Textbook values at the realised n: {shown_b}. Batching "
        "gives early joiners many more recruits (the whole first month's batch joins the "
        "founder); from a few hundred joiners on, both agree within a few percent.",
        rerun=f"pytest {TEST_FILE}::test_rrt_expected_recruits_of_the_ith_joiner",
        values={
            "ranks": list(ranks),
            "expected": {i: float(np.mean(exp[i])) for i in ranks},
            "observed": {i: float(np.mean(obs[i])) for i in ranks},
            "textbook": {i: float(np.mean(book[i])) for i in ranks},
            "z": zs,
        },
    )


def check_rrt_levels(design: TreeDesign, min_expected: float = 10.0) -> Row:
    """Uniform recruiting: expected count per level against the batched generating function."""
    runs = design.runs("uniform")
    exps, obss, books = [], [], []
    width = 0
    for run in runs:
        e = rrt_expected_levels(run.n_before, run.joins, run.founders)
        o = np.bincount(run.level, minlength=e.size + 1)[1:]
        b = rrt_textbook_levels(run.join_month.size) * run.founders
        width = max(width, e.size, o.size, b.size)
        exps.append(e)
        obss.append(o)
        books.append(b)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(np.asarray(a, dtype=np.float64), (0, width - len(a)))

    E = np.array([pad(a) for a in exps])
    Obs = np.array([pad(a) for a in obss])
    B = np.array([pad(a) for a in books])
    tested = np.flatnonzero(E.mean(axis=0) >= min_expected)
    zs = np.array([_z(Obs[:, k] - E[:, k]) for k in tested])
    passed = bool(np.all(np.abs(zs) < Z_LIMIT))
    levels = np.arange(1, width + 1)
    n = Obs.sum(axis=1)
    mean_level = {
        "batched": float(np.mean((E * levels).sum(axis=1) / n)),
        "observed": float(np.mean((Obs * levels).sum(axis=1) / n)),
        "textbook": float(np.mean((B * levels).sum(axis=1) / n)),
    }
    worst = int(tested[np.argmax(np.abs(zs))]) + 1 if tested.size else 0
    show = lambda M: ", ".join(f"{v:.0f}" for v in M.mean(axis=0)[tested])  # noqa: E731
    return Row(
        name="rrt_levels",
        kind="exact",
        what="Uniform sponsor choice: expected number of members per level",
        source="e_t(l) = e_{t-1}(l) + (J_t/D_t) e_{t-1}(l-1), i.e. F z prod_t (1 + z J_t/D_t) "
        "(derived); textbook Stirling numbers [n, l]/(n-1)!, depth ~ Poisson(log n)",
        population="everyone who joined, by level (founder = level 1)",
        expected=f"levels {tested[0] + 1}-{tested[-1] + 1}: {show(E)}; mean level "
        f"{mean_level['batched']:.2f}",
        model=f"{show(Obs)}; mean level {mean_level['observed']:.2f} (max |z| = "
        f"{np.max(np.abs(zs)):.2f} at level {worst})",
        passed=passed,
        note=f"{design.describe()}; levels with >= {min_expected:.0f} expected members tested. "
        f"Textbook one-at-a-time counts at the realised n: {show(B)}, mean level "
        f"{mean_level['textbook']:.2f}: batching makes the tree shallower (a month's joiners "
        "cannot sponsor each other).",
        rerun=f"pytest {TEST_FILE}::test_rrt_expected_count_per_level",
        values={
            "levels": (tested + 1).tolist(),
            "expected": E.mean(axis=0)[tested].tolist(),
            "observed": Obs.mean(axis=0)[tested].tolist(),
            "textbook": B.mean(axis=0)[tested].tolist(),
            "z": zs.tolist(),
            "mean_level": mean_level,
        },
    )


def check_preferential_leaf_share(design: TreeDesign) -> Row:
    """Preferential recruiting (weight recruits + 1): the leaf share, batched and textbook."""
    obs, exp, book = [], [], []
    for run in design.runs("preferential"):
        n = run.join_month.size
        obs.append(float((run.recruits == 0).mean()))
        exp.append(preferential_expected_leaves(run.n_before, run.joins, run.founders) / n)
        book.append((2 * n - 1) / 3 / n)
    o, e, b = np.array(obs), np.array(exp), np.array(book)
    z = _z(o - e)
    return Row(
        name="preferential_leaf_share",
        kind="exact",
        what="Preferential sponsor choice (prob. proportional to recruits + 1): share who "
        "never recruit",
        source="Plane-oriented recursive tree: E[leaves] = (2n - 1)/3 one at a time; batched "
        "E[L_t] = E[L_{t-1}] (1 - 1/W_t)^{J_t} + J_t with W_t = 2 D_t - F (derived)",
        population="everyone who joined (no quits)",
        expected=f"{_pct(e.mean(), 2)} (batched); {_pct(b.mean(), 2)} textbook",
        model=f"{_pct(o.mean(), 2)} (z = {z:+.2f})",
        passed=abs(z) < Z_LIMIT,
        note=f"{design.describe()}. Rich-get-richer recruiting leaves 2/3 of members without "
        "a recruit (uniform: 1/2); batching lowers it a little, because a month's joiners "
        "cannot recruit each other but all are weighted against the same old leaves.",
        rerun=f"pytest {TEST_FILE}::test_preferential_recruiting_leaf_share",
        values={"observed": o.mean(), "expected": e.mean(), "textbook": b.mean(), "z": z},
    )


def run_pyramid(founders: int, r: int, population: int, months: int, every_month: bool = False):
    """Run the model with :func:`pyramid_recruit`; returns it after ``months`` months."""
    from simulation.model import MLMModel

    scen = quiet_scenario(
        f"market.population={population}",
        f"market.founders={founders}",
        'market.network="well_mixed"',
        f"scenario.months={months}",
    )
    m = MLMModel(scenario=scen, agents=False, rules={"recruit": pyramid_recruit(r, every_month)})
    m.run(months)
    return m


def check_pyramid(founders: int = 1, r: int = 4, levels: int = 7) -> Row:
    """The chain-letter pyramid filling a market exactly: level sizes and the bottom share."""
    population = founders * (r**levels - 1) // (r - 1)
    m = run_pyramid(founders, r, population, months=levels + 1)
    ever = m.ever_ids
    sizes = np.bincount(m.pop.level[ever]).tolist()[1:]
    expected = pyramid_level_sizes(founders, r, population)
    bottom = sizes[-1] / ever.size
    bottom_exp = expected[-1] / population
    never_count = int((m.pop.recruits[ever] == 0).sum())
    never = never_count / ever.size
    passed = sizes == expected and never_count == expected[-1] and ever.size == population
    return Row(
        name="pyramid_levels",
        kind="exact",
        what=f"Everyone recruits r = {r} once: level sizes and the bottom level's share",
        source="Level k has F r^(k-1) members; bottom share r^(L-1)(r-1)/(r^L - 1) -> (r-1)/r",
        population=f"a market of exactly {population:,} = F (r^L - 1)/(r - 1) persons, "
        f"F = {founders}, L = {levels}",
        expected=f"levels {expected}; bottom {_pct(bottom_exp, 2)} (limit {_pct((r - 1) / r)})",
        model=f"levels {sizes}; bottom {_pct(bottom, 2)}; never recruited {_pct(never, 2)}",
        passed=passed,
        note="Deterministic: equality, no tolerance. Everyone at the bottom level recruits "
        "nobody: whatever the plan pays, about (r-1)/r of all participants have no downline.",
        rerun=f"pytest {TEST_FILE}::test_pyramid_level_sizes_and_bottom_share",
        values={"sizes": sizes, "expected": expected, "bottom": bottom, "never": never},
    )


def check_pyramid_finite(founders: int = 1, r: int = 5, population: int = 20000) -> Row:
    """The chain-letter pyramid running out of market: the last level is partial."""
    expected = pyramid_level_sizes(founders, r, population)
    m = run_pyramid(founders, r, population, months=len(expected) + 1)
    ever = m.ever_ids
    sizes = np.bincount(m.pop.level[ever]).tolist()[1:]
    never = int((m.pop.recruits[ever] == 0).sum())
    never_exp = pyramid_never_recruited(founders, r, population)
    return Row(
        name="pyramid_finite_market",
        kind="exact",
        what=f"Everyone recruits r = {r} once in a market of {population:,}: saturation",
        source="Levels F r^(k-1) until N is reached; the last level gets the remainder; those "
        "who recruit nobody = bottom + (level above - ceil(bottom / r))",
        population=f"all {population:,} persons (everyone joins), F = {founders}",
        expected=f"levels {expected}; never recruited {never_exp:,} "
        f"({_pct(never_exp / population)})",
        model=f"levels {sizes}; never recruited {never:,} ({_pct(never / population)})",
        passed=sizes == expected and never == never_exp,
        note="Deterministic. The market runs out after "
        f"{len(expected) - 1} months; {_pct(never_exp / population)} of everyone recruited "
        f"nobody (the (r-1)/r = {_pct((r - 1) / r)} of a complete pyramid, give or take the "
        "partial level).",
        rerun=f"pytest {TEST_FILE}::test_pyramid_in_a_finite_market",
        values={"sizes": sizes, "expected": expected, "never": never, "never_expected": never_exp},
    )


def check_pyramid_every_month(founders: int = 1, r: int = 2, months: int = 8) -> Row:
    """Everyone recruits r every month: binomial level sizes F C(t, k-1) r^(k-1)."""
    expected = pyramid_monthly_level_sizes(founders, r, months)
    total = sum(expected)
    m = run_pyramid(founders, r, total + 10, months=months, every_month=True)
    ever = m.ever_ids
    sizes = np.bincount(m.pop.level[ever]).tolist()[1:]
    return Row(
        name="pyramid_every_month",
        kind="exact",
        what=f"Everyone recruits r = {r} every month for {months} months: level sizes",
        source="e_t(k) = e_{t-1}(k) + r e_{t-1}(k-1): F C(t, k-1) r^(k-1), total F (1+r)^t",
        population=f"everyone who joined (market of {total + 10:,}, large enough)",
        expected=f"levels {expected}; total {total:,}",
        model=f"levels {sizes}; total {ever.size:,}",
        passed=sizes == expected,
        note="Deterministic. Membership triples every month: a market of 30,000 is used up "
        "in 9 months (3^9 = 19,683; 3^10 = 59,049).",
        rerun=f"pytest {TEST_FILE}::test_pyramid_everyone_recruits_every_month",
        values={"sizes": sizes, "expected": expected},
    )


@dataclass(frozen=True)
class WellMixedDesign:
    """Sizes of the well-mixed runs (Bass and logistic checks)."""

    seeds: tuple[int, ...]
    population: int = 20000
    pitches: int = 2
    join_prob: float = 0.5
    spontaneous: float = 0.001
    founders: int = 10
    months: int = 40

    def describe(self) -> str:
        """The design in words."""
        return (
            f"{len(self.seeds)} seeds, N = {self.population:,}, c = {self.pitches} pitches, "
            f"a = {self.join_prob}, p = {self.spontaneous}, {self.founders} founders, "
            f"{self.months} months"
        )


@functools.lru_cache(maxsize=256)
def simulate_well_mixed(
    seed: int,
    population: int,
    pitches: int,
    join_prob: float,
    spontaneous: float,
    founders: int,
    months: int,
) -> tuple[float, float, tuple[int, ...]]:
    """One well-mixed run: (sum of residuals J_t - E[J_t | state], their variance, path).

    ``E[J_t | D_t, P_t] = P_t q_t`` with ``q_t = 1 - (1-p)(1 - a/N)^{c D_t}``; the residuals
    are a martingale, so their sum over ``sqrt(sum P q (1-q))`` is about standard normal.
    The path is the cumulative joined count, months 0..T.
    """
    from simulation.model import MLMModel

    scen = quiet_scenario(
        'recruit.mode="well_mixed"',
        'market.network="well_mixed"',
        'recruit.pitch_count="fixed"',
        f"recruit.pitches_per_month={pitches}",
        f"recruit.join_prob={join_prob}",
        f"recruit.spontaneous_join_prob={spontaneous}",
        f"market.population={population}",
        f"market.founders={founders}",
        f"scenario.months={months}",
        f"scenario.seed={seed}",
    )
    m = MLMModel(scenario=scen, agents=False)
    resid, var, path = 0.0, 0.0, [m.stats["ever_joined"]]
    for _ in range(months):
        d = m.stats["distributors"]
        prospects = population - m.stats["ever_joined"]
        q = 1 - (1 - spontaneous) * (1 - join_prob / population) ** (pitches * d)
        m.step()
        resid += m.stats["joined"] - prospects * q
        var += prospects * q * (1 - q)
        path.append(m.stats["ever_joined"])
    return resid, var, tuple(path)


def well_mixed_statistics(design: WellMixedDesign) -> dict[str, Any]:
    """Martingale z-scores per seed, the mean path and the month-stepped recursion."""
    zs, paths = [], []
    for s in design.seeds:
        resid, var, path = simulate_well_mixed(
            s,
            design.population,
            design.pitches,
            design.join_prob,
            design.spontaneous,
            design.founders,
            design.months,
        )
        zs.append(resid / math.sqrt(var))
        paths.append(path)
    z = np.array(zs)
    mean_path = np.mean(paths, axis=0) / design.population
    curve = bass_recursion(
        design.population,
        design.pitches,
        design.join_prob,
        design.spontaneous,
        design.founders / design.population,
        design.months,
    )
    return {
        "z": z,
        "z_mean": float(z.mean()),
        "z_sd": float(z.std(ddof=1)),
        "mean_path": mean_path,
        "curve": curve,
        "max_path_gap": float(np.max(np.abs(mean_path - curve))),
    }


def _well_mixed_row(design: WellMixedDesign, name: str, curve_name: str) -> tuple[Row, dict]:
    st = well_mixed_statistics(design)
    k = len(design.seeds)
    passed = (
        abs(st["z_mean"]) < Z_LIMIT / math.sqrt(k)
        and 0.3 < st["z_sd"] < 2.0
        and st["max_path_gap"] < 0.02
        and st["mean_path"][-1] > 0.95
    )
    row = Row(
        name=name,
        kind="exact",
        what=f"Well-mixed market: adoption follows the month-stepped {curve_name} curve",
        source="E[J_t | D_t, P_t] = P_t (1 - (1-p)(1-a/N)^{c D_t}); x_{t+1} = x_t + (1-x_t)"
        "(1 - (1-p)(1-a/N)^{c N x_t}) (derived)",
        population="everyone who ever joined (cumulative share of N)",
        expected="martingale z: mean 0 (within 4/sqrt(seeds)), sd ~1; mean path within 0.02 "
        "of the recursion",
        model=f"z mean {st['z_mean']:+.2f}, sd {st['z_sd']:.2f}; max path gap "
        f"{st['max_path_gap']:.4f}; final share {st['mean_path'][-1]:.3f}",
        passed=passed,
        note=design.describe() + ".",
        values={k2: v for k2, v in st.items() if k2 not in ("z", "mean_path", "curve")},
    )
    return row, st


def check_bass(design: WellMixedDesign) -> Row:
    """Well-mixed market with spontaneous joins (p > 0): the month-stepped Bass curve."""
    row, _ = _well_mixed_row(design, "bass_curve", "Bass")
    row.rerun = (
        "pytest tests/test_math.py::test_well_mixed_adoption_follows_the_month_stepped_bass_curve"
    )
    return row


def check_logistic(design: WellMixedDesign) -> Row:
    """Well-mixed market without spontaneous joins (p = 0): the month-stepped logistic curve."""
    if design.spontaneous != 0:
        raise ValueError(f"the logistic check needs p = 0, got {design.spontaneous}")
    row, st = _well_mixed_row(design, "logistic_curve", "logistic")
    rate = -design.pitches * design.population * math.log1p(-design.join_prob / design.population)
    t = np.arange(design.months + 1)
    cont = logistic_continuous(design.founders / design.population, rate, t)
    gap = float(np.max(np.abs(st["curve"] - cont)))
    matched = math.log1p(rate)
    gap_matched = float(
        np.max(
            np.abs(
                st["curve"] - logistic_continuous(design.founders / design.population, matched, t)
            )
        )
    )
    row.note += (
        f" The continuous logistic x' = r x (1 - x) with r = c a = {rate:.3f}/month differs "
        f"from the month-stepped curve by up to {gap:.3f} (share of N): early on the stepped "
        f"curve grows by a factor 1 + c a a month, not e^(c a). With the matched rate "
        f"r = ln(1 + c a) = {matched:.3f} the gap is {gap_matched:.3f}. The model follows the "
        "stepped curve."
    )
    row.values["continuous_gap"] = gap
    row.values["continuous_gap_matched"] = gap_matched
    row.rerun = f"pytest {TEST_FILE}::test_well_mixed_adoption_follows_the_stepped_logistic_curve"
    return row


def unilevel_chain_engine(percentages: Sequence[float] | None = None, bv: float = 100.0) -> dict:
    """Pay one period of a unilevel plan on a chain where only the bottom member has volume.

    The chain has ``len(percentages) + 2`` members, each with the plan's minimum PV (so all
    are qualified) and BV 0 except the bottom one (BV ``bv``). Returns what each upline got
    (nearest first) and the total.
    """
    from simulation.plans import PeriodInput, load_plan, plan_from_dict

    if percentages is None:
        plan = load_plan("unilevel_5")
    else:
        plan = plan_from_dict({"unilevel": {"percentages": list(percentages)}}, "chain")
    pct = plan.components["unilevel"].percentages
    n = len(pct) + 2
    inp = PeriodInput.of(
        sponsor=[-1, *range(n - 1)],
        pv=[plan.min_pv] * n,
        bv=[0.0] * (n - 1) + [bv],
    )
    pay = plan.engine().pay(inp)
    by_upline = pay.total[::-1][1:]  # nearest upline first
    return {
        "percentages": list(pct),
        "by_upline": by_upline.tolist(),
        "total": float(pay.total.sum()),
        "expected_total": bv * float(sum(pct)),
    }


def run_unilevel_chain_model(months: int = 12, pv: float = 100.0):
    """A chain grown by :func:`pyramid_recruit` (r = 1), everyone buying ``pv`` a month.

    Returns ``(paid per month, expected per month)``: in month t the chain has t + 1 members,
    each with PV = BV = ``pv``; the member with d uplines pays ``pv * sum_{j<=min(d, L)} p_j``,
    so month t pays ``pv * sum_{d=1}^{t} sum_{j<=min(d, L)} p_j`` (unilevel_5: no rank
    gates, the 45% cap never binds below 25%).
    """
    from simulation.model import MLMModel

    scen = quiet_scenario(
        "market.population=100",
        "market.founders=1",
        'market.network="well_mixed"',
        f"scenario.months={months}",
        f"buy.own_use_pv={pv}",
        "buy.autoship_share=0",
        "buy.loader_share=0",
        'plan.file="unilevel_5"',
    )
    m = MLMModel(scenario=scen, agents=False, rules={"recruit": pyramid_recruit(1)})
    pct = np.asarray(m.plan.components["unilevel"].percentages)
    cum = np.cumsum(pct)
    paid, expected = [], []
    for t in range(1, months + 1):
        m.step()
        paid.append(m.stats["commissions"])
        d = np.arange(1, t + 1)
        expected.append(pv * float(cum[np.minimum(d, pct.size) - 1].sum()))
    return np.array(paid), np.array(expected)


def check_unilevel_chain(months: int = 12) -> Row:
    """A unilevel plan on a chain pays exactly the sum of its level percentages."""
    eng = unilevel_chain_engine()
    pct = eng["percentages"]
    by = eng["by_upline"]
    engine_ok = (
        abs(eng["total"] - eng["expected_total"]) < 1e-9
        and all(abs(b - 100.0 * p) < 1e-9 for b, p in zip(by, pct, strict=False))
        and abs(by[len(pct)]) < 1e-12
    )
    paid, expected = run_unilevel_chain_model(months)
    model_ok = bool(np.allclose(paid, expected, rtol=0, atol=1e-9))
    total = sum(pct)
    return Row(
        name="unilevel_chain",
        kind="exact",
        what="Unilevel plan (unilevel_5: 8/5/4/4/4 %) on a chain pays exactly the sum of its "
        "level percentages",
        source="Per unit of BV with L uplines: sum_j p_j (PLANS.md section 3); month t of a "
        "growing chain: pv * sum_{d=1}^{t} sum_{j<=min(d,L)} p_j",
        population="a chain: one founder, each member recruits exactly one (pyramid r = 1)",
        expected=f"engine: {_pct(total)} of the bottom BV, upline j gets p_j, upline L+1 "
        f"nothing; model: month {months} pays {expected[-1]:.2f}",
        model=f"engine: {_pct(eng['total'] / 100.0)}, uplines {[round(b, 6) for b in by]}; "
        f"model: month {months} paid {paid[-1]:.2f}, all {months} months equal",
        passed=engine_ok and model_ok,
        note="Exact to 1e-9 USD every month through the whole model (buy, pay, account). "
        f"As the chain grows, commissions -> {_pct(total)} of BV.",
        rerun=f"pytest {TEST_FILE}::test_unilevel_on_a_chain_pays_the_sum_of_its_percentages",
        values={"engine": eng, "paid": paid.tolist(), "expected": expected.tolist()},
    )


# ============================================================================================
# Calibration against published figures

# Each entry: the published figure, its source (with the population it counts) and whether we
# could confirm the number in a stored copy of the source (see docs/validation.md).
PUBLISHED: dict[str, dict[str, Any]] = {
    "no_pay_year": {
        "range": (0.54, 0.88),
        "figures": [
            (
                "Herbalife US 2012",
                0.88,
                "434,125 distributors (88%) received no payments in "
                "2012; all US distributors incl. discount buyers (Statement of Average Gross "
                "Compensation 2012, as quoted by kiddynamitesworld.com)",
            ),
            (
                "doTERRA US 2015",
                0.80,
                "commissions paid to ~20% of US members who purchased "
                "in 2015 (doTERRA 2015 Opportunity and Earnings Disclosure Summary)",
            ),
            (
                "doTERRA US 2017",
                0.638,
                "63.84% of Wellness Advocates earned nothing "
                "(doTERRA 2017 earnings disclosure, table transcribed by stayonthelevel.com)",
            ),
            (
                "doTERRA US 2023",
                0.54,
                "about 54% of US Wellness Advocates received no "
                "commissions (doterra.com/US/en/disclosure)",
            ),
        ],
    },
    "top1": {
        "range": (0.49, 0.69),
        "figures": [
            (
                "doTERRA US 2017 (derived)",
                0.587,
                "Silver rank and above = the top 1.00% of "
                "Wellness Advocates; share x average annual earnings per rank gives 58.7% of all "
                "earnings (our arithmetic on the 2017 rank table as transcribed by "
                "stayonthelevel.com)",
            ),
        ],
    },
    "lost": {
        "range": (0.40, 0.50),
        "figures": [
            (
                "AARP Foundation 2018 survey",
                0.47,
                '"nearly half lost money" (press '
                "release; 47% is the commonly quoted figure, not confirmed in a stored "
                "copy of the report)",
            )
        ],
    },
    "broke_even": {
        "range": (0.20, 0.30),
        "figures": [
            (
                "AARP Foundation 2018 survey",
                0.27,
                '"a quarter made no money" (press release; 27% commonly quoted, not confirmed)',
            )
        ],
    },
    "profit": {
        "range": (0.20, 0.35),
        "figures": [
            (
                "AARP Foundation 2018 survey",
                0.26,
                "the remainder, ~26-28% (26% commonly quoted, not confirmed)",
            )
        ],
    },
    "lost_all_costs": {
        "range": (0.99, 1.0),
        "figures": [
            (
                "Taylor 2011, Consumer Awareness Institute",
                0.99,
                "99% of participants "
                "lose money after subtracting purchases they must make to qualify and "
                "minimal operating expenses (The Case (for and) against Multi-level "
                "Marketing, 2011, ch. 7)",
            )
        ],
    },
    "attrition": {
        "range": (0.47, 0.70),
        "figures": [
            (
                "Melaleuca (Texas court case)",
                0.66,
                "5.5% a month, ~66% a year (R. FitzPatrick, 10 Big Lies of MLM)",
            ),
            (
                "Prepaid Legal annual report",
                0.50,
                "half of customers and distributors quit each year (FitzPatrick)",
            ),
            (
                "Quixtar/Amway 2005 internal report",
                0.47,
                "414 of 10,000 IBOs left after the "
                "5th renewal: 95.9% in 5 years, ~47% a year (Scheibeler, Merchants of Deception)",
            ),
            (
                "Herbalife 2004 10-K",
                0.90,
                "~60% of supervisors did not requalify; >90% of "
                "non-supervisor distributors turned over (outside the band; see the doc)",
            ),
        ],
    },
    "gross_income": {
        "range": (272.0, 2424.0),
        "figures": [
            (
                "Young Living US 2018 IDS",
                272.0,
                "average annual income of all active members "
                "(at least one purchase in 12 months): $272",
            ),
            (
                "Amway US (2010 data)",
                2424.0,
                "average monthly gross income of 'active' IBOs "
                "$202 (46% of IBOs active) -> $2,424 a year if active every month; gross = "
                "retail margin + bonuses",
            ),
        ],
    },
}

BROKE_EVEN_USD = 100.0  # |lifetime net income| <= $100 counts as "broke even" (survey answer)


@dataclass(frozen=True)
class CalibrationDesign:
    """Seeds and scenario of the calibration runs."""

    seeds: tuple[int, ...]
    scenario: str = REALISTIC


@functools.lru_cache(maxsize=32)
def simulate_realistic(scenario: str, seed: int) -> dict[str, Any]:
    """Run a calibration scenario once and measure what published figures count."""
    from simulation import results
    from simulation.model import MLMModel

    scen, _ = load_scenario(scenario, [f"scenario.seed={seed}"])
    t0 = time.perf_counter()
    m = MLMModel(scenario=scen, agents=False)
    m.run()
    seconds = time.perf_counter() - t0
    months = m.month
    dist = results.distributor_columns(m)
    df = pd.DataFrame(dist)
    first = months - 11
    ids = income_disclosure(df, range(first, months + 1))
    allp = ids[(ids.population == "all_participants") & ids["rank"].isna()].iloc[0]
    full = ids[(ids.population == "active_full_year") & ids["rank"].isna()].iloc[0]
    status = df["status"].to_numpy()
    join = df["join_month"].to_numpy()
    quit_m = df["quit_month"].to_numpy()
    # The income disclosure year's participants (metrics.income_disclosure's populations).
    full_year = (status == "distributor") & (join < first)
    in_year = full_year | ((status == "distributor") & (join >= first))
    in_year |= (status == "quit") & (quit_m >= first)
    comm_year = df["commissions_year"].to_numpy()
    pop = m.pop
    ever = dist["id"]
    margin_year = pop.retail_margin[ever] - m.year_start["retail_margin"][ever]
    gross_full = comm_year[full_year] + margin_year[full_year]
    net = dist["net_income"]
    strict = dist["net_income_strict"]
    # How survey respondents may count: household product worth what they paid for it, and
    # no fees, samples or events (the model's fixed costs).
    share = scen.buy.own_use_value_share
    own_full = dist["own_use_value"] / share if share > 0 else 0.0
    survey = strict + own_full + dist["fixed_costs"]
    monthly = results.monthly_table(m)
    quit_ = monthly["quit_this_month"].to_numpy(dtype=np.float64)
    act = monthly["distributors"].to_numpy(dtype=np.float64)
    joins = monthly["joined"].to_numpy(dtype=np.float64)
    risk = at_risk(act, joins)
    last = slice(months - 11, months + 1)
    return {
        "seconds": seconds,
        "ever_joined": int(net.size),
        "penetration": float(net.size / pop.n),
        "participants_year": int(allp["count"]),
        "no_pay_year": float(allp["share_no_gross"]),
        "no_pay_year_full": float(full["share_no_gross"]),
        "top1": float(top_share(comm_year[in_year], 0.01)),
        "top1_lifetime": float(top_share(dist["commissions"], 0.01)),
        "lost": float((net < -BROKE_EVEN_USD).mean()),
        "broke_even": float((np.abs(net) <= BROKE_EVEN_USD).mean()),
        "profit": float((net > BROKE_EVEN_USD).mean()),
        "lost_any": float((net < 0).mean()),
        "lost_survey": float((survey < -BROKE_EVEN_USD).mean()),
        "broke_even_survey": float((np.abs(survey) <= BROKE_EVEN_USD).mean()),
        "profit_survey": float((survey > BROKE_EVEN_USD).mean()),
        "lost_all_costs": float((strict < 0).mean()),
        "attrition": float(annual_quit_rate(quit_[last], risk[last])),
        "attrition_all": float(annual_quit_rate(quit_[1:], risk[1:])),
        "gross_income_all": float(allp["mean_gross"]),
        "gross_income_full": float(gross_full.mean()) if gross_full.size else float("nan"),
        "median_net": float(np.median(net)),
        "payout_ratio": float(
            monthly["commissions"].sum() / monthly["commissionable_revenue"].sum()
        ),
    }


def _calibration_row(
    name: str,
    what: str,
    population: str,
    key: str,
    values: list[dict[str, Any]],
    money: bool = False,
    note: str = "",
) -> Row:
    pub = PUBLISHED[name]
    lo, hi = pub["range"]
    x = np.array([v[key] for v in values], dtype=np.float64)
    fmt = (lambda v: f"${v:,.0f}") if money else (lambda v: _pct(v))
    span = f" (seeds {fmt(x.min())}-{fmt(x.max())})" if x.size > 1 else ""
    source = "; ".join(f"{who}: {fmt(v)} - {txt}" for who, v, txt in pub["figures"])
    mean = float(x.mean())
    return Row(
        name=f"calib_{name}",
        kind="calibration",
        what=what,
        source=source,
        population=population,
        expected=f"{fmt(lo)}-{fmt(hi)}",
        model=f"{fmt(mean)}{span}",
        passed=bool(lo <= mean <= hi),
        note=note,
        rerun="mlmsim validate --only calibration",
        values={"model": mean, "per_seed": x.tolist(), "range": (lo, hi)},
    )


def calibration_rows(design: CalibrationDesign) -> list[Row]:
    """Run the calibration scenario over the seeds and compare with published figures."""
    values = [simulate_realistic(design.scenario, s) for s in design.seeds]
    v0 = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
    context = (
        f"{design.scenario}.toml, {len(design.seeds)} seed(s); penetration "
        f"{_pct(v0['penetration'])}, {v0['ever_joined']:,.0f} ever joined."
    )
    rows = [
        _calibration_row(
            "no_pay_year",
            "Share of distributors paid no commission in a year",
            "everyone who was a distributor in at least one month of the last 12 (as "
            "statements of all distributors/members); gross commissions from the company",
            "no_pay_year",
            values,
            note=f"Active all year only (Amway-style 'active'): {_pct(v0['no_pay_year_full'])}. "
            + context,
        ),
        _calibration_row(
            "top1",
            "Share of the year's commissions received by the top 1%",
            "everyone who was a distributor in at least one month of the last 12; gross",
            "top1",
            values,
            note=f"Over the whole run (everyone who ever joined): {_pct(v0['top1_lifetime'])}.",
        ),
        _calibration_row(
            "lost",
            "Share who lost money (survey answer)",
            f"everyone who ever joined, lifetime net income with household use valued (net < "
            f"-${BROKE_EVEN_USD:.0f})",
            "lost",
            values,
            note=f"Any loss at all (net < $0): {_pct(v0['lost_any'])}. Counting as survey "
            "respondents may (household product worth what was paid for it, no fees, samples "
            f"or events): lost {_pct(v0['lost_survey'])}, broke even "
            f"{_pct(v0['broke_even_survey'])}, profit {_pct(v0['profit_survey'])}.",
        ),
        _calibration_row(
            "broke_even",
            "Share who broke even (survey answer)",
            f"everyone who ever joined, |lifetime net income| <= ${BROKE_EVEN_USD:.0f}, "
            "household use valued",
            "broke_even",
            values,
        ),
        _calibration_row(
            "profit",
            "Share who made a profit (survey answer)",
            f"everyone who ever joined, lifetime net income > ${BROKE_EVEN_USD:.0f}, household "
            "use valued",
            "profit",
            values,
        ),
        _calibration_row(
            "lost_all_costs",
            "Share who lost money once all costs are counted",
            "everyone who ever joined, lifetime net income with all purchases (own use too) "
            "as costs",
            "lost_all_costs",
            values,
        ),
        _calibration_row(
            "attrition",
            "Annual attrition (share of distributors quitting within a year)",
            "distributors at risk in the last 12 months (active at the start of a month or "
            "joining in it): 1 - prod(1 - monthly quit hazard)",
            "attrition",
            values,
            note=f"Over the whole run: {_pct(v0['attrition_all'])}.",
        ),
        _calibration_row(
            "gross_income",
            "Average gross annual income from the company (commissions) per distributor",
            "everyone who was a distributor in at least one month of the last 12 (as YL's "
            "'all active members'); commissions only, no costs",
            "gross_income_all",
            values,
            money=True,
            note=f"Active all year, commissions + retail margin (Amway's 'active' and 'gross "
            f"income'): ${v0['gross_income_full']:,.0f}.",
        ),
    ]
    for row in rows:
        row.values["run"] = v0
    return rows


# ============================================================================================
# The whole table


@dataclass(frozen=True)
class Sizes:
    """The designs the command runs (``quick`` is for tests and a first look)."""

    trees: TreeDesign
    bass: WellMixedDesign
    logistic: WellMixedDesign
    calibration: CalibrationDesign


def sizes(quick: bool = False) -> Sizes:
    """Designs for the full table or a quick one (fewer seeds, same settings)."""
    n_tree, n_wm, n_cal = (16, 8, 1) if quick else (60, 24, 5)
    return Sizes(
        trees=TreeDesign(seeds=tuple(range(n_tree))),
        bass=WellMixedDesign(seeds=tuple(range(n_wm))),
        logistic=WellMixedDesign(seeds=tuple(range(n_wm)), spontaneous=0.0, months=30),
        calibration=CalibrationDesign(seeds=tuple(range(1, n_cal + 1))),
    )


def exact_rows(s: Sizes) -> list[Row]:
    """Every exact check, in the order of the table."""
    return [
        check_rrt_leaf_share(s.trees),
        check_rrt_recruits_of_ith(s.trees),
        check_rrt_levels(s.trees),
        check_preferential_leaf_share(s.trees),
        check_pyramid(),
        check_pyramid_finite(),
        check_pyramid_every_month(),
        check_bass(s.bass),
        check_logistic(s.logistic),
        check_unilevel_chain(),
    ]


def validation_table(
    quick: bool = False, only: Literal["all", "exact", "calibration"] = "all"
) -> list[Row]:
    """All rows of the validation table."""
    s = sizes(quick)
    rows: list[Row] = []
    if only in ("all", "exact"):
        rows += exact_rows(s)
    if only in ("all", "calibration"):
        rows += calibration_rows(s.calibration)
    return rows


def _verdict(row: Row) -> str:
    """``pass``; ``FAIL`` for an exact check; ``outside`` for a calibration figure."""
    if row.passed:
        return "pass"
    return "FAIL" if row.kind == "exact" else "outside"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: Sequence[Row]) -> str:
    """The table as GitHub markdown: one table per kind, every column."""
    out = []
    for kind, title in (("exact", "Exact checks"), ("calibration", "Calibration")):
        part = [r for r in rows if r.kind == kind]
        if not part:
            continue
        out.append(f"### {title}\n")
        out.append(
            "| check | what | source | population | expected | model | result | note | rerun |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in part:
            cells = [
                f"`{r.name}`",
                r.what,
                r.source,
                r.population,
                r.expected,
                r.model,
                f"**{_verdict(r)}**",
                r.note,
                f"`{r.rerun}`" if r.rerun else "",
            ]
            out.append("| " + " | ".join(_md(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def to_text(rows: Sequence[Row], width: int = 80) -> str:
    """The table for a terminal ``width`` columns wide (80 by default).

    One record per check: its name and result on a line, what it checks, then the expected
    value (for a calibration figure, the published range) and the model's, each wrapped onto
    as many lines as it needs, never cut.
    """
    import textwrap

    label = 11  # "  expected " / "  model    "
    out: list[str] = []
    for kind, title in (("exact", "Exact checks"), ("calibration", "Calibration")):
        group = [r for r in rows if r.kind == kind]
        if not group:
            continue
        if out:
            out.append("")
        out += [title, "=" * len(title)]
        for r in group:
            verdict = _verdict(r)
            dots = "." * max(3, width - len(r.name) - len(verdict) - 2)
            out.append(f"{r.name} {dots} {verdict}")
            out += textwrap.wrap(r.what, width=width, initial_indent="  ", subsequent_indent="  ")
            for name, value in (("expected", r.expected), ("model", r.model)):
                out += textwrap.wrap(
                    str(value),
                    width=width,
                    initial_indent=f"  {name:<{label - 3}} ",
                    subsequent_indent=" " * label,
                    break_on_hyphens=False,
                ) or [f"  {name}"]
    return "\n".join(out)


# ============================================================================================
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mlmsim validate``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer seeds (about 30 s on 2 cores): the same checks, wider standard errors",
    )
    parser.add_argument(
        "--only",
        choices=("all", "exact", "calibration"),
        default="all",
        help="run only the exact checks or only the calibration (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="also write the full table as markdown to FILE.md"
    )


def run(args: argparse.Namespace) -> int:
    """``mlmsim validate``: rerun the table, print it; exit 1 if an exact check fails.

    Calibration figures outside their published range do not fail the command: each is
    explained in ``docs/validation.md``.
    """
    import textwrap

    t0 = time.perf_counter()
    rows = validation_table(quick=args.quick, only=args.only)
    seconds = time.perf_counter() - t0
    print(to_text(rows))
    exact = [r for r in rows if r.kind == "exact"]
    calib = [r for r in rows if r.kind == "calibration"]
    counts = []
    if exact:
        counts.append(f"{sum(r.passed for r in exact)}/{len(exact)} exact checks pass")
    if calib:
        counts.append(
            f"{sum(r.passed for r in calib)}/{len(calib)} calibration figures inside their "
            "published range"
        )
    print()
    print(textwrap.fill(f"{'; '.join(counts)} ({seconds:.0f} s{', quick' if args.quick else ''})."))
    outside = [r.name for r in calib if not r.passed]
    if outside:
        print(
            textwrap.fill(
                f"Outside their published range: {', '.join(outside)}. Each is explained in "
                "docs/validation.md, 'Figures outside their published range, explained'."
            )
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(to_markdown(rows), encoding="utf-8")
        print(f"markdown table: {args.out}")
    if not all(r.passed for r in exact):
        print("error: an exact check failed", file=sys.stderr)
        return 1
    return 0
