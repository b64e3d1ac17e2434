"""Write docs/parameters.md from the scenario classes and the provenance table.

Usage (from the repository root)::

    python docs/gen_parameters.py           # rewrite docs/parameters.md
    python docs/gen_parameters.py --check   # exit 1 if the committed page is out of date
    python docs/gen_parameters.py --page OTHER.md [--check]

The page is :func:`simulation.parameters.parameters_markdown`; ``tests/test_provenance.py``
fails when the committed page differs from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from simulation.docpages import page_command  # noqa: E402
from simulation.parameters import parameters_markdown  # noqa: E402

if __name__ == "__main__":
    sys.exit(
        page_command(
            sys.argv[1:],
            description=__doc__.splitlines()[0],
            page=ROOT / "docs" / "parameters.md",
            render=parameters_markdown,
            script="gen_parameters.py",
        )
    )
