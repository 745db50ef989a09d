"""The portfolio backend against each single backend on hard instances (issue 20, item 2).

    nice -n 10 python benchmarks/portfolio.py [--time-limit 60] [--instances "random h2 m50,..."]
        [--configs highs,scip,cbc,portfolio:highs+scip,portfolio:highs+scip+cbc] [--seeds 0,1]
        [--append] [--output docs/benchmarks/portfolio.md]

Instance names are those of ``benchmarks/formulations.py``, or ``random h2 mN`` for any N
(random labels on N points, built as there). ``--seeds`` repeats each run with other solver seeds (the data stay the same); ``--append``
adds the new runs to the JSON-lines file and reports all of them.

Every run is ``bnnmip.train`` with the ``exact`` strategy's defaults (``tight`` formulation,
gradient start, incumbent improvement in the search), ``threads=1`` per solver process,
``time_budget`` = the time limit, one run at a time (a 2-member portfolio takes both cores of
a 2-core machine; a 3-member one is oversubscribed there). The instances are those of
``benchmarks/formulations.py`` (same names, same data). Reported per run: the training
loss, status, final bound, time to proof (the run's seconds when proven optimal), and for the
portfolio who found the final incumbent and who proved it. Raw records go to a JSON-lines
file next to the report.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from formulations import _data, instances  # noqa: E402  (the same instances)

DEFAULT_INSTANCES = ("random h2 m50", "robust h2 m50 r0.1", "random h2 m100")
DEFAULT_CONFIGS = ("highs", "scip", "cbc", "portfolio:highs+scip", "portfolio:highs+scip+cbc")


def run(instance: str, config: str, time_limit: float, seed: int = 0) -> dict:
    import bnnmip
    from bnnmip.testing import xor

    np.seterr(all="ignore")
    known = {name: (family, s) for name, family, s in instances()}
    if instance not in known and instance.startswith("random h2 m"):  # more sizes of the same family
        m = int(instance.rsplit("m", 1)[1])
        known[instance] = ("random", {"hidden": 2, "m": m, "seed": 200 + m})
    spec = known[instance]
    arch, data, robust = _data(*spec)
    backend, _, members = config.partition(":")
    solver_options = {"members": members.replace("+", ",")} if members else {}
    options = bnnmip.SolveOptions(threads=1, seed=seed, time_limit=time_limit, solver_options=solver_options)
    warm = xor()  # imports and solver libraries loaded before timing
    bnnmip.train(warm.architecture, warm.data, backend=backend,
                 options=bnnmip.SolveOptions(threads=1, time_limit=5, solver_options=solver_options))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bnnmip.train(arch, data, backend=backend, robust=robust, options=options, time_budget=time_limit)
    seconds = time.perf_counter() - t0
    details = res.final.details.get("portfolio", {})
    return {
        "instance": instance, "config": config, "seed": seed, "status": res.status.value, "loss": res.loss,
        "objective": res.objective, "bound": res.final.bound, "seconds": round(seconds, 2),
        "solve_seconds": round(res.final.solve_seconds, 2), "nodes": res.final.nodes,
        "verified": bool(res.verification is not None and res.verification.ok),
        "found_by": details.get("found_by"), "found_at": details.get("found_at"),
        "proved_by": details.get("proved_by"), "proved_at": details.get("proved_at"),
        "incumbents": details.get("incumbents"),
        "members": [{k: m[k] for k in ("label", "state", "status", "bound", "nodes", "incumbents_sent",
                                       "incumbents_taken")}
                    for m in details.get("members", [])],
        "message": res.final.message[:600],
    }


def report(records, args) -> str:
    configs = list(dict.fromkeys(r["config"] for r in records))
    lines = [
        "# Portfolio vs single backends",
        "",
        "Commands (each after the first adds its runs to the records with `--append`):",
        "",
        *[f"    {c}" for c in getattr(args, "commands", [])],
        "",
        f"Machine: {platform.machine()}, {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores shared with other jobs; one run at a time, "
        "one thread per solver process (a portfolio of k members uses k processes). "
        f"Limit {args.time_limit:g} s per run (the `exact` strategy's defaults, `time_budget` = the limit).",
        "",
        "Each cell: training loss / status / final bound / seconds (time to proof when optimal).",
        "",
        "| instance | " + " | ".join(configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for inst, seed in dict.fromkeys((r["instance"], r.get("seed", 0)) for r in records):
        cells = []
        for c in configs:
            r = next((r for r in records if r["instance"] == inst and r["config"] == c
                      and r.get("seed", 0) == seed), None)
            if r is None:
                cells.append("-")
                continue
            bound = "-" if r["bound"] is None else f"{r['bound']:g}"
            loss = "-" if r["loss"] is None else f"{r['loss']:g}"
            cells.append(f"{loss} / {r['status']} / {bound} / {r['seconds']:.1f}"
                         + ("" if r["verified"] else " (NOT VERIFIED)"))
        lines.append(f"| {inst}, seed {seed} | " + " | ".join(cells) + " |")
    lines += ["", "Who found the final incumbent and who proved it (portfolio runs):", ""]
    for r in records:
        if r["config"].startswith("portfolio"):
            members = ", ".join(f"{m['label']} {m['status'] or m['state']} (sent {m['incumbents_sent']}, "
                                f"took {m['incumbents_taken']}"
                                + (f", bound {m['bound']:g}" if m.get("bound") is not None else "") + ")"
                                for m in r["members"])
            lines.append(f"- {r['instance']}, seed {r.get('seed', 0)}, {r['config']}: found by {r['found_by']} at {r['found_at']} s, "
                         f"proved by {r['proved_by'] or 'nobody'}"
                         + (f" at {r['proved_at']} s" if r["proved_at"] is not None else "")
                         + f"; members: {members}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--instances", type=lambda s: s.split(","), default=list(DEFAULT_INSTANCES))
    p.add_argument("--configs", type=lambda s: s.split(","), default=list(DEFAULT_CONFIGS))
    p.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0])
    p.add_argument("--append", action="store_true", help="keep the earlier records of the JSON-lines file")
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/portfolio.md"))
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # INSTANCE CONFIG SEED: one run, JSON on stdout
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(run(args.one[0], args.one[1], args.time_limit, int(args.one[2]))))
        return
    raw = args.output.with_suffix(".jsonl")
    records, commands = [], []
    if args.append and raw.exists():
        records = [json.loads(line) for line in raw.read_text().splitlines() if line.strip()]
        commands = list(dict.fromkeys(r["command"] for r in records if r.get("command")))
    command = ("nice -n 10 python benchmarks/portfolio.py " + " ".join(
        f'"{a}"' if " " in a else a for a in (argv if argv is not None else sys.argv[1:])))
    commands = [*commands, command]
    args.commands = commands
    with raw.open("a" if args.append else "w") as fh:
        for inst, seed, config in [(i, s, c) for i in args.instances for s in args.seeds for c in args.configs]:
            # each run in a fresh process
            out = subprocess.run([sys.executable, __file__, "--time-limit", str(args.time_limit),
                                  "--one", inst, config, str(seed)], capture_output=True, text=True,
                                 check=False)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            rec = {**json.loads(out.stdout.strip().splitlines()[-1]), "command": command}
            records.append(rec)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(json.dumps({k: rec[k] for k in ("instance", "config", "status", "loss", "bound",
                                                  "seconds", "found_by", "proved_by")}), file=sys.stderr,
                  flush=True)
    text = report(records, args)
    old = args.output.read_text() if args.output.exists() else ""
    if "\n## Reading" in old:  # the hand-written reading of the results stays (update it by hand)
        text += old[old.index("\n## Reading"):]
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
