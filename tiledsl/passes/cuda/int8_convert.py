"""8-bit integers to fp16 without conversion instructions (the default since 2026-12-05,
``TILEDSL_FAST_INT8_CAST=0`` turns it off).

A vectorized element loop whose body is ``X[..] = T.Cast("float16", Y[..])`` (Y int8 or uint8, both tiles in shared
memory, contiguous and aligned over the loop's 4, 8 or 16 lanes: what ``parallel.distribute`` proved before it
vectorized) becomes calls of a device helper per 4 or 8 lanes. Per 4 bytes the helper:

1. makes the bytes unsigned (signed: xor with 0x80808080, which adds 128 to each);
2. puts each byte under the high byte 0x64 with two ``prmt`` (byte permutes): the fp16 number 0x64XX is exactly
   1024 + XX (exponent 10, XX in the low mantissa bits);
3. subtracts 1024 (unsigned) or 1152 (signed) from both halves of each word with one ``sub.f16x2``.

Every step is exact for all 256 values. The cast it replaces issues one ``I2F`` per element, a quarter-rate
instruction on sm_90; this is two permutes and two fp16x2 subtracts per 4 elements (the int8-weight GEMM
converts a 64 x 128 weight tile per k step on the same threads that issue its wgmmas).
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script import tirx as T

from ..tile_lowering_utils import flat_index
from ..rewriter import substitute
from ...language.buffers import SHARED_SCOPES

BYTE_SELECTORS = (0x4140, 0x4342)  # prmt selectors: (byte 0, 0x64, byte 1, 0x64), (byte 2, 0x64, byte 3, 0x64)
EXPONENT_BYTES = 0x64646464  # the prmt's second source: every byte 0x64
SIGN_FLIP = 0x80808080  # signed bytes + 128 (mod 256) = the bytes xor 0x80
BIAS = {"int8": 0x64806480, "uint8": 0x64006400}  # fp16 pairs (1152, 1152) and (1024, 1024)


def helper_name(src_dtype: str, lanes: int) -> str:
    """The device helper converting ``lanes`` (4 or 8) elements of ``src_dtype`` (int8 or uint8)."""
    return f"tiledsl_cvt_{'s8' if src_dtype == 'int8' else 'u8'}x{lanes}_f16"


def helper_source(src_dtype: str, lanes: int) -> str:
    """CUDA source of :func:`helper_name`: reads ``lanes`` bytes at ``src``, writes ``lanes`` fp16 at ``dst``."""
    flip = f" ^ 0x{SIGN_FLIP:08x}u" if src_dtype == "int8" else ""
    words = lanes // 4
    load = "const unsigned int* in = (const unsigned int*)src;"
    body = []
    for w in range(words):
        body.append(f"  unsigned int w{w} = in[{w}]{flip};")
        for h, sel in enumerate(BYTE_SELECTORS):
            body.append(f'  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(out[{2 * w + h}]) : "r"(w{w}), '
                        f'"r"(0x{EXPONENT_BYTES:08x}u), "r"(0x{sel:04x}u));')
            body.append(f'  asm("sub.f16x2 %0, %0, %1;" : "+r"(out[{2 * w + h}]) : "r"(0x{BIAS[src_dtype]:08x}u));')
    vec = "uint2" if lanes == 4 else "uint4"
    store = (f"  *({vec}*)dst = make_{vec}(out[0], out[1]);" if lanes == 4
             else f"  *({vec}*)dst = make_{vec}(out[0], out[1], out[2], out[3]);")
    return (f"__forceinline__ __device__ void {helper_name(src_dtype, lanes)}(const void* src, void* dst) {{\n"
            f"  {load}\n  unsigned int out[{2 * words}];\n" + "\n".join(body) + f"\n{store}\n}}\n")


def _convert_call(src_buf, src_offset, dst_buf, dst_offset, lanes: int):
    dtype = str(src_buf.ty.dtype)
    return tirx.Evaluate(T.cuda.func_call(
        helper_name(dtype, lanes), src_buf.access_ptr("r", offset=src_offset, extent=lanes),
        dst_buf.access_ptr("w", offset=dst_offset, extent=lanes), source_code=helper_source(dtype, lanes)))


def rewrite_vector_cast(lane, width: int, body, physical=None):
    """The statements converting the ``width`` lanes of ``body`` (a vectorized loop's body over ``lane``, known
    contiguous and aligned) with the helpers, or None when ``body`` is not an 8-bit -> fp16 cast copy.
    ``physical(buf, flat)``: where a shared tile stores logical element ``flat`` (its bank-conflict or wgmma
    swizzle, which permutes whole 16-byte chunks, so each group of lanes stays contiguous)."""
    if width % 4 or width > 16 or not isinstance(body, tirx.BufferStore):
        return None
    dst, value = body.buffer, body.value
    if str(dst.ty.dtype) != "float16" or not isinstance(value, tirx.Cast) or str(value.ty) != "float16":
        return None
    load = value.value
    if not isinstance(load, TensorLoad) or str(load.source.ty.dtype) not in BIAS:
        return None
    src = load.source
    if dst.scope() not in SHARED_SCOPES or src.scope() not in SHARED_SCOPES:
        return None
    step = 8 if width % 8 == 0 else 4
    place = physical if physical is not None else (lambda buf, flat: flat)
    out = []
    for first in range(0, width, step):
        at = {lane: tirx.const(first, "int32")}
        src_at = [substitute(i, at) for i in load.indices]
        dst_at = [substitute(i, at) for i in body.indices]
        out.append(_convert_call(src, place(src, flat_index(src_at, list(src.ty.shape))), dst,
                                 place(dst, flat_index(dst_at, list(dst.ty.shape))), step))
    return out[0] if len(out) == 1 else tirx.SeqStmt(out)
