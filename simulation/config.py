"""Scenario configuration: typed, validated sections with a default, a unit and a source each.

A scenario file is TOML with the sections below; unknown keys are errors. ``mlmsim schema``
prints the JSON Schema generated from these classes. Money is in US dollars (``usd``), volume
in points (``pv``); by default 1 PV is bought for 1 USD at wholesale (``units.usd_per_pv``).
"""

from __future__ import annotations

import copy
import difflib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation.errors import ConfigError, format_validation_error

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SCENARIO = "classroom"


class Section(BaseModel):
    """A scenario section: unknown keys rejected, values validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ScenarioMeta(Section):
    """``[scenario]``: name, seed and length of the run."""

    name: str = Field("scenario", description="Name; results go to results/<name>/<run-id>/.")
    description: str = Field("", description="What this scenario shows.")
    seed: int = Field(42, ge=0, description="Master seed; every random stream derives from it.")
    months: int = Field(36, ge=1, le=1200, description="Months to simulate.")


class Market(Section):
    """``[market]``: the finite population and its social network."""

    population: int = Field(2000, ge=10, le=50_000_000, description="Persons in the market (N).")
    founders: int = Field(
        5, ge=1, description="Distributors at month 0 (the company's first recruits, level 1)."
    )
    network: Literal["small_world", "scale_free", "random", "well_mixed", "edge_list"] = Field(
        "small_world",
        description="Social network: Watts-Strogatz small world, heavy-tailed scale free, "
        "Erdos-Renyi random, well mixed (anyone reaches anyone), or a user's edge list.",
    )
    mean_degree: int = Field(
        12,
        ge=2,
        le=1000,
        description="Mean number of social contacts (small_world: even k; scale_free: 2m). "
        "Dunbar-style active networks are 10-15 strong ties.",
    )
    rewire_prob: float = Field(
        0.1, ge=0, le=1, description="small_world: probability a lattice edge is rewired."
    )
    edge_list: str | None = Field(
        None, description="edge_list: path to a 'u v' file, ids 0..N-1, relative to the scenario."
    )
    heterogeneity: bool = Field(
        True,
        description="Persons differ in willingness, effort and spending; false makes all equal "
        "(for exact mathematical checks).",
    )
    willingness_alpha: float = Field(
        1.5, gt=0, description="Willingness to join ~ Beta(alpha, beta) (mean alpha/(alpha+beta))."
    )
    willingness_beta: float = Field(3.5, gt=0, description="See willingness_alpha.")
    effort_sigma: float = Field(
        0.8,
        ge=0,
        le=3,
        description="Effort ~ lognormal with mean 1 and this sigma: a few work hard, most little.",
    )
    spending_sigma: float = Field(
        0.4, ge=0, le=3, description="Spending ~ lognormal with mean 1 and this sigma."
    )


class Recruit(Section):
    """``[recruit]``: how distributors pitch the opportunity and who says yes."""

    mode: Literal["network", "well_mixed", "uniform_sponsor", "preferential", "pyramid"] = Field(
        "network",
        description="The recruit rule. network: pitch contacts (warm) and strangers (cold); "
        "well_mixed: pitch uniformly random persons; uniform_sponsor: each prospect joins with "
        "fixed_join_prob per month under a sponsor drawn uniformly among active distributors "
        "(random recursive tree); preferential: the same with sponsors drawn with weight "
        "recruits + 1 (plane-oriented recursive tree); pyramid: every distributor recruits "
        "exactly pyramid_r (the textbook chain letter).",
    )
    pitches_per_month: float = Field(
        2.0, ge=0, le=1000, description="Mean opportunity pitches per distributor-month (x effort)."
    )
    pitch_count: Literal["poisson", "fixed"] = Field(
        "poisson", description="Pitches per month: Poisson(mean x effort), or exactly the mean."
    )
    warm_share: float = Field(
        0.85, ge=0, le=1, description="Share of pitches to social contacts (warm market)."
    )
    join_prob: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Chance a pitch converts a fully willing, never-pitched prospect.",
    )
    fatigue: float = Field(
        0.6, ge=0, le=1, description="Each earlier pitch multiplies the chance by this (fatigue)."
    )
    bad_news: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Each contact who quit multiplies the chance by (1 - bad_news).",
    )
    refusals: bool = Field(True, description="Refusers are off limits for refusal_memory_months.")
    refusal_memory_months: int = Field(
        6, ge=0, le=1200, description="Months a refuser is not pitched again."
    )
    spontaneous_join_prob: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Per prospect per month, joining without a pitch (advertising; Bass 'p'); "
        "such joiners start a new line (no sponsor).",
    )
    fixed_join_prob: float = Field(
        0.02,
        ge=0,
        le=1,
        description="uniform_sponsor and preferential modes: per prospect per month.",
    )
    pyramid_r: int = Field(
        3, ge=1, le=1000, description="pyramid mode: recruits each distributor makes."
    )
    pyramid_every_month: bool = Field(
        False,
        description="pyramid mode: false, each recruits pyramid_r in the month after joining "
        "and stops (chain letter); true, every active distributor recruits pyramid_r monthly.",
    )


class Retail(Section):
    """``[retail]``: non-member customers, each belonging to at most one distributor."""

    enabled: bool = Field(True, description="False: no retail customers at all.")
    pitches_per_month: float = Field(
        1.5, ge=0, le=1000, description="Mean customer pitches per distributor-month (x effort)."
    )
    accept_prob: float = Field(
        0.15, ge=0, le=1, description="Chance a pitched non-member prospect becomes a customer."
    )
    order_pv: float = Field(
        35.0,
        ge=0,
        description="Mean monthly order of a customer in PV (x the customer's spending).",
    )
    churn_monthly: float = Field(
        0.15, ge=0, le=1, description="Chance a customer stops buying each month."
    )
    max_customers: int = Field(25, ge=0, description="Most customers one distributor can serve.")


class Buy(Section):
    """``[buy]``: what distributors buy each month."""

    own_use_pv: float = Field(
        60.0,
        ge=0,
        description="Mean monthly product the household uses, PV (x spending).",
    )
    autoship_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of distributors who top up to the plan's monthly minimum PV "
        "(autoship) whether or not they need the product.",
    )
    own_use_value_share: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Value of product consumed at home relative to its wholesale price (what "
        "the household would have paid anyway); used for the 'own use valued' net income.",
    )
    loader_share: float = Field(
        0.05, ge=0, le=1, description="Share of joiners who load inventory to reach a rank."
    )
    loading_pv: float = Field(300.0, ge=0, description="Extra stock a loader buys per month, PV.")
    loading_months: int = Field(
        3, ge=0, le=1200, description="Months after joining during which loaders load."
    )


class Costs(Section):
    """``[costs]``: what being a distributor costs besides product."""

    starter_kit_usd: float = Field(
        60.0,
        ge=0,
        description="Starter kit paid to the company on joining (Amway ~$62 registration kit; "
        "Herbalife ~$94; doTERRA/YL introductory kits $35-$165).",
    )
    fixed_usd_monthly: float = Field(
        25.0,
        ge=0,
        description="Fees, website, samples, events per month (paid to third parties, not the "
        "company). Surveys of participants report tens of dollars a month.",
    )


class Quit(Section):
    """``[quit]``: attrition and what quitters take back."""

    enabled: bool = Field(True, description="False: nobody ever quits.")
    base_monthly: float = Field(
        0.015,
        ge=0,
        le=1,
        description="Monthly hazard of quitting for a distributor doing fine. With the extras "
        "below, typical distributors quit at 5-7% a month, about 50-60% a year, in the range "
        "the direct-selling industry reports for annual turnover.",
    )
    loss_extra: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Added hazard in a month with negative net income.",
    )
    idle_extra: float = Field(
        0.04,
        ge=0,
        le=1,
        description="Added hazard after idle_horizon_months without any commission (scaled "
        "linearly before that).",
    )
    idle_horizon_months: int = Field(6, ge=1, le=120, description="See idle_extra.")
    buyback_share: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Share of the cost of unsold stock refunded on quitting (DSA Code of Ethics "
        "and FTC guidance: 90% of resalable inventory bought within 12 months).",
    )
    buyback_claim_prob: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of quitters who actually claim the buyback.",
    )


class Units(Section):
    """``[units]``: conversions between money and volume."""

    usd_per_pv: float = Field(1.0, gt=0, description="Wholesale dollars per PV point.")
    bv_per_pv: float = Field(
        1.0, gt=0, le=10, description="Commissionable BV per PV point (Amway's PV/BV ratio)."
    )


class PlanRef(Section):
    """``[plan]``: which compensation plan pays."""

    file: str = Field(
        "unilevel_5",
        description="A shipped plan name (scenarios/plans/<name>.toml) or a path relative to "
        "the scenario file.",
    )


class Scenario(Section):
    """A whole scenario."""

    scenario: ScenarioMeta = Field(default_factory=ScenarioMeta)
    market: Market = Field(default_factory=Market)
    recruit: Recruit = Field(default_factory=Recruit)
    retail: Retail = Field(default_factory=Retail)
    buy: Buy = Field(default_factory=Buy)
    costs: Costs = Field(default_factory=Costs)
    quit: Quit = Field(default_factory=Quit)
    units: Units = Field(default_factory=Units)
    plan: PlanRef = Field(default_factory=PlanRef)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        m = self.market
        if m.founders > m.population:
            raise ValueError(
                f"market.founders ({m.founders}) cannot exceed market.population ({m.population})"
            )
        if m.network == "edge_list" and not m.edge_list:
            raise ValueError("market.network = 'edge_list' needs market.edge_list (a file path)")
        if m.network == "small_world" and m.mean_degree % 2:
            raise ValueError(
                f"market.mean_degree = {m.mean_degree}: a small-world ring lattice needs an even "
                "degree"
            )
        if m.mean_degree >= m.population:
            raise ValueError(
                f"market.mean_degree ({m.mean_degree}) must be below market.population "
                f"({m.population})"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (for the manifest)."""
        return json.loads(self.model_dump_json())


def schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, generated from the classes above."""
    return Scenario.model_json_schema()


def resolve_scenario_path(name: str | Path | None) -> Path:
    """A scenario path, or the name of a shipped scenario (``classroom``)."""
    name = DEFAULT_SCENARIO if name is None else name
    p = Path(name)
    for cand in (p, SCENARIO_DIR / p, SCENARIO_DIR / f"{p}.toml"):
        if cand.is_file():
            return cand
    shipped = ", ".join(sorted(s.stem for s in SCENARIO_DIR.glob("*.toml")))
    raise ConfigError(f"scenario '{name}' not found (a file path, or one of: {shipped})")


def _parse_value(text: str) -> Any:
    """Parse an override value as TOML (numbers, booleans, lists), else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def scenario_keys() -> list[str]:
    """Every valid ``section.key`` of the scenario format, in schema order."""
    return [
        f"{section}.{key}"
        for section, field in Scenario.model_fields.items()
        for key in field.annotation.model_fields
    ]


def unknown_key_message(key: str, where: str) -> str:
    """``where: unknown key 'key'; closest valid keys: ...``, the one wording for a bad key.

    Used for ``--set`` on every command, for the keys of sweep files and for unknown keys in
    scenario files, so a mistyped key reads the same everywhere and always offers the
    nearest valid ``section.key`` spellings.

    Args:
        key: the dotted key as the user wrote it (``recruit.joinprob``).
        where: what carried it: ``--set 'recruit.joinprob=0.3'``, or ``FILE: parameters``.
    """
    return f"{where}: unknown key '{key}'; {key_hint(key)}"


