"""``bnnmip predict``: predict with a saved network; accuracy when the data has labels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .._paths import check_command_paths
from .._validation import plain
from ..datasets import load_inputs
from ..network import BinarizedNetwork
from .output import add_output_flags, note, print_json

__all__ = ["add_parser", "cmd_predict"]


def add_parser(sub) -> None:
    """Register ``bnnmip predict``."""
    p = sub.add_parser("predict", help="predict with a saved network")
    p.add_argument("model", type=Path, help="network file written by 'bnnmip train --output'")
    p.add_argument("data", help="CSV of inputs (with or without a label column) or data set name")
    p.add_argument("--label", help="label column (name or index); default: detected")
    p.add_argument("--rule", choices=["preactivation", "binary"], default=None,
                   help="prediction rule (default: the one saved with the network)")
    p.add_argument("--output", "-o", type=Path, help="write predictions here (one per line)")
    add_output_flags(p, "the predictions and the accuracy")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args) -> int:
    """Predict with a saved network; print accuracy when labels are present."""
    check_command_paths(args)
    net = BinarizedNetwork.load(args.model)
    X, y = load_inputs(args.data, n_features=net.widths[0], label=args.label,
                       feature_names=net.feature_names)
    pred = net.predict(X, rule=args.rule)
    labels = [plain(p) for p in pred]
    text = "\n".join(str(p) for p in labels) + "\n"
    acc, unseen = None, []
    if y is not None:
        known = [str(plain(c)) for c in net.classes]
        acc = float(np.mean([str(plain(p)) == str(plain(t)) for p, t in zip(pred, y, strict=True)]))
        unseen = sorted({str(plain(t)) for t in y} - set(known)) if known else []
    if args.output:
        args.output.write_text(text)
    if args.json:
        print_json({"model": str(args.model), "data": str(args.data),
                    "rule": args.rule or net.prediction_rule.value, "points": len(labels),
                    "predictions": labels, "labelled": y is not None, "accuracy": acc,
                    "unseen_labels": unseen, "output": None if args.output is None else str(args.output)})
        return 0
    if args.output:
        note(args, f"wrote {len(pred)} predictions to {args.output}")
    else:
        sys.stdout.write(text)
    if acc is not None:
        extra = f" (labels never seen in training: {', '.join(unseen)})" if unseen else ""
        print(f"accuracy {acc:.3f} on {len(y)} labelled points{extra}", file=sys.stderr)
    return 0
