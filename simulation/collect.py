"""The model's collect phase: every per-month observation, computed with numpy.

``monthly_stats(model)`` returns one row of the monthly table (the DataCollector's model
reporters: the CLI, sweeps, ``mesa.batch_run``, the web page and notebooks all read these
columns through the same path); ``level_rows(model)`` the rows of the per-level table (a
DataCollector table). :func:`monthly_columns` lists the monthly columns of a model, including
one ``paid_<component>`` column per company-paid component of its plan. Every column is
described here, with its unit and population; ``docs/report.md`` and the run folder's
codebook take their text from these dictionaries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.metrics import gini, legal, reachable_prospects, top_share
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
    "revenue": "Company revenue this month: purchases + starter kits - buyback refunds (- "
    "refunds for returns), USD.",
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
    "max_depth": "Deepest current depth in the sponsor forest after roll-ups (roots 0; -1 "
    "with no active distributor). Depth changes with roll-ups; level is fixed at joining.",
    "gini_commissions": "Gini of cumulative commissions over everyone who ever joined.",
    "gini_net_income": "Gini of cumulative net income (own use valued) over everyone who joined "
    "(Raffinetti-Siletti-Vernizzi normalisation, defined with losses).",
    "share_net_loss": "Share of everyone who joined with cumulative net income < 0 (own use "
    "valued).",
    "share_net_loss_strict": "The same with purchases for own use counted as a cost.",
    "top1_commissions": "Share of all commissions so far received by the top 1% of joiners.",
    "paid_recruiting": "Paid this month by plan components that pay for bringing people in "
    "(components declaring pays_for_recruiting, e.g. fast start), after the cap, USD.",
    "bv": "All business volume of the month (commissionable basis), BV.",
    "bv_new_recruits": "BV of recruits (joiners with an enroller) in their first EARLY_MONTHS "
    "months, month of joining included, BV.",
    "customer_pv": "Volume bought for retail customers (non-members) this month, PV.",
    "kits_revenue": "Starter kits sold this month (every joiner buys one), USD.",
    "new_recruit_purchases": "Product bought by recruits in their first EARLY_MONTHS months, USD.",
    "reachable_per_active": "Mean still-reachable prospects per active distributor at the end "
    "of the month: contacts who never joined and are not refusing (NaN without a social "
    "network, or with observe.reachable = false).",
    # Purchase classes and legal tests (simulation.metrics.legal, docs/legal.md). "Paid
    # members" are the active distributors of the pay phase (this month's quitters included).
    "household_pv": "Household use of the month by distributors, from stock or bought, PV.",
    "returned_pv": "Volume returned to the company this month, PV (0 while the model has no "
    "product returns).",
    "unconsumed_pv": "Volume bought this month and neither used by the household, sold to "
    "customers nor returned: pv - household_pv - customer_pv - returned_pv, the net addition "
    "to unsold stock (negative when stock is drawn down), PV.",
    "qualify_pv": "Top-ups bought only to reach the monthly minimum, measured against the "
    "month's whole demand (household use counted before it is taken from stock), PV.",
    "amway70_pass": "Paid members who sold, used or returned at least 70% of what they bought "
    "this month (Amway 1979, 70% rule; nothing bought passes).",
    "amway70_paid": "Commissions paid this month to members passing the 70% rule, USD.",
    "ten_customers_pass": "Paid members with at least ten retail customers ordering this month "
    "(Amway 1979, ten-customer rule).",
    "ten_customers_paid": "Commissions paid this month to members passing the ten-customer "
    "rule, USD.",
    "vemma_pass": "Paid members whose own and downline's sales this month were more than half "
    "to non-participants (Vemma order 2016).",
    "vemma_paid": "Commissions paid this month to members passing the Vemma rule, USD.",
    "end_use_pass": "Paid members of whose purchases this month at least 80% reached an end "
    "user, own household or customer (Herbalife order 2016, per member).",
    "end_use_paid": "Commissions paid this month to members passing the 80% end-use line, USD.",
    "commissions_retail_backed": "Commissions traceable to sales to non-participants: each "
    "member's non-recruiting commissions x the customer share of their organisation's volume "
    "(Herbalife order 2016; Vander Nat & Keep 2002), USD.",
}

# A recruit's "early orders" are those of the month of joining and the two after: the
# default inventory-loading window (buy.loading_months = 3) and about a 60-day fast start
# (2 monthly periods). Commissions paid on them count as income from recruitment.
EARLY_MONTHS = 3

COMPONENT_COLUMN = "paid_{}"
COMPONENT_DESCRIPTION = "Paid this month by the plan component '{}' (after the cap), USD."


# Per paid-as rank (plans with ranks): how many were paid as it this month and what they
# were paid. An income disclosure statement that annualises monthly pay at a rank is 12 x
# the second over the first (simulation.calibrate.targets, income_basis = "month_at_rank").
RANK_MEMBERS_COLUMN = "rank_members_{}"
RANK_MEMBERS_DESCRIPTION = (
    "Distributors paid as rank '{}' this month (its quitters included: ranks are paid first)."
)
RANK_PAID_COLUMN = "rank_commissions_{}"
RANK_PAID_DESCRIPTION = "Commissions paid this month to the distributors paid as rank '{}', USD."
# The same commissions split by the plan component that paid them (one column per paying
# component and rank; summed over the components, rank_commissions_<rank>): who is paid by what.
RANK_COMPONENT_COLUMN = "rank_paid_{}_{}"
RANK_COMPONENT_DESCRIPTION = (
    "Paid this month by the plan component '{}' (after the cap) to the distributors paid as "
    "rank '{}', USD."
)


def paying_components(plan) -> list[str]:
    """Names of the plan's components the company pays (one ``paid_<name>`` column each)."""
    return [k for k in plan.components if plan.spec(k).company_payout]


