"""Experiments at scale: parameter sweeps and Monte Carlo over a base scenario.

A sweep file (TOML, ``scenarios/sweeps/*.toml``; format in ``docs/sweeps.md``) names a base
scenario, the parameters to vary and how (a grid, random or Latin hypercube samples over
ranges, lists of values or plan files; Morris or Sobol designs for :mod:`simulation.sensitivity`)
and the number of seeds per point. ``mlmsim sweep FILE`` runs it on all local cores, in this
process (``--workers 1``) or on a Dask cluster (``--scheduler ADDRESS``) and writes::

    OUT/sweep.json         the resolved sweep and its fingerprint (written first)
    OUT/design.parquet     one row per (point, replicate): run id, seed, parameter values
    OUT/runs/<id>.parquet  one run's monthly rows        } written atomically as each run
    OUT/runs/<id>.json     its summary row, status, error } finishes (the json last)
    OUT/runs.parquet       one row per run, sorted by run id
    OUT/monthly.parquet    one row per run x month, sorted by run id and month
    OUT/fan.parquet, figures/*.png, report.html (see simulation.sweep_report)
    OUT/manifest.json      written last: a folder without it is an unfinished sweep

Reproducibility. Every random number of a run flows from its seed, and every seed from the
sweep's master seed through ``numpy.random.SeedSequence(master_seed, spawn_key=...)`` keyed by
the replicate index (``seeding = "common"``: replicate r of every point shares a seed, so
differences between points are not differences in luck) or by (point, replicate)
(``"independent"``), never by the order in which runs execute. A run's id is a hash of its
parameter values, replicate index and seed, so a rerun of the same sweep finds the runs that
finished and redoes only the rest; the merged tables are sorted by run id, so they are the
same bytes whatever the number of workers or the executor.

Executors. Locally a :class:`concurrent.futures.ProcessPoolExecutor` (spawn): it starts
without a scheduler, opens no network port and needs nothing beyond the standard library, which
suits laptops and classroom machines; a Dask ``LocalCluster`` would add a scheduler, nannies
and a dashboard for no gain on one machine. Beyond one machine, ``--scheduler ADDRESS``
connects a ``distributed.Client`` to a running Dask scheduler (a ``LocalCluster``, a SLURM
cluster from ``dask-jobqueue``, ...). In every case workers only compute: the run's monthly
rows and summary travel back to this process, which is the only writer of the output folder,
so workers need no shared file system and no two processes ever write the same file.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import hashlib
import itertools
import json
import math
import multiprocessing as mp
import os
import platform
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm import tqdm

from simulation import codebook, outcomes, results, safepath
from simulation.config import (
    SCENARIO_DIR,
    Market,
    Scenario,
    apply_values,
    check_edge_list,
    check_live,
    check_memory,
    load_scenario,
    resolve_scenario_path,
    scenario_from_dict,
    unknown_key_message,
)
from simulation.errors import ConfigError, UserError, format_validation_error
from simulation.plans import plan_from_dict
from simulation.plans.engine import resolve_plan_path
from simulation.safepath import path_arg
from simulation.userfile import read_toml

SWEEP_DIR = SCENARIO_DIR / "sweeps"
DEFAULT_ROOT = Path("results") / "sweeps"
RUNS_DIR = "runs"
SPEC_FILE = "sweep.json"
DESIGN_FILE = "design.parquet"
RUNS_FILE = "runs.parquet"
MONTHLY_FILE = "monthly.parquet"
MANIFEST_FILE = "manifest.json"

# SeedSequence spawn keys: seeds by replicate (common), by point and replicate (independent),
# and the stream that draws random / Latin hypercube / Morris / Sobol designs.
_COMMON, _INDEPENDENT, _DESIGN = 0, 1, 2

# How long to try to reach a Dask scheduler before giving up.
CONNECT_TIMEOUT = "20s"

# assumption: a million runs (hours on a cluster) is beyond any sweep one folder should hold;
# the design is checked as a product before it is expanded (10,000 levels x 3 ranges would
# otherwise take gigabytes just to list).
MAX_RUNS = 1_000_000

# Numeric outcomes of a run (the columns of runs.parquet after the identifiers and
# parameters) are described in outcomes.OUTCOMES, next to the functions computing them.
OUTCOMES = outcomes.OUTCOMES


# --------------------------------------------------------------------------------------------
# the sweep file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SweepMeta(_Strict):
    """``[sweep]``: the base scenario, the design and the seeds."""

    name: str | None = Field(None, description="Name; default the file's stem.")
    description: str = Field("", description="What the sweep asks.")
    scenario: str = Field(
        "classroom",
        description="Base scenario: a path relative to the sweep file, or a shipped name.",
    )
    design: Literal["grid", "random", "lhs", "morris", "sobol"] = Field(
        "grid",
        description="grid: every combination; random / lhs: `samples` points over the ranges "
        "(uniform / Latin hypercube), crossed with every listed value; morris / sobol: SALib "
        "designs for the [sensitivity] section.",
    )
    samples: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="random / lhs: points drawn; morris: trajectories; sobol: base samples N "
        "(a power of two; N x (D + 2) points).",
    )
    replicates: int = Field(1, ge=1, le=1_000_000, description="Seeds (runs) per point.")
    master_seed: int = Field(
        0, ge=0, description="Every run's seed and every sampled design derive from it."
    )
    seeding: Literal["common", "independent"] = Field(
        "common",
        description="common: replicate r uses the same seed at every point (common random "
        "numbers); independent: every (point, replicate) has its own seed.",
    )


class RangeSpec(_Strict):
    """A parameter range: ``{ low = 0.1, high = 0.6 }``, optionally ``levels``, ``log``."""

    low: float
    high: float
    levels: int | None = Field(None, ge=2, le=10_000, description="grid: evenly spaced values.")
    log: bool = Field(False, description="Spread values evenly in log space (low > 0).")

    @model_validator(mode="after")
    def _order(self) -> RangeSpec:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0, got {self.low}")
        return self


class ShockSpec(_Strict):
    """``[[shocks]]``: from ``month`` on, set scenario values (recruit, retail, buy, quit...)."""

    month: int = Field(ge=1, le=1200)
    set: dict[str, Any] = Field(min_length=1)


class SensitivitySpec(_Strict):
    """``[sensitivity]``: outcomes to analyse (design = morris or sobol)."""

    outcomes: list[str] = Field(min_length=1)
    levels: int = Field(4, ge=2, le=20, description="morris: grid levels per parameter.")
    second_order: bool = Field(False, description="sobol: also second-order indices.")
    resamples: int = Field(200, ge=10, le=100_000, description="Bootstrap resamples for CIs.")


class SweepFile(_Strict):
    """A whole sweep file."""

    sweep: SweepMeta
    base: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    shocks: list[ShockSpec] = Field(default_factory=list)
    sensitivity: SensitivitySpec | None = None


@dataclass
class Param:
    """One varied parameter: listed ``values``, or a range (``low``..``high``)."""

    key: str
    values: list[Any] | None = None
    low: float = 0.0
    high: float = 1.0
    levels: int | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        """True for a range, False for a list of values."""
        return self.values is None

    def at(self, u: float) -> Any:
        """The value at position ``u`` in [0, 1] of the range."""
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        x = min(max(x, self.low), self.high)
        return round(x) if self.integer else float(x)

    def grid(self) -> list[Any]:
        """Values for a grid design: the listed values, or ``levels`` evenly spaced values."""
        if self.values is not None:
            return list(self.values)
        assert self.levels is not None
        return [self.at(i / (self.levels - 1)) for i in range(self.levels)]

    def spec(self) -> dict[str, Any]:
        """As plain data (for sweep.json)."""
        if self.values is not None:
            return {"values": self.values}
        return {"low": self.low, "high": self.high, "levels": self.levels, "log": self.log}


@dataclass
class Point:
    """One point of the design: scenario values, a label, its shocks and unit coordinates."""

    values: dict[str, Any]
    label: str = ""
    shocks: list[dict[str, Any]] = field(default_factory=list)
    unit: list[float] | None = None


@dataclass
class Sweep:
    """A resolved sweep: the validated base scenario, its points and replicates.

    Attributes:
        name: the sweep's name (default output folder ``results/sweeps/<name>``).
        base: the validated base scenario as plain data (plan path resolved).
        plans: a plan value as written (``"unilevel_5"``, a path) -> ``{"path", "data"}``:
            the resolved file and its parsed TOML. Workers validate it, so a broken plan
            fails its runs, not the sweep.
        points: the design, in order.
        params: the varied parameters (``section.key`` -> :class:`Param`).
        shocks: shocks applied to every run (``[{"month": m, "set": {key: value}}]``).
    """

    name: str
    base: dict[str, Any]
    plans: dict[str, dict[str, Any]]
    points: list[Point]
    replicates: int = 1
    master_seed: int = 0
    seeding: str = "common"
    design: str = "grid"
    params: dict[str, Param] = field(default_factory=dict)
    shocks: list[dict[str, Any]] = field(default_factory=list)
    sensitivity: SensitivitySpec | None = None
    description: str = ""
    source: str = "<sweep>"
    kind: str = "sweep"
    samples: int | None = None

    def seed(self, point: int, replicate: int) -> int:
        """The seed of replicate ``replicate`` of point ``point`` (63-bit, from the master)."""
        key = (_COMMON, replicate) if self.seeding == "common" else (_INDEPENDENT, point, replicate)
        state = np.random.SeedSequence(self.master_seed, spawn_key=key).generate_state(1, np.uint64)
        return int(state[0] >> np.uint64(1))

    def design_rows(self) -> list[dict[str, Any]]:
        """One row per (point, replicate): point, replicate, label, seed, run id, values."""
        rows = []
        for i, p in enumerate(self.points):
            for r in range(self.replicates):
                seed = self.seed(i, r)
                shocks = [*self.shocks, *p.shocks]
                rid = run_id(p.values, shocks, p.label, r, seed)
                rows.append(
                    {
                        "point": i,
                        "replicate": r,
                        "label": p.label,
                        "seed": seed,
                        "run_id": rid,
                        "values": p.values,
                        "shocks": shocks,
                        "unit": p.unit,
                    }
                )
        return rows

    def tasks(self) -> list[dict[str, Any]]:
        """The runs to do, one per distinct run id, in design order (picklable dicts)."""
        seen: set[str] = set()
        tasks = []
        base_plan = self.base["plan"]["file"]
        for row in self.design_rows():
            if row["run_id"] in seen:
                continue  # e.g. a Morris trajectory revisiting a point: same run, same result
            seen.add(row["run_id"])
            plan = self.plans[str(row["values"].get("plan.file", base_plan))]
            tasks.append(
                {
                    "run_id": row["run_id"],
                    "point": row["point"],
                    "replicate": row["replicate"],
                    "seed": row["seed"],
                    "label": row["label"],
                    "values": row["values"],
                    "shocks": row["shocks"],
                    "scenario": self.base,
                    "plan": plan,
                }
            )
        return tasks

    def param_keys(self) -> list[str]:
        """Every varied key, in order of first appearance in the design."""
        keys: dict[str, None] = dict.fromkeys(self.params)
        for p in self.points:
            keys.update(dict.fromkeys(p.values))
        return list(keys)

    def fingerprint(self) -> str:
        """A hash of everything that determines the runs' results."""
        blob = _canonical(
            {
                "base": self.base,
                "plans": {k: v["data"] for k, v in sorted(self.plans.items())},
                "runs": sorted(t["run_id"] for t in self.tasks()),
            }
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def spec(self) -> dict[str, Any]:
        """The resolved sweep as plain data (``sweep.json``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "fingerprint": self.fingerprint(),
            "design": self.design,
            "samples": self.samples,
            "replicates": self.replicates,
            "master_seed": self.master_seed,
            "seeding": self.seeding,
            "parameters": {k: p.spec() for k, p in self.params.items()},
            "param_keys": self.param_keys(),
            "shocks": self.shocks,
            "sensitivity": self.sensitivity.model_dump() if self.sensitivity else None,
            "points": len(self.points),
            "labels": [p.label for p in self.points],
            "runs": len(self.tasks()),
            "base_scenario": self.base,
            "plans": {k: v["path"] for k, v in self.plans.items()},
        }


def _canonical(x: Any) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"), default=str)


def run_id(
    values: dict[str, Any], shocks: list[dict[str, Any]], label: str, replicate: int, seed: int
) -> str:
    """A run's stable id: a hash of its parameter values, shocks, label, replicate and seed."""
    blob = _canonical(
        {"values": values, "shocks": shocks, "label": label, "replicate": replicate, "seed": seed}
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_sweep_path(name: str | Path) -> Path:
    """A sweep file path, or the name of a shipped sweep (``classroom_grid``)."""
    p = Path(name)
    for cand in (p, SWEEP_DIR / p, SWEEP_DIR / f"{p}.toml"):
        if cand.is_file():
            return cand
    shipped = ", ".join(sorted(s.stem for s in SWEEP_DIR.glob("*.toml")))
    raise ConfigError(f"sweep file '{name}' not found (a file path, or one of: {shipped})")


def _flatten(table: dict[str, Any], src: str, where: str) -> dict[str, Any]:
    """``{section: {key: v}}`` or ``{"section.key": v}`` -> ``{"section.key": v}``."""
    flat: dict[str, Any] = {}
    for k, v in table.items():
        if "." in k:
            flat[k] = v
        elif isinstance(v, dict):
            for kk, vv in v.items():
                flat[f"{k}.{kk}"] = vv
        else:
            raise ConfigError(
                f"{src}: {where}.{k} = {v!r}: expected section.key = value "
                "(e.g. recruit.join_prob = 0.3)"
            )
    return flat


def _field_of(key: str, src: str, where: str) -> Any:
    """The pydantic field of ``section.key`` in :class:`Scenario`; a clear error otherwise.

    A mistyped key gets the same message as a mistyped ``--set`` (the closest valid keys).
    """
    section, _, name = key.partition(".")
    model = Scenario.model_fields[section].annotation if section in Scenario.model_fields else None
    if model is None or name not in model.model_fields:
        raise ConfigError(unknown_key_message(key, f"{src}: {where}.{key}"))
    return model.model_fields[name]


def _parse_param(key: str, spec: Any, src: str) -> Param:
    where = f"parameters.{key}"
    f = _field_of(key, src, "parameters")
    if key == "scenario.seed":
        raise ConfigError(
            f"{src}: {where}: seeds are not a parameter; set [sweep] replicates and master_seed"
        )
    integer = f.annotation is int
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{src}: {where} = []: list at least one value")
        bad = [v for v in spec if isinstance(v, (list, dict))]
        if bad:
            raise ConfigError(
                f"{src}: {where} = {spec!r}: values must be numbers, text or booleans"
            )
        canon = [_canonical(v) for v in spec]
        dup = next((v for v, c in zip(spec, canon, strict=True) if canon.count(c) > 1), None)
        if dup is not None:
            raise ConfigError(f"{src}: {where} = {spec!r}: {dup!r} is listed twice")
        return Param(key, values=list(spec), integer=integer)
    if isinstance(spec, dict):
        try:
            r = RangeSpec.model_validate(spec, strict=True)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, src, prefix=where)) from None
        if key == "plan.file" or f.annotation not in (int, float):
            raise ConfigError(
                f"{src}: {where} = {spec!r}: a range needs a numeric parameter; list the values"
            )
        return Param(key, low=r.low, high=r.high, levels=r.levels, log=r.log, integer=integer)
    raise ConfigError(
        f"{src}: {where} = {spec!r}: expected a list of values or a range "
        "{ low = ..., high = ... }"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, "sweep")


