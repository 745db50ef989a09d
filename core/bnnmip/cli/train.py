"""``bnnmip train``: train a network and report the solve, the verification and the accuracy."""

from __future__ import annotations

import collections
import math
import sys
import time
import warnings
from pathlib import Path

import attrs
import numpy as np

from .._paths import check_command_paths
from .._validation import plain
from ..backends.results import START_AT_BOUND_MESSAGE
from ..deploy.footprint import footprint, format_footprint
from ..plugins import get_plugin_manager
from ..plugins.manager import plugin_failures
from ..training import resolve_backend
from .argtypes import positive_float
from .options import _load_split, _model_options, _solver_options
from .output import add_output_flags, num, print_json, process_seconds, stdout_to_stderr
from .progress import ProgressReporter

__all__ = ["add_parser", "cmd_train"]


def add_parser(sub) -> None:
    """Register ``bnnmip train``."""
    p = sub.add_parser("train", help="train a network and report the solve and its accuracy")
    _model_options(p)
    _solver_options(p)
    p.add_argument("--margin", choices=("none", "max-min", "soft"), default="none",
                   help="max-min: refit the trained weights for the largest margins, same training "
                        "predictions; soft: refit every row as an l1 soft-margin classifier on the "
                        "trained hidden representation, a few training errors traded for margin "
                        "(kept only if better on the --validation-size points, if any) "
                        "(default: none)")
    p.add_argument("--margin-c", type=positive_float, default=None, metavar="C",
                   help="soft-margin trade-off C, larger fits the training points more tightly "
                        "(default: 1; only with --margin soft)")
    p.add_argument("--output", "-o", type=Path, help="save the trained network (JSON) here")
    add_output_flags(p, "the summary")
    p.set_defaults(func=cmd_train)


def _estimator(args):
    from ..estimator import BDNNClassifier  # lazy: start-up cost (the estimator imports scikit-learn)

    return BDNNClassifier(
        hidden_layer_sizes=tuple(args.hidden),
        weight_domain=args.weights,
        bias=not args.no_bias,
        backend=args.backend,
        strategy=args.strategy,
        formulation=args.formulation,
        time_limit=args.time_limit,
        mip_gap=args.gap,
        threads=args.threads,
        random_state=args.seed,
        eps=args.eps,
        robust_radius=args.robust_radius,
        margin=getattr(args, "margin", "none"),
        margin_c=getattr(args, "margin_c", None),
        verbose=args.verbose,
        log_file=args.log_file,
        time_budget=args.time_budget,
        strategy_params=dict(args.param) or None,
        validation_fraction=args.validation_size,
        solver_options=dict(args.solver_option) or None,
    )


def _accuracy(net, X, y, classes, rule) -> float | None:
    if len(y) == 0:
        return None
    idx = net.predict_index(X, rule=rule)
    return float(np.mean(np.asarray(classes)[idx] == y))


def _header(args, ds, X_train, X_test, backend) -> list[str]:
    """What the run is about, printed (on standard error) before it starts."""
    widths = " -> ".join(str(w) for w in (ds.X.shape[1], *args.hidden, len(set(ds.y.tolist()))))
    limits = f"time limit {args.time_limit:g} s per solve, gap {args.gap:g}, {args.threads} thread(s)"
    if args.time_budget is not None:
        limits += f", budget {args.time_budget:g} s for the run"
    return [
        f"bnnmip train: {ds.name} ({ds.X.shape[0]} points x {ds.X.shape[1]} features), "
        f"{len(X_train)} train / {len(X_test)} test",
        f"  network {widths}, {args.weights} weights; formulation {args.formulation}; "
        f"strategy {args.strategy} on {backend.name} {backend.solver_version()}",
        f"  limits  {limits}",
    ]


