"""CSV inputs and feature names (issue 18): no silent data points, classes or column swaps."""

import json

import numpy as np
import pytest

from bnnmip import InvalidInputError
from bnnmip.cli import main
from bnnmip.datasets import load_dataset, load_inputs


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_float_labels_are_refused_with_line_and_fix(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0.5\n3,4,1.5\n")
    with pytest.raises(InvalidInputError, match=r"line 2: label '0.5' in column 'y'.*--label"):
        load_dataset(path)


def test_integer_valued_float_labels_are_integers(tmp_path):
    assert load_dataset(write(tmp_path, "1,2,0.0\n3,4,1.0\n")).y.tolist() == [0, 1]


@pytest.mark.parametrize("first", ["0,1,2", "1,2,3"])
def test_numeric_header_of_column_numbers_is_a_header(tmp_path, first):
    ds = load_dataset(write(tmp_path, f"{first}\n0.5,0.25,0\n0.75,0.5,1\n0.1,0.9,1\n"))
    assert ds.X.shape == (3, 2) and sorted(set(ds.y.tolist())) == [0, 1]
    assert ds.feature_names == tuple(first.split(",")[:2]) and ds.named_columns


def test_first_data_row_that_is_not_column_numbers_stays_data(tmp_path):
    ds = load_dataset(write(tmp_path, "0,2,1\n0.5,0.25,0\n"))
    assert ds.X.shape == (2, 2) and not ds.named_columns and ds.known_feature_names is None


def _training_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(24, 3))
    y = (X[:, 0] > X[:, 2]).astype(int)
    rows = [f"{a:.3f},{b:.3f},{c:.3f},{t}" for (a, b, c), t in zip(X, y, strict=True)]
    lines = ["alpha,beta,gamma,label", *rows]
    return write(tmp_path, "\n".join(lines) + "\n", "train.csv"), X, y


def test_predict_checks_feature_names(tmp_path, capsys):
    train, X, y = _training_csv(tmp_path)
    model = tmp_path / "m.json"
    assert main(["train", train, "--hidden", "1", "--test-size", "4", "-o", str(model)]) == 0
    saved = json.loads(model.read_text())
    assert saved["version"] == 2 and saved["feature_names"] == ["alpha", "beta", "gamma"]
    capsys.readouterr()

    def predict(text):
        code = main(["predict", str(model), write(tmp_path, text, "p.csv")])
        return code, capsys.readouterr()

    rows = "\n".join(f"{a:.3f},{b:.3f},{c:.3f},{t}" for (a, b, c), t in zip(X, y, strict=True))
    code, out = predict("alpha,beta,gamma,label\n" + rows + "\n")
    assert code == 0 and "accuracy" in out.err
    swapped = "\n".join(f"{c:.3f},{b:.3f},{a:.3f},{t}" for (a, b, c), t in zip(X, y, strict=True))
    code, out = predict("gamma,beta,alpha,label\n" + swapped + "\n")
    assert code == 2 and "different order" in out.err and "Traceback" not in out.err
    code, out = predict("alpha,beta,delta,label\n" + rows + "\n")
    assert code == 2 and "missing 'gamma'" in out.err and "'delta'" in out.err
    two = "\n".join(f"{a},{b},{t}" for (a, b, _), t in zip(X, y, strict=True))
    code, out = predict("alpha,beta,label\n" + two + "\n")
    assert code == 2 and "feature column" in out.err
    # the label column may stand anywhere when the header names it
    moved = "\n".join(f"{t},{a:.3f},{b:.3f},{c:.3f}" for (a, b, c), t in zip(X, y, strict=True))
    code, out = predict("label,alpha,beta,gamma\n" + moved + "\n")
    assert code == 0 and "accuracy" in out.err
    # unlabelled inputs with the right header, and a headerless file (count check only)
    code, out = predict("alpha,beta,gamma\n" + "\n".join(f"{a},{b},{c}" for a, b, c in X) + "\n")
    assert code == 0 and len(out.out.split()) == 24


def test_load_inputs_checks_bundled_names():
    with pytest.raises(InvalidInputError, match="do not match"):
        load_inputs("iris", n_features=4, feature_names=("a", "b", "c", "d"))
    X, y = load_inputs("iris", n_features=4, feature_names=None)
    assert X.shape == (150, 4)


def test_estimator_saves_dataframe_column_names(tmp_path):
    pd = pytest.importorskip("pandas")  # in the test extra
    from bnnmip.estimator import BDNNClassifier
    from bnnmip.network import BinarizedNetwork

    df = pd.DataFrame({"u": [0.0, 0.0, 1.0, 1.0], "v": [0.0, 1.0, 0.0, 1.0]})
    clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=30).fit(df, [0, 1, 1, 0])
    assert clf.network_.feature_names == ("u", "v")
    back = BinarizedNetwork.load(clf.network_.save(tmp_path / "n.json"))
    assert back.feature_names == ("u", "v")


def test_repeated_header_names_are_not_saved_as_feature_names(tmp_path, capsys):
    text = "a,a,y\n" + "\n".join(f"{i % 3},{i % 5},{i % 2}" for i in range(20)) + "\n"
    model = tmp_path / "m.json"
    assert main(["train", write(tmp_path, text), "--hidden", "1", "--test-size", "4", "-o", str(model)]) == 0
    from bnnmip.network import BinarizedNetwork

    assert BinarizedNetwork.load(model).feature_names is None  # the file loads; names are unusable
