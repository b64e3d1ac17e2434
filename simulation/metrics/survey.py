"""Survey answers: did a participant make money, break even or lose money over their time in?

Surveys of people who ever took part (the AARP Foundation's 2018 survey of 601 US adults
who had been distributors: 47% lost money, 27% broke even, 26% made a profit) ask the
participant. The model answers for each person who ever joined from their lifetime net
income as a participant would report it (``net_income_reported`` of the per-distributor
table, :func:`simulation.state.net_income_reported`): product used at home worth what was
paid for it, every business cost counted. A result within ``band_usd`` of zero is "broke
even". The population is the members who joined to make money (``joined_as`` is not
``"discount"``; everyone when segments are off): 90% of the survey's respondents said they
got involved to make money (AARP Foundation press release, 2018), and a member who only
wanted the discount does not think of the account as a business (docs/validation.md,
"Survey answers").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# |lifetime net income| <= this counts as "broke even" (assumption: the survey's answer
# categories have no dollar bounds; $100 is a few months of fees either way).
BROKE_EVEN_USD = 100.0
SURVEY_ANSWERS = ("lost", "broke_even", "profit")


def survey_population(df: pd.DataFrame, discount_joiners: bool = False) -> np.ndarray:
    """Row mask of the members a survey of participants asks.

    Not wholesale customers, and (when the table says why they joined) not those who joined
    only for the discount, unless ``discount_joiners``.
    """
    keep = np.ones(len(df), dtype=bool)
    if "wholesale" in df:
        keep &= ~df["wholesale"].to_numpy(dtype=bool)
    if "joined_as" in df and not discount_joiners:
        keep &= df["joined_as"].astype(str).to_numpy() != "discount"
    return keep


def survey_answers(
    df: pd.DataFrame, band_usd: float = BROKE_EVEN_USD, discount_joiners: bool = False
) -> dict[str, float]:
    """Shares who lost money, broke even and made a profit, as survey answers.

    Args:
        df: the per-distributor table (``results.distributor_columns``) with
            ``net_income_reported`` and, when segments are on, ``joined_as`` and ``wholesale``.
        band_usd: a lifetime net income within this of zero is "broke even".
        discount_joiners: also ask the members who joined for the discount (everyone who ever
            joined but wholesale customers; for comparison, not the survey's population).

    Returns:
        ``{"lost", "broke_even", "profit", "asked"}``: the three shares (NaN when nobody is
        asked) and how many persons were asked.
    """
    if not band_usd >= 0:
        raise ValueError(f"band_usd = {band_usd}: expected a number >= 0")
    if "net_income_reported" not in df:
        raise ValueError(
            "df: no column 'net_income_reported' (the per-distributor table of "
            "results.distributor_columns has it)"
        )
    asked = survey_population(df, discount_joiners)
    net = df["net_income_reported"].to_numpy(dtype=np.float64)[asked]
    n = net.size
    if n == 0:
        return {"lost": np.nan, "broke_even": np.nan, "profit": np.nan, "asked": 0}
    lost = int((net < -band_usd).sum())
    profit = int((net > band_usd).sum())
    return {
        "lost": lost / n,
        "broke_even": (n - lost - profit) / n,
        "profit": profit / n,
        "asked": n,
    }
