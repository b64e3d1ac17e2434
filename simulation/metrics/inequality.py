"""Concentration of money among persons: Gini, Lorenz curve, top shares, per-group tables.

Gini with losses. Net income in an MLM is mostly negative, often with a negative mean, where
the textbook Gini ``sum_ij |x_i - x_j| / (2 n^2 mean)`` exceeds 1 or turns negative. We use the
normalisation of Raffinetti, Siletti & Vernizzi (2015): divide by the mean *absolute* value
instead of the mean (see :func:`gini`). It is the textbook population Gini whenever no value is
negative, and stays in ``[0, 1)`` for any real data.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from simulation.metrics._checks import NAN, fraction, vector


def _pair_sum_sorted(xs: np.ndarray) -> float:
    """``sum_i sum_j |x_i - x_j|`` over ordered pairs of an ascending array, in O(n).

    With ranks i = 1..n of the sorted values, each x_(i) is larger than i - 1 values and smaller
    than n - i, so the double sum is ``2 * sum_i (2i - n - 1) x_(i)``.
    """
    n = xs.size
    # 2i - n - 1 for i = 1..n, made in one pass (whole numbers: exact in float64).
    w = np.arange(1 - n, n, 2, dtype=np.int64).astype(np.float64)
    return 2.0 * _dot_one_thread(w, xs)


_BLAS: ThreadpoolController | None = None


def _dot_one_thread(a: np.ndarray, b: np.ndarray) -> float:
    """``np.dot(a, b)`` with one BLAS thread.

    OpenBLAS splits a dot product of more than 10,000 entries between its threads, so the
    rounding of the sum (and the Gini in the last digits) would depend on the machine's
    number of cores; and on a busy machine the threads wait for each other: 12 ms instead of
    0.25 ms for 255,000 entries (the collect phase computes two Ginis a month per company).
    One thread gives every machine the sum a single core gives, which is what shorter
    vectors always got.
    """
    global _BLAS  # one controller, made on first use (it scans the loaded libraries)
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        return float(np.dot(a, b))


def gini(x: object, *, method: Literal["rsv", "mean"] = "rsv") -> float:
    """Gini coefficient of a population, defined for any real values (losses included).

    Population (not sample) definition, computed in O(n log n) by one sort::

        D   = sum_i sum_j |x_i - x_j|                 (all ordered pairs, i = j included)
        rsv : G = D / (2 n^2 mean(|x|)) = D / (2 n (T+ + T-))
        mean: G = D / (2 n^2 mean(x))                 (the textbook formula)

    where ``T+`` is the sum of the positive values and ``T-`` the absolute sum of the negative
    ones. Both agree whenever no value is negative: [1, 1, 1, 1] gives 0, [0, 0, 0, 1] gives
    0.75, [1, 2, 3, 4] gives 0.25 (D = 20, n = 4, mean 2.5).

    ``"rsv"`` (the default) is the normalisation of Raffinetti, Siletti & Vernizzi (2015, Stat.
    Methods Appl. 24:507-521) as implemented in their R package GiniWegNeg (``Gini_RSV``): the
    normaliser is the mean absolute value. For given totals T+ and T-, D is largest when one
    person holds all the losses and another all the gains: D = 2 (n - 1)(T+ + T-). So G lies in
    ``[0, (n - 1)/n]`` for any real data (as the population Gini does without losses), is scale
    invariant, and is defined when the mean is zero or negative, which is the usual case for
    net income in an MLM. With losses it measures the spread of money relative to the money at
    stake, not a share of a positive total. We chose it over Chen, Tsaur & Rhai (1982, with
    Berrebi & Silber's 1985 correction) because its normaliser is a closed form computed in the
    same pass, it reduces to the textbook value without negatives, and RSV argue it matches the
    classical maximum-inequality situation better. (RSV's finite-n form divides by
    ``2 (n - 1)(T+ + T-)`` so that the maximum is 1; we keep ``n`` so that non-negative data
    give the population Gini, e.g. 0.75 for [0, 0, 0, 1].)

    ``"mean"`` is the textbook formula; with losses it exceeds 1 (x = [-2, 0, 1, 3]: D = 32,
    mean 0.5, G = 2.0, while ``"rsv"`` gives 32 / (2 * 4 * 6) = 2/3), and it is NaN when the
    mean is <= 0.

    Args:
        x: values per person, ``float64[n]`` (USD or any unit; the result has none).
        method: ``"rsv"`` or ``"mean"`` as above.

    Returns:
        G as a float; NaN when n = 0 or every value is 0 (or, for ``"mean"``, mean <= 0).

    Raises:
        ValueError: ``x`` not 1-D or not finite, or an unknown ``method``.
    """
    a = vector(x, "x")
    if method not in ("rsv", "mean"):
        raise ValueError(f"method must be 'rsv' or 'mean', got {method!r}.")
    n = a.size
    if n == 0:
        return NAN
    scale = float(np.abs(a).sum()) if method == "rsv" else float(a.sum())
    if scale <= 0.0:
        return NAN
    return _pair_sum_sorted(np.sort(a)) / (2.0 * n * scale)


def lorenz(x: object, *, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: cumulative share of the money held by the poorest share of persons.

    Points ``(i/n, sum of the i smallest values / scale)`` for i = 0..n, so the curve starts at
    (0, 0). ``scale`` is the total when it is positive, and the curve ends at (1, 1) (with
    losses it first dips below 0). When the total is <= 0 (most net incomes negative) a share
    of a non-positive total is meaningless, so ``scale`` is the sum of absolute values (the
    :func:`gini` ``"rsv"`` normaliser): the curve then ends at ``total / sum|x|`` <= 0.

    Args:
        x: values per person, ``float64[n]``.
        max_points: if given (>= 2) and n + 1 is larger, return that many points of the exact
            curve at evenly spaced population indices (endpoints kept), for plotting.

    Returns:
        ``(pop_share, income_share)``, each ``float64[k]`` with k = n + 1 (or ``max_points``);
        ``income_share`` is NaN where undefined (n = 0 gives ``[0], [nan]``; all zero: NaN).
    """
    a = np.sort(vector(x, "x"))
    n = a.size
    if max_points is not None and int(max_points) < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}.")
    cum = np.concatenate(([0.0], np.cumsum(a)))
    total = float(cum[-1])
    scale = total if total > 0 else float(np.abs(a).sum())
    pop = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    share = cum / scale if scale > 0 else np.full(n + 1, NAN)
    if n == 0:
        share = np.array([NAN])
    if max_points is not None and n + 1 > max_points:
        idx = np.unique(np.round(np.linspace(0, n, int(max_points))).astype(np.int64))
        pop, share = pop[idx], share[idx]
    return pop, share


