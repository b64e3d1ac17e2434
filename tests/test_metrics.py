"""Outcome metrics against values worked out by hand (see the comments for the arithmetic)."""

import math
import time

import numpy as np
import pandas as pd
import pytest

from simulation.metrics import (
    annual_quit_rate,
    bass_fit,
    by_group,
    gini,
    income_disclosure,
    lorenz,
    months_to_half_peak,
    penetration,
    pyramid_indicators,
    share_below,
    summary,
    survival_by_cohort,
    top_share,
)

# ---------------------------------------------------------------------------------------------
# concentration


def brute_force_gini(x):
    """O(n^2) definition: sum over ordered pairs |xi - xj| / (2 n sum|x|)."""
    x = np.asarray(x, float)
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size * np.abs(x).sum())


def test_gini_of_equal_values_is_zero():
    assert gini([1, 1, 1, 1]) == 0.0


def test_gini_population_definition_of_one_owner():
    # Population definition: D = sum over ordered pairs = 2 * 3 * |0 - 1| = 6,
    # G = D / (2 n^2 mean) = 6 / (2 * 16 * 0.25) = 0.75 (the sample definition would give 1).
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert gini([0, 0, 0, 1], method="mean") == pytest.approx(0.75)


def test_gini_of_one_to_four_by_hand():
    # Unordered pairs: 1+2+3+1+2+1 = 10, ordered 20; G = 20 / (2 * 16 * 2.5) = 0.25.
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)


def test_gini_with_losses_rsv_and_textbook():
    # x = [-2, 0, 1, 3]: unordered pair gaps 2+3+5+1+3+2 = 16, ordered D = 32.
    # RSV: D / (2 n sum|x|) = 32 / (2 * 4 * 6) = 2/3; textbook: 32 / (2 * 16 * 0.5) = 2.0 > 1.
    assert gini([-2, 0, 1, 3]) == pytest.approx(2 / 3)
    assert gini([-2, 0, 1, 3], method="mean") == pytest.approx(2.0)


def test_gini_defined_when_most_lose_money():
    # Mean < 0: the textbook formula is meaningless (NaN here); RSV stays in [0, 1).
    # [-3, -1, 0, 2]: gaps 2+3+5+1+3+2 = 16, D = 32, sum|x| = 6, G = 32 / 48.
    assert gini([-3, -1, 0, 2]) == pytest.approx(2 / 3)
    assert math.isnan(gini([-3, -1, 0, 2], method="mean"))


def test_gini_matches_the_pairwise_definition_on_random_vectors():
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 50, 301):
        x = rng.normal(0.3, 1.0, n)
        assert gini(x) == pytest.approx(brute_force_gini(x), rel=1e-12)


def test_gini_undefined_cases_and_bad_input():
    assert math.isnan(gini([]))
    assert math.isnan(gini([0.0, 0.0]))
    with pytest.raises(ValueError, match="index 1"):
        gini([1.0, np.nan])
    with pytest.raises(ValueError, match="method"):
        gini([1.0], method="cheap")


def test_lorenz_hand_case_and_endpoints():
    # Sorted [1, 2, 3, 4], total 10: cumulative 0, 1, 3, 6, 10.
    pop, share = lorenz([3, 1, 4, 2])
    assert pop.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert share == pytest.approx([0.0, 0.1, 0.3, 0.6, 1.0])


def test_lorenz_with_losses_dips_below_zero():
    # [-2, 0, 1, 3], total 2: cumulative 0, -2, -2, -1, 2 -> / 2.
    _, share = lorenz([3, -2, 1, 0])
    assert share == pytest.approx([0.0, -1.0, -1.0, -0.5, 1.0])


def test_lorenz_with_a_negative_total_uses_absolute_scale():
    # [-3, 1]: total -2 <= 0, so scale = sum|x| = 4: cumulative 0, -3, -2 -> 0, -0.75, -0.5.
    _, share = lorenz([1, -3])
    assert share == pytest.approx([0.0, -0.75, -0.5])


