import argparse
import json

import numpy as np
import pytest

import bnnmip
from bnnmip import BinarizedNetwork, InputScaling, InvalidInputError
from bnnmip.robustness import certify, noise_accuracy, robustness_report
from bnnmip.testing import random_teacher

BOTH_RULES = ("preactivation", "binary")
BOTH_METHODS = (16, 0)  # max_enumerate: 16 enumerates layer-1 patterns, 0 forces the MILP


def line_network():
    """One hidden neuron t = 2x - 1; class 1 iff it fires (t > 0), class 0 otherwise."""
    return BinarizedNetwork.from_arrays(
        [np.array([[2.0]]), np.array([[-1.0], [1.0]])],
        [np.array([-1.0]), np.array([0.5, -0.5])],
    )


def statuses(net, X, y, r, **kw):
    return certify(net, np.asarray(X, float), y, r, scaled=True, **kw).status.tolist()


# -- hand-made networks whose certified radius is known ----------------------------------------


@pytest.mark.parametrize("rule", BOTH_RULES)
@pytest.mark.parametrize("max_enumerate", BOTH_METHODS)
def test_one_neuron_certified_radius_and_the_closed_side_of_the_step(rule, max_enumerate):
    net = line_network()
    kw = dict(rule=rule, max_enumerate=max_enumerate)
    # x = 0.3, t = -0.4, class 0. The ball [0.3 - r, 0.3 + r] reaches t > 0 iff 0.3 + r > 0.5.
    for r in (0.0, 0.1, 0.19, 0.2):
        assert statuses(net, [[0.3]], [0], r, **kw) == ["certified"], r
    # r = 0.2 is the boundary: x' = 0.5 gives t = 0, step(0) = 0, still class 0: certified.
    for r in (0.2 + 1e-9, 0.21, 0.5):
        c = certify(net, np.array([[0.3]]), [0], r, scaled=True, **kw)
        assert c.status.tolist() == ["attackable"], r
        ce = c.counterexamples[0, 0]
        assert 0.5 < ce <= 0.3 + r and net.predict_index([[ce]], rule=rule)[0] == 1
    # Exact binary fractions, both sides. x = 0.25 (class 0), r = 0.25: the farthest point
    # x' = 0.5 has t = 0 exactly, which is off: certified.
    assert statuses(net, [[0.25]], [0], 0.25, **kw) == ["certified"]
    # x = 0.75 (class 1, t = 0.5), r = 0.25: x' = 0.5 has t = 0 -> off -> class 0: attackable,
    # and x' = 0.5 is the only counterexample.
    c = certify(net, np.array([[0.75]]), [1], 0.25, scaled=True, **kw)
    assert c.status.tolist() == ["attackable"]
    assert c.counterexamples[0, 0] == 0.5
    assert statuses(net, [[0.75]], [1], 0.25 - 1e-12, **kw) == ["certified"]


def test_certification_summary_and_misclassified_points():
    net = line_network()
    c = certify(net, np.array([[0.3], [0.9], [0.6], [0.45]]), [0, 1, 0, 0], 0.1, scaled=True)
    assert c.status.tolist() == ["certified", "certified", "misclassified", "attackable"]
    assert c.certified.tolist() == [True, True, False, False]
    assert c.method.tolist()[:3] == ["interval", "interval", "prediction"]
    assert c.clean_accuracy == 0.75 and c.certified_accuracy == 0.5
    assert c.n_unknown == 0 and c.n_attackable == 1 and c.n_certified == 2
    assert c.counterexamples[2, 0] == 0.6  # a misclassified point is its own counterexample
    assert np.isnan(c.counterexamples[0]).all()
    assert c.summary()["certified"] == 2
    with pytest.raises(ValueError):
        c.status[0] = "x"  # read-only


def and_network(theta_on=1.0, theta_off=0.9):
    """h1 = step(s - theta_on), h2 = step(theta_off - s) with s = x1 + x2; class 1 iff both fire."""
    return BinarizedNetwork.from_arrays(
        [np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([[-1.0, -1.0], [1.0, 1.0]])],
        [np.array([-theta_on, theta_off]), np.array([1.5, -1.5])],
    )


