"""Outcome metrics on columnar state and result tables: pure numpy/pandas, no model import.

Five families, each vectorised (numpy over whole arrays, no Python loop per person):

1. Concentration: :func:`gini`, :func:`lorenz`, :func:`top_share`, :func:`share_below`,
   :func:`summary`; per group: :func:`by_group` (by level, rank, join cohort).
2. Saturation: :func:`bass_fit` (month-stepped Bass curve), :func:`months_to_half_peak`,
   :func:`penetration`.
3. Attrition: :func:`survival_by_cohort`, :func:`annual_quit_rate`.
4. The income disclosure statement: :func:`income_disclosure`.
5. Pyramid-risk indicators with their legal or conventional sources: :func:`pyramid_indicators`.
6. Run-level tables for the report: :func:`reachable_prospects` (over the CSR social graph),
   :func:`level_saturation`, :func:`recruitment_income`, :func:`monthly_quit_rate`,
   :func:`concentration` (overall and by level, rank, cohort in one long table).

Money is in USD, time in months (the model's month index), counts in persons. Functions that
take a value per person accept any 1-D array-like (``float64[n]`` after conversion) and raise
``ValueError`` naming the argument, the offending value and where it is. Undefined results
(an empty group, a zero total) are NaN, never an exception.

Gini with losses. Net income in an MLM is mostly negative, often with a negative mean, where
the textbook Gini ``sum_ij |x_i - x_j| / (2 n^2 mean)`` exceeds 1 or turns negative. We use the
normalisation of Raffinetti, Siletti & Vernizzi (2015): divide by the mean *absolute* value
instead of the mean (see :func:`gini`). It is the textbook population Gini whenever no value is
negative, and stays in ``[0, 1)`` for any real data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "BassFit",
    "Indicator",
    "annual_quit_rate",
    "at_risk",
    "bass_fit",
    "by_group",
    "concentration",
    "gini",
    "income_disclosure",
    "level_saturation",
    "lorenz",
    "monthly_quit_rate",
    "months_to_half_peak",
    "penetration",
    "pyramid_indicators",
    "reachable_prospects",
    "recruitment_income",
    "share_below",
    "summary",
    "survival_by_cohort",
    "top_share",
]

NAN = float("nan")


# --------------------------------------------------------------------------------------------
# input checks


def _vector(x: object, name: str, *, finite: bool = True) -> np.ndarray:
    """``x`` as a 1-D float64 array; ValueError naming ``name`` if not 1-D or not finite."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}.")
    if finite:
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{name} has {int(bad.sum())} non-finite value(s); first at index {i}: {a[i]}."
            )
    return a


def _int_vector(x: object, name: str) -> np.ndarray:
    """``x`` as a 1-D int64 array; ValueError naming ``name`` if not 1-D or not integral."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}.")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float64)
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} must hold whole months; index {i} is {a[i]!r}.")
    return a.astype(np.int64)


def _fraction(q: float, name: str) -> float:
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {q}.")
    return q


# --------------------------------------------------------------------------------------------
# 1. concentration


def _pair_sum_sorted(xs: np.ndarray) -> float:
    """``sum_i sum_j |x_i - x_j|`` over ordered pairs of an ascending array, in O(n).

    With ranks i = 1..n of the sorted values, each x_(i) is larger than i - 1 values and smaller
    than n - i, so the double sum is ``2 * sum_i (2i - n - 1) x_(i)``.
    """
    n = xs.size
    w = 2.0 * np.arange(1, n + 1, dtype=np.float64) - n - 1.0
    return 2.0 * float(np.dot(w, xs))


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
    a = _vector(x, "x")
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
    a = np.sort(_vector(x, "x"))
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
    a = _vector(x, "x")
    q = _fraction(q, "q")
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
    a = _vector(x, "x")
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
    a = _vector(x, "x")
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
    x = _vector(values, "values")
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


# --------------------------------------------------------------------------------------------
# 2. saturation


@dataclass(frozen=True, eq=False)
class BassFit:
    """A month-stepped Bass curve fitted to cumulative joins.

    Attributes:
        p: innovation (outside influence) coefficient, per month.
        q: imitation (word of mouth) coefficient, per month.
        m: market potential, persons who would ever join (including ``initial``).
        rmse: root mean square error of the fitted cumulative joins, persons.
        fitted: fitted joins per month, ``float64[T]`` (aligned with the input ``joins``).
        fitted_cumulative: fitted cumulative joins N_1..N_T, ``float64[T]``.
        ok: False when no fit was possible (no joins, too few months, solver failure); then
            every number is NaN.
        message: why not ok, or the solver's message.
    """

    p: float
    q: float
    m: float
    rmse: float
    fitted: np.ndarray = field(repr=False)
    fitted_cumulative: np.ndarray = field(repr=False)
    ok: bool = True
    message: str = ""


def _bass_path(
    p: float, q: float, m: float, n0: float, months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative N_1..N_T of N_{t+1} = N_t + (p + q N_t/m)(m - N_t) and dN_t/d(p, q, m).

    Forward sensitivities: with f(N) = N + p(m - N) + q N (m - N)/m,
    df/dN = 1 - p + q - 2qN/m, df/dp = m - N, df/dq = N(m - N)/m, df/dm = p + q (N/m)^2.
    """
    path = np.empty(months)
    sens = np.empty((months, 3))
    n, s = n0, np.zeros(3)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(months):
            r = n / m
            dn = 1.0 - p + q - 2.0 * q * r
            s = dn * s + np.array([m - n, n * (1.0 - r), p + q * r * r])
            n = n + (p + q * r) * (m - n)
            path[t] = n
            sens[t] = s
    return path, sens


