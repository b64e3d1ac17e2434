"""Social networks of a market of N persons, as undirected simple graphs in CSR form.

Every generator is vectorised numpy (no per-node Python loops) and draws randomness only from
the ``np.random.Generator`` it is given, so the same seed gives identical arrays. At
N = 1,000,000 and mean degree 10 each builds in under a second on 2 cores, peaking at about
3.5x the 48 MB result (as measured by ``benchmarks/bench_network.py``).

Layout: ``indptr: int64[N+1]``, ``indices: int32[2E]``; the neighbours of person ``i`` are
``indices[indptr[i]:indptr[i+1]]``, sorted ascending, without self loops or duplicates, and
``j`` is in the row of ``i`` exactly when ``i`` is in the row of ``j``.

Generators:

* :func:`small_world`: Watts–Strogatz ring lattice with rewiring.
* :func:`scale_free`: Barabási–Albert preferential attachment (degree tail exponent 3), or a
  Chung–Lu graph with any tail exponent > 2.
* :func:`random_graph`: Erdős–Rényi G(n, M).
* :func:`regions`: several towns, each a small world, with a share of ties between towns.
* :func:`read_edge_list`: a user's ``u v`` file.
* :func:`build`: dispatch by the scenario's ``kind`` string; ``"well_mixed"`` gives ``None``.
"""

from __future__ import annotations

import operator
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np

from simulation.errors import DataError
from simulation.regions import region_of, region_sizes

__all__ = [
    "KINDS",
    "Network",
    "NetworkFileError",
    "build",
    "from_edges",
    "random_graph",
    "read_edge_list",
    "region_of",
    "region_sizes",
    "regions",
    "scale_free",
    "small_world",
]

# Node ids are stored as int32; keys pack an (i, j) pair as i << 32 | j in one int64.
MAX_NODES = np.iinfo(np.int32).max


class NetworkFileError(DataError, ValueError):
    """An edge-list file with a bad line; the message names the file, the line and its text."""


