"""A decomposition bound on the hard family's random-label instances (issue 20, item 3).

Cut an instance's points into disjoint parts. A network's loss on all points is the sum of its
losses on the parts, and each of those is at least the least loss of any network on that part
(same architecture, margins and boxes), so the sum of the parts' proven lower bounds is a lower
bound for the whole instance: the per-point decomposition, grouped. Each part is trained alone
with ``exact`` (and, for width 2, ``error_bound=parallel``: its small solves beside the solver,
two cores), one solver thread, seed 0, ``--time-limit`` seconds; its final dual bound counts
whether or not it is proven.

    python benchmarks/split_bound.py [--time-limit 30] [--parts 2]
                                     [--instances "random m75 h2 k2,random m100 h2 k2"]
                                     [--output docs/benchmarks/split-bound.jsonl]
                                     [--report docs/benchmarks/split-bound.md]

Two ways to cut: ``random`` (a random permutation, seed 0, cut in equal parts) and ``kmeans``
(k-means on the inputs, seed 0: parts of nearby points). The report gives the sum of the
parts' bounds as a share of the best known loss (``hard-family.jsonl``) and the root bound of
the training MILP (0 on all of them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_INSTANCES = ("random m75 h2 k2", "random m100 h2 k2", "random m100 h2 k3", "random m100 h3 k2")
METHODS = ("random", "kmeans")


def partition(X: np.ndarray, parts: int, method: str) -> list[np.ndarray]:
    """Indices of ``parts`` disjoint parts of the rows of ``X`` that cover them all."""
    if method == "random":
        order = np.random.default_rng(0).permutation(len(X))
        return [np.sort(p) for p in np.array_split(order, parts)]
    from sklearn.cluster import KMeans  # lazy: only this way of cutting needs it

    labels = KMeans(parts, n_init=10, random_state=0).fit_predict(X)
    return [np.flatnonzero(labels == j) for j in range(parts)]


def run(name: str, parts: int, method: str, time_limit: float, instance=None) -> dict:
    """Train every part of ``name`` (or of ``instance``) alone; the record with each part's bound and their sum."""
    from hard_family import build

    import bnnmip
    from bnnmip.formulation.error_bound import applies

    arch, data, robust = instance if instance is not None else build(name)
    params = {"error_bound": "parallel"} if applies(arch) else {}
    rows = []
    for idx in partition(data.X, parts, method):
        part = bnnmip.TrainingSet.from_arrays(data.X[idx], data.y[idx], n_classes=data.n_classes)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bnnmip.train(arch, part, backend="scip", robust=robust, params=params, time_budget=time_limit,
                               options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=time_limit))
        bound = res.final.bound if res.status is not bnnmip.SolveStatus.OPTIMAL else res.loss
        rows.append({"points": len(idx), "status": res.status.value, "loss": res.loss,
                     "bound": 0.0 if bound is None or not math.isfinite(bound) else float(bound),
                     "verified": bool(res.verification is not None and res.verification.ok),
                     "seconds": round(time.perf_counter() - t0, 2)})
    return {"instance": name, "parts": parts, "method": method, "time_limit": time_limit,
            "params": params, "part_results": rows, "bound": sum(r["bound"] for r in rows),
            "seconds": sum(r["seconds"] for r in rows)}


def report(records: list[dict], best: dict, command: str) -> str:
    lines = ["# A decomposition bound on random labels", "",
             f"Command: `{command}` (`benchmarks/split_bound.py`; its docstring says what it does).", "",
             "Each instance's points cut into disjoint parts (`random`: a random permutation cut in "
             "equal parts; `kmeans`: k-means on the inputs), each part trained alone on SCIP "
             "(width 2: with `error_bound=parallel`); the sum of the parts' final bounds is a lower "
             "bound on the whole instance's loss. Best known: the least loss in "
             "`hard-family.jsonl`. Per part: points, status, loss, bound, seconds.", "",
             "| instance | best known | cut | parts (points: status, loss / bound, s) | sum of bounds | "
             "share of best known | verified |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        b = best.get(r["instance"])
        share = "-" if not b else f"{r['bound'] / b:.0%}"
        parts = "; ".join(f"{p['points']}: {p['status']}, {p['loss']:g} / {p['bound']:g}, {p['seconds']:.1f}"
                          for p in r["part_results"])
        ok = all(p["verified"] for p in r["part_results"])
        lines.append(f"| {r['instance']} | {'-' if b is None else f'{b:g}'} | {r['method']} x {r['parts']} | "
                     f"{parts} | {r['bound']:g} | {share} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


READING = "\n## Reading"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--instances", type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
                    default=list(DEFAULT_INSTANCES))
    ap.add_argument("--output", type=Path, default=Path("docs/benchmarks/split-bound.jsonl"))
    ap.add_argument("--report", type=Path, default=Path("docs/benchmarks/split-bound.md"))
    args = ap.parse_args(argv)
    if args.parts < 2 or not args.time_limit > 0:
        ap.error(f"--parts must be at least 2 and --time-limit positive, got {args.parts}, {args.time_limit:g}")
    from hard_family import best_known, instance_names, read_records

    unknown = [n for n in args.instances if n not in instance_names()]
    if unknown:
        ap.error(f"unknown instances {unknown}; choose from {instance_names()}")
    command = (f"python benchmarks/split_bound.py --time-limit {args.time_limit:g} --parts {args.parts} "
               f"--instances '{','.join(args.instances)}'")
    records = []
    for name in args.instances:
        for method in METHODS:
            rec = run(name, args.parts, method, args.time_limit)
            records.append(rec)
            print(f"{name} {method} x {args.parts}: bound {rec['bound']:g} "
                  f"({[p['status'] for p in rec['part_results']]}) in {rec['seconds']:.1f} s",
                  file=sys.stderr, flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(json.dumps(r) + "\n" for r in records))
    best = best_known(read_records(Path(__file__).resolve().parent.parent / "docs/benchmarks/hard-family.jsonl"))
    text = report(records, best, command)
    if args.report.exists() and READING in (old := args.report.read_text()):
        text += old[old.index(READING):]
    args.report.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