def _bass_failed(months: int, message: str) -> BassFit:
    nan = np.full(months, NAN)
    return BassFit(NAN, NAN, NAN, NAN, nan, nan.copy(), ok=False, message=message)


def bass_fit(
    joins: object, population: int, *, initial: float = 0.0, max_q: float = 10.0
) -> BassFit:
    """Fit the month-stepped (discrete) Bass model to cumulative joins.

    Model, one step per month from ``N_0 = initial`` (e.g. the founders of month 0)::

        N_{t+1} = N_t + (p + q N_t / m) (m - N_t),    t = 0..T-1

    fitted by bounded least squares (:func:`scipy.optimize.least_squares`, trust region
    reflective, analytic Jacobian from forward sensitivities) to the observed cumulative joins
    ``C_t = initial + joins_1 + ... + joins_t``, with bounds ``0 <= p <= 1`` (a probability per
    month), ``0 <= q <= max_q`` and ``C_T <= m <= population`` (m = C_T is held fixed when
    everyone has joined). Starting values: the classical Bass OLS regression of joins on
    (1, N, N^2) (exact for data from this recursion), plus a few fixed starts; the best fit
    wins. Noise-free data from the recursion are recovered to solver precision.

    Args:
        joins: persons who joined in each month, ``float64[T]`` (>= 0).
        population: market size N, persons (upper bound of m).
        initial: persons who had joined before the first month of ``joins``.
        max_q: upper bound of q per month (the recursion oscillates for large q).

    Returns:
        A :class:`BassFit`; ``ok=False`` with NaNs (no exception) when there are no joins,
        fewer than 3 months, or the solver fails.

    Raises:
        ValueError: negative or non-finite ``joins``, ``population`` < 1, or ``initial`` < 0.
    """
    from scipy.optimize import least_squares  # imported here: slow to import, only the fit uses it

    j = _vector(joins, "joins")
    if (j < 0).any():
        i = int(np.argmax(j < 0))
        raise ValueError(f"joins must be >= 0; month index {i} is {j[i]}.")
    if int(population) < 1:
        raise ValueError(f"population must be a positive number of persons, got {population}.")
    if not initial >= 0:
        raise ValueError(f"initial must be >= 0 persons, got {initial}.")
    T = j.size
    if T < 3:
        return _bass_failed(T, f"need at least 3 months of joins, got {T}")
    if j.sum() <= 0:
        return _bass_failed(T, "no joins: the Bass curve is not identified")
    pop = float(population)
    cum = initial + np.cumsum(j)
    if cum[-1] > pop * (1 + 1e-12):
        raise ValueError(f"initial + total joins = {cum[-1]} exceeds the population {population}.")
    lo_m = min(float(cum[-1]), pop)
    fix_m = pop - lo_m < 1e-9 * pop
    big = 1e6 * pop  # residual for a diverging trial point

    def unpack(theta: np.ndarray) -> tuple[float, float, float]:
        return theta[0], theta[1], lo_m if fix_m else theta[2]

    def resid(theta: np.ndarray) -> np.ndarray:
        p, q, m = unpack(theta)
        path, _ = _bass_path(p, q, m, initial, T)
        return np.nan_to_num(path - cum, nan=big, posinf=big, neginf=-big)

    def jac(theta: np.ndarray) -> np.ndarray:
        p, q, m = unpack(theta)
        _, sens = _bass_path(p, q, m, initial, T)
        sens = np.nan_to_num(sens, nan=0.0, posinf=0.0, neginf=0.0)
        return sens[:, :2] if fix_m else sens

    lower = np.array([0.0, 0.0] + ([] if fix_m else [lo_m]))
    upper = np.array([1.0, float(max_q)] + ([] if fix_m else [pop]))
    starts = [s for s in (_bass_ols_start(j, cum, initial),) if s is not None]
    span = max(pop - lo_m, 0.0)
    for p0, q0, frac in ((0.01, 0.3, 0.1), (0.001, 0.8, 0.5), (0.03, 0.1, 1.0)):
        starts.append((p0, q0, lo_m + frac * span))
    best, last_error = None, ""
    for p0, q0, m0 in starts:
        x0 = np.array([p0, q0] + ([] if fix_m else [m0]))
        # Strictly inside the bounds: least_squares requires a feasible start.
        x0 = np.clip(x0, lower + 1e-12 * (upper - lower), upper - 1e-12 * (upper - lower))
        try:
            res = least_squares(
                resid,
                x0,
                jac=jac,
                bounds=(lower, upper),
                method="trf",
                x_scale="jac",
                ftol=1e-14,
                xtol=1e-14,
                gtol=1e-14,
                max_nfev=2000,
            )
        except (ValueError, np.linalg.LinAlgError) as err:  # pragma: no cover - defensive
            last_error = str(err)
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:  # pragma: no cover - defensive
        return _bass_failed(T, f"least_squares failed: {last_error}")
    p, q, m = (float(v) for v in unpack(best.x))
    path, _ = _bass_path(p, q, m, initial, T)
    if not np.isfinite(path).all():  # pragma: no cover - defensive
        return _bass_failed(T, "fit diverged")
    fitted = np.diff(np.concatenate(([initial], path)))
    rmse = float(np.sqrt(np.mean((path - cum) ** 2)))
    return BassFit(p, q, m, rmse, fitted, path, ok=True, message=str(best.message))


