"""Legal tests of an MLM, per distributor per period and company-wide, and purchase classes.

Every test here is one published rule, computed the way its source applies it: per
distributor (or per distributor and downline) and per pay period, vectorised over numpy arrays
of everyone paid in the period, and summed company-wide. ``docs/legal.md`` states each rule,
its source, what this module computes and where it simplifies; the tests in
``tests/test_legal.py`` work each one out by hand on small genealogies.

Volumes are in PV points of one period, money in USD. Arrays are ``float64[n]`` over the rows
of a period (everyone, with zeros for rows not paid). Downline sums use the sponsor forest the
period was paid on (:class:`simulation.tree.Forest`, as the plans' group volumes do).

Purchase classes (:func:`classify_purchases`). Every unit of PV a member buys ends in one of
four classes: consumed by the household, sold to customers (non-participants), returned to
the company, or kept in stock unconsumed. Per period, with household use ``H`` (from this
period's purchases or from stock, oldest stock first), customer orders ``C``, returns ``R``
and purchases ``B``::

    unconsumed = B - H - C - R      (the net addition to unsold stock; negative when the
                                     household draws stock down)

Summed over a run (and over the stock left at the end or lost on quitting) the classes add up
to everything bought, so ``sum(unconsumed) / sum(B)`` is the share of purchases never used,
sold or returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.metrics._checks import NAN, vector
from simulation.tree import Forest

AMWAY_1979 = "In re Amway Corp., 93 F.T.C. 618 (1979)"
VEMMA_2016 = (
    "FTC v. Vemma Nutrition Co., No. 2:15-cv-01578-JJT (D. Ariz.), stipulated order for "
    "permanent injunction, 2016"
)
HERBALIFE_2016 = (
    "FTC v. Herbalife International of America, Inc., No. 2:16-cv-05217 (C.D. Cal.), "
    "stipulated order for permanent injunction and monetary judgment, July 2016"
)
VANDER_NAT_KEEP_2002 = (
    "Vander Nat, P. J. and Keep, W. W. (2002), Marketing fraud: an approach for "
    "differentiating multilevel marketing from pyramid schemes, Journal of Public Policy & "
    "Marketing 21(1): 139-151"
)

# The lines, each from its source (docs/legal.md).
AMWAY_RESOLD_OR_USED = 0.70  # Amway 70% rule: >= 70% of a month's purchases sold or used
AMWAY_CUSTOMERS = 10  # Amway ten-customer rule: sales to >= 10 retail customers a month
VEMMA_MAJORITY = 0.50  # Vemma order: > 50% of participant + downline sales to non-participants
HERBALIFE_END_USE = 0.80  # Herbalife order: >= 80% of sales to end users (own use counts)
HERBALIFE_RETAIL_REWARDS = 2.0 / 3.0  # Herbalife order: >= 2/3 of rewards on retail sales
RECRUITMENT_PRIMARILY = 0.50  # Vander Nat & Keep: rewards primarily recruitment-driven


def _share(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    """Elementwise num / den; ``empty`` where den <= 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), empty)


def classify_purchases(
    bought: object, household: object, sold: object, returned: object
) -> dict[str, np.ndarray]:
    """Classify one period's purchases of each member (see the module docstring).

    Args:
        bought: PV bought from the company this period, ``float64[n]`` (own orders, customer
            orders, top-ups, stock).
        household: PV the household consumed this period, from this period's purchases or from
            stock, ``float64[n]``.
        sold: PV sold to customers who are not participants, ``float64[n]``.
        returned: PV returned to the company this period (refunds, buybacks), ``float64[n]``.

    Returns:
        ``{"consumed", "sold", "returned", "unconsumed"}``, each ``float64[n]`` PV, with
        ``consumed + sold + returned + unconsumed == bought`` exactly in each row;
        ``unconsumed`` is negative when stock bought earlier was used, sold or returned.

    Raises:
        ValueError: lengths differ or a negative or non-finite value, naming the argument.
    """
    b, h, s, r = (
        _nonneg(bought, "bought"),
        _nonneg(household, "household"),
        _nonneg(sold, "sold"),
        _nonneg(returned, "returned"),
    )
    _same_length(bought=b, household=h, sold=s, returned=r)
    return {"consumed": h, "sold": s, "returned": r, "unconsumed": b - h - s - r}


