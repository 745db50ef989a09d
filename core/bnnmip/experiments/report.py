"""Tables and plots from a results store: ``bnnmip report STORE --output DIR``.

Written to ``DIR`` (default: next to the store, ``<store stem>-report/``):

- ``report.md``: the tables below, the machines, versions and executors the cells ran on, the
  failed cells, and the plots;
- ``cells.csv``: one row per cell (its last record), every configuration field and result,
  one value per field (the columns of :func:`bnnmip.experiments.load_results`);
- ``backends.csv``: per strategy, formulation and backend (BDNN cells): cells, solved to
  optimality, feasible, failed, crashed, hung, shifted geometric mean of solve times (shift
  1 s; a cell not solved to optimality counts at its time limit, or its time budget for
  multi-solve strategies), mean gap, mean objective, and on how many instances (the same cell
  on every backend) the backend found the best objective;
- ``accuracy.csv``: per data set and variant (all configuration fields but the seed): train,
  validation and test accuracy, mean and standard deviation over seeds, for every BDNN
  variant and every baseline (``chosen``: what the baseline cells chose, e.g. the tuned MLP's
  solver and ``alpha`` per seed count; labels in :data:`BASELINE_LABELS`);
- ``performance_profile.png``: Dolan-More performance profile of solve times across backends;
- ``accuracy_vs_splits.png``: training and validation accuracy against the number of splits,
  for ``split`` cells (mean over seeds, from each cell's recorded history);
- ``certified_accuracy.png``: certified test accuracy against the radius, for cells with
  certificates.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import warnings
from collections import Counter, defaultdict
from pathlib import Path

from ..errors import InvalidInputError
from .results import config_value, flatten, tidy_records
from .store import ResultStore

__all__ = ["BASELINE_LABELS", "PlotsSkippedWarning", "ReportFiles", "accuracy_rows", "backend_rows",
           "flatten", "report", "shifted_geometric_mean"]

SHIFT = 1.0
"""Shift of the shifted geometric mean of solve times, in seconds."""

MIN_TIME = 0.01
"""Solve times are floored at this (seconds) in the performance profile's ratios."""

_VARIANT_FIELDS = ("model", "strategy", "formulation", "backend", "hidden", "weight_domain",
                   "robust_radius", "time_limit", "time_budget", "params", "solver_options", "max_points")
_ALWAYS = ("model", "strategy", "formulation", "backend")


BASELINE_LABELS = {
    "mlp": "mlp (ReLU, sklearn, one Adam run)",
    "mlp-tuned": "MLP tuned (ReLU, lbfgs/adam x alpha x restarts, chosen on validation)",
    "logistic": "logistic regression (C chosen on validation)",
    "gradient": "gradient start alone (STE + refit, no MILP)",
}
"""How the report's accuracy tables name the baseline models."""


