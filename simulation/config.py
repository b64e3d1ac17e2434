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
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation.errors import ConfigError, UserError, format_validation_error
from simulation.memory import check_fits
from simulation.plans.engine import load_plan, resolve_plan_path
from simulation.provenance import for_key
from simulation.regions import region_sizes
from simulation.userfile import check_input_file, read_toml, resolve_shipped

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SCENARIO = "classroom"


def _mark_reading(schema: dict[str, Any], cls: type[Section]) -> None:
    """Add ``"read"``, ``"unit"`` and ``"provenance"`` to each parameter of a section's schema.

    ``"read"`` is ``"start"`` or ``"monthly"``; the unit and ``{"kind", "text"}`` of where the
    default comes from are taken from :data:`simulation.provenance.PROVENANCE`.
    """
    section = {f.annotation: k for k, f in Scenario.model_fields.items()}.get(cls)
    for name, prop in schema.get("properties", {}).items():
        prop["read"] = "start" if name in getattr(cls, "START_ONLY", ()) else "monthly"
        entry = for_key(f"{section}.{name}") if section else None
        if entry is not None:
            prop.setdefault("unit", entry.unit)
            prop["provenance"] = entry.as_schema()


class Section(BaseModel):
    """A scenario section: unknown keys rejected, values validated on assignment too.

    Each section declares which of its parameters the model reads once, when it is built
    (``START_ONLY``); every other parameter is read every month, so a sweep shock or
    :meth:`MLMModel.schedule_change` takes effect from the month it is applied. Changing a
    start-only parameter mid-run is refused (:func:`check_live`). ``mlmsim schema`` shows
    ``"read": "start"`` or ``"monthly"`` on every parameter. Numbers must be finite: TOML's
    ``inf`` and ``nan`` are refused in every field.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
        json_schema_extra=_mark_reading,
    )
    START_ONLY: ClassVar[frozenset[str]] = frozenset()


class ScenarioMeta(Section):
    """``[scenario]``: name, seed and length of the run."""

    START_ONLY = frozenset({"name", "description", "seed", "months"})

    name: str = Field("scenario", description="Name; results go to results/<name>/<run-id>/.")
    description: str = Field("", description="What this scenario shows.")
    seed: int = Field(42, ge=0, description="Master seed; every random stream derives from it.")
    months: int = Field(36, ge=1, le=1200, description="Months to simulate.")


class Market(Section):
    """``[market]``: the finite population and its social network (all read at the start)."""

    START_ONLY = frozenset(
        {
            "population",
            "founders",
            "network",
            "mean_degree",
            "rewire_prob",
            "edge_list",
            "heterogeneity",
            "willingness_alpha",
            "willingness_beta",
            "effort_sigma",
            "spending_sigma",
            "regions",
            "region_shares",
            "between_regions",
            "launch_region",
        }
    )

    population: int = Field(2000, ge=10, le=50_000_000, description="Persons in the market (N).")
    founders: int = Field(
        5, ge=1, description="Distributors at month 0 (the company's first recruits, level 1)."
    )
    network: Literal[
        "small_world", "scale_free", "random", "well_mixed", "edge_list", "regions"
    ] = Field(
        "small_world",
        description="Social network: Watts-Strogatz small world, heavy-tailed scale free, "
        "Erdos-Renyi random, well mixed (anyone reaches anyone), a user's edge list, or "
        "regions (several small-world towns with a share of ties between them).",
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
    regions: int = Field(
        1,
        ge=1,
        le=10_000,
        description="network = 'regions': number of towns (regions) in the market.",
    )
    region_shares: list[float] | None = Field(
        None,
        description="network = 'regions': share of the population in each region (one per "
        "region, each > 0, summing to 1); default equal shares.",
    )
    between_regions: float = Field(
        0.05,
        ge=0,
        le=1,
        description="network = 'regions': probability that a social tie links two regions "
        "(the expected share of ties between towns).",
    )
    launch_region: int | None = Field(
        None,
        ge=0,
        description="network = 'regions': region (0-based) where the founders live; "
        "default anywhere in the market.",
    )


class Recruit(Section):
    """``[recruit]``: how distributors pitch the opportunity and who says yes."""

    # The rule is chosen when the model is built; its parameters are read every month.
    START_ONLY = frozenset({"mode"})

    mode: Literal[
        "network", "well_mixed", "uniform_sponsor", "preferential", "pyramid", "bass", "branching"
    ] = Field(
        "network",
        description="The recruit rule. network: pitch contacts (warm) and strangers (cold); "
        "well_mixed: pitch uniformly random persons; uniform_sponsor: each prospect joins with "
        "fixed_join_prob per month under a sponsor drawn uniformly among active distributors "
        "(random recursive tree); preferential: the same with sponsors drawn with weight "
        "recruits + 1 (plane-oriented recursive tree); pyramid: every distributor recruits "
        "exactly pyramid_r (the textbook chain letter); bass: each prospect joins in a month "
        "with probability bass_p + bass_q x D / N (the month-stepped Bass model); branching: "
        "each new member recruits k in the month after joining, k drawn from "
        "branching_offspring (a Galton-Watson chain letter).",
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
    bass_p: float = Field(
        0.01,
        ge=0,
        le=1,
        description="bass mode: per prospect per month, joining unprompted (no sponsor).",
    )
    bass_q: float = Field(
        0.4,
        ge=0,
        le=100,
        description="bass mode: imitation; a prospect joins with bass_q x D / N more, under a "
        "sponsor drawn uniformly among the D active distributors.",
    )
    branching_offspring: list[float] = Field(
        default_factory=lambda: [0.25, 0.25, 0.25, 0.25],
        min_length=1,
        max_length=101,
        description="branching mode: probabilities of recruiting 0, 1, 2, ... people (sum 1).",
    )
    max_joins_per_month: int = Field(
        0,
        ge=0,
        le=1_000_000_000,
        description="At most this many joins a month, the first in join order (0: no cap).",
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
    max_customers: int = Field(
        25,
        ge=0,
        le=1_000_000,
        description="Most customers one distributor can serve (at most a million: customer "
        "counts are 32-bit integers; assumption: no one person serves more).",
    )


class Buy(Section):
    """``[buy]``: what distributors buy each month."""

    # Who is on autoship and who loads is drawn per person when the market is built.
    START_ONLY = frozenset({"autoship_share", "loader_share"})

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
    first_order_pv: float = Field(
        0.0,
        ge=0,
        description="The first order, bought in the month a distributor joins (an enrollment "
        "kit), PV: the household's own use that month is at least this much (x spending). "
        "0: the first month is like any other.",
    )
    loader_share: float = Field(
        0.05, ge=0, le=1, description="Share of joiners who load inventory to reach a rank."
    )
    qualify_rule: Literal["autoship", "expected_gain"] = Field(
        "autoship",
        description="Who tops up to the plan's monthly minimum: autoship (the autoship_share "
        "drawn at the start, whatever it pays) or expected_gain (a member buys the gap when "
        "their expected monthly income from the business is at least the gap's net cost, "
        "gap x usd_per_pv x (1 - own_use_value_share); needs [expectations]).",
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

    # The stock-age record is sized for the window when the model is built.
    START_ONLY = frozenset({"buyback_window_months"})

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
    buyback_window_months: int = Field(
        0,
        ge=0,
        le=120,
        description="Only stock bought in the last this many months (the month of quitting "
        "included) is bought back; 0: stock of any age. The DSA Code of Ethics and the FTC's "
        "2018 guidance name 12 months. Stock is used first in, first out.",
    )
    kit_refundable: bool = Field(
        False,
        description="The buyback also refunds buyback_share of the starter kit to quitters "
        "who joined within buyback_window_months (any time when the window is 0).",
    )


class Units(Section):
    """``[units]``: conversions between money and volume."""

    usd_per_pv: float = Field(1.0, gt=0, description="Wholesale dollars per PV point.")
    bv_per_pv: float = Field(
        1.0, gt=0, le=10, description="Commissionable BV per PV point (Amway's PV/BV ratio)."
    )


class Segments(Section):
    """``[segments]``: why members join: the discount, retail selling, or building a business.

    Off by default (everyone is a builder, as in the textbook model). On: each joiner is a
    discount buyer, a retailer or a builder. Discount buyers buy for their household only
    (no top-up, no loading, no pitching, no customers) and pay no business costs beyond a
    membership fee; retailers sell to customers but do not pitch the opportunity; builders do
    both. A builder or retailer who would quit may stay on as a discount buyer. With
    ``sharer_pitches_per_month`` > 0 discount buyers and retailers also share the product with
    friends at that rate, and the friends who join enroll under them. With
    ``discount_loyalty_pv`` > 0 discount buyers on autoship order at least that PV a month.
    With ``wholesale_share`` > 0 that share of discount buyers hold a wholesale-customer
    account: they buy, and their volume counts for their uplines, but they share with no one
    (so they stay leaves, whom a plan paying on others' volume pays nothing) and are not
    distributors in an income statement.
    """

    START_ONLY = frozenset({"enabled"})

    enabled: bool = Field(False, description="Draw a segment for each joiner.")
    discount_share: float = Field(
        0.73,
        ge=0,
        le=1,
        description="Share of joiners who join mainly for the discount (Herbalife US 2012 "
        "company-commissioned survey: 73%; doTERRA 2014 member study: 85%).",
    )
    retailer_share: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Share of joiners who sell to customers but do not recruit.",
    )
    discount_fixed_usd_monthly: float = Field(
        2.0,
        ge=0,
        le=1e6,
        description="A discount buyer's monthly costs besides product: the membership "
        "renewal (doTERRA: $25 a year).",
    )
    discount_quit_monthly: float = Field(
        0.051,
        ge=0,
        le=1,
        description="Monthly hazard that a discount buyer stops buying: 1 - (1 - 0.47)^(1/12) "
        "(Young Living 2018: 47% of a new cohort made no purchase the next year).",
    )
    downgrade_prob: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Chance that a builder or retailer who would quit stays on as a discount "
        "buyer instead.",
    )
    sharer_pitches_per_month: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="Pitches a month (Poisson mean, x effort) of members who are not builders "
        "(discount buyers, retailers): they share the product with friends, who enroll under "
        "them. 0 = only builders pitch (assumption: off by default; doTERRA describes most "
        "members as enrolled by a friend who shared the oils, and AARP 2018 found one third "
        "recruited by a friend, but no publication gives a rate; calibrate it).",
    )
    discount_loyalty_pv: float = Field(
        0.0,
        ge=0,
        le=1e6,
        description="PV a month that a discount buyer on autoship (buy.autoship_share) orders "
        "at least, topping up their household's need as a builder tops up to the plan's "
        "minimum. 0 = discount buyers never top up (assumption: off by default; doTERRA's "
        "Loyalty Rewards Program gives points on a monthly order from 50 PV and the free "
        "product of the month from 125 PV, and its 2015 disclosure reports 'extremely high "
        "participation', but no publication gives the order members who only buy keep; "
        "calibrate it).",
    )

    wholesale_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of discount buyers who join as wholesale customers (drawn when they "
        "join): an account that buys at the member price under the member who enrolled them, "
        "whose volume counts for the uplines as any member's, but who share with no one "
        "(whatever sharer_pitches_per_month: they stay leaves of the sponsor tree, whom a plan "
        "paying on others' volume, as doTERRA's, pays nothing) and are not distributors in "
        "an income statement (calibration targets, mlmsim validate). doTERRA has both kinds "
        "of account (Wholesale Customers and Wellness Advocates) and its statements count "
        "Wellness Advocates. 0 = every discount buyer is a distributor (assumption: off by "
        "default; no publication gives the split; calibrate it).",
    )

    @model_validator(mode="after")
    def _shares(self) -> Segments:
        if self.discount_share + self.retailer_share > 1 + 1e-12:
            raise ValueError(
                f"discount_share + retailer_share = "
                f"{self.discount_share + self.retailer_share:g} exceeds 1"
            )
        return self


class Expectations(Section):
    """``[expectations]``: people join and quit on what they expect to earn.

    Off by default. On: a prospect pitched by a distributor expects to earn the recruiter's
    claim, ``optimism`` x the better of the recruiter's and their sponsor's expected monthly
    income (recruiters show their upline's success); the business side of
    the decision to join is ``logistic((expected - costs - outside option) / scale)``. Members
    revise their expectation every month toward what they earned (adaptive expectations,
    weight ``adaptation``) and quit more the further it falls below their costs.
    """

    START_ONLY = frozenset({"enabled"})

    enabled: bool = Field(False, description="Expectations drive joining and quitting.")
    optimism: float = Field(
        3.0,
        ge=0,
        le=100,
        description="Recruiter's claim / the expected income it is based on (assumption: "
        "recruiting pitches show incomes well above what members earn; set so that growth "
        "is comparable with expectations off in the classroom town; calibrate it).",
    )
    outside_option_usd: float = Field(
        50.0,
        ge=0,
        le=1e6,
        description="Monthly income a prospect needs beyond costs to start a business.",
    )
    scale_usd: float = Field(
        50.0,
        gt=0,
        le=1e6,
        description="Spread of the decision (logistic scale): how sharply expected income "
        "separates yes from no, USD a month.",
    )
    adaptation: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Weight of this month's income in next month's expectation (adaptive "
        "expectations, Nerlove 1958).",
    )
    disappointment_extra: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Added monthly quit hazard when expected income is far below costs "
        "(scaled by the logistic of the shortfall).",
    )
    contact_weight: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Weight of each social contact who was in the business, relative to the "
        "recruiter's claim, in the prospect's expected income: E = (claim + w x sum of the "
        "contacts' average monthly incomes) / (1 + w x contacts); quitters count with what "
        "they earned before quitting (0: the claim alone).",
    )
    disclosure_shown: bool = Field(
        False,
        description="The company's income disclosure figure (mean monthly gross compensation "
        "per active distributor over the last 12 months) is shown at the pitch and enters "
        "the prospect's expected income with disclosure_weight.",
    )
    disclosure_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Weight of the disclosure figure, relative to the recruiter's claim, when "
        "disclosure_shown.",
    )


class Incentives(Section):
    """``[incentives]``: effort and stock respond to what the plan pays.

    Off by default (pitches and loading as drawn at the start). ``effort``: a builder splits
    their pitches between recruiting and selling by the generalised matching law (Baum 1974):
    ``recruit share / sell share = (c_r / c_s) x (R / S)^sensitivity``, with ``c_r, c_s`` the
    scenario's pitch rates, R the plan's pay for a recruit and S its pay for a customer over
    ``horizon_months`` (the plan engine's :meth:`~simulation.plans.engine.PlanEngine.incentives`).
    ``loading``: a business member short of the next rank's (or stairstep percentage's)
    volume loads the gap as stock when the month's pay it adds covers the gap's net cost.
    """

    effort: bool = Field(False, description="Builders split pitches by what the plan pays.")
    sensitivity: float = Field(
        0.8,
        ge=0,
        le=5,
        description="Exponent of the pay ratio in the generalised matching law (Baum 1974, "
        "1979: fitted sensitivities average about 0.8, undermatching); 0: today's split.",
    )
    horizon_months: int = Field(
        12,
        ge=1,
        le=120,
        description="Months over which a recruit's and a customer's pay are counted (the "
        "effort split).",
    )
    loading: bool = Field(
        False,
        description="Inventory loading follows the gap to the next rank or stairstep "
        "percentage (not loader_share).",
    )
    max_loading_pv: float = Field(
        1000.0,
        ge=0,
        le=1e7,
        description="The largest gap to a rank a member closes by buying stock in one month, PV.",
    )


class Rejoin(Section):
    """``[rejoin]``: people who quit may be recruited again after a cool-down.

    Off by default (quitters never rejoin). On: a quitter whose cool-down has passed can be
    pitched like a prospect; a pitch converts with the usual probability times ``appeal``. A
    rejoiner keeps their lifetime accounts (money, recruits) and their row in the tables; their
    sponsor, enroller, level and join month are those of the new joining.
    """

    START_ONLY = frozenset({"enabled"})

    enabled: bool = Field(False, description="Quitters can be recruited again.")
    cooldown_months: int = Field(
        6, ge=0, le=1200, description="Months after quitting before anyone pitches them again."
    )
    appeal: float = Field(
        0.33,
        ge=0,
        le=1,
        description="A quitter's chance to say yes relative to a prospect's (about a third of "
        "former participants say they would join again).",
    )


class People(Section):
    """``[people]``: differences in skill, founders as leaders, and overstretched uplines.

    Off by default (everyone equally skilled, founders drawn at random, no overload). Skill
    multiplies a person's chance to convert a pitch and to win a customer; leader founders are
    drawn among the best-connected persons, with more skill and a lower quit hazard; with
    ``overload_strength`` s > 0 a member whose sponsor has k active frontline members gets
    support ``1 / (1 + s (k - 1))``, which scales their conversion and customer wins and
    divides into their customers' churn.
    """

    START_ONLY = frozenset({"skill_sigma", "leader_founders", "leader_top_share", "leader_skill"})

    skill_sigma: float = Field(
        0.0,
        ge=0,
        le=3,
        description="Skill ~ lognormal with mean 1 and this sigma (0: everyone equal).",
    )
    leader_founders: bool = Field(
        False,
        description="Draw founders among the best-connected leader_top_share of persons, with "
        "leader_skill and leader_quit_factor.",
    )
    leader_top_share: float = Field(
        0.05, gt=0, le=1, description="Founders come from this top share by number of contacts."
    )
    leader_skill: float = Field(2.0, ge=0, le=100, description="Leader founders' skill multiplier.")
    leader_quit_factor: float = Field(
        0.5, ge=0, le=10, description="Leader founders' quit hazard multiplier."
    )
    overload_strength: float = Field(
        0.0,
        ge=0,
        le=100,
        description="How fast an upline's support thins with more frontline members (0: off).",
    )


class Policy(Section):
    """``[policy]``: a regulator's rules that act on members, not on the plan's pay.

    Off by default (every rule at a value that never binds). The rules of pay (pay
    conditional on retail, a cap on household volume counted for pay, a cap on recruiting
    rewards) are plan tables (``docs/plans.md``, Policies), set with ``plan.<table>.<key>``.
    """

    cooling_off_months: int = Field(
        0,
        ge=0,
        le=120,
        description="A member who quits within this many months of joining (the month of "
        "joining counts as the first) gets a full refund from the company: the starter kit "
        "and every purchase not resold to a customer (0: no cooling-off).",
    )
    claim_cap: Literal["none", "usd", "median"] = Field(
        "none",
        description="Cap on recruiters' earnings claims ([expectations]): none; usd, at "
        "claim_cap_usd a month; median, at last month's median income from the business "
        "(commissions + retail margin) of active members, what an income disclosure shows.",
    )
    claim_cap_usd: float = Field(
        100.0,
        ge=0,
        le=1e9,
        description="claim_cap = 'usd': the most a recruiter may claim a member earns a month.",
    )


class Chain(Section):
    """``[chain]``: the chain letter's joining payment (recruit modes branching and pyramid).

    Off by default. On: every recruit pays ``fee_usd`` on joining; ``sponsor_share`` of it
    goes to their sponsor and the rest to the member ``upline_level`` levels up the sponsor
    chain (the classic chain letter or "8-ball" model); a part with nobody to receive it
    stays with the organiser (the company). Paid as commissions, booked as the recruit's
    joining cost with the starter kit.
    """

    START_ONLY = frozenset({"enabled"})

    enabled: bool = Field(False, description="Recruits pay the joining fee up the chain.")
    fee_usd: float = Field(100.0, ge=0, le=1e9, description="Joining payment of each recruit, USD.")
    sponsor_share: float = Field(
        0.5, ge=0, le=1, description="Share of the fee paid to the recruit's sponsor."
    )
    upline_level: int = Field(
        3,
        ge=2,
        le=100,
        description="The rest goes to the member this many levels up (the sponsor is 1).",
    )


class Placement(Section):
    """``[placement]``: where a builder places the members they enroll (enroller vs sponsor).

    Plans such as doTERRA's let the enroller (who brought the new member) place them under
    another member of the enroller's own organisation, who becomes the sponsor; commissions,
    team bonuses and rank legs follow the sponsor tree, the enroller keeps the enrollment
    (doTERRA, "Enroller vs. Sponsor" and "Placement strategy"; docs/odd.md, Placement).

    ``rule = "enroller"`` (default): every member is sponsored by their enroller. ``rule =
    "legs"``: a builder with at least ``width`` active frontline members places a recruit in
    the leg that needs volume, the weakest (smallest last-month team volume) of their
    ``width`` strongest legs: under the leg's first member, or, for a discount buyer when that
    member already has ``width`` frontline members, under the member's frontline builder or
    retailer with the fewest frontline members. A recruit who joined to sell or for the
    discount is placed with probability ``share``, one who joined to build (on the second
    level, as doTERRA's guidance has it) with probability ``builder_share``. Needs
    ``[segments]`` (the reason each member joined).
    """

    rule: Literal["enroller", "legs"] = Field(
        "enroller",
        description="'enroller': sponsored by the enroller; 'legs': builders place the recruits "
        "who did not join to build in the leg that needs volume.",
    )
    share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Rule 'legs': probability that a builder places a recruit who did not join "
        "to build (the rest stay on the enroller's frontline).",
    )
    builder_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Rule 'legs': probability that a builder places a recruit who joined to "
        "build on the second level, in the leg that needs volume (the rest start a new leg).",
    )
    width: int = Field(
        3,
        ge=1,
        le=100,
        description="Rule 'legs': frontline members a builder keeps before placing in legs, "
        "and the legs they balance (doTERRA's Power of 3: three).",
    )


class Returns(Section):
    """``[returns]``: customers and members send product back; refunds and clawbacks.

    Off by default (nothing is returned; PV is every purchase). On: each month every
    distributor's customers return some of their orders (each order with ``customer_prob``)
    and every member who bought stock returns that month's stock unopened with
    ``member_prob``; a return is made at an age of 0 to ``window_months`` - 1 months after
    the purchase, each equally likely (the company's return window). The company refunds
    ``customer_refund_share`` of the wholesale cost of goods customers return (the member
    pays the customer back the retail price) and ``member_refund_share`` of the cost of
    stock a member returns. The plan's ``[volume] returns_timing`` says what a return does
    to commissions: ``period_of_return`` lowers the PV of the month of the return;
    ``clawback`` claws back from the uplines what was paid on the returned volume in the
    month it was bought (and, at quitting, on bought-back stock); ``docs/model.md``.
    """

    # The returns and clawbacks due are kept in rings sized for the window.
    START_ONLY = frozenset({"enabled", "window_months"})

    enabled: bool = Field(False, description="Customers and members return product.")
    window_months: int = Field(
        1,
        ge=1,
        le=24,
        description="Returns are made within this many months of the purchase (the month of "
        "purchase included; 1: the same month), each month of the window equally likely.",
    )
    customer_prob: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Chance that a customer's monthly order is returned.",
    )
    member_prob: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Chance that a member returns the stock bought in a month (top-up and "
        "loading; household use is not returned).",
    )
    customer_refund_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of the wholesale cost the company refunds for goods customers "
        "return (satisfaction guarantees refund customers in full).",
    )
    member_refund_share: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Share of the cost the company refunds for stock a member returns (the "
        "DSA's 90% repurchase rule).",
    )


class Posterior(Section):
    """``[posterior]``: the posterior a calibration recorded (``mlmsim calibrate``).

    The model never reads it: a calibrated scenario file carries its posterior so that it
    stays one file. ``median`` values are also set in their sections (the file runs the
    median); a command drawing from the posterior reads ``samples`` (a Parquet file of
    weighted particles, relative to the scenario file). See ``docs/calibration.md``.
    """

    START_ONLY = frozenset({"parameters", "samples", "median", "method", "provenance"})

    parameters: list[str] = Field(
        default_factory=list, description="The calibrated scenario keys (section.key)."
    )
    samples: str = Field(
        "", description="Parquet file of posterior particles, relative to the scenario file."
    )
    median: dict[str, float] = Field(
        default_factory=dict, description="Weighted posterior median of each parameter."
    )
    method: str = Field("", description="The inference method and library that fitted it.")
    provenance: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="Where the posterior comes from: targets and their citation, priors, "
        "seed, simulations, creation time, code version.",
    )


class Observe(Section):
    """``[observe]``: observations that cost time at scale and can be switched off."""

    reachable: bool = Field(
        True,
        description="Count each active distributor's still-reachable prospects every month "
        "(monthly column reachable_per_active; about 16 ms a month at 1,000,000 people).",
    )


class PlanRef(Section):
    """``[plan]``: which compensation plan pays (loaded when the model is built)."""

    START_ONLY = frozenset({"file", "set"})

    file: str = Field(
        "unilevel_5",
        description="A shipped plan name (scenarios/plans/<name>.toml) or a path relative to "
        "the scenario file.",
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the plan file's values, 'table.key' -> value (e.g. "
        "'unilevel.percentages' = [0.1, 0.05]); on the command line --set "
        "plan.unilevel.percentages=[0.1,0.05]. Checked like the plan file itself.",
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
    observe: Observe = Field(default_factory=Observe)
    segments: Segments = Field(default_factory=Segments)
    expectations: Expectations = Field(default_factory=Expectations)
    rejoin: Rejoin = Field(default_factory=Rejoin)
    people: People = Field(default_factory=People)
    policy: Policy = Field(default_factory=Policy)
    chain: Chain = Field(default_factory=Chain)
    incentives: Incentives = Field(default_factory=Incentives)
    returns: Returns = Field(default_factory=Returns)
    placement: Placement = Field(default_factory=Placement)
    posterior: Posterior = Field(default_factory=Posterior)

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
        offspring = self.recruit.branching_offspring
        if any(x < 0 for x in offspring) or abs(sum(offspring) - 1.0) > 1e-9:
            raise ValueError(
                f"recruit.branching_offspring = {offspring}: probabilities must be >= 0 and "
                "sum to 1"
            )
        if self.buy.qualify_rule == "expected_gain" and not self.expectations.enabled:
            raise ValueError(
                "buy.qualify_rule = 'expected_gain' needs expectations.enabled = true (the "
                "gain is the member's expected income)"
            )
        _check_regions(m)
        if self.chain.enabled and self.recruit.mode not in ("branching", "pyramid"):
            raise ValueError(
                f"chain.enabled = true needs recruit.mode = 'branching' or 'pyramid', not "
                f"{self.recruit.mode!r} (the joining payment goes up a chain letter)"
            )
        if self.expectations.disclosure_shown and not self.expectations.enabled:
            raise ValueError(
                "expectations.disclosure_shown = true needs expectations.enabled = true (the "
                "statement enters the expected income prospects join on)"
            )
        if self.incentives.effort and self.recruit.mode not in ("network", "well_mixed"):
            raise ValueError(
                f"incentives.effort = true splits pitches between recruiting and selling, but "
                f"recruit.mode = {self.recruit.mode!r} does not recruit by pitches; use "
                "recruit.mode = 'network' or 'well_mixed', or incentives.effort = false"
            )
        if self.placement.rule == "legs" and not self.segments.enabled:
            raise ValueError(
                "placement.rule = 'legs' places the recruits who join to sell or for the "
                "discount; it needs segments.enabled = true (the reason each member joined)"
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


def _check_regions(m: Market) -> None:
    """The region keys agree with each other and with the network kind."""
    if m.network != "regions":
        used = [
            k
            for k, default in (
                ("regions", 1),
                ("region_shares", None),
                ("launch_region", None),
            )
            if getattr(m, k) != default
        ]
        if used:
            raise ValueError(
                f"market.{used[0]} is set but market.network = {m.network!r}; regions need "
                "market.network = 'regions'"
            )
        return
    if m.regions == 1 and m.between_regions > 0:
        raise ValueError(
            f"market.between_regions = {m.between_regions} with market.regions = 1: there is no "
            "other region to link to (set it to 0 or add regions)"
        )
    shares = m.region_shares
    if shares is not None:
        if len(shares) != m.regions:
            raise ValueError(
                f"market.region_shares has {len(shares)} entries for market.regions = "
                f"{m.regions}: need one share per region"
            )
        if any(not x > 0 for x in shares) or abs(sum(shares) - 1.0) > 1e-9:
            raise ValueError(
                f"market.region_shares = {shares}: each share must be > 0 and they must sum to 1"
            )
    if m.launch_region is not None and m.launch_region >= m.regions:
        raise ValueError(
            f"market.launch_region = {m.launch_region}: no such region (regions are 0 to "
            f"{m.regions - 1})"
        )
    sizes = region_sizes(m.population, shares, m.regions)
    if m.mean_degree >= sizes.min():
        raise ValueError(
            f"market.mean_degree ({m.mean_degree}) must be below the smallest region's "
            f"population ({int(sizes.min())})"
        )
    if m.launch_region is not None and sizes[m.launch_region] < m.founders:
        raise ValueError(
            f"market.launch_region {m.launch_region} has {int(sizes[m.launch_region])} persons, "
            f"fewer than market.founders = {m.founders}"
        )
    if m.mean_degree % 2:
        raise ValueError(
            f"market.mean_degree = {m.mean_degree}: each region's ring lattice needs an even degree"
        )


def parameter_reading(key: str) -> str:
    """``"start"`` or ``"monthly"``: when the model reads scenario parameter ``key``.

    Raises:
        ConfigError: ``key`` is not ``section.name`` of a scenario parameter.
    """
    section, _, name = key.partition(".")
    cls = Scenario.model_fields.get(section)
    sec = cls.annotation if cls is not None else None
    if sec is None or name not in sec.model_fields:
        raise ConfigError(f"{key!r}: not a scenario parameter (section.key)")
    return "start" if name in sec.START_ONLY else "monthly"


def check_live(key: str, value: Any, where: str, path: str = "") -> None:
    """Refuse a mid-run change of ``key`` unless the model reads it every month; validate it.

    ``path`` is put before the key in messages (``shocks[0].set.`` for a sweep file).

    Raises:
        ConfigError: naming ``where``, the key and why.
    """
    if parameter_reading(key) == "start":
        raise ConfigError(
            f"{where}: {path}{key} is read once when the model is built, so changing it mid-run "
            "would change nothing; set it for the whole run instead (e.g. --set or the "
            "scenario file)"
        )
    section, _, name = key.partition(".")
    sec = Scenario.model_fields[section].annotation
    try:
        sec.__pydantic_validator__.validate_assignment(sec.model_construct(), name, value)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where, prefix=path + section)) from None


def schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, generated from the classes above."""
    return Scenario.model_json_schema()


def resolve_scenario_path(name: str | Path | None) -> Path:
    """A scenario path, or the name of a shipped scenario (``classroom``)."""
    return resolve_shipped(DEFAULT_SCENARIO if name is None else name, SCENARIO_DIR, "scenario")


def _parse_value(text: str) -> Any:
    """Parse an override value as TOML (numbers, booleans, lists), else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def _text_field(key: str) -> bool:
    """True if ``section.key`` is a text field of :class:`Scenario` (names, file paths)."""
    section, _, name = key.partition(".")
    model = Scenario.model_fields.get(section)
    fields = getattr(model.annotation, "model_fields", {}) if model else {}
    f = fields.get(name)
    return f is not None and f.annotation in (str, str | None)


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
        key, value = parse_override(item)
        values[key] = (value, f"--set {item!r}")
    return _apply(data, values, source)


def parse_override(item: str) -> tuple[str, Any]:
    """``"section.key=value"`` -> ``("section.key", value)``: the value read as TOML.

    One reading of ``--set`` for single-company scenarios and for a market's own keys
    (``companies.<name>.<key>``, ``switching.*``: :func:`simulation.market.load_market`).
    """
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. market.population=500")
    key, _, text = item.partition("=")
    value = _parse_value(text.strip())
    if _text_field(key.strip()) and not isinstance(value, str):
        value = text.strip()  # --set scenario.name=2024 names the scenario "2024"
    return key.strip(), value


def apply_values(data: dict[str, Any], values: dict[str, Any], source: str) -> dict[str, Any]:
    """Apply ``{"section.key": python value}`` overrides to raw scenario data."""
    return _apply(data, {k: (v, f"{source}: {k}={v!r}") for k, v in values.items()}, source)


def _apply(data: dict[str, Any], values: dict[str, tuple[Any, str]], source: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    keys = set(scenario_keys())
    for key, (value, shown) in values.items():
        if key.startswith("plan.") and key.count(".") >= 2 and key != "plan.set":
            # plan.<table>.<key>: a change to the plan file's values, checked with the plan.
            data.setdefault("plan", {})
            if not isinstance(data["plan"], dict):
                raise ConfigError(f"{source}: 'plan' must be a table")
            changes = dict(data["plan"].get("set") or {})
            changes[key.partition(".")[2]] = value
            data["plan"]["set"] = changes
            continue
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
    data: dict[str, Any],
    source: str = "<scenario>",
    strict: bool = False,
    sources: dict[str, str] | None = None,
) -> Scenario:
    """Validate raw data into a :class:`Scenario`; errors name the source and key path.

    Args:
        data: ``{section: {key: value}}``.
        source: how messages name the input.
        strict: no coercion (for files): ``months = "12"`` or ``join_prob = true`` are
            refused instead of read as numbers; an integer is still accepted for a float.
        sources: who set some keys (see :func:`override_sources`); an error in one of them
            blames that, not ``source``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table of sections")
    try:
        return Scenario.model_validate(data, strict=strict)
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
    data = read_toml(path, "scenario")
    if "companies" in data:
        raise ConfigError(
            f"{path}: holds [[companies]], a market of several companies; `mlmsim run` runs "
            "it, this command takes a scenario of one company"
        )
    data = apply_overrides(data, overrides or [], str(path))
    set_by = override_sources(overrides or [])
    scen = scenario_from_dict(data, str(path), strict=True, sources=set_by)

    try:
        plan_path = resolve_plan_path(scen.plan.file, base=path.parent)
    except ConfigError as err:
        who = set_by.get("plan.file", str(path))
        raise ConfigError(f"{who}: plan.file = {scen.plan.file!r}: {err}") from None
    scen.plan.file = str(plan_path.resolve())
    try:
        # Validate now: a bad plan file is reported before anything runs.
        load_plan(plan_path, changes=scen.plan.set)
    except ConfigError as err:
        raise ConfigError(f"{path}: plan.file = {scen.plan.file!r}: {err}") from None
    if scen.market.edge_list:
        scen.market.edge_list = path_in_file(scen.market.edge_list, path.parent)
        check_edge_list(scen, str(path))
    check_memory(scen, str(path))
    return scen, path


def path_in_file(value: str, folder: Path) -> str:
    """A path a file gives (``market.edge_list``), resolved.

    As it is if absolute, else relative to ``folder`` (the file's): the one rule for
    scenarios, markets and sweeps.
    """
    p = Path(value)
    return value if p.is_absolute() else str((folder / p).resolve())


def check_edge_list(scen: Scenario, source: str) -> None:
    """Refuse an edge list that is missing, not a regular file, or too large for the market.

    The file itself is not quoted: it may be any file on the machine.
    """
    if scen.market.network != "edge_list" or not scen.market.edge_list:
        return
    try:
        check_input_file(scen.market.edge_list, "file", max_edge_list_bytes(scen))
    except UserError as err:
        raise ConfigError(f"{source}: market.edge_list: {err}") from None


def max_edge_list_bytes(scen: Scenario) -> int:
    """Largest edge list accepted for ``scen``: N x 1000 lines of two ids (24 bytes each).

    assumption: a market's mean degree is at most 1000 (``market.mean_degree``'s bound), and
    a line ``u v`` of two ids below 50,000,000 with a comment takes at most about 24 bytes;
    a file beyond that is not an edge list of this market.
    """
    return max(1 << 20, scen.market.population * 1000 * 24)


def check_memory(scen: Scenario, source: str) -> None:
    """Refuse a scenario whose estimated memory exceeds the machine's (see memory.py)."""
    check_fits(scen, source)
