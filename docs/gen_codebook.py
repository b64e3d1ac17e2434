"""Write docs/codebook.md (every column of every output table) from simulation/codebook.py.

Usage (from the repository root)::

    python docs/gen_codebook.py           # rewrite docs/codebook.md
    python docs/gen_codebook.py --check   # exit 1 if the committed page is out of date
    python docs/gen_codebook.py --page OTHER.md [--check]

The page is :func:`simulation.codebook.codebook_markdown`; ``tests/test_codebook.py`` fails
when the committed page differs from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from simulation.codebook import codebook_markdown  # noqa: E402
from simulation.docpages import page_command  # noqa: E402

if __name__ == "__main__":
    sys.exit(
        page_command(
            sys.argv[1:],
            description=__doc__.splitlines()[0],
            page=ROOT / "docs" / "codebook.md",
            render=codebook_markdown,
            script="gen_codebook.py",
        )
    )
