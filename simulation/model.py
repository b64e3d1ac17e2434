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
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from simulation import behaviour, collect
from simulation import state as money
from simulation.agents import Distributor
from simulation.config import Scenario, apply_values, check_live, scenario_from_dict
from simulation.metrics import legal
from simulation.network import build as build_network
from simulation.plans import PeriodInput, Plan, load_plan
from simulation.regions import region_of, region_sizes
from simulation.returns import ReturnsBook
from simulation.sponsorship import choose_sponsors
from simulation.state import MONEY_FIELDS, Population, Segment, Status
from simulation.tree import Forest, roll_up

if TYPE_CHECKING:
    from simulation.market import RivalCustomers

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
    "wholesale",
    "placement",
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

# Persons' traits a company in a market of several shares with the others (drawn once);
# autoship and loading are drawn per company (they follow its buy settings).
SHARED_TRAITS = ("willingness", "effort", "spending", "skill")

# Cumulative money kept 12 months before the end for annual (income disclosure) figures.
YEAR_FIELDS = MONEY_FIELDS


def with_rows(rows: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Ascending ``rows`` with ``new`` (none of them in ``rows``) each put in at its place.

    The kept active and customer rows stay the rows a new scan of the n statuses lists.
    """
    new = np.unique(new)
    return np.insert(rows, np.searchsorted(rows, new), new)


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
        shared: another company's model in the same market (:mod:`simulation.market`): this
            one shares its social network, towns and persons' traits (willingness, effort,
            spending, skill) instead of drawing its own; who is on autoship or loads stock
            is drawn for this company, from its own buy settings.
        unavailable: bool[N] persons this company cannot recruit or sell to (members and
            customers of other companies, towns it has not opened); the market updates
            :attr:`unavailable` every month. ``None``: everyone is open (one company).
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
        shared: MLMModel | None = None,
        unavailable: np.ndarray | None = None,
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
        self.unavailable = unavailable
        # Other companies' customers this company's retail may win this month, set by the
        # market while the company finishes its month (simulation.market.RivalCustomers).
        self.rival_customers: RivalCustomers | None = None
        if shared is not None:
            self.network = shared.network
            self.region, self.region_start = shared.region, shared.region_start
            self.region_size = shared.region_size
            for name in SHARED_TRAITS:
                getattr(self.pop, name)[:] = getattr(shared.pop, name)
            # Who orders on autoship or loads stock depends on this company's programme.
            rng, b = self.streams["persons"], scenario.buy
            self.pop.autoship[:] = rng.random(m.population) < b.autoship_share
            self.pop.loader[:] = rng.random(m.population) < b.loader_share
        else:
            self.network = build_network(
                m.network,
                m.population,
                self.streams["network"],
                **_network_params(scenario),
            )
            # Region (town) of each person: contiguous blocks of rows (all 0 with one
            # region); the first row and the size of each region (None unless network =
            # "regions").
            self.region = np.zeros(m.population, np.int16)
            self.region_start = self.region_size = None
            if m.network == "regions":
                self.region_size = region_sizes(m.population, m.region_shares, m.regions)
                self.region_start = np.cumsum(self.region_size) - self.region_size
                self.region = region_of(self.region_size)
            self._init_persons()
        # How many active members have each person among their contacts, kept by the joins
        # and the quits (the reachable prospects per member are then one pass over n).
        self.active_contacts = (
            np.zeros(m.population, np.int32) if self.network is not None else None
        )
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
        self._customers: np.ndarray | None = None
        self.company = {"revenue": 0.0, "paid": 0.0, "refunds": 0.0, "clawbacks": 0.0}
        self.last_pay = None
        self.pay_forest: Forest | None = None
        self.household_month = np.zeros(m.population)
        self._retail_sales_month = np.zeros(m.population)
        self._bought_rows = np.empty(0, dtype=np.int64)  # who bought last month
        self._pv_rows = np.empty(0, dtype=np.int64)  # rows whose PV this month may be nonzero
        self._net_rows = np.empty(0, dtype=np.int64)  # rows of net_month written last month
        self.customers_month = np.zeros(m.population)
        # Rows the retail phase added customer PV to this month (cleared the next month).
        self.customer_pv_rows = np.empty(0, dtype=np.int64)
        self.bought_month = np.zeros(m.population)
        self.pay_history: list[tuple[float, int]] = []
        self.year_start: dict[str, np.ndarray] | None = None
        # This month's company-wide flows (USD or PV), reset at the start of each month and
        # read by the collect phase (:mod:`simulation.collect`).
        self.month_flow: dict[str, float] = {}
        # Scenario changes scheduled for the start of a month: month -> {key: value}.
        self.changes: dict[int, dict[str, Any]] = {}
        self.joined_this_month = np.empty(0, np.int64)
        self.ever_ids = np.empty(0, np.int64)  # everyone who ever joined, in join order
        # Each joiner's place in ever_ids (set at the first join; other rows unset).
        self.ever_position = np.empty(m.population, np.int32)
        self.ever_level = np.empty(0, np.int64)  # pop.level of ever_ids
        # pop.join_month as the int32 the pay input takes, kept by the joins (no n-row
        # conversion every month).
        self._joined_period = np.full(m.population, -1, np.int32)
        # Who joined (or rejoined) in each of the last months: month -> rows.
        self.recent_joins: dict[int, np.ndarray] = {}
        self.quit_this_month = np.empty(0, np.int64)
        self.rejoined_this_month = 0
        self.recruits_by_level = np.zeros(1)
        # [chain]: joining payments of this month (paid by joiners, received up the chain).
        self._fee_paid = np.zeros(0)
        self._chain_month = np.zeros(0)
        # [policy] claim_cap = "median": last month's median income from the business of
        # active members (nothing earned before the first month).
        self.disclosed_median = 0.0
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
        # Founders live in the launch region when there is one (rows of a region are a block).
        home = (
            np.flatnonzero(self.region == m.launch_region) if m.launch_region is not None else None
        )
        if self.unavailable is not None:
            # A company launched into a market with others: founders are not their members.
            pool = home if home is not None else np.arange(m.population)
            home = pool[~self.unavailable[pool]]
        if not people.leader_founders:
            if home is not None:
                return np.sort(rng.choice(home, size=m.founders, replace=False)).astype(np.int64)
            founders = rng.choice(m.population, size=m.founders, replace=False)
            return np.sort(founders).astype(np.int64)
        degree = (
            np.diff(self.network.indptr) if self.network is not None else np.zeros(m.population)
        )
        candidates = home if home is not None else np.arange(m.population)
        share = people.leader_top_share
        pool = max(m.founders, int(np.ceil(share * candidates.size)))
        # The best-connected first; ties broken by row (a stable sort).
        best = candidates[np.argsort(-degree[candidates], kind="stable")[:pool]]
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

    def customer_ids(self) -> np.ndarray:
        """int64 rows of this company's retail customers, ascending.

        Scanned from the n persons' statuses once, then kept up to date by
        :meth:`add_customers` and :meth:`drop_customers` (the only ways a person becomes or
        stops being a customer), so the phases and the market's steps that need them do not
        each scan the n statuses.
        """
        if self._customers is None:
            self._customers = np.flatnonzero(self.pop.status == Status.CUSTOMER)
        return self._customers

    def distributor(self, pid: int) -> Distributor:
        """The Mesa agent of a person who joined (created on demand if agents are off)."""
        agent = self.agent_of.get(int(pid))
        if agent is None:
            if self.pop.join_month[pid] < 0:
                raise KeyError(f"person {pid} never joined")
            agent = Distributor(self, int(pid))
            self.agent_of[int(pid)] = agent
        return agent

    def sponsor_forest(self, copy: bool = True) -> Forest:
        """The current sponsor forest of active distributors, grouped by depth.

        Everyone else's sponsor and depth are -1 (the join and quit phases keep it so), so the
        arrays are copied as they are (the forest must not change with later roll-ups) and
        the members are the cached active ids. ``copy=False`` shares the sponsor array, for
        a forest used only until the next join or quit.
        """
        pop = self.pop
        # Both copied explicitly (astype always copies): roll_up changes pop's arrays in place.
        return Forest.from_depth(
            pop.sponsor.copy() if copy else pop.sponsor,
            pop.depth.astype(np.int32),
            members=self.active_ids(),
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
        new = customers[pop.status[customers] != Status.CUSTOMER]
        pop.status[customers] = Status.CUSTOMER
        pop.customer_of[customers] = sellers
        # (a one of the array's own type: np.add.at's fast path, many times faster than int 1)
        np.add.at(pop.customers, sellers, pop.customers.dtype.type(1))
        if new.size and self._customers is not None:
            self._customers = with_rows(self._customers, new)

    def drop_customers(self, customers: np.ndarray) -> None:
        """Customers stop buying and become prospects again."""
        pop = self.pop
        customers = customers[pop.status[customers] == Status.CUSTOMER]
        np.subtract.at(pop.customers, pop.customer_of[customers], pop.customers.dtype.type(1))
        pop.customer_of[customers] = -1
        pop.status[customers] = Status.PROSPECT
        if customers.size and self._customers is not None:
            gone = np.zeros(pop.n, dtype=bool)
            gone[customers] = True
            self._customers = self._customers[~gone[self._customers]]

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
                "qualify_pv",
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
        # The organisation before this month's joiners (placement reads it).
        before = self.active_ids() if self.scenario.placement.rule != "enroller" else None
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
        if self.unavailable is not None:
            # A leader moving from another company brings part of their downline in the
            # same batch, sponsored by each other: pass down until every level is set.
            inside = has & np.isin(sponsors, joiners)
            for _ in range(joiners.size):
                if not inside.any():
                    break
                lv = pop.level[s[inside]] + 1
                dp = pop.depth[s[inside]] + 1
                if (lv == pop.level[joiners[inside]]).all() and (
                    dp == pop.depth[joiners[inside]]
                ).all():
                    break
                pop.level[joiners[inside]] = lv
                pop.depth[joiners[inside]] = dp
        pop.join_month[joiners] = self.month
        self._joined_period[joiners] = self.month
        if self.active_contacts is not None:
            contacts = self.network.neighbour_pairs(joiners)[1]  # (joiners are distinct)
            np.add.at(self.active_contacts, contacts, np.int32(1))
        pop.months_idle[joiners] = 0
        self._decide_why(joiners, sponsors)
        if before is not None:
            self._place(joiners, sponsors, before)
        np.add.at(pop.recruits, sponsors[has], pop.recruits.dtype.type(1))
        kit = self.scenario.costs.starter_kit_usd
        pop.kit_cost[joiners] += kit
        self.month_flow["kits"] += kit * joiners.size
        self.month_flow["revenue"] += kit * joiners.size
        self.company["revenue"] += kit * joiners.size
        if self.scenario.chain.enabled:
            self._chain_payments(joiners, sponsors)
        self.joined_this_month = joiners
        start = self.ever_ids.size
        self.ever_position[first_time] = np.arange(start, start + first_time.size, dtype=np.int32)
        self.ever_ids = np.concatenate((self.ever_ids, first_time))
        # Their levels, as the per-level table reads them (a rejoiner's is set again).
        self.ever_level = np.concatenate((self.ever_level, np.empty(first_time.size, np.int64)))
        self.ever_level[self.ever_position[joiners]] = pop.level[joiners]
        done = self.recent_joins.get(self.month)
        self.recent_joins[self.month] = joiners if done is None else np.concatenate((done, joiners))
        for month in [k for k in self.recent_joins if k <= self.month - collect.EARLY_MONTHS]:
            del self.recent_joins[month]
        if self._active is not None:
            self._active = with_rows(self._active, joiners)  # (they were not active: checked)
        if self.make_agents:
            for pid in first_time.tolist():
                self.agent_of[pid] = Distributor(self, pid)

    def _place(self, joiners: np.ndarray, enrollers: np.ndarray, before: np.ndarray) -> None:
        """Move the joiners their enrollers place (``[placement]``) under their new sponsor.

        Joiners are booked under their enroller first; this sets the sponsor and the depth of
        those placed elsewhere (:func:`simulation.sponsorship.choose_sponsors`). One draw per
        joiner from the ``placement`` stream, placed or not, so the stream stays in step.
        """
        pop, cfg = self.pop, self.scenario.placement
        u = self.streams["placement"].random(joiners.size)
        has = enrollers >= 0
        e = np.maximum(enrollers, 0)
        # Builders place; a mover's enroller is a fellow joiner (not in `before`): no placing.
        builder_enroller = has & (pop.joined_as[e] == Segment.BUILDER)
        builder_enroller &= pop.status[e] == Status.DISTRIBUTOR
        builder_enroller &= ~np.isin(enrollers, joiners)
        builder = pop.joined_as[joiners] == Segment.BUILDER
        place = builder_enroller & (u < np.where(builder, cfg.builder_share, cfg.share))
        if not place.any():
            return
        can_sponsor = (pop.segment != Segment.DISCOUNT) & ~pop.wholesale
        forest = Forest.from_depth(pop.sponsor, pop.depth.astype(np.int32), members=before)
        sponsors = choose_sponsors(
            pop.sponsor,
            before,
            forest.subtree_sum(pop.pv),
            can_sponsor,
            enrollers,
            place,
            pop.joined_as[joiners] == Segment.DISCOUNT,
            cfg.width,
        )
        moved = sponsors != enrollers
        rows, to = joiners[moved], sponsors[moved]
        pop.sponsor[rows] = to
        pop.depth[rows] = pop.depth[to] + 1

    def _chain_payments(self, joiners: np.ndarray, sponsors: np.ndarray) -> None:
        """Book the chain letter's joining payments of this month's joiners (``[chain]``).

        Each recruit (a joiner with a sponsor) pays ``fee_usd`` to the company, booked with
        the starter kit; ``sponsor_share`` of it is paid on to the sponsor and the rest to the
        member ``upline_level`` levels up the sponsor chain, as commissions (in ``_pay``).
        What nobody is there to receive stays with the company: money is conserved.
        """
        c = self.scenario.chain
        pop = self.pop
        has = sponsors >= 0
        payers, up = joiners[has], sponsors[has].astype(np.int64)
        fee = c.fee_usd
        pop.kit_cost[payers] += fee
        self._fee_paid = np.zeros(pop.n)
        self._fee_paid[payers] = fee
        self.month_flow["revenue"] += fee * payers.size
        self.company["revenue"] += fee * payers.size
        received = np.bincount(up, minlength=pop.n) * (c.sponsor_share * fee)
        for _ in range(c.upline_level - 1):  # from the sponsor (level 1) up
            up = pop.sponsor[up].astype(np.int64)
            up = up[up >= 0]
        received += np.bincount(up, minlength=pop.n) * ((1.0 - c.sponsor_share) * fee)
        self._chain_month = received

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
            claim = behaviour.prospect_expectation(self, recruiter, joiners)
            pop.expected_income[joiners] = np.where(has, claim, neutral)
        if not seg.enabled:
            return
        # P(discount | joined): discount buyers join whatever the claim, others only for the
        # business (with expectations off, the appeal is 1 and this is discount_share).
        d = seg.discount_share
        appeal = behaviour.business_appeal(self, claim) if exp.enabled else np.ones(joiners.size)
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
        pop.joined_as[joiners] = pop.segment[joiners]
        if seg.wholesale_share <= 0:
            pop.wholesale[joiners] = False  # (a rejoiner may have been one)
            return
        # Wholesale customers, drawn among the discount buyers with a sponsor. A joiner who
        # sponsors another joiner of the batch (a leader's downline moving companies) stays
        # a distributor, so wholesale customers are always leaves of the sponsor tree.
        w = self.streams["wholesale"].random(joiners.size) < seg.wholesale_share
        leaf = has & ~np.isin(joiners, sponsors)
        pop.wholesale[joiners] = w & leaf & (pop.segment[joiners] == Segment.DISCOUNT)

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """One month: recruit, retail, buy, volume and pay, account, quit, collect."""
        self.begin_month()
        joiners, sponsors = self.propose_joins()
        self.finish_month(joiners, sponsors)

    def begin_month(self) -> None:
        """Start the month: scheduled changes applied, this month's flows reset.

        :meth:`step` is ``begin_month``, :meth:`propose_joins`, :meth:`finish_month`; a
        market of several companies (:mod:`simulation.market`) calls the three itself so that
        a person pitched by several companies chooses one.
        """
        self.month = self.steps
        if self.changes:
            self._apply_changes()
        self._reset_flow()
        self._active = None
        self._fee_paid = self._chain_month = np.zeros(0)
        self._clock = _PhaseClock(self.phase_seconds)

    def propose_joins(self) -> tuple[np.ndarray, np.ndarray]:
        """This month's joiners and their sponsors by the recruit rule, not yet booked."""
        joiners, sponsors = self.rules["recruit"](self, self.streams["recruit"])
        cap = self.scenario.recruit.max_joins_per_month
        if cap and len(joiners) > cap:
            joiners, sponsors = joiners[:cap], sponsors[:cap]  # the first in join order
        return joiners, sponsors

    def finish_month(self, joiners: np.ndarray, sponsors: np.ndarray) -> None:
        """Book the joins, then retail, buy, pay, account, quit and collect."""
        s = self.streams
        clock = self._clock
        self._validate_joins(joiners, sponsors)
        sp = sponsors[sponsors >= 0]
        if self.unavailable is not None:
            # Movers from another company sponsored by each other are not recruiting here.
            sp = sp[self.pop.status[sp] == Status.DISTRIBUTOR]
        self.recruits_by_level = np.bincount(self.pop.level[sp], minlength=2).astype(np.float64)
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
        if self.scenario.rejoin.enabled or self.unavailable is not None:
            # With rejoining, or in a market of several companies (where someone who left
            # may come back from another company).
            closed &= pop.status[joiners] != Status.QUIT
        if joiners.size and closed.any():
            raise ValueError(
                "recruit rule: only prospects, customers and (with rejoining) quitters can join"
            )
        ok = sponsors < 0
        ok |= pop.status[np.maximum(sponsors, 0)] == Status.DISTRIBUTOR
        if self.unavailable is not None:
            ok |= np.isin(sponsors, joiners)  # a moving leader's downline (simulation.market)
        if not ok.all():
            raise ValueError("recruit rule: a sponsor is not an active distributor")

    def _book_purchases(self, p: behaviour.Purchase) -> None:
        pop = self.pop
        usd = self.scenario.units.usd_per_pv
        who = p.who
        bought_own = p.own_use_pv - p.from_inventory_pv
        cust = pop.customer_pv[who].astype(np.float64)
        pv = bought_own + cust + p.topup_pv + p.loading_pv
        # Last month's PV is nonzero only on the rows written then (its buyers, and the rows
        # whose returns lowered it): zeroing those zeroes the n rows.
        pop.pv[self._pv_rows] = 0
        pop.pv[who] = pv
        self._pv_rows = who
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
        pop.own_use_paid[who] += p.own_use_pv * usd
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
        # This month's n-row arrays are last month's with only last month's buyers zeroed
        # (the buyers are a fraction of the n rows: no new array to zero every month); the
        # pay phase, the accounts and the collect phase read them within the month.
        last = self._bought_rows
        self._retail_sales_month[last] = 0.0
        self._retail_sales_month[who] = sales
        # Household use of the month (from stock or bought), PV, for the purchase classes and
        # the legal tests (simulation.metrics.legal); the top-up bought only to qualify is
        # measured against the whole demand, household use counted before stock is drawn.
        self.household_month[last] = 0.0
        self.household_month[who] = p.own_use_pv
        self._bought_rows = who
        # Customers who ordered this month (a quitter's customers are dropped on quitting).
        # (a copy of the counts: the legal tests read the members' rows as float64)
        self.customers_month = pop.customers.copy()
        # PV bought this month before any return lowers it ([returns]): what the purchase
        # classes of the legal tests split (returns are a class of their own).
        self.bought_month = pop.pv.copy() if self.returns_book is not None else pop.pv
        f["qualify_pv"] += float(
            legal.qualifying_topup(p.topup_pv, p.own_use_pv, cust, self.plan.min_pv).sum()
        )

    def _pay(self):
        pop = self.pop
        active = pop.status == Status.DISTRIBUTOR
        forest = self.sponsor_forest()
        pv = pop.pv
        bv_per_pv = self.scenario.units.bv_per_pv
        inp = PeriodInput(
            period=self.month,
            sponsor=forest.parent,
            pv=pv,
            # (x * 1.0 is x to the bit: the PV array itself, not an n-row copy)
            bv=pv if bv_per_pv == 1.0 else pv * bv_per_pv,
            active=active,
            joined_period=self._joined_period,
            new_recruits=self.joined_this_month,
            forest=forest,
            kit_bought=pop.join_month == self.month,
            enroller=pop.enroller,
            retail_sales=self._retail_sales_month,
            customers=pop.customers,
            customer_pv=pop.customer_pv,
        )
        book = self.returns_book
        clawback = book is not None and book.clawback_due is not None
        if clawback:
            # This month may be paid again (the clawback's counterfactual), from here.
            self.pay_state_before = copy.deepcopy(self.pay_engine.state)
            self.pay_input = inp
        result = self.pay_engine.pay(inp)
        self.pay_forest = forest  # the tree this month was paid on (legal tests, collect)
        if self.scenario.chain.enabled:
            # The chain letter's joining payments are paid with the commissions.
            chain = self._chain_month if self._chain_month.size else np.zeros(pop.n)
            result.components["chain"] = chain
            result.total = result.total + chain
        if result.rank is not None:
            pop.rank[:] = result.rank
            # Ranks are paid before quitting, so this month's quitters keep the rank they held.
            pop.rank_last[active] = pop.rank[active]
            np.maximum(pop.rank_highest, pop.rank, out=pop.rank_highest)
        self.last_pay = result
        # (commissions paid, active distributors) of each paid month: the disclosure figure
        # shown at the pitch (behaviour.disclosure_figure).
        paid = result.paid  # a sum over every row: once
        self.pay_history.append((paid, int(np.count_nonzero(active))))
        f = self.month_flow
        f["bv"] = float(inp.bv.sum())
        f["paid"] = paid
        f["pre_cap"] = result.pre_cap_total
        f["commissions_revenue"] = result.revenue
        f["breakage"] = float(sum(result.breakage.values()))
        self.company["paid"] += paid
        if clawback:
            book.clawback_for_month(self, inp, self.pay_state_before)
        return result

    def _account(self, pay, purchase: behaviour.Purchase) -> None:
        pop = self.pop
        who = purchase.who
        commissions = pay.total
        # The month's pay total itself, not an n-row copy of it: a new array every month that
        # nothing writes afterwards.
        pop.commissions_month = commissions
        pop.commissions += commissions
        fixed = self.scenario.costs.fixed_usd_monthly
        seg = self.scenario.segments
        if seg.enabled:
            discount = pop.segment[who] == Segment.DISCOUNT
            fixed = np.where(discount, seg.discount_fixed_usd_monthly, fixed)
        pop.fixed_costs[who] += fixed
        usd = self.scenario.units.usd_per_pv
        kit = np.where(pop.join_month[who] == self.month, self.scenario.costs.starter_kit_usd, 0.0)
        if self.scenario.chain.enabled and self._fee_paid.size:
            kit = kit + self._fee_paid[who]
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
        # Only last month's buyers have a nonzero net income of the month to clear.
        pop.net_month[self._net_rows] = 0
        pop.net_month[who] = money.net_income(month)
        self._net_rows = who
        if self.scenario.policy.claim_cap == "median":
            # What an income disclosure would show: the median member's income from the
            # business (commissions and retail margin) this month.
            income = commissions[who] + self._margin_month
            self.disclosed_median = float(np.median(income)) if who.size else 0.0
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
        cooling = self.scenario.policy.cooling_off_months
        if cooling:
            # Cooling-off: quitters within the period get everything back instead.
            cool = self.month - pop.join_month[quitters] < cooling
            self._cooling_off_refund(quitters[cool])
            claims = claims & ~cool
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
            cust = self.customer_ids()
            self.drop_customers(cust[leaving[pop.customer_of[cust]]])
        # The roll-up reads and writes the active members' rows only (tree.roll_up).
        members = self.active_ids()
        pop.status[quitters] = Status.QUIT
        pop.quit_month[quitters] = self.month
        roll_up(pop.sponsor, pop.depth, members, leaving)
        if self.network is not None:
            # Each quitter's contacts count one more quitter (bad news).
            contacts = self.network.neighbour_pairs(quitters)[1]
            np.add.at(pop.quit_contacts, contacts, pop.quit_contacts.dtype.type(1))
            once = np.unique(quitters)  # each leaves the active members once
            if once.size < quitters.size:
                contacts = self.network.neighbour_pairs(once)[1]
            np.subtract.at(self.active_contacts, contacts, np.int32(1))
        # The quitters were active (checked): the rest stay, in row order.
        self._active = members[~leaving[members]]

    def _cooling_off_refund(self, who: np.ndarray) -> None:
        """Refund quitters within the cooling-off period (``policy.cooling_off_months``).

        The company pays back the starter kit (with any joining payment) and every purchase
        not resold to a retail customer, less refunds already received; booked as a refund
        on quitting (``buyback_refund``), so the money accounts keep their one definition.
        """
        if who.size == 0:
            return
        pop = self.pop
        resold = pop.retail_sales[who] - pop.retail_margin[who]  # wholesale cost of sales
        refund = pop.kit_cost[who] + pop.purchases[who] - resold - pop.buyback_refund[who]
        refund = np.maximum(refund, 0.0)
        pop.buyback_refund[who] += refund
        total = float(refund.sum())
        self.month_flow["refunds"] += total
        self.month_flow["revenue"] -= total
        self.company["revenue"] -= total

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
    if m.network == "regions":
        return {
            "sizes": region_sizes(m.population, m.region_shares, m.regions),
            "k": m.mean_degree,
            "p": m.rewire_prob,
            "between": m.between_regions,
        }
    return {}
