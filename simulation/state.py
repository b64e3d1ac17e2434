"""Columnar per-person state: one numpy array per attribute over all N persons.

``FIELDS`` is the canonical list (name, dtype, fill value, meaning). Money is in USD and
cumulative unless the name says ``_month``; volume in PV points.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np


class Status(IntEnum):
    """A person's status; prospects + customers + distributors + quit = N."""

    PROSPECT = 0
    CUSTOMER = 1
    DISTRIBUTOR = 2
    QUIT = 3


STATUS_NAMES = {s.value: s.name.lower() for s in Status}


class Segment(IntEnum):
    """Why a member joined (``[segments]``); everyone is a builder when segments are off."""

    DISCOUNT = 1  # buys for the household only
    RETAILER = 2  # sells to customers, does not recruit
    BUILDER = 3  # sells and recruits


SEGMENT_NAMES = {s.value: s.name.lower() for s in Segment}

# name, dtype, fill, meaning
FIELDS: list[tuple[str, str, float, str]] = [
    ("status", "int8", Status.PROSPECT, "Status code (see Status)."),
    ("sponsor", "int32", -1, "Current sponsor-tree parent after roll-ups; -1 root or none."),
    ("enroller", "int32", -1, "Who recruited them (a rejoiner: the latest); -1 founder/none."),
    ("level", "int16", -1, "Level at joining: founders 1, their recruits 2, ..."),
    ("depth", "int16", -1, "Current depth in the sponsor forest (roots 0); -1 if not active."),
    ("join_month", "int16", -1, "Month of joining; -1 never joined."),
    ("quit_month", "int16", -1, "Month of quitting; -1 not quit."),
    ("customer_of", "int32", -1, "The distributor this customer buys from; -1 none."),
    ("willingness", "float32", 1.0, "Propensity to say yes to the opportunity (0..1)."),
    ("effort", "float32", 1.0, "Work put in: scales pitches (mean 1)."),
    ("spending", "float32", 1.0, "Scales own use and customer orders (mean 1)."),
    ("skill", "float32", 1.0, "Scales the chance to convert a pitch and win a customer."),
    ("leader", "bool", False, "A founder drawn as a leader ([people] leader_founders)."),
    ("autoship", "bool", False, "Tops up to the monthly minimum PV."),
    ("loader", "bool", False, "Buys extra stock in the first months (inventory loading)."),
    (
        "segment",
        "int8",
        3,
        "Why they take part now (see Segment); builder unless segments are on. A builder or "
        "retailer who gives up may stay on for the discount (joined_as keeps why they joined).",
    ),
    ("joined_as", "int8", 3, "Why they joined (see Segment), at the latest joining."),
    ("wholesale", "bool", False, "A discount buyer with a wholesale-customer account."),
    ("expected_income", "float64", 0.0, "Expected monthly income from the business, USD."),
    ("pitched", "int16", 0, "Times pitched the opportunity so far."),
    ("refused_until", "int16", -1, "Not pitched again before this month."),
    ("quit_contacts", "int16", 0, "Social contacts who joined and then quit."),
    ("recruits", "int32", 0, "Persons personally enrolled."),
    ("customers", "int32", 0, "Current retail customers."),
    ("pv", "float64", 0.0, "Personal volume this month, PV."),
    ("customer_pv", "float64", 0.0, "Customer orders this month, PV."),
    ("inventory_pv", "float64", 0.0, "Unsold stock at wholesale, PV."),
    ("rank", "int16", -1, "Paid-as rank this month (-1 none: not active or no rank)."),
    (
        "rank_last",
        "int16",
        -1,
        "Paid-as rank in the last month paid as a distributor (kept after quitting).",
    ),
    ("rank_highest", "int16", -1, "Highest paid-as rank ever held (kept after quitting)."),
    ("months_idle", "int16", 0, "Consecutive months without commission."),
    ("commissions_month", "float64", 0.0, "Commissions paid this month, USD."),
    ("net_month", "float64", 0.0, "Net income this month (own use valued), USD."),
    ("commissions", "float64", 0.0, "Commissions received, cumulative USD."),
    ("retail_sales", "float64", 0.0, "Money from retail customers at retail price, USD."),
    ("retail_margin", "float64", 0.0, "Retail sales minus their wholesale cost, USD."),
    ("purchases", "float64", 0.0, "Product bought from the company at wholesale, USD."),
    ("own_use_value", "float64", 0.0, "Value of product consumed at home, USD."),
    (
        "own_use_paid",
        "float64",
        0.0,
        "Paid for product consumed at home, USD (own use at its wholesale price).",
    ),
    ("kit_cost", "float64", 0.0, "Starter kit paid, USD."),
    ("fixed_costs", "float64", 0.0, "Fees, samples, events, USD."),
    ("buyback_refund", "float64", 0.0, "Refund for stock returned on quitting, USD."),
    ("pv_total", "float64", 0.0, "Personal volume, cumulative PV."),
    # [returns] (zero when it is off)
    ("returned", "float64", 0.0, "PV returned to the company this month (customers' and own)."),
    ("returns_refund", "float64", 0.0, "Refunds from the company for returned product, USD."),
    ("customer_refunds", "float64", 0.0, "Retail price paid back to customers who returned, USD."),
    ("clawback", "float64", 0.0, "Commissions clawed back on returned volume, USD."),
]

