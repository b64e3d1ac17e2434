"""User-facing errors: each names the file, the key path or row, the value and what was expected.

The CLI catches :class:`UserError` and prints its message (exit code 2, no traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError


class Terminated(KeyboardInterrupt):
    """SIGTERM received: handled like Ctrl+C (workers stopped, finished results kept)."""


# Set by the SIGTERM handler before it raises. A signal handler's exception is lost when it
# lands while a finalizer (``__del__``, a weakref callback) runs; loops that wait on workers
# check this flag after each wait, so the request is never lost with it.
_terminate_requested = False


def request_termination() -> None:
    """Record that the process was asked to end and raise :class:`Terminated`."""
    global _terminate_requested
    _terminate_requested = True
    raise Terminated


def check_terminated() -> None:
    """Raise :class:`Terminated` if termination was requested and not yet acted on."""
    if _terminate_requested:
        raise Terminated


def clear_termination() -> None:
    """Forget a handled request (the command has returned its status)."""
    global _terminate_requested
    _terminate_requested = False


class UserError(Exception):
    """An error in the user's input (file, option or value); exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """A scenario or plan file that does not validate."""


class DataError(UserError):
    """A data file (genealogy CSV, edge list) with bad rows."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_validation_error(
    err: ValidationError,
    source: str,
    prefix: str = "",
    sources: dict[str, str] | None = None,
    hint: Callable[[str], str] | None = None,
) -> str:
    """Turn a pydantic error into lines ``source: key.path = value: what is allowed``.

    Args:
        err: the pydantic error.
        source: what the values came from (a file name).
        prefix: a key path prepended to each error's location.
        sources: key paths set elsewhere (``{"market.population": "--set '...'"}``): an error
            at such a key names that instead of ``source``, and an error of the whole object
            names both.
        hint: for an unknown key, returns what to suggest (the closest valid keys).
    """
    sources = sources or {}
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in (prefix.split(".") if prefix else []) + list(e["loc"]))
        if path in sources:
            source_of = sources[path]
        elif not e["loc"] and sources:
            source_of = f"{source} with {', '.join(sources.values())}"
        else:
            source_of = source
        kind = e["type"]
        if kind == "extra_forbidden":
            extra = f"; {hint(path)}" if hint else ""
            lines.append(f"{source_of}: unknown key '{path}' (value {_short(e['input'])}){extra}")
            continue
        if kind == "missing":
            lines.append(f"{source_of}: missing required key '{path}'")
            continue
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if not path:  # a check of the whole object: its message names the keys
            lines.append(f"{source_of}: {msg}")
            continue
        lines.append(f"{source_of}: {path} = {_short(e['input'])}: {msg}")
    return "\n".join(lines)