@pytest.mark.parametrize("rule", BOTH_RULES)
def test_two_neurons_that_can_each_flip_but_never_together(rule):
    # s > 1 and s < 0.9 cannot both hold: class 1 is unreachable, every class-0 point is
    # certified at every radius, although both neurons can flip on large balls. The table of
    # patterns says (1, 1) predicts class 1; only the LP shows it is unreachable.
    net = and_network()
    X = np.array([[0.475, 0.475]])  # s = 0.95: h1 = 0, h2 = 0
    for r in (0.01, 0.1, 0.5, 3.0):
        c = certify(net, X, [0], r, scaled=True, rule=rule)
        assert c.status.tolist() == ["certified"]
        assert c.method.tolist() == ["interval" if r < 0.025 else "enumeration"]
        assert statuses(net, X, [0], r, rule=rule, max_enumerate=0) == ["certified"]


def test_a_pattern_reachable_only_in_the_closed_sense_is_reported_unknown():
    # h1 = step(s - 1), h2 = step(1 - s): both on needs s > 1 and s < 1, impossible, but the
    # LP slack of that pattern is exactly 0 (s = 1), within the LP tolerance of the threshold:
    # documented as "unknown" rather than certified (never as attackable).
    net = and_network(theta_on=1.0, theta_off=1.0)
    for max_enumerate in BOTH_METHODS:
        c = certify(net, np.array([[0.4, 0.4]]), [0], 0.3, scaled=True, max_enumerate=max_enumerate)
        assert c.status.tolist() == ["unknown"]


@pytest.mark.parametrize("rule", BOTH_RULES)
def test_three_classes_without_hidden_layer_ties_go_to_the_lower_index(rule):
    # t0 = 0.5 - x, t1 = x - 0.5, t2 = -1: class 0 for x < 0.5, class 1 for x > 0.5; at
    # x = 0.5, t0 = t1 (preactivation: the tie goes to class 0) and no output fires (binary:
    # class 0).
    net = BinarizedNetwork.from_arrays(
        [np.array([[-1.0], [1.0], [0.0]])], [np.array([0.5, -0.5, -1.0])]
    )
    for max_enumerate in BOTH_METHODS:
        kw = dict(rule=rule, max_enumerate=max_enumerate)
        assert statuses(net, [[0.25]], [0], 0.25, **kw) == ["certified"]
        assert statuses(net, [[0.25]], [0], 0.2500001, **kw) == ["attackable"]
        c = certify(net, np.array([[0.75]]), [1], 0.25, scaled=True, **kw)
        assert c.status.tolist() == ["attackable"] and c.counterexamples[0, 0] == 0.5
        assert statuses(net, [[0.75]], [1], 0.2499999, **kw) == ["certified"]
    method = certify(net, np.array([[0.75]]), [1], 0.25, scaled=True, rule=rule).method[0]
    assert method == ("closed-form" if rule == "preactivation" else "enumeration")


def test_time_limit_gives_unknown():
    net = line_network()
    c = certify(net, np.array([[0.3]]), [0], 0.3, scaled=True, time_limit=1e-9)
    assert c.status.tolist() == ["unknown"] and c.method.tolist() == ["time limit"]


# -- properties on random networks -------------------------------------------------------------


def random_network(rng, widths, integer):
    weights, biases = [], []
    for l in range(len(widths) - 1):
        shape = (widths[l + 1], widths[l])
        W = rng.integers(-1, 2, size=shape).astype(float) if integer else rng.uniform(-1, 1, shape)
        b = -0.5 * W.sum(axis=1) + rng.uniform(-0.3, 0.3, widths[l + 1])
        weights.append(W)
        biases.append(np.round(b) if integer and l > 0 else b)
    return BinarizedNetwork.from_arrays(weights, biases)