def cmd_train(args) -> int:
    """Train, print the summary, optionally save the network."""
    t0 = time.perf_counter()
    startup = process_seconds()
    check_command_paths(args)  # before any work: a bad --output or --log-file fails now
    ds, X_train, X_test, y_train, y_test = _load_split(args)
    clf = _estimator(args)
    t_data = time.perf_counter() - t0
    reporter = None
    if not args.quiet:
        reporter = ProgressReporter(verbose=args.verbose, time_budget=args.time_budget)
        reporter.start(_header(args, ds, X_train, X_test, resolve_backend(args.backend)))
    pm = get_plugin_manager()
    if reporter is not None:
        pm.register(reporter, name="bnnmip-cli-progress")
    t_fit = time.perf_counter()
    try:
        with warnings.catch_warnings(), stdout_to_stderr():
            warnings.simplefilter("ignore")  # the summary reports verification itself
            clf.fit(X_train, y_train)
    finally:
        if reporter is not None:
            reporter.close()
            pm.unregister(reporter)
    if ds.known_feature_names and clf.network_.feature_names is None:  # saved, checked by predict
        clf.network_ = attrs.evolve(clf.network_, feature_names=ds.known_feature_names)
    for failure in plugin_failures():  # the run went on without them; say so
        print(f"bnnmip: warning: plugin {failure.plugin!r}: {failure.hook} failed and was skipped: "
              f"{failure.error}", file=sys.stderr)
    t_fit = time.perf_counter() - t_fit
    res, net = clf.training_result_, clf.network_
    summary = {
        "dataset": ds.name,
        "points": int(ds.X.shape[0]),
        "features": int(ds.X.shape[1]),
        "classes": [plain(c) for c in clf.classes_],
        "train_points": int(len(y_train)),
        "test_points": int(len(y_test)),
        "validation_points": math.ceil(args.validation_size * len(y_train)),
        "widths": list(net.widths),
        "weight_domain": str(net.weight_domain),
        "bias": not args.no_bias,
        "formulation": args.formulation,
        "strategy": res.strategy,
        "status": res.status.value,
        "status_meaning": status_meaning(res),
        "problem": res.problem_size,
        "solve": {k: v for k, v in res.final.summary().items() if k != "message"},
        "solve_counts": solve_counts(res),
        "solver_options": dict(args.solver_option),
        "verification": None if res.verification is None else {
            "ok": res.verification.ok,
            "mismatches": res.verification.mismatches,
            "per_layer": list(res.verification.per_layer),
            "true_loss": res.verification.true_loss,
            "min_margin": res.verification.min_margin,
            "robust_violations": res.verification.robust_violations,
            "repaired": res.verification.repaired,
        },
        "accuracy": {
            rule: {
                "train": _accuracy(net, X_train, y_train, clf.classes_, rule),
                "test": _accuracy(net, X_test, y_test, clf.classes_, rule),
            }
            for rule in ("preactivation", "binary")
        },
        "loss": res.loss,
        "solves": len(res.solves),
        "build_seconds": round(sum(r.build_seconds for r in res.solves), 4),
        "solve_seconds": round(sum(r.solve_seconds for r in res.solves), 4),
        "seconds": round(res.seconds, 3),
        "iterations": res.iterations,
        "history": list(res.history),
        "model": None,
    }
    if args.output:
        net.save(args.output)
        summary["model"] = str(args.output)
    fp = footprint(net)
    summary["footprint"] = fp.to_dict()
    summary["times"] = run_times(res, startup=startup, data=t_data, fit=t_fit,
                                 total=time.perf_counter() - t0)
    if args.json:
        print_json(summary)
    else:
        print(_format_summary(summary, res) + "\n" + format_footprint(fp))
    return 0


