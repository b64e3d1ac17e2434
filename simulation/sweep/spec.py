"""The sweep file: its format, validation, the parameters and the design of points."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation import market_tables, outcomes
from simulation.config import (
    SCENARIO_DIR,
    Market,
    Scenario,
    apply_values,
    check_edge_list,
    check_live,
    check_memory,
    load_scenario,
    path_in_file,
    resolve_scenario_path,
    scenario_from_dict,
    unknown_key_message,
)
from simulation.errors import ConfigError, format_validation_error
from simulation.parameters import market_sections
from simulation.plans import plan_from_dict
from simulation.plans.engine import read_plan_file, resolve_plan_path, with_changes
from simulation.userfile import read_toml, resolve_shipped

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


@dataclass(frozen=True)
class MarketBase:
    """The market a sweep over several companies runs: its scenario, read with the sweep file.

    Each task builds its market from ``data`` and its own values, as ``mlmsim run`` reads a
    market scenario with ``--set``; it travels with every task to worker processes and Dask
    workers (plain data, picklable). Built by :func:`market_base`; a later stage of loading
    adds its part as a copy (:func:`dataclasses.replace`), never by changing this one.

    Attributes:
        path: the market scenario file, resolved.
        data: the scenario file's data (``[[companies]]``, shared sections, ``[switching]``...),
            with ``[base]`` (a sweep) or ``--set`` (``mlmsim stress``) applied by
            :func:`load_market_base`.
        companies: the companies' names, in the file's order.
        holdings: the names of the holdings companies belong to, sorted.
        plan_keys: the varied keys ``companies.<name>.plan`` whose values are plan files,
            resolved through the sweep's ``plans``.
        stressed: for ``mlmsim stress``, ``{"company": name, "plans": [path, ...]}``: the
            company whose plans are stressed and those plans (keys of the sweep's ``plans``);
            None for a sweep file.
    """

    path: str
    data: dict[str, Any]
    companies: list[str]
    holdings: list[str]
    plan_keys: list[str] = field(default_factory=list)
    stressed: dict[str, Any] | None = None


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
        market: for a sweep over a market (a base scenario with ``[[companies]]``): its
            scenario file and data, companies and plan axes (:class:`MarketBase`); each task
            builds its market from them. None for one company.
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
    market: MarketBase | None = None

    def seed(self, point: int, replicate: int) -> int:
        """The seed of replicate ``replicate`` of point ``point`` (63-bit, from the master)."""
        return replicate_seed(self.master_seed, point, replicate, self.seeding)

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
        plan_keys = self.plan_keys()
        for row in self.design_rows():
            if row["run_id"] in seen:
                continue  # e.g. a Morris trajectory revisiting a point: same run, same result
            seen.add(row["run_id"])
            task = {
                "run_id": row["run_id"],
                "point": row["point"],
                "replicate": row["replicate"],
                "seed": row["seed"],
                "label": row["label"],
                "values": row["values"],
                "shocks": row["shocks"],
                "scenario": self.base,
            }
            if self.market is None:
                task["plan"] = self.plans[str(row["values"].get("plan.file", base_plan))]
            else:
                # A market run reads its scenario data (task["market"]) with these values;
                # plan values as resolved when the sweep file was read.
                task["plan"] = None
                task["market"] = self.market
                task["market_values"] = {
                    k: self.plans[str(v)]["path"] if k in plan_keys else v
                    for k, v in row["values"].items()
                }
            tasks.append(task)
        return tasks

    def plan_keys(self) -> set[str]:
        """The keys whose values are plan files, resolved through ``plans``.

        ``plan.file``, and over a market the varied ``companies.<name>.plan``.
        """
        return {"plan.file", *(self.market.plan_keys if self.market is not None else ())}

    def param_keys(self) -> list[str]:
        """Every varied key, in order of first appearance in the design."""
        keys: dict[str, None] = dict.fromkeys(self.params)
        for p in self.points:
            keys.update(dict.fromkeys(p.values))
        return list(keys)

    def fingerprint(self) -> str:
        """A hash of everything that determines the runs' results."""
        what = {
            "base": self.base,
            "plans": {k: v["data"] for k, v in sorted(self.plans.items())},
            "runs": sorted(t["run_id"] for t in self.tasks()),
        }
        if self.market is not None:
            what["market"] = self.market.data
        blob = _canonical(what)
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
            **({"market": self.market_spec()} if self.market is not None else {}),
        }

    def market_spec(self) -> dict[str, Any]:
        """A market sweep's companies and scenario file (``sweep.json``, the report)."""
        assert self.market is not None
        return {
            "scenario_file": self.market.path,
            "companies": self.market.companies,
            "holdings": self.market.holdings,
        }


