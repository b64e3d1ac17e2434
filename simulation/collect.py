"""Monthly model-level reporters, computed with numpy over the columnar state.

``monthly_stats(model)`` returns one row of the monthly table; ``level_rows(model)`` the rows of
the per-level table. Mesa's DataCollector calls them through model reporters (not per agent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.metrics import gini, top_share
from simulation.state import Status

if TYPE_CHECKING:
    from simulation.model import MLMModel

MONTHLY_COLUMNS: dict[str, str] = {
    "month": "Month (0 = the founders joined).",
    "prospects": "Persons never approached successfully and not customers.",
    "customers": "Retail customers (non-members buying from a distributor).",
    "distributors": "Active distributors (joined, not quit).",
    "quit": "Persons who joined and quit (cumulative).",
    "joined": "Persons who joined this month.",
    "quit_this_month": "Distributors who quit this month.",
    "ever_joined": "Persons who ever joined (cumulative).",
    "penetration": "ever_joined / N.",
    "revenue": "Company revenue this month: purchases + starter kits - buyback refunds, USD.",
    "commissionable_revenue": "Commissionable revenue (sum of BV) the cap is measured on, USD.",
    "commissions": "Commissions and bonuses paid this month, USD.",
    "payout_ratio": "commissions / commissionable revenue this month.",
    "breakage": "Commissions the plan would pay if everyone qualified, not paid, USD.",
    "retail_share": "Volume bought for non-member customers / all volume, this month.",
    "retail_sales": "Money from retail customers at retail price this month, USD.",
    "pv": "Total personal volume this month, PV.",
    "topup_pv": "Volume bought only to reach the monthly minimum, PV.",
    "loading_pv": "Volume bought as stock to reach a rank, PV.",
    "qualified": "Active distributors meeting the monthly minimum PV.",
    "max_depth": "Deepest level of the current sponsor forest (roots = 1).",
    "gini_commissions": "Gini of cumulative commissions over everyone who ever joined.",
    "gini_net_income": "Gini of cumulative net income (own use valued) over everyone who joined "
    "(Raffinetti-Siletti-Vernizzi normalisation, defined with losses).",
    "share_net_loss": "Share of everyone who joined with cumulative net income < 0 (own use "
    "valued).",
    "share_net_loss_strict": "The same with purchases for own use counted as a cost.",
    "top1_commissions": "Share of all commissions so far received by the top 1% of joiners.",
}

LEVEL_COLUMNS: dict[str, str] = {
    "month": "Month.",
    "level": "Level at joining (founders 1).",
    "members": "Active distributors of that level.",
    "ever_joined": "Persons of that level who ever joined.",
    "recruits": "Persons recruited this month by members of that level.",
    "commissions": "Commissions paid this month to members of that level, USD.",
    "mean_net_income": "Mean cumulative net income of everyone of that level who joined, USD.",
}


def net_of_joiners(model: MLMModel) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative net income of everyone who joined (``model.ever_ids`` order), USD.

    Returns:
        ``(strict, valued)``: own use counted as a cost, and own use valued.
    """
    pop = model.pop
    strict = pop.net_income(own_use_as_cost=True, rows=model.ever_ids)
    return strict, strict + pop.own_use_value[model.ever_ids]


def monthly_stats(model: MLMModel, strict: np.ndarray, net: np.ndarray) -> dict[str, float]:
    """One row of the monthly table (see :data:`MONTHLY_COLUMNS`).

    ``strict`` and ``net`` come from :func:`net_of_joiners`.
    """
    pop = model.pop
    f = model._month_flow
    counts = np.bincount(pop.status, minlength=4)
    ever = model.ever_ids
    n_ever = int(ever.size)
    comm = pop.commissions[ever]
    pay = model.last_pay
    active = pop.status == Status.DISTRIBUTOR
    rev_c = f["commissions_revenue"]
    total_pv = f["pv"]
    return {
        "month": model.month,
        "prospects": int(counts[Status.PROSPECT]),
        "customers": int(counts[Status.CUSTOMER]),
        "distributors": int(counts[Status.DISTRIBUTOR]),
        "quit": int(counts[Status.QUIT]),
        "joined": int(model.joined_this_month.size),
        "quit_this_month": int(model.quit_this_month.size),
        "ever_joined": n_ever,
        "penetration": n_ever / pop.n,
        "revenue": f["revenue"],
        "commissionable_revenue": rev_c,
        "commissions": f["paid"],
        "payout_ratio": f["paid"] / rev_c if rev_c > 0 else float("nan"),
        "breakage": f["breakage"],
        "retail_share": f["customer_pv"] / total_pv if total_pv > 0 else float("nan"),
        "retail_sales": f["retail_sales"],
        "pv": total_pv,
        "topup_pv": f["topup_pv"],
        "loading_pv": f["loading_pv"],
        "qualified": int(pay.qualified.sum()) if pay is not None else 0,
        "max_depth": int(pop.depth[active].max()) + 1 if active.any() else 0,
        "gini_commissions": gini(comm) if comm.sum() > 0 else float("nan"),
        "gini_net_income": gini(net) if n_ever else float("nan"),
        "share_net_loss": float((net < 0).mean()) if n_ever else float("nan"),
        "share_net_loss_strict": float((strict < 0).mean()) if n_ever else float("nan"),
        "top1_commissions": top_share(comm, 0.01),
    }


def level_rows(model: MLMModel, net: np.ndarray) -> list[dict[str, float]]:
    """Rows of the per-level table for the current month (see :data:`LEVEL_COLUMNS`)."""
    pop = model.pop
    ever = model.ever_ids
    if not ever.size:
        return []
    level = pop.level[ever].astype(np.int64)
    size = int(level.max()) + 1
    active = pop.status[ever] == Status.DISTRIBUTOR
    members = np.bincount(level[active], minlength=size)
    joined = np.bincount(level, minlength=size)
    comm = np.bincount(level, weights=pop.commissions_month[ever], minlength=size)
    net = np.bincount(level, weights=net, minlength=size)
    rec = np.zeros(size)
    r = model.recruits_by_level[:size]
    rec[: r.size] = r
    rows = []
    for lv in range(1, size):
        if joined[lv] == 0:
            continue
        rows.append(
            {
                "month": model.month,
                "level": lv,
                "members": int(members[lv]),
                "ever_joined": int(joined[lv]),
                "recruits": int(rec[lv]),
                "commissions": float(comm[lv]),
                "mean_net_income": float(net[lv] / joined[lv]),
            }
        )
    return rows