def run_times(res, *, startup: float | None, data: float, fit: float, total: float) -> dict:
    """Where a ``train`` command's seconds went; the parts add up to ``total``.

    ``total`` is the command's own time plus ``startup``: from the process's start to the
    command's (interpreter, imports; 0 where the operating system does not say). The parts:
    ``data`` (loading and splitting the data, setting up), ``start`` (the gradient-trained
    start), ``bound`` (``exact``'s ``error_bound``: its small solves before the solver; with
    ``error_bound=parallel`` they run beside the solver and count in none of these), ``build`` (the solver
    building its models), ``solver`` (the solver running, over
    ``solves`` solves), ``strategy`` (the rest of the strategy's own time: lowering,
    verification and repair of every solution, k-means splits, evaluation), ``fit_other`` (the
    rest of the fit: input checks, scaling, margin refits) and ``report`` (accuracies, saving
    the network, the summary).
    """
    start = sum(float(r.get("start_seconds", 0.0)) for r in res.history if r.get("start") == "ste")
    bound = sum(float(r.get("error_bound_seconds", 0.0)) for r in res.history
                if r.get("error_bound_setting") != "parallel")
    build = sum(r.build_seconds for r in res.solves)
    solver = sum(r.solve_seconds for r in res.solves)
    parts = {"startup": startup or 0.0, "data": data, "start": start, "bound": bound, "build": build,
             "solver": solver, "strategy": max(0.0, res.seconds - start - bound - build - solver),
             "fit_other": max(0.0, fit - res.seconds)}
    parts["report"] = max(0.0, total + parts["startup"] - sum(parts.values()))
    out = {k: round(v, 3) for k, v in parts.items()}
    out["total"] = round(sum(parts.values()), 3)
    out["solves"] = len(res.solves)
    return out


def solve_counts(res) -> dict:
    """How the strategy's solves ended: status -> count; ``skipped`` for solves whose start met the bound."""
    counts = collections.Counter(
        "skipped" if r.message == START_AT_BOUND_MESSAGE else r.status.value for r in res.solves)
    return dict(sorted(counts.items()))


def _bound_note(rec: dict) -> str:
    """The end of the ``lower bound`` line: how ``error_bound`` ran (``rec``: its history record)."""
    if rec.get("error_bound_setting") == "auto":
        return "; --param error_bound=false skips it"
    if rec.get("error_bound_setting") != "parallel":
        return ""
    if rec.get("error_bound_proved"):
        return ", beside the solver: it proved the loss returned optimal"
    if rec.get("error_bound_interrupted"):
        return ", beside the solver, stopped when the solver ended"
    return ", beside the solver"


_MULTI = "the strategy's best network, a heuristic"


def status_meaning(res) -> str:
    """What the run's status says, in words (one story per strategy, ``docs/quickstart.md``)."""
    status, final = res.status.value, res.final
    if len(res.solves) == 1:  # exact: the status is the solve's (or the start's, if it failed)
        if status == final.status.value:
            return {
                "optimal": ("its start met the loss's lower bound: optimal without calling the solver"
                            if final.message == START_AT_BOUND_MESSAGE else
                            "proven optimal: no network of this architecture has a lower training loss"),
                "feasible": "stopped at a limit: the best network found, not proven optimal",
                "no_solution": "stopped at a limit before any network was found",
                "infeasible": "no network meets the constraints",
                "error": "the solver failed",
            }.get(status, status)
        return f"the solver ended with {final.status.value}; the checked start network is returned"
    return {
        "optimal": ("training loss 0: no network does better" if res.loss == 0 else
                    "proven optimal for the whole problem: no network does better"),
        "feasible": f"{_MULTI}: not proven optimal",
        "no_solution": "no solve found a network",
    }.get(status, status)


def _symmetry_note(history, backend: str) -> str:
    """``; symmetry breaking on/off (why)`` when the user or the backend chose it, else ``""``."""
    rec = next((r for r in history if "symmetry_breaking_source" in r), None)
    why = {"user": "--param symmetry_breaking", "backend": f"the {backend} backend's default"}
    if rec is None or rec["symmetry_breaking_source"] not in why:
        return ""  # bnnmip's default (on), or a formulation without such rows
    return (f"; symmetry breaking {'on' if rec['symmetry_breaking'] else 'off'} "
            f"({why[rec['symmetry_breaking_source']]})")


