"""Testing aids for bnnmip and for plugin authors.

- :mod:`.instances`: reference training problems with known optima (XOR, random teachers).
- :mod:`.conformance`: the backend conformance suite, :data:`CONFORMANCE_CHECKS`.
- :mod:`.fake_plugins`: installed-looking plugin distributions for tests of plugin loading.
- :mod:`.processes`: a run's processes, for tests that kill it (:func:`processes_mentioning`, Linux).
"""

from .conformance import BUILTIN_BACKENDS, CONFORMANCE_CHECKS, hard_instance, infeasible_problem
from .fake_plugins import fake_distribution
from .instances import ReferenceInstance, random_teacher, reference_instances, xor

__all__ = [
    "BUILTIN_BACKENDS",
    "CONFORMANCE_CHECKS",
    "ReferenceInstance",
    "fake_distribution",
    "hard_instance",
    "infeasible_problem",
    "random_teacher",
    "reference_instances",
    "xor",
]
