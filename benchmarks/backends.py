"""Backends side by side on the same instances, in one process: time, status, objective.

    python benchmarks/backends.py [--time-limit 60] [--backends highs scip scip-indicator cbc]
                                  [--output docs/benchmarks/backends.md]

Every backend solves every instance with one thread and seed 0; times are wall-clock seconds
of the solve (build excluded, reported separately). The summary gives, per backend, the
number solved to proven optimality, the shifted geometric mean of solve times (shift 1 s,
time-limited runs counted at the limit) and its ratio to the first backend. A second table
compares SCIP's two ways of building the model (row by row vs reading an MPS file).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import bnnmip
from bnnmip.datasets import load_dataset, split_dataset
from bnnmip.strategies import sound_integrality_tolerance, trivial_network
from bnnmip.testing import random_teacher


def instances():
    """(name, Lowering) pairs, from tiny to a minute's work."""
    out = []
    for name, (n, hidden, k, m, seed) in {
        "teacher 4-3-2, m=40": (4, (3,), 2, 40, 11),
        "teacher 5-3-3, m=40": (5, (3,), 3, 40, 12),
        "teacher 4-2-2-2, m=30": (4, (2, 2), 2, 30, 13),
        "teacher 10-2-2, m=100": (10, (2,), 2, 100, 14),
    }.items():
        _, data = random_teacher(n, hidden, k, m, seed=seed)
        out.append((name, bnnmip.lower(bnnmip.Architecture(n, hidden, k), data)))
    rng = np.random.default_rng(0)
    for m in (20, 40):
        data = bnnmip.TrainingSet.from_arrays(rng.uniform(size=(m, 3)), rng.integers(0, 2, m))
        out.append((f"random labels 3-2-2, m={m}", bnnmip.lower(bnnmip.Architecture(3, (2,), 2), data)))
    ds = load_dataset("breast-cancer-wisconsin")
    for m in (50, 100):
        X_tr, _, y_tr, _ = split_dataset(ds.X, ds.y, train_size=m, seed=0)
        scaling = bnnmip.InputScaling.fit(X_tr)
        data = bnnmip.TrainingSet.from_arrays(scaling.transform(X_tr), y_tr)
        out.append((f"breast cancer 9-2-2, m={m}", bnnmip.lower(bnnmip.Architecture(9, (2,), 2), data)))
    return out


def shifted_geomean(values, shift=1.0):
    return math.exp(statistics.fmean(math.log(v + shift) for v in values)) - shift


def run(backends, time_limit):
    rows = []
    for name, low in instances():
        start = low.encode(trivial_network(low.architecture, low.data))
        options = bnnmip.SolveOptions(
            time_limit=time_limit, threads=1, seed=0, mip_start=start,
            integrality_tolerance=sound_integrality_tolerance(low),
        )
        for b in backends:
            res = bnnmip.solve(bnnmip.get_backend(b), low.problem, options)
            mism = None
            if res.status.has_solution:
                mism = bnnmip.verify(low, low.decode(res.x), res.x, res.objective).mismatches
            rows.append(dict(instance=name, backend=b, status=res.status.value, objective=res.objective,
                             bound=res.bound, nodes=res.nodes, build=res.build_seconds,
                             solve=res.solve_seconds, mismatches=mism,
                             vars=low.problem.n_cols, rows=low.problem.n_rows))
            print(f"{name:30s} {b:15s} {res.status.value:9s} obj={res.objective} "
                  f"bound={res.bound} {res.solve_seconds:7.2f} s", file=sys.stderr, flush=True)
    return rows


