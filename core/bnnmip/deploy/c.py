"""Dependency-free C99 export of a :class:`~bnnmip.network.BinarizedNetwork`.

:func:`generate_c` writes ``<name>.h`` and ``<name>.c`` (the network) and ``<name>_harness.c``
(a ``main`` that reads inputs from a file and prints one class index per line);
:func:`export_c` saves them; :func:`check_c` compiles them with the system C compiler and
compares the harness's predictions with ``network.predict`` point by point.

The generated code computes what the numpy forward pass computes, this way:

- **Input scaling** ``(x - minimum) / span`` in ``double``, the same two IEEE operations numpy
  does, so the scaled inputs are bit-identical. It is folded into the first layer only where
  that is exact: no scaling at all (identity), or every minimum 0 and one common span that is a
  power of two (then the first layer runs on the raw inputs and its bias is multiplied by the
  span, which scales every pre-activation by that power of two and changes no sign and no argmax).
- **First layer** (real inputs): one ``double`` accumulator per neuron; inputs in the outer
  loop, so each neuron adds its terms in input order while the neurons' sums stay independent;
  zero inputs and zero weights are skipped (their terms are zeros); integer weights as
  bit-plane masks stored by input, +-1 an addition or a subtraction, other integers a
  multiplication by a small integer; continuous weights ``double`` products. ``double`` and
  not ``float``: numpy computes in float64, and float32 would move pre-activations by ~1e-7
  relative, enough to flip points that numpy puts near a threshold.
- **Hidden layers** (binary inputs): activations bit-packed, 64 per ``uint64_t`` word. Integer
  and ternary weights are stored as bit-plane masks (positive and negative, one pair per bit of
  ``max |w|``); a neuron's sum is ``sum_k 2^k (popcount(a & POS_k) - popcount(a & NEG_k))``, an
  exact integer, and the neuron fires iff ``sum >= theta`` with ``theta = floor(-b) + 1``,
  which is exactly numpy's ``sum + b > 0`` (a float64 sum of two numbers is 0 only when they
  cancel exactly, and rounding keeps the sign). For binary +-1 weights this is one popcount pair
  per word. Continuous weights over binary inputs: the ``double`` sum of the weights of the
  active inputs.
- **Step**: ``t > 0`` fires, ``t == 0`` does not (numpy's ``(t > 0)``).
- **Prediction**: rule ``preactivation``: the first index of the largest output pre-activation
  (``np.argmax``); rule ``binary``: the first output that fires, 0 when none does.

Where the arithmetic is exact (integer sums over binary activations, which covers every layer
after the first of an integer or ternary network, and first-layer sums of dyadic numbers) the
C result is bit-identical to numpy's. A real-valued first layer, and continuous weights in any
layer, are float64 sums whose rounding depends on the summation order, and numpy's BLAS sums in
blocks with fused multiply-adds in an order that varies with the machine and the batch size;
there the two can differ only on points whose pre-activation is within rounding distance of 0
(about ``n * 2^-53 * sum_j |w_j x_j|``). :func:`check_c` counts such points.

Compile with ``-ffp-contract=off`` (GCC's ``-std=c99`` implies it; on other compilers, no FMA
contraction): the generated source also says ``#pragma STDC FP_CONTRACT OFF`` to compilers
other than GCC, which ignores that pragma.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import attrs
import numpy as np

from ..errors import BnnmipError, InvalidInputError
from ..network import BinarizedNetwork, PredictionRule

__all__ = [
    "CCheck",
    "CompilerNotFoundError",
    "check_c",
    "compile_harness",
    "export_c",
    "find_compiler",
    "generate_c",
    "layer_plan",
    "run_harness",
]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CFLAGS = ("-std=c99", "-O2", "-ffp-contract=off")


class CompilerNotFoundError(BnnmipError, RuntimeError):
    """No C compiler (``cc``, ``gcc`` or ``clang``) on the PATH."""


# ---------------------------------------------------------------------------------------------
# planning: how each layer is computed
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class LayerPlan:
    """How one layer is computed in C: ``kind`` is ``float_in`` (real inputs) or ``packed``."""

    index: int
    n_in: int
    n_out: int
    integer: bool
    planes: int
    is_output: bool

    @property
    def kind(self) -> str:
        """``float_in`` for the first layer, ``packed`` for layers over binary activations."""
        return "float_in" if self.index == 0 else "packed"

    @property
    def words(self) -> int:
        """``uint64_t`` words holding this layer's binary inputs (packed layers)."""
        return (self.n_in + 63) // 64