def _bass_ols_start(
    j: np.ndarray, cum: np.ndarray, initial: float
) -> tuple[float, float, float] | None:
    """Bass's OLS estimator: joins_{t+1} = a + b N_t + c N_t^2 with a = pm, b = q - p, c = -q/m."""
    before = np.concatenate(([initial], cum[:-1]))
    X = np.column_stack((np.ones_like(before), before, before**2))
    try:
        (a, b, c), *_ = np.linalg.lstsq(X, j, rcond=None)
    except np.linalg.LinAlgError:  # pragma: no cover - defensive
        return None
    if not c < 0:
        return None
    disc = b * b - 4.0 * a * c
    if disc < 0:
        return None
    m = (-b - math.sqrt(disc)) / (2.0 * c)  # the positive root when c < 0
    if not m > 0:
        return None
    return float(a / m), float(-c * m), float(m)


def months_to_half_peak(joins: object) -> int | None:
    """Index of the first month after the peak whose joins fell below half the peak.

    The peak is the first month with the most joins. "Below" is strict: ``joins < peak / 2``.

    Args:
        joins: persons who joined in each month, ``float64[T]``.

    Returns:
        The index into ``joins`` (0-based; add the offset of ``joins[0]`` for a month number),
        or None if joins never fell below half the peak after it (or there were no joins).
    """
    j = _vector(joins, "joins")
    if j.size == 0:
        return None
    peak = int(np.argmax(j))
    after = j[peak + 1 :] < 0.5 * j[peak]
    return peak + 1 + int(np.argmax(after)) if after.any() else None


