"""Property-based fuzzing (issue 18): any input ends in a result or a BnnmipError, never another exception.

Bounded and derandomized (the ``bnnmip-ci`` profile: fixed examples, no deadline), so CI is
stable and fast. Set ``HYPOTHESIS_PROFILE=bnnmip-long`` for a longer, random exploration.
"""

import json
import os
import string
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bnnmip import BinarizedNetwork, InputScaling  # noqa: E402
from bnnmip.cli import main  # noqa: E402
from bnnmip.datasets import load_dataset, load_inputs  # noqa: E402
from bnnmip.errors import BnnmipError  # noqa: E402

settings.register_profile(
    "bnnmip-ci", max_examples=40, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "bnnmip-long", max_examples=1000, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "bnnmip-ci")


def _ok(call):
    """Run ``call``; a BnnmipError is an acceptable end, anything else fails the property."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except BnnmipError:
        return None


# -- CSV parsing ------------------------------------------------------------------------------------

_cell = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(["", "?", "NaN", "na", "inf", "-inf", "1e400", "a", "label", "x y", '"q,uoted"',
                     "1,5", "0x10", " 3 ", "\ufeff1", "é", "TRUE", "0", "1", "2"]),
    st.text(alphabet=string.printable, max_size=6),
)
_row = st.lists(_cell, min_size=1, max_size=5)
_sep = st.sampled_from([",", ";", "\t", " ", "|"])
_eol = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def csv_texts(draw):
    sep, eol = draw(_sep), draw(_eol)
    rows = draw(st.lists(_row, min_size=0, max_size=8))
    return eol.join(sep.join(r) for r in rows) + draw(st.sampled_from(["", eol]))


@settings(settings.get_profile(PROFILE))
@given(text=csv_texts(), label=st.one_of(st.none(), st.integers(-4, 4), st.sampled_from(["label", "a", "0"])))
def test_csv_parsing_never_crashes(tmp_path_factory, text, label):
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass" if False else "strict")
    ds = _ok(lambda: load_dataset(str(path), label=label))
    if ds is not None:
        assert ds.X.ndim == 2 and ds.X.shape[0] == ds.y.shape[0] >= 1
        assert np.all(np.isfinite(ds.X))
        assert ds.y.dtype.kind in "iU"  # integer or string labels, never floats


@settings(settings.get_profile(PROFILE))
@given(data=st.binary(max_size=200))
def test_csv_bytes_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csvb") / "d.csv"
    path.write_bytes(data)
    _ok(lambda: load_dataset(str(path)))
    _ok(lambda: load_inputs(str(path), n_features=2, feature_names=("a", "b")))


@settings(settings.get_profile(PROFILE))
@given(text=csv_texts(), n=st.integers(1, 4),
       names=st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c", "label", "0"]), min_size=1,
                                           max_size=4, unique=True)))
def test_predict_inputs_never_crash(tmp_path_factory, text, n, names):
    path = tmp_path_factory.mktemp("inp") / "x.csv"
    path.write_text(text)
    names = tuple(names) if names is not None and len(names) == n else None
    got = _ok(lambda: load_inputs(str(path), n_features=n, feature_names=names))
    if got is not None:
        assert got[0].shape[1] == n


# -- network files ----------------------------------------------------------------------------------

def _valid_network_dict():
    W1 = np.array([[1.0, -1.0], [0.5, 0.5]])
    W2 = np.array([[1.0, 1.0], [-1.0, 0.0]])
    net = BinarizedNetwork.from_arrays([W1, W2], [np.zeros(2), np.array([-1.5, 0.5])],
                                       scaling=InputScaling.fit(np.array([[0.0, 1.0], [2.0, 5.0]])),
                                       classes=("a", "b"), feature_names=("u", "v"))
    return net.to_dict()


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.integers(),
                       st.floats(allow_nan=False), st.text(max_size=5))
_json = st.recursive(_json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=4), inner,
                                                                          max_size=3)), max_leaves=8)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_networks(draw):
    data = _valid_network_dict()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        where = draw(st.sampled_from(paths))
        parent = data
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "wrap", "nudge"]))
        if action == "delete":
            if isinstance(parent, dict):
                del parent[where[-1]]
            else:
                parent.pop(where[-1])
        elif action == "wrap":
            parent[where[-1]] = [parent[where[-1]]]
        elif action == "nudge" and isinstance(parent[where[-1]], int | float) and not isinstance(
                parent[where[-1]], bool):
            parent[where[-1]] = parent[where[-1]] * draw(st.sampled_from([-1, 0, 2, 1e308, 0.5]))
        else:
            parent[where[-1]] = draw(_json)
        if not data:
            break
    return data


@settings(settings.get_profile(PROFILE))
@given(data=mutated_networks(), X=st.lists(st.lists(st.floats(-10, 10), min_size=2, max_size=2),
                                           min_size=1, max_size=4))
def test_network_files_never_crash(tmp_path_factory, data, X):
    path = tmp_path_factory.mktemp("net") / "n.json"
    path.write_text(json.dumps(data))
    net = _ok(lambda: BinarizedNetwork.load(path))
    if net is not None:  # a file that loads predicts without surprises
        _ok(lambda: net.predict(np.array(X)))
        back = BinarizedNetwork.load(net.save(path))  # and round-trips
        assert back.widths == net.widths


@settings(settings.get_profile(PROFILE))
@given(blob=st.binary(max_size=300))
def test_network_bytes_never_crash(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("netb") / "n.json"
    path.write_bytes(blob)
    assert _ok(lambda: BinarizedNetwork.load(path)) is None


# -- estimator inputs -------------------------------------------------------------------------------

_HOSTILE_PARAMS = {
    "hidden_layer_sizes": st.sampled_from([(), (1,), (2,), (0,), (-1,), "2", (1.5,)]),
    "weight_domain": st.sampled_from(["continuous", "ternary", "integer:2", "integer:0", "integer:1e30",
                                      "real", "integer:" + "9" * 30]),
    "mip_gap": st.sampled_from([0.0, 1e-4, -1.0, np.nan, np.inf]),
    "threads": st.sampled_from([1, 0, np.inf, 2.5, -3]),
    "eps": st.sampled_from([None, 1e-4, 0.0, 1.0, np.nan, -1.0]),
    "robust_radius": st.sampled_from([0.0, 0.05, -0.1, np.nan, 2.0]),
    "time_limit": st.sampled_from([10.0, None, 0.0, -1.0, np.inf]),
    "prediction_rule": st.sampled_from(["preactivation", "binary", "vote"]),
    "solver_options": st.sampled_from([None, {}, {"presolve": "off"}, {"time_limit": 5}, {"x y": 1},
                                       {"nope": 1}, "presolve=off"]),
    "validation_fraction": st.sampled_from([0.0, 0.3, 1.0, -0.5]),
}


@st.composite
def estimator_inputs(draw):
    """Valid small problems, then 0-2 hostile changes (so both ends of the property are reached)."""
    m, n = draw(st.integers(4, 6)), draw(st.integers(1, 2))
    X = draw(st.lists(st.lists(st.floats(-3, 3), min_size=n, max_size=n), min_size=m, max_size=m))
    y = ["a", "b"] + draw(st.lists(st.sampled_from(["a", "b"]), min_size=m - 2, max_size=m - 2))
    w, params = None, {"hidden_layer_sizes": (1,), "time_limit": 10.0}
    changes = draw(st.lists(st.sampled_from(["X", "y", "w", "param", "shape"]), max_size=2))
    for change in sorted(changes, key=lambda c: c == "shape"):  # a new shape last: X[i][j] needs the old
        if change == "X":
            i, j = draw(st.integers(0, m - 1)), draw(st.integers(0, n - 1))
            X[i][j] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300, "a", None, 0.0]))
        elif change == "y":
            y = draw(st.sampled_from([[0.5] * m, ["a"] * m, [None] * m, y[:-1], [[1]] * m,
                                      [1.5, 2.5] + [1.0] * (m - 2),
                                      [True, False] * (m // 2) + [True] * (m % 2)]))
        elif change == "w":
            w = draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, -1.0, 1e20, 1e-9, np.nan]), min_size=m,
                              max_size=m))
        elif change == "shape":
            X = draw(st.sampled_from([[], [[]] * m, [1.0] * m, [[[1.0]]] * m]))
        else:
            key = draw(st.sampled_from(sorted(_HOSTILE_PARAMS)))
            params[key] = draw(_HOSTILE_PARAMS[key])
    return X, y, w, params


@settings(settings.get_profile(PROFILE).__class__(settings.get_profile(PROFILE), max_examples=30))
@given(inputs=estimator_inputs())
def test_estimator_inputs_never_crash(inputs):
    from bnnmip.estimator import BDNNClassifier

    X, y, w, params = inputs
    X_in = np.array(X, dtype=object) if any(isinstance(v, str | type(None)) for r in X
                                            if isinstance(r, list) for v in r) else X
    clf = _ok(lambda: BDNNClassifier(**params).fit(X_in, y, sample_weight=w))
    if clf is not None:
        assert clf.status_ in ("optimal", "feasible")
        assert len(clf.predict(np.asarray(X, dtype=float))) == len(X)


# -- command-line arguments ---------------------------------------------------------------------------

_flag_values = st.sampled_from(["-5", "0", "1", "2", "1e6", "inf", "nan", "-inf", "x", "", "0.5",
                                "integer:3", "ternary", "1e30", "a=b", "exact.nope=1", "start=none",
                                "iris", "/dev/null", "/no/such/file"])


@st.composite
def export_args(draw):
    args = ["export", draw(st.sampled_from(["iris", "wine", "nope", "/dev/null", "./"]))]
    for flag in draw(st.lists(st.sampled_from(["--hidden", "--weights", "--robust-radius", "--eps",
                                               "--test-size", "--train-size", "--seed", "--label",
                                               "--formulation"]), max_size=4)):
        args += [flag, draw(_flag_values)]
    return args


@settings(settings.get_profile(PROFILE).__class__(settings.get_profile(PROFILE), max_examples=25))
@given(args=export_args())
def test_cli_arguments_never_crash(tmp_path_factory, args):
    out = tmp_path_factory.mktemp("cli") / "m"
    try:
        code = main([*args, "--train-size", "12", "-o", str(out)])
    except SystemExit as exc:  # argparse's usage error
        assert exc.code == 2
        return
    assert code in (0, 2)


@settings(settings.get_profile(PROFILE).__class__(settings.get_profile(PROFILE), max_examples=25))
@given(extra=st.lists(st.sampled_from(["--rule", "--label", "--radii", "--noise-draws", "--seed",
                                       "--max-enumerate", "--time-limit"]), max_size=3),
       values=st.lists(_flag_values, min_size=3, max_size=3),
       command=st.sampled_from(["predict", "evaluate"]), data=st.sampled_from(["iris", "wine", "nope"]))
def test_cli_predict_and_evaluate_arguments_never_crash(tmp_path_factory, extra, values, command, data):
    folder = tmp_path_factory.mktemp("cli2")
    model = folder / "m.json"
    net = BinarizedNetwork.from_arrays([np.ones((1, 4)), np.array([[1.0], [-1.0], [0.5]])],
                                       [np.zeros(1), np.zeros(3)], classes=(0, 1, 2))
    net.save(model)
    args = [command, str(model), data]
    for flag, value in zip(extra, values, strict=False):
        if command == "predict" and flag not in ("--rule", "--label"):
            continue
        args += [flag, value]
    try:
        code = main(args)
    except SystemExit as exc:
        assert exc.code == 2
        return
    assert code in (0, 2)
