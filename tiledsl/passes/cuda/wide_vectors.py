"""SplitWideVectorLoops: a ``T.vectorized`` loop wider than a CUDA vector type becomes serial chunks of vectors.

TVM's CUDA code generator prints vectors of at most 16 lanes of 8-bit, 8 of 16- or 32-bit and 4 of 64-bit
elements (measured on TVM 0.27), and a gather (a load whose lanes it cannot prove contiguous) of more than 4 lanes
(2 of 64-bit) gives C++ that nvcc refuses (``make_ulonglong4`` of 8 floats). A wider vectorized loop written by the
user (``for j in T.vectorized(32): shared[tx, j] = local[j]`` in float32, as TileLang's hadamard example does)
stops the build with "Cannot convert type float32x32 to CUDA type". Each such loop of constant extent ``n`` becomes
``for o in serial(n // v): for i in vectorized(v)`` with ``v`` the largest power of 2 that divides ``n`` and is at
most 4 lanes (2 of 64-bit) for every element type the loop loads, stores or casts to (``v = 1``: a serial loop).

Runs last among the CUDA passes, and only when the lowering asks for it (``split_wide_vectors``): the build
retries with it after the code generator refused such a type, so every program that built before builds as it did.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..lowering_options import requested
from ..rewriter import rebuild_for, substitute

#: element bits -> the most lanes a split loop keeps (gathers of these build; measured on TVM 0.27 with nvcc 13)
_MAX_LANES = {8: 4, 16: 4, 32: 4, 64: 2}


def _lane_limit(body) -> int | None:
    """The most lanes every element type in ``body`` allows (None: no limit known)."""
    bits = set()

    def add(dtype):
        t = tvm.DataType(str(dtype))
        if t.lanes == 1:
            bits.add(t.bits)

    tvm_ffi.structural_walk(body, [(tirx.BufferStore, lambda s: add(s.buffer.ty.dtype)),
                                   (TensorLoad, lambda load: add(load.source.ty.dtype)),
                                   (tirx.Cast, lambda c: add(c.ty))])
    limits = [_MAX_LANES[b] for b in bits if b in _MAX_LANES]
    return min(limits) if limits else None


def _split(loop):
    if loop.kind != tirx.ForKind.VECTORIZED or not isinstance(loop.extent, tirx.IntImm):
        return loop
    n, limit = int(loop.extent.value), _lane_limit(loop.body)
    if limit is None or n <= limit:
        return loop
    v = 1
    while v * 2 <= limit and n % (v * 2) == 0:
        v *= 2
    if v == 1:
        return rebuild_for(loop, kind=tirx.ForKind.SERIAL)
    outer = tirx.Var(f"{loop.loop_var.name}_o", str(loop.loop_var.ty))
    inner = tirx.Var(f"{loop.loop_var.name}_v", str(loop.loop_var.ty))
    body = substitute(loop.body, {loop.loop_var: loop.min + outer * v + inner})
    return tirx.For(outer, 0, n // v, tirx.ForKind.SERIAL, tirx.For(inner, 0, v, tirx.ForKind.VECTORIZED, body))


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.SplitWideVectorLoops")
def SplitWideVectorLoops(func, mod, ctx):  # noqa: N802 - a pass, named like TVM's
    """Split vectorized loops wider than CUDA's vector types (see the module doc), when the lowering asks."""
    if not requested("split_wide_vectors"):
        return func
    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.For, _split)], order="post"))
