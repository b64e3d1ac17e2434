"""Returns, refunds and clawbacks ([returns]): hand-worked cases and money conservation.

The chain cases use a three-person line F <- X <- Y paid by a two-level unilevel of 10% and
5% (no compression, no cap), so every commission and every clawback is worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation.behaviour import Purchase
from simulation.config import load_scenario
from simulation.model import MLMModel
from simulation.plans import plan_from_dict
from simulation.state import Status
from tests.helpers import check_invariants, make_model

USD_REFUND = 0.9  # returns.member_refund_share (the DSA's 90%)


def _plan(timing: str = "period_of_return", **volume):
    return plan_from_dict(
        {
            "qualification": {"min_pv": 100},
            "retail": {"markup": 0.25},
            "unilevel": {"percentages": [0.10, 0.05], "compression": "none"},
            "volume": {"returns_timing": timing, **volume},
        },
        "the test chain's plan",
    )


def _chain(timing: str, buys, *sets: str, quit_at=None, volume=None) -> MLMModel:
    """F (the founder) <- X (joins in month 1) <- Y (joins in month 2).

    ``buys(model) -> dict row -> (own_use_pv, stock_pv)`` is what each active member buys
    this month (household use bought, not from stock; stock as a top-up). ``quit_at =
    (month, row)`` makes that member quit and claim the buyback; ``volume``: more keys of
    the plan's ``[volume]`` table.
    """
    scen, _ = load_scenario(
        "classroom",
        [
            "market.population=40",
            "market.founders=1",
            "market.mean_degree=4",
            "market.heterogeneity=false",
            "retail.enabled=false",
            "quit.enabled=false",
            "quit.buyback_share=0.9",
            "returns.enabled=true",
            "returns.customer_prob=0",
            *sets,
        ],
    )
    founder = {}

    def recruit(model, rng):
        if model.month == 1:
            founder["F"] = int(model.active_ids()[0])
            founder["X"] = (founder["F"] + 1) % model.pop.n
            return np.array([founder["X"]]), np.array([founder["F"]])
        if model.month == 2:
            founder["Y"] = (founder["F"] + 2) % model.pop.n
            return np.array([founder["Y"]]), np.array([founder["X"]])
        return np.empty(0, np.int64), np.empty(0, np.int64)

    def buy(model, rng):
        who = model.active_ids()
        plan = buys(model, founder)
        own = np.array([plan.get(int(i), (0.0, 0.0))[0] for i in who], dtype=np.float64)
        stock = np.array([plan.get(int(i), (0.0, 0.0))[1] for i in who], dtype=np.float64)
        zero = np.zeros(who.size)
        return Purchase(who, own, zero, stock, zero)

    def quit_rule(model, rng):
        if quit_at is not None and model.month == quit_at[0]:
            return np.array([founder[quit_at[1]]]), np.ones(1, dtype=bool)
        return np.empty(0, np.int64), np.empty(0, bool)

    m = MLMModel(
        scenario=scen,
        plan=_plan(timing, **(volume or {})),
        agents=False,
        rules={"recruit": recruit, "buy": buy, "quit": quit_rule},
    )
    m.rows = founder
    return m


def _everyone_100_y_stock(stock_y: float, month: int | None = 2):
    """Everyone buys 100 PV for the household; Y also buys ``stock_y`` of stock (in
    ``month`` only, or every month with None)."""

    def buys(model, f):
        out = {f[k]: (100.0, 0.0) for k in ("F", "X", "Y") if k in f}
        if "Y" in f and (month is None or model.month == month):
            out[f["Y"]] = (100.0, stock_y)
        return out

    return buys


# ------------------------------------------------------------------ PV net of returns


def test_pv_is_purchases_minus_returns_for_a_member_with_known_orders():
    # Month 2: Y buys 100 PV for the household and 100 PV of stock, and returns the stock
    # (member_prob = 1, a one-month window: returned the month it was bought).
    m = _chain("period_of_return", _everyone_100_y_stock(100.0), "returns.member_prob=1")
    m.run(2)
    f = m.rows
    y, x, root = f["Y"], f["X"], f["F"]
    assert m.pop.purchases[y] == pytest.approx(200.0)  # bought: 200 PV at $1
    assert m.pop.returned[y] == pytest.approx(100.0)
    assert m.pop.pv[y] == pytest.approx(200.0 - 100.0)  # PV = purchases - returns
    assert m.pop.returns_refund[y] == pytest.approx(USD_REFUND * 100.0)
    assert m.pop.inventory_pv[y] == pytest.approx(0.0)  # the stock went back
    # Paid on net volume: X 10% of Y's 100; F 10% of X's 100 + 5% of Y's 100.
    assert m.pop.commissions_month[x] == pytest.approx(10.0)
    assert m.pop.commissions_month[root] == pytest.approx(10.0 + 5.0)
    assert m.pop.clawback.sum() == 0.0  # period_of_return: nothing to claw back
    # The company's revenue this month: 400 PV sold and Y's $60 kit, less the $90 refund.
    assert m.stats["revenue"] == pytest.approx(400.0 + 60.0 - 90.0)
    assert m.stats["returned_pv"] == pytest.approx(100.0)
    assert m.stats["return_refunds"] == pytest.approx(90.0)
    # Y's money: -200 bought + 90 refunded - kit - fees; net = inflows - outflows.
    kit, fees = m.scenario.costs.starter_kit_usd, m.scenario.costs.fixed_usd_monthly
    own_use = 100.0 * m.scenario.buy.own_use_value_share
    assert m.pop.net_income(rows=np.array([y]))[0] == pytest.approx(
        90.0 - 200.0 - kit - fees + own_use
    )
    check_invariants(m)


def test_customer_returns_are_paid_back_at_retail_price_and_refunded_at_wholesale():
    # X's two customers order 25 PV each in month 2 and both return the order that month.
    def retail(model, rng):
        pop = model.pop
        pop.customer_pv[:] = 0
        if model.month == 2:
            x = model.rows["X"]
            prospects = np.flatnonzero(pop.status == Status.PROSPECT)[:2]
            model.add_customers(prospects, np.array([x, x]))
            pop.customer_pv[x] = 50.0

    m = _chain(
        "period_of_return",
        _everyone_100_y_stock(0.0),
        "returns.customer_prob=1",
        "returns.member_prob=0",
    )
    m.rules["retail"] = retail
    m.run(2)
    x = m.rows["X"]
    assert m.pop.purchases[x] == pytest.approx(100.0 + 100.0 + 50.0)  # months 1 and 2
    assert m.pop.retail_sales[x] == pytest.approx(50.0 * 1.25)  # markup 25%
    assert m.pop.returned[x] == pytest.approx(50.0)
    assert m.pop.pv[x] == pytest.approx(150.0 - 50.0)  # this month: bought 150, back 50
    assert m.pop.customer_refunds[x] == pytest.approx(50.0 * 1.25)  # paid back at retail
    assert m.pop.returns_refund[x] == pytest.approx(50.0)  # customer_refund_share 1.0
    assert m.pop.retail_margin[x] == pytest.approx(0.0)  # the sale is undone
    check_invariants(m)


def test_a_return_within_a_longer_window_lowers_the_pv_of_the_month_it_is_made_in():
    # Window of 2 months: Y's 100 PV of stock of month 2 comes back in month 2 or 3.
    m = _chain(
        "period_of_return",
        _everyone_100_y_stock(100.0),
        "returns.member_prob=1",
        "returns.window_months=2",
    )
    pv_y = {}
    for _ in range(3):
        m.step()
        if "Y" in m.rows:
            pv_y[m.month] = float(m.pop.pv[m.rows["Y"]])
    # Bought: 200 PV in month 2, 100 in month 3; the month the stock came back lost 100 PV.
    assert pv_y in ({2: 100.0, 3: 100.0}, {2: 200.0, 3: 0.0})
    assert m.pop.returns_refund[m.rows["Y"]] == pytest.approx(90.0)


# ------------------------------------------------------------------ clawback


def test_clawback_is_exact_on_a_chain():
    # Month 2: F, X, Y buy 100 PV each for the household, Y also 100 PV of stock which Y
    # returns (same month). Paid on gross volume: X 10% x 200 = 20, F 10% x 100 + 5% x 200
    # = 20. Paid as if the stock had never been sold: X 10, F 15. Clawed back: X 10 (10% of
    # the 100 returned), F 5 (5% of it); Y was paid nothing and pays nothing back.
    m = _chain("clawback", _everyone_100_y_stock(100.0), "returns.member_prob=1")
    m.run(2)
    f = m.rows
    assert m.pop.pv[f["Y"]] == pytest.approx(200.0)  # the month's PV is not lowered
    assert m.pop.commissions_month[f["X"]] == pytest.approx(20.0)
    assert m.pop.commissions_month[f["F"]] == pytest.approx(20.0)
    assert m.pop.clawback[f["X"]] == pytest.approx(10.0)
    assert m.pop.clawback[f["F"]] == pytest.approx(5.0)
    assert m.pop.clawback[f["Y"]] == 0.0
    assert m.stats["clawbacks"] == pytest.approx(15.0)
    assert m.company["clawbacks"] == pytest.approx(15.0)
    # The clawback is in net income: X's net is commissions - clawback - costs.
    x = np.array([f["X"]])
    kit, fees = m.scenario.costs.starter_kit_usd, m.scenario.costs.fixed_usd_monthly
    own_use = 200.0 * m.scenario.buy.own_use_value_share
    assert m.pop.net_income(rows=x)[0] == pytest.approx(
        20.0 - 10.0 - 200.0 - kit - 2 * fees + own_use
    )
    check_invariants(m)


def test_clawback_pays_the_month_as_if_the_goods_were_never_sold():
    # X buys 50 for the household and 50 of stock (PV 100: qualified) and returns the stock.
    # Without it X's PV is 50: not qualified, so all of X's 20 (10% of Y's 200) is clawed
    # back; F was paid 10% x 100 + 5% x 200 = 20 and would have had 10% x 50 + 5% x 200 = 15.
    def buys(model, f):
        out = {f[k]: (100.0, 0.0) for k in ("F", "Y") if k in f}
        if "X" in f:
            out[f["X"]] = (50.0, 50.0)
        if "Y" in f:
            out[f["Y"]] = (200.0, 0.0)
        return out

    m = _chain("clawback", buys, "returns.member_prob=1")
    m.run(2)
    f = m.rows
    assert m.pop.commissions_month[f["X"]] == pytest.approx(20.0)
    # Month 1 (X's first month, 50 of stock returned too): X earned nothing, F 10% x 100 = 10
    # gross and 10% x 50 = 5 without the stock; month 2 as above.
    assert m.pop.clawback[f["X"]] == pytest.approx(20.0)
    assert m.pop.clawback[f["F"]] == pytest.approx((10.0 - 5.0) + (20.0 - 15.0))


def test_clawback_within_a_longer_window_is_taken_when_the_goods_come_back():
    m = _chain(
        "clawback",
        _everyone_100_y_stock(100.0),
        "returns.member_prob=1",
        "returns.window_months=3",
    )
    taken = {}
    for _ in range(5):
        m.step()
        taken[m.month] = m.stats["clawbacks"]
    # Whichever of months 2-4 the stock came back in, the clawback is the same 10 + 5 and
    # falls in that month only.
    assert sum(taken.values()) == pytest.approx(15.0)
    assert sorted(taken.values())[-1] == pytest.approx(15.0)
    back = max(taken, key=taken.get)
    assert 2 <= back <= 4
    assert m.pop.clawback[m.rows["X"]] == pytest.approx(10.0)


def test_buyback_at_quitting_refunds_its_share_and_claws_back_what_was_paid_on_it():
    # Y buys 100 PV of stock in month 2 (kept: member_prob = 0) and quits in month 3
    # claiming the buyback: 90% of $100 back. Month 3's pay on a volume as large as the
    # stock bought back: X 10%, F 5%.
    m = _chain(
        "clawback",
        _everyone_100_y_stock(100.0),
        "returns.member_prob=0",
        quit_at=(3, "Y"),
    )
    m.run(3)
    f = m.rows
    assert m.pop.status[f["Y"]] == Status.QUIT
    assert m.pop.buyback_refund[f["Y"]] == pytest.approx(0.9 * 100.0)
    assert m.pop.clawback[f["X"]] == pytest.approx(10.0)
    assert m.pop.clawback[f["F"]] == pytest.approx(5.0)
    assert m.pop.clawback[f["Y"]] == 0.0
    check_invariants(m)


@pytest.mark.parametrize("window", [0, 1])
def test_buyback_outside_its_window_refunds_and_claws_back_nothing(window):
    # Stock bought in month 2, quitting in month 3: a one-month buyback window (month 3
    # only) leaves it outside; no window (0) buys it back.
    m = _chain(
        "clawback",
        _everyone_100_y_stock(100.0),
        "returns.member_prob=0",
        f"quit.buyback_window_months={window}",
        quit_at=(3, "Y"),
    )
    m.run(3)
    f = m.rows
    inside = window == 0
    assert m.pop.buyback_refund[f["Y"]] == pytest.approx(90.0 if inside else 0.0)
    assert m.pop.clawback[f["X"]] == pytest.approx(10.0 if inside else 0.0)


# ------------------------------------------------------------------ money and baseline


@pytest.mark.parametrize("timing", ["period_of_return", "clawback"])
def test_money_is_conserved_every_month_with_returns(timing):
    m = make_model(
        "market.population=600",
        "scenario.months=14",
        "returns.enabled=true",
        "returns.window_months=3",
        "returns.customer_prob=0.3",
        "returns.member_prob=0.3",
        "quit.buyback_claim_prob=0",
        f"plan.volume.returns_timing={timing}",
        agents=False,
    )
    pop = m.pop
    before = pop.snapshot(
        (
            "purchases",
            "kit_cost",
            "buyback_refund",
            "returns_refund",
            "customer_refunds",
            "clawback",
            "commissions",
        )
    )
    for _ in range(14):
        m.step()
        check_invariants(m)
        d = {k: pop[k].sum() - v.sum() for k, v in before.items()}
        st = m.stats
        # Company revenue = what members paid it, net of refunds.
        assert st["revenue"] == pytest.approx(
            d["purchases"] + d["kit_cost"] - d["buyback_refund"] - d["returns_refund"]
        )
        assert st["return_refunds"] == pytest.approx(d["returns_refund"])
        assert st["customer_refunds"] == pytest.approx(d["customer_refunds"])
        assert st["returned_pv"] == pytest.approx(pop.returned.sum())
        # Every clawback has a payer (a member) and a payee (the company).
        assert st["clawbacks"] == pytest.approx(d["clawback"], abs=1e-9)
        assert st["commissions"] == pytest.approx(d["commissions"])
        before = pop.snapshot(tuple(before))
    # Nobody pays back more than they were paid (no buyback claims here).
    assert (pop.clawback <= pop.commissions + 1e-9).all()
    if timing == "clawback":
        assert pop.clawback.sum() > 0
    else:
        assert pop.clawback.sum() == 0
    assert pop.returns_refund.sum() > 0 and pop.customer_refunds.sum() > 0


def test_returns_on_with_nothing_returned_changes_no_result():
    # The returns stream is spawned after every other, so switching returns on without any
    # return leaves every other draw, and every pre-existing column, as it was.
    sets = ("market.population=600", "scenario.months=12")
    off = make_model(*sets, agents=False).run()
    on = make_model(
        *sets,
        "returns.enabled=true",
        "returns.customer_prob=0",
        "returns.member_prob=0",
        "returns.window_months=2",
        agents=False,
    ).run()
    a = off.datacollector.get_model_vars_dataframe()
    b = on.datacollector.get_model_vars_dataframe()
    # returned_pv is always a column (the purchase classes of the legal tests), 0 when off.
    assert list(b.columns) == [*a.columns, "return_refunds", "customer_refunds", "clawbacks"]
    for col in a.columns:
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)
    assert (b["returned_pv"] == 0).all()


def test_returns_off_adds_no_column():
    m = make_model("market.population=300", "scenario.months=2", agents=False).run()
    cols = m.datacollector.get_model_vars_dataframe().columns
    assert not {"return_refunds", "customer_refunds", "clawbacks"} & set(cols)


def test_the_report_and_the_disclosure_statement_net_the_clawbacks(tmp_path):
    from simulation import outcomes, results
    from simulation.runner import run_scenario

    scen, path = load_scenario(
        "classroom",
        [
            "market.population=500",
            "scenario.months=15",
            "returns.enabled=true",
            "returns.customer_prob=0.3",
            "returns.member_prob=0.3",
            "plan.volume.returns_timing=clawback",
        ],
    )
    res = run_scenario(scen, scenario_path=path, out=tmp_path / "run", figures=True)
    m = res["model"]
    dist = results.distributor_columns(m)
    start = m.year_start
    ids = dist["id"]
    year_comm = m.pop.commissions[ids] - start["commissions"][ids]
    year_claw = m.pop.clawback[ids] - start["clawback"][ids]
    assert year_claw.sum() > 0
    np.testing.assert_allclose(dist["commissions_year"], year_comm - year_claw)
    run = results.run_data(m)
    c = outcomes.analyse(run).facts["company"]
    assert c["clawbacks"] == pytest.approx(m.pop.clawback.sum())
    assert c["commissions_net"] == pytest.approx(m.pop.commissions.sum() - m.pop.clawback.sum())
    assert c["return_refunds"] == pytest.approx(m.pop.returns_refund.sum())
    page = (res["run_dir"] / "report.html").read_text(encoding="utf-8")
    assert "of commissions were clawed back" in page
    assert "commissions net of clawbacks" in page  # the company table's row
    assert "lost money as participants" in page


@pytest.mark.parametrize(
    "plan",
    ["binary_weekly_cap", "hybrid_unilevel_stairstep_matching", "matrix_3x7", "unilevel_7_dt"],
)
def test_paying_a_month_again_leaves_the_plan_engine_as_it_was(plan, monkeypatch):
    # The clawback pays each month a second (and, with buyback claims, a third) time. Those
    # runs must not move what the plan carries from month to month (binary carry-over,
    # placements, fast-start windows): with them skipped, the gross pay is the same.
    from simulation.returns import ReturnsBook

    sets = (
        "market.population=400",
        "scenario.months=10",
        f"plan.file={plan}",
        "returns.enabled=true",
        "returns.window_months=2",
        "returns.customer_prob=0.3",
        "returns.member_prob=0.3",
        "quit.buyback_claim_prob=1",
        # Clawbacks lower the month's net income, which the quit hazard reads: take that
        # link out, so both runs have the same people.
        "quit.loss_extra=0",
        "plan.volume.returns_timing=clawback",
    )
    with_extra = make_model(*sets, agents=False).run()
    assert with_extra.pop.clawback.sum() != 0
    monkeypatch.setattr(ReturnsBook, "clawback_for_month", lambda *a, **k: None)
    monkeypatch.setattr(ReturnsBook, "buyback_clawback", lambda *a, **k: None)
    without = make_model(*sets, agents=False).run()
    a = with_extra.datacollector.get_model_vars_dataframe()
    b = without.datacollector.get_model_vars_dataframe()
    for col in ("commissions", "pv", "qualified", "revenue", "distributors"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)
    assert (b["clawbacks"] == 0).all()


@pytest.mark.parametrize(("claw_window", "seed"), [(1, 42), (1, 43), (1, 45), (3, 45)])
def test_a_return_after_the_plans_clawback_window_lowers_the_month_of_the_return(claw_window, seed):
    # Y's 100 PV of stock of month 2 comes back at an age of 0, 1 or 2 months. Within the
    # plan's clawback window it is clawed back (X 10, F 5) and the PV of month 2 is kept;
    # after it, nothing is clawed back and the PV of the month of the return drops by 100.
    m = _chain(
        "clawback",
        _everyone_100_y_stock(100.0),
        "returns.member_prob=1",
        "returns.window_months=3",
        f"scenario.seed={seed}",
        volume={"clawback_window_months": claw_window},
    )
    returned = {}
    for _ in range(5):
        m.step()
        returned[m.month] = m.stats["returned_pv"]
    back = max(returned, key=returned.get)
    assert returned[back] == pytest.approx(100.0) and 2 <= back <= 4
    y = m.rows["Y"]
    bought = 100.0 * 4 + 100.0  # months 2-5 for the household, 100 of stock in month 2
    if back - 2 < claw_window:
        assert m.pop.clawback[m.rows["X"]] == pytest.approx(10.0)
        assert m.pop.pv_total[y] == pytest.approx(bought)
    else:
        assert m.pop.clawback.sum() == 0.0
        assert m.pop.pv_total[y] == pytest.approx(bought - 100.0)


def test_customers_of_an_overstretched_member_return_more(monkeypatch):
    # customer_prob / support: with every member's support at 1/4, a 25% chance becomes
    # certain, so every customer order comes back the month it is bought.
    from simulation import behaviour

    monkeypatch.setattr(behaviour, "support", lambda model, who: np.full(who.size, 0.25))
    m = make_model(
        "market.population=400",
        "returns.enabled=true",
        "returns.customer_prob=0.25",
        "returns.member_prob=0",
        "people.overload_strength=1",
        agents=False,
    )
    ordered = 0.0
    for _ in range(6):
        m.step()
        assert m.stats["returned_pv"] == pytest.approx(m.stats["customer_pv"])
        ordered += m.stats["customer_pv"]
    assert ordered > 0
