"""A third-party bnnmip backend plugin: Gurobi through gurobipy.

Installed with ``pip install docs/examples/bnnmip-gurobi``, it registers the ``gurobi``
backend through the ``bnnmip`` entry-point group, exactly as the built-in backends do.
"""

from __future__ import annotations

import bnnmip

from .backend import LICENCE_MESSAGE, GurobiBackend

__all__ = ["LICENCE_MESSAGE", "GurobiBackend"]


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    """Register the ``gurobi`` backend."""
    register(GurobiBackend())