def read_plan(value: str, base_dir: Path, src: str) -> dict[str, Any]:
    """Resolve a plan value (relative to ``base_dir``, or a shipped name) and parse its TOML.

    Only reading is checked here; the plan is validated by each run, so a plan that does not
    validate fails its runs (recorded with the error) and the sweep goes on.
    """
    try:
        path = resolve_plan_path(value, base=base_dir)
    except ConfigError as err:
        raise ConfigError(f"{src}: plan.file = {value!r}: {err}") from None
    try:
        data = read_toml(path, "plan")
    except ConfigError as err:
        raise ConfigError(f"{src}: plan.file = {value!r}: {err}") from None
    return {"path": str(path.resolve()), "data": data}


def load_base(
    scenario: str, base: dict[str, Any], base_dir: Path, src: str
) -> tuple[dict[str, Any], Path]:
    """The base scenario (relative to ``base_dir`` or shipped) with ``base`` values applied."""
    cand = base_dir / scenario
    try:
        path = cand if cand.is_file() else resolve_scenario_path(scenario)
        scen, path = load_scenario(path)
    except ConfigError as err:
        raise ConfigError(f"{src}: sweep.scenario = {scenario!r}: {err}") from None
    for key in base:
        _field_of(key, src, "base")
    values = dict(base)
    if "market.edge_list" in values and not Path(values["market.edge_list"]).is_absolute():
        values["market.edge_list"] = str((base_dir / values["market.edge_list"]).resolve())
    data = apply_values(scen.to_dict(), values, f"{src} [base]")
    scen = scenario_from_dict(data, f"{src} [base]", strict=True)
    check_edge_list(scen, f"{src} [base]")
    check_memory(scen, f"{src} [base]")
    return scen.to_dict(), path


