"""Exact checks: simulations of the degenerate settings compared with the formulas.

Each check compares the mean over many seeds with the month-batched expectation of
:mod:`simulation.validation.formulas` within a few standard errors, and states the
continuous-time textbook value beside it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from simulation.behaviour import preferential_recruit, pyramid_recruit
from simulation.plans import PeriodInput, load_plan, plan_from_dict
from simulation.validation.formulas import (
    bass_recursion,
    logistic_continuous,
    preferential_expected_leaves,
    pyramid_level_sizes,
    pyramid_monthly_level_sizes,
    pyramid_never_recruited,
    rrt_expected_levels,
    rrt_expected_recruits,
    rrt_never_recruit_probability,
    rrt_textbook_levels,
    rrt_textbook_recruits,
)
from simulation.validation.row import (
    TEST_FILE,
    Z_LIMIT,
    Row,
    percent,
    quiet_scenario,
    zscore,
)


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
    from simulation.model import MLMModel  # noqa: PLC0415 - mesa: 0.9 s at every CLI start

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


def check_rrt_leaf_share(design: TreeDesign) -> Row:
    """Uniform recruiting: the share who never recruit, against its batched expectation."""
    obs, exp = [], []
    for run in design.runs("uniform"):
        obs.append(float((run.recruits == 0).mean()))
        p = rrt_never_recruit_probability(run.join_month, run.n_before, run.joins)
        exp.append(float(p.mean()))
    o, e = np.array(obs), np.array(exp)
    z = zscore(o - e)
    passed = abs(z) < Z_LIMIT and 0.45 < o.mean() < 0.56
    return Row(
        name="rrt_leaf_share",
        kind="exact",
        what="Uniform sponsor choice: share of joiners who never recruit anyone",
        source="Random recursive tree: P(node i is a leaf) = prod_t (1 - 1/D_t)^{J_t} "
        "(month-batched, derived); textbook one-at-a-time limit 1/2",
        population="everyone who joined (no quits)",
        expected=f"{percent(e.mean(), 2)} (batched); 1/2 textbook",
        model=f"{percent(o.mean(), 2)} (z = {z:+.2f})",
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
    zs = {i: zscore(np.array(diffs[i])) for i in ranks}
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
    zs = np.array([zscore(Obs[:, k] - E[:, k]) for k in tested])
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
    z = zscore(o - e)
    return Row(
        name="preferential_leaf_share",
        kind="exact",
        what="Preferential sponsor choice (prob. proportional to recruits + 1): share who "
        "never recruit",
        source="Plane-oriented recursive tree: E[leaves] = (2n - 1)/3 one at a time; batched "
        "E[L_t] = E[L_{t-1}] (1 - 1/W_t)^{J_t} + J_t with W_t = 2 D_t - F (derived)",
        population="everyone who joined (no quits)",
        expected=f"{percent(e.mean(), 2)} (batched); {percent(b.mean(), 2)} textbook",
        model=f"{percent(o.mean(), 2)} (z = {z:+.2f})",
        passed=abs(z) < Z_LIMIT,
        note=f"{design.describe()}. Rich-get-richer recruiting leaves 2/3 of members without "
        "a recruit (uniform: 1/2); batching lowers it a little, because a month's joiners "
        "cannot recruit each other but all are weighted against the same old leaves.",
        rerun=f"pytest {TEST_FILE}::test_preferential_recruiting_leaf_share",
        values={"observed": o.mean(), "expected": e.mean(), "textbook": b.mean(), "z": z},
    )


def run_pyramid(founders: int, r: int, population: int, months: int, every_month: bool = False):
    """Run the model with :func:`pyramid_recruit`; returns it after ``months`` months."""
    from simulation.model import MLMModel  # noqa: PLC0415 - mesa: 0.9 s at every CLI start

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
        expected=f"levels {expected}; bottom {percent(bottom_exp, 2)} "
        f"(limit {percent((r - 1) / r)})",
        model=f"levels {sizes}; bottom {percent(bottom, 2)}; never recruited {percent(never, 2)}",
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
        f"({percent(never_exp / population)})",
        model=f"levels {sizes}; never recruited {never:,} ({percent(never / population)})",
        passed=sizes == expected and never == never_exp,
        note="Deterministic. The market runs out after "
        f"{len(expected) - 1} months; {percent(never_exp / population)} of everyone recruited "
        f"nobody (the (r-1)/r = {percent((r - 1) / r)} of a complete pyramid, give or take the "
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
    from simulation.model import MLMModel  # noqa: PLC0415 - mesa: 0.9 s at every CLI start

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


def unilevel_chain_model(months: int = 12, pv: float = 100.0, *sets: str):
    """The chain of :func:`run_unilevel_chain_model`, built and not yet run.

    Unilevel_5, one founder, everyone recruits exactly one the month after joining
    (:func:`pyramid_recruit` r = 1) and uses ``pv`` a month; no top-ups, no loading, nothing
    else (:func:`quiet_scenario`). ``sets``: further scenario changes.
    """
    from simulation.model import MLMModel  # noqa: PLC0415 - mesa: 0.9 s at every CLI start

    scen = quiet_scenario(
        "market.population=100",
        "market.founders=1",
        'market.network="well_mixed"',
        f"scenario.months={months}",
        f"buy.own_use_pv={pv}",
        "buy.autoship_share=0",
        "buy.loader_share=0",
        'plan.file="unilevel_5"',
        *sets,
    )
    return MLMModel(scenario=scen, agents=False, rules={"recruit": pyramid_recruit(1)})


def run_unilevel_chain_model(months: int = 12, pv: float = 100.0):
    """A chain grown by :func:`pyramid_recruit` (r = 1), everyone buying ``pv`` a month.

    Returns ``(paid per month, expected per month)``: in month t the chain has t + 1 members,
    each with PV = BV = ``pv``; the member with d uplines pays ``pv * sum_{j<=min(d, L)} p_j``,
    so month t pays ``pv * sum_{d=1}^{t} sum_{j<=min(d, L)} p_j`` (unilevel_5: no rank
    gates, the 45% cap never binds below 25%).
    """
    m = unilevel_chain_model(months, pv)
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
        source="Per unit of BV with L uplines: sum_j p_j (docs/plans.md, Unilevel); month t of a "
        "growing chain: pv * sum_{d=1}^{t} sum_{j<=min(d,L)} p_j",
        population="a chain: one founder, each member recruits exactly one (pyramid r = 1)",
        expected=f"engine: {percent(total)} of the bottom BV, upline j gets p_j, upline L+1 "
        f"nothing; model: month {months} pays {expected[-1]:.2f}",
        model=f"engine: {percent(eng['total'] / 100.0)}, uplines {[round(b, 6) for b in by]}; "
        f"model: month {months} paid {paid[-1]:.2f}, all {months} months equal",
        passed=engine_ok and model_ok,
        note="Exact to 1e-9 USD every month through the whole model (buy, pay, account). "
        f"As the chain grows, commissions -> {percent(total)} of BV.",
        rerun=f"pytest {TEST_FILE}::test_unilevel_on_a_chain_pays_the_sum_of_its_percentages",
        values={"engine": eng, "paid": paid.tolist(), "expected": expected.tolist()},
    )