def _top_sum(a: np.ndarray, q: float) -> float:
    """Money held by the top ``q * n`` persons, the fractional person counted pro rata."""
    n = a.size
    k = q * n
    whole = min(math.floor(k + 1e-9), n)  # 1e-9: 0.1 * 30 = 3.0000000000000004 is 3
    frac = max(k - whole, 0.0) if whole < n else 0.0
    if whole == 0 and frac == 0.0:
        return 0.0
    if whole == n:
        return float(a.sum())
    # After the partition, a[cut:] are the `whole` largest values and a[cut - 1] the next one.
    cut = n - whole
    part = np.partition(a, cut - 1)
    return float(part[cut:].sum()) + frac * float(part[cut - 1])


def top_share(x: object, q: float) -> float:
    """Share of the total held by the richest ``q`` fraction of persons.

    Rule for a non-integer head count ``k = q * n``: the ``floor(k)`` largest values count in
    full and the next one by the fraction ``k - floor(k)``, i.e. ``1 - L(1 - q)`` on the
    piecewise-linear Lorenz curve L. The share is continuous in q and ``q * n`` persons are
    always counted (top 10% of 25 persons = the 2 richest plus half the third). O(n) by
    partial sorting.

    Args:
        x: values per person, ``float64[n]``.
        q: fraction of persons, in [0, 1] (0.01 = top 1%, 0.1 = top 10%).

    Returns:
        The share (above 1 when the rest hold net losses); NaN if n = 0 or the total <= 0.
    """
    a = vector(x, "x")
    q = fraction(q, "q")
    total = float(a.sum())
    if a.size == 0 or total <= 0.0:
        return NAN
    return _top_sum(a, q) / total


