"""Strategies at practical sizes: exact, local_search and split against their start and an MLP.

    nice -n 10 python benchmarks/strategies_scale.py --time-limit 60 --seeds 1 --workers 2 \\
        --cells all --output docs/benchmarks/strategies-scale.jsonl

For every cell and seed: `exact`, `local_search` and `split` (each with the same time budget
`--time-limit` seconds, HiGHS, one thread, gradient start given `--start-seconds`, default 15,
at most a quarter of the budget), `split` with the paper's start (`start=none`: one
cluster, no gradient start) on the small cells, the gradient start alone (the network every
strategy starts from, built by `bnnmip.strategies._common.gradient_start` on the same scaled
training part) and the same-width MLP of `bnnmip.baselines.mlp_baseline` (lbfgs and adam,
restarts, alpha picked on the validation part). Each row: test accuracy, training loss (the
network's forward-pass Hamming loss on the training part), seconds.

Cells (`--cells`, comma-separated names or `all`):

* `digits-16`, `digits-32`, `digits-100`, `digits-16x16`: scikit-learn's digits, a stratified
  1347/450 train/test split fixed by the seed; every strategy trains on the 1347 points
  (`split` without validation data: it selects by training loss); the MLP holds a quarter of
  the 1347 out for its selection.
* `bcw`, `iris`, `wine`: bundled data under the paper's protocol, hidden layer of 2: 50/25/25
  train/validation/test (stratified, one shuffle per seed); `split` gets train + validation
  and selects on the validation part, the others train on the 50 % part; the MLP selects on
  the same validation part.
* `moons`, `circles`, `xor`: 400 noisy 2-D points (scikit-learn's `make_moons(noise=0.2)`,
  `make_circles(noise=0.1, factor=0.5)`, four Gaussian blobs labelled XOR), hidden layer of 4,
  the paper's protocol as above.

Writes one JSON line per run to `--output` and prints a table per cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

DIGITS = {"digits-16": (16,), "digits-32": (32,), "digits-100": (100,), "digits-16x16": (16, 16)}
BUNDLED = {"bcw": "breast-cancer-wisconsin", "iris": "iris", "wine": "wine"}
SYNTHETIC = ("moons", "circles", "xor")
ALL_CELLS = (*DIGITS, *BUNDLED, *SYNTHETIC)
STRATEGIES = ("exact", "local_search", "split")


def synthetic(name: str, seed: int, m: int = 400):
    from sklearn.datasets import make_circles, make_moons

    if name == "moons":
        return make_moons(m, noise=0.2, random_state=seed)
    if name == "circles":
        return make_circles(m, noise=0.1, factor=0.5, random_state=seed)
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    k = rng.integers(0, 4, m)
    return centres[k] + rng.normal(0, 0.2, (m, 2)), (k >= 2).astype(int)


def cell_data(cell: str, seed: int) -> dict:
    """Train (for exact/local_search), train+val (split), val, test parts and the hidden widths."""
    from bnnmip.datasets import load_dataset, split_dataset

    if cell in DIGITS:
        ds = load_dataset("digits")
        X_tr, X_te, y_tr, y_te = split_dataset(ds.X, ds.y, test_size=450, seed=seed)
        return dict(fit=(X_tr, y_tr), split=(X_tr, y_tr), split_val=0.0, val=None, test=(X_te, y_te),
                    hidden=DIGITS[cell])
    if cell in BUNDLED:
        ds = load_dataset(BUNDLED[cell])
        X, y, hidden = ds.X, ds.y, (2,)
    else:
        X, y = synthetic(cell, seed)
        hidden = (4,)
    X_rest, X_te, y_rest, y_te = split_dataset(X, y, test_size=0.25, seed=seed)
    X_fit, X_val, y_fit, y_val = split_dataset(X_rest, y_rest, test_size=1 / 3, seed=seed)
    return dict(fit=(X_fit, y_fit), split=(X_rest, y_rest), split_val=1 / 3, val=(X_val, y_val),
                test=(X_te, y_te), hidden=hidden)


def run_strategy(cell: str, seed: int, model: str, seconds: float, start_seconds: float) -> dict:
    from bnnmip.estimator import BDNNClassifier

    d = cell_data(cell, seed)
    name = "split" if model.startswith("split") else model
    params = {"start": "none"} if model == "split-paper" else {"start_seconds": start_seconds}
    limit = seconds if name != "split" else min(30.0, seconds / 2)
    kw = dict(strategy=name, time_limit=limit, time_budget=seconds, strategy_params=params or None,
              random_state=seed, threads=1, backend="highs")
    X_fit, y_fit = d["split"] if name == "split" else d["fit"]
    if name == "split":
        kw["validation_fraction"] = d["split_val"]
    clf = BDNNClassifier(hidden_layer_sizes=d["hidden"], **kw)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X_fit, y_fit)
    secs = time.perf_counter() - t0
    res = clf.training_result_
    start = _start_of(res)
    return dict(cell=cell, seed=seed, model=model, seconds=round(secs, 2), test=clf.score(*d["test"]),
                train_loss=res.loss, start=start.get("start"), start_loss=start.get("start_loss"),
                outcome=start.get("start_outcome"), status=clf.status_, verified=clf.verified_,
                solves=len(res.solves), n_train=len(y_fit) if name != "split" else None)


def _start_of(res) -> dict:
    out = {}
    for r in res.history:
        if "start_outcome" in r:
            out.update(start=r.get("start"), start_loss=r.get("start_loss"), start_outcome=r["start_outcome"])
    return out


def run_start(cell: str, seed: int, seconds: float, start_seconds: float) -> dict:
    """The gradient start alone, on the training part exact and local_search use."""
    import bnnmip
    from bnnmip.estimator import BDNNClassifier
    from bnnmip.strategies._common import gradient_start

    d = cell_data(cell, seed)
    X_fit, y_fit = d["fit"]
    # the estimator's own scaling and class indices (a run without any solve: max 1 s)
    probe = BDNNClassifier(hidden_layer_sizes=d["hidden"], time_limit=1.0, time_budget=1.0,
                           strategy_params={"start": "none"}, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe.fit(X_fit, y_fit)
    scaling = probe.network_.scaling
    y_idx = np.searchsorted(probe.classes_, y_fit)
    data = bnnmip.TrainingSet.from_arrays(scaling.transform(X_fit), y_idx, n_classes=len(probe.classes_))
    arch = bnnmip.Architecture(data.n_features, d["hidden"], data.n_classes)
    t0 = time.perf_counter()
    low = bnnmip.lower(arch, data, symmetry_breaking=False)
    net, _ = gradient_start(low, min(start_seconds, seconds / 4), seed=seed)
    secs = time.perf_counter() - t0
    X_te, y_te = d["test"]
    test = float(np.mean(probe.classes_[net.predict_index(scaling.transform(X_te), scaled=True)] == y_te))
    loss = net.hamming_loss(data.X, data.y, scaled=True)
    return dict(cell=cell, seed=seed, model="gradient start", seconds=round(secs, 2), test=test,
                train_loss=loss, status="-", verified=True, solves=0)


def run_mlp(cell: str, seed: int) -> dict:
    from sklearn.preprocessing import MinMaxScaler

    from bnnmip.baselines import mlp_baseline

    d = cell_data(cell, seed)
    X_fit, y_fit = d["fit"]
    scaler = MinMaxScaler().fit(X_fit)
    kw = {}
    if d["val"] is not None:
        kw = dict(X_val=scaler.transform(d["val"][0]), y_val=d["val"][1])
    big = cell in DIGITS
    res = mlp_baseline(scaler.transform(X_fit), y_fit, d["hidden"], X_test=scaler.transform(d["test"][0]),
                       y_test=d["test"][1], seed=seed, alphas=(1e-4, 1e-3, 1e-2, 1e-1) if big else
                       (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0), restarts=2 if big else 3,
                       max_iter=500 if big else 2000, **kw)
    return dict(cell=cell, seed=seed, model="MLP (sklearn)", seconds=round(res.seconds, 2),
                test=res.test_accuracy, train_loss=None, status=json.dumps(res.settings), verified=True,
                solves=res.candidates)


def job(args):
    cell, seed, model, seconds, start_seconds = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        if model == "gradient start":
            row = run_start(cell, seed, seconds, start_seconds)
        elif model == "MLP (sklearn)":
            row = run_mlp(cell, seed)
        else:
            row = run_strategy(cell, seed, model, seconds, start_seconds)
    except Exception as exc:  # a failed run is a result too
        row = dict(cell=cell, seed=seed, model=model, error=f"{type(exc).__name__}: {exc}")
    row["budget"], row["start_seconds"] = seconds, start_seconds
    return row


def jobs_for(cells, seeds, seconds, start_seconds, only=None):
    out = []
    for seed in seeds:
        for cell in cells:
            models = [*STRATEGIES, "gradient start", "MLP (sklearn)"]
            if cell not in DIGITS:
                models.insert(3, "split-paper")
            out.extend((cell, seed, m, seconds, start_seconds) for m in models if only is None or m in only)
    return out


def table(rows) -> str:
    lines = ["| cell | model | runs | test acc (mean) | train loss (mean) | seconds (mean) | loss <= start |",
             "|---|---|---|---|---|---|---|"]
    keyed = {}
    for r in rows:
        keyed.setdefault((r["cell"], r["model"]), []).append(r)
    for (cell, model), rs in keyed.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            lines.append(f"| {cell} | {model} | 0 | error: {rs[0]['error'][:60]} | | | |")
            continue
        loss = [r["train_loss"] for r in ok if r.get("train_loss") is not None]
        keep = [r["train_loss"] <= r["start_loss"] + 1e-9 for r in ok
                if r.get("start_loss") is not None and r.get("train_loss") is not None]
        lines.append(
            f"| {cell} | {model} | {len(ok)} | {np.mean([r['test'] for r in ok]):.3f} | "
            f"{np.mean(loss) if loss else float('nan'):.1f} | {np.mean([r['seconds'] for r in ok]):.1f} | "
            f"{f'{sum(keep)}/{len(keep)}' if keep else '-'} |")
    return "\n".join(lines)


def checks(rows) -> str:
    """Per cell: each strategy's loss vs its start, and its test accuracy minus exact's."""
    lines = ["| cell | seed | strategy | start loss | final loss | loss <= start | test | test - exact |",
             "|---|---|---|---|---|---|---|---|"]
    by = {(r["cell"], r["seed"], r["model"]): r for r in rows if "error" not in r}
    for (cell, seed, model), r in sorted(by.items(), key=lambda kv: (ALL_CELLS.index(kv[0][0]), kv[0][1],
                                                                      kv[0][2])):
        if model not in (*STRATEGIES, "split-paper"):
            continue
        exact = by.get((cell, seed, "exact"))
        diff = "" if exact is None else f"{r['test'] - exact['test']:+.3f}"
        ok = "-" if r.get("start_loss") is None else ("yes" if r["train_loss"] <= r["start_loss"] + 1e-9 else "NO")
        start = "-" if r.get("start_loss") is None else f"{r['start_loss']:g}"
        lines.append(f"| {cell} | {seed} | {model} | {start} | {r['train_loss']:g} | {ok} | {r['test']:.3f} | "
                     f"{diff} |")
    return "\n".join(lines)


def latest(rows):
    """The last row of every (cell, seed, model): a rerun replaces the earlier run."""
    out = {}
    for r in rows:
        out[(r["cell"], r["seed"], r["model"])] = r
    return list(out.values())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-limit", type=float, default=60.0, help="budget per strategy run (s)")
    ap.add_argument("--seeds", default="1", help="number of seeds (0..N-1) or a comma-separated list")
    ap.add_argument("--start-seconds", type=float, default=15.0,
                    help="time for the gradient start (every strategy's start_seconds; at most a quarter "
                         "of the budget)")
    ap.add_argument("--cells", default="all", help=f"comma-separated: {', '.join(ALL_CELLS)} or all")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--output", type=Path, default=Path("strategies-scale.jsonl"))
    ap.add_argument("--models", help="comma-separated subset of: exact, local_search, split, split-paper, "
                                     "gradient start, MLP (sklearn)")
    ap.add_argument("--report", type=Path, help="only print the tables of an existing JSONL file")
    args = ap.parse_args(argv)
    if args.report is not None:
        rows = latest(json.loads(line) for line in args.report.read_text().splitlines() if line.strip())
        print(table(sorted(rows, key=lambda r: (ALL_CELLS.index(r["cell"]), r["model"]))))
        print()
        print(checks(rows))
        return
    cells = ALL_CELLS if args.cells == "all" else tuple(c.strip() for c in args.cells.split(","))
    unknown = [c for c in cells if c not in ALL_CELLS]
    if unknown:
        ap.error(f"unknown cell(s) {unknown}; known: {', '.join(ALL_CELLS)}")
    only = None if args.models is None else {m.strip() for m in args.models.split(",")}
    seeds = [int(x) for x in args.seeds.split(",")] if "," in args.seeds else list(range(int(args.seeds)))
    todo = jobs_for(cells, seeds, args.time_limit, args.start_seconds, only)
    rows = []
    with args.output.open("a") as out, ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(job, j) for j in todo]
        for fut in as_completed(futures):
            row = fut.result()
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(sorted(rows, key=lambda r: (ALL_CELLS.index(r["cell"]), r["model"]))))


if __name__ == "__main__":
    main()
