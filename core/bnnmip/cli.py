"""The ``bnnmip`` command line: train, predict, evaluate, compare, report, export, and listings."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ._argtypes import positive_float, positive_int
from .errors import BnnmipError
from .formulation import DEFAULT_FORMULATION, FORMULATIONS
from .result import START_AT_BOUND_MESSAGE

__all__ = ["main"]


def _split_size(text: str) -> float | int:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return int(value) if value >= 1 and value.is_integer() else value


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _solver_option(text: str) -> tuple[str, str]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a parameter of the solver), got {text!r}")
    return key.strip(), raw.strip()


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="bundled data set name (see 'bnnmip datasets') or CSV path")
    p.add_argument("--label", help="label column of a CSV: name or index (default: last)")
    p.add_argument("--hidden", type=int, nargs="*", default=[2], metavar="WIDTH",
                   help="hidden layer widths, e.g. --hidden 4 2; none for no hidden layer "
                        "(default: 2)")
    p.add_argument("--weights", default="continuous", metavar="DOMAIN",
                   help="weight domain: continuous, ternary or integer:P (default: continuous)")
    p.add_argument("--no-bias", action="store_true", help="train without biases")
    p.add_argument("--formulation", default=DEFAULT_FORMULATION, choices=sorted(FORMULATIONS),
                   help=f"MILP formulation (default: {DEFAULT_FORMULATION})")
    p.add_argument("--robust-radius", type=float, default=0.0, metavar="R",
                   help="l-inf radius (scaled units) every training point must be robust to")
    p.add_argument("--eps", type=float, default=None,
                   help="activation margin (default: the formulation's, 1e-5 paper, 1e-4 tight)")
    p.add_argument("--test-size", type=_split_size, default=0.25,
                   help="test fraction or count held out (default: 0.25)")
    p.add_argument("--train-size", type=_split_size, default=None,
                   help="training fraction or count (default: all that is not test)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and the solver")


def _solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="highs", help="MILP backend (see 'bnnmip backends')")
    p.add_argument("--strategy", default="exact", help="training strategy (default: exact)")
    p.add_argument("--time-limit", type=positive_float, default=60.0, metavar="SECONDS",
                   help="solver time limit (default: 60)")
    p.add_argument("--gap", type=float, default=1e-4, help="relative MIP gap (default: 1e-4)")
    p.add_argument("--threads", type=positive_int, default=1, help="solver threads (default: 1)")
    p.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                   help="seconds for the whole training run, shared by all of a strategy's solves")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", type=_param,
                   help="strategy setting, e.g. --param max_splits=20 (repeatable)")
    p.add_argument("--solver-option", action="append", default=[], metavar="NAME=VALUE",
                   type=_solver_option,
                   help="the solver's own parameter, applied after bnnmip's settings, e.g. "
                        "separating/maxrounds=0 (scip), mip_heuristic_effort=0.2 (highs), "
                        "cuts=off (cbc) (repeatable)")
    p.add_argument("--validation-size", type=float, default=0.0, metavar="FRACTION",
                   help="fraction of the training points held out for model selection "
                        "(strategies that use it, e.g. split)")
    p.add_argument("--log-file", type=Path, help="write the solver log here")
    p.add_argument("--verbose", action="store_true",
                   help="show the solver log and one line per strategy iteration")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnmip",
        description="Train binarized neural networks by mixed-integer linear programming.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict with a saved network")
    p.add_argument("model", type=Path, help="network file written by 'bnnmip train --output'")
    p.add_argument("data", help="CSV of inputs (with or without a label column) or data set name")
    p.add_argument("--label", help="label column (name or index); default: detected")
    p.add_argument("--rule", choices=["preactivation", "binary"], default=None,
                   help="prediction rule (default: the one saved with the network)")
    p.add_argument("--output", "-o", type=Path, help="write predictions here (one per line)")
    p.set_defaults(func=cmd_predict)

    from .cli_evaluate import add_parser as add_evaluate

    add_evaluate(sub)

    from .cli_compare import add_parser as add_compare

    add_compare(sub)

    p = sub.add_parser("export", help="write the training MILP as MPS and/or LP files")
    _model_options(p)
    p.add_argument("--output", "-o", type=Path, required=True,
                   help="output path; .mps or .lp (or no suffix: both are written)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("backends", help="list MILP backends, solver versions and availability")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("plugins", help="list plugins found through the 'bnnmip' entry points")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("datasets", help="list the data sets available by name")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BnnmipError as exc:
        print(f"bnnmip: error: {exc}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------


def _load_split(args):
    from .datasets import load_dataset, split_dataset

    ds = load_dataset(args.dataset, label=args.label)
    X_train, X_test, y_train, y_test = split_dataset(
        ds.X, ds.y, test_size=args.test_size, train_size=args.train_size, seed=args.seed
    )
    return ds, X_train, X_test, y_train, y_test


def _estimator(args):
    from .estimator import BDNNClassifier

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


def cmd_train(args) -> int:
    """Train, print the summary, optionally save the network."""
    import warnings

    from .plugins import get_plugin_manager
    from .progress import ProgressReporter

    ds, X_train, X_test, y_train, y_test = _load_split(args)
    clf = _estimator(args)
    pm = get_plugin_manager()
    reporter = ProgressReporter(verbose=args.verbose)
    pm.register(reporter, name="bnnmip-cli-progress")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary reports verification itself
            clf.fit(X_train, y_train)
    finally:
        reporter.close()
        pm.unregister(reporter)
    res, net = clf.training_result_, clf.network_
    summary = {
        "dataset": ds.name,
        "points": int(ds.X.shape[0]),
        "features": int(ds.X.shape[1]),
        "classes": [_plain(c) for c in clf.classes_],
        "train_points": int(len(y_train)),
        "test_points": int(len(y_test)),
        "validation_points": math.ceil(args.validation_size * len(y_train)),
        "widths": list(net.widths),
        "weight_domain": str(net.weight_domain),
        "bias": not args.no_bias,
        "formulation": args.formulation,
        "strategy": res.strategy,
        "status": res.status.value,
        "problem": res.problem_size,
        "solve": {k: v for k, v in res.final.summary().items() if k != "message"},
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
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(_format_summary(summary, res))
    return 0


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _num(value, fmt="{:g}") -> str:
    return "-" if value is None else fmt.format(value)


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
        + _symmetry_note(res.history, solve["backend"]) + _groups_note(res.history, s["train_points"]),
        f"  solve        {solve['backend']} {solve['solver_version']}, strategy {s['strategy']}: "
        f"{s['status'].upper()}"
        + ("" if s["status"] == solve["status"] else f" (last solve: {solve['status']})")
        + ("; solver options " + ", ".join(f"{k}={v}" for k, v in s["solver_options"].items())
           if s["solver_options"] else ""),
        f"  {'objective' if s['solves'] == 1 else 'last solve':12} "
        f"{_num(solve['objective'])} (Hamming loss: wrong output bits)   "
        f"bound {_num(solve['bound'])}   gap {_num(solve['gap'], '{:.2%}')}   "
        f"nodes {_num(solve['nodes'])}",
        f"  time         build {s['build_seconds']:.2f} s, solve {s['solve_seconds']:.2f} s "
        f"({s['solves']} solve{'s' if s['solves'] != 1 else ''}), total {s['seconds']:.2f} s",
    ]
    if res.final.message == START_AT_BOUND_MESSAGE:
        bound = solve["objective"]
        why = "" if not bound else " (points that must share activations have different labels)"
        lines.append(f"  proof        the start's loss {_num(bound)} is the least possible{why}: optimal, "
                     "solver not called")
    if s["loss"] is not None and s["loss"] != solve["objective"]:
        lines.append(f"  loss         {s['loss']:g} (the returned network's, by its forward pass)")
    v = res.verification
    whose = "(the solver's network, before the refit below) " if res.solver_network is not None else ""
    lines.append(f"  verification {whose}{v.describe() if v is not None else 'no solution to verify'}")
    pre, binr = acc["preactivation"], acc["binary"]
    lines.append(
        f"  accuracy     train {_num(pre['train'], '{:.3f}')}, test {_num(pre['test'], '{:.3f}')}"
        f"   (paper's binary-output rule: train {_num(binr['train'], '{:.3f}')}, "
        f"test {_num(binr['test'], '{:.3f}')})"
    )
    for rec in res.history:
        if rec.get("start") == "ste" and "start_seconds" in rec:  # not the start_outcome record
            lines.insert(4, (
                f"  start        gradient-trained network (straight-through step), loss "
                f"{rec['start_loss']:g} in {rec['start_seconds']:.2f} s; MIP start objective "
                f"{_num(rec.get('start_objective'))}"
            ))
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


# ---------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------


def cmd_predict(args) -> int:
    """Predict with a saved network; print accuracy when labels are present."""
    from .datasets import load_inputs
    from .network import BinarizedNetwork

    net = BinarizedNetwork.load(args.model)
    X, y = load_inputs(args.data, n_features=net.widths[0], label=args.label)
    pred = net.predict(X, rule=args.rule)
    text = "\n".join(str(_plain(p)) for p in pred) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"wrote {len(pred)} predictions to {args.output}")
    else:
        sys.stdout.write(text)
    if y is not None:
        known = [str(_plain(c)) for c in net.classes]
        acc = float(np.mean([str(_plain(p)) == str(_plain(t)) for p, t in zip(pred, y, strict=True)]))
        unseen = sorted({str(_plain(t)) for t in y} - set(known)) if known else []
        note = f" (labels never seen in training: {', '.join(unseen)})" if unseen else ""
        print(f"accuracy {acc:.3f} on {len(y)} labelled points{note}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------


def cmd_export(args) -> int:
    """Write the MILP the train command would solve, as MPS and/or LP."""
    from .estimator import BDNNClassifier
    from .milp_io import write_lp, write_mps

    _, X_train, _, y_train, _ = _load_split(args)
    clf = BDNNClassifier(
        hidden_layer_sizes=tuple(args.hidden), weight_domain=args.weights, bias=not args.no_bias,
        formulation=args.formulation, eps=args.eps, robust_radius=args.robust_radius,
    )
    lowering = clf.lowering(X_train, y_train)
    problem = lowering.problem
    out = args.output
    suffix = out.suffix.lower()
    targets = {".mps": [out], ".lp": [out]}.get(suffix, [out.with_suffix(".mps"), out.with_suffix(".lp")])
    for path in targets:
        (write_lp if path.suffix.lower() == ".lp" else write_mps)(problem, path)
        print(f"wrote {path}")
    size = problem.size_summary()
    print(
        f"{size['variables']:,} variables ({size['binaries']:,} binary), {size['rows']:,} rows, "
        f"{size['nonzeros']:,} nonzeros; objective constant {problem.offset:g} is carried by the "
        "fixed column OBJCONST"
    )
    return 0


# ---------------------------------------------------------------------------------------------
# backends, plugins, datasets
# ---------------------------------------------------------------------------------------------


def cmd_backends(args) -> int:
    """Table of registered backends."""
    from .registry import list_backends

    rows = []
    for name, backend in list_backends().items():
        ok, reason = backend.availability()
        version = backend.solver_version() if ok else "-"
        features = ", ".join(sorted(f.value for f in backend.features))
        rows.append((name, version, "yes" if ok else f"no: {reason}", features))
    _table(("backend", "solver version", "available", "features"), rows)
    return 0


def cmd_plugins(args) -> int:
    """Table of entry points and the hooks each implements."""
    from .plugins import get_plugin_manager, plugin_records

    pm = get_plugin_manager()
    rows = []
    for rec in plugin_records():
        if rec.loaded:
            plugin = pm.get_plugin(rec.name)
            hooks = ", ".join(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
            state = "loaded"
        else:
            hooks, state = "-", f"FAILED: {rec.error}"
        rows.append((rec.name, f"{rec.distribution} {rec.version}", rec.value, state, hooks))
    _table(("plugin", "distribution", "module", "state", "hooks"), rows)
    return 0


def cmd_datasets(args) -> int:
    """Table of data sets available by name."""
    from .datasets import list_datasets

    _table(("name", "description"), list(list_datasets().items()))
    print("Any CSV file can be given by path (label: last column unless --label).")
    return 0


def _table(header: tuple[str, ...], rows: list[tuple]) -> None:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
