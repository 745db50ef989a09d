"""The SCIP backend plugin (PySCIPOpt, in process).

Two backends: ``scip`` (big-M rows) and ``scip-indicator`` (big-M activation rows as SCIP
indicator constraints).
"""

from __future__ import annotations

import bnnmip

from .backend import ScipBackend

__all__ = ["ScipBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    """Register the ``scip`` and ``scip-indicator`` backends."""
    register(ScipBackend())
    register(ScipBackend(indicators=True))
