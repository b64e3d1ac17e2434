"""Exact expectations of the degenerate settings: pure functions of the realised monthly counts.

Recruiting happens in monthly batches (everyone who joins in month t chose among the
distributors active at its start), which changes several textbook answers; each function here
gives the month-batched expectation, and the ``*_textbook`` ones the continuous-time value.
"""

from __future__ import annotations

import math

import numpy as np


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
