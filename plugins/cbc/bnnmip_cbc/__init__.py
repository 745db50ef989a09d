"""The CBC backend plugin: the CBC executable (PuLP's bundled binary) on an MPS file."""

from __future__ import annotations

import bnnmip

from .backend import CbcBackend

__all__ = ["CbcBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    """Register the ``cbc`` backend."""
    register(CbcBackend())
