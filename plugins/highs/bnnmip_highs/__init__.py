"""The HiGHS backend plugin (highspy, in process, straight from the MILP arrays)."""

from __future__ import annotations

import bnnmip

from .backend import HighsBackend

__all__ = ["HighsBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    """Register the ``highs`` backend."""
    register(HighsBackend())
