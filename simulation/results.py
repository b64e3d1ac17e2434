"""Write a run to ``results/<scenario>/<run-id>/`` (see docs/safety.md for the rules).

Every file is written to a temporary name in the same folder and renamed into place, so a
reader never sees half a file; ``manifest.json`` is written last, so a folder without it is
an incomplete run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import simulation
from simulation.errors import UserError
from simulation.safepath import atomic_write, locked_folder, safe_name
from simulation.state import STATUS_NAMES

if TYPE_CHECKING:
    from simulation.model import MLMModel

FLOAT_FORMAT = "%.10g"

__all__ = ["atomic_write"]  # re-exported: writers import it from here

# A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): one starting with
# = + - @, a tab or a carriage return. Such cells get a leading single quote; a cell that is
# a plain number (-5, +1.5e3) is a number to a spreadsheet, not a formula, and is kept.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def spreadsheet_safe(value: object) -> object:
    """A text cell made safe to open in a spreadsheet; anything else unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def spreadsheet_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`spreadsheet_safe` applied to its text columns (a copy if changed)."""
    text = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    if not text:
        return df
    df = df.copy()
    for c in text:
        df[c] = df[c].map(spreadsheet_safe)
    df.columns = [spreadsheet_safe(c) for c in df.columns]
    return df


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV (fixed float format, no index); text cells spreadsheet-safe."""
    safe = spreadsheet_safe_frame(df)
    atomic_write(path, lambda p: safe.to_csv(p, index=False, float_format=FLOAT_FORMAT))


def write_json(data: Any, path: Path) -> None:
    """Pretty JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return None if np.isnan(x) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")


def new_run_dir(root: Path, scenario_name: str, seed: int) -> Path:
    """Create and return a fresh ``root/<scenario>/<timestamp>-seed<seed>`` folder.

    The scenario's name comes from its file, so it is made one safe path component
    (:func:`~simulation.safepath.safe_name`): the folder is always inside ``root``. The
    folder is created here (exclusively), so two runs started in the same second get two
    folders.
    """
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = Path(root) / safe_name(scenario_name, "scenario")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{parent}: cannot create the results folder: {err.strerror}") from None
    base = parent / f"{stamp}-seed{seed}"
    path, i = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            i += 1
            path = base.with_name(f"{base.name}-{i}")


def _fresh_run_folder(folder: Path) -> None:
    """Refuse a folder that holds a finished run or a sweep (nothing there is overwritten)."""
    if (folder / "manifest.json").exists():
        raise UserError(f"{folder} already holds a finished run; choose another --out")
    if (folder / "sweep.json").exists():
        raise UserError(f"{folder} holds a sweep; choose another --out")


def run_folder(
    out: Path | None, results_root: Path, scenario_name: str, seed: int
) -> contextlib.AbstractContextManager[Path]:
    """The locked folder of a run: ``out``, or a new ``results_root/<scenario>/<run-id>``.

    Checked before simulating (see :func:`simulation.safepath.locked_folder`): a file, a
    device, a folder with a finished run or a sweep, or a folder another command is writing
    is refused; temporary files of a killed earlier run are removed; a run that fails leaves
    no empty folder behind.
    """
    if out is not None:
        return locked_folder(out, check=_fresh_run_folder)
    return locked_folder(new_run_dir(results_root, scenario_name, seed), new=True)


def monthly_table(model: MLMModel) -> pd.DataFrame:
    """The monthly model series (one row per month, month 0 = founders)."""
    return model.datacollector.get_model_vars_dataframe().reset_index(drop=True)


def level_table(model: MLMModel) -> pd.DataFrame:
    """The per-level monthly series."""
    return model.datacollector.get_table_dataframe("levels")


def distributor_columns(model: MLMModel) -> dict[str, np.ndarray]:
    """Per-distributor final table as columns, one row per person who ever joined."""
    pop = model.pop
    ids = np.flatnonzero(pop.join_month >= 0)
    net = pop.net_income()[ids]
    strict = pop.net_income(own_use_as_cost=True)[ids]
    cols: dict[str, np.ndarray] = {
        "id": ids.astype(np.int64),
        "status": np.array([STATUS_NAMES[s] for s in range(4)])[pop.status[ids]],
        "enroller": pop.enroller[ids],
        "sponsor": pop.sponsor[ids],
        "level": pop.level[ids],
        "join_month": pop.join_month[ids],
        "quit_month": pop.quit_month[ids],
        "recruits": pop.recruits[ids],
        "customers": pop.customers[ids],
        "rank": pop.rank[ids],
        "pv_total": pop.pv_total[ids],
        "commissions": pop.commissions[ids],
        "retail_sales": pop.retail_sales[ids],
        "retail_margin": pop.retail_margin[ids],
        "purchases": pop.purchases[ids],
        "own_use_value": pop.own_use_value[ids],
        "kit_cost": pop.kit_cost[ids],
        "fixed_costs": pop.fixed_costs[ids],
        "buyback_refund": pop.buyback_refund[ids],
        "inventory_pv": pop.inventory_pv[ids],
        "net_income": net,
        "net_income_strict": strict,
    }
    # Last 12 months (the income disclosure year): cumulative now minus 12 months ago.
    start = model.year_start

    def year(name: str) -> np.ndarray:
        now = getattr(pop, name)[ids]
        return now - start[name][ids] if start is not None else now

    comm_y = year("commissions")
    costs_y = year("purchases") + year("kit_cost") + year("fixed_costs") - year("buyback_refund")
    cols["commissions_year"] = comm_y
    cols["costs_year"] = costs_y
    cols["net_income_year"] = comm_y + year("retail_sales") + year("own_use_value") - costs_y
    cols["willingness"] = pop.willingness[ids]
    cols["effort"] = pop.effort[ids]
    return cols


def write_parquet(columns: dict[str, np.ndarray], path: Path) -> None:
    """Write columns to Parquet without building a pandas copy."""
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"))


def git_commit() -> str | None:
    """The source tree's git commit, if it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(simulation.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    """Versions of the package, Python and key libraries."""
    import mesa
    import networkx

    return {
        "mlmsim": simulation.__version__,
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "networkx": networkx.__version__,
        "pyarrow": pa.__version__,
    }


def write_manifest(
    run_dir: Path,
    model: MLMModel,
    scenario_path: Path | None,
    timings: dict[str, float],
    files: list[str],
    summary: dict[str, Any],
) -> None:
    """Write ``manifest.json`` (last): resolved scenario, plan, seed, versions, timings."""
    manifest = build_manifest(model, scenario_path, timings, files, summary)
    write_json(manifest, run_dir / "manifest.json")


def build_manifest(
    model: MLMModel,
    scenario_path: Path | None,
    timings: dict[str, float],
    files: list[str],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The manifest as a dict (the report reads it before ``manifest.json`` is written)."""
    return {
        "scenario": model.scenario.to_dict(),
        "scenario_file": str(scenario_path) if scenario_path else None,
        "plan": model.plan.raw,
        "plan_file": model.plan.source,
        "seed": model.seed,
        "months": model.month,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "git_commit": git_commit(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "timings_s": timings,
        "files": files,
        "summary": summary,
    }