def load_sweep(name: str | Path) -> Sweep:
    """Read and validate a sweep file; expand its design. Errors name file, key and value."""
    path = resolve_sweep_path(name)
    src = str(path)
    raw = _read_toml(path)
    try:
        spec = SweepFile.model_validate(raw, strict=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, src)) from None
    meta = spec.sweep
    base_dir = path.parent
    base_vals = _flatten(spec.base, src, "base")
    if "scenario.seed" in base_vals:
        raise ConfigError(f"{src}: base.scenario.seed: seeds come from [sweep] master_seed")
    plan_value = base_vals.pop("plan.file", None)
    base, _ = load_base(meta.scenario, base_vals, base_dir, src)
    plans: dict[str, dict[str, Any]] = {}
    if plan_value is not None:
        plans[str(plan_value)] = read_plan(str(plan_value), base_dir, src)
        base["plan"]["file"] = plans[str(plan_value)]["path"]
    plans.setdefault(base["plan"]["file"], read_plan(base["plan"]["file"], base_dir, src))
    params = {
        k: _parse_param(k, v, src) for k, v in _flatten(spec.parameters, src, "parameters").items()
    }
    if "plan.file" in params:
        for v in params["plan.file"].values or []:
            plans[str(v)] = read_plan(str(v), base_dir, src)
    shocks = []
    for i, s in enumerate(spec.shocks):
        flat = _flatten(s.set, src, f"shocks[{i}].set")
        for key, value in flat.items():
            _field_of(key, src, f"shocks[{i}].set")
            # Only parameters the model reads every month can change mid-run; the value is
            # validated here, so a bad shock stops the sweep before any run starts.
            check_live(key, value, src, path=f"shocks[{i}].set.")
        shocks.append({"month": s.month, "set": flat})
    sweep = Sweep(
        name=meta.name or path.stem,
        description=meta.description,
        source=src,
        base=base,
        plans=plans,
        points=[],
        replicates=meta.replicates,
        master_seed=meta.master_seed,
        seeding=meta.seeding,
        design=meta.design,
        params=params,
        shocks=shocks,
        sensitivity=spec.sensitivity,
        samples=meta.samples,
    )
    _check_design(sweep, src)
    _check_values(sweep, src)
    sweep.points = expand(sweep)
    return sweep