def _is_integral(W: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(W)) and np.all(W == np.round(W)) and np.max(np.abs(W), initial=0) < 2**30)


def layer_plan(network: BinarizedNetwork) -> list[LayerPlan]:
    """Per layer: integer or float arithmetic, and the bit planes of its integer weights.

    A layer is computed with integers when its weights are whole numbers (whatever the declared
    weight domain: a continuous network whose weights happen to be integers qualifies, an integer
    network whose weights are not whole numbers falls back to floats).
    """
    plans = []
    last = len(network.weights) - 1
    for l, W in enumerate(network.weights):
        integer = _is_integral(W)
        planes = int(np.max(np.abs(W), initial=0)).bit_length() if integer else 0
        plans.append(LayerPlan(l, W.shape[1], W.shape[0], integer, planes, l == last))
    return plans


def _fold(network: BinarizedNetwork) -> tuple[str, float]:
    """``("none" | "identity" | "pow2", factor)``: how the input scaling is applied."""
    sc = network.scaling
    if sc is None:
        return "identity", 1.0
    if np.all(sc.minimum == 0) and np.all(sc.span == 1):
        return "identity", 1.0
    s = float(sc.span[0])
    if np.all(sc.minimum == 0) and np.all(sc.span == s) and s > 0:
        mant, _ = math.frexp(s)
        if mant == 0.5:  # a power of two: x / s is exact, so the fold is exact
            # bias * s must stay finite and exact (it is: multiplying by 2^k only moves the exponent)
            if all(np.all(np.isfinite(b * s)) for b in network.biases[:1]):
                return "pow2", s
    return "explicit", 1.0


def _theta(b: float, bound: int) -> int:
    """Smallest integer ``S`` with ``S + b > 0`` in exact arithmetic, clamped to ``[-bound-1, bound+1]``."""
    theta = math.floor(-b) + 1
    return max(-bound - 1, min(bound + 1, theta))


# ---------------------------------------------------------------------------------------------
# code generation
# ---------------------------------------------------------------------------------------------


def _c_double(v: float) -> str:
    v = float(v)
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    return repr(v) if ("e" in repr(v) or "." in repr(v)) else repr(v) + ".0"


def _c_int(v: int, ctype: str) -> str:
    if ctype == "int64_t":
        return f"INT64_C({v})"
    if v == -(2**31):
        return "(-2147483647 - 1)"
    return str(v)


def _rows(items: list[str], per_line: int = 8, indent: str = "    ") -> str:
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return (",\n" + indent).join(lines) if lines else ""


def _array(ctype: str, name: str, items: list[str], comment: str = "") -> str:
    note = f" /* {comment} */" if comment else ""
    if not items:
        items = ["0"]  # C forbids empty initializers; never read
    per_line = 16 if ctype.startswith("int") else 4
    return f"static const {ctype} {name}[{len(items)}] = {{{note}\n    {_rows(items, per_line)}\n}};\n"


def _masks(W: np.ndarray, planes: int, wbits: int = 64) -> tuple[list[int], list[int]]:
    """POS/NEG masks laid out ``[row][plane][word]``, ``wbits`` columns per word.

    Plane 0 is the least significant bit of ``|w|``.
    """
    n_out, n_in = W.shape
    words = (n_in + wbits - 1) // wbits
    Wi = W.astype(np.int64)
    pos, neg = [], []
    for i in range(n_out):
        for k in range(planes):
            for w in range(words):
                p = n = 0
                for j in range(wbits * w, min(wbits * (w + 1), n_in)):
                    v = int(Wi[i, j])
                    if v > 0 and (v >> k) & 1:
                        p |= 1 << (j - wbits * w)
                    if v < 0 and ((-v) >> k) & 1:
                        n |= 1 << (j - wbits * w)
                pos.append(p)
                neg.append(n)
    return pos, neg


