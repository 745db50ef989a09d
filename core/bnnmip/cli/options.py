"""Argument groups and converters shared by several commands (data, model and solver options)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..backends import DEFAULT_BACKEND
from ..datasets import load_dataset, split_dataset
from ..formulation import DEFAULT_FORMULATION, FORMULATIONS
from .argtypes import positive_float, positive_int


def _split_size(text: str) -> float | int:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return int(value) if value >= 1 and value.is_integer() else value


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _solver_option(text: str) -> tuple[str, str]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a parameter of the solver), got {text!r}")
    return key.strip(), raw.strip()


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="bundled data set name (see 'bnnmip datasets') or CSV path")
    p.add_argument("--label", help="label column of a CSV: name or index (default: last)")
    p.add_argument("--hidden", type=int, nargs="*", default=[2], metavar="WIDTH",
                   help="hidden layer widths, e.g. --hidden 4 2; none for no hidden layer "
                        "(default: 2)")
    p.add_argument("--weights", default="continuous", metavar="DOMAIN",
                   help="weight domain: continuous, ternary or integer:P (default: continuous)")
    p.add_argument("--no-bias", action="store_true", help="train without biases")
    p.add_argument("--formulation", default=DEFAULT_FORMULATION, choices=sorted(FORMULATIONS),
                   help=f"MILP formulation (default: {DEFAULT_FORMULATION})")
    p.add_argument("--robust-radius", type=float, default=0.0, metavar="R",
                   help="l-inf radius (scaled units) every training point must be robust to")
    p.add_argument("--eps", type=float, default=None,
                   help="activation margin (default: the formulation's, 1e-5 paper, 1e-4 tight)")
    p.add_argument("--test-size", type=_split_size, default=0.25,
                   help="test fraction or count held out (default: 0.25)")
    p.add_argument("--train-size", type=_split_size, default=None,
                   help="training fraction or count (default: all that is not test)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and the solver")


def _solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=DEFAULT_BACKEND, help="MILP backend (see 'bnnmip backends')")
    p.add_argument("--strategy", default="exact", help="training strategy (default: exact)")
    p.add_argument("--time-limit", type=positive_float, default=60.0, metavar="SECONDS",
                   help="solver time limit (default: 60)")
    p.add_argument("--gap", type=float, default=1e-4, help="relative MIP gap (default: 1e-4)")
    p.add_argument("--threads", type=positive_int, default=1, help="solver threads (default: 1)")
    p.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                   help="seconds for the whole training run, shared by all of a strategy's solves")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", type=_param,
                   help="strategy setting, e.g. --param max_splits=20 (repeatable)")
    p.add_argument("--solver-option", action="append", default=[], metavar="NAME=VALUE",
                   type=_solver_option,
                   help="the solver's own parameter, applied after bnnmip's settings, e.g. "
                        "separating/maxrounds=0 (scip), mip_heuristic_effort=0.2 (highs), "
                        "cuts=off (cbc) (repeatable)")
    p.add_argument("--validation-size", type=float, default=0.0, metavar="FRACTION",
                   help="fraction of the training points held out for model selection "
                        "(strategies that use it, e.g. split)")
    p.add_argument("--log-file", type=Path, help="write the solver log here")
    p.add_argument("--verbose", action="store_true",
                   help="show the solver log and one line per strategy iteration")


def _load_split(args):
    ds = load_dataset(args.dataset, label=args.label)
    X_train, X_test, y_train, y_test = split_dataset(
        ds.X, ds.y, test_size=args.test_size, train_size=args.train_size, seed=args.seed
    )
    return ds, X_train, X_test, y_train, y_test
