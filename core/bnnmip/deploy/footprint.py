"""Memory and work of one inference: the binarized network beside the float32 MLP of its shape.

:func:`footprint` counts, for a :class:`~bnnmip.network.BinarizedNetwork`:

- ``parameters``: weights and biases (the input scaling's ``2 n`` numbers are listed apart);
- ``bits_per_weight`` from the weight domain: ternary 2, ``integer:P`` ``ceil(log2(2P + 1))``,
  continuous 32 (a float32; the C export stores ``double`` for exactness, see below);
- ``packed_model_bytes``: the weights at that many bits each, bit-packed, plus 4 bytes per bias
  (a float32, or the int32 threshold the C export uses in hidden layers);
- ``activation_bytes``: one inference's hidden activations, 1 bit per neuron in 64-bit words
  (what the C export keeps on the stack);
- the float32 MLP of the same widths: 4 bytes per parameter and per hidden activation, one
  multiply-accumulate per weight;
- ``c_table_bytes``: what the generated C actually stores in its constant tables (bit-plane
  masks, thresholds, ``double`` biases and scaling), counted from the generated source.
"""

from __future__ import annotations

import math
import re

import attrs

from ..network import BinarizedNetwork
from .c import generate_c

__all__ = ["Footprint", "bits_per_weight", "footprint", "format_footprint"]

_CTYPE_BYTES = {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4, "uint64_t": 8,
                "int8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8, "double": 8}
_DECL = re.compile(r"static const (\w+) \w+\[(\d+)\]")


def bits_per_weight(domain) -> int:
    """Bits one weight needs: ternary 2, ``integer:P`` ``ceil(log2(2P+1))``, continuous 32."""
    if not domain.is_integer:
        return 32
    return max(1, math.ceil(math.log2(2 * domain.bound + 1)))


@attrs.frozen
class Footprint:
    """Sizes of a binarized network and of the float32 MLP with the same widths."""

    widths: tuple[int, ...]
    weight_domain: str
    weights: int
    biases: int
    scaling_numbers: int
    bits_per_weight: int
    packed_model_bytes: int
    activation_bytes: int
    activation_bits: int
    c_table_bytes: int
    float_model_bytes: int
    float_activation_bytes: int
    float_macs: int
    nonzero_weights: int

    @property
    def parameters(self) -> int:
        """Weights plus biases."""
        return self.weights + self.biases

    @property
    def compression(self) -> float:
        """Float32 MLP bytes over packed bytes."""
        return self.float_model_bytes / max(self.packed_model_bytes, 1)

    def to_dict(self) -> dict:
        """JSON-ready fields (and the derived ``parameters`` and ``compression``)."""
        d = attrs.asdict(self)
        d["widths"] = list(self.widths)
        d["parameters"] = self.parameters
        d["compression"] = round(self.compression, 3)
        return d


def _c_table_bytes(network: BinarizedNetwork) -> int:

    src = generate_c(network, "footprint")["footprint.c"]
    return sum(_CTYPE_BYTES[t] * int(n) for t, n in _DECL.findall(src))


def footprint(network: BinarizedNetwork) -> Footprint:
    """Count parameters, bits and bytes (see the module docstring for what each means)."""
    n_w = sum(int(W.size) for W in network.weights)
    # a network trained without biases has none to store (its bias vectors are all zero)
    n_b = sum(int(b.size) for b in network.biases) if network.architecture.bias else 0
    bpw = bits_per_weight(network.weight_domain)
    hidden = network.widths[1:-1]
    return Footprint(
        widths=tuple(network.widths),
        weight_domain=str(network.weight_domain),
        weights=n_w,
        biases=n_b,
        scaling_numbers=0 if network.scaling is None else 2 * network.widths[0],
        bits_per_weight=bpw,
        packed_model_bytes=math.ceil(n_w * bpw / 8) + 4 * n_b,
        activation_bytes=sum(8 * ((d + 63) // 64) for d in hidden),
        activation_bits=sum(hidden),
        c_table_bytes=_c_table_bytes(network),
        float_model_bytes=4 * (n_w + n_b),
        float_activation_bytes=4 * sum(hidden),
        float_macs=n_w,
        nonzero_weights=int(sum(int((W != 0).sum()) for W in network.weights)),
    )


def _bytes(n: int) -> str:
    return f"{n:,} B" if n < 10_000 else f"{n / 1024:,.1f} KiB"


def _ratio(compression: float) -> str:
    """``12.1x smaller``, ``2.0x larger`` or ``the same size`` (continuous weights are float32 too)."""
    if compression >= 1.05:
        return f"{compression:.1f}x smaller"
    if compression <= 1 / 1.05:
        return f"{1 / compression:.1f}x larger"
    return "the same size"


def format_footprint(fp: Footprint, indent: str = "  ") -> str:
    """The report as aligned lines, e.g. for ``bnnmip inspect`` and ``bnnmip train``."""
    shape = " -> ".join(str(w) for w in fp.widths)
    lines = [
        f"{indent}{'parameters':12} {fp.parameters:,} ({fp.weights:,} weights, {fp.biases:,} biases; "
        f"{fp.nonzero_weights:,} weights nonzero), {fp.weight_domain} weights at {fp.bits_per_weight} "
        f"bit{'s' if fp.bits_per_weight != 1 else ''} each",
        f"{indent}{'packed model':12} {_bytes(fp.packed_model_bytes)} (weights bit-packed, 32-bit biases)"
        f"   vs float32 MLP {shape}: {_bytes(fp.float_model_bytes)} ({_ratio(fp.compression)})",
        f"{indent}{'activations':12} {_bytes(fp.activation_bytes)} per inference ({fp.activation_bits} "
        f"hidden bits in 64-bit words)   vs float32 MLP: {_bytes(fp.float_activation_bytes)}",
        f"{indent}{'C export':12} {_bytes(fp.c_table_bytes)} of constant tables (bit-plane masks, "
        f"thresholds, float64 where exactness needs it)"
        + (f"; input scaling {fp.scaling_numbers} numbers" if fp.scaling_numbers else ""),
    ]
    return "\n".join(lines)
