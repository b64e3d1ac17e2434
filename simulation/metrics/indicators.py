"""Pyramid-risk indicators with their legal or conventional sources, and income from recruitment."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulation.metrics._checks import NAN, vector


@dataclass(frozen=True)
class Indicator:
    """One pyramid-risk indicator compared with a threshold from a case, order or rule.

    Attributes:
        name: short identifier.
        value: the measured value (NaN when undefined, e.g. no sales).
        threshold: the line it is compared with.
        passes: True if on the safe side of the line (False when ``value`` is NaN).
        source: the case, order or guidance the line comes from.
        meaning: what the indicator shows and how much legal weight the line has.
        comparison: how ``value`` must relate to ``threshold`` to pass (">", ">=", "<", "<=").
    """

    name: str
    value: float
    threshold: float
    passes: bool
    source: str
    meaning: str
    comparison: str = ">="


_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def _indicator(
    name: str, num: float, den: float, threshold: float, comparison: str, source: str, meaning: str
) -> Indicator:
    value = num / den if den > 0 else NAN
    passes = bool(math.isfinite(value) and _COMPARE[comparison](value, threshold))
    return Indicator(name, value, threshold, passes, source, meaning, comparison)


KOSCOT = "In re Koscot Interplanetary, Inc., 86 F.T.C. 1106 (1975)"
AMWAY = "In re Amway Corp., 93 F.T.C. 618 (1979)"
BURNLOUNGE = "FTC v. BurnLounge, Inc., 753 F.3d 878 (9th Cir. 2014)"
VEMMA = (
    "FTC v. Vemma Nutrition Co., No. 2:15-cv-01578 (D. Ariz.): preliminary injunction 2015, "
    "stipulated order 2016 (Section II.C)"
)
FTC_GUIDANCE = "FTC staff, Business Guidance Concerning Multi-Level Marketing (January 2018)"


def pyramid_indicators(
    retail_sales_nonmember: float,
    total_sales: float,
    recruitment_income: float,
    total_income: float,
    customers: float,
    distributors: float,
    purchases_to_qualify: float,
    total_purchases: float,
) -> list[Indicator]:
    """Pyramid-risk indicators with the line each is judged against and where it comes from.

    No statute or court sets a numeric line for any of these. The legal test is qualitative
    (Koscot 1975, as applied in BurnLounge 2014): participants pay for the right to sell and
    to earn rewards for recruiting that are unrelated to sales to ultimate users. The lines
    below are borrowed from one company's rules the FTC credited (Amway 1979) or from a
    settlement binding only the company that signed it (Vemma 2016); ``meaning`` says which.

    Indicators, in order:

    1. ``retail_share`` = retail_sales_nonmember / total_sales, passes if > 0.5 (Vemma order:
       no pay unless most of a participant's and downline's revenue comes from sales to
       non-participants; BurnLounge: participants' purchases driven by rewards are not sales
       to ultimate users).
    2. ``recruitment_income_share`` = recruitment_income / total_income, passes if < 0.5
       (Koscot; BurnLounge: rewards "primarily" for recruiting; "half" is our reading).
    3. ``customers_per_distributor`` = customers / distributors, passes if >= 10 (Amway's
       ten-customer rule).
    4. ``qualifying_purchase_share`` = purchases_to_qualify / total_purchases, passes if <= 0.3
       (the complement of Amway's 70% rule; FTC 2018 guidance on purchases made to qualify).

    Args:
        retail_sales_nonmember: sales to customers who are not distributors, USD.
        total_sales: all product sales, to distributors and customers, USD.
        recruitment_income: distributor income tied to recruiting (enrolment and fast start
            bonuses, commissions on recruits' own qualifying purchases), USD.
        total_income: all commissions and bonuses paid, USD.
        customers: retail customers (non-members), persons.
        distributors: active distributors, persons.
        purchases_to_qualify: purchases never used, sold or returned (kept in stock or lost
            on quitting; :func:`simulation.metrics.legal.classify_purchases`), USD.
        total_purchases: all distributor purchases, USD.

    Returns:
        The four :class:`Indicator` objects; a value with a zero denominator is NaN and does
        not pass.

    Raises:
        ValueError: a negative or non-finite input, or a part larger than its whole, naming it.
    """
    args = {
        "retail_sales_nonmember": retail_sales_nonmember,
        "total_sales": total_sales,
        "recruitment_income": recruitment_income,
        "total_income": total_income,
        "customers": customers,
        "distributors": distributors,
        "purchases_to_qualify": purchases_to_qualify,
        "total_purchases": total_purchases,
    }
    for key, v in args.items():
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"pyramid_indicators: {key} must be finite and >= 0, got {v}.")
    for part, whole in (
        ("retail_sales_nonmember", "total_sales"),
        ("recruitment_income", "total_income"),
        ("purchases_to_qualify", "total_purchases"),
    ):
        if float(args[part]) > float(args[whole]) * (1 + 1e-12) + 1e-9:
            raise ValueError(
                f"pyramid_indicators: {part} = {args[part]} exceeds {whole} = {args[whole]}."
            )
    return [
        _indicator(
            "retail_share",
            float(retail_sales_nonmember),
            float(total_sales),
            0.5,
            ">",
            f"{VEMMA}; {BURNLOUNGE}; {FTC_GUIDANCE}",
            "Sales to people outside the business / all sales. The FTC's core concern is pay "
            "driven by participants' own purchases rather than demand from ultimate users "
            "(BurnLounge). The 'more than half' line is a settlement term binding on Vemma "
            "only (the 2016 Herbalife order used other tests, e.g. 80% of sales to legitimate "
            "end users with verified internal consumption counted); the 2018 guidance sets no "
            "percentage and says internal consumption can be genuine demand. A convention, "
            "not law.",
        ),
        _indicator(
            "recruitment_income_share",
            float(recruitment_income),
            float(total_income),
            0.5,
            "<",
            f"{KOSCOT}; {BURNLOUNGE}",
            "Share of distributor income paid for bringing in people rather than for sales "
            "to ultimate users. Rewards for recruiting unrelated to such sales are the legal "
            "heart of a pyramid (Koscot); BurnLounge found a pyramid where rewards were "
            "primarily for recruiting. Reading 'primarily' as 'more than half' is our "
            "convention, not law: no court set a number.",
        ),
        _indicator(
            "customers_per_distributor",
            float(customers),
            float(distributors),
            10.0,
            ">=",
            f"{AMWAY} (ten-customer rule)",
            "Retail customers per active distributor. Amway required a distributor to sell "
            "to at least ten different retail customers a month to be paid the performance "
            "bonus; the Commission credited the rule with tying pay to retail sales. It is "
            "one company's rule, applied per distributor per month, and an average over all "
            "distributors is a weaker test. A convention, not law.",
        ),
        _indicator(
            "qualifying_purchase_share",
            float(purchases_to_qualify),
            float(total_purchases),
            0.3,
            "<=",
            f"{AMWAY} (70% rule); {FTC_GUIDANCE}",
            "Share of distributor purchases never sold, used or returned (kept in stock or "
            "lost on quitting: what was bought only to qualify or reach a rank). Amway "
            "required a distributor to sell (at wholesale to a downline or at retail) at "
            "least 70% of the product bought in a month to be paid the "
            "performance bonus, i.e. at most 30% left over; the Commission credited it, with "
            "the buy-back and ten-customer rules, as a guard against inventory loading. The "
            "2018 guidance treats purchases made to qualify for rewards as a sign that they "
            "may not reflect real demand. One company's per-distributor monthly rule, here "
            "applied to the total: a convention, not law.",
        ),
    ]


def recruitment_income(
    paid: object,
    paid_for_recruiting: object,
    bv_new_recruits: object,
    bv: object,
) -> dict[str, float]:
    """Distributor income that comes from recruitment rather than from ongoing sales.

    Two sources, month by month (t):

    - bonuses paid for bringing people in (``paid_for_recruiting``: enrolment / fast start
      bonuses, which pay on starter kits and new recruits' first orders), counted in full;
    - the part of every other commission paid on new recruits' early orders. Commissions
      are not traced to the order that generated them, so they are attributed pro rata to
      volume: ``(paid_t - paid_for_recruiting_t) x bv_new_recruits_t / bv_t``. For a plan
      paying the same percentage on every unit of BV this is exact; with compression and
      level-dependent rates it is the volume-weighted average.

    ``recruitment = sum_t [paid_for_recruiting_t + (paid_t - paid_for_recruiting_t) x
    bv_new_recruits_t / bv_t]`` and ``share = recruitment / sum_t paid_t``.

    Args:
        paid: all commissions and bonuses paid per month, USD, ``float64[T]``.
        paid_for_recruiting: the part paid by recruitment components, USD, ``float64[T]``.
        bv_new_recruits: BV of orders by distributors in their first months, ``float64[T]``.
        bv: all BV per month, ``float64[T]``.

    Returns:
        ``{"recruitment_income", "total_income", "share"}`` (USD, USD, fraction; ``share``
        NaN when nothing was paid).

    Raises:
        ValueError: lengths differ, negative values, or a part larger than its whole, naming
            the month index.
    """
    p = vector(paid, "paid")
    pr = vector(paid_for_recruiting, "paid_for_recruiting")
    bn = vector(bv_new_recruits, "bv_new_recruits")
    b = vector(bv, "bv")
    if not (p.shape == pr.shape == bn.shape == b.shape):
        raise ValueError(
            f"monthly series differ in length: paid {p.size}, paid_for_recruiting {pr.size}, "
            f"bv_new_recruits {bn.size}, bv {b.size}."
        )
    tol = 1e-9
    for part, whole, pn, wn in (
        (pr, p, "paid_for_recruiting", "paid"),
        (bn, b, "bv_new_recruits", "bv"),
    ):
        bad = (part < -tol) | (whole < -tol) | (part > whole * (1 + 1e-12) + tol)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"month index {i}: {pn} = {part[i]} and {wn} = {whole[i]}; need 0 <= {pn} <= {wn}."
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        early = np.where(b > 0, bn / b, 0.0)
    rec = float(np.sum(pr + np.maximum(p - pr, 0.0) * early))
    total = float(p.sum())
    return {
        "recruitment_income": rec,
        "total_income": total,
        "share": rec / total if total > 0 else NAN,
    }
