"""benchmarks/hard_family.py: the instances other scripts import, and its core function."""

import importlib

import numpy as np
import pytest

from bnnmip.errors import InvalidInputError

NAMES = [
    *(f"random m{m} h{h} k{k}" for m in (50, 75, 100) for h in (2, 3) for k in (2, 3)),
    "robust bcw r0.1", "robust bcw r0.2", "robust wine r0.1", "robust wine r0.2",
    "protocol bcw s0", "protocol bcw s8", "protocol iris s2", "protocol iris s6",
]


@pytest.fixture(scope="module")
def hard(benchmarks_on_path):
    return importlib.import_module("hard_family")


@pytest.fixture(scope="module")
def family(hard):
    return hard.instances()


def test_names_are_stable(hard, family):
    assert hard.instance_names() == NAMES
    assert list(family) == NAMES


def test_instances_have_the_stated_shapes(family):
    for name, (arch, data, robust) in family.items():
        kind, *rest = name.split()
        assert data.X.shape == (data.n_points, arch.n_inputs), name
        assert data.X.min() >= 0 and data.X.max() <= 1 + 1e-12, name
        assert set(np.unique(data.y)) == set(range(arch.n_classes)), name
        if kind == "random":
            m, h, k = (int(p[1:]) for p in rest)
            assert (data.n_points, arch.n_inputs, arch.hidden, arch.n_classes) == (m, 10, (h,), k)
            assert robust is None
        elif kind == "robust":
            assert data.n_points == 50 and arch.hidden == (2,)
            assert robust.radius == float(rest[1][1:])
            assert arch.n_classes == (2 if rest[0] == "bcw" else 3)
        else:
            assert robust is None and arch.hidden == (2,)
            assert (data.n_points, arch.n_classes) == ((349, 2) if rest[0] == "bcw" else (74, 3))


def test_instances_are_reproducible_and_share_data_across_widths(hard, family):
    again = hard.instances(["random m50 h2 k3", "robust wine r0.1"])
    for name, (arch, data, robust) in again.items():
        assert np.array_equal(data.X, family[name].data.X) and np.array_equal(data.y, family[name].data.y)
        assert arch == family[name].arch and robust == family[name].robust
    assert np.array_equal(family["random m75 h2 k2"].data.X, family["random m75 h3 k3"].data.X)


def test_unknown_name_is_refused(hard):
    with pytest.raises(InvalidInputError, match="no hard-family instance 'random m60 h2 k2'"):
        hard.build("random m60 h2 k2")


@pytest.mark.slow
def test_run_instance_smoke_with_a_node_limit(hard):
    """The smallest instance, the majority-class start, 20 nodes: the record's claims hold."""
    rec = hard.run_instance("random m50 h2 k2", "highs", 600, node_limit=20, params={"start": "none"},
                            warm_up=False)
    assert rec["verified"] and rec["root_verified"]
    assert rec["status"] in ("feasible", "optimal") and rec["nodes"] <= 20 and rec["root_nodes"] <= 1
    assert rec["loss"] == rec["objective"]  # the forward pass agrees with the MILP
    assert rec["root_bound"] is not None and 0 <= rec["root_bound"] <= rec["loss"]
    assert rec["bound"] <= rec["loss"]
    page = hard.report([{**rec, "run": "test", "command": "c"}], ["header"])
    row = next(line for line in page.splitlines() if line.startswith("| random m50 h2 k2 |"))
    assert f"| {rec['loss']:g} " in row
    assert "| highs start=none | 1 | " in page  # a column per backend and exact parameters


def test_runs_on_several_cores_are_compared_with_the_best_single_backend(hard):
    """A bound beside the solver that proves where no single backend did: counted, and named."""
    def rec(backend, status, seconds, params=None, message=""):
        return {"instance": "random m50 h2 k2", "backend": backend, "params": params or {}, "m": 50,
                "time_limit": 60, "status": status, "seconds": seconds, "loss": 2, "bound": 2 if status ==
                "optimal" else 0, "nodes": 0, "root_bound": 0, "verified": True, "root_verified": True,
                "message": message, "run": "t", "command": "c", "solver_version": "v"}
    page = hard.report([rec("scip", "feasible", 60.0),
                        rec("scip", "optimal", 4.7, {"error_bound": "parallel"},
                            "proved optimal by exact's error_bound beside the solver (loss >= 2)")], ["h"])
    section = page[page.index("## Several cores against the best single backend"):]
    assert "| random m50 h2 k2 | - | - | 4.7 | - | error_bound |" in section, section
    assert ("`scip error_bound=parallel`: proven 1 of 1, the best single backend 0 (strictly more: yes; "
            "proven where no single backend proved: random m50 h2 k2)") in section, section
