"""Reading files the user names: bounded, regular files only, clear messages, no leaks.

Scenario, plan and sweep files are TOML (:func:`read_toml`); edge lists and genealogies are
checked with :func:`check_input_file` before they are opened. The rules (docs/safety.md):

* only regular files are read: a folder, a device (``/dev/zero``), a named pipe or a socket
  is refused by name before it is opened, so nothing reads an endless stream;
* sizes are bounded (:data:`MAX_TOML_BYTES`; callers pass their own limit for data files);
* a UTF-8 byte-order mark (as Windows Notepad writes) is accepted;
* errors name the file and the position, and quote the file's content only when the file
  is the subject of the command (a file another file refers to, such as an edge list, is
  never quoted: ``edge_list = "/etc/passwd"`` must not print a line of it).
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from simulation.errors import ConfigError, UserError

# assumption: scenario, plan and sweep files are a few kilobytes; 4 MiB leaves ample room.
MAX_TOML_BYTES = 4 * 1024 * 1024


def check_input_file(path: Path | str, what: str, max_bytes: int | None = None) -> Path:
    """Refuse anything but an existing, readable regular file (of at most ``max_bytes``).

    Args:
        path: the file.
        what: how the message names it, e.g. ``"market.edge_list"`` or ``"genealogy"``.
        max_bytes: size limit, or None.

    Raises:
        UserError: missing, a folder, a device, pipe or socket, unreadable or too large.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise UserError(f"{what} {p}: no such file") from None
    except OSError as err:
        raise UserError(f"{what} {p}: cannot be read: {err.strerror}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise UserError(f"{what} {p}: is a folder, expected a file")
    if not stat.S_ISREG(mode):
        kind = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
        raise UserError(f"{what} {p}: is {kind}, expected a regular file")
    if not os.access(p, os.R_OK):
        raise UserError(f"{what} {p}: cannot be read: permission denied")
    if max_bytes is not None and st.st_size > max_bytes:
        raise UserError(
            f"{what} {p}: {st.st_size:,} bytes, more than the limit of {max_bytes:,} bytes"
        )
    return p


def read_text(path: Path | str, what: str, max_bytes: int) -> str:
    """A bounded UTF-8 text file (byte-order mark accepted)."""
    p = check_input_file(path, what, max_bytes)
    with open(p, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after the check
        raise UserError(f"{what} {p}: more than the limit of {max_bytes:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{p}: not UTF-8 text (byte {err.start} cannot be decoded); save it as UTF-8"
        ) from None


def read_toml(path: Path | str, what: str = "file") -> dict[str, Any]:
    """Parse a TOML file the user gave or named.

    Raises:
        ConfigError: not a regular file, too large, not UTF-8, not valid TOML (with the line
            and column, never the content), or nested too deeply to parse.
    """
    p = Path(path)
    try:
        text = read_text(p, what, MAX_TOML_BYTES)
    except ConfigError:
        raise
    except UserError as err:
        raise ConfigError(str(err)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(
            f"{p}: not valid here: tables or arrays nested too deeply to read"
        ) from None


def resolve_shipped(name: str | Path, folder: Path, what: str) -> Path:
    """A file path, or the name of a shipped file ``folder/<name>.toml``.

    Raises:
        ConfigError: ``"<what> '<name>' not found (a file path, or one of: ...)"``, listing
            the shipped names.
    """
    p = Path(name)
    for cand in (p, folder / p, folder / f"{p}.toml"):
        if cand.is_file():
            return cand
    shipped = ", ".join(sorted(s.stem for s in folder.glob("*.toml")))
    raise ConfigError(f"{what} '{name}' not found (a file path, or one of: {shipped})")


def dotted_keys(table: dict[str, Any]) -> dict[str, Any]:
    """``{"plan": {"qualification": {"min_pv": 1}}}`` or dotted keys -> dotted keys.

    Nested tables become ``a.b.c`` keys; any other value (lists included) is a leaf.
    """
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, dict):
            for kk, vv in dotted_keys(v).items():
                out[f"{k}.{kk}"] = vv
        else:
            out[k] = v
    return out
