"""Several MLM companies in one market, and holdings of several companies (``docs/market.md``).

A market scenario is an ordinary scenario file (the shared town, its people and network, and
the defaults every company inherits) with ``[[companies]]`` tables: each company has a name,
its own plan and scenario changes (prices, starter kit, fees), a launch month and a launch
town, and optionally the holding it belongs to. ``[switching]``, ``[choice]`` and
``[expansion]`` govern how people move between companies and how companies open new towns.

Each company is an :class:`~simulation.model.MLMModel` over the same persons: the first
company to launch builds the social network and draws the persons' traits, the others share
them (``MLMModel(shared=...)``). The :class:`Market` runs the month in this order:

1. every launched company starts its month (scheduled changes, flows reset);
2. switching: a leader approached by a contact in another company moves with probability
   given by :func:`choice_probability`, and each member of their downline follows with
   ``switching.follow_share``; they leave the old company (their downline that stays rolls
   up, as at a quit) and join the new one, keeping their tree among themselves;
3. each company proposes its recruits (its recruit rule, with members and customers of the
   others, this month's movers and unopened towns closed to it: ``MLMModel.unavailable``);
4. a person proposed by several companies chooses one (:func:`choose`);
5. in a random order each company books its joins and runs retail, buying, pay, accounting,
   quitting and its own collect phase (customers won by an earlier company this month are
   closed to the later ones);
6. the market's collect phase: the ``companies``, ``flows`` and ``regions`` tables;
7. expansion: a company whose open towns are saturated opens the town where its members know
   most people (``[expansion]``).

With one company and nothing switched on, the company's tables are the single-company run's,
bit for bit (``tests/test_market.py``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulation.config import (
    Scenario,
    apply_overrides,
    apply_values,
    override_sources,
    resolve_plan_path,
    resolve_scenario_path,
    scenario_from_dict,
)
from simulation.errors import ConfigError, format_validation_error
from simulation.market_tables import ADDITIVE, COMPANY_COLUMNS, FLOW_COLUMNS, REGION_COLUMNS
from simulation.model import MLMModel
from simulation.plans import load_plan
from simulation.state import Status
from simulation.userfile import read_toml

__all__ = [
    "MARKET_SECTIONS",
    "Choice",
    "Company",
    "CompanySpec",
    "Expansion",
    "Market",
    "MarketSpec",
    "Switching",
    "choice_probability",
    "is_market",
    "load_market",
]

# Tables of a scenario file that belong to the market, not to a company's scenario.
MARKET_SECTIONS = ("companies", "switching", "choice", "expansion")

# Random streams of the market itself (each company has its own streams).
MARKET_STREAMS = ("order", "switching", "choice", "expansion")
# Entropy tag that keeps the market's and the companies' seeds apart from the
# single-company streams derived from the same master seed.
_TAG = 0x4D4B54  # "MKT"

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CompanySpec(_Table):
    """One ``[[companies]]`` table."""

    name: str = Field(description="Company name (letters, digits, '_', '.', '-'); unique.")
    plan: str | None = Field(
        None,
        description="A shipped plan name or a path relative to the scenario file; default "
        "the scenario's plan.file.",
    )
    launch_month: int = Field(0, ge=0, description="Month the company's founders start.")
    launch_region: int | None = Field(
        None, ge=0, description="Town (0-based) where its founders live; default anywhere."
    )
    founders: int | None = Field(
        None, ge=1, description="Its founders; default market.founders."
    )
    holding: str | None = Field(
        None, description="Holding the company belongs to (consolidated rows in the tables)."
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the scenario for this company: 'section.key' -> value, as "
        "--set (e.g. 'costs.starter_kit_usd' = 49, 'plan.unilevel.percentages' = [0.1]).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                f"{v!r}: a company name is 1-64 letters, digits, '_', '.' or '-', starting "
                "with a letter or digit"
            )
        return v


class Switching(_Table):
    """``[switching]``: leaders move between companies and take part of their downline."""

    enabled: bool = Field(False, description="Leaders may move to another company.")
    leader_min_downline: int = Field(
        5, ge=1, description="Active downline (all levels) that makes a member a leader."
    )
    approach_prob: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Monthly probability that a leader is approached by a contact who is a "
        "member of another company (only leaders with such a contact).",
    )
    follow_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Probability that each member of a moving leader's downline follows.",
    )


class Choice(_Table):
    """``[choice]``: how a person chooses among companies (a multinomial logit).

    Utility of company c: ``age_weight x ln(1 + months since launch) + contacts_weight x
    (contacts active in c - contacts who quit c) / contacts``; equal utilities choose
    uniformly.
    """

    age_weight: float = Field(
        0.5, ge=0, description="Utility per unit of ln(1 + company age in months)."
    )
    contacts_weight: float = Field(
        2.0,
        ge=0,
        description="Utility per unit of (active minus quit contacts in the company) / "
        "all contacts.",
    )
    shared_fatigue: bool = Field(
        True,
        description="A pitch from any company tires the prospect: recruit.fatigue counts "
        "the pitches of all companies (false: each company's own).",
    )


class Expansion(_Table):
    """``[expansion]``: companies open one town at a time as their open towns saturate."""

    enabled: bool = Field(
        False, description="Companies operate only in opened towns (first: launch_region)."
    )
    penetration: float = Field(
        0.25,
        gt=0,
        le=1,
        description="Open the next town when the share of the open towns' people who ever "
        "joined the company reaches this.",
    )
    joins_share_of_peak: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Or when the month's joins fall below this share of their peak (after "
        "min_months).",
    )
    min_months: int = Field(6, ge=1, description="Months a town is open before the next.")
    founders: int = Field(
        5, ge=0, description="Distributors the company appoints in a newly opened town."
    )


@dataclass
class MarketSpec:
    """A validated market scenario.

    Attributes:
        base: the shared scenario (market, people, defaults for every company).
        companies: the companies, in file order.
        scenarios: each company's own scenario (base + its changes), same order.
        switching, choice, expansion: the market's sections.
        path: the scenario file.
    """

    base: Scenario
    companies: list[CompanySpec]
    scenarios: list[Scenario]
    switching: Switching
    choice: Choice
    expansion: Expansion
    path: Path | None = None


def is_market(name: str | Path | None) -> bool:
    """True when the scenario file has ``[[companies]]`` (a market of several companies)."""
    try:
        path = resolve_scenario_path(name)
    except ConfigError:
        return False
    try:
        return "companies" in read_toml(path, "scenario")
    except ConfigError:
        return False


def load_market(name: str | Path, overrides: list[str] | None = None) -> MarketSpec:
    """Read and check a market scenario file (``--set`` applies to the shared scenario).

    Raises:
        ConfigError: naming the file and the key: duplicate company names, a launch town
            that does not exist, a missing plan file, a bad change in a company's ``set``,
            or any error of the shared scenario.
    """
    path = resolve_scenario_path(name)
    data = read_toml(path, "scenario")
    where = str(path)
    market = {k: data.pop(k) for k in MARKET_SECTIONS if k in data}
    data = apply_overrides(data, overrides or [], where)
    base = scenario_from_dict(data, where, strict=True, sources=override_sources(overrides or []))
    raw = market.get("companies")
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        raise ConfigError(f"{where}: companies: expected one or more [[companies]] tables")
    companies = [_section(CompanySpec, c, f"{where}: companies[{i}]") for i, c in enumerate(raw)]
    switching = _section(Switching, market.get("switching", {}), f"{where}: switching")
    choice = _section(Choice, market.get("choice", {}), f"{where}: choice")
    expansion = _section(Expansion, market.get("expansion", {}), f"{where}: expansion")
    names = [c.name for c in companies]
    for i, c in enumerate(companies):
        if names.index(c.name) != i:
            raise ConfigError(
                f"{where}: companies[{i}].name = {c.name!r}: the name of companies"
                f"[{names.index(c.name)}] too; each company needs its own name"
            )
        if c.holding is not None and c.holding in names:
            raise ConfigError(
                f"{where}: companies[{i}].holding = {c.holding!r} is also a company's name"
            )
    if expansion.enabled and base.market.network != "regions":
        raise ConfigError(f"{where}: expansion.enabled needs market.network = 'regions'")
    if expansion.enabled:
        # A company that opens towns one at a time starts in one: town 0 unless it says.
        for c in companies:
            if c.launch_region is None:
                c.launch_region = 0
    months = base.scenario.months
    scenarios = []
    for i, c in enumerate(companies):
        at = f"{where}: companies[{i}] ({c.name})"
        if c.launch_month >= months:
            raise ConfigError(
                f"{at}: launch_month = {c.launch_month}: the run has months 0 to {months - 1}"
            )
        regions = base.market.regions if base.market.network == "regions" else 1
        if c.launch_region is not None and c.launch_region >= regions:
            raise ConfigError(
                f"{at}: launch_region = {c.launch_region}: no such town (the market has "
                f"{regions} town{'s' if regions > 1 else ''}, 0 to {regions - 1}; towns need "
                "market.network = 'regions')"
            )
        scenarios.append(_company_scenario(base, data, c, path, at))
    return MarketSpec(base, companies, scenarios, switching, choice, expansion, path)


def _section(cls: type[_Table], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    try:
        return cls.model_validate(data, strict=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where)) from None


def _company_scenario(
    base: Scenario, data: dict[str, Any], c: CompanySpec, path: Path, at: str
) -> Scenario:
    """The company's scenario: the shared one with the company's plan, launch and changes."""
    d = copy.deepcopy(data)
    d.setdefault("plan", {})
    if c.plan is not None:
        try:
            d["plan"]["file"] = str(resolve_plan_path(c.plan, base=path.parent).resolve())
        except ConfigError as err:
            raise ConfigError(f"{at}: plan = {c.plan!r}: {err}") from None
    else:
        d["plan"]["file"] = str(
            resolve_plan_path(base.plan.file, base=path.parent).resolve()
        )
    d.setdefault("market", {})
    if c.launch_region is not None:
        d["market"]["launch_region"] = c.launch_region
    if c.founders is not None:
        d["market"]["founders"] = c.founders
    d.setdefault("scenario", {})
    d["scenario"]["months"] = base.scenario.months - c.launch_month
    d["scenario"]["name"] = c.name
    fixed = ("market.", "scenario.", "people.skill_sigma")
    for key in c.set:
        if key.startswith(fixed):
            raise ConfigError(
                f"{at}: set.{key}: the market, the run and the persons' traits are shared by "
                "all companies; a company may change its plan, prices, costs and behaviour, "
                "not these"
            )
    d = apply_values(d, dict(c.set), f"{at}: set")
    scen = scenario_from_dict(d, f"{at}: set")
    try:
        load_plan(scen.plan.file, changes=scen.plan.set)
    except ConfigError as err:
        raise ConfigError(f"{at}: plan {scen.plan.file!r}: {err}") from None
    if scen.recruit.mode not in ("network", "well_mixed"):
        raise ConfigError(
            f"{at}: recruit.mode = {scen.recruit.mode!r}: a market of several companies "
            "needs the pitching modes 'network' or 'well_mixed'"
        )
    return scen


def company_seed(seed: int, index: int) -> int:
    """Master seed of company ``index``: the market's seed for the first, derived otherwise.

    The first company draws exactly what a single-company run with the same seed draws.
    """
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), _TAG, index]).generate_state(1)[0])


def choice_probability(utility: np.ndarray) -> np.ndarray:
    """Multinomial-logit probabilities over the last axis (stable for large utilities)."""
    u = np.asarray(utility, dtype=np.float64)
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class Company:
    """A company of the market: its spec, its model once launched, its open towns."""

    spec: CompanySpec
    scenario: Scenario
    index: int
    model: MLMModel | None = None
    opened: np.ndarray | None = None  # bool[R]: towns it operates in (expansion)
    opened_month: list[int] = field(default_factory=list)
    peak_joins: int = 0
    pending_founders: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    switched_in: int = 0
    switched_out: int = 0

    @property
    def name(self) -> str:
        """The company's name."""
        return self.spec.name