def penetration(ever_joined: float | np.ndarray, n: int) -> float | np.ndarray:
    """Share of the market who ever joined: ``ever_joined / n``.

    Args:
        ever_joined: persons who ever joined, a count or a series ``[T]``.
        n: market size N, persons.

    Returns:
        A float for a count, ``float64[T]`` for a series.
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive number of persons, got {n}.")
    e = np.asarray(ever_joined, dtype=np.float64)
    bad = ~((e >= 0) & (e <= n))
    if bad.any():
        raise ValueError(f"ever_joined must lie in [0, {n}], got {e[bad].ravel()[0]}.")
    share = e / float(n)
    return float(share) if share.ndim == 0 else share


# --------------------------------------------------------------------------------------------
# 3. attrition


def survival_by_cohort(
    join_month: object, quit_month: object, horizon: int, *, last_month: int | None = None
) -> pd.DataFrame:
    """Share of each join cohort still active a given number of months after joining.

    A person who joined in month j and quit in month k (quitting happens at the end of a
    month) is active at age a, i.e. at the end of month j + a, iff they have not quit or
    ``k > j + a``; so age 0 counts those who quit in the month they joined as gone. The run
    ends at ``last_month``: a cell with ``j + a > last_month`` is not observed yet and is NaN
    (administrative censoring; everyone of a cohort is observed for the same span, so the
    shares of observed cells are exact, not estimates). People who never joined
    (``join_month < 0``) are ignored.

    Args:
        join_month: month of joining per person, ``int[n]`` (-1 = never joined).
        quit_month: month of quitting per person, ``int[n]`` (-1 = still active).
        horizon: largest age shown, months (>= 0).
        last_month: the last month simulated. Default: the latest join or quit month, which
            is too early if nobody joined or quit in the final month, so pass it.

    Returns:
        DataFrame indexed by ``cohort`` (join month, ascending; only months with joiners) with
        columns ``0..horizon`` (``months_since_join``): share still active, NaN if censored.
        ``df.attrs["n"]`` maps each cohort to its size.

    Raises:
        ValueError: mismatched shapes, ``horizon`` < 0, or a row with ``quit_month`` before its
            ``join_month`` or after ``last_month``, naming the first such row.
    """
    join = _int_vector(join_month, "join_month")
    quit_ = _int_vector(quit_month, "quit_month")
    if join.shape != quit_.shape:
        raise ValueError(f"join_month has shape {join.shape}, quit_month {quit_.shape}.")
    H = int(horizon)
    if H < 0:
        raise ValueError(f"horizon must be >= 0 months, got {horizon}.")
    ages = pd.Index(np.arange(H + 1), name="months_since_join")
    joined = join >= 0
    if not joined.any():
        return pd.DataFrame(columns=ages, index=pd.Index([], name="cohort"), dtype=np.float64)
    if last_month is None:
        last = int(max(join.max(), quit_.max()))
    else:
        last = int(last_month)
    bad = joined & (((quit_ >= 0) & (quit_ < join)) | (quit_ > last) | (join > last) | (quit_ < -1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"row {i}: join_month {join[i]}, quit_month {quit_[i]} is not a valid life in a "
            f"run ending at month {last} (need join <= quit <= last, or quit = -1)."
        )
    j, k = join[joined], quit_[joined]
    cohorts, ci = np.unique(j, return_inverse=True)
    size = np.bincount(ci, minlength=cohorts.size)
    life = np.where(k >= 0, k - j, H + 1)  # active at age a iff life > a
    life = np.minimum(life, H + 1)
    gone = np.bincount(ci * (H + 2) + life, minlength=cohorts.size * (H + 2))
    gone_by = np.cumsum(gone.reshape(cohorts.size, H + 2)[:, : H + 1], axis=1)
    share = (size[:, None] - gone_by) / size[:, None]
    share[cohorts[:, None] + np.arange(H + 1)[None, :] > last] = NAN
    out = pd.DataFrame(share, index=pd.Index(cohorts, name="cohort"), columns=ages)
    out.attrs["n"] = {int(c): int(s) for c, s in zip(cohorts, size, strict=True)}
    return out


def annual_quit_rate(monthly_quit: object, monthly_active: object) -> float:
    """Share of distributors who would quit within a year at the observed monthly hazards.

    With ``h_t = quit_t / active_t`` the monthly quit hazard, the annual rate is
    ``1 - (geometric mean of (1 - h_t))^12``; over exactly 12 months this is
    ``1 - prod_t (1 - h_t)``, the share of a group at risk at the start of the year who quit
    by its end. Months with nobody at risk are skipped.

    Args:
        monthly_quit: distributors who quit in each month, ``float64[T]``.
        monthly_active: distributors at risk in each month, ``float64[T]``: those active at
            its start plus those who joined in it if joiners can quit in their first month
            (not the end-of-month count, which has the quitters removed).

    Returns:
        The annual quit rate in [0, 1]; NaN if no month had anyone at risk.

    Raises:
        ValueError: lengths differ, negative counts, or more quits than people at risk in a
            month (naming the month index).
    """
    qt = _vector(monthly_quit, "monthly_quit")
    at = _vector(monthly_active, "monthly_active")
    if qt.shape != at.shape:
        raise ValueError(f"monthly_quit has {qt.size} months, monthly_active {at.size}.")
    bad = (qt < 0) | (at < 0) | (qt > at)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"month index {i}: {qt[i]} quit out of {at[i]} at risk; need 0 <= quit <= at risk."
        )
    risk = at > 0
    if not risk.any():
        return NAN
    keep = 1.0 - qt[risk] / at[risk]
    if (keep == 0).any():
        return 1.0
    return float(1.0 - np.exp(12.0 * np.mean(np.log(keep))))


# --------------------------------------------------------------------------------------------
# 4. income disclosure statement

IDS_COLUMNS = (
    "rank",
    "status",
    "join_month",
    "quit_month",
    "commissions_year",
    "costs_year",
    "net_income_year",
)

IDS_POPULATIONS: dict[str, str] = {
    "active_full_year": (
        "Active at the end of the year and joined before its first month, so in for all of "
        "it; the population real statements report."
    ),
    "joined_during_year": "Active at the end of the year, joined during it.",
    "quit_during_year": "Quit during the year (including those who joined in it).",
    "all_participants": "Everyone who was a distributor in at least one month of the year.",
}


def _ids_block(sub: pd.DataFrame, population: str, participants: int) -> pd.DataFrame:
    """Rows of one population: one per rank (ascending), then all ranks (rank = <NA>)."""
    blocks = []
    n_all = len(sub)
    for rank, part in ([*sub.groupby("rank", sort=True)] if n_all else []) + [(pd.NA, sub)]:
        gross = part["commissions_year"]
        costs = part["costs_year"]
        net = part["net_income_year"]
        n = len(part)
        blocks.append(
            {
                "population": population,
                "rank": rank,
                "count": n,
                "share_of_population": n / n_all if n_all else NAN,
                "share_of_participants": n / participants if participants else NAN,
                "mean_gross": gross.mean() if n else NAN,
                "median_gross": gross.median() if n else NAN,
                "share_no_gross": float((gross <= 0).mean()) if n else NAN,
                "mean_costs": costs.mean() if n else NAN,
                "median_costs": costs.median() if n else NAN,
                "mean_net": net.mean() if n else NAN,
                "median_net": net.median() if n else NAN,
                "share_net_loss": float((net < 0).mean()) if n else NAN,
            }
        )
    return pd.DataFrame(blocks)


def income_disclosure(df: pd.DataFrame, year_months: Sequence[int]) -> pd.DataFrame:
    """Income disclosure statement for one year, in the published form and the full picture.

    Real statements report, per rank, distributors active all year: how many, their share,
    mean and median gross commissions and the share who earned nothing; they leave out costs,
    those who quit and those who joined during the year. This table gives the same columns
    and adds costs, net income and the share with a net loss, for four populations (column
    ``population``; all from persons with ``first <= ... <= last`` where ``first`` and
    ``last`` are the first and last of ``year_months``):

    - ``active_full_year``: ``status == "distributor"`` and ``join_month < first`` (in for
      all 12 months). This is the company-style block.
    - ``joined_during_year``: ``status == "distributor"`` and ``first <= join_month <= last``.
    - ``quit_during_year``: ``status == "quit"`` and ``first <= quit_month <= last``.
    - ``all_participants``: the union of the three: everyone who was a distributor in at least
      one month of the year (quitters from before the year and joiners after it are out).

    Each population has one row per rank present in it (ascending, the ``rank`` column as
    recorded, e.g. -1 = no rank; for quitters the rank they last held), then one row for all
    ranks with ``rank`` = <NA>; an empty population still has its all-ranks row (count 0).

    Columns: ``count``; ``share_of_population`` (of the population's count, the published
    "% of distributors"); ``share_of_participants`` (of ``all_participants``); ``mean_gross``,
    ``median_gross`` (``commissions_year``, USD); ``share_no_gross`` (commissions_year <= 0);
    ``mean_costs``, ``median_costs`` (``costs_year``); ``mean_net``, ``median_net``
    (``net_income_year``); ``share_net_loss`` (net_income_year < 0).

    Args:
        df: one row per person who ever joined, with columns ``rank`` (int), ``status``
            ("distributor" or "quit"), ``join_month``, ``quit_month`` (-1 = not quit),
            ``commissions_year``, ``costs_year``, ``net_income_year`` (USD over the year).
        year_months: the months of the year, e.g. ``range(last - 11, last + 1)``; only the
            first and last are used.

    Returns:
        The statement as a DataFrame (see above); ``rank`` is a nullable ``Int64`` column.

    Raises:
        ValueError: a missing column, an unknown status, or a status that contradicts
            ``quit_month``, naming the first offending row.
    """
    missing = [c for c in IDS_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"income_disclosure: df lacks column(s) {missing}; has {list(df)}.")
    months = [int(m) for m in year_months]
    if not months:
        raise ValueError("year_months is empty; pass the months of the year.")
    first, last = min(months), max(months)
    status = df["status"].astype(str).to_numpy()
    join = _int_vector(df["join_month"].to_numpy(), "join_month")
    quit_ = _int_vector(df["quit_month"].to_numpy(), "quit_month")
    for col in ("commissions_year", "costs_year", "net_income_year"):
        _vector(df[col].to_numpy(), col)
    is_active = status == "distributor"
    is_quit = status == "quit"
    bad = ~(is_active | is_quit) | (is_active & (quit_ >= 0)) | (is_quit & (quit_ < 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"income_disclosure: row {df.index[i]!r} has status {status[i]!r} and quit_month "
            f"{quit_[i]}; expected 'distributor' with -1 or 'quit' with a month."
        )
    full_year = is_active & (join >= 0) & (join < first)
    joined_in = is_active & (join >= first) & (join <= last)
    quit_in = is_quit & (quit_ >= first) & (quit_ <= last)
    everyone = full_year | joined_in | quit_in
    participants = int(everyone.sum())
    frame = df.loc[:, list(IDS_COLUMNS)].reset_index(drop=True)
    parts = [
        _ids_block(frame[mask], name, participants)
        for name, mask in (
            ("active_full_year", full_year),
            ("joined_during_year", joined_in),
            ("quit_during_year", quit_in),
            ("all_participants", everyone),
        )
    ]
    out = pd.concat(parts, ignore_index=True)
    out["rank"] = out["rank"].astype("Int64")
    out["count"] = out["count"].astype(np.int64)
    return out


# --------------------------------------------------------------------------------------------
# 5. pyramid-risk indicators


@dataclass(frozen=True)
class Indicator:
    """One pyramid-risk indicator compared with a threshold from a case, order or rule.

    Attributes:
        name: short identifier.
        value: the measured value (NaN when undefined, e.g. no sales).
        threshold: the line it is compared with.
        passes: True if on the safe side of the line (False when ``value`` is NaN).
        source: the case, order or guidance the line comes from.
        meaning: what the indicator shows and how much legal weight the line has.
        comparison: how ``value`` must relate to ``threshold`` to pass (">", ">=", "<", "<=").
    """

    name: str
    value: float
    threshold: float
    passes: bool
    source: str
    meaning: str
    comparison: str = ">="


_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def _indicator(
    name: str, num: float, den: float, threshold: float, comparison: str, source: str, meaning: str
) -> Indicator:
    value = num / den if den > 0 else NAN
    passes = bool(math.isfinite(value) and _COMPARE[comparison](value, threshold))
    return Indicator(name, value, threshold, passes, source, meaning, comparison)


KOSCOT = "In re Koscot Interplanetary, Inc., 86 F.T.C. 1106 (1975)"
AMWAY = "In re Amway Corp., 93 F.T.C. 618 (1979)"
BURNLOUNGE = "FTC v. BurnLounge, Inc., 753 F.3d 878 (9th Cir. 2014)"
VEMMA = (
    "FTC v. Vemma Nutrition Co., No. 2:15-cv-01578 (D. Ariz.): preliminary injunction 2015, "
    "stipulated order 2016 (Section II.C)"
)
FTC_GUIDANCE = "FTC staff, Business Guidance Concerning Multi-Level Marketing (January 2018)"


def pyramid_indicators(
    retail_sales_nonmember: float,
    total_sales: float,
    recruitment_income: float,
    total_income: float,
    customers: float,
    distributors: float,
    purchases_to_qualify: float,
    total_purchases: float,
) -> list[Indicator]:
    """Pyramid-risk indicators with the line each is judged against and where it comes from.

    No statute or court sets a numeric line for any of these. The legal test is qualitative
    (Koscot 1975, as applied in BurnLounge 2014): participants pay for the right to sell and
    to earn rewards for recruiting that are unrelated to sales to ultimate users. The lines
    below are borrowed from one company's rules the FTC credited (Amway 1979) or from a
    settlement binding only the company that signed it (Vemma 2016); ``meaning`` says which.

    Indicators, in order:

    1. ``retail_share`` = retail_sales_nonmember / total_sales, passes if > 0.5 (Vemma order:
       no pay unless most of a participant's and downline's revenue comes from sales to
       non-participants; BurnLounge: participants' purchases driven by rewards are not sales
       to ultimate users).
    2. ``recruitment_income_share`` = recruitment_income / total_income, passes if < 0.5
       (Koscot; BurnLounge: rewards "primarily" for recruiting; "half" is our reading).
    3. ``customers_per_distributor`` = customers / distributors, passes if >= 10 (Amway's
       ten-customer rule).
    4. ``qualifying_purchase_share`` = purchases_to_qualify / total_purchases, passes if <= 0.3
       (the complement of Amway's 70% rule; FTC 2018 guidance on purchases made to qualify).

    Args:
        retail_sales_nonmember: sales to customers who are not distributors, USD.
        total_sales: all product sales, to distributors and customers, USD.
        recruitment_income: distributor income tied to recruiting (enrolment and fast start
            bonuses, commissions on recruits' own qualifying purchases), USD.
        total_income: all commissions and bonuses paid, USD.
        customers: retail customers (non-members), persons.
        distributors: active distributors, persons.
        purchases_to_qualify: purchases made only to meet a qualification or rank minimum
            (top-ups, inventory loading), USD.
        total_purchases: all distributor purchases, USD.

    Returns:
        The four :class:`Indicator` objects; a value with a zero denominator is NaN and does
        not pass.

    Raises:
        ValueError: a negative or non-finite input, or a part larger than its whole, naming it.
    """
    args = {
        "retail_sales_nonmember": retail_sales_nonmember,
        "total_sales": total_sales,
        "recruitment_income": recruitment_income,
        "total_income": total_income,
        "customers": customers,
        "distributors": distributors,
        "purchases_to_qualify": purchases_to_qualify,
        "total_purchases": total_purchases,
    }
    for key, v in args.items():
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"pyramid_indicators: {key} must be finite and >= 0, got {v}.")
    for part, whole in (
        ("retail_sales_nonmember", "total_sales"),
        ("recruitment_income", "total_income"),
        ("purchases_to_qualify", "total_purchases"),
    ):
        if float(args[part]) > float(args[whole]) * (1 + 1e-12) + 1e-9:
            raise ValueError(
                f"pyramid_indicators: {part} = {args[part]} exceeds {whole} = {args[whole]}."
            )
    return [
        _indicator(
            "retail_share",
            float(retail_sales_nonmember),
            float(total_sales),
            0.5,
            ">",
            f"{VEMMA}; {BURNLOUNGE}; {FTC_GUIDANCE}",
            "Sales to people outside the business / all sales. The FTC's core concern is pay "
            "driven by participants' own purchases rather than demand from ultimate users "
            "(BurnLounge). The 'more than half' line is a settlement term binding on Vemma "
            "only (the 2016 Herbalife order used other tests, e.g. 80% of sales to legitimate "
            "end users with verified internal consumption counted); the 2018 guidance sets no "
            "percentage and says internal consumption can be genuine demand. A convention, "
            "not law.",
        ),
        _indicator(
            "recruitment_income_share",
            float(recruitment_income),
            float(total_income),
            0.5,
            "<",
            f"{KOSCOT}; {BURNLOUNGE}",
            "Share of distributor income paid for bringing in people rather than for sales "
            "to ultimate users. Rewards for recruiting unrelated to such sales are the legal "
            "heart of a pyramid (Koscot); BurnLounge found a pyramid where rewards were "
            "primarily for recruiting. Reading 'primarily' as 'more than half' is our "
            "convention, not law: no court set a number.",
        ),
        _indicator(
            "customers_per_distributor",
            float(customers),
            float(distributors),
            10.0,
            ">=",
            f"{AMWAY} (ten-customer rule)",
            "Retail customers per active distributor. Amway required a distributor to sell "
            "to at least ten different retail customers a month to be paid the performance "
            "bonus; the Commission credited the rule with tying pay to retail sales. It is "
            "one company's rule, applied per distributor per month, and an average over all "
            "distributors is a weaker test. A convention, not law.",
        ),
        _indicator(
            "qualifying_purchase_share",
            float(purchases_to_qualify),
            float(total_purchases),
            0.3,
            "<=",
            f"{AMWAY} (70% rule); {FTC_GUIDANCE}",
            "Share of distributor purchases bought only to qualify or reach a rank (not sold "
            "or used). Amway required a distributor to sell (at wholesale to a downline or at "
            "retail) at least 70% of the product bought in a month to be paid the "
            "performance bonus, i.e. at most 30% left over; the Commission credited it, with "
            "the buy-back and ten-customer rules, as a guard against inventory loading. The "
            "2018 guidance treats purchases made to qualify for rewards as a sign that they "
            "may not reflect real demand. One company's per-distributor monthly rule, here "
            "applied to the total: a convention, not law.",
        ),
    ]


# --------------------------------------------------------------------------------------------
# 6. run-level tables: saturation by level, recruitment income, quit rates, concentration
#
# Added for the report (issue 4). Like everything above they take plain arrays, so they are
# tested on hand-built trees and graphs; the runner feeds them the model's columns.


def reachable_prospects(
    indptr: object,
    indices: object,
    status: object,
    refused_until: object,
    month: int,
    *,
    rows: object | None = None,
    open_status: Sequence[int] = (0, 1),
) -> np.ndarray:
    """Still-reachable prospects of each person: social contacts who could still be recruited.

    A contact ``j`` of ``i`` is reachable when its status is one of ``open_status`` (prospect
    or customer: never joined) and it is not refusing: ``refused_until[j] <= month`` (a person
    who said no is off limits until that month, see the recruit rule). One gather over the CSR
    ``indices`` and a cumulative sum give every row's count in O(N + E) without a Python loop;
    rows without contacts get 0.

    Args:
        indptr: CSR row pointers, ``int[N + 1]``.
        indices: CSR neighbour ids, ``int[2E]``.
        status: status code per person, ``int[N]`` (0 prospect, 1 customer, 2 distributor,
            3 quit: :class:`simulation.state.Status`).
        refused_until: month before which a person is not pitched again, ``int[N]``.
        month: the month the question is asked for (e.g. the month after the run's last).
        rows: persons to count for, ``int[k]`` (default: everyone).
        open_status: status codes that count as still recruitable.

    Returns:
        ``int64[k]`` (or ``int64[N]``): reachable contacts per row.

    Raises:
        ValueError: CSR arrays that do not fit ``status`` or each other.
    """
    ptr = np.asarray(indptr, dtype=np.int64)
    idx = np.asarray(indices)  # no int64 copy: at 1M people this is 12M entries every month
    st = np.asarray(status)
    until = np.asarray(refused_until)
    n = st.size
    if ptr.ndim != 1 or ptr.size != n + 1 or ptr[0] != 0 or ptr[-1] != idx.size:
        raise ValueError(
            f"indptr must be int[N + 1] = int[{n + 1}] from 0 to len(indices) = {idx.size}, "
            f"got shape {ptr.shape}."
        )
    if until.shape != st.shape:
        raise ValueError(f"refused_until has shape {until.shape}, status {st.shape}.")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {idx.dtype}.")

    def checked(ids: np.ndarray) -> np.ndarray:
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"indices must lie in [0, {n}); got {ids.min()}..{ids.max()}.")
        return ids

    codes = np.asarray(open_status, dtype=np.int64)
    lookup = np.zeros(int(max(st.max(initial=0), codes.max(initial=0))) + 1, dtype=bool)
    lookup[codes] = True

    def is_open(who: np.ndarray) -> np.ndarray:
        return lookup[st[who]] & (until[who] <= int(month))

    if rows is None:
        cum = np.concatenate(([0], np.cumsum(is_open(checked(idx)), dtype=np.int64)))
        return cum[ptr[1:]] - cum[ptr[:-1]]
    # Only the rows' own contact lists: positions start_r .. end_r - 1 laid end to end, so
    # the cost is the rows' total degree, not the whole graph's (a few active members of a
    # large market, every month).
    r = np.asarray(rows, dtype=np.int64)
    start, length = ptr[r], ptr[r + 1] - ptr[r]
    ends = np.cumsum(length)
    pos = np.arange(int(ends[-1]) if r.size else 0) + np.repeat(start - (ends - length), length)
    cum = np.concatenate(([0], np.cumsum(is_open(checked(idx[pos])), dtype=np.int64)))
    return cum[ends] - cum[ends - length]


SATURATION_COLUMNS = (
    "ever_joined",
    "active",
    "share_recruited",
    "mean_recruits",
    "first_join_month",
    "last_join_month",
    "reachable_mean",
    "share_no_reachable",
)


def level_saturation(
    level: object,
    recruits: object,
    active: object,
    join_month: object,
    reachable: object | None = None,
) -> pd.DataFrame:
    """Saturation by level: how far recruiting got and what was left to recruit.

    Populations (one row per person who ever joined): ``ever_joined`` counts everyone whose
    level at joining is L; ``active`` those of them still distributors at the end.
    ``share_recruited`` and ``mean_recruits`` are over ``ever_joined`` (personally enrolled
    recruits, whoever is still active). ``first_join_month`` / ``last_join_month`` are the
    first and last months anyone joined at level L; since a recruit's level is its
    enroller's plus one, ``last_join_month`` of level L + 1 is the last month a member of
    level L recruited anyone. ``reachable_mean`` is the mean of ``reachable`` over the
    *active* members (those who can still recruit; NaN when none is active or ``reachable``
    is None) and ``share_no_reachable`` the share of active members with none left.

    Args:
        level: level at joining per person, ``int[n]`` (founders 1).
        recruits: persons personally enrolled, ``int[n]``.
        active: still a distributor at the end, ``bool[n]``.
        join_month: month of joining, ``int[n]``.
        reachable: still-reachable prospects per person (:func:`reachable_prospects`),
            ``int[n]``, or None when there is no social network (well-mixed runs).

    Returns:
        DataFrame indexed by ``level`` (every level from 1 to the deepest, ascending) with the
        columns of :data:`SATURATION_COLUMNS`; empty input gives an empty frame.
    """
    lv = _int_vector(level, "level")
    rec = _vector(recruits, "recruits")
    act = np.asarray(active, dtype=bool)
    jm = _int_vector(join_month, "join_month")
    for name, a in (("recruits", rec), ("active", act), ("join_month", jm)):
        if a.shape != lv.shape:
            raise ValueError(f"{name} has shape {a.shape}, level {lv.shape}; they must match.")
    if lv.size and lv.min() < 1:
        i = int(np.argmin(lv))
        raise ValueError(f"level must be >= 1 (founders are 1); index {i} is {lv[i]}.")
    index = pd.Index(np.arange(1, int(lv.max()) + 1 if lv.size else 1), name="level")
    if lv.size == 0:
        return pd.DataFrame({c: [] for c in SATURATION_COLUMNS}, index=index[:0])
    k = int(lv.max()) + 1
    joined = np.bincount(lv, minlength=k)
    n_active = np.bincount(lv[act], minlength=k)
    recruited = np.bincount(lv, weights=(rec > 0).astype(np.float64), minlength=k)
    total_rec = np.bincount(lv, weights=rec, minlength=k)
    first = np.full(k, np.iinfo(np.int64).max)
    last = np.full(k, -1)
    np.minimum.at(first, lv, jm)
    np.maximum.at(last, lv, jm)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "ever_joined": joined,
            "active": n_active,
            "share_recruited": np.where(joined > 0, recruited / joined, NAN),
            "mean_recruits": np.where(joined > 0, total_rec / joined, NAN),
            "first_join_month": np.where(joined > 0, first, -1),
            "last_join_month": last,
        }
        if reachable is None:
            out["reachable_mean"] = np.full(k, NAN)
            out["share_no_reachable"] = np.full(k, NAN)
        else:
            reach = _vector(reachable, "reachable")
            if reach.shape != lv.shape:
                raise ValueError(f"reachable has shape {reach.shape}, level {lv.shape}.")
            r_sum = np.bincount(lv[act], weights=reach[act], minlength=k)
            r_none = np.bincount(lv[act], weights=(reach[act] == 0).astype(float), minlength=k)
            out["reachable_mean"] = np.where(n_active > 0, r_sum / n_active, NAN)
            out["share_no_reachable"] = np.where(n_active > 0, r_none / n_active, NAN)
    frame = pd.DataFrame({c: out[c][1:] for c in SATURATION_COLUMNS}, index=index)
    for c in ("ever_joined", "active", "first_join_month", "last_join_month"):
        frame[c] = frame[c].astype(np.int64)
    return frame


def recruitment_income(
    paid: object,
    paid_for_recruiting: object,
    bv_new_recruits: object,
    bv: object,
) -> dict[str, float]:
    """Distributor income that comes from recruitment rather than from ongoing sales.

    Two sources, month by month (t):

    - bonuses paid for bringing people in (``paid_for_recruiting``: enrolment / fast start
      bonuses, which pay on starter kits and new recruits' first orders), counted in full;
    - the part of every other commission paid on new recruits' early orders. Commissions
      are not traced to the order that generated them, so they are attributed pro rata to
      volume: ``(paid_t - paid_for_recruiting_t) x bv_new_recruits_t / bv_t``. For a plan
      paying the same percentage on every unit of BV this is exact; with compression and
      level-dependent rates it is the volume-weighted average.

    ``recruitment = sum_t [paid_for_recruiting_t + (paid_t - paid_for_recruiting_t) x
    bv_new_recruits_t / bv_t]`` and ``share = recruitment / sum_t paid_t``.

    Args:
        paid: all commissions and bonuses paid per month, USD, ``float64[T]``.
        paid_for_recruiting: the part paid by recruitment components, USD, ``float64[T]``.
        bv_new_recruits: BV of orders by distributors in their first months, ``float64[T]``.
        bv: all BV per month, ``float64[T]``.

    Returns:
        ``{"recruitment_income", "total_income", "share"}`` (USD, USD, fraction; ``share``
        NaN when nothing was paid).

    Raises:
        ValueError: lengths differ, negative values, or a part larger than its whole, naming
            the month index.
    """
    p = _vector(paid, "paid")
    pr = _vector(paid_for_recruiting, "paid_for_recruiting")
    bn = _vector(bv_new_recruits, "bv_new_recruits")
    b = _vector(bv, "bv")
    if not (p.shape == pr.shape == bn.shape == b.shape):
        raise ValueError(
            f"monthly series differ in length: paid {p.size}, paid_for_recruiting {pr.size}, "
            f"bv_new_recruits {bn.size}, bv {b.size}."
        )
    tol = 1e-9
    for part, whole, pn, wn in (
        (pr, p, "paid_for_recruiting", "paid"),
        (bn, b, "bv_new_recruits", "bv"),
    ):
        bad = (part < -tol) | (whole < -tol) | (part > whole * (1 + 1e-12) + tol)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"month index {i}: {pn} = {part[i]} and {wn} = {whole[i]}; need 0 <= {pn} <= {wn}."
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        early = np.where(b > 0, bn / b, 0.0)
    rec = float(np.sum(pr + np.maximum(p - pr, 0.0) * early))
    total = float(p.sum())
    return {
        "recruitment_income": rec,
        "total_income": total,
        "share": rec / total if total > 0 else NAN,
    }


def monthly_quit_rate(quit: object, active_end: object, joined: object) -> np.ndarray:
    """Monthly quit hazard: quitters / distributors at risk in the month.

    At risk in month t are those active at the end of month t - 1 plus the month's joiners
    (joiners can quit in their first month): ``h_t = quit_t / (active_end_{t-1} + joined_t)``.
    Month 0 (the founders) has no previous month and is NaN, as is any month with nobody at
    risk. Feed ``quit`` and the at-risk counts to :func:`annual_quit_rate` for a yearly rate.

    Args:
        quit: distributors who quit in each month, ``float64[T]`` (month 0 first).
        active_end: active distributors at the end of each month, ``float64[T]``.
        joined: persons who joined in each month, ``float64[T]``.

    Returns:
        ``float64[T]``: the hazard per month.
    """
    q = _vector(quit, "quit")
    a = _vector(active_end, "active_end")
    j = _vector(joined, "joined")
    if not (q.shape == a.shape == j.shape):
        raise ValueError(
            f"series differ in length: quit {q.size}, active {a.size}, joined {j.size}."
        )
    risk = at_risk(a, j)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(risk > 0, q / risk, NAN)


def at_risk(active_end: object, joined: object) -> np.ndarray:
    """Distributors at risk of quitting in each month: ``active_end_{t-1} + joined_t``.

    Args:
        active_end: active distributors at the end of each month, ``float64[T]``.
        joined: joins in each month, ``float64[T]``.

    Returns:
        ``float64[T]`` with 0 for month 0 (no previous month).
    """
    a = _vector(active_end, "active_end")
    j = _vector(joined, "joined")
    out = np.zeros_like(a)
    out[1:] = a[:-1] + j[1:]
    return out


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
        x = _vector(values, m_name)
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
