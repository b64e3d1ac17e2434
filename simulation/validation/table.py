"""The whole validation table: which checks run at which sizes, as markdown or plain text."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from simulation.validation.calibration import CalibrationDesign, calibration_rows
from simulation.validation.exact import (
    TreeDesign,
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
)
from simulation.validation.row import (
    Row,
)


@dataclass(frozen=True)
class Sizes:
    """The designs the command runs (``quick`` is for tests and a first look)."""

    trees: TreeDesign
    bass: WellMixedDesign
    logistic: WellMixedDesign
    calibration: CalibrationDesign


def sizes(quick: bool = False) -> Sizes:
    """Designs for the full table or a quick one (fewer seeds, same settings)."""
    # The calibration: seeds for an uncalibrated scenario, posterior draws for a calibrated one.
    n_tree, n_wm, n_cal, n_draws = (16, 8, 1, 4) if quick else (60, 24, 5, 20)
    return Sizes(
        trees=TreeDesign(seeds=tuple(range(n_tree))),
        bass=WellMixedDesign(seeds=tuple(range(n_wm))),
        logistic=WellMixedDesign(seeds=tuple(range(n_wm)), spontaneous=0.0, months=30),
        calibration=CalibrationDesign(seeds=tuple(range(1, n_cal + 1)), draws=n_draws),
    )


def exact_rows(s: Sizes) -> list[Row]:
    """Every exact check, in the order of the table."""
    return [
        check_rrt_leaf_share(s.trees),
        check_rrt_recruits_of_ith(s.trees),
        check_rrt_levels(s.trees),
        check_preferential_leaf_share(s.trees),
        check_pyramid(),
        check_pyramid_finite(),
        check_pyramid_every_month(),
        check_bass(s.bass),
        check_logistic(s.logistic),
        check_unilevel_chain(),
    ]


def validation_table(
    quick: bool = False, only: Literal["all", "exact", "calibration"] = "all"
) -> list[Row]:
    """All rows of the validation table."""
    s = sizes(quick)
    rows: list[Row] = []
    if only in ("all", "exact"):
        rows += exact_rows(s)
    if only in ("all", "calibration"):
        rows += calibration_rows(s.calibration)
    return rows


def _verdict(row: Row) -> str:
    """``pass``; ``FAIL`` for an exact check; ``outside`` for a calibration figure."""
    if row.passed:
        return "pass"
    return "FAIL" if row.kind == "exact" else "outside"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: Sequence[Row]) -> str:
    """The table as GitHub markdown: one table per kind, every column."""
    out = []
    for kind, title in (("exact", "Exact checks"), ("calibration", "Calibration")):
        part = [r for r in rows if r.kind == kind]
        if not part:
            continue
        out.append(f"### {title}\n")
        out.append(
            "| check | what | source | population | expected | model | result | note | rerun |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in part:
            cells = [
                f"`{r.name}`",
                r.what,
                r.source,
                r.population,
                r.expected,
                r.model,
                f"**{_verdict(r)}**",
                r.note,
                f"`{r.rerun}`" if r.rerun else "",
            ]
            out.append("| " + " | ".join(_md(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def to_text(rows: Sequence[Row], width: int = 80) -> str:
    """The table for a terminal ``width`` columns wide (80 by default).

    One record per check: its name and result on a line, what it checks, then the expected
    value (for a calibration figure, the published range) and the model's, each wrapped onto
    as many lines as it needs, never cut.
    """
    label = 11  # "  expected " / "  model    "
    out: list[str] = []
    for kind, title in (("exact", "Exact checks"), ("calibration", "Calibration")):
        group = [r for r in rows if r.kind == kind]
        if not group:
            continue
        if out:
            out.append("")
        out += [title, "=" * len(title)]
        for r in group:
            verdict = _verdict(r)
            dots = "." * max(3, width - len(r.name) - len(verdict) - 2)
            out.append(f"{r.name} {dots} {verdict}")
            out += textwrap.wrap(r.what, width=width, initial_indent="  ", subsequent_indent="  ")
            for name, value in (("expected", r.expected), ("model", r.model)):
                out += textwrap.wrap(
                    str(value),
                    width=width,
                    initial_indent=f"  {name:<{label - 3}} ",
                    subsequent_indent=" " * label,
                    break_on_hyphens=False,
                ) or [f"  {name}"]
    return "\n".join(out)
