"""``train``: the Python entry point below the estimator: names in, a TrainingResult out."""

from __future__ import annotations

import attrs
import numpy as np

from .._paths import check_output_path
from ..backends import (
    DEFAULT_BACKEND,
    BackendFeature,
    availability,
    check_solver_options,
    declared_features,
    supports,
)
from ..backends.results import SolveOptions
from ..errors import (
    BackendUnavailableError,
    BnnmipError,
    InvalidInputError,
    PluginError,
    UnsupportedProblemError,
)
from ..formulation import DEFAULT_FORMULATION, FORMULATIONS, lower
from ..heuristics.pattern_fit import polish
from ..heuristics.soft_margin import check_c, refit_if_better
from ..ir import ActivationTies, Architecture, RobustnessSet, TrainingSet
from ..network import BinarizedNetwork
from ..plugins.registry import get_backend, get_strategy, list_backends, owner
from .numerics import check_training_numerics
from .task import TrainingResult, TrainingTask
from .threads import numeric_threads

__all__ = ["MARGINS", "check_supported", "polish_margins", "resolve_backend", "soft_margins", "train"]

MARGINS = ("none", "max-min", "soft")
"""``margin`` choices: keep the solver's weights, refit them for the largest margins with the
same training predictions, or refit them for soft margins (a few training errors traded for
margin, :mod:`bnnmip.heuristics.soft_margin`)."""


def resolve_backend(name):
    """The backend called ``name``, checked usable (clear errors before any solve)."""
    backend = get_backend(name)
    ok, reason = availability(backend)
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
    formulation: str = DEFAULT_FORMULATION,
    robust: RobustnessSet | None = None,
    ties: ActivationTies | None = None,
    eps: float | None = None,
    warm_start: BinarizedNetwork | None = None,
    time_budget: float | None = None,
    validation: TrainingSet | None = None,
    params: dict | None = None,
    margin: str = "none",
    margin_c: float | None = None,
) -> TrainingResult:
    """Train ``architecture`` on (already scaled) ``data`` with a strategy and a backend.

    ``margin="max-min"`` refits the trained network's weights, with its activation pattern on
    the training points (and so its training loss) unchanged, so that every neuron separates
    the points it fires on from the others with the largest margin (:func:`polish_margins`).
    The strategy and the refits run with scikit-learn's, BLAS's and OpenMP's thread pools
    limited to ``options.threads`` (:func:`~bnnmip.training.threads.numeric_threads`).
    ``margin="soft"`` refits every row as an l1 soft-margin classifier with trade-off
    ``margin_c`` (default 1) on the network's own hidden representation
    (:func:`soft_margins`); with ``validation`` data the refit is kept only if it is more
    accurate there; it needs a continuous weight domain and no robustness set.

    Examples
    --------
    >>> import numpy as np, bnnmip
    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = np.array([0, 1, 1, 0])
    >>> arch = bnnmip.Architecture(n_inputs=2, hidden=(2,), n_classes=2)
    >>> result = bnnmip.train(arch, bnnmip.TrainingSet.from_arrays(X, y))
    >>> result.status.value, result.objective
    ('optimal', 0.0)
    """
    if margin not in MARGINS:
        raise InvalidInputError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    if margin_c is not None and margin != "soft":
        raise InvalidInputError(f"margin_c is the trade-off of margin='soft', but margin={margin!r}")
    if margin == "soft":
        _check_soft(architecture, robust, margin_c)
    _check_numerics(architecture, data, formulation, eps)
    if options is not None and options.log_file is not None:  # the backends would ignore it

        check_output_path(options.log_file, flag="log_file")
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
    check_supported(task)  # before the strategy's start runs
    check_solver_options(task.backend, task.options)
    with numeric_threads(task.options.threads):  # k-means, BLAS: no more threads than the solver's
        result = _run_strategy(get_strategy(strategy), task)
        if margin == "max-min":
            result = polish_margins(task, result)
        elif margin == "soft":
            result = soft_margins(task, result, C=margin_c)
    return result


def check_supported(task: TrainingTask) -> None:
    """Refuse, before any solve, what ``task.backend`` declares it cannot do.

    ``threads > 1`` needs :attr:`~bnnmip.backends.BackendFeature.THREADS`, a log file
    :attr:`~bnnmip.backends.BackendFeature.LOG_FILE`; a backend with a ``supports`` method is
    asked about the task's full training MILP (a strategy's smaller MILPs have the same
    kinds of columns and rows).

    Raises
    ------
    bnnmip.InvalidInputError
        For ``threads`` or a log file the backend does not declare.
    bnnmip.errors.UnsupportedProblemError
        If the backend refuses the problem; the message gives its reason and the backends
        that may take it.
    """
    backend, options = task.backend, task.options
    features = declared_features(backend)
    wanted = [(options.threads > 1, BackendFeature.THREADS, f"threads={options.threads}", "threads 1"),
              (options.log_file is not None, BackendFeature.LOG_FILE, "a log file", "no log file")]
    for asked, feature, what, fix in wanted:
        if asked and feature not in features:
            takers = [n for n, b in list_backends().items() if feature in b.features]
            raise InvalidInputError(
                f"backend {backend.name!r} does not declare {feature.value}, so it cannot honour "
                f"{what}; use {fix}, or a backend that does: {', '.join(takers) or 'none installed'}")
    if getattr(backend, "supports", None) is None:
        return
    lowering = lower(task.architecture, task.data, formulation=task.formulation, robust=task.robust,
                     ties=task.ties, eps=task.eps)
    ok, reason = supports(backend, lowering.problem, options)
    if not ok:
        others = [n for n, b in list_backends().items() if n != backend.name and availability(b)[0]
                  and supports(b, lowering.problem, options)[0]]
        raise UnsupportedProblemError(
            f"backend {backend.name!r} cannot solve this training problem: {reason}; use another "
            f"backend ({', '.join(others) or 'none installed takes it'}) or change the problem")