def replicate_seed(master_seed: int, point: int, replicate: int, seeding: str = "common") -> int:
    """The seed of replicate ``replicate`` of point ``point``: 63 bits derived from the master.

    ``SeedSequence(master_seed, spawn_key=(0, replicate))`` with ``seeding = "common"`` (the
    same seeds at every point), ``spawn_key=(1, point, replicate)`` with ``"independent"``.
    Sweeps and ``mlmsim run --seeds N`` (docs/sweeps.md, docs/report.md) use this one rule.
    """
    key = (_COMMON, replicate) if seeding == "common" else (_INDEPENDENT, point, replicate)
    state = np.random.SeedSequence(master_seed, spawn_key=key).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


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
    return resolve_shipped(name, SWEEP_DIR, "sweep file")


def _flatten(table: dict[str, Any], src: str, where: str) -> dict[str, Any]:
    """``{section: {key: v}}`` or ``{"section.key": v}`` -> ``{"section.key": v}``."""
    flat: dict[str, Any] = {}
    for k, v in table.items():
        if "." in k:
            flat[k] = v
        elif isinstance(v, dict):
            for kk, vv in v.items():
                if k == "plan" and kk not in ("file", "set") and isinstance(vv, dict):
                    # plan.<table>.<key>: a value of the plan file (see is_plan_value).
                    for kkk, vvv in vv.items():
                        flat[f"plan.{kk}.{kkk}"] = vvv
                else:
                    flat[f"{k}.{kk}"] = vv
        else:
            raise ConfigError(
                f"{src}: {where}.{k} = {v!r}: expected section.key = value "
                "(e.g. recruit.join_prob = 0.3)"
            )
    return flat


def is_plan_value(key: str) -> bool:
    """True for ``plan.<table>.<key>``: a value of the plan file, not a scenario field.

    Such a key sets the scenario's ``plan.set`` (see :func:`simulation.plans.engine.with_changes`);
    its values are checked against every plan of the sweep when the sweep file is read.
    """
    return key.startswith("plan.") and key.count(".") == 2 and not key.startswith("plan.set.")


def _field_of(key: str, src: str, where: str) -> Any:
    """The pydantic field of ``section.key`` in :class:`Scenario`; a clear error otherwise.

    A mistyped key gets the same message as a mistyped ``--set`` (the closest valid keys).
    A plan value (:func:`is_plan_value`) has no scenario field: None.
    """
    if is_plan_value(key):
        return None
    section, _, name = key.partition(".")
    model = Scenario.model_fields[section].annotation if section in Scenario.model_fields else None
    if model is None or name not in model.model_fields:
        raise ConfigError(unknown_key_message(key, f"{src}: {where}.{key}"))
    return model.model_fields[name]


def _market_field(key: str, names: list[str], src: str, where: str) -> Any:
    """The pydantic field of a market sweep's key (None for a plan value); errors name it.

    ``companies.<name>.<key>`` (a ``[[companies]]`` key, or a scenario key of the company's
    own changes), ``switching.*`` / ``choice.*`` / ``expansion.*``, or a shared scenario key.
    """
    # mesa (through simulation.market): only sweeps over a market need it.
    from simulation import market  # noqa: PLC0415

    section, _, name = key.partition(".")
    if section == "companies":
        company, field = market.company_key(key, names, f"{src}: {where}")
        if field in market.COMPANY_FIELDS:
            return market.CompanySpec.model_fields[field]
        return _field_of(field, src, f"{where}.companies.{company}")
    tables = market_sections()
    if section in tables:
        fields = tables[section].model_fields
        if name not in fields:
            raise ConfigError(
                f"{src}: {where}.{key}: unknown key; [{section}] has {', '.join(fields)}"
            )
        return fields[name]
    return _field_of(key, src, where)