def qualifying_topup(topup: object, household: object, sold: object, min_pv: float) -> np.ndarray:
    """PV of a top-up bought only to reach the monthly minimum, ``float64[n]``.

    The gap is measured against the period's whole demand, household use counted *before* any
    of it is taken from stock: ``min(topup, max(min_pv - household - sold, 0))``. A member
    whose household used 60 PV (40 of it from stock) and who ordered 100 PV to qualify bought
    only 100 - 60 = 40 PV beyond the period's needs, not 80.

    Args:
        topup: PV the buy rule added to reach the minimum, ``float64[n]``.
        household: household use this period (from stock or bought), ``float64[n]``.
        sold: PV sold to customers this period, ``float64[n]``.
        min_pv: the plan's monthly minimum, PV.
    """
    t, h, s = _nonneg(topup, "topup"), _nonneg(household, "household"), _nonneg(sold, "sold")
    _same_length(topup=t, household=h, sold=s)
    return np.minimum(t, np.maximum(float(min_pv) - h - s, 0.0))


def amway_70(bought: object, household: object, sold: object, returned: object) -> np.ndarray:
    """Share of each member's purchases of the period sold, used or returned, ``float64[n]``.

    Amway's 70% rule (Amway 1979): a distributor must sell (at retail or wholesale) or use at
    least 70% of the products bought in a month to be paid the performance bonus. Here
    ``min(household + sold + returned, bought) / bought``, i.e. at most 30% of the month's
    purchases may be added to unsold stock. A member who bought nothing has nothing unsold
    (value 1). The line is :data:`AMWAY_RESOLD_OR_USED` (passes if >=).
    """
    c = classify_purchases(bought, household, sold, returned)
    b = c["consumed"] + c["sold"] + c["returned"] + c["unconsumed"]
    disposed = np.minimum(c["consumed"] + c["sold"] + c["returned"], b)
    return _share(disposed, b, 1.0)


def ten_customers(customers: object) -> np.ndarray:
    """bool[n]: the member sold to at least ten different retail customers this period.

    Amway's ten-customer rule (Amway 1979): to be paid the performance bonus on products
    bought in a month, a distributor must have made at least one sale to each of ten
    different retail customers that month. ``customers`` counts each member's customers who
    ordered this period.
    """
    c = _nonneg(customers, "customers")
    return c >= AMWAY_CUSTOMERS


def organisation_sums(forest: Forest, *values: object) -> list[np.ndarray]:
    """Each of ``values`` summed over every member's organisation (itself and whole downline).

    Uses :meth:`Forest.subtree_sum` (one numpy pass per level), as the plans' group volumes.
    """
    return [forest.subtree_sum(_nonneg(v, f"values[{i}]")) for i, v in enumerate(values)]


def vemma_share(forest: Forest, bought: object, sold: object) -> np.ndarray:
    """Share of each member's and their downline's sales made to non-participants, ``float64[n]``.

    Vemma order (2016): no compensation to a participant unless, in the compensation period,
    more than 50% of the sales of that participant and their downline are to persons who are
    not participants. The company's sales through a member are everything the member buys
    (own use, top-ups, stock and their customers' orders); the sales to non-participants are
    the customers' orders: ``sum_org(sold) / sum_org(bought)`` over the member's organisation
    in the period's sponsor forest. An organisation with no sales has no majority: 0. The line
    is :data:`VEMMA_MAJORITY` (passes if >).
    """
    org_sold, org_bought = organisation_sums(forest, sold, bought)
    return _share(org_sold, org_bought, 0.0)


def end_use_share(bought: object, household: object, sold: object) -> np.ndarray:
    """Share of each member's purchases that reached an end user this period, ``float64[n]``.

    Herbalife order (2016): sales to end users (retail customers, and distributors' own
    household consumption) must be at least 80% of sales. Per member:
    ``min(household + sold, bought) / bought``; a member who bought nothing has nothing unused
    (value 1). The order applies the line to the company's sales (see
    :func:`company_share`); per member it shows who falls short. Line
    :data:`HERBALIFE_END_USE` (passes if >=).
    """
    b = _nonneg(bought, "bought")
    h, s = _nonneg(household, "household"), _nonneg(sold, "sold")
    _same_length(bought=b, household=h, sold=s)
    return _share(np.minimum(h + s, b), b, 1.0)


