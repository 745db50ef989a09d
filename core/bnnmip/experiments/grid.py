"""The experiment grid: which cells to run, each a plain configuration with a stable key.

A :class:`Grid` is the cross product of its axes (data sets x formulations x strategies x
backends x seeds x time limits x time budgets x hidden widths x weight domains x robust radii x
strategy parameters), plus one baseline cell per data set, seed and hidden widths for each
baseline model (:data:`BASELINES`: ``"mlp-tuned"``, a same-width ReLU MLP tuned on the
validation part; ``"logistic"``; ``"gradient"``, the gradient-trained binarized network
``exact`` starts from, one cell per formulation, weight domain and robust radius; ``"mlp"``,
one Adam run, kept for old stores). Every
cell is a JSON-serialisable dict (:meth:`Grid.cells`); its key (:func:`cell_key`) is a hash
of that dict, so the same configuration has the same key in every run, on every executor.

Grids come from TOML (:func:`load_grid`, see ``docs/experiments.md``) or from keyword
arguments (``Grid(datasets=["iris"], backends=["highs", "scip"], seeds=[0, 1, 2])``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..backends import DEFAULT_BACKEND, check_solver_options
from ..backends.results import SolveOptions
from ..datasets import _as_name, list_datasets
from ..errors import InvalidInputError, UnknownNameError
from ..formulation import DEFAULT_FORMULATION, FORMULATIONS
from ..ir import WeightDomain
from ..plugins.registry import list_backends, list_strategies
from ..strategies.exact import _check_params as _check_exact_params
from ..strategies.local_search import _check_params as _check_local_search_params
from ..strategies.split import SplitParams

__all__ = ["BASELINES", "SCHEMA", "Grid", "cell_key", "cell_label", "load_grid", "watchdog_limits"]

SCHEMA = 1
"""Version of the cell configuration layout (part of every key)."""

BASELINES = ("mlp-tuned", "logistic", "gradient", "mlp")
"""Baseline models a grid may add next to the BDNN cells.

