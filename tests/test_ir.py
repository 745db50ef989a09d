import numpy as np
import pytest

from bnnmip import (
    ActivationTies,
    Architecture,
    InvalidInputError,
    RobustnessSet,
    TrainingSet,
    WeightDomain,
)


def test_weight_domain_parse_round_trip():
    for text in ("continuous", "ternary", "integer:3"):
        assert str(WeightDomain.parse(text)) == text
    assert WeightDomain.parse("integer") == WeightDomain.ternary()
    assert WeightDomain.parse("integer:3").bound == 3


@pytest.mark.parametrize("bad", ["real", "integer:0", "integer:-2", "integer:x"])
def test_weight_domain_rejects(bad):
    with pytest.raises(InvalidInputError, match="weight"):
        WeightDomain.parse(bad)


def test_architecture_widths_and_validation():
    arch = Architecture(4, (3, 2), 3)
    assert arch.widths == (4, 3, 2, 3) and arch.n_layers == 3
    assert Architecture(4, 3, 2).hidden == (3,)
    assert Architecture(4, (), 2).n_layers == 1
    for hidden in [(0,), (-1,), (2.5,), ("a",)]:
        with pytest.raises(InvalidInputError, match="positive integers"):
            Architecture(4, hidden, 2)
    with pytest.raises(InvalidInputError, match="n_classes"):
        Architecture(4, (2,), 1)


def test_architecture_is_frozen():
    arch = Architecture(2, (2,), 2)
    with pytest.raises(AttributeError):
        arch.n_inputs = 3


def test_training_set_validation():
    X = np.zeros((3, 2))
    data = TrainingSet.from_arrays(X, [0, 1, 1])
    assert data.n_points == 3 and data.n_classes == 2
    assert not data.X.flags.writeable
    np.testing.assert_array_equal(data.one_hot(), [[1, 0], [0, 1], [0, 1]])
    with pytest.raises(InvalidInputError, match="NaN"):
        TrainingSet.from_arrays([[np.nan, 0]], [0])
    with pytest.raises(InvalidInputError, match="empty"):
        TrainingSet.from_arrays(np.zeros((0, 2)), [])
    with pytest.raises(InvalidInputError, match="one label per row"):
        TrainingSet.from_arrays(X, [0, 1])
    with pytest.raises(InvalidInputError, match="0..1"):
        TrainingSet.from_arrays(X, [0, 1, 2], n_classes=2)
    with pytest.raises(InvalidInputError, match="numeric"):
        TrainingSet.from_arrays([["a", "b"]], [0])
    with pytest.raises(InvalidInputError, match="integers"):
        TrainingSet.from_arrays(X, [0.5, 1, 0])
    with pytest.raises(InvalidInputError, match="positive"):
        TrainingSet.from_arrays(X, [0, 1, 1], weights=[1, 0, 1])


def test_ties_and_robustness():
    ties = ActivationTies.from_labels(["b", "a", "b", "c"])
    np.testing.assert_array_equal(ties.cluster, [0, 1, 0, 2])
    assert ties.n_clusters == 3
    assert ActivationTies.none(3).n_clusters == 3
    with pytest.raises(InvalidInputError, match="0..P-1"):
        ActivationTies(np.array([0, 2]))
    with pytest.raises(InvalidInputError, match="radius"):
        RobustnessSet(-0.1)
    assert RobustnessSet(0.1).radius == 0.1