def test_lorenz_thinned_keeps_exact_points_and_endpoints():
    x = np.arange(1, 101, dtype=float)
    pop, share = lorenz(x, max_points=11)
    assert pop.tolist() == pytest.approx(np.linspace(0, 1, 11).tolist())
    # At 10% of persons: 1+...+10 = 55 of 5050.
    assert share[1] == pytest.approx(55 / 5050)
    assert (share[0], share[-1]) == (0.0, pytest.approx(1.0))


def test_top_shares_by_hand():
    x = np.arange(1, 11, dtype=float)  # total 55
    assert top_share(x, 0.1) == pytest.approx(10 / 55)  # 1 person
    assert top_share(x, 0.15) == pytest.approx((10 + 0.5 * 9) / 55)  # 1.5 persons
    assert top_share(x, 0.01) == pytest.approx(0.1 * 10 / 55)  # 0.1 of the richest
    assert top_share(x, 1.0) == pytest.approx(1.0)
    assert top_share(x, 0.0) == 0.0
    y = np.arange(1, 21, dtype=float)  # total 210; top 10% = 2 persons: 20 + 19
    assert top_share(y, 0.1) == pytest.approx(39 / 210)
    z = np.arange(1, 26, dtype=float)  # total 325; top 10% = 2.5 persons: 25 + 24 + 0.5 * 23
    assert top_share(z, 0.1) == pytest.approx(60.5 / 325)


def test_top_share_agrees_with_the_lorenz_curve():
    rng = np.random.default_rng(2)
    x = rng.lognormal(size=1000)
    pop, share = lorenz(x)
    for q in (0.01, 0.1, 0.25, 0.333):
        assert top_share(x, q) == pytest.approx(1 - np.interp(1 - q, pop, share), rel=1e-9)


def test_top_share_with_losses_and_undefined_totals():
    # [-5, 1, 2, 12], total 10: the top quarter (12) holds 120% of the net total.
    assert top_share([-5, 1, 2, 12], 0.25) == pytest.approx(1.2)
    assert math.isnan(top_share([-5, 1, 2], 0.25))  # total -2
    assert math.isnan(top_share([], 0.1))
    with pytest.raises(ValueError, match=r"1\.5"):
        top_share([1.0], 1.5)


def test_share_below_is_strict():
    x = [-5, 1, 2, 12]
    assert share_below(x) == 0.25
    assert share_below(x, 2) == 0.5  # -5 and 1; 2 is not below 2
    assert math.isnan(share_below([]))


def test_summary_by_hand():
    s = summary([12, 0, -5, 1, 0, 2])
    # sorted [-5, 0, 0, 1, 2, 12]; unordered gaps: -5 with the rest 5+5+6+7+17 = 40,
    # 0: 0+1+2+12 = 15, 0: 1+2+12 = 15, 1: 1+11 = 12, 2: 10 -> 92, ordered 184;
    # G = 184 / (2 * 6 * 20) = 23/30. Top 10%: 0.6 of 12 = 7.2 of 10.
    assert s["n"] == 6
    assert s["total"] == 10
    assert s["mean"] == pytest.approx(10 / 6)
    assert s["median"] == 0.5
    assert s["gini"] == pytest.approx(23 / 30)
    assert s["top10"] == pytest.approx(0.72)
    assert s["top1"] == pytest.approx(0.06 * 12 / 10)
    assert s["share_loss"] == pytest.approx(1 / 6)
    assert s["share_zero"] == pytest.approx(2 / 6)


