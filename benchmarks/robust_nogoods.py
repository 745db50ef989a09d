"""Robust training: no-good rows for points whose balls' hulls meet (an experiment, not kept).

    python benchmarks/robust_nogoods.py [--time-limit 120] [--seeds 300,301,302] [--workers 2]
                                        [--output docs/benchmarks/robust-nogoods.md]
    python benchmarks/robust_nogoods.py --records docs/benchmarks/robust-nogoods.jsonl

Question: can valid inequalities that know the geometry of robust training give SCIP the 10x
of issue 5 on the synthetic robust instance (``formulations.py``'s "robust h2 m50 r0.1")?

Under robust training every first-layer neuron is on over a point's whole l-inf ball or off over
all of it. If the hulls of two sets of balls meet, the neuron cannot be on over one set and off
over the other (half-spaces are convex). For two points ``a, b`` and a point ``c`` whose ball
meets the hull of theirs (``dist_inf(x_c, [x_a, x_b]) <= 2r``), and for two pairs whose
segments come within ``2r`` of each other, that gives, for every neuron ``j``::

    u_c >= u_a + u_b - 1,   u_c <= u_a + u_b                      (2 against 1)
    u_c + u_d >= u_a + u_b - 1,   u_c + u_d <= u_a + u_b + 1      (2 against 2)

Each such row is implied by the model (it cuts off no network), so a solver may hold them as
cuts. Distances are measured on a grid of ``GRID`` points per segment; the grid's distance is
at least the true one, so every row found is valid (some are missed).

Variants, all ``exact`` with the defaults (``tight``, gradient start), one thread:

- ``tight``: the default;
- ``tight+nogoods``: the rows added; on SCIP as cuts (``initial=False``, ``removable=True``:
  SCIP separates them when violated and propagates them), on HiGHS as plain rows;
- ``tight+sepoff`` / ``tight+nogoods+sepoff`` (SCIP only): the same with SCIP's cutting-plane
  separators off (``separating/maxrounds=0``, ``separating/maxroundsroot=0``).

The generation of the rows runs inside the timed call (it is part of what such a formulation
would cost). Every job runs in its own process after an untimed warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formulations import sgm  # noqa: E402

GRID = 21
VARIANTS = {  # name: (backend, add no-goods, SCIP separators off)
    "scip tight": ("scip", False, False),
    "scip tight+nogoods": ("scip", True, False),
    "scip tight+sepoff": ("scip", False, True),
    "scip tight+nogoods+sepoff": ("scip", True, True),
    "highs tight": ("highs", False, False),
    "highs tight+nogoods": ("highs", True, False),
}


def nogoods(X: np.ndarray, radius: float, grid: int = GRID):
    """``(triples, quads)``: index arrays ``(a, b, c)`` and ``(a, b, c, d)`` of the rows above."""
    m = len(X)
    limit = 2 * radius * (1 - 1e-9)
    t = np.linspace(0.0, 1.0, grid)
    pairs = np.array([(i, j) for i in range(m) for j in range(i + 1, m)], dtype=np.int64).reshape(-1, 2)
    A, B = X[pairs[:, 0]], X[pairs[:, 1]]
    segs = A[:, None, :] + t[None, :, None] * (B - A)[:, None, :]  # (pairs, grid, n)
    lo, hi = np.minimum(A, B), np.maximum(A, B)
    triples, quads = [], []
    for p, (a, b) in enumerate(pairs):
        d = np.abs(X[:, None, :] - segs[p][None]).max(-1).min(-1)
        d[[a, b]] = np.inf
        triples += [(a, b, c) for c in np.flatnonzero(d <= limit)]
        # pairs whose bounding boxes come within 2r, later in order, sharing no point
        cand = np.flatnonzero(np.maximum(lo[p] - hi, lo - hi[p]).max(-1) <= 2 * radius)
        cand = cand[cand > p]
        cand = cand[~np.isin(pairs[cand], pairs[p]).any(1)]
        if len(cand):
            dist = np.abs(segs[p][None, :, None, :] - segs[cand][:, None, :, :]).max(-1).min((1, 2))
            quads += [(a, b, *pairs[q]) for q in cand[dist <= limit]]
    return np.array(triples, dtype=np.int64).reshape(-1, 3), np.array(quads, dtype=np.int64).reshape(-1, 4)


def _install(X, radius, add_nogoods, sep_off, counts):
    """Patch ``tight``'s extra rows (no-goods) and the SCIP build (cuts, separators) in this process."""
    from bnnmip.formulation import tight
    from bnnmip.milp import RowKind

    if add_nogoods:
        symmetry_rows = tight._symmetry_rows

        def patched(arch, first_cluster):
            base = symmetry_rows(arch, first_cluster)

            def extra(pb):
                base(pb)
                t0 = time.perf_counter()
                T, Q = nogoods(X, radius)
                counts.update(triples=len(T), quads=len(Q),
                              generation_s=counts.get("generation_s", 0.0) + time.perf_counter() - t0)
                u = pb.index("u1")  # one cluster per point here (checked by the job)
                d1 = u.shape[1]
                for name, idx, signs, lo, hi in (("nogood3", T, (-1, -1, 1), -1.0, 0.0),
                                                 ("nogood4", Q, (-1, -1, 1, 1), -1.0, 1.0)):
                    if not len(idx):
                        continue
                    rows = np.arange(len(idx) * d1).reshape(len(idx), d1)
                    entries = [(rows, u[idx[:, k]], float(s)) for k, s in enumerate(signs)]
                    # one-sided blocks: SCIP turns each into a logicor constraint
                    pb.add_rows(f"{name}_lo", RowKind.ORDER, rows.size, entries, lo, np.inf)
                    pb.add_rows(f"{name}_hi", RowKind.ORDER, rows.size, entries, -np.inf, hi)

            return extra

        tight._symmetry_rows = patched
    from bnnmip_scip import backend as scip_backend

    build = scip_backend.ScipBackend.build

    def scip_build(self, problem, options):
        native = build(self, problem, options)
        if sep_off:
            native.model.setParam("separating/maxrounds", 0)
            native.model.setParam("separating/maxroundsroot", 0)
        cut_rows = {i for blk in problem.rows if blk.name.startswith("nogood") for i in range(blk.start, blk.stop)}
        if cut_rows:
            for cons in native.model.getConss():
                if cons.name.startswith("R") and int(cons.name[1:]) in cut_rows:
                    native.model.setInitial(cons, False)
                    native.model.setRemovable(cons, True)
        return native

    scip_backend.ScipBackend.build = scip_build


