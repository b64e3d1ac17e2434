"""Diffusion of joining: the month-stepped Bass curve, when recruiting slows, penetration."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulation.metrics._checks import NAN, vector


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
    # scipy.optimize: 0.3 s on a quiet machine, 0.8 s on a busy one, at every CLI start.
    from scipy.optimize import least_squares  # noqa: PLC0415

    j = vector(joins, "joins")
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
    j = vector(joins, "joins")
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
