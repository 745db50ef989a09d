"""``bnnmip compare`` (run an experiment grid) and ``bnnmip report`` (tables and plots of it).

Wired into the CLI by :mod:`bnnmip.cli` through :func:`add_parser`, which registers both
subcommands on an argparse subparsers object::

    bnnmip compare [--config grid.toml] [--datasets iris wine] [--backends highs scip]
                   [--strategies exact] [--seeds 0 1 2] [--time-limits 10] [--hidden 2 4,2]
                   [--baselines mlp-tuned logistic gradient] [--store results.jsonl]
                   [--workers N | --dask-local N | --scheduler ADDR] [--grace S] [--retry-failed]
                   [--dry-run] [--verbose] [--json] [--quiet]
    bnnmip report STORE [--output DIR] [--title TEXT] [--json] [--quiet]

Flags override the config file's ``[grid]`` and ``[run]`` settings axis by axis. See
``docs/experiments.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import attrs

from ..backends import DEFAULT_BACKEND
from ..errors import InvalidInputError
from ..experiments.grid import Grid, load_config
from ..experiments.report import report
from ..experiments.run import DEFAULT_GRACE, Progress, dump_cells, make_executor, run_grid
from ..experiments.store import ResultStore
from .argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from .output import add_output_flags, print_json

__all__ = ["add_parser", "cmd_compare", "cmd_report"]

DEFAULT_STORE = "bnnmip-results.jsonl"

_RUN_KEYS = {"store", "workers", "grace", "dask_local", "scheduler"}


def _budget(text: str):
    return None if text.strip().lower() in ("none", "null", "-") else positive_float(text)


def _param(text: str) -> tuple[str | None, str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected STRATEGY.KEY=VALUE, got {text!r}")
    strategy, dot, name = key.strip().rpartition(".")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return (strategy if dot else None), name, value


def _solver_option(text: str) -> tuple[str | None, str, str]:
    key, sep, raw = text.partition("=")
    backend, colon, name = key.strip().partition(":")
    if not colon:
        backend, name = None, backend
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected BACKEND:NAME=VALUE, got {text!r}")
    return backend, name.strip(), raw.strip()


def _owner(given: str | None, names: list[str], kind: str, example: str) -> str:
    """The strategy (backend) a flag names, or the grid's only one when it names none."""
    if given is not None:
        return given
    if len(names) != 1:
        raise InvalidInputError(
            f"{example.split()[0]} without a name: the grid has {kind} {', '.join(names)}; "
            f"say which one, e.g. {example}=...")
    return names[0]


