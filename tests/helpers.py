"""Shared test helpers: small models and per-month invariant checks."""

from __future__ import annotations

import numpy as np

from simulation import behaviour, collect
from simulation.config import Scenario, apply_overrides, load_scenario, scenario_from_dict
from simulation.model import MLMModel
from simulation.state import Status
from simulation.tree import compute_depth


def make_model(*sets: str, scenario: str = "classroom", **kwargs) -> MLMModel:
    """A model of a shipped scenario with ``section.key=value`` overrides."""
    scen, _ = load_scenario(scenario, list(sets))
    return MLMModel(scenario=scen, **kwargs)


def scenario_with(*sets: str) -> Scenario:
    """Default scenario with overrides."""
    return scenario_from_dict(apply_overrides({}, list(sets), "test"), "test")


def check_invariants(model: MLMModel) -> None:
    """Every invariant of docs/design.md (What always holds) after every month."""
    pop = model.pop
    n = pop.n
    counts = np.bincount(pop.status, minlength=4)
    st = model.stats
    # Head count: prospects + customers + distributors + quit = N, and the table agrees.
    assert counts.sum() == n
    assert (st["prospects"], st["customers"], st["distributors"], st["quit"]) == tuple(counts)
    assert st["ever_joined"] == counts[Status.DISTRIBUTOR] + counts[Status.QUIT]
    # Customers belong to exactly one active distributor; counts agree.
    cust = np.flatnonzero(pop.status == Status.CUSTOMER)
    assert (pop.status[pop.customer_of[cust]] == Status.DISTRIBUTOR).all()
    assert (pop.customer_of[pop.status != Status.CUSTOMER] == -1).all()
    per = np.bincount(pop.customer_of[cust], minlength=n)
    assert (per == pop.customers).all()
    # The active and customer rows the model keeps up to date are those a scan finds, and the
    # month's arrays cleared row by row are nonzero only on the rows written this month.
    assert np.array_equal(model.active_ids(), np.flatnonzero(pop.status == Status.DISTRIBUTOR))
    assert np.array_equal(model.customer_ids(), cust)
    assert np.array_equal(model._joined_period, pop.join_month)
    if model.network is not None:
        # Active members per person's contacts, and the reachable prospects per member
        # from them, as the members' own contact lists give them.
        listed = model.network.neighbour_pairs(model.active_ids())[1]
        assert np.array_equal(model.active_contacts, np.bincount(listed, minlength=n))
        active = model.active_ids()
        if active.size and model.scenario.observe.reachable:
            total = collect.reachable_at_end(model, active, total=True)
            assert collect.mean_reachable(model) == float(np.float64(total) / active.size)
    ever = model.ever_ids
    assert np.array_equal(model.ever_level, pop.level[ever])
    recent = (pop.join_month[ever] > model.month - collect.EARLY_MONTHS) & (pop.enroller[ever] >= 0)
    assert np.array_equal(collect.recent_recruits(model), ever[recent])
    cleared = {"pv": model._pv_rows, "net_month": model._net_rows}
    if model.rules["retail"] is behaviour.retail:  # (a rule of a test's own sets it as it likes)
        cleared["customer_pv"] = model.customer_pv_rows
    for field, rows in cleared.items():
        assert np.isin(np.flatnonzero(getattr(pop, field)), rows).all(), field
    # Money: what distributors paid the company = company revenue (net of buyback refunds
    # and refunds for returns); commissions paid and clawed back agree with the company's.
    paid_in = (
        pop.purchases.sum()
        + pop.kit_cost.sum()
        - pop.buyback_refund.sum()
        - pop.returns_refund.sum()
    )
    assert np.isclose(paid_in, model.company["revenue"], rtol=1e-9, atol=1e-6)
    assert np.isclose(pop.commissions.sum(), model.company["paid"], rtol=1e-9, atol=1e-6)
    assert np.isclose(pop.clawback.sum(), model.company["clawbacks"], rtol=1e-9, atol=1e-6)
    # Payouts never exceed the cap; nobody who is not a qualified distributor is paid.
    pay = model.last_pay
    if pay is not None:
        cap = model.plan.cap
        if cap is not None:
            assert pay.paid <= cap.ratio * pay.revenue + 1e-6
        assert (pay.total >= 0).all()
        # pay.qualified = active at pay time and PV >= the plan's minimum (quitters of this
        # month were still active when paid).
        assert (pay.total[~pay.qualified] == 0).all()
        assert (model.pop.commissions_month[~pay.qualified] == 0).all()
    # The sponsor tree of active distributors is a forest, and the kept depths are right.
    active = pop.status == Status.DISTRIBUTOR
    parent = np.where(active, pop.sponsor, -1)
    assert (active[parent[parent >= 0]]).all(), "an active member points to an inactive sponsor"
    depth = compute_depth(parent, active)
    assert (depth[active] == pop.depth[active]).all()
    assert (pop.sponsor[~active] == -1).all()
    assert (pop.depth[~active] == -1).all()