def job(seed, variant, radius, time_limit):
    np.seterr(all="ignore")
    import bnnmip
    from bnnmip import Architecture, RobustnessSet
    from bnnmip.formulation import lower
    from bnnmip.testing import random_teacher, xor

    backend, add, sep_off = VARIANTS[variant]
    _, data = random_teacher(10, (2,), 2, 50, seed=seed)
    arch, robust = Architecture(10, (2,), 2), RobustnessSet(radius)
    groups = lower(arch, data, robust=robust).ties.n_clusters
    if groups != data.n_points:
        raise RuntimeError(f"seed {seed}: {groups} groups of {data.n_points} points; the rows assume one each")
    inst = xor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bnnmip.train(inst.architecture, inst.data, backend=backend,
                     options=bnnmip.SolveOptions(threads=1, time_limit=5))  # untimed warm-up
        counts = {}
        _install(data.X, radius, add, sep_off, counts)
        t0 = time.perf_counter()
        res = bnnmip.train(arch, data, backend=backend, robust=robust, time_budget=time_limit,
                           options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=time_limit))
        seconds = time.perf_counter() - t0
    v = res.verification
    return {"seed": seed, "radius": radius, "variant": variant, "status": res.status.value,
            "objective": res.objective, "bound": res.final.bound, "nodes": res.final.nodes,
            "seconds": seconds, "verified": bool(v is not None and v.ok), **counts}