def key_hint(key: str) -> str:
    """The closest valid ``section.key`` names to ``key`` (difflib), or what is valid."""
    keys = scenario_keys()
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.75)
    if not close:  # a key without its section, or a far-off section: match the part after it
        names = {k: k.partition(".")[2] for k in keys}
        near = difflib.get_close_matches(key.rpartition(".")[2], set(names.values()), n=3)
        close = [k for k in keys if names[k] in near][:3]
    section = key.partition(".")[0]
    if close:
        hint = f"closest valid keys: {', '.join(close)}"
    elif section in Scenario.model_fields:
        hint = f"valid keys in [{section}]: " + ", ".join(
            k for k in keys if k.startswith(f"{section}.")
        )
    else:
        hint = f"valid sections: {', '.join(Scenario.model_fields)}"
    return f"{hint} (`mlmsim schema` lists every key)"


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (text, parsed as TOML values) to raw scenario data.

    Errors name the flag and the key (``--set 'recruit.joinprob=0.3': unknown key ...``),
    never ``source``: a mistyped option is not a mistake in the scenario file.
    """
    values = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"--set {item!r}: expected section.key=value, e.g. market.population=500"
            )
        key, _, text = item.partition("=")
        values[key.strip()] = (_parse_value(text.strip()), f"--set {item!r}")
    return _apply(data, values, source)


def apply_values(data: dict[str, Any], values: dict[str, Any], source: str) -> dict[str, Any]:
    """Apply ``{"section.key": python value}`` overrides to raw scenario data."""
    return _apply(data, {k: (v, f"{source}: {k}={v!r}") for k, v in values.items()}, source)


def _apply(data: dict[str, Any], values: dict[str, tuple[Any, str]], source: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    keys = set(scenario_keys())
    for key, (value, shown) in values.items():
        if key not in keys:
            raise ConfigError(unknown_key_message(key, shown))
        section, field = key.split(".")
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise ConfigError(f"{source}: '{section}' must be a table")
        data[section][field] = value
    return data


def override_sources(overrides: list[str]) -> dict[str, str]:
    """``{"section.key": "--set 'section.key=value'"}``: who set each overridden key."""
    return {item.partition("=")[0].strip(): f"--set {item!r}" for item in overrides}


def scenario_from_dict(
    data: dict[str, Any], source: str = "<scenario>", sources: dict[str, str] | None = None
) -> Scenario:
    """Validate raw data into a :class:`Scenario`; errors name the source and key path.

    ``sources`` names who set some keys (see :func:`override_sources`); an error in one of
    them blames that, not ``source``.
    """
    try:
        return Scenario(**data)
    except ValidationError as err:
        raise ConfigError(
            format_validation_error(err, source, sources=sources, hint=key_hint)
        ) from None
    except TypeError as err:
        raise ConfigError(f"{source}: {err}") from None


def load_scenario(
    name: str | Path | None = None, overrides: list[str] | None = None
) -> tuple[Scenario, Path]:
    """Read, override and validate a scenario file; returns it and its path."""
    path = resolve_scenario_path(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text: {err}") from None
    data = apply_overrides(data, overrides or [], str(path))
    set_by = override_sources(overrides or [])
    scen = scenario_from_dict(data, str(path), set_by)
    from simulation.plans.engine import load_plan, resolve_plan_path

    try:
        plan_path = resolve_plan_path(scen.plan.file, base=path.parent)
    except ConfigError as err:
        who = set_by.get("plan.file", str(path))
        raise ConfigError(f"{who}: plan.file = {scen.plan.file!r}: {err}") from None
    scen.plan.file = str(plan_path.resolve())
    load_plan(plan_path)  # validate now: a bad plan file is reported before anything runs
    if scen.market.edge_list:
        p = Path(scen.market.edge_list)
        if not p.is_absolute():
            scen.market.edge_list = str((path.parent / p).resolve())
    return scen, path