def _parse_param(key: str, spec: Any, src: str, market: MarketBase | None = None) -> Param:
    where = f"parameters.{key}"
    if market is None:
        f = _field_of(key, src, "parameters")
    else:
        f = _market_field(key, market.companies, src, "parameters")
    if key == "scenario.seed":
        raise ConfigError(
            f"{src}: {where}: seeds are not a parameter; set [sweep] replicates and master_seed"
        )
    annotation = None if f is None else f.annotation
    # Optional numbers of a [[companies]] table (founders, launch_region) are numbers too.
    annotation = {int | None: int, float | None: float}.get(annotation, annotation)
    integer = annotation is int
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
        if key == "plan.file" or (f is not None and annotation not in (int, float)):
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


def read_plan(value: str, base_dir: Path, src: str, key: str = "plan.file") -> dict[str, Any]:
    """Resolve a plan value (relative to ``base_dir``, or a shipped name) and parse its TOML.

    Only reading is checked here; the plan is validated by each run, so a plan that does not
    validate fails its runs (recorded with the error) and the sweep goes on.
    """
    try:
        path = resolve_plan_path(value, base=base_dir)
    except ConfigError as err:
        raise ConfigError(f"{src}: {key} = {value!r}: {err}") from None
    try:
        data = read_plan_file(path)
    except ConfigError as err:
        raise ConfigError(f"{src}: {key} = {value!r}: {err}") from None
    return {"path": str(path.resolve()), "data": data}


def _scenario_path(scenario: str, base_dir: Path) -> Path:
    """A sweep's scenario: a file relative to the sweep file (``base_dir``), or shipped."""
    cand = base_dir / scenario
    return cand if cand.is_file() else resolve_scenario_path(scenario)


def _with_edge_list_resolved(base: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """``[base]`` values with a relative ``market.edge_list`` made relative to ``base_dir``."""
    values = dict(base)
    if "market.edge_list" in values:
        values["market.edge_list"] = path_in_file(values["market.edge_list"], base_dir)
    return values


def load_base(
    scenario: str, base: dict[str, Any], base_dir: Path, src: str
) -> tuple[dict[str, Any], Path]:
    """The base scenario (relative to ``base_dir`` or shipped) with ``base`` values applied."""
    try:
        scen, path = load_scenario(_scenario_path(scenario, base_dir))
    except ConfigError as err:
        raise ConfigError(f"{src}: sweep.scenario = {scenario!r}: {err}") from None
    for key in base:
        _field_of(key, src, "base")
    values = _with_edge_list_resolved(base, base_dir)
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
    plans: dict[str, dict[str, Any]] = {}
    market = market_base(meta.scenario, base_dir, src)
    if market is not None:
        market, base = load_market_base(market, base_vals, base_dir, src, plans)
    else:
        plan_value = base_vals.pop("plan.file", None)
        base, _ = load_base(meta.scenario, base_vals, base_dir, src)
        if plan_value is not None:
            plans[str(plan_value)] = read_plan(str(plan_value), base_dir, src)
            base["plan"]["file"] = plans[str(plan_value)]["path"]
        plans.setdefault(base["plan"]["file"], read_plan(base["plan"]["file"], base_dir, src))
    params = {
        k: _parse_param(k, v, src, market)
        for k, v in _flatten(spec.parameters, src, "parameters").items()
    }
    if market is not None:
        plan_keys = [k for k in params if _is_company_plan(k, market)]
        market = replace(market, plan_keys=plan_keys)
    for key in ["plan.file", *(market.plan_keys if market is not None else [])]:
        if key in params:
            for v in params[key].values or []:
                plans[str(v)] = read_plan(str(v), base_dir, src, key)
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
        market=market,
    )
    _check_design(sweep, src)
    _check_values(sweep, src)
    sweep.points = expand(sweep)
    return sweep


def market_base(scenario: str, base_dir: Path, src: str) -> MarketBase | None:
    """The base scenario when it is a market (``[[companies]]``), else None.

    ``data`` as read (:func:`load_market_base` applies ``[base]``), no plan axes yet. A
    missing file is left to :func:`load_base`, which names it.
    """
    try:
        path = _scenario_path(scenario, base_dir)
        data = read_toml(path, "scenario")
    except ConfigError:
        return None
    if "companies" not in data:
        return None
    raw = data["companies"]
    # Not a list of tables: market_from_dict names the error when [base] is applied.
    tables = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
    return MarketBase(
        path=str(path.resolve()),
        data=data,
        companies=[str(c.get("name")) for c in tables],
        holdings=sorted({str(c["holding"]) for c in tables if c.get("holding")}),
    )


