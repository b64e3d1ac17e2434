"""The codebook: every column of every output table, with its meaning, unit and population.

One place assembles it. Meanings that the code already states are taken from where the
column is made (:data:`simulation.collect.MONTHLY_COLUMNS` and ``LEVEL_COLUMNS``,
:data:`simulation.state.FIELDS`, :data:`simulation.outcomes.OUTCOMES`); this module adds the
meanings nobody wrote yet, and a unit and a population for every column. A column whose
name follows a pattern (``paid_<component>``, survival's per-age columns, a payout table's
per-component columns, a sweep's parameter columns) is described once, under the pattern.

:func:`codebook` is the whole codebook, ``{table_file: {column: {"meaning", "unit",
"population"}}}``; :func:`describe` picks the entries of the columns a folder actually holds;
:func:`write_columns` writes them as ``columns.json``. ``docs/codebook.md`` is generated from
here (``python docs/gen_codebook.py``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from simulation import collect, market_tables, outcomes, results
from simulation.state import FIELDS

COLUMNS_FILE = "columns.json"

Entry = dict[str, str]

# Populations, named once.
ALL_N = "all N persons of the market, at the end of the month"
ACTIVE = "active distributors (joined, not quit), in the month"
JOINERS_SO_FAR = "everyone who joined by the end of the month (quitters included)"
THE_MONTH = "the month (a flow over the month)"
EVER_JOINED = "everyone who ever joined (one row each; quitters included), at the end of the run"
LEVEL_MONTH = "members whose level at joining is this row's level, in this row's month"
LEVEL_ALL = "everyone who ever joined whose level at joining is this row's level"
IDS_ROW = "the row's population (column population) and rank, over the disclosure year"
CONC_ROW = "the row's group (columns grouping, group) of everyone who ever joined"
RUN = "the whole run"
SWEEP_RUN = "one run of the sweep (one row per point and replicate)"
PAYOUT_ROW = "one distributor in one period of the genealogy"
PAYOUT_ALL = "all periods and distributors of the genealogy"

PAID_MEMBERS = "the month's paid members: distributors active in the pay phase"

# -- monthly.csv: meanings from collect.MONTHLY_COLUMNS; unit and population here.
MONTHLY_UNITS: dict[str, tuple[str, str]] = {
    "month": ("month index", "the month"),
    "prospects": ("persons", ALL_N),
    "customers": ("persons", ALL_N),
    "distributors": ("persons", ALL_N),
    "quit": ("persons", ALL_N),
    "joined": ("persons", THE_MONTH),
    "quit_this_month": ("persons", THE_MONTH),
    "ever_joined": ("persons", ALL_N),
    "penetration": ("share 0-1", ALL_N),
    "revenue": ("USD", THE_MONTH),
    "commissionable_revenue": ("USD", THE_MONTH),
    "commissions": ("USD", THE_MONTH),
    "payout_ratio": ("ratio (empty when no commissionable revenue)", THE_MONTH),
    "breakage": ("USD", THE_MONTH),
    "retail_share": ("share 0-1 (empty when no volume)", THE_MONTH),
    "retail_sales": ("USD", THE_MONTH),
    "pv": ("PV", THE_MONTH + ", all active distributors"),
    "topup_pv": ("PV", THE_MONTH + ", all active distributors"),
    "loading_pv": ("PV", THE_MONTH + ", all active distributors"),
    "qualified": ("persons", ACTIVE),
    "max_depth": ("tree depth (roots 0)", ACTIVE),
    "gini_commissions": ("Gini index 0-1 (empty when nothing paid)", JOINERS_SO_FAR),
    "gini_net_income": ("Gini index (RSV, >= 0)", JOINERS_SO_FAR),
    "share_net_loss": ("share 0-1", JOINERS_SO_FAR),
    "share_net_loss_strict": ("share 0-1", JOINERS_SO_FAR),
    "top1_commissions": ("share 0-1", JOINERS_SO_FAR),
    "paid_<component>": ("USD", THE_MONTH),
    "paid_recruiting": ("USD", THE_MONTH),
    "bv": ("BV", THE_MONTH + ", all active distributors"),
    "bv_new_recruits": ("BV", THE_MONTH + ", recruits who joined in the last 3 months"),
    "customer_pv": ("PV", THE_MONTH + ", orders of retail customers"),
    "kits_revenue": ("USD", THE_MONTH + ", this month's joiners"),
    "new_recruit_purchases": ("USD", THE_MONTH + ", recruits who joined in the last 3 months"),
    "reachable_per_active": ("persons per distributor", ACTIVE + " (at the month's end)"),
    "rejoined": ("persons", THE_MONTH + "; only when [rejoin] is enabled"),
    "household_pv": ("PV", THE_MONTH + ", all active distributors"),
    "returned_pv": ("PV", THE_MONTH + ", all active distributors"),
    "unconsumed_pv": (
        "PV (negative when stock is drawn down)",
        THE_MONTH + ", distributors active in the pay phase",
    ),
    "qualify_pv": ("PV", THE_MONTH + ", all active distributors"),
    "amway70_pass": ("persons", PAID_MEMBERS),
    "amway70_paid": ("USD", PAID_MEMBERS),
    "ten_customers_pass": ("persons", PAID_MEMBERS),
    "ten_customers_paid": ("USD", PAID_MEMBERS),
    "vemma_pass": ("persons", PAID_MEMBERS),
    "vemma_paid": ("USD", PAID_MEMBERS),
    "end_use_pass": ("persons", PAID_MEMBERS),
    "end_use_paid": ("USD", PAID_MEMBERS),
    "commissions_retail_backed": ("USD", PAID_MEMBERS),
    "paid_chain": ("USD", THE_MONTH + "; only when [chain] is enabled"),
    "return_refunds": ("USD", THE_MONTH + "; only when [returns] is enabled"),
    "customer_refunds": ("USD", THE_MONTH + "; only when [returns] is enabled"),
    "clawbacks": ("USD", THE_MONTH + "; only when [returns] is enabled"),
    "rank_members_<rank>": ("persons", THE_MONTH + ", paid as the rank; plans with ranks"),
    "rank_commissions_<rank>": ("USD", THE_MONTH + ", paid as the rank; plans with ranks"),
    "rank_paid_<component>_<rank>": (
        "USD",
        THE_MONTH + ", paid as the rank, by the component; plans with ranks",
    ),
}

LEVEL_UNITS: dict[str, tuple[str, str]] = {
    "month": ("month index", "the month"),
    "level": ("level (founders 1)", "the level"),
    "members": ("persons", LEVEL_MONTH + " (active at the month's end)"),
    "ever_joined": ("persons", LEVEL_MONTH + " (joined by the month's end)"),
    "recruits": ("persons", LEVEL_MONTH),
    "commissions": ("USD", LEVEL_MONTH),
    "mean_net_income": ("USD per person", LEVEL_MONTH + " (everyone of the level who joined)"),
}

# -- distributors.parquet: state fields take their meaning from state.FIELDS.
_FIELD_MEANING = {name: meaning for name, _dtype, _fill, meaning in FIELDS}
DISTRIBUTOR_STATE_UNITS: dict[str, str] = {
    "enroller": "person id (-1 none)",
    "sponsor": "person id (-1 none)",
    "level": "level (founders 1)",
    "join_month": "month index",
    "quit_month": "month index (-1 not quit)",
    "recruits": "persons",
    "customers": "persons",
    "joined_as": "text",
    "wholesale": "true/false",
    "rank": "rank index of the plan (-1 none)",
    "rank_last": "rank index of the plan (-1 none)",
    "rank_highest": "rank index of the plan (-1 none)",
    "pv_total": "PV",
    "commissions": "USD",
    "retail_sales": "USD",
    "retail_margin": "USD",
    "purchases": "USD",
    "own_use_value": "USD",
    "own_use_paid": "USD",
    "kit_cost": "USD",
    "fixed_costs": "USD",
    "buyback_refund": "USD",
    "returns_refund": "USD",
    "customer_refunds": "USD",
    "clawback": "USD",
    "inventory_pv": "PV",
    "willingness": "probability 0-1",
    "effort": "multiplier (mean 1)",
}
# What the table adds to a state field's meaning.
DISTRIBUTOR_NOTES: dict[str, str] = {
    "sponsor": " When a distributor quits, their downline rolls up to the quitter's sponsor and "
    "the quitter leaves the tree: sponsor is -1 for roots (founders) and for every quitter, "
    "and differs from enroller for anyone whose enroller (or an upline) quit.",
    "enroller": " Unlike sponsor, not changed when an upline quits.",
    "wholesale": " They buy, and their volume counts for their uplines, but they share with no "
    "one (leaves of the sponsor tree: a plan paying on others' volume pays them nothing); "
    "income statements (calibration targets, mlmsim validate) leave "
    "them out. Always false unless segments.wholesale_share > 0.",
    "level": " Set at joining (a rejoiner: at the latest joining) and not changed by roll-ups; "
    "compare depth (max_depth in monthly.csv), which roll-ups reduce.",
    "join_month": " For a rejoiner, the month of the latest joining.",
    "rank": " Here: in the last month of the run.",
    "commissions": " Whole run.",
    "retail_sales": " Cumulative, whole run.",
    "retail_margin": " Cumulative, whole run.",
    "purchases": " Cumulative, whole run.",
    "own_use_value": " Cumulative, whole run.",
    "own_use_paid": " Cumulative, whole run; own_use_value / buy.own_use_value_share when "
    "that share is above 0.",
    "joined_as": " 'discount' (buys for the household), 'retailer' (sells, does not recruit) "
    "or 'builder' (sells and recruits); 'builder' for everyone unless segments are on. Unlike "
    "the segment a member is in at the end, not changed when a builder or retailer who gives "
    "up stays on for the discount.",
    "kit_cost": " Cumulative, whole run.",
    "fixed_costs": " Cumulative, whole run.",
    "buyback_refund": " Cumulative, whole run.",
    "returns_refund": " Cumulative, whole run; 0 unless [returns] is enabled.",
    "customer_refunds": " Cumulative, whole run; 0 unless [returns] is enabled.",
    "clawback": " Cumulative, whole run; 0 unless [returns] is enabled and the plan's "
    "[volume] returns_timing is 'clawback'.",
    "willingness": " Drawn when the population is made.",
    "effort": " Drawn when the population is made.",
}
DISTRIBUTOR_DERIVED: dict[str, Entry] = {
    "id": {"meaning": "Person id (row of the population, 0..N-1).", "unit": "person id"},
    "status": {
        "meaning": "Status at the end: 'distributor' (active) or 'quit'.",
        "unit": "text",
    },
    "costs": {
        "meaning": "Costs over the run: purchases + starter kit + fixed costs + customer "
        "refunds - buyback refund - refunds for returns (state.costs).",
        "unit": "USD",
    },
    "net_income": {
        "meaning": "Net income over the run: commissions - clawback + retail sales + buyback "
        "refund + refunds for returns - purchases - kit - fixed costs - customer refunds + "
        "value of own use (state.net_income).",
        "unit": "USD",
    },
    "net_income_strict": {
        "meaning": "Net income with product used at home counted as a pure cost (own use "
        "not valued).",
        "unit": "USD",
    },
    "net_income_reported": {
        "meaning": "Net income as a participant would report it (survey answers): product "
        "used at home worth what was paid for it, neither gain nor loss; every business cost "
        "counted: net_income_strict + own_use_paid (state.net_income_reported).",
        "unit": "USD",
    },
    "commissions_year": {
        "meaning": "Commissions net of clawbacks in the last 12 months (the income "
        "disclosure year; the whole run if it is shorter).",
        "unit": "USD",
    },
    "costs_year": {"meaning": "Costs in the last 12 months (as costs).", "unit": "USD"},
    "net_income_year": {
        "meaning": "Net income in the last 12 months (as net_income).",
        "unit": "USD",
    },
    "reachable_prospects": {
        "meaning": "Social contacts still reachable at the end: never joined and not "
        "refusing (empty without a social network or with observe.reachable = false).",
        "unit": "persons",
    },
    "region": {
        "meaning": "Town (region) the person lives in, 0-based (market.network = 'regions'; "
        "0 for everyone in a one-town market).",
        "unit": "region index",
    },
}
DISTRIBUTOR_ORDER = (
    "id", "status", "enroller", "sponsor", "level", "join_month", "quit_month", "recruits",
    "customers", "joined_as", "wholesale", "rank", "rank_last", "rank_highest", "pv_total",
    "commissions", "retail_sales", "retail_margin", "purchases", "own_use_value", "own_use_paid",
    "kit_cost", "fixed_costs", "buyback_refund", "returns_refund", "customer_refunds", "clawback",
    "inventory_pv", "costs", "net_income", "net_income_strict", "net_income_reported",
    "commissions_year", "costs_year", "net_income_year",
    "willingness", "effort", "reachable_prospects", "region",
)  # fmt: skip

# -- income_disclosure.csv (metrics.disclosure); the means and shares are over the row.
INCOME_DISCLOSURE: dict[str, tuple[str, str, str]] = {
    "population": (
        "Which joiners: active_full_year (active all 12 months: the block companies publish), "
        "joined_during_year, quit_during_year, all_participants (the three together).",
        "text",
        "everyone who was a distributor in at least one month of the disclosure year",
    ),
    "rank": ("Rank (as recorded; -1 no rank, quitters their last rank); empty = all ranks.",
             "rank index of the plan", IDS_ROW),
    "count": ("Persons in the row.", "persons", IDS_ROW),
    "share_of_population": ("count / persons of the row's population (the published '% of "
                            "distributors').", "share 0-1", IDS_ROW),
    "share_of_participants": ("count / all_participants.", "share 0-1", IDS_ROW),
    "mean_gross": ("Mean commissions_year.", "USD per person", IDS_ROW),
    "median_gross": ("Median commissions_year.", "USD per person", IDS_ROW),
    "share_no_gross": ("Share with commissions_year <= 0.", "share 0-1", IDS_ROW),
    "mean_costs": ("Mean costs_year.", "USD per person", IDS_ROW),
    "median_costs": ("Median costs_year.", "USD per person", IDS_ROW),
    "mean_net": ("Mean net_income_year.", "USD per person", IDS_ROW),
    "median_net": ("Median net_income_year.", "USD per person", IDS_ROW),
    "share_net_loss": ("Share with net_income_year < 0.", "share 0-1", IDS_ROW),
}  # fmt: skip

CONCENTRATION: dict[str, tuple[str, str, str]] = {
    "measure": ("What is measured per person: gross (commissions over the run), net (net "
                "income over the run, own use valued) or net_strict (own use counted as a "
                "cost).", "text", EVER_JOINED),
    "grouping": ("How persons are grouped: all, level, rank, cohort or cohort_band.",
                 "text", EVER_JOINED),
    "group": ("The group's label within the grouping ('all' for grouping all).", "text",
              CONC_ROW),
    "n": ("Persons in the group.", "persons", CONC_ROW),
    "total": ("Sum of the measure.", "USD", CONC_ROW),
    "mean": ("Mean of the measure.", "USD per person", CONC_ROW),
    "median": ("Median of the measure.", "USD per person", CONC_ROW),
    "gini": ("Gini index of the measure (Raffinetti-Siletti-Vernizzi, defined with losses).",
             "Gini index (>= 0)", CONC_ROW),
    "top1": ("Share of the total held by the top 1% of the group (empty when the total <= 0).",
             "share 0-1", CONC_ROW),
    "top10": ("Share of the total held by the top 10% (empty when the total <= 0).",
              "share 0-1", CONC_ROW),
    "share_loss": ("Share with a value < 0.", "share 0-1", CONC_ROW),
    "share_zero": ("Share with a value of exactly 0 (for gross: paid nothing).", "share 0-1",
                   CONC_ROW),
}  # fmt: skip

SATURATION: dict[str, tuple[str, str, str]] = {
    "level": ("Level at joining (founders 1).", "level", LEVEL_ALL),
    "ever_joined": ("Persons who joined at the level.", "persons", LEVEL_ALL),
    "active": ("Of them, still distributors at the end.", "persons", LEVEL_ALL),
    "share_recruited": ("Share who personally enrolled anyone.", "share 0-1", LEVEL_ALL),
    "mean_recruits": ("Mean persons personally enrolled.", "persons per person", LEVEL_ALL),
    "first_join_month": ("First month anyone joined at the level.", "month index", LEVEL_ALL),
    "last_join_month": ("Last month anyone joined at the level.", "month index", LEVEL_ALL),
    "reachable_mean": ("Mean still-reachable prospects (empty without a social network).",
                       "persons per person", "active members of the level at the end"),
    "share_no_reachable": ("Share with no reachable prospect left (empty without a social "
                           "network).", "share 0-1", "active members of the level at the end"),
    "last_recruit_month": ("Last month a member of the level recruited anyone (the last "
                           "join at the next level; -1 never).", "month index", LEVEL_ALL),
}  # fmt: skip

SURVIVAL: dict[str, tuple[str, str, str]] = {
    "cohort": ("Join month of the cohort.", "month index", "everyone who joined in that month"),
    "n": ("Persons in the cohort.", "persons", "everyone who joined in the cohort's month"),
    "<age>": ("Share of the cohort still active <age> months after joining (one column per "
              "age 0, 1, 2, ...; empty where the run ended before that age).", "share 0-1",
              "everyone who joined in the cohort's month"),
}  # fmt: skip

# summary.json: its keys are the first group of outcomes.OUTCOMES, plus these two.
SUMMARY_EXTRA: dict[str, tuple[str, str]] = {
    "scenario": ("Name of the scenario.", "text"),
    "seed": ("Master seed of the run.", "integer"),
}
OUTCOME_UNITS: dict[str, str] = {
    "population": "persons",
    "months": "months",
    "ever_joined": "persons",
    "penetration": "share 0-1",
    "active_end": "persons",
    "peak_joins": "persons",
    "peak_month": "month index",
    "half_peak_month": "month index",
    "max_level": "level",
    "share_net_loss": "share 0-1",
    "share_net_loss_strict": "share 0-1",
    "survey_lost": "share 0-1",
    "survey_broke_even": "share 0-1",
    "survey_profit": "share 0-1",
    "median_net_income": "USD",
    "consumer_injury": "USD",
    "gini_net_income": "Gini index (>= 0)",
    "top1_commissions": "share 0-1",
    "top10_commissions": "share 0-1",
    "payout_ratio": "ratio",
    "retail_share": "share 0-1",
    "revenue": "USD",
    "commissions": "USD",
    "worst_month_payout_ratio": "ratio",
    "worst_month": "month index",
    "breakage": "USD",
    "breakage_ratio": "ratio",
    "cap_ratio": "ratio",
    "months_over_cap": "months",
    "recruitment_income_share": "share 0-1",
    "reachable_per_active_end": "persons per distributor",
    "amway_70_company_share": "share 0-1",
    "amway_70_pass_share": "share 0-1",
    "amway_70_paid_share": "share 0-1",
    "ten_customer_pass_share": "share 0-1",
    "ten_customer_paid_share": "share 0-1",
    "vemma_pass_share": "share 0-1",
    "vemma_paid_share": "share 0-1",
    "herbalife_end_user_share": "share 0-1",
    "end_use_pass_share": "share 0-1",
    "end_use_paid_share": "share 0-1",
    "herbalife_retail_rewards_share": "share 0-1",
    "recruitment_reward_share": "share 0-1",
    "unconsumed_share": "share 0-1",
    "qualify_share": "share 0-1",
    "members_net_income": "USD",
}
SUMMARY_POPULATION = "the whole run; people: everyone who ever joined"

# analysis.json is nested: its top-level keys.
ANALYSIS: dict[str, tuple[str, str]] = {
    "population": ("Persons in the market (N).", "persons"),
    "months": ("Months simulated.", "months"),
    "founders": ("Persons who joined in month 0.", "persons"),
    "ever_joined": ("Persons who ever joined.", "persons"),
    "active_end": ("Active distributors at the end.", "persons"),
    "penetration": ("ever_joined / N.", "share 0-1"),
    "share_net_loss": ("Share of joiners with net income < 0 (own use valued).", "share 0-1"),
    "share_net_loss_strict": ("The same with own use counted as a cost.", "share 0-1"),
    "survey_lost": ("Of the joiners who joined to make money, the share whose lifetime net as "
                    "they would report it is a loss (summary's survey_lost; null if none).",
                    "share 0-1"),
    "survey_broke_even": ("The same, within $100 of zero.", "share 0-1"),
    "survey_profit": ("The same, a profit.", "share 0-1"),
    "lost_money": ("Joiners with net income < 0.", "persons"),
    "median_net_income": ("Median net income of joiners.", "USD"),
    "mean_net_income": ("Mean net income of joiners.", "USD"),
    "gini_net_income": ("Gini of net income (RSV, defined with losses).", "Gini index"),
    "gini_commissions": ("Gini of commissions.", "Gini index 0-1"),
    "top1_commissions": ("Share of commissions received by the top 1% of joiners.",
                         "share 0-1"),
    "top10_commissions": ("Share of commissions received by the top 10%.", "share 0-1"),
    "top1_people": ("How many persons the top 1% is (0.01 x ever_joined).", "persons"),
    "share_no_commission": ("Share of joiners paid nothing.", "share 0-1"),
    "peak_joins": ("Most joins in one month.", "persons"),
    "peak_month": ("Month of the most joins.", "month index"),
    "half_peak_month": ("First month after the peak with joins below half the peak "
                        "(null if none).", "month index"),
    "max_level": ("Deepest level at joining.", "level"),
    "deepest_recruiting_level": ("Deepest level whose members recruited anyone.", "level"),
    "first_month_deepest_level": ("First month anyone joined at max_level.", "month index"),
    "last_join_month": ("Last month anyone joined.", "month index"),
    "reachable_per_active_start": ("Reachable prospects per active distributor in month 0 "
                                   "(null without a social network).",
                                   "persons per distributor"),
    "reachable_per_active_end": ("The same at the end.", "persons per distributor"),
    "bass": ("Bass diffusion fit to the monthly joins: {ok, p (innovation), q (imitation), "
             "m (market size, persons), rmse, rmse_share, peak_month, message}.", "object"),
    "company": ("The company's money over the run: {revenue, kits_revenue, "
                "commissionable_revenue, commissions (USD), payout_ratio, cap_ratio, breakage, "
                "breakage_share, retail_share, qualifying_purchase_share, recruitment_income, "
                "recruitment_income_share, revenue_from_recruitment_share, "
                "customers_per_distributor, customers_end}; with [returns] on also "
                "{returned_pv (PV), returned_usd, return_refunds, customer_refunds, clawbacks, "
                "commissions_net (commissions - clawbacks)}.", "object (USD, shares 0-1)"),
    "attrition": ("Quitting: {annual_quit_rate, annual_quit_rate_last_year, "
                  "mean_monthly_quit_rate (shares 0-1), quit_total (persons)}.", "object"),
    "disclosure_year": ("First and last month of the income disclosure year.",
                        "[month index, month index]"),
    "early_months": ("Months after joining whose orders count as a new recruit's (month of "
                     "joining included).", "months"),
    "own_use_value_share": ("Share of the wholesale price at which product used at home is "
                            "valued.", "share 0-1"),
    "indicators": ("Pyramid-scheme indicators, a list of {name, value, threshold, comparison, "
                   "passes, source, meaning}.", "list of objects"),
    "consumer_injury": ("Sum of the net losses of everyone who joined (own use valued).",
                        "USD"),
    "legal": ("The legal tests of docs/legal.md, a list of {name, label, source, rule, "
              "threshold, comparison, value (company-wide), passes, pass_share (member-months "
              "passing), paid_share (commissions to those passing)}.", "list of objects"),
}  # fmt: skip

# -- sweep folders
SWEEP_IDS: dict[str, tuple[str, str]] = {
    "run_id": ("Run id: a hash of the parameter values, replicate and seed.", "text"),
    "point": ("Index of the design point (parameter combination).", "index"),
    "replicate": ("Index of the replicate (seed) at the point.", "index"),
    "label": ("Readable name of the point (e.g. a stress future).", "text"),
    "seed": ("Seed of the run.", "integer"),
}
RUNS_EXTRA: dict[str, tuple[str, str]] = {
    "status": ("'ok', or 'error' when the run failed.", "text"),
    "error": ("The run's error message (empty when ok).", "text"),
    "scenario": ("Name of the base scenario.", "text"),
    "<parameter>": ("The value of the varied parameter <parameter> (section.key, e.g. "
                    "recruit.join_prob; plan.file the plan; over a market also "
                    "companies.<name>.<key>, docs/sweeps.md) in this run.",
                    "that parameter's unit (docs/parameters.md)"),
}  # fmt: skip
DESIGN_EXTRA: dict[str, tuple[str, str]] = {
    "<parameter>": RUNS_EXTRA["<parameter>"],
    "unit:<parameter>": (
        "Position of the value in its range, before scaling (random, Latin "
        "hypercube, Morris and Sobol designs).",
        "share 0-1",
    ),
}
STRESS: dict[str, tuple[str, str]] = {
    "plan": ("Plan file stem (only when several plans are stressed).", "text"),
    "future": ("Name of the future (the set of shocks).", "text"),
    "runs_ok": ("Runs that finished.", "runs"),
    "runs_failed": ("Runs that failed.", "runs"),
    "payout_ratio_p05": ("5th percentile over seeds of the run's payout ratio.", "ratio"),
    "payout_ratio_median": ("Median over seeds of the payout ratio.", "ratio"),
    "payout_ratio_p95": ("95th percentile over seeds of the payout ratio.", "ratio"),
    "worst_month_payout_ratio_max": ("Highest monthly payout ratio of any run.", "ratio"),
    "worst_month_median": ("Median over seeds of the month of that worst ratio.",
                           "month index"),
    "breakage_ratio_median": ("Median breakage / commissionable revenue.", "ratio"),
    "share_paid_below_costs_median": ("Median share of joiners with net income < 0.",
                                      "share 0-1"),
    "share_paid_below_costs_p95": ("95th percentile of that share.", "share 0-1"),
    "recruitment_income_share_median": ("Median share of commissions paid for recruiting.",
                                        "share 0-1"),
    "recruitment_income_share_p95": ("95th percentile of that share.", "share 0-1"),
    "runs_over_cap": ("Runs with a month over the plan's cap.", "runs"),
    "penetration_median": ("Median ever_joined / N.", "share 0-1"),
    "market_share_end_median": ("Over a market (--company): median share of all the "
                                "market's active distributors who are the company's members "
                                "at the end; the other columns are then the company's.",
                                "share 0-1"),
}  # fmt: skip
STRESS_POPULATION = "the runs (seeds) of one future of the stress test"
POLICY_POPULATION = "the runs (seeds) of one policy of the battery, paired with the baseline's"
# policy.csv: the battery's outcomes (simulation.policy.OUTCOMES), six columns each.
_POLICY_OUTCOMES = {
    "consumer_injury": ("consumer injury (sum of members' net losses)", "USD"),
    "retail_share": ("retail share of volume", "share 0-1"),
    "revenue": ("company revenue", "USD"),
    "members_net_income": ("members' total net income", "USD"),
    "share_net_loss": ("share of members losing money", "share 0-1"),
}
POLICY: dict[str, tuple[str, str]] = {
    "policy": ("The policy's name in the policy file.", "text"),
    "runs_ok": ("Runs (seeds) of the policy that finished.", "runs"),
    "runs_failed": ("Runs of the policy recorded with an error.", "runs"),
    **{
        f"{o}_{stat}": (f"{text.format(label)}", unit)
        for o, (label, unit) in _POLICY_OUTCOMES.items()
        for stat, text in (
            ("mean", "Mean over seeds of the {}."),
            ("p05", "5th percentile over seeds of the {}."),
            ("p95", "95th percentile over seeds of the {}."),
            ("diff", "Mean over seeds of the {} minus the baseline's in the same seed."),
            ("diff_low", "Lower end of the 95% interval (Student's t) of that difference."),
            ("diff_high", "Upper end of the 95% interval (Student's t) of that difference."),
        )
    },
}
FAN_POPULATION = "the ok runs of the row's group, in the row's month"
FAN: dict[str, tuple[str, str]] = {
    "group": ("The fan: a design point's label, or a value of the first varied parameter "
              "(sweep_report.fan_groups).", "text"),
    "month": ("Month.", "month index"),
    "metric": ("A column of monthly.csv.", "text"),
    "n": ("Runs with a value of the metric in the month.", "runs"),
    "mean": ("Mean over those runs.", "the metric's unit (see monthly.csv)"),
    "p05": ("5th percentile over those runs.", "the metric's unit (see monthly.csv)"),
    "p50": ("Median over those runs.", "the metric's unit (see monthly.csv)"),
    "p95": ("95th percentile over those runs.", "the metric's unit (see monthly.csv)"),
}  # fmt: skip
# -- ensemble folders (mlmsim run --seeds N / --posterior)
ENSEMBLE_RUN = "one run of the ensemble (one row per seed and posterior draw)"
ENSEMBLE_ALL = "all runs of the ensemble (one row per outcome)"
ENSEMBLE_IDS: dict[str, tuple[str, str]] = {
    "index": ("Position of the run in the ensemble (draw 0's seeds first).", "index"),
    "name": ("The run's folder under runs/: seed-<seed>, or draw-<draw>-seed-<seed>.", "text"),
    "draw": ("The posterior draw (empty without --posterior).", "index"),
    "replicate": ("Index of the run's seed within its draw.", "index"),
    "seed": ("Seed of the run, derived from the scenario's seed (docs/report.md, "
             "'Ensembles').", "integer"),
    "sample_row": ("Row of the posterior samples file the draw took, from 0 (empty without "
                   "--posterior).", "index"),
    "<parameter>": ("The value of the calibrated parameter <parameter> (section.key) drawn "
                    "from the posterior for this run.",
                    "that parameter's unit (docs/parameters.md)"),
}  # fmt: skip
_ITS_UNIT = "the outcome's unit (its column in ensemble.csv)"
INTERVALS: dict[str, tuple[str, str]] = {
    "outcome": ("An outcome (a column of ensemble.csv; outcomes.OUTCOMES).", "text"),
    "n": ("Runs with a value of the outcome.", "runs"),
    "median": ("Median over those runs (numpy.percentile 50, linear).", _ITS_UNIT),
    "p05": ("5th percentile over those runs: the 90% interval's low end.", _ITS_UNIT),
    "p95": ("95th percentile over those runs: the 90% interval's high end.", _ITS_UNIT),
}
ENSEMBLE_SUMMARY: dict[str, tuple[str, str]] = {
    "scenario": ("Name of the scenario.", "text"),
    "seed": ("The scenario's seed, from which every run's seed and draw derive.", "integer"),
    "runs": ("Runs in the ensemble.", "runs"),
    "seeds_per_draw": ("Seeds per parameter set (--seeds).", "runs"),
    "posterior_draws": ("Posterior draws (--draws); null without --posterior.", "draws"),
    "percentiles": ("The percentiles of the intervals: 5, 50 and 95.", "percent"),
    "outcomes": ("Per outcome, {median, p05, p95, n, runs}: the rows of intervals.csv with the "
                 "ensemble's number of runs.", "object"),
}  # fmt: skip
SENSITIVITY_POPULATION = "all design points of the sweep (one row per outcome and parameter)"
_EFFECT = "the outcome's unit per full range of the parameter"
SENSITIVITY: dict[str, tuple[str, str]] = {
    "outcome": ("The outcome analysed (a column of runs.parquet).", "text"),
    "method": ("The design and analysis: morris or sobol.", "text"),
    "parameter": ("The varied parameter (section.key).", "text"),
    "mu_star": ("Morris: mean absolute elementary effect (overall influence).", _EFFECT),
    "mu_star_conf": ("Morris: half-width of mu_star's 95% confidence interval.", _EFFECT),
    "sigma": ("Morris: standard deviation of the elementary effects (non-linearity and "
              "interactions).", _EFFECT),
    "mu": ("Morris: mean elementary effect (its sign is the direction).", _EFFECT),
    "S1": ("Sobol: first-order index, the share of the outcome's variance due to the "
           "parameter alone.", "share 0-1"),
    "S1_conf": ("Sobol: half-width of S1's 95% confidence interval.", "share 0-1"),
    "ST": ("Sobol: total-order index, the share of variance involving the parameter "
           "(interactions included).", "share 0-1"),
    "ST_conf": ("Sobol: half-width of ST's 95% confidence interval.", "share 0-1"),
    "note": ("Why an outcome has no indices (empty when it has).", "text"),
}  # fmt: skip

# -- payout tables (simulation.payout; docs/plans.md)
PAYOUT: dict[str, tuple[str, str, str]] = {
    "period": ("Period of the genealogy (as in the file).", "period", PAYOUT_ROW),
    "id": ("Distributor id (as in the file).", "text or integer", PAYOUT_ROW),
    "pv": ("Personal volume in the period.", "PV", PAYOUT_ROW),
    "bv": ("Business volume in the period (commissionable basis).", "BV", PAYOUT_ROW),
    "qualified": ("1 if active with PV at or above the plan's qualification.min_pv.",
                  "0/1", PAYOUT_ROW),
    "level": ("Depth in the sponsor tree (0 for a root).", "tree depth", PAYOUT_ROW),
    "rank": ("Paid-as rank name (or index; empty none), when the plan has ranks or the file "
             "a rank column.", "rank", PAYOUT_ROW),
    "placement_id": ("Placement parent (binary, matrix plans).", "distributor id",
                     PAYOUT_ROW),
    "leg": ("Side under the placement parent (L/R) or matrix position.", "text",
            PAYOUT_ROW),
    "<component>": ("Paid by the plan's component <component> (a named table of the plan, "
                    "in plan order), after the global cap.", "USD", PAYOUT_ROW),
    "total": ("Company payouts (the sum of the component columns).", "USD", PAYOUT_ROW),
    "retail_margin": ("The distributor's own profit on retail sales (not a company payout; "
                      "not in total), when the plan has a [retail_margin] table.", "USD",
                      PAYOUT_ROW),
    "carry_left": ("Binary volume carried to the next period in the left leg.", "BV",
                   PAYOUT_ROW),
    "carry_right": ("Binary volume carried to the next period in the right leg.", "BV",
                    PAYOUT_ROW),
}  # fmt: skip
PAYOUT_SUMMARY: dict[str, tuple[str, str]] = {
    "plan": ("Name of the plan.", "text"),
    "genealogy": ("The genealogy file paid.", "path"),
    "periods": ("Periods paid.", "periods"),
    "distributors": ("Distributors in the genealogy.", "persons"),
    "paid": ("Company payouts.", "USD"),
    "components": ("Paid per component, {component: USD}.", "USD"),
    "revenue": ("Commissionable revenue: the sum of BV, the cap's basis.", "BV"),
    "payout_ratio": ("paid / revenue (null without revenue).", "ratio"),
    "breakage": ("Theoretical maximum minus paid, per component, and under cap what the "
                 "global cap withheld: {component: USD, cap: USD}.", "USD"),
    "cap_factor": ("Smallest scale factor the global cap applied in any period (1 = never "
                   "capped).", "ratio 0-1"),
    "retail_margin": ("Retail margin of all distributors (null without [retail_margin]).",
                      "USD"),
    "share_paid_nothing": ("Share of distributors paid nothing over all periods.",
                           "share 0-1"),
    "top1_share": ("Share of payouts received by the top 1% of distributors.", "share 0-1"),
    "notes": ("Assumptions made from what the file does not say.", "list of text"),
    "by_period": ("The same per period: a list of {period, paid, components, revenue, "
                  "payout_ratio, pre_cap_total, cap_factor, breakage}.", "list of objects"),
    "columns": ("This codebook of the payout table's columns.", "object"),
}  # fmt: skip

PAYOUT_TABLE = "<payout>.csv"
PAYOUT_SUMMARY_FILE = "<payout>.summary.json"

RUN_TABLES = (
    "monthly.csv", "levels.csv", "distributors.parquet", "income_disclosure.csv",
    "concentration.csv", "level_saturation.csv", "survival.csv", "summary.json",
    "analysis.json",
)  # fmt: skip
SWEEP_TABLES = (
    "runs.parquet",
    "monthly.parquet",
    "design.parquet",
    "stress.csv",
    "policy.csv",
    "fan.parquet",
    "sensitivity.csv",
)

ENSEMBLE_TABLES = ("ensemble.csv", "intervals.csv", "summary.json", "fan.parquet")

# Folder kinds: a sweep's monthly.parquet is not a run's monthly.csv, hence prefixes.
SWEEP = "sweep/"
ENSEMBLE = "ensemble/"
PAYOUT_KIND = "payout/"
MARKET = "market/"
MARKET_TABLES = ("companies.csv", "monthly.csv", "levels.csv", "flows.csv", "regions.csv")
COMPANY_COLUMN = ("Company the row belongs to (see companies.csv).", "text")


def _entry(meaning: str, unit: str, population: str) -> Entry:
    return {"meaning": meaning, "unit": unit, "population": population}


def _triples(table: Mapping[str, tuple[str, str, str]]) -> dict[str, Entry]:
    return {k: _entry(*v) for k, v in table.items()}


def _pairs(table: Mapping[str, tuple[str, str]], population: str) -> dict[str, Entry]:
    return {k: _entry(m, u, population) for k, (m, u) in table.items()}


def _monthly() -> dict[str, Entry]:
    meanings = dict(collect.MONTHLY_COLUMNS)
    for added in collect.MECHANISM_COLUMNS.values():
        meanings.update(added)
    out: dict[str, Entry] = {}
    for key, text in meanings.items():
        if key == "paid_recruiting":
            out["paid_<component>"] = _entry(
                collect.COMPONENT_DESCRIPTION.format("<component>")
                + " One column per component of the plan that the company pays.",
                *MONTHLY_UNITS["paid_<component>"],
            )
        out[key] = _entry(text, *MONTHLY_UNITS[key])
    for pattern, text in (
        ("rank_members_<rank>", collect.RANK_MEMBERS_DESCRIPTION),
        ("rank_commissions_<rank>", collect.RANK_PAID_DESCRIPTION),
    ):
        out[pattern] = _entry(
            text.format("<rank>") + " One column per rank of the plan.", *MONTHLY_UNITS[pattern]
        )
    pattern = "rank_paid_<component>_<rank>"
    out[pattern] = _entry(
        collect.RANK_COMPONENT_DESCRIPTION.format("<component>", "<rank>")
        + " One column per paying component and rank of the plan; over the components they "
        "sum to rank_commissions_<rank>.",
        *MONTHLY_UNITS[pattern],
    )
    return out


def _distributors() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for key in DISTRIBUTOR_ORDER:
        if key in DISTRIBUTOR_DERIVED:
            e = DISTRIBUTOR_DERIVED[key]
            out[key] = _entry(e["meaning"], e["unit"], EVER_JOINED)
        else:
            meaning = _FIELD_MEANING[key] + DISTRIBUTOR_NOTES.get(key, "")
            out[key] = _entry(meaning, DISTRIBUTOR_STATE_UNITS[key], EVER_JOINED)
    return out


def _outcomes(keys: Iterable[str], population: str) -> dict[str, Entry]:
    return {k: _entry(outcomes.OUTCOMES[k], OUTCOME_UNITS[k], population) for k in keys}


def _summary_keys() -> list[str]:
    """The keys of ``summary.json``: outcomes.OUTCOMES up to ``commissions`` (its first group)."""
    keys = list(outcomes.OUTCOMES)
    return keys[: keys.index("commissions") + 1]


@functools.cache
def codebook() -> dict[str, dict[str, Entry]]:
    """The whole codebook: ``{table: {column: {"meaning", "unit", "population"}}}``.

    Tables of a run folder are named by their file (``monthly.csv``); those of a sweep folder
    start with ``sweep/`` (``sweep/runs.parquet``); the payout table and its summary are
    ``payout/<payout>.csv`` and ``payout/<payout>.summary.json``. Patterned columns appear
    once, under their pattern (``paid_<component>``).
    """
    monthly = _monthly()
    levels = {k: _entry(v, *LEVEL_UNITS[k]) for k, v in collect.LEVEL_COLUMNS.items()}
    summary = _pairs(SUMMARY_EXTRA, SUMMARY_POPULATION)
    summary.update(_outcomes(_summary_keys(), SUMMARY_POPULATION))
    order = ["scenario", "seed", *_summary_keys()]
    summary = {k: summary[k] for k in order}
    runs = _pairs(SWEEP_IDS, SWEEP_RUN)
    runs.update(_pairs(RUNS_EXTRA, SWEEP_RUN))
    runs.update(_outcomes(outcomes.OUTCOMES, SWEEP_RUN + " (outcome over the whole run)"))
    runs.update(_company_outcomes())
    sweep_monthly = {
        k: _entry(m, u, "one run of the sweep")
        for k, (m, u) in SWEEP_IDS.items()
        if k in ("run_id", "point", "replicate")
    }
    sweep_monthly["company"] = _entry(
        COMPANY_COLUMN[0] + " Only in a sweep over a market: a row per company and month, "
        "months on the market's clock (docs/market.md).",
        COMPANY_COLUMN[1],
        "one company of one run",
    )
    for k, e in monthly.items():
        extra = " (empty when the run's plan has no such component)"
        sweep_monthly[k] = {
            **e,
            "population": e["population"]
            + (extra if k == "paid_<component>" else "")
            + ", of one run",
        }
    ensemble = _pairs(ENSEMBLE_IDS, ENSEMBLE_RUN)
    ensemble.update(_outcomes(outcomes.OUTCOMES, ENSEMBLE_RUN + " (outcome over the whole run)"))
    design = _pairs(SWEEP_IDS, "one run of the sweep design (point and replicate)")
    design.update(_pairs(DESIGN_EXTRA, "one run of the sweep design (point and replicate)"))
    return {
        "monthly.csv": monthly,
        "levels.csv": levels,
        "distributors.parquet": _distributors(),
        "income_disclosure.csv": _triples(INCOME_DISCLOSURE),
        "concentration.csv": _triples(CONCENTRATION),
        "level_saturation.csv": _triples(SATURATION),
        "survival.csv": _triples(SURVIVAL),
        "summary.json": summary,
        "analysis.json": _pairs(ANALYSIS, RUN + "; people: everyone who ever joined"),
        SWEEP + "runs.parquet": runs,
        SWEEP + "monthly.parquet": sweep_monthly,
        SWEEP + "design.parquet": design,
        SWEEP + "stress.csv": _pairs(STRESS, STRESS_POPULATION),
        SWEEP + "policy.csv": _pairs(POLICY, POLICY_POPULATION),
        SWEEP + "fan.parquet": _pairs(FAN, FAN_POPULATION),
        SWEEP + "sensitivity.csv": _pairs(SENSITIVITY, SENSITIVITY_POPULATION),
        ENSEMBLE + "ensemble.csv": ensemble,
        ENSEMBLE + "intervals.csv": _pairs(INTERVALS, ENSEMBLE_ALL),
        ENSEMBLE + "summary.json": _pairs(ENSEMBLE_SUMMARY, ENSEMBLE_ALL),
        ENSEMBLE + "fan.parquet": _pairs(FAN, FAN_POPULATION),
        PAYOUT_KIND + PAYOUT_TABLE: _triples(PAYOUT),
        PAYOUT_KIND + PAYOUT_SUMMARY_FILE: _pairs(PAYOUT_SUMMARY, PAYOUT_ALL),
        MARKET + "companies.csv": _pairs(market_tables.COMPANY_COLUMNS, market_tables.COMPANY_ROW),
        MARKET + "monthly.csv": _with_company(monthly, "month counted from the market's start"),
        MARKET + "levels.csv": _with_company(levels, "month counted from the market's start"),
        MARKET + "flows.csv": _pairs(market_tables.FLOW_COLUMNS, market_tables.FLOW_ROW),
        MARKET + "regions.csv": _pairs(market_tables.REGION_COLUMNS, market_tables.REGION_ROW),
    }


def _company_outcomes() -> dict[str, Entry]:
    """A market sweep's ``<outcome>__<company>`` columns and its market-wide outcomes."""
    sep = market_tables.OUTCOME_SEPARATOR
    pop = market_tables.COMPANY_OUTCOME_ROW
    out = {
        f"{k}{sep}<company>": _entry(m, u, pop)
        for k, (m, u) in market_tables.COMPANY_MARKET_OUTCOMES.items()
    }
    for k in market_tables.COMPANY_RUN_OUTCOMES:
        out[f"{k}{sep}<company>"] = _entry(
            outcomes.OUTCOMES[k] + " Of the company, on its own tables.",
            OUTCOME_UNITS[k],
            "one company over one run of the sweep (not a holding)",
        )
    out.update(_pairs(market_tables.MARKET_OUTCOMES, SWEEP_RUN + " over a market"))
    return out