# The money accounts, one owner. Every person's net income is
#     inflows  = commissions + retail_sales + buyback_refund + returns_refund
#                (+ own_use_value when valued)
#     outflows = purchases + kit_cost + fixed_costs + customer_refunds + clawback
# and costs are purchases + kit + fixed costs + customer refunds less the buyback and
# return refunds (what staying in cost, net of the stock sold or sent back); clawbacks are
# commissions taken back, so net income = commissions - clawback + retail sales - costs.
# ``net_income(...)``, ``costs(...)`` and ``commissions_net(...)`` below are the only
# definitions; the agents, the tables, the report, the disclosure statement and the page
# call them. The [returns] fields are zero when it is off.
INFLOWS = ("commissions", "retail_sales", "buyback_refund", "returns_refund")
OUTFLOWS = ("purchases", "kit_cost", "fixed_costs", "customer_refunds", "clawback")
MONEY_FIELDS = (*INFLOWS, *OUTFLOWS, "own_use_value", "retail_margin")
# The money fields only [returns] moves (columns of the per-person table when it is on).
RETURNS_FIELDS = ("returns_refund", "customer_refunds", "clawback")
# The money fields net_income reads (the retail margin is part of retail_sales, not a flow).
NET_FIELDS = tuple(k for k in MONEY_FIELDS if k != "retail_margin")


