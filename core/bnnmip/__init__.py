"""bnnmip: train binarized deep neural networks by mixed-integer linear programming.

The flow is one-directional::

    Architecture + TrainingSet (+ RobustnessSet, + ActivationTies)
        -> lower(...) -> MilpProblem -> backend plugin -> SolveResult
        -> decode -> BinarizedNetwork -> verify (numpy forward pass vs MILP)
"""

import pluggy

hookimpl = pluggy.HookimplMarker("bnnmip")
"""Marker for hook implementations: ``@bnnmip.hookimpl``."""

from .backend import Backend, BackendFeature, solve  # noqa: E402
from .errors import (  # noqa: E402
    BackendUnavailableError,
    BnnmipError,
    InvalidInputError,
    ModelFormatError,
    PluginError,
    SolveFailedError,
    UnknownNameError,
)
from .formulation import Lowering, lower  # noqa: E402
from .ir import ActivationTies, Architecture, RobustnessSet, TrainingSet, WeightDomain  # noqa: E402
from .milp import MilpProblem  # noqa: E402
from .network import BinarizedNetwork, InputScaling, PredictionRule  # noqa: E402
from .registry import get_backend, get_strategy, list_backends, list_strategies  # noqa: E402
from .result import SolveOptions, SolveResult, SolveStatus  # noqa: E402
from .strategy import TrainingResult, TrainingTask  # noqa: E402
from .training import train  # noqa: E402
from .verify import Verification, verify  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    # bnnmip.BDNNClassifier without importing scikit-learn on `import bnnmip`
    if name == "BDNNClassifier":
        from .estimator import BDNNClassifier

        return BDNNClassifier
    raise AttributeError(f"module 'bnnmip' has no attribute {name!r}")


__all__ = [
    "ActivationTies",
    "Architecture",
    "BDNNClassifier",
    "Backend",
    "BackendFeature",
    "BackendUnavailableError",
    "BinarizedNetwork",
    "BnnmipError",
    "InputScaling",
    "InvalidInputError",
    "Lowering",
    "MilpProblem",
    "ModelFormatError",
    "PluginError",
    "PredictionRule",
    "RobustnessSet",
    "SolveFailedError",
    "SolveOptions",
    "SolveResult",
    "SolveStatus",
    "TrainingResult",
    "TrainingSet",
    "TrainingTask",
    "UnknownNameError",
    "Verification",
    "WeightDomain",
    "__version__",
    "get_backend",
    "get_strategy",
    "hookimpl",
    "list_backends",
    "list_strategies",
    "lower",
    "solve",
    "train",
    "verify",
]