def share_below(x: object, threshold: float = 0.0) -> float:
    """Share of persons whose value is strictly below ``threshold`` (default: a net loss).

    Args:
        x: values per person, ``float64[n]``.
        threshold: in the unit of ``x``.

    Returns:
        ``count(x < threshold) / n``; NaN if n = 0.
    """
    a = vector(x, "x")
    return float(np.count_nonzero(a < threshold) / a.size) if a.size else NAN


def summary(x: object) -> dict[str, float]:
    """Headline distribution of money over persons.

    Args:
        x: values per person, ``float64[n]`` (USD).

    Returns:
        ``n`` (int), ``total``, ``mean``, ``median``, ``gini`` (``"rsv"``, see :func:`gini`),
        ``top1`` and ``top10`` (:func:`top_share` at 0.01 and 0.1), ``share_loss`` (x < 0) and
        ``share_zero`` (x == 0); NaN where undefined (n = 0, total <= 0 for the top shares).
    """
    a = vector(x, "x")
    n = a.size
    return {
        "n": n,
        "total": float(a.sum()),
        "mean": float(a.mean()) if n else NAN,
        "median": float(np.median(a)) if n else NAN,
        "gini": gini(a),
        "top1": top_share(a, 0.01),
        "top10": top_share(a, 0.1),
        "share_loss": float(np.count_nonzero(a < 0) / n) if n else NAN,
        "share_zero": float(np.count_nonzero(a == 0) / n) if n else NAN,
    }


