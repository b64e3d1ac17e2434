"""``mlmsim validate``: rerun the validation table and print it."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time

from simulation.safepath import output_file, path_arg, write_output_file
from simulation.validation.table import to_markdown, to_text, validation_table


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mlmsim validate``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer seeds (about 30 s on 2 cores): the same checks, wider standard errors",
    )
    parser.add_argument(
        "--only",
        choices=("all", "exact", "calibration"),
        default="all",
        help="run only the exact checks or only the calibration (default: all)",
    )
    parser.add_argument(
        "--out",
        type=path_arg,
        default=None,
        help="also write the full table as markdown to FILE.md",
    )


def run(args: argparse.Namespace) -> int:
    """``mlmsim validate``: rerun the table, print it; exit 1 if an exact check fails.

    Calibration figures outside their published range do not fail the command: each is
    explained in ``docs/validation.md``.
    """
    out = None if args.out is None else output_file(args.out, "--out")  # checked before work
    t0 = time.perf_counter()
    rows = validation_table(quick=args.quick, only=args.only)
    seconds = time.perf_counter() - t0
    print(to_text(rows))
    exact = [r for r in rows if r.kind == "exact"]
    calib = [r for r in rows if r.kind == "calibration"]
    counts = []
    if exact:
        counts.append(f"{sum(r.passed for r in exact)}/{len(exact)} exact checks pass")
    if calib:
        counts.append(
            f"{sum(r.passed for r in calib)}/{len(calib)} calibration figures inside their "
            "published range"
        )
    print()
    print(textwrap.fill(f"{'; '.join(counts)} ({seconds:.0f} s{', quick' if args.quick else ''})."))
    outside = [r.name for r in calib if not r.passed]
    if outside:
        print(
            textwrap.fill(
                f"Outside their published range: {', '.join(outside)}. Each is explained in "
                "docs/validation.md, 'Figures outside their published range, explained'."
            )
        )
    if out is not None:
        text = to_markdown(rows)
        write_output_file(out, lambda p: p.write_text(text, encoding="utf-8"))
        print(f"markdown table: {out}")
    if not all(r.passed for r in exact):
        print("error: an exact check failed", file=sys.stderr)
        return 1
    return 0