def _chosen(records) -> str:
    """What a variant's baseline cells chose, over seeds (empty for BDNN cells)."""
    picks = [r.get("baseline") for r in records if r.get("baseline")]
    if not picks:
        return ""
    if "start_seconds" in picks[0]:  # gradient
        realized = sum(1 for b in picks if b.get("realized"))
        taken = statistics.fmean(float(b.get("seconds_taken") or 0.0) for b in picks)
        allowed = picks[0]["start_seconds"]
        return f"refit met the margins {realized}/{len(picks)}; {taken:.2f} s of {allowed:g}"
    if "C" in picks[0]:
        counts = Counter(f"C={b['C']:g}" for b in picks)
    else:
        counts = Counter(f"{b['solver']} alpha={b['alpha']:g}" for b in picks if "solver" in b)
    return ", ".join(f"{k} x{n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _grid_summary(params: str) -> str:
    """The search grid of ``mlp-tuned`` / ``logistic`` in a few words (not its JSON)."""
    try:
        p = json.loads(params)
    except (TypeError, ValueError):
        return params
    if "cs" in p:
        return f"C in {{{', '.join(f'{c:g}' for c in p['cs'])}}}"
    return (f"alpha in {{{', '.join(f'{a:g}' for a in p.get('alphas', []))}}}, "
            f"{p.get('restarts')} restarts, max_iter {p.get('max_iter')}")


def shifted_geometric_mean(values, shift: float = SHIFT) -> float | None:
    """``exp(mean(log(t + shift))) - shift``; None for no values."""
    values = [float(v) for v in values]
    if not values:
        return None
    return math.exp(statistics.fmean(math.log(v + shift) for v in values)) - shift


def _time_cap(config: dict, record: dict) -> float:
    """The time an unsolved cell counts at: its time limit (its budget for multi-solve runs)."""
    limit, budget = config.get("time_limit"), config.get("time_budget")
    if budget is None:
        cap = limit
    elif config.get("strategy") == "exact":
        cap = min(limit, budget)
    else:
        cap = budget
    return max(float(cap or 0.0), float(record.get("solve_seconds") or 0.0))


def _solve_time(record: dict) -> float:
    """Seconds to optimality, or the time cap for a cell not solved to optimality."""
    if record.get("status") == "optimal" and record.get("solve_seconds") is not None:
        return float(record["solve_seconds"])
    return _time_cap(record["config"], record)


def _instance(config: dict) -> str:
    """The cell minus its solver: the same instance on every backend and solver option set."""
    return json.dumps({k: v for k, v in config.items() if k not in ("backend", "solver_options")},
                      sort_keys=True)


def _solver(config: dict) -> str:
    """The backend's name, with the cell's solver options if it has any."""
    options = config.get("solver_options") or {}
    return " ".join([config["backend"], *(f"{k}={v}" for k, v in sorted(options.items()))])


def _bdnn(records):
    return [r for r in records if r["config"].get("model") == "bdnn"]


def backend_rows(records: list[dict]) -> list[dict]:
    """The per-backend table (one row per strategy, formulation and backend)."""
    bdnn = _bdnn(records)
    best: dict[str, float] = {}
    for r in bdnn:
        if r.get("objective") is not None:
            inst = _instance(r["config"])
            best[inst] = min(best.get(inst, math.inf), r["objective"])
    groups = defaultdict(list)
    for r in bdnn:
        c = r["config"]
        groups[(c["strategy"], c["formulation"], _solver(c))].append(r)
    rows = []
    for (strategy, formulation, backend), rs in sorted(groups.items()):
        status = Counter(r.get("status") for r in rs)
        gaps = [r["gap"] for r in rs if r.get("gap") is not None]
        objs = [r["objective"] for r in rs if r.get("objective") is not None]
        wins = sum(1 for r in rs if r.get("objective") is not None
                   and r["objective"] <= best[_instance(r["config"])] + 1e-9)
        versions = sorted({(r.get("solver") or {}).get("version") or "" for r in rs} - {""})
        rows.append({
            "strategy": strategy,
            "formulation": formulation,
            "backend": backend,
            "solver_version": ", ".join(versions),
            "cells": len(rs),
            "optimal": status["optimal"],
            "feasible": status["feasible"],
            "failed": status["failed"],
            "crashed": status["crashed"],
            "hung": status["hung"],
            "sgm_solve_seconds": shifted_geometric_mean(_solve_time(r) for r in rs),
            "mean_gap": statistics.fmean(gaps) if gaps else None,
            "mean_objective": statistics.fmean(objs) if objs else None,
            "best_objective_instances": wins,
            "instances_with_objective": len(objs),
        })
    return rows


def _mean_sd(values) -> tuple[float | None, float | None]:
    values = [float(v) for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def accuracy_rows(records: list[dict]) -> list[dict]:
    """The per-data-set accuracy table: one row per data set and variant (all seeds pooled)."""
    groups = defaultdict(list)
    for r in records:
        c = r["config"]
        variant = tuple(config_value(c, f) for f in _VARIANT_FIELDS)
        groups[(c["dataset"], variant)].append(r)
    rows = []
    order = sorted(groups.items(), key=lambda kv: (kv[0][0], [str(v) for v in kv[0][1]]))
    for (dataset, variant), rs in order:
        ok = [r for r in rs if (r.get("accuracy") or {}).get("test") is not None]
        row = {"dataset": dataset, **dict(zip(_VARIANT_FIELDS, variant, strict=True)),
               "cells": len(rs), "evaluated": len(ok)}
        for part in ("train", "validation", "test"):
            mean, sd = _mean_sd(r["accuracy"][part] for r in ok)
            row[f"{part}_mean"], row[f"{part}_sd"] = mean, sd
        row["mean_wall_seconds"] = _mean_sd(r.get("wall_seconds") for r in rs)[0]
        row["seeds"] = " ".join(str(s) for s in sorted({r["config"]["seed"] for r in rs}))
        row["chosen"] = _chosen(rs)
        rows.append(row)
    return rows


# -- output helpers --------------------------------------------------------------------------------


def _fmt(value, spec: str = "{:.3g}") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return spec.format(value)
    return str(value)


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        return str(v).replace("|", "\\|")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def _write_csv(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    fields = fields or (list(rows[0]) if rows else [])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})


# -- plots ------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib  # lazy: optional dependency (matplotlib, the experiments extra)

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # lazy: optional dependency (matplotlib, the experiments extra)

    return plt


_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"), ((0, (1, 3)), "P"))
"""Line style and marker per curve, cycled, so that curves drawn over each other stay visible."""


def _style(i: int, n: int) -> dict:
    """Matplotlib keywords for the ``i``-th of ``n`` curves: wider lines first (drawn below)."""
    linestyle, marker = _STYLES[i % len(_STYLES)]
    return {"color": f"C{i % 10}", "linestyle": linestyle, "marker": marker,
            "linewidth": 1.2 + 1.6 * (n - 1 - i) / max(n - 1, 1), "zorder": 2 + i}


def _ratio_ticks(ax, tau_max: float) -> None:
    """Plain-number ticks (1, 1.5, 2, 5, 10, ...) on the log-scaled ratio axis."""
    from matplotlib.ticker import (  # lazy: optional dependency (matplotlib, the experiments extra)
        FixedLocator,
        FuncFormatter,
        NullLocator,
    )

    candidates = [1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
                  20000, 50000, 100000]
    ticks = [t for t in candidates if t <= tau_max]
    while len(ticks) > 8:  # keep every other one (always 1 and the largest)
        ticks = ticks[::2] if ticks[-1] == ticks[::2][-1] else [*ticks[::2], ticks[-1]]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())


