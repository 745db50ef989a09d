"""The paper's formulation against the improved variants, side by side (issue 5).

    python benchmarks/formulations.py [--time-limit 60] [--backends highs] [--workers 2]
                                      [--seeds 10] [--output docs/benchmarks/formulations.md]

Variants (all the ``exact`` strategy, one MILP over all training points, one solver thread,
``time_budget`` = the time limit, so a gradient start counts against the same 60 s):

- ``paper``: the paper's formulation, majority-class MIP start (the paper's setting);
- ``tight``: the ``tight`` formulation (interval big-M, merged duplicates, symmetry breaking);
- ``paper+ste`` / ``tight+ste``: the same, started from a gradient-trained network
  (straight-through step, refitted to the formulation's margins); a start with loss 0 is
  optimal and returned without calling the solver (``exact``'s default);
- ``tight+ste+solve``: ``tight+ste`` with ``always_solve=true``: the solver runs even from a
  zero-loss start (separates the start's gain from the skipped solve's);
- ``tight+ste+improve``: ``tight+ste`` plus the incumbent-improvement heuristic inside the
  solver's search (``improve="coordinate"``: the ``exact`` strategy's defaults).

Instances:

- random teacher: inputs uniform in [0, 1]^10, labels of a random network with 2 or 4 hidden
  neurons (a zero-loss network exists), m = 25 ... 1000;
- random labels: 10 inputs, 2 hidden neurons, m = 25, 50, 100;
- robust: 50 teacher points (2 hidden), robust radius 0.05 and 0.1;
- paper protocol on the breast-cancer file and iris: min-max scaling fitted on the training
  part, 50/25/25 stratified splits, hidden width 2, ``--seeds`` repetitions; test accuracy
  with the solver's weights, with max-min margin weights (same pattern,
  :func:`bnnmip.heuristics.pattern_fit.polish`) and with the soft-margin refit (C = 1) where the 25 %
  validation part prefers it (:func:`bnnmip.heuristics.soft_margin.refit_if_better`, what
  ``margin="soft"`` with validation data returns; the validation part is used for nothing
  else); a same-width ReLU MLP (scikit-learn, Adam, 2000 iterations) on the same training
  parts.

Every job runs in its own process (``--workers`` at a time). Raw records go to a JSON-lines
file next to the report. Reported per variant, against ``paper`` on the same backend: the
shifted geometric mean (shift 1 s) of time to proven optimality over the instances ``paper``
proves within the limit (a variant that does not prove one counts with the limit), training
errors at the limit, zero-loss teacher instances, test accuracy, verification failures
(forward pass vs MILP) and repairs.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

VARIANTS = {  # name: (formulation, exact strategy params)
    "paper": ("paper", {"start": "none", "improve": "none"}),
    "tight": ("tight", {"start": "none", "improve": "none"}),
    "paper+ste": ("paper", {"start": "ste", "improve": "none"}),
    "tight+ste": ("tight", {"start": "ste", "improve": "none"}),
    "tight+ste+solve": ("tight", {"start": "ste", "improve": "none", "always_solve": True}),
    "tight+ste+improve": ("tight", {"start": "ste", "improve": "coordinate"}),
}
PROTOCOL_VARIANTS = ("paper", "tight+ste")
TEACHER_M = (25, 50, 100, 200, 500, 1000)
RANDOM_M = (25, 50, 100)
ROBUST_R = (0.05, 0.1)
SHIFT = 1.0


def instances(quick: bool = False):
    """``(name, family, spec)`` of every synthetic instance."""
    out = []
    ms = TEACHER_M[:3] if quick else TEACHER_M
    for h in (2, 4):
        for m in ms:
            out.append((f"teacher h{h} m{m}", "teacher", {"hidden": h, "m": m, "seed": 100 + 10 * h + m}))
    for m in RANDOM_M[:2] if quick else RANDOM_M:
        out.append((f"random h2 m{m}", "random", {"hidden": 2, "m": m, "seed": 200 + m}))
    for r in ROBUST_R:
        out.append((f"robust h2 m50 r{r:g}", "robust", {"hidden": 2, "m": 50, "seed": 300, "radius": r}))
    return out


def _data(family, spec):
    from bnnmip import Architecture, RobustnessSet, TrainingSet
    from bnnmip.testing import random_teacher

    arch = Architecture(10, (spec["hidden"],), 2)
    robust = None
    if family == "random":
        rng = np.random.default_rng(spec["seed"])
        data = TrainingSet.from_arrays(rng.uniform(0, 1, (spec["m"], 10)), rng.integers(0, 2, spec["m"]))
    else:
        _, data = random_teacher(10, (spec["hidden"],), 2, spec["m"], seed=spec["seed"])
        if family == "robust":
            robust = RobustnessSet(spec["radius"])
    return arch, data, robust


def _warm_up(backend, variant):
    """Load plugins, the solver library and the variant's own code before timing.

    Each job is a fresh process, so the first call pays one-off costs (imports, e.g. scipy's
    LP code the gradient start uses, and loading the solver): one solve of a tiny instance
    with the majority-class start, then one with the variant's own settings, are not timed.
    """
    import bnnmip
    from bnnmip.testing import xor

    inst = xor()
    formulation, params = VARIANTS[variant]
    for fm, ps in (("paper", {"start": "none", "improve": "none"}), (formulation, params)):
        bnnmip.train(inst.architecture, inst.data, backend=backend, formulation=fm, params=ps,
                     options=bnnmip.SolveOptions(threads=1, time_limit=5))


def _train(arch, data, robust, variant, backend, time_limit, seed=0):
    import bnnmip

    formulation, params = VARIANTS[variant]
    _warm_up(backend, variant)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bnnmip.train(
            arch, data, backend=backend, formulation=formulation, robust=robust,
            options=bnnmip.SolveOptions(threads=1, seed=seed, time_limit=time_limit),
            time_budget=time_limit, params=params,
        )
    seconds = time.perf_counter() - t0
    v = res.verification
    rec = {
        "status": res.status.value,
        "objective": res.objective,
        "bound": res.final.bound,
        "loss": res.loss,
        "seconds": seconds,
        "verified": bool(v is not None and v.ok),
        "repaired": bool(v is not None and v.repaired),
        "nodes": res.final.nodes,
        "solver_message": res.final.message,
        "start": next((r for r in res.history if "start" in r), None),
        "improve": next((r for r in res.history if "improve" in r), None),
    }
    return res, rec


def synthetic_job(name, family, spec, variant, backend, time_limit):
    np.seterr(all="ignore")
    arch, data, robust = _data(family, spec)
    _, rec = _train(arch, data, robust, variant, backend, time_limit)
    return {"kind": "synthetic", "instance": name, "family": family, "m": spec["m"], "variant": variant,
            "backend": backend, **rec}


def protocol_split(dataset, seed):
    """The paper protocol's parts of ``dataset`` for ``seed``: 50/25/25 stratified, min-max
    scaling fitted on the training part (validation and test clipped to [-1, 2]).

    Returns a dict: ``X`` (scaled training inputs), ``y`` (training labels), ``y_idx`` (their
    indices into ``classes``), ``classes``, ``X_val``, ``y_val``, ``X_test``, ``y_test``.
    """
    from sklearn.preprocessing import MinMaxScaler

    from bnnmip.datasets import load_dataset, split_dataset

    ds = load_dataset(dataset)
    X_rest, X_test, y_rest, y_test = split_dataset(ds.X, ds.y, test_size=0.25, seed=seed)
    X_tr, X_val, y_tr, y_val = split_dataset(X_rest, y_rest, test_size=1 / 3, seed=seed)
    scaler = MinMaxScaler().fit(X_tr)
    classes = np.unique(y_tr)
    return {"X": scaler.transform(X_tr), "y": y_tr, "y_idx": np.searchsorted(classes, y_tr),
            "classes": classes, "X_val": np.clip(scaler.transform(X_val), -1, 2), "y_val": y_val,
            "X_test": np.clip(scaler.transform(X_test), -1, 2), "y_test": y_test}


def protocol_job(dataset, seed, variant, backend, time_limit):
    np.seterr(all="ignore")
    from bnnmip import Architecture, TrainingSet
    from bnnmip.formulation import FORMULATIONS
    from bnnmip.heuristics.pattern_fit import polish
    from bnnmip.heuristics.soft_margin import refit_if_better

    parts = protocol_split(dataset, seed)
    Xs, y_tr, y_idx, classes = parts["X"], parts["y"], parts["y_idx"], parts["classes"]
    Xt, y_test = parts["X_test"], parts["y_test"]
    base = {"kind": "protocol", "dataset": dataset, "seed": seed, "variant": variant, "backend": backend,
            "m": len(y_tr)}
    if variant == "mlp":
        from sklearn.neural_network import MLPClassifier

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp = MLPClassifier(hidden_layer_sizes=(2,), max_iter=2000, random_state=seed).fit(Xs, y_tr)
        return {**base, "seconds": time.perf_counter() - t0, "test": float(mlp.score(Xt, y_test))}
    data = TrainingSet.from_arrays(Xs, y_idx, n_classes=len(classes))
    arch = Architecture(Xs.shape[1], (2,), len(classes))
    res, rec = _train(arch, data, None, variant, backend, time_limit, seed=seed)
    out = {**base, **rec, "test": None, "test_margin": None}
    if res.network is not None:
        pred = classes[res.network.predict_index(Xt, scaled=True)]
        out["test"] = float(np.mean(pred == y_test))
        module = FORMULATIONS[VARIANTS[variant][0]]
        fit = polish(res.network, arch, Xs, eps=module.DEFAULT_EPS,
                     bias_bounds=module.bias_bounds(arch, Xs, 0.0, module.DEFAULT_EPS))
        if fit.realized:
            pred = classes[fit.network.predict_index(Xt, scaled=True)]
            out["test_margin"] = float(np.mean(pred == y_test))
        validation = TrainingSet.from_arrays(parts["X_val"], np.searchsorted(classes, parts["y_val"]),
                                             n_classes=len(classes))
        chosen, soft = refit_if_better(res.network, data, validation=validation)
        pred = classes[chosen.predict_index(Xt, scaled=True)]
        out["test_soft"] = float(np.mean(pred == y_test))
        out["soft_kept"] = soft["kept"]
    return out


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def sgm(values, shift=SHIFT):
    values = list(values)
    if not values:
        return None
    return math.exp(statistics.fmean(math.log(v + shift) for v in values)) - shift


def _tto(rec, limit):
    """Time to proven optimality (the limit when not proven)."""
    return rec["seconds"] if rec["status"] == "optimal" else limit


def _fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def report(records, args, wall):
    import bnnmip

    limit = args.time_limit
    cmd = "" if args.records else (
        f"Command: `python benchmarks/formulations.py --time-limit {args.time_limit:g} --backends "
        f"{','.join(args.backends)} --workers {args.workers} --seeds {args.seeds}"
        f"{' --quick' if args.quick else ''}` ({wall / 60:.0f} min wall)."
    )
    lines = [
        "# Formulations: `paper` against the improved variants",
        "",
        cmd or "Built with `--records` from the runs' JSON-lines files; each section names the runs "
        "(commits) its records come from; `formulations-runs.md` has the commands and what the "
        "numbers say about issue 5's targets.",
        f"Machine: {platform.machine()}, {args.workers} jobs at a time, one solver thread each, Python "
        f"{platform.python_version()}, bnnmip {bnnmip.__version__}; "
        + ", ".join(f"{b} {bnnmip.get_backend(b).solver_version()}"
                    for b in dict.fromkeys(r["backend"] for r in records)) + ".",
        "Every variant runs the `exact` strategy with a time budget equal to the limit (the gradient "
        "start of the `+ste` variants counts against it). Raw records: "
        + (", ".join(f"`{Path(f).name}`" for f in args.records) if args.records
           else f"`{args.output.with_suffix('.jsonl').name}`") + ".",
        "",
    ]
    syn = [r for r in records if r["kind"] == "synthetic"]
    for backend in dict.fromkeys(r["backend"] for r in syn):
        mine = [r for r in syn if r["backend"] == backend]
        by = {(r["instance"], r["variant"]): r for r in mine}
        names = list(dict.fromkeys(r["instance"] for r in sorted(mine, key=lambda r: r["order"])))
        variants = [v for v in VARIANTS if any(r["variant"] == v for r in mine)]
        lines += [f"## Synthetic instances on {backend}, {limit:g} s", "", f"Records from run {_runs(mine)}.",
                  "",
                  "Each cell: training errors of the returned network (forward pass) / status / seconds.",
                  "", "| instance | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
        for n in names:
            cells = []
            for v in variants:
                r = by.get((n, v))
                if r is None:
                    cells.append("-")
                    continue
                flag = "" if r["verified"] else " **NOT VERIFIED**"
                cells.append(f"{_fmt(r['loss'], '{:g}')} / {r['status']} / {r['seconds']:.1f}{flag}")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        solved = [n for n in names if by.get((n, "paper"), {}).get("status") == "optimal"]
        base = sgm(_tto(by[(n, "paper")], limit) for n in solved)
        lines += ["", f"Summary on {backend} (ratios against `paper`; {len(solved)} instances `paper` "
                  f"proves optimal within {limit:g} s: {', '.join(solved) or 'none'}).", "",
                  "| variant | proven optimal | sgm time on paper-solved (s) | speed-up vs paper | "
                  "total errors at limit | zero-loss teacher instances | verification failures | repaired |",
                  "|---|---|---|---|---|---|---|---|"]
        teachers = [n for n in names if n.startswith("teacher")]
        for v in variants:
            rs = [by[(n, v)] for n in names if (n, v) in by]
            t = sgm(_tto(by[(n, v)], limit) for n in solved if (n, v) in by)
            ratio = None if not t or base is None else base / t
            zero = sum(1 for n in teachers if (n, v) in by and by[(n, v)]["loss"] == 0)
            lines.append(
                f"| {v} | {sum(r['status'] == 'optimal' for r in rs)}/{len(rs)} | {_fmt(t)} | "
                f"{_fmt(ratio, '{:.1f}x')} | {sum(r['loss'] or 0 for r in rs):g} | {zero}/{len(teachers)} | "
                f"{sum(not r['verified'] for r in rs)} | {sum(r['repaired'] for r in rs)} |"
            )
        lines.append("")
    proto = [r for r in records if r["kind"] == "protocol"]
    if proto:
        lines += ["## Paper protocol (50/25/25, hidden width 2, test accuracy mean ± sd)", "",
                  f"Records from run {_runs(proto)}.", "",
                  "| data set | backend | model | test accuracy | with max-min margins "
                  "| with soft margins if validation prefers (kept) | training loss / 2 "
                  "| verification failures | mean seconds |",
                  "|---|---|---|---|---|---|---|---|---|"]
        proto_backends = list(dict.fromkeys(r["backend"] for r in proto if r["variant"] != "mlp"))
        for ds in dict.fromkeys(r["dataset"] for r in proto):
            for backend in proto_backends:
                for v in [*dict.fromkeys(r["variant"] for r in proto if r["variant"] != "mlp"), "mlp"]:
                    rs = [r for r in proto if r["dataset"] == ds and r["variant"] == v
                          and (r["backend"] == backend or v == "mlp")]
                    if not rs or (v == "mlp" and backend != proto_backends[0]):
                        continue
                    name = "ReLU MLP (sklearn)" if v == "mlp" else v
                    errs = [r.get("loss") for r in rs if r.get("loss") is not None]
                    lines.append(
                        f"| {ds} | {backend if v != 'mlp' else '-'} | {name} | {mean_sd(r['test'] for r in rs)} | "
                        f"{mean_sd(r.get('test_margin') for r in rs) if v != 'mlp' else '-'} | "
                        f"{_soft_cell(rs) if v != 'mlp' else '-'} | "
                        f"{_fmt(statistics.fmean(errs) / 2 if errs else None, '{:.1f}')} | "
                        f"{sum(not r['verified'] for r in rs) if v != 'mlp' else '-'} | "
                        f"{statistics.fmean(r['seconds'] for r in rs):.1f} |"
                    )
        lines += ["", "Training loss / 2: the Hamming loss halved, i.e. misclassified training points "
                  "when exactly one wrong output fires.", ""]
    return "\n".join(lines) + "\n"


def _soft_cell(rs) -> str:
    """Mean test accuracy with the validation-chosen soft-margin refit, and how often it was kept."""
    have = [r for r in rs if r.get("test_soft") is not None]
    if not have:
        return "-"
    return f"{mean_sd(r['test_soft'] for r in have)} ({sum(r['soft_kept'] for r in have)}/{len(have)})"


def _git_head() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).parent)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unlabelled"


def _runs(records) -> str:
    runs = sorted({r.get("run", "unlabelled") for r in records})
    return ", ".join(f"`{r}`" for r in runs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--backends", type=lambda s: s.split(","), default=["highs"])
    p.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=10, help="repetitions of the paper protocol (0: skip it)")
    p.add_argument("--datasets", type=lambda s: s.split(","), default=["breast-cancer-wisconsin", "iris"])
    p.add_argument("--quick", action="store_true", help="the smaller synthetic instances only")
    p.add_argument("--no-synthetic", action="store_true")
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/formulations.md"))
    p.add_argument("--label", default=None, help="run label stored in every record (default: git HEAD)")
    p.add_argument("--records", type=Path, nargs="+", default=None,
                   help="no runs: write the report from these JSON-lines files (records of several runs)")
    args = p.parse_args(argv)
    if args.records:
        records = [json.loads(line) for f in args.records for line in f.read_text().splitlines() if line]
        text = report(records, args, sum(r.get("seconds", 0) for r in records) / args.workers)
        args.output.write_text(text)
        print(text)
        return
    label = args.label or _git_head()
    jobs = []
    if not args.no_synthetic:
        for order, (name, family, spec) in enumerate(instances(args.quick)):
            for backend in args.backends:
                for v in args.variants:
                    jobs.append(((synthetic_job, name, family, spec, v, backend, args.time_limit), order))
    for ds in args.datasets if args.seeds else []:
        for seed in range(args.seeds):
            for backend in args.backends:
                for v in PROTOCOL_VARIANTS:
                    if v in args.variants:
                        jobs.append(((protocol_job, ds, seed, v, backend, args.time_limit), 0))
            jobs.append(((protocol_job, ds, seed, "mlp", args.backends[0], args.time_limit), 0))
    raw = args.output.with_suffix(".jsonl")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    records = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool, raw.open("w") as fh:
        futures = {pool.submit(fn, *rest): order for (fn, *rest), order in jobs}
        for done, fut in enumerate(as_completed(futures), start=1):
            rec = {**fut.result(), "order": futures[fut], "run": label}
            records.append(rec)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(f"[{done}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {json.dumps(rec)}", file=sys.stderr,
                  flush=True)
    text = report(records, args, time.perf_counter() - t0)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
