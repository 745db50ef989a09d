"""bnnmip: train binarized deep neural networks by mixed-integer linear programming.

The flow is one-directional::

    Architecture + TrainingSet (+ RobustnessSet, + ActivationTies)
        -> lower(...) -> MilpProblem -> backend plugin -> SolveResult
        -> decode -> BinarizedNetwork -> verify (numpy forward pass vs MILP)
"""

from ._version import __version__
from .backends import Backend, BackendFeature, SolveOptions, SolveResult, SolveStatus, solve
from .errors import (
    BackendUnavailableError,
    BnnmipError,
    InvalidInputError,
    ModelFormatError,
    PluginError,
    SolveFailedError,
    UnknownNameError,
    UnsupportedProblemError,
)
from .formulation import Lowering, lower
from .ir import ActivationTies, Architecture, RobustnessSet, TrainingSet, WeightDomain
from .milp import MilpProblem
from .network import BinarizedNetwork, InputScaling, PredictionRule
from .plugins import get_backend, get_strategy, hookimpl, list_backends, list_strategies
from .training import TrainingResult, TrainingTask, train
from .verify import Verification, verify


def __getattr__(name):
    # bnnmip.BDNNClassifier without importing scikit-learn on `import bnnmip`
    if name == "BDNNClassifier":
        from .estimator import BDNNClassifier  # lazy: start-up cost (the estimator imports scikit-learn)

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
    "UnsupportedProblemError",
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
