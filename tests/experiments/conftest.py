"""Shared fixtures of the experiment tests."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def benchmarks_on_path():
    """``benchmarks/`` on ``sys.path`` while a test module imports its scripts."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield BENCHMARKS
    finally:
        sys.path.remove(str(BENCHMARKS))