def test_by_group_by_hand():
    values = [1, 2, 3, 4, 0, 1, 0, 0, 3, -2, 1, 0]
    groups = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    t = by_group(values, groups)
    assert t.index.tolist() == ["a", "b", "c"]
    assert t["n"].tolist() == [4, 4, 4]
    assert t["mean"].tolist() == pytest.approx([2.5, 0.25, 0.5])
    assert t["median"].tolist() == pytest.approx([2.5, 0.0, 0.5])
    assert t["gini"].tolist() == pytest.approx([0.25, 0.75, 2 / 3])
    assert t["share_loss"].tolist() == pytest.approx([0.0, 0.0, 0.25])
    # Top 10% of 4 persons = 0.4 of the richest: 0.4*4/10, 0.4*1/1, 0.4*3/2.
    assert t["top10"].tolist() == pytest.approx([0.16, 0.4, 0.6])


def test_by_group_agrees_with_summary_per_group():
    rng = np.random.default_rng(3)
    x = rng.normal(0.2, 1, 2000)
    g = rng.integers(1, 8, 2000)
    t = by_group(x, g, name="level")
    assert t.index.name == "level"
    for level, row in t.iterrows():
        s = summary(x[g == level])
        assert row["n"] == s["n"]
        for col in ("mean", "median", "gini", "share_loss"):
            assert row[col] == pytest.approx(s[col], rel=1e-9, abs=1e-12)
        assert row["top10"] == pytest.approx(s["top10"], rel=1e-9, nan_ok=True)


def test_million_element_inputs_are_fast():
    # Catches an accidental O(n^2) (hours) without timing noise: each call takes ~0.1 s.
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 1_000_000)
    g = rng.integers(0, 30, x.size)
    t = time.perf_counter()
    assert gini(x) == pytest.approx(1 / 3, abs=2e-3)  # Gini of U(0, 1) is 1/3
    assert top_share(x, 0.1) == pytest.approx(0.19, abs=2e-3)  # (1 - 0.81) / 1
    lorenz(x)
    summary(x)
    by_group(x, g)
    assert time.perf_counter() - t < 10


# ---------------------------------------------------------------------------------------------
# saturation


def bass_joins(p, q, m, n0, months):
    """Joins per month from the discrete recursion N' = N + (p + qN/m)(m - N)."""
    n = [n0]
    for _ in range(months):
        n.append(n[-1] + (p + q * n[-1] / m) * (m - n[-1]))
    return np.diff(n)


@pytest.mark.parametrize(
    ("p", "q", "m", "n0", "months", "population"),
    [
        (0.003, 0.4, 8000, 0, 60, 10000),
        (0.0005, 0.9, 500_000, 10, 120, 1_000_000),
        (0.01, 0.5, 10000, 0, 80, 10000),  # m = population: the bound is active
        (0.02, 0.0, 3000, 0, 50, 10000),  # pure innovation
    ],
)
def test_bass_fit_recovers_the_parameters_of_its_own_recursion(p, q, m, n0, months, population):
    joins = bass_joins(p, q, m, n0, months)
    fit = bass_fit(joins, population, initial=n0)
    assert fit.ok
    assert fit.p == pytest.approx(p, rel=1e-3)
    assert fit.q == pytest.approx(q, rel=1e-3, abs=1e-9)
    assert fit.m == pytest.approx(m, rel=1e-3)
    assert fit.fitted == pytest.approx(joins, rel=1e-6, abs=1e-6)
    assert fit.fitted_cumulative[-1] == pytest.approx(n0 + joins.sum(), rel=1e-9)
    assert fit.rmse < 1e-3


def test_bass_fit_on_whole_person_counts_is_close():
    joins = np.round(bass_joins(0.002, 0.5, 40000, 5, 60))
    fit = bass_fit(joins, 50000, initial=5)
    assert fit.ok
    assert (fit.p, fit.q, fit.m) == (
        pytest.approx(0.002, rel=0.02),
        pytest.approx(0.5, rel=0.01),
        pytest.approx(40000, rel=0.01),
    )