@dataclass(frozen=True, eq=False)
class Network:
    """Undirected simple graph in CSR form.

    Attributes:
        indptr: int64[N+1], non-decreasing, ``indptr[0] == 0``, ``indptr[N] == 2E``.
        indices: int32[2E]; the neighbours of ``i`` are ``indices[indptr[i]:indptr[i+1]]``,
            sorted ascending, with no self loops and no duplicates; every edge appears in
            both endpoints' rows.

    Both arrays are stored as read-only views. Build instances with the generators of this
    module or :func:`from_edges`; the constructor checks only dtypes and lengths.
    """

    indptr: np.ndarray
    indices: np.ndarray

    def __post_init__(self) -> None:
        indptr = np.asarray(self.indptr)
        indices = np.asarray(self.indices)
        if indptr.ndim != 1 or indptr.size == 0 or indptr.dtype.kind not in "iu":
            raise ValueError(
                f"indptr must be a non-empty 1-D integer array, got shape {indptr.shape} "
                f"and dtype {indptr.dtype}."
            )
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise ValueError(
                f"indices must be a 1-D integer array, got shape {indices.shape} "
                f"and dtype {indices.dtype}."
            )
        if indptr[0] != 0 or indptr[-1] != indices.size:
            raise ValueError(
                f"indptr must start at 0 and end at len(indices) = {indices.size}, "
                f"got {int(indptr[0])} and {int(indptr[-1])}."
            )
        if indptr.size - 1 > MAX_NODES:
            raise ValueError(f"at most {MAX_NODES} nodes fit int32 ids, got {indptr.size - 1}.")
        indptr = indptr.astype(np.int64, copy=False).view()
        indices = indices.astype(np.int32, copy=False).view()
        indptr.flags.writeable = False
        indices.flags.writeable = False
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "indices", indices)

    @property
    def n(self) -> int:
        """Number of persons (nodes) N."""
        return self.indptr.size - 1

    @cached_property
    def degree(self) -> np.ndarray:
        """int32[N] number of neighbours of each person (read-only)."""
        degree = np.diff(self.indptr).astype(np.int32)
        degree.flags.writeable = False
        return degree

    @property
    def n_edges(self) -> int:
        """Number of undirected edges E (each counted once)."""
        return self.indices.size // 2

    def neighbours(self, i: int) -> np.ndarray:
        """Neighbours of person ``i``.

        Args:
            i: node id in ``0..N-1``.

        Returns:
            int32[degree[i]] sorted neighbour ids (a read-only view, no copy).

        Raises:
            IndexError: if ``i`` is not in ``0..N-1``.
        """
        i = operator.index(i)
        if not 0 <= i < self.n:
            raise IndexError(f"node id must be in 0..{self.n - 1}, got {i}.")
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def to_networkx(self) -> nx.Graph:
        """The same graph as a ``networkx.Graph`` on nodes ``0..N-1``, for small graphs."""
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        rows = np.repeat(np.arange(self.n, dtype=np.int32), self.degree)
        upper = rows < self.indices
        graph.add_edges_from(zip(rows[upper].tolist(), self.indices[upper].tolist(), strict=True))
        return graph

    def neighbour_sum(self, who: np.ndarray, values: np.ndarray) -> np.ndarray:
        """float64[len(who)]: for each entry of ``who``, the sum of ``values`` over its neighbours.

        Vectorised over the CSR rows of ``who`` only (cost: the sum of their degrees).

        Args:
            who: int[k] node ids in ``0..N-1`` (repeats allowed).
            values: float[N] one value per person.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n,):
            raise ValueError(f"values must have shape ({self.n},), got {values.shape}")
        row, nbr = self.neighbour_pairs(who)
        return np.bincount(row, weights=values[nbr], minlength=np.size(who))

    def neighbour_pairs(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (entry, neighbour) pair of ``who``, entry after entry.

        Args:
            who: int[k] node ids in ``0..N-1`` (repeats allowed).

        Returns:
            ``(row, neighbour)``: int64[m] index into ``who`` and int32[m] the neighbour's id,
            m the sum of the degrees of ``who``.
        """
        who = np.asarray(who, dtype=np.intp)
        start = self.indptr[who]
        length = self.indptr[who + 1] - start
        total = int(length.sum())
        # Positions of every neighbour of every entry, row after row.
        first = np.cumsum(length) - length
        pos = np.repeat(start - first, length) + np.arange(total)
        row = np.repeat(np.arange(who.size), length)
        return row, self.indices[pos]

    def random_neighbour(self, who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly random neighbour for each entry of ``who``, independently.

        Draws exactly ``who.size`` uniforms from ``rng`` whatever the degrees, so the stream
        position afterwards does not depend on the graph.

        Args:
            who: int[...] node ids in ``0..N-1`` (repeats allowed).
            rng: random generator.

        Returns:
            int32 array of ``who``'s shape: a neighbour of each ``who`` entry, or -1 where that
            person has no neighbours.

        Raises:
            IndexError: if an id in ``who`` is outside ``0..N-1`` (negative ids would otherwise
                wrap silently).
        """
        who = np.asarray(who)
        if who.size and who.dtype.kind not in "iu":
            raise TypeError(f"who must hold integer node ids, got dtype {who.dtype}.")
        if who.size and (who.min() < 0 or who.max() >= self.n):
            raise IndexError(
                f"node ids must be in 0..{self.n - 1}, got values from {who.min()} to {who.max()}."
            )
        who = who.astype(np.intp, copy=False)
        start = self.indptr[who]
        degree = self.indptr[1:][who]  # the row's end, then (in place) its length
        degree -= start
        # floor(U * d) <= d - 1 for every U <= 1 - 2**-53 and d < 2**53 under round-to-nearest,
        # so the offset never reaches the next row.
        offset = rng.random(who.shape)
        offset *= degree
        offset = offset.astype(np.int64)
        if degree.min(initial=1) > 0:
            # Everyone has a contact (the usual case): one gather, no masks.
            start += offset
            return self.indices[start].astype(np.int32, copy=False)
        has = degree > 0
        out = np.full(who.shape, -1, dtype=np.int32)
        out[has] = self.indices[start[has] + offset[has]]
        return out


def _check_n(n: int) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer, got {n!r}.") from None
    if not 0 <= n <= MAX_NODES:
        raise ValueError(f"n must be in 0..{MAX_NODES}, got {n}.")
    return n


def _words(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views ``(high, low)`` of the two int32 halves of contiguous int64 keys, without copies."""
    words = keys.view(np.int32).reshape(-1, 2)
    if sys.byteorder == "little":
        return words[:, 1], words[:, 0]
    return words[:, 0], words[:, 1]


def _csr_from_keys(n: int, keys: np.ndarray) -> Network:
    """CSR network from sorted, unique edge keys ``i << 32 | j`` with ``i < j``.

    Fills each row as [neighbours below i, in order] + [neighbours above i, in order]: the keys
    are already in (i, j) order for the upper parts, and one more sort of the same keys with
    halves swapped gives the lower parts. This avoids materialising and sorting all 2E
    directed entries; the peak is about 3x the int64 keys plus the int32 output.

    Args:
        n: number of nodes.
        keys: int64[E] sorted unique keys of the undirected edges, ``i < j < n``, C-contiguous.
            Overwritten: used as scratch space.

    Returns:
        The network.
    """
    high, low = _words(keys)
    n_edges = keys.size
    n_above = np.bincount(high, minlength=n)  # per row: neighbours with a larger id
    n_below = np.bincount(low, minlength=n)  # per row: neighbours with a smaller id
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_above, out=indptr[1:])
    indptr[1:] += np.cumsum(n_below)
    indices = np.empty(2 * n_edges, dtype=np.int32)
    # Positions fit int32 up to 2**31 directed entries; halve the scratch memory when they do.
    pos_type = np.int32 if indices.size <= MAX_NODES else np.int64

    # Upper parts: key k lands k - (first key of its row) places after the row's lower part.
    first_above = np.cumsum(n_above) - n_above
    pos = (indptr[:-1] + n_below - first_above).astype(pos_type)[high]
    pos += np.arange(n_edges, dtype=pos_type)
    indices[pos] = low
    del pos

    # Lower parts: the same edges seen from the larger endpoint, sorted by (j, i).
    swap = high.copy()
    high[:] = low
    low[:] = swap
    del swap
    keys.sort()
    first_below = np.cumsum(n_below) - n_below
    pos = (indptr[:-1] - first_below).astype(pos_type)[high]
    pos += np.arange(n_edges, dtype=pos_type)
    indices[pos] = low
    return Network(indptr, indices)


