"""Saturation of the market: prospects still reachable over the social graph, by level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulation.metrics._checks import NAN, int_vector, vector


def reachable_prospects(
    indptr: object,
    indices: object,
    status: object,
    refused_until: object,
    month: int,
    *,
    rows: object | None = None,
    open_status: Sequence[int] = (0, 1),
    total: bool = False,
) -> np.ndarray | int:
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
        total: return the rows' sum only (a mean over members needs no per-row counts).

    Returns:
        ``int64[k]`` (or ``int64[N]``): reachable contacts per row; with ``total``, their sum.

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

    codes = [int(c) for c in np.unique(np.asarray(open_status, dtype=np.int64))]

    def open_code(s: np.ndarray) -> np.ndarray:
        # One comparison per open code (two): several times faster than a table lookup
        # indexed by the n status bytes.
        if not codes:
            return np.zeros(s.shape, dtype=bool)
        out = s == codes[0]
        for c in codes[1:]:
            out |= s == c
        return out

    def is_open(who: np.ndarray) -> np.ndarray:
        if who.size > n // 4:
            # Many contacts (everyone's, or a large company's members'): everyone's answer
            # in one sequential pass, then one gather, instead of two gathers per contact.
            return (open_code(st) & (until <= int(month)))[who]
        return open_code(st[who]) & (until[who] <= int(month))

    if rows is None:
        if total:
            return int(np.count_nonzero(is_open(checked(idx))))
        cum = np.concatenate(([0], np.cumsum(is_open(checked(idx)), dtype=np.int64)))
        return cum[ptr[1:]] - cum[ptr[:-1]]
    # Only the rows' own contact lists: positions start_r .. end_r - 1 laid end to end, so
    # the cost is the rows' total degree, not the whole graph's (a few active members of a
    # large market, every month).
    r = np.asarray(rows, dtype=np.int64)
    start, length = ptr[r], ptr[r + 1] - ptr[r]
    ends = np.cumsum(length)
    pos = np.arange(int(ends[-1]) if r.size else 0) + np.repeat(start - (ends - length), length)
    if total:
        return int(np.count_nonzero(is_open(checked(idx[pos]))))
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
    lv = int_vector(level, "level")
    rec = vector(recruits, "recruits")
    act = np.asarray(active, dtype=bool)
    jm = int_vector(join_month, "join_month")
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
            reach = vector(reachable, "reachable")
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
