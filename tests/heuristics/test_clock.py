"""Heuristic time limits count CPU time (bnnmip.heuristics.clock): a loaded machine changes nothing."""

import math
import time

import numpy as np
import pytest

from bnnmip.heuristics import gradient, ste_network
from bnnmip.heuristics.clock import WALL_FACTOR, Deadline
from bnnmip.ir import Architecture, TrainingSet


def test_waiting_does_not_use_up_a_deadline():
    deadline = Deadline(10.0)
    time.sleep(0.3)  # what a starved process does: wall time passes, its CPU time does not
    assert not deadline.passed()
    assert deadline.left() > 5.0  # holds unless the 0.3 s sleep took 15 s


def test_work_uses_up_a_deadline():
    deadline = Deadline(0.05)
    x = 0.0
    while not deadline.passed():
        x += math.sqrt(x + 1.0)
    assert deadline.left() == 0.0


def test_the_wall_clock_cap_ends_a_starved_wait():
    deadline = Deadline(0.05)
    time.sleep(WALL_FACTOR * 0.05 + 0.1)
    assert deadline.passed()


def test_fractions_share_the_start_and_infinity_never_passes():
    deadline = Deadline(100.0)
    assert deadline.fraction(0.25).seconds == 25.0
    assert 20.0 < deadline.fraction(0.25).left() <= 25.0
    assert Deadline(math.inf).left() == math.inf and not Deadline(math.inf).passed()


@pytest.mark.slow
def test_a_slow_machine_gets_the_same_gradient_start(monkeypatch):
    # a run that finishes within its limit does the same work when every epoch takes longer
    # in wall-clock time (as on a busy machine): same network, although the waits alone add
    # up to more than the limit
    rng = np.random.default_rng(0)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (60, 4)), rng.integers(0, 3, 60), n_classes=3)
    arch = Architecture(4, (3,), 3)
    kwargs = dict(seed=1, time_limit=3.0, restarts=2, epochs=80)  # needs about 0.4 s of CPU
    idle = ste_network(arch, data, **kwargs)
    quantize = gradient._quantize

    def slow_quantize(*args):
        time.sleep(0.02)  # 2 restarts x 81 epochs x 20 ms = 3.2 s > the 3 s limit (cap: 9 s)
        return quantize(*args)

    monkeypatch.setattr(gradient, "_quantize", slow_quantize)
    t0 = time.perf_counter()
    busy = ste_network(arch, data, **kwargs)
    waited = time.perf_counter() - t0
    for a, b in zip(idle.weights + idle.biases, busy.weights + busy.biases, strict=True):
        np.testing.assert_array_equal(a, b)
    assert busy.hamming_loss(data.X, data.y, scaled=True) > 0  # no early stop: every epoch ran
    assert waited > kwargs["time_limit"]
