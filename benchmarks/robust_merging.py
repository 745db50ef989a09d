"""Robust training on the paper's data: merged activation groups against the models without them.

    python benchmarks/robust_merging.py [--time-limit 60] [--backends highs,scip,cbc]
                                        [--radii 0.05,0.1] [--seeds 3] [--workers 2]
                                        [--output docs/benchmarks/robust-merging.md]
    python benchmarks/robust_merging.py --records docs/benchmarks/robust-merging.jsonl

Instances: the breast-cancer file and iris with the paper protocol's training parts
(``formulations.protocol_split``: 50/25/25 stratified, min-max scaling fitted on the training
part), hidden width 2, robust radius ``--radii``, ``--seeds`` splits. Variants, all the ``exact``
strategy, one thread, ``time_budget`` = the time limit:

- ``paper``: the paper's formulation and majority-class start (what the paper ran);
- ``tight-nomerge``: ``tight`` with the gradient start, its merges restricted to identical
  inputs (``bnnmip.formulation.lower`` as it was before the robust merges; the patch is made
  in the job's own process);
- ``tight``: the default, which also merges points whose balls must share their activations
  (``bnnmip.formulation.merging``).

Every job runs in its own process; the untimed warm-up solves a tiny instance first. Reported
per backend: activation groups, the loss the groups force, shifted geometric mean (shift 1 s)
of the time to proven optimality (the limit when not proven) with its ratio to ``paper`` and
to ``tight-nomerge``, proofs, training loss at the limit, test accuracy, verification failures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formulations import protocol_split, sgm  # noqa: E402

VARIANTS = {  # name: (formulation, exact params, merge robust groups)
    "paper": ("paper", {"start": "none", "improve": "none"}, False),
    "tight-nomerge": ("tight", {"start": "ste", "improve": "none"}, False),
    "tight": ("tight", {"start": "ste", "improve": "none"}, True),
}
DATASETS = ("breast-cancer-wisconsin", "iris")


def _no_robust_merges():
    """Make ``lower`` merge identical inputs only, as before the robust merges."""
    import bnnmip.formulation as formulation
    from bnnmip.formulation.merging import merge_overlapping_balls

    formulation.merge_overlapping_balls = lambda ties, X, radius: merge_overlapping_balls(ties, X, 0.0)


def job(dataset, radius, seed, variant, backend, time_limit):
    np.seterr(all="ignore")
    import bnnmip
    from bnnmip import Architecture, RobustnessSet, TrainingSet
    from bnnmip.testing import xor

    formulation, params, merge = VARIANTS[variant]
    if not merge:
        _no_robust_merges()
    parts = protocol_split(dataset, seed)
    classes = parts["classes"]
    data = TrainingSet.from_arrays(parts["X"], parts["y_idx"], n_classes=len(classes))
    arch = Architecture(data.n_features, (2,), len(classes))
    robust = RobustnessSet(radius)
    inst = xor()
    opts = bnnmip.SolveOptions(threads=1, seed=seed, time_limit=time_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bnnmip.train(inst.architecture, inst.data, backend=backend, formulation=formulation,
                     robust=RobustnessSet(0.01), params=params,
                     options=bnnmip.SolveOptions(threads=1, time_limit=5))  # untimed warm-up
        t0 = time.perf_counter()
        res = bnnmip.train(arch, data, backend=backend, formulation=formulation, robust=robust,
                           options=opts, time_budget=time_limit, params=params)
        seconds = time.perf_counter() - t0
    from bnnmip.formulation import lower

    low = lower(arch, data, formulation=formulation, robust=robust)
    v = res.verification
    test = None
    if res.network is not None:
        pred = classes[res.network.predict_index(parts["X_test"], scaled=True)]
        test = float(np.mean(pred == parts["y_test"]))
    return {
        "dataset": dataset, "radius": radius, "seed": seed, "variant": variant, "backend": backend,
        "m": data.n_points, "groups": low.ties.n_clusters, "forced": low.problem.trivial_bound(),
        "status": res.status.value, "objective": res.objective, "bound": res.final.bound,
        "loss": res.loss, "seconds": seconds, "verified": bool(v is not None and v.ok),
        "test": test,
    }


def report(records, limit, command):
    import bnnmip

    lines = [
        "# Robust training: merged activation groups (`bnnmip.formulation.merging`)",
        "",
        command,
        "",
        f"bnnmip {bnnmip.__version__}, Python {platform.python_version()}, {platform.machine()}; "
        f"one thread per solve, {limit:g} s per solve (the gradient start counts against it).",
        "",
        "Per backend and instance group (data set, radius; the splits pooled): activation groups "
        "of the MILP (mean), the loss they force (the groups' minority labels, mean), shifted "
        "geometric mean (shift 1 s) of the time to proven optimality (the limit when not "
        "proven), proofs, mean loss of the returned network, mean test accuracy, verification "
        "failures. Ratios: the variant's time against `paper`'s and `tight-nomerge`'s on the "
        "same backend and instances.",
        "",
        "| backend | data set | r | variant | groups / points | forced loss | time to optimality (s) "
        "| vs paper | vs tight-nomerge | proven | loss | test | not verified |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def key(r):
        return r["backend"], r["dataset"], r["radius"]

    def ratio(times, base, v):
        return "-" if v == base or not times.get(base) else f"{sgm(times[base]) / sgm(times[v]):.1f}x"

    overall = {}
    for k in sorted({key(r) for r in records}):
        recs = [r for r in records if key(r) == k]
        tto = {v: [r["seconds"] if r["status"] == "optimal" else limit for r in recs if r["variant"] == v]
               for v in VARIANTS}
        for v in VARIANTS:
            rs = [r for r in recs if r["variant"] == v]
            if not rs:
                continue
            overall.setdefault(k[0], {}).setdefault(v, []).extend(tto[v])
            losses = [r["loss"] for r in rs if r["loss"] is not None]
            tests = [r["test"] for r in rs if r["test"] is not None]
            lines.append(
                f"| {k[0]} | {k[1]} | {k[2]:g} | `{v}` | "
                f"{statistics.fmean(r['groups'] for r in rs):.0f} / {rs[0]['m']} | "
                f"{statistics.fmean(r['forced'] for r in rs):.1f} | {sgm(tto[v]):.2f} | "
                f"{ratio(tto, 'paper', v)} | {ratio(tto, 'tight-nomerge', v) if v == 'tight' else '-'} | "
                f"{sum(r['status'] == 'optimal' for r in rs)}/{len(rs)} | "
                f"{statistics.fmean(losses) if losses else float('nan'):.1f} | "
                f"{statistics.fmean(tests) if tests else float('nan'):.3f} | "
                f"{sum(not r['verified'] for r in rs)} |"
            )
    lines += ["", "Over all instance groups, per backend:", "",
              "| backend | variant | time to optimality (s) | vs paper | vs tight-nomerge |",
              "|---|---|---|---|---|"]
    for backend, times in sorted(overall.items()):
        for v in times:
            lines.append(f"| {backend} | `{v}` | {sgm(times[v]):.2f} | {ratio(times, 'paper', v)} | "
                         f"{ratio(times, 'tight-nomerge', v) if v == 'tight' else '-'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--backends", default="highs,scip,cbc")
    ap.add_argument("--radii", default="0.05,0.1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--output", default="docs/benchmarks/robust-merging.md")
    ap.add_argument("--records", help="rebuild the report from this JSON-lines file instead of running")
    ap.add_argument("--label", default="", help="recorded with the command (e.g. the commit)")
    args = ap.parse_args(argv)
    out = Path(args.output)
    jsonl = out.with_suffix(".jsonl")
    if args.records:
        records = [json.loads(line) for line in Path(args.records).read_text().splitlines() if line.strip()]
        meta = records.pop(0)
        out.write_text(report(records, meta["time_limit"], meta["command"]))
        print(out.read_text())
        return 0
    backends = args.backends.split(",")
    radii = [float(r) for r in args.radii.split(",")]
    jobs = [(d, r, s, v, b, args.time_limit) for b in backends for d in DATASETS for r in radii
            for s in range(args.seeds) for v in VARIANTS]
    t0 = time.perf_counter()
    records = []
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:  # fresh process per job
        futures = [pool.submit(job, *j) for j in jobs]
        for i, f in enumerate(as_completed(futures), 1):
            rec = f.result()
            records.append(rec)
            print(f"[{i}/{len(jobs)}] {rec['backend']} {rec['dataset']} r={rec['radius']:g} seed {rec['seed']} "
                  f"{rec['variant']}: {rec['status']} {rec['objective']} in {rec['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - t0
    command = (f"Command: `python benchmarks/robust_merging.py --time-limit {args.time_limit:g} --backends "
               f"{args.backends} --radii {args.radii} --seeds {args.seeds} --workers {args.workers}` "
               f"({wall / 60:.0f} min wall{', at ' + args.label if args.label else ''}).")
    records.sort(key=lambda r: (r["backend"], r["dataset"], r["radius"], r["seed"], r["variant"]))
    meta = {"time_limit": args.time_limit, "command": command}
    jsonl.write_text("\n".join(json.dumps(r) for r in [meta, *records]) + "\n")
    out.write_text(report(records, args.time_limit, command))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
