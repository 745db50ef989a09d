"""``train``: the Python entry point below the estimator: names in, a TrainingResult out."""

from __future__ import annotations

from .errors import BackendUnavailableError
from .ir import ActivationTies, Architecture, RobustnessSet, TrainingSet
from .network import BinarizedNetwork
from .registry import get_backend, get_strategy
from .result import SolveOptions
from .strategy import TrainingResult, TrainingTask

__all__ = ["DEFAULT_BACKEND", "resolve_backend", "train"]

DEFAULT_BACKEND = "highs"


def resolve_backend(name):
    """The backend called ``name``, checked usable (clear errors before any solve)."""
    backend = get_backend(name)
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(
            f"backend {backend.name!r} is installed but not usable here: {reason}"
        )
    return backend


def train(
    architecture: Architecture,
    data: TrainingSet,
    *,
    backend: str = DEFAULT_BACKEND,
    strategy: str = "exact",
    options: SolveOptions | None = None,
    formulation: str = "paper",
    robust: RobustnessSet | None = None,
    ties: ActivationTies | None = None,
    eps: float | None = None,
    warm_start: BinarizedNetwork | None = None,
    time_budget: float | None = None,
    validation: TrainingSet | None = None,
    params: dict | None = None,
) -> TrainingResult:
    """Train ``architecture`` on (already scaled) ``data`` with a strategy and a backend.

    Examples
    --------
    >>> import numpy as np, bnnmip
    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = np.array([0, 1, 1, 0])
    >>> arch = bnnmip.Architecture(n_inputs=2, hidden=(2,), n_classes=2)
    >>> result = bnnmip.train(arch, bnnmip.TrainingSet.from_arrays(X, y))
    >>> result.status.value, result.objective
    ('optimal', 0.0)
    """
    task = TrainingTask(
        architecture=architecture,
        data=data,
        backend=resolve_backend(backend),
        options=options or SolveOptions(),
        formulation=formulation,
        robust=robust,
        ties=ties,
        eps=eps,
        warm_start=warm_start,
        time_budget=time_budget,
        validation=validation,
        params=params or {},
    )
    return get_strategy(strategy).train(task)