def _u64(v: int) -> str:
    return f"UINT64_C(0x{v:016x})"


def _mask_word(n: int) -> tuple[str, int]:
    """Narrowest unsigned type holding ``n`` bits (64-bit words beyond 64)."""
    for bits in (8, 16, 32):
        if n <= bits:
            return f"uint{bits}_t", bits
    return "uint64_t", 64


def _hex(v: int, bits: int) -> str:
    return _u64(v) if bits == 64 else f"0x{v:0{bits // 4}x}u"


def _sum_type(W: np.ndarray) -> str:
    bound = int(np.max(np.sum(np.abs(W), axis=1), initial=0))
    return "int32_t" if bound < 2**31 - 2 else "int64_t"


def generate_c(network: BinarizedNetwork, name: str = "bnnmip_model", *,
               rule: PredictionRule | str | None = None) -> dict[str, str]:
    """The C sources for ``network``: ``{"<name>.h": ..., "<name>.c": ..., "<name>_harness.c": ...}``.

    Parameters
    ----------
    network : BinarizedNetwork
        The network to export.
    name : str
        A C identifier: file stem and prefix of every exported symbol.
    rule : {"preactivation", "binary"}, optional
        Prediction rule baked into the code (default: the network's own).

    Raises
    ------
    InvalidInputError
        ``name`` is not a C identifier.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"C export name {name!r} is not a C identifier; use letters, digits and '_' "
            "(not starting with a digit), e.g. 'digits_net'"
        )
    rule = network.prediction_rule if rule is None else PredictionRule(rule)
    upper = name.upper()
    plans = layer_plan(network)
    fold, factor = _fold(network)
    n_in, n_cls = network.widths[0], network.n_classes
    hidden = network.widths[1:-1]
    labels = [str(c) for c in network.classes] or [str(k) for k in range(n_cls)]

    header = f"""/* {name}.h: a binarized neural network exported by bnnmip (C99, no dependencies).
 *
 * Network {" -> ".join(str(w) for w in network.widths)}, {network.weight_domain} weights,
 * prediction rule "{rule.value}". Generated code: do not edit; re-export instead.
 *
 *   int {name}_predict(const double x[{upper}_N_INPUTS]);
 *     returns the predicted class index 0..{upper}_N_CLASSES-1 for the raw (unscaled)
 *     input x, as bnnmip's numpy forward pass computes it (bnnmip docs/deploy.md says
 *     where the two are bit-identical and where only rounding ties could differ);
 *     {name}_class_labels[k] is the label of class k as text.
 *
 * Compile with -ffp-contract=off (no fused multiply-add contraction).
 */
#ifndef {upper}_H
#define {upper}_H

#define {upper}_N_INPUTS {n_in}
#define {upper}_N_CLASSES {n_cls}
#define {upper}_N_LAYERS {len(plans)}

#ifdef __cplusplus
extern "C" {{
#endif

int {name}_predict(const double *x);
extern const char *const {name}_class_labels[{upper}_N_CLASSES];

#ifdef __cplusplus
}}
#endif

#endif /* {upper}_H */
"""

    out: list[str] = []
    out.append(f"""/* {name}.c: generated by bnnmip; see {name}.h. */
#include <stdint.h>
#include "{name}.h"

#if !defined(__GNUC__) || defined(__clang__) /* GCC ignores it: -std=c99 or -ffp-contract=off */
#pragma STDC FP_CONTRACT OFF
#endif

const char *const {name}_class_labels[{upper}_N_CLASSES] = {{
    {_rows([_c_string(s) for s in labels], 6)}
}};

