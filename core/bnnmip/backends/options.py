"""The solver's own parameters: checked before anything runs, converted to their types.

A backend that declares :attr:`~bnnmip.backends.BackendFeature.SOLVER_OPTIONS` takes the solver's own
parameters (``SolveOptions.solver_options``) and checks them in ``check_solver_options``, which
:func:`check_solver_options` calls before anything runs.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import tempfile

from ..errors import InvalidInputError
from ..plugins.registry import list_backends
from .contract import Backend, BackendFeature, availability
from .results import SolveOptions

__all__ = ["captured_output", "check_solver_options", "option_value"]


def check_solver_options(backend: Backend, options: SolveOptions):
    """Refuse ``options.solver_options`` that ``backend`` cannot apply, before any solve.

    Returns what the backend's ``check_solver_options`` returned (the options converted to
    the solver's types), ``None`` when none are given; :func:`bnnmip.solve` passes it to
    ``build`` as ``options.checked_solver_options``. Each option set is checked once per
    backend object and process.

    Raises
    ------
    bnnmip.InvalidInputError
        If the backend does not declare :attr:`BackendFeature.SOLVER_OPTIONS`, or its
        ``check_solver_options`` refuses a name or value (the message names each). A backend
        that cannot run here is not asked: its solve raises
        :class:`bnnmip.BackendUnavailableError` instead.
    """
    if not options.solver_options:
        return None
    names = ", ".join(options.solver_options)
    if BackendFeature.SOLVER_OPTIONS not in backend.features:

        takers = [name for name, b in list_backends().items() if BackendFeature.SOLVER_OPTIONS in b.features]
        raise InvalidInputError(
            f"backend {backend.name!r} does not take solver options (given: {names}); drop them, "
            f"or use a backend that does: {', '.join(takers) or 'none installed'}"
        )
    if not availability(backend)[0]:
        return None
    items = tuple(options.solver_options.items())
    key = (id(backend), items)
    if _CHECKED.get(key, (None,))[0] is not backend:
        _CHECKED[key] = (backend, backend.check_solver_options(dict(items)))
    return copy.deepcopy(_CHECKED[key][1])


_CHECKED: dict = {}  # (id(backend), items) -> (backend, converted): a check may start a process


@contextlib.contextmanager
def captured_output(fd: int):
    """Capture what native code writes to file descriptor ``fd`` (1 or 2) meanwhile.

    Yields a function that returns the captured text once the block has ended; backends use
    it to put a solver's own complaint about a parameter into their error message.
    """
    stream = sys.stdout if fd == 1 else sys.stderr
    text = []
    stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield lambda: "".join(text)
        finally:
            stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text.append(tmp.read().decode(errors="replace"))


_TRUE, _FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def option_value(solver: str, name: str, value, kind: type):
    """``value`` converted to ``kind`` (bool, int, float or str) for parameter ``name``.

    For backends' ``check_solver_options``: strings from the command line are parsed
    (``true/false``, ``on/off``, ``yes/no``, ``1/0`` for bools), numbers must fit the type.

    Raises
    ------
    bnnmip.InvalidInputError
        Naming the solver, the parameter, the value and the type expected.
    """
    def refuse():
        what = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]
        return InvalidInputError(f"{solver} parameter {name!r} takes {what}, got {value!r}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise refuse()
    if kind is str:
        return str(value)
    if isinstance(value, bool):
        raise refuse()
    try:
        if kind is float:
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise refuse() from None
