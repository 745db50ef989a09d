"""Deploying networks: the C99 and ONNX exports agree with the numpy forward pass on every point,
threshold points (pre-activation exactly 0) and output ties included; the footprint report; the
export-model and inspect commands."""

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bnnmip.cli import main
from bnnmip.deploy import c as cexport
from bnnmip.deploy.c import CompilerNotFoundError, check_c, export_c, find_compiler, generate_c
from bnnmip.deploy.footprint import bits_per_weight, footprint, format_footprint
from bnnmip.errors import InvalidInputError
from bnnmip.ir import WeightDomain
from bnnmip.network import BinarizedNetwork, InputScaling

needs_cc = pytest.mark.skipif(find_compiler() is None, reason="no C compiler (cc, gcc, clang) on the PATH")
needs_ort = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx/onnxruntime not installed (pip install 'bnnmip[onnx]')",
)

DOMAINS = {"ternary": WeightDomain.ternary(), "integer:3": WeightDomain.integer(3),
           "continuous": WeightDomain.continuous()}


def _random_net(kind, widths, rule, seed=0, classes=None):
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        if kind == "continuous":
            Ws.append(rng.uniform(-1, 1, (b, a)))
            bs.append(rng.uniform(-1, 1, b))
        else:
            P = DOMAINS[kind].bound
            Ws.append(rng.integers(-P, P + 1, (b, a)).astype(float))
            bs.append(rng.uniform(-2, 2, b))
    X = rng.normal(size=(300, widths[0])) * 4 + 1
    return BinarizedNetwork.from_arrays(
        Ws, bs, weight_domain=DOMAINS[kind], scaling=InputScaling.fit(X), prediction_rule=rule,
        classes=tuple(classes or range(widths[-1])),
    ), X


THRESHOLD_SEEDS = {"ternary": 28, "integer:3": 1, "continuous": 23}  # seeds whose nets meet the asserts below


def _threshold_net(kind, rule):
    """Dyadic inputs and weights: every sum is exact, many pre-activations are exactly 0,
    hidden layers have integer biases (S + b == 0 happens), the output has duplicate rows
    (exact ties between outputs)."""
    rng = np.random.default_rng(THRESHOLD_SEEDS[kind])
    grid = np.array(np.meshgrid(*[[0.0, 0.5, 1.0]] * 4)).reshape(4, -1).T  # 81 points
    if kind == "continuous":
        W1 = rng.integers(-4, 5, (6, 4)) / 4.0
        W2 = rng.integers(-4, 5, (5, 6)) / 4.0
        W3 = rng.integers(-4, 5, (3, 5)) / 4.0
    else:
        P = DOMAINS[kind].bound
        W1, W2, W3 = (rng.integers(-P, P + 1, s).astype(float) for s in ((6, 4), (5, 6), (3, 5)))
    W3[1] = W3[0]  # outputs 0 and 1 always tie
    b1 = rng.choice([-1.0, -0.5, 0.0, 0.5], 6)
    b2 = rng.integers(-2, 3, 5).astype(float)
    b3 = np.array([0.0, 0.0, -1.0])
    net = BinarizedNetwork.from_arrays([W1, W2, W3], [b1, b2, b3], weight_domain=DOMAINS[kind],
                                       prediction_rule=rule, classes=("a", "b", "c"))
    return net, grid


def _on_threshold(net, X):
    fw = net.forward(X)
    return [int(np.sum(np.any(t == 0, axis=1))) for t in fw.pre]


# ---------------------------------------------------------------------------------------------
# C
# ---------------------------------------------------------------------------------------------


@needs_cc
@pytest.mark.parametrize("kind", list(DOMAINS))
@pytest.mark.parametrize("rule", ["preactivation", "binary"])
@pytest.mark.parametrize("widths", [(5, 3), (10, 16, 40, 3), (7, 70, 4), (9, 130, 65, 3)])
def test_c_agrees_on_random_networks(tmp_path, kind, rule, widths):
    net, X = _random_net(kind, widths, rule, seed=len(widths))
    report = check_c(net, X, directory=tmp_path)
    assert report.points == len(X)
    assert report.ok, report.describe()
    # the generated code compiles cleanly with every warning on
    cexport.compile_harness(tmp_path, extra_flags=("-Wall", "-Wextra", "-pedantic", "-Werror"))


