"""Time each network generator at market size and report its peak memory.

Each case runs in a fresh child process so that its peak RSS is its own (``ru_maxrss`` never
goes down within a process). Prints seconds per build (best and worst of ``--repeats``), the
RSS after imports, the peak RSS after the first build, the size of the resulting CSR arrays,
the time of ``random_neighbour`` for N draws, and ``os.cpu_count()``.

    .venv/bin/python benchmarks/bench_network.py                # N = 1,000,000, seed 0
    .venv/bin/python benchmarks/bench_network.py --n 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from simulation import network

MEAN_DEGREE = 10  # every case aims at mean degree 10, the market default

CASES = {
    "small_world(k=10, p=0.1)": lambda n, rng: network.small_world(n, 10, 0.1, rng),
    "scale_free(m=5) [BA]": lambda n, rng: network.scale_free(n, 5, rng),
    "scale_free(m=5, exponent=2.5) [Chung-Lu]": lambda n, rng: network.scale_free(
        n, 5, rng, exponent=2.5
    ),
    "random_graph(mean_degree=10)": lambda n, rng: network.random_graph(n, MEAN_DEGREE, rng),
    "from_edges(N*5 uniform pairs)": lambda n, rng: network.from_edges(
        n, *rng.integers(0, n, size=(2, n * MEAN_DEGREE // 2), dtype=np.int32)
    ),
}


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(name: str, n: int, seed: int, repeats: int) -> dict:
    """Build case ``name`` ``repeats`` times (fresh seeded generator each) in this process.

    Peak RSS is read after the first build, before any other large allocation; later builds
    only add timings (each replaces the previous graph).
    """
    base = rss_mb()
    seconds = []
    g = None
    for _ in range(repeats):
        g = None  # free the previous graph before building the next
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        g = CASES[name](n, rng)
        seconds.append(time.perf_counter() - start)
        if len(seconds) == 1:
            peak = rss_mb()
    degree = g.degree
    who = np.random.default_rng(seed).integers(0, n, size=n)
    start = time.perf_counter()
    g.random_neighbour(who, np.random.default_rng(seed))
    pick_seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rss_base_mb": base,
        "rss_peak_mb": peak,
        "result_mb": (g.indptr.nbytes + g.indices.nbytes) / 2**20,
        "mean_degree": float(degree.mean()),
        "max_degree": int(degree.max()),
        "random_neighbour_seconds": pick_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="persons (default 1e6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # child mode: run one case, print JSON
    args = parser.parse_args()

    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.seed, args.repeats)))
        return

    print(
        f"N = {args.n:,}, seed {args.seed}, repeats {args.repeats}, "
        f"os.cpu_count() = {os.cpu_count()}, numpy {np.__version__}, "
        f"Python {platform.python_version()}"
    )
    header = (
        f"{'case':42s} {'best s':>7s} {'worst s':>7s} {'base MB':>8s} {'peak MB':>8s} "
        f"{'graph MB':>8s} "
        f"{'mean deg':>8s} {'max deg':>8s} {'pick 1M s':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name in CASES:
        child = [sys.executable, __file__, "--case", name, "--n", str(args.n)]
        child += ["--seed", str(args.seed), "--repeats", str(args.repeats)]
        result = json.loads(subprocess.run(child, check=True, capture_output=True).stdout)
        print(
            f"{name:42s} {min(result['seconds']):7.2f} {max(result['seconds']):7.2f} "
            f"{result['rss_base_mb']:8.0f} {result['rss_peak_mb']:8.0f} {result['result_mb']:8.0f} "
            f"{result['mean_degree']:8.3f} {result['max_degree']:8d} "
            f"{result['random_neighbour_seconds']:9.3f}"
        )


if __name__ == "__main__":
    main()
