"""Index arithmetic shared by the tile-op lowerings: region indices, bounds predicates, guarded loads/stores."""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import tvm
import tvm_ffi
from tvm import tirx
from tvm.sym import Analyzer

from ..errors import CompileError
from ..ir.ops import dtype_of, is_tile_statement
from ..language.loops import PARALLEL_ATTR


def is_unit(extent) -> bool:
    """True for a constant extent of 1."""
    return isinstance(extent, tirx.IntImm) and int(extent) == 1


def non_unit_extents(region) -> list:
    """The extents of a region that are not 1 (the dimensions a tile actually spans)."""
    return [r.extent for r in region.region if not is_unit(r.extent)]


def tile_dims(region) -> list:
    """The two dimensions of a gemm operand region that form its 2-d tile: its last two non-unit dimensions (the last
    two dimensions when fewer than two are non-unit)."""
    dims = [k for k, r in enumerate(region.region) if not is_unit(r.extent)]
    if len(dims) < 2:
        dims = list(range(len(region.region)))[-2:]
    return dims[-2:]


def region_indices(region, loop_vars) -> list:
    """Full buffer indices of a region for loop variables that run over its non-unit extents."""
    it = iter(loop_vars)
    out = []
    for r in region.region:
        out.append(r.min if is_unit(r.extent) else r.min + next(it))
    return out


def dtype_bits(dtype) -> int:
    """Bits of one element of ``dtype`` (all its lanes): 8 for float8_e4m3fn, 4 for int4, 32 for float16x2."""
    t = tvm.DataType(str(dtype))
    return t.bits * t.lanes


