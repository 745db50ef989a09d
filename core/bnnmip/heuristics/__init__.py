"""Heuristics: networks found without a MILP search (starts, repairs, margin refits).

- :mod:`.gradient`: the gradient-trained start (straight-through estimator), :func:`ste_network`.
- :mod:`.improve`: local search on a network, one neuron at a time (:func:`improve_network`).
- :mod:`.robustify`: moving a start's first layer off the training points' l-inf balls.
- :mod:`.pattern_fit`: LPs that realise an activation pattern (repair, max-min margins).
- :mod:`.soft_margin`: the soft-margin refit (training errors traded for margin).
- :mod:`.clock`: their time limits, in CPU seconds of the working thread (:class:`Deadline`).
"""

from .gradient import ste_network
from .improve import improve_network
from .pattern_fit import PatternFit, fit_pattern, polish, realize, repair_network
from .soft_margin import DEFAULT_C, check_c, refit_if_better, soft_refit

__all__ = [
    "DEFAULT_C",
    "PatternFit",
    "check_c",
    "fit_pattern",
    "improve_network",
    "polish",
    "realize",
    "refit_if_better",
    "repair_network",
    "soft_refit",
    "ste_network",
]
