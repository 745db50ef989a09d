r"""The ``split`` strategy: the paper's iterative data splitting, and the cluster splitters.

Notes
-----
**Cluster-tied activations.** A partition :math:`c : \{1..m\} \to \{1..C\}` of the training
points (an :class:`~bnnmip.ir.ActivationTies`) gives the tied MILP :math:`T(c)`: the training
MILP of ``docs/formulation.md`` (:mod:`bnnmip.formulation.paper`) in which every point
:math:`i` uses the activation binaries of its cluster, :math:`u^l_{c(i)}`. Layer-1 big-M rows
stay one per point,

.. math::

    W^1_j x_i + b^1_j &\le (M_i + \varepsilon) u^1_{c(i)j} - \varepsilon \\
    W^1_j x_i + b^1_j &\ge (M_i + \varepsilon) u^1_{c(i)j} - M_i,

while deeper layers and the objective
:math:`\sum_i w_i \sum_j [y_{ij} + (1 - 2 y_{ij}) u^L_{c(i)j}]` use one :math:`u` per
cluster: the binaries drop from :math:`m \sum_l d_l` to :math:`C \sum_l d_l`. A feasible
solution is a network whose forward pass gives all points of a cluster one activation pattern
(with margin :math:`\varepsilon`); its objective is that network's weighted Hamming loss.

**Refinements keep the previous solution feasible.** Let :math:`c'` refine :math:`c` (cluster
:math:`P` split into :math:`P_0` and :math:`P_1`). Copying the parent's pattern to both
children, :math:`u'_{P_0} = u'_{P_1} = u_P`, maps a feasible :math:`(W, b, u)` of :math:`T(c)`
onto an assignment of :math:`T(c')` whose every row is a row of :math:`T(c)` with :math:`u`
renamed; it is feasible with the same objective. Hence :math:`OPT(T(c')) \le OPT(T(c))`: with
solves proven optimal the tied objective never increases along the splits, and each solve is
warm-started with the network of the previous one
(:meth:`~bnnmip.formulation.Lowering.encode` on the refined ties builds exactly the copied
assignment; :func:`~bnnmip.strategies.mip_start` uses it when ``problem.violation <= 1e-9``,
else the majority-class network).

**The loop** (:meth:`SplitStrategy.train`).

1. Start from the best start (``start="ste"``: the lowest-loss feasible network among the
   warm start, the gradient start of :func:`bnnmip.strategies._common.gradient_start` and the
   majority-class network): the first clusters are its activation patterns (points with one
   pattern in every layer share a cluster, within the task's ``ties``), so it is a feasible
   MIP start of the first tied MILP and the first candidate of step 4; a network whose
   training loss is above the start's is never selected. Without a start better than the
   majority network (``start="none"`` and no warm start: the paper's setting), one cluster
   holding every point (or the task's ``ties``). Then bisect with the splitter until there
   are ``initial_clusters`` clusters.
2. Solve ``T(c)``, warm-started as above; one :class:`~bnnmip.training.Budget` covers the run
   and each solve's limit is ``options.time_limit`` cut to what is left of it.
3. Evaluate the decoded network *untied* on every training point (forward-pass Hamming loss
   and accuracy under the network's own prediction rule) and on the validation data if given.
4. Keep the best network: highest validation accuracy, ties broken by lower training loss
   (without validation data: lowest training loss); on a full tie the earlier network, with
   fewer clusters, stays.
5. Split the cluster that holds at least two distinct points and has the largest summed
   per-point loss, ties broken by size and then by cluster number. The per-point losses are
   those of the network of the *latest* solve, not of the best network as in the paper's code:
   the latest tied solution is the one the next solve starts from, and its errors are where
   the current ties bind, whereas the best network's losses go stale once it stops changing.
   Identical points always share an activation pattern, so a cluster of copies of one point
   is never a candidate.

The loop stops when the latest network has training loss 0, ``max_splits`` splits are done,
the time budget is spent, no cluster can be split, or a solve returns no solution.

**Batches.** With ``batch_size = b`` each solve uses ``b`` points drawn at random (without
replacement, from a generator seeded with ``options.seed``), the ties restricted to them. The
objective then covers the batch only, the previous network is a start only if it is still
feasible on the new batch (else the majority-class network is), and the monotonicity above no
longer holds; evaluation and the split rule still use every training point.

**Symmetry breaking.** The tied MILPs keep the formulation's symmetry-breaking rows unless
the backend prefers them off (its ``formulation_defaults``, :func:`bnnmip.backends.formulation_defaults`:
``cbc`` does, measured on whole MILPs in ``docs/benchmarks/symmetry.md``); the ``exact``
strategy's default is the same.

**Result.** The network is the best one of step 4; status ``OPTIMAL`` when its untied training
loss is 0 (no network does better), else ``FEASIBLE`` (a heuristic). Its verification is the one
of the solve that produced it, against that tied solution (on its batch, with batches): every
point's activation pattern must match its cluster's ``u``, and the forward-pass loss must equal
the tied objective, since the untied network's errors are exactly the ones the tied objective
counts. Losses and accuracies use the point weights (plain counts with unit weights).

References
----------
J. Kurtz and B. Bah, *Efficient and Robust Mixed-Integer Optimization Methods for Training
Binarized Deep Neural Networks*, arXiv:2110.11382 (2021), and their code (``trainBDNN``,
``split_k_means``: k-means with 25 restarts, maximal split count 20).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

import attrs
import numpy as np

from .. import formulation
from ..backends.results import SolveStatus
from ..errors import BnnmipError, InvalidInputError, PluginError, UnknownNameError
from ..formulation import lower
from ..ir import ActivationTies, TrainingSet
from ..network import BinarizedNetwork
from ..plugins.registry import get_splitter, list_splitters, owner
from ..training.task import TrainingResult, TrainingTask, report_iteration
from ..verify import Verification, verify
from ._common import (
    StartChoice,
    check_start_params,
    choose_start,
    mip_start,
    solve_lowering,
    symmetry_breaking,
    trivial_network,
)
from ._lns import forward_verification, full_feasibility, full_view, is_view, large_problem

__all__ = [
    "BUILTIN_SPLITTERS",
    "ClassKMeansSplitter",
    "KMeansSplitter",
    "SplitStrategy",
    "resolve_splitter",
]

N_INIT = 25
"""k-means restarts, as in the paper's code."""

