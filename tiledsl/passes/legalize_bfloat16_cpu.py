"""LegalizeBFloat16CPU: bfloat16 on the LLVM target rounds where the GPU rounds.

TVM 0.27's BF16ComputeLegalize computes bfloat16 in float32 on the CPU and drops the rounding in between: an
on-chip bfloat16 tile (shared or fragment) becomes a float32 buffer, and ``fp32 -> bf16 -> fp32`` returns its input
unchanged. A CPU run then cannot show a bfloat16 precision bug that the GPU (which stores 16 bits) has. This pass
makes every bfloat16 step explicit in integer arithmetic on the bits, as torch does it:

* a conversion to bfloat16 rounds to nearest even (``(bits + 0x7FFF + lsb) >> 16``; NaN becomes 0x7FC0, values past
  the largest finite round to infinity), a conversion from it shifts the 16 bits back into a float32;
* an operation on bfloat16 values runs in float32 and is rounded to bfloat16 (exactly the correctly rounded
  bfloat16 result for +, -, *, /: float32 carries more than twice bfloat16's 8 bits);
* a bfloat16 tile (shared memory, fragment, local) becomes a uint16 tile of the same bits; selections
  (``if_then_else``, ``Select``) and constants work on the bits too.

float16 needs nothing: LLVM converts float <-> half with IEEE rounding, and tiles stay half.

Expects: tile ops lowered (runs after LowerTileOpsCPU and KernelToLoopsCPU). Guarantees: no arithmetic, comparison
or cast has a bfloat16 operand or result; no allocated buffer is bfloat16; bfloat16 values only pass between
global tensors and reinterpretations of their bits.
"""
from __future__ import annotations

import numpy as np
import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad

from ..ir.ops import dtype_of
from .pass_errors import keep_tiledsl_errors

BF16 = "bfloat16"
_NAN_BITS = 0x7FC0  # torch's (and CUDA's __float2bfloat16_rn's) NaN
_REINTERPRET = "tirx.reinterpret"
_ARITH = (tirx.Add, tirx.Sub, tirx.Mul, tirx.Div, tirx.Min, tirx.Max, tirx.FloorDiv, tirx.FloorMod, tirx.Mod)
_COMPARE = (tirx.EQ, tirx.NE, tirx.LT, tirx.LE, tirx.GT, tirx.GE)


def bf16_bits(value: float) -> int:
    """The bfloat16 bits of a Python float, rounded to nearest even like torch."""
    with np.errstate(over="ignore"):
        bits = int(np.array(value, dtype=np.float32).view(np.uint32))
    if (bits & 0x7FFFFFFF) > 0x7F800000:
        return _NAN_BITS
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def _i64(v: int):
    return tirx.const(v, "int64")


def to_float32(value):
    """A bfloat16 expression as the float32 it stands for (exact)."""
    if isinstance(value, tirx.FloatImm):
        bits = bf16_bits(float(value.value)) << 16
        return tirx.reinterpret("float32", tirx.const(bits - (1 << 32) if bits >= 1 << 31 else bits, "int32"))
    bits = tirx.Cast("uint32", tirx.reinterpret("uint16", value))
    return tirx.reinterpret("float32", tirx.shift_left(bits, tirx.const(16, "uint32")))


def from_float32(value):
    """A float32 expression rounded to bfloat16 (nearest even; NaN -> 0x7FC0)."""
    bits = tirx.Cast("int64", tirx.reinterpret("uint32", value))
    lsb = tirx.bitwise_and(tirx.shift_right(bits, _i64(16)), _i64(1))
    rounded = tirx.shift_right(bits + _i64(0x7FFF) + lsb, _i64(16))
    is_nan = tirx.bitwise_and(bits, _i64(0x7FFFFFFF)) > _i64(0x7F800000)
    code = tirx.Select(is_nan, _i64(_NAN_BITS), rounded)
    return tirx.reinterpret(BF16, tirx.Cast("uint16", code))


def _as_float32(value):
    """Any expression as float32 (bfloat16 through its bits, other types by a cast)."""
    dtype = dtype_of(value)
    if dtype == BF16:
        return to_float32(value)
    return value if dtype == "float32" else tirx.Cast("float32", value)