def design_size(sweep: Sweep) -> int:
    """Points the design will have, computed without expanding it."""
    ranges = [p for p in sweep.params.values() if p.is_range]
    lists = [p for p in sweep.params.values() if not p.is_range]
    listed = math.prod(len(p.values or []) for p in lists)
    if sweep.design == "grid":
        return math.prod(
            len(p.values) if p.values else int(p.levels or 0) for p in sweep.params.values()
        )
    n = int(sweep.samples or 0)
    if sweep.design == "sobol":
        d = len(ranges)
        per = 2 * d + 2 if sweep.sensitivity and sweep.sensitivity.second_order else d + 2
        return n * per
    if sweep.design == "morris":
        return n * (len(ranges) + 1)
    return n * listed


def _check_values(sweep: Sweep, src: str) -> None:
    """Check every listed value, range end and shock value against the scenario's rules.

    Each value is validated in its section with the base scenario's other values, strictly
    (no text or booleans read as numbers), so a value no run could use is refused when the
    file is read, instead of failing every run. The largest population and mean degree any
    run can get are checked against the machine's memory.
    """

    def check(key: str, value: Any, where: str) -> None:
        if key == "plan.file":
            return
        section, _, name = key.partition(".")
        model = Scenario.model_fields[section].annotation
        data = {**sweep.base[section], name: value}
        try:
            model.model_validate(data, strict=True)
        except ValidationError as err:
            msgs = [e["msg"] for e in err.errors() if e["loc"] and e["loc"][0] == name]
            msg = (msgs or [err.errors()[0]["msg"]])[0].removeprefix("Value error, ")
            raise ConfigError(f"{src}: {where} = {value!r}: {msg}") from None

    biggest: dict[str, Any] = {}
    for key, p in sweep.params.items():
        if p.is_range:
            for end in (p.at(0.0), p.at(1.0)):
                check(key, end, f"parameters.{key} (range end)")
            candidates = [p.at(0.0), p.at(1.0)]
        else:
            for v in p.values or []:
                check(key, v, f"parameters.{key}")
            candidates = list(p.values or [])
        if key in ("market.population", "market.mean_degree"):
            biggest[key] = max(candidates)
    for i, shock in enumerate(sweep.shocks):
        for key, v in shock["set"].items():
            check(key, v, f"shocks[{i}].set.{key}")
    if biggest:
        market = {**sweep.base["market"], **{k.partition(".")[2]: v for k, v in biggest.items()}}
        worst = Scenario.model_construct(market=Market.model_construct(**market))
        check_memory(worst, f"{src}: the largest market of the sweep")


