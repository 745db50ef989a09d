"""The certification MILP: "some x' in the ball changes the prediction", with lazy no-good cuts.

Used by the certifier for points with more flippable first-layer neurons than it enumerates
(see :mod:`bnnmip.robustness` for the method and its exactness argument). The rows use the
*closed* sign convention (``a = 1`` => ``t >= 0``, ``a = 0`` => ``t <= 0``), which
over-approximates the adversary, so an infeasible MILP is a sound certificate; a solution is
checked with the forward pass, and a layer-1 pattern that does not change the prediction is
cut off and the MILP solved again.
"""

from __future__ import annotations

import numpy as np

from ..backends import solve
from ..backends.results import SolveOptions, SolveStatus
from ..milp import RowKind
from ..milp.builder import ProblemBuilder
from ..network import PredictionRule
from .certificate import ATTACKABLE, CERTIFIED, MAX_CUTS, SLACK_TOLERANCE, UNKNOWN

__all__ = ["MilpFallback"]


class MilpFallback:
    """The MILP part of the certifier.

    A mixin: it uses the certifier's network, radius, backend, time checks, pattern LPs and
    forward-pass confirmation.
    """

    def _milp(self, x, y, t0, F):
        """Feasibility MILP over the ball with lazy no-good cuts on layer-1 patterns."""
        built = self._milp_build(x, y, t0)
        if built is None:
            return CERTIFIED, "milp", None
        pb, a1_cols = built
        base = (t0 > 0).astype(float)
        scale = np.abs(t0[F]) + self.reach[F]
        g, h = t0[F] / scale, self.r * self.W1[F] / scale[:, None]
        ambiguous = False
        for n_cut in range(MAX_CUTS + 1):
            self._check_time()
            problem = pb.build(np.zeros(pb.n_cols), 0.0, "bnnmip-certify")
            self.milp_solves += 1
            res = solve(self.backend, problem, SolveOptions(time_limit=self._remaining(), threads=1))
            if res.status is SolveStatus.INFEASIBLE:
                return (UNKNOWN if ambiguous else CERTIFIED), "milp", None
            if not (res.status.has_solution and res.x is not None):
                return UNKNOWN, "milp", None  # time limit or solver error
            u = problem.columns["u"].take(res.x)
            ce = self._confirm(x, u, y)
            if ce is not None:
                return ATTACKABLE, "milp", ce
            # The closed sign convention let the MILP through at some t = 0 exactly. Decide its
            # layer-1 pattern exactly (forward pass + LP), then cut it off and solve again.
            bits = np.round(res.x[a1_cols]).astype(int)
            pattern = base.copy()
            pattern[F] = bits
            if self._predict_from_layer1(pattern[None, :])[0] != y:
                s, u1 = self._pattern_lp(g, h, tuple(bits), symmetric=False)
                if s >= -SLACK_TOLERANCE:
                    s2, u2 = self._pattern_lp(g, h, tuple(bits), symmetric=True)
                    for cand in ((u2, u1) if s2 > 0 else (u1, u2)):
                        ce = self._confirm(x, cand, y)
                        if ce is not None:
                            return ATTACKABLE, "milp", ce
                    ambiguous = True
            if n_cut == MAX_CUTS:
                break
            # no-good cut: sum_{off} a_j - sum_{on} a_j >= 1 - |on|
            on = bits == 1
            pb.add_rows(f"cut{n_cut}", RowKind.ORDER, 1,
                        [(np.zeros(F.size, dtype=np.int64), a1_cols, np.where(on, -1.0, 1.0))],
                        1.0 - np.count_nonzero(on), np.inf)
        return UNKNOWN, "milp", None

    def _milp_build(self, x, y, t0):
        """The MILP "some x' in the ball changes the prediction" (closed sign convention).

        Returns ``(builder, layer-1 binary columns)`` or None when the prediction cannot
        change on its face (bounds alone fix it).
        """
        n = x.shape[0]
        pb = ProblemBuilder()
        u_cols = pb.index(pb.add_columns("u", (n,), -1.0, 1.0, False).name)
        binary_layers = len(self.net.weights) - (self.rule is PredictionRule.PREACTIVATION)

        # pre-activation of the current layer: const + coef @ (columns cols), range [lo, hi]
        const, coef, cols = t0.copy(), self.r * self.W1, u_cols
        lo, hi = t0 - self.reach, t0 + self.reach
        values = prev_cols = a1_cols = None  # previous layer: 0/1 constant or NaN (binary column)
        for l in range(binary_layers):
            if l > 0:
                W, b = self.net.weights[l], self.net.biases[l]
                fixed = ~np.isnan(values)
                const = b + W[:, fixed] @ values[fixed]
                coef, cols = W[:, ~fixed], prev_cols
                lo = const + np.minimum(coef, 0).sum(axis=1)
                hi = const + np.maximum(coef, 0).sum(axis=1)
            free = (hi > 0) & (lo <= 0)
            values = np.where(free, np.nan, (lo > 0).astype(float))
            idx = np.flatnonzero(free)
            a_cols = pb.index(pb.add_columns(f"a{l + 1}", (idx.size,), 0.0, 1.0, True).name)
            if idx.size:
                scale = np.maximum(np.abs(lo[idx]), np.abs(hi[idx]))
                cf, cn = coef[idx] / scale[:, None], const[idx] / scale
                lo_n, hi_n = lo[idx] / scale, hi[idx] / scale
                rows = np.arange(idx.size)[:, None]
                # a = 0  =>  t <= 0:   coef.v - hi a <= -const
                pb.add_rows(f"off{l + 1}", RowKind.BIGM_OFF, idx.size,
                            [(rows, cols[None, :], cf), (rows[:, 0], a_cols, -hi_n)],
                            -np.inf, -cn, binary=a_cols, big_m=hi_n)
                # a = 1  =>  t >= 0:   coef.v + lo a >= lo - const
                pb.add_rows(f"on{l + 1}", RowKind.BIGM_ON, idx.size,
                            [(rows, cols[None, :], cf), (rows[:, 0], a_cols, lo_n)],
                            lo_n - cn, np.inf, binary=a_cols, big_m=-lo_n)
            prev_cols = a_cols
            if l == 0:
                a1_cols = a_cols
        if not self._wrong_rows(pb, y, values, prev_cols):
            return None
        return pb, a1_cols

    def _wrong_rows(self, pb, y, values, cols) -> bool:
        """Rows saying "the prediction is not y"; False if that is impossible on its face."""
        K = self.net.n_classes
        if self.rule is PredictionRule.BINARY:
            # values/cols describe the output layer a^L
            free = np.isnan(values)
            col_of = np.full(K, -1)
            col_of[free] = cols

            def linear(weights: dict[int, float]):
                """The form ``sum_k w_k a_k`` as (constant, columns, coefficients)."""
                c0, cs, vs = 0.0, [], []
                for k, w in weights.items():
                    if free[k]:
                        cs.append(col_of[k])
                        vs.append(w)
                    else:
                        c0 += w * values[k]
                return c0, np.array(cs, dtype=np.int64), np.array(vs, dtype=float)

            if y == 0:  # a_0 = 0 and some a_k = 1 (k > 0)
                conds = [({0: 1.0}, -np.inf, 0.0), ({k: 1.0 for k in range(1, K)}, 1.0, np.inf)]
            else:  # some a_k = 1 (k < y) or a_y = 0:  sum_{k<y} a_k - a_y >= 0
                conds = [({**{k: 1.0 for k in range(y)}, y: -1.0}, 0.0, np.inf)]
            for n_cond, (weights, low, up) in enumerate(conds):
                c0, cs, vs = linear(weights)
                if cs.size == 0:
                    if not (low - 1e-12 <= c0 <= up + 1e-12):
                        return False
                    continue
                pb.add_rows(f"wrong{n_cond}", RowKind.ORDER, 1,
                            [(np.zeros(cs.size, dtype=np.int64), cs, vs)], low - c0, up - c0)
            return True

        # preactivation: values/cols describe the last hidden layer; D_k = t_k - t_y
        W, b = self.net.weights[-1], self.net.biases[-1]
        fixed = ~np.isnan(values)
        cands, rows = [], []
        for k in range(K):
            if k == y:
                continue
            dW = W[k] - W[y]
            c0 = b[k] - b[y] + dW[fixed] @ values[fixed]
            cf = dW[~fixed]
            lo = c0 + np.minimum(cf, 0).sum()
            hi = c0 + np.maximum(cf, 0).sum()
            if hi > 0 or (k < y and hi >= 0):
                cands.append(k)
                rows.append((c0, cf, lo, hi))
        if not cands:
            return False
        z = pb.index(pb.add_columns("z", (len(cands),), 0.0, 1.0, True).name)
        pb.add_rows("choose", RowKind.ORDER, 1, [(np.zeros(z.size, dtype=np.int64), z, 1.0)], 1.0, 1.0)
        for i, (c0, cf, lo, hi) in enumerate(rows):
            scale = max(abs(lo), abs(hi), 1e-12)
            # z = 1  =>  D_k >= 0 (closed):   cf.a + lo z >= lo - c0
            entries = [(np.zeros(cf.size, dtype=np.int64), cols, cf / scale),
                       (np.zeros(1, dtype=np.int64), z[i:i + 1], lo / scale)]
            pb.add_rows(f"beat{i}", RowKind.BIGM_ON, 1, entries, (lo - c0) / scale, np.inf,
                        binary=z[i:i + 1], big_m=-lo / scale)
        return True
