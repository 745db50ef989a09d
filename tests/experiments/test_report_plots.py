"""The report's plots: seed counts, coinciding curves, ticks, certified-accuracy legend and radius 0,
and the warning when matplotlib is missing. Records are written by hand in the store's format."""

import sys

import matplotlib
import pytest
from matplotlib.figure import Figure

from bnnmip.experiments import ResultStore, report
from bnnmip.experiments.report import (
    PlotsSkippedWarning,
    plot_accuracy_vs_splits,
    plot_certified,
    plot_performance_profile,
)

matplotlib.use("Agg", force=True)


def _record(key, *, backend="highs", seed=0, strategy="exact", radius=0.0, status="optimal",
            seconds=1.0, history=None, certified=None, test=0.8):
    config = {"dataset": "iris", "model": "bdnn", "strategy": strategy, "formulation": "tight",
              "backend": backend, "seed": seed, "hidden": [2], "weight_domain": "continuous",
              "robust_radius": radius, "time_limit": 10.0, "time_budget": None, "params": {},
              "solver_options": None, "max_points": None, "mip_gap": 1e-4}
    return {"key": key, "config": config, "status": status, "objective": 1.0, "solve_seconds": seconds,
            "accuracy": {"train": 0.9, "validation": 0.85, "test": test},
            "history": history or [], "certified": certified or []}


@pytest.fixture
def figures(monkeypatch):
    """Every figure a plot function saves, kept for inspection."""
    saved = []
    original = Figure.savefig

    def keep(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return saved


def _legend(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_performance_profile_shows_coinciding_curves_and_plain_ticks(tmp_path, figures):
    records = [_record(f"{b}{s}", backend=b, seed=s, seconds=1.0 + s)
               for b in ("cbc", "highs", "scip") for s in range(3)]
    assert plot_performance_profile(records, tmp_path / "p.png")
    fig = figures[-1]
    labels = _legend(fig)
    assert labels == ["cbc (3/3 solved)", "highs (3/3 solved), same curve as cbc",
                      "scip (3/3 solved), same curve as cbc"]
    ax = fig.axes[0]
    lines = ax.get_lines()
    # told apart by style, marker and width, the widest drawn first (below)
    assert len({ln.get_linestyle() for ln in lines}) == 3 and len({ln.get_marker() for ln in lines}) == 3
    widths = [ln.get_linewidth() for ln in lines]
    assert widths == sorted(widths, reverse=True)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["1", "1.25", "1.5", "2"]
    assert ax.xaxis.get_minor_locator().tick_values(1, 2) == []


def test_performance_profile_ticks_on_a_wide_range(tmp_path, figures):
    records = [_record("a", backend="highs", seconds=1.0), _record("b", backend="scip", seconds=300.0)]
    plot_performance_profile(records, tmp_path / "p.png")
    ticks = [t.get_text() for t in figures[-1].axes[0].get_xticklabels()]
    assert ticks[0] == "1" and len(ticks) <= 8
    assert all(t.replace(".", "").isdigit() for t in ticks), ticks  # no 2x10^0 style labels
    assert "same curve" not in " ".join(_legend(figures[-1]))


def test_accuracy_vs_splits_shows_seed_counts_where_they_vary(tmp_path, figures):
    long = [{"split": k, "train_accuracy": 0.5 + 0.1 * k, "validation_accuracy": 0.5 + 0.05 * k}
            for k in range(4)]
    records = [_record("a", strategy="split", seed=0, history=long),
               _record("b", strategy="split", seed=1, history=long[:2])]
    assert plot_accuracy_vs_splits(records, tmp_path / "s.png")
    fig = figures[-1]
    labels = _legend(fig)
    assert all("mean of up to 2 seeds: 1 at fewest" in label for label in labels), labels
    assert len(fig.axes) == 2  # the seed-count panel
    counts = fig.axes[1].get_lines()[0].get_ydata().tolist()
    assert counts == [2, 2, 1, 1]
    # the same seeds all the way: no panel, "mean of 2 seeds"
    records[1] = _record("b", strategy="split", seed=1, history=long)
    plot_accuracy_vs_splits(records, tmp_path / "s2.png")
    assert len(figures[-1].axes) == 1
    assert all("(mean of 2 seeds)" in label for label in _legend(figures[-1]))


def test_certified_plot_has_radius_zero_and_a_readable_legend(tmp_path, figures):
    records = [
        _record("a", radius=0.0, test=0.8, certified=[{"radius": 0.05, "accuracy": 0.6}]),
        _record("b", radius=0.05, test=0.7, certified=[{"radius": 0.05, "accuracy": 0.65}]),
    ]
    assert plot_certified(records, tmp_path / "c.png")
    fig = figures[-1]
    labels = _legend(fig)
    assert labels == ["iris, exact, highs, robust training r=0.05 (mean of 1 seed)",
                      "iris, exact, highs, standard training (mean of 1 seed)"]
    assert not any(label.startswith("trained") for label in labels)
    curves = sorted((tuple(map(float, ln.get_xdata())), tuple(map(float, ln.get_ydata())))
                    for ln in fig.axes[0].get_lines())
    # radius 0 is plotted, at the test accuracy: robust (0.7, then 0.65), standard (0.8, 0.6)
    assert curves == [((0.0, 0.05), (0.7, 0.65)), ((0.0, 0.05), (0.8, 0.6))]


def test_missing_matplotlib_warns_and_says_so_in_the_report(tmp_path, monkeypatch):
    store = tmp_path / "runs.jsonl"
    with ResultStore(store) as s:
        s.append(_record("a", backend="highs"))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.warns(PlotsSkippedWarning, match="matplotlib is not installed.*pip install"):
        files = report(store, tmp_path / "out")
    text = files["markdown"].read_text()
    assert "plots skipped: matplotlib is not installed" in text
    assert not any(name.endswith("png") for name in map(str, files.values()))
