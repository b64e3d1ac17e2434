"""Attrition: survival by join cohort, annual and monthly quit rates, persons at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.metrics._checks import NAN, int_vector, vector


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
    join = int_vector(join_month, "join_month")
    quit_ = int_vector(quit_month, "quit_month")
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
    qt = vector(monthly_quit, "monthly_quit")
    at = vector(monthly_active, "monthly_active")
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
    q = vector(quit, "quit")
    a = vector(active_end, "active_end")
    j = vector(joined, "joined")
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
    a = vector(active_end, "active_end")
    j = vector(joined, "joined")
    out = np.zeros_like(a)
    out[1:] = a[:-1] + j[1:]
    return out
