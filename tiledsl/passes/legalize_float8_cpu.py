"""LegalizeFloat8CPU: exact float8 <-> float32 conversions for the LLVM target.

TVM 0.27's LLVM code for float8 casts is wrong for subnormals, zeros and specials (measured: 18 of the 256
float8_e4m3fn codes decode wrongly, and about 40% of small float32 values encode to the wrong code). This pass
replaces every cast from or to ``float8_e4m3fn`` / ``float8_e5m2`` with integer arithmetic on the bits that matches
torch bit for bit (round to nearest even; like torch, e4m3fn saturates at 448 and e5m2 overflows to infinity).

TVM's LLVM code generator also gives float8 *allocations* (shared tiles, fragments) a 32-bit float element type,
so a float8 tile in a CPU kernel failed LLVM verification ("Invalid bitcast"). Such buffers become uint8 buffers
holding the same bits: stores reinterpret their value, loads reinterpret back, and a reinterpret of a reinterpret
folds away, so no float8-typed value remains between two on-chip tiles.

Float8 arithmetic and comparisons (``x * y``, ``T.max(x, y)``, ``x < y`` on float8 values) run in float32 on
the exactly decoded operands and round back once; TVM's own legalization does the same through its inexact casts
(measured: 96 of 256 products of small e4m3fn values came out wrong).

A float8 ``Select`` / ``if_then_else`` (a guarded copy: ``if_then_else(k < K, A[i, k], float8(0))``) is chosen on its
bits: TVM's own float8 legalization would compute it in float32 and then fail to reinterpret the float32 result
as a byte ("Reinterpret requires size match"). Float8 constants in such choices become their byte codes, encoded
here exactly like torch.

Expects: tile ops lowered (runs after LowerTileOpsCPU). Guarantees: no arithmetic or comparison on float8
values; no Cast has a float8 source or destination; no allocated buffer has a float8 dtype; no Select or
if_then_else has a float8 dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..ir.ops import dtype_of
from .pass_errors import keep_tiledsl_errors


@dataclass(frozen=True)
class _Format:
    exp_bits: int
    man_bits: int
    bias: int
    has_inf: bool  # e5m2: IEEE-like; e4m3fn: only NaN (all ones)

    @property
    def overflow_code(self) -> int:
        """What a finite value too large for the format becomes: infinity (e5m2) or the largest finite (e4m3fn,
        which torch saturates)."""
        return (((1 << self.exp_bits) - 1) << self.man_bits) if self.has_inf else 0x7E


_IF_THEN_ELSE = tvm.ir.Op.get("prim.if_then_else")
_FORMATS = {"float8_e4m3fn": _Format(4, 3, 7, False), "float8_e5m2": _Format(5, 2, 15, True)}


def _decode_code(code: int, fmt: _Format) -> float:
    """The value of float8 byte ``code`` (a Python float; NaN for the NaN codes)."""
    sign = -1.0 if code & 0x80 else 1.0
    exp, man = (code >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1), code & ((1 << fmt.man_bits) - 1)
    all_ones = (1 << fmt.exp_bits) - 1
    if fmt.has_inf and exp == all_ones:
        return sign * float("inf") if man == 0 else float("nan")
    if not fmt.has_inf and exp == all_ones and man == (1 << fmt.man_bits) - 1:
        return float("nan")
    if exp == 0:
        return sign * man * 2.0 ** (1 - fmt.bias - fmt.man_bits)
    return sign * (1 + man / (1 << fmt.man_bits)) * 2.0 ** (exp - fmt.bias)


def _encode_constant(value: float, fmt: _Format) -> int:
    """The float8 byte code of a Python float, rounded to nearest even as torch does (and as ``_encode``)."""
    sign = 0x80 if math.copysign(1.0, value) < 0 else 0
    if math.isnan(value):
        return ((((1 << fmt.exp_bits) - 1) << fmt.man_bits) | (1 << (fmt.man_bits - 1))) if fmt.has_inf else 0x7F
    magnitude = abs(value)
    finite = [(c, _decode_code(c, fmt)) for c in range(fmt.overflow_code if fmt.has_inf else 0x7F)]
    largest = finite[-1][1]
    half_step = (largest - finite[-2][1]) / 2
    if math.isinf(magnitude) or magnitude >= largest + half_step:
        return sign | fmt.overflow_code
    code = min(finite, key=lambda cv: (abs(cv[1] - magnitude), cv[0] & 1))[0]
    return sign | code


def _constant_code(value: float, fmt: _Format):
    """The uint8 constant holding the float8 code of ``value`` (see :func:`_encode_constant`)."""
    return tirx.const(_encode_constant(float(value), fmt), "uint8")


def _i32(v: int):
    return tirx.const(v, "int32")


def _decode(value, fmt: _Format):
    """float8 -> float32, exactly. Branches are decoded one by one: TVM's FP8ComputeLegalize would otherwise
    rewrite a float8 ``if_then_else`` under our bit casts."""
    if isinstance(value, tirx.FloatImm):  # its value as float8 holds it (a folded T.cast(0.3, ...) may not be)
        return tirx.const(_decode_code(_encode_constant(float(value.value), fmt), fmt), "float32")
    if _is_reinterpret(value) and isinstance(value.args[0], tirx.IntImm):  # a constant's code (see _on_cast)
        return tirx.const(_decode_code(int(value.args[0].value), fmt), "float32")
    if isinstance(value, tirx.Select):
        return tirx.Select(value.condition, _decode(value.true_value, fmt), _decode(value.false_value, fmt))
    if isinstance(value, tvm.ir.Call) and value.op.same_as(_IF_THEN_ELSE):
        cond, then_value, else_value = value.args
        return tirx.if_then_else(cond, _decode(then_value, fmt), _decode(else_value, fmt))
    bits = tirx.Var("f8_bits", "int32")  # bound once below: the value is not repeated in every use
    sign = tirx.bitwise_and(tirx.shift_right(bits, _i32(7)), _i32(1))
    exp = tirx.bitwise_and(tirx.shift_right(bits, _i32(fmt.man_bits)), _i32((1 << fmt.exp_bits) - 1))
    man = tirx.bitwise_and(bits, _i32((1 << fmt.man_bits) - 1))
    normal = tirx.reinterpret("float32", ((exp + (127 - fmt.bias)) << 23) | (man << (23 - fmt.man_bits)))
    subnormal = tirx.Cast("float32", man) * tirx.const(2.0 ** (1 - fmt.bias - fmt.man_bits), "float32")
    magnitude = tirx.Select(exp == 0, subnormal, normal)
    all_ones = (1 << fmt.exp_bits) - 1
    if fmt.has_inf:
        special = tirx.Select(man == 0, tirx.infinity("float32"), tirx.nan("float32") if hasattr(tirx, "nan")
                              else tirx.reinterpret("float32", _i32(0x7FC00000)))
        magnitude = tirx.Select(exp == all_ones, special, magnitude)
    else:
        nan = tirx.reinterpret("float32", _i32(0x7FC00000))
        magnitude = tirx.Select(tirx.And(exp == all_ones, man == (1 << fmt.man_bits) - 1), nan, magnitude)
    # the sign is or-ed into the float32 bits: a Select on it would copy the magnitude's expression twice
    signed = tirx.reinterpret("float32", tirx.bitwise_or(tirx.reinterpret("int32", magnitude), sign << 31))
    return tirx.Let(bits, tirx.Cast("int32", tirx.reinterpret("uint8", value)), signed)


def _let(name: str, value, body_of):
    """``body_of(v)`` with ``v`` bound to ``value`` once (a Let expression), so that an expression used several
    times is not copied into each use (nested conversions would grow exponentially)."""
    var = tirx.Var(name, dtype_of(value))
    return tirx.Let(var, value, body_of(var))


def _encode(value, fmt: _Format, dtype: str):
    """float32 -> float8, round to nearest even."""
    return _let("f32_bits", tirx.reinterpret("int32", value), lambda bits: _let(
        "f32_mag", tirx.bitwise_and(bits, _i32(0x7FFFFFFF)),
        lambda mag_bits: _encode_magnitude(bits, mag_bits, fmt, dtype)))


def _encode_magnitude(bits, mag_bits, fmt: _Format, dtype: str):
    sign = tirx.bitwise_and(tirx.shift_right(bits, _i32(31)), _i32(1))
    shift = 23 - fmt.man_bits
    # normal range: round the float32 mantissa to man_bits (ties to even), then rebias the exponent
    lsb = tirx.bitwise_and(tirx.shift_right(mag_bits, _i32(shift)), _i32(1))
    rounded = mag_bits + _i32((1 << (shift - 1)) - 1) + lsb
    normal_code = tirx.shift_right(rounded, _i32(shift)) - _i32((127 - fmt.bias) << fmt.man_bits)
    # subnormal range: a multiple of the smallest subnormal, rounded to nearest even
    magnitude = tirx.reinterpret("float32", mag_bits)
    scaled = magnitude * tirx.const(2.0 ** (fmt.bias - 1 + fmt.man_bits), "float32")
    sub_code = tirx.Cast("int32", tirx.nearbyint(scaled))
    min_normal_bits = (127 - fmt.bias + 1) << 23
    nan_code = (((1 << fmt.exp_bits) - 1) << fmt.man_bits) | (1 << (fmt.man_bits - 1)) if fmt.has_inf else 0x7F

    def finish(code):
        code = tirx.Select(code > _i32(fmt.overflow_code), _i32(fmt.overflow_code), code)
        code = tirx.Select(mag_bits > _i32(0x7F800000), _i32(nan_code), code)
        if fmt.has_inf:  # float32 infinity stays infinity
            code = tirx.Select(mag_bits == _i32(0x7F800000), _i32(fmt.overflow_code), code)
        return tirx.reinterpret(dtype, tirx.Cast("uint8", code | (sign << 7)))

    return _let("f8_code", tirx.Select(mag_bits < _i32(min_normal_bits), sub_code, normal_code), finish)


def _on_cast(cast):
    src, dst = dtype_of(cast.value), dtype_of(cast)
    if src in _FORMATS:
        as_f32 = _decode(cast.value, _FORMATS[src])
        if dst in _FORMATS:
            return _encode(as_f32, _FORMATS[dst], dst)
        return as_f32 if dst == "float32" else tirx.Cast(dst, as_f32)
    if dst in _FORMATS:
        if isinstance(cast.value, (tirx.FloatImm, tirx.IntImm)):  # a constant: its code, encoded here
            return tirx.reinterpret(dst, _constant_code(cast.value.value, _FORMATS[dst]))
        value = cast.value if src == "float32" else tirx.Cast("float32", cast.value)
        return _encode(value, _FORMATS[dst], dst)
    return cast


def _is_reinterpret(expr) -> bool:
    return isinstance(expr, tvm.ir.expr.Call) and expr.op.name == "tirx.reinterpret" and len(expr.args) == 1


def _as_bytes(value):
    """The uint8 bits of a float8 expression: choices are taken apart and constants encoded, so that no float8
    value is computed (only loaded, stored and reinterpreted)."""
    if _is_reinterpret(value) and dtype_of(value.args[0]) == "uint8":
        return value.args[0]
    if isinstance(value, tirx.FloatImm):
        return _constant_code(value.value, _FORMATS[dtype_of(value)])
    if isinstance(value, tirx.Select):
        return tirx.Select(value.condition, _as_bytes(value.true_value), _as_bytes(value.false_value))
    if isinstance(value, tvm.ir.Call) and value.op.same_as(_IF_THEN_ELSE):
        cond, then_value, else_value = value.args
        return tirx.if_then_else(cond, _as_bytes(then_value), _as_bytes(else_value))
    return tirx.reinterpret("uint8", value)


def _choose_on_bits(expr):
    """A float8 Select / if_then_else as a choice between bytes, reinterpreted as float8 (see the module doc)."""
    dtype = dtype_of(expr)
    if dtype not in _FORMATS:
        return expr
    if isinstance(expr, tvm.ir.Call) and not expr.op.same_as(_IF_THEN_ELSE):
        return expr
    return tirx.reinterpret(dtype, _as_bytes(expr))


def _fold_double_reinterpret(call):
    """``reinterpret(t, reinterpret(u, x))`` with ``x`` of dtype ``t`` is ``x``."""
    inner = call.args[0] if _is_reinterpret(call) else None
    if _is_reinterpret(inner) and dtype_of(call) == dtype_of(inner.args[0]):
        return inner.args[0]
    return call


_ARITHMETIC = (tirx.Add, tirx.Sub, tirx.Mul, tirx.Div, tirx.Min, tirx.Max)
_COMPARISONS = (tirx.EQ, tirx.NE, tirx.LT, tirx.LE, tirx.GT, tirx.GE)


def _through_float32(expr):
    """Float8 arithmetic as float32 arithmetic on the decoded operands, rounded back to float8 once (what torch
    gives for ``(x.float() * y.float()).to(float8)``); float8 comparisons compare the decoded values. The casts
    become exact bit arithmetic in ``_on_cast``."""
    if isinstance(expr, _ARITHMETIC) and dtype_of(expr) in _FORMATS:
        return tirx.Cast(dtype_of(expr), type(expr)(tirx.Cast("float32", expr.a), tirx.Cast("float32", expr.b)))
    if isinstance(expr, _COMPARISONS) and dtype_of(expr.a) in _FORMATS:
        return type(expr)(tirx.Cast("float32", expr.a), tirx.Cast("float32", expr.b))
    return expr


def _bytes_for_float8_tiles(body):
    """Allocated float8 buffers as uint8 buffers of the same bits (see the module doc)."""
    remap = {}

    def on_alloc(stmt):
        buf = stmt.buffer
        if str(buf.ty.dtype) not in _FORMATS:
            return stmt
        remap[buf] = (tirx.decl_buffer(buf.ty.shape, "uint8", buf.name, scope=buf.scope()), str(buf.ty.dtype))
        return tirx.AllocBuffer(remap[buf][0])

    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")
    if not remap:
        return body

    def on_load(load):
        if load.source not in remap:
            return load
        new, dtype = remap[load.source]
        return tirx.reinterpret(dtype, tirx.BufferLoad(new, list(load.indices)))

    def on_store(store):
        if store.buffer not in remap:
            return store
        return tirx.BufferStore(remap[store.buffer][0], _as_bytes(store.value), list(store.indices))

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LegalizeFloat8CPU")
@keep_tiledsl_errors
def LegalizeFloat8CPU(func, mod, ctx):
    """Replace float8 casts with exact bit arithmetic and float8 tiles with byte tiles (CPU target)."""
    body = tvm_ffi.structural_map(func.body, [(cls, _through_float32) for cls in _ARITHMETIC + _COMPARISONS],
                                  order="post")
    body = tvm_ffi.structural_map(body, [(tirx.Select, _choose_on_bits), (tvm.ir.Call, _choose_on_bits)],
                                  order="post")
    body = tvm_ffi.structural_map(body, [(tirx.Cast, _on_cast)], order="post")
    body = _bytes_for_float8_tiles(body)
    return func.with_body(tvm_ffi.structural_map(body, [(tvm.ir.expr.Call, _fold_double_reinterpret)], order="post"))