def report(records, limit, command):
    import bnnmip

    seeds = sorted({r["seed"] for r in records})
    by = {(r["variant"], r["seed"]): r for r in records}
    lines = [
        "# Robust training: no-good rows for balls whose hulls meet (experiment, not kept)",
        "",
        command,
        "",
        f"bnnmip {bnnmip.__version__}, Python {platform.python_version()}, {platform.machine()}; "
        f"one thread per solve, {limit:g} s per solve. Instances: `formulations.py`'s robust "
        f"instance (50 random-teacher points in [0, 1]^10, 2 hidden neurons) at r = "
        f"{records[0]['radius']:g}, teacher seeds {', '.join(map(str, seeds))} (300 is the benchmark's).",
        "",
        "Per seed: seconds to proven optimality (`>` the limit when not proven), branch-and-bound "
        "nodes, rows generated (2-against-1 / 2-against-2 sets, times 2 neurons and 2 sides), "
        "and the generation's own seconds (included in the time). Ratios: shifted geometric mean (shift 1 s) "
        "of the time, the backend's `tight` against the variant, with and without the generation.",
        "",
        "| variant | " + " | ".join(f"seed {s}: s (nodes)" for s in seeds) + " | sets | generation (s) | vs tight "
        "| vs tight, without the generation | objective (proven or at the limit) | not verified |",
        "|---|" + "---|" * len(seeds) + "---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        rs = [by[(v, s)] for s in seeds if (v, s) in by]
        if not rs:
            continue
        cells = []
        for s in seeds:
            r = by.get((v, s))
            if r is None:
                cells.append("-")
                continue
            t = f"{r['seconds']:.1f}" if r["status"] == "optimal" else f"> {limit:g}"
            cells.append(f"{t} ({r['nodes']})")
        base = [by[(f"{v.split()[0]} tight", s)] for s in seeds if (f"{v.split()[0]} tight", s) in by]
        tto = [r["seconds"] if r["status"] == "optimal" else limit for r in rs]
        btto = [r["seconds"] if r["status"] == "optimal" else limit for r in base]
        gtto = [r["seconds"] - r.get("generation_s", 0.0) if r["status"] == "optimal" else limit for r in rs]
        sets = ", ".join(f"{r['triples']} / {r['quads']}" for r in rs) if "triples" in rs[0] else "-"
        gen = f"{max(r['generation_s'] for r in rs):.1f}" if "generation_s" in rs[0] else "-"
        opt = ", ".join(f"{r['objective']:g}" if r["objective"] is not None else "-" for r in rs)
        lines.append(f"| `{v}` | " + " | ".join(cells) + f" | {sets} | {gen} | "
                     f"{sgm(btto) / sgm(tto):.2f}x | {sgm(btto) / sgm(gtto):.2f}x | {opt} | {sum(not r['verified'] for r in rs)} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--seeds", default="300,301,302")
    ap.add_argument("--radius", type=float, default=0.1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--output", default="docs/benchmarks/robust-nogoods.md")
    ap.add_argument("--records", help="rebuild the report from this JSON-lines file instead of running")
    ap.add_argument("--label", default="", help="recorded with the command (e.g. the commit)")
    args = ap.parse_args(argv)
    out = Path(args.output)
    if args.records:
        records = [json.loads(line) for line in Path(args.records).read_text().splitlines() if line.strip()]
        meta = records.pop(0)
        out.write_text(report(records, meta["time_limit"], meta["command"]))
        print(out.read_text())
        return 0
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    jobs = [(int(s), v, args.radius, args.time_limit) for s in args.seeds.split(",") for v in variants]
    t0 = time.perf_counter()
    records = []
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:  # fresh process per job
        futures = [pool.submit(job, *j) for j in jobs]
        for i, f in enumerate(as_completed(futures), 1):
            rec = f.result()
            records.append(rec)
            print(f"[{i}/{len(jobs)}] seed {rec['seed']} {rec['variant']}: {rec['status']} {rec['objective']} "
                  f"in {rec['seconds']:.1f} s, {rec['nodes']} nodes", flush=True)
    wall = time.perf_counter() - t0
    command = (f"Command: `python benchmarks/robust_nogoods.py --time-limit {args.time_limit:g} --seeds "
               f"{args.seeds} --radius {args.radius:g} --variants {args.variants} --workers {args.workers}` "
               f"({wall / 60:.0f} min wall{', at ' + args.label if args.label else ''}).")
    records.sort(key=lambda r: (list(VARIANTS).index(r["variant"]), r["seed"]))
    meta = {"time_limit": args.time_limit, "command": command}
    out.with_suffix(".jsonl").write_text("\n".join(json.dumps(r) for r in [meta, *records]) + "\n")
    out.write_text(report(records, args.time_limit, command))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
