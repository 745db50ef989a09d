"""Every registered backend passes the conformance suite; unavailable ones show as skips."""

import pytest

import bnnmip
from bnnmip.testing import CONFORMANCE_CHECKS

BACKENDS = sorted(bnnmip.list_backends())


@pytest.mark.slow
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", BACKENDS)
def test_conformance(name, check):
    backend = bnnmip.get_backend(name)
    ok, reason = backend.availability()
    if not ok:
        pytest.skip(f"backend {name} unavailable: {reason}")
    check(backend)


def test_highs_is_registered():
    assert "highs" in BACKENDS
