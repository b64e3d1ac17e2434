"""The plan changes what people do: paired-seed comparisons in a town that responds to pay.

The Done-when comparisons of the behaviour issue at a smaller scale than the benchmark
(benchmarks/bench_plan_response.py: 20,000 people x 60 months x 20 seeds, figures in
benchmarks/README.md and docs/odd.md): each difference's two-sided 95% t interval over the
seeds must exclude zero, on the predicted side. The interval's half-width (the tolerance) is
derived here from the seeds' own spread, t(0.975, n - 1) x sd / sqrt(n), as computed by
:func:`simulation.plan_response.paired_interval`, which the first test checks by hand.
"""

import math

import numpy as np
import pytest

from simulation.plan_response import compare, growth_figures, paired_interval
from tests.helpers import make_model

PYRAMID = ['plan.file="pure_pyramid"', "buy.own_use_pv=0", "retail.enabled=false"]
RETAIL_HEAVY = ['plan.file="retail_heavy_50"']


def test_paired_interval_by_hand():
    # Differences 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446.
    iv = paired_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert iv.mean == 2.5 and iv.n == 4
    assert iv.low == pytest.approx(2.5 - half, rel=1e-9)
    assert iv.high == pytest.approx(2.5 + half, rel=1e-9)
    assert iv.excludes_zero  # 2.5 - 2.054 > 0
    assert not paired_interval([-1.0, 1.0, -2.0, 2.0]).excludes_zero
    with pytest.raises(ValueError, match="at least 2 pairs, got 1"):
        paired_interval([1.0])
    with pytest.raises(ValueError, match="must be finite, got nan"):
        paired_interval([1.0, float("nan")])


def test_growth_figures_of_a_run_by_hand():
    m = make_model("market.population=600", "scenario.months=12", agents=False).run()
    joins = np.asarray(m.datacollector.model_vars["joined"], dtype=float)[1:]
    fig = growth_figures(m)
    peak = int(np.argmax(joins))
    assert fig["peak_month"] == peak + 1 and fig["peak_joins"] == joins[peak]
    below = [t for t in range(peak + 1, joins.size) if joins[t] < joins[peak] / 2]
    assert fig["half_peak_month"] == (below[0] + 1 if below else 13)
    late = m.ever_ids[m.ever_ids.size // 2 :]
    assert fig["late_loss_share"] == np.mean(m.pop.net_income(rows=late) < 0)
    assert fig["joined_by_12"] == joins[:12].sum()
    assert fig["ever_joined"] == m.ever_ids.size


@pytest.mark.slow
def test_a_pure_pyramid_peaks_earlier_and_higher_and_fails_its_late_joiners_more():
    base = ["market.population=10000"]
    iv, a, b = compare("plan_response", [*base, *PYRAMID], [*base, *RETAIL_HEAVY], range(8))
    report = {k: (round(v.mean, 3), round(v.low, 3), round(v.high, 3)) for k, v in iv.items()}
    assert iv["peak_month"].high < 0, report  # earlier
    assert iv["peak_joins"].low > 0, report  # higher
    assert iv["half_peak_month"].high < 0, report  # below half its peak sooner
    assert iv["late_loss_share"].low > 0, report  # more of its late joiners lose money
    # Nearly all of the pyramid's late joiners lose (a joiner needs at least two paid
    # recruits to earn back the 60.70 kit and the 25 a month of fees).
    assert a["late_loss_share"].mean() > b["late_loss_share"].mean()


@pytest.mark.slow
def test_a_large_fast_start_bonus_recruits_faster_than_the_same_plan_without_it():
    base = ["market.population=20000"]
    iv, _, _ = compare(
        "plan_response",
        [*base, 'plan.file="unilevel_5_fast_start"'],
        [*base, 'plan.file="unilevel_5"'],
        range(10),
    )
    report = {k: (round(v.mean, 3), round(v.low, 3), round(v.high, 3)) for k, v in iv.items()}
    assert iv["ever_joined"].low > 0, report
    assert iv["peak_joins"].low > 0, report
