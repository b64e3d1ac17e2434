"""A run's tables and its results folder ``results/<scenario>/<run-id>/``.

:func:`run_data` takes a finished model's tables (the DataCollector's monthly and per-level
tables and the per-distributor table) as an :class:`~simulation.outcomes.RunData`;
:func:`load_run` reads the same from a run folder. Every file is written to a temporary name
in the same folder and renamed into place, so a reader never sees half a file;
``manifest.json`` is written last, so a folder without it is an incomplete run. The rules
for where and how results are written are in ``docs/safety.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import simulation
from simulation import collect
from simulation.config import scenario_from_dict
from simulation.errors import ConfigError, UserError
from simulation.outcomes import Analysis, RunData
from simulation.plans import plan_from_dict
from simulation.safepath import atomic_write, locked_folder, safe_name
from simulation.state import (
    SEGMENT_NAMES,
    STATUS_NAMES,
    commissions_net,
    costs,
    net_income,
    net_income_reported,
)

if TYPE_CHECKING:
    from simulation.model import MLMModel

FLOAT_FORMAT = "%.10g"

# Files every run folder must hold, and the columns the analysis reads from each.
REQUIRED: dict[str, tuple[str, ...]] = {
    "manifest.json": ("scenario", "plan", "months", "seed"),
    # The legal columns are optional: folders written before them still load (their legal
    # outcomes are None and the report says "not recorded").
    "monthly.csv": tuple(c for c in collect.MONTHLY_COLUMNS if c not in collect.LEGAL_COLUMNS),
    "levels.csv": tuple(collect.LEVEL_COLUMNS),
    "distributors.parquet": (
        "id",
        "status",
        "enroller",
        "level",
        "join_month",
        "quit_month",
        "recruits",
        "rank",
        "rank_last",
        "commissions",
        "net_income",
        "net_income_strict",
        "commissions_year",
        "costs_year",
        "net_income_year",
    ),
}

# Derived tables written next to the run's files (all recomputable from the files above).
TABLE_FILES = {
    "income_disclosure": "income_disclosure.csv",
    "concentration": "concentration.csv",
    "level_saturation": "level_saturation.csv",
    "survival": "survival.csv",
    "analysis": "analysis.json",
}

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


def new_run_dir(
    root: Path, scenario_name: str, seed: int, overrides: list[str] | None = None
) -> Path:
    """Create and return a fresh ``root/<scenario>/<timestamp>-seed<seed>[-<overrides>]``.

    The scenario's name comes from its file, so it is made one safe path component
    (:func:`~simulation.safepath.safe_name`): the folder is always inside ``root``. The
    overrides (``market.population=300``; the seed is already in the name) are part of the
    name so that a listing shows what each run changed; characters other than letters, digits
    and ``. _ = + -`` become ``_``, and a long list is cut and ends in a hash of the whole list
    (the manifest has it in full). The folder is created here (exclusively), so two runs
    started in the same second get two folders.
    """
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = Path(root) / safe_name(scenario_name, "scenario")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{parent}: cannot create the results folder: {err.strerror}") from None
    base = parent / f"{stamp}-seed{seed}{override_label(overrides or [])}"
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
    out: Path | None,
    results_root: Path,
    scenario_name: str,
    seed: int,
    overrides: list[str] | None = None,
) -> contextlib.AbstractContextManager[Path]:
    """The locked folder of a run: ``out``, or a new ``results_root/<scenario>/<run-id>``.

    Checked before simulating (see :func:`simulation.safepath.locked_folder`): a file, a
    device, a folder with a finished run or a sweep, or a folder another command is writing
    is refused; temporary files of a killed earlier run are removed; a run that fails leaves
    no empty folder behind.
    """
    if out is not None:
        return locked_folder(out, check=_fresh_run_folder)
    folder = new_run_dir(results_root, scenario_name, seed, overrides)
    return locked_folder(folder, new=True)


LABEL_MAX = 80  # characters of overrides in a folder name (names may be 255 bytes)


def override_label(overrides: list[str]) -> str:
    """``-market.population=300-recruit.join_prob=0.3`` for a folder name; ``""`` if none."""
    shown = [o.strip() for o in overrides if not o.strip().startswith("scenario.seed=")]
    if not shown:
        return ""
    text = re.sub(r"[^A-Za-z0-9._=+-]", "_", "-".join(shown))
    if len(text) > LABEL_MAX:
        digest = hashlib.sha1("\n".join(shown).encode()).hexdigest()[:8]
        text = f"{text[: LABEL_MAX - 9]}-{digest}"
    return f"-{text}"


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
    money = pop.money(ids)
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
        "joined_as": np.array([SEGMENT_NAMES.get(s, "") for s in range(4)])[pop.joined_as[ids]],
        "wholesale": pop.wholesale[ids],
        "rank": pop.rank[ids],
        "rank_last": pop.rank_last[ids],
        "rank_highest": pop.rank_highest[ids],
        "pv_total": pop.pv_total[ids],
        "commissions": pop.commissions[ids],
        "retail_sales": pop.retail_sales[ids],
        "retail_margin": pop.retail_margin[ids],
        "purchases": pop.purchases[ids],
        "own_use_value": pop.own_use_value[ids],
        "own_use_paid": pop.own_use_paid[ids],
        "kit_cost": pop.kit_cost[ids],
        "fixed_costs": pop.fixed_costs[ids],
        "buyback_refund": pop.buyback_refund[ids],
        "returns_refund": pop.returns_refund[ids],
        "customer_refunds": pop.customer_refunds[ids],
        "clawback": pop.clawback[ids],
        "inventory_pv": pop.inventory_pv[ids],
        "costs": costs(money),
        "net_income": net_income(money),
        "net_income_strict": net_income(money, own_use_as_cost=True),
    }
    cols["net_income_reported"] = net_income_reported(
        {**money, "own_use_paid": cols["own_use_paid"]}
    )
    # Last 12 months (the income disclosure year): cumulative now minus 12 months ago.
    start = model.year_start
    year = {k: v - start[k][ids] for k, v in money.items()} if start is not None else money
    cols["commissions_year"] = commissions_net(year)
    cols["costs_year"] = costs(year)
    cols["net_income_year"] = net_income(year)
    cols["willingness"] = pop.willingness[ids]
    cols["effort"] = pop.effort[ids]
    cols["reachable_prospects"] = (
        collect.reachable_at_end(model, ids)
        if model.scenario.observe.reachable
        else np.full(ids.size, np.nan)
    )
    cols["region"] = model.region[ids]
    return cols


def run_data(model: MLMModel, run_dir: Path | None = None) -> RunData:
    """A finished model's tables, typed scenario and plan (see :class:`RunData`)."""
    return RunData(
        scenario=model.scenario,
        plan=model.plan,
        seed=model.seed,
        monthly=monthly_table(model),
        levels=level_table(model),
        dist=pd.DataFrame(distributor_columns(model)),
        run_dir=run_dir,
    )


