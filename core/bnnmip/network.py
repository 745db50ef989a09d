"""The trained binarized network: weights, a numpy forward pass, prediction, save and load.

Layer ``l`` computes ``t = W a + b`` and ``a = step(t)`` with ``step(t) = 1 if t > 0 else 0``;
every layer, the output layer included, is binary. Two prediction rules:

- ``"preactivation"`` (default): the class with the largest output pre-activation ``t^L``;
- ``"binary"``: the paper's rule, the first class whose binary output fires (argmax of
  ``a^L``; ties and the all-zero output go to the lowest index).

The two agree whenever exactly one output fires, which is every training point the MILP
fits at zero loss. Elsewhere the binary rule discards how far each output is from firing and
sends every ambiguous point to class 0; the pre-activation rule keeps that information, so it
is the default. Both are reported by ``bnnmip train``.

The file format is JSON (``format: "bnnmip-network"``, ``version: 1``): no pickle, readable by
any language, floats round-tripped exactly. See ``docs/network-format.md``.
"""

from __future__ import annotations

import json
import os
import tempfile
from enum import Enum
from pathlib import Path

import attrs
import numpy as np

from ._validation import frozen_array, plain
from .errors import InvalidInputError, ModelFormatError
from .ir import Architecture, WeightDomain
from .network_schema import MAX_FILE_BYTES, check_network_dict, read_network_file

__all__ = ["BinarizedNetwork", "Forward", "InputScaling", "PredictionRule"]

FORMAT_NAME = "bnnmip-network"
FORMAT_VERSION = 1


class PredictionRule(Enum):
    """How the binary outputs become a class."""

    PREACTIVATION = "preactivation"
    """Argmax of the output pre-activations ``t^L`` (default)."""
    BINARY = "binary"
    """Argmax of the binary outputs ``a^L``, ties to the lowest index (the paper's rule)."""