class Market(mesa.Model):
    """Several companies recruiting, selling and paying in one market of persons.

    Args:
        spec: a :class:`MarketSpec` (:func:`load_market`).
        seed: master seed (default: the scenario's).
        agents: create Mesa agents for each company's joiners (default False: large markets).

    Attributes:
        companies: the :class:`Company` list, in file order.
        month: the market's month (0 = the start).
    """

    def __init__(self, spec: MarketSpec, *, seed: int | None = None, agents: bool = False):
        seed = spec.base.scenario.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.spec = spec
        self.seed = seed
        self.month = 0
        self.make_agents = agents
        children = np.random.SeedSequence([seed, _TAG]).spawn(len(MARKET_STREAMS))
        self.streams = {
            n: np.random.default_rng(c) for n, c in zip(MARKET_STREAMS, children, strict=True)
        }
        self.companies = [
            Company(c, s, i) for i, (c, s) in enumerate(zip(spec.companies, spec.scenarios,
                                                           strict=True))
        ]
        self.n = spec.base.market.population
        self.host: MLMModel | None = None  # the first company launched: network and traits
        self.moving = np.zeros(self.n, dtype=bool)
        self._town_size: np.ndarray | None = None  # persons per town (regions table)
        self.flows_month: list[dict[str, Any]] = []
        self.datacollector = mesa.DataCollector(
            tables={
                "companies": list(COMPANY_COLUMNS),
                "flows": list(FLOW_COLUMNS),
                "regions": list(REGION_COLUMNS),
            }
        )
        self._launch_due()
        self._collect()

    # ------------------------------------------------------------------ views
    def launched(self) -> list[Company]:
        """Companies whose founders have started, in file order."""
        return [c for c in self.companies if c.model is not None]

    def holder(self) -> np.ndarray:
        """int16[N]: index of the company each person is an active member of (-1 none)."""
        owner = np.full(self.n, -1, dtype=np.int16)
        for c in self.launched():
            owner[c.model.active_ids()] = c.index
        return owner

    def closed_to(self, company: Company) -> np.ndarray:
        """bool[N]: persons ``company`` cannot recruit or sell to now."""
        closed = self.moving.copy()
        for c in self.launched():
            if c is not company:
                st = c.model.pop.status
                closed |= (st == Status.DISTRIBUTOR) | (st == Status.CUSTOMER)
        if company.opened is not None and company.model is not None:
            closed |= ~company.opened[company.model.region]
        return closed

    # ------------------------------------------------------------------ launch
    def _launch_due(self) -> None:
        for c in self.companies:
            if c.model is None and c.spec.launch_month == self.month:
                self._launch(c)

    def _launch(self, c: Company) -> None:
        closed = None if self.host is None else self.closed_to(c)
        if self.spec.expansion.enabled:
            regions = self.spec.base.market.regions
            c.opened = np.zeros(regions, dtype=bool)
            home = c.spec.launch_region if c.spec.launch_region is not None else 0
            c.opened[home] = True
            c.opened_month.append(self.month)
            if closed is None:
                closed = np.zeros(self.n, dtype=bool)
        c.model = MLMModel(
            scenario=c.scenario,
            seed=company_seed(self.seed, c.index),
            agents=self.make_agents,
            shared=self.host,
            unavailable=closed if closed is not None else np.zeros(self.n, dtype=bool),
        )
        if self.host is None:
            self.host = c.model
        elif self.spec.choice.shared_fatigue:
            # One array for all companies: pitches from any company count toward fatigue.
            c.model.pop.pitched = self.host.pop.pitched

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """One month of the market (see the module docstring for the order)."""
        self.month = self.steps
        running = self.launched()
        for c in running:
            c.model.steps += 1
            c.model.begin_month()
            c.switched_in = c.switched_out = 0
        self.moving[:] = False
        self.flows_month = []
        movers = self._switch(running)
        proposals = {}
        for c in running:
            c.model.unavailable = self.closed_to(c)
            proposals[c.index] = c.model.propose_joins()
        chosen = self._choose(running, proposals)
        order = self.streams["order"].permutation(len(running))
        for k in order:
            c = running[int(k)]
            c.model.unavailable = self.closed_to(c)
            j, s = chosen[c.index]
            mj, ms = movers.get(c.index, (np.empty(0, np.int64), np.empty(0, np.int64)))
            fj = c.pending_founders
            fj = fj[~c.model.unavailable[fj]] if fj.size else fj
            # A joiner taken by an earlier company this month (as a customer) is not booked.
            keep = ~c.model.unavailable[j]
            joiners = np.concatenate((mj, fj, j[keep])).astype(np.int64)
            sponsors = np.concatenate(
                (ms, np.full(fj.size, -1, np.int64), s[keep])
            ).astype(np.int64)
            c.pending_founders = np.empty(0, np.int64)
            c.model.finish_month(joiners, sponsors)
            c.peak_joins = max(c.peak_joins, int(joiners.size))
        self.moving[:] = False
        self._launch_due()
        if self.spec.expansion.enabled:
            self._expand()
        self._collect()
        self.running = self.month < self.spec.base.scenario.months

    def _switch(self, running: list[Company]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Leaders approached by another company's members move, with part of their downline.

        Returns:
            ``{company index: (joiners, sponsors)}`` of the movers each company receives,
            top-down (a mover's sponsor is the leader, or a mover above them).
        """
        sw = self.spec.switching
        out: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        if not sw.enabled or len(running) < 2:
            return {}
        rng = self.streams["switching"]
        net = self.host.network
        # Recruiters of this month's moving leaders stay where they are (they sponsor them).
        anchored = np.zeros(self.n, dtype=bool)
        owner = None  # self.holder(), made when first needed and kept up to date below
        for a in running:
            model = a.model
            forest = model.sponsor_forest()
            active = model.active_ids()
            if not active.size:
                continue
            ones = np.zeros(self.n)
            ones[active] = 1.0
            downline = forest.subtree_sum(ones) - 1.0
            leaders = active[downline[active] >= sw.leader_min_downline]
            leaders = leaders[rng.random(leaders.size) < sw.approach_prob]
            if not leaders.size:
                continue
            if owner is None:
                owner = self.holder()
            # Who approaches each leader: a random contact who is active in another company.
            moving_leaders, targets, recruiters = [], [], []
            for leader in leaders.tolist():
                if self.moving[leader] or anchored[leader]:
                    continue
                contacts = net.neighbours(leader) if net is not None else np.empty(0, np.int64)
                held = owner[contacts]
                contacts = contacts[(held >= 0) & (held != a.index)]
                if not contacts.size:
                    continue
                recruiter = int(contacts[rng.integers(contacts.size)])
                b = self.companies[int(owner[recruiter])]
                if b.opened is not None and not b.opened[model.region[leader]]:
                    continue
                p = choice_probability(
                    self._utility(np.array([leader]), [a, b])
                )[0, 1]
                if rng.random() < p:
                    anchored[recruiter] = True
                    moving_leaders.append(leader)
                    targets.append(b.index)
                    recruiters.append(recruiter)
            if not moving_leaders:
                continue
            lead = np.array(moving_leaders, dtype=np.int64)
            # A leader below another moving leader goes with the upper one (their company).
            is_leader = np.zeros(self.n, dtype=bool)
            is_leader[lead] = True
            above = forest.nearest_ancestor(is_leader)
            top = lead[above[lead] < 0]
            is_leader[:] = False
            is_leader[top] = True
            target_of = dict(zip(moving_leaders, targets, strict=True))
            recruiter_of = dict(zip(moving_leaders, recruiters, strict=True))
            head = forest.nearest_ancestor(is_leader)  # the moving leader above each member
            down = active[(head[active] >= 0)]
            follows = down[rng.random(down.size) < sw.follow_share]
            follows = follows[~anchored[follows]]
            moves = np.zeros(self.n, dtype=bool)
            moves[top] = True
            moves[follows] = True
            new_sponsor = forest.nearest_ancestor(moves)  # nearest mover above, in the tree
            everyone = np.concatenate((top, follows))
            everyone = everyone[np.argsort(forest.depth[everyone], kind="stable")]
            leader_of = np.where(is_leader[everyone], everyone, head[everyone])
            for leader in top.tolist():
                group = everyone[leader_of == leader]
                sponsors = new_sponsor[group].astype(np.int64)
                sponsors[group == leader] = recruiter_of[leader]
                b = target_of[leader]
                js, ss = out.setdefault(b, ([], []))
                js.append(group)
                ss.append(sponsors)
                self.flows_month.append(
                    {
                        "month": self.month,
                        "from_company": a.name,
                        "to_company": self.companies[b].name,
                        "leaders": 1,
                        "followers": int(group.size - 1),
                    }
                )
                self.companies[b].switched_in += int(group.size)
            a.switched_out += int(everyone.size)
            self.moving[everyone] = True
            owner[everyone] = -1  # they leave a (and join their new company this month)
            # They leave the old company: their stock stays theirs (no buyback), the downline
            # that stays rolls up to the nearest active upline, as at a quit.
            model._quit(everyone, np.zeros(everyone.size, dtype=bool))
            model.quit_this_month = np.empty(0, np.int64)
        return {b: (np.concatenate(js), np.concatenate(ss)) for b, (js, ss) in out.items()}

    def _utility(self, persons: np.ndarray, companies: list[Company]) -> np.ndarray:
        """float64[len(persons), len(companies)]: each company's utility for each person."""
        ch = self.spec.choice
        net = self.host.network
        u = np.zeros((persons.size, len(companies)))
        if net is not None:
            who, contacts = net.neighbour_pairs(persons)
            deg = np.maximum(np.bincount(who, minlength=persons.size), 1)
        for k, c in enumerate(companies):
            age = self.month - c.spec.launch_month
            u[:, k] += ch.age_weight * np.log1p(max(age, 0))
            if net is not None and c.model is not None:
                st = c.model.pop.status[contacts]
                score = (st == Status.DISTRIBUTOR).astype(np.float64) - (st == Status.QUIT)
                u[:, k] += ch.contacts_weight * np.bincount(
                    who, weights=score, minlength=persons.size
                ) / deg
        return u

    def _choose(
        self, running: list[Company], proposals: dict[int, tuple[np.ndarray, np.ndarray]]
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Keep each person's proposal from one company: the one they choose."""
        if len(running) < 2:
            return proposals
        who = np.concatenate([proposals[c.index][0] for c in running]).astype(np.int64)
        comp = np.concatenate(
            [np.full(proposals[c.index][0].size, k) for k, c in enumerate(running)]
        )
        if not who.size:
            return proposals
        order = np.argsort(who, kind="stable")
        sw, sc = who[order], comp[order]
        first = np.r_[True, sw[1:] != sw[:-1]]
        counts = np.diff(np.r_[np.flatnonzero(first), sw.size])
        keep = np.ones(who.size, dtype=bool)
        group = np.cumsum(first) - 1  # the person of each sorted proposal
        several = counts > 1
        if several.any():
            persons = sw[first][several]
            # Row of each person proposed by several companies, for their sorted proposals.
            row = (np.cumsum(several) - 1)[group]
            mine = several[group]
            u = self._utility(persons, running)
            offered = np.zeros((persons.size, len(running)), dtype=bool)
            offered[row[mine], sc[mine]] = True
            p = np.where(offered, choice_probability(np.where(offered, u, -np.inf)), 0.0)
            cum = p.cumsum(axis=1)
            pick = (self.streams["choice"].random(persons.size)[:, None] < cum).argmax(axis=1)
            keep[order[mine]] = sc[mine] == pick[row[mine]]
        out = {}
        at = 0
        for c in running:
            j, s = proposals[c.index]
            k = keep[at : at + j.size]
            out[c.index] = (j[k], s[k])
            at += j.size
        return out

    def _expand(self) -> None:
        ex = self.spec.expansion
        rng = self.streams["expansion"]
        for c in self.launched():
            model = c.model
            if c.opened.all() or self.month - c.opened_month[-1] < ex.min_months:
                continue
            open_people = c.opened[model.region]
            ever = (model.pop.join_month >= 0) & open_people
            penetration = ever.sum() / max(open_people.sum(), 1)
            joins = model.joined_this_month.size
            slow = joins < ex.joins_share_of_peak * c.peak_joins
            if penetration < ex.penetration and not slow:
                continue
            # Open the town where the company's members know most people.
            active = model.active_ids()
            net = self.host.network
            reach = np.zeros(c.opened.size)
            if net is not None and active.size:
                contacts = net.neighbour_pairs(active)[1]
                reach = np.bincount(model.region[contacts], minlength=c.opened.size)
                reach = reach.astype(np.float64)
            # A holding's subsidiaries do not open a town a sibling already works, while
            # the holding has towns left that none of them works.
            sibling = np.zeros(c.opened.size, dtype=bool)
            if c.spec.holding is not None:
                for other in self.launched():
                    if other is not c and other.spec.holding == c.spec.holding:
                        sibling |= other.opened
            reach[sibling] -= reach.max() + 1.0 if (~(c.opened | sibling)).any() else 0.0
            reach[c.opened] = -np.inf
            town = int(np.argmax(reach))
            c.opened[town] = True
            c.opened_month.append(self.month)
            if ex.founders:
                closed = self.closed_to(c)
                pool = np.flatnonzero((model.region == town) & ~closed)
                pool = pool[model.pop.status[pool] <= Status.CUSTOMER]
                take = min(ex.founders, pool.size)
                c.pending_founders = np.sort(rng.choice(pool, size=take, replace=False))

    # ------------------------------------------------------------------ observations
    def _collect(self) -> None:
        dc = self.datacollector
        # Head counts come from each company's own monthly row (its collect phase ran last
        # in its month, and no other company changes its persons' status): no pass over
        # all persons per company here.
        everyone = max(sum(int(c.model.stats["distributors"]) for c in self.launched()), 1)
        holdings: dict[str, dict[str, float]] = {}
        for c in self.companies:
            row = self._company_row(c, everyone)
            dc.add_table_row("companies", row)
            h = c.spec.holding
            if h is not None:
                acc = holdings.setdefault(h, dict.fromkeys(ADDITIVE, 0.0))
                for k in ADDITIVE:
                    acc[k] += row[k]
        for h, acc in holdings.items():
            dc.add_table_row(
                "companies",
                {
                    "month": self.month,
                    "company": h,
                    "kind": "holding",
                    "holding": h,
                    **acc,
                    "market_share": acc["members"] / everyone,
                    "penetration": acc["ever_joined"] / self.n,
                },
            )
        for row in self.flows_month:
            dc.add_table_row("flows", row)
        region = self.host.region if self.host is not None else np.zeros(self.n, np.int16)
        size = self._town_size
        if size is None:
            size = np.bincount(region, minlength=int(region.max()) + 1)
            if self.host is not None:
                self._town_size = size  # the towns do not change once the persons exist
        towns = size.size
        for c in self.launched():
            members = np.bincount(region[c.model.active_ids()], minlength=towns)
            ever = np.bincount(region[c.model.ever_ids], minlength=towns)
            for r in range(towns):
                dc.add_table_row(
                    "regions",
                    {
                        "month": self.month,
                        "region": r,
                        "company": c.name,
                        "opened": bool(c.opened[r]) if c.opened is not None else True,
                        "population": int(size[r]),
                        "members": int(members[r]),
                        "ever_joined": int(ever[r]),
                        "penetration": float(ever[r] / size[r]),
                    },
                )

    def _company_row(self, c: Company, everyone: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "month": self.month,
            "company": c.name,
            "kind": "company",
            "holding": c.spec.holding or "",
        }
        m = c.model
        if m is None:
            row.update(dict.fromkeys(ADDITIVE, 0.0), market_share=0.0, penetration=0.0)
            return row
        members = int(m.stats["distributors"])
        ever = int(m.stats["ever_joined"])
        f = m.month_flow
        row.update(
            members=float(members),
            customers=float(m.stats["customers"]),
            ever_joined=float(ever),
            joins=float(m.joined_this_month.size),
            switched_in=float(c.switched_in),
            switched_out=float(c.switched_out),
            quits=float(m.quit_this_month.size),
            revenue=float(f["revenue"]),
            paid=float(f["paid"]),
            market_share=members / everyone,
            penetration=ever / self.n,
        )
        return row

    def tables(self) -> dict[str, Any]:
        """The market's tables as DataFrames: ``companies``, ``flows``, ``regions``."""
        dc = self.datacollector
        return {name: dc.get_table_dataframe(name) for name in ("companies", "flows", "regions")}

    def run(self, months: int | None = None) -> Market:
        """Run to the scenario's horizon (or ``months`` months)."""
        months = self.spec.base.scenario.months if months is None else months
        for _ in range(months):
            self.step()
        return self


def check_market(market: Market) -> None:
    """The market's invariants (raise AssertionError): one company per active member.

    Each company's own invariants (head counts, money, trees) are checked by the single
    company's checks on ``company.model``.
    """
    count = np.zeros(market.n, dtype=np.int16)
    for c in market.launched():
        count += c.model.pop.status == Status.DISTRIBUTOR
    assert count.max(initial=0) <= 1, "a person is an active member of two companies"

