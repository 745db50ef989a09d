"""The hard benchmark family: instances chosen for a positive least loss (issue 20, item 1).

Three of the 20 turned out to have loss 0 (a network fits every point) and one is decided by
``tight``'s merged groups alone; ``docs/benchmarks/hard-family.md`` says which. The names and
data stay fixed so results stay comparable.

    python benchmarks/hard_family.py [--time-limit 60] [--backends highs,scip,cbc] [--workers 1]
                                     [--instances "random m50 h2 k2,robust wine r0.1"]
                                     [--params "" --params error_bound=parallel]
                                     [--output docs/benchmarks/hard-family.jsonl]
                                     [--report docs/benchmarks/hard-family.md]
    python benchmarks/hard_family.py --report-only          # rebuild the page from the jsonl

Other scripts import the instances (names are stable)::

    sys.path.insert(0, "benchmarks")
    from hard_family import instances
    for name, (arch, data, robust) in instances().items(): ...

Every (instance, backend) job runs in its own process (``--workers`` at a time), after an
untimed warm-up (one tiny solve: imports and solver loading). It makes two calls of
``bnnmip.train`` with the defaults (``exact``, ``tight``, gradient start), one solver thread
and seed 0:

1. the root bound: the same training with ``SolveOptions(node_limit=1)``, so the solver stops
   after the root node (presolve, root LP, root cuts and heuristics, with the gradient start as
   its MIP start); its final dual bound is the root bound. Untimed (not part of the time to
   proof); its network is verified and its loss counts for the best known loss like any other;
2. the run: ``time_limit`` = ``time_budget`` = ``--time-limit`` (the gradient start counts
   against it); status, loss of the returned network (forward pass), final bound, nodes,
   seconds of the whole call (the time to proof when the status is ``optimal``).

``--params key=value,...`` are ``exact``'s parameters for every job (default: none); the
records then show as ``backend key=value`` columns of their own, e.g. ``scip
error_bound=parallel`` (the small bound solves in a thread beside the solver: two cores).
Given more than once, each is a variant run side by side with the others (``""``: the
defaults), every instance's jobs one after the other.

Every returned network is verified (forward pass against the MILP); failures are counted.
Records are appended to ``--output`` (JSON lines; earlier runs are kept): the best known loss
of an instance is the least loss over every record of it, from any run and backend.
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
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

RANDOM_M = (50, 75, 100)
RANDOM_H = (2, 3)
RANDOM_K = (2, 3)
ROBUST_SETS = ("breast-cancer-wisconsin", "wine")
ROBUST_SHORT = {"breast-cancer-wisconsin": "bcw", "wine": "wine"}
ROBUST_R = (0.1, 0.2)
ROBUST_M = 50
ROBUST_SEED = 0
# The paper protocol's training parts (formulations.protocol_split: 50/25/25 stratified, min-max
# scaled on the training part), width 2, whose best known loss is positive in
# docs/benchmarks/formulations-protocol.jsonl (tight+ste, HiGHS, 60 s): breast cancer seeds 0
# (loss 10) and 8 (loss 2), iris seeds 2 and 6 (loss 2 each, 3 classes). Whether the optimum is
# positive is what the runs prove (or not); see docs/benchmarks/hard-family.md.
PROTOCOL = (("breast-cancer-wisconsin", 0), ("breast-cancer-wisconsin", 8), ("iris", 2), ("iris", 6))
PROTOCOL_SHORT = {"breast-cancer-wisconsin": "bcw", "iris": "iris"}


class Instance(NamedTuple):
    """One instance: unpacks as ``arch, data, robust`` (``robust`` is None for plain training)."""

    arch: object
    data: object
    robust: object


def random_instance(m: int, hidden: int, k: int) -> Instance:
    """Random labels: inputs uniform in [0, 1]^10, labels uniform over ``k`` classes.

    The seed depends on ``m`` only (``200 + m``, as ``formulations.py``'s random instances):
    the widths share their data, and ``k = 2`` reproduces ``formulations.py``'s
    ``random h2 m50`` / ``m100`` points and labels exactly.
    """
    from bnnmip import Architecture, TrainingSet

    rng = np.random.default_rng(200 + m)
    X = rng.uniform(0, 1, (m, 10))
    y = rng.integers(0, k, m)
    return Instance(Architecture(10, (hidden,), k), TrainingSet.from_arrays(X, y, n_classes=k), None)


def robust_instance(dataset: str, radius: float) -> Instance:
    """``ROBUST_M`` points of ``dataset`` (stratified draw, seed ``ROBUST_SEED``), min-max scaled
    to [0, 1] on those points, width 2, robust training at l-inf ``radius``."""
    from bnnmip import Architecture, RobustnessSet, TrainingSet
    from bnnmip.datasets import load_dataset, split_dataset

    ds = load_dataset(dataset)
    X, _, y, _ = split_dataset(ds.X, ds.y, test_size=0, train_size=ROBUST_M, seed=ROBUST_SEED)
    lo, hi = X.min(0), X.max(0)
    X = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    classes = np.unique(y)
    data = TrainingSet.from_arrays(X, np.searchsorted(classes, y), n_classes=len(classes))
    return Instance(Architecture(X.shape[1], (2,), len(classes)), data, RobustnessSet(radius))


def protocol_instance(dataset: str, seed: int) -> Instance:
    """The paper protocol's full training part of ``dataset`` for ``seed``, width 2."""
    from formulations import protocol_split

    from bnnmip import Architecture, TrainingSet

    parts = protocol_split(dataset, seed)
    k = len(parts["classes"])
    data = TrainingSet.from_arrays(parts["X"], parts["y_idx"], n_classes=k)
    return Instance(Architecture(parts["X"].shape[1], (2,), k), data, None)


def instance_names() -> list[str]:
    """The family's names in their fixed order (cheap: builds nothing)."""
    names = [f"random m{m} h{h} k{k}" for m in RANDOM_M for h in RANDOM_H for k in RANDOM_K]
    names += [f"robust {ROBUST_SHORT[d]} r{r:g}" for d in ROBUST_SETS for r in ROBUST_R]
    names += [f"protocol {PROTOCOL_SHORT[d]} s{s}" for d, s in PROTOCOL]
    return names


def build(name: str) -> Instance:
    """The instance called ``name`` (one of :func:`instance_names`)."""
    kind, *rest = name.split()
    if kind == "random" and name in instance_names():
        m, h, k = (int(part[1:]) for part in rest)
        return random_instance(m, h, k)
    if kind == "robust" and name in instance_names():
        dataset = {v: d for d, v in ROBUST_SHORT.items()}[rest[0]]
        return robust_instance(dataset, float(rest[1][1:]))
    if kind == "protocol" and name in instance_names():
        dataset = {v: d for d, v in PROTOCOL_SHORT.items()}[rest[0]]
        return protocol_instance(dataset, int(rest[1][1:]))
    from bnnmip.errors import InvalidInputError

    raise InvalidInputError(f"no hard-family instance {name!r}; choose from {instance_names()}")


def instances(names=None) -> dict[str, Instance]:
    """``{name: (arch, data, robust)}`` of the whole family (or of ``names``), in a fixed order.

    Names: ``random m{50,75,100} h{2,3} k{2,3}`` (12), ``robust {bcw,wine} r{0.1,0.2}`` (4),
    ``protocol {bcw s0, bcw s8, iris s2, iris s6}`` (4). ``bcw`` is the paper's breast-cancer
    file (``breast-cancer-wisconsin``).
    """
    return {n: build(n) for n in (instance_names() if names is None else names)}


# ----------------------------------------------------------------------------------------------
# one job
# ----------------------------------------------------------------------------------------------
def _warm_up(backend: str) -> None:
    """One untimed tiny training: imports, plugin discovery, the solver library's loading."""
    import bnnmip
    from bnnmip.testing import xor

    inst = xor()
    bnnmip.train(inst.architecture, inst.data, backend=backend,
                 options=bnnmip.SolveOptions(threads=1, time_limit=5))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (CBC runs as a child process)."""
    import resource  # lazy: POSIX only, and only the runs need it

    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime


def _outcome(res) -> dict:
    """The fields of one training result the report uses."""
    v = res.verification
    start = next((r for r in res.history if "start" in r), None) or {}
    return {"status": res.status.value, "objective": res.objective, "bound": res.final.bound,
            "loss": res.loss, "nodes": res.final.nodes,
            "verified": bool(v is not None and v.ok), "repaired": bool(v is not None and v.repaired),
            "start_loss": start.get("loss", start.get("start_loss")), "message": res.final.message,
            **_portfolio_outcome(res.final)}


def _portfolio_outcome(final) -> dict:
    """Who found the incumbent and who proved it, for a portfolio run (empty otherwise)."""
    p = (getattr(final, "details", None) or {}).get("portfolio")
    if not p:
        return {}
    return {"found_by": p.get("found_by"), "proved_by": p.get("proved_by"), "proved_at": p.get("proved_at"),
            "members": [f"{m['label']} ({m.get('runs_in', 'process')}): {m['state']}" for m in p["members"]]}


def run_instance(name: str, backend: str, time_limit: float = 60.0, *, node_limit: int | None = None,
                 params: dict | None = None, warm_up: bool = True, instance: Instance | None = None) -> dict:
    """Root bound and one limited run of ``name`` on ``backend``: the record of one job.

    ``node_limit`` (and ``params``, e.g. ``{"start": "none"}``) are for tests: a run whose end
    the clock cannot change. The benchmark leaves them unset (the ``exact`` defaults).
    """
    import bnnmip

    np.seterr(all="ignore")
    arch, data, robust = instance if instance is not None else build(name)
    if warm_up:
        _warm_up(backend)
    base = {"instance": name, "backend": backend, "params": dict(params or {}),
            "time_limit": time_limit, "node_limit": node_limit,
            "m": data.n_points, "n_classes": arch.n_classes, "hidden": list(arch.hidden),
            "radius": None if robust is None else robust.radius,
            "solver_version": bnnmip.get_backend(backend).solver_version()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        root = bnnmip.train(arch, data, backend=backend, robust=robust, params=params, time_budget=time_limit,
                            options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=time_limit, node_limit=1))
        root_seconds = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), _cpu()
        res = bnnmip.train(arch, data, backend=backend, robust=robust, params=params, time_budget=time_limit,
                           options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=time_limit,
                                                       node_limit=node_limit))
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    r = _outcome(root)
    return {**base, **_outcome(res), "seconds": seconds, "cpu_seconds": cpu,
            "root_bound": r["bound"], "root_status": r["status"], "root_loss": r["loss"],
            "root_nodes": r["nodes"], "root_verified": r["verified"], "root_seconds": root_seconds,
            "root_message": r["message"]}


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def sgm(values, shift: float = 1.0):
    """Shifted geometric mean (shift 1 s)."""
    values = list(values)
    if not values:
        return None
    return math.exp(statistics.fmean(math.log(v + shift) for v in values)) - shift


def best_known(records) -> dict:
    """``{instance: least loss of a verified network}`` over every record (run, backend, root run)."""
    out = {}
    for r in records:
        for loss, ok in ((r.get("loss"), r.get("verified")), (r.get("root_loss"), r.get("root_verified"))):
            if loss is not None and ok:
                out[r["instance"]] = min(out.get(r["instance"], math.inf), loss)
    return out


def best_bound(records) -> dict:
    """``{instance: largest final bound}`` over every record (a proven lower bound on the loss)."""
    out = {}
    for r in records:
        for b in (r.get("bound"), r.get("root_bound")):
            if b is not None:
                out[r["instance"]] = max(out.get(r["instance"], -math.inf), b)
    return out


def column(r: dict) -> str:
    """A record's column: its backend, followed by the ``exact`` parameters it ran with, if any."""
    params = r.get("params") or {}
    return " ".join([r["backend"], *(f"{k}={v}" for k, v in sorted(params.items()))])


def cores(r: dict) -> int:
    """Solver threads a record's run used at once: 1, a portfolio's members, 2 with a bound beside."""
    if r["backend"] == "portfolio":
        return max(2, len(r.get("members") or ()))
    return 2 if (r.get("params") or {}).get("error_bound") == "parallel" else 1


def latest(records) -> dict:
    """``{(instance, column): record}``: the last record of each pair (the file is in run order)."""
    return {(r["instance"], column(r)): r for r in records}


def _num(v, spec="{:g}"):
    return "-" if v is None else spec.format(v)


def _share(bound, best):
    if bound is None or not best:
        return ""
    return f" ({bound / best:.0%})"


def _tto(r):
    return r["seconds"] if r["status"] == "optimal" else None


INSTANCES_TEXT = [
    "Instances (`benchmarks/hard_family.py`, `instances()`; issue 20, item 1), all with one hidden "
    "layer and one output neuron per class:",
    "",
    "- `random m{50,75,100} h{2,3} k{2,3}`: inputs uniform in [0, 1]^10, labels uniform over k "
    "classes, seed 200 + m (the widths share the data; `k2` at m = 50 and 100 are "
    "`formulations.py`'s `random h2 m50` / `m100`);",
    "- `robust {bcw,wine} r{0.1,0.2}`: 50 points of the paper's breast-cancer file (`bcw`, 9 "
    "features, 2 classes) or of wine (13 features, 3 classes), a stratified draw with seed 0, "
    "min-max scaled to [0, 1] on those points, width 2, robust training at l-inf radius r. "
    "`tight` merges points whose balls force them to share activations: 24 and 13 groups on "
    "`bcw`, 49 and 1 on wine (at r = 0.2 every wine point shares one pattern, so the "
    "groups' trivial bound is the optimum and no search is needed);",
    "- `protocol {bcw s0, bcw s8, iris s2, iris s6}`: the paper protocol's full training parts "
    "(`formulations.protocol_split`: 50/25/25 stratified, min-max scaling fitted on the training "
    "part; 349 points on `bcw`, 74 on iris), width 2: the seeds whose best loss in "
    "`formulations-protocol.jsonl` (`tight+ste`, HiGHS, 60 s) was positive (10, 2, 2, 2). No "
    "identical points with different labels, so a positive optimum is not forced by the data; "
    "only a proof shows it.",
]


def report(records: list[dict], header: list[str]) -> str:
    """The markdown page: one table per family, then the summary per backend."""
    best, bound, last = best_known(records), best_bound(records), latest(records)
    backends = list(dict.fromkeys(column(r) for r in records))
    names = [n for n in instance_names() if any((n, b) in last for b in backends)]
    limit = max(r["time_limit"] for r in records)
    lines = ["# The hard family: proofs where the least loss is positive", "", *header, "", *INSTANCES_TEXT, ""]
    lines += [
        "Loss: the Hamming training loss of the returned network (forward pass), the MILP's "
        "objective: with one output neuron per class, a misclassified point usually costs 2. "
        "**Best known**: the least loss over every record in the raw file (all runs, backends, "
        "root runs); it is **proven** when some run proved it optimal or some bound reaches it. "
        "Per backend: loss / final bound / status / time to proof (s, `-` when not proven within "
        "the limit) / nodes / root bound (its share of the best known loss).",
        "",
    ]
    families = (("random", "Random labels (inputs uniform in [0, 1]^10, labels uniform)"),
                ("robust", "Robust training (50 stratified points, scaled to [0, 1], width 2)"),
                ("protocol", "Paper protocol training parts (width 2)"))
    for prefix, title in families:
        mine = [n for n in names if n.startswith(prefix)]
        if not mine:
            continue
        lines += [f"## {title}", "",
                  "| instance | m | best known | " + " | ".join(backends) + " |",
                  "|---|---|---|" + "---|" * len(backends)]
        for n in mine:
            rec0 = next(last[(n, b)] for b in backends if (n, b) in last)
            proven = bound.get(n, -math.inf) >= best.get(n, math.inf) - 1e-6
            cells = []
            for b in backends:
                r = last.get((n, b))
                if r is None:
                    cells.append("not run")
                    continue
                flag = "" if r["verified"] and r["root_verified"] else " **NOT VERIFIED**"
                cells.append(f"{_num(r['loss'])} / {_num(r['bound'])} / {r['status']} / "
                             f"{_num(_tto(r), '{:.1f}')} / {_num(r['nodes'])} / "
                             f"root {_num(r['root_bound'])}{_share(r['root_bound'], best.get(n))}{flag}")
            lines.append(f"| {n} | {rec0['m']} | {_num(best.get(n))}{' proven' if proven else ''} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Summary per backend", "",
              f"Time to proof: shifted geometric mean (shift 1 s) over all instances run, an unproven "
              f"one counting with the limit ({limit:g} s). Root bound share: mean of root bound / best "
              "known loss over the instances with a positive best known loss. Beat the gradient start: "
              "runs whose loss is below the gradient-trained start's (before its refit to the margins). "
              "CPU share: CPU seconds the run got (process and child processes) per wall-clock second, "
              "mean over the runs that recorded it: below 100 % the machine's other jobs took the rest.", "",
              "| backend | instances | proven optimal | sgm time to proof (s) | best known reached | "
              "beat the gradient start | root bound > 0 | mean root share | verification failures | CPU share |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for b in backends:
        rs = [last[(n, b)] for n in names if (n, b) in last]
        positive = [r for r in rs if best.get(r["instance"])]
        shares = [(r["root_bound"] or 0) / best[r["instance"]] for r in positive]
        fails = sum((not r["verified"]) + (not r["root_verified"]) for r in rs)
        cpu = [r["cpu_seconds"] / r["seconds"] for r in rs if r.get("cpu_seconds") is not None]
        reached = sum(r["loss"] is not None and r["loss"] <= best.get(r["instance"], math.inf) + 1e-6 for r in rs)
        lines.append(
            f"| {b} | {len(rs)} | {sum(r['status'] == 'optimal' for r in rs)} | "
            f"{_num(sgm(_tto(r) or r['time_limit'] for r in rs), '{:.1f}')} | {reached} | "
            f"{sum(r['loss'] is not None and r.get('start_loss') is not None and r['loss'] < r['start_loss'] for r in rs)} | "
            f"{sum((r['root_bound'] or 0) > 1e-6 for r in rs)} | "
            f"{_num(statistics.fmean(shares) if shares else None, '{:.0%}')} | {fails} | "
            f"{_num(statistics.fmean(cpu) if cpu else None, '{:.0%}')} |")
    lines += _several_cores_lines(names, backends, last)
    proven_any = [n for n in names if any(last.get((n, b), {}).get("status") == "optimal" for b in backends)]
    zero = [n for n in names if best.get(n) == 0]
    lines += ["", f"Proven optimal by at least one backend: {len(proven_any)} of {len(names)}"
              + (f" ({', '.join(proven_any)})" if proven_any else "") + ".",
              f"Best known loss 0 (a network fits every point, so the proof is free): {len(zero)} of "
              f"{len(names)}" + (f" ({', '.join(zero)})" if zero else "") + ".", ""]
    return "\n".join(lines) + "\n"


def _several_cores_lines(names, backends, last) -> list[str]:
    """Each run on several cores (a portfolio, a bound beside the solver) against the best single backend.

    Issue 20's two targets: strictly more proofs than the best single backend (one core, the
    defaults), and a time to proof at most its time on every instance.
    """
    runs = {b: [last[(n, b)] for n in names if (n, b) in last] for b in backends}
    singles = [b for b in backends if all(cores(r) == 1 and not r.get("params") for r in runs[b])]
    several = [b for b in backends if b not in singles and all(cores(r) > 1 for r in runs[b])]
    if not several or not singles:
        return []
    lines = ["", "## Several cores against the best single backend", "",
             "Per instance: each single backend's time to proof (`-`: not proven; one core, the "
             "defaults), the best of them, and each run on several cores (a portfolio; a backend with "
             "`error_bound=parallel`, its small solves beside the solver) with its difference to "
             "the best single backend and who proved it. Target (issue 20): strictly more instances "
             "proven than the best single backend, and a time to proof at most the best single "
             "backend's on every instance.", "",
             "| instance | " + " | ".join(singles) + " | best single | "
             + " | ".join(f"{b} | difference (s) | proved by" for b in several) + " |",
             "|---|" + "---|" * (len(singles) + 1 + 3 * len(several))]
    slower = {b: [] for b in several}
    only = {b: [] for b in several}
    for n in names:
        times = {b: _tto(last[(n, b)]) for b in singles if (n, b) in last}
        proven = [t for t in times.values() if t is not None]
        best = min(proven) if proven else None
        cells = []
        for b in several:
            r = last.get((n, b))
            mine = None if r is None else _tto(r)
            diff = None if mine is None or best is None else mine - best
            if r is not None and best is not None and (mine is None or mine > best + 0.05):  # the table's resolution
                slower[b].append(n)
            if mine is not None and best is None:
                only[b].append(n)
            cells.append(f"{_num(mine, '{:.1f}')} | {_num(diff, '{:+.1f}')} | {_proved_by(r)}")
        lines.append(f"| {n} | " + " | ".join(_num(times.get(b), "{:.1f}") for b in singles)
                     + f" | {_num(best, '{:.1f}')} | " + " | ".join(cells) + " |")
    counts = {b: sum(_tto(r) is not None for r in runs[b]) for b in backends}
    best_single = max(counts[b] for b in singles)
    lines.append("")
    for b in several:
        lines.append(
            f"- `{b}`: proven {counts[b]} of {len(runs[b])}, the best single backend {best_single} "
            f"(strictly more: {'yes' if counts[b] > best_single else 'no'}"
            + (f"; proven where no single backend proved: {', '.join(only[b])}" if only[b] else "") + "). "
            + "Slower than the best single backend by more than 0.05 s (or not proven where one proved): "
            + (", ".join(slower[b]) if slower[b] else "none") + ".")
    return lines


def _proved_by(r) -> str:
    """Who proved a run on several cores optimal: a portfolio member, the bound beside, or the solver."""
    if r is None or r["status"] != "optimal":
        return "-"
    if r.get("proved_by"):
        return r["proved_by"]
    if "error_bound beside the solver" in (r.get("message") or ""):
        return "error_bound"
    return "the solver" if (r.get("params") or {}).get("error_bound") == "parallel" else "-"


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _git_head() -> str:
    from formulations import _git_head  # lazy: the scripts share it; formulations imports bnnmip

    return _git_head()


def _header(records) -> list[str]:
    import bnnmip

    runs = list(dict.fromkeys(r.get("run", "?") for r in records))
    versions = {r["backend"]: r["solver_version"] for r in records}
    cmds = list(dict.fromkeys(r["command"] for r in records if r.get("command")))
    return [
        "Commands (each run appends to the raw file; the tables show each (instance, backend)'s "
        "last record, the best known loss uses all):", "",
        *[f"- `{c}`" for c in cmds], "",
        f"Runs (commits): {', '.join(f'`{r}`' for r in runs)}. Machine: {platform.machine()}, 2 cores "
        f"(the CPU share column says how much of them each run got), one solver thread per process "
        f"(a portfolio of k members: k threads in k processes, the lead in the calling one; "
        f"`error_bound=parallel`: one more thread for its small solves); Python {platform.python_version()}, "
        f"bnnmip {bnnmip.__version__}; " + ", ".join(f"{b} {v}" for b, v in versions.items()) + ".",
        "Each job: `bnnmip.train` with the defaults (`exact`, `tight`, gradient start), one thread, "
        "seed 0, `time_limit` = `time_budget` = the limit; the root bound is the final bound of the "
        "same call with `node_limit=1` (the solver stops after the root node), run before it and "
        "not timed. A column `backend key=value` ran with those `exact` parameters (`--params`).",
    ]


READING = "\n## Reading"


def write_report(path: Path, records: list[dict]) -> str:
    """Write the page for ``records``, keeping a hand-written ``## Reading`` section already there."""
    text = report(records, _header(records))
    if path.exists() and READING in (old := path.read_text()):
        text += old[old.index(READING):]
    path.write_text(text)
    return text


def _params(text: str) -> dict:
    """``key=value,...`` -> a dict (``true``/``false`` become booleans, numbers stay strings for exact)."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        out[key.strip()] = {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["highs", "scip", "cbc"],
                    help="comma-separated backend names (any installed backend, e.g. a portfolio)")
    ap.add_argument("--instances", type=lambda s: [n.strip() for n in s.split(",") if n.strip()], default=None,
                    help="comma-separated instance names, or name prefixes ('random m50'); default: all")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--output", type=Path, default=Path("docs/benchmarks/hard-family.jsonl"),
                    help="JSON-lines file the records are appended to")
    ap.add_argument("--report", type=Path, default=Path("docs/benchmarks/hard-family.md"))
    ap.add_argument("--report-only", action="store_true", help="no runs: rebuild --report from --output")
    ap.add_argument("--params", type=_params, action="append", default=None,
                    help="exact parameters, key=value[,key=value] (e.g. error_bound=parallel); given more than "
                         "once, each is a variant of every job ('' for the defaults)")
    ap.add_argument("--label", default=None, help="run label stored in every record (default: git HEAD)")
    args = ap.parse_args(argv)
    if args.workers < 1 or not args.time_limit > 0:
        ap.error(f"--workers must be at least 1 and --time-limit positive, got {args.workers} and "
                 f"{args.time_limit:g}")
    if args.report_only:
        records = read_records(args.output)
        if not records:
            ap.error(f"no records in {args.output}; run the benchmark first (without --report-only)")
        print(write_report(args.report, records))
        return 0
    all_names = instance_names()
    if args.instances is None:
        names = all_names
    else:
        names = list(dict.fromkeys(n for want in args.instances for n in all_names  # in the order asked
                                   if n == want or n.startswith(want + " ")))
        unknown = [w for w in args.instances if not any(n == w or n.startswith(w + " ") for n in all_names)]
        if unknown:
            ap.error(f"unknown instances {unknown}; choose names or prefixes of {all_names}")
    import bnnmip

    for b in args.backends:  # an unknown backend fails here, before any run
        try:
            bnnmip.get_backend(b)
        except bnnmip.BnnmipError as exc:
            ap.error(f"--backends: {exc}")
    label = args.label or _git_head()
    command = "python benchmarks/hard_family.py " + " ".join(
        [f"--time-limit {args.time_limit:g}", f"--backends {','.join(args.backends)}",
         f"--workers {args.workers}"]
        + ([f"--instances '{','.join(args.instances)}'"] if args.instances else [])
        + [f"--params '{','.join(f'{k}={v}' for k, v in p.items())}'" for p in args.params or ()])
    variants = args.params or [{}]
    jobs = [(n, b, p) for n in names for b in args.backends for p in variants]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool, args.output.open("a") as fh:
        futures = [pool.submit(run_instance, n, b, args.time_limit, params=p or None) for n, b, p in jobs]
        for done, fut in enumerate(as_completed(futures), start=1):
            rec = {**fut.result(), "run": label, "command": command}
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(f"[{done}/{len(jobs)} {time.perf_counter() - t0:.0f}s] {rec['instance']} {column(rec)}: "
                  f"{rec['status']} loss {rec['loss']} bound {rec['bound']} root {rec['root_bound']} "
                  f"in {rec['seconds']:.1f} s", file=sys.stderr, flush=True)
    print(write_report(args.report, read_records(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
