"""Returns, refunds and clawbacks (``[returns]``): what comes back, when, and who pays.

The model calls three functions, each in its phase (``docs/model.md``, "Returns"):

* :meth:`ReturnsBook.schedule_and_take` (buy phase, after the purchases are booked): draws
  which of this month's purchases will come back and when (age 0 to ``window_months`` - 1,
  each equally likely), takes the returns due this month, books their money and, under the
  plan's ``period_of_return`` timing, lowers this month's PV by them.
* :meth:`ReturnsBook.clawback_for_month` (pay phase): under the plan's ``clawback`` timing,
  pays the month a second time without the volume that will come back and keeps the
  difference, per upline, as the clawback due in the months the goods come back.
* :meth:`ReturnsBook.buyback_clawback` (quit phase): under ``clawback`` timing, what the
  uplines are paid this month on a volume as large as the stock bought back from quitters.

The returns due are kept in rings indexed by the month they fall due modulo the window
(like the buyback's stock ages), so the memory is ``3 x window_months x N`` floats.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from simulation.plans import PayResult, PeriodInput

if TYPE_CHECKING:
    from simulation.behaviour import Purchase
    from simulation.model import MLMModel


class ReturnsBook:
    """Returns and clawbacks falling due in the coming months, by due month.

    Args:
        n: persons in the market.
        window: the return window in months (``returns.window_months``, at least 1).
        clawback: the plan claws back commissions on returned volume (its ``[volume]
            returns_timing = "clawback"``).

    Attributes:
        customer: float64[window, n] PV of customer orders each person's customers will
            return, row = due month % window.
        stock: float64[window, n] PV of stock each member will return, same rows.
        clawback_due: float64[window, n] USD to be clawed back from each person, same rows
            (None without the plan's clawback).
        scheduled: float64[n] PV scheduled for return this month (all ages), per person.
        scheduled_by_age: float64[window] the same summed over persons, by age in months.
    """

    def __init__(self, n: int, window: int, clawback: bool):
        self.window = int(window)
        self.customer = np.zeros((self.window, n))
        self.stock = np.zeros((self.window, n))
        self.clawback_due = np.zeros((self.window, n)) if clawback else None
        self.scheduled = np.zeros(n)
        self.scheduled_by_age = np.zeros(self.window)

    # ------------------------------------------------------------------ buy phase
    def schedule_and_take(
        self, model: MLMModel, rng: np.random.Generator, purchase: Purchase
    ) -> dict[str, np.ndarray]:
        """Schedule this month's returns, take those due now and book their money.

        Draws, in this order from ``rng`` (the ``returns`` stream), for every active
        distributor ``who``: the number of their customers returning this month's order
        (binomial with ``customer_prob``), its age (if the window is longer than a month),
        whether the member returns this month's stock (``member_prob``) and its age.
        Returned customer PV is the seller's customer PV x returning customers / customers
        (their mean order). Stock to be returned is set aside unopened (out of
        ``inventory_pv``, so it is neither used at home nor bought back).

        Returns:
            This month's per-person arrays (float64[n]): ``refund``, ``customer_refunds``,
            ``margin_lost`` (retail margin given back, USD) and ``returned`` (PV).
        """
        cfg = model.scenario.returns
        pop = model.pop
        month = model.month
        w = self.window
        who = purchase.who
        usd = model.scenario.units.usd_per_pv
        markup = model.plan.retail.markup
        # ---- what this month's purchases will send back, and when
        n_cust = pop.customers[who].astype(np.int64)
        back = rng.binomial(n_cust, cfg.customer_prob) if who.size else np.zeros(0, np.int64)
        cust_pv = pop.customer_pv[who].astype(np.float64)
        cust_back = np.where(n_cust > 0, cust_pv * back / np.maximum(n_cust, 1), 0.0)
        cust_age = rng.integers(0, w, who.size) if w > 1 else np.zeros(who.size, np.int64)
        stock_bought = purchase.topup_pv + purchase.loading_pv
        stock_back = np.where(rng.random(who.size) < cfg.member_prob, stock_bought, 0.0)
        stock_age = rng.integers(0, w, who.size) if w > 1 else np.zeros(who.size, np.int64)
        np.add.at(self.customer, ((month + cust_age) % w, who), cust_back)
        np.add.at(self.stock, ((month + stock_age) % w, who), stock_back)
        pop.inventory_pv[who] -= stock_back
        if model._stock_bought is not None:
            model._stock_bought[month % model._stock_bought.shape[0], who] -= stock_back
        self.scheduled[:] = 0.0
        self.scheduled[who] = cust_back + stock_back
        self.scheduled_by_age = np.bincount(cust_age, cust_back, minlength=w) + np.bincount(
            stock_age, stock_back, minlength=w
        )
        # ---- the returns due this month (this month's age-0 returns included)
        slot = month % w
        cust_due = self.customer[slot].copy()
        stock_due = self.stock[slot].copy()
        self.customer[slot] = 0.0
        self.stock[slot] = 0.0
        returned = cust_due + stock_due
        refund = (cust_due * cfg.customer_refund_share + stock_due * cfg.member_refund_share) * usd
        # The member pays the customer back the retail price and sends the goods on to the
        # company, which refunds customer_refund_share of their wholesale cost.
        cust_refund = cust_due * (usd * (1.0 + markup))
        pop.returned[:] = returned
        pop.returns_refund += refund
        pop.customer_refunds += cust_refund
        margin_lost = cust_refund - cust_due * usd * cfg.customer_refund_share
        pop.retail_margin -= margin_lost
        f = model.month_flow
        total_refund = float(refund.sum())
        f["returned_pv"] += float(returned.sum())
        f["return_refunds"] += total_refund
        f["customer_refunds"] += float(cust_refund.sum())
        f["revenue"] -= total_refund
        model.company["revenue"] -= total_refund
        if model.plan.volume.returns_timing == "period_of_return":
            # The return lowers the PV of the month it is made in (the member's, if active).
            pv = pop.pv[who] - returned[who]
            if model.plan.volume.floor_at_zero:
                pv = np.maximum(pv, 0.0)
            drop = pop.pv[who] - pv
            pop.pv[who] = pv
            pop.pv_total[who] -= drop
            f["pv"] -= float(drop.sum())
        return {
            "refund": refund,
            "customer_refunds": cust_refund,
            "returned": returned,
            "margin_lost": margin_lost,
        }

    # ------------------------------------------------------------------ pay phase
    def clawback_for_month(
        self, model: MLMModel, inp: PeriodInput, state_before: dict
    ) -> np.ndarray:
        """Pay ``inp`` again without the volume scheduled to come back; book the clawback.

        The difference between what each person was paid this month and what they would
        have been paid had the goods never been sold (Nu Skin's rule: a return adjusts the
        bonus of the month of the sale) is the clawback for this month's returns. It falls
        due with the returns, split over their months pro rata to the volume returned at
        each age. The engine's carried state is restored, so the extra run changes nothing
        else. Then the clawback due this month is taken.

        Args:
            model: the model (after this month's gross pay, ``model.last_pay``).
            inp: this month's pay input.
            state_before: a deep copy of the engine's carried state before this month's pay.

        Returns:
            float64[n] USD clawed back this month from each person.
        """
        due = self.clawback_due
        w = self.window
        total = float(self.scheduled_by_age.sum())
        if total > 0:
            pv = inp.pv - self.scheduled
            if model.plan.volume.floor_at_zero:
                pv = np.maximum(pv, 0.0)
            net = _pay_again(model, replace(inp, pv=pv, bv=pv * model.scenario.units.bv_per_pv),
                             state_before)
            diff = model.last_pay.total - net.total
            for age in np.flatnonzero(self.scheduled_by_age):
                due[(model.month + age) % w] += diff * (self.scheduled_by_age[age] / total)
        slot = model.month % w
        taken = due[slot].copy()
        due[slot] = 0.0
        return taken

    # ------------------------------------------------------------------ quit phase
    def buyback_clawback(
        self, model: MLMModel, claimers: np.ndarray, stock_pv: np.ndarray
    ) -> np.ndarray:
        """float64[n] USD clawed back for the stock bought back from ``claimers``.

        The rule: what the uplines are paid on a volume as large as the bought-back stock,
        at this month's positions, qualifications and ranks (this month's pay run again with
        the stock added to the claimers' PV, minus this month's pay). The claimers' own
        difference is left out (the stock would only raise their own qualification). The
        months the stock was bought in are not kept with their pay, so this is the month of
        quitting's rate, not the month of purchase's (``docs/model.md``).
        """
        out = np.zeros(model.pop.n)
        if not claimers.size or not (stock_pv > 0).any():
            return out
        inp = model.pay_input
        pv = inp.pv.copy()
        pv[claimers] += stock_pv
        more = _pay_again(
            model,
            replace(inp, pv=pv, bv=pv * model.scenario.units.bv_per_pv),
            model.pay_state_before,
        )
        out = more.total - model.last_pay.total
        out[claimers] = 0.0
        return out


def _pay_again(model: MLMModel, inp: PeriodInput, state: dict) -> PayResult:
    """Pay ``inp`` from the engine state ``state`` and put the engine's state back."""
    engine = model.pay_engine
    current = engine.state
    engine.state = copy.deepcopy(state)
    try:
        return engine.pay(inp)
    finally:
        engine.state = current
