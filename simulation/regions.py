"""Regions (towns) of a market: how many persons live in each, and who lives where.

A market may be several towns with dense ties inside and few between
(:func:`simulation.network.regions`). Persons of a region are a contiguous block of rows,
region 0 first. Kept apart from :mod:`simulation.network` (no networkx) so that checking a
scenario file stays quick.
"""

from __future__ import annotations

import numpy as np

__all__ = ["region_of", "region_sizes"]


def region_sizes(n: int, shares: list[float] | None, count: int) -> np.ndarray:
    """int64[R] persons per region: ``shares`` of ``n`` (equal shares if ``None``).

    Rounded by largest remainders, so the sizes sum to ``n`` exactly and each differs from
    ``share * n`` by less than one person; ties go to the lower region number.
    """
    if n < 1 or count < 1:
        raise ValueError(f"need n >= 1 and count >= 1, got n = {n}, count = {count}.")
    weights = np.full(count, 1.0 / count) if shares is None else np.asarray(shares, float)
    exact = weights / weights.sum() * n
    sizes = np.floor(exact).astype(np.int64)
    short = n - int(sizes.sum())
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:short]] += 1
    return sizes


def region_of(sizes: np.ndarray) -> np.ndarray:
    """int16[N] region of each person: regions are contiguous blocks of rows, in order."""
    return np.repeat(np.arange(len(sizes), dtype=np.int16), sizes)