def _with_company(table: dict[str, Entry], note: str) -> dict[str, Entry]:
    """A company's table stacked for a market: a ``company`` column first."""
    out = {"company": _entry(*COMPANY_COLUMN, "one company")}
    for k, e in table.items():
        out[k] = {**e, "population": e["population"] + ", of one company"}
    out["month"] = {**table["month"], "meaning": table["month"]["meaning"] + f" ({note})."}
    return out


# section.key, a plan value (plan.<table>.<key>) or a market's companies.<name>.<key>.
_PARAMETER = re.compile(r"[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)+")


def pattern_of(table: str, column: str, components: Iterable[str] = ()) -> str:
    """The codebook key describing ``column`` of ``table``: itself, or its pattern."""
    entries = codebook()[table]
    if column in entries:
        return column
    name = table.rpartition("/")[2]
    if name in ("monthly.csv", "monthly.parquet") and column.startswith("paid_"):
        return "paid_<component>"
    if name in ("monthly.csv", "monthly.parquet"):
        for prefix in ("rank_members_", "rank_commissions_"):
            if column.startswith(prefix):
                return prefix + "<rank>"
        if column.startswith("rank_paid_"):
            return "rank_paid_<component>_<rank>"
    if name == "survival.csv" and column.isdigit():
        return "<age>"
    if name == PAYOUT_TABLE and column in set(components):
        return "<component>"
    sep = market_tables.OUTCOME_SEPARATOR
    if name == "runs.parquet" and sep in column:
        return f"{column.partition(sep)[0]}{sep}<company>"
    if name in ("runs.parquet", "design.parquet", "ensemble.csv"):
        if column.startswith("unit:") and _PARAMETER.fullmatch(column[5:]):
            return "unit:<parameter>"
        if _PARAMETER.fullmatch(column):
            return "<parameter>"
    return column


