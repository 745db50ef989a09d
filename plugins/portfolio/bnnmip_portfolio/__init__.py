"""The portfolio backend plugin: member backends side by side in separate processes."""

from __future__ import annotations

import bnnmip

from .backend import PortfolioBackend

__all__ = ["PortfolioBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    """Register the ``portfolio`` backend."""
    register(PortfolioBackend())
