"""Write docs/codebook.md (every column of every output table) from simulation/codebook.py.

Usage (from the repository root)::

    python docs/gen_codebook.py           # rewrite docs/codebook.md
    python docs/gen_codebook.py --check   # exit 1 if the committed page is out of date
    python docs/gen_codebook.py --page OTHER.md [--check]

The page is :func:`simulation.codebook.codebook_markdown`; ``tests/test_codebook.py``
fails when the committed page differs from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "codebook.md"


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) the page; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page (docs/codebook.md)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from simulation.codebook import codebook_markdown  # noqa: PLC0415 (after sys.path)

    try:
        text = codebook_markdown()
    except ValueError as err:
        print(f"gen_codebook: {err}", file=sys.stderr)
        return 2
    page: Path = args.page
    if args.check:
        current = page.read_text(encoding="utf-8") if page.exists() else ""
        if current != text:
            print(f"{page} is out of date: run python docs/gen_codebook.py", file=sys.stderr)
            return 1
        return 0
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(page)  # never a half-written page
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
