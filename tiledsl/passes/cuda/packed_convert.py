"""PackFloatConversions: float32 -> float16 / bfloat16 register conversions two lanes per instruction (CUDA).

A fragment cast (``T.copy(acc_s, acc_s_cast)``: flash attention's P, any epilogue's fp32 -> fp16) reaches the code
generator as a vectorized loop storing ``Cast("float16", x[...])`` into registers, which TVM prints lane by lane:
two ``cvt.rn.f16.f32`` and a pack per pair of elements. sm_80 and later convert a pair in one
``cvt.rn.f16x2.f32`` (``cvt.rn.bf16x2.f32`` for bfloat16), the instruction hand-written attention kernels use.
Conversions run on the SM's narrow conversion pipe (as ``ex2`` does); in flash attention's loop every thread
converts 64 scores per iteration next to 64 exponentials, so one instruction per pair instead of two should give
the softmax throughput back (not shown by the one timing so far, below).

The pass rewrites every vectorized loop of an even constant length whose body is one store of
``Cast(float16|bfloat16, <float32 value>)`` at consecutive indices of the last dimension (into registers, or two
lanes into memory: an epilogue's ``half2`` stores) into one two-lane store per pair, its value the packed
conversion of the pair's two values. The rounding (to nearest even) is the lane-by-lane casts', so the results are
bit-identical. Runs after LowerTileOpsCUDA, before TVM's VectorizeLoop; other loops are left as they are. sm_80
and later; on by default since 2026-12-07 (``TILEDSL_PACKED_CONVERSIONS=0`` turns it off): alone it did not speed
up flash attention (H100, 2026-12-06), with DeferRowSums and RowReciprocals it does (``benchmarks/RESULTS.md``,
2026-12-07, seventeenth session).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.script import tirx as T
from tvm.sym import detect_linear_equation

from ...runtime.target import current_arch, sm_number
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import seq, substitute, uses_var

_HELPERS = {"float16": ("tiledsl_pack_f16x2", "half2", "f16x2"),
            "bfloat16": ("tiledsl_pack_bf16x2", "nv_bfloat162", "bf16x2")}


def _source(dtype: str) -> str:
    name, ctype, ptx = _HELPERS[dtype]
    return (f"__forceinline__ __device__ {ctype} {name}(float lo, float hi) {{\n"
            f"  {ctype} out;\n"
            f"  asm(\"cvt.rn.{ptx}.f32 %0, %1, %2;\" : \"=r\"(*reinterpret_cast<unsigned*>(&out)) "
            f": \"f\"(hi), \"f\"(lo));\n"
            f"  return out;\n}}\n")


def _pairs(loop):
    """The store of a loop this pass rewrites, or None."""
    if loop.kind != tirx.ForKind.VECTORIZED or not isinstance(loop.extent, tirx.IntImm) or int(loop.extent) % 2 \
            or not isinstance(loop.min, tirx.IntImm) or int(loop.min) != 0:
        return None
    store = loop.body
    if not isinstance(store, tirx.BufferStore) or not store.indices or \
            any(uses_var(i, loop.loop_var) for i in store.indices[:-1]):
        return None
    if store.buffer.scope() != "local" and int(loop.extent) != 2:  # memory keeps its wider vector stores
        return None
    dtype = str(store.buffer.ty.dtype)
    value = store.value
    if dtype not in _HELPERS or not isinstance(value, tirx.Cast) or str(value.value.ty.dtype) != "float32":
        return None
    coeffs = detect_linear_equation(store.indices[-1], [loop.loop_var])
    if len(coeffs) != 2 or not isinstance(coeffs[0], tirx.IntImm) or int(coeffs[0]) != 1:
        return None
    return store


def _packed(loop, store):
    """The loop as one two-lane store per pair of its lanes."""
    dtype = str(store.buffer.ty.dtype)
    name = _HELPERS[dtype][0]
    v = loop.loop_var
    out = []
    for first in range(0, int(loop.extent), 2):
        lo, hi = (substitute(store.value.value, {v: tirx.const(first + d, str(v.ty))}) for d in (0, 1))
        index = substitute(store.indices[-1], {v: tirx.const(first, str(v.ty))})
        pair = T.cuda.func_call(name, lo, hi, source_code=_source(dtype), return_type=f"{dtype}x2")
        out.append(tirx.BufferStore(store.buffer, pair, list(store.indices[:-1]) + [tirx.Ramp(index, 1, 2)]))
    return seq(out)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.PackFloatConversions")
@keep_tiledsl_errors
def PackFloatConversions(func, mod, ctx):
    """Convert float32 register values to float16 / bfloat16 a pair per instruction (see the module doc)."""
    if not schedule("TILEDSL_PACKED_CONVERSIONS") or (sm_number(current_arch()) or 0) < 80:
        return func

    def on_for(loop):
        store = _pairs(loop)
        return loop if store is None else _packed(loop, store)
    body = tvm_ffi.structural_map(func.body, [(tirx.For, on_for)], order="post")
    return func if body.same_as(func.body) else func.with_body(body)
