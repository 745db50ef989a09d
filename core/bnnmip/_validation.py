"""Private array checks shared by the IR classes, and plain Python values from numpy scalars."""

from __future__ import annotations

import numpy as np

from .errors import InvalidInputError


def frozen_array(value, *, dtype, name: str, ndim: int) -> np.ndarray:
    """Return a read-only copy of ``value`` as ``dtype`` with ``ndim`` dimensions."""
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be numeric ({exc}); convert or drop non-numeric columns first"
        ) from None
    if arr.ndim != ndim:
        raise InvalidInputError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise InvalidInputError(
            f"{name} contains {bad} NaN or infinite value(s); impute or drop them before training"
        )
    arr.flags.writeable = False
    return arr


def array_eq(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equality for optional numpy fields of attrs classes."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))


def plain(value):
    """A numpy scalar as the plain Python value (anything else unchanged)."""
    return value.item() if isinstance(value, np.generic) else value