def _edge_keys(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """int64[E] keys ``min(u, v) << 32 | max(u, v)``, one per pair, self loops included."""
    keys = np.minimum(u, v, dtype=np.int64)
    keys <<= 32
    keys |= np.maximum(u, v)
    return keys


def _simple(keys: np.ndarray) -> np.ndarray:
    """Sort edge keys in place; return the distinct ones that are not self loops (new array)."""
    keys.sort()
    high, low = _words(keys)
    keep = high != low
    keep[1:] &= keys[1:] != keys[:-1]
    return keys[keep]


def from_edges(n: int, u: np.ndarray, v: np.ndarray) -> Network:
    """Network on ``n`` nodes from an edge list, in either direction.

    Symmetrises, drops self loops and repeated edges (in either orientation) and sorts rows.

    Args:
        n: number of nodes N; ids must be in ``0..N-1``.
        u: int[E] one endpoint of each edge.
        v: int[E] the other endpoint.

    Returns:
        The network.

    Raises:
        ValueError: if ``u`` and ``v`` differ in shape, are not integer, or hold an id outside
            ``0..N-1``.
    """
    n = _check_n(n)
    u = np.asarray(u)
    v = np.asarray(v)
    if u.shape != v.shape or u.ndim != 1:
        raise ValueError(f"u and v must be 1-D of equal length, got shapes {u.shape}, {v.shape}.")
    if u.size and (u.dtype.kind not in "iu" or v.dtype.kind not in "iu"):
        raise ValueError(f"node ids must be integers, got dtypes {u.dtype} and {v.dtype}.")
    if u.size:
        low = min(u.min(), v.min())
        high = max(u.max(), v.max())
        if low < 0 or high >= n:
            raise ValueError(f"node ids must be in 0..{n - 1}, got values from {low} to {high}.")
    # Checked above: every id fits int32 (no copy when the input already is int32).
    keys = _edge_keys(u.astype(np.int32, copy=False), v.astype(np.int32, copy=False))
    del u, v
    keys = _simple(keys)  # rebinding frees the unsorted keys
    return _csr_from_keys(n, keys)


def small_world(n: int, k: int, p: float, rng: np.random.Generator) -> Network:
    """Watts–Strogatz small-world network.

    Starts from the ring lattice joining each node to the ``k/2`` nearest nodes on each side
    (``i`` to ``i+1 .. i+k/2`` mod N), then, independently with probability ``p``, moves the far
    endpoint ``i+d`` of each lattice edge to a node drawn uniformly from the other N-1 nodes.
    Rewired edges that duplicate an existing edge are dropped (not redrawn, unlike
    ``networkx.watts_strogatz_graph``), so for ``p > 0`` the mean degree is slightly below
    ``k``: by about ``k * p * k / N``, negligible at market sizes.

    Args:
        n: number of persons N >= 1.
        k: lattice degree, even, ``0 <= k < N``.
        p: rewiring probability per edge, in [0, 1].
        rng: random generator (draws ``N*k/2`` uniforms, then one integer per rewired edge).

    Returns:
        The network; with ``p = 0`` exactly the ring lattice, every degree ``k``.

    Raises:
        ValueError: on an odd ``k``, ``k >= N`` or ``p`` outside [0, 1].
    """
    n = _check_n(n)
    k = operator.index(k)
    if k < 0 or k % 2 or (k >= n and k > 0):
        raise ValueError(f"k must be even and in 0..N-1 = {n - 1}, got {k}.")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}.")
    half = k // 2
    near = np.tile(np.arange(n, dtype=np.int32), half)
    far = np.arange(n, dtype=np.int32)
    far = np.concatenate([(far + d) % n for d in range(1, half + 1)]) if half else far[:0]
    rewire = np.flatnonzero(rng.random(near.size) < p)
    if rewire.size:
        # Uniform over the N-1 nodes other than `near`: draw from 0..N-2 and skip `near`.
        target = rng.integers(0, n - 1, size=rewire.size, dtype=np.int32)
        target += target >= near[rewire]
        far[rewire] = target
    keys = _edge_keys(near, far)
    del near, far
    keys = _simple(keys)  # rebinding frees the unsorted keys
    return _csr_from_keys(n, keys)


