"""Synthetic statements: the model's own figures from known parameters, as a target file.

Parameter recovery (``tests/test_calibrate.py``, ``benchmarks/bench_calibrate.py``) fits a
statement the model produced itself from parameters we know, and checks that the posterior
holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulation.calibrate import tomlout
from simulation.calibrate.simulate import run_once


def synthetic_statement(
    context: dict[str, Any],
    values: dict[str, float],
    seed: int,
    plan: str,
    extra: tuple[str, ...] = ("share_paid_nothing", "attrition"),
) -> dict[str, Any]:
    """A target file's data: one row per bucket of ``context["spec"]``, figures from one run.

    Args:
        context: as for :func:`simulation.calibrate.simulate.run_once`; its ``spec`` must ask
            for the share and income statistics of every bucket.
        values: the true parameters.
        seed: the run's seed.
        plan: the plan's file name (``statement.plan``).
        extra: further statistics to fit (their values from the same run).
    """
    spec = dict(context["spec"])
    buckets = spec["buckets"]
    stats = [f"share: {b['label']}" for b in buckets] + [f"income: {b['label']}" for b in buckets]
    spec["stats"] = [*stats, *extra]
    got = run_once({**context, "spec": spec}, values, seed)["stats"]
    rows = []
    for b in buckets:
        share = got[f"share: {b['label']}"]
        income = 10 ** got[f"income: {b['label']}"] - 1.0 if share > 0 else 0.0
        row = {
            "rank": b["label"],
            "share": share,
            "avg_annual_income_usd": 0.0 if b["paid"] is False else max(income, 0.0),
            "model": list(b["ranks"]),
        }
        if b["paid"] is not None:
            row["paid"] = b["paid"]
        rows.append(row)
    return {
        "source": {
            "name": "synthetic statement",
            "citation": f"mlmsim, seed {seed}, parameters {values}",
        },
        "statement": {"plan": plan, "rows": rows},
        "targets": {k: got[k] for k in extra},
    }


def write_statement(data: dict[str, Any], path: Path) -> Path:
    """Write :func:`synthetic_statement`'s data as a target file."""
    st = data["statement"]
    lines = [
        tomlout.dumps({"source": data["source"]}),
        "[statement]",
        f"plan = {tomlout.value(st['plan'])}",
        "rows = [",
        *[f"  {tomlout.value(r)}," for r in st["rows"]],
        "]",
        "",
        tomlout.dumps({"targets": data["targets"]}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
