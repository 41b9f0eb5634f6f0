"""SerializeVectorScalars: a vectorized loop that declares buffers in its body runs as a serial loop.

In TVMScript 0.27 a Python assignment in a kernel (``index = i * 128 + tx * 4 + v``) declares a one-element local
buffer; inside ``T.vectorized`` (TileLang's dequantize kernels write exactly this) TVM's VectorizeLoop then stores
the whole vector of lane values into that one element and reads one lane back, so every lane computes with the
same index: wrong results on CUDA and on the CPU. Expects the program as the front end builds it; guarantees that
no vectorized loop allocates a buffer in its body (such loops become serial: correct, and the compilers still
unroll them). Runs first, on every target.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from .rewriter import rebuild_for


def _allocates(stmt) -> bool:
    found = []
    tvm_ffi.structural_walk(stmt, (tirx.AllocBuffer, lambda s: found.append(s)))
    return bool(found)


def _on_for(loop):
    if loop.kind == tirx.ForKind.VECTORIZED and _allocates(loop.body):
        return rebuild_for(loop, kind=tirx.ForKind.SERIAL)
    return loop


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.SerializeVectorScalars")
def SerializeVectorScalars(func, mod, ctx):  # noqa: N802 - a pass, named like TVM's
    """Make vectorized loops that declare buffers in their bodies serial (see the module doc)."""
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.For, _on_for)], order="post"))
