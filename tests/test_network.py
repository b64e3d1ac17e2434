"""Tests for simulation.network: CSR invariants, generator laws, edge-list files, sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulation.network import (
    Network,
    NetworkFileError,
    build,
    from_edges,
    random_graph,
    read_edge_list,
    regions,
    scale_free,
    small_world,
)
from simulation.regions import region_of, region_sizes

N_STAT = 100_000  # size for the statistical tests: ~0.1 s per graph


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def directed_keys(g: Network) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every CSR entry, rebuilt independently of the module's code."""
    rows = np.repeat(np.arange(g.n, dtype=np.int64), np.diff(g.indptr))
    return rows, g.indices.astype(np.int64)


def assert_simple_undirected(g: Network) -> None:
    assert g.indptr.dtype == np.int64
    assert g.indices.dtype == np.int32
    assert g.indptr.shape == (g.n + 1,)
    assert g.indptr[0] == 0
    assert g.indptr[-1] == g.indices.size == 2 * g.n_edges
    assert np.all(np.diff(g.indptr) >= 0), "indptr must be monotone"
    assert np.array_equal(g.degree, np.diff(g.indptr))
    rows, cols = directed_keys(g)
    assert cols.size == 0 or (cols.min() >= 0 and cols.max() < g.n)
    assert not np.any(rows == cols), "self loop"
    same_row = rows[1:] == rows[:-1]
    # Strictly increasing within a row: sorted and no duplicates in one check.
    assert np.all(cols[1:][same_row] > cols[:-1][same_row]), "row unsorted or duplicated"
    forward = np.sort(rows * g.n + cols)
    backward = np.sort(cols * g.n + rows)
    assert np.array_equal(forward, backward), "(i, j) present without (j, i)"


GENERATORS = {
    "small_world": lambda n, r: small_world(n, 10, 0.2, r),
    "scale_free": lambda n, r: scale_free(n, 5, r),
    "chung_lu": lambda n, r: scale_free(n, 5, r, exponent=2.5),
    "random": lambda n, r: random_graph(n, 10, r),
}