def _check_columns(path: Path, have: object, need: tuple[str, ...]) -> None:
    missing = [c for c in need if c not in have]
    if missing:
        raise UserError(
            f"{path}: missing {', '.join(missing)}; this file was not written by "
            "`mlmsim run` of this version (rerun the scenario)"
        )


# Columns of a run's tables that hold text; every other required column is numeric.
TEXT_COLUMNS = ("status",)


def _check_numeric(path: Path, frame: pd.DataFrame, columns: list[str]) -> None:
    """Refuse text in a numeric column, naming the file, the column and the first row."""
    for c in columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        values = pd.to_numeric(col, errors="coerce")
        bad = col.notna() & values.isna()
        row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
        raise UserError(
            f"{path}: column '{c}' holds text where numbers are expected (data row {row + 1}); "
            "this file was changed after `mlmsim run` wrote it"
        )


def load_run(run_dir: Path) -> RunData:
    """Read a run folder written by ``mlmsim run``.

    Raises:
        UserError: the folder does not exist, lacks a required file (naming each), or holds
            a file that cannot be read or lacks a column (naming the file and the columns).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run folder")
    if (run_dir / "ensemble.csv").is_file() and (run_dir / "runs").is_dir():
        raise UserError(
            f"{run_dir}: an ensemble's folder (mlmsim run --seeds/--posterior), not one run; "
            f"its page is {run_dir / 'report.html'}, and each run's folder is under "
            f"{run_dir / 'runs'}"
        )
    missing = [name for name in REQUIRED if not (run_dir / name).is_file()]
    if missing:
        hint = (
            " (mlmsim run writes manifest.json last: without it the run did not finish)"
            if "manifest.json" in missing
            else ""
        )
        raise UserError(f"{run_dir}: not a complete run folder; missing {', '.join(missing)}{hint}")
    path = run_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON: {err}") from None
    except RecursionError:
        raise UserError(f"{path}: not valid here: nested too deeply to read") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    _check_columns(path, manifest, REQUIRED["manifest.json"])
    try:
        scenario = scenario_from_dict(manifest["scenario"], f"{path}: scenario")
        plan = plan_from_dict(manifest["plan"], source=f"{path}: plan")
    except ConfigError as err:
        raise UserError(str(err)) from None
    frames: dict[str, pd.DataFrame] = {}
    for name in ("monthly.csv", "levels.csv", "distributors.parquet"):
        path = run_dir / name
        try:
            frame = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        except Exception as err:  # pandas/pyarrow raise many types for a bad file
            raise UserError(f"{path}: cannot be read: {err}") from None
        _check_columns(path, frame.columns, REQUIRED[name])
        _check_numeric(path, frame, [c for c in REQUIRED[name] if c not in TEXT_COLUMNS])
        frames[name] = frame
    if frames["monthly.csv"].empty:
        raise UserError(f"{run_dir / 'monthly.csv'}: no rows (expected month 0 onwards)")
    months = manifest.get("months")
    rows = len(frames["monthly.csv"])
    if isinstance(months, int) and not isinstance(months, bool) and rows != months + 1:
        raise UserError(
            f"{run_dir / 'monthly.csv'}: {rows} rows, but manifest.json says the run has "
            f"{months} months ({months + 1} rows, month 0 onwards); the file is truncated or "
            "not from this run"
        )
    return RunData(
        scenario=scenario,
        plan=plan,
        seed=int(manifest["seed"]),
        monthly=frames["monthly.csv"],
        levels=frames["levels.csv"],
        dist=frames["distributors.parquet"],
        manifest=manifest,
        run_dir=run_dir,
    )


def write_tables(run_dir: Path, analysis: Analysis) -> list[str]:
    """Write the analysis tables next to the run's files; returns their names."""
    write_csv(analysis.disclosure, run_dir / TABLE_FILES["income_disclosure"])
    write_csv(analysis.concentration, run_dir / TABLE_FILES["concentration"])
    write_csv(analysis.saturation.reset_index(), run_dir / TABLE_FILES["level_saturation"])
    by_month = analysis.survival_by_month
    if not by_month.empty:
        sizes = pd.Series(by_month.attrs.get("n", {}), name="n")
        by_month = by_month.copy()
        by_month.columns = [str(c) for c in by_month.columns]
        by_month.insert(0, "n", sizes.reindex(by_month.index).to_numpy())
        by_month = by_month.reset_index()
    write_csv(by_month, run_dir / TABLE_FILES["survival"])
    write_json(analysis.facts, run_dir / TABLE_FILES["analysis"])
    return list(TABLE_FILES.values())


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
    """Versions of the package, Python and key libraries.

    mesa and networkx are read from the installed metadata rather than imported: importing
    them costs 1.3 s (mesa 0.9, networkx 0.4), and a sweep's parent process never needs them
    otherwise.
    """
    return {
        "mlmsim": simulation.__version__,
        "python": platform.python_version(),
        "mesa": metadata.version("mesa"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "networkx": metadata.version("networkx"),
        "pyarrow": pa.__version__,
    }


def build_manifest(
    run: RunData,
    scenario_path: Path | None,
    timings: dict[str, float],
    files: list[str],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The manifest as a dict (the report reads it before ``manifest.json`` is written).

    ``run`` is the run's tables with its scenario, plan and seed (:func:`run_data`).
    """
    return {
        "scenario": run.scenario.to_dict(),
        "scenario_file": str(scenario_path) if scenario_path else None,
        "plan": run.plan.raw,
        "plan_file": run.plan.source,
        "seed": run.seed,
        "months": run.months,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "git_commit": git_commit(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "timings_s": timings,
        "files": files,
        "summary": summary,
    }
