"""Run-level metrics (saturation by level, recruitment income, quit rates, concentration
tables) against values worked out by hand on small graphs, trees and vectors."""

import numpy as np
import pandas as pd
import pytest

from simulation.metrics import (
    at_risk,
    concentration,
    gini,
    level_saturation,
    monthly_quit_rate,
    reachable_prospects,
    recruitment_income,
)
from simulation.network import Network

# ---------------------------------------------------------------------------------------------
# still-reachable prospects on a hand-built graph
#
#   0 - 1 - 4        status: 0 distributor, 1 prospect, 2 customer, 3 quit,
#   | \               4 prospect refusing until month 10, 5 distributor, 6 prospect (no friends)
#   2   3
#   |
#   5
EDGES = [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5)]
STATUS = np.array([2, 0, 1, 3, 0, 2, 0], dtype=np.int8)
REFUSED_UNTIL = np.array([-1, -1, -1, -1, 10, -1, -1], dtype=np.int16)


def csr(edges, n):
    """CSR arrays of an undirected edge list (neighbours sorted)."""
    adj = [[] for _ in range(n)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    indptr = np.concatenate(([0], np.cumsum([len(x) for x in adj])))
    return indptr, np.array([j for x in adj for j in sorted(x)], dtype=np.int32)


def test_reachable_prospects_by_hand():
    indptr, indices = csr(EDGES, 7)
    got = reachable_prospects(indptr, indices, STATUS, REFUSED_UNTIL, month=5)
    # 0: contacts 1 (prospect), 2 (customer), 3 (quit) -> 2;  1: 0 (distributor), 4 (refusing)
    # -> 0;  2: 0, 5 -> 0;  3: 0 -> 0;  4: 1 -> 1;  5: 2 (customer) -> 1;  6: none -> 0.
    assert got.tolist() == [2, 0, 0, 0, 1, 1, 0]
    # From month 10 on person 4 may be pitched again.
    assert reachable_prospects(indptr, indices, STATUS, REFUSED_UNTIL, month=10)[1] == 1


def test_reachable_prospects_for_some_rows_and_on_a_network_object():
    indptr, indices = csr(EDGES, 7)
    net = Network(indptr, indices)
    rows = np.array([5, 0, 6])
    got = reachable_prospects(net.indptr, net.indices, STATUS, REFUSED_UNTIL, 5, rows=rows)
    assert got.tolist() == [1, 2, 0]


def test_reachable_prospects_agrees_with_a_loop_on_a_random_graph():
    rng = np.random.default_rng(3)
    n = 300
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, size=(900, 2)) if p[0] != p[1]}
    indptr, indices = csr(sorted(pairs), n)
    status = rng.integers(0, 4, n).astype(np.int8)
    until = rng.integers(-1, 12, n).astype(np.int16)
    want = np.array(
        [
            sum(status[j] <= 1 and until[j] <= 6 for j in indices[indptr[i] : indptr[i + 1]])
            for i in range(n)
        ]
    )
    assert (reachable_prospects(indptr, indices, status, until, 6) == want).all()
    rows = rng.permutation(n)[:40]
    got = reachable_prospects(indptr, indices, status, until, 6, rows=rows)
    assert (got == want[rows]).all()
    assert reachable_prospects(indptr, indices, status, until, 6, rows=[]).size == 0
    # The sum alone (the monthly mean over active members needs no per-row counts).
    total = reachable_prospects(indptr, indices, status, until, 6, rows=rows, total=True)
    assert total == int(want[rows].sum())
    assert reachable_prospects(indptr, indices, status, until, 6, total=True) == want.sum()
    assert reachable_prospects(indptr, indices, status, until, 6, rows=[], total=True) == 0


def test_reachable_prospects_rejects_mismatched_csr():
    indptr, indices = csr(EDGES, 7)
    with pytest.raises(ValueError, match="indptr"):
        reachable_prospects(indptr[:-1], indices, STATUS, REFUSED_UNTIL, 0)


# ---------------------------------------------------------------------------------------------
# saturation by level on a hand-built tree
#
#   A (level 1, month 0)          B (level 1, month 0)       B recruited nobody
#   ├── C (level 2, month 1)
#   │   └── E (level 3, month 4)
#   └── D (level 2, month 2, quit)
LEVEL = np.array([1, 1, 2, 2, 3])
RECRUITS = np.array([2, 0, 1, 0, 0])
ACTIVE = np.array([True, True, True, False, True])
JOIN = np.array([0, 0, 1, 2, 4])
REACH = np.array([3, 0, 2, 5, 0])  # D's 5 do not count: D quit


def test_level_saturation_by_hand():
    t = level_saturation(LEVEL, RECRUITS, ACTIVE, JOIN, REACH)
    assert t.index.tolist() == [1, 2, 3]
    assert t["ever_joined"].tolist() == [2, 2, 1]
    assert t["active"].tolist() == [2, 1, 1]
    assert t["share_recruited"].tolist() == [0.5, 0.5, 0.0]
    assert t["mean_recruits"].tolist() == [1.0, 0.5, 0.0]
    assert t["first_join_month"].tolist() == [0, 1, 4]
    # Level 2's last join (month 2) is the last month a founder recruited anyone.
    assert t["last_join_month"].tolist() == [0, 2, 4]
    assert t["reachable_mean"].tolist() == [1.5, 2.0, 0.0]
    assert t["share_no_reachable"].tolist() == [0.5, 0.0, 1.0]