def _check_design(sweep: Sweep, src: str) -> None:
    d, n = sweep.design, sweep.samples
    size = design_size(sweep)
    runs = size * sweep.replicates
    if runs > MAX_RUNS:
        raise ConfigError(
            f"{src}: the design has {size:,} points x {sweep.replicates:,} replicates = "
            f"{runs:,} runs, more than the limit of {MAX_RUNS:,}; use fewer levels or values, "
            "or a sampled design (lhs, random)"
        )
    ranges = [p for p in sweep.params.values() if p.is_range]
    lists = [p for p in sweep.params.values() if not p.is_range]
    if d == "grid":
        for p in ranges:
            if p.levels is None:
                raise ConfigError(
                    f"{src}: parameters.{p.key}: a grid needs levels = N in the range "
                    "(or list the values)"
                )
        if n is not None:
            raise ConfigError(f"{src}: sweep.samples = {n}: a grid takes no samples")
    else:
        if n is None:
            raise ConfigError(f"{src}: sweep.samples: design '{d}' needs samples = N")
        if not ranges:
            raise ConfigError(f"{src}: design '{d}' needs at least one range parameter")
    if d in ("morris", "sobol"):
        if lists:
            raise ConfigError(
                f"{src}: parameters.{lists[0].key}: {d} designs take ranges only (fix listed "
                "values such as the plan in [base], one sensitivity sweep per plan)"
            )
        if sweep.sensitivity is None:
            raise ConfigError(f"{src}: design '{d}' needs a [sensitivity] section (outcomes)")
        if d == "sobol" and n & (n - 1):
            raise ConfigError(
                f"{src}: sweep.samples = {n}: a Sobol design needs a power of two (e.g. 64)"
            )
        if d == "morris" and len(ranges) < 2:
            raise ConfigError(f"{src}: a Morris design needs at least two range parameters")
    elif sweep.sensitivity is not None:
        raise ConfigError(f"{src}: [sensitivity] needs design = 'morris' or 'sobol', not '{d}'")
    if sweep.sensitivity is not None:
        unknown = [o for o in sweep.sensitivity.outcomes if o not in OUTCOMES]
        if unknown:
            raise ConfigError(
                f"{src}: sensitivity.outcomes: unknown outcome {unknown[0]!r} (known: "
                f"{', '.join(OUTCOMES)})"
            )


def _label(values: dict[str, Any]) -> str:
    parts = []
    for k, v in values.items():
        short = k.partition(".")[2]
        if k == "plan.file":
            short, v = "plan", Path(str(v)).stem
        elif isinstance(v, float):
            v = f"{v:.4g}"
        parts.append(f"{short}={v}")
    return ", ".join(parts) or "base"


def expand(sweep: Sweep) -> list[Point]:
    """The design's points, in a fixed order (grid: the product in file order)."""
    params = list(sweep.params.values())
    rng = np.random.default_rng(np.random.SeedSequence(sweep.master_seed, spawn_key=(_DESIGN,)))
    if sweep.design == "grid":
        combos = itertools.product(*(p.grid() for p in params))
        pts = [dict(zip(sweep.params, c, strict=True)) for c in combos]
        return [Point(v, _label(v)) for v in pts]
    ranges = [p for p in params if p.is_range]
    lists = [p for p in params if not p.is_range]
    n = int(sweep.samples or 0)
    if sweep.design == "random":
        unit = rng.random((n, len(ranges)))
    elif sweep.design == "lhs":
        from scipy.stats import qmc  # noqa: PLC0415 - 3 s at every CLI start

        unit = qmc.LatinHypercube(d=len(ranges), rng=rng).random(n)
    else:
        # SALib and matplotlib: 2 s at every CLI start, for sensitivity designs only.
        from simulation import sensitivity  # noqa: PLC0415

        unit = sensitivity.sample_unit(
            sweep.design, [p.key for p in ranges], n, sweep.sensitivity, rng
        )
    points = []
    for row in unit:
        sampled = {p.key: p.at(float(u)) for p, u in zip(ranges, row, strict=True)}
        for combo in itertools.product(*(p.values or [] for p in lists)):
            values = {**dict(zip((p.key for p in lists), combo, strict=True)), **sampled}
            values = {k: values[k] for k in sweep.params}  # file order
            points.append(Point(values, _label(values), unit=[float(u) for u in row]))
    return points


