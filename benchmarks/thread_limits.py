"""``split`` from the estimator with and without the numeric thread limit, alternating.

    python benchmarks/thread_limits.py [--repeats 3]

Trains iris (75 % of it, seed 0) with ``BDNNClassifier(hidden_layer_sizes=(2,),
strategy="split")`` on HiGHS, one thread, alternately inside the training run's thread limit
(:func:`bnnmip.training.threads.numeric_threads`, the default) and without it (scikit-learn's
k-means then starts one OpenMP thread per core). Prints the fit's wall time, the solver's
share and the objective (the same either way).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import bnnmip.training.trainer as trainer
from bnnmip.datasets import load_dataset, split_dataset
from bnnmip.estimator import BDNNClassifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ds = load_dataset("iris")
    X_train, _, y_train, _ = split_dataset(ds.X, ds.y, test_size=0.25, seed=0)
    limited = trainer.numeric_threads
    for _ in range(args.repeats):
        for mode in ("limited", "unlimited"):
            trainer.numeric_threads = limited if mode == "limited" else (lambda n: contextlib.nullcontext())
            t = time.perf_counter()
            clf = BDNNClassifier(hidden_layer_sizes=(2,), strategy="split", random_state=0,
                                 time_limit=60).fit(X_train, y_train)
            r = clf.training_result_
            print(f"{mode:9} fit {time.perf_counter() - t:5.2f} s, solver "
                  f"{sum(s.solve_seconds for s in r.solves):5.2f} s, objective {r.objective:g}", flush=True)
    trainer.numeric_threads = limited


if __name__ == "__main__":
    main()
