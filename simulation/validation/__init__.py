"""Validation: the model reproduces known mathematics and what companies and surveys report.

Two kinds of checks, each returning a :class:`Row` of the validation table
(``docs/validation.md``; ``mlmsim validate`` reruns it):

* **exact** checks in degenerate settings, against exact expectations. Recruiting happens in
  monthly batches (everyone who joins in month t chose among the distributors active at its
  start), which changes several textbook answers; each check derives the month-batched
  expectation *conditional on the realised monthly counts* (which, in these settings, do not
  depend on who sponsors whom), compares the mean over many seeds with it within a few
  standard errors, and states the continuous-time textbook value beside it.

  - uniform sponsor choice -> a random recursive tree (RRT): the share who never recruit,
    the expected recruits of the i-th joiner, the expected count per level;
  - preferential sponsor choice (weight = personal recruits + 1) -> a plane-oriented
    recursive tree: its leaf share (2/3 in the textbook limit);
  - the deterministic "everyone recruits r" pyramid: its level sizes and bottom-level share;
  - the well-mixed market -> the month-stepped Bass curve, and the logistic curve (p = 0);
  - a unilevel plan on a chain pays exactly the sum of its level percentages.

* **calibration** checks: ``scenarios/realistic.toml`` (parameters from published plans and
  rules, each cited in the file) is run over a few seeds, and its outcomes are compared with
  published figures (income disclosure statements, surveys, attrition), each with the
  population definition used, because those definitions drive the numbers.

The degenerate recruiting modes (uniform and preferential sponsor choice, the deterministic
pyramid) are recruit rules of :mod:`simulation.behaviour`, selectable as ``recruit.mode``.

Modules: :mod:`~simulation.validation.row` (a row of the table, the quiet settings, z-scores),
:mod:`~simulation.validation.formulas` (the exact expectations),
:mod:`~simulation.validation.exact` (simulations of the degenerate settings and their checks),
:mod:`~simulation.validation.calibration` (published figures and the realistic scenario),
:mod:`~simulation.validation.table` (the whole table, markdown and text) and
:mod:`~simulation.validation.command` (``mlmsim validate``). Their public names are
importable from ``simulation.validation`` directly.
"""

from simulation.validation.calibration import (
    BROKE_EVEN_USD,
    PUBLISHED,
    REALISTIC,
    CalibrationDesign,
    calibration_rows,
    calibration_runs,
    simulate_realistic,
)
from simulation.validation.command import (
    configure_parser,
    run,
)
from simulation.validation.exact import (
    TreeDesign,
    TreeRun,
    WellMixedDesign,
    check_bass,
    check_logistic,
    check_preferential_leaf_share,
    check_pyramid,
    check_pyramid_every_month,
    check_pyramid_finite,
    check_rrt_leaf_share,
    check_rrt_levels,
    check_rrt_recruits_of_ith,
    check_unilevel_chain,
    run_pyramid,
    run_unilevel_chain_model,
    simulate_tree,
    simulate_well_mixed,
    unilevel_chain_engine,
    well_mixed_statistics,
)
from simulation.validation.formulas import (
    bass_recursion,
    harmonic,
    logistic_continuous,
    preferential_expected_leaves,
    pyramid_level_sizes,
    pyramid_monthly_level_sizes,
    pyramid_never_recruited,
    rrt_expected_levels,
    rrt_expected_recruits,
    rrt_never_recruit_probability,
    rrt_textbook_levels,
    rrt_textbook_recruits,
)
from simulation.validation.row import (
    QUIET,
    TEST_FILE,
    Z_LIMIT,
    Row,
    percent,
    quiet_scenario,
    zscore,
)
from simulation.validation.table import (
    Sizes,
    exact_rows,
    sizes,
    to_markdown,
    to_text,
    validation_table,
)

__all__ = [
    "BROKE_EVEN_USD",
    "PUBLISHED",
    "QUIET",
    "REALISTIC",
    "TEST_FILE",
    "Z_LIMIT",
    "CalibrationDesign",
    "Row",
    "Sizes",
    "TreeDesign",
    "TreeRun",
    "WellMixedDesign",
    "bass_recursion",
    "calibration_rows",
    "calibration_runs",
    "check_bass",
    "check_logistic",
    "check_preferential_leaf_share",
    "check_pyramid",
    "check_pyramid_every_month",
    "check_pyramid_finite",
    "check_rrt_leaf_share",
    "check_rrt_levels",
    "check_rrt_recruits_of_ith",
    "check_unilevel_chain",
    "configure_parser",
    "exact_rows",
    "harmonic",
    "logistic_continuous",
    "percent",
    "preferential_expected_leaves",
    "pyramid_level_sizes",
    "pyramid_monthly_level_sizes",
    "pyramid_never_recruited",
    "quiet_scenario",
    "rrt_expected_levels",
    "rrt_expected_recruits",
    "rrt_never_recruit_probability",
    "rrt_textbook_levels",
    "rrt_textbook_recruits",
    "run",
    "run_pyramid",
    "run_unilevel_chain_model",
    "simulate_realistic",
    "simulate_tree",
    "simulate_well_mixed",
    "sizes",
    "to_markdown",
    "to_text",
    "unilevel_chain_engine",
    "validation_table",
    "well_mixed_statistics",
    "zscore",
]