def add_parser(subparsers) -> None:
    """Register the ``compare`` and ``report`` subcommands on an argparse subparsers object."""
    p = subparsers.add_parser(
        "compare",
        help="run an experiment grid (data sets x backends x strategies x seeds ...), resumably",
        description=(
            "Run every cell of an experiment grid that the results store does not hold yet: one "
            "worker process and one solver thread per cell, each result appended to the store "
            "the moment it finishes, cells that crash or hang recorded as such. Re-running the "
            "same command resumes. The grid comes from --config (TOML, see "
            "docs/experiments.md) and/or the flags below; a flag replaces that axis of the "
            "config. Protocol: min-max scaling, 50/25/25 train/validation/test split "
            "stratified by seed."
        ),
    )
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="grid config: a [grid] table and an optional [run] table")
    g = p.add_argument_group("grid axes (each replaces the config's)")
    g.add_argument("--datasets", nargs="+", metavar="DATA",
                   help="bundled data set names or CSV paths")
    g.add_argument("--backends", nargs="+", metavar="NAME", help="MILP backends (default: highs)")
    g.add_argument("--strategies", nargs="+", metavar="NAME", help="strategies (default: exact)")
    g.add_argument("--formulations", nargs="+", metavar="NAME", help="formulations (default: paper)")
    g.add_argument("--seeds", nargs="+", type=non_negative_int, metavar="S",
                   help="seeds of the split and the solver (default: 0)")
    g.add_argument("--repetitions", type=positive_int, metavar="N",
                   help="seeds 0..N-1 (instead of --seeds)")
    g.add_argument("--time-limits", nargs="+", type=positive_float, metavar="SECONDS",
                   help="seconds per solve (default: 60)")
    g.add_argument("--time-budgets", nargs="+", type=_budget, metavar="SECONDS",
                   help="seconds per training run shared by its solves; 'none' for no budget")
    g.add_argument("--hidden", nargs="+", metavar="WIDTHS",
                   help="one architecture per value: 2, 4,2 (two layers), 0 (none); default 2")
    g.add_argument("--weights", nargs="+", metavar="DOMAIN",
                   help="weight domains: continuous, ternary, integer:P (default: continuous)")
    g.add_argument("--robust-radii", nargs="+", type=non_negative_float, metavar="R",
                   help="robust training radii in scaled units (default: 0)")
    g.add_argument("--certify-radii", nargs="+", type=non_negative_float, metavar="R",
                   help="certify test accuracy at these radii (default: the robust radius if > 0)")
    g.add_argument("--param", action="append", type=_param, metavar="STRATEGY.KEY=VALUE",
                   help="strategy setting, e.g. --param split.max_splits=20 (repeatable; KEY=VALUE "
                        "alone when the grid has one strategy)")
    g.add_argument("--solver-option", action="append", type=_solver_option, metavar="BACKEND:NAME=VALUE",
                   help="the solver's own parameter for every cell of that backend, e.g. "
                        "--solver-option scip:separating/maxrounds=0 (repeatable; NAME=VALUE alone "
                        "when the grid has one backend)")
    g.add_argument("--baselines", nargs="*", metavar="MODEL",
                   help="baseline models per data set, seed and widths: mlp-tuned (same-width ReLU MLP, "
                        "lbfgs/adam, alpha and restarts chosen on the validation part), logistic "
                        "(C chosen there), gradient (the gradient-trained start of exact, no MILP), "
                        "mlp (one Adam run: the weak baseline of old stores)")
    g.add_argument("--max-points", type=non_negative_int, metavar="N",
                   help="draw N points of each data set (stratified, by seed) before splitting")
    g.add_argument("--mip-gap", type=non_negative_float, metavar="GAP",
                   help="relative MIP gap (default: 1e-4)")
    r = p.add_argument_group("run")
    r.add_argument("--store", type=Path, metavar="FILE.jsonl",
                   help=f"results store, JSON lines (default: {DEFAULT_STORE})")
    r.add_argument("--workers", type=positive_int, metavar="N",
                   help="local worker processes, one cell each (default: 1)")
    r.add_argument("--dask-local", type=positive_int, metavar="N",
                   help="run on a Dask LocalCluster of N single-threaded worker processes")
    r.add_argument("--scheduler", metavar="ADDR", help="run on a Dask scheduler, e.g. tcp://host:8786")
    r.add_argument("--grace", type=non_negative_float, metavar="SECONDS",
                   help="seconds a cell may run past its time limit (or budget) before the "
                        "watchdog kills it and records it as hung (default: 30)")
    r.add_argument("--retry-failed", action="store_true",
                   help="run again the cells recorded as crashed or hung")
    r.add_argument("--dry-run", action="store_true",
                   help="print the cells (key and configuration, JSON lines) and what is done; run nothing")
    r.add_argument("--verbose", action="store_true",
                   help="on a terminal, a line per finished cell above the progress bar (without a "
                        "terminal there is always one)")
    add_output_flags(r, "the run's summary")
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser(
        "report",
        help="tables (Markdown, CSV) and plots (PNG) of a results store",
        description=(
            "Write report.md, cells.csv, backends.csv, accuracy.csv and PNG plots (performance "
            "profile of solve times, accuracy against splits, certified accuracy against "
            "radius) of a results store written by 'bnnmip compare'."
        ),
    )
    p.add_argument("store", type=Path, help="results store (JSON lines) written by 'bnnmip compare'")
    p.add_argument("--output", "-o", type=Path, metavar="DIR",
                   help="output folder (default: <store stem>-report next to the store)")
    p.add_argument("--title", help="title of report.md")
    add_output_flags(p, "the files written")
    p.set_defaults(func=cmd_report)


