"""The ``bnnmip`` command line: one module per command, put together here.

Each command module (:mod:`.train`, :mod:`.predict`, :mod:`.evaluate`, :mod:`.compare`,
:mod:`.deploy`, :mod:`.export`, :mod:`.listings`) has ``add_parser(subparsers)`` and the
function that runs it; :mod:`.options` and :mod:`.output` hold what several share.
"""

from __future__ import annotations

import argparse
import sys

from .._version import __version__
from ..errors import BnnmipError
from . import compare, deploy, evaluate, export, listings, predict, train

__all__ = ["main"]

COMMANDS = (train, predict, evaluate, compare, deploy, export, listings)
"""The command modules, in the order ``bnnmip --help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnmip",
        description="Train binarized neural networks by mixed-integer linear programming.",
    )
    parser.add_argument("--version", action="version", version=f"bnnmip {__version__}",
                        help="print bnnmip's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BnnmipError as exc:
        print(f"bnnmip: error: {exc}", file=sys.stderr)
        return 2
