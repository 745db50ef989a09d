"""Reference instances with known optima, for bnnmip's tests and for any plugin's.

Every instance here is small enough to be solved to proven optimality in seconds on one
thread, and its optimum is known by construction (a teacher network that fits the data
exactly has loss 0) or by hand (XOR without a hidden layer).
"""

from __future__ import annotations

import attrs
import numpy as np

from .ir import ActivationTies, Architecture, RobustnessSet, TrainingSet, WeightDomain
from .network import BinarizedNetwork

__all__ = [
    "CONFORMANCE_CHECKS",
    "fake_distribution",
    "ReferenceInstance",
    "hard_instance",
    "infeasible_problem",
    "random_teacher",
    "reference_instances",
    "xor",
]


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
        from .formulation import lower

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
) -> tuple[BinarizedNetwork, TrainingSet]:
    """A random network and points in [0, 1]^n that it labels with margin.

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
    }.items():
        net, data = random_teacher(n, hidden, k, m, seed=seed, weight_domain=domain)
        arch = Architecture(n, hidden, k, weight_domain=domain)
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


def fake_distribution(root, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed-looking distribution with ``bnnmip`` entry points into ``root``.

    Put ``root`` on ``sys.path`` (and ``PYTHONPATH`` for child processes) and rebuild the
    plugin manager: the entry points then load exactly as a pip-installed plugin's would.
    ``modules`` maps module names to their (dedented) source.
    """
    import textwrap
    from pathlib import Path

    root = Path(root)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[bnnmip]\n{eps}\n")
    for mod, source in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(source))


# ---------------------------------------------------------------------------------------------
# Backend conformance suite: every check takes a backend object and raises AssertionError.
# A plugin runs it against itself with
#
#     @pytest.mark.parametrize("check", bnnmip.testing.CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
#     def test_conformance(check):
#         check(MyBackend())
# ---------------------------------------------------------------------------------------------

_OPTIONS = dict(threads=1, seed=0, time_limit=60.0)


def _options(**kw):
    from .result import SolveOptions

    return SolveOptions(**{**_OPTIONS, **kw})


def infeasible_problem():
    """``0 <= x <= 1`` integer with the row ``x >= 2``: infeasible."""
    import scipy.sparse as sp

    from .milp import MilpProblem

    return MilpProblem(
        c=np.array([1.0, 0.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0]])),
        row_lower=np.array([3.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(2),
        col_upper=np.ones(2),
        integrality=np.array([True, False]),
        name="infeasible",
    )


def hard_instance(n_points: int = 300, seed: int = 0, backend=None):
    """Random labels on many points: no backend proves its optimum within a second.

    A backend with ``size_limits = (max_columns, max_rows)`` (a size-limited licence) gets
    the largest instance of this family that fits.
    """
    from .formulation import lower

    limits = getattr(backend, "size_limits", None)
    if limits is not None:
        # 14 m + 54 columns and 44 m rows for 10 inputs, 4 hidden, 2 classes (+1 spare each)
        n_points = max(8, min(n_points, (limits[0] - 56) // 14, (limits[1] - 1) // 44))
    rng = np.random.default_rng(seed)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (n_points, 10)), rng.integers(0, 2, n_points))
    return lower(Architecture(10, (4,), 2), data)


def check_reference_optima(backend) -> None:
    """Every reference instance reaches its known optimum, proven, every field filled."""
    from .backend import solve
    from .result import SolveStatus
    from .verify import verify

    for inst in reference_instances():
        low = inst.lower()
        res = solve(backend, low.problem, _options())
        assert res.status is SolveStatus.OPTIMAL, f"{inst.name}: {res.status} {res.message}"
        assert abs(res.objective - inst.optimum) <= 1e-6, f"{inst.name}: {res.objective}"
        assert res.bound is not None and res.bound <= res.objective + 1e-6, inst.name
        assert res.gap is not None and res.gap <= 1e-4 + 1e-9, inst.name
        assert res.nodes is not None and res.nodes >= 0, inst.name
        assert res.backend == backend.name and res.solver_version, inst.name
        assert res.build_seconds >= 0 and res.solve_seconds >= 0, inst.name
        assert res.x is not None and res.x.shape == (low.problem.n_cols,), inst.name
        assert low.problem.violation(res.x) <= 1e-5, f"{inst.name}: solution violates the MILP"
        report = verify(low, low.decode(res.x), res.x, res.objective)
        assert report.ok, f"{inst.name}: {report.describe()}"


def check_infeasible(backend) -> None:
    """An infeasible problem is reported INFEASIBLE, without a solution."""
    from .backend import solve
    from .result import SolveStatus

    res = solve(backend, infeasible_problem(), _options())
    assert res.status is SolveStatus.INFEASIBLE, f"{res.status}: {res.message}"
    assert res.x is None and res.objective is None


def check_time_limit(backend) -> None:
    """A time-limited solve is never OPTIMAL and stops near its limit."""
    from .backend import solve
    from .result import SolveStatus

    low = hard_instance(backend=backend)
    res = solve(backend, low.problem, _options(time_limit=1.0))
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION), f"{res.status}"
    assert res.solve_seconds <= 1.0 + 15.0, f"ran {res.solve_seconds:.1f} s past a 1 s limit"
    if res.status is SolveStatus.FEASIBLE:
        assert res.x is not None and res.objective is not None
        assert res.bound is None or res.bound <= res.objective + 1e-6
        assert low.problem.violation(res.x) <= 1e-5


