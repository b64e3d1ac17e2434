"""Intervals over an ensemble's runs: the median and the 90% interval of each outcome.

When more than one run stands behind a figure (``mlmsim run --seeds N``, ``--posterior``),
the terminal summary and the report's cards show it as ``median (90% interval p05–p95,
N runs)``: the 5th, 50th and 95th percentiles over the runs (``numpy.percentile``, linear
interpolation), over the runs that have a value. One run: the single number, as always.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

PERCENTILES = (5.0, 50.0, 95.0)
COLUMNS = ["outcome", "n", "median", "p05", "p95"]

Band = dict[str, Any]


def interval_table(runs: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """Median and 90% interval of each outcome over the runs.

    Args:
        runs: one row per run with the outcome columns.
        keys: the outcomes (columns missing from ``runs`` are skipped).

    Returns:
        ``outcome, n, median, p05, p95``: ``n`` runs have a finite value (missing values
        left out); the rest are ``numpy.percentile`` at 50, 5 and 95 over them, NaN when
        ``n`` is 0.
    """
    rows = []
    for k in keys:
        if k not in runs:
            continue
        v = pd.to_numeric(runs[k], errors="coerce").to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        p05, p50, p95 = np.percentile(v, PERCENTILES) if v.size else (math.nan,) * 3
        rows.append({"outcome": k, "n": int(v.size), "median": p50, "p05": p05, "p95": p95})
    return pd.DataFrame(rows, columns=COLUMNS)


def bands(intervals: pd.DataFrame, runs: int) -> dict[str, Band]:
    """``{outcome: {"median", "p05", "p95", "n", "runs"}}`` (None for NaN), JSON-ready."""
    out = {}
    for r in intervals.itertuples(index=False):
        out[r.outcome] = {
            "median": _num(r.median),
            "p05": _num(r.p05),
            "p95": _num(r.p95),
            "n": int(r.n),
            "runs": runs,
        }
    return out


def _num(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def band_text(
    band: Band | None, fmt: Callable[[Any], str], ends: Callable[[Any], str] | None = None
) -> str:
    """``"62.3% (90% interval 58.1%–66.0%, 20 runs)"``; the single value for one run.

    ``ends`` formats the interval's ends when they read better without ``fmt``'s words
    (``month 13 (90% interval 11–15, 20 runs)``). A band with fewer runs behind it than the
    ensemble has says so: ``(…, 17 of 20 runs)``.
    """
    if band is None or band.get("median") is None:
        return "n/a"
    if band["runs"] <= 1:
        return fmt(band["median"])
    return f"{fmt(band['median'])} ({range_text(band, ends or fmt)})"


def range_text(band: Band, fmt: Callable[[Any], str]) -> str:
    """``"90% interval 58.1%–66.0%, 20 runs"``: the part after the median."""
    n, total = band["n"], band["runs"]
    runs = f"{n} runs" if n == total else f"{n} of {total} runs"
    return f"90% interval {fmt(band['p05'])}–{fmt(band['p95'])}, {runs}"


def whole(x: Any) -> str:
    """A count, month or level that may be a median of runs: ``230``, ``230.5``, ``13.7``.

    Medians and percentiles of whole numbers fall between them; one decimal shows that
    instead of rounding it away (``"n/a"`` for None or NaN).
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    return f"{x:,.0f}" if x.is_integer() else f"{x:,.1f}"