def _grid_settings(args) -> tuple[dict, dict]:
    grid, run = {}, {}
    if args.config is not None:
        data = load_config(args.config)
        unknown = set(data) - {"grid", "run"}
        if unknown:
            raise InvalidInputError(
                f"config file {args.config}: unknown table(s) {', '.join(sorted(unknown))}; "
                "use [grid] and [run]")
        grid = dict(data.get("grid", {}))
        run = dict(data.get("run", {}))
        bad = set(run) - _RUN_KEYS
        if bad:
            raise InvalidInputError(
                f"config file {args.config}: unknown [run] setting(s) {', '.join(sorted(bad))}; "
                f"known: {', '.join(sorted(_RUN_KEYS))}")
    flags = {
        "datasets": args.datasets, "backends": args.backends, "strategies": args.strategies,
        "formulations": args.formulations, "time_limits": args.time_limits,
        "time_budgets": args.time_budgets, "hidden": args.hidden, "weight_domains": args.weights,
        "robust_radii": args.robust_radii, "certify_radii": args.certify_radii,
        "baselines": args.baselines, "mip_gap": args.mip_gap,
    }
    if args.seeds is not None and args.repetitions is not None:
        raise InvalidInputError("give --seeds or --repetitions, not both")
    flags["seeds"] = args.seeds if args.seeds is not None else args.repetitions
    if args.max_points is not None:
        flags["max_points"] = args.max_points or None
    grid.update({k: v for k, v in flags.items() if v is not None})
    if args.param:
        strategies = grid.get("strategies", ["exact"])
        strategies = [strategies] if isinstance(strategies, str) else list(strategies)
        params = {k: dict(v) for k, v in dict(grid.get("strategy_params", {})).items()
                  if isinstance(v, dict)}
        for strategy, name, value in args.param:
            strategy = _owner(strategy, strategies, "strategies", f"--param {strategies[-1]}.{name}")
            params.setdefault(strategy, {})[name] = value
        grid["strategy_params"] = params
    if args.solver_option:
        backends = grid.get("backends", [DEFAULT_BACKEND])
        backends = [backends] if isinstance(backends, str) else list(backends)
        options = dict(grid.get("solver_options", {}))
        for backend, name, value in args.solver_option:
            backend = _owner(backend, backends, "backends", f"--solver-option {backends[-1]}:{name}")
            table = options.get(backend, {})
            if not isinstance(table, dict):
                raise InvalidInputError(
                    f"--solver-option {backend}:{name}=...: the config gives {backend} a list of "
                    "solver option tables (an axis); add the option there")
            options[backend] = {**table, name: value}
        grid["solver_options"] = options
    for key in ("store", "workers", "grace", "dask_local", "scheduler"):
        value = getattr(args, key)
        if value is not None:
            run[key] = value
    return grid, run


def cmd_compare(args) -> int:
    """Run (or resume) an experiment grid."""
    grid_data, run = _grid_settings(args)
    if "datasets" not in grid_data:
        raise InvalidInputError("no data sets: give --datasets or a --config with [grid] datasets")
    grid = Grid.from_mapping(grid_data)
    store = ResultStore(run.get("store", DEFAULT_STORE))
    if args.dry_run:
        grid.validate_names()
        done = store.keys()
        cells = grid.keyed_cells()
        print(dump_cells(grid))
        todo = sum(k not in done for k, _ in cells)
        print(f"{len(cells)} cell(s), {len(cells) - todo} already in {store.path}, {todo} to run",
              file=sys.stderr)
        return 0
    if args.dask_local and run.get("scheduler") and args.scheduler is None:
        run.pop("scheduler")  # the flag wins over the config file
    if args.scheduler and run.get("dask_local") and args.dask_local is None:
        run.pop("dask_local")
    executor = make_executor(workers=run.get("workers"), dask_local=run.get("dask_local"),
                             scheduler=run.get("scheduler"))
    progress = Progress(verbose=args.verbose, quiet=args.quiet)
    try:
        summary = run_grid(grid, store, executor, grace=float(run.get("grace", DEFAULT_GRACE)),
                           retry_failed=args.retry_failed, progress=progress)
    except KeyboardInterrupt:
        print(f"bnnmip compare: interrupted; {len(store.keys())} cell(s) are in {store.path}: "
              "run the same command again to resume", file=sys.stderr)
        return 130
    if args.json:
        print_json({**attrs.asdict(summary), "report_command": f"bnnmip report {store.path}"})
        return 0
    print(f"bnnmip compare: {summary.describe()}")
    print(f"  report: bnnmip report {store.path}")
    return 0


def cmd_report(args) -> int:
    """Write the report of a results store."""
    files = report(args.store, args.output, title=args.title)
    if args.json:
        print_json({"store": str(args.store), "output": str(files["markdown"].parent),
                    "files": {name: str(path) for name, path in files.items()}})
        return 0
    print(f"bnnmip report: {args.store} -> {files['markdown'].parent}")
    for name, path in files.items():
        print(f"  {name:20} {path}")
    return 0
