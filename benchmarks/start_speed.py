"""The gradient start's speed and success against another commit's, side by side in one process.

    python benchmarks/start_speed.py --baseline DIR [--seeds 60] [--time-limit 5]
                                     [--output docs/benchmarks/start-speed.md]

``DIR`` is a source tree of the commit to compare with (``git archive <commit> | tar -x -C
DIR``); its ``core/bnnmip`` is imported as a second package, so both versions run in this
process, one instance after the other (which one goes first alternates). Timed: what the
``exact`` strategy does for its start, :func:`bnnmip.heuristics.ste_network` (seed 0, bias box 1,
``--time-limit`` seconds) followed by :func:`bnnmip.heuristics.pattern_fit.realize` (eps 1e-5).

Instances (10 inputs, 2 classes): random labels on ``[0, 1]^10`` with 2 hidden neurons, m =
25, 35, 50 (seeds 230..229 + ``--seeds``; the held-out set the start's docstring reports);
random teachers with 2 and 4 hidden neurons, m = 25, 100, 500, 1000 (seeds 400..409).
Reported per group: instances fitted exactly (loss 0 after ``realize``), mean and shifted
geometric mean (shift 1 s) of the seconds, and the ratio baseline / this tree.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
from pathlib import Path

import numpy as np

SHIFT = 1.0


def load_baseline(tree: Path):
    """``tree/core/bnnmip`` imported as the package ``bnnmip_baseline``."""
    init = tree / "core" / "bnnmip" / "__init__.py"
    if not init.exists():
        raise SystemExit(f"--baseline: {init} not found; pass a source tree (git archive <commit> | tar -x)")
    spec = importlib.util.spec_from_file_location("bnnmip_baseline", init,
                                                  submodule_search_locations=[str(init.parent)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["bnnmip_baseline"] = pkg
    spec.loader.exec_module(pkg)
    return (importlib.import_module("bnnmip_baseline.ste"), importlib.import_module("bnnmip_baseline.pattern_fit"),
            importlib.import_module("bnnmip_baseline.ir"))


def instances(seeds: int):
    from bnnmip.testing import random_teacher

    for m in (25, 35, 50):
        for seed in range(230, 230 + seeds):
            rng = np.random.default_rng(seed)
            yield f"random h2 m{m}", (2,), rng.uniform(0, 1, (m, 10)), rng.integers(0, 2, m)
    for h in (2, 4):
        for m in (25, 100, 500, 1000):
            for seed in range(400, 410):
                _, data = random_teacher(10, (h,), 2, m, seed=seed)
                yield f"teacher h{h} m{m}", (h,), data.X, data.y


def start(mods, hidden, X, y, time_limit):
    """Seconds and training loss of the gradient start as ``exact`` makes it, in package ``mods``."""
    ste, pattern_fit, ir = mods
    arch = ir.Architecture(X.shape[1], hidden, 2)
    data = ir.TrainingSet.from_arrays(X, y)
    t0 = time.perf_counter()
    raw = ste.ste_network(arch, data, seed=0, time_limit=time_limit, bias_bound=1.0)
    fit = pattern_fit.realize(raw, arch, data.X, eps=1e-5, bias_bounds=[1.0] * arch.n_layers)
    seconds = time.perf_counter() - t0
    net = fit.network if fit.realized else raw
    return seconds, float(np.sum(net.predict_index(data.X, scaled=True) != data.y))


def sgm(t):
    return float(np.exp(np.mean(np.log(np.asarray(t) + SHIFT))) - SHIFT)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--seeds", type=int, default=60)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--output", type=Path, default=None)
    ap.add_argument("--label", default="baseline", help="name of the baseline in the report (e.g. its commit)")
    args = ap.parse_args(argv)
    import bnnmip
    from bnnmip import ir, pattern_fit, ste

    versions = {args.label: load_baseline(args.baseline), "this tree": (ste, pattern_fit, ir)}
    rows: dict[str, dict[str, list]] = {}
    for k, (group, hidden, X, y) in enumerate(instances(args.seeds)):
        names = list(versions) if k % 2 == 0 else list(versions)[::-1]
        for name in names:
            rows.setdefault(group, {}).setdefault(name, []).append(start(versions[name], hidden, X, y,
                                                                         args.time_limit))
    lines = [
        "# Gradient start: speed and success, side by side",
        "",
        f"`python benchmarks/start_speed.py --baseline DIR --label {args.label} --seeds {args.seeds} "
        f"--time-limit {args.time_limit:g}`; what is timed: the docstring of `benchmarks/start_speed.py`. "
        f"Both versions in one process, bnnmip {bnnmip.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}.",
        "",
        f"| instances | n | fitted ({args.label} / this tree) | mean s ({args.label} / this tree) "
        f"| sgm s ({args.label} / this tree) | speed-up (sgm) |",
        "|---|---|---|---|---|---|",
    ]
    a_all, b_all = [], []
    for group, res in rows.items():
        a, b = res[args.label], res["this tree"]
        ta, tb = [s for s, _ in a], [s for s, _ in b]
        a_all += ta
        b_all += tb
        fa, fb = sum(loss == 0 for _, loss in a), sum(loss == 0 for _, loss in b)
        lines.append(f"| {group} | {len(a)} | {fa} / {fb} | {np.mean(ta):.4f} / {np.mean(tb):.4f} | "
                     f"{sgm(ta):.4f} / {sgm(tb):.4f} | {sgm(ta) / sgm(tb):.1f}x |")
    lines.append(f"| all | {len(a_all)} | | {np.mean(a_all):.4f} / {np.mean(b_all):.4f} | "
                 f"{sgm(a_all):.4f} / {sgm(b_all):.4f} | {sgm(a_all) / sgm(b_all):.1f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output is not None:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