def describe(
    table: str, columns: Iterable[str], components: Iterable[str] = ()
) -> tuple[dict[str, Entry], list[str]]:
    """The entries of ``columns`` of ``table`` (patterns resolved) and the undescribed ones.

    Args:
        table: a key of :func:`codebook` (``monthly.csv``, ``sweep/runs.parquet``...).
        columns: the table's columns (or a JSON file's top-level keys), in order.
        components: for a payout table, the plan's company-payout component names.

    Returns:
        ``({column: entry}, [columns the codebook does not describe])``.
    """
    entries = codebook()[table]
    out: dict[str, Entry] = {}
    missing: list[str] = []
    for c in map(str, columns):
        key = pattern_of(table, c, components)
        if key not in entries:
            missing.append(c)
        elif key == c:
            out[c] = entries[key]
        else:
            # A patterned column: its own name in place of the placeholder.
            placeholder = re.search(r"<[a-z_]+>", key).group(0)
            head, _, tail = key.partition(placeholder)
            name = c[len(head) : len(c) - len(tail)]
            out[c] = {k: v.replace(placeholder, name) for k, v in entries[key].items()}
    return out, missing


def file_columns(path: Path) -> list[str]:
    """The columns of a CSV or Parquet file, or the top-level keys of a JSON object file."""
    path = Path(path)
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    if path.suffix == ".json":
        return list(json.loads(path.read_text(encoding="utf-8")))
    return list(pd.read_csv(path, nrows=0).columns)