def _groups_note(history, points: int) -> str:
    """``; N points in K activation groups`` when the formulation merged points."""
    rec = next((r for r in history if "activation_groups" in r), None)
    if rec is None or rec["activation_groups"] >= points:
        return ""
    return f"; {points} points in {rec['activation_groups']} activation groups"


_UNITS = {"split": "one per split", "local_search": "one per block"}
_COUNT_WORDS = {"optimal": "solved to optimality", "feasible": "stopped at a limit with a solution",
                "no_solution": "stopped at a limit without one", "infeasible": "infeasible",
                "error": "failed",
                "skipped": "not sent to the solver (their start met the MILP's lower bound)"}
_TIME_WORDS = (("startup", "start-up"), ("data", "data"), ("start", "gradient start"),
               ("bound", "error bound"), ("build", "MILP build"), ("solver", "solver"),
               ("strategy", "strategy (lowering, verification)"),
               ("fit_other", "fit (scaling, margins)"), ("report", "report"))


def _format_times(t: dict, strategy: str) -> str:
    words = dict(_TIME_WORDS)
    if strategy == "split":
        words["strategy"] = "strategy (lowering, verification, k-means, evaluation)"
    parts = [f"{words[key]} {t[key]:.2f}" for key, _ in _TIME_WORDS if t[key] >= 0.005 or key == "solver"]
    return f"total {t['total']:.2f} s = " + " + ".join(parts)


