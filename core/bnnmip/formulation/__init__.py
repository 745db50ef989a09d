"""Lowering: architecture + data (+ robustness, + ties) -> :class:`~bnnmip.milp.MilpProblem`.

:func:`lower` returns a :class:`Lowering`, which holds the MILP and knows how to go back and
forth between a solution vector and a :class:`~bnnmip.network.BinarizedNetwork`
(:meth:`Lowering.decode`, :meth:`Lowering.encode`). Formulations are chosen by name; the
paper's model is ``"paper"`` (see :mod:`bnnmip.formulation.paper` for the math), a tighter
model of the same problem ``"tight"`` (:mod:`bnnmip.formulation.tight`).

A formulation is a module with ``NAME``, ``DEFAULT_EPS`` and ``build(arch, data, cluster,
n_clusters, robust, eps) -> (problem, big_m)``; ``MERGE_DUPLICATES = True`` asks
:func:`lower` to give points with identical inputs one cluster first, and under robust
training also points whose balls must share activations (:mod:`bnnmip.formulation.merging`);
``SYMMETRY_BREAKING = True`` declares a ``symmetry_breaking`` keyword of ``build`` and a
``canonicalize(lowering, network)`` that :meth:`Lowering.encode` applies to MIP starts.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..errors import InvalidInputError, UnknownNameError
from ..ir import ActivationTies, Architecture, RobustnessSet, TrainingSet
from ..milp import MilpProblem, RowKind
from ..network import BinarizedNetwork
from . import paper, tight
from .merging import merge_duplicate_points, merge_overlapping_balls

__all__ = ["DEFAULT_FORMULATION", "FORMULATIONS", "Lowering", "implied_integrality", "lower",
           "merge_duplicate_points", "merge_overlapping_balls"]

FORMULATIONS = {paper.NAME: paper, tight.NAME: tight}
DEFAULT_FORMULATION = "tight"
"""The formulation used when none is named (the API, the estimator and the CLI)."""


@attrs.frozen(eq=False)
class Lowering:
    """A MILP together with what is needed to decode its solutions into networks."""

    problem: MilpProblem
    architecture: Architecture
    data: TrainingSet
    ties: ActivationTies
    robust: RobustnessSet | None
    eps: float
    formulation: str
    big_m: dict
    symmetry_breaking: bool = False

    def bias_bounds(self) -> list[float]:
        """The bias box of each layer in this MILP (0 without biases)."""
        cols, p = self.problem.columns, self.problem
        return [
            float(p.col_upper[cols[f"b{l}"].start : cols[f"b{l}"].stop].max()) if self.architecture.bias
            else 0.0
            for l in range(1, self.architecture.n_layers + 1)
        ]

    # -- solution -> network --------------------------------------------------------------
    def weights_from(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Weight matrices and bias vectors from a solution (integers rounded)."""
        cols, arch = self.problem.columns, self.architecture
        Ws, bs = [], []
        for l in range(1, arch.n_layers + 1):
            W = cols[f"W{l}"].take(x).astype(float)
            if arch.weight_domain.is_integer:
                W = np.round(W)
            P = arch.weight_domain.bound
            Ws.append(np.clip(W, -P, P))
            bs.append(cols[f"b{l}"].take(x).astype(float) if arch.bias else np.zeros(W.shape[0]))
        return Ws, bs

    def activations_from(self, x: np.ndarray) -> list[np.ndarray]:
        """The MILP's claimed activations per cluster and layer, rounded to 0/1."""
        cols = self.problem.columns
        return [
            np.round(cols[f"u{l}"].take(x)).clip(0, 1)
            for l in range(1, self.architecture.n_layers + 1)
        ]

    def decode(self, x: np.ndarray, **network_kwargs) -> BinarizedNetwork:
        """The network a solution vector describes."""
        Ws, bs = self.weights_from(x)
        meta = {"bias": self.architecture.bias, **network_kwargs.pop("metadata", {})}
        return BinarizedNetwork.from_arrays(
            Ws, bs, weight_domain=self.architecture.weight_domain, metadata=meta, **network_kwargs
        )

    # -- network -> solution (MIP starts) -------------------------------------------------
    def encode(self, network: BinarizedNetwork, *, partial: bool = False) -> np.ndarray:
        """The assignment a network implies on the training data (a MIP start).

        Every column is filled: weights, biases, the activations the network computes on the
        (scaled) training points (per cluster: the first point's pattern), and the auxiliary
        columns. With ``partial=True`` only weights and biases are set; the rest is NaN for a
        backend that completes partial starts. Whether the assignment is feasible (margins of
        at least ``eps``, cluster-consistent patterns) is for ``problem.violation`` to say.
        A formulation with symmetry-breaking rows first turns the network into the equivalent
        one those rows admit (its module's ``canonicalize``).
        """
        arch = self.architecture
        if tuple(network.widths) != tuple(arch.widths):
            raise InvalidInputError(
                f"the start network has widths {network.widths}, the problem {arch.widths}"
            )
        canonical = getattr(FORMULATIONS[self.formulation], "canonicalize", None)
        if canonical is not None and self.symmetry_breaking:
            network = canonical(self, network)
        x = np.full(self.problem.n_cols, np.nan)
        cols = self.problem.columns
        for l in range(1, arch.n_layers + 1):
            x[cols[f"W{l}"].start : cols[f"W{l}"].stop] = network.weights[l - 1].ravel()
            if arch.bias:
                x[cols[f"b{l}"].start : cols[f"b{l}"].stop] = network.biases[l - 1]
        if partial:
            return x
        forward = network.forward(self.data.X, scaled=True)
        _, first = np.unique(self.ties.cluster, return_index=True)
        acts = [a[first] for a in forward.act]
        for l, a in enumerate(acts, start=1):
            x[cols[f"u{l}"].start : cols[f"u{l}"].stop] = a.ravel()
        paper.encode_auxiliary(arch, x, cols, acts, network.weights)
        return x


