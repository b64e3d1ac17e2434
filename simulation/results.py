"""Write a run to ``results/<scenario>/<run-id>/`` (the files are listed in the README).

Every file is written to a temporary name in the same folder and renamed into place, so a
reader never sees half a file; ``manifest.json`` is written last, so a folder without it is
an incomplete run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import simulation
from simulation.state import STATUS_NAMES

if TYPE_CHECKING:
    from simulation.model import MLMModel

FLOAT_FORMAT = "%.10g"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path`` (same folder: an atomic rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp makes the file owner-only; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV (fixed float format, no index)."""
    atomic_write(path, lambda p: df.to_csv(p, index=False, float_format=FLOAT_FORMAT))


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
    """A fresh ``root/<scenario>/<timestamp>-seed<seed>[-<overrides>]`` folder, not yet there.

    The overrides (``market.population=300``; the seed is already in the name) are part of
    the name so that a listing shows what each run changed; characters other than letters,
    digits and ``. _ = + -`` become ``_``, and a long list is cut and ends in a hash of the
    whole list (the manifest has it in full).
    """
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / scenario_name / f"{stamp}-seed{seed}{override_label(overrides or [])}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


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