def plot_performance_profile(records: list[dict], path: Path) -> bool:
    """Performance profile of solve times across backends; False if there are no BDNN cells.

    Curves that coincide are drawn with different line styles, markers and widths and say in
    the legend which curve they repeat; the ratio axis is log-scaled with plain-number ticks.
    """
    bdnn = _bdnn(records)
    if not bdnn:
        return False
    backends = sorted({_solver(r["config"]) for r in bdnn})
    instances = defaultdict(dict)
    for r in bdnn:
        solved = r.get("status") == "optimal" and r.get("solve_seconds") is not None
        t = max(float(r["solve_seconds"]), MIN_TIME) if solved else math.inf
        instances[_instance(r["config"])][_solver(r["config"])] = t
    ratios = {b: [] for b in backends}
    for times in instances.values():
        best = min(times.values(), default=math.inf)
        for b in backends:
            t = times.get(b, math.inf)
            ratios[b].append(t / best if math.isfinite(best) and math.isfinite(t) else math.inf)
    finite = [x for rs in ratios.values() for x in rs if math.isfinite(x)]
    tau_max = max(2.0, max(finite, default=1.0) * 1.5)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    n = len(instances)
    curves: dict[tuple, str] = {}
    for i, b in enumerate(backends):
        xs = sorted(x for x in ratios[b] if math.isfinite(x))
        steps_x = [1.0] + xs + [tau_max]
        steps_y = [0.0] + [(i + 1) / n for i in range(len(xs))] + [len(xs) / n]
        same = curves.setdefault(tuple(round(x, 9) for x in xs), b)
        label = f"{b} ({len(xs)}/{n} solved)" + (f", same curve as {same}" if same != b else "")
        ax.step(steps_x, steps_y, where="post", label=label,
                markevery=max(1, len(steps_x) // 12), markersize=5, **_style(i, len(backends)))
    ax.set_xscale("log")
    ax.set_xlim(1.0, tau_max)
    _ratio_ticks(ax, tau_max)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("solve time / fastest backend's solve time on the instance (ratio, log scale)")
    ax.set_ylabel("fraction of instances solved to optimality")
    ax.set_title(f"Performance profile of solve times ({n} instances)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    if not finite:
        ax.text(0.5, 0.5, "no instance solved to optimality", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _variant_label(config: dict, varying: set[str]) -> str:
    parts = [config["dataset"]]
    for f in ("strategy", "backend", "formulation", "hidden", "weight_domain", "time_limit",
              "time_budget", "params", "robust_radius", "max_points"):
        if f not in varying and f not in ("strategy", "backend"):
            continue
        v = config_value(config, f)
        if v == "" or v is None:
            continue
        if f == "robust_radius":
            v = f"robust training r={v:g}" if v else "standard training"
        elif f == "hidden":
            v = f"hidden={v}"
        elif f in ("time_limit", "time_budget"):
            v = f"{'limit' if f == 'time_limit' else 'budget'}={v:g}s"
        elif f == "max_points":
            v = f"points={v}"
        elif f == "params":
            v = " ".join(f"{k}={p}" for k, p in sorted((config.get("params") or {}).items()))
        parts.append(str(v))
    return ", ".join(parts)


def _varying(records: list[dict]) -> set[str]:
    out = set()
    for f in _VARIANT_FIELDS:
        if len({json.dumps(config_value(r["config"], f)) for r in records}) > 1:
            out.add(f)
    return out


def _seed_note(counts: list[int]) -> str:
    """``mean of N seeds``, or how the count falls where it varies along a curve."""
    top = max(counts)
    if min(counts) == top:
        return f"mean of {top} seed{'s' if top != 1 else ''}"
    return f"mean of up to {top} seeds: {min(counts)} at fewest"


def _legend_below(fig, ax, n_entries: int) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=1, frameon=False)
    fig.set_size_inches(6.4, 4.2 + 0.16 * n_entries)


def plot_accuracy_vs_splits(records: list[dict], path: Path) -> bool:
    """Training and validation accuracy against splits (``split`` cells with a history).

    Each point is the mean over the seeds whose run reached that many splits; a run stops
    early when no split helps, so the number of seeds behind a point can fall along a curve:
    where it does, the markers are hollow, and a lower panel shows the count per split.
    """
    runs = [r for r in _bdnn(records) if r["config"].get("strategy") == "split"
            and any("split" in h for h in r.get("history") or [])]
    if not runs:
        return False
    varying = _varying(runs)
    groups = defaultdict(list)
    for r in runs:
        groups[_variant_label(r["config"], varying)].append(r["history"])
    curves = []  # (label, color, field name, style, ks, means, counts)
    for i, (label, histories) in enumerate(sorted(groups.items())):
        for field, style, name in (("validation_accuracy", "-", "validation"),
                                   ("train_accuracy", "--", "train")):
            by_k = defaultdict(list)
            for hist in histories:
                for h in hist:
                    if h.get(field) is not None and h.get("split") is not None:
                        by_k[int(h["split"])].append(float(h[field]))
            if by_k:
                ks = sorted(by_k)
                curves.append((label, f"C{i % 10}", name, style, ks,
                               [statistics.fmean(by_k[k]) for k in ks], [len(by_k[k]) for k in ks]))
    varies = any(min(c[6]) < max(c[6]) for c in curves)
    plt = _pyplot()
    if varies:
        fig, (ax, ax_n) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 5.6),
                                       gridspec_kw={"height_ratios": [3, 1]})
    else:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax_n = None
    for label, color, name, style, ks, means, counts in curves:
        ax.plot(ks, means, style, color=color, marker="o" if style == "-" else None,
                markersize=3, label=f"{label}: {name} ({_seed_note(counts)})")
        fewer = [j for j, c in enumerate(counts) if c < max(counts)]
        if style == "-" and fewer:
            ax.plot([ks[j] for j in fewer], [means[j] for j in fewer], "o", color=color,
                    markerfacecolor="white", markersize=4)
        if style == "-" and ax_n is not None:
            ax_n.step(ks, counts, where="mid", color=color)
    from matplotlib.ticker import MaxNLocator  # lazy: optional dependency (matplotlib, the experiments extra)

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy (fraction of points correct)")
    ax.set_title("Data splitting: accuracy against splits")
    ax.grid(True, alpha=0.3)
    bottom = ax
    if ax_n is not None:
        ax_n.set_ylabel("seeds")
        ax_n.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_n.set_ylim(0, max(max(c[6]) for c in curves) + 0.5)
        ax_n.grid(True, alpha=0.3)
        ax_n.set_title("seeds whose run reached the split (hollow markers above: fewer than all)",
                       fontsize=8)
        bottom = ax_n
    bottom.set_xlabel("number of splits done (clusters - 1)")
    fig.tight_layout()
    bottom.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="upper left",
                  bbox_to_anchor=(0.0, -0.45 if ax_n is not None else -0.16), frameon=False)
    fig.set_size_inches(6.4, fig.get_size_inches()[1] + 0.16 * len(curves))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


