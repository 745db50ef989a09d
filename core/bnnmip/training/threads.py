"""Thread limits for the numeric libraries a training run calls (scikit-learn, BLAS, OpenMP).

A training run's solver uses ``options.threads`` threads; the numeric code around it
(scikit-learn's k-means in ``split``'s splitter, numpy's BLAS in the gradient start) would
otherwise start one OpenMP or BLAS thread per core. On a small machine shared with the solver
those threads compete for the same cores: ``split`` from ``bnnmip train`` was 4 to 9 times
slower than from ``bnnmip compare`` (whose worker processes set ``OMP_NUM_THREADS=1``) on
2 cores. :func:`numeric_threads` limits them to the run's thread count, through
``threadpoolctl`` (which also covers libraries loaded later in the block).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

__all__ = ["numeric_threads"]


@contextlib.contextmanager
def numeric_threads(threads: int = 1) -> Iterator[None]:
    """Limit BLAS and OpenMP thread pools (scikit-learn's included) to ``threads`` meanwhile."""
    with threadpool_limits(limits=max(1, int(threads))):
        yield
