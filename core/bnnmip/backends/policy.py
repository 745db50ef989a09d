"""Solver options bnnmip refuses because they change what is solved or a limit bnnmip owns.

A solver's own parameters (``--solver-option``, ``SolveOptions.solver_options``) tune the
search. Some would change the answer instead: the objective sense (CBC's ``direction=max``
maximizes the training loss), an objective cutoff (a run that misses it reports
"infeasible"), or a setting bnnmip derives and reports itself: the time limit, the relative
gap, threads, the seed and the tolerances bnnmip derives from eps so that the solution it
verifies is sound. Each built-in backend lists them (``OWNED_OPTIONS`` in
``bnnmip_highs``, ``bnnmip_scip``, ``bnnmip_cbc``) and refuses them, before anything runs,
with :func:`owned_option_problem`'s message naming bnnmip's own setting to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SENSE", "TIME_LIMIT", "GAP", "THREADS", "SEED", "TOLERANCE", "CUTOFF", "owned_option_problem"]

SENSE = "the objective sense: bnnmip minimizes the training loss"
TIME_LIMIT = "the time limit, which bnnmip sets and reports: use --time-limit (time_limit=)"
GAP = "the relative gap, which bnnmip sets and reports: use --gap (mip_gap=)"
THREADS = "the thread count: use --threads (threads=)"
SEED = "the random seed: use --seed (random_state=)"
TOLERANCE = ("a tolerance bnnmip derives from eps so that verified solutions are sound: use "
             "SolveOptions(feasibility_tolerance=..., integrality_tolerance=...) or --eps")
CUTOFF = "an objective cutoff or bound: a run that cannot reach it would be reported as infeasible or optimal"


def owned_option_problem(solver: str, name: str, owned: Mapping[str, str], *, prefix: bool = False):
    """The refusal message when ``name`` is in ``owned`` (case-insensitive), else ``None``.

    ``prefix=True`` for solvers that accept any unambiguous abbreviation (CBC): ``name`` is
    refused when it abbreviates an owned name (``sec`` for ``seconds``).
    """
    key = name.strip().lstrip("-").lower()
    for word, why in owned.items():
        if key == word.lower() or (prefix and key and word.lower().startswith(key)):
            return (f"{solver} parameter {name!r} is refused: it sets {why}; leave it out "
                    "(bnnmip refuses options that change what is solved)")
    return None
