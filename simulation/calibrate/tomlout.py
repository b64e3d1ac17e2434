"""Writing scenario data as TOML (the calibrated scenario file); reading it back is tomllib."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def value(v: Any) -> str:
    """One TOML value: string, bool, int, float, list or inline table.

    Raises:
        ValueError: a NaN or infinite float, or a type TOML has no value for.
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML value {v!r}: not a finite number")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {value(x)}" for k, x in v.items()) + " }"
    raise ValueError(f"TOML value {v!r}: unsupported type {type(v).__name__}")


def dumps(data: dict[str, dict[str, Any]], header: str = "") -> str:
    """``{section: {key: value}}`` as TOML: one ``[section]`` table per section, in order.

    ``None`` values are left out (TOML has no null: the key keeps its default). A dict value
    of a section whose name is in ``data[section]`` is written as an inline table.
    """
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for section, table in data.items():
        if lines:
            lines.append("")
        lines.append(f"[{_key(section)}]")
        for k, v in table.items():
            if v is None:
                continue
            lines.append(f"{_key(k)} = {value(v)}")
    return "\n".join(lines) + "\n"
