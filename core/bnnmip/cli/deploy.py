"""``bnnmip export-model`` and ``bnnmip inspect``: deploy a saved network, and its footprint.

Registered by :mod:`bnnmip.cli.main` through :func:`add_parser`::

    bnnmip export-model MODEL --to c|onnx -o OUT [--name NAME] [--rule R] [--check DATA]
    bnnmip inspect MODEL [--json]

``--to c`` writes ``OUT/<name>.h``, ``OUT/<name>.c`` and ``OUT/<name>_harness.c``; ``--to onnx``
writes the file ``OUT``. ``--check DATA`` (a data set name or a CSV, labelled or not) compiles
the harness with the system C compiler, or runs the model in onnxruntime, and compares every
prediction with bnnmip's numpy forward pass; any disagreement exits with status 1. See
``docs/deploy.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..datasets import load_inputs
from ..deploy.c import check_c, export_c
from ..deploy.footprint import footprint, format_footprint
from ..deploy.onnx import OPSET, check_onnx, export_onnx
from ..errors import InvalidInputError
from ..network import BinarizedNetwork

__all__ = ["add_parser", "cmd_export_model", "cmd_inspect"]


def add_parser(subparsers) -> None:
    """Register ``export-model`` and ``inspect`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "export-model",
        help="export a saved network as dependency-free C99 or ONNX, optionally checked on data",
        description=(
            "Export a network saved by 'bnnmip train --output' as C99 source (bit-packed "
            "activations, popcount sums, a test harness) or as an ONNX graph (opset 17). With "
            "--check, the export is run on DATA (C: compiled with the system compiler; ONNX: "
            "onnxruntime) and compared with bnnmip's own predictions point by point."
        ),
    )
    p.add_argument("model", type=Path, help="network file written by 'bnnmip train --output'")
    p.add_argument("--to", required=True, choices=("c", "onnx"), help="target format")
    p.add_argument("--output", "-o", type=Path, required=True,
                   help="c: a directory for NAME.h, NAME.c, NAME_harness.c; onnx: the .onnx file")
    p.add_argument("--name", default=None,
                   help="c: file stem and symbol prefix, a C identifier (default: from the model file name)")
    p.add_argument("--rule", choices=["preactivation", "binary"], default=None,
                   help="prediction rule built into the export (default: the one saved with the network)")
    p.add_argument("--check", metavar="DATA", default=None,
                   help="data set name or CSV to run the export on and compare with numpy")
    p.add_argument("--label", help="label column of a --check CSV: name or index (default: detected)")
    p.set_defaults(func=cmd_export_model)

    p = subparsers.add_parser(
        "inspect",
        help="a saved network's size: parameters, bits per weight, packed bytes vs a float32 MLP",
    )
    p.add_argument("model", type=Path, help="network file written by 'bnnmip train --output'")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_inspect)


def _c_name(args) -> str:
    if args.name is not None:
        return args.name  # validated by generate_c
    stem = re.sub(r"[^A-Za-z0-9_]", "_", args.model.stem) or "bnnmip_model"
    return stem if not stem[0].isdigit() else f"net_{stem}"


def cmd_export_model(args) -> int:
    """Write the export; with ``--check``, run it on data and report agreement."""
    net = BinarizedNetwork.load(args.model)
    X = None
    if args.check is not None:
        X, _ = load_inputs(args.check, n_features=net.widths[0], label=args.label)
    if args.to == "c":

        name = _c_name(args)
        paths = export_c(net, args.output, name, rule=args.rule)
        for path in paths:
            print(f"wrote {path}")
        if X is None:
            return 0
        report = check_c(net, X, name=name, directory=args.output, rule=args.rule)
        print(f"compiled {args.output / (name + '_harness')}")
    else:

        if args.name is not None:
            raise InvalidInputError("--name applies to --to c only; the ONNX file is named by --output")
        path = export_onnx(net, args.output, rule=args.rule)
        print(f"wrote {path} (ONNX opset {OPSET}; input 'input' double[N, {net.widths[0]}], "
              "outputs 'index' and, with class labels, 'label')")
        if X is None:
            return 0
        report = check_onnx(net, X, model=path, rule=args.rule)
    print(report.describe())
    return 0 if report.ok else 1


def cmd_inspect(args) -> int:
    """Print the footprint report of a saved network."""
    net = BinarizedNetwork.load(args.model)
    fp = footprint(net)
    if args.json:
        print(json.dumps({"model": str(args.model), "prediction_rule": net.prediction_rule.value,
                          "classes": [str(c) for c in net.classes], **fp.to_dict()}, indent=1))
        return 0
    shape = " -> ".join(str(w) for w in net.widths)
    print(f"bnnmip inspect: {args.model}")
    print(f"  {'network':12} {shape}, {net.weight_domain} weights, prediction rule "
          f"{net.prediction_rule.value}, {net.n_classes} classes")
    print(format_footprint(fp))
    return 0
