"""The portfolio backend against each single backend on hard instances (issue 20, item 2).

    python benchmarks/portfolio.py [--time-limit 60] [--instances "random h2 m50,..."]
        [--configs highs,scip,cbc,portfolio:scip+highs,portfolio] [--seeds 0,1]
        [--params '{"error_bound": false}'] [--append] [--output docs/benchmarks/portfolio.md]

Instance names are those of ``benchmarks/formulations.py``, ``random h2 mN`` for any N
(random labels on N points, built as there), or those of the hard family
(``benchmarks/hard_family.py``). ``--seeds`` repeats each run with other solver seeds (the
data stay the same); ``--append`` adds the new runs to the JSON-lines file and reports all of
them. A config is a backend name, ``portfolio`` (its default members) or ``portfolio:A+B``
(members A and B, the first one leading).

Every run is ``bnnmip.train`` with the ``exact`` strategy's defaults (``tight`` formulation,
gradient start) or ``--params``, ``threads=1`` per solver process,
``time_budget`` = the time limit, one run at a time (a 2-member portfolio takes both cores of
a 2-core machine; a 3-member one is oversubscribed there). Reported per run: the training
loss, status, final bound, time to proof (the run's seconds when proven optimal), and for the
portfolio who found the final incumbent and who proved it; per portfolio configuration, its
time to proof against the best single backend's on the same instance and seed. Raw records go
to a JSON-lines file next to the report.
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
DEFAULT_CONFIGS = ("highs", "scip", "cbc", "portfolio:scip+highs", "portfolio:scip+highs+cbc")


def _instance(name: str):
    """``(arch, data, robust)`` of a ``formulations.py`` name, ``random h2 mN``, or a hard-family name."""
    known = {n: (family, s) for n, family, s in instances()}
    if name in known:
        return _data(*known[name])
    if name.startswith("random h2 m") and name[len("random h2 m"):].isdigit():  # more sizes of that family
        m = int(name.rsplit("m", 1)[1])
        return _data("random", {"hidden": 2, "m": m, "seed": 200 + m})
    import hard_family  # lazy: the other script's instances (benchmarks/hard_family.py)

    return tuple(hard_family.build(name))


def run(instance: str, config: str, time_limit: float, seed: int = 0, params: dict | None = None) -> dict:
    import bnnmip
    from bnnmip.testing import xor

    np.seterr(all="ignore")
    arch, data, robust = _instance(instance)
    backend, _, members = config.partition(":")
    solver_options = {"members": members.replace("+", ",")} if members else {}
    options = bnnmip.SolveOptions(threads=1, seed=seed, time_limit=time_limit, solver_options=solver_options)
    warm = xor()  # imports and solver libraries loaded before timing
    bnnmip.train(warm.architecture, warm.data, backend=backend,
                 options=bnnmip.SolveOptions(threads=1, time_limit=5, solver_options=solver_options))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bnnmip.train(arch, data, backend=backend, robust=robust, options=options, time_budget=time_limit,
                           params=params)
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
        f"{len(__import__('os').sched_getaffinity(0))} cores; one run at a time, "
        "one thread per solver process (a portfolio of k members uses k processes). "
        f"Limit {args.time_limit:g} s per run (the `exact` strategy's defaults"
        + (f" but {json.dumps(args.params)}" if getattr(args, "params", None) else "")
        + ", `time_budget` = the limit).",
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
    lines += _paired(records, configs)
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


def _paired(records, configs) -> list[str]:
    """Each portfolio configuration against the best single backend of the same (instance, seed)."""
    singles = [c for c in configs if not c.startswith("portfolio")]
    lines = []
    for pc in (c for c in configs if c.startswith("portfolio")):
        diffs, more, fewer = [], 0, 0
        for inst, seed in dict.fromkeys((r["instance"], r.get("seed", 0)) for r in records):
            def tto(c, inst=inst, seed=seed):
                r = next((r for r in records if r["instance"] == inst and r["config"] == c
                          and r.get("seed", 0) == seed), None)
                return None if r is None or r["status"] != "optimal" else r["seconds"]
            best = [t for t in map(tto, singles) if t is not None]
            mine = tto(pc)
            if mine is not None and best:
                diffs.append(mine - min(best))
            more += mine is not None and not best
            fewer += mine is None and bool(best)
        if diffs:
            lines += ["", f"`{pc}` against the best single backend of the same instance and seed, on "
                      f"the {len(diffs)} runs both proved: time to proof {min(diffs):+.1f} to {max(diffs):+.1f} s "
                      f"(mean {sum(diffs) / len(diffs):+.2f} s; at most the best single's on "
                      f"{sum(d <= 0 for d in diffs)} of {len(diffs)}); proven by the portfolio only: {more}; "
                      f"by a single backend only: {fewer}."]
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--instances", type=lambda s: s.split(","), default=list(DEFAULT_INSTANCES))
    p.add_argument("--configs", type=lambda s: s.split(","), default=list(DEFAULT_CONFIGS))
    p.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0])
    p.add_argument("--append", action="store_true", help="keep the earlier records of the JSON-lines file")
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks/portfolio.md"))
    p.add_argument("--params", type=json.loads, default=None,
                   help='the exact strategy\'s parameters as JSON, e.g. \'{"error_bound": false}\'')
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # INSTANCE CONFIG SEED: one run, JSON on stdout
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(run(args.one[0], args.one[1], args.time_limit, int(args.one[2]), args.params)))
        return
    raw = args.output.with_suffix(".jsonl")
    records, commands = [], []
    if args.append and raw.exists():
        records = [json.loads(line) for line in raw.read_text().splitlines() if line.strip()]
        commands = list(dict.fromkeys(r["command"] for r in records if r.get("command")))
    command = ("python benchmarks/portfolio.py " + " ".join(
        f"'{a}'" if " " in a or '"' in a else a for a in (argv if argv is not None else sys.argv[1:])))
    commands = [*commands, command]
    args.commands = commands
    with raw.open("a" if args.append else "w") as fh:
        for inst, seed, config in [(i, s, c) for i in args.instances for s in args.seeds for c in args.configs]:
            # each run in a fresh process
            extra = [] if args.params is None else ["--params", json.dumps(args.params)]
            out = subprocess.run([sys.executable, __file__, "--time-limit", str(args.time_limit), *extra,
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