``mlp-tuned``: a same-width ReLU ``MLPClassifier`` over ``lbfgs`` and ``adam``, the L2 penalties
of :data:`bnnmip.baselines.ALPHAS` and 3 restarts, chosen on the cell's validation part
(:func:`bnnmip.baselines.mlp_baseline`); ``logistic``: ``LogisticRegression`` with ``C``
chosen there (:func:`bnnmip.baselines.logistic_baseline`); ``gradient``: the binarized network
the ``exact`` strategy hands its solver as a start (:func:`bnnmip.strategies._common.gradient_start`:
straight-through gradient descent, refitted to the formulation's margins), with no MILP;
``mlp``: one Adam run with ``random_state = seed`` (the weak baseline of older stores; its cells
keep their keys).
"""

BASELINE_PARAMS = {
    "mlp-tuned": {"solvers": ["lbfgs", "adam"], "alphas": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                  "restarts": 3, "max_iter": 2000},
    "logistic": {"cs": [0.01, 0.1, 1.0, 10.0, 100.0], "max_iter": 5000},  # logistic_baseline's max_iter
    "gradient": {"start_seconds": 5.0},
}
"""The settings recorded in (and keying) the cells of the new baselines (``mlp``: ``mlp_params``).

``gradient``'s ``start_seconds`` is the ``exact`` strategy's default (``min`` with a quarter of
the grid's smallest time budget, as ``exact`` takes it), or ``strategy_params.exact.start_seconds``
when the grid sets one value.
"""

MLP_DEFAULTS = {"max_iter": 2000}
"""MLPClassifier settings of the ``mlp`` baseline (as in ``benchmarks/strategies.py``)."""

MLP_ALLOWANCE = 600.0
"""Seconds the watchdog allows an ``mlp`` baseline fit (it has no time limit of its own)."""

STARTUP_ALLOWANCE = 120.0
"""Seconds a worker process may take to start (imports) before the watchdog counts it hung."""

_AXES = {
    "datasets", "backends", "strategies", "formulations", "seeds", "time_limits", "time_budgets",
    "hidden", "weight_domains", "robust_radii", "strategy_params", "baselines", "certify_radii",
    "max_points", "mip_gap", "test_fraction", "validation_fraction", "validation_strategies",
    "bdnn", "mlp_params", "solver_options", "baseline_params",
}


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_key(config: Mapping[str, Any]) -> str:
    """The stable key of a cell: the first 16 hex digits of the SHA-256 of its canonical JSON."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def data_file_digest(name: str) -> str | None:
    """SHA-256 of a CSV data set's contents; ``None`` for a bundled name or a missing file.

    Part of every cell's configuration (``data_sha256``) for CSV data sets, so editing the file
    gives its cells new keys: ``compare`` never reuses results of other data.
    """
    if _as_name(name) is not None:
        return None
    path = Path(name).expanduser()
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def dataset_name(name: str) -> str:
    """A data set as a cell records it: bundled names as given, paths normalised.

    ``./g.csv`` and ``g.csv`` are the same file, so they make the same cells.
    """
    name = name.strip()
    if _as_name(name) is not None:
        return name
    return os.path.normpath(os.path.expanduser(name))


def check_strategy_params(strategy: str, params: Mapping[str, Any]) -> None:
    """Refuse unknown keys and bad values of a built-in strategy's parameters before any cell runs.

    ``exact``, ``local_search`` and ``split`` check them as their ``train`` would; another
    strategy is asked through its ``check_params(params)`` method if it has one.
    """
    builtin = {"exact": _check_exact_params, "local_search": _check_local_search_params,
               "split": SplitParams.parse}
    check = builtin.get(strategy) or getattr(list_strategies().get(strategy), "check_params", None)
    if check is not None:
        check(dict(params))


def cell_label(config: Mapping[str, Any]) -> str:
    """A short human-readable name of a cell (for progress lines)."""
    hidden = "x".join(str(w) for w in config["hidden"]) or "0"
    parts = [config["dataset"], f"seed={config['seed']}", f"hidden={hidden}"]
    if config["model"] == "bdnn":
        parts[1:1] = [config["backend"], config["strategy"]]
        if config["formulation"] != DEFAULT_FORMULATION:
            parts.append(config["formulation"])
        parts.append(f"limit={config['time_limit']:g}s")
        if config["robust_radius"]:
            parts.append(f"r={config['robust_radius']:g}")
        parts += [f"{k}={v}" for k, v in (config.get("solver_options") or {}).items()]
    else:
        parts.insert(1, config["model"])
        if config.get("formulation"):  # gradient: one cell per formulation
            parts.append(config["formulation"])
    return " ".join(parts)


def watchdog_limits(config: Mapping[str, Any]) -> dict[str, float | None]:
    """Seconds each phase of a cell may take before the grace period starts.

    ``fit``: the time budget plus one solve's limit (no run overshoots its budget by more than
    one solve's limit), or, without a budget, one solve's limit counted from the start of the
    fit and again from every strategy iteration (``rolling``). ``evaluate``: one time limit per
    certified radius (certification's per-point limit is the cell's time limit).
    """
    if config["model"] != "bdnn":
        return {"fit": MLP_ALLOWANCE, "rolling": None, "evaluate": 0.0}
    limit = float(config["time_limit"])
    budget = config["time_budget"]
    fit = limit + float(budget) if budget is not None else limit
    return {
        "fit": fit,
        "rolling": None if budget is not None else limit,
        "evaluate": limit * len(config["certify_radii"]),
    }


# -- normalisation ------------------------------------------------------------------------------


def _as_list(name: str, value) -> list:
    if value is None:
        return []
    if isinstance(value, str | int | float | Mapping):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise InvalidInputError(f"grid: {name} must be a list, got {value!r}") from None


def _floats(name: str, value, *, positive: bool = False, allow_none: bool = False) -> list:
    out = []
    for v in _as_list(name, value):
        if v is None or (isinstance(v, str) and v.strip().lower() in ("none", "null", "")):
            if not allow_none:
                raise InvalidInputError(f"grid: {name} may not contain None")
            out.append(None)
            continue
        if isinstance(v, bool):
            raise InvalidInputError(f"grid: {name} must hold numbers, got {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(f"grid: {name} must hold numbers, got {v!r}") from None
        if not math.isfinite(f) or f < 0 or (positive and f <= 0):
            kind = "positive" if positive else "non-negative"
            raise InvalidInputError(f"grid: {name} must hold finite {kind} numbers, got {v!r}")
        out.append(f)
    return out


def _seeds(value) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise InvalidInputError(f"grid: seeds = N means seeds 0..N-1; N must be >= 1, got {value}")
        return list(range(value))
    out = []
    for v in _as_list("seeds", value):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**31:
            raise InvalidInputError(f"grid: seeds must be integers in [0, 2**31), got {v!r}")
        out.append(int(v))
    return out


def parse_hidden(value) -> tuple[int, ...]:
    """One architecture's hidden widths from ``[4, 2]``, ``4``, ``"4,2"``, ``"4x2"`` or ``"0"``."""
    if isinstance(value, bool):
        raise InvalidInputError(f"grid: hidden widths must be integers, got {value!r}")
    if isinstance(value, int):
        widths = [value] if value else []
    elif isinstance(value, str):
        text = value.strip().lower().replace("x", ",")
        if text in ("", "0", "none", "()"):
            widths = []
        else:
            try:
                widths = [int(part) for part in text.split(",") if part.strip()]
            except ValueError:
                raise InvalidInputError(
                    f"grid: hidden widths {value!r} are not integers; write e.g. 4 or 4,2"
                ) from None
    else:
        widths = list(value)
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise InvalidInputError(f"grid: hidden widths must be positive integers, got {value!r}")
    return tuple(int(w) for w in widths)


def _hidden_axis(value) -> list[tuple[int, ...]]:
    if isinstance(value, int | str):
        return [parse_hidden(value)]
    # [2, 4] is two one-layer architectures; [[4, 2]] is one with two hidden layers
    return _dedupe([parse_hidden(v) for v in _as_list("hidden", value)])


def _tables_axis(field: str, owner: str, example: str, value) -> dict[str, list[dict]]:
    """``{owner name: [table, ...]}`` from a table or a list of tables per name."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"grid: {field} must map {owner} names to a table of settings (or a list of tables, "
            f"one per grid value), e.g. {example}"
        )
    out = {}
    for name, tables in value.items():
        options = [tables] if isinstance(tables, Mapping) else _as_list(f"{field}.{name}", tables)
        for opt in options:
            if not isinstance(opt, Mapping):
                raise InvalidInputError(f"grid: {field}.{name} must be a table, got {opt!r}")
        out[str(name)] = [json.loads(json.dumps(dict(opt), sort_keys=True)) for opt in options] or [{}]
    return out


def _params_axis(strategy_params) -> dict[str, list[dict]]:
    return _tables_axis("strategy_params", "strategy", "{split = {max_splits = 20}}", strategy_params)


def _solver_options_axis(solver_options) -> dict[str, list[dict]]:
    out = _tables_axis("solver_options", "backend",
                       '{scip = {"separating/maxrounds" = 0}}', solver_options)
    for name, tables in out.items():
        for table in tables:
            try:
                SolveOptions(solver_options=table)
            except InvalidInputError as exc:
                raise InvalidInputError(f"grid: solver_options.{name}: {exc}") from None
    return out


def _datasets(value) -> list[dict]:
    out = []
    for v in _as_list("datasets", value):
        if isinstance(v, str):
            if not v.strip():
                raise InvalidInputError("grid: a data set name is empty")
            out.append({"name": v.strip(), "max_points": None, "label": None, "hidden": None})
        elif isinstance(v, Mapping):
            unknown = set(v) - {"name", "max_points", "label", "hidden"}
            if "name" not in v or unknown:
                raise InvalidInputError(
                    "grid: a data set table needs 'name' and may have 'max_points', 'label' and "
                    f"'hidden'; got {dict(v)!r}"
                )
            hidden = _hidden_axis(v["hidden"]) if v.get("hidden") is not None else None
            out.append({"name": str(v["name"]), "max_points": v.get("max_points"),
                        "label": v.get("label"), "hidden": hidden})
        else:
            raise InvalidInputError(f"grid: data sets are names, paths or tables; got {v!r}")
    return out


def _strings(name: str, value) -> list[str]:
    out = []
    for v in _as_list(name, value):
        if not isinstance(v, str) or not v.strip():
            raise InvalidInputError(f"grid: {name} must hold names, got {v!r}")
        out.append(v.strip())
    return out


def _baselines(value) -> list[str]:
    """Baseline names from a list, one name or comma-separated names, without duplicates."""
    return _dedupe([part.strip() for name in _strings("baselines", value)
                    for part in name.split(",") if part.strip()])


def _dedupe(items: list) -> list:
    seen, out = set(), []
    for item in items:
        marker = json.dumps(item, sort_keys=True)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


# -- the grid ---------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class Grid:
    """An experiment grid. Every list is an axis of the cross product.

    Parameters
    ----------
    datasets : list
        Bundled data set names or CSV paths, or tables ``{name, max_points, label, hidden}``
        (``hidden`` there replaces the grid's hidden widths for that data set).
    backends, strategies, formulations : list of str
        Defaults ``[DEFAULT_BACKEND]`` (``"highs"``), ``["exact"]``, ``[DEFAULT_FORMULATION]`` (``"tight"``).
    seeds : list of int or int
        Seeds of the split and the solver; an int ``N`` means ``0..N-1``. Default ``[0]``.
    time_limits : list of float
        Seconds per solve. Default ``[60]``.
    time_budgets : list of float or None
        Seconds per training run, shared by all of a strategy's solves (``None``: no budget).
    hidden : list
        Hidden widths, one architecture per entry (``[[2], [4, 2]]``, ``["2", "4,2"]``).
    weight_domains : list of str
        ``continuous``, ``ternary``, ``integer:P``.
    robust_radii : list of float
        Robust training radii (scaled units); ``0`` for plain training.
    strategy_params : dict
        Per strategy name, a table of settings or a list of tables (an axis).
    solver_options : dict
        Per backend name, a table of the solver's own parameters or a list of tables (an
        axis), e.g. ``{scip = [{}, {"separating/maxrounds" = 0}]}``: checked by the backend
        before any cell runs (:meth:`validate_names`), recorded in a cell's configuration only
        when not empty.
    baselines : list of str
        Baseline models added per data set, seed and widths (:data:`BASELINES`):
        ``"mlp-tuned"``, ``"logistic"``, ``"gradient"`` (one per formulation, weight domain and
        robust radius), ``"mlp"`` (the old single Adam run). ``"mlp-tuned,logistic"`` works too.
    certify_radii : list of float
        Radii at which to certify the test accuracy of every BDNN cell; empty means the cell's
        robust radius when it is positive, else no certification.
    max_points : int or None
        Draw this many points (stratified, by the cell's seed) before the protocol's split.
    mip_gap : float
        Relative MIP gap.
    test_fraction, validation_fraction : float
        The protocol's split (default 0.25 and 0.25: 50/25/25).
    validation_strategies : list of str
        Strategies that get the validation part for model selection (default ``["split"]``):
        they train on train + validation and hold the validation part out themselves.
    bdnn : bool
        Whether to include the BDNN cells (``False``: baselines only).
    baseline_params : dict
        Per new baseline name, settings that replace :data:`BASELINE_PARAMS`' (e.g.
        ``{"mlp-tuned" = {restarts = 5}}``); they are part of the cells' keys.
    mlp_params : dict
        ``MLPClassifier`` settings of the ``mlp`` baseline (default ``{"max_iter": 2000}``;
        ``hidden_layer_sizes`` and ``random_state`` come from the cell).
    """

    datasets: list = attrs.field(converter=_datasets)
    backends: list = attrs.field(
        factory=lambda: [DEFAULT_BACKEND], converter=lambda v: _strings("backends", v)
    )
    strategies: list = attrs.field(
        factory=lambda: ["exact"], converter=lambda v: _strings("strategies", v)
    )
    formulations: list = attrs.field(
        factory=lambda: [DEFAULT_FORMULATION], converter=lambda v: _strings("formulations", v)
    )
    seeds: list = attrs.field(factory=lambda: [0], converter=_seeds)
    time_limits: list = attrs.field(
        factory=lambda: [60.0], converter=lambda v: _floats("time_limits", v, positive=True)
    )
    time_budgets: list = attrs.field(
        factory=lambda: [None],
        converter=lambda v: _floats("time_budgets", v, positive=True, allow_none=True) or [None],
    )
    hidden: list = attrs.field(factory=lambda: [(2,)], converter=_hidden_axis)
    weight_domains: list = attrs.field(
        factory=lambda: ["continuous"], converter=lambda v: _strings("weight_domains", v)
    )
    robust_radii: list = attrs.field(
        factory=lambda: [0.0], converter=lambda v: _floats("robust_radii", v) or [0.0]
    )
    strategy_params: dict = attrs.field(factory=dict, converter=_params_axis)
    solver_options: dict = attrs.field(factory=dict, converter=_solver_options_axis)
    baselines: list = attrs.field(factory=list, converter=lambda v: _baselines(v))
    certify_radii: list = attrs.field(factory=list, converter=lambda v: _floats("certify_radii", v))
    max_points: int | None = None
    mip_gap: float = attrs.field(default=1e-4, converter=float)
    test_fraction: float = attrs.field(default=0.25, converter=float)
    validation_fraction: float = attrs.field(default=0.25, converter=float)
    validation_strategies: list = attrs.field(
        factory=lambda: ["split"], converter=lambda v: _strings("validation_strategies", v)
    )
    bdnn: bool = True
    mlp_params: dict = attrs.field(factory=lambda: dict(MLP_DEFAULTS))
    baseline_params: dict = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        for name in ("datasets", "backends", "strategies", "formulations", "seeds", "time_limits",
                     "hidden", "weight_domains"):
            if self.bdnn or name in ("datasets", "seeds", "hidden"):
                if not getattr(self, name):
                    raise InvalidInputError(f"grid: {name} is empty; give at least one value")
        for b in self.baselines:
            if b not in BASELINES:
                raise InvalidInputError(
                    f"grid: unknown baseline {b!r}; available: {', '.join(BASELINES)}"
                )
        if not self.bdnn and not self.baselines:
            raise InvalidInputError("grid: bdnn = false and no baselines: the grid has no cells")
        if not (0 < self.test_fraction < 1 and 0 < self.validation_fraction < 1
                and self.test_fraction + self.validation_fraction < 1):
            raise InvalidInputError(
                "grid: test_fraction and validation_fraction must be in (0, 1) with a sum below 1 "
                f"(got {self.test_fraction} and {self.validation_fraction})"
            )
        if not (math.isfinite(self.mip_gap) and self.mip_gap >= 0):
            raise InvalidInputError(f"grid: mip_gap must be >= 0, got {self.mip_gap}")
        self.max_points = _max_points(self.max_points)
        for ds in self.datasets:
            ds["max_points"] = _max_points(ds["max_points"]) if ds["max_points"] is not None else None

        self.weight_domains = [str(WeightDomain.parse(w)) for w in self.weight_domains]
        if not isinstance(self.mlp_params, Mapping) or {"hidden_layer_sizes", "random_state"} & set(
            self.mlp_params
        ):
            raise InvalidInputError(
                "grid: mlp_params must be a table of MLPClassifier settings other than "
                "hidden_layer_sizes and random_state (they come from the cell)"
            )
        self.mlp_params = json.loads(json.dumps(dict(self.mlp_params), sort_keys=True))
        self.baseline_params = _baseline_params(self.baseline_params)
        for field, kind, names in (("strategy_params", "strategies", self.strategies),
                                   ("solver_options", "backends", self.backends)):
            unknown = set(getattr(self, field)) - set(names)
            if unknown:
                raise InvalidInputError(
                    f"grid: {field} for {', '.join(sorted(unknown))}, which is not among the "
                    f"{kind} ({', '.join(names)})"
                )

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Grid:
        """A grid from a plain mapping (the ``[grid]`` table of a TOML file, or the file itself)."""
        data = dict(data.get("grid", data))
        unknown = set(data) - _AXES
        if unknown:
            raise InvalidInputError(
                f"grid: unknown setting(s) {', '.join(sorted(unknown))}; known: "
                f"{', '.join(sorted(_AXES))}"
            )
        if "datasets" not in data:
            raise InvalidInputError("grid: datasets is missing; give at least one data set")
        return cls(**data)

    def validate_names(self) -> None:
        """Check backends, strategies, formulations, data sets and baselines exist here.

        Raises :class:`bnnmip.UnknownNameError` / :class:`bnnmip.InvalidInputError` before any
        cell runs (a typo should not cost a grid's worth of crashed cells); solver options are
        checked by their backends (where the backend can run here).
        """
        if self.bdnn:
            for kind, names, known in (
                ("backend", self.backends, list_backends()),
                ("strategy", self.strategies, list_strategies()),
                ("formulation", self.formulations, FORMULATIONS),
            ):
                for name in names:
                    if name not in known:
                        raise UnknownNameError(
                            f"grid: unknown {kind} {name!r}; available: {', '.join(known) or 'none'}"
                        )
            for strategy, tables in self.strategy_params.items():
                for table in tables:
                    try:
                        check_strategy_params(strategy, table)
                    except InvalidInputError as exc:
                        raise InvalidInputError(f"grid: strategy_params.{strategy}: {exc}") from None

            for name, tables in self.solver_options.items():
                for table in tables:
                    try:
                        check_solver_options(list_backends()[name], SolveOptions(solver_options=table))
                    except InvalidInputError as exc:
                        raise InvalidInputError(f"grid: solver_options.{name}: {exc}") from None
        bundled = {n.replace("_", "-").lower() for n in list_datasets()}
        for ds in self.datasets:
            name = ds["name"]
            known = name.strip().lower().replace("_", "-") in bundled
            if not known and not Path(name).expanduser().is_file():
                raise InvalidInputError(
                    f"grid: data set {name!r} is neither a bundled name ({', '.join(sorted(bundled))}) "
                    "nor a CSV file"
                )

    # -- the cells ------------------------------------------------------------------------------
    def cells(self) -> list[dict]:
        """Every cell's configuration, in a deterministic order, without duplicates."""
        out = []
        per_dataset = [(ds, hidden) for ds in self.datasets for hidden in (ds["hidden"] or self.hidden)]
        digests = {ds["name"]: data_file_digest(ds["name"]) for ds in self.datasets}
        for (ds, hidden), seed in itertools.product(per_dataset, self.seeds):
            digest = digests[ds["name"]]
            common = {
                "schema": SCHEMA,
                "dataset": dataset_name(ds["name"]),
                **({"data_sha256": digest} if digest is not None else {}),
                "label": ds["label"],
                "max_points": ds["max_points"] if ds["max_points"] is not None else self.max_points,
                "seed": seed,
                "test_fraction": self.test_fraction,
                "validation_fraction": self.validation_fraction,
                "hidden": list(hidden),
                "threads": 1,
            }
            if self.bdnn:
                for (fmt, strategy, backend, limit, budget, domain, radius) in itertools.product(
                    self.formulations, self.strategies, self.backends, self.time_limits,
                    self.time_budgets, self.weight_domains, self.robust_radii,
                ):
                    for params, options in itertools.product(
                        self.strategy_params.get(strategy, [{}]), self.solver_options.get(backend, [{}])
                    ):
                        certify = self.certify_radii or ([radius] if radius > 0 else [])
                        # only a cell with solver options records them: the keys of others stay
                        extra = {"solver_options": options} if options else {}
                        out.append({
                            **common,
                            "model": "bdnn",
                            "backend": backend,
                            "strategy": strategy,
                            "formulation": fmt,
                            "time_limit": limit,
                            "time_budget": budget,
                            "mip_gap": self.mip_gap,
                            "weight_domain": domain,
                            "robust_radius": radius,
                            "params": params,
                            "uses_validation": strategy in self.validation_strategies,
                            "certify_radii": sorted(set(certify)),
                            **extra,
                        })
            for baseline in self.baselines:
                empty = {
                    **common,
                    "model": baseline,
                    "backend": None,
                    "strategy": None,
                    "formulation": None,
                    "time_limit": None,
                    "time_budget": None,
                    "mip_gap": None,
                    "weight_domain": None,
                    "robust_radius": None,
                    "params": dict(self.mlp_params),
                    "uses_validation": False,
                    "certify_radii": [],
                }
                if baseline == "mlp":  # as before the other baselines existed: the same keys
                    out.append(empty)
                elif baseline == "gradient":
                    for fmt, domain, radius in itertools.product(
                            self.formulations, self.weight_domains, self.robust_radii):
                        out.append({**empty, "formulation": fmt, "weight_domain": domain,
                                    "robust_radius": radius, "params": self._gradient_params()})
                else:
                    params = {**BASELINE_PARAMS[baseline], **self.baseline_params.get(baseline, {})}
                    out.append({**empty, "params": json.loads(json.dumps(params, sort_keys=True)),
                                "uses_validation": True})
        return _dedupe(out)

    def _gradient_params(self) -> dict:
        """The ``gradient`` baseline's seconds: those the ``exact`` cells give their start."""
        tables = self.strategy_params.get("exact") or [{}]
        own = self.baseline_params.get("gradient", {})
        seconds = float(BASELINE_PARAMS["gradient"]["start_seconds"])
        if "start_seconds" in own:
            return {"start_seconds": float(own["start_seconds"])}
        if len(tables) == 1 and "start_seconds" in tables[0]:
            seconds = float(tables[0]["start_seconds"])
        budgets = [b for b in self.time_budgets if b is not None]
        if budgets:
            seconds = min(seconds, min(budgets) / 4)
        return {"start_seconds": seconds}

    def keyed_cells(self) -> list[tuple[str, dict]]:
        """``(key, config)`` for every cell."""
        return [(cell_key(c), c) for c in self.cells()]

    def to_dict(self) -> dict:
        """The grid as plain data (TOML-like; ``None`` budgets kept as ``None``)."""
        d = attrs.asdict(self)
        d["hidden"] = [list(h) for h in self.hidden]
        return d


def _baseline_params(value) -> dict:
    """``{baseline: {setting: value}}``, checked against :data:`BASELINE_PARAMS`."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            "grid: baseline_params must map baseline names to tables, e.g. {mlp-tuned = {restarts = 5}}")
    out = {}
    for name, table in value.items():
        if name not in BASELINE_PARAMS or not isinstance(table, Mapping):
            raise InvalidInputError(
                f"grid: baseline_params.{name} must be a table for one of "
                f"{', '.join(BASELINE_PARAMS)} (the mlp baseline's settings are mlp_params)")
        known = [k for k in BASELINE_PARAMS[name] if (name, k) != ("logistic", "max_iter")]  # fixed
        unknown = set(table) - set(known)
        if unknown:
            raise InvalidInputError(
                f"grid: baseline_params.{name}: unknown setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(known)}")
        if name == "gradient" and "start_seconds" in table:
            _floats("baseline_params.gradient.start_seconds", table["start_seconds"], positive=True)
        if name == "mlp-tuned" and "restarts" in table and not (
                isinstance(table["restarts"], int) and table["restarts"] >= 1):
            raise InvalidInputError("grid: baseline_params.mlp-tuned.restarts must be an integer >= 1, "
                                    f"got {table['restarts']!r}")
        out[str(name)] = json.loads(json.dumps(dict(table), sort_keys=True))
    return out


def _max_points(value) -> int | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 4:
        raise InvalidInputError(f"grid: max_points must be an integer >= 4 (or 0 for all), got {value!r}")
    return int(value)


def load_config(path: str | Path) -> dict:
    """The parsed TOML file (``[grid]`` and optional ``[run]`` tables)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidInputError(f"config file {path} was not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"config file {path} is not valid TOML: {exc}") from None


def load_grid(path: str | Path) -> Grid:
    """The grid of a TOML config file (its ``[grid]`` table)."""
    data = load_config(path)
    if "grid" not in data:
        raise InvalidInputError(f"config file {path} has no [grid] table")
    return Grid.from_mapping(data["grid"])