def retail_backed(
    forest: Forest, commissions: object, recruiting: object, bought: object, sold: object
) -> np.ndarray:
    """Part of each member's rewards traceable to sales to non-participants, USD ``float64[n]``.

    Commissions are not traced to the order that paid them; a member's level, group, rank
    and matching commissions are paid on the volume of their downline (level commissions never
    on the member's own volume), so they are attributed pro rata to it::

        retail_backed = (commissions - recruiting) x sum_down(sold) / sum_down(bought)

    where ``sum_down`` sums over the member's whole downline, the member excluded; a member
    without downline volume (paid on their own volume only, as a stairstep may) uses their
    own. Rewards paid for bringing people in (``recruiting``: enrolment and fast start bonuses
    on starter kits and first orders) are never retail-backed. The rest of the member's
    rewards, ``commissions - retail_backed``, is traceable to participants' own purchases.

    Args:
        forest: the sponsor forest the period was paid on.
        commissions: everything the company paid each member this period, USD.
        recruiting: the part paid by components that pay for recruiting, USD.
        bought: PV bought by each member this period.
        sold: PV sold by each member to non-participants this period.
    """
    comm, rec = _nonneg(commissions, "commissions"), _nonneg(recruiting, "recruiting")
    _same_length(commissions=comm, recruiting=rec)
    bad = rec > comm * (1 + 1e-12) + 1e-9
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"row {i}: recruiting = {rec[i]} exceeds commissions = {comm[i]}.")
    b, s = _nonneg(bought, "bought"), _nonneg(sold, "sold")
    org_sold, org_bought = organisation_sums(forest, s, b)
    down_sold, down_bought = org_sold - s, org_bought - b
    has_down = down_bought > 1e-9 * np.maximum(org_bought, 1.0)
    frac = np.where(has_down, _share(down_sold, down_bought, 0.0), _share(s, b, 0.0))
    return np.maximum(comm - rec, 0.0) * np.clip(frac, 0.0, 1.0)


def recruitment_reward_share(
    commissions: float, retail_backed_usd: float, retail_margin: float
) -> float:
    """Share of participants' rewards that is recruitment-driven (Vander Nat & Keep 2002).

    Vander Nat and Keep separate rewards *sales-driven* (traceable to sales to ultimate users
    outside the scheme) from *recruitment-driven* (traceable to purchases by participants
    themselves: starter kits, own use, qualifying and stock purchases); a plan whose rewards
    are primarily recruitment-driven is a pyramid. Here::

        recruitment-driven = commissions - retail_backed
        sales-driven       = retail_backed + retail_margin
        share              = recruitment-driven / (commissions + retail_margin)

    with ``retail_backed`` from :func:`retail_backed` and the retail margin (the members' own
    profit on retail sales, paid by the customers) wholly sales-driven. NaN when nothing was
    earned. Line :data:`RECRUITMENT_PRIMARILY` (passes if <).
    """
    comm, backed, margin = float(commissions), float(retail_backed_usd), float(retail_margin)
    for name, v in (("commissions", comm), ("retail_backed", backed), ("retail_margin", margin)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"recruitment_reward_share: {name} must be finite and >= 0, got {v}.")
    if backed > comm * (1 + 1e-12) + 1e-9:
        raise ValueError(
            f"recruitment_reward_share: retail_backed = {backed} exceeds commissions = {comm}."
        )
    total = comm + margin
    return max(comm - backed, 0.0) / total if total > 0 else NAN


def company_share(num: object, den: object) -> float:
    """sum(num) / sum(den) (a company aggregate over members or months); NaN if den sums to 0."""
    n, d = float(np.sum(vector(num, "num"))), float(np.sum(vector(den, "den")))
    return n / d if d > 0 else NAN


@dataclass(frozen=True)
class MonthTests:
    """One period's legal tests over the members paid in it (rows = everyone).

    Attributes:
        paid_rows: int64[k] the members paid in the period (active at pay time).
        amway_70: bool[k] passes the 70% rule.
        ten_customers: bool[k] passes the ten-customer rule.
        vemma: bool[k] passes the Vemma majority rule.
        end_use: bool[k] at least 80% of own purchases reached an end user.
        retail_backed: float64[k] rewards traceable to sales to non-participants, USD.
    """

    paid_rows: np.ndarray
    amway_70: np.ndarray
    ten_customers: np.ndarray
    vemma: np.ndarray
    end_use: np.ndarray
    retail_backed: np.ndarray


