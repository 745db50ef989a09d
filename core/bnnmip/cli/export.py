"""``bnnmip export``: write the training MILP as MPS and/or LP files for any solver."""

from __future__ import annotations

from pathlib import Path

from .._paths import check_command_paths
from ..milp.io import write_lp, write_mps
from .options import _load_split, _model_options
from .output import add_output_flags, print_json

__all__ = ["add_parser", "cmd_export"]


def add_parser(sub) -> None:
    """Register ``bnnmip export``."""
    p = sub.add_parser("export", help="write the training MILP as MPS and/or LP files")
    _model_options(p)
    p.add_argument("--output", "-o", type=Path, required=True,
                   help="output path; .mps or .lp (or no suffix: both are written)")
    add_output_flags(p, "the files written and the MILP's size")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    """Write the MILP the train command would solve, as MPS and/or LP."""
    from ..estimator import BDNNClassifier  # lazy: start-up cost (the estimator imports scikit-learn)

    check_command_paths(args)
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
    size = problem.size_summary()
    if args.json:
        print_json({"files": [str(p) for p in targets], **size, "objective_constant": float(problem.offset),
                    "objective_constant_column": "OBJCONST"})
        return 0
    for path in targets:
        print(f"wrote {path}")
    print(
        f"{size['variables']:,} variables ({size['binaries']:,} binary), {size['rows']:,} rows, "
        f"{size['nonzeros']:,} nonzeros; objective constant {problem.offset:g} is carried by the "
        "fixed column OBJCONST"
    )
    return 0