# --------------------------------------------------------------------------------------------
# one run (top-level and picklable: process pools and Dask workers call it)


def simulate(task: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build and run one task's model; return its monthly table and outcomes.

    The run is the model's own ``run()``; shocks are scheduled changes of the model
    (:meth:`MLMModel.schedule_change`, refused for parameters read only at the start), and
    the outcomes are :func:`simulation.outcomes.sweep_outcomes` of the model's tables, so a
    sweep run and ``mlmsim run`` of the same scenario and seed agree exactly.
    """
    # mesa (through the model): 0.9 s at every CLI start; only the runs need it.
    from simulation.model import MLMModel  # noqa: PLC0415

    src = f"run {task['run_id']} ({task['label'] or 'base'})"
    values = dict(task["values"])
    plan_info = task["plan"]
    if "plan.file" in values:
        values["plan.file"] = plan_info["path"]
    values["scenario.seed"] = task["seed"]
    scenario = scenario_from_dict(apply_values(task["scenario"], values, src), src)
    plan = plan_from_dict(plan_info["data"], source=plan_info["path"])
    model = MLMModel(scenario=scenario, plan=plan, agents=False)
    for s in task["shocks"]:
        for key, value in s["set"].items():
            model.schedule_change(int(s["month"]), key, value)
    model.run()
    run = results.run_data(model)
    return run.monthly, outcomes.sweep_outcomes(run)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task; never raises for a run's own error (it is recorded in the result).

    Returns:
        ``{"run_id", "point", "replicate", "seed", "label", "values", "status" ("ok" or
        "error"), "error", "traceback", "summary", "monthly" (DataFrame), "elapsed_s",
        "worker"}``.
    """
    t0 = time.perf_counter()
    out = {k: task[k] for k in ("run_id", "point", "replicate", "seed", "label", "values")}
    out.update(status="ok", error=None, traceback=None, summary=None, monthly=None)
    try:
        monthly, summary = simulate(task)
    except Exception as err:
        out.update(
            status="error",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=-8),
        )
    else:
        out.update(summary=_clean(summary), monthly=monthly)
    out["elapsed_s"] = time.perf_counter() - t0
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values: numpy scalars to Python, NaN to None."""
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out


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


def _sweep_folder(out: Path) -> None:
    """Refuse a folder holding a finished ``mlmsim run`` (a sweep would replace its files)."""
    if (out / MANIFEST_FILE).exists() and not (out / SPEC_FILE).exists():
        raise UserError(
            f"{out} holds a finished run, not a sweep; choose another --out for the sweep"
        )


def _claim(out: Path, sweep: Sweep) -> dict[str, Any]:
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
        monthly = pa.concat_tables(tables, promote_options="default").sort_by(
            [("run_id", "ascending"), ("month", "ascending")]
        )
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


# --------------------------------------------------------------------------------------------
# executors


OnResult = Callable[[dict[str, Any]], None]


def _run_inprocess(tasks: list[dict[str, Any]], on_result: OnResult) -> int:
    for t in tasks:
        on_result(run_task(t))
    return 0


def _warn_lost(err: BaseException, count: int) -> None:
    """Report a run lost to the executor (not to its own error): the first few only."""
    if count <= 3:
        hint = ""
        if isinstance(err, ModuleNotFoundError):
            hint = " (is mlmsim installed where the workers run?)"
        print(f"warning: a run was lost: {type(err).__name__}: {err}{hint}", file=sys.stderr)
    elif count == 4:
        print("warning: more runs lost; the count is in the summary", file=sys.stderr)


def _run_pool(
    tasks: list[dict[str, Any]],
    workers: int,
    on_result: OnResult,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = run_task,
) -> int:
    """Local processes; at most a few tasks per worker in flight. Returns runs lost.

    A worker that dies (out of memory, killed) breaks the pool: the runs in flight and those
    not submitted yet are lost (not recorded), the finished ones are kept.
    """
    lost = 0
    broken = False
    pending: set[Any] = set()
    todo = iter(tasks)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=worker_init,
        initargs=(os.getpid(),),
    )

    def submit(n: int) -> None:
        nonlocal broken
        for t in itertools.islice(todo, 0 if broken else n):
            try:
                pending.add(pool.submit(fn, t))
            except BrokenProcessPool:
                broken = True
                return

    try:
        submit(4 * workers)
        while pending:
            done, rest = wait(pending, return_when=FIRST_COMPLETED)
            pending.clear()
            pending.update(rest)
            for fut in done:
                try:
                    res = fut.result()
                except Exception as err:
                    lost += 1
                    broken = broken or isinstance(err, BrokenProcessPool)
                    _warn_lost(err, lost)
                    continue
                on_result(res)
            submit(len(done))
    except BaseException:
        # Interrupted (Ctrl+C, SIGTERM) or failed: stop the workers now rather than let them
        # finish their runs; finished runs are already written, a rerun resumes.
        _stop_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return lost + sum(1 for _ in todo)


def _stop_workers(pool: Any) -> None:
    """Terminate a process pool's workers (the pool keeps them in ``_processes``)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def worker_init(parent: int) -> None:
    """Pool worker start-up: end this worker when the sweep's process ends, however it ends.

    On Linux the kernel sends the worker SIGKILL when its parent dies (``prctl
    PR_SET_PDEATHSIG``), even if the parent was killed with SIGKILL; elsewhere a daemon
    thread checks every second that the parent is still there. A parent that died before
    this ran is noticed at once.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler_address(address: str) -> None:
    """Refuse a malformed Dask scheduler address at once (before any connection attempt).

    Accepted: ``[scheme://]host[:port]`` with scheme one of tcp, tls, ws, wss, ucx (default
    tcp), a host name or IP address (IPv6 in brackets) and a port 1-65535; or ``inproc://``.

    Raises:
        UserError: naming the address and what is wrong with it.
    """
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    where = f"--scheduler {address!r}"
    if scheme not in _SCHEMES:
        raise UserError(f"{where}: unknown protocol '{scheme}' (use {', '.join(_SCHEMES)})")
    if scheme == "inproc":
        return
    try:
        parts = urlsplit(f"//{rest}")
        port = parts.port
    except ValueError as err:
        raise UserError(f"{where}: not an address host:port ({err})") from None
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username:
        raise UserError(f"{where}: not an address host:port, e.g. tcp://10.0.0.5:8786")
    if port == 0:
        raise UserError(f"{where}: port 0 is not a port a scheduler listens on")


def _run_dask(tasks: list[dict[str, Any]], address: str, on_result: OnResult) -> int:
    """On a Dask cluster through ``distributed.Client``. Returns runs lost.

    Dask reschedules the runs of a worker that dies; a run lost anyway (its workers kept
    dying, or they cannot import mlmsim) is counted, not recorded.
    """
    from distributed import Client, as_completed  # noqa: PLC0415 - 0.8 s at every CLI start

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise UserError(f"--scheduler {address}: cannot reach the Dask scheduler: {err}") from None
    lost = 0
    try:
        futures = client.map(run_task, tasks, pure=False)
        ac = as_completed(futures, loop=client.loop)
        del futures
        for fut in ac:
            try:
                res = fut.result()
            except Exception as err:
                lost += 1
                _warn_lost(err, lost)
                continue
            finally:
                fut.release()
            on_result(res)
    finally:
        client.close()
    return lost


# --------------------------------------------------------------------------------------------
# running a sweep


@dataclass
class SweepResult:
    """What :func:`run_sweep` did."""

    out: Path
    total: int
    ok: int
    failed: int
    ran: int
    skipped: int
    lost: int
    wall_s: float
    executor: str
    runs: pd.DataFrame
    files: list[str]


Step = Callable[[Path, Sweep, pd.DataFrame], list[str]]


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    report: bool = True,
    retry_failed: bool = False,
    steps: list[Step] | None = None,
) -> SweepResult:
    """Run (or resume) ``sweep`` into ``out``; see the module docstring for the files.

    Args:
        sweep: the resolved sweep (:func:`load_sweep`, or built by ``simulation.stress``).
        out: the output folder; a folder holding part of the same sweep is resumed.
        workers: local processes (default: every core); 1 runs in this process.
        scheduler: a Dask scheduler address; runs go to that cluster instead.
        progress: show a progress bar (runs done, failed, time left) on stderr.
        report: write the aggregate tables, figures and ``report.html``.
        retry_failed: run again the runs recorded with an error.
        steps: extra analyses ``step(out, sweep, runs) -> files`` run after the merge,
            before the report and the manifest (sensitivity, stress tables).
    """
    t_start = time.perf_counter()
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers {workers}: need at least 1")
    if scheduler:
        check_scheduler_address(scheduler)
    # Checked, created and locked before anything runs; temporary files of a killed
    # earlier sweep are removed (safepath.locked_folder).
    with safepath.locked_folder(out, check=_sweep_folder) as out:
        safepath.make_folder(out / RUNS_DIR, root=out)
        spec = _claim(out, sweep)
        (out / MANIFEST_FILE).unlink(missing_ok=True)
        tasks = sweep.tasks()
        done = {t["run_id"]: read_run(out, t["run_id"]) for t in tasks}
        failed_before = sum(1 for r in done.values() if r and r["status"] == "error")
        todo = [
            t
            for t in tasks
            if done[t["run_id"]] is None
            or (retry_failed and done[t["run_id"]]["status"] == "error")
        ]
        skipped = len(tasks) - len(todo)
        counts = {"ok": 0, "failed": 0 if retry_failed else failed_before}
        elapsed: list[float] = []
        if scheduler:
            executor = f"dask:{scheduler}"
        elif workers == 1 or len(todo) <= 1:
            executor = "in-process"
        else:
            executor = f"local processes ({min(workers, len(todo))})"
        bar = tqdm(
            total=len(tasks),
            initial=skipped,
            unit="run",
            desc=sweep.name,
            disable=not progress,
            dynamic_ncols=True,
        )
        bar.set_postfix(failed=counts["failed"])

        def on_result(res: dict[str, Any]) -> None:
            write_run(out, res)
            elapsed.append(res["elapsed_s"])
            counts["ok" if res["status"] == "ok" else "failed"] += 1
            bar.set_postfix(failed=counts["failed"], refresh=False)
            bar.update(1)

        t_runs = time.perf_counter()
        try:
            if scheduler:
                lost = _run_dask(todo, scheduler, on_result)
            elif executor == "in-process":
                lost = _run_inprocess(todo, on_result)
            else:
                lost = _run_pool(todo, min(workers, len(todo)), on_result)
        finally:
            bar.close()
        runs_s = time.perf_counter() - t_runs
        runs, missing = merge(out, sweep)
        ok = int((runs["status"] == "ok").sum())
        failed = int((runs["status"] == "error").sum())
        files = [SPEC_FILE, DESIGN_FILE, RUNS_FILE, MONTHLY_FILE, f"{RUNS_DIR}/"]
        result = SweepResult(
            out,
            len(tasks),
            ok,
            failed,
            len(todo) - lost,
            skipped,
            missing,
            0.0,
            executor,
            runs,
            files,
        )
        if missing:
            result.wall_s = time.perf_counter() - t_start
            return result  # no manifest: the folder is an unfinished sweep; rerun to resume
        for step in steps or []:
            files += step(out, sweep, runs)
        if report:
            # matplotlib: 0.7 s at every CLI start, only for the report.
            from simulation import sweep_report  # noqa: PLC0415

            files += sweep_report.write_report(out)
        # The data dictionary of the tables written above (docs/codebook.md).
        files.append(codebook.write_columns(out, codebook.SWEEP_TABLES, codebook.SWEEP))
        result.wall_s = time.perf_counter() - t_start
        manifest = {
            "sweep": spec,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": results.versions(),
            "git_commit": results.git_commit(),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "executor": executor,
            "runs": {
                "total": len(tasks),
                "ok": ok,
                "failed": failed,
                "ran_now": len(todo),
                "skipped_as_done": skipped,
            },
            "timings_s": {
                "wall": result.wall_s,
                "runs": runs_s,
                "runs_per_minute": 60 * len(todo) / runs_s if runs_s > 0 and todo else None,
                "mean_run": float(np.mean(elapsed)) if elapsed else None,
            },
            "files": files,
        }
        results.write_json(manifest, out / MANIFEST_FILE)
        result.files = [*files, MANIFEST_FILE]
        return result


# --------------------------------------------------------------------------------------------
# the command line


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``mlmsim sweep`` and ``mlmsim stress``."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: every core; 1 runs in this process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need mlmsim "
        "installed; results come back here, no shared disk needed)",
    )
    parser.add_argument("--out", type=path_arg, default=None, help="output folder")
    parser.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded with an error"
    )
    parser.add_argument("--no-report", action="store_true", help="skip the figures and report.html")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mlmsim sweep SWEEP.toml [--workers N] [--scheduler ADDRESS] [--out DIR]``."""
    parser.add_argument("sweep", help="sweep file (TOML) or a shipped sweep's name")
    add_executor_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the design and the run count, run nothing"
    )