def costs(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """Costs, USD: purchases + starter kit + fixed costs + customer refunds - refunds.

    The refunds are the buyback refund and the refunds for returned product. ``cols`` maps
    the money field names to arrays (a :class:`Population`, a snapshot, a difference of
    snapshots or a table's columns), so one formula serves cumulative, yearly and monthly
    figures; the [returns] fields may be missing (older tables), and count as zero.
    """
    out = cols["purchases"] + cols["kit_cost"] + cols["fixed_costs"] - cols["buyback_refund"]
    if "returns_refund" in cols:
        out = out + cols["customer_refunds"] - cols["returns_refund"]
    return out


def commissions_net(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """Commissions net of clawbacks, USD (what the income disclosure statement reports)."""
    if "clawback" not in cols:
        return cols["commissions"]
    return cols["commissions"] - cols["clawback"]


def net_income(cols: Mapping[str, np.ndarray], own_use_as_cost: bool = False) -> np.ndarray:
    """Net income, USD: inflows - outflows (+ own use valued).

    Equal to :func:`commissions_net` + retail sales - :func:`costs` (+ own use valued).

    Args:
        cols: money field name -> array (see :func:`costs`).
        own_use_as_cost: True counts product used at home as a pure cost (full-cost studies);
            False credits it at ``own_use_value`` (``buy.own_use_value_share`` of its price;
            :func:`net_income_reported` counts it at its price, as survey answers do).
    """
    # Inflows first, then each outflow: the order of the sums is part of the bit-for-bit
    # reproducibility of stored results.
    net = cols["commissions"] + cols["retail_sales"] + cols["buyback_refund"]
    net = net - cols["purchases"]
    net = net - cols["kit_cost"]
    net = net - cols["fixed_costs"]
    if "returns_refund" in cols:
        # Zero unless [returns] is on (x + 0.0 - 0.0 - 0.0 == x: stored results unchanged).
        net = net + cols["returns_refund"] - cols["customer_refunds"] - cols["clawback"]
    if not own_use_as_cost:
        net = net + cols["own_use_value"]
    return net


def net_income_reported(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """Net income as a participant would report it, USD.

    :func:`net_income` with product used at home worth exactly what was paid for it (neither
    a gain nor a loss), and every business cost (kit, fees, samples, events, unsold stock) a
    cost.

    ``cols`` also needs ``own_use_paid`` (a memo field, not a flow: what the household
    product cost). Survey answers ("did you make or lose money?") count this way
    (docs/validation.md, "Survey answers").
    """
    return net_income(cols, own_use_as_cost=True) + cols["own_use_paid"]


class Population:
    """Struct of arrays over ``n`` persons; attribute access returns the array itself.

    Attributes:
        n: number of persons.
        Each name in :data:`FIELDS` is an array of shape (n,).
    """

    def __init__(self, n: int):
        self.n = int(n)
        for name, dtype, fill, _ in FIELDS:
            # Zero-filled fields from np.zeros: the system hands out zeroed pages when first
            # written, so a field a company only writes for its members costs no pass over the
            # n persons (a market launches one Population per company).
            if fill == 0:
                setattr(self, name, np.zeros(self.n, dtype=dtype))
            else:
                setattr(self, name, np.full(self.n, fill, dtype=dtype))

    def __getitem__(self, name: str) -> np.ndarray:
        """The array of field ``name`` (so a Population is a mapping for :func:`costs`)."""
        return getattr(self, name)

    def money(
        self, rows: np.ndarray | None = None, names: tuple[str, ...] = MONEY_FIELDS
    ) -> dict[str, np.ndarray]:
        """The money fields (:data:`MONEY_FIELDS`, or ``names``) of everyone or of ``rows``."""
        return {k: getattr(self, k) if rows is None else getattr(self, k)[rows] for k in names}

    def net_income(
        self,
        own_use_as_cost: bool = False,
        rows: np.ndarray | None = None,
        returns: bool = True,
    ) -> np.ndarray:
        """float64 cumulative net income, USD, of every person (or of ``rows`` only).

        See the module-level :func:`net_income`, which this applies to the cumulative fields.
        Only the fields it reads are gathered (the collect phase calls this every month on
        everyone who ever joined); ``returns=False`` (``[returns]`` off, so its fields are
        zero) leaves them out, which gives the same numbers: x + 0.0 - 0.0 - 0.0 == x.
        """
        names = tuple(
            k
            for k in NET_FIELDS
            if (returns or k not in RETURNS_FIELDS)
            and not (own_use_as_cost and k == "own_use_value")
        )
        if rows is not None and np.size(rows) > self.n // 8:
            # Many rows (a large company's joiners): everyone's net income in sequential
            # passes, then one gather, is several times faster than gathering each field
            # (the same values: the sum is made per row).
            return net_income(self.money(None, names), own_use_as_cost)[rows]
        return net_income(self.money(rows, names), own_use_as_cost)

    def costs(self, rows: np.ndarray | None = None) -> np.ndarray:
        """float64 cumulative costs, USD (see the module-level :func:`costs`)."""
        return costs(self.money(rows))

    def snapshot(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Copies of some arrays (e.g. cumulative money 12 months before the end)."""
        return {k: getattr(self, k).copy() for k in names}
