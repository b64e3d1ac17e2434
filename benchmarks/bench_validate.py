"""Wall time of ``mlmsim validate --quick`` and ``mlmsim validate``, as a user runs them.

Usage:
    python benchmarks/bench_validate.py            # --quick, then the whole table
    python benchmarks/bench_validate.py --quick    # --quick only

Each command runs in its own process, from the command line's point of view (imports
included), so the figure is what a user waits. Prints the wall times, the load average and
the core count; writes benchmarks/out/validate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "validate.json"


def timed(args: list[str]) -> dict:
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "validate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"mlmsim validate {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    summary = " ".join(proc.stdout.split("\n\n")[-1].split())
    return {"command": " ".join(["mlmsim validate", *args]), "wall_s": wall, "load": load,
            "summary": summary}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only mlmsim validate --quick")
    args = parser.parse_args()
    rows = [timed(["--quick"])]
    if not args.quick:
        rows.append(timed([]))
    for r in rows:
        print(f"{r['command']:<26} {r['wall_s']:6.1f} s  (load average {r['load']:.1f})")
    print(f"cores: {os.cpu_count()}  ({platform.platform()})")
    OUT.parent.mkdir(exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    OUT.write_text(json.dumps({"machine": meta, "runs": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
