"""Which columns integer weights force to integers (``MilpProblem.implied_integrality``)."""

import numpy as np
import pytest

import bnnmip
from bnnmip.testing import xor


@pytest.mark.parametrize("formulation", ["tight", "paper"])
def test_products_of_integer_weights_are_implied_integral_biases_are_not(formulation):
    inst = xor()
    integer = bnnmip.Architecture(2, (2,), 2, weight_domain="integer:3")
    p = bnnmip.lower(integer, inst.data, formulation=formulation).problem
    implied = p.implied_integrality
    assert np.array_equal(implied & p.integrality, p.integrality)
    for name, block in p.columns.items():
        cols = implied[block.start:block.stop]
        assert cols.all() == (not name.startswith("b")), name
    assert not p.is_pure_integer
    nobias = bnnmip.lower(bnnmip.Architecture(2, (2,), 2, weight_domain="integer:3", bias=False), inst.data,
                          formulation=formulation).problem
    assert nobias.is_pure_integer and not nobias.integrality.all()
    continuous = bnnmip.lower(inst.architecture, inst.data, formulation=formulation).problem
    assert np.array_equal(continuous.implied_integrality, continuous.integrality)


def test_implied_integrality_must_include_the_integer_columns():
    import attrs

    p = xor().lower().problem
    with pytest.raises(ValueError, match="must include every integer column"):
        attrs.evolve(p, implied_integrality=np.zeros(p.n_cols, dtype=bool))
