"""Refresh the stored tables of a two-company market with the income term off.

The tables were written before prospects chose by expected income: with
``choice.income_weight = 0`` the market must reproduce them bit for bit
(``tests/test_market.py``). Run only on purpose, when a change is meant to alter a market's
results, and say why in the commit:
    python tests/data/market/refresh.py
"""

from pathlib import Path

from simulation.market import Market, load_market
from simulation.results import monthly_table, write_csv

HERE = Path(__file__).parent

# Expectations on, contacts' incomes in them and beta's disclosure statement shown: every input
# of the income term is live, and leaders move often enough for the switching path to count.
SETTINGS = [
    "market.population=3000",
    "scenario.months=36",
    "expectations.enabled=true",
    "expectations.contact_weight=1.0",
    "companies.beta.expectations.disclosure_shown=true",
    "companies.beta.launch_month=0",
    "switching.approach_prob=0.2",
    "switching.leader_min_downline=3",
    "choice.income_weight=0",
]


def tables() -> dict[str, object]:
    """The market's stored tables by file name, from ``scenarios/two_companies.toml``."""
    market = Market(load_market("two_companies", SETTINGS)).run()
    out = market.tables()
    found = {
        "two_companies_companies.csv": out["companies"],
        "two_companies_flows.csv": out["flows"],
    }
    for c in market.companies:
        found[f"two_companies_{c.name}_monthly.csv"] = monthly_table(c.model)
    return found


if __name__ == "__main__":
    for name, table in tables().items():
        write_csv(table, HERE / name)
    print("refreshed", sorted(p.name for p in HERE.glob("two_companies_*")))