@pytest.fixture(scope="module")
def big() -> dict[str, Network]:
    """One N_STAT-person graph per generator at seed 0, shared by the statistical tests."""
    return {name: make(N_STAT, rng(0)) for name, make in GENERATORS.items()}


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_generated_graphs_are_simple_and_undirected(big, name):
    assert_simple_undirected(big[name])


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_small_graphs_are_simple_and_match_networkx(name, n):
    if name == "small_world":
        g = small_world(n, min(4, (n - 1) // 2 * 2), 0.5, rng(3))
    elif name == "random":
        g = random_graph(n, min(4, n - 1), rng(3))  # dense path for n <= 7
    else:
        g = GENERATORS[name](n, rng(3))
    assert g.n == n
    assert_simple_undirected(g)
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == n
    assert nxg.number_of_edges() == g.n_edges
    for i in range(n):
        assert sorted(nxg.neighbors(i)) == g.neighbours(i).tolist()


def test_from_edges_hand_example():
    # Edges 0-1 (given twice, once reversed), 2-3, 0-4, 3-0, and a self loop 2-2.
    u = np.array([0, 1, 2, 2, 4, 3])
    v = np.array([1, 0, 3, 2, 0, 0])
    g = from_edges(6, u, v)
    # Rows: 0:[1,3,4] 1:[0] 2:[3] 3:[0,2] 4:[0] 5:[] (isolated).
    assert g.indptr.tolist() == [0, 3, 4, 5, 7, 8, 8]
    assert g.indices.tolist() == [1, 3, 4, 0, 3, 0, 2, 0]
    assert g.degree.tolist() == [3, 1, 1, 2, 1, 0]
    assert g.n_edges == 4
    assert g.neighbours(3).tolist() == [0, 2]


def test_from_edges_empty_mixed_dtypes_and_bad_ids():
    g = from_edges(3, np.array([]), np.array([]))
    assert g.indptr.tolist() == [0, 0, 0, 0]
    assert g.n_edges == 0
    g = from_edges(300, np.array([0, 255], dtype=np.uint8), np.array([299, 2], dtype=np.int64))
    assert g.neighbours(0).tolist() == [299]
    assert g.neighbours(2).tolist() == [255]
    assert g.random_neighbour(np.array([255], dtype=np.uint8), rng()).tolist() == [2]
    with pytest.raises(ValueError, match=r"0\.\.2"):
        from_edges(3, np.array([0]), np.array([3]))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        from_edges(3, np.array([-1]), np.array([1]))


def test_arrays_are_read_only():
    g = small_world(10, 2, 0.0, rng())
    with pytest.raises(ValueError):
        g.indices[0] = 5
    with pytest.raises(ValueError):
        g.degree[0] = 5


# --- small world -----------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(5, 2), (11, 4), (1000, 10), (9, 8)])
def test_small_world_without_rewiring_is_the_ring_lattice(n, k):
    g = small_world(n, k, 0.0, rng())
    assert np.all(g.degree == k)
    for i in range(n):
        expected = sorted(
            {(i + d) % n for d in range(1, k // 2 + 1)}
            | {(i - d) % n for d in range(1, k // 2 + 1)}
        )
        assert g.neighbours(i).tolist() == expected


def test_small_world_keeps_mean_degree(big):
    # Rewiring only moves edges; one is lost only when its new end duplicates an edge, with
    # chance about k/N per rewired edge, i.e. ~1e-4 relative: 0.1% is a loose bound.
    assert abs(big["small_world"].degree.mean() - 10) < 0.01


def test_small_world_rewires_about_p_of_edges():
    n, k, p = N_STAT, 10, 0.2
    g = small_world(n, k, p, rng(1))
    rows, cols = directed_keys(g)
    ring_distance = np.minimum((cols - rows) % n, (rows - cols) % n)
    # A lattice edge survives unless rewired (prob p) and a rewired edge lands back on the
    # lattice with chance ~k/N: lattice share of edges ~ 1 - p. Binomial SE ~ 4e-4 on 5e5 edges.
    lattice_share = np.mean(ring_distance <= k // 2)
    assert abs(lattice_share - (1 - p)) < 0.005


# --- scale free ------------------------------------------------------------------------------


def test_barabasi_albert_mean_degree(big):
    # Only self loops and repeated picks are dropped: expected loss < 0.1% at N = 1e5, m = 5.
    assert 9.9 < big["scale_free"].degree.mean() <= 10


def test_barabasi_albert_tail_matches_exact_law(big):
    degree = big["scale_free"].degree
    m = 5
    assert degree.min() >= 1
    assert degree.max() > 10 * degree.mean()
    # The LCD/BA degree law P(D = d) = 2m(m+1) / (d(d+1)(d+2)) gives
    # P(D >= x) = m(m+1) / (x(x+1)): density exponent 3. Allow 3 Poisson SEs of the count plus
    # 3% for finite-size bias and the dropped loops/duplicates.
    for x in (10, 20, 40, 80):
        expected = m * (m + 1) / (x * (x + 1))
        observed = np.mean(degree >= x)
        tolerance = 3 / np.sqrt(expected * degree.size) + 0.03
        assert abs(observed / expected - 1) < tolerance, (x, observed, expected)


@pytest.mark.parametrize("gamma", [2.5, 3.0])
def test_chung_lu_tail_exponent(gamma):
    g = scale_free(N_STAT, 5, rng(2), exponent=gamma)
    degree = g.degree
    # Mean: 2m less the dropped loops/duplicates (~1% at gamma 2.5, less for steeper tails).
    assert 9.7 < degree.mean() <= 10
    assert degree.max() > 10 * degree.mean()
    # P(D >= x) ~ x**-(gamma-1) well above the minimum expected degree (~3.3): slope of the
    # log CCDF over 20..320. Seeds 0-3 gave slopes within 0.07 of -(gamma-1).
    xs = np.array([20, 40, 80, 160, 320])
    ccdf = np.array([np.mean(degree >= x) for x in xs])
    slope = np.polyfit(np.log(xs), np.log(ccdf), 1)[0]
    assert abs(slope + (gamma - 1)) < 0.15, slope


def test_scale_free_rejects_bad_exponent():
    with pytest.raises(ValueError, match="exponent"):
        scale_free(100, 2, rng(), exponent=2.0)
    with pytest.raises(ValueError, match="m must be"):
        scale_free(100, 0, rng())


# --- random graph ----------------------------------------------------------------------------


def test_random_graph_has_exactly_m_edges(big):
    assert big["random"].n_edges == N_STAT * 10 // 2
    assert big["random"].degree.mean() == 10


def test_random_graph_degree_law(big):
    degree = big["random"].degree
    n, m_edges = N_STAT, N_STAT * 10 // 2
    # In G(n, M) a degree is hypergeometric: M draws from T pairs, n-1 of them touching the
    # person. The mean is fixed at 2M/n, so the expected population variance across persons is
    # exactly the hypergeometric variance (~9.9998). Its SE is sqrt((mu4 - s^4)/n) ~ 0.046 for
    # Poisson(10); allow 5 SE.
    pairs = n * (n - 1) // 2
    q = (n - 1) / pairs
    variance = m_edges * q * (1 - q) * (pairs - m_edges) / (pairs - 1)
    assert abs(degree.var() - variance) < 0.23
    # Whole histogram against Poisson(10), tails pooled so every expected count is >= 5.
    values = np.arange(3, 19)
    observed = np.array(
        [np.sum(degree <= 2)] + [np.sum(degree == d) for d in values] + [np.sum(degree >= 19)]
    )
    law = stats.poisson(10)
    expected = n * np.concatenate([[law.cdf(2)], law.pmf(values), [law.sf(18)]])
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_random_graph_dense_and_tiny():
    g = random_graph(6, 5, rng())  # complete graph: every pair
    assert np.all(g.degree == 5)
    assert random_graph(1, 0, rng()).n_edges == 0
    with pytest.raises(ValueError, match="mean_degree"):
        random_graph(6, 6, rng())


# --- random neighbour ------------------------------------------------------------------------


def test_random_neighbour_returns_real_neighbours(big):
    g = big["chung_lu"]  # mixed degrees, including isolated persons
    who = rng(5).integers(0, g.n, size=200_000)
    picked = g.random_neighbour(who, rng(6))
    assert picked.dtype == np.int32
    isolated = g.degree[who] == 0
    assert isolated.any()
    assert np.all(picked[isolated] == -1)
    rows, cols = directed_keys(g)
    edges = rows * g.n + cols  # sorted: rows ascending, columns ascending within rows
    asked = who[~isolated].astype(np.int64) * g.n + picked[~isolated]
    at = np.searchsorted(edges, asked)
    assert np.all(edges[np.minimum(at, edges.size - 1)] == asked)


def test_random_neighbour_is_uniform():
    g = from_edges(8, np.array([3, 3, 3, 3, 3, 0]), np.array([0, 1, 5, 6, 7, 1]))
    picked = g.random_neighbour(np.full(50_000, 3), rng(7))
    counts = np.array([np.sum(picked == j) for j in g.neighbours(3)])
    assert counts.sum() == 50_000
    # Chi-square against 1/5 each; fixed seed, so this is a regression on a sane draw.
    assert stats.chisquare(counts).pvalue > 1e-3
    assert g.random_neighbour(np.array([2, 4]), rng()).tolist() == [-1, -1]


def test_random_neighbour_rejects_bad_ids():
    g = small_world(10, 2, 0.0, rng())
    with pytest.raises(IndexError):
        g.random_neighbour(np.array([-1]), rng())
    with pytest.raises(IndexError):
        g.random_neighbour(np.array([10]), rng())


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_graph_different_seed_different(name):
    make = GENERATORS[name]
    a, b, c = make(5000, rng(11)), make(5000, rng(11)), make(5000, rng(12))
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert not (np.array_equal(a.indptr, c.indptr) and np.array_equal(a.indices, c.indices))


# --- edge-list files -------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_edge_list_good_file(tmp_path):
    path = write(
        tmp_path,
        "good.txt",
        "# a market of five\n\n0 1\n1,2\n 2 , 0 # trailing comment\n3\t4\n1 0\n4 4\n",
    )
    g = read_edge_list(path)
    expected = from_edges(5, np.array([0, 1, 2, 3]), np.array([1, 2, 0, 4]))
    assert np.array_equal(g.indptr, expected.indptr)
    assert np.array_equal(g.indices, expected.indices)
    # n larger than the ids: isolated persons at the end.
    g = read_edge_list(path, n=7)
    assert g.n == 7
    assert g.degree.tolist() == [2, 2, 2, 1, 1, 0, 0]


@pytest.mark.parametrize(
    ("text", "n", "line", "what"),
    [
        ("0 1\n1 two\n", None, 2, "field 2 is not an integer"),
        ("0 1\n# note\n1.5 2\n", None, 3, "field 1 is not an integer"),
        ("0 1\n1 2 3\n", None, 2, "expected 2 fields 'u v' (two person ids), got 3"),
        ("7\n", None, 1, "got 1"),  # one field
        ("0 1\n\n2 -3\n", None, 3, "person id -3 is negative"),
        ("0 1\n1 5\n", 5, 2, "person id 5 is out of range; ids must be < n = 5"),
        ("0 1\n" + "1" * 5000 + "\n", None, 2, "longer than 4096 characters"),
    ],
)
def test_read_edge_list_bad_files_name_file_and_line(tmp_path, text, n, line, what):
    path = write(tmp_path, "bad_edges.csv", text)
    with pytest.raises(NetworkFileError) as caught:
        read_edge_list(path, n=n)
    message = str(caught.value)
    assert "bad_edges.csv" in message
    assert f"line {line}" in message
    assert what in message
    # the line itself is never quoted: the file may be any file on the machine
    bad_line = text.splitlines()[line - 1]
    assert len(bad_line) < 2 or bad_line not in message.split(":", 1)[1]
    assert isinstance(caught.value, ValueError)


def test_read_edge_list_more_lines_than_the_market_can_have(tmp_path):
    path = write(tmp_path, "many.txt", "0 1\n" * 2001)
    with pytest.raises(NetworkFileError, match=r"more than 2,000 lines"):
        read_edge_list(path, n=2)


def test_read_edge_list_without_edges_needs_n(tmp_path):
    path = write(tmp_path, "empty.txt", "# nobody knows anybody\n")
    with pytest.raises(NetworkFileError, match=r"empty\.txt"):
        read_edge_list(path)
    assert read_edge_list(path, n=3).degree.tolist() == [0, 0, 0]


# --- build -----------------------------------------------------------------------------------


def test_build_dispatches_by_kind(tmp_path):
    assert build("small_world", 50, rng(), k=4, p=0.0).degree.tolist() == [4] * 50
    assert build("scale_free", 50, rng(), m=2).n == 50
    assert build("scale_free", 50, rng(), m=2, exponent=2.5).n == 50
    assert build("random", 50, rng(), mean_degree=4).n_edges == 100
    assert build("well_mixed", 50, rng()) is None
    path = write(tmp_path, "e.txt", "0 1\n")
    assert build("edge_list", 50, rng(), path=path).n == 50
    with pytest.raises(NetworkFileError, match="line 1"):
        build("edge_list", 1, rng(), path=path)


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("lattice", {}, "unknown network kind"),
        ("small_world", {"k": 4}, "missing \\['p'\\]"),
        ("random", {"mean_degree": 4, "m": 2}, "unknown \\['m'\\]"),
        ("well_mixed", {"k": 4}, "unknown"),
    ],
)
def test_build_rejects_bad_kind_or_parameters(kind, params, match):
    with pytest.raises(ValueError, match=match):
        build(kind, 10, rng(), **params)


# ---------------------------------------------------------------- regions (several towns)


def test_region_sizes_by_largest_remainder():
    # 10 x (0.5, 0.3, 0.2) is exact; 7 / 3 = 2.33 each: the one left over goes to region 0;
    # 10 x 1/3 = 3.33 each: region 0 gets the extra person.
    assert region_sizes(10, [0.5, 0.3, 0.2], 3).tolist() == [5, 3, 2]
    assert region_sizes(7, None, 3).tolist() == [3, 2, 2]
    assert region_sizes(10, [1 / 3] * 3, 3).tolist() == [4, 3, 3]
    # 101 x (0.25, 0.75) = 25.25, 75.75: the larger remainder (0.75) gets the extra one.
    assert region_sizes(101, [0.25, 0.75], 2).tolist() == [25, 76]
    assert region_of(np.array([2, 1, 3])).tolist() == [0, 0, 1, 2, 2, 2]


def test_regions_without_moves_are_one_ring_lattice_per_town():
    sizes = np.array([20, 30, 50])
    g = regions(sizes, 4, 0.0, 0.0, rng())
    start = np.cumsum(sizes) - sizes
    for r, (s0, size) in enumerate(zip(start, sizes, strict=True)):
        for local in (0, 7, size - 1):
            i = s0 + local
            want = sorted(s0 + (local + d) % size for d in (-2, -1, 1, 2))
            assert g.neighbours(i).tolist() == want, (r, local)
    assert (g.degree == 4).all()


def test_regions_share_of_ties_between_towns_and_where_they_land():
    # Each of the N k / 2 lattice ties moves to another town with probability `between`, and
    # lands on a person drawn uniformly outside the near end's town. Ties merged with an
    # existing one are dropped: at this size about k / N of them, far below the tolerance.
    shares = [0.5, 0.3, 0.2]
    sizes = region_sizes(N_STAT, shares, 3)
    k, between = 10, 0.05
    g = regions(sizes, k, 0.1, between, rng(3))
    rows, cols = directed_keys(g)
    town = region_of(sizes)
    cross = town[rows] != town[cols]
    ties = N_STAT * k // 2
    n_cross = int(cross.sum()) // 2  # each tie appears in both rows
    sd = np.sqrt(ties * between * (1 - between))
    assert abs(n_cross - ties * between) < 4 * sd
    assert abs(g.degree.mean() - k) < 0.01 * k
    # A tie moved from town a lands in town b with probability s_b / (1 - s_a) (s = shares),
    # so the ties between a and b number (N k / 2) between (s_a s_b / (1 - s_a) + s_b s_a /
    # (1 - s_b)). Chi-square test of the three pairs' counts at the 0.1% level.
    s = np.asarray(shares)
    pairs = [(0, 1), (0, 2), (1, 2)]
    upper = cross & (rows < cols)
    counts = np.array([np.sum(upper & (town[rows] == a) & (town[cols] == b)) for a, b in pairs])
    weight = np.array([s[a] * s[b] / (1 - s[a]) + s[b] * s[a] / (1 - s[b]) for a, b in pairs])
    expected = counts.sum() * weight / weight.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3, (counts, expected)


def test_regions_same_seed_same_network_and_checks():
    sizes = region_sizes(5_000, None, 4)
    a = regions(sizes, 6, 0.1, 0.02, rng(9))
    b = regions(sizes, 6, 0.1, 0.02, rng(9))
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    with pytest.raises(ValueError, match="below the smallest region"):
        regions(np.array([100, 6]), 6, 0.1, 0.0, rng())
    with pytest.raises(ValueError, match="single region"):
        regions(np.array([100]), 6, 0.1, 0.1, rng())
    with pytest.raises(ValueError, match="between must be a probability"):
        regions(np.array([100, 100]), 6, 0.1, 1.5, rng())
    g = build("regions", 300, rng(), sizes=np.array([100, 200]), k=4, p=0.0, between=0.0)
    assert g.n == 300
    with pytest.raises(ValueError, match="sum to 200, not N = 300"):
        build("regions", 300, rng(), sizes=np.array([100, 100]), k=4, p=0.0, between=0.0)
