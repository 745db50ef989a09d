"""The ``tight`` formulation with and without its symmetry-breaking rows, per backend.

    python benchmarks/symmetry.py [--backends cbc,scip,highs] [--time-limit 30] [--seeds 6]
                                  [--output docs/benchmarks/symmetry.md]
    python benchmarks/symmetry.py --records docs/benchmarks/symmetry.jsonl   # report only

Instances: random labels on 10 uniform inputs (m = 25 and 30 with 2 hidden neurons, m = 20
with 3), seeds ``1000 + s``: small enough that a zero-loss network exists on most and the
solvers can prove it. Each is lowered with ``symmetry_breaking`` on and off and solved
directly (no start, the derived sound tolerances, one thread, seed 0), one after the other in
this process. Reported per backend: instances proven optimal and the shifted geometric mean
(shift 1 s) of time to proof, an unproven solve counting at the limit.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from formulations import sgm as shifted_geometric_mean  # shift 1 s, as in the formulations report

SIZES = ((25, 2), (30, 2), (20, 3))


def run(backends, seeds, time_limit):
    import bnnmip
    from bnnmip import Architecture, TrainingSet
    from bnnmip.backends import solve
    from bnnmip.formulation import lower
    from bnnmip.plugins.registry import get_backend
    from bnnmip.strategies._common import sound_feasibility_tolerance, sound_integrality_tolerance

    for name in backends:
        backend = get_backend(name)
        for seed in range(seeds):
            for m, h in SIZES:
                rng = np.random.default_rng(1000 + seed)
                data = TrainingSet.from_arrays(rng.uniform(0, 1, (m, 10)), rng.integers(0, 2, m))
                arch = Architecture(10, (h,), 2)
                row = {"backend": name, "seed": seed, "m": m, "h": h}
                for sym in (True, False):
                    low = lower(arch, data, formulation="tight", symmetry_breaking=sym)
                    options = bnnmip.SolveOptions(
                        threads=1, time_limit=time_limit, seed=0,
                        integrality_tolerance=sound_integrality_tolerance(low),
                        feasibility_tolerance=sound_feasibility_tolerance(low))
                    t0 = time.perf_counter()
                    res = solve(backend, low.problem, options)
                    row["sym" if sym else "nosym"] = [res.status.value, res.objective,
                                                      round(time.perf_counter() - t0, 2)]
                print(json.dumps(row), flush=True)
                yield row


def report(rows, time_limit, command, note=""):
    lines = ["# Symmetry breaking in `tight`, per backend", "",
             f"`{command}`; what is measured: the docstring of `benchmarks/symmetry.py`. Raw "
             "records: `symmetry.jsonl`." + (f" {note}" if note else ""), "",
             "| backend | instances | proven with / without | sgm time to proof with / without (s) | speed-up |",
             "|---|---|---|---|---|"]
    for b in dict.fromkeys(r["backend"] for r in rows):
        sel = [r for r in rows if r["backend"] == b]
        sgm = {k: shifted_geometric_mean(r[k][2] if r[k][0] == "optimal" else time_limit for r in sel)
               for k in ("sym", "nosym")}
        proven = {k: sum(r[k][0] == "optimal" for r in sel) for k in ("sym", "nosym")}
        lines.append(f"| {b} | {len(sel)} | {proven['sym']} / {proven['nosym']} | "
                     f"{sgm['sym']:.2f} / {sgm['nosym']:.2f} | {sgm['nosym'] / sgm['sym']:.1f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", type=lambda s: s.split(","), default=["cbc", "scip", "highs"])
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/symmetry.md"))
    p.add_argument("--records", type=Path, help="build the report from these records, no runs")
    p.add_argument("--note", default="", help="a sentence on the run, added to the report")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    command = (f"python benchmarks/symmetry.py --backends {','.join(args.backends)} "
               f"--time-limit {args.time_limit:g} --seeds {args.seeds}")
    if args.records:
        rows = [json.loads(line) for line in args.records.read_text().splitlines() if line.strip()]
    else:
        rows = list(run(args.backends, args.seeds, args.time_limit))
        args.output.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args.output.write_text(report(rows, args.time_limit, command, args.note))
    print(args.output.read_text())


if __name__ == "__main__":
    main()
