"""Returns, refunds and clawbacks (``[returns]``): what comes back, when, and who pays.

The model calls three methods of :class:`ReturnsBook`, each in its phase (``docs/model.md``,
"Returns, refunds and clawbacks"):

* :meth:`ReturnsBook.schedule_and_take` (buy phase, after the purchases are booked): draws
  which of this month's purchases will come back and when (age 0 to ``window_months`` - 1,
  each equally likely), takes the returns due this month, books their money and, under the
  plan's ``period_of_return`` timing, lowers this month's PV by them.
* :meth:`ReturnsBook.clawback_for_month` (pay phase): under the plan's ``clawback`` timing,
  pays the month a second time without the volume that will come back and keeps the
  difference, per upline, as the clawback due in the months the goods come back.
* :meth:`ReturnsBook.buyback_clawback` (quit phase): under ``clawback`` timing, what the
  uplines are paid this month on a volume as large as the stock bought back from quitters.

What falls due is kept per due month (modulo the window) as lists of (rows, amounts) chunks,
so memory and time grow with the returns, not with the market: a million people with a few
thousand returns a month cost a few thousand entries.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from simulation import behaviour
from simulation.plans import PayResult, PeriodInput
from simulation.state import Status

if TYPE_CHECKING:
    from simulation.behaviour import Purchase
    from simulation.model import MLMModel

Chunk = tuple[np.ndarray, np.ndarray]  # (int64 rows, float64 amounts)
_EMPTY: Chunk = (np.empty(0, np.int64), np.empty(0))


class ReturnsBook:
    """Returns and clawbacks falling due in the coming months, and this month's money.

    Args:
        n: persons in the market.
        window: the return window in months (``returns.window_months``, at least 1).
        clawback: the plan claws back commissions on returned volume (its ``[volume]
            returns_timing = "clawback"``).

    Attributes:
        customer, stock: per due month % window, chunks of (rows, PV) of customer orders and
            of members' stock to come back.
        clawback_due: per due month % window, (rows, USD, share) to claw back: the share
            of one sale month's differences due then (None without the plan's clawback).
        scheduled: (rows, PV) scheduled for return this month, all ages together.
        scheduled_by_age: float64[window] PV scheduled this month by age in months.
        month: this month's money per person, float64[n] each: ``refund``,
            ``customer_refunds``, ``margin_lost`` (USD), ``clawback`` (USD); zero outside
            the rows touched this month.
    """

    def __init__(self, n: int, window: int, clawback: bool):
        self.window = int(window)
        self.customer: list[list[Chunk]] = [[] for _ in range(self.window)]
        self.stock: list[list[Chunk]] = [[] for _ in range(self.window)]
        self.clawback_due: list[list[tuple[np.ndarray, np.ndarray, float]]] | None = (
            [[] for _ in range(self.window)] if clawback else None
        )
        # Under the clawback: returns made too long after the sale (the plan's
        # clawback_window_months) lower the PV of the month they are made in instead.
        self.late: list[list[Chunk]] = [[] for _ in range(self.window)]
        self.scheduled: Chunk = _EMPTY
        self.scheduled_by_age = np.zeros(self.window)
        self.month = {
            k: np.zeros(n) for k in ("refund", "customer_refunds", "margin_lost", "clawback")
        }
        self._touched = np.empty(0, np.int64)  # rows of this month's money and ``returned``
        self._clawed = np.empty(0, np.int64)

    # ------------------------------------------------------------------ buy phase
    def schedule_and_take(
        self, model: MLMModel, rng: np.random.Generator, purchase: Purchase
    ) -> None:
        """Schedule this month's returns, take those due now and book their money.

        Draws, in this order from ``rng`` (the ``returns`` stream), for every active
        distributor ``who``: the number of their customers returning this month's order
        (binomial with ``customer_prob``, divided by the member's support from their upline
        when ``people.overload_strength`` > 0), its age (if the window is longer than a month),
        whether the member returns this month's stock (``member_prob``) and its age.
        Returned customer PV is the seller's customer PV x returning customers / customers
        (their mean order). Stock to be returned is set aside unopened (out of
        ``inventory_pv``, so it is neither used at home nor bought back). This month's money
        is left in :attr:`month` for the account phase.
        """
        cfg = model.scenario.returns
        pop = model.pop
        t = model.month
        w = self.window
        who = purchase.who
        usd = model.scenario.units.usd_per_pv
        markup = model.plan.retail.markup
        # ---- what this month's purchases will send back, and when
        n_cust = pop.customers[who].astype(np.int64)
        p_back = cfg.customer_prob
        if model.scenario.people.overload_strength > 0 and who.size:
            # Customers of an overstretched member return more, as they also stop sooner.
            p_back = np.minimum(p_back / behaviour.support(model, who), 1.0)
        back = rng.binomial(n_cust, p_back) if who.size else np.zeros(0, np.int64)
        cust_back = np.where(back > 0, pop.customer_pv[who] * back / np.maximum(n_cust, 1), 0.0)
        cust_age = rng.integers(0, w, who.size) if w > 1 else np.zeros(who.size, np.int64)
        stock_bought = purchase.topup_pv + purchase.loading_pv
        stock_back = np.where(rng.random(who.size) < cfg.member_prob, stock_bought, 0.0)
        stock_age = rng.integers(0, w, who.size) if w > 1 else np.zeros(who.size, np.int64)
        kept = stock_back > 0
        if kept.any():
            rows = who[kept]
            pop.inventory_pv[rows] -= stock_back[kept]
            if model._stock_bought is not None:
                model._stock_bought[t % model._stock_bought.shape[0], rows] -= stock_back[kept]
        _schedule(self.customer, t, who, cust_back, cust_age)
        _schedule(self.stock, t, who, stock_back, stock_age)
        volume = model.plan.volume
        clawing = volume.returns_timing == "clawback"
        if clawing and volume.clawback_window_months > 0:
            late_c = cust_age >= volume.clawback_window_months
            late_s = stock_age >= volume.clawback_window_months
            _schedule(self.late, t, who, np.where(late_c, cust_back, 0.0), cust_age)
            _schedule(self.late, t, who, np.where(late_s, stock_back, 0.0), stock_age)
            cust_back = np.where(late_c, 0.0, cust_back)  # not charged to this month
            stock_back = np.where(late_s, 0.0, stock_back)
        total = cust_back + stock_back
        some = total > 0
        self.scheduled = (who[some], total[some])
        self.scheduled_by_age = np.bincount(cust_age, cust_back, minlength=w) + np.bincount(
            stock_age, stock_back, minlength=w
        )
        # ---- the returns due this month (this month's age-0 returns included)
        slot = t % w
        c_rows, c_pv = _take(self.customer, slot)
        s_rows, s_pv = _take(self.stock, slot)
        for arr in (
            pop.returned,
            *(self.month[k] for k in ("refund", "customer_refunds", "margin_lost")),
        ):
            arr[self._touched] = 0.0
        self._touched = np.concatenate((c_rows, s_rows))
        np.add.at(pop.returned, c_rows, c_pv)
        np.add.at(pop.returned, s_rows, s_pv)
        # The member pays the customer back the retail price and sends the goods on to the
        # company, which refunds customer_refund_share of their wholesale cost; returned
        # stock is refunded at member_refund_share.
        c_refund = c_pv * (usd * cfg.customer_refund_share)
        s_refund = s_pv * (usd * cfg.member_refund_share)
        c_paid_back = c_pv * (usd * (1.0 + markup))
        m = self.month
        np.add.at(m["refund"], c_rows, c_refund)
        np.add.at(m["refund"], s_rows, s_refund)
        np.add.at(m["customer_refunds"], c_rows, c_paid_back)
        np.add.at(m["margin_lost"], c_rows, c_paid_back - c_refund)
        rows = np.unique(self._touched)
        pop.returns_refund[rows] += m["refund"][rows]
        pop.customer_refunds[rows] += m["customer_refunds"][rows]
        pop.retail_margin[rows] -= m["margin_lost"][rows]
        f = model.month_flow
        refunds = float(c_refund.sum() + s_refund.sum())
        f["returned_pv"] += float(c_pv.sum() + s_pv.sum())
        f["return_refunds"] += refunds
        f["customer_refunds"] += float(c_paid_back.sum())
        f["revenue"] -= refunds
        model.company["revenue"] -= refunds
        if not clawing:
            # The return lowers the PV of the month it is made in (the member's, if active).
            _lower_pv(model, rows, pop.returned[rows])
        else:
            l_rows, l_pv = _take(self.late, slot)
            if l_rows.size:
                u, inv = np.unique(l_rows, return_inverse=True)
                _lower_pv(model, u, np.bincount(inv, l_pv))

    # ------------------------------------------------------------------ pay phase
    def clawback_for_month(self, model: MLMModel, inp: PeriodInput, state_before: dict) -> None:
        """Pay ``inp`` again without the volume scheduled to come back; take this month's.

        The difference between what each person was paid this month and what they would
        have been paid had the goods never been sold (Nu Skin's rule: a return adjusts the
        bonus of the month of the sale) is the clawback for this month's returns. It falls
        due with the returns, split over their months pro rata to the volume returned at
        each age. The engine's carried state is restored, so the extra run changes nothing
        else. Then the clawback due this month is booked (:meth:`book_clawback`).

        Args:
            model: the model (after this month's gross pay, ``model.last_pay``).
            inp: this month's pay input.
            state_before: a deep copy of the engine's carried state before this month's pay.
        """
        due = self.clawback_due
        w = self.window
        total = float(self.scheduled_by_age.sum())
        if total > 0:
            rows, pv_back = self.scheduled
            pv = inp.pv.copy()
            pv[rows] -= pv_back
            if model.plan.volume.floor_at_zero:
                pv[rows] = np.maximum(pv[rows], 0.0)
            net = _pay_again(
                model, replace(inp, pv=pv, bv=pv * model.scenario.units.bv_per_pv), state_before
            )
            diff = model.last_pay.total - net.total
            paid_rows = np.flatnonzero(diff)
            amounts = diff[paid_rows]
            # One copy of the month's differences, shared by the slots it falls due in.
            for age in np.flatnonzero(self.scheduled_by_age):
                share = float(self.scheduled_by_age[age] / total)
                due[(model.month + age) % w].append((paid_rows, amounts, share))
        self._clawed_reset()
        slot = model.month % w
        for rows, amounts, share in due[slot]:
            self.book_clawback(model, rows, amounts * share if share != 1.0 else amounts)
        due[slot] = []

    # ------------------------------------------------------------------ quit phase
    def buyback_clawback(self, model: MLMModel, claimers: np.ndarray, stock_pv: np.ndarray) -> None:
        """Claw back what was paid on the stock bought back from ``claimers`` (PV each).

        The rule: what the uplines are paid on a volume as large as the bought-back stock,
        at this month's positions, qualifications and ranks (this month's pay run again with
        the stock added to the claimers' PV, minus this month's pay). The claimers' own
        difference is left out (the stock would only raise their own qualification). The
        months the stock was bought in are not kept with their pay, so this is the month of
        quitting's rate, not the month of purchase's (``docs/model.md``).
        """
        if not claimers.size or not (stock_pv > 0).any():
            return
        inp = model.pay_input
        pv = inp.pv.copy()
        pv[claimers] += stock_pv
        more = _pay_again(
            model,
            replace(inp, pv=pv, bv=pv * model.scenario.units.bv_per_pv),
            model.pay_state_before,
        )
        diff = more.total - model.last_pay.total
        diff[claimers] = 0.0
        rows = np.flatnonzero(diff)
        self.book_clawback(model, rows, diff[rows])

    def book_clawback(self, model: MLMModel, rows: np.ndarray, amounts: np.ndarray) -> None:
        """Book commissions clawed back from ``rows`` (USD each; repeated rows add up)."""
        if not rows.size:
            return
        np.add.at(model.pop.clawback, rows, amounts)
        np.add.at(self.month["clawback"], rows, amounts)
        self._clawed = np.concatenate((self._clawed, rows))
        total = float(amounts.sum())
        model.month_flow["clawbacks"] += total
        model.company["clawbacks"] += total

    def _clawed_reset(self) -> None:
        self.month["clawback"][self._clawed] = 0.0
        self._clawed = np.empty(0, np.int64)


def _lower_pv(model: MLMModel, rows: np.ndarray, pv_back: np.ndarray) -> None:
    """Lower this month's PV of ``rows`` (each once) by ``pv_back``, where they are active."""
    pop = model.pop
    act = pop.status[rows] == Status.DISTRIBUTOR
    rows, pv_back = rows[act], pv_back[act]
    if not rows.size:
        return
    pv = pop.pv[rows] - pv_back
    if model.plan.volume.floor_at_zero:
        pv = np.maximum(pv, 0.0)
    drop = pop.pv[rows] - pv
    pop.pv[rows] = pv
    model._pv_rows = np.concatenate((model._pv_rows, rows))  # zeroed next month
    pop.pv_total[rows] -= drop
    model.month_flow["pv"] -= float(drop.sum())


def _schedule(
    ring: list[list[Chunk]], month: int, who: np.ndarray, pv: np.ndarray, age: np.ndarray
) -> None:
    """Append the nonzero ``pv`` of ``who`` to the ring slot of their due month."""
    w = len(ring)
    some = pv > 0
    if not some.any():
        return
    if w == 1:
        ring[0].append((who[some], pv[some]))
        return
    for a in np.unique(age[some]):
        sel = some & (age == a)
        ring[(month + int(a)) % w].append((who[sel], pv[sel]))


def _take(ring: list[list[Chunk]], slot: int) -> Chunk:
    """The chunks of one slot, concatenated; the slot is emptied."""
    chunks = ring[slot]
    ring[slot] = []
    if not chunks:
        return _EMPTY
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def _pay_again(model: MLMModel, inp: PeriodInput, state: dict) -> PayResult:
    """Pay ``inp`` from the engine state ``state`` and put the engine's state back."""
    engine = model.pay_engine
    current = engine.state
    engine.state = copy.deepcopy(state)
    try:
        return engine.pay(inp)
    finally:
        engine.state = current
