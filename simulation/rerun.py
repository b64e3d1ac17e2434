"""Repeat a run from its folder: ``mlmsim run --from RUN_DIR``.

A run's ``manifest.json`` holds everything that decides its numbers: the scenario as resolved
(after the scenario file and every ``--set``), the plan's own data, the seed and the months.
Repeating from it, not from the scenario file, gives the same tables byte for byte even when
the scenario or plan file has changed since, as long as the code is the same version (the
manifest records it; a difference is printed as a note). ``--seed``, ``--months`` and
``--set`` given with ``--from`` change the repeated run and are added to its overrides.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from simulation import results
from simulation.config import Scenario, apply_overrides, override_sources, scenario_from_dict
from simulation.errors import ConfigError, UserError
from simulation.plans.engine import load_plan, plan_from_dict, resolve_plan_path

MANIFEST = "manifest.json"


def manifest_path(source: Path) -> Path:
    """The ``manifest.json`` of a run folder (or the file itself); a clear error if missing."""
    path = source / MANIFEST if source.is_dir() else source
    if not path.is_file():
        raise UserError(
            f"--from {source}: no {MANIFEST} there; give a folder written by `mlmsim run` "
            "(a folder without it is an unfinished run)"
        )
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest as data, checked for the keys a repeat needs."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a run manifest (not valid JSON: {err})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: not a run manifest (expected a JSON object)")
    wanted = {"scenario": dict, "plan": dict, "seed": int}
    missing = [k for k, kind in wanted.items() if not isinstance(manifest.get(k), kind)]
    if missing:
        raise UserError(f"{path}: not a run manifest (no {', '.join(missing)})")
    return manifest


def prepare(
    source: Path, sets: list[str]
) -> tuple[Scenario, Path | None, dict[str, Any], list[str], dict[str, Any]]:
    """The scenario, model arguments and provenance that repeat the run in ``source``.

    Args:
        source: a run folder or its ``manifest.json``.
        sets: ``section.key=value`` changes to the repeated run (``--set``, ``--seed``,
            ``--months``); empty for an exact repeat.

    Returns:
        ``(scenario, scenario_file, model_kwargs, overrides, provenance)``: ``model_kwargs``
        carries the manifest's plan (unless ``plan.file`` is set anew), ``overrides`` is the
        original run's overrides followed by ``sets``, ``provenance`` goes into the new
        manifest (``repeated_from``).
    """
    path = manifest_path(source)
    manifest = read_manifest(path)
    data = json.loads(json.dumps(manifest["scenario"]))
    data.setdefault("scenario", {})["seed"] = int(manifest["seed"])
    if isinstance(manifest.get("months"), int):
        data["scenario"]["months"] = manifest["months"]
    data = apply_overrides(data, sets, str(path))
    set_keys = override_sources(sets)
    scenario = scenario_from_dict(data, str(path), sources=set_keys)
    if "plan.file" in set_keys:
        try:
            plan = load_plan(resolve_plan_path(scenario.plan.file))
        except ConfigError as err:
            raise ConfigError(f"{set_keys['plan.file']}: {err}") from None
    else:
        plan = plan_from_dict(manifest["plan"], source=str(manifest.get("plan_file") or path))
    edges = scenario.market.edge_list
    if scenario.market.network == "edge_list" and edges and not Path(edges).is_file():
        raise UserError(f"{path}: market.edge_list = {edges!r}: the network file is gone")
    _note_versions(manifest, path)
    scenario_file = manifest.get("scenario_file")
    overrides = [*manifest.get("overrides", []), *sets]
    provenance = {"repeated_from": str(path.parent)}
    scenario_path = Path(scenario_file) if scenario_file else None
    return scenario, scenario_path, {"plan": plan}, overrides, provenance


def _note_versions(manifest: dict[str, Any], path: Path) -> None:
    """Print a note when the run was made by another version of the code."""
    then = (manifest.get("versions") or {}).get("mlmsim"), manifest.get("git_commit")
    now = results.versions()["mlmsim"], results.git_commit()
    if then != now and any(then):
        print(
            f"note: {path} was written by mlmsim {then[0]} (commit {then[1]}); this is "
            f"{now[0]} (commit {now[1]}): the numbers may differ",
            file=sys.stderr,
        )