# -- splitters ---------------------------------------------------------------------------------


def _checked_cluster(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise InvalidInputError(f"a splitter needs X (k x n) and one label per row; got {X.shape}, {y.shape}")
    if X.shape[0] < 2 or np.unique(X, axis=0).shape[0] < 2:
        raise InvalidInputError(
            "cannot split a cluster with fewer than two distinct points: identical points always "
            "share one activation pattern, so no split can separate them"
        )
    return X, y


def _canonical(labels: np.ndarray) -> np.ndarray:
    """0/1 labels with the first point on side 0 (k-means numbers its clusters arbitrarily)."""
    labels = np.asarray(labels, dtype=np.int64)
    return 1 - labels if labels[0] == 1 else labels


def _widest_feature_halves(X: np.ndarray) -> np.ndarray:
    """Fallback: cut the feature of largest range at its midpoint (both sides non-empty)."""
    spread = X.max(axis=0) - X.min(axis=0)
    j = int(np.argmax(spread))
    return (X[:, j] > 0.5 * (X[:, j].max() + X[:, j].min())).astype(np.int64)


def _kmeans_two(X: np.ndarray, seed: int, sample_weight=None) -> np.ndarray:
    """2-means labels of ``X`` (rows with at least two distinct values), both sides non-empty."""
    from sklearn.cluster import KMeans  # lazy: start-up cost (scikit-learn)
    from threadpoolctl import threadpool_limits  # lazy: comes with scikit-learn, loaded with it

    kmeans = KMeans(n_clusters=2, n_init=N_INIT, random_state=seed)
    with threadpool_limits(limits=1):  # OpenMP threads made split 4-9x slower on 2 shared cores
        labels = kmeans.fit(X, sample_weight=sample_weight).labels_
    if 0 < labels.sum() < labels.size:
        return _canonical(labels)
    return _canonical(_widest_feature_halves(X))


class KMeansSplitter:
    """Split a cluster in two by k-means on its (scaled) inputs, as in the paper.

    ``KMeans(n_clusters=2, n_init=25, random_state=seed)``; should k-means leave a side empty,
    the feature of largest range is cut at its midpoint instead. Labels ignore the classes.
    """

    name = "kmeans"
    description = "2-means on the cluster's scaled inputs (25 restarts), as in the paper"

    def split(self, X, y, *, seed: int) -> np.ndarray:
        """0/1 side of each point of the cluster; both sides non-empty, first point on side 0.

        Parameters
        ----------
        X : numpy.ndarray
            The cluster's scaled inputs (k x n), with at least two distinct rows.
        y : numpy.ndarray
            Their integer labels (unused).
        seed : int
            Random state of k-means.

        Returns
        -------
        numpy.ndarray
            ``k`` integers in {0, 1}.

        Raises
        ------
        bnnmip.InvalidInputError
            If the cluster has fewer than two distinct points (it cannot be split).
        """
        X, _ = _checked_cluster(X, y)
        return _kmeans_two(X, seed)


class ClassKMeansSplitter:
    """Split by class first, then by k-means within a class.

    A cluster holding several classes can never be fitted exactly (all its points get one
    output), so it is split between classes: with two classes, one against the other; with
    more, the two groups that weighted 2-means on the class centroids (weights: class sizes)
    finds, or the majority class against the rest when all centroids coincide. A cluster of one
    class is split by :class:`KMeansSplitter`'s rule.
    """

    name = "class_kmeans"
    description = "by class first (2-means on class centroids), then 2-means within one class"

    def split(self, X, y, *, seed: int) -> np.ndarray:
        """0/1 side of each point of the cluster; both sides non-empty, first point on side 0.

        Parameters
        ----------
        X : numpy.ndarray
            The cluster's scaled inputs (k x n), with at least two distinct rows.
        y : numpy.ndarray
            Their integer labels.
        seed : int
            Random state of k-means.

        Returns
        -------
        numpy.ndarray
            ``k`` integers in {0, 1}; points of one class always share a side when the
            cluster holds several classes.

        Raises
        ------
        bnnmip.InvalidInputError
            If the cluster has fewer than two distinct points (it cannot be split).
        """
        X, y = _checked_cluster(X, y)
        _, klass, counts = np.unique(y, return_inverse=True, return_counts=True)
        klass = klass.ravel()
        if counts.size == 1:
            return _kmeans_two(X, seed)
        if counts.size == 2:
            return _canonical(klass)
        centroids = np.vstack([X[klass == k].mean(axis=0) for k in range(counts.size)])
        if np.unique(centroids, axis=0).shape[0] >= 2:
            group = _kmeans_two(centroids, seed, sample_weight=counts.astype(float))
        else:
            group = (np.arange(counts.size) != int(np.argmax(counts))).astype(np.int64)
        return _canonical(group[klass])


BUILTIN_SPLITTERS = (KMeansSplitter(), ClassKMeansSplitter())
"""The built-in splitters, for registration through ``bnnmip_register_splitters``."""


def resolve_splitter(spec):
    """The splitter named ``spec`` (registry first, then the built-ins), or ``spec`` itself.

    Parameters
    ----------
    spec : str or splitter
        A registered name, or an object with ``name`` and ``split(X, y, *, seed)``.

    Returns
    -------
    splitter

    Raises
    ------
    bnnmip.UnknownNameError
        For a name neither registered nor built in (the message lists the known names).
    bnnmip.InvalidInputError
        For an object that is not a splitter.
    """
    if not isinstance(spec, str):
        if isinstance(getattr(spec, "name", None), str) and callable(getattr(spec, "split", None)):
            return spec
        raise InvalidInputError(
            f"splitter must be a name or an object with name and split(X, y, *, seed); got {spec!r}"
        )
    try:
        return get_splitter(spec)
    except UnknownNameError:
        key = spec.strip().lower()
        for splitter in BUILTIN_SPLITTERS:
            if splitter.name == key:
                return splitter
        known = ", ".join(sorted({*list_splitters(), *(s.name for s in BUILTIN_SPLITTERS)}))
        raise UnknownNameError(f"unknown splitter {spec!r}; available: {known}") from None


def _split_labels(splitter, X, y, seed: int) -> np.ndarray:
    try:
        labels = np.asarray(splitter.split(X, y, seed=seed))
    except BnnmipError:
        raise
    except Exception as exc:  # a plugin's splitter: name it, never a bare traceback
        raise PluginError(f"splitter {splitter.name!r} (plugin {owner('splitter', splitter.name) or '-'!r}) "
                          f"failed: {type(exc).__name__}: {exc}") from exc
    if labels.shape != (X.shape[0],) or not np.isin(labels, (0, 1)).all() or np.unique(labels).size != 2:
        raise PluginError(
            f"splitter {splitter.name!r} must return one 0/1 label per point with both sides "
            f"non-empty; got {labels!r}"
        )
    return labels.astype(bool)


# -- parameters --------------------------------------------------------------------------------

DEFAULTS = {"max_splits": 20, "splitter": "kmeans", "batch_size": None, "initial_clusters": 1,
            "start": "ste", "start_seconds": 5.0}
"""The ``split`` strategy's parameters (keys of ``TrainingTask.params``) and their defaults."""


def _valid_keys() -> str:
    return ", ".join(f"{k} (default {v!r})" for k, v in DEFAULTS.items())


@attrs.frozen
class SplitParams:
    """The validated parameters of one ``split`` run (see :class:`SplitStrategy`)."""

    max_splits: int
    splitter: object
    batch_size: int | None
    initial_clusters: int
    start: str = "ste"
    start_seconds: float = 5.0

    @classmethod
    def parse(cls, params: Mapping) -> SplitParams:
        """Validate ``params`` and fill in the defaults.

        Raises
        ------
        bnnmip.InvalidInputError
            On an unknown key or a bad value; the message lists the valid keys.
        """
        unknown = sorted(set(params) - set(DEFAULTS), key=str)
        if unknown:
            raise InvalidInputError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for strategy 'split'; "
                f"valid keys: {_valid_keys()}"
            )
        values = {**DEFAULTS, **params}
        batch = values["batch_size"]
        start, seconds = check_start_params("split", values["start"], values["start_seconds"])
        return cls(
            start=start, start_seconds=seconds,
            max_splits=_int_param("max_splits", values["max_splits"], 0),
            splitter=resolve_splitter(values["splitter"]),
            batch_size=None if batch is None else _int_param("batch_size", batch, 1),
            initial_clusters=_int_param("initial_clusters", values["initial_clusters"], 1),
        )


