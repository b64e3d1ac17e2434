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
   up, as at a quit) and join the new one, keeping their tree among themselves; each of the
   movers' retail customers follows with ``switching.customer_follow_share``
   (:meth:`Market._customers_follow`);
3. each company proposes its recruits (its recruit rule, with members and customers of the
   others, this month's movers and unopened towns closed to it: ``MLMModel.unavailable``);
4. a person proposed by several companies chooses one (:func:`choose`);
5. in a random order each company books its joins and runs retail, buying, pay, accounting,
   quitting and its own collect phase (customers won by an earlier company this month are
   closed to the later ones; with ``choice.customers_switch`` its retail may win the
   customers of the companies still to run: :class:`RivalCustomers`);
6. the market's collect phase: the ``companies``, ``flows`` and ``regions`` tables;
7. expansion: a company whose open towns are saturated opens the town where its members know
   most people (``[expansion]``).

With one company and nothing switched on, the company's tables are the single-company run's,
bit for bit (``tests/test_market.py``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulation.behaviour import prospect_expectation, within_room
from simulation.config import (
    Scenario,
    apply_overrides,
    apply_values,
    check_edge_list,
    override_sources,
    parse_override,
    path_in_file,
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
    "COMPANY_FIELDS",
    "MARKET_SECTIONS",
    "Choice",
    "Company",
    "CompanySpec",
    "Expansion",
    "Market",
    "MarketSpec",
    "RivalCustomers",
    "Switching",
    "apply_market_values",
    "choice_probability",
    "company_key",
    "is_market",
    "is_market_key",
    "load_market",
    "market_from_dict",
]

# Tables of a scenario file that belong to the market, not to a company's scenario.
MARKET_SECTIONS = ("companies", "switching", "choice", "expansion")

# Random streams of the market itself (each company has its own streams). New streams go at
# the end: SeedSequence.spawn gives the first ones the same children whatever follows.
MARKET_STREAMS = ("order", "switching", "choice", "expansion", "customers")
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
    founders: int | None = Field(None, ge=1, description="Its founders; default market.founders.")
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
    customer_follow_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Probability that each retail customer of a moving member follows them "
        "to the new company (the others are dropped by the old one, as at a quit).",
    )


class Choice(_Table):
    """``[choice]``: how a person chooses among companies (a multinomial logit).

    Utility of company c: ``age_weight x ln(1 + months since launch) + contacts_weight x
    (contacts active in c - contacts who quit c) / contacts + income_weight x ln(1 + E_c /
    expectations.scale_usd) + record_weight x clip(members now / members record_months ago
    - 1, -1, 1)``, E_c what the person expects to earn a month in c
    (:meth:`Market.expected_incomes`); equal utilities choose uniformly.
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
    income_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Utility per unit of ln(1 + E / expectations.scale_usd), E the monthly "
        "income the person expects in the company: its recruiter's claim, their contacts' "
        "incomes in it and its disclosure statement, weighted by the company's "
        "[expectations] (0: income plays no part).",
    )
    record_weight: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Utility per unit of the company's growth, active members at the end of "
        "last month / record_months earlier - 1, clipped to [-1, 1] (0 for a company "
        "younger than that).",
    )
    record_months: int = Field(
        12, ge=1, le=120, description="Months over which the track record's growth is taken."
    )
    shared_fatigue: bool = Field(
        True,
        description="A pitch from any company tires the prospect: recruit.fatigue counts "
        "the pitches of all companies (false: each company's own).",
    )
    customers_switch: bool = Field(
        True,
        description="A member's retail pitch can win another company's customer, who "
        "chooses between the two companies by this logit (false: another company's "
        "customers are closed to it).",
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
    return market_from_dict(read_toml(path, "scenario"), path, overrides)


def is_market_key(key: str) -> bool:
    """True for a key of the market's own tables, not of the shared scenario.

    ``companies.<name>.<key>``, ``switching.*``, ``choice.*``, ``expansion.*``.
    """
    return key.partition(".")[0] in MARKET_SECTIONS


def apply_market_values(
    data: dict[str, Any], values: dict[str, Any], source: str
) -> dict[str, Any]:
    """Apply ``{key: value}`` to a market scenario's raw data (a copy is returned).

    ``companies.<name>.plan`` (or ``.plan.file``), ``.launch_month``, ``.launch_region``,
    ``.founders`` and ``.holding`` set the company's table; any other
    ``companies.<name>.<section>.<key>`` (``plan.<table>.<key>`` too) goes into its ``set``;
    ``switching.*``, ``choice.*``, ``expansion.*`` set the market's tables; every other key
    changes the shared scenario (:func:`simulation.config.apply_values`). Names and keys are
    checked here, values when the result is read (:func:`market_from_dict`).
    """
    data = copy.deepcopy(data)
    shared = {}
    for key, value in values.items():
        section, _, rest = key.partition(".")
        if section == "companies":
            _set_company_value(data, key, value, source)
        elif section in MARKET_SECTIONS:
            if not rest or "." in rest:
                raise ConfigError(f"{source}: {key}: expected {section}.<key>")
            table = data.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {key}: '{section}' must be a table")
            table[rest] = value
        else:
            shared[key] = value
    return apply_values(data, shared, source) if shared else data


# Keys of a [[companies]] table a value sets directly (the others go into its `set`).
COMPANY_FIELDS = ("plan", "launch_month", "launch_region", "founders", "holding")


def company_key(key: str, names: list[str], source: str) -> tuple[str, str]:
    """``companies.<name>.<field>`` -> ``(name, field)``: a company of ``names`` and its key.

    ``field`` is one of :data:`COMPANY_FIELDS` (``plan.file`` read as ``plan``) or a
    ``section.key`` of the company's own scenario changes (its ``set``).

    Raises:
        ConfigError: an unknown company (the known ones listed) or company key.
    """
    rest = key.partition(".")[2]
    if rest in names:
        raise ConfigError(f"{source}: {key}: expected {key}.<key> (e.g. {key}.plan)")
    # Company names may hold dots: the longest name the key starts with.
    hits = sorted((n for n in names if rest.startswith(n + ".")), key=len, reverse=True)
    if not hits:
        raise ConfigError(
            f"{source}: {key}: no company {rest.partition('.')[0]!r} in the scenario "
            f"(companies: {', '.join(names)}); write companies.<name>.<key>"
        )
    name = hits[0]
    field = rest[len(name) + 1 :]
    if field == "plan.file":
        field = "plan"
    if field not in COMPANY_FIELDS and "." not in field:
        raise ConfigError(
            f"{source}: {key}: unknown key {field!r} of a company; a company has "
            f"{', '.join(COMPANY_FIELDS)}, and its own scenario changes as "
            f"companies.{name}.<section>.<key> (e.g. companies.{name}.costs.starter_kit_usd)"
        )
    return name, field


def _set_company_value(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    tables = data.get("companies")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{source}: {key}: the scenario has no [[companies]] tables")
    names = [str(t.get("name")) for t in tables]
    name, field = company_key(key, names, source)
    table = tables[names.index(name)]
    if field in COMPANY_FIELDS:
        table[field] = value
    else:
        changes = table.get("set") or {}
        if not isinstance(changes, dict):
            raise ConfigError(
                f"{source}: {key}: companies[{names.index(name)}].set must be a table"
            )
        table["set"] = {**changes, field: value}


def market_from_dict(
    data: dict[str, Any], path: Path, overrides: list[str] | None = None
) -> MarketSpec:
    """Check a market scenario's raw data (as read from ``path``); see :func:`load_market`.

    ``overrides`` are ``--set`` texts: a market key (:func:`is_market_key`) changes the
    market's tables (:func:`apply_market_values`), any other key the shared scenario.
    """
    where = str(path)
    mine = [o for o in overrides or [] if is_market_key(o.partition("=")[0].strip())]
    shared = [o for o in overrides or [] if o not in mine]
    data = copy.deepcopy(data)
    for item in mine:
        data = apply_market_values(data, dict([parse_override(item)]), f"--set {item!r}")
    market = {k: data.pop(k) for k in MARKET_SECTIONS if k in data}
    data = apply_overrides(data, shared, where)
    edges = (data.get("market") or {}).get("edge_list")
    if isinstance(edges, str):  # as for one company: relative to the scenario file
        data["market"]["edge_list"] = path_in_file(edges, path.parent)
    base = scenario_from_dict(data, where, strict=True, sources=override_sources(shared))
    check_edge_list(base, where)
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
        d["plan"]["file"] = str(resolve_plan_path(base.plan.file, base=path.parent).resolve())
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
class RivalCustomers:
    """Other companies' customers a company's retail may win this month (``docs/market.md``).

    Set by the market on :attr:`MLMModel.rival_customers` while the company finishes its
    month; the retail rule (:func:`simulation.behaviour.retail`) pitches them like prospects
    and asks :attr:`decide` which of those who accepted change company.

    Attributes:
        open: bool[N], persons who are a customer of another company and open to this one.
        decide: ``decide(customers, sellers) -> bool mask`` of the customers won; those
            won have left their company when it returns.
    """

    open: np.ndarray
    decide: Callable[[np.ndarray, np.ndarray], np.ndarray]


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
    customers_in: int = 0  # customers who came from another company this month
    customers_out: int = 0
    # Active members at the end of each market month since launch (choice.record_weight).
    members_by_month: list[int] = field(default_factory=list)
    # Persons who ever joined, per town, counted up to the first ever_seen of model.ever_ids.
    ever_by_town: np.ndarray | None = None
    ever_seen: int = 0

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
            Company(c, s, i)
            for i, (c, s) in enumerate(zip(spec.companies, spec.scenarios, strict=True))
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
        self._track_record()

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
                # (their rows, kept by each company: no pass over the n statuses)
                closed[c.model.active_ids()] = True
                closed[c.model.customer_ids()] = True
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
            c.customers_in = c.customers_out = 0
        self.moving[:] = False
        self.flows_month = []
        movers = self._switch(running)
        proposals, closed = {}, {}
        for c in running:
            c.model.unavailable = closed[c.index] = self.closed_to(c)
            proposals[c.index] = c.model.propose_joins()
        chosen = self._choose(running, proposals)
        order = self.streams["order"].permutation(len(running))
        done: list[Company] = []  # companies that finished the month
        for k in order:
            c = running[int(k)]
            # Proposing and choosing change nobody's status: the first company in the order
            # is closed to the same persons as when it proposed.
            c.model.unavailable = self.closed_to(c) if done else closed[c.index]
            c.model.rival_customers = self._rival_customers(c, done)
            j, s = chosen[c.index]
            mj, ms = movers.get(c.index, (np.empty(0, np.int64), np.empty(0, np.int64)))
            fj = c.pending_founders
            fj = fj[~c.model.unavailable[fj]] if fj.size else fj
            # A joiner taken by an earlier company this month (as a customer) is not booked.
            keep = ~c.model.unavailable[j]
            joiners = np.concatenate((mj, fj, j[keep])).astype(np.int64)
            sponsors = np.concatenate((ms, np.full(fj.size, -1, np.int64), s[keep])).astype(
                np.int64
            )
            c.pending_founders = np.empty(0, np.int64)
            c.model.finish_month(joiners, sponsors)
            c.model.rival_customers = None
            done.append(c)
            c.peak_joins = max(c.peak_joins, int(joiners.size))
        self.moving[:] = False
        self._launch_due()
        if self.spec.expansion.enabled:
            self._expand()
        self._collect()
        self._track_record()
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
            # (used only until the movers quit below, the last use: no copy of the sponsors)
            forest = model.sponsor_forest(copy=False)
            active = model.active_ids()
            if not active.size:
                continue
            # Downline sizes over the members only; the leaders in ascending row order (that of
            # the active ids), as the draws below are made in.
            members, _ = forest.member_slots()
            downline = forest.member_subtree_sum(np.ones(members.size)) - 1.0
            leaders = np.sort(members[downline >= sw.leader_min_downline])
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
                    self._utility(
                        np.array([leader]), [a, b], recruiters=np.array([[-1, recruiter]])
                    )
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
            # (ancestors asked of the rows that need them, over the forest's members)
            top = lead[forest.nearest_ancestor_of(is_leader, lead) < 0]
            is_leader[:] = False
            is_leader[top] = True
            target_of = dict(zip(moving_leaders, targets, strict=True))
            recruiter_of = dict(zip(moving_leaders, recruiters, strict=True))
            head = forest.nearest_ancestor_of(is_leader, active)  # the moving leader above
            down = active[head >= 0]
            follows = down[rng.random(down.size) < sw.follow_share]
            follows = follows[~anchored[follows]]
            moves = np.zeros(self.n, dtype=bool)
            moves[top] = True
            moves[follows] = True
            everyone = np.concatenate((top, follows))
            everyone = everyone[np.argsort(forest.depth[everyone], kind="stable")]
            new_sponsor = forest.nearest_ancestor_of(moves, everyone)  # nearest mover above
            head_of = forest.nearest_ancestor_of(is_leader, everyone)
            leader_of = np.where(is_leader[everyone], everyone, head_of)
            groups: list[tuple[np.ndarray, Company]] = []  # each leader's movers, where to
            rows: list[dict[str, Any]] = []
            for leader in top.tolist():
                mine = leader_of == leader
                group = everyone[mine]
                sponsors = new_sponsor[mine].astype(np.int64)
                sponsors[group == leader] = recruiter_of[leader]
                b = target_of[leader]
                js, ss = out.setdefault(b, ([], []))
                js.append(group)
                ss.append(sponsors)
                rows.append(
                    {
                        "month": self.month,
                        "kind": "leader",
                        "from_company": a.name,
                        "to_company": self.companies[b].name,
                        "leaders": 1,
                        "followers": int(group.size - 1),
                    }
                )
                groups.append((group, self.companies[b]))
                self.companies[b].switched_in += int(group.size)
            followed = self._customers_follow(a, groups)
            for row, n in zip(rows, followed, strict=True):
                self.flows_month.append({**row, "customers": n})
            a.switched_out += int(everyone.size)
            self.moving[everyone] = True
            owner[everyone] = -1  # they leave a (and join their new company this month)
            # They leave the old company: their stock stays theirs (no buyback), the downline
            # that stays rolls up to the nearest active upline, as at a quit.
            model._quit(everyone, np.zeros(everyone.size, dtype=bool))
            model.quit_this_month = np.empty(0, np.int64)
        return {b: (np.concatenate(js), np.concatenate(ss)) for b, (js, ss) in out.items()}

    # ------------------------------------------------------------------ customers
    def _customers_follow(self, a: Company, groups: list[tuple[np.ndarray, Company]]) -> list[int]:
        """Customers of members moving from ``a`` who follow them (how many, per group).

        Each retail customer of a mover follows with ``switching.customer_follow_share`` (a
        customer buys from a person they know) and becomes the mover's customer in the new
        company, booked now and closed to every company's recruiting this month (like the
        movers); the others are dropped by ``a`` when the movers leave it, as a quitter's
        customers are (``MLMModel._quit``). A customer follows only where the new company
        can sell to them: a prospect of it (a former member of it is not made its customer,
        as in one company) in a town it works, and within its ``retail.max_customers`` per
        seller (:func:`~simulation.behaviour.within_room`).

        Args:
            a: the company the movers leave (before they leave it).
            groups: ``(movers, new company)`` of each moving leader's group.
        """
        if not groups:
            return []
        pa = a.model.pop
        # The group of each customer's seller (-1: not moving), looked up among the movers
        # in row order (the groups are disjoint) rather than through an n-row array.
        rows = np.concatenate([movers for movers, _ in groups])
        group = np.repeat(np.arange(len(groups)), [movers.size for movers, _ in groups])
        order = np.argsort(rows, kind="stable")
        rows, group = rows[order], group[order]
        cust = a.model.customer_ids()
        seller = pa.customer_of[cust]
        at = np.minimum(np.searchsorted(rows, seller), rows.size - 1)
        g = np.where(rows[at] == seller, group[at], -1)
        cust, g = cust[g >= 0], g[g >= 0]
        share = self.spec.switching.customer_follow_share
        follows = self.streams["customers"].random(cust.size) < share
        cust, g = cust[follows], g[follows]
        counts = []
        for k, (_, b) in enumerate(groups):
            pb = b.model.pop
            c = cust[g == k]
            c = c[pb.status[c] == Status.PROSPECT]
            if b.opened is not None:
                c = c[b.opened[b.model.region[c]]]
            r = b.scenario.retail
            seller = pa.customer_of[c]
            room = (r.max_customers if r.enabled else 0) - pb.customers[seller]
            fits = within_room(seller, room)
            c, seller = c[fits], seller[fits]
            b.model.add_customers(c, seller)
            self.moving[c] = True
            b.customers_in += int(c.size)
            a.customers_out += int(c.size)
            counts.append(int(c.size))
        return counts

    def _rival_customers(self, c: Company, done: list[Company]) -> RivalCustomers | None:
        """The other companies' customers ``c``'s sellers may win this month (``None``: none).

        Customers of the companies that have not finished their month yet: a customer who
        has ordered this month from their company is approached again next month, so that
        nobody orders from two companies in one month. This month's movers and towns ``c``
        does not work are closed as for recruiting.
        """
        if not self.spec.choice.customers_switch:
            return None
        owner = np.full(self.n, -1, dtype=np.int16)
        for x in self.launched():
            if x is not c and not any(x is d for d in done):
                owner[x.model.customer_ids()] = x.index
        open_ = (owner >= 0) & ~self.moving
        if c.opened is not None:
            open_ &= c.opened[c.model.region]
        if not open_.any():
            return None
        return RivalCustomers(open_, lambda t, s: self._win_customers(c, owner, t, s))

    def _win_customers(
        self, c: Company, owner: np.ndarray, customers: np.ndarray, sellers: np.ndarray
    ) -> np.ndarray:
        """Which of the other companies' ``customers`` ``c``'s sellers win (a bool mask).

        A customer who accepted the pitch of ``sellers`` chooses between their company and
        ``c`` by the multinomial logit of :meth:`_utility` (the one prospects choose by);
        those won leave their company (``drop_customers``) here, ``c`` books them.
        """
        running = self.launched()
        column = np.full(len(self.companies), -1, dtype=np.int64)
        column[[x.index for x in running]] = np.arange(len(running))
        theirs = owner[customers].astype(np.int64)
        u = self._utility(customers, running)
        rows = np.arange(customers.size)
        pair = np.stack((u[rows, column[theirs]], u[:, column[c.index]]), axis=1)
        p = choice_probability(pair)[:, 1]
        won = self.streams["customers"].random(customers.size) < p
        for x in np.unique(theirs[won]).tolist():
            lost = customers[won & (theirs == x)]
            src = self.companies[x]
            src.model.drop_customers(lost)
            src.customers_out += int(lost.size)
            c.customers_in += int(lost.size)
            self.flows_month.append(
                {
                    "month": self.month,
                    "kind": "retail",
                    "from_company": src.name,
                    "to_company": c.name,
                    "leaders": 0,
                    "followers": 0,
                    "customers": int(lost.size),
                }
            )
        return won

    def _utility(
        self,
        persons: np.ndarray,
        companies: list[Company],
        recruiters: np.ndarray | None = None,
    ) -> np.ndarray:
        """float64[len(persons), len(companies)]: each company's utility for each person.

        ``recruiters[i, k]``: the member of ``companies[k]`` who pitched ``persons[i]`` (-1 or
        ``None``: no pitch, no claim); see :meth:`expected_incomes`.
        """
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
                u[:, k] += (
                    ch.contacts_weight
                    * np.bincount(who, weights=score, minlength=persons.size)
                    / deg
                )
        if ch.income_weight > 0:
            scale = self.spec.base.expectations.scale_usd
            e = self.expected_incomes(persons, companies, recruiters)
            u += ch.income_weight * np.log1p(np.maximum(e, 0.0) / scale)
        if ch.record_weight > 0:
            u += ch.record_weight * np.array([self.track_record(c) for c in companies])
        return u

    def expected_incomes(
        self,
        persons: np.ndarray,
        companies: list[Company],
        recruiters: np.ndarray | None = None,
    ) -> np.ndarray:
        """float64[len(persons), len(companies)]: monthly income (USD) expected in each company.

        The E of the choice's income term, for each person and company. A member of the
        company expects what they expect there (their adaptive expectation,
        ``pop.expected_income``, when the company's ``expectations.enabled``). Anyone else
        expects what a prospect of that company expects
        (:func:`~simulation.behaviour.prospect_expectation` on the company's model, with its
        ``[expectations]`` weights): the claim of the company's member who pitched them
        (``recruiters[i, k]``; none where -1, and none when the company's expectations are
        off, since its members' expected incomes, which a claim is made of, are not kept),
        their contacts' average monthly incomes in the company and its disclosure statement
        where the company shows it; 0 when they know none of these.
        """
        out = np.zeros((persons.size, len(companies)))
        none = np.full(persons.size, -1, dtype=np.int64)
        for k, c in enumerate(companies):
            m = c.model
            if m is None:
                continue
            exp = m.scenario.expectations
            told = recruiters[:, k] if recruiters is not None and exp.enabled else none
            out[:, k] = prospect_expectation(m, told, persons)
            if exp.enabled:
                member = m.pop.status[persons] == Status.DISTRIBUTOR
                out[member, k] = m.pop.expected_income[persons[member]]
        return out

    def track_record(self, c: Company) -> float:
        """The company's growth over ``choice.record_months``, clipped to [-1, 1].

        Active members at the end of last month / at the end of the month ``record_months``
        before it, minus 1; 0 for a company younger than that or that had no members then.
        """
        h = self.spec.choice.record_months
        members = c.members_by_month
        if len(members) <= h or members[-1 - h] <= 0:
            return 0.0
        return float(np.clip(members[-1] / members[-1 - h] - 1.0, -1.0, 1.0))

    def _track_record(self) -> None:
        """Note each launched company's active members (only when the record counts).

        The count of the companies table (:meth:`_company_row`): the company's own monthly
        row, not another pass over all persons.
        """
        if self.spec.choice.record_weight <= 0:
            return
        for c in self.launched():
            c.members_by_month.append(int(c.model.stats["distributors"]))

    def _choose(
        self, running: list[Company], proposals: dict[int, tuple[np.ndarray, np.ndarray]]
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Keep each person's proposal from one company: the one they choose."""
        if len(running) < 2:
            return proposals
        who = np.concatenate([proposals[c.index][0] for c in running]).astype(np.int64)
        by = np.concatenate([proposals[c.index][1] for c in running]).astype(np.int64)
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
            offered = np.zeros((persons.size, len(running)), dtype=bool)
            offered[row[mine], sc[mine]] = True
            # Each company's recruiter of the person (-1: a join without a pitch).
            recruiters = np.full((persons.size, len(running)), -1, dtype=np.int64)
            recruiters[row[mine], sc[mine]] = by[order][mine]
            u = self._utility(persons, running, recruiters)
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
            # Everyone who ever joined stays in ever_ids (only appended to): the month's first
            # joiners are added to the counts so far.
            new = c.model.ever_ids[c.ever_seen :]
            ever = np.bincount(region[new], minlength=towns)
            if c.ever_by_town is not None:
                ever += c.ever_by_town
            c.ever_by_town, c.ever_seen = ever, c.model.ever_ids.size
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
            customers_in=float(c.customers_in),
            customers_out=float(c.customers_out),
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
