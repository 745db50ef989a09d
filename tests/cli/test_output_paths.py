"""Output paths checked before any work (issue 18): nothing trained for nothing, no input overwritten."""

import tracemalloc

import numpy as np
import pytest

from bnnmip.cli import main
from bnnmip.robustness import noise_accuracy

FAST = ["--hidden", "1", "--train-size", "20", "--time-limit", "30"]


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_output_in_a_missing_folder_fails_before_training(capsys, tmp_path, monkeypatch):
    import bnnmip.estimator

    def no_fit(*a, **k):
        raise AssertionError("trained although the output path is bad")

    monkeypatch.setattr(bnnmip.estimator.BDNNClassifier, "fit", no_fit)
    code, out, err = run(capsys, "train", "iris", *FAST, "-o", str(tmp_path / "no" / "such" / "m.json"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, out, err = run(capsys, "train", "iris", *FAST, "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err
    code, out, err = run(capsys, "train", "iris", *FAST, "--log-file", str(tmp_path / "nope" / "log.txt"))
    assert code == 2 and "--log-file" in err and "does not exist" in err


def test_train_refuses_to_overwrite_its_data(capsys, tmp_path):
    data = tmp_path / "data.csv"
    text = "a,b,y\n" + "\n".join(f"{i % 3},{i % 5},{i % 2}" for i in range(20)) + "\n"
    data.write_text(text)
    code, _, err = run(capsys, "train", str(data), *FAST, "-o", str(data))
    assert code == 2 and "would overwrite it" in err and data.read_text() == text
    code, _, err = run(capsys, "train", str(data), *FAST, "--log-file", str(data))
    assert code == 2 and data.read_text() == text


def test_predict_refuses_to_overwrite_the_model_or_the_data(capsys, tmp_path):
    model = tmp_path / "m.json"
    assert main(["train", "iris", *FAST, "-o", str(model)]) == 0
    saved = model.read_text()
    capsys.readouterr()
    code, _, err = run(capsys, "predict", str(model), "iris", "-o", str(model))
    assert code == 2 and "the model file" in err and model.read_text() == saved
    csv = tmp_path / "x.csv"
    np.savetxt(csv, np.random.default_rng(0).uniform(size=(3, 4)), delimiter=",")
    before = csv.read_text()
    code, _, err = run(capsys, "predict", str(model), str(csv), "-o", str(csv))
    assert code == 2 and "the input data" in err and csv.read_text() == before
    code, out, _ = run(capsys, "predict", str(model), str(csv), "-o", str(tmp_path / "p.txt"))
    assert code == 0 and len((tmp_path / "p.txt").read_text().split()) == 3


def test_evaluate_negative_seed_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(tmp_path / "m.json"), "iris", "--seed", "-5"])
    assert exc.value.code == 2 and "an integer >= 0" in capsys.readouterr().err


def test_noise_accuracy_memory_does_not_grow_with_the_draws():
    from bnnmip import BinarizedNetwork

    net = BinarizedNetwork.from_arrays([np.ones((2, 8)), np.eye(2)], [np.zeros(2), np.zeros(2)])
    X = np.random.default_rng(0).uniform(size=(500, 8))
    y = np.zeros(500, dtype=int)

    def peak(draws):
        tracemalloc.start()
        noise_accuracy(net, X, y, [0.0, 0.1], n_draws=draws, scaled=True)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    # one draw is 32 kB here: keeping 400 of them would take 12.8 MB
    assert peak(400) < 4 * peak(4) + 200_000
    with pytest.raises(Exception, match="seed must be an integer >= 0"):
        noise_accuracy(net, X, y, [0.0], seed=-5, scaled=True)


def test_estimator_log_file_in_a_missing_folder_is_refused_before_the_solve(tmp_path):
    from bnnmip import InvalidInputError
    from bnnmip.estimator import BDNNClassifier

    X, y = np.eye(4), [0, 1, 0, 1]
    with pytest.raises(InvalidInputError, match="log_file .* does not exist"):
        BDNNClassifier(log_file=tmp_path / "no" / "log.txt").fit(X, y)
    clf = BDNNClassifier(hidden_layer_sizes=(1,), time_limit=30, log_file=tmp_path / "log.txt",
                         strategy_params={"start": "none"}).fit(X, y)  # the solver runs and logs
    assert clf.status_ == "optimal" and (tmp_path / "log.txt").stat().st_size > 0


def test_train_api_checks_the_log_file_before_the_solve(tmp_path):
    import bnnmip
    from bnnmip import InvalidInputError
    from bnnmip.testing import xor

    inst = xor()
    options = bnnmip.SolveOptions(log_file=tmp_path / "missing" / "solver.log")
    with pytest.raises(InvalidInputError, match="log_file .* does not exist"):
        bnnmip.train(inst.architecture, inst.data, options=options)