def _int_param(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(
            f"split parameter {name} must be an integer >= {minimum}, got {value!r}; "
            f"valid keys: {_valid_keys()}"
        )
    return int(value)


# -- the strategy ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class _Evaluated:
    """A solved network with its untied scores."""

    network: BinarizedNetwork
    verification: Verification | None
    per_point_loss: np.ndarray
    train_loss: float
    train_accuracy: float
    validation_accuracy: float | None

    def better_than(self, other: _Evaluated | None) -> bool:
        if other is None:
            return True
        if self.validation_accuracy is not None and self.validation_accuracy != other.validation_accuracy:
            return self.validation_accuracy > other.validation_accuracy
        return self.train_loss < other.train_loss


def _accuracy(network: BinarizedNetwork, data: TrainingSet) -> float:
    return network.accuracy(data.X, data.y, weights=data.weights, scaled=True)


def _evaluate(network, verification, data: TrainingSet, validation) -> _Evaluated:
    out = network.forward(data.X, scaled=True).act[-1]
    per_point = np.abs(out - data.one_hot()).sum(axis=1) * data.weights
    return _Evaluated(
        network=network,
        verification=verification,
        per_point_loss=per_point,
        train_loss=float(per_point.sum()),
        train_accuracy=_accuracy(network, data),
        validation_accuracy=None if validation is None else _accuracy(network, validation),
    )


class _Partition:
    """The clusters over all training points, and which of them can still be split."""

    def __init__(self, cluster: np.ndarray, X: np.ndarray) -> None:
        self.cluster = np.array(cluster, dtype=np.int64)
        self.row = np.unique(X, axis=0, return_inverse=True)[1].ravel()  # equal rows, equal ids

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1

    def splittable(self) -> np.ndarray:
        """Whether each cluster holds at least two distinct points."""
        C = self.n_clusters
        pairs = np.unique(np.stack([self.cluster, self.row]), axis=1)  # distinct (cluster, row)
        return np.bincount(pairs[0], minlength=C) >= 2

    def choose(self, per_point_loss: np.ndarray | None) -> int | None:
        """The splittable cluster of largest loss, then size, then lowest number (None: none)."""
        C = self.n_clusters
        ok = self.splittable()
        if not ok.any():
            return None
        loss = np.zeros(C) if per_point_loss is None else np.bincount(self.cluster, per_point_loss, C)
        size = np.bincount(self.cluster, minlength=C)
        order = np.lexsort((np.arange(C), -size, -loss))
        return int(next(c for c in order if ok[c]))

    def split(self, c: int, splitter, data: TrainingSet, seed: int) -> None:
        idx = np.flatnonzero(self.cluster == c)
        side = _split_labels(splitter, data.X[idx], data.y[idx], seed)
        self.cluster[idx[side]] = self.n_clusters


def _batch(data: TrainingSet, cluster: np.ndarray, size: int | None, rng):
    if size is None or size >= data.n_points:
        return data, ActivationTies.from_labels(cluster)
    pick = np.sort(rng.choice(data.n_points, size=size, replace=False))
    sub = TrainingSet.from_arrays(
        data.X[pick], data.y[pick], n_classes=data.n_classes, weights=data.weights[pick]
    )
    return sub, ActivationTies.from_labels(cluster[pick])


class _Loop:
    """The state of one splitting run: clusters, solves, the best eligible network."""

    def __init__(self, part: _Partition, best: _Evaluated | None, start_loss: float | None) -> None:
        self.part, self.best, self.start_loss = part, best, start_loss
        self.solves: list = []
        self.size: dict = {}

    def offer(self, current: _Evaluated | None) -> None:
        """Keep ``current`` if it beats the best and is not worse than the start on training."""
        if current is None:
            return
        limit = self.start_loss
        if limit is not None and current.train_loss > limit + 1e-9 * max(1.0, limit):
            return
        if current.better_than(self.best):
            self.best = current


def _record(k, part: _Partition, result, current: _Evaluated | None, warm, stop, budget) -> dict:
    return {
        "split": k,
        "clusters": part.n_clusters,
        "status": result.status.value,
        "mip_seconds": result.build_seconds + result.solve_seconds,
        "objective": result.objective,
        "train_loss": None if current is None else current.train_loss,
        "loss": None if current is None else current.train_loss,
        "train_accuracy": None if current is None else current.train_accuracy,
        "validation_accuracy": None if current is None else current.validation_accuracy,
        "warm_start": warm,
        "stop": stop,
        "seconds": budget.elapsed(),
    }


class SplitStrategy:
    """Iterative data splitting (Kurtz & Bah 2021): solve cluster-tied MILPs, refine, repeat.

    See the module docstring for the math, the selection and split rules, and the stopping
    criteria. Settings come from ``TrainingTask.params``:

    Parameters
    ----------
    max_splits : int, default 20
        Number of splits after the first solve (``0``: one solve with the initial clusters).
    splitter : str or splitter, default "kmeans"
        A registered splitter name (``"kmeans"``, ``"class_kmeans"`` or a plugin's) or a
        splitter object.
    batch_size : int or None, default None
        Points per solve, drawn at random for each solve (``None``: all points).
    initial_clusters : int, default 1
        Bisect (largest splittable cluster first) until this many clusters before the first
        solve; these splits do not count against ``max_splits``.
    start : {"ste", "none"}, default "ste"
        Whether the gradient start is a candidate start (see step 1).
    start_seconds : float, default 5
        Time for the gradient start (at most a quarter of the budget left).

    Notes
    -----
    After each solve ``report_iteration("split", k + 1, record)`` fires, ``k`` the number of
    splits so far; ``record`` (also in ``TrainingResult.history``) has ``split`` (k),
    ``clusters``, ``status``, ``mip_seconds`` (build + solve), ``objective`` (tied MILP),
    ``train_loss`` and ``loss`` (untied forward-pass Hamming loss on every training point),
    ``train_accuracy``, ``validation_accuracy`` (None without validation data), ``warm_start``
    (whether the previous network was a feasible start; None on the first solve), ``stop``
    (why the run ends after this solve, else None) and ``seconds`` (elapsed).
    """

    name = "split"
    description = "iterative data splitting: cluster-tied MILPs, refined where the loss is (the paper's)"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Run the splitting loop on ``task`` and return the selected network."""
        t0 = time.perf_counter()
        params = SplitParams.parse(task.params)
        budget = task.budget()
        choice, best = self._start(task, params, budget)
        part = self._partition(task, params, choice)
        breaks, _ = symmetry_breaking(task)  # the backend's preference (cbc: off); no parameter here
        history = []
        if choice is not None:  # the start is the selection's first candidate: its scores too
            history.append({**choice.record(), "train_loss": best.train_loss,
                            "train_accuracy": best.train_accuracy,
                            "validation_accuracy": best.validation_accuracy})
        loop = _Loop(part, best, None if choice is None else choice.loss)
        self._loop(task, params, budget, breaks, loop, history)
        best = loop.best
        if choice is not None:
            history.append(choice.outcome(None if best is None else best.train_loss))
        if best is None:
            status = loop.solves[-1].status
        else:
            status = SolveStatus.OPTIMAL if best.train_loss <= 0 else SolveStatus.FEASIBLE
        return TrainingResult(
            network=None if best is None else best.network,
            status=status,
            solves=tuple(loop.solves),
            verification=None if best is None else best.verification,
            problem_size=loop.size,
            strategy=self.name,
            backend=task.backend.name,
            seconds=time.perf_counter() - t0,
            history=tuple(history),
        )

    # -- pieces ----------------------------------------------------------------------------
    @staticmethod
    def _start(task: TrainingTask, params: SplitParams, budget):
        """``(choice, evaluated)``: the best start on the untied problem, or ``(None, None)``.

        Only with ``start="ste"`` or a warm start; a start no better than the majority-class
        network is not used (the paper's one-cluster start then applies).
        """
        if params.start == "none" and task.warm_start is None:
            return None, None
        arch, data = task.architecture, task.data
        if large_problem(task):  # the start is checked by the forward pass, no full MILP built
            full = full_view(arch, data, task.formulation, task.eps)
        else:
            # the untied problem only checks and encodes the start (it is never solved): no
            # symmetry-breaking rows, which would reorder the start's neurons
            full = formulation.lower(arch, data, formulation=task.formulation, robust=task.robust,
                                     ties=task.ties, eps=task.eps, symmetry_breaking=False)
        choice = choose_start(full, task, start=params.start, start_seconds=params.start_seconds,
                              budget=budget, extra=[("trivial", trivial_network(arch, data))],
                              check=functools.partial(full_feasibility, full))
        if choice is None or choice.kind == "trivial":
            return None, None
        if is_view(full):
            check = forward_verification(full, choice.network)
        else:
            check = verify(full, choice.network, choice.x, full.problem.objective(choice.x))
        return choice, _evaluate(choice.network, check, data, task.validation)

    @staticmethod
    def _partition(task: TrainingTask, params: SplitParams, choice: StartChoice | None) -> _Partition:
        """The first clusters: the task's ties, refined by the start's activation patterns."""
        data = task.data
        labels = np.zeros(data.n_points) if task.ties is None else task.ties.cluster
        if choice is not None:
            acts = choice.network.forward(data.X, scaled=True).act
            labels = np.unique(np.column_stack([labels, *acts]), axis=0, return_inverse=True)[1].ravel()
        part = _Partition(ActivationTies.from_labels(labels).cluster, data.X)
        while part.n_clusters < params.initial_clusters and (c := part.choose(None)) is not None:
            part.split(c, params.splitter, data, task.options.seed)
        return part

    def _loop(self, task, params: SplitParams, budget, breaks: bool, loop: _Loop, history: list) -> None:
        """Solve, evaluate, keep the best, split; until a stop rule fires."""
        data, arch, seed = task.data, task.architecture, task.options.seed
        rng = np.random.default_rng(seed)
        prev, k = loop.best, 0
        while True:
            batch, ties = _batch(data, loop.part.cluster, params.batch_size, rng)
            lowering = lower(
                arch, batch, formulation=task.formulation, robust=task.robust, ties=ties, eps=task.eps,
                symmetry_breaking=breaks,
            )
            loop.size = lowering.problem.size_summary()
            warm = None
            if prev is not None:
                warm = bool(lowering.problem.violation(lowering.encode(prev.network)) <= 1e-9)
            first = task.warm_start if prev is None else prev.network
            start = mip_start(lowering, first, trivial_network(arch, batch))
            result, network, verification = solve_lowering(lowering, task, start, budget)
            loop.solves.append(result)
            current = None if network is None else _evaluate(network, verification, data, task.validation)
            loop.offer(current)
            stop, target = self._next(current, loop.part, k, params, budget)
            record = _record(k, loop.part, result, current, warm, stop, budget)
            history.append(record)
            report_iteration(self.name, k + 1, record)
            if stop is not None:
                break
            loop.part.split(target, params.splitter, data, seed)
            prev, k = current, k + 1

    @staticmethod
    def _next(current, part: _Partition, k: int, params: SplitParams, budget):
        """Why to stop after this solve (None: go on) and which cluster to split next."""
        if current is None:
            return "no solution", None
        if current.train_loss <= 0:
            return "zero training loss", None
        if k >= params.max_splits:
            return "max_splits reached", None
        if budget.exhausted():
            return "time budget exhausted", None
        target = part.choose(current.per_point_loss)
        if target is None:
            return "no cluster can be split", None
        return None, target