def dtype_bytes(dtype) -> int:
    """Whole bytes of one element of ``dtype``; a sub-byte type (int4) counts as one byte, so a vector width
    derived from it errs narrow."""
    return max(1, dtype_bits(dtype) // 8)


def is_global(buf) -> bool:
    """True for buffers in global memory (kernel parameters)."""
    return buf.scope() == "global"


def bounds_predicate(buf, indices, analyzer: Analyzer):
    """``0 <= idx < shape`` for each index the analyzer cannot prove in range, or None when all are."""
    terms = []
    for idx, ext in zip(indices, buf.ty.shape):
        if not analyzer.can_prove(idx < ext):
            terms.append(idx < ext)
        if not analyzer.can_prove(idx >= 0):
            terms.append(idx >= 0)
    if not terms:
        return None
    return reduce(tirx.And, terms)


def cast_to(value, dtype: str):
    """``value`` converted to ``dtype`` (unchanged when it already is)."""
    return value if dtype_of(value) == dtype else tirx.Cast(dtype, value)


def guarded_load(buf, indices, analyzer: Analyzer):
    """A load that reads zero outside a global tensor's bounds."""
    load = tirx.BufferLoad(buf, indices)
    if not is_global(buf):
        return load
    pred = bounds_predicate(buf, indices, analyzer)
    if pred is None:
        return load
    return tirx.if_then_else(pred, load, tirx.const(0, str(buf.ty.dtype)))


def guarded_store(buf, value, indices, analyzer: Analyzer):
    """A store that is dropped outside a global tensor's bounds."""
    store = tirx.BufferStore(buf, cast_to(value, str(buf.ty.dtype)), indices)
    if not is_global(buf):
        return store
    pred = bounds_predicate(buf, indices, analyzer)
    return store if pred is None else tirx.IfThenElse(pred, store, None)


def u32_view(regs):
    """(a uint32 buffer over the same registers as the local 1-d buffer ``regs``, its declaration statement): how
    an int32 or fp16-pair accumulator reaches a PTX instruction whose operands are ``.u32`` registers."""
    count = int(regs.ty.shape[0]) * dtype_bytes(str(regs.ty.dtype)) // 4
    bits = tirx.decl_buffer([count], "uint32", regs.name + "_u32", scope=regs.scope())
    return bits, tirx.DeclBuffer(bits, data=tirx.address_of(tirx.BufferLoad(regs, [tirx.const(0, "int32")])))


def flat_index(indices, shape):
    """Row-major flat offset of ``indices`` in ``shape``."""
    return reduce(lambda acc, pair: acc * pair[1] + pair[0], zip(indices, shape), tirx.const(0, "int32"))


def unravel(flat, shape) -> list:
    """Row-major indices of a flat offset."""
    out = []
    for ext in reversed(list(shape)[1:]):
        out.append(tirx.floormod(flat, ext))
        flat = tirx.floordiv(flat, ext)
    out.append(flat)
    return list(reversed(out))


def whole_region(region) -> bool:
    """True when ``region`` is its whole buffer: every origin 0 and every extent the buffer's constant extent."""
    shape = list(region.source.ty.shape)
    return len(shape) == len(region.region) and all(
        isinstance(r.min, tirx.IntImm) and int(r.min) == 0 and isinstance(r.extent, tirx.IntImm) and
        isinstance(e, tirx.IntImm) and int(r.extent) == int(e) for r, e in zip(region.region, shape))


def zero_fill_of(stmt):
    """The buffer ``stmt`` sets to zero as a whole (``T.clear`` / ``T.fill(buf, 0)`` of the whole tile), else None."""
    if not is_tile_statement(stmt, "fill"):
        return None
    region, value = stmt.value.args[:2]
    zero = isinstance(value, (tirx.IntImm, tirx.FloatImm)) and float(value.value) == 0.0
    return region.source if zero and whole_region(region) else None


def without_access(ptr):
    """A ``tvm_access_ptr`` call with no read or write in its access mask: the address only, which TVM's ThreadSync
    does not count as an access (for shared memory that only the TMA unit writes or reads)."""
    return type(ptr)(ptr.op, list(ptr.args[:-1]) + [tirx.const(0, "int32")], attrs=ptr.attrs, ret_ty=ptr.ty)


def const_ints(extents, what: str) -> list[int]:
    """Extents as Python ints (tiles must be constant)."""
    out = []
    for e in extents:
        if not isinstance(e, tirx.IntImm):
            raise CompileError(f"{what}: extent {e} is not a compile-time constant")
        out.append(int(e))
    return out


def reduce_identity(kind: str, dtype: str):
    """The neutral element of a reduction."""
    if kind in ("sum", "abssum", "absmax"):
        return tirx.const(0, dtype)
    is_float = dtype.startswith(("float", "bfloat"))
    if dtype == "bfloat16" and kind in ("max", "min"):  # TVM's infinity() does not know bfloat16
        return tirx.const(float("-inf") if kind == "max" else float("inf"), dtype)
    if kind == "max":
        return -tirx.infinity(dtype) if is_float else tirx.min_value(dtype)
    if kind == "min":
        return tirx.infinity(dtype) if is_float else tirx.max_value(dtype)
    raise CompileError(f"unknown reduction {kind!r}")


def reduce_combine(kind: str, acc, value):
    """``acc`` combined with ``value`` for a reduction kind."""
    if kind == "sum":
        return acc + value
    if kind == "abssum":
        return acc + tirx.abs(value)
    if kind == "max":
        return tirx.max(acc, value)
    if kind == "absmax":
        return tirx.max(acc, tirx.abs(value))
    if kind == "min":
        return tirx.min(acc, value)
    raise CompileError(f"unknown reduction {kind!r}")


@dataclass(frozen=True)
class ReduceSpec:
    """A ``tiledsl.reduce`` call decoded: regions, kind, reduced dim, clear flag, shapes and accumulator dtype."""

    src: object
    dst: object
    kind: str
    dim: int
    clear: bool
    src_shape: list
    dst_shape: list
    kept: list  # src_shape without the reduced dimension
    dtype: str  # the output's dtype, in which values are combined


def reduce_spec(call) -> ReduceSpec:
    """Decode a ``tiledsl.reduce`` call (shared by every target's lowering)."""
    src, dst = call.args
    dim = int(call.attrs["dim"])
    src_shape = const_ints([r.extent for r in src.region], "T.reduce")
    return ReduceSpec(src, dst, str(call.attrs["kind"]), dim, bool(call.attrs["clear"]), src_shape,
                      const_ints([r.extent for r in dst.region], "T.reduce"), src_shape[:dim] + src_shape[dim + 1:],
                      str(dst.source.ty.dtype))


def parallel_nest(stmt):
    """([the loops of the perfect ``T.Parallel`` nest starting at ``stmt``, outermost first], its innermost
    statement); no loops when ``stmt`` is not a ``T.Parallel`` loop."""
    loops = []
    while isinstance(stmt, tirx.For) and stmt.annotations is not None and PARALLEL_ATTR in stmt.annotations:
        loops.append(stmt)
        stmt = stmt.body
    return loops, stmt


def outermost_nests(body) -> list:
    """Every outermost ``T.Parallel`` nest: (its outer loop, its loop vars, their extents)."""
    nests, inner = [], []

    def on_for(loop):
        if PARALLEL_ATTR in loop.annotations:
            nests.append(loop)
            b = loop.body
            while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
                inner.append(b)
                b = b.body
    tvm_ffi.structural_walk(body, (tirx.For, on_for))
    out = []
    for loop in nests:
        if any(loop.same_as(i) for i in inner):
            continue
        loop_vars, extents, b = [], [], loop
        while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
            loop_vars.append(b.loop_var)
            extents.append(b.extent)
            b = b.body
        out.append((loop, loop_vars, extents))
    return out
