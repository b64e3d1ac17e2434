"""Retail margin, ``docs/plans.md``: the distributor's own profit, not a payout.

``retail_margin(d) = retail_sales(d) x markup / (1 + markup)``, where ``retail_sales`` is money
received from non-member customers at retail price (net of refunds) and the retail price is
``wholesale x (1 + markup)``. It is never capped and never counted in the payout ratio.
"""

from __future__ import annotations

import numpy as np

from simulation.plans.base import ComponentResult, Params, PeriodContext, register


class RetailMarginParams(Params):
    """The ``[retail_margin]`` table (the markup itself is the plan's ``[retail]`` table)."""


def retail_margin_of(retail_sales: np.ndarray, markup: float) -> np.ndarray:
    """float64[n] margin earned on ``retail_sales`` (money at retail price)."""
    return np.asarray(retail_sales, dtype=np.float64) * (markup / (1.0 + markup))


@register(
    "retail_margin",
    RetailMarginParams,
    company_payout=False,
    description="the distributor's profit on retail sales (reported, not paid by the company)",
)
def retail_margin(ctx: PeriodContext, params: RetailMarginParams, state: None) -> ComponentResult:
    """Report each distributor's retail margin for the period."""
    sales = ctx.inp.retail_sales
    if sales is None:
        return ComponentResult(pay=np.zeros(ctx.inp.n))
    return ComponentResult(pay=retail_margin_of(sales, ctx.markup))
