"""The MLM market as a Mesa model: one ``step()`` is one month (``docs/model.md``).

Phases, each vectorised over all distributors at once:

1. recruit   2. retail   3. buy   4. volume   5. pay   6. account   7. quit (roll-up)
8. collect.

State is columnar (:class:`simulation.state.Population`); distributors are also Mesa agents
(:class:`simulation.agents.Distributor`) that view their row.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from simulation import behaviour, collect
from simulation import state as money
from simulation.agents import Distributor
from simulation.config import Scenario, apply_values, check_live, scenario_from_dict
from simulation.network import build as build_network
from simulation.plans import PeriodInput, Plan, load_plan
from simulation.returns import ReturnsBook
from simulation.state import MONEY_FIELDS, Population, Segment, Status
from simulation.tree import Forest, reattach_to_active, recompute_depth

# Named random streams, one per concern. New streams go at the end: SeedSequence.spawn gives
# the first ones the same children whatever follows, so earlier results do not move.
STREAMS = (
    "network",
    "persons",
    "founders",
    "recruit",
    "retail",
    "buy",
    "quit",
    "segments",
    "returns",
)

# Short constructor keywords (for Mesa's batch_run and the web page) -> scenario key paths.
ALIASES = {
    "population": "market.population",
    "founders": "market.founders",
    "network": "market.network",
    "mean_degree": "market.mean_degree",
    "pitches_per_month": "recruit.pitches_per_month",
    "join_prob": "recruit.join_prob",
    "months": "scenario.months",
    "plan": "plan.file",
}

# Cumulative money kept 12 months before the end for annual (income disclosure) figures.
YEAR_FIELDS = MONEY_FIELDS


class MLMModel(mesa.Model):
    """An MLM company recruiting, selling and paying in a finite market.

    Args:
        scenario: a validated :class:`Scenario` (default: all defaults).
        seed: master seed (default: ``scenario.scenario.seed``).
        plan: a :class:`Plan` to use instead of the scenario's plan file, or the name or path
            of a plan file (the same as ``plan.file``).
        rules: replacement behaviour rules by phase name (see :mod:`simulation.behaviour`).
        agents: create a Mesa agent per joiner (default True; large runs may switch it off
            and use :meth:`distributor` for on-demand views).
        **params: scenario overrides, either ``section__key=value`` or a short alias
            (``population``, ``join_prob``, ``pitches_per_month``, ``plan``, ...).
    """

    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        seed: int | None = None,
        plan: Plan | str | Path | None = None,
        rules: dict[str, Callable] | None = None,
        agents: bool = True,
        **params: Any,
    ):
        if scenario is None:
            scenario = Scenario()
        if isinstance(plan, str | Path):
            params = {**params, "plan": str(plan)}
            plan = None
        if params:
            values = {ALIASES.get(k, k.replace("__", ".")): v for k, v in params.items()}
            data = apply_values(scenario.to_dict(), values, "model parameters")
            scenario = scenario_from_dict(data, "model parameters")
        seed = scenario.scenario.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.scenario = scenario
        self.seed = seed
        self.month = 0
        self.make_agents = agents
        children = np.random.SeedSequence(seed).spawn(len(STREAMS))
        self.streams = {
            name: np.random.default_rng(c) for name, c in zip(STREAMS, children, strict=True)
        }
        self.rules = behaviour.rules_for(scenario)
        if rules:
            unknown = set(rules) - set(self.rules)
            if unknown:
                raise ValueError(f"unknown rule names {sorted(unknown)}; known: {list(self.rules)}")
            self.rules.update(rules)
        if plan is None:
            plan = load_plan(scenario.plan.file, changes=scenario.plan.set)
        self.plan = plan
        self.pay_engine = self.plan.engine()
        m = scenario.market
        self.pop = Population(m.population)
        self.network = build_network(
            m.network,
            m.population,
            self.streams["network"],
            **_network_params(scenario),
        )
        self._init_persons()
        # Stock bought into inventory in each of the last buyback_window_months months
        # (a ring, row = month % window), for a buyback limited to recent stock.
        window = scenario.quit.buyback_window_months
        self._stock_bought = np.zeros((window, m.population)) if window else None
        # [returns]: the returns and clawbacks due in the coming months, and this month's
        # money of returns (per person) for the account phase.
        self.returns_book = (
            ReturnsBook(
                m.population,
                scenario.returns.window_months,
                self.plan.volume.returns_timing == "clawback",
            )
            if scenario.returns.enabled
            else None
        )
        # This month's pay input and the plan engine's state before it (kept only when the
        # plan claws back, to pay the month again).
        self.pay_input: PeriodInput | None = None
        self.pay_state_before: dict[str, Any] | None = None
        self.agent_of: dict[int, Distributor] = {}
        self._active: np.ndarray | None = None
        self.company = {"revenue": 0.0, "paid": 0.0, "refunds": 0.0, "clawbacks": 0.0}
        self.last_pay = None
        self.year_start: dict[str, np.ndarray] | None = None
        # This month's company-wide flows (USD or PV), reset at the start of each month and
        # read by the collect phase (:mod:`simulation.collect`).
        self.month_flow: dict[str, float] = {}
        # Scenario changes scheduled for the start of a month: month -> {key: value}.
        self.changes: dict[int, dict[str, Any]] = {}
        self.joined_this_month = np.empty(0, np.int64)
        self.ever_ids = np.empty(0, np.int64)  # everyone who ever joined, in join order
        self.quit_this_month = np.empty(0, np.int64)
        self.rejoined_this_month = 0
        self.recruits_by_level = np.zeros(1)
        self.phase_seconds: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={k: _reporter(k) for k in collect.monthly_columns(self.plan, scenario)},
            tables={"levels": list(collect.LEVEL_COLUMNS)},
        )
        self._reset_flow()
        founders = self._draw_founders()
        self._join(founders, np.full(m.founders, -1, np.int64))
        self._collect()

    # ------------------------------------------------------------------ setup
    def _init_persons(self) -> None:
        m = self.scenario.market
        b = self.scenario.buy
        pop = self.pop
        rng = self.streams["persons"]
        n = pop.n
        if m.heterogeneity:
            pop.willingness[:] = rng.beta(m.willingness_alpha, m.willingness_beta, n)
            pop.effort[:] = _lognormal_mean1(rng, m.effort_sigma, n)
            pop.spending[:] = _lognormal_mean1(rng, m.spending_sigma, n)
        else:
            pop.willingness[:] = 1.0
        pop.autoship[:] = rng.random(n) < b.autoship_share
        pop.loader[:] = rng.random(n) < b.loader_share
        # Draws for switched-on mechanisms come after all others, so that switching them on
        # does not move anyone else's draws.
        people = self.scenario.people
        if people.skill_sigma > 0:
            pop.skill[:] = _lognormal_mean1(rng, people.skill_sigma, n)

    def _draw_founders(self) -> np.ndarray:
        """int64 rows of the founders, sorted: random persons, or leaders.

        Leaders (``people.leader_founders``) are drawn among the ``leader_top_share`` of
        persons with the most contacts, and get ``leader_skill`` x skill.
        """
        m, people = self.scenario.market, self.scenario.people
        rng = self.streams["founders"]
        if not people.leader_founders:
            founders = rng.choice(m.population, size=m.founders, replace=False)
            return np.sort(founders).astype(np.int64)
        degree = (
            np.diff(self.network.indptr) if self.network is not None else np.zeros(m.population)
        )
        pool = max(m.founders, int(np.ceil(people.leader_top_share * m.population)))
        # The best-connected first; ties broken by row (a stable sort).
        best = np.argsort(-degree, kind="stable")[:pool]
        founders = np.sort(rng.choice(best, size=m.founders, replace=False)).astype(np.int64)
        self.pop.leader[founders] = True
        self.pop.skill[founders] *= people.leader_skill
        return founders

    # ------------------------------------------------------------------ views
    def active_ids(self) -> np.ndarray:
        """int64 rows of active distributors (cached within a phase)."""
        if self._active is None:
            self._active = np.flatnonzero(self.pop.status == Status.DISTRIBUTOR)
        return self._active

    def distributor(self, pid: int) -> Distributor:
        """The Mesa agent of a person who joined (created on demand if agents are off)."""
        agent = self.agent_of.get(int(pid))
        if agent is None:
            if self.pop.join_month[pid] < 0:
                raise KeyError(f"person {pid} never joined")
            agent = Distributor(self, int(pid))
            self.agent_of[int(pid)] = agent
        return agent

    def sponsor_forest(self) -> Forest:
        """The current sponsor forest of active distributors, grouped by depth."""
        active = self.pop.status == Status.DISTRIBUTOR
        return Forest.from_depth(
            np.where(active, self.pop.sponsor, -1), np.where(active, self.pop.depth, -1)
        )

    def schedule_change(self, month: int, key: str, value: Any) -> None:
        """Set scenario parameter ``key`` (``section.key``) to ``value`` from ``month`` on.

        Only parameters read every month can change mid-run; a parameter read once at the
        start (``market.population``, ``buy.autoship_share``, ...) is refused with a
        :class:`~simulation.errors.ConfigError` naming it. The value is validated now.

        Raises:
            ConfigError: unknown key, a start-up parameter, or an invalid value.
        """
        check_live(key, value, f"change at month {month}")
        if month <= self.month:
            raise ValueError(f"month {month} has already been simulated (now {self.month})")
        self.changes.setdefault(int(month), {})[key] = value

    def _apply_changes(self) -> None:
        for key, value in self.changes.pop(self.month, {}).items():
            section, _, name = key.partition(".")
            setattr(getattr(self.scenario, section), name, value)

    # ------------------------------------------------------------------ bookkeeping
    def add_customers(self, customers: np.ndarray, sellers: np.ndarray) -> None:
        """Make prospects ``customers`` the customers of ``sellers`` (same length)."""
        pop = self.pop
        pop.status[customers] = Status.CUSTOMER
        pop.customer_of[customers] = sellers
        np.add.at(pop.customers, sellers, 1)

    def drop_customers(self, customers: np.ndarray) -> None:
        """Customers stop buying and become prospects again."""
        pop = self.pop
        customers = customers[pop.status[customers] == Status.CUSTOMER]
        np.subtract.at(pop.customers, pop.customer_of[customers], 1)
        pop.customer_of[customers] = -1
        pop.status[customers] = Status.PROSPECT

    def _reset_flow(self) -> None:
        self.month_flow = dict.fromkeys(
            (
                "revenue",
                "kits",
                "refunds",
                "paid",
                "pre_cap",
                "retail_sales",
                "sales_total",
                "own_use_pv",
                "topup_pv",
                "loading_pv",
                "customer_pv",
                "pv",
                "bv",
                "breakage",
                "commissions_revenue",
                "returned_pv",
                "return_refunds",
                "customer_refunds",
                "clawbacks",
            ),
            0.0,
        )

    def _join(self, joiners: np.ndarray, sponsors: np.ndarray) -> None:
        """Book joins: status, tree position, starter kit, agents."""
        if joiners.size == 0:
            self.joined_this_month = joiners
            self.rejoined_this_month = 0
            return
        pop = self.pop
        was_customer = joiners[pop.status[joiners] == Status.CUSTOMER]
        self.drop_customers(was_customer)
        # Rejoiners (quitters recruited again) keep their row and lifetime accounts.
        first_time = joiners[pop.join_month[joiners] < 0]
        self.rejoined_this_month = joiners.size - first_time.size
        pop.quit_month[joiners] = -1
        pop.status[joiners] = Status.DISTRIBUTOR
        pop.sponsor[joiners] = sponsors
        pop.enroller[joiners] = sponsors
        has = sponsors >= 0
        s = np.maximum(sponsors, 0)
        pop.level[joiners] = np.where(has, pop.level[s] + 1, 1)
        pop.depth[joiners] = np.where(has, pop.depth[s] + 1, 0)
        pop.join_month[joiners] = self.month
        pop.months_idle[joiners] = 0
        self._decide_why(joiners, sponsors)
        np.add.at(pop.recruits, sponsors[has], 1)
        kit = self.scenario.costs.starter_kit_usd
        pop.kit_cost[joiners] += kit
        self.month_flow["kits"] += kit * joiners.size
        self.month_flow["revenue"] += kit * joiners.size
        self.company["revenue"] += kit * joiners.size
        self.joined_this_month = joiners
        self.ever_ids = np.concatenate((self.ever_ids, first_time))
        self._active = None
        if self.make_agents:
            for pid in first_time.tolist():
                self.agent_of[pid] = Distributor(self, pid)

    def _decide_why(self, joiners: np.ndarray, sponsors: np.ndarray) -> None:
        """Segment and first expectation of this month's joiners.

        Governed by ``[segments]`` and ``[expectations]``; nothing happens when both are off.
        """
        seg, exp = self.scenario.segments, self.scenario.expectations
        if not (seg.enabled or exp.enabled):
            return
        pop = self.pop
        has = sponsors >= 0
        recruiter = np.maximum(sponsors, 0)
        if exp.enabled:
            # Recruits start from their recruiter's claim; founders from breaking even on
            # their costs and outside option.
            neutral = self.scenario.costs.fixed_usd_monthly + exp.outside_option_usd
            claim = behaviour.recruiter_claim(self, recruiter)
            pop.expected_income[joiners] = np.where(has, claim, neutral)
        if not seg.enabled:
            return
        # P(discount | joined): discount buyers join whatever the claim, others only for the
        # business (with expectations off, the appeal is 1 and this is discount_share).
        d = seg.discount_share
        appeal = (
            behaviour.business_appeal(self, claim) if exp.enabled else np.ones(joiners.size)
        )
        p_discount = np.where(has, d / np.maximum(d + (1.0 - d) * appeal, 1e-300), 0.0)
        # Founders (no sponsor) are builders: the company's first distributors build.
        p_retailer = np.where(has, seg.retailer_share / (1.0 - d) if d < 1 else 0.0, 0.0)
        u = self.streams["segments"].random(joiners.size)
        rest = (u - p_discount) / np.maximum(1.0 - p_discount, 1e-300)
        pop.segment[joiners] = np.where(
            u < p_discount,
            Segment.DISCOUNT,
            np.where(rest < p_retailer, Segment.RETAILER, Segment.BUILDER),
        )

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """One month: recruit, retail, buy, volume and pay, account, quit, collect."""
        self.month = self.steps
        if self.changes:
            self._apply_changes()
        self._reset_flow()
        self._active = None
        s = self.streams
        clock = _PhaseClock(self.phase_seconds)
        joiners, sponsors = self.rules["recruit"](self, s["recruit"])
        cap = self.scenario.recruit.max_joins_per_month
        if cap and len(joiners) > cap:
            joiners, sponsors = joiners[:cap], sponsors[:cap]  # the first in join order
        self._validate_joins(joiners, sponsors)
        self.recruits_by_level = np.bincount(
            self.pop.level[sponsors[sponsors >= 0]], minlength=2
        ).astype(np.float64)
        self._join(joiners, sponsors)
        clock.lap("recruit")
        self.rules["retail"](self, s["retail"])
        clock.lap("retail")
        purchase = self.rules["buy"](self, s["buy"])
        self._book_purchases(purchase)
        if self.returns_book is not None:
            self.returns_book.schedule_and_take(self, s["returns"], purchase)
        clock.lap("buy")
        pay = self._pay()
        clock.lap("pay")
        self._account(pay, purchase)
        clock.lap("account")
        quitters, claims = self.rules["quit"](self, s["quit"])
        self._quit(np.asarray(quitters, dtype=np.int64), np.asarray(claims, dtype=bool))
        clock.lap("quit")
        self._collect()
        if self.month == self.scenario.scenario.months - 12:
            self.year_start = self.pop.snapshot(YEAR_FIELDS)
        # Mesa's batch_run and SolaraViz stop at the scenario's horizon.
        self.running = self.month < self.scenario.scenario.months
        clock.lap("collect")

    def _validate_joins(self, joiners: np.ndarray, sponsors: np.ndarray) -> None:
        pop = self.pop
        if joiners.size != sponsors.size:
            raise ValueError("recruit rule: joiners and sponsors differ in length")
        if np.unique(joiners).size != joiners.size:
            raise ValueError("recruit rule: a person joins twice in one month")
        closed = pop.status[joiners] > Status.CUSTOMER
        if self.scenario.rejoin.enabled:
            closed &= pop.status[joiners] != Status.QUIT
        if joiners.size and closed.any():
            raise ValueError("recruit rule: only prospects, customers and (with rejoining) "
                             "quitters can join")
        ok = sponsors < 0
        ok |= pop.status[np.maximum(sponsors, 0)] == Status.DISTRIBUTOR
        if not ok.all():
            raise ValueError("recruit rule: a sponsor is not an active distributor")

    def _book_purchases(self, p: behaviour.Purchase) -> None:
        pop = self.pop
        usd = self.scenario.units.usd_per_pv
        who = p.who
        bought_own = p.own_use_pv - p.from_inventory_pv
        cust = pop.customer_pv[who].astype(np.float64)
        pv = bought_own + cust + p.topup_pv + p.loading_pv
        pop.pv[:] = 0
        pop.pv[who] = pv
        pop.inventory_pv[who] += p.topup_pv + p.loading_pv - p.from_inventory_pv
        if self._stock_bought is not None:
            ring = self._stock_bought[self.month % self._stock_bought.shape[0]]
            ring[:] = 0.0
            ring[who] = p.topup_pv + p.loading_pv
        cost = pv * usd
        self._purchase_month = cost
        pop.purchases[who] += cost
        pop.pv_total[who] += pv
        pop.own_use_value[who] += p.own_use_pv * usd * self.scenario.buy.own_use_value_share
        markup = self.plan.retail.markup
        sales = cust * usd * (1.0 + markup)
        pop.retail_sales[who] += sales
        self._margin_month = cust * usd * markup
        pop.retail_margin[who] += self._margin_month
        f = self.month_flow
        f["revenue"] += float(cost.sum())
        self.company["revenue"] += float(cost.sum())
        f["retail_sales"] += float(sales.sum())
        f["own_use_pv"] += float(p.own_use_pv.sum())
        f["topup_pv"] += float(p.topup_pv.sum())
        f["loading_pv"] += float(p.loading_pv.sum())
        f["customer_pv"] += float(cust.sum())
        f["pv"] += float(pv.sum())
        self._retail_sales_month = np.zeros(pop.n)
        self._retail_sales_month[who] = sales

    def _pay(self):
        pop = self.pop
        active = pop.status == Status.DISTRIBUTOR
        forest = self.sponsor_forest()
        pv = pop.pv
        inp = PeriodInput(
            period=self.month,
            sponsor=forest.parent,
            pv=pv,
            bv=pv * self.scenario.units.bv_per_pv,
            active=active,
            joined_period=pop.join_month.astype(np.int32),
            new_recruits=self.joined_this_month,
            forest=forest,
            kit_bought=pop.join_month == self.month,
            retail_sales=self._retail_sales_month,
        )
        book = self.returns_book
        clawback = book is not None and book.clawback_due is not None
        if clawback:
            # This month may be paid again (the clawback's counterfactual), from here.
            self.pay_state_before = copy.deepcopy(self.pay_engine.state)
            self.pay_input = inp
        result = self.pay_engine.pay(inp)
        if result.rank is not None:
            pop.rank[:] = result.rank
            # Ranks are paid before quitting, so this month's quitters keep the rank they held.
            pop.rank_last[active] = pop.rank[active]
            np.maximum(pop.rank_highest, pop.rank, out=pop.rank_highest)
        self.last_pay = result
        f = self.month_flow
        f["bv"] = float(inp.bv.sum())
        f["paid"] = result.paid
        f["pre_cap"] = result.pre_cap_total
        f["commissions_revenue"] = result.revenue
        f["breakage"] = float(sum(result.breakage.values()))
        self.company["paid"] += result.paid
        if clawback:
            book.clawback_for_month(self, inp, self.pay_state_before)
        return result

    def _account(self, pay, purchase: behaviour.Purchase) -> None:
        pop = self.pop
        who = purchase.who
        commissions = pay.total
        pop.commissions_month[:] = commissions
        pop.commissions += commissions
        fixed = self.scenario.costs.fixed_usd_monthly
        seg = self.scenario.segments
        if seg.enabled:
            discount = pop.segment[who] == Segment.DISCOUNT
            fixed = np.where(discount, seg.discount_fixed_usd_monthly, fixed)
        pop.fixed_costs[who] += fixed
        usd = self.scenario.units.usd_per_pv
        kit = np.where(pop.join_month[who] == self.month, self.scenario.costs.starter_kit_usd, 0.0)
        # This month's money of the active distributors, through the one definition of net
        # income (own use valued); buyback refunds come after, at quitting.
        month = {
            "commissions": commissions[who],
            "retail_sales": self._retail_sales_month[who],
            "buyback_refund": 0.0,
            "purchases": self._purchase_month,
            "kit_cost": kit,
            "fixed_costs": fixed,
            "own_use_value": purchase.own_use_pv * usd * self.scenario.buy.own_use_value_share,
        }
        back = self.returns_book.month if self.returns_book is not None else None
        if back is not None:
            # [returns]: this month's refunds, money paid back to customers and clawbacks.
            month["returns_refund"] = back["refund"][who]
            month["customer_refunds"] = back["customer_refunds"][who]
            month["clawback"] = back["clawback"][who]
        pop.net_month[:] = 0
        pop.net_month[who] = money.net_income(month)
        earned = commissions[who] > 0
        pop.months_idle[who] = np.where(earned, 0, pop.months_idle[who] + 1)
        exp = self.scenario.expectations
        if exp.enabled:
            # Adaptive expectations: move toward this month's income from the business
            # (commissions and retail margin).
            income = commissions[who] + self._margin_month
            if back is not None:
                # Customers' returns take back margin, clawbacks take back commissions.
                income = income - back["margin_lost"][who] - month["clawback"]
            e = pop.expected_income[who]
            pop.expected_income[who] = e + exp.adaptation * (income - e)

    def _quit(self, quitters: np.ndarray, claims: np.ndarray) -> None:
        pop = self.pop
        self.quit_this_month = quitters
        if quitters.size == 0:
            return
        if (pop.status[quitters] != Status.DISTRIBUTOR).any():
            raise ValueError("quit rule: only active distributors can quit")
        usd = self.scenario.units.usd_per_pv
        q = self.scenario.quit
        claimers = quitters[claims]
        stock = pop.inventory_pv[claimers].astype(np.float64)
        if self._stock_bought is not None:
            # Household use comes from the oldest stock first, so what is left is the most
            # recent: the part bought within the window is at most what the window added.
            stock = np.minimum(stock, self._stock_bought[:, claimers].sum(axis=0))
        refund = stock * usd
        refund *= q.buyback_share
        if q.kit_refundable:
            window = q.buyback_window_months
            recent = (self.month - pop.join_month[claimers] < window) if window else True
            refund += np.where(recent, pop.kit_cost[claimers] * q.buyback_share, 0.0)
        pop.buyback_refund[claimers] += refund
        book = self.returns_book
        if book is not None and book.clawback_due is not None:
            # The plan claws back what was paid on bought-back stock too.
            book.buyback_clawback(self, claimers, stock)
        self.month_flow["refunds"] += float(refund.sum())
        self.month_flow["revenue"] -= float(refund.sum())
        self.company["revenue"] -= float(refund.sum())
        pop.inventory_pv[quitters] = 0
        leaving = np.zeros(pop.n, dtype=bool)
        leaving[quitters] = True
        # Their customers are nobody's customers any more.
        if pop.customers[quitters].any():
            cust = np.flatnonzero(pop.status == Status.CUSTOMER)
            self.drop_customers(cust[leaving[pop.customer_of[cust]]])
        active_before = pop.status == Status.DISTRIBUTOR
        old_depth = np.where(active_before, pop.depth, -1)
        parent = reattach_to_active(np.where(active_before, pop.sponsor, -1), leaving)
        pop.status[quitters] = Status.QUIT
        pop.quit_month[quitters] = self.month
        pop.sponsor[:] = np.where(active_before & ~leaving, parent, pop.sponsor)
        pop.sponsor[quitters] = -1
        old_depth[quitters] = -1
        pop.depth[:] = recompute_depth(np.where(active_before & ~leaving, parent, -1), old_depth)
        pop.depth[quitters] = -1
        if self.network is not None:
            idx = self.network.indptr
            starts, ends = idx[quitters], idx[quitters + 1]
            lengths = ends - starts
            if lengths.sum():
                pos = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
                    lengths.sum()
                )
                np.add.at(pop.quit_contacts, self.network.indices[pos], 1)
        self._active = None

    def _collect(self) -> None:
        strict, net = collect.net_of_joiners(self)
        self.stats = collect.monthly_stats(self, strict, net)
        self.datacollector.collect(self)
        for row in collect.level_rows(self, net):
            self.datacollector.add_table_row("levels", row)

    # ------------------------------------------------------------------ running
    def run(self, months: int | None = None, progress: Callable[[int], None] | None = None):
        """Run ``months`` months (default: the scenario's), calling ``progress(month)``."""
        months = self.scenario.scenario.months if months is None else months
        for _ in range(months):
            self.step()
            if progress is not None:
                progress(self.month)
        return self


class _PhaseClock:
    """Accumulates wall time per phase into a dict (for benchmarks and the manifest)."""

    def __init__(self, into: dict[str, float]):
        self.into = into
        self.t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = self.into.get(phase, 0.0) + now - self.t
        self.t = now


def _reporter(key: str) -> Callable[[MLMModel], float]:
    def report(model: MLMModel) -> float:
        return model.stats[key]

    report.__name__ = key
    return report


def _lognormal_mean1(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    """Lognormal draws with mean exactly 1 in expectation."""
    if sigma == 0:
        return np.ones(n)
    return rng.lognormal(mean=-(sigma**2) / 2, sigma=sigma, size=n)


def _network_params(scenario: Scenario) -> dict[str, Any]:
    m = scenario.market
    if m.network == "small_world":
        return {"k": m.mean_degree, "p": m.rewire_prob}
    if m.network == "scale_free":
        return {"m": max(1, m.mean_degree // 2)}
    if m.network == "random":
        return {"mean_degree": m.mean_degree}
    if m.network == "edge_list":
        return {"path": m.edge_list}
    return {}