def check_mip_start(backend) -> None:
    """A feasible full start is accepted (or its rejection reported) and never worsens the result."""
    from .backend import BackendFeature, solve
    from .formulation import lower
    from .result import SolveStatus

    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    start = low.encode(net)
    res = solve(backend, low.problem, _options(mip_start=start))
    assert res.status is SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6
    if BackendFeature.MIP_START in backend.features:
        assert res.mip_start_used is True, "declared MIP_START but reported the start unused"
    else:
        assert res.mip_start_used in (False, None)
    # a limited solve from a start keeps at least the start's quality
    hard = hard_instance(seed=1, backend=backend)
    from .strategies import trivial_network

    x0 = hard.encode(trivial_network(hard.architecture, hard.data))
    limited = solve(backend, hard.problem, _options(time_limit=1.0, mip_start=x0))
    if BackendFeature.MIP_START in backend.features:
        assert limited.status is SolveStatus.FEASIBLE or limited.status is SolveStatus.OPTIMAL
        assert limited.objective <= hard.problem.objective(x0) + 1e-6


def check_partial_mip_start(backend) -> None:
    """A partial start (weights only, NaN elsewhere) is completed or its rejection reported."""
    from .backend import BackendFeature, solve
    from .formulation import lower
    from .result import SolveStatus

    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    res = solve(backend, low.problem, _options(mip_start=low.encode(net, partial=True)))
    assert res.status is SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6
    if BackendFeature.PARTIAL_MIP_START not in backend.features:
        assert res.mip_start_used in (False, None)


def check_log_file(backend) -> None:
    """With LOG_FILE declared, a log file is written; quiet solves print nothing themselves."""
    import tempfile
    from pathlib import Path

    from .backend import BackendFeature, solve

    if BackendFeature.LOG_FILE not in backend.features:
        return
    low = xor().lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "solver.log"
        solve(backend, low.problem, _options(log_file=path))
        assert path.exists() and path.stat().st_size > 0, "no log written"


def check_seeds_agree(backend) -> None:
    """Different seeds may find different networks but the same proven optimum."""
    from .backend import solve
    from .formulation import lower

    net, data = random_teacher(3, (2,), 3, 12, seed=2)
    low = lower(Architecture(3, (2,), 3), data)
    objectives = {round(solve(backend, low.problem, _options(seed=s)).objective, 6) for s in (1, 2)}
    assert objectives == {0.0}


def check_heuristic_callback(backend) -> None:
    """With CALLBACKS declared, the heuristic is called during the search.

    It sees incumbents, a better solution it returns is taken, and an exception in it does
    not take the solve down.
    """
    from .backend import BackendFeature, solve
    from .pattern_fit import polish
    from .result import SolveStatus
    from .ste import ste_network
    from .strategies import trivial_network

    if BackendFeature.CALLBACKS not in backend.features:
        return
    hard = hard_instance(n_points=120, seed=2, backend=backend)
    x0 = hard.encode(trivial_network(hard.architecture, hard.data))
    fit = polish(ste_network(hard.architecture, hard.data, seed=0), hard.architecture, hard.data.X,
                 eps=hard.eps, bias_bounds=hard.bias_bounds())
    assert fit.realized
    better = hard.encode(fit.network)
    assert hard.problem.violation(better) <= 1e-9
    target = hard.problem.objective(better)
    assert target < hard.problem.objective(x0) - 10

    seen = []

    def heuristic(x):
        seen.append(hard.problem.objective(x))
        return better if len(seen) == 1 else None

    res = solve(backend, hard.problem, _options(time_limit=2.0, mip_start=x0, heuristic=heuristic))
    assert seen, "declared CALLBACKS but never called the heuristic"
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert res.objective <= target + 1e-6, "the heuristic's better solution was not taken"

    calls = []

    def broken(x):
        calls.append(1)
        raise ValueError("boom")

    res = solve(backend, hard.problem, _options(time_limit=2.0, mip_start=x0, heuristic=broken))
    assert calls and res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert "ValueError: boom" in res.message and len(calls) == 1


def check_unknown_solver_option(backend) -> None:
    """A solver option the backend cannot apply is refused by name before anything runs.

    With SOLVER_OPTIONS declared the backend's ``check_solver_options`` refuses a name no
    solver has; without it, any solver option is refused.
    """
    from .backend import BackendFeature, solve
    from .errors import InvalidInputError

    name = "bnnmip_no_such_parameter"
    if BackendFeature.SOLVER_OPTIONS in backend.features:
        assert callable(getattr(backend, "check_solver_options", None)), (
            "declared SOLVER_OPTIONS but has no check_solver_options method")
        assert backend.check_solver_options({}) in ({}, [], None, ())
    try:
        solve(backend, xor().lower().problem, _options(solver_options={name: 1}))
    except InvalidInputError as exc:
        assert name in str(exc), f"the refusal does not name the option: {exc}"
    else:
        raise AssertionError(f"an unknown solver option {name!r} was not refused")


CONFORMANCE_CHECKS = (
    check_reference_optima,
    check_infeasible,
    check_time_limit,
    check_mip_start,
    check_partial_mip_start,
    check_log_file,
    check_seeds_agree,
    check_heuristic_callback,
    check_unknown_solver_option,
)
"""Every conformance check, in order; each takes a backend object."""