# Columns only a scenario with the mechanism switched on has (so the table of a scenario
# without them is unchanged): section -> {column: description}.
MECHANISM_COLUMNS: dict[str, dict[str, str]] = {
    "rejoin": {"rejoined": "Of this month's joiners, people who had quit before (rejoining)."},
    "chain": {
        "paid_chain": "Chain-letter joining payments paid on to sponsors and uplines this "
        "month ([chain]), USD; part of commissions and of paid_recruiting."
    },
    "returns": {
        "return_refunds": "Refunds the company paid for returned product this month, USD "
        "(already taken out of revenue).",
        "customer_refunds": "Retail price members paid back to customers who returned "
        "orders this month, USD.",
        "clawbacks": "Commissions clawed back from uplines this month, USD (only under the "
        "plan's returns_timing = 'clawback'; not taken out of commissions).",
    },
}


def monthly_columns(plan, scenario=None) -> dict[str, str]:
    """Monthly column -> description for a model paying ``plan`` (in table order).

    With ``scenario``, the columns of its switched-on mechanisms (:data:`MECHANISM_COLUMNS`)
    are added at the end.
    """
    cols = dict(MONTHLY_COLUMNS)
    if scenario is not None:
        for section, added in MECHANISM_COLUMNS.items():
            if getattr(scenario, section).enabled:
                cols.update(added)
    extra = {
        COMPONENT_COLUMN.format(k): COMPONENT_DESCRIPTION.format(k) for k in paying_components(plan)
    }
    # The component columns go just before paid_recruiting (the columns they sum into).
    out: dict[str, str] = {}
    for key, text in cols.items():
        if key == "paid_recruiting":
            out.update(extra)
        out[key] = text
    for name in plan.rank_names:
        out[RANK_MEMBERS_COLUMN.format(name)] = RANK_MEMBERS_DESCRIPTION.format(name)
        out[RANK_PAID_COLUMN.format(name)] = RANK_PAID_DESCRIPTION.format(name)
    for k in rank_components(plan):
        for name in plan.rank_names:
            out[RANK_COMPONENT_COLUMN.format(k, name)] = RANK_COMPONENT_DESCRIPTION.format(k, name)
    return out


def rank_components(plan) -> list[str]:
    """The paying components split by paid-as rank (``rank_paid_<component>_<rank>``)."""
    return paying_components(plan) if plan.rank_names else []


