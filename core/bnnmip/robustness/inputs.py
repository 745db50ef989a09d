"""Checks and conversions of the inputs of noise accuracy and certification (labels, radii, scaling)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidInputError
from ..network import BinarizedNetwork


def _label_key(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and v.is_integer():
            return str(int(v))
        return repr(v)
    return str(value)


def _label_indices(network: BinarizedNetwork, y, m: int) -> np.ndarray:
    """Class indices of labels ``y``: original labels if the network knows them, else indices."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != m:
        raise InvalidInputError(f"y must be one label per point ({m}), got shape {y.shape}")
    if network.classes:
        lookup = {_label_key(c): k for k, c in enumerate(network.classes)}
        idx = np.array([lookup.get(_label_key(v), -1) for v in y.tolist()], dtype=np.int64)
        if m and np.all(idx < 0):
            raise InvalidInputError(
                f"none of the labels is one of the network's classes {list(network.classes)}; "
                "give the original labels (as network.predict returns them)"
            )
        return idx
    try:
        values = y.astype(float)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "the network has no class labels, so y must be class indices 0..K-1"
        ) from None
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)) or (
        m and (values.min() < 0 or values.max() >= network.n_classes)
    ):
        raise InvalidInputError(
            f"the network has no class labels, so y must be class indices 0..{network.n_classes - 1}"
        )
    return values.astype(np.int64)


def _check_radius(radius) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise InvalidInputError(f"a radius must be a number, got {radius!r}") from None
    if not math.isfinite(r) or r < 0:
        raise InvalidInputError(f"a radius must be finite and >= 0, got {radius!r}")
    return r


def _check_radii(radii) -> list[float]:
    if np.ndim(radii) == 0:
        radii = [radii]
    out = [_check_radius(r) for r in radii]
    if not out:
        raise InvalidInputError("give at least one radius")
    return out


def _prepare(network: BinarizedNetwork, X, y, scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    Xs = network._scaled(X, scaled)
    if Xs.shape[0] == 0:
        raise InvalidInputError("no points to evaluate")
    return Xs, _label_indices(network, y, Xs.shape[0])