@attrs.frozen(eq=False)
class InputScaling:
    """Min-max scaling ``(x - minimum) / span`` learnt on the training data.

    Features that are constant in training get ``span = 1``.
    """

    minimum: np.ndarray
    span: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> InputScaling:
        """Scaling that maps each column of ``X`` onto [0, 1]."""
        X = np.asarray(X, dtype=float)
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        return cls(
            frozen_array(lo, dtype=float, name="minimum", ndim=1),
            frozen_array(span, dtype=float, name="span", ndim=1),
        )

    @classmethod
    def identity(cls, n_features: int) -> InputScaling:
        """No scaling."""
        return cls(
            frozen_array(np.zeros(n_features), dtype=float, name="minimum", ndim=1),
            frozen_array(np.ones(n_features), dtype=float, name="span", ndim=1),
        )

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale raw inputs."""
        return (np.asarray(X, dtype=float) - self.minimum) / self.span


@attrs.frozen(eq=False)
class Forward:
    """Per-layer pre-activations ``t[l]`` and binary activations ``a[l]`` (l = 0..L-1)."""

    pre: tuple[np.ndarray, ...]
    act: tuple[np.ndarray, ...]


def _check_layers(weights, biases):
    if len(weights) == 0 or len(weights) != len(biases):
        raise InvalidInputError("a network needs one bias vector per weight matrix (>= 1 layer)")
    for l, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise InvalidInputError(
                f"layer {l}: weights {W.shape} and bias {b.shape} do not fit (need (d_l, d_l-1) "
                "and (d_l,))"
            )
        if l > 1 and W.shape[1] != weights[l - 2].shape[0]:
            raise InvalidInputError(
                f"layer {l} expects {W.shape[1]} inputs but layer {l - 1} has {weights[l - 2].shape[0]}"
            )


@attrs.frozen(eq=False)
class BinarizedNetwork:
    """A trained BDNN. ``weights[l]`` has shape ``(d_{l+1}, d_l)``; inputs are scaled first."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    weight_domain: WeightDomain = attrs.field(factory=WeightDomain.continuous)
    scaling: InputScaling | None = None
    classes: tuple = ()
    prediction_rule: PredictionRule = attrs.field(
        default=PredictionRule.PREACTIVATION, converter=PredictionRule
    )
    metadata: dict = attrs.field(factory=dict)
    feature_names: tuple[str, ...] | None = attrs.field(default=None, converter=lambda v: _names(v))
    """Names of the training data's columns, in input order (``None``: not known, or not
    usable as names: repeated or empty); checked against a CSV header by ``bnnmip predict``."""

    @classmethod
    def from_arrays(cls, weights, biases, **kwargs) -> BinarizedNetwork:
        """Validate and freeze lists of weight matrices and bias vectors."""
        W = tuple(frozen_array(w, dtype=float, name=f"W{l + 1}", ndim=2) for l, w in enumerate(weights))
        b = tuple(frozen_array(v, dtype=float, name=f"b{l + 1}", ndim=1) for l, v in enumerate(biases))
        _check_layers(W, b)
        net = cls(W, b, **kwargs)
        if net.classes and len(net.classes) != net.n_classes:
            raise InvalidInputError(
                f"{len(net.classes)} class labels given for {net.n_classes} output neurons"
            )
        if net.feature_names is not None and len(net.feature_names) != net.widths[0]:
            raise InvalidInputError(
                f"{len(net.feature_names)} feature names given for {net.widths[0]} inputs"
            )
        return net

    # -- shape -----------------------------------------------------------------------------
    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_inputs, d_1, ..., n_classes)``."""
        return (self.weights[0].shape[1], *(W.shape[0] for W in self.weights))

    @property
    def n_classes(self) -> int:
        """Number of output neurons (one per class)."""
        return self.weights[-1].shape[0]

    @property
    def architecture(self) -> Architecture:
        """The architecture this network instantiates."""
        w = self.widths
        has_bias = any(np.any(b != 0) for b in self.biases) or bool(self.metadata.get("bias", True))
        return Architecture(w[0], w[1:-1], w[-1], has_bias, self.weight_domain)

    # -- evaluation ------------------------------------------------------------------------
    def _scaled(self, X, scaled: bool) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.widths[0]:
            raise InvalidInputError(
                f"X must have shape (n_points, {self.widths[0]}), got {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise InvalidInputError("X contains NaN or infinite values")
        if scaled or self.scaling is None:
            return X
        return self.scaling.transform(X)

    def forward(self, X, *, scaled: bool = False) -> Forward:
        """Pre-activations and activations of every layer (``scaled=True``: X already scaled)."""
        a = self._scaled(X, scaled)
        pre, act = [], []
        for W, b in zip(self.weights, self.biases, strict=True):
            t = a @ W.T + b
            a = (t > 0).astype(float)
            pre.append(t)
            act.append(a)
        return Forward(tuple(pre), tuple(act))

    def predict_index(self, X, *, rule: PredictionRule | str | None = None, scaled: bool = False):
        """Class indices ``0..K-1`` under ``rule`` (default: the network's own rule)."""
        rule = self.prediction_rule if rule is None else PredictionRule(rule)
        fw = self.forward(X, scaled=scaled)
        out = fw.pre[-1] if rule is PredictionRule.PREACTIVATION else fw.act[-1]
        return np.argmax(out, axis=1)

    def predict(self, X, *, rule: PredictionRule | str | None = None, scaled: bool = False):
        """Class labels (the original labels when known, else indices)."""
        idx = self.predict_index(X, rule=rule, scaled=scaled)
        if self.classes:
            return np.asarray(self.classes, dtype=object)[idx].astype(
                np.asarray(self.classes).dtype
            )
        return idx

    def hamming_loss(self, X, y_index, *, weights=None, scaled: bool = False) -> float:
        """The training objective: distance between binary outputs and one-hot labels."""
        out = self.forward(X, scaled=scaled).act[-1]
        onehot = np.eye(self.n_classes)[np.asarray(y_index)]
        per_point = np.abs(out - onehot).sum(axis=1)
        return float(per_point @ (np.ones(len(per_point)) if weights is None else weights))

    def accuracy(self, X, y_index, *, weights=None, scaled: bool = False) -> float:
        """Share of (weighted) points whose predicted class index is ``y_index``."""
        hit = self.predict_index(X, scaled=scaled) == np.asarray(y_index)
        w = np.ones(len(hit)) if weights is None else np.asarray(weights, dtype=float)
        return float(w @ hit / w.sum())

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-ready description (see ``docs/network-format.md``).

        Version 2 (with ``feature_names``) when the network knows its feature names, else
        version 1, which older bnnmip releases read too.
        """
        data = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION if self.feature_names is None else 2,
            "widths": list(self.widths),
            "weight_domain": str(self.weight_domain),
            "prediction_rule": self.prediction_rule.value,
            "classes": [plain(c) for c in self.classes],
            "input_scaling": None
            if self.scaling is None
            else {"minimum": self.scaling.minimum.tolist(), "span": self.scaling.span.tolist()},
            "layers": [
                {"weights": W.tolist(), "bias": b.tolist()}
                for W, b in zip(self.weights, self.biases, strict=True)
            ],
            "metadata": self.metadata,
        }
        if self.feature_names is not None:
            data["feature_names"] = list(self.feature_names)
        return data

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "network file") -> BinarizedNetwork:
        """Inverse of :meth:`to_dict`, checked by :func:`bnnmip.network_schema.check_network_dict`."""
        check_network_dict(data, source=source)
        try:
            scaling = data.get("input_scaling")
            net = cls.from_arrays(
                [layer["weights"] for layer in data["layers"]],
                [layer["bias"] for layer in data["layers"]],
                weight_domain=WeightDomain.parse(data["weight_domain"]),
                scaling=None
                if scaling is None
                else InputScaling(
                    frozen_array(scaling["minimum"], dtype=float, name="minimum", ndim=1),
                    frozen_array(scaling["span"], dtype=float, name="span", ndim=1),
                ),
                classes=tuple(data.get("classes", ())),
                prediction_rule=data.get("prediction_rule", "preactivation"),
                metadata=dict(data.get("metadata", {})),
                feature_names=data.get("feature_names"),
            )
        except (KeyError, TypeError, InvalidInputError) as exc:
            raise ModelFormatError(f"malformed network file: {exc}") from None
        if list(net.widths) != list(data.get("widths", net.widths)):
            raise ModelFormatError("network file widths do not match its layers")
        return net

    def save(self, path) -> Path:
        """Write the network as JSON to ``path``, atomically.

        The file is written next to ``path`` under a temporary name, forced to disk and then
        renamed over ``path``: a crash or kill leaves either the old file or the complete new
        one, never a truncated network.
        """
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path, *, max_bytes: int | None = None) -> BinarizedNetwork:
        """Read a network written by :meth:`save`.

        Every problem with the file (missing, a directory, too large, not UTF-8 or JSON, not
        the format) raises :class:`ModelFormatError`; see :mod:`bnnmip.network_schema`.
        ``max_bytes`` overrides the size cap :data:`bnnmip.network_schema.MAX_FILE_BYTES`.
        """
        data = read_network_file(path, max_bytes=MAX_FILE_BYTES if max_bytes is None else max_bytes)
        return cls.from_dict(data, source=str(path))



def _names(value) -> tuple[str, ...] | None:
    """Feature names as a tuple of strings, or ``None`` when they cannot identify columns."""
    if value is None:
        return None
    names = tuple(str(n) for n in value)
    if len(set(names)) != len(names) or not all(n.strip() for n in names):
        return None  # repeated or blank names cannot tell columns apart: checked by count only
    return names