@pytest.mark.parametrize("seed", range(6))
def test_certificates_are_sound_and_counterexamples_real_on_random_networks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    hidden = [(), (3,), (2, 2), (5,), (4, 3), (6,)][seed]
    widths = [n, *hidden, 2 + seed % 2]
    net = random_network(rng, widths, integer=seed % 3 == 2)
    X = rng.uniform(0, 1, (12, n))
    for rule in BOTH_RULES:
        y = net.predict_index(X, rule=rule, scaled=True)
        y[:2] = (y[:2] + 1) % net.n_classes  # two misclassified points
        for r in (0.05, 0.2):
            results = [certify(net, X, y, r, scaled=True, rule=rule, max_enumerate=m)
                       for m in BOTH_METHODS]
            for c in results:
                assert c.status[:2].tolist() == ["misclassified"] * 2
                for i in range(len(X)):
                    if c.status[i] == "certified":  # no perturbation in the ball changes it
                        P = X[i] + r * np.vstack([rng.uniform(-1, 1, (150, n)),
                                                  rng.choice([-1.0, 1.0], (50, n))])
                        assert np.all(net.predict_index(P, rule=rule, scaled=True) == y[i])
                    if c.status[i] == "attackable":
                        ce = c.counterexamples[i]
                        assert np.max(np.abs(ce - X[i])) <= r * (1 + 1e-12)
                        assert net.predict_index(ce[None], rule=rule, scaled=True)[0] != y[i]
            # enumeration and MILP decide alike
            assert results[0].status.tolist() == results[1].status.tolist()
            noise = noise_accuracy(net, X, y, [r], n_draws=5, seed=seed, rule=rule, scaled=True)[r]
            assert results[0].certified_accuracy <= noise <= 1.0


def test_robust_training_is_certified_at_its_radius():
    """Robust training fixes the layer-1 pattern on every ball: the interval screen certifies."""
    for hidden, n_classes, r in (((2,), 2, 0.1), ((2, 2), 2, 0.1), ((3,), 3, 0.03)):
        _, data = random_teacher(2, hidden, n_classes, 16, seed=3)
        arch = bnnmip.Architecture(2, hidden, n_classes)
        res = bnnmip.train(arch, data, robust=bnnmip.RobustnessSet(r),
                           options=bnnmip.SolveOptions(time_limit=30, threads=1))
        assert res.verification.ok
        net = res.network
        correct = net.predict_index(data.X, scaled=True) == data.y
        assert correct.mean() > 0.5
        c = certify(net, data.X, data.y, r, scaled=True)
        assert np.array_equal(c.certified, correct)
        assert set(c.method[correct]) == {"interval"}
        # and a larger ball is certified no more often
        assert certify(net, data.X, data.y, 2 * r, scaled=True).n_certified <= c.n_certified


# -- noise, labels, scaling ----------------------------------------------------------------------


def test_noise_accuracy_on_the_line():
    net = line_network()
    X, y = np.array([[0.3], [0.9]]), [0, 1]
    acc = noise_accuracy(net, X, y, [0.0, 0.1, 0.2, 0.3, 0.5], n_draws=200, seed=1, scaled=True)
    assert acc[0.0] == 1.0 and acc[0.1] == 1.0 and acc[0.2] == 1.0
    assert 0.6 < acc[0.3] < 0.9  # x = 0.3 fails whenever its sign is +1
    assert 0.35 < acc[0.5] < 0.65  # now both points fail on one sign each
    again = noise_accuracy(net, X, y, [0.3], n_draws=200, seed=1, scaled=True)
    assert again[0.3] == acc[0.3]


def test_labels_scaling_and_input_errors():
    net = BinarizedNetwork.from_arrays(
        line_network().weights, line_network().biases,
        scaling=InputScaling(np.array([10.0]), np.array([20.0])), classes=("low", "high"),
    )
    X_raw = np.array([[16.0], [28.0]])  # scaled: 0.3 and 0.9
    y = np.array(["low", "high"])
    c = certify(net, X_raw, y, 0.15)
    assert c.status.tolist() == ["certified", "certified"]
    assert np.allclose(c.inputs[:, 0], [0.3, 0.9])
    assert certify(net, X_raw, y, 0.25).status.tolist() == ["attackable", "certified"]
    assert certify(net, X_raw, ["high", "high"], 0.1).status.tolist() == ["misclassified", "certified"]
    scaled = certify(net, net.scaling.transform(X_raw), y, 0.25, scaled=True)
    assert scaled.status.tolist() == ["attackable", "certified"]
    # an unseen label counts as an error; labels that are all unknown are a mistake
    assert certify(net, X_raw, ["low", "other"], 0.1).status.tolist() == ["certified", "misclassified"]
    with pytest.raises(InvalidInputError, match="classes"):
        certify(net, X_raw, [0, 1], 0.1)
    with pytest.raises(InvalidInputError, match="radius"):
        certify(net, X_raw, y, -0.1)
    with pytest.raises(InvalidInputError, match="one label per point"):
        noise_accuracy(net, X_raw, ["low"], [0.1])
    with pytest.raises(InvalidInputError, match="indices"):
        certify(line_network(), [[0.3]], [2], 0.1)
    with pytest.raises(bnnmip.UnknownNameError):
        certify(net, X_raw, y, 0.1, backend="no-such-solver")