def lower(
    architecture: Architecture,
    data: TrainingSet,
    *,
    formulation: str = DEFAULT_FORMULATION,
    robust: RobustnessSet | None = None,
    ties: ActivationTies | None = None,
    eps: float | None = None,
    symmetry_breaking: bool = True,
) -> Lowering:
    """Build the MILP of training ``architecture`` on ``data``.

    ``symmetry_breaking=False`` leaves out a formulation's symmetry-breaking rows and
    fixings (for block MILPs that fix some layers: the rows would forbid moves that need the
    fixed layers to change too).
    """
    if formulation not in FORMULATIONS:
        raise UnknownNameError(
            f"unknown formulation {formulation!r}; available: {', '.join(FORMULATIONS)}"
        )
    module = FORMULATIONS[formulation]
    if architecture.n_inputs != data.n_features:
        raise InvalidInputError(
            f"the architecture expects {architecture.n_inputs} inputs but the data has "
            f"{data.n_features} features"
        )
    if architecture.n_classes != data.n_classes:
        raise InvalidInputError(
            f"the architecture has {architecture.n_classes} outputs but the data "
            f"{data.n_classes} classes"
        )
    ties = ActivationTies.none(data.n_points) if ties is None else ties
    if ties.n_points != data.n_points:
        raise InvalidInputError(
            f"activation ties cover {ties.n_points} points but the data has {data.n_points}"
        )
    eps = module.DEFAULT_EPS if eps is None else float(eps)
    if not 0 < eps < 1:
        raise InvalidInputError(f"eps must be in (0, 1), got {eps}")
    if getattr(module, "MERGE_DUPLICATES", False):
        ties = merge_overlapping_balls(ties, data.X, 0.0 if robust is None else robust.radius)
    kwargs = {}
    breaks = bool(getattr(module, "SYMMETRY_BREAKING", False))
    if breaks:
        kwargs["symmetry_breaking"] = breaks = bool(symmetry_breaking)
    problem, big_m = module.build(architecture, data, ties.cluster, ties.n_clusters, robust, eps, **kwargs)
    problem = implied_integrality(problem, architecture)
    return Lowering(problem, architecture, data, ties, robust, eps, formulation, big_m, breaks)


def implied_integrality(problem, architecture: Architecture):
    """``problem`` with the columns its integer weights force to integers marked.

    With an integer weight domain every product column ``s = u * w`` (the blocks ``s2``,
    ``s3``... of the exact linearization, ``PRODUCT`` rows) equals 0 or an integer weight in
    every feasible solution, so it is implied integral. Biases are not: with integer weights
    on integer-grid inputs a pre-activation ``W x + b`` can always be met by a half-integer
    bias (``k + 1/2``), but not always by an integer one, so a pure-integer solver can take a
    model with integer weights only without biases (``bias=False``); see ``docs/ir.md``.
    """
    if not architecture.weight_domain.is_integer or not any(
            block.kind is RowKind.PRODUCT for block in problem.rows):
        return problem
    implied = np.array(problem.implied_integrality, dtype=bool)
    for name, block in problem.columns.items():
        if name.startswith("s") and name[1:].isdigit():
            implied[block.start:block.stop] = True
    return attrs.evolve(problem, implied_integrality=implied)
