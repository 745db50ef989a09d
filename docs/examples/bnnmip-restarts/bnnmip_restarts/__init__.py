"""A third-party bnnmip strategy plugin: the exact strategy restarted from several seeds.

Installed with ``pip install docs/examples/bnnmip-restarts``, it registers the ``restarts``
strategy through the ``bnnmip`` entry-point group, exactly as the built-in strategies are.
"""

from __future__ import annotations

import bnnmip
from bnnmip.plugins.hookspecs import RegisterStrategy

from .strategy import RestartsStrategy

__all__ = ["RestartsStrategy"]


@bnnmip.hookimpl
def bnnmip_register_strategies(register: RegisterStrategy) -> None:
    """Register the ``restarts`` strategy."""
    register(RestartsStrategy())