def test_bass_fit_without_joins_is_flagged_not_raised():
    fit = bass_fit(np.zeros(24), 1000)
    assert not fit.ok
    assert "no joins" in fit.message
    assert math.isnan(fit.p) and math.isnan(fit.m)
    assert np.isnan(fit.fitted).all() and fit.fitted.shape == (24,)
    assert not bass_fit([3.0, 1.0], 1000).ok  # too few months


def test_bass_fit_rejects_impossible_input():
    with pytest.raises(ValueError, match="index 2"):
        bass_fit([1, 2, -1, 0], 100)
    with pytest.raises(ValueError, match="population"):
        bass_fit([60, 50, 0], 100)


def test_months_to_half_peak_by_hand():
    # Peak 5 at index 2; index 3 has 4 (not < 2.5); index 4 has 2 < 2.5.
    assert months_to_half_peak([1, 3, 5, 4, 2, 1]) == 4
    assert months_to_half_peak([5, 3, 3]) is None  # 3 is not below 2.5
    assert months_to_half_peak([4, 2]) is None  # 2 is half, not below it
    assert months_to_half_peak([2, 8, 8, 3.9]) == 3  # the first of equal peaks counts
    assert months_to_half_peak([0, 0, 0]) is None
    assert months_to_half_peak([]) is None


def test_penetration():
    assert penetration(250, 1000) == 0.25
    assert penetration(np.array([0, 10, 40]), 40).tolist() == [0.0, 0.25, 1.0]
    with pytest.raises(ValueError, match="41"):
        penetration(41, 40)


# ---------------------------------------------------------------------------------------------
# attrition


def test_survival_by_cohort_by_hand_with_censoring():
    # Run ends at month 5. Cohort 0: A active, B quit month 1, C quit month 3.
    # Cohort 3: D active, E quit month 4, F quit month 3 (the month it joined). G never joined.
    join = [0, 0, 0, 3, 3, 3, -1]
    quit_ = [-1, 1, 3, -1, 4, 3, -1]
    t = survival_by_cohort(join, quit_, 3, last_month=5)
    assert t.index.tolist() == [0, 3]
    assert t.columns.tolist() == [0, 1, 2, 3]
    # Cohort 0, active at the end of months 0, 1, 2, 3: ABC, AC, AC, A.
    assert t.loc[0].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1 / 3])
    # Cohort 3 at months 3, 4, 5: DE, D, D; month 6 is after the run (censored).
    row = t.loc[3].tolist()
    assert row[:3] == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert math.isnan(row[3])
    assert t.attrs["n"] == {0: 3, 3: 3}


def test_survival_rejects_a_quit_before_joining():
    with pytest.raises(ValueError, match="row 1"):
        survival_by_cohort([0, 4], [-1, 2], 3, last_month=5)


def test_annual_quit_rate_by_hand():
    # Hazards 0.1 and 0.2: monthly survival geometric mean sqrt(0.72); 1 - 0.72^6.
    assert annual_quit_rate([10, 10], [100, 50]) == pytest.approx(1 - 0.72**6)
    # Twelve months at 5%: 1 - 0.95^12 of those at risk at the start quit within the year.
    assert annual_quit_rate([5] * 12, [100] * 12) == pytest.approx(1 - 0.95**12)
    assert math.isnan(annual_quit_rate([0], [0]))
    with pytest.raises(ValueError, match="month index 1"):
        annual_quit_rate([1, 9], [5, 8])


# ---------------------------------------------------------------------------------------------
# income disclosure statement


