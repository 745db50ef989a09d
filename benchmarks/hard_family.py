"""The hard benchmark family: instances whose least loss is positive (issue 20, item 1).

    python benchmarks/hard_family.py [--time-limit 60] [--backends highs,scip,cbc] [--workers 1]
                                     [--instances "random m50 h2 k2,robust wine r0.1"]
                                     [--output docs/benchmarks/hard-family.jsonl]
                                     [--report docs/benchmarks/hard-family.md]
    python benchmarks/hard_family.py --report-only          # rebuild the page from the jsonl

Other scripts import the instances (names are stable)::

    sys.path.insert(0, "benchmarks")
    from hard_family import instances
    for name, (arch, data, robust) in instances().items(): ...
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

RANDOM_M = (50, 75, 100)
RANDOM_H = (2, 3)
RANDOM_K = (2, 3)
ROBUST_SETS = ("breast-cancer-wisconsin", "wine")
ROBUST_SHORT = {"breast-cancer-wisconsin": "bcw", "wine": "wine"}
ROBUST_R = (0.1, 0.2)
ROBUST_M = 50
ROBUST_SEED = 0
# The paper protocol's training parts (formulations.protocol_split: 50/25/25 stratified, min-max
# scaled on the training part), width 2, whose best known loss is positive in
# docs/benchmarks/formulations-protocol.jsonl (tight+ste, HiGHS, 60 s): breast cancer seeds 0
# (loss 10) and 8 (loss 2), iris seeds 2 and 6 (loss 2 each, 3 classes). Whether the optimum is
# positive is what the runs prove (or not); see docs/benchmarks/hard-family.md.
PROTOCOL = (("breast-cancer-wisconsin", 0), ("breast-cancer-wisconsin", 8), ("iris", 2), ("iris", 6))
PROTOCOL_SHORT = {"breast-cancer-wisconsin": "bcw", "iris": "iris"}


class Instance(NamedTuple):
    """One instance: unpacks as ``arch, data, robust`` (``robust`` is None for plain training)."""

    arch: object
    data: object
    robust: object


def random_instance(m: int, hidden: int, k: int) -> Instance:
    """Random labels: inputs uniform in [0, 1]^10, labels uniform over ``k`` classes.

    The seed depends on ``m`` only (``200 + m``, as ``formulations.py``'s random instances):
    the widths share their data, and ``k = 2`` reproduces ``formulations.py``'s
    ``random h2 m50`` / ``m100`` points and labels exactly.
    """
    from bnnmip import Architecture, TrainingSet

    rng = np.random.default_rng(200 + m)
    X = rng.uniform(0, 1, (m, 10))
    y = rng.integers(0, k, m)
    return Instance(Architecture(10, (hidden,), k), TrainingSet.from_arrays(X, y, n_classes=k), None)


def robust_instance(dataset: str, radius: float) -> Instance:
    """``ROBUST_M`` points of ``dataset`` (stratified draw, seed ``ROBUST_SEED``), min-max scaled
    to [0, 1] on those points, width 2, robust training at l-inf ``radius``."""
    from bnnmip import Architecture, RobustnessSet, TrainingSet
    from bnnmip.datasets import load_dataset, split_dataset

    ds = load_dataset(dataset)
    X, _, y, _ = split_dataset(ds.X, ds.y, test_size=0, train_size=ROBUST_M, seed=ROBUST_SEED)
    lo, hi = X.min(0), X.max(0)
    X = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    classes = np.unique(y)
    data = TrainingSet.from_arrays(X, np.searchsorted(classes, y), n_classes=len(classes))
    return Instance(Architecture(X.shape[1], (2,), len(classes)), data, RobustnessSet(radius))


def protocol_instance(dataset: str, seed: int) -> Instance:
    """The paper protocol's full training part of ``dataset`` for ``seed``, width 2."""
    from bnnmip import Architecture, TrainingSet
    from formulations import protocol_split

    parts = protocol_split(dataset, seed)
    k = len(parts["classes"])
    data = TrainingSet.from_arrays(parts["X"], parts["y_idx"], n_classes=k)
    return Instance(Architecture(parts["X"].shape[1], (2,), k), data, None)


def instance_names() -> list[str]:
    """The family's names in their fixed order (cheap: builds nothing)."""
    names = [f"random m{m} h{h} k{k}" for m in RANDOM_M for h in RANDOM_H for k in RANDOM_K]
    names += [f"robust {ROBUST_SHORT[d]} r{r:g}" for d in ROBUST_SETS for r in ROBUST_R]
    names += [f"protocol {PROTOCOL_SHORT[d]} s{s}" for d, s in PROTOCOL]
    return names


def build(name: str) -> Instance:
    """The instance called ``name`` (one of :func:`instance_names`)."""
    kind, *rest = name.split()
    if kind == "random" and name in instance_names():
        m, h, k = (int(part[1:]) for part in rest)
        return random_instance(m, h, k)
    if kind == "robust" and name in instance_names():
        dataset = {v: d for d, v in ROBUST_SHORT.items()}[rest[0]]
        return robust_instance(dataset, float(rest[1][1:]))
    if kind == "protocol" and name in instance_names():
        dataset = {v: d for d, v in PROTOCOL_SHORT.items()}[rest[0]]
        return protocol_instance(dataset, int(rest[1][1:]))
    raise KeyError(f"no hard-family instance {name!r}; choose from {instance_names()}")


def instances(names=None) -> dict[str, Instance]:
    """``{name: (arch, data, robust)}`` of the whole family (or of ``names``), in a fixed order.

    Names: ``random m{50,75,100} h{2,3} k{2,3}`` (12), ``robust {bcw,wine} r{0.1,0.2}`` (4),
    ``protocol {bcw s0, bcw s8, iris s2, iris s6}`` (4). ``bcw`` is the paper's breast-cancer
    file (``breast-cancer-wisconsin``).
    """
    return {n: build(n) for n in (instance_names() if names is None else names)}
