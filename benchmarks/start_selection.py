"""Does fitting the training set more tightly, or with larger margins, raise test accuracy?

    python benchmarks/start_selection.py [--seeds 10] [--starts 4] [--datasets breast-cancer-wisconsin,iris]
                                         [--output docs/benchmarks/start-selection.md]

The paper protocol of ``benchmarks/formulations.py`` (its ``protocol_split``: min-max scaling fitted on the training
part, 50/25/25 stratified splits, hidden width 2, ``tight``'s eps and bias boxes). On every
split, ``--starts`` gradient-trained networks (:func:`bnnmip.heuristics.ste_network`, 5 s each, seeds
``100 * split + j``) are brought inside the margins as ``exact`` does
(:func:`bnnmip.heuristics.pattern_fit.realize`) and each is scored on the training part (Hamming loss),
the validation part and the test part, also after two refits of its first layer with the
activation pattern (and so every training prediction) fixed:

- ``max-min``: the largest minimum margin (:func:`bnnmip.heuristics.pattern_fit.polish`, weights in the box);
- ``l1``: the smallest weight L1 norm at margin 1 (an L1 support vector machine per neuron,
  the largest l-infinity margin; written here, not part of bnnmip, because it did not help).

Which network is kept: the first start (what ``exact`` gets), the lowest training loss, or the
best validation accuracy (ties: lower training loss). ``within-split`` counts, over all pairs
of starts on the same split with different training losses, how often the lower training
loss has the higher test accuracy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from formulations import protocol_split  # the same splits as the formulations benchmark

RULES = ("first", "lowest training loss", "best validation")
REFITS = ("realize", "max-min", "l1")


def l1_refit(network, X, bias_bound):
    """``network`` with each first-layer neuron refitted to its pattern at the least L1 norm."""
    from scipy.optimize import linprog

    from bnnmip.network import BinarizedNetwork

    weights = [np.array(w, dtype=float) for w in network.weights]
    biases = [np.array(b, dtype=float) for b in network.biases]
    on = (X @ weights[0].T + biases[0]) > 0
    n = X.shape[1]
    for j in range(weights[0].shape[0]):
        s = np.where(on[:, j], 1.0, -1.0)
        if np.all(s == s[0]):
            continue
        cost = np.r_[np.ones(2 * n), 0.0]  # w = w+ - w-, free bias
        rows = -s[:, None] * np.c_[X, -X, np.ones(len(X))]
        lp = linprog(cost, A_ub=rows, b_ub=-np.ones(len(X)),
                     bounds=[(0, None)] * (2 * n) + [(None, None)], method="highs")
        if lp.status != 0:
            continue
        w, b = lp.x[:n] - lp.x[n:2 * n], lp.x[-1]
        scale = max(np.abs(w).max(), abs(b) / bias_bound)
        weights[0][j], biases[0][j] = w / scale, b / scale
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=network.weight_domain)


def split_job(dataset, split, starts):
    from sklearn.neural_network import MLPClassifier

    from bnnmip import Architecture, TrainingSet
    from bnnmip.formulation import FORMULATIONS
    from bnnmip.heuristics import ste_network
    from bnnmip.heuristics.pattern_fit import polish, realize

    tight = FORMULATIONS["tight"]
    parts = protocol_split(dataset, split)
    Xs, y_tr, classes = parts["X"], parts["y"], parts["classes"]
    Xv, y_val, Xt, y_test = parts["X_val"], parts["y_val"], parts["X_test"], parts["y_test"]
    data = TrainingSet.from_arrays(Xs, parts["y_idx"], n_classes=len(classes))
    arch = Architecture(Xs.shape[1], (2,), len(classes))
    boxes = tight.bias_bounds(arch, Xs, 0.0, tight.DEFAULT_EPS)

    def acc(net, X, y):
        return None if net is None else float(np.mean(classes[net.predict_index(X, scaled=True)] == y))

    out = []
    for j in range(starts):
        raw = ste_network(arch, data, seed=100 * split + j, time_limit=5.0, bias_bound=boxes[0])
        nets = {
            "realize": realize(raw, arch, Xs, eps=tight.DEFAULT_EPS, bias_bounds=boxes, time_limit=5).network,
            "max-min": polish(raw, arch, Xs, eps=tight.DEFAULT_EPS, bias_bounds=boxes, time_limit=5).network,
            "l1": l1_refit(raw, Xs, boxes[0]),
        }
        out.append({"loss": raw.hamming_loss(data.X, data.y, scaled=True),
                    "val": {k: acc(v, Xv, y_val) for k, v in nets.items()},
                    "test": {k: acc(v, Xt, y_test) for k, v in nets.items()}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(2,), max_iter=2000, random_state=split).fit(Xs, y_tr)
    return {"dataset": dataset, "split": split, "starts": out, "mlp": float(mlp.score(Xt, y_test))}


def pick(starts, rule):
    if rule == "first":
        return starts[0]
    if rule == "lowest training loss":
        return min(starts, key=lambda s: s["loss"])
    return max(starts, key=lambda s: (s["val"]["realize"], -s["loss"]))


def report(records, command, seconds):
    import bnnmip

    lines = [
        "# Gradient starts on the paper protocol: tighter fits, margins and selection",
        "",
        f"`{command}` ({seconds / 60:.0f} min; Python {platform.python_version()}, bnnmip "
        f"{bnnmip.__version__}). Raw records: `start-selection.jsonl`. What is measured: the "
        "docstring of `benchmarks/start_selection.py`.",
        "",
        "Test accuracy, mean ± sd over the splits, of the network each rule keeps, with its weights "
        "as `exact` starts from them (`realize`) and after the two margin refits (same training "
        "predictions):",
        "",
        "| data set | rule | training loss / 2 | " + " | ".join(REFITS) + " |",
        "|---|---|---|" + "---|" * len(REFITS),
    ]
    for ds in sorted({r["dataset"] for r in records}):
        recs = [r for r in records if r["dataset"] == ds]
        for rule in RULES:
            kept = [pick(r["starts"], rule) for r in recs]
            cells = []
            for refit in REFITS:
                vals = [k["test"][refit] for k in kept if k["test"][refit] is not None]
                cells.append(f"{np.mean(vals):.3f} ± {np.std(vals, ddof=1):.3f}")
            loss = np.mean([k["loss"] for k in kept]) / 2
            lines.append(f"| {ds} | {rule} | {loss:.1f} | " + " | ".join(cells) + " |")
        mlp = [r["mlp"] for r in recs]
        lines.append(f"| {ds} | ReLU MLP (sklearn, width 2) | - | {np.mean(mlp):.3f} ± "
                     f"{np.std(mlp, ddof=1):.3f} | - | - |")
    lines += ["", "Within a split, over pairs of starts whose training losses differ:", "",
              "| data set | pairs | lower loss has higher test accuracy | lower | equal |", "|---|---|---|---|---|"]
    for ds in sorted({r["dataset"] for r in records}):
        better = worse = same = 0
        for r in (r for r in records if r["dataset"] == ds):
            for a, b in itertools.combinations(r["starts"], 2):
                if a["loss"] == b["loss"]:
                    continue
                lo, hi = (a, b) if a["loss"] < b["loss"] else (b, a)
                d = lo["test"]["realize"] - hi["test"]["realize"]
                better, worse, same = better + (d > 0), worse + (d < 0), same + (d == 0)
        lines.append(f"| {ds} | {better + worse + same} | {better} | {worse} | {same} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--datasets", type=lambda s: s.split(","), default=["breast-cancer-wisconsin", "iris"])
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/start-selection.md"))
    args = p.parse_args(argv)
    np.seterr(all="ignore")
    t0 = time.perf_counter()
    records = []
    for ds in args.datasets:
        for split in range(args.seeds):
            rec = split_job(ds, split, args.starts)
            records.append(rec)
            print(json.dumps({k: rec[k] for k in ("dataset", "split", "mlp")}), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output.with_suffix(".jsonl"), "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    command = "python benchmarks/start_selection.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.write_text(report(records, command.strip(), time.perf_counter() - t0))
    print(args.output.read_text())


if __name__ == "__main__":
    main()