#if (defined(__GNUC__) || defined(__clang__)) && !defined({upper}_PORTABLE)
#define {upper}_POPCOUNT(v) __builtin_popcountll(v)
#define {upper}_CTZ(v) __builtin_ctzll(v)
#else /* portable C99 (also with -D{upper}_PORTABLE) */
static int {name}_popcount(uint64_t v)
{{
    v = v - ((v >> 1) & UINT64_C(0x5555555555555555));
    v = (v & UINT64_C(0x3333333333333333)) + ((v >> 2) & UINT64_C(0x3333333333333333));
    v = (v + (v >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (int)((v * UINT64_C(0x0101010101010101)) >> 56);
}}
#define {upper}_POPCOUNT(v) {name}_popcount(v)
static int {name}_ctz(uint64_t v)  /* v != 0 */
{{
    int c = 0;
    while (!(v & 1u)) {{
        v >>= 1;
        ++c;
    }}
    return c;
}}
#define {upper}_CTZ(v) {name}_ctz(v)
#endif

""")
    # scaling tables
    if fold == "explicit":
        sc = network.scaling
        out.append(_array("double", f"{upper}_MIN", [_c_double(v) for v in sc.minimum],
                          "input scaling: (x - min) / span, as numpy does it"))
        out.append(_array("double", f"{upper}_SPAN", [_c_double(v) for v in sc.span]))
    out.append("\n")

    for plan, W, b in zip(plans, network.weights, network.biases, strict=True):
        out.append(_layer_code(name, plan, W, b, fold, factor, rule))

    out.append(_predict_code(name, plans, fold, rule, n_in, hidden))
    source = "".join(out)
    return {f"{name}.h": header, f"{name}.c": source, f"{name}_harness.c": _harness(name)}


def _c_string(s: str) -> str:
    out = []
    for byte in s.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _layer_code(name, plan: LayerPlan, W, b, fold, factor, rule) -> str:
    upper = name.upper()
    L = plan.index + 1
    pre = f"{upper}_L{L}"
    out_kind = "pre" if (plan.is_output and rule is PredictionRule.PREACTIVATION) else "bits"
    # signature: inputs (double *xs or const uint64_t *a), output (double *t or uint64_t *bits)
    arg_in = "const double *x" if plan.kind == "float_in" else "const uint64_t *a"
    arg_out = "double *t" if out_kind == "pre" else "uint64_t *bits"
    words_out = (plan.n_out + 63) // 64
    parts = [f"/* layer {L}: {plan.n_in} -> {plan.n_out}, "
             + ("integer" if plan.integer else "float") + " weights, "
             + ("real inputs" if plan.kind == "float_in" else "bit-packed binary inputs") + " */\n"]
    bias = [float(v) * (factor if plan.index == 0 else 1.0) for v in b]
    clear = "" if out_kind == "pre" else f"    for (i = 0; i < {words_out}; ++i) bits[i] = 0;\n"
    store = ("        t[i] = tt;" if out_kind == "pre"
             else "        if (tt > 0.0) bits[i >> 6] |= (uint64_t)1 << (i & 63);")
    if plan.kind == "float_in":
        bias_note = "bias" + (f" x {factor:g} (input scaling folded)" if factor != 1.0 else "")
        if plan.integer:
            mtype, wb = _mask_word(plan.n_out)
            wo = (plan.n_out + wb - 1) // wb
            pos, neg = _masks(W.T, plan.planes, wb)  # by input: the neurons each input feeds
            parts.append(_array(mtype, f"{pre}_POS", [_hex(v, wb) for v in pos],
                                f"[in][bit plane][word]: bit i set where w_ij > 0 has this bit "
                                f"({plan.planes} plane{'s' if plan.planes != 1 else ''})"))
            parts.append(_array(mtype, f"{pre}_NEG", [_hex(v, wb) for v in neg],
                                "same for w_ij < 0, on |w_ij|"))
            parts.append(_array("double", f"{pre}_B", [_c_double(v) for v in bias], bias_note))
            pl = max(plan.planes, 1)
            # Inputs outer, neurons inner: every neuron still adds its terms in input order (what
            # exactness needs), and the neurons' sums are independent, so they overlap in the CPU.
            body = f"""static void {name}_layer{L}({arg_in}, {arg_out})
{{
    double acc[{plan.n_out}], v, tt;
    int i, j, q, k, w;
    for (i = 0; i < {plan.n_out}; ++i) acc[i] = 0.0;
    for (j = 0; j < {plan.n_in}; ++j) {{
        const {mtype} *p = {pre}_POS + (long)j * {pl * wo};
        const {mtype} *n = {pre}_NEG + (long)j * {pl * wo};
        v = x[j];
        if (v == 0.0) continue;  /* its terms are all zeros */
        for (q = 0; q < {wo}; ++q) {{
            uint64_t m = 0, bit;
            for (k = 0; k < {plan.planes}; ++k) m |= p[k * {wo} + q] | n[k * {wo} + q];
            while (m) {{  /* the neurons with a nonzero weight on input j */
                bit = m & (~m + 1);
                i = {wb} * q + {upper}_CTZ(bit);
                w = 0;  /* w_ij from its bit planes, high to low */
                for (k = {plan.planes} - 1; k >= 0; --k)
                    w = w + w + ((p[k * {wo} + q] & bit) != 0) - ((n[k * {wo} + q] & bit) != 0);
                if (w == 1) acc[i] += v;  /* +-1: an addition or a subtraction */
                else if (w == -1) acc[i] -= v;
                else acc[i] += (double)w * v;
                m ^= bit;
            }}
        }}
    }}
{clear}    for (i = 0; i < {plan.n_out}; ++i) {{
        tt = acc[i] + {pre}_B[i];
{store}
    }}
}}

"""
            parts.append(body)
            return "".join(parts)
        parts.append(_array("double", f"{pre}_W", [_c_double(v) for v in W.T.ravel()],
                            "by input: [in][out]"))
        parts.append(_array("double", f"{pre}_B", [_c_double(v) for v in bias], bias_note))
        body = f"""static void {name}_layer{L}({arg_in}, {arg_out})
{{
    double acc[{plan.n_out}], v, tt;
    int i, j;
    for (i = 0; i < {plan.n_out}; ++i) acc[i] = 0.0;
    for (j = 0; j < {plan.n_in}; ++j) {{  /* each neuron sums its terms in input order */
        const double *wj = {pre}_W + (long)j * {plan.n_out};
        v = x[j];
        if (v == 0.0) continue;  /* its terms are all zeros */
        for (i = 0; i < {plan.n_out}; ++i) acc[i] += wj[i] * v;
    }}
{clear}    for (i = 0; i < {plan.n_out}; ++i) {{
        tt = acc[i] + {pre}_B[i];
{store}
    }}
}}

"""
        parts.append(body)
        return "".join(parts)

    # packed layer over binary activations
    words = plan.words
    if plan.integer:
        stype = _sum_type(W)
        pos, neg = _masks(W, plan.planes)
        parts.append(_array("uint64_t", f"{pre}_POS", [_u64(v) for v in pos],
                            f"[out][bit plane][word]: bit j set where w_j > 0 has this bit "
                            f"({plan.planes} plane{'s' if plan.planes != 1 else ''})"))
        parts.append(_array("uint64_t", f"{pre}_NEG", [_u64(v) for v in neg], "same for w_j < 0, on |w_j|"))
        bound = int(np.max(np.sum(np.abs(W), axis=1), initial=0))
        if out_kind == "pre":
            parts.append(_array("double", f"{pre}_B", [_c_double(v) for v in bias], "bias"))
            finish = f"        t[i] = (double)s + {pre}_B[i];"
        else:
            parts.append(_array(stype, f"{pre}_THETA", [_c_int(_theta(v, bound), stype) for v in bias],
                                "fires iff sum >= theta, theta = floor(-bias) + 1"))
            finish = f"        if (s >= {pre}_THETA[i]) bits[i >> 6] |= (uint64_t)1 << (i & 63);"
        body = f"""static void {name}_layer{L}({arg_in}, {arg_out})
{{
    int i, k, w;
{clear}    for (i = 0; i < {plan.n_out}; ++i) {{
        {stype} s = 0;
        for (k = {plan.planes} - 1; k >= 0; --k) {{  /* Horner over bit planes, high to low */
            {stype} c = 0;
            const uint64_t *p = {pre}_POS + ((long)i * {max(plan.planes, 1)} + k) * {words};
            const uint64_t *n = {pre}_NEG + ((long)i * {max(plan.planes, 1)} + k) * {words};
            for (w = 0; w < {words}; ++w)
                c += ({stype})({upper}_POPCOUNT(a[w] & p[w])) - ({stype})({upper}_POPCOUNT(a[w] & n[w]));
            s = s + s + c;
        }}
{finish}
    }}
}}

"""
        parts.append(body)
        return "".join(parts)

    parts.append(_array("double", f"{pre}_W", [_c_double(v) for v in W.ravel()], "row-major [out][in]"))
    parts.append(_array("double", f"{pre}_B", [_c_double(v) for v in bias], "bias"))
    body = f"""static void {name}_layer{L}({arg_in}, {arg_out})
{{
    int i, j;
{clear}    for (i = 0; i < {plan.n_out}; ++i) {{
        double acc = 0.0, tt;
        for (j = 0; j < {plan.n_in}; ++j)  /* sum of the weights of the active inputs, in order */
            if ((a[j >> 6] >> (j & 63)) & 1u) acc += {pre}_W[i * {plan.n_in} + j];
        tt = acc + {pre}_B[i];
{store}
    }}
}}

"""
    parts.append(body)
    return "".join(parts)


def _predict_code(name, plans, fold, rule, n_in, hidden) -> str:
    upper = name.upper()
    lines = [f"int {name}_predict(const double *x)", "{"]
    if fold == "explicit":
        lines.append(f"    double xs[{n_in}];")
    for l, d in enumerate(hidden, start=1):
        lines.append(f"    uint64_t h{l}[{(d + 63) // 64}];")
    n_cls = plans[-1].n_out
    if rule is PredictionRule.PREACTIVATION:
        lines.append(f"    double out[{n_cls}];")
    else:
        lines.append(f"    uint64_t out[{(n_cls + 63) // 64}];")
    lines.append("    int k, best = 0;")
    if fold == "explicit":
        lines.append(f"    for (k = 0; k < {n_in}; ++k) xs[k] = (x[k] - {upper}_MIN[k]) / {upper}_SPAN[k];")
    src = "xs" if fold == "explicit" else "x"
    for l, plan in enumerate(plans, start=1):
        dst = "out" if plan.is_output else f"h{l}"
        lines.append(f"    {name}_layer{l}({src}, {dst});")
        src = dst
    if rule is PredictionRule.PREACTIVATION:
        lines.append(f"    for (k = 1; k < {n_cls}; ++k)  /* first index of the largest, as np.argmax */")
        lines.append("        if (out[k] > out[best]) best = k;")
    else:
        lines.append(f"    for (k = {n_cls} - 1; k >= 0; --k)  /* first output that fires, else 0 */")
        lines.append("        if ((out[k >> 6] >> (k & 63)) & 1u) best = k;")
    lines.append("    return best;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _harness(name: str) -> str:
    upper = name.upper()
    return f"""/* {name}_harness.c: reads inputs, prints one predicted class index per line.
 *
 *   {name}_harness FILE [REPEATS]
 *
 * FILE holds {upper}_N_INPUTS numbers per row, separated by commas, semicolons, tabs or blanks
 * ('-' reads standard input). With REPEATS, predicts every row REPEATS times and prints only
 * the seconds taken (CPU time, to standard error) and a checksum: a speed test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "{name}.h"

static int is_sep(int c)
{{
    return c == ',' || c == ';' || c == ' ' || c == '\\t' || c == '\\r' || c == '\\n';
}}

int main(int argc, char **argv)
{{
    FILE *f;
    double *xs = NULL;
    size_t n = 0, cap = 0, rows, r;
    long repeats = 0, k;
    char buf[512];
    int c, len = 0;
    if (argc < 2) {{
        fprintf(stderr, "usage: %s FILE [REPEATS]\\n", argv[0]);
        return 2;
    }}
    if (argc > 2) repeats = strtol(argv[2], NULL, 10);
    f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
    if (!f) {{
        fprintf(stderr, "cannot open %s\\n", argv[1]);
        return 2;
    }}
    for (;;) {{  /* tokenize: every number in the file, in order */
        c = fgetc(f);
        if (c == EOF || is_sep(c)) {{
            if (len > 0) {{
                char *end;
                buf[len] = 0;
                if (n == cap) {{
                    cap = cap ? 2 * cap : 1024;
                    xs = (double *)realloc(xs, cap * sizeof(double));
                    if (!xs) {{ fprintf(stderr, "out of memory\\n"); return 2; }}
                }}
                xs[n++] = strtod(buf, &end);
                if (*end) {{ fprintf(stderr, "not a number: %s\\n", buf); return 2; }}
                len = 0;
            }}
            if (c == EOF) break;
        }} else if (len < (int)sizeof(buf) - 1) {{
            buf[len++] = (char)c;
        }} else {{
            fprintf(stderr, "number too long\\n");
            return 2;
        }}
    }}
    if (f != stdin) fclose(f);
    if (n % {upper}_N_INPUTS != 0) {{
        fprintf(stderr, "%lu numbers is not a multiple of %d inputs per row\\n",
                (unsigned long)n, {upper}_N_INPUTS);
        return 2;
    }}
    rows = n / {upper}_N_INPUTS;
    if (repeats > 0) {{
        unsigned long checksum = 0;
        clock_t t0 = clock();
        for (k = 0; k < repeats; ++k)
            for (r = 0; r < rows; ++r) checksum += (unsigned long){name}_predict(xs + r * {upper}_N_INPUTS);
        fprintf(stderr, "%.9f\\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
        printf("%lu\\n", checksum);
    }} else {{
        for (r = 0; r < rows; ++r) printf("%d\\n", {name}_predict(xs + r * {upper}_N_INPUTS));
    }}
    free(xs);
    return 0;
}}
"""


def export_c(network: BinarizedNetwork, out_dir, name: str = "bnnmip_model", *,
             rule: PredictionRule | str | None = None) -> list[Path]:
    """Write ``<name>.h``, ``<name>.c`` and ``<name>_harness.c`` into ``out_dir`` (created)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"{out_dir} exists and is not a directory; give a directory for the C files")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fname, text in generate_c(network, name, rule=rule).items():
        path = out_dir / fname
        path.write_text(text)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# compile, run, compare