def regions(
    sizes: np.ndarray, k: int, p: float, between: float, rng: np.random.Generator
) -> Network:
    """Several towns, each a Watts–Strogatz small world, joined by a share of their ties.

    Region ``r`` holds the contiguous rows ``start_r .. start_r + size_r - 1``. Each region
    starts as its own ring lattice (each person tied to the ``k/2`` next persons of the
    region on each side). Then each lattice edge, independently, is moved to another region
    with probability ``between`` (its far end becomes a person drawn uniformly among those
    outside the near end's region), and otherwise is rewired inside the region with
    probability ``p`` (far end uniform among the region's other persons). So the expected
    share of ties between regions is ``between`` and each region is a small world of mean
    degree about ``k`` (moved edges that duplicate one are dropped, as in
    :func:`small_world`). This is the stochastic-block picture of towns with dense ties
    inside and few between (the "islands" of Granovetter's weak ties).

    Args:
        sizes: int[R] persons per region, each above ``k`` (see
            :func:`simulation.regions.region_sizes`).
        k: lattice degree inside a region, even.
        p: rewiring probability inside a region, in [0, 1].
        between: probability that a tie is moved to another region, in [0, 1]; 0 with one
            region.
        rng: random generator (draws one uniform per lattice edge twice, then one per moved
            edge).

    Returns:
        The network on ``sum(sizes)`` persons.

    Raises:
        ValueError: on an odd ``k``, a region not larger than ``k``, a probability outside
            [0, 1], or ``between > 0`` with a single region.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    n = _check_n(int(sizes.sum()))
    k = operator.index(k)
    if sizes.ndim != 1 or sizes.size == 0 or sizes.min() < 1:
        raise ValueError(f"sizes must be positive persons per region, got {sizes.tolist()}.")
    if k < 0 or k % 2 or (k > 0 and k >= sizes.min()):
        raise ValueError(
            f"k must be even and below the smallest region's size {int(sizes.min())}, got {k}."
        )
    for name, value in (("p", p), ("between", between)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value}.")
    if between > 0 and sizes.size == 1:
        raise ValueError("between must be 0 with a single region: there is no other region.")
    half = k // 2
    start_of = np.repeat(np.cumsum(sizes) - sizes, sizes)
    size_of = np.repeat(sizes, sizes)
    local = np.arange(n, dtype=np.int64) - start_of
    near = np.tile(np.arange(n, dtype=np.int64), half)
    far = (
        np.concatenate([start_of + (local + d) % size_of for d in range(1, half + 1)])
        if half
        else near[:0].copy()
    )
    del local
    u_cross = rng.random(near.size)
    u_rewire = rng.random(near.size)
    cross = np.flatnonzero(u_cross < between)
    inside = np.flatnonzero((u_cross >= between) & (u_rewire < p))
    del u_cross, u_rewire
    if cross.size:
        # Uniform over the N - size persons outside near's region: draw 0..N-size-1, then
        # step over the region's block.
        who = near[cross]
        target = np.floor(rng.random(cross.size) * (n - size_of[who])).astype(np.int64)
        target += (target >= start_of[who]) * size_of[who]
        far[cross] = target
    if inside.size:
        # Uniform over the region's other size-1 persons: draw 0..size-2, skip near itself.
        who = near[inside]
        target = np.floor(rng.random(inside.size) * (size_of[who] - 1)).astype(np.int64)
        target += target >= who - start_of[who]
        far[inside] = start_of[who] + target
    keys = _edge_keys(near.astype(np.int32), far.astype(np.int32))
    del near, far
    keys = _simple(keys)
    return _csr_from_keys(n, keys)


def scale_free(n: int, m: int, rng: np.random.Generator, exponent: float | None = None) -> Network:
    """Scale-free network with mean degree about ``2m``.

    With ``exponent=None``: Barabási–Albert preferential attachment, exactly, in the
    Bollobás–Riordan "linearised chord diagram" form. Persons arrive in id order and each brings
    ``m`` edges; each edge's far end is a person chosen with probability proportional to current
    degree, counting the half-edge being placed (so the first person's edges are self loops).
    Sampled by Batagelj & Brandes' (2005) edge-copying algorithm: the far end of edge ``e``
    copies a uniformly random earlier endpoint slot ``r`` in ``0..2e``; the copy chains are
    resolved for all edges at once by pointer jumping (a handful of vectorised passes).
    Degree tail: P(D >= x) -> m(m+1) / (x(x+1)), i.e. density exponent 3. The oldest persons
    (lowest ids) are the hubs.

    With ``exponent=gamma`` (> 2): a Chung–Lu graph. Person ``i`` gets expected degree
    ``w_i = c * (N / (i + 1/2))**(1/(gamma-1))`` (the Pareto quantiles, scaled to mean
    ``2m``; person 0 is the largest hub), and ``N*m`` edges get both endpoints drawn
    independently with probability proportional to ``w``. Degrees are Poisson with mean
    ``w_i``, so P(D >= x) ~ x**-(gamma-1) above a few times the minimum ``w``; the smallest
    ``w`` is about ``2m (gamma-2)/(gamma-1)``, so some persons are isolated (0.9% at
    ``gamma = 2.5``, m = 5).

    In both, self loops and repeated edges are dropped, which lowers the mean degree slightly
    below ``2m`` and trims the largest hubs: at N = 10^5, m = 5 the mean is 9.994 for
    Barabási–Albert and 9.89 for Chung–Lu with ``gamma = 2.5``.

    Args:
        n: number of persons N >= 1.
        m: edges brought by each person (half the mean degree), >= 1.
        rng: random generator.
        exponent: density exponent ``gamma`` of the degree tail for Chung–Lu; ``None`` for
            Barabási–Albert (``gamma = 3``).

    Returns:
        The network.

    Raises:
        ValueError: on ``m < 1``, ``N < 1`` or ``exponent <= 2``.
    """
    n = _check_n(n)
    m = operator.index(m)
    if n < 1 or m < 1:
        raise ValueError(f"n and m must be >= 1, got n={n}, m={m}.")
    if exponent is None:
        return _barabasi_albert(n, m, rng)
    if not 2.0 < exponent < np.inf:
        raise ValueError(f"exponent must be finite and > 2 (finite mean degree), got {exponent}.")
    return _chung_lu(n, m, float(exponent), rng)


def _barabasi_albert(n: int, m: int, rng: np.random.Generator) -> Network:
    """Barabási–Albert (LCD) edges by vectorised Batagelj–Brandes; see :func:`scale_free`."""
    n_edges = n * m
    # Endpoint slots: 2e holds the newcomer of edge e (person e // m); 2e + 1 its far end, a copy
    # of slot copy[e], uniform in 0..2e. floor(U * (2e+1)) <= 2e (see random_neighbour).
    dtype = np.int32 if 2 * n_edges < MAX_NODES else np.int64
    copy = rng.random(n_edges)
    copy *= np.arange(1, 2 * n_edges, 2, dtype=np.float64)
    copy = copy.astype(dtype)
    # Resolve chains of odd slots (far ends copying far ends) by pointer jumping: each pass
    # replaces an odd slot 2e'+1 by what edge e' currently points at; slot indices strictly
    # decrease along chains, so this ends, in O(log chain length) passes.
    pending = np.flatnonzero(copy & 1)
    while pending.size:
        copy[pending] = copy[copy[pending] >> 1]
        pending = pending[(copy[pending] & 1) == 1]
    far = (copy >> 1) // m
    del copy
    near = np.repeat(np.arange(n, dtype=np.int32), m)
    keys = _edge_keys(near, far)
    del near, far
    keys = _simple(keys)  # rebinding frees the unsorted keys
    return _csr_from_keys(n, keys)


def _chung_lu(n: int, m: int, gamma: float, rng: np.random.Generator) -> Network:
    """Chung–Lu edges with Pareto expected degrees; see :func:`scale_free`."""
    weight = (n / (np.arange(n) + 0.5)) ** (1.0 / (gamma - 1.0))
    weight /= weight.sum()
    # N*m edges with iid endpoints ~ weight: the same law as multinomial endpoint counts in a
    # uniformly random order, which is far faster than 2Nm binary searches.
    counts = rng.multinomial(2 * n * m, weight)
    ends = np.repeat(np.arange(n, dtype=np.int32), counts)
    rng.shuffle(ends)
    keys = _edge_keys(ends[0::2], ends[1::2])
    del ends
    keys = _simple(keys)  # rebinding frees the unsorted keys
    return _csr_from_keys(n, keys)


def random_graph(n: int, mean_degree: float, rng: np.random.Generator) -> Network:
    """Erdős–Rényi G(n, M) graph with ``M = round(N * mean_degree / 2)`` edges, exactly.

    Draws uniform pairs of distinct persons, drops repeats and draws again for the shortfall
    until M distinct edges are in: the result is uniform over all graphs with M edges. Dense
    requests (M >= a quarter of all pairs) choose M of the enumerated pairs instead.

    Args:
        n: number of persons N.
        mean_degree: requested mean degree, in ``0..N-1``.
        rng: random generator.

    Returns:
        The network, with exactly M edges; degrees are approximately Poisson(mean_degree).

    Raises:
        ValueError: if ``mean_degree`` is negative or above ``N-1``.
    """
    n = _check_n(n)
    if not 0.0 <= mean_degree <= max(n - 1, 0):
        raise ValueError(f"mean_degree must be in 0..N-1 = {n - 1}, got {mean_degree}.")
    n_pairs = n * (n - 1) // 2
    n_edges = min(round(n * mean_degree / 2), n_pairs)
    if 4 * n_edges >= n_pairs:
        lo, hi = np.triu_indices(n, 1)
        pick = np.sort(rng.choice(n_pairs, size=n_edges, replace=False))
        keys = (lo[pick].astype(np.int64) << 32) | hi[pick]
        return _csr_from_keys(n, keys)
    keys = np.empty(0, dtype=np.int64)
    while keys.size < n_edges:
        short = n_edges - keys.size
        u = rng.integers(0, n, size=short, dtype=np.int32)
        v = rng.integers(0, n - 1, size=short, dtype=np.int32)
        v += v >= u  # uniform over the other N-1 persons
        new = _simple(_edge_keys(u, v))
        del u, v
        if keys.size:
            at = np.minimum(np.searchsorted(keys, new), keys.size - 1)
            new = new[keys[at] != new]
            # Every new key is accepted (at most `short` of them), so draw order is irrelevant.
            keys = np.concatenate([keys, new])
            keys.sort()
        else:
            keys = new
    return _csr_from_keys(n, keys)


MAX_LINE = 4096  # characters in one line of an edge list
MAX_MEAN_DEGREE = 1000  # the bound of market.mean_degree
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def read_edge_list(path: str | os.PathLike[str], n: int | None = None) -> Network:
    """Read a network from a text file of ``u v`` lines.

    Each non-blank line holds two integer person ids separated by whitespace or a comma;
    ``#`` starts a comment (whole-line or trailing). Repeated edges, either orientation, and
    self loops are dropped, as in :func:`from_edges`. Parsing is a Python loop over lines,
    slower than the generators for large files (no benchmark measures it).

    Args:
        path: the file, UTF-8 text.
        n: number of persons N; default: the largest id + 1. Persons without a line are
            isolated.

    Returns:
        The network.

    Raises:
        NetworkFileError: naming the file and the 1-based line number (never quoting the
            line: the file may be any file on the machine), for a line without exactly two
            fields, a non-integer id, a negative id, an id ``>= n`` (or beyond int32), a
            line longer than :data:`MAX_LINE`, more than ``n`` x :data:`MAX_MEAN_DEGREE`
            lines, or a file with no edges and no ``n``.
        OSError: if the file cannot be opened.
    """
    if n is not None:
        n = _check_n(n)
    limit = MAX_NODES if n is None else n
    # Bounded reading: a line longer than MAX_LINE characters or more lines than a market of
    # n persons with MAX_MEAN_DEGREE contacts each can have is not an edge list of it.
    max_lines = limit * MAX_MEAN_DEGREE
    us: list[int] = []
    vs: list[int] = []
    name = os.fspath(path)
    # The file is named by a scenario and may be any file on the machine: messages give the
    # line number and what is wrong, and quote only numbers, never the line's text.
    with open(path, encoding="utf-8") as handle:
        try:
            line_no = 0
            while True:
                line = handle.readline(MAX_LINE + 1)
                if not line:
                    break
                line_no += 1
                if len(line) > MAX_LINE and not line.endswith("\n"):
                    raise NetworkFileError(
                        f"{name}, line {line_no}: longer than {MAX_LINE} characters; not an "
                        "edge list of 'u v' lines."
                    )
                if line_no > max_lines:
                    raise NetworkFileError(
                        f"{name}: more than {max_lines:,} lines, more than a market of "
                        f"{limit:,} persons with at most {MAX_MEAN_DEGREE} contacts each can "
                        "have."
                    )
                content = line.split("#", 1)[0].strip()
                if not content:
                    continue
                fields = _SEPARATOR.split(content)
                if len(fields) != 2:
                    raise NetworkFileError(
                        f"{name}, line {line_no}: expected 2 fields 'u v' (two person ids), "
                        f"got {len(fields)}."
                    )
                for i, field in enumerate(fields, start=1):
                    if not _INTEGER.fullmatch(field):
                        raise NetworkFileError(
                            f"{name}, line {line_no}: field {i} is not an integer person id."
                        )
                u, v = int(fields[0]), int(fields[1])
                if u < 0 or v < 0:
                    raise NetworkFileError(
                        f"{name}, line {line_no}: person id {min(u, v)} is negative."
                    )
                if u >= limit or v >= limit:
                    bound = f"n = {n}" if n is not None else f"{limit} (int32)"
                    raise NetworkFileError(
                        f"{name}, line {line_no}: person id {max(u, v)} is out of "
                        f"range; ids must be < {bound}."
                    )
                us.append(u)
                vs.append(v)
        except UnicodeDecodeError:
            raise NetworkFileError(f"{name}: not UTF-8 text.") from None
    if n is None:
        if not us:
            raise NetworkFileError(f"{name}: no edges found, and no n given to size the network.")
        n = max(max(us), max(vs)) + 1
    return from_edges(n, np.array(us, dtype=np.int32), np.array(vs, dtype=np.int32))


# kind -> (required parameters, optional parameters)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "small_world": (("k", "p"), ()),
    "scale_free": (("m",), ("exponent",)),
    "random": (("mean_degree",), ()),
    "well_mixed": ((), ()),
    "edge_list": (("path",), ()),
    "regions": (("sizes", "k", "p", "between"), ()),
}


def build(kind: str, n: int, rng: np.random.Generator, **params: Any) -> Network | None:
    """Build the network a scenario asks for.

    Args:
        kind: one of :data:`KINDS`: ``"small_world"`` (``k``, ``p``), ``"scale_free"`` (``m``,
            optional ``exponent``), ``"random"`` (``mean_degree``), ``"well_mixed"`` (none),
            ``"edge_list"`` (``path``; ids must be below ``n``).
        n: number of persons N.
        rng: random generator for this phase.
        **params: the parameters of ``kind``.

    Returns:
        The network, or ``None`` for ``"well_mixed"``: no graph, anyone can reach anyone.

    Raises:
        ValueError: on an unknown kind, or a missing or unknown parameter (the message lists
            what ``kind`` takes).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown network kind {kind!r}; expected one of {sorted(KINDS)}.")
    required, optional = KINDS[kind]
    missing = [name for name in required if name not in params]
    unknown = sorted(set(params) - set(required) - set(optional))
    if missing or unknown:
        takes = ", ".join(required + tuple(f"{name} (optional)" for name in optional)) or "none"
        raise ValueError(
            f"network kind {kind!r} takes parameters: {takes}; "
            f"missing {missing}, unknown {unknown}."
        )
    if kind == "small_world":
        return small_world(n, params["k"], params["p"], rng)
    if kind == "scale_free":
        return scale_free(n, params["m"], rng, exponent=params.get("exponent"))
    if kind == "random":
        return random_graph(n, params["mean_degree"], rng)
    if kind == "edge_list":
        return read_edge_list(params["path"], n)
    if kind == "regions":
        if int(np.sum(params["sizes"])) != n:
            raise ValueError(f"region sizes sum to {int(np.sum(params['sizes']))}, not N = {n}.")
        return regions(params["sizes"], params["k"], params["p"], params["between"], rng)
    return None
