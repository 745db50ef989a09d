"""ONNX export of a :class:`~bnnmip.network.BinarizedNetwork` (opset 17, float64 throughout).

The graph computes what the numpy forward pass computes, with standard operators only:

- input ``input``: ``double[N, n_inputs]``, raw (unscaled) features;
- scaling ``Sub(x, minimum)``, ``Div(., span)`` (the same two IEEE operations as numpy);
- per layer ``MatMul(a, W^T)``, ``Add(., b)``; hidden layers ``Greater(t, 0)`` then
  ``Cast(double)`` (so ``t == 0`` does not fire, numpy's tie rule);
- outputs ``index`` (``int64[N]``): ``ArgMax(axis=1, select_last_index=0)`` of the output
  pre-activations (rule ``preactivation``) or of the binary outputs cast to ``int32`` (rule
  ``binary``): the first largest, as ``np.argmax``; and ``label``: ``Gather`` of the class
  labels (``int64``, ``double`` or ``string`` tensor) at ``index``, when the network has labels.

Opset 17, IR version 8: onnxruntime 1.13 and later load it. Everything is float64 because
numpy computes in float64; the exactness discussion of :mod:`bnnmip.deploy.c` applies (integer
sums over binary activations are exact; a real-valued first layer is a float64 sum whose
rounding depends on the runtime's summation order, so only points within rounding distance of a
threshold could differ).

``onnx`` and ``onnxruntime`` are optional: ``pip install 'bnnmip[onnx]'``.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from ..errors import InvalidInputError
from ..network import BinarizedNetwork, PredictionRule

__all__ = ["OPSET", "OnnxCheck", "check_onnx", "export_onnx", "onnx_predict", "to_onnx"]

OPSET = 17
IR_VERSION = 8


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise InvalidInputError(
            f"ONNX export needs the optional package {module!r}, which is not installed; "
            "install it with: pip install 'bnnmip[onnx]'"
        ) from None


def _label_tensor(classes: tuple, numpy_helper):
    if not classes:
        return None
    arr = np.asarray(classes)
    if arr.dtype.kind in "iub":
        return numpy_helper.from_array(arr.astype(np.int64), "class_labels")
    if arr.dtype.kind == "f":
        return numpy_helper.from_array(arr.astype(np.float64), "class_labels")
    return numpy_helper.from_array(np.array([str(c) for c in classes], dtype=object), "class_labels")


def to_onnx(network: BinarizedNetwork, *, rule: PredictionRule | str | None = None, name: str = "bnnmip"):
    """The network as an ``onnx.ModelProto`` (opset :data:`OPSET`).

    Raises
    ------
    InvalidInputError
        ``onnx`` is not installed (``pip install 'bnnmip[onnx]'``).
    """
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper  # lazy: optional dependency (the onnx extra)

    rule = network.prediction_rule if rule is None else PredictionRule(rule)
    n_in = network.widths[0]
    init, nodes = [], []
    x = "input"
    if network.scaling is not None:
        init += [numpy_helper.from_array(np.asarray(network.scaling.minimum, dtype=np.float64), "scale_min"),
                 numpy_helper.from_array(np.asarray(network.scaling.span, dtype=np.float64), "scale_span")]
        nodes += [helper.make_node("Sub", [x, "scale_min"], ["x_shift"], name="scale_sub"),
                  helper.make_node("Div", ["x_shift", "scale_span"], ["x_scaled"], name="scale_div")]
        x = "x_scaled"
    last = len(network.weights)
    if last > 1 or rule is PredictionRule.BINARY:  # the step's threshold, if any step is taken
        init.append(numpy_helper.from_array(np.array(0.0), "zero"))
    for l, (W, b) in enumerate(zip(network.weights, network.biases, strict=True), start=1):
        init += [numpy_helper.from_array(np.ascontiguousarray(np.asarray(W, dtype=np.float64).T), f"W{l}"),
                 numpy_helper.from_array(np.asarray(b, dtype=np.float64), f"b{l}")]
        nodes += [helper.make_node("MatMul", [x, f"W{l}"], [f"s{l}"], name=f"matmul{l}"),
                  helper.make_node("Add", [f"s{l}", f"b{l}"], [f"t{l}"], name=f"add{l}")]
        if l < last:
            nodes += [helper.make_node("Greater", [f"t{l}", "zero"], [f"fire{l}"], name=f"step{l}"),
                      helper.make_node("Cast", [f"fire{l}"], [f"a{l}"], to=TensorProto.DOUBLE,
                                       name=f"cast{l}")]
            x = f"a{l}"
    t_out = f"t{last}"
    if rule is PredictionRule.PREACTIVATION:
        scores = t_out
    else:
        nodes += [helper.make_node("Greater", [t_out, "zero"], ["fire_out"], name="step_out"),
                  helper.make_node("Cast", ["fire_out"], ["a_out"], to=TensorProto.INT32, name="cast_out")]
        scores = "a_out"
    nodes.append(helper.make_node("ArgMax", [scores], ["index"], axis=1, keepdims=0, select_last_index=0,
                                  name="argmax"))
    outputs = [helper.make_tensor_value_info("index", TensorProto.INT64, ["N"])]
    labels = _label_tensor(network.classes, numpy_helper)
    if labels is not None:
        init.append(labels)
        nodes.append(helper.make_node("Gather", ["class_labels", "index"], ["label"], axis=0, name="label"))
        outputs.append(helper.make_tensor_value_info("label", labels.data_type, ["N"]))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.DOUBLE, ["N", n_in])], outputs, init
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="bnnmip", ir_version=IR_VERSION)
    model.doc_string = (f"bnnmip binarized network {' -> '.join(map(str, network.widths))}, "
                        f"{network.weight_domain} weights, prediction rule {rule.value}; input: raw features "
                        "(double); outputs: class index (int64) and label")
    onnx.checker.check_model(model)
    return model


def export_onnx(network: BinarizedNetwork, path, *, rule: PredictionRule | str | None = None) -> Path:
    """Write the ONNX model to ``path``."""
    onnx = _require("onnx")
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a directory; give a file name such as model.onnx")
    onnx.save(to_onnx(network, rule=rule), str(path))
    return path


def onnx_predict(model, X) -> np.ndarray:
    """Class indices onnxruntime computes for ``X`` (``model``: path, bytes or ``ModelProto``)."""
    ort = _require("onnxruntime")
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif isinstance(model, Path):
        model = str(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return sess.run(["index"], {"input": np.ascontiguousarray(X, dtype=np.float64)})[0]


@attrs.frozen
class OnnxCheck:
    """Outcome of :func:`check_onnx`."""

    points: int
    agree: int
    mismatches: tuple[int, ...]
    runtime: str

    @property
    def ok(self) -> bool:
        """Whether every point agrees."""
        return self.agree == self.points

    def describe(self) -> str:
        """One line for the CLI."""
        head = (f"ONNX model (onnxruntime {self.runtime}) agrees with numpy on "
                f"{self.agree}/{self.points} points")
        if self.ok:
            return head
        return f"{head}; DISAGREES on rows {', '.join(map(str, self.mismatches[:10]))}"


def check_onnx(network: BinarizedNetwork, X, *, model=None,
               rule: PredictionRule | str | None = None) -> OnnxCheck:
    """Run the ONNX export (``model``, default: a fresh export) in onnxruntime; compare with numpy."""
    ort = _require("onnxruntime")
    X = np.asarray(X, dtype=float)
    expected = network.predict_index(X, rule=rule)
    got = onnx_predict(model if model is not None else to_onnx(network, rule=rule), X)
    bad = np.flatnonzero(got != expected)
    return OnnxCheck(int(X.shape[0]), int(X.shape[0] - len(bad)), tuple(int(i) for i in bad), ort.__version__)
