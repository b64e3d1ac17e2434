"""The income disclosure statement, as companies publish it plus costs, net income and quitters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from simulation.metrics._checks import NAN, int_vector, vector

IDS_COLUMNS = (
    "rank",
    "status",
    "join_month",
    "quit_month",
    "commissions_year",
    "costs_year",
    "net_income_year",
)


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


def year_populations(
    df: pd.DataFrame, first: int, last: int, wholesale: bool = False
) -> dict[str, np.ndarray]:
    """Row masks of a statement year's populations (see :func:`income_disclosure`).

    ``active_full_year``, ``joined_during_year``, ``quit_during_year`` and their union
    ``all_participants``. Wholesale customers (a true ``wholesale`` column, when the table has
    one: ``segments.wholesale_share``) are in none: they are not distributors, and no
    statement counts them. ``wholesale=True`` counts them too: everyone who held an account
    (the members a company's member count gives).
    """
    status = df["status"].astype(str).to_numpy()
    join = df["join_month"].to_numpy()
    quit_ = df["quit_month"].to_numpy()
    is_active = status == "distributor"
    is_quit = status == "quit"
    if "wholesale" in df and not wholesale:
        distributor = ~df["wholesale"].to_numpy(dtype=bool)
        is_active &= distributor
        is_quit &= distributor
    full_year = is_active & (join >= 0) & (join < first)
    joined_in = is_active & (join >= first) & (join <= last)
    quit_in = is_quit & (quit_ >= first) & (quit_ <= last)
    return {
        "active_full_year": full_year,
        "joined_during_year": joined_in,
        "quit_during_year": quit_in,
        "all_participants": full_year | joined_in | quit_in,
    }


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

    Wholesale customers are in none of them (:func:`year_populations`).

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
    int_vector(df["join_month"].to_numpy(), "join_month")  # checked here; used by year_populations
    quit_ = int_vector(df["quit_month"].to_numpy(), "quit_month")
    for col in ("commissions_year", "costs_year", "net_income_year"):
        vector(df[col].to_numpy(), col)
    is_active = status == "distributor"
    is_quit = status == "quit"
    bad = ~(is_active | is_quit) | (is_active & (quit_ >= 0)) | (is_quit & (quit_ < 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"income_disclosure: row {df.index[i]!r} has status {status[i]!r} and quit_month "
            f"{quit_[i]}; expected 'distributor' with -1 or 'quit' with a month."
        )
    pops = year_populations(df, first, last)
    participants = int(pops["all_participants"].sum())
    frame = df.loc[:, list(IDS_COLUMNS)].reset_index(drop=True)
    parts = [_ids_block(frame[mask], name, participants) for name, mask in pops.items()]
    out = pd.concat(parts, ignore_index=True)
    out["rank"] = out["rank"].astype("Int64")
    out["count"] = out["count"].astype(np.int64)
    return out
