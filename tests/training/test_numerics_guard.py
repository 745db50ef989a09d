"""Wrong "optimal" (issue 18): inputs the solver's tolerances cannot represent are refused."""

import numpy as np
import pytest

import bnnmip
from bnnmip import InvalidInputError
from bnnmip.cli import main
from bnnmip.estimator import BDNNClassifier
from bnnmip.testing import xor
from bnnmip.training.numerics import MAX_WEIGHT_RATIO, check_weight_bound, max_weight_bound


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def test_sample_weights_beyond_the_tolerances_are_refused_before_solving():
    X, y = _data()
    w = np.ones(30)
    w[0] = 1e20
    with pytest.raises(InvalidInputError, match=r"ratio of 1e\+20.*Cap the large weights"):
        BDNNClassifier(hidden_layer_sizes=(2,), time_limit=20).fit(X, y, sample_weight=w)
    w[0] = MAX_WEIGHT_RATIO * 10
    with pytest.raises(InvalidInputError, match="ratio"):
        BDNNClassifier(hidden_layer_sizes=(2,)).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("scale", [1e-7, 1e12])
def test_tiny_or_huge_uniform_weights_are_refused_with_the_fix(scale):
    X, y = _data()
    with pytest.raises(InvalidInputError, match="Divide all weights"):
        BDNNClassifier(hidden_layer_sizes=(2,)).fit(X, y, sample_weight=np.full(30, scale))


def test_weights_within_range_still_train_to_a_verified_optimum():
    inst = xor()
    data = bnnmip.TrainingSet.from_arrays(inst.data.X, inst.data.y, weights=[1e3, 1.0, 2.0, 1.0])
    res = bnnmip.train(inst.architecture, data, options=bnnmip.SolveOptions(time_limit=60))
    assert res.status.value == "optimal" and res.verification.ok
    assert res.objective == pytest.approx(inst.optimum)


def test_huge_integer_weight_bound_is_refused(capsys):
    code = main(["train", "iris", "--hidden", "1", "--weights", "integer:" + "1" * 31, "--train-size", "30"])
    err = capsys.readouterr().err
    assert code == 2 and "too wide for exact training" in err and "Traceback" not in err
    assert f"P <= {max_weight_bound(4, 1e-4)}" in err
    arch = bnnmip.Architecture(4, (1,), 3, weight_domain=f"integer:{max_weight_bound(4, 1e-4)}")
    check_weight_bound(arch, 1e-4)  # the largest accepted bound passes


def test_threads_inf_is_a_clear_error():
    X, y = _data()
    with pytest.raises(InvalidInputError, match="threads must be a whole number, got inf"):
        BDNNClassifier(threads=float("inf")).fit(X, y)


OWNED = {"cbc": ["direction=max", "sec=1000", "seconds=5", "ratio=0.5", "maximize=", "cutoff=3",
                 "threads=2", "integerTolerance=0.1"],
         "highs": ["time_limit=1000", "mip_rel_gap=0.5", "objective_bound=3", "threads=4"],
         "scip": ["limits/time=1000", "limits/gap=0.5", "numerics/feastol=0.01"]}


@pytest.mark.parametrize(("backend", "option"), [(b, o) for b, opts in OWNED.items() for o in opts])
def test_options_that_change_the_problem_are_refused_before_anything_runs(capsys, backend, option):
    if not bnnmip.get_backend(backend).availability()[0]:
        pytest.skip(f"{backend} not available")
    code = main(["train", "iris", "--hidden", "1", "--train-size", "20", "--backend", backend,
                 "--solver-option", option])
    out = capsys.readouterr()
    assert code == 2 and "is refused: it sets" in out.err and "leave it out" in out.err
    assert "bnnmip train:" not in out.out  # nothing ran