def _format_summary(s: dict, res) -> str:
    solve, size, acc = s["solve"], s["problem"], s["accuracy"]
    widths = " -> ".join(str(w) for w in s["widths"])
    lines = [
        f"bnnmip train: {s['dataset']} ({s['points']} points x {s['features']} features, "
        f"{len(s['classes'])} classes)",
        f"  split        {s['train_points']} train / {s['test_points']} test"
        + (f" ({s['validation_points']} of the train points held out for validation)"
           if s["validation_points"] else ""),
        f"  network      {widths}, {s['weight_domain']} weights, biases {'on' if s['bias'] else 'off'}",
        f"  MILP         {s['formulation']}: {size['variables']:,} variables "
        f"({size['binaries']:,} binary), {size['rows']:,} rows, {size['nonzeros']:,} nonzeros"
        + (" (the largest sub-MILP solved; the full MILP was too large to build)"
           if getattr(res.verification, "forward_only", False) else "")
        + _symmetry_note(res.history, solve["backend"]) + _groups_note(res.history, s["train_points"]),
        f"  solve        {solve['backend']} {solve['solver_version']}, strategy {s['strategy']}: "
        f"{s['status'].upper()} ({s['status_meaning']})"
        + ("; solver options " + ", ".join(f"{k}={v}" for k, v in s["solver_options"].items())
           if s["solver_options"] else ""),
    ]
    portfolio = solve.get("details", {}).get("portfolio")
    if portfolio:  # the portfolio backend: who found the incumbent, who proved it
        found = (f"incumbent found by {portfolio['found_by']} at {portfolio['found_at']:.2f} s"
                 if portfolio["found_by"] else "no incumbent")
        proved = (f"proven {portfolio['proof']} by {portfolio['proved_by']} at {portfolio['proved_at']:.2f} s"
                  if portfolio["proved_by"] else "not proven by a member")
        members = ", ".join(f"{m['label']} {m['status'] or m['state']}" for m in portfolio["members"])
        lines.append(f"  portfolio    {found}; {proved} (members: {members})")
    if s["solves"] > 1:
        unit = _UNITS.get(s["strategy"], "the strategy")
        lines.append(f"  MILPs        {s['solves']} ({unit}): " + ", ".join(
            f"{n} {_COUNT_WORDS.get(k, k)}" for k, n in s["solve_counts"].items()))
    lines += [
        f"  {'objective' if s['solves'] == 1 else 'last solve':12} "
        f"{num(solve['objective'])} (Hamming loss: wrong output bits"
        + ("" if s["solves"] == 1 else f", of the last {s['strategy']} MILP") + ")   "
        f"bound {num(solve['bound'])}   gap {num(solve['gap'], '{:.2%}')}   "
        f"nodes {num(solve['nodes'])}",
        "  time         " + _format_times(s["times"], s["strategy"]),
    ]
    if res.final.status.value in ("error", "unsupported"):  # say why, not only that it failed
        reason = res.final.message.strip().splitlines()[0] if res.final.message.strip() else "-"
        lines.append(f"  last solve   {res.final.status.value.upper()}: {reason}")
    fallback = next((r for r in res.history if "fallback" in r), None)
    if fallback is not None:
        lines.append(f"  fallback     the solver returned no network ({fallback['solver_status']}); "
                     f"the returned network is the {fallback['fallback']}")
    if s["solves"] == 1 and res.final.message == START_AT_BOUND_MESSAGE:
        bound = solve["objective"]
        why = "" if not bound else " (points that must share activations have different labels)"
        lines.append(f"  proof        the start's loss {num(bound)} is the least possible{why}: optimal, "
                     "solver not called")
    if s["loss"] is not None and s["loss"] != solve["objective"]:
        lines.append(f"  loss         {s['loss']:g} (the returned network's, by its forward pass)")
    v = res.verification
    whose = "(the solver's network, before the refit below) " if res.solver_network is not None else ""
    lines.append(f"  verification {whose}{v.describe() if v is not None else 'no solution to verify'}")
    pre, binr = acc["preactivation"], acc["binary"]
    lines.append(
        f"  accuracy     train {num(pre['train'], '{:.3f}')}, test {num(pre['test'], '{:.3f}')}"
        f"   (paper's binary-output rule: train {num(binr['train'], '{:.3f}')}, "
        f"test {num(binr['test'], '{:.3f}')})"
    )
    for rec in res.history:
        if rec.get("start") == "ste" and "start_seconds" in rec:  # not the start_outcome record
            lines.insert(4, (
                f"  start        gradient-trained network (straight-through step), loss "
                f"{rec['start_loss']:g} in {rec['start_seconds']:.2f} s; MIP start objective "
                f"{num(rec.get('start_objective'))}"
            ))
        if isinstance(rec.get("error_bound"), int | float) and "error_bound_seconds" in rec:
            lines.insert(5, (
                f"  lower bound  loss >= {rec['error_bound']:g} proved by error_bound (width 2: "
                + (f"min(2E, S) with E {rec['error_bound_E']:g}, S {rec['error_bound_S']:g}"
                   if "error_bound_E" in rec else "the cell relaxation") + ") in "
                f"{rec['error_bound_seconds']:.2f} s" + _bound_note(rec)))
        if rec.get("margin") == "max-min":
            lines.append(
                f"  margins      refitted for the largest margins: smallest |pre-activation| "
                f"{rec['min_margin_before']:.3g} -> {rec['min_margin_after']:.3g}"
                if rec["realized"] else "  margins      could not be refitted; the solver's weights are kept"
            )
        if rec.get("margin") == "soft":
            val = (f", validation accuracy {rec['validation_accuracy_before']:.3f} -> "
                   f"{rec['validation_accuracy_after']:.3f}" if "validation_accuracy_after" in rec else "")
            verdict = "kept" if rec["kept"] else "not kept: the solver's network is returned"
            lines.append(
                f"  margins      soft-margin refit (C {rec['C']:g}): training loss "
                f"{rec['train_loss_before']:g} -> {rec['train_loss_after']:g}{val}; {verdict}"
            )
    if s["iterations"]:
        lines.append(f"  iterations   {s['iterations']} ({s['strategy']}; --verbose shows each)")
    if s["model"]:
        lines.append(f"  saved        {s['model']}")
    return "\n".join(lines)