def month_tests(
    forest: Forest,
    *,
    bought: np.ndarray,
    household: np.ndarray,
    sold: np.ndarray,
    returned: np.ndarray,
    customers: np.ndarray,
    commissions: np.ndarray,
    recruiting: np.ndarray | None,
) -> MonthTests:
    """Every per-member test of one period, over the forest's members (see each test).

    All arrays are ``[n]`` over every row (``recruiting`` None: no recruiting bonuses); only
    the forest's members are tested. The same
    rules as :func:`amway_70`, :func:`ten_customers`, :func:`vemma_share`,
    :func:`end_use_share` and :func:`retail_backed`, computed on the members' rows with one
    pair of subtree sums (the collect phase calls this every month on up to millions of rows).
    """
    rows = forest.member_slots()[0].astype(np.int64)
    n = forest.n

    def members(x: np.ndarray, name: str) -> np.ndarray:
        a = np.asarray(x)
        if a.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {a.shape}.")
        # Only the members' rows are read, and only they are converted to float64.
        return _nonneg(a[rows], name)

    b, s = members(bought, "bought"), members(sold, "sold")
    h, r = members(household, "household"), members(returned, "returned")
    # Subtree sums over the members' rows only (a member's downline is members).
    org_sold, org_bought = forest.member_subtree_sum(s), forest.member_subtree_sum(b)
    a70 = amway_70(b, h, s, r) >= AMWAY_RESOLD_OR_USED
    ten = ten_customers(members(customers, "customers"))
    vem = _share(org_sold, org_bought, 0.0) > VEMMA_MAJORITY
    end = end_use_share(b, h, s) >= HERBALIFE_END_USE
    comm = members(commissions, "commissions")
    rec = np.zeros(rows.size) if recruiting is None else members(recruiting, "recruiting")
    rec = np.minimum(rec, comm)
    down_sold, down_bought = org_sold - s, org_bought - b
    has_down = down_bought > 1e-9 * np.maximum(org_bought, 1.0)
    frac = np.where(has_down, _share(down_sold, down_bought, 0.0), _share(s, b, 0.0))
    backed = np.maximum(comm - rec, 0.0) * np.clip(frac, 0.0, 1.0)
    return MonthTests(rows, a70, ten, vem, end, backed)


def _nonneg(x: object, name: str) -> np.ndarray:
    a = vector(x, name)
    bad = a < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be >= 0; index {i} is {a[i]}.")
    return a


def _same_length(**arrays: np.ndarray) -> None:
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise ValueError(f"arrays differ in length: {shown}.")


@dataclass(frozen=True)
class LegalTest:
    """One legal test as the report shows it: the rule, its source and line.

    Attributes:
        name: short identifier.
        label: what the report calls it.
        source: the case, order or article.
        rule: the rule as applied here, in one sentence.
        threshold: the line.
        comparison: how the company figure must relate to the line to pass.
        company: key of the company-wide figure (an outcome of ``simulation.outcomes``, or
            ``customers_per_distributor`` of the report's company facts).
        pass_share: outcome key of the share of member-months passing (None: not per member).
        paid_share: outcome key of the share of pay to members passing (None: not per member).
    """

    name: str
    label: str
    source: str
    rule: str
    threshold: float
    comparison: str
    company: str
    pass_share: str | None
    paid_share: str | None


TESTS: tuple[LegalTest, ...] = (
    LegalTest(
        "amway_70",
        "70% rule",
        f"{AMWAY_1979} (70% rule)",
        "Each month a distributor sells, uses or returns at least 70% of the product bought "
        "that month; company-wide: the same share of all volume.",
        AMWAY_RESOLD_OR_USED,
        ">=",
        "amway_70_company_share",
        "amway_70_pass_share",
        "amway_70_paid_share",
    ),
    LegalTest(
        "ten_customers",
        "ten-customer rule",
        f"{AMWAY_1979} (ten-customer rule)",
        "Each month a distributor sells to at least ten different retail customers; "
        "company-wide: customers per distributor (customer-months / distributor-months).",
        AMWAY_CUSTOMERS,
        ">=",
        "customers_per_distributor",
        "ten_customer_pass_share",
        "ten_customer_paid_share",
    ),
    LegalTest(
        "vemma",
        "majority of sales to non-participants",
        VEMMA_2016,
        "Pay only when, in the period, more than half of the sales of the participant and "
        "their downline are to non-participants; company-wide: customer volume / all volume.",
        VEMMA_MAJORITY,
        ">",
        "retail_share",
        "vemma_pass_share",
        "vemma_paid_share",
    ),
    LegalTest(
        "herbalife_end_use",
        "80% of sales to end users",
        HERBALIFE_2016,
        "At least 80% of the company's sales go to end users: retail customers and members' "
        "own household use; per member: 80% of their own purchases.",
        HERBALIFE_END_USE,
        ">=",
        "herbalife_end_user_share",
        "end_use_pass_share",
        "end_use_paid_share",
    ),
    LegalTest(
        "herbalife_retail_rewards",
        "two thirds of rewards on retail sales",
        HERBALIFE_2016,
        "At least two thirds of the rewards paid are traceable to verified sales to "
        "non-participants (customer orders; members' own use not counted).",
        HERBALIFE_RETAIL_REWARDS,
        ">=",
        "herbalife_retail_rewards_share",
        None,
        None,
    ),
    LegalTest(
        "vander_nat_keep",
        "recruitment-driven rewards",
        VANDER_NAT_KEEP_2002,
        "Rewards traceable to participants' own purchases (and recruiting bonuses) are less "
        "than half of all rewards (commissions + retail margin).",
        RECRUITMENT_PRIMARILY,
        "<",
        "recruitment_reward_share",
        None,
        None,
    ),
)