def ten_person_population():
    """Year = months 13..24 (first 13, last 24). Costs and net are over those 12 months."""
    rows = [
        # id, rank, status, join, quit, gross, costs, net        population
        ("A", 2, "distributor", 0, -1, 5000, 1200, 3800),  # active all year
        ("B", 1, "distributor", 3, -1, 300, 900, -600),  # active all year
        ("C", 1, "distributor", 5, -1, 100, 700, -600),  # active all year
        ("D", 0, "distributor", 10, -1, 0, 600, -600),  # active all year
        ("E", 0, "distributor", 12, -1, 20, 650, -630),  # active all year (joined before 13)
        ("F", 0, "distributor", 13, -1, 0, 500, -500),  # joined during the year
        ("G", 0, "distributor", 20, -1, 10, 300, -290),  # joined during the year
        ("H", 0, "quit", 8, 15, 0, 250, -250),  # quit during the year
        ("I", 1, "quit", 14, 18, 50, 400, -350),  # joined and quit during the year
        ("J", 0, "quit", 2, 11, 0, 0, 0),  # quit before the year: not a participant
    ]
    cols = ["id", "rank", "status", "join_month", "quit_month"]
    cols += ["commissions_year", "costs_year", "net_income_year"]
    return pd.DataFrame(rows, columns=cols).set_index("id")


def ids_row(table, population, rank=None):
    block = table[table["population"] == population]
    sel = block["rank"].isna() if rank is None else (block["rank"] == rank).fillna(False)
    (i,) = np.flatnonzero(sel.to_numpy())
    return block.iloc[i]


def test_income_disclosure_company_block_by_hand():
    t = income_disclosure(ten_person_population(), range(13, 25))
    block = t[t["population"] == "active_full_year"]
    assert block["rank"].tolist()[:3] == [0, 1, 2] and pd.isna(block["rank"].iloc[3])
    # Rank 0: D, E. gross 0, 20; costs 600, 650; net -600, -630.
    r0 = ids_row(t, "active_full_year", 0)
    assert r0["count"] == 2
    assert r0["share_of_population"] == pytest.approx(2 / 5)
    assert r0["share_of_participants"] == pytest.approx(2 / 9)
    assert (r0["mean_gross"], r0["median_gross"], r0["share_no_gross"]) == (10, 10, 0.5)
    assert (r0["mean_costs"], r0["mean_net"], r0["share_net_loss"]) == (625, -615, 1.0)
    # Rank 1: B, C. gross 300, 100 -> 200; net -600 each.
    r1 = ids_row(t, "active_full_year", 1)
    assert (r1["count"], r1["mean_gross"], r1["median_net"], r1["share_no_gross"]) == (
        2,
        200,
        -600,
        0.0,
    )
    # Rank 2: A alone.
    r2 = ids_row(t, "active_full_year", 2)
    assert (r2["count"], r2["mean_gross"], r2["mean_net"], r2["share_net_loss"]) == (
        1,
        5000,
        3800,
        0.0,
    )
    # All ranks: gross [5000, 300, 100, 0, 20]: mean 5420/5 = 1084, median 100, 1 of 5 zero;
    # costs [1200, 900, 700, 600, 650]: mean 810, median 700;
    # net [3800, -600, -600, -600, -630]: mean 1370/5 = 274, median -600, 4 of 5 lose.
    a = ids_row(t, "active_full_year")
    assert a["count"] == 5
    assert (a["mean_gross"], a["median_gross"], a["share_no_gross"]) == (1084, 100, 0.2)
    assert (a["mean_costs"], a["median_costs"]) == (810, 700)
    assert (a["mean_net"], a["median_net"], a["share_net_loss"]) == (274, -600, 0.8)