def plot_certified(records: list[dict], path: Path) -> bool:
    """Certified test accuracy against the radius, per variant (mean over seeds).

    Radius 0 is always plotted: certified accuracy there is the test accuracy (a point is
    certified at radius 0 exactly when it is classified correctly). The legend says how each
    variant was trained (``standard training`` or ``robust training r=...``).
    """
    runs = [r for r in _bdnn(records) if r.get("certified")]
    if not runs:
        return False
    varying = _varying(runs) | {"robust_radius"}
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        label = _variant_label(r["config"], varying)
        entries = {float(e["radius"]): e.get("accuracy") for e in r["certified"]}
        test = (r.get("accuracy") or {}).get("test")
        if 0.0 not in entries and test is not None:
            entries[0.0] = test
        for radius, acc in entries.items():
            if acc is not None:
                groups[label][radius].append(float(acc))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (label, by_r) in enumerate(sorted(groups.items())):
        rs = sorted(by_r)
        counts = [len(by_r[x]) for x in rs]
        style = _style(i, len(groups))
        style["linewidth"] = 1.4
        ax.plot(rs, [statistics.fmean(by_r[x]) for x in rs], markersize=4,
                label=f"{label} ({_seed_note(counts)})", **style)
        for x, c in zip(rs, counts, strict=True):
            if c < max(counts):
                ax.annotate(f"n={c}", (x, statistics.fmean(by_r[x])), textcoords="offset points",
                            xytext=(2, 4), fontsize=6, color=style["color"])
    ax.set_xlabel("l-inf radius (scaled units: fraction of each feature's training range)")
    ax.set_ylabel("certified test accuracy (fraction of test points)")
    ax.set_title("Certified accuracy against radius (exact certificates; radius 0: test accuracy)",
                 fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    _legend_below(fig, ax, len(groups))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


# -- the report -------------------------------------------------------------------------------------


class PlotsSkippedWarning(UserWarning):
    """``report`` wrote no plots because matplotlib is not installed."""


class ReportFiles(dict):
    """The files a report wrote, by name (``markdown``, ``cells_csv``, ``performance_profile``...)."""


def report(store, out_dir=None, *, title: str | None = None) -> ReportFiles:
    """Write the Markdown and CSV tables and the PNG plots of ``store`` into ``out_dir``.

    Parameters
    ----------
    store : ResultStore or path
        The JSON-lines results store.
    out_dir : path, optional
        Output folder (created); default ``<store stem>-report`` next to the store.
    title : str, optional
        The Markdown title.

    Returns
    -------
    ReportFiles
        Paths written, by name.
    """
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    if not store.path.is_file():
        raise InvalidInputError(f"results store {store.path} was not found; run 'bnnmip compare' first")
    records = list(store.latest().values())
    if not records:
        raise InvalidInputError(f"results store {store.path} holds no complete record")
    for rec in records:
        if not isinstance(rec.get("config"), dict):
            raise InvalidInputError(
                f"results store {store.path}: the record of key {rec.get('key')!r} has no 'config' "
                "object, so it was not written by 'bnnmip compare'; remove that line (or restore the "
                "store) and report again"
            )
    out = Path(out_dir) if out_dir is not None else store.path.with_name(store.path.stem + "-report")
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"report output {out} is a file; give a folder (--output DIR), which "
                                "is created if missing")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _write_report(store, records, out, title)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write the report into {out}: {exc.strerror or exc}; give a writable folder with "
            "--output"
        ) from None