def test_level_saturation_without_network_and_with_an_empty_level():
    t = level_saturation([1, 3], [1, 0], [False, True], [0, 3])
    assert t.index.tolist() == [1, 2, 3]
    assert t.loc[2, "ever_joined"] == 0 and np.isnan(t.loc[2, "share_recruited"])
    assert t["reachable_mean"].isna().all()
    assert np.isnan(t.loc[1, "reachable_mean"]) and t.loc[1, "active"] == 0


def test_level_saturation_of_nobody_and_bad_levels():
    assert level_saturation([], [], [], []).empty
    with pytest.raises(ValueError, match="level must be >= 1"):
        level_saturation([0, 1], [0, 0], [True, True], [0, 0])


def test_saturation_from_a_network_and_a_tree_together():
    # Persons 0 (founder), 5 (recruited by 0); the rest never joined.
    indptr, indices = csr(EDGES, 7)
    joined = np.array([0, 5])
    reach = reachable_prospects(indptr, indices, STATUS, REFUSED_UNTIL, 5, rows=joined)
    t = level_saturation([1, 2], [1, 0], [True, True], [0, 1], reach)
    assert t["reachable_mean"].tolist() == [2.0, 1.0]


# ---------------------------------------------------------------------------------------------
# income from recruitment


def test_recruitment_income_by_hand():
    # Month 0: 40 enrolment bonus + half of the other 60 (new recruits made half the BV) = 70.
    # Month 1: no bonus, a quarter of 200 = 50. Month 2: nothing paid, no BV.
    r = recruitment_income([100, 200, 0], [40, 0, 0], [500, 250, 0], [1000, 1000, 0])
    assert r["recruitment_income"] == pytest.approx(120.0)
    assert r["total_income"] == 300.0
    assert r["share"] == pytest.approx(0.4)


def test_recruitment_income_edge_cases():
    assert np.isnan(recruitment_income([0, 0], [0, 0], [0, 0], [0, 0])["share"])
    # A plan that pays only enrolment bonuses: all income is from recruitment.
    assert recruitment_income([50], [50], [0], [100])["share"] == 1.0
    with pytest.raises(ValueError, match="month index 1"):
        recruitment_income([1, 1], [0, 2], [0, 0], [1, 1])


# ---------------------------------------------------------------------------------------------
# quit rates


def test_monthly_quit_rate_by_hand():
    active = [10, 20, 15]
    joined = [10, 14, 2]
    quit_ = [0, 4, 7]  # 10 + 14 - 4 = 20; 20 + 2 - 7 = 15
    assert at_risk(active, joined).tolist() == [0, 24, 22]
    h = monthly_quit_rate(quit_, active, joined)
    assert np.isnan(h[0])
    assert h[1:] == pytest.approx([4 / 24, 7 / 22])


# ---------------------------------------------------------------------------------------------
# concentration table


def test_concentration_overall_and_by_group_by_hand():
    x = np.array([0, 0, 0, 1, 1, 2, 3, 4], dtype=float)
    level = np.array([1, 1, 1, 1, 2, 2, 2, 2])
    t = concentration({"gross": x}, {"level": level}).set_index(["grouping", "group"])
    # All 8: sorted weights 2i - n - 1 = -7..7 step 2; dot with x = -1 + 1 + 6 + 15 + 28 = 49,
    # D = 98, G = 98 / (2 * 8 * 11).
    assert t.loc[("all", "all"), "gini"] == pytest.approx(98 / 176)
    assert t.loc[("all", "all"), "total"] == 11
    assert t.loc[("level", "1"), "gini"] == pytest.approx(0.75)
    assert t.loc[("level", "2"), "gini"] == pytest.approx(0.25)
    # Top 1% of 4 persons = 0.04 of the richest; top 10% = 0.4 of the richest.
    assert t.loc[("level", "1"), "top1"] == pytest.approx(0.04)
    assert t.loc[("level", "2"), "top1"] == pytest.approx(0.04 * 4 / 10)
    assert t.loc[("level", "2"), "top10"] == pytest.approx(0.4 * 4 / 10)
    assert t.loc[("level", "1"), "share_zero"] == 0.75
    assert t.loc[("level", "2"), "median"] == 2.5


def test_concentration_with_losses_and_two_measures():
    gross = np.array([0.0, 0.0, 10.0, 90.0])
    net = np.array([-50.0, -30.0, -10.0, 40.0])
    t = concentration({"gross": gross, "net": net}, {"rank": np.array([-1, -1, -1, 0])})
    net_all = t[(t.measure == "net") & (t.grouping == "all")].iloc[0]
    assert net_all["share_loss"] == 0.75
    assert net_all["gini"] == pytest.approx(gini(net))
    assert np.isnan(net_all["top1"])  # a share of a negative total is undefined
    gross_rank = t[(t.measure == "gross") & (t.grouping == "rank")]
    assert gross_rank["group"].tolist() == ["-1", "0"]
    assert gross_rank["n"].tolist() == [3, 1]
    assert list(t.columns)[:3] == ["measure", "grouping", "group"]
    assert isinstance(t, pd.DataFrame)
