"""``python -m bnnmip.experiments compare|report ...``: the same commands as ``bnnmip compare``."""

from __future__ import annotations

import argparse
import sys

from ..cli.compare import add_parser
from ..errors import BnnmipError


def main(argv: list[str] | None = None) -> int:
    """Run ``compare`` or ``report``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bnnmip.experiments",
                                     description="Experiment grids: compare and report.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BnnmipError as exc:
        print(f"bnnmip: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