# ---------------------------------------------------------------------------------------------


def find_compiler() -> str | None:
    """The system C compiler: ``$CC``-free lookup of ``cc``, ``gcc``, ``clang`` on the PATH."""
    for cand in ("cc", "gcc", "clang"):
        path = shutil.which(cand)
        if path:
            return path
    return None


def compile_harness(directory, name: str = "bnnmip_model", *, compiler: str | None = None,
                    extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile ``<name>.c`` + ``<name>_harness.c`` in ``directory``; returns the executable."""
    compiler = compiler or find_compiler()
    if compiler is None:
        raise CompilerNotFoundError(
            "no C compiler found on the PATH (looked for cc, gcc, clang); install one "
            "(e.g. 'apt-get install gcc') or compile the exported files elsewhere"
        )
    directory = Path(directory)
    exe = directory / f"{name}_harness"
    cmd = [compiler, *CFLAGS, *extra_flags, "-o", str(exe),
           str(directory / f"{name}.c"), str(directory / f"{name}_harness.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BnnmipError(f"compiling the C export failed ({' '.join(cmd)}):\n{proc.stderr.strip()}")
    return exe


def _write_inputs(X: np.ndarray, path: Path) -> None:
    with open(path, "w") as fh:
        for row in np.asarray(X, dtype=float):
            fh.write(",".join(repr(float(v)) for v in row) + "\n")


def run_harness(exe, X) -> np.ndarray:
    """Class indices the compiled harness predicts for the rows of ``X``."""
    X = np.asarray(X, dtype=float)
    with tempfile.TemporaryDirectory(prefix="bnnmip-c-") as tmp:
        inputs = Path(tmp) / "inputs.csv"
        _write_inputs(X, inputs)
        proc = subprocess.run([str(exe), str(inputs)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BnnmipError(f"the C harness failed: {proc.stderr.strip()}")
    out = np.array([int(v) for v in proc.stdout.split()], dtype=np.int64)
    if out.shape != (X.shape[0],):
        raise BnnmipError(f"the C harness printed {out.size} predictions for {X.shape[0]} rows")
    return out


@attrs.frozen
class CCheck:
    """Outcome of :func:`check_c`: how many points the C build and numpy agree on."""

    points: int
    agree: int
    mismatches: tuple[int, ...]
    near_threshold: int
    compiler: str

    @property
    def ok(self) -> bool:
        """Whether every point agrees."""
        return self.agree == self.points

    def describe(self) -> str:
        """One line for the CLI."""
        head = f"C build ({Path(self.compiler).name}) agrees with numpy on {self.agree}/{self.points} points"
        if self.ok:
            return head
        shown = ", ".join(str(i) for i in self.mismatches[:10])
        return (f"{head}; DISAGREES on rows {shown}{' ...' if len(self.mismatches) > 10 else ''} "
                f"({self.near_threshold} point(s) lie within float64 rounding of a threshold)")


def near_threshold_points(network: BinarizedNetwork, X) -> np.ndarray:
    """Mask of points whose float (order-dependent) pre-activation is within rounding of 0.

    Only layers computed in floating point count: the first layer (real inputs) and any layer
    with non-integer weights; bound ``n * 2^-52 * (sum_j |w_j a_j| + |b|)`` (generous).
    """
    X = np.asarray(X, dtype=float)
    fw = network.forward(X)
    a = X if network.scaling is None else network.scaling.transform(X)
    mask = np.zeros(X.shape[0], dtype=bool)
    for l, (W, b, plan) in enumerate(zip(network.weights, network.biases, layer_plan(network), strict=True)):
        if l > 0 and plan.integer:
            a = fw.act[l]
            continue
        mag = np.abs(a) @ np.abs(W).T + np.abs(b)
        bound = (W.shape[1] + 2) * 2.0**-52 * mag
        mask |= np.any(np.abs(fw.pre[l]) <= bound, axis=1)
        if plan.is_output:  # ties between output pre-activations within rounding
            t = fw.pre[l]
            top = np.max(t, axis=1, keepdims=True)
            mask |= np.sum(np.abs(t - top) <= 2 * np.max(bound, axis=1, keepdims=True), axis=1) > 1
        a = fw.act[l]
    return mask


def check_c(network: BinarizedNetwork, X, *, name: str = "bnnmip_model", directory=None,
            compiler: str | None = None, rule: PredictionRule | str | None = None) -> CCheck:
    """Export, compile and run the C harness on ``X``; compare with ``network.predict_index``.

    ``directory`` keeps the files (default: a temporary folder, removed afterwards).

    Raises
    ------
    CompilerNotFoundError
        No C compiler on the PATH.
    """
    X = np.asarray(X, dtype=float)
    expected = network.predict_index(X, rule=rule)  # also validates X
    with tempfile.TemporaryDirectory(prefix="bnnmip-c-") as tmp:
        where = Path(directory) if directory is not None else Path(tmp)
        export_c(network, where, name, rule=rule)
        used = compiler or find_compiler()
        exe = compile_harness(where, name, compiler=used)
        got = run_harness(exe, X)
    bad = np.flatnonzero(got != expected)
    near = int(np.sum(near_threshold_points(network, X))) if len(bad) else 0
    return CCheck(int(X.shape[0]), int(X.shape[0] - len(bad)), tuple(int(i) for i in bad), near, str(used))
