"""Robustness of a trained network to input perturbations: random noise and exact certificates.

Two measurements, both in the network's *scaled* input space (the space the robust training
radius lives in, ``RobustnessSet(r)``: for a network with an :class:`~bnnmip.InputScaling`,
a radius of 0.1 is a tenth of each feature's training range):

- :func:`noise_accuracy`, the paper's test: add ``r * s`` with ``s`` uniformly random signs in
  ``{-1, +1}^n`` to every input and measure the accuracy. Random, not worst case.
- :func:`certify`, the worst case: for every point, decide whether *any* ``x'`` with
  ``||x' - x||_inf <= r`` changes the prediction. The ball is not clipped to the training
  range [0, 1] of the scaled features: an adversary may leave it.

The certificate is exact (in real arithmetic; see "Numerics" below). Per point, in order:

1. **misclassified**: a point predicted wrongly at ``x`` itself is not certified.
2. **interval screen**: layer 1 is linear, so over the ball ``t1_j`` ranges exactly over
   ``[t1_j - r ||W1_j||_1, t1_j + r ||W1_j||_1]``. Neuron ``j`` can be on somewhere iff the upper
   end is ``> 0`` and off somewhere iff the lower end is ``<= 0`` (``step(t) = 1`` iff ``t > 0``).
   If no neuron can do both, the first-layer pattern, hence (deeper layers see only binaries)
   the whole output, is constant on the ball: certified without a solve.
3. **table screen**: with ``f`` neurons that can flip (``f <= max_enumerate``), the output is a
   function of the ``2^f`` patterns of those neurons; one numpy forward pass through the
   deeper layers evaluates all of them. If every pattern predicts the label: certified.
4. **enumeration**: otherwise a depth-first search over the flippable neurons finds the
   patterns that are both reachable and predict a wrong class. A (partial) pattern is
   reachable iff the box meets ``{t_j > 0 (on-set), t_j <= 0 (off-set)}``; one small LP
   (``scipy.optimize.linprog``, HiGHS) decides it exactly, strict inequalities included:
   maximise a slack ``s`` subject to ``t_j >= s`` on the on-set, ``t_j <= 0`` on the off-set,
   ``x'`` in the box; reachable iff ``max s > 0``. Subtrees whose patterns all predict the
   label are skipped without an LP. The point is certified iff no reachable pattern predicts
   a wrong class; otherwise an LP point of such a pattern is the counterexample. This is exact
   for both prediction rules (the prediction depends only on the layer-1 pattern).
5. **MILP** (more than ``max_enumerate`` flippable neurons): a feasibility MILP over the ball
   through the named bnnmip backend (built with the same ``ProblemBuilder`` as the training
   MILP): ``x'`` in the box, a binary per neuron that can flip (the others are constants),
   big-M rows with the *closed* sign convention (``a = 1`` => ``t >= 0``, ``a = 0`` =>
   ``t <= 0``: at ``t = 0`` either value is allowed) and rows saying "the prediction differs
   from the label". The closed convention over-approximates the adversary, so an infeasible
   MILP is a sound certificate. A solution is checked with the forward pass; if it does not
   change the prediction (the solver used a ``t`` of exactly 0), its layer-1 pattern is
   decided exactly as in the enumeration (forward pass of the pattern, slack LP) and cut off
   with a no-good row, and the MILP is solved again. The loop is exact like the enumeration;
   it answers ``"unknown"`` only when a solve stops at the time limit, after
   ``MAX_CUTS`` cuts, or for a borderline pattern (below).

A network with no hidden layer under the ``"preactivation"`` rule (its output is linear in
``x``) is decided in closed form: class ``k`` beats the label ``y`` somewhere on the ball iff
``t_k - t_y + r ||W_k - W_y||_1`` is ``>= 0`` (``k < y``: ties go to the lower index) or
``> 0`` (``k > y``).

Every ``"attackable"`` verdict comes with a counterexample that the plain forward pass
(:meth:`BinarizedNetwork.predict_index`) confirms; none is taken on a solver's word.

Numerics: the interval screen uses the float64 interval ends as computed (rounding ~1e-16
relative). An LP pattern is discarded as unreachable only if HiGHS proves the LP infeasible
or its best slack is below ``-1e-8`` (rows normalised to unit scale; LP tolerances 1e-10);
patterns with slack within ``1e-8`` of 0 are kept as reachable (the sound side). If such a
borderline pattern predicts a wrong class and its LP point does not change the forward pass's
prediction, the point is reported ``"unknown"`` rather than certified or attacked. So
``"certified"`` and ``"attackable"`` are never wrong beyond float64 rounding, and
``"unknown"`` marks the rare points that are decided only within 1e-8 of a neuron's
threshold, or hit a time limit.
"""

from .certificate import ATTACKABLE, CERTIFIED, MISCLASSIFIED, STATUSES, UNKNOWN, Certification
from .certifier import certify
from .noise import noise_accuracy
from .report import robustness_report

__all__ = [
    "ATTACKABLE",
    "CERTIFIED",
    "MISCLASSIFIED",
    "STATUSES",
    "UNKNOWN",
    "Certification",
    "certify",
    "noise_accuracy",
    "robustness_report",
]