def test_income_disclosure_blocks_left_out_of_real_statements():
    t = income_disclosure(ten_person_population(), range(13, 25))
    # Joined during the year: F, G (rank 0). gross 0, 10; costs 500, 300; net -500, -290.
    j = ids_row(t, "joined_during_year")
    assert (j["count"], j["mean_gross"], j["share_no_gross"]) == (2, 5, 0.5)
    assert (j["mean_costs"], j["mean_net"], j["share_net_loss"]) == (400, -395, 1.0)
    # Quit during the year: H (rank 0), I (rank 1); J quit before the year and is out.
    q = ids_row(t, "quit_during_year")
    assert (q["count"], q["mean_gross"], q["median_costs"], q["mean_net"]) == (2, 25, 325, -300)
    assert ids_row(t, "quit_during_year", 1)["count"] == 1
    # All participants: A..I (9). gross sum 5480, sorted [0,0,0,10,20,50,100,300,5000]:
    # median 20, 3 of 9 earned nothing; costs sum 5500, median 600;
    # net sum 3800 - 3820 = -20, sorted [-630,-600,-600,-600,-500,-350,-290,-250,3800]:
    # median -500, 8 of 9 lost money.
    p = ids_row(t, "all_participants")
    assert p["count"] == 9
    assert p["share_of_participants"] == 1.0
    assert p["mean_gross"] == pytest.approx(5480 / 9)
    assert (p["median_gross"], p["share_no_gross"]) == (20, pytest.approx(1 / 3))
    assert (p["mean_costs"], p["median_costs"]) == (pytest.approx(5500 / 9), 600)
    assert p["mean_net"] == pytest.approx(-20 / 9)
    assert (p["median_net"], p["share_net_loss"]) == (-500, pytest.approx(8 / 9))
    # By rank over all participants: rank 0 D, E, F, G, H; rank 1 B, C, I; rank 2 A.
    counts = [ids_row(t, "all_participants", r)["count"] for r in (0, 1, 2)]
    assert counts == [5, 3, 1]


def test_income_disclosure_empty_block_and_bad_rows():
    df = ten_person_population()
    t = income_disclosure(df[df["status"] == "distributor"], range(13, 25))
    q = ids_row(t, "quit_during_year")
    assert q["count"] == 0 and math.isnan(q["mean_gross"])
    bad = df.copy()
    bad.loc["C", "quit_month"] = 20  # status still "distributor"
    with pytest.raises(ValueError, match="'C'"):
        income_disclosure(bad, range(13, 25))
    with pytest.raises(ValueError, match="costs_year"):
        income_disclosure(df.drop(columns="costs_year"), range(13, 25))


# ---------------------------------------------------------------------------------------------
# pyramid-risk indicators


def test_pyramid_indicators_by_hand():
    ind = pyramid_indicators(
        retail_sales_nonmember=30,
        total_sales=100,
        recruitment_income=60,
        total_income=100,
        customers=50,
        distributors=10,
        purchases_to_qualify=20,
        total_purchases=100,
    )
    by = {i.name: i for i in ind}
    assert list(by) == [
        "retail_share",
        "recruitment_income_share",
        "customers_per_distributor",
        "qualifying_purchase_share",
    ]
    assert (by["retail_share"].value, by["retail_share"].passes) == (0.3, False)
    assert (by["recruitment_income_share"].value, by["recruitment_income_share"].passes) == (
        0.6,
        False,
    )
    assert (by["customers_per_distributor"].value, by["customers_per_distributor"].passes) == (
        5.0,
        False,
    )
    assert (by["qualifying_purchase_share"].value, by["qualifying_purchase_share"].passes) == (
        0.2,
        True,
    )
    assert "Vemma" in by["retail_share"].source
    assert "Koscot" in by["recruitment_income_share"].source
    assert "Amway" in by["customers_per_distributor"].source
    assert "70%" in by["qualifying_purchase_share"].source
    assert all("not law" in i.meaning for i in ind)  # each says the line is a convention


def test_pyramid_indicator_lines_and_empty_denominators():
    ind = pyramid_indicators(51, 100, 49, 100, 100, 10, 30, 100)
    assert [i.passes for i in ind] == [True, True, True, True]
    edge = pyramid_indicators(50, 100, 50, 100, 0, 0, 0, 0)
    assert [i.passes for i in edge] == [False, False, False, False]  # 50% is not a majority
    assert math.isnan(edge[2].value) and math.isnan(edge[3].value)
    with pytest.raises(ValueError, match="recruitment_income"):
        pyramid_indicators(1, 1, 2, 1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="customers"):
        pyramid_indicators(1, 1, 1, 1, -1, 0, 0, 0)
