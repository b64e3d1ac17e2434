"""The sweep's output folder: one file pair per finished run, merged into tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulation import results
from simulation.errors import UserError
from simulation.sweep.spec import (
    DESIGN_FILE,
    MANIFEST_FILE,
    MONTHLY_FILE,
    RUNS_DIR,
    RUNS_FILE,
    SPEC_FILE,
    Sweep,
)

# --------------------------------------------------------------------------------------------
# the output folder


def _run_paths(out: Path, rid: str) -> tuple[Path, Path]:
    return out / RUNS_DIR / f"{rid}.parquet", out / RUNS_DIR / f"{rid}.json"


def write_run(out: Path, res: dict[str, Any]) -> None:
    """Write one finished run: its monthly rows, then its summary json (which marks it done)."""
    pq_path, js_path = _run_paths(out, res["run_id"])
    if res["status"] == "ok":
        monthly = res["monthly"].copy()
        monthly.insert(0, "run_id", res["run_id"])
        monthly.insert(1, "point", res["point"])
        monthly.insert(2, "replicate", res["replicate"])
        table = pa.Table.from_pandas(monthly, preserve_index=False)
        results.atomic_write(pq_path, lambda p: pq.write_table(table, p, compression="zstd"))
    record = {k: v for k, v in res.items() if k != "monthly"}
    results.write_json(record, js_path)


def read_run(out: Path, rid: str) -> dict[str, Any] | None:
    """A finished run's record, or None if it has not finished (or its rows are missing)."""
    pq_path, js_path = _run_paths(out, rid)
    try:
        record = json.loads(js_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("status") == "ok" and not pq_path.is_file():
        return None
    return record


def check_sweep_folder(out: Path) -> None:
    """Refuse a folder holding a finished ``mlmsim run`` (a sweep would replace its files)."""
    if (out / MANIFEST_FILE).exists() and not (out / SPEC_FILE).exists():
        raise UserError(
            f"{out} holds a finished run, not a sweep; choose another --out for the sweep"
        )


def claim_folder(out: Path, sweep: Sweep) -> dict[str, Any]:
    """Write (or check) ``sweep.json`` and ``design.parquet``; refuse a different sweep."""
    spec = sweep.spec()
    spec_path = out / SPEC_FILE
    if spec_path.is_file():
        try:
            old = json.loads(spec_path.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError):
            old = None
        if old is not None and old != spec["fingerprint"]:
            raise UserError(
                f"{out} holds runs of a different sweep (fingerprint {old}, this one "
                f"{spec['fingerprint']}: the design, base scenario, seeds or a plan changed); "
                "choose another --out or delete that folder"
            )
    results.write_json(spec, spec_path)
    rows = []
    keys = sweep.param_keys()
    for r in sweep.design_rows():
        row = {k: r[k] for k in ("point", "replicate", "label", "seed", "run_id")}
        row.update({k: r["values"].get(k) for k in keys})
        if r["unit"] is not None:
            ranges = [p.key for p in sweep.params.values() if p.is_range]
            row.update({f"unit:{k}": u for k, u in zip(ranges, r["unit"], strict=True)})
        rows.append(row)
    _write_frame(pd.DataFrame(rows), out / DESIGN_FILE)
    return spec


def _write_frame(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    results.atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"))


def merge(out: Path, sweep: Sweep) -> tuple[pd.DataFrame, int]:
    """Merge finished runs into ``runs.parquet`` and ``monthly.parquet`` (sorted by run id).

    Returns:
        The runs table and the number of runs not finished (absent from both tables).
    """
    keys = sweep.param_keys()
    rows, tables, missing = [], [], 0
    outcome_keys: list[str] = []
    for task in sorted(sweep.tasks(), key=lambda t: t["run_id"]):
        rid = task["run_id"]
        rec = read_run(out, rid)
        if rec is None:
            missing += 1
            continue
        row = {k: task[k] for k in ("run_id", "point", "replicate", "label", "seed")}
        row["status"] = rec["status"]
        row["error"] = rec["error"]
        row.update({k: task["values"].get(k) for k in keys})
        summary = rec.get("summary") or {}
        for k in summary:
            if k not in row and k not in outcome_keys:
                outcome_keys.append(k)
        row.update({k: v for k, v in summary.items() if k not in ("seed",)})
        rows.append(row)
        if rec["status"] == "ok":
            tables.append(pq.read_table(_run_paths(out, rid)[0]))
    columns = ["run_id", "point", "replicate", "label", "seed", "status", "error", *keys]
    columns += [k for k in outcome_keys if k not in columns]
    runs = pd.DataFrame(rows, columns=columns)
    for k in outcome_keys:
        if k in runs and runs[k].dtype == object and k not in ("scenario",):
            runs[k] = _numeric(runs[k])
    _write_frame(runs, out / RUNS_FILE)
    if tables:
        # Runs of different plans have different paid_<component> columns: the union of the
        # columns, empty (null) where a run's plan has no such component.
        monthly = pa.concat_tables(tables, promote_options="default")
        # A market sweep's run holds one row per company and month, company by company in
        # the scenario's order (as the market's monthly.csv): kept by the stable sort.
        keys = ["run_id"] if "company" in monthly.column_names else ["run_id", "month"]
        monthly = monthly.sort_by([(k, "ascending") for k in keys])
    else:
        monthly = pa.table({"run_id": pa.array([], pa.string())})
    results.atomic_write(
        out / MONTHLY_FILE, lambda p: pq.write_table(monthly, p, compression="zstd")
    )
    return runs, missing


def _numeric(s: pd.Series) -> pd.Series:
    """An object column of numbers and None as float (None -> NaN); other columns unchanged."""
    vals = [v for v in s if v is not None]
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return s.astype("float64")
    return s