def _on_cast(cast):
    src, dst = dtype_of(cast.value), dtype_of(cast)
    if src != BF16 and dst != BF16:
        return cast
    if src == BF16 and dst == BF16:
        return cast.value
    if dst == BF16:
        return from_float32(_as_float32(cast.value))
    as_f32 = to_float32(cast.value)
    return as_f32 if dst == "float32" else tirx.Cast(dst, as_f32)


def _on_binary(node):
    if dtype_of(node.a) != BF16:
        return node
    a, b = to_float32(node.a), to_float32(node.b)
    if isinstance(node, _COMPARE):
        return type(node)(a, b)
    return from_float32(type(node)(a, b))


def _bits(value):
    return tirx.reinterpret("uint16", value)


def _on_float(imm):
    if dtype_of(imm) != BF16:
        return imm
    return tirx.reinterpret(BF16, tirx.const(bf16_bits(float(imm.value)), "uint16"))


def _on_select(sel):
    if dtype_of(sel) != BF16:
        return sel
    return tirx.reinterpret(BF16, tirx.Select(sel.condition, _bits(sel.true_value), _bits(sel.false_value)))


def _on_call(call):
    if dtype_of(call) != BF16 or not isinstance(call.op, tvm.ir.Op) or call.op.name == _REINTERPRET:
        return call
    name = call.op.name
    if name == "prim.if_then_else":  # choose between bits, so nothing computes in bfloat16
        cond, then_value, else_value = call.args
        return tirx.reinterpret(BF16, tirx.if_then_else(cond, _bits(then_value), _bits(else_value)))
    if name.startswith("tirx.") and all(dtype_of(a) == BF16 for a in call.args):  # math: exp, sqrt, ...
        return from_float32(Call(call.op, [to_float32(a) for a in call.args], ret_ty="float32"))
    return call


def _fold_reinterprets(body):
    """``reinterpret(T, reinterpret(S, x))`` with x of type T -> x."""
    def on_call(call):
        if not (isinstance(call.op, tvm.ir.Op) and call.op.name == _REINTERPRET):
            return call
        inner = call.args[0]
        if isinstance(inner, Call) and isinstance(inner.op, tvm.ir.Op) and inner.op.name == _REINTERPRET and \
                dtype_of(inner.args[0]) == dtype_of(call):
            return inner.args[0]
        return call
    return tvm_ffi.structural_map(body, [(Call, on_call)], order="post")


def _bits_for_bf16_tiles(body):
    """Allocated bfloat16 buffers as uint16 buffers of the same bits."""
    remap = {}

    def on_alloc(stmt):
        buf = stmt.buffer
        if str(buf.ty.dtype) != BF16:
            return stmt
        remap[buf] = tirx.decl_buffer(buf.ty.shape, "uint16", buf.name, scope=buf.scope())
        return tirx.AllocBuffer(remap[buf])

    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")
    if not remap:
        return body

    def on_load(load):
        new = remap.get(load.source)
        return load if new is None else tirx.reinterpret(BF16, tirx.BufferLoad(new, list(load.indices)))

    def on_store(store):
        new = remap.get(store.buffer)
        if new is None:
            return store
        return tirx.BufferStore(new, tirx.reinterpret("uint16", store.value), list(store.indices))

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")


def legalize_bfloat16(body):
    """The rewrite of the module doc on one statement."""
    body = _bits_for_bf16_tiles(body)
    body = tvm_ffi.structural_map(body, [(tirx.FloatImm, _on_float), (tirx.Cast, _on_cast),
                                         (_ARITH + _COMPARE, _on_binary), (tirx.Select, _on_select),
                                         (Call, _on_call)], order="post")
    return _fold_reinterprets(body)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LegalizeBFloat16CPU")
@keep_tiledsl_errors
def LegalizeBFloat16CPU(func, mod, ctx):
    """Make bfloat16 rounding explicit on the CPU target (see the module doc)."""
    return func.with_body(legalize_bfloat16(func.body))
