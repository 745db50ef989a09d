"""The intermediate representation: what to train, on what, under which ties and robustness.

These are frozen, validated value objects. None of them mentions a MILP variable: the
formulation (:mod:`bnnmip.formulation`) is the only place that turns them into one.
"""

from __future__ import annotations

import re
from enum import Enum

import attrs
import numpy as np

from ._validation import array_eq, frozen_array
from .errors import InvalidInputError

__all__ = [
    "ActivationTies",
    "Architecture",
    "RobustnessSet",
    "TrainingSet",
    "WeightDomain",
    "WeightKind",
]


class WeightKind(Enum):
    """How weights may vary."""

    CONTINUOUS = "continuous"
    """Real weights in [-1, 1] (the box loses nothing: step is scale invariant)."""
    INTEGER = "integer"
    """Integer weights in {-P, ..., P}."""


@attrs.frozen
class WeightDomain:
    """The set each weight ranges over.

    Build one with :meth:`continuous`, :meth:`ternary`, :meth:`integer` or :meth:`parse`.
    """

    kind: WeightKind
    bound: int = attrs.field(default=1)

    @bound.validator
    def _check_bound(self, _attr, value):
        if not isinstance(value, int | np.integer) or value < 1:
            raise InvalidInputError(f"weight bound P must be an integer >= 1, got {value!r}")
        if self.kind is WeightKind.CONTINUOUS and value != 1:
            raise InvalidInputError("continuous weights always lie in [-1, 1]; use bound=1")

    @classmethod
    def continuous(cls) -> WeightDomain:
        """Real weights in [-1, 1]."""
        return cls(WeightKind.CONTINUOUS, 1)

    @classmethod
    def ternary(cls) -> WeightDomain:
        """Integer weights in {-1, 0, 1} (the paper's integer variant)."""
        return cls(WeightKind.INTEGER, 1)

    @classmethod
    def integer(cls, bound: int) -> WeightDomain:
        """Integer weights in {-bound, ..., bound}."""
        return cls(WeightKind.INTEGER, int(bound) if float(bound).is_integer() else bound)

    @classmethod
    def parse(cls, text: str | WeightDomain) -> WeightDomain:
        """Parse ``continuous``, ``ternary`` or ``integer:P`` (``integer`` alone means P = 1)."""
        if isinstance(text, WeightDomain):
            return text
        spec = str(text).strip().lower()
        if spec == "continuous":
            return cls.continuous()
        if spec in ("ternary", "integer"):
            return cls.ternary()
        match = re.fullmatch(r"integer:(\d+)", spec)
        if match:
            return cls.integer(int(match.group(1)))
        raise InvalidInputError(
            f"unknown weight domain {text!r}; use 'continuous', 'ternary' or 'integer:P' "
            "with P a positive integer"
        )

    @property
    def is_integer(self) -> bool:
        """Whether weights must be integers."""
        return self.kind is WeightKind.INTEGER

    def __str__(self) -> str:
        if self.kind is WeightKind.CONTINUOUS:
            return "continuous"
        return "ternary" if self.bound == 1 else f"integer:{self.bound}"


def _to_hidden(value) -> tuple[int, ...]:
    if isinstance(value, int | np.integer):
        value = (value,)
    try:
        widths = tuple(value)
    except TypeError:
        raise InvalidInputError(
            f"hidden widths must be a sequence of positive integers, got {value!r}"
        ) from None
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1:
            raise InvalidInputError(
                f"hidden widths must be positive integers, got {widths!r}; "
                "use e.g. (2,) for one hidden layer of 2 neurons or () for none"
            )
    return tuple(int(w) for w in widths)


def _positive_int(name: str, minimum: int):
    def check(_inst, _attr, value):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")

    return check


