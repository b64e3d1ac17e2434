"""Pages of ``docs/`` generated from the code, with a ``--check`` mode for the tests.

``docs/gen_parameters.py`` and ``docs/gen_codebook.py`` are thin scripts around
:func:`page_command`: each names its page and the function that renders it, so the two
pages are written (atomically) and checked the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def page_command(
    argv: list[str], *, description: str, page: Path, render: Callable[[], str], script: str
) -> int:
    """Write ``page`` from ``render()``, or with ``--check`` compare; returns the exit status.

    Args:
        argv: the command line (``--check``, ``--page OTHER.md``).
        description: the script's one-line description (for ``--help``).
        page: the committed page (``docs/parameters.md``).
        render: returns the page's text; a ``ValueError`` is reported with exit status 2.
        script: the script's name, for messages (``gen_parameters.py``).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--page", type=Path, default=page, help=f"the page ({page.name})")
    args = parser.parse_args(argv)
    try:
        text = render()
    except ValueError as err:
        print(f"{Path(script).stem}: {err}", file=sys.stderr)
        return 2
    target: Path = args.page
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run python docs/{script}", file=sys.stderr)
            return 1
        return 0
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)  # never a half-written page
    print(f"wrote {target}")
    return 0