def _write_report(store, records, out: Path, title) -> ReportFiles:
    """The work of :func:`report` once the records and the folder are checked."""
    files = ReportFiles()


    cell_columns, cells = tidy_records(records)
    files["cells_csv"] = out / "cells.csv"
    _write_csv(files["cells_csv"], cells, cell_columns)
    brows = backend_rows(records)
    files["backends_csv"] = out / "backends.csv"
    _write_csv(files["backends_csv"], brows, list(brows[0]) if brows else [
        "strategy", "formulation", "backend", "solver_version", "cells", "optimal", "feasible",
        "failed", "crashed", "hung", "sgm_solve_seconds", "mean_gap", "mean_objective",
        "best_objective_instances", "instances_with_objective"])
    arows = accuracy_rows(records)
    files["accuracy_csv"] = out / "accuracy.csv"
    _write_csv(files["accuracy_csv"], arows)

    plots, plot_note = {}, None
    try:
        _pyplot()
    except ImportError:
        plot_note = ("plots skipped: matplotlib is not installed (pip install matplotlib, or "
                     "pip install 'bnnmip[experiments]')")
        warnings.warn(plot_note, PlotsSkippedWarning, stacklevel=2)
    else:
        for name, fn in (("performance_profile", plot_performance_profile),
                         ("accuracy_vs_splits", plot_accuracy_vs_splits),
                         ("certified_accuracy", plot_certified)):
            path = out / f"{name}.png"
            if fn(records, path):
                plots[name] = path
    files.update(plots)

    lines = _markdown(store, records, brows, arows, plots, plot_note, title)
    files["markdown"] = out / "report.md"
    files["markdown"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def _markdown(store, records, brows, arows, plots, plot_note, title) -> list[str]:
    """The report's Markdown: header, backends, accuracy per data set, failures, plots."""
    return [
        *_md_header(store, records, title),
        *_md_backends(brows),
        *_md_accuracy(arows),
        *_md_failures(records),
        *_md_plots(plots, plot_note),
        "Tables as CSV: `cells.csv` (one row per cell), `backends.csv`, `accuracy.csv`.",
    ]


def _md_header(store, records, title) -> list[str]:
    """Title, cell counts, versions, executors, machines and the protocol."""
    status = Counter(r.get("status") for r in records)
    machines = Counter(
        (m.get("node"), m.get("processor"), m.get("cpu_count"), m.get("platform"))
        for m in (r.get("machine") or {} for r in records)
    )
    bnnmip_versions = sorted({(r.get("versions") or {}).get("bnnmip") or "?" for r in records})
    executors = Counter(r.get("executor") or "?" for r in records)
    started = sorted(r["started"] for r in records if r.get("started"))
    finished = sorted(r["finished"] for r in records if r.get("finished"))
    return [
        f"# {title or 'bnnmip experiment report'}",
        "",
        f"Store: `{store.path}`, {len(records)} cell(s): "
        + ", ".join(f"{v} {k}" for k, v in sorted(status.items(), key=lambda kv: str(kv[0]))) + ".",
        f"bnnmip {', '.join(bnnmip_versions)}; executors: "
        + ", ".join(f"{k} ({v})" for k, v in sorted(executors.items())) + "."
        + (f" Cells ran from {started[0]} to {finished[-1]}." if started and finished else ""),
        "",
        "Machines: " + "; ".join(
            f"{node} ({proc}, {cpus} CPUs, {plat}): {n} cell(s)"
            for (node, proc, cpus, plat), n in sorted(machines.items(), key=lambda kv: str(kv[0]))
        ) + ".",
        "",
        "Protocol: min-max scaling fitted on the training points; train/validation/test "
        "split stratified by seed (default 50/25/25); `split` trains on train + validation and "
        "selects on validation, the other strategies and the baselines train on the training "
        "part (the tuned MLP and logistic regression choose their settings on the validation "
        "part); one solver thread per cell, one cell per worker process.",
        "",
    ]


def _md_backends(brows) -> list[str]:
    """The backend table (solve times, statuses, objectives), if any cell used a backend."""
    if not brows:
        return []
    lines = [
        "## Backends",
        "",
        "Solve time: shifted geometric mean (shift 1 s) of the summed solve seconds; a cell "
        "not solved to optimality counts at its time limit (its time budget for multi-solve "
        "strategies). Best objective: instances (the same cell on every backend) where the "
        "backend's objective is the lowest found.",
        "",
    ]
    header = ["strategy", "formulation", "backend", "solver", "cells", "optimal", "feasible",
              "failed", "crashed", "hung", "time (sgm, s)", "mean gap", "mean objective",
              "best objective"]
    rows = [[b["strategy"], b["formulation"], b["backend"], b["solver_version"] or "-",
             b["cells"], b["optimal"], b["feasible"], b["failed"], b["crashed"], b["hung"],
             _fmt(b["sgm_solve_seconds"], "{:.2f}"), _fmt(b["mean_gap"], "{:.2%}"),
             _fmt(b["mean_objective"], "{:.4g}"),
             f"{b['best_objective_instances']}/{b['instances_with_objective']}"]
            for b in brows]
    return lines + _md_table(header, rows) + [""]


def _md_accuracy(arows) -> list[str]:
    """One accuracy table per data set (mean ± standard deviation over seeds)."""
    lines = ["## Accuracy per data set", "",
             "Mean ± standard deviation over seeds of the cells that produced a model.", ""]
    varying = {f for f in _VARIANT_FIELDS if len({str(r[f]) for r in arows}) > 1}
    shown = [f for f in _VARIANT_FIELDS if f in _ALWAYS or f in varying]
    for dataset in sorted({r["dataset"] for r in arows}):
        lines += [f"### {dataset}", ""]
        mine = [r for r in arows if r["dataset"] == dataset]
        chosen = any(r.get("chosen") for r in mine)
        header = [*shown, "cells", "train", "validation", "test", "wall s (mean)",
                  *(["chosen (over seeds)"] if chosen else [])]
        rows = []
        for r in mine:
            label = [r[f] if r[f] != "" else "-" for f in shown]
            label[0] = BASELINE_LABELS.get(r["model"], label[0])
            if "params" in shown and r["model"] in ("mlp-tuned", "logistic"):
                label[shown.index("params")] = _grid_summary(r["params"])
            accs = [f"{_fmt(r[f'{p}_mean'], '{:.3f}')} ± {_fmt(r[f'{p}_sd'], '{:.3f}')}"
                    if r[f"{p}_mean"] is not None else "-" for p in ("train", "validation", "test")]
            rows.append([*label, f"{r['evaluated']}/{r['cells']}", *accs,
                         _fmt(r["mean_wall_seconds"], "{:.1f}"), *([r["chosen"] or "-"] if chosen else [])])
        lines += _md_table(header, rows) + [""]
    return lines


def _md_failures(records) -> list[str]:
    """The cells that crashed, hung or failed, with the first line of their message."""
    failed = [r for r in records if r.get("status") in ("crashed", "hung", "failed")]
    if not failed:
        return []
    rows = [[r["key"], r["config"].get("dataset"), r["config"].get("backend") or "-",
             r["config"].get("strategy") or r["config"].get("model"), r["config"].get("seed"),
             r.get("status"), (r.get("message") or "").splitlines()[0][:160] if r.get("message") else ""]
            for r in failed]
    return (["## Cells without a model", ""]
            + _md_table(["key", "dataset", "backend", "strategy", "seed", "status", "message"], rows) + [""])


def _md_plots(plots, plot_note) -> list[str]:
    """The plots section (or why it has no plots)."""
    if not (plots or plot_note):
        return []
    lines = ["## Plots", ""]
    captions = {
        "performance_profile": "Performance profile of solve times across backends",
        "accuracy_vs_splits": "Accuracy against the number of splits (`split` cells)",
        "certified_accuracy": "Certified test accuracy against the radius",
    }
    for name, path in plots.items():
        lines += [f"![{captions[name]}]({path.name})", ""]
    if plot_note:
        lines += [plot_note, ""]
    return lines
