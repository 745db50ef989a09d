"""Deploy a trained network: C99 and ONNX exports, and a memory report.

- :mod:`bnnmip.deploy.c`: dependency-free C99 (bit-packed activations, popcount sums), a test
  harness and a compile-and-compare check;
- :mod:`bnnmip.deploy.onnx`: an ONNX graph (opset 17) and an onnxruntime check (optional
  extra ``bnnmip[onnx]``);
- :mod:`bnnmip.deploy.footprint`: parameters, bits per weight, packed bytes beside the float32
  MLP of the same shape.

See ``docs/deploy.md``.
"""

from .c import check_c, export_c, generate_c
from .footprint import footprint, format_footprint

__all__ = ["check_c", "export_c", "footprint", "format_footprint", "generate_c"]
