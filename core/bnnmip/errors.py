"""One exception hierarchy for everything bnnmip raises on purpose.

Every message names the problem and what to do about it.
"""


class BnnmipError(Exception):
    """Base class of every error bnnmip raises on purpose."""


class InvalidInputError(BnnmipError, ValueError):
    """Data, architecture or options are malformed (raised before any solver runs)."""


class UnknownNameError(BnnmipError, KeyError):
    """A backend, strategy, data set or formulation name is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class BackendUnavailableError(BnnmipError, RuntimeError):
    """A backend is registered but its solver cannot be used on this machine."""


class PluginError(BnnmipError, RuntimeError):
    """A plugin registered something invalid (bad name, duplicate, wrong type)."""


class SolveFailedError(BnnmipError, RuntimeError):
    """A solve produced no usable network (no solution at a limit, infeasible, solver error)."""


class ModelFormatError(BnnmipError, ValueError):
    """A saved network file is malformed or from an unsupported format version."""


class StoreError(BnnmipError, RuntimeError):
    """A results store cannot be read or written, or changed under a running writer."""


class UnsupportedProblemError(BnnmipError, ValueError):
    """The chosen backend declares that it cannot solve this problem (raised before any solve)."""


class PluginWarning(UserWarning):
    """A plugin's code failed and was skipped (the failure is listed by ``bnnmip plugins``)."""


class FeatureWarning(UserWarning):
    """A solve asked a backend for something it does not declare (see ``BackendFeature``)."""


class SolveWarning(UserWarning):
    """The returned network is not the solver's: the solve failed or was refused (see the message)."""