def test_robustness_report_rows():
    net = line_network()
    X, y = np.array([[0.3], [0.9], [0.6]]), [0, 1, 1]
    rows = robustness_report(net, X, y, [0.0, 0.25], n_draws=20, scaled=True)
    assert [r["radius"] for r in rows] == [0.0, 0.25]
    assert all(r["clean_accuracy"] == 1.0 for r in rows)
    assert rows[0]["noise_accuracy"] == 1.0 and rows[0]["certified_accuracy"] == 1.0
    assert rows[1]["certified_accuracy"] == pytest.approx(1 / 3)  # only x = 0.9 survives
    assert rows[1]["attackable"] == 2 and rows[1]["unknown"] == 0
    assert rows[1]["certified_accuracy"] <= rows[1]["noise_accuracy"]
    quick = robustness_report(net, X, y, [0.25], certify=False, scaled=True)
    assert quick[0]["certified_accuracy"] is None


# -- the CLI command ------------------------------------------------------------------------------


def evaluate_parser():
    from bnnmip.cli.evaluate import add_parser

    parser = argparse.ArgumentParser(prog="bnnmip")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_evaluate_command_end_to_end(tmp_path, capsys):
    from bnnmip.estimator import BDNNClassifier

    _, data = random_teacher(2, (2,), 2, 20, seed=5)
    X = data.X * np.array([10.0, 3.0]) + np.array([5.0, -1.0])  # raw units: scaling matters
    labels = np.where(data.y == 1, "yes", "no")
    clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=30, robust_radius=0.05).fit(X, labels)
    model = clf.network_.save(tmp_path / "net.json")
    csv = tmp_path / "points.csv"
    lines = [f"{float(a)!r},{float(b)!r},{lab}\n" for (a, b), lab in zip(X, labels, strict=True)]
    csv.write_text("a,b,label\n" + "".join(lines))
    train_acc = float(np.mean(clf.predict(X) == labels))

    parser = evaluate_parser()
    args = parser.parse_args(["evaluate", str(model), str(csv), "--radii", "0", "0.05", "0.3",
                              "--noise-draws", "3", "--certify", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"] == 20 and out["clean_accuracy"] == pytest.approx(train_acc)
    r0, r05, r3 = out["radii"]
    assert r0["noise_accuracy"] == pytest.approx(train_acc)
    # robust training at 0.05: every correctly classified training point is certified there
    assert r05["certified_accuracy"] == pytest.approx(train_acc) and r05["unknown"] == 0
    assert r3["certified_accuracy"] <= r3["noise_accuracy"]

    args = parser.parse_args(["evaluate", str(model), str(csv), "--certify"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    for piece in ("clean accuracy", "radius", "noise accuracy", "certified accuracy", "unknown",
                  "0.05"):
        assert piece in text, piece
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("radius"))
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    assert len(lines) == header + 2 + 3  # default radii 0 0.05 0.1

    args = parser.parse_args(["evaluate", str(model), str(csv)])
    assert args.func(args) == 0
    assert "certified" not in capsys.readouterr().out.split("radius")[-1]


def test_evaluate_command_errors(tmp_path):
    parser = evaluate_parser()
    args = parser.parse_args(["evaluate", str(tmp_path / "missing.json"), "iris"])
    with pytest.raises(InvalidInputError, match="not found"):
        args.func(args)
    model = line_network().save(tmp_path / "line.json")
    args = parser.parse_args(["evaluate", str(model), "iris"])
    with pytest.raises(InvalidInputError, match="feature column"):
        args.func(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", str(model), "iris", "--radii", "-1"])
