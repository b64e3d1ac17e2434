"""Columnar per-person state: one numpy array per attribute over all N persons.

``FIELDS`` is the canonical list (name, dtype, fill value, meaning). Money is in USD and
cumulative unless the name says ``_month``; volume in PV points.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Status(IntEnum):
    """A person's status; prospects + customers + distributors + quit = N."""

    PROSPECT = 0
    CUSTOMER = 1
    DISTRIBUTOR = 2
    QUIT = 3


STATUS_NAMES = {s.value: s.name.lower() for s in Status}

# name, dtype, fill, meaning
FIELDS: list[tuple[str, str, float, str]] = [
    ("status", "int8", Status.PROSPECT, "Status code (see Status)."),
    ("sponsor", "int32", -1, "Current sponsor-tree parent after roll-ups; -1 root or none."),
    ("enroller", "int32", -1, "Who recruited this person (never changes); -1 founder/none."),
    ("level", "int16", -1, "Level at joining: founders 1, their recruits 2, ..."),
    ("depth", "int16", -1, "Current depth in the sponsor forest (roots 0); -1 if not active."),
    ("join_month", "int16", -1, "Month of joining; -1 never joined."),
    ("quit_month", "int16", -1, "Month of quitting; -1 not quit."),
    ("customer_of", "int32", -1, "The distributor this customer buys from; -1 none."),
    ("willingness", "float32", 1.0, "Propensity to say yes to the opportunity (0..1)."),
    ("effort", "float32", 1.0, "Work put in: scales pitches (mean 1)."),
    ("spending", "float32", 1.0, "Scales own use and customer orders (mean 1)."),
    ("autoship", "bool", False, "Tops up to the monthly minimum PV."),
    ("loader", "bool", False, "Buys extra stock in the first months (inventory loading)."),
    ("pitched", "int16", 0, "Times pitched the opportunity so far."),
    ("refused_until", "int16", -1, "Not pitched again before this month."),
    ("quit_contacts", "int16", 0, "Social contacts who joined and then quit."),
    ("recruits", "int32", 0, "Persons personally enrolled."),
    ("customers", "int32", 0, "Current retail customers."),
    ("pv", "float64", 0.0, "Personal volume this month, PV."),
    ("customer_pv", "float64", 0.0, "Customer orders this month, PV."),
    ("inventory_pv", "float64", 0.0, "Unsold stock at wholesale, PV."),
    ("rank", "int16", -1, "Paid-as rank this month (-1 none)."),
    ("months_idle", "int16", 0, "Consecutive months without commission."),
    ("commissions_month", "float64", 0.0, "Commissions paid this month, USD."),
    ("net_month", "float64", 0.0, "Net income this month (own use valued), USD."),
    ("commissions", "float64", 0.0, "Commissions received, cumulative USD."),
    ("retail_sales", "float64", 0.0, "Money from retail customers at retail price, USD."),
    ("retail_margin", "float64", 0.0, "Retail sales minus their wholesale cost, USD."),
    ("purchases", "float64", 0.0, "Product bought from the company at wholesale, USD."),
    ("own_use_value", "float64", 0.0, "Value of product consumed at home, USD."),
    ("kit_cost", "float64", 0.0, "Starter kit paid, USD."),
    ("fixed_costs", "float64", 0.0, "Fees, samples, events, USD."),
    ("buyback_refund", "float64", 0.0, "Refund for stock returned on quitting, USD."),
    ("pv_total", "float64", 0.0, "Personal volume, cumulative PV."),
]

MONEY_IN = ("commissions", "retail_sales", "buyback_refund")
MONEY_OUT = ("purchases", "kit_cost", "fixed_costs")


class Population:
    """Struct of arrays over ``n`` persons; attribute access returns the array itself.

    Attributes:
        n: number of persons.
        Each name in :data:`FIELDS` is an array of shape (n,).
    """

    def __init__(self, n: int):
        self.n = int(n)
        for name, dtype, fill, _ in FIELDS:
            setattr(self, name, np.full(self.n, fill, dtype=dtype))

    def net_income(
        self, own_use_as_cost: bool = False, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 cumulative net income, USD, of every person (or of ``rows`` only).

        Args:
            own_use_as_cost: if True, product used at home is a pure cost (full-cost studies);
                if False, it is credited at ``own_use_value`` (surveys).
            rows: optional int rows to compute for (cheaper than all N).
        """

        def col(name: str) -> np.ndarray:
            a = getattr(self, name)
            return a if rows is None else a[rows]

        net = col("commissions") + col("retail_sales") + col("buyback_refund")
        net -= col("purchases")
        net -= col("kit_cost")
        net -= col("fixed_costs")
        if not own_use_as_cost:
            net += col("own_use_value")
        return net

    def costs(self) -> np.ndarray:
        """float64[n] cumulative costs (purchases + kit + fixed - buyback), USD."""
        return self.purchases + self.kit_cost + self.fixed_costs - self.buyback_refund

    def snapshot(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Copies of some arrays (e.g. cumulative money 12 months before the end)."""
        return {k: getattr(self, k).copy() for k in names}
