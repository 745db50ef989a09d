"""Strategies on the paper's protocol, and robust vs plain training, side by side.

    python benchmarks/strategies.py [--seeds 10] [--output docs/benchmarks/strategies.md]

Part 1, the paper's protocol on its breast-cancer file: min-max scaling fitted on the training
part, 50/25/25 train/validation/test (stratified, one shuffle per seed), hidden layer of 2.
`split` (20 splits, 30 s per solve, 300 s budget) selects its network by validation accuracy;
`local_search` (10 s per block, 60 s budget) and `exact` (60 s limit) train on the training part; a ReLU
network of the same width (scikit-learn MLPClassifier, Adam) trains on the same training
part. All BDNN runs use HiGHS with one thread.

Part 2, robust training: 100 training points of the same file, the rest for testing; the
exact strategy with and without robust_radius 0.1 (60 s limit); accuracy and exact certified
accuracy at radius 0.1 on the test points.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler

import bnnmip
from bnnmip.datasets import load_dataset, split_dataset
from bnnmip.estimator import BDNNClassifier
from bnnmip.robustness import certify

BDNN_RUNS = {
    "split": dict(strategy="split", time_limit=30, time_budget=300,
                  strategy_params={"max_splits": 20}, validation_fraction=1 / 3),
    "local_search": dict(strategy="local_search", time_limit=10, time_budget=60),
    "exact": dict(strategy="exact", time_limit=60),
}


def protocol(seeds):
    ds = load_dataset("breast-cancer-wisconsin")
    rows = []
    for seed in range(seeds):
        X_rest, X_test, y_rest, y_test = split_dataset(ds.X, ds.y, test_size=0.25, seed=seed)
        for name, kw in BDNN_RUNS.items():
            X_fit, y_fit = X_rest, y_rest
            if name != "split":  # the others train on the 50 % training part only
                X_fit, _, y_fit, _ = split_dataset(X_rest, y_rest, test_size=1 / 3, seed=seed)
            clf = BDNNClassifier(hidden_layer_sizes=(2,), random_state=seed, **kw)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X_fit, y_fit)
            rows.append(dict(seed=seed, model=name, seconds=time.perf_counter() - t0,
                             test=clf.score(X_test, y_test), status=clf.status_,
                             verified=clf.verified_, solves=len(clf.training_result_.solves)))
            print(rows[-1], file=sys.stderr, flush=True)
        X_tr, _, y_tr, _ = split_dataset(X_rest, y_rest, test_size=1 / 3, seed=seed)
        scaler = MinMaxScaler().fit(X_tr)
        t0 = time.perf_counter()
        mlp = MLPClassifier(hidden_layer_sizes=(2,), max_iter=2000, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp.fit(scaler.transform(X_tr), y_tr)
        rows.append(dict(seed=seed, model="ReLU MLP (sklearn)", seconds=time.perf_counter() - t0,
                         test=mlp.score(scaler.transform(X_test), y_test), status="-",
                         verified=True, solves=0))
    return rows


def robust(seeds, radius=0.1):
    ds = load_dataset("breast-cancer-wisconsin")
    rows = []
    for seed in range(seeds):
        X_tr, X_te, y_tr, y_te = split_dataset(ds.X, ds.y, test_size=len(ds.y) - 100, seed=seed)
        for r in (0.0, radius):
            clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=60, robust_radius=r,
                                 random_state=seed)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X_tr, y_tr)
            seconds = time.perf_counter() - t0
            cert = certify(clf.network_, X_te, y_te, radius)
            rows.append(dict(seed=seed, trained_radius=r, seconds=seconds, status=clf.status_,
                             test=clf.score(X_te, y_te), certified=cert.certified_accuracy,
                             unknown=cert.n_unknown, verified=clf.verified_))
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def mean_sd(values):
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0:.3f}"


def report(proto, rob, args):
    lines = [
        "# Strategies on the paper's protocol; robust vs plain training",
        "",
        f"Command: `python benchmarks/strategies.py --seeds {args.seeds} --robust-seeds {args.robust_seeds}`",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, HiGHS "
        f"{bnnmip.get_backend('highs').solver_version()}, one thread per solve, bnnmip {bnnmip.__version__}.",
        "",
        "## 1. Breast Cancer Wisconsin (paper's file), 50/25/25, hidden width 2",
        "",
        f"{args.seeds} shuffles (seeds 0..{args.seeds - 1}); test accuracy mean ± sd; wall seconds per run.",
        "",
        "| model | test accuracy | mean seconds | max seconds | all verified |",
        "|---|---|---|---|---|",
    ]
    for model in [*BDNN_RUNS, "ReLU MLP (sklearn)"]:
        mine = [r for r in proto if r["model"] == model]
        lines.append(
            f"| {model} | {mean_sd([r['test'] for r in mine])} | "
            f"{statistics.fmean(r['seconds'] for r in mine):.1f} | {max(r['seconds'] for r in mine):.1f} | "
            f"{all(r['verified'] for r in mine)} |"
        )
    lines += ["", "Per seed (test accuracy):", "",
              "| seed | " + " | ".join([*BDNN_RUNS, "MLP"]) + " |", "|---|" + "---|" * (len(BDNN_RUNS) + 1)]
    for seed in range(args.seeds):
        mine = [r for r in proto if r["seed"] == seed]
        lines.append(f"| {seed} | " + " | ".join(f"{r['test']:.3f}" for r in mine) + " |")
    lines += [
        "", "## 2. Robust training at r = 0.1 (100 training points, the other 599 for testing)", "",
        "| trained radius | test accuracy | certified accuracy at r = 0.1 | unknown | status | mean seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r0 in (0.0, 0.1):
        mine = [r for r in rob if r["trained_radius"] == r0]
        lines.append(
            f"| {r0:g} | {mean_sd([r['test'] for r in mine])} | {mean_sd([r['certified'] for r in mine])} | "
            f"{sum(r['unknown'] for r in mine)} | {', '.join(sorted({r['status'] for r in mine}))} | "
            f"{statistics.fmean(r['seconds'] for r in mine):.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--robust-seeds", type=int, default=3)
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/strategies.md"))
    args = p.parse_args(argv)
    proto = protocol(args.seeds)
    rob = robust(args.robust_seeds)
    text = report(proto, rob, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
