"""The training task, its budget, and train()'s checks before anything runs."""

import math

import numpy as np
import pytest

import bnnmip
from bnnmip.errors import InvalidInputError, UnknownNameError
from bnnmip.ir import Architecture, TrainingSet
from bnnmip.training import Budget, TrainingTask

X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
DATA = TrainingSet.from_arrays(X, np.array([0, 0, 1, 1]))


def test_a_budget_without_seconds_never_runs_out_and_leaves_limits_alone():
    budget = Budget(None)
    options = bnnmip.SolveOptions(time_limit=7.0)
    assert budget.remaining() == math.inf and not budget.exhausted()
    assert budget.limit(options) is options


def test_a_budget_cuts_the_time_limit_to_what_is_left():
    budget = Budget(10.0)
    assert budget.limit(bnnmip.SolveOptions(time_limit=60.0)).time_limit <= 10.0
    assert budget.limit(bnnmip.SolveOptions(time_limit=2.0)).time_limit == 2.0
    assert Budget(0.0).exhausted() and Budget(0.0).limit(bnnmip.SolveOptions()).time_limit == 0.05


@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan])
def test_a_task_refuses_a_budget_that_is_not_a_positive_number(seconds):
    with pytest.raises(InvalidInputError, match="time_budget"):
        TrainingTask(Architecture(2, (2,), 2), DATA, bnnmip.get_backend("highs"), bnnmip.SolveOptions(),
                     time_budget=seconds)


def test_train_refuses_an_unknown_strategy_or_backend_before_solving():
    arch = Architecture(2, (2,), 2)
    with pytest.raises(UnknownNameError, match="strategy"):
        bnnmip.train(arch, DATA, strategy="no-such-strategy")
    with pytest.raises(UnknownNameError, match="backend"):
        bnnmip.train(arch, DATA, backend="no-such-backend")


def test_iterations_count_a_local_search_block_that_also_notes_the_start():
    from bnnmip.backends.results import SolveResult, SolveStatus
    from bnnmip.training.task import TrainingResult

    solve = SolveResult(status=SolveStatus.OPTIMAL, backend="highs", solver_version="x")

    def result(*history):
        return TrainingResult(network=None, status=SolveStatus.OPTIMAL, solves=(solve,), verification=None,
                              problem_size={}, strategy="s", backend="highs", seconds=0.0, history=history)

    assert result({"round": 1, "block": 0, "start": "random"}, {"round": 1, "block": 1}).iterations == 2
    assert result({"formulation": "tight"}, {"start": "ste", "start_loss": 0}).iterations == 0
    assert result({"split": 0, "clusters": 1}, {"split": 1, "clusters": 2}).iterations == 2