def _run_strategy(strategy, task: TrainingTask) -> TrainingResult:
    """``strategy.train(task)``, with a plugin's failure named (strategy, plugin, error)."""
    name = getattr(strategy, "name", repr(strategy))
    try:
        result = strategy.train(task)
    except BnnmipError:
        raise
    except Exception as exc:
        raise PluginError(f"strategy {name!r} (plugin {owner('strategy', name) or '-'!r}) failed: "
                          f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(result, TrainingResult):
        raise PluginError(f"strategy {name!r} (plugin {owner('strategy', name) or '-'!r}) returned "
                          f"{type(result).__name__}, not a bnnmip.TrainingResult")
    return result


def _check_numerics(architecture, data, formulation, eps) -> None:
    """Refuse sample weights and weight bounds the solvers' tolerances cannot represent."""
    module = FORMULATIONS.get(formulation)
    if module is None:
        return  # an unknown formulation is reported by the strategy, with the known names
    check_training_numerics(architecture, data, module.DEFAULT_EPS if eps is None else float(eps))


def _check_soft(architecture, robust, margin_c) -> None:
    """Clear errors, before any solve, for what the soft-margin refit does not do."""
    if architecture.weight_domain.is_integer:
        raise InvalidInputError(
            f"margin='soft' refits continuous weights, but the weight domain is "
            f"{architecture.weight_domain}; use margin='max-min' or margin='none'"
        )
    if robust is not None:
        raise InvalidInputError(
            "margin='soft' gives up training points, which would void the robustness guarantee; "
            "use margin='max-min' (it keeps it) or margin='none' for robust training"
        )
    if margin_c is not None:
        check_c(margin_c, "margin_c")


def soft_margins(task: TrainingTask, result: TrainingResult, C: float | None = None) -> TrainingResult:
    """``result`` with its network refitted for soft margins (:func:`~bnnmip.heuristics.soft_refit`).

    With validation data in ``task`` the refit replaces the trained network only if its
    validation accuracy is higher (ties keep the trained network, whose training loss the
    solver certified). Otherwise it always replaces it. Either way a record is appended to
    ``result.history`` (``margin="soft"``, ``C``, training loss and validation accuracy
    before and after, ``kept``: whether the refit is the returned network). When it is, the
    trained network stays available as ``result.solver_network`` and ``result.verification``
    still describes that network against the MILP; ``result.loss`` is the refit's training
    loss.
    """
    net = result.network
    if net is None:
        return result
    chosen, record = refit_if_better(net, task.data, validation=task.validation, C=C,
                                     bias=task.architecture.bias)
    history = (*result.history, record)
    if not record["kept"]:
        return attrs.evolve(result, history=history)
    return attrs.evolve(result, network=chosen, solver_network=net, history=history)


def polish_margins(task: TrainingTask, result: TrainingResult) -> TrainingResult:
    """``result`` with its network refitted for the largest margins (same training pattern).

    One LP per neuron (:func:`bnnmip.heuristics.pattern_fit.polish`) inside the formulation's weight and
    bias boxes. The training loss is checked unchanged; if the pattern cannot be refitted
    (a robust network whose pattern is only feasible at a smaller radius, say) or the check
    fails, the network is kept as it was. A record is appended to ``result.history``.
    """
    net = result.network
    if net is None:
        return result
    module = FORMULATIONS[task.formulation]
    data, arch = task.data, task.architecture
    eps = module.DEFAULT_EPS if task.eps is None else float(task.eps)
    radius = 0.0 if task.robust is None else task.robust.radius
    boxes = module.bias_bounds(arch, data.X, radius, eps)
    fit = polish(net, arch, data.X, eps=eps, bias_bounds=boxes, robust_radius=radius)
    before = float(min(np.abs(t).min() for t in net.forward(data.X, scaled=True).pre))
    record = {"margin": "max-min", "min_margin_before": before, "realized": fit.realized}
    if fit.realized:
        new = fit.network
        loss = new.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
        old = net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
        if abs(loss - old) <= 1e-9 * max(1.0, old):
            after = float(min(np.abs(t).min() for t in new.forward(data.X, scaled=True).pre))
            record.update(min_margin_after=after, seconds=round(fit.seconds, 3))
            verification = result.verification
            if verification is not None:
                verification = attrs.evolve(verification, min_margin=after)
            return attrs.evolve(result, network=new, verification=verification,
                                history=(*result.history, record))
        record["realized"] = False
    return attrs.evolve(result, history=(*result.history, record))