LEVEL_COLUMNS: dict[str, str] = {
    "month": "Month.",
    "level": "Level at joining in the sponsor tree (founders 1), frozen at joining.",
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
    strict = pop.net_income(
        own_use_as_cost=True, rows=model.ever_ids, returns=model.returns_book is not None
    )
    return strict, strict + pop.own_use_value[model.ever_ids]


def recent_recruits(model: MLMModel) -> np.ndarray:
    """Recruits (joiners with an enroller) in their first EARLY_MONTHS months, in join order.

    The rows of ``model.ever_ids`` whose last join is that recent, in that order, found among
    the joiners of those months rather than by a pass over everyone who ever joined.
    """
    pop = model.pop
    month = model.month
    joined = [rows for m, rows in model.recent_joins.items() if m > month - EARLY_MONTHS]
    if not joined:
        return np.empty(0, np.int64)
    rows = np.unique(np.concatenate(joined))
    rows = rows[(pop.join_month[rows] > month - EARLY_MONTHS) & (pop.enroller[rows] >= 0)]
    return model.ever_ids[np.sort(model.ever_position[rows])]


def monthly_stats(model: MLMModel, strict: np.ndarray, net: np.ndarray) -> dict[str, float]:
    """One row of the monthly table (see :func:`monthly_columns`).

    ``strict`` and ``net`` come from :func:`net_of_joiners`.
    """
    pop = model.pop
    f = model.month_flow
    # Head counts by status: the members and customers the model keeps, the quitters by
    # counting bytes (several times faster than np.bincount, which first widens the n status
    # codes to 64-bit integers), the prospects the rest.
    counts = [0, model.customer_ids().size, model.active_ids().size]
    counts.append(int(np.count_nonzero(pop.status == Status.QUIT)))
    counts[Status.PROSPECT] = pop.n - sum(counts)
    ever = model.ever_ids
    n_ever = int(ever.size)
    comm = pop.commissions[ever]
    pay = model.last_pay
    n_active = int(counts[Status.DISTRIBUTOR])
    rev_c = f["commissions_revenue"]
    total_pv = f["pv"]
    month = model.month
    units = model.scenario.units
    row = {
        "month": month,
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
        "qualified": int(np.count_nonzero(pay.qualified)) if pay is not None else 0,
        "max_depth": int(pop.depth[model.active_ids()].max()) if n_active else -1,
        "gini_commissions": gini(comm) if comm.sum() > 0 else float("nan"),
        "gini_net_income": gini(net) if n_ever else float("nan"),
        "share_net_loss": float((net < 0).mean()) if n_ever else float("nan"),
        "share_net_loss_strict": float((strict < 0).mean()) if n_ever else float("nan"),
        "top1_commissions": top_share(comm, 0.01),
    }
    plan = model.plan
    components = paying_components(plan)
    sums = pay.component_sums if pay else {}
    for k in components:
        # (the pay engine's sum of the same array when it made one)
        done = sums.get(k)
        if done is None:
            done = float(pay.components[k].sum()) if pay else 0.0
        row[COMPONENT_COLUMN.format(k)] = done
    row["paid_recruiting"] = sum(
        (row[COMPONENT_COLUMN.format(k)] for k in components if plan.spec(k).pays_for_recruiting),
        0.0,
    )
    if model.scenario.chain.enabled:
        # Joining payments are pay for recruiting by definition.
        chain = float(pay.components["chain"].sum()) if pay else 0.0
        row["paid_recruiting"] += chain
    # Recruits only: founders (and spontaneous joiners) were not brought in by anyone.
    recent = recent_recruits(model)
    pv_new = float(pop.pv[recent].sum()) if month > 0 else 0.0
    row["bv"] = f["bv"]
    row["bv_new_recruits"] = pv_new * units.bv_per_pv
    row["customer_pv"] = f["customer_pv"]
    row["kits_revenue"] = f["kits"]
    row["new_recruit_purchases"] = pv_new * units.usd_per_pv
    row["reachable_per_active"] = mean_reachable(model)
    row.update(legal_row(model))
    if model.scenario.rejoin.enabled:
        row["rejoined"] = int(model.rejoined_this_month)
    if model.scenario.chain.enabled:
        row["paid_chain"] = chain
    if model.scenario.returns.enabled:
        for key in MECHANISM_COLUMNS["returns"]:
            row[key] = f[key]
    row.update(rank_row(model))
    return row


def rank_row(model: MLMModel) -> dict[str, float]:
    """Members paid as each rank this month, their commissions and each component's part.

    ``pop.rank`` is this month's paid-as rank of everyone in the pay (-1: no rank or not
    paid), kept for this month's quitters; ``commissions_month`` what the month paid them,
    the sum of the paying components' arrays of the month's pay (``model.last_pay``).
    Distributors only: a wholesale customer (``segments.wholesale_share``) holds no rank.
    """
    names = model.plan.rank_names
    if not names:
        return {}
    pop = model.pop
    who = np.flatnonzero((pop.rank >= 0) & ~pop.wholesale)
    r = pop.rank[who].astype(np.int64)
    k = len(names)
    n = np.bincount(r, minlength=k)
    paid = np.bincount(r, weights=pop.commissions_month[who], minlength=k)
    row: dict[str, float] = {}
    for i, name in enumerate(names):
        row[RANK_MEMBERS_COLUMN.format(name)] = int(n[i])
        row[RANK_PAID_COLUMN.format(name)] = float(paid[i])
    pay = model.last_pay
    for c in rank_components(model.plan):
        part = (
            np.bincount(r, weights=pay.components[c][who], minlength=k)
            if pay is not None
            else np.zeros(k)
        )
        for i, name in enumerate(names):
            row[RANK_COMPONENT_COLUMN.format(c, name)] = float(part[i])
    return row


LEGAL_COLUMNS = (
    "household_pv",
    "returned_pv",
    "unconsumed_pv",
    "qualify_pv",
    "amway70_pass",
    "amway70_paid",
    "ten_customers_pass",
    "ten_customers_paid",
    "vemma_pass",
    "vemma_paid",
    "end_use_pass",
    "end_use_paid",
    "commissions_retail_backed",
)


def returned_month(model: MLMModel) -> np.ndarray:
    """float64[n] PV each person returned to the company this month.

    Read from the state field ``returned`` when the model has product returns; zeros until
    then (the model books no returns).
    """
    returned = getattr(model.pop, "returned", None)
    if returned is None:
        return np.zeros(model.pop.n)
    return np.asarray(returned, dtype=np.float64)


def legal_row(model: MLMModel) -> dict[str, float]:
    """The month's purchase classes and legal tests (:mod:`simulation.metrics.legal`).

    Everyone who bought this month was paid this month (the pay phase follows the buy phase,
    quits come after), so the classes are summed over the pay forest's members; returns are
    summed over everyone (a former member may return product).
    """
    pop = model.pop
    returned = returned_month(model)
    row = dict.fromkeys(LEGAL_COLUMNS, 0.0)
    row["qualify_pv"] = model.month_flow["qualify_pv"]
    row["returned_pv"] = float(returned.sum())
    pay, forest = model.last_pay, model.pay_forest
    if pay is None or forest is None:  # month 0: the founders joined, nobody bought yet
        return row
    household = model.household_month
    bought = model.bought_month
    plan = model.plan
    recruiting_parts = [
        pay.components[k] for k in paying_components(plan) if plan.spec(k).pays_for_recruiting
    ]
    recruiting = sum(recruiting_parts[1:], recruiting_parts[0]) if recruiting_parts else None
    tests = legal.month_tests(
        forest,
        bought=bought,
        household=household,
        sold=pop.customer_pv,
        returned=returned,
        customers=model.customers_month,
        commissions=pay.total,
        recruiting=recruiting,
    )
    rows = tests.paid_rows  # the pay forest's members
    classes = legal.classify_purchases(
        bought[rows], household[rows], pop.customer_pv[rows], returned[rows]
    )
    row["household_pv"] = float(classes["consumed"].sum())
    outside = row["returned_pv"] - float(classes["returned"].sum())
    row["unconsumed_pv"] = float(classes["unconsumed"].sum()) - outside
    comm = pay.total[rows]
    for name, ok in (
        ("amway70", tests.amway_70),
        ("ten_customers", tests.ten_customers),
        ("vemma", tests.vemma),
        ("end_use", tests.end_use),
    ):
        row[f"{name}_pass"] = int(ok.sum())
        row[f"{name}_paid"] = float(comm[ok].sum())
    row["commissions_retail_backed"] = float(tests.retail_backed.sum())
    return row


# Who can still be recruited: persons who never joined (reachable_at_end, mean_reachable).
OPEN_STATUS = (Status.PROSPECT, Status.CUSTOMER)


def reachable_at_end(model: MLMModel, rows: np.ndarray, total: bool = False) -> np.ndarray:
    """float64: still-reachable prospects of ``rows`` as of the month after the current one.

    A prospect is reachable by a distributor if they are a social contact who never joined
    and is not refusing pitches; NaN without a social network. ``total``: their sum only
    (a network is required).
    """
    if model.network is None:
        return np.full(rows.size, np.nan)
    pop = model.pop
    counts = reachable_prospects(
        model.network.indptr,
        model.network.indices,
        pop.status,
        pop.refused_until,
        model.month + 1,
        rows=rows,
        open_status=OPEN_STATUS,
        total=total,
    )
    return counts if total else counts.astype(np.float64)


def mean_reachable(model: MLMModel) -> float:
    """Mean of :func:`reachable_at_end` over active distributors (NaN if not observed).

    The counts are whole numbers far below 2**53, so their float sum is exact and the total
    over the count is the mean of the per-row counts to the last bit.
    """
    active = model.active_ids()
    if model.network is None or not active.size or not model.scenario.observe.reachable:
        return float("nan")
    # The sum over the members' contact lists of the open contacts (reachable_at_end) is each
    # open person counted once per member who has them as a contact: one pass over n.
    pop = model.pop
    open_ = (pop.status == OPEN_STATUS[0]) | (pop.status == OPEN_STATUS[1])
    open_ &= pop.refused_until <= model.month + 1  # as reachable_at_end counts them
    total = int((model.active_contacts * open_).sum())
    return float(np.float64(total) / active.size)


def level_rows(model: MLMModel, net: np.ndarray) -> list[dict[str, float]]:
    """Rows of the per-level table for the current month (see :data:`LEVEL_COLUMNS`)."""
    pop = model.pop
    ever = model.ever_ids
    if not ever.size:
        return []
    level = model.ever_level  # pop.level[ever] as int64, kept by the joins
    size = int(level.max()) + 1
    # (the active members are some of those who ever joined: their levels fit in size)
    members = np.bincount(pop.level[model.active_ids()], minlength=size)
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
