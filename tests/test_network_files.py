"""Network files: every malformed file is a ModelFormatError naming the problem (issue 18)."""

import json
import os

import numpy as np
import pytest

from bnnmip import BinarizedNetwork, InputScaling, ModelFormatError, WeightDomain
from bnnmip.network_schema import MAX_DEPTH


def _net(**kw):
    W1 = np.array([[1.0, -1.0], [0.5, 0.5]])
    b1 = np.array([0.0, -0.6])
    W2 = np.array([[1.0, 1.0], [-1.0, 0.0]])
    b2 = np.array([-1.5, 0.5])
    return BinarizedNetwork.from_arrays([W1, W2], [b1, b2], **kw)


def _good():
    return _net(scaling=InputScaling.fit(np.array([[0.0, 1.0], [2.0, 5.0]])), classes=("a", "b")).to_dict()


def _load(tmp_path, data, name="net.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return BinarizedNetwork.load(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        BinarizedNetwork.load(tmp_path / "nope.json")
    with pytest.raises(ModelFormatError, match="is a directory"):
        BinarizedNetwork.load(tmp_path)


def test_binary_and_bad_json(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(ModelFormatError, match="not a UTF-8 text file"):
        BinarizedNetwork.load(path)
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        _load(tmp_path, "{not json")


def test_deep_nesting(tmp_path):
    d = _good()
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ModelFormatError, match="too deeply"):
        _load(tmp_path, '{"format": "bnnmip-network", "metadata": ' + deep + "}")
    nested = 0
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    d["metadata"] = {"x": nested}
    with pytest.raises(ModelFormatError, match="levels deep"):
        _load(tmp_path, d)


def test_size_cap_refuses_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_good()) + " " * 2000)
    with pytest.raises(ModelFormatError, match="limit for network files"):
        BinarizedNetwork.load(path, max_bytes=1000)
    assert BinarizedNetwork.load(path).widths == (2, 2, 2)  # the default cap is far larger


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_device_is_read_only_up_to_the_cap():
    with pytest.raises(ModelFormatError, match="more than 1,000 bytes"):
        BinarizedNetwork.load("/dev/zero", max_bytes=1000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prediction_rule": "vote"}, "prediction_rule must be"),
        ({"metadata": [1, 2]}, "metadata must be an object"),
        ({"metadata": "x"}, "metadata must be an object"),
        ({"input_scaling": {"minimum": [0.0, 1.0, 2.0], "span": [1.0, 1.0, 1.0]}},
         r"input_scaling.minimum has 3 entries but must have 2"),
        ({"input_scaling": {"minimum": [0.0, 1.0], "span": [2.0]}}, r"input_scaling.span has 1 entries"),
        ({"input_scaling": {"minimum": [0.0, 1.0], "span": [2.0, 0.0]}}, r"span\[1\] = 0.0"),
        ({"input_scaling": {"minimum": [0.0, 1.0], "span": [-2.0, 1.0]}}, r"span\[0\] = -2.0"),
        ({"input_scaling": {"minimum": 0.0, "span": [1.0, 1.0]}}, "must be a list of numbers"),
        ({"classes": ["a", "a"]}, r"classes\[1\] = 'a' repeats classes\[0\]"),
        ({"classes": [1, 1.0]}, "repeats"),
        ({"classes": [[1], [2]]}, "must be a string or a number"),
        ({"classes": [{"x": 1}, 2]}, "must be a string or a number"),
        ({"classes": [1, "b"]}, "mixes"),
        ({"classes": ["a", "b", "c"]}, "3 labels for 2 output neurons"),
        ({"weight_domain": "ternary"}, r"layers\[0\].weights\[1\]\[0\] = 0.5 lies outside"),
        ({"weight_domain": 3}, "weight_domain must be a string"),
        ({"weight_domain": "integer:x"}, "unknown weight domain"),
        ({"widths": [2, 3, 2]}, "do not match the layers"),
        ({"version": True}, "not supported"),
        ({"version": 3}, "version 3 is not supported"),
        ({"input_scalling": None}, "unknown key"),
        ({"feature_names": ["a", "b"]}, "needs network file version 2"),
        ({"version": 2, "feature_names": ["a", "a"]}, "repeats 'a'"),
        ({"version": 2, "feature_names": ["a"]}, "list of 2 non-empty strings"),
    ],
)
def test_schema_violations(tmp_path, change, message):
    d = {**_good(), **change}
    with pytest.raises(ModelFormatError, match=message):
        _load(tmp_path, d)


@pytest.mark.parametrize("value", ["1.0", True, None, [1.0], 1e400, 10**400])
def test_non_numeric_weights(tmp_path, value):
    d = _good()
    d["layers"][0]["weights"][0][1] = value
    with pytest.raises(ModelFormatError, match=r"layers\[0\].weights\[0\]\[1\]"):
        _load(tmp_path, json.dumps(d).replace("Infinity", "1e400"))


def test_integer_domain_checked(tmp_path):
    d = _good()
    d["weight_domain"] = "integer:2"
    for layer in d["layers"]:
        layer["weights"] = [[round(2 * w) for w in row] for row in layer["weights"]]
    assert _load(tmp_path, d).weight_domain == WeightDomain.integer(2)
    d["layers"][1]["weights"][0][0] = 3
    with pytest.raises(ModelFormatError, match="outside the declared weight_domain integer:2"):
        _load(tmp_path, d)
    d["layers"][1]["weights"][0][0] = 1.5
    with pytest.raises(ModelFormatError, match="outside"):
        _load(tmp_path, d)


def test_version_1_files_still_load_and_feature_names_round_trip(tmp_path):
    old = _good()
    assert old["version"] == 1 and "feature_names" not in old
    assert _load(tmp_path, old).feature_names is None
    net = _net(feature_names=("height", "width"))
    path = net.save(tmp_path / "named.json")
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["feature_names"] == ["height", "width"]
    assert BinarizedNetwork.load(path).feature_names == ("height", "width")


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    net = _net()
    path = net.save(tmp_path / "n.json")
    before = path.read_text()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        _net(classes=("x", "y")).save(path)
    assert path.read_text() == before  # the old network is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.json"]