@needs_cc
@pytest.mark.parametrize("kind", list(DOMAINS))
@pytest.mark.parametrize("rule", ["preactivation", "binary"])
def test_c_agrees_on_threshold_points_and_ties(tmp_path, kind, rule):
    net, X = _threshold_net(kind, rule)
    zeros = _on_threshold(net, X)
    assert zeros[0] > 0 and zeros[1] > 0  # points at pre-activation exactly 0 in layers 1 and 2
    t = net.forward(X).pre[-1]
    assert np.any((t[:, 0] == t[:, 1]) & (t[:, 0] >= t[:, 2]))  # preactivation ties on the max
    a = net.forward(X).act[-1]
    assert np.any(a.sum(axis=1) == 0) and np.any(a.sum(axis=1) >= 2)  # binary rule: none / several fire
    report = check_c(net, X, directory=tmp_path)
    assert report.ok, report.describe()
    # the tie rule matters: firing at t == 0 would change some predictions
    flipped = BinarizedNetwork.from_arrays(net.weights, [b + 1e-9 for b in net.biases],
                                           weight_domain=net.weight_domain, prediction_rule=rule)
    assert np.any(flipped.predict_index(X) != net.predict_index(X))
    assert len(set(net.predict_index(X).tolist())) > 1


@needs_cc
def test_c_harness_prints_labels_order_and_reads_any_separator(tmp_path):
    net, X = _random_net("ternary", (4, 8, 3), "preactivation", classes=["x", "y", "z"])
    export_c(net, tmp_path, "net")
    exe = cexport.compile_harness(tmp_path, "net")
    data = tmp_path / "in.txt"
    data.write_text("\n".join("\t ".join(repr(float(v)) for v in row) + " ;" for row in X[:20]) + "\n")
    out = subprocess.run([str(exe), str(data)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == net.predict_index(X[:20]).tolist()
    assert '"x", "y", "z"' in (tmp_path / "net.c").read_text()
    bench = subprocess.run([str(exe), str(data), "3"], capture_output=True, text=True, check=True)
    assert int(bench.stdout) == 3 * int(net.predict_index(X[:20]).sum())
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n")
    proc = subprocess.run([str(exe), str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a multiple of 4" in proc.stderr


@needs_cc
@pytest.mark.parametrize("span, folded", [(1.0, True), (4.0, True), (3.0, False)])
def test_c_scaling_folded_only_where_exact(tmp_path, span, folded):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 9, (200, 6)) / 2.0
    scaling = InputScaling(np.zeros(6), np.full(6, span))
    W1 = rng.integers(-1, 2, (5, 6)).astype(float)
    b1 = rng.choice([-1.0, -0.5, 0.0, 0.25], 5)
    W2 = rng.integers(-1, 2, (3, 5)).astype(float)
    net = BinarizedNetwork.from_arrays([W1, W2], [b1, np.zeros(3)], weight_domain=WeightDomain.ternary(),
                                       scaling=scaling)
    src = generate_c(net, "m")["m.c"]
    assert ("M_MIN" not in src) == folded
    assert _on_threshold(net, X)[0] > 0
    assert check_c(net, X, directory=tmp_path).ok


@needs_cc
def test_c_integer_weights_in_a_continuous_network_and_large_widths(tmp_path):
    rng = np.random.default_rng(5)
    W1 = rng.uniform(-1, 1, (150, 3))
    W2 = rng.integers(-1, 2, (2, 150)).astype(float)  # integral: computed with popcounts
    net = BinarizedNetwork.from_arrays([W1, W2], [rng.uniform(-0.5, 0.5, 150), np.array([0.5, -0.5])])
    plan = cexport.layer_plan(net)
    assert [p.integer for p in plan] == [False, True] and plan[1].words == 3
    X = rng.normal(size=(300, 3))
    assert check_c(net, X, directory=tmp_path).ok


def test_c_rejects_bad_names_and_missing_compiler(tmp_path, monkeypatch):
    net, X = _random_net("ternary", (3, 2), "preactivation")
    with pytest.raises(InvalidInputError, match="not a C identifier"):
        generate_c(net, "9lives")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CompilerNotFoundError, match="no C compiler found"):
        check_c(net, X, directory=tmp_path)


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------


@needs_ort
@pytest.mark.parametrize("kind", list(DOMAINS))
@pytest.mark.parametrize("rule", ["preactivation", "binary"])
def test_onnx_agrees_on_random_and_threshold_points(kind, rule):
    from bnnmip.deploy.onnx import check_onnx

    for net, X in (_random_net(kind, (7, 70, 4), rule), _random_net(kind, (5, 3), rule),
                   _threshold_net(kind, rule)):
        report = check_onnx(net, X)
        assert report.ok, report.describe()


@needs_ort
@pytest.mark.parametrize("classes", [("a", "b", "c"), (10, 20, 30), ()])
def test_onnx_label_output_and_opset(tmp_path, classes):
    import onnx
    import onnxruntime as ort

    from bnnmip.deploy.onnx import OPSET, export_onnx

    net, X = _random_net("integer:3", (4, 6, 3), "preactivation", classes=list(classes) or None)
    if not classes:
        net = BinarizedNetwork.from_arrays(net.weights, net.biases, weight_domain=net.weight_domain,
                                           scaling=net.scaling)
    path = export_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(path))
    assert model.opset_import[0].version == OPSET
    outs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": X})
    assert outs[0].tolist() == net.predict_index(X).tolist()
    if classes:
        assert [str(v) for v in outs[1]] == [str(v) for v in net.predict(X)]
    else:
        assert len(outs) == 1


def test_onnx_missing_dependency_says_how_to_install(monkeypatch):
    from bnnmip.deploy.onnx import to_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)
    net, _ = _random_net("ternary", (3, 2), "preactivation")
    with pytest.raises(InvalidInputError, match=r"pip install 'bnnmip\[onnx\]'"):
        to_onnx(net)


