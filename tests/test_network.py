import json

import numpy as np
import pytest

from bnnmip import BinarizedNetwork, InputScaling, InvalidInputError, ModelFormatError, WeightDomain


def _net(**kw):
    W1 = np.array([[1.0, -1.0], [0.5, 0.5]])
    b1 = np.array([0.0, -0.6])
    W2 = np.array([[1.0, 1.0], [-1.0, 0.0], [0.0, -0.25]])
    b2 = np.array([-1.5, 0.5, 0.1])
    return BinarizedNetwork.from_arrays([W1, W2], [b1, b2], **kw)


def test_forward_by_hand():
    net = _net()
    fw = net.forward(np.array([[1.0, 0.0], [1.0, 1.0]]))
    # point 1: t1 = [1, -0.1] -> a1 = [1, 0]; t2 = [-0.5, -0.5, 0.1] -> a2 = [0, 0, 1]
    np.testing.assert_allclose(fw.pre[0], [[1, -0.1], [0, 0.4]])
    np.testing.assert_array_equal(fw.act[0], [[1, 0], [0, 1]])  # step(0) = 0
    np.testing.assert_allclose(fw.pre[1], [[-0.5, -0.5, 0.1], [-0.5, 0.5, -0.15]])
    np.testing.assert_array_equal(fw.act[1], [[0, 0, 1], [0, 1, 0]])


def test_prediction_rules_differ_only_when_outputs_are_ambiguous():
    net = BinarizedNetwork.from_arrays([np.array([[1.0], [2.0], [0.5]])], [np.array([-5.0, -3.0, -4.0])])
    X = np.array([[1.0], [4.0]])
    # point 0: t = [-4, -1, -3.5]: nothing fires; binary rule -> class 0, pre-activation -> 1
    # point 1: t = [-1, 5, -2]: only class 1 fires; both rules agree
    np.testing.assert_array_equal(net.predict_index(X, rule="binary"), [0, 1])
    np.testing.assert_array_equal(net.predict_index(X, rule="preactivation"), [1, 1])
    np.testing.assert_array_equal(net.predict_index(X), [1, 1])  # default rule


def test_scaling_is_applied_and_classes_are_mapped():
    scaling = InputScaling.fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    np.testing.assert_allclose(scaling.transform([[1.0, 20.0]]), [[0.5, 0.5]])
    net = _net(scaling=scaling, classes=("a", "b", "c"))
    raw = np.array([[2.0, 10.0], [2.0, 30.0]])
    np.testing.assert_array_equal(net.predict(raw), net.predict(scaling.transform(raw), scaled=True))
    assert set(net.predict(raw)) <= {"a", "b", "c"}
    assert InputScaling.fit(np.array([[1.0], [1.0]])).span[0] == 1.0  # constant feature


def test_hamming_loss():
    net = _net()
    X = np.array([[1.0, 0.0], [1.0, 1.0]])
    assert net.hamming_loss(X, [2, 1]) == 0
    assert net.hamming_loss(X, [0, 1]) == 2
    assert net.hamming_loss(X, [0, 0], weights=np.array([1.0, 3.0])) == 2 + 3 * 2


def test_save_load_round_trip(tmp_path):
    net = _net(scaling=InputScaling.fit(np.random.default_rng(0).normal(size=(5, 2))),
               classes=(3, 7, 9), weight_domain=WeightDomain.continuous(), prediction_rule="binary",
               metadata={"status": "optimal"})
    path = net.save(tmp_path / "net.json")
    data = json.loads(path.read_text())
    assert data["format"] == "bnnmip-network" and data["version"] == 1
    back = BinarizedNetwork.load(path)
    for a, b in zip(back.weights + back.biases, net.weights + net.biases, strict=True):
        np.testing.assert_array_equal(a, b)  # exact float round trip
    np.testing.assert_array_equal(back.scaling.minimum, net.scaling.minimum)
    assert back.classes == (3, 7, 9) and back.weight_domain == net.weight_domain
    assert back.prediction_rule.value == "binary" and back.metadata == {"status": "optimal"}
    X = np.random.default_rng(1).normal(size=(20, 2))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_load_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        BinarizedNetwork.load(bad)
    d = _net().to_dict()
    bad.write_text(json.dumps({**d, "version": 99}))
    with pytest.raises(ModelFormatError, match="version 99"):
        BinarizedNetwork.load(bad)
    bad.write_text(json.dumps({**d, "format": "other"}))
    with pytest.raises(ModelFormatError, match="not a bnnmip network"):
        BinarizedNetwork.load(bad)
    d["layers"][1]["bias"] = [0.0]
    bad.write_text(json.dumps(d))
    with pytest.raises(ModelFormatError, match="malformed"):
        BinarizedNetwork.load(bad)


def test_input_validation():
    net = _net()
    with pytest.raises(InvalidInputError, match=r"shape \(n_points, 2\)"):
        net.forward(np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        net.forward(np.array([[np.nan, 0.0]]))
    with pytest.raises(InvalidInputError, match="layer 2 expects"):
        BinarizedNetwork.from_arrays([np.zeros((2, 2)), np.zeros((1, 3))], [np.zeros(2), np.zeros(1)])