def print_result(res: SweepResult) -> None:
    """The terminal summary of a sweep."""
    print(
        f"\n  {res.total} runs: {res.ok} ok, {res.failed} failed"
        + (f", {res.lost} not finished" if res.lost else "")
        + f" ({res.ran} run now, {res.skipped} already done); {res.wall_s:.1f} s, "
        f"{res.executor}"
    )
    errors = res.runs[res.runs["status"] == "error"]
    for _, row in errors.head(5).iterrows():
        print(f"  failed {row['run_id']} [{row['label']}]: {str(row['error']).splitlines()[0]}")
    if len(errors) > 5:
        print(f"  ... and {len(errors) - 5} more (runs.parquet: status, error)")
    if res.lost:
        print("  some runs did not finish (a worker was lost); run the same command to resume")
    print(f"\n  results: {res.out}")


def run(args: argparse.Namespace) -> int:
    """``mlmsim sweep``: run or resume a sweep, print a summary."""
    sweep = load_sweep(args.sweep)
    if args.dry_run:
        tasks = sweep.tasks()
        print(
            f"{sweep.name}: design {sweep.design}, {len(sweep.points)} points x "
            f"{sweep.replicates} replicates = {len(tasks)} runs"
        )
        for i, p in enumerate(sweep.points[:20]):
            print(f"  {i:>4}  {p.label}")
        if len(sweep.points) > 20:
            print(f"  ... {len(sweep.points) - 20} more")
        return 0
    out = args.out if args.out is not None else DEFAULT_ROOT / safepath.safe_name(sweep.name)
    steps = []
    if sweep.sensitivity is not None:
        from simulation import sensitivity  # noqa: PLC0415 - SALib, matplotlib: see expand()

        steps.append(sensitivity.step)
    res = run_sweep(
        sweep,
        out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        report=not args.no_report,
        retry_failed=args.retry_failed,
        steps=steps,
    )
    print_result(res)
    return 1 if res.lost else 0