def _is_company_plan(key: str, market: MarketBase) -> bool:
    """True for ``companies.<name>.plan`` (or ``.plan.file``): a plan file, read at loading."""
    from simulation.market import company_key  # noqa: PLC0415  (see _market_field)

    if not key.startswith("companies."):
        return False
    return company_key(key, market.companies, "")[1] == "plan"


def _check_market(
    market: MarketBase, values: dict[str, Any], where: str
) -> tuple[dict[str, Any], Any]:
    """``market``'s data with ``values``, and its MarketSpec; errors name ``where``."""
    from simulation.market import apply_market_values, market_from_dict  # noqa: PLC0415

    try:
        data = apply_market_values(market.data, values, where)
        return data, market_from_dict(data, Path(market.path))
    except ConfigError as err:
        msg = str(err)
        raise ConfigError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def load_market_base(
    market: MarketBase,
    base_vals: dict[str, Any],
    base_dir: Path,
    src: str,
    plans: dict[str, dict[str, Any]],
) -> tuple[MarketBase, dict[str, Any]]:
    """Apply ``[base]`` to a market's data, check it, read every plan.

    Plan files of ``[base]`` (``plan.file``, ``companies.<name>.plan``) are relative to the
    sweep file, like a sweep's; every company's plan is read into ``plans`` so the sweep's
    fingerprint covers them. Returns the market with ``[base]`` in its data, and the shared
    scenario as plain data (the report's base).
    """
    for key in base_vals:
        _market_field(key, market.companies, src, "base")
    values = _with_edge_list_resolved(base_vals, base_dir)
    for key, v in base_vals.items():
        if key == "plan.file" or _is_company_plan(key, market):
            plans[str(v)] = read_plan(str(v), base_dir, src, f"base.{key}")
            values[key] = plans[str(v)]["path"]
    where = f"{src} [base]"
    data, spec = _check_market(market, values, where)
    check_edge_list(spec.base, where)
    check_memory(spec.base, where)
    for scen in spec.scenarios:
        plans.setdefault(scen.plan.file, read_plan(scen.plan.file, base_dir, src))
    return replace(market, data=data), spec.base.to_dict()


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
    plan_keys = sweep.plan_keys()

    def check(key: str, value: Any, where: str) -> None:
        if sweep.market is not None:
            # The whole market with this value: company keys, plans, launch months and
            # shared keys are checked as `mlmsim run` would check them.
            if key in plan_keys:
                value_in = sweep.plans[str(value)]["path"]
            else:
                value_in = value
            try:
                _check_market(sweep.market, {key: value_in}, src)
            except ConfigError as err:
                detail = str(err).removeprefix(f"{src}: ")
                raise ConfigError(f"{src}: {where} = {value!r}: {detail}") from None
            return
        if key == "plan.file":
            return
        if is_plan_value(key):
            # Valid in every plan the sweep can run (a plan without the table is an error).
            for info in sweep.plans.values():
                change = {key.partition(".")[2]: value}
                try:
                    plan_from_dict(with_changes(info["data"], change, info["path"]), info["path"])
                except ConfigError as err:
                    raise ConfigError(f"{src}: {where} = {value!r}: {err}") from None
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
        known = list(OUTCOMES) if sweep.market is None else market_outcome_names(sweep.market)
        unknown = [o for o in sweep.sensitivity.outcomes if o not in known]
        if unknown:
            raise ConfigError(
                f"{src}: sensitivity.outcomes: unknown outcome {unknown[0]!r} (known: "
                f"{', '.join(known)})"
            )


def market_outcome_names(market: MarketBase) -> list[str]:
    """The outcome columns of a market sweep's runs (``<outcome>__<company>``, ...)."""
    sep = market_tables.OUTCOME_SEPARATOR
    names = [
        f"{o}{sep}{c}"
        for c in [*market.companies, *market.holdings]
        for o in market_tables.COMPANY_MARKET_OUTCOMES
    ]
    names += [f"{o}{sep}{c}" for c in market.companies for o in market_tables.COMPANY_RUN_OUTCOMES]
    return names + list(market_tables.MARKET_OUTCOMES)


def _label(values: dict[str, Any]) -> str:
    parts = []
    for k, v in values.items():
        short = k.partition(".")[2]
        if k == "plan.file":
            short, v = "plan", Path(str(v)).stem
        elif k.startswith("companies.") and k.endswith((".plan", ".plan.file")):
            short, v = short.removesuffix(".file"), Path(str(v)).stem
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