# ---------------------------------------------------------------------------------------------
# footprint
# ---------------------------------------------------------------------------------------------


def test_bits_per_weight():
    assert bits_per_weight(WeightDomain.ternary()) == 2
    assert bits_per_weight(WeightDomain.integer(3)) == 3  # 7 values
    assert bits_per_weight(WeightDomain.integer(4)) == 4  # 9 values
    assert bits_per_weight(WeightDomain.continuous()) == 32


def test_footprint_counts():
    W1 = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    W2 = np.array([[1.0, -1.0], [0.0, 1.0]])
    net = BinarizedNetwork.from_arrays([W1, W2], [np.zeros(2), np.zeros(2)],
                                       weight_domain=WeightDomain.ternary())
    fp = footprint(net)
    assert (fp.weights, fp.biases, fp.parameters, fp.nonzero_weights) == (10, 4, 14, 6)
    assert fp.packed_model_bytes == 3 + 16  # 20 bits -> 3 bytes, 4 biases x 4 bytes
    assert fp.float_model_bytes == 56 and fp.float_activation_bytes == 8
    assert fp.activation_bytes == 8 and fp.activation_bits == 2
    # generated tables: layer 1 POS+NEG by input (2 x 3 uint8_t: 2 neurons fit in a byte) + 2 double
    # biases; layer 2 POS+NEG by neuron (2 x 2 uint64_t words) + 2 double output biases
    assert fp.c_table_bytes == 1 * 6 + 16 + 8 * 4 + 16
    text = format_footprint(fp)
    assert "19 B" in text and "56 B" in text and "2 bits each" in text and "(2.9x smaller)" in text


def test_continuous_weights_are_not_called_smaller():
    net = BinarizedNetwork.from_arrays([np.array([[0.5, -0.25]]), np.array([[1.0], [-1.0]])],
                                       [np.zeros(1), np.zeros(2)])
    text = format_footprint(footprint(net))
    assert "x smaller" not in text and "x larger" not in text
    assert "(the same size)" in text