def folder_columns(
    folder: Path, tables: Iterable[str], prefix: str = ""
) -> dict[str, dict[str, Entry]]:
    """``{file: {column: entry}}`` for the ``tables`` present in ``folder``.

    Columns the codebook does not describe are left out (the tests fail on them).
    """
    out: dict[str, dict[str, Entry]] = {}
    for name in tables:
        path = Path(folder) / name
        if path.is_file():
            out[name] = describe(prefix + name, file_columns(path))[0]
    return out


def write_columns(folder: Path, tables: Iterable[str], prefix: str = "") -> str:
    """Write ``columns.json``: the codebook of the tables ``folder`` holds. Returns its name."""
    data = {
        "codebook": "docs/codebook.md",
        "tables": folder_columns(folder, tables, prefix),
    }
    results.write_json(data, Path(folder) / COLUMNS_FILE)
    return COLUMNS_FILE


INTRO = """\
# Codebook: the columns of every output table

Generated from `simulation/codebook.py` by `python docs/gen_codebook.py`; do not edit by hand
(`tests/test_codebook.py` fails when this page is out of date, and when a table gains a column
the codebook does not describe). Each output folder carries the same descriptions for the
tables it holds: `columns.json` in a run folder and in a sweep folder, the `columns` key of a
payout table's `<out>.summary.json`.

Every column has a **meaning**, a **unit** and a **population**: over whom it is counted or
averaged, and when. Money is in USD, volume in PV (personal volume points) or BV (business
volume, the commissionable basis); a month index counts from 0 (the month the founders joined).
An empty cell (NaN in the files, null in JSON) means "not defined", for example a ratio over
nothing. A column written `paid_<component>` stands for a family of columns, one per name.

## Two trees, two depths

- `sponsor` is the person's *current* parent in the sponsor tree, the tree commissions are
  paid up. When a distributor quits, their downline *rolls up* to the quitter's own sponsor and
  the quitter leaves the tree, so `sponsor` is -1 for the roots (founders) and for **every
  quitter**, and differs from `enroller` for everyone whose enroller (or an upline) quit.
- `enroller` is *who recruited them*. It does not change with roll-ups; for someone who quit
  and joined again (`[rejoin]`), it is the person who recruited them the last time. Founders
  have -1.
- `level` is the level *at joining*: founders 1, their recruits 2, and so on (the enroller's
  level + 1; a rejoiner's, at the latest joining). Roll-ups do not change it, so tables by
  level (`levels.csv`, `level_saturation.csv`) follow the same people.
- `depth` (and `max_depth` in `monthly.csv`) is the *current* depth in the sponsor tree after
  roll-ups: roots 0; it shrinks when an upline quits. In a payout table, `level` is the depth
  in the imported genealogy's sponsor tree (roots 0).
"""

SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "Run folders",
        "`mlmsim run` writes these into `results/<scenario>/<run-id>/` (see `docs/report.md`).",
        RUN_TABLES,
    ),
    (
        "Sweep folders",
        "`mlmsim sweep` (and `mlmsim stress`, which adds `stress.csv`) writes these into the "
        "sweep folder (see `docs/sweeps.md`); `fan.parquet` comes with the sweep's report, "
        "`sensitivity.csv` with a `[sensitivity]` section. A sweep's `monthly.parquet` holds "
        "the columns of `monthly.csv` for every run, after the run's identifiers.",
        tuple(SWEEP + t for t in SWEEP_TABLES),
    ),
    (
        "Ensemble folders",
        "`mlmsim run --seeds N` (N > 1) and `mlmsim run --posterior` write these into the "
        "ensemble's folder, next to `runs/` (one run folder per run, with the tables above; "
        "see `docs/report.md`, 'Ensembles'). `fan.parquet` has the columns of a sweep's, with "
        "one group, `ensemble`.",
        tuple(ENSEMBLE + t for t in ENSEMBLE_TABLES),
    ),
    (
        "Payout tables",
        "`mlmsim payout GENEALOGY --plan PLAN --out <payout>.csv` writes the table and "
        "`<payout>.summary.json` beside it (see `docs/plans.md`).",
        (PAYOUT_KIND + PAYOUT_TABLE, PAYOUT_KIND + PAYOUT_SUMMARY_FILE),
    ),
    (
        "Market folders",
        "`mlmsim run` on a scenario with `[[companies]]` writes these into the market's "
        "folder, and each company's own run folder into `companies/<name>/` (see "
        "`docs/market.md`).",
        tuple(MARKET + t for t in MARKET_TABLES),
    ),
]


_PLACEHOLDER = re.compile(r"(?<!`)(<[a-z_]+>)(?!`)")


def _cell(text: str) -> str:
    """A table cell: pipes escaped, ``<name>`` placeholders as code (not HTML tags)."""
    return _PLACEHOLDER.sub(r"`\1`", text.replace("|", "\\|").replace("\n", " "))


def codebook_markdown() -> str:
    """The page ``docs/codebook.md``: :data:`INTRO`, then one table per output file."""
    book = codebook()
    lines = [INTRO]
    for title, text, tables in SECTIONS:
        lines += [f"## {title}", "", text, ""]
        for table in tables:
            name = table.rpartition("/")[2]
            kind = "keys" if name.endswith(".json") else "columns"
            lines += [
                f"### `{name}`",
                "",
                f"{len(book[table])} {kind}.",
                "",
                "| column | meaning | unit | population |",
                "|---|---|---|---|",
            ]
            for col, e in book[table].items():
                cells = [f"`{col}`", e["meaning"], e["unit"], e["population"]]
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
            lines.append("")
    return "\n".join(lines)
