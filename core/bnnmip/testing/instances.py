"""Reference instances with known optima, for bnnmip's tests and for any plugin's.

Every instance here is small enough to be solved to proven optimality in seconds on one
thread, and its optimum is known by construction (a teacher network that fits the data
exactly has loss 0) or by hand (XOR without a hidden layer).
"""

from __future__ import annotations

import attrs
import numpy as np

from ..formulation import lower
from ..ir import ActivationTies, Architecture, RobustnessSet, TrainingSet, WeightDomain
from ..network import BinarizedNetwork

__all__ = ["ReferenceInstance", "random_teacher", "reference_instances", "xor"]


@attrs.frozen(eq=False)
class ReferenceInstance:
    """A training problem and its known optimal objective."""

    name: str
    architecture: Architecture
    data: TrainingSet
    optimum: float
    robust: RobustnessSet | None = None
    ties: ActivationTies | None = None
    teacher: BinarizedNetwork | None = None

    def lower(self, formulation: str = "paper"):
        """The instance's MILP (a :class:`~bnnmip.formulation.Lowering`)."""
        return lower(self.architecture, self.data, formulation=formulation,
                     robust=self.robust, ties=self.ties)


def xor(hidden: tuple[int, ...] = (2,)) -> ReferenceInstance:
    """XOR on the four corners of the unit square.

    With a hidden layer of width 2 it is fitted exactly (optimum 0). Without a hidden layer
    no network separates it: each output neuron is a half-plane that must fire on exactly
    the two points of its class, which XOR forbids, so at least one point per output neuron
    is wrong; one error in each neuron costs 2 in all (optimum 2).
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    arch = Architecture(2, hidden, 2)
    return ReferenceInstance(f"xor-h{hidden}", arch, TrainingSet.from_arrays(X, y), 0.0 if hidden else 2.0)


def random_teacher(
    n_inputs: int,
    hidden: tuple[int, ...],
    n_classes: int,
    n_points: int,
    *,
    seed: int = 0,
    margin: float = 0.05,
    weight_domain: WeightDomain | str = "continuous",
    bias: bool = True,
) -> tuple[BinarizedNetwork, TrainingSet]:
    """A random network and points in [0, 1]^n that it labels with margin.

    ``bias=False`` draws a teacher without biases (every bias 0), for architectures without.

    Points are kept only if exactly one output fires (so the binary and pre-activation
    prediction rules agree and the Hamming loss of the teacher is 0) and every
    pre-activation is at least ``margin`` away from 0 (so the teacher satisfies the MILP's
    strict margins). The teacher therefore proves the optimum is 0.
    """
    rng = np.random.default_rng(seed)
    domain = WeightDomain.parse(weight_domain)
    widths = (n_inputs, *hidden, n_classes)
    for _ in range(200):
        weights, biases = [], []
        for l in range(len(widths) - 1):
            if domain.is_integer:
                W = rng.integers(-domain.bound, domain.bound + 1, size=(widths[l + 1], widths[l]))
            else:
                W = rng.uniform(-1, 1, size=(widths[l + 1], widths[l]))
            fan_in = widths[l]
            centre = 0.5 * W.sum(axis=1) if l == 0 else 0.5 * fan_in * W.mean(axis=1)
            b = -centre + rng.uniform(-0.25, 0.25, widths[l + 1]) * max(1.0, np.abs(W).sum(axis=1).mean() / 2)
            if domain.is_integer:
                b = np.round(b) + 0.5  # keeps integer-weight pre-activations off 0
            if not bias:
                b = np.zeros(widths[l + 1])
            weights.append(W.astype(float))
            biases.append(b)
        net = BinarizedNetwork.from_arrays(weights, biases, weight_domain=domain)
        X = rng.uniform(0, 1, size=(20 * n_points, n_inputs))
        fw = net.forward(X)
        ok = fw.act[-1].sum(axis=1) == 1
        for t in fw.pre:
            ok &= np.abs(t).min(axis=1) >= margin
        labels = np.argmax(fw.act[-1], axis=1)
        keep = np.flatnonzero(ok)
        if keep.size >= n_points and np.unique(labels[keep[:n_points]]).size == n_classes:
            sel = keep[:n_points]
            return net, TrainingSet.from_arrays(X[sel], labels[sel], n_classes=n_classes)
    raise RuntimeError("could not draw a teacher network with the requested margins; lower margin")


def reference_instances() -> list[ReferenceInstance]:
    """Small instances with known optima, covering depth, classes, ties, robustness."""
    out = [xor((2,)), xor(())]
    for name, (n, hidden, k, m, seed, domain) in {
        "teacher-3-2-2": (3, (2,), 2, 16, 1, "continuous"),
        "teacher-3-2-3": (3, (2,), 3, 12, 2, "continuous"),
        "teacher-2-2-2-2": (2, (2, 2), 2, 10, 3, "continuous"),
        "teacher-ternary": (3, (2,), 2, 12, 4, "ternary"),
        "teacher-integer-nobias": (3, (2,), 2, 10, 5, "integer:2"),  # pure integer (implied)
    }.items():
        bias = not name.endswith("nobias")
        net, data = random_teacher(n, hidden, k, m, seed=seed, weight_domain=domain, bias=bias)
        arch = Architecture(n, hidden, k, weight_domain=domain, bias=bias)
        out.append(ReferenceInstance(name, arch, data, 0.0, teacher=net))
    # Ties that put two XOR points of different classes in one cluster: that cluster must get
    # one output pattern, so one of its points is wrong in both output neurons (optimum 2).
    x = xor((2,))
    out.append(
        ReferenceInstance(
            "xor-tied", x.architecture, x.data, 2.0, ties=ActivationTies.from_labels([0, 0, 1, 2])
        )
    )
    # Two points on a line, one per class. Separable (optimum 0) unless the l-inf balls
    # around them overlap (radius > 0.5): then each output neuron, constant on both balls,
    # gives both points one value and is wrong on one of them (optimum 2).
    line = TrainingSet.from_arrays(np.array([[0.0], [1.0]]), np.array([0, 1]))
    arch = Architecture(1, (), 2)
    out.append(ReferenceInstance("line-robust-0.3", arch, line, 0.0, robust=RobustnessSet(0.3)))
    out.append(ReferenceInstance("line-robust-0.6", arch, line, 2.0, robust=RobustnessSet(0.6)))
    return out