def test_a_network_without_biases_stores_none():
    W1 = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    W2 = np.array([[1.0, -1.0], [0.0, 1.0]])
    net = BinarizedNetwork.from_arrays([W1, W2], [np.zeros(2), np.zeros(2)],
                                       weight_domain=WeightDomain.ternary(), metadata={"bias": False})
    fp = footprint(net)
    assert (fp.weights, fp.biases, fp.parameters) == (10, 0, 10)
    assert fp.packed_model_bytes == 3  # the weights alone
    assert "0 biases" in format_footprint(fp)


# ---------------------------------------------------------------------------------------------
# CLI end to end
# ---------------------------------------------------------------------------------------------


def _write_csv(path, X, y=None):
    rows = X if y is None else np.column_stack([X, y])
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n")
    return path


@needs_cc
@needs_ort
def test_cli_export_model_and_inspect(tmp_path, capsys):
    net, X = _random_net("ternary", (5, 12, 3), "preactivation", classes=[0, 1, 2])
    model = net.save(tmp_path / "my-net.json")
    data = _write_csv(tmp_path / "data.csv", X)
    assert main(["export-model", str(model), "--to", "c", "-o", str(tmp_path / "c"),
                 "--check", str(data)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "my_net.h" in out and f"agrees with numpy on {len(X)}/{len(X)} points" in out
    assert (tmp_path / "c" / "my_net_harness.c").is_file()
    assert main(["export-model", str(model), "--to", "onnx", "-o", str(tmp_path / "m.onnx"),
                 "--check", str(data)]) == 0
    assert "onnxruntime" in capsys.readouterr().out and (tmp_path / "m.onnx").is_file()
    assert main(["inspect", str(model), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bits_per_weight"] == 2 and report["parameters"] == 5 * 12 + 12 * 3 + 15
    assert main(["inspect", str(model)]) == 0
    assert "packed model" in capsys.readouterr().out
    wrong = _write_csv(tmp_path / "wrong.csv", X[:, :3])
    assert main(["export-model", str(model), "--to", "c", "-o", str(tmp_path / "c2"),
                 "--check", str(wrong)]) == 2
    assert "feature column" in capsys.readouterr().err


@needs_cc
def test_cli_train_prints_footprint_and_trained_net_exports_exactly(tmp_path, capsys):
    model = tmp_path / "iris.json"
    assert main(["train", "iris", "--hidden", "3", "--weights", "ternary", "--train-size", "30",
                 "--seed", "1", "-o", str(model)]) == 0
    out = capsys.readouterr().out
    assert "packed model" in out and "vs float32 MLP 4 -> 3 -> 3" in out
    assert main(["export-model", str(model), "--to", "c", "-o", str(tmp_path / "c"), "--check", "iris"]) == 0
    assert "agrees with numpy on 150/150 points" in capsys.readouterr().out
    assert main(["train", "iris", "--hidden", "3", "--weights", "ternary", "--train-size", "30",
                 "--seed", "1", "--json"]) == 0
    fp = json.loads(capsys.readouterr().out)["footprint"]
    assert fp["widths"] == [4, 3, 3] and fp["bits_per_weight"] == 2
    assert fp["float_model_bytes"] == 4 * (4 * 3 + 3 + 3 * 3 + 3)


@needs_cc
def test_c_portable_fallbacks_agree(tmp_path):
    """The C99 popcount and count-trailing-zeros used without GCC/Clang builtins."""
    net, X = _random_net("integer:3", (70, 66, 3), "preactivation", seed=11)
    export_c(net, tmp_path, "net")
    exe = cexport.compile_harness(tmp_path, "net",
                                  extra_flags=("-DNET_PORTABLE", "-Wall", "-Wextra", "-pedantic", "-Werror"))
    assert cexport.run_harness(exe, X).tolist() == net.predict_index(X).tolist()


def test_near_threshold_points_flags_rounding_ties_only():
    W1 = np.array([[1.0, -1.0], [0.5, 0.5]])
    W2 = np.array([[1.0, 0.0], [0.0, 1.0]])
    net = BinarizedNetwork.from_arrays([W1, W2], [np.array([0.0, -10.0]), np.array([-0.5, -0.5])])
    X = np.array([[0.3, 0.3], [0.1 + 0.2, 0.3], [1.0, 0.0], [0.0, 1.0]])
    assert cexport.near_threshold_points(net, X).tolist() == [True, True, False, False]
