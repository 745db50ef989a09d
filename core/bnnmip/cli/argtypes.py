"""Argument types shared by the command-line modules (argparse ``type=`` converters)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "positive_int"]


def _checked(parse: Callable[[str], float], ok: Callable[[float], bool], what: str):
    """A converter that parses with ``parse`` and accepts values where ``ok`` holds."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    convert.__doc__ = f"Parse {what}."
    return convert


non_negative_float = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