def scip_rows_build(problem):
    """The SCIP model built row by row through PySCIPOpt (the alternative to ScipBackend's MPS read)."""
    import math

    import pyscipopt
    from pyscipopt.scip import Term

    model = pyscipopt.Model()
    model.hideOutput()
    lower = [None if math.isinf(v) else v for v in problem.col_lower.tolist()]
    upper = [None if math.isinf(v) else v for v in problem.col_upper.tolist()]
    cost, vtype = problem.c.tolist(), ["I" if f else "C" for f in problem.integrality.tolist()]
    variables = [model.addVar(name=f"C{j:07d}", vtype=vtype[j], lb=lower[j], ub=upper[j], obj=cost[j])
                 for j in range(problem.n_cols)]
    if problem.offset:
        model.addObjoffset(float(problem.offset))
    terms = [Term(v) for v in variables]
    A = problem.A.tocsr()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    for i, (lo, hi) in enumerate(zip(problem.row_lower.tolist(), problem.row_upper.tolist(), strict=True)):
        lo, hi = (None if math.isinf(lo) else lo), (None if math.isinf(hi) else hi)
        if lo is not None or hi is not None:
            a, b = indptr[i], indptr[i + 1]
            expr = pyscipopt.Expr({terms[j]: v for j, v in zip(indices[a:b], data[a:b], strict=True)})
            model.addCons(pyscipopt.scip.ExprCons(expr, lo, hi), name=f"R{i:07d}")
    return model


def scip_build(repeats=5):
    from bnnmip_scip.backend import ScipBackend

    rng = np.random.default_rng(1)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(size=(250, 10)), rng.integers(0, 2, 250))
    low = bnnmip.lower(bnnmip.Architecture(10, (4,), 2), data)
    out = {}
    builds = {"rows": scip_rows_build, "mps": lambda p: ScipBackend().build(p, bnnmip.SolveOptions())}
    for via, build in builds.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            build(low.problem)
            times.append(time.perf_counter() - t0)
        out[via] = statistics.median(times)
    return low.problem.size_summary(), out


def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def report(rows, backends, time_limit, build):
    names = list(dict.fromkeys(r["instance"] for r in rows))
    lines = [
        "# Backends side by side",
        "",
        f"Command: `python benchmarks/backends.py --time-limit {time_limit:g} --backends {' '.join(backends)}`",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, one thread per solve, seed 0; "
        + ", ".join(f"{b} {bnnmip.get_backend(b).solver_version()}" for b in backends) + ".",
        "Every solve starts from the majority-class network (the `exact` strategy's default start) with the",
        "integrality tolerance the `exact` strategy derives from eps and big-M. Times are solve seconds.",
        "",
        "## Summary",
        "",
        "| backend | proven optimal | shifted geo. mean time (s) | ratio to " + backends[0] + " | mismatches |",
        "|---|---|---|---|---|",
    ]
    base = None
    for b in backends:
        mine = [r for r in rows if r["backend"] == b]
        sgm = shifted_geomean([r["solve"] for r in mine])
        base = sgm if base is None else base
        solved = sum(r["status"] == "optimal" for r in mine)
        mism = sum(r["mismatches"] or 0 for r in mine)
        lines.append(f"| {b} | {solved}/{len(mine)} | {sgm:.2f} | {sgm / base:.2f} | {mism} |")
    lines += ["", "## Per instance (status, objective / bound, solve seconds)", "",
              "| instance | size (vars x rows) | " + " | ".join(backends) + " |",
              "|---|---|" + "---|" * len(backends)]
    for name in names:
        mine = {r["backend"]: r for r in rows if r["instance"] == name}
        first = next(iter(mine.values()))
        cells = [f"{r['status']} {fmt(r['objective'], '{:g}')}/{fmt(r['bound'], '{:g}')} {r['solve']:.2f}"
                 for r in (mine[b] for b in backends)]
        lines.append(f"| {name} | {first['vars']} x {first['rows']} | " + " | ".join(cells) + " |")
    size, times = build
    lines += ["", "## SCIP model build: row by row vs MPS file", "",
              f"Random labels, 250 points, 10 features, hidden (4,): {size['variables']} variables, "
              f"{size['rows']} rows, {size['nonzeros']} nonzeros; median of 5 builds.", "",
              "| build_via | seconds | ratio to rows |", "|---|---|---|"]
    for via, t in times.items():
        lines.append(f"| {via} | {t:.3f} | {t / times['rows']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--backends", nargs="+", default=["highs", "scip", "scip-indicator", "cbc"])
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/backends.md"))
    args = p.parse_args(argv)
    backends = [b for b in args.backends if bnnmip.get_backend(b).availability()[0]]
    rows = run(backends, args.time_limit)
    text = report(rows, backends, args.time_limit, scip_build())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
