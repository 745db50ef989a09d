"""Predictions per second of a saved network: numpy, the C export and onnxruntime, side by side.

    python benchmarks/deploy_speed.py MODEL.json [--data digits] [--repeats 5] [--output docs/benchmarks/deploy.md]
    python benchmarks/deploy_speed.py --random 256 256 [--weights ternary] --output ... --append

``--random W ...`` times a seeded random network with those hidden widths on DATA's inputs
(weights uniform over the domain, scaling fitted on DATA) instead of a saved one: speed depends
on the shape and the weight domain, not on what the weights learnt. ``--append`` adds a section
to the report instead of rewriting it.

Every runtime first predicts every point of DATA once and must agree with numpy on all of them
(the benchmark refuses to time a wrong export). Then, one thread each (OPENBLAS/OMP threads
set to 1 before numpy loads):

- numpy batch: ``network.predict_index(X)`` on all points at once; numpy per point: one call
  per row (what a service answering one request at a time pays);
- C: the generated harness (``-O2 -ffp-contract=off``) calls ``<name>_predict`` once per row,
  timed inside the process with ``clock()`` (no process start, no parsing);
- onnxruntime batch: one ``session.run`` on all points; per point: one ``run`` per row.

Each figure is the best of ``--repeats`` timed runs (C: of runs of ``--c-loops`` passes over
the data). Timings are wall-clock and vary with the machine and its load; agreement does not.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bnnmip.datasets import load_inputs  # noqa: E402
from bnnmip.deploy.c import compile_harness, export_c, find_compiler, run_harness  # noqa: E402
from bnnmip.deploy.footprint import footprint, format_footprint  # noqa: E402
from bnnmip.network import BinarizedNetwork  # noqa: E402


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def random_network(X, hidden, n_classes, weights):
    from bnnmip.ir import WeightDomain
    from bnnmip.network import InputScaling

    rng = np.random.default_rng(0)
    dom = WeightDomain.parse(weights)
    widths = [X.shape[1], *hidden, n_classes]
    Ws, bs = [], []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        if dom.is_integer:
            Ws.append(rng.integers(-dom.bound, dom.bound + 1, (b, a)).astype(float))
            bs.append(rng.uniform(-2, 2, b) + (0.0 if len(Ws) == 1 else -0.5))
        else:
            Ws.append(rng.uniform(-1, 1, (b, a)))
            bs.append(rng.uniform(-1, 1, b))
    return BinarizedNetwork.from_arrays(Ws, bs, weight_domain=dom, scaling=InputScaling.fit(X))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path, nargs="?")
    ap.add_argument("--random", type=int, nargs="+", metavar="WIDTH", help="hidden widths of a random network")
    ap.add_argument("--weights", default="ternary", help="weight domain of the --random network")
    ap.add_argument("--append", action="store_true", help="append a section to --output")
    ap.add_argument("--data", default="digits")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--c-loops", type=int, default=200, help="passes over the data per timed C run")
    ap.add_argument("--single-limit", type=int, default=500,
                    help="points timed one call at a time for numpy/onnxruntime per-point figures")
    ap.add_argument("--output", type=Path, help="write a Markdown report here")
    args = ap.parse_args(argv)

    if (args.model is None) == (args.random is None):
        ap.error("give a MODEL file or --random WIDTHS")
    if args.model is not None:
        net = BinarizedNetwork.load(args.model)
        X, _ = load_inputs(args.data, n_features=net.widths[0])
        label = f"`{args.model.name}`"
    else:
        from bnnmip.datasets import load_dataset

        ds = load_dataset(args.data)
        X = ds.X
        net = random_network(X, args.random, len(np.unique(ds.y)), args.weights)
        label = f"a random network (seed 0, `--random {' '.join(map(str, args.random))} --weights {args.weights}`)"
    X = np.ascontiguousarray(X, dtype=np.float64)
    m = len(X)
    ref = net.predict_index(X)
    rows = []

    t = best_of(lambda: net.predict_index(X), args.repeats)
    rows.append(("numpy, batch", m / t))
    k = min(args.single_limit, m)
    t = best_of(lambda: [net.predict_index(X[i : i + 1]) for i in range(k)], args.repeats)
    rows.append(("numpy, one point per call", k / t))

    cc = find_compiler()
    c_note = "no C compiler"
    if cc:
        with tempfile.TemporaryDirectory() as tmp:
            export_c(net, tmp, "bench")
            exe = compile_harness(tmp, "bench")
            got = run_harness(exe, X)
            assert np.array_equal(got, ref), f"C export disagrees on {np.sum(got != ref)} points"
            data = Path(tmp) / "x.csv"
            data.write_text("\n".join(",".join(repr(float(v)) for v in r) for r in X) + "\n")
            secs = []
            for _ in range(args.repeats):
                p = subprocess.run([str(exe), str(data), str(args.c_loops)], capture_output=True,
                                   text=True, check=True)
                secs.append(float(p.stderr.strip()))
            rows.append(("C export, one point per call", m * args.c_loops / min(secs)))
            ver = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()
            c_note = ver[0] if ver else cc

    ort_note = "onnxruntime not installed"
    try:
        import onnxruntime as ort

        from bnnmip.deploy.onnx import onnx_predict, to_onnx
    except ImportError:
        ort = None
    if ort is not None:
        model = to_onnx(net).SerializeToString()
        assert np.array_equal(onnx_predict(model, X), ref), "ONNX export disagrees"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        t = best_of(lambda: sess.run(["index"], {"input": X}), args.repeats)
        rows.append(("onnxruntime, batch", m / t))
        t = best_of(lambda: [sess.run(["index"], {"input": X[i : i + 1]}) for i in range(k)], args.repeats)
        rows.append(("onnxruntime, one point per call", k / t))
        ort_note = f"onnxruntime {ort.__version__}"

    base = rows[0][1]
    table = ["| runtime | predictions / s | vs numpy batch |", "|---|---:|---:|"]
    table += [f"| {name} | {rate:,.0f} | {rate / base:.2f}x |" for name, rate in rows]
    env = (f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
           f"numpy {np.__version__}, {c_note}, {ort_note}; one thread each")
    text = "\n".join(table)
    print(f"{label}: {' -> '.join(map(str, net.widths))} {net.weight_domain}, {m} points of {args.data}; "
          "all runtimes agree with numpy on every point")
    print(text)
    print(env)
    print(format_footprint(footprint(net)))
    if args.output:
        cmd = "python benchmarks/deploy_speed.py " + " ".join(sys.argv[1:])
        shape = " -> ".join(map(str, net.widths))
        head = f"\n## {shape}, {net.weight_domain}\n\n" if args.append else (
            "# Deploy speed: numpy, C export, onnxruntime\n\n")
        body = (
            f"Command: `{cmd}`\n\n"
            f"Model: {label}, {shape}, {net.weight_domain} weights; data: {args.data}, {m} points. "
            "Every runtime agreed with numpy on every point before timing.\n\n"
            f"{text}\n\nMachine: {env}.\n\nFootprint (`bnnmip inspect`):\n\n```\n"
            f"{format_footprint(footprint(net))}\n```\n"
        )
        with open(args.output, "a" if args.append else "w") as fh:
            fh.write(head + body)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
