"""Degenerate settings reproduce known mathematics (exact expectations, many seeds).

Month batching changes the textbook answers, so each test derives the batched expectation
conditional on the realised monthly counts, which is exact, and checks the mean over seeds
within a few standard errors. The derivations and runs live in :mod:`simulation.validation`
(shared with ``mlmsim validate`` and ``tests/test_validation.py``, which tests the other laws).
"""

import numpy as np

from simulation import validation as v


def test_uniform_recruiting_gives_a_random_recursive_tree():
    """Share who never recruit: exact batched expectation, and about one half."""
    row = v.check_rrt_leaf_share(v.TreeDesign(seeds=tuple(range(40))))
    print(f"never recruited: {row.model}, batched expectation {row.expected}")
    # P(i never chosen) = prod over later months t of (1 - 1/n_t)^{j_t}
    assert abs(row.values["z"]) < 4
    # The continuous-time law: about half of all participants never recruit anyone.
    assert 0.45 < row.values["observed"] < 0.56


def test_well_mixed_adoption_follows_the_month_stepped_bass_curve():
    """E[J_t | D_t, P_t] = P_t (1 - (1-p)(1-a/N)^{c D_t}); residuals are a martingale."""
    design = v.WellMixedDesign(seeds=tuple(range(12)))  # N 20,000, c 2, a 0.5, p 0.001
    st = v.well_mixed_statistics(design)
    z = st["z"]
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert 0.3 < z.std(ddof=1) < 2.0  # joins are close to binomial given the state
    # The mean path follows the deterministic month-stepped Bass recursion (logistic for p=0).
    assert np.max(np.abs(st["mean_path"] - st["curve"])) < 0.02
    assert st["mean_path"][-1] > 0.95  # everyone joins eventually in this degenerate market
