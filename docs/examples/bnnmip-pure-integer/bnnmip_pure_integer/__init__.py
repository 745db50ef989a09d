"""A pure-integer backend plugin for bnnmip: refuses problems with continuous columns."""

from __future__ import annotations

import bnnmip
from bnnmip.plugins.hookspecs import RegisterBackend

from .backend import PureIntegerBackend

__all__ = ["PureIntegerBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register: RegisterBackend) -> None:
    """Register the ``pure-integer`` backend."""
    register(PureIntegerBackend())
