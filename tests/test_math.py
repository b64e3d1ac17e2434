"""Degenerate settings reproduce known mathematics (exact expectations, many seeds).

Month batching changes the textbook answers, so each test derives the batched expectation
conditional on the realised monthly counts, which is exact, and checks the mean over seeds
within a few standard errors.
"""

import numpy as np

from simulation.model import MLMModel
from tests.helpers import scenario_with

QUIET = (
    "recruit.refusals=false",
    "quit.enabled=false",
    "retail.enabled=false",
    "market.heterogeneity=false",
    "recruit.fatigue=1",
    "recruit.bad_news=0",
)


def test_uniform_recruiting_gives_a_random_recursive_tree():
    """Share who never recruit: exact batched expectation, and about one half."""
    seeds = range(40)
    observed, expected = [], []
    for seed in seeds:
        scen = scenario_with(
            *QUIET,
            'recruit.mode="uniform_sponsor"',
            "recruit.fixed_join_prob=0.004",
            "market.population=6000",
            "market.founders=1",
            'market.network="well_mixed"',
            "scenario.months=150",
            f"scenario.seed={seed}",
        )
        m = MLMModel(scenario=scen, agents=False)
        n_before, joins = [], []
        for _ in range(scen.scenario.months):
            n_before.append(m.stats["distributors"])
            m.step()
            joins.append(m.stats["joined"])
        pop = m.pop
        ever = np.flatnonzero(pop.join_month >= 0)
        observed.append(float((pop.recruits[ever] == 0).mean()))
        # P(i never chosen) = prod over later months t of (1 - 1/n_t)^{j_t}
        n_t = np.array(n_before, float)
        j_t = np.array(joins, float)
        with np.errstate(divide="ignore"):  # n_t = 1: the lone founder is surely chosen
            log_keep = np.where(j_t > 0, j_t * np.log1p(-1.0 / n_t), 0.0)  # month t = index+1
        tail = np.concatenate((np.cumsum(log_keep[::-1])[::-1], [0.0]))
        jm = pop.join_month[ever]  # joined in month s: exposed to months s+1..T
        expected.append(float(np.exp(tail[jm]).mean()))
    obs, exp = np.array(observed), np.array(expected)
    diff = obs - exp
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    print(f"never recruited: observed {obs.mean():.4f}, batched expectation {exp.mean():.4f}")
    assert abs(diff.mean()) < 4 * se + 1e-4
    # The continuous-time law: about half of all participants never recruit anyone.
    assert 0.45 < obs.mean() < 0.56


def test_well_mixed_adoption_follows_the_month_stepped_bass_curve():
    """E[J_t | D_t, P_t] = P_t (1 - (1-p)(1-a/N)^{c D_t}); residuals are a martingale."""
    N, c, a, p = 20000, 2, 0.5, 0.001
    zs, curves = [], []
    for seed in range(12):
        scen = scenario_with(
            *QUIET,
            'recruit.mode="well_mixed"',
            'market.network="well_mixed"',
            'recruit.pitch_count="fixed"',
            f"recruit.pitches_per_month={c}",
            f"recruit.join_prob={a}",
            f"recruit.spontaneous_join_prob={p}",
            f"market.population={N}",
            "market.founders=10",
            "scenario.months=40",
            f"scenario.seed={seed}",
        )
        m = MLMModel(scenario=scen, agents=False)
        resid, var, cum = 0.0, 0.0, [m.stats["ever_joined"]]
        for _ in range(40):
            D = m.stats["distributors"]
            P = N - m.stats["ever_joined"]
            q = 1 - (1 - p) * (1 - a / N) ** (c * D)
            m.step()
            J = m.stats["joined"]
            resid += J - P * q
            var += P * q * (1 - q)
            cum.append(m.stats["ever_joined"])
        zs.append(resid / np.sqrt(var))
        curves.append(cum)
    z = np.array(zs)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert 0.3 < z.std(ddof=1) < 2.0  # joins are close to binomial given the state
    # The mean path follows the deterministic month-stepped Bass recursion (logistic for p=0).
    x = [10 / N]
    for _ in range(40):
        D = x[-1] * N
        x.append(x[-1] + (1 - x[-1]) * (1 - (1 - p) * (1 - a / N) ** (c * D)))
    mean_path = np.mean(curves, axis=0) / N
    assert np.max(np.abs(mean_path - np.array(x))) < 0.02
    assert mean_path[-1] > 0.95  # everyone joins eventually in this degenerate market
