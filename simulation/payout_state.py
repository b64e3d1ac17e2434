"""The state a payout run carries to the next period, as a file (``--state-out``, ``--state-in``).

A company that pays period by period from separate exports needs what one period leaves for the
next: binary carry-over and placement trees, the matrix tree, who was already paid a flat fast
start, and when each distributor joined. :func:`save_state` writes it as one ``.npz`` file
(numpy arrays only, no pickled objects, so loading a file never runs code); :func:`load_state`
reads it back for :func:`simulation.payout.pay_genealogy`.

Contents: ``ids`` (text, the row order every array follows), ``joined_period`` (int32),
``meta`` (JSON: format version, plan name and source, last period paid, and the layout of each
component's state) and one array per field of each component state.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulation.errors import UserError

FORMAT = 1


@dataclass
class CarriedState:
    """What one payout run hands to the next.

    Attributes:
        ids: str[n] distributor ids, in row order.
        joined_period: int32[n] enrolment period of each row (-1 unknown).
        last_period: the last period paid.
        plan: the plan's name (a run with another plan is refused).
        components: component name -> its state object (as the engine keeps it).
    """

    ids: np.ndarray
    joined_period: np.ndarray
    last_period: int
    plan: str
    components: dict[str, Any]


def _flatten(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Describe ``obj`` as JSON, moving its arrays into ``arrays`` under ``key``."""
    if obj is None:
        return {"kind": "none"}
    if isinstance(obj, np.ndarray):
        arrays[key] = obj
        return {"kind": "array"}
    if isinstance(obj, bool | int | float | str | np.integer | np.floating):
        return {"kind": "value", "value": obj.item() if hasattr(obj, "item") else obj}
    if dataclasses.is_dataclass(obj) and type(obj).__module__.startswith("simulation.plans."):
        fields = {
            f.name: _flatten(getattr(obj, f.name), f"{key}.{f.name}", arrays)
            for f in dataclasses.fields(obj)
            if not f.name.startswith("_")  # caches, rebuilt on demand
        }
        cls = type(obj)
        return {
            "kind": "dataclass",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "fields": fields,
        }
    raise TypeError(f"cannot save a component state of type {type(obj).__name__} ({key})")


def _build(desc: dict[str, Any], key: str, arrays: Any) -> Any:
    kind = desc["kind"]
    if kind == "none":
        return None
    if kind == "array":
        return np.array(arrays[key])
    if kind == "value":
        return desc["value"]
    module, name = desc["class"].split(":")
    if not module.startswith("simulation.plans."):
        raise ValueError(f"class {desc['class']} is not a plan component's state")
    cls = getattr(importlib.import_module(module), name)
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"class {desc['class']} is not a state dataclass")
    values = {k: _build(v, f"{key}.{k}", arrays) for k, v in desc["fields"].items()}
    return cls(**values)


def save_state(state: CarriedState, path: Path) -> None:
    """Write the carried state to ``path`` (an ``.npz`` file), atomically."""
    arrays: dict[str, np.ndarray] = {
        "ids": np.asarray(state.ids, dtype=str),
        "joined_period": np.asarray(state.joined_period, dtype=np.int32),
    }
    layout = {name: _flatten(obj, f"c.{name}", arrays) for name, obj in state.components.items()}
    meta = {
        "format": FORMAT,
        "plan": state.plan,
        "last_period": int(state.last_period),
        "components": layout,
    }
    arrays["meta"] = np.asarray(json.dumps(meta))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"--state-out {path}: cannot write: {err.strerror}") from None


def load_state(path: Path) -> CarriedState:
    """Read a state file written by :func:`save_state`.

    Raises:
        UserError: the file is missing, not a state file, or of another format version.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise UserError(
                    f"--state-in {path}: state format {meta.get('format')}, expected {FORMAT}"
                )
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise UserError(f"--state-in {path}: file not found") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise UserError(
            f"--state-in {path}: not a state file written by mlmsim payout --state-out ({err})"
        ) from None
    try:
        components = {
            name: _build(desc, f"c.{name}", arrays) for name, desc in meta["components"].items()
        }
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise UserError(f"--state-in {path}: damaged state file ({err})") from None
    return CarriedState(
        ids=arrays["ids"].astype(object),
        joined_period=arrays["joined_period"].astype(np.int32),
        last_period=int(meta["last_period"]),
        plan=str(meta["plan"]),
        components=components,
    )
