"""Outcome metrics on columnar state and result tables: pure numpy/pandas, no model import.

One module per concept, each vectorised so that a 1,000,000-element input takes well under a
second:

* :mod:`~simulation.metrics.inequality`: :func:`gini`, :func:`lorenz`, :func:`top_share`,
  :func:`share_below`, :func:`summary`; per group :func:`by_group` and :func:`concentration`
  (overall and by level, rank, cohort in one long table).
* :mod:`~simulation.metrics.diffusion`: :func:`bass_fit` (month-stepped Bass curve),
  :func:`months_to_half_peak`, :func:`penetration`.
* :mod:`~simulation.metrics.attrition`: :func:`survival_by_cohort`, :func:`annual_quit_rate`,
  :func:`monthly_quit_rate`, :func:`at_risk`.
* :mod:`~simulation.metrics.disclosure`: the income disclosure statement,
  :func:`income_disclosure`.
* :mod:`~simulation.metrics.survey`: survey answers (lost money, broke even, profit) of the
  members who joined to make money, :func:`survey_answers`.
* :mod:`~simulation.metrics.indicators`: pyramid-risk indicators with their legal or
  conventional sources, :func:`pyramid_indicators`, and :func:`recruitment_income`.
* :mod:`~simulation.metrics.legal`: the legal tests of Amway 1979, the Vemma and Herbalife
  orders of 2016 and Vander Nat & Keep (2002), per member per period, and the purchase classes
  (imported as a module: ``from simulation.metrics import legal``).
* :mod:`~simulation.metrics.saturation`: :func:`reachable_prospects` (over the CSR social
  graph) and :func:`level_saturation`.

Money is in USD, time in months (the model's month index), counts in persons. Functions that
take a value per person accept any 1-D array-like (``float64[n]`` after conversion) and raise
``ValueError`` naming the argument, the offending value and where it is. Undefined results
(an empty group, a zero total) are NaN, never an exception. Every public name is importable
from ``simulation.metrics`` directly.
"""

from simulation.metrics.attrition import (
    annual_quit_rate,
    at_risk,
    monthly_quit_rate,
    survival_by_cohort,
)
from simulation.metrics.diffusion import BassFit, bass_fit, months_to_half_peak, penetration
from simulation.metrics.disclosure import IDS_COLUMNS, income_disclosure
from simulation.metrics.indicators import (
    AMWAY,
    BURNLOUNGE,
    FTC_GUIDANCE,
    KOSCOT,
    VEMMA,
    Indicator,
    pyramid_indicators,
    recruitment_income,
)
from simulation.metrics.inequality import (
    CONCENTRATION_COLUMNS,
    by_group,
    concentration,
    gini,
    lorenz,
    share_below,
    summary,
    top_share,
)
from simulation.metrics.saturation import SATURATION_COLUMNS, level_saturation, reachable_prospects
from simulation.metrics.survey import BROKE_EVEN_USD, survey_answers

__all__ = [
    "AMWAY",
    "BROKE_EVEN_USD",
    "BURNLOUNGE",
    "CONCENTRATION_COLUMNS",
    "FTC_GUIDANCE",
    "IDS_COLUMNS",
    "KOSCOT",
    "SATURATION_COLUMNS",
    "VEMMA",
    "BassFit",
    "Indicator",
    "annual_quit_rate",
    "at_risk",
    "bass_fit",
    "by_group",
    "concentration",
    "gini",
    "income_disclosure",
    "level_saturation",
    "lorenz",
    "monthly_quit_rate",
    "months_to_half_peak",
    "penetration",
    "pyramid_indicators",
    "reachable_prospects",
    "recruitment_income",
    "share_below",
    "summary",
    "survey_answers",
    "survival_by_cohort",
    "top_share",
]