def by_group(values: object, groups: object, *, name: str = "group") -> pd.DataFrame:
    """Per-group summary of money per person (by level, rank, join cohort...).

    One sort by (group, value) serves every statistic, so the cost is O(n log n) whatever the
    number of groups. Definitions as in :func:`summary`: ``gini`` is the ``"rsv"`` Gini,
    ``top10`` the :func:`top_share` rule within the group.

    Args:
        values: money per person, ``float64[n]`` (USD).
        groups: group label per person, ``[n]`` of any sortable dtype (int level, rank...).
        name: name of the index.

    Returns:
        DataFrame indexed by the sorted distinct groups with columns ``n`` (int), ``mean``,
        ``median``, ``gini``, ``share_loss`` (value < 0) and ``top10``; NaN where undefined.
    """
    x = vector(values, "values")
    g = np.asarray(groups)
    if g.shape != x.shape:
        raise ValueError(f"groups has shape {g.shape}, values {x.shape}; they must match.")
    cols = ["n", "mean", "median", "gini", "share_loss", "top10"]
    if x.size == 0:
        return pd.DataFrame({c: [] for c in cols}, index=pd.Index([], name=name))
    labels, gi = np.unique(g, return_inverse=True)
    gi = gi.ravel()
    k = labels.size
    # By group, then ascending value: a value sort then a stable group sort (faster than
    # np.lexsort on a million rows).
    order = np.argsort(x)
    order = order[np.argsort(gi[order], kind="stable")]
    xs, gs = x[order], gi[order]
    count = np.bincount(gs, minlength=k)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    end = start + count
    total = np.bincount(gs, weights=xs, minlength=k)
    absolute = np.bincount(gs, weights=np.abs(xs), minlength=k)
    median = 0.5 * (xs[start + (count - 1) // 2] + xs[start + count // 2])
    rank = np.arange(xs.size) - start[gs] + 1  # 1-based rank within the group
    pairs = 2.0 * np.bincount(gs, weights=(2.0 * rank - count[gs] - 1.0) * xs, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        gini_g = np.where(absolute > 0, pairs / (2.0 * count * absolute), NAN)
        # Top 10%: the floor(0.1 c) largest in full, the next one pro rata (see top_share).
        kk = 0.1 * count
        whole = np.minimum(np.floor(kk + 1e-9).astype(np.int64), count)
        frac = np.where(whole < count, np.maximum(kk - whole, 0.0), 0.0)
        cum = np.concatenate(([0.0], np.cumsum(xs)))
        top = cum[end] - cum[end - whole]
        nxt = xs[np.maximum(end - whole - 1, start)]
        top = top + frac * nxt
        top10 = np.where(total > 0, top / total, NAN)
        loss = np.bincount(gs, weights=(xs < 0).astype(np.float64), minlength=k) / count
    return pd.DataFrame(
        {
            "n": count.astype(np.int64),
            "mean": total / count,
            "median": median,
            "gini": gini_g,
            "share_loss": loss,
            "top10": top10,
        },
        index=pd.Index(labels, name=name),
    )


CONCENTRATION_COLUMNS = (
    "measure",
    "grouping",
    "group",
    "n",
    "total",
    "mean",
    "median",
    "gini",
    "top1",
    "top10",
    "share_loss",
    "share_zero",
)


def concentration(
    measures: dict[str, object], groupings: dict[str, object] | None = None
) -> pd.DataFrame:
    """Concentration of money per person, overall and per group, as one long table.

    For every measure (e.g. ``gross`` = commissions, ``net`` = net income) one row for
    everyone (``grouping = "all"``, ``group = "all"``) with the columns of :func:`summary`,
    then one row per group of every grouping (``level``, ``rank``, ``cohort``...) with the
    columns of :func:`by_group` plus ``total``, ``top1`` and ``share_zero``. Same rules as
    those functions: RSV Gini, top shares by :func:`top_share` (NaN when the group's total
    is <= 0), ``share_loss`` = value < 0, ``share_zero`` = value == 0.

    Args:
        measures: name -> money per person, each ``float64[n]`` (same persons, same order).
        groupings: name -> group label per person, each ``[n]``.

    Returns:
        DataFrame with :data:`CONCENTRATION_COLUMNS`; ``group`` holds labels as strings.
    """
    rows: list[dict[str, object]] = []
    groupings = groupings or {}
    for m_name, values in measures.items():
        x = vector(values, m_name)
        s = summary(x)
        rows.append({"measure": m_name, "grouping": "all", "group": "all", **s})
        for g_name, labels in groupings.items():
            g = np.asarray(labels)
            if g.shape != x.shape:
                raise ValueError(f"grouping {g_name!r} has shape {g.shape}, {m_name} {x.shape}.")
            table = by_group(x, g, name=g_name)
            if table.empty:
                continue
            _, gi = np.unique(g, return_inverse=True)
            gi = gi.ravel()
            k = table.shape[0]
            totals = np.bincount(gi, weights=x, minlength=k)
            zero = np.bincount(gi, weights=(x == 0).astype(np.float64), minlength=k)
            order = np.argsort(gi, kind="stable")
            bounds = np.concatenate(([0], np.cumsum(np.bincount(gi, minlength=k))))
            top1 = [top_share(x[order[bounds[i] : bounds[i + 1]]], 0.01) for i in range(k)]
            for i, (label, r) in enumerate(table.iterrows()):
                rows.append(
                    {
                        "measure": m_name,
                        "grouping": g_name,
                        "group": str(label),
                        "n": int(r["n"]),
                        "total": float(totals[i]),
                        "mean": r["mean"],
                        "median": r["median"],
                        "gini": r["gini"],
                        "top1": top1[i],
                        "top10": r["top10"],
                        "share_loss": r["share_loss"],
                        "share_zero": float(zero[i] / r["n"]),
                    }
                )
    out = pd.DataFrame(rows, columns=list(CONCENTRATION_COLUMNS))
    out["n"] = out["n"].astype(np.int64)
    return out
