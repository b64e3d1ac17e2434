"""Columns of a market's tables (``companies.csv``, ``flows.csv``, ``regions.csv``).

Meaning, unit and population of each column, read by :mod:`simulation.market` (which fills
the tables) and by :mod:`simulation.codebook` (which documents them). No imports, so the
codebook stays light.
"""

from __future__ import annotations

COMPANY_ROW = "one company (or one holding, consolidated) in one month"
FLOW_ROW = (
    "one leader who moved (kind 'leader'), or the customers one company's retail won from "
    "another in a month (kind 'retail')"
)
REGION_ROW = "one company in one town, at the end of the month"

# column -> (meaning, unit)
COMPANY_COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("Month of the market (0 = the start).", "month index"),
    "company": ("Company name, or the holding's name on its consolidated rows.", "text"),
    "kind": ("'company', or 'holding' for a holding's consolidated row (sums of its "
             "companies).", "text"),
    "holding": ("Holding the company belongs to ('' if none).", "text"),
    "members": ("Active distributors at the end of the month.", "persons"),
    "customers": ("Retail customers at the end of the month.", "persons"),
    "ever_joined": ("Persons who ever joined the company (a switcher counts in each "
                    "company).", "persons"),
    "joins": ("Joins this month: recruits, movers from other companies and appointed "
              "founders (at launch: the founders).", "persons"),
    "switched_in": ("Members who came from another company this month (leaders and "
                    "followers).", "persons"),
    "switched_out": ("Members who left for another company this month.", "persons"),
    "customers_in": ("Retail customers who came from another company this month (following "
                     "a moving member, or won by its retail).", "persons"),
    "customers_out": ("Retail customers who went to another company this month.",
                      "persons"),
    "quits": ("Members who quit this month (not counting those who switched).", "persons"),
    "revenue": ("The company's revenue this month (kits and product, less refunds).", "USD"),
    "paid": ("Commissions paid this month.", "USD"),
    "market_share": ("Share of all the market's active distributors who are its members.",
                     "share 0-1"),
    "penetration": ("Share of the market's persons who ever joined it.", "share 0-1"),
}  # fmt: skip
# Columns summed over a holding's companies on its consolidated rows.
ADDITIVE = (
    "members", "customers", "ever_joined", "joins", "switched_in", "switched_out",
    "customers_in", "customers_out", "quits", "revenue", "paid",
)  # fmt: skip
FLOW_COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("Month of the move.", "month index"),
    "kind": ("'leader': a leader moved with part of their downline and customers; "
             "'retail': customers won by the to_company's retail pitches.", "text"),
    "from_company": ("Company the leader (or the customers) left.", "text"),
    "to_company": ("Company the leader (or the customers) went to.", "text"),
    "leaders": ("Leaders who moved (one on a 'leader' row, 0 on a 'retail' row).",
                "persons"),
    "followers": ("Members of the leader's downline who followed.", "persons"),
    "customers": ("Retail customers who went from from_company to to_company: the movers' "
                  "customers who followed them, or those won by retail.", "persons"),
}  # fmt: skip
REGION_COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("Month of the market.", "month index"),
    "region": ("Town (0-based).", "town index"),
    "company": ("Company.", "text"),
    "opened": ("Whether the company operates in the town (always true without "
               "expansion).", "true/false"),
    "population": ("Persons living in the town.", "persons"),
    "members": ("The company's active distributors living in the town.", "persons"),
    "ever_joined": ("Persons of the town who ever joined the company.", "persons"),
    "penetration": ("ever_joined / population.", "share 0-1"),
}  # fmt: skip

# A sweep over a market (docs/sweeps.md): runs.parquet has one column ``<outcome>__<company>``
# per company (and per holding, for the figures of companies.csv) for each outcome below.
COMPANY_OUTCOME_ROW = "one company (or holding) over one run of the sweep"
# outcome -> (meaning, unit): the market's figures of the company, from companies.csv.
COMPANY_MARKET_OUTCOMES: dict[str, tuple[str, str]] = {
    "peak_members": ("Highest number of active members in a month.", "persons"),
    "peak_month": ("Month of the market (0 = the start) of that peak.", "month index"),
    "members_end": ("Active members at the end of the run.", "persons"),
    "market_share_end": ("Its share of all the market's active distributors at the end.",
                         "share 0-1"),
    "market_share_at_peak": ("Its share of all the market's active distributors in the "
                             "month of its peak membership.", "share 0-1"),
    "ever_joined": ("Persons who ever joined it (a switcher counts in each company).",
                    "persons"),
    "penetration": ("Share of the market's persons who ever joined it.", "share 0-1"),
    "switched_in": ("Members who came from another company, over the run.", "persons"),
    "switched_out": ("Members who left for another company, over the run.", "persons"),
}  # fmt: skip
# Outcomes of a single-company sweep (simulation.outcomes.OUTCOMES) recorded per company
# (not per holding), computed on the company's own tables as in a single-company run.
COMPANY_RUN_OUTCOMES = (
    "share_net_loss", "median_net_income", "consumer_injury", "payout_ratio", "revenue",
    "commissions", "recruitment_income_share", "top1_commissions", "worst_month_payout_ratio",
    "worst_month", "breakage_ratio", "months_over_cap", "members_net_income",
)  # fmt: skip
# Figures over the whole market (one column each).
MARKET_OUTCOMES: dict[str, tuple[str, str]] = {
    "ever_joined_any": ("Persons who ever joined one of the companies (each counted once).",
                        "persons"),
    "penetration_any": ("ever_joined_any / the market's persons.", "share 0-1"),
}  # fmt: skip
OUTCOME_SEPARATOR = "__"
