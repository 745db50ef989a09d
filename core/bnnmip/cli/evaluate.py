"""``bnnmip evaluate``: accuracy of a saved network under random-sign noise and certified robustness.

Wired into the CLI by :mod:`bnnmip.cli` through :func:`add_parser`; usable with any argparse
subparsers object::

    bnnmip evaluate MODEL DATA [--label COL] [--radii 0 0.05 0.1] [--noise-draws N]
                    [--certify] [--backend NAME] [--seed S] [--json] [--quiet]

Radii are in the network's scaled input units (fractions of each feature's training range),
the units of ``--robust-radius`` in ``bnnmip train``. See :mod:`bnnmip.robustness`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._validation import plain
from ..backends import DEFAULT_BACKEND
from ..datasets import check_feature_names, load_dataset
from ..errors import InvalidInputError
from ..network import BinarizedNetwork
from ..robustness import robustness_report
from .argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from .output import add_output_flags, print_json, table

__all__ = ["add_parser", "cmd_evaluate"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "evaluate",
        help="accuracy of a saved network under random-sign noise, and certified robustness",
        description=(
            "Clean accuracy of a saved network on labelled data and, per radius, its accuracy "
            "under the paper's random-sign noise (x + r * s, s in {-1, +1}^n) and, with "
            "--certify, the exact certified accuracy (no input in the l-inf ball of radius r "
            "changes the prediction). Radii are in scaled units: fractions of each feature's "
            "training range, as --robust-radius in 'bnnmip train'."
        ),
    )
    p.add_argument("model", type=Path, help="network file written by 'bnnmip train --output'")
    p.add_argument("data", help="bundled data set name or CSV path (with a label column)")
    p.add_argument("--label", help="label column of a CSV: name or index (default: last)")
    p.add_argument("--radii", type=non_negative_float, nargs="+", default=[0.0, 0.05, 0.1], metavar="R",
                   help="l-inf radii in scaled units (default: 0 0.05 0.1)")
    p.add_argument("--noise-draws", type=positive_int, default=10, metavar="N",
                   help="random sign draws averaged per radius (default: 10)")
    p.add_argument("--certify", action="store_true",
                   help="also compute the exact certified accuracy per radius")
    p.add_argument("--backend", default=DEFAULT_BACKEND,
                   help="MILP backend for certificates that need one (default: highs)")
    p.add_argument("--rule", choices=["preactivation", "binary"], default=None,
                   help="prediction rule (default: the one saved with the network)")
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                   help="certification time limit per point (default: none); a point that "
                        "runs out counts as unknown")
    p.add_argument("--max-enumerate", type=non_negative_int, default=16, metavar="F",
                   help="enumerate layer-1 patterns up to F flippable neurons, else solve a "
                        "MILP (default: 16)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the random signs (default: 0)")
    add_output_flags(p, "the results")
    p.set_defaults(func=cmd_evaluate)
    return p


def _fmt(value, fmt: str = "{:.3f}") -> str:
    return "-" if value is None else fmt.format(value)


def cmd_evaluate(args) -> int:
    """Evaluate a saved network: clean, noisy and (optionally) certified accuracy per radius."""
    model = Path(args.model)
    if not model.is_file():
        raise InvalidInputError(f"model file {model} was not found; write one with "
                                "'bnnmip train ... --output FILE'")
    net = BinarizedNetwork.load(model)
    ds = load_dataset(args.data, label=args.label)
    if ds.X.shape[1] != net.widths[0]:
        raise InvalidInputError(
            f"{args.data} has {ds.X.shape[1]} feature column(s) but the network expects "
            f"{net.widths[0]}; give the same columns as in training plus the label column"
        )
    if net.feature_names is not None and ds.known_feature_names is not None:
        check_feature_names(str(args.data), ds.known_feature_names, net.feature_names)
    rule = args.rule or net.prediction_rule.value
    rows = robustness_report(
        net, ds.X, ds.y, args.radii, backend=args.backend, seed=args.seed,
        n_draws=args.noise_draws, certify=args.certify, rule=rule,
        time_limit=args.time_limit, max_enumerate=args.max_enumerate,
    )
    known = {str(plain(c)) for c in net.classes}
    unseen = sorted({str(plain(v)) for v in ds.y.tolist()} - known) if known else []
    summary = {
        "model": str(model),
        "data": ds.name,
        "points": int(ds.X.shape[0]),
        "features": int(ds.X.shape[1]),
        "rule": rule,
        "clean_accuracy": rows[0]["clean_accuracy"],
        "noise_draws": args.noise_draws,
        "seed": args.seed,
        "certify": bool(args.certify),
        "unseen_labels": unseen,
        "radii": rows,
    }
    if args.json:
        print_json(summary)
        return 0
    widths = " -> ".join(str(w) for w in net.widths)
    print(f"bnnmip evaluate: {model.name} ({widths}) on {ds.name} ({summary['points']} points), "
          f"rule {rule}")
    note = f" (labels never seen in training: {', '.join(unseen)})" if unseen else ""
    print(f"  clean accuracy {summary['clean_accuracy']:.3f}{note}")
    print(f"  radii in scaled units; noise: mean over {args.noise_draws} random-sign draw(s), "
          f"seed {args.seed}" + ("; certified: exact worst case over the l-inf ball"
                                 if args.certify else ""))
    header = ["radius", "noise accuracy"]
    if args.certify:
        header += ["certified accuracy", "attackable", "unknown"]
    body = []
    for row in rows:
        cells = [f"{row['radius']:g}", _fmt(row["noise_accuracy"])]
        if args.certify:
            cells += [_fmt(row["certified_accuracy"]), str(row["attackable"]), str(row["unknown"])]
        body.append(tuple(cells))
    table(tuple(header), body)
    return 0