@attrs.frozen
class Architecture:
    """A binarized network's shape: ``n_inputs -> hidden... -> n_classes``, every layer binary.

    There is one output neuron per class, also for two classes.
    """

    n_inputs: int = attrs.field(validator=_positive_int("n_inputs", 1), converter=int)
    hidden: tuple[int, ...] = attrs.field(converter=_to_hidden)
    n_classes: int = attrs.field(validator=_positive_int("n_classes", 2), converter=int)
    bias: bool = attrs.field(default=True, converter=bool)
    weight_domain: WeightDomain = attrs.field(
        factory=WeightDomain.continuous, converter=WeightDomain.parse
    )

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths ``(d_0 = n_inputs, d_1, ..., d_L = n_classes)``."""
        return (self.n_inputs, *self.hidden, self.n_classes)

    @property
    def n_layers(self) -> int:
        """Number of weight layers ``L`` (hidden layers + the output layer)."""
        return len(self.hidden) + 1


@attrs.frozen
class TrainingSet:
    """Training points ``X`` (m x n), integer labels ``y`` in ``0..K-1`` and point weights.

    Build with :meth:`from_arrays`. ``X`` is used as given: scale it first (the estimator and
    CLI scale to [0, 1], which keeps big-M constants small).
    """

    X: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=array_eq))
    y: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=array_eq))
    n_classes: int
    weights: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=array_eq))

    def __attrs_post_init__(self):
        m = self.X.shape[0]
        if m == 0 or self.X.shape[1] == 0:
            raise InvalidInputError(
                f"training data is empty (shape {self.X.shape}); pass at least one point "
                "with at least one feature"
            )
        if self.y.shape != (m,):
            raise InvalidInputError(
                f"y has shape {self.y.shape} but X has {m} rows; pass one label per row"
            )
        if self.weights.shape != (m,):
            raise InvalidInputError(f"weights has shape {self.weights.shape}; expected ({m},)")
        if self.n_classes < 2:
            raise InvalidInputError(f"n_classes must be >= 2, got {self.n_classes}")
        if self.y.min() < 0 or self.y.max() >= self.n_classes:
            raise InvalidInputError(
                f"labels must be integers in 0..{self.n_classes - 1}, got range "
                f"{self.y.min()}..{self.y.max()}; encode classes as 0..K-1"
            )
        if np.any(self.weights <= 0):
            raise InvalidInputError("point weights must be positive; drop zero-weight points")

    @classmethod
    def from_arrays(cls, X, y, n_classes: int | None = None, weights=None) -> TrainingSet:
        """Validate and freeze ``X``, ``y`` (and optional positive ``weights``)."""
        X = frozen_array(X, dtype=float, name="X", ndim=2)
        y_raw = np.asarray(y)
        if y_raw.dtype.kind == "f":
            if not np.all(np.isfinite(y_raw)) or not np.all(y_raw == np.round(y_raw)):
                raise InvalidInputError(
                    "labels must be integers 0..K-1; encode class names first "
                    "(the estimator does this for you)"
                )
        elif y_raw.dtype.kind not in "iub":
            raise InvalidInputError(
                f"labels must be integers 0..K-1, got dtype {y_raw.dtype}; encode them first"
            )
        y = frozen_array(y_raw.astype(np.int64), dtype=np.int64, name="y", ndim=1)
        if n_classes is None:
            n_classes = max(int(y.max()) + 1 if y.size else 0, 2)
        w = np.ones(X.shape[0]) if weights is None else weights
        w = frozen_array(w, dtype=float, name="weights", ndim=1)
        return cls(X, y, int(n_classes), w)

    @property
    def n_points(self) -> int:
        """Number of training points ``m``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of input features ``n``."""
        return self.X.shape[1]

    def one_hot(self) -> np.ndarray:
        """The labels as an ``m x K`` 0/1 matrix."""
        return np.eye(self.n_classes, dtype=float)[self.y]


@attrs.frozen
class RobustnessSet:
    """Every training input may move within an l-inf ball of this radius (in scaled units).

    The trained network's first-layer activations, hence its whole output, are then constant
    on each ball.
    """

    radius: float = attrs.field(converter=float)

    @radius.validator
    def _check(self, _attr, value):
        if not np.isfinite(value) or value < 0:
            raise InvalidInputError(f"robust radius must be finite and >= 0, got {value}")


@attrs.frozen
class ActivationTies:
    """A partition of the training points: the points of a cluster share one activation pattern.

    ``cluster[i]`` is the cluster of point ``i``; clusters are numbered ``0..P-1``, all used.
    """

    cluster: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=array_eq))

    def __attrs_post_init__(self):
        if self.cluster.size == 0:
            raise InvalidInputError("activation ties need at least one point")
        used = np.unique(self.cluster)
        if used[0] != 0 or used[-1] != used.size - 1:
            raise InvalidInputError(
                "cluster ids must be 0..P-1 with every id used; use ActivationTies.from_labels"
            )

    @classmethod
    def from_labels(cls, labels) -> ActivationTies:
        """Ties from arbitrary hashable cluster labels (renumbered in order of first use)."""
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise InvalidInputError("cluster labels must be one-dimensional")
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        return cls(frozen_array(order[inverse], dtype=np.int64, name="cluster", ndim=1))

    @classmethod
    def none(cls, n_points: int) -> ActivationTies:
        """Every point its own cluster (the untied model)."""
        return cls(frozen_array(np.arange(n_points), dtype=np.int64, name="cluster", ndim=1))

    @property
    def n_clusters(self) -> int:
        """Number of clusters ``P``."""
        return int(self.cluster.max()) + 1

    @property
    def n_points(self) -> int:
        """Number of points partitioned."""
        return self.cluster.size
