"""Input checks shared by the metrics: 1-D arrays, whole months, fractions.

Each raises ``ValueError`` naming the argument, the offending value and where it is.
"""

from __future__ import annotations

import numpy as np

NAN = float("nan")


def vector(x: object, name: str, *, finite: bool = True) -> np.ndarray:
    """``x`` as a 1-D float64 array; ValueError naming ``name`` if not 1-D or not finite."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}.")
    if finite:
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{name} has {int(bad.sum())} non-finite value(s); first at index {i}: {a[i]}."
            )
    return a


def int_vector(x: object, name: str) -> np.ndarray:
    """``x`` as a 1-D int64 array; ValueError naming ``name`` if not 1-D or not integral."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}.")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float64)
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} must hold whole months; index {i} is {a[i]!r}.")
    return a.astype(np.int64)


def fraction(q: float, name: str) -> float:
    """``q`` as a float; ValueError naming ``name`` unless it lies in [0, 1]."""
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {q}.")
    return q
