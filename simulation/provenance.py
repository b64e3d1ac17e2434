"""Where every scenario default comes from: a published source, an assumption, or a setting.

One table, :data:`PROVENANCE`, maps each scenario parameter (``"section.key"``) to a
:class:`Provenance`:

* ``source``: the default is a published figure; the text names the author or organisation,
  the title, the year and the figure.
* ``assumption``: no publication gives the value; the text starts ``"assumption: "`` and says
  why this value and what range is plausible.
* ``setting``: not an empirical quantity (a seed, a length, a name, a switch, a mode
  selector); the text says what it selects.

``mlmsim schema`` shows each entry as ``"provenance": {"kind": ..., "text": ...}`` beside the
parameter's unit (:func:`simulation.config.schema`), and ``docs/parameters.md`` is generated
from it (:func:`simulation.parameters.parameters_markdown`; ``python docs/gen_parameters.py``
rewrites the page).
``tests/test_provenance.py`` fails, naming the keys, when a scenario parameter has no entry
or an entry names a parameter that does not exist.

Sources are cited in the text itself, so the table reads on its own; the longer
bibliography (with what was and was not confirmed in a stored copy) is in
``docs/validation.md`` and ``docs/odd.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

KINDS = ("source", "assumption", "setting")
ASSUMPTION_PREFIX = "assumption: "


@dataclass(frozen=True)
class Provenance:
    """Where one default comes from.

    Attributes:
        kind: ``"source"``, ``"assumption"`` or ``"setting"`` (see the module docstring).
        text: one line: the citation (source), ``"assumption: <reason; plausible range>"``,
            or what the setting selects.
        unit: the parameter's unit (``"usd"``, ``"pv"``, ``"probability per pitch"``...);
            ``"-"`` for names, switches and choices.
        plausible: for an assumption, the ``(low, high)`` range of values we consider
            plausible (the default inside it), in the parameter's unit: what a sensitivity
            analysis should vary (``benchmarks/bench_assumptions.py``). None otherwise.
    """

    kind: Literal["source", "assumption", "setting"]
    text: str
    unit: str = "-"
    plausible: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"provenance kind {self.kind!r}: expected one of {KINDS}")
        if not self.text.strip():
            raise ValueError("provenance text is empty")
        if (self.kind == "assumption") != self.text.startswith(ASSUMPTION_PREFIX):
            raise ValueError(
                f"provenance {self.text[:40]!r}: an assumption's text, and only an "
                f"assumption's, starts with {ASSUMPTION_PREFIX!r}"
            )
        if self.plausible is not None:
            if self.kind != "assumption":
                raise ValueError(f"provenance {self.text[:40]!r}: only assumptions have a range")
            low, high = self.plausible
            if not low < high:
                raise ValueError(f"plausible range {self.plausible}: expected low < high")

    def as_schema(self) -> dict[str, Any]:
        """``{"kind": ..., "text": ...}`` (and ``"plausible": [low, high]``) for the schema."""
        out: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.plausible is not None:
            out["plausible"] = list(self.plausible)
        return out


def _src(text: str, unit: str = "-") -> Provenance:
    return Provenance("source", text, unit)


def _asm(text: str, unit: str, plausible: tuple[float, float]) -> Provenance:
    """An assumption: ``text`` says why; the plausible range is appended to it."""
    low, high = plausible
    text = f"{ASSUMPTION_PREFIX}{text.rstrip('.')}; plausible range {low:g} to {high:g}."
    return Provenance("assumption", text, unit, (low, high))


def _set(text: str, unit: str = "-") -> Provenance:
    return Provenance("setting", text, unit)


# Published sources cited below (full references in docs/odd.md, "References"):
#   DSA Code of Ethics (Direct Selling Association, US): repurchase of resalable inventory
#     at 90% of its cost ("90% buyback provisions").
#   FTC, Business Guidance Concerning Multi-Level Marketing (January 2018).
#   Herbalife, Statement of Average Gross Compensation Paid to U.S. Members in 2015.
#   doTERRA, "Becoming a Wellness Advocate" disclosure page (sign-up fee $35).
#   Zhou, Sornette, Hill & Dunbar 2005, Proc. R. Soc. B 272:439-444 (group-size layers).
#   Watts & Strogatz 1998, Nature 393:440-442 (small-world networks).
#   AARP Foundation 2018 survey of MLM participants (press release).
#   Company attrition figures quoted in docs/validation.md (Melaleuca, Prepaid Legal,
#     Quixtar, Herbalife; Young Living 2018 cohort).
PROVENANCE: dict[str, Provenance] = {
    # ---------------------------------------------------------------- [scenario]
    "scenario.name": _set("Name of the scenario; results go to results/<name>/<run-id>/."),
    "scenario.description": _set("Free text: what the scenario shows."),
    "scenario.seed": _set("Master seed; any value, the same value reproduces a run bit for bit."),
    "scenario.months": _set(
        "Length of the run; the classroom scenario saturates its town within 36 months.",
        "months",
    ),
    # ---------------------------------------------------------------- [market]
    "market.population": _set(
        "The market studied (a town of 2,000 runs in about a second); choose it for the "
        "question, up to millions.",
        "persons",
    ),
    "market.founders": _asm(
        "the first distributors a launch signs up; no published count; shapes the first months "
        "more than the saturated outcome",
        "persons",
        (1, 50),
    ),
    "market.network": _set(
        "Which social network generator; small_world follows Watts & Strogatz 1998 (Nature "
        "393:440-442): real acquaintance networks are clustered with short paths."
    ),
    "market.mean_degree": _src(
        "Zhou, Sornette, Hill & Dunbar 2005, 'Discrete hierarchical organization of social "
        "group sizes', Proc. R. Soc. B 272:439-444: personal networks are layered 3-5, "
        "9-15, 30-45, ~150; 12 lies in the second layer (9-15, often called the sympathy "
        "group), the close ties a warm-market pitch reaches.",
        "contacts per person",
    ),
    "market.rewire_prob": _asm(
        "inside the small-world range of Watts & Strogatz 1998 (high clustering, short "
        "paths); not measured for MLM markets",
        "probability per edge",
        (0.01, 0.3),
    ),
    "market.regions": _set(
        "Number of towns in the market (network = 'regions'); one town by default."
    ),
    "market.region_shares": _set(
        "Share of the population in each town (network = 'regions'); equal by default."
    ),
    "market.between_regions": _asm(
        "most social ties are local (Bailey, Cao, Kuchler, Stroebel & Wong 2018, 'Social "
        "connectedness: measurement, determinants, and effects', J. Econ. Perspectives "
        "32(3):259-280: the majority of US Facebook friendships lie within 100 miles); the "
        "share of warm-market ties between neighbouring towns is not measured, 5% is a guess",
        "probability per tie",
        (0.01, 0.3),
    ),
    "market.launch_region": _set(
        "Town where the founders live (network = 'regions'); anywhere by default."
    ),
    "market.edge_list": _set(
        "Path to a user's own network (network = 'edge_list'); none by default."
    ),
    "market.heterogeneity": _set(
        "Switch: persons differ (true) or are identical (false, for exact mathematical checks)."
    ),
    "market.willingness_alpha": _asm(
        "Beta(1.5, 3.5): mean willingness 0.3, most people reluctant, a few keen; no "
        "published distribution (the range moves the mean from about 0.13 to 0.46)",
        "Beta shape",
        (0.5, 3.0),
    ),
    "market.willingness_beta": _asm(
        "see willingness_alpha (mean alpha / (alpha + beta) = 0.3; the range moves it from "
        "0.5 to about 0.18)",
        "Beta shape",
        (1.5, 7.0),
    ),
    "market.effort_sigma": _asm(
        "lognormal effort with sigma 0.8: a few work hard, most little (the top 10% make "
        "about a third of the pitches); no published distribution of hours",
        "log-scale sd",
        (0.3, 1.2),
    ),
    "market.spending_sigma": _asm(
        "lognormal household spending with sigma 0.4 (nine households in ten within a "
        "factor 2 of the mean); no MLM-specific figure; calibrated beside realistic.toml's "
        "ten parameters to doTERRA's 2017 statement it stays unpinned (posterior median "
        "0.36, 90% interval 0.02-0.90: docs/calibration.md, fit Z2)",
        "log-scale sd",
        (0.2, 0.8),
    ),
    # ---------------------------------------------------------------- [recruit]
    "recruit.mode": _set(
        "Selects the recruit rule: network (the behavioural model) or a degenerate rule for "
        "exact mathematics (well_mixed, uniform_sponsor, preferential, pyramid)."
    ),
    "recruit.pitches_per_month": _asm(
        "about one opportunity pitch a fortnight for a distributor of average effort; no "
        "published rate; sets how fast the market saturates",
        "pitches per distributor-month",
        (0.5, 5.0),
    ),
    "recruit.pitch_count": _set(
        "Poisson (random) or fixed pitch counts; fixed is for exact checks."
    ),
    "recruit.warm_share": _asm(
        "85% of pitches to social contacts: the AARP Foundation 2018 survey found 1/3 "
        "recruited by a friend and 12% by family, and coworkers and acquaintances are "
        "contacts too",
        "share of pitches",
        (0.45, 0.95),
    ),
    "recruit.join_prob": _asm(
        "a fully willing, never-pitched prospect says yes to 1 pitch in 4 (about 1 in 13 at "
        "mean willingness); no published conversion rate; with pitches_per_month it sets "
        "growth",
        "probability per pitch",
        (0.1, 0.6),
    ),
    "recruit.fatigue": _asm(
        "each earlier pitch multiplies the chance by 0.6 (a third pitch converts at a third "
        "of the first); no published figure",
        "factor per earlier pitch",
        (0.3, 1.0),
    ),
    "recruit.bad_news": _asm(
        "each contact who quit lowers the chance by a quarter (word of mouth about losses); "
        "no published figure",
        "factor per quitting contact",
        (0.0, 0.5),
    ),
    "recruit.refusals": _set("Switch: refusers are left alone for refusal_memory_months."),
    "recruit.refusal_memory_months": _asm(
        "a refuser is not pitched again for half a year; no published figure",
        "months",
        (0, 24),
    ),
    "recruit.spontaneous_join_prob": _src(
        "0: nobody joins without a pitch. FTC, Business Guidance Concerning Multi-Level "
        "Marketing, 2018, Q1: 'Typically, the company does not directly recruit its "
        "salesforce, but relies upon its existing salespeople to recruit'.",
        "probability per prospect-month",
    ),
    "recruit.fixed_join_prob": _set(
        "uniform_sponsor and preferential modes only (exact random-tree checks): joins per "
        "prospect per month.",
        "probability per prospect-month",
    ),
    "recruit.pyramid_r": _set(
        "pyramid mode only (the textbook chain letter): recruits each distributor makes.",
        "persons",
    ),
    "recruit.pyramid_every_month": _set(
        "pyramid mode only: recruit once (chain letter) or every month."
    ),
    # ---------------------------------------------------------------- [retail]
    "retail.enabled": _set("Switch: retail customers exist (false for recruitment-only checks)."),
    "retail.pitches_per_month": _asm(
        "a little less selling than recruiting effort (1.5 vs 2 pitches); no published "
        "figure; with accept_prob it sets the retail share",
        "pitches per distributor-month",
        (0.0, 5.0),
    ),
    "retail.accept_prob": _asm(
        "about 1 in 7 pitched non-members becomes a regular customer; no published figure",
        "probability per pitch",
        (0.05, 0.3),
    ),
    "retail.order_pv": _asm(
        "a customer buys about one product a month (~$35 wholesale, ~$43 retail); no "
        "published figure",
        "pv per customer-month",
        (15.0, 80.0),
    ),
    "retail.churn_monthly": _asm(
        "15% of customers stop each month (a customer stays about 6-7 months); no published figure",
        "probability per customer-month",
        (0.05, 0.3),
    ),
    "retail.max_customers": _asm(
        "a part-time seller serves at most 25 regular customers; no published figure; "
        "in the shipped scenarios even a cap of 10 never binds",
        "customers per distributor",
        (10, 50),
    ),
    # ---------------------------------------------------------------- [buy]
    "buy.own_use_pv": _asm(
        "a household uses about $60 of product a month, below the usual 100 PV minimum so "
        "autoshippers top up; no published figure",
        "pv per distributor-month",
        (30.0, 120.0),
    ),
    "buy.autoship_share": _asm(
        "70% of distributors keep a monthly order at the minimum; doTERRA's 2015 disclosure "
        "reports 'extremely high participation' in its loyalty (autoship) programme but no "
        "number; moves the loss share strongly",
        "share of persons",
        (0.3, 0.9),
    ),
    "buy.own_use_value_share": _asm(
        "product used at home is worth 80% of its wholesale price to the household (it "
        "would have bought a cheaper substitute); no published figure; moves the 'own use "
        "valued' loss share strongly",
        "share of wholesale price",
        (0.5, 1.0),
    ),
    "buy.first_order_pv": _asm(
        "off (0) by default: the first month is like any other; doTERRA's enrollment kits "
        "cost $150 to $550 wholesale and its $35 fee is waived with any kit or a first order "
        "of 150 PV (members' FAQ pages, e.g. oceanabaityacupuncture.com/faq), but no "
        "publication gives how many joiners buy which kit; calibrate it",
        "PV per joiner",
        (0.0, 550.0),
    ),
    "buy.loader_share": _asm(
        "5% of joiners buy stock to reach a rank; no published figure",
        "share of persons",
        (0.0, 0.2),
    ),
    "buy.loading_pv": _asm(
        "a loader buys 300 PV of extra stock a month (three times the usual minimum); no "
        "published figure",
        "pv per month",
        (100.0, 1000.0),
    ),
    "buy.loading_months": _asm(
        "loading lasts the first 3 months, about the length of fast-start windows in "
        "published plans (doTERRA 60 days, Young Living 3 months)",
        "months",
        (1, 6),
    ),
    # ---------------------------------------------------------------- [costs]
    "costs.starter_kit_usd": _src(
        "Herbalife, Statement of Average Gross Compensation Paid to U.S. Members in 2015: "
        "Mini Member Pack $60.70 (full pack $94.10), rounded to $60; doTERRA's sign-up fee "
        "is $35 (doTERRA 'Becoming a Wellness Advocate' disclosure).",
        "usd per joiner",
    ),
    "costs.fixed_usd_monthly": _asm(
        "$25 a month of fees, website, samples and events; no confirmed survey figure (My "
        "Daily Choice's 2018 company survey gives $134/month for the affiliates who "
        "answered; Taylor 2011 counts 'minimal operating expenses'); moves the loss share "
        "strongly; realistic.toml calibrates it to the AARP 2018 survey's answers (median "
        "$33.53, 90% interval $23-42)",
        "usd per distributor-month",
        (0.0, 150.0),
    ),
    # ---------------------------------------------------------------- [quit]
    "quit.enabled": _set("Switch: distributors quit (false for exact checks with no attrition)."),
    "quit.base_monthly": _asm(
        "1.5% a month for a distributor who earns; with loss_extra and idle_extra a losing, "
        "idle one quits 7.5% a month (61% a year). Company-wide the classroom scenario gives "
        "about 40-45% a year, a little below the 47-66% companies report (Young Living 2018: "
        "47% of a new cohort bought nothing the next year; Herbalife about half; Melaleuca "
        "~66%); realistic.toml calibrates it to a statement, attrition and a survey "
        "(docs/validation.md: median 0.033, 90% interval 0.008-0.056); the split between "
        "the three terms has no source",
        "probability per distributor-month",
        (0.005, 0.06),
    ),
    "quit.loss_extra": _asm(
        "a losing month adds 2 points to the monthly hazard (see base_monthly); no "
        "published figure",
        "probability per distributor-month",
        (0.0, 0.1),
    ),
    "quit.idle_extra": _asm(
        "six months without any commission add 4 points (see base_monthly); no published "
        "figure; realistic.toml calibrates it to a statement, attrition and a survey "
        "(median 0.109)",
        "probability per distributor-month",
        (0.0, 0.2),
    ),
    "quit.idle_horizon_months": _asm(
        "discouragement builds over half a year without income; no published figure",
        "months",
        (3, 12),
    ),
    "quit.buyback_share": _src(
        "Direct Selling Association (US), Code of Ethics: member companies repurchase "
        "resalable inventory at 90% of its cost (the '90% buyback provisions', DSA Code "
        "Responsibility Officers page); the FTC's Business Guidance Concerning Multi-Level "
        "Marketing (2018) also weighs buyback policies.",
        "share of wholesale cost",
    ),
    "quit.buyback_claim_prob": _asm(
        "3 in 10 quitters claim the buyback (paperwork, opened stock, shame); no published "
        "claim rate",
        "probability per quitter",
        (0.05, 0.8),
    ),
    # ---------------------------------------------------------------- [units]
    "units.usd_per_pv": _asm(
        "1 PV per wholesale dollar, as Young Living and doTERRA price most products "
        "(approximate, not confirmed in a published price list)",
        "usd per pv",
        (0.5, 1.5),
    ),
    "units.bv_per_pv": _asm(
        "commissions paid on PV itself (BV = PV), as the Young Living table is quoted; "
        "Amway's BV/PV ratio differs by country and product",
        "bv per pv",
        (0.5, 3.0),
    ),
    # ---------------------------------------------------------------- [plan]
    "plan.file": _set(
        "Which compensation plan pays; the default unilevel_5 is modelled on Young Living's "
        "8/5/4/4/4 % unilevel, and each plan file cites its own sources (docs/plans.md)."
    ),
    "plan.set": _set(
        "Changes to the plan file's values (none by default): a plan designer's or "
        "regulator's what-if, e.g. a lower cap or a smaller fast start."
    ),
    # ---------------------------------------------------------------- [observe]
    "observe.reachable": _set(
        "Switch: count each distributor's still-reachable prospects every month (costs time "
        "at a million people)."
    ),
    # ---------------------------------------------------------------- behaviour additions
    "buy.qualify_rule": _set(
        "Who buys to reach the plan's minimum: a fixed autoship share, or those whose "
        "expected income covers the gap's net cost (needs expectations)."
    ),
    "quit.buyback_window_months": _set(
        "Policy: 0 buys back stock of any age; the DSA Code of Ethics and the FTC's 2018 "
        "guidance describe a 12-month window (a policy to test, not an empirical quantity).",
        "months",
    ),
    "quit.kit_refundable": _set(
        "Policy: the buyback also refunds the starter kit within the window."
    ),
    # ---------------------------------------------------------------- [segments]
    "segments.enabled": _set("Switch: draw a segment (discount, retailer, builder) per joiner."),
    "segments.discount_share": _src(
        "Herbalife Nutrition, US Statement of Average Gross Compensation (2012): 73% of "
        "members said they joined mainly for the discount (company-commissioned survey); "
        "doTERRA's 2014 member study reported 85%.",
        "share of joiners",
    ),
    "segments.retailer_share": _asm(
        "one joiner in ten sells to customers without recruiting; surveys report the split "
        "between discount and business only, not this one",
        "share of joiners",
        (0.0, 0.25),
    ),
    "segments.discount_fixed_usd_monthly": _src(
        "doTERRA, Wellness Advocate agreement (2017): an annual renewal fee of $25, about "
        "$2 a month.",
        "usd per month",
    ),
    "segments.discount_quit_monthly": _src(
        "Young Living, Income Disclosure Statement (2018): 47% of a new cohort made no "
        "purchase the next year; 1 - (1 - 0.47)^(1/12) = 0.051 a month.",
        "probability per member-month",
    ),
    "segments.downgrade_prob": _asm(
        "three in ten builders who give up keep buying for the discount; no published figure",
        "probability per would-be quitter",
        (0.0, 0.7),
    ),
    "segments.sharer_pitches_per_month": _asm(
        "off (0) by default, as in the textbook model where only builders recruit; doTERRA's "
        "own material says most members enroll through a friend who shared the product and "
        "the AARP Foundation 2018 survey found 1/3 recruited by a friend, but no publication "
        "gives how often members who only buy share it; calibrate it",
        "pitches per member-month",
        (0.0, 3.0),
    ),
    "segments.discount_loyalty_pv": _asm(
        "off (0) by default: discount buyers order only what the household uses; doTERRA's "
        "Loyalty Rewards Program (its programme page) gives points on a monthly order from 50 "
        "PV and the free product of the month from 125 PV, and its 2015 disclosure reports "
        "'extremely high participation', but no publication gives the order that members who "
        "only buy keep; calibrate it",
        "PV per member-month",
        (0.0, 150.0),
    ),
    "segments.wholesale_share": _asm(
        "off (0) by default: every member who only buys is a distributor. doTERRA offers two "
        "accounts at the member price, Wholesale Customer (cannot enroll anyone or earn) and "
        "Wellness Advocate (its Earning and Opportunity Guidelines; teams' enrollment guides "
        "compare the two), and its income statements count Wellness Advocates; many who "
        "only want the discount still enroll as Wellness Advocates. No publication gives the "
        "split; calibrate it",
        "share of discount buyers",
        (0.0, 1.0),
    ),
    "recruit.bass_p": _set(
        "bass mode only: the textbook coefficient of innovation; Bass (1969) estimated about "
        "0.01 a year for consumer durables, so set it for the process you study.",
        "probability per prospect-month",
    ),
    "recruit.bass_q": _set(
        "bass mode only: the coefficient of imitation (Bass 1969: about 0.3-0.5 a year for "
        "consumer durables).",
        "per month",
    ),
    "recruit.branching_offspring": _set(
        "branching mode only: the offspring distribution of the chain letter (default: 0-3 "
        "recruits with equal chance, mean 1.5)."
    ),
    "recruit.max_joins_per_month": _set(
        "A cap on joins a month (0: none), e.g. one joiner a month for a textbook example.",
        "joins per month",
    ),
    # ---------------------------------------------------------------- [rejoin]
    "rejoin.enabled": _set("Switch: quitters can be recruited again after a cool-down."),
    "rejoin.cooldown_months": _asm(
        "half a year before a former member listens to a pitch again; no published figure",
        "months",
        (0, 24),
    ),
    "rejoin.appeal": _asm(
        "about a third of former participants say they would join the same or another MLM "
        "again (a participants' survey reported in the behaviour issue; the citation is to be "
        "confirmed), so a quitter says yes a third as often as a prospect",
        "relative chance per pitch",
        (0.0, 0.7),
    ),
    # ---------------------------------------------------------------- [posterior]
    "posterior.parameters": _set("Written by mlmsim calibrate: the calibrated keys."),
    "posterior.samples": _set("Written by mlmsim calibrate: the posterior particles' file."),
    "posterior.median": _set("Written by mlmsim calibrate: posterior medians (not read)."),
    "posterior.method": _set("Written by mlmsim calibrate: the inference method."),
    "posterior.provenance": _set("Written by mlmsim calibrate: targets, priors, seed, run."),
    # ---------------------------------------------------------------- [people]
    "people.skill_sigma": _set(
        "Switch and spread of skill differences (0: everyone equal); no published "
        "distribution of selling skill among distributors.",
    ),
    "people.leader_founders": _set("Switch: founders are well-connected leaders."),
    "people.leader_top_share": _asm(
        "leaders come from the best-connected 5% of the town",
        "share of persons",
        (0.01, 0.2),
    ),
    "people.leader_skill": _asm(
        "a leader converts and sells twice as well as an average member",
        "skill multiplier",
        (1.0, 5.0),
    ),
    "people.leader_quit_factor": _asm(
        "a leader quits half as often (committed founders of a company)",
        "hazard multiplier",
        (0.1, 1.0),
    ),
    "people.overload_strength": _set(
        "Strength of the overstretched-upline effect (0: off); no quantitative evidence was "
        "found on how support thins with the size of a frontline, so it is a what-if knob."
    ),
    # ---------------------------------------------------------------- [returns]
    "returns.enabled": _set("Switch: customers and members return product; refunds, clawbacks."),
    "returns.window_months": _set(
        "Policy: the return window. 1 month is the common 30-day satisfaction guarantee "
        "(a distributor's customer guarantee of 30 days after the purchase, Parent Company "
        "'Customer Guarantee'; Treventiad's 100% thirty-day money back guarantee; THREE "
        "International, 30 days for members); the DSA buyback and Treventiad's member returns "
        "allow 12 months.",
        "months",
    ),
    "returns.customer_prob": _asm(
        "3 in 100 customer orders come back; companies publish return policies, not return "
        "rates (10-K filings report a liability for sales returns, not a rate per order)",
        "probability per customer order",
        (0.0, 0.15),
    ),
    "returns.member_prob": _asm(
        "2 in 100 monthly stock purchases are sent back unopened; policies cap returns "
        "(THREE International may terminate a member returning $500 a year) and no rate is "
        "published",
        "probability per member-month with stock bought",
        (0.0, 0.1),
    ),
    "returns.customer_refund_share": _src(
        "Customer satisfaction guarantees refund the full price: Treventiad, Customer Return "
        "Policy ('one hundred percent (100%) thirty-day (30) money back guarantee'); Parent "
        "Company Customer Guarantee ('a full refund of the purchase price'); NewYou, full "
        "refund within 60 days (company pages, undated); a direct-selling lawyer's overview "
        "(MLM Attorney, 'Differentiating customer satisfaction, right to cancel and "
        "buy-back', 2012) finds that virtually every company offers such a guarantee.",
        "share of wholesale cost",
    ),
    "returns.member_refund_share": _src(
        "Direct Selling Association (US), Code of Ethics: repurchase at 90% of cost (the "
        "'90% buyback provisions'; the FTC's Business Guidance Concerning Multi-Level "
        "Marketing, 2018, weighs such policies); Treventiad, distributor returns within 12 "
        "months refunded at 'ninety percent (90%) of the purchase price'; THREE "
        "International, a 90% refund (10% restocking fee).",
        "share of wholesale cost",
    ),
    # ---------------------------------------------------------------- [expectations]
    "expectations.enabled": _set(
        "Switch: expected income drives joining, quitting and (with qualify_rule) buying."
    ),
    "expectations.optimism": _asm(
        "recruiting pitches show incomes about three times what the recruiter expects; set "
        "so the classroom town grows at a pace comparable with expectations off (to "
        "calibrate)",
        "claim / expected income",
        (1.0, 6.0),
    ),
    "expectations.outside_option_usd": _asm(
        "a prospect wants $50 a month beyond costs to start a side business (a few hours at "
        "a low wage)",
        "usd per month",
        (0.0, 300.0),
    ),
    "expectations.scale_usd": _asm(
        "the decision turns over about $50 a month of expected surplus",
        "usd per month",
        (10.0, 200.0),
    ),
    "expectations.adaptation": _asm(
        "adaptive expectations (Nerlove 1958) with weight 0.3 on the latest month: a "
        "half-life of about two months",
        "weight per month",
        (0.05, 0.8),
    ),
    "expectations.disappointment_extra": _asm(
        "an expected income far below costs adds 5 points to the monthly quit hazard",
        "probability per distributor-month",
        (0.0, 0.2),
    ),
    # ---------------------------------------------------------------- [policy]
    "policy.cooling_off_months": _set(
        "Policy: 0, no cooling-off. Cooling-off rights with a full refund exist for "
        "door-to-door and distance sales (FTC Cooling-Off Rule, 16 CFR 429: 3 days; EU "
        "Directive 2011/83/EU: 14 days); a period of months is a policy to test.",
        "months",
    ),
    "policy.claim_cap": _set(
        "Policy: none, no cap on recruiters' earnings claims. The FTC's 2018 guidance on "
        "multi-level marketing calls earnings claims misleading when they go beyond what "
        "participants typically earn; 'median' caps a claim at the typical income."
    ),
    "policy.claim_cap_usd": _set(
        "Policy: the dollar cap used when claim_cap = 'usd' (a what-if value, not a figure "
        "from a rule).",
        "usd per month",
    ),
    # ---------------------------------------------------------------- [placement]
    "placement.rule": _set(
        "Switch: 'enroller' (default), every member sponsored by who enrolled them, the "
        "textbook tree; 'legs', builders place the recruits who did not join to build in the "
        "leg that needs volume, as doTERRA's own training tells them to ('While you could "
        "potentially sponsor all of your new enrollees, this is not your best strategy', "
        "doTERRA blog 'Why Power of 3?'; 'Placement strategy', doTERRA Empowered Success)."
    ),
    "placement.share": _asm(
        "1: every builder follows the placement guidance of the company's training. No "
        "publication says how many do; calibrate it",
        "probability",
        (0.0, 1.0),
    ),
    "placement.builder_share": _asm(
        "0: every builder recruit starts a new leg on the enroller's frontline, the textbook "
        "tree. doTERRA's guidance places builders 'on your first and second levels' "
        "('Identifying and Placing Team Members', Building doTERRA Naturally) and Silver asks "
        "for three legs that each hold an Elite; no publication says how often a builder is "
        "placed in a leg rather than frontline, so calibrate it",
        "probability",
        (0.0, 1.0),
    ),
    "placement.width": _src(
        "doTERRA's Power of 3: three personally sponsored members with 100 PV orders, and "
        "Silver's three Elite legs (doTERRA company blog, 'Why Power of 3?' and 'Ranks in "
        "doTERRA', undated, read 2026): a builder keeps three on the frontline and balances "
        "three legs.",
        "members",
    ),
    # ---------------------------------------------------------------- [chain]
    "chain.enabled": _set("Switch: recruits pay a joining fee up the chain (chain letter)."),
    "chain.fee_usd": _set(
        "Illustrative joining payment of the chain-letter model (the '8-ball' schemes asked "
        "for payments of a few hundred to a few thousand dollars).",
        "usd",
    ),
    "chain.sponsor_share": _set(
        "Illustrative split: half to the sponsor, half up the chain.", "share of the fee"
    ),
    "chain.upline_level": _set(
        "Who gets the rest: the member this many levels up (the classic chain letter pays "
        "the name at the top of a list of a few names).",
        "levels",
    ),
    "expectations.contact_weight": _set(
        "Weight of each contact seen in the business against the recruiter's claim (0: the "
        "claim alone, the expectations model without social learning). No study measures it; "
        "1 gives every source the same weight (DeGroot 1974 averaging; Golub and Jackson 2010 "
        "naive learning), the value scenarios/plan_response.toml uses.",
        "weight per contact",
    ),
    "expectations.disclosure_shown": _set(
        "Switch (a policy): the company's income disclosure figure is shown at the pitch."
    ),
    "expectations.disclosure_weight": _asm(
        "the statement counts as much as the recruiter's claim (DeGroot 1974 equal weights); "
        "prospects may discount a statement or trust it more than a sales pitch",
        "weight (claim = 1)",
        (0.0, 5.0),
    ),
    # ---------------------------------------------------------------- [incentives]
    "incentives.effort": _set(
        "Switch: builders split their pitches between recruiting and selling by what the "
        "plan pays (generalised matching law)."
    ),
    "incentives.sensitivity": _asm(
        "the generalised matching law's sensitivity; laboratory choice experiments fit about "
        "0.8 on average (undermatching: Baum 1974, 1979), taken over to members choosing "
        "between recruiting and selling, which no study has measured",
        "exponent",
        (0.0, 1.5),
    ),
    "incentives.horizon_months": _asm(
        "members judge a recruit and a customer over a year, the period income disclosure "
        "statements report",
        "months",
        (3, 36),
    ),
    "incentives.loading": _set(
        "Switch: inventory loading follows the gap to the next rank or stairstep "
        "percentage, not a fixed share of loaders."
    ),
    "incentives.max_loading_pv": _asm(
        "a member closes at most 1,000 PV (about 1,000 USD at 1 USD/PV) by buying stock in "
        "one month, what a household can put on a credit card; no published figure",
        "pv per month",
        (100.0, 5000.0),
    ),
}


# The market sections of a scenario with [[companies]] (simulation.market, docs/market.md):
# not scenario parameters (no --set, no schema entry), so they have a table of their own.
MARKET_PROVENANCE: dict[str, Provenance] = {
    # ---------------------------------------------------------------- [switching]
    "switching.enabled": _set("Switch: leaders may move to another company."),
    "switching.leader_min_downline": _asm(
        "a member with a handful of active people below them leads a team worth recruiting "
        "away; no published threshold",
        "persons",
        (2, 20),
    ),
    "switching.approach_prob": _asm(
        "a leader is approached about once in four years; trade press and lawsuits over "
        "cross-recruiting clauses in distributor agreements report leaders moving with "
        "their downline but give no rates",
        "probability per leader-month",
        (0.0, 0.1),
    ),
    "switching.follow_share": _asm(
        "half of a moving leader's downline follows them; accounts of leaders taking their "
        "teams give no share",
        "probability per member",
        (0.1, 0.9),
    ),
    "switching.customer_follow_share": _asm(
        "a direct-selling customer buys from a person they know more than from a brand, so "
        "most follow their seller, while some are attached to the product they use and "
        "stay; no published rate",
        "probability per customer",
        (0.3, 0.95),
    ),
    # ---------------------------------------------------------------- [choice]
    "choice.age_weight": _asm(
        "the company's age stands for its track record (a new company is riskier); not measured",
        "utility per unit of ln(1 + months)",
        (0.0, 5.0),
    ),
    "choice.contacts_weight": _asm(
        "a person prefers the company their friends are in and avoids one their friends "
        "left (the bad-news channel of recruit.bad_news); not measured",
        "utility per share of contacts",
        (0.0, 5.0),
    ),
    "choice.income_weight": _asm(
        "a unit coefficient on log expected income: the odds of choosing one company over "
        "another are (1 + E_1 / scale) / (1 + E_2 / scale), about proportional to what the "
        "person expects to earn in each once that is large against the decision's scale "
        "(expectations.scale_usd); the logarithm is the usual form of income in random-"
        "utility choice models (each extra dollar counts less); no measured coefficient for "
        "choosing among MLM companies",
        "utility per unit of ln(1 + USD / expectations.scale_usd)",
        (0.0, 3.0),
    ),
    "choice.record_weight": _asm(
        "off: a prospect sees the company's age (age_weight) but no source says how they "
        "weigh its recent growth, or whether they see it at all (companies publish no "
        "monthly member counts); switch it on to ask the question",
        "utility per unit of growth (clipped to -1 to 1)",
        (0.0, 5.0),
    ),
    "choice.record_months": _asm(
        "a year, the period of income disclosure statements and of the year-on-year growth "
        "companies and the trade press report",
        "months",
        (3, 24),
    ),
    "choice.shared_fatigue": _set(
        "Switch: pitches from every company tire a prospect (fatigue is with being pitched "
        "an opportunity, not with one brand)."
    ),
    "choice.customers_switch": _set(
        "Switch: a member's retail pitch can win another company's customer, who chooses "
        "by the prospects' logit restricted to the two companies (customers choose and "
        "switch as members do)."
    ),
    # ---------------------------------------------------------------- [expansion]
    "expansion.enabled": _set("Switch: companies work one town at a time."),
    "expansion.penetration": _asm(
        "a stylised rule for opening a new town when the home town saturates; no published "
        "threshold",
        "share of the open towns' persons",
        (0.1, 0.5),
    ),
    "expansion.joins_share_of_peak": _asm(
        "the same rule measured by joins: a town is saturated when its joins fell to a "
        "quarter of their peak; no published threshold",
        "share of the peak month's joins",
        (0.1, 0.5),
    ),
    "expansion.min_months": _asm(
        "a town gets half a year before the next opens; not measured",
        "months",
        (3, 24),
    ),
    "expansion.founders": _asm(
        "a company appoints a few distributors to open a town; not measured",
        "persons",
        (1, 20),
    ),
}


def for_key(key: str) -> Provenance | None:
    """The entry of ``"section.key"``, or None if it has none (a new, undocumented key)."""
    return PROVENANCE.get(key)
