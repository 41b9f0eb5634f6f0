"""Global -> shared tile copies as ``cp.async`` (16, 8 or 4 bytes per thread and instruction; sm_80+).

``lower_async_copy(low, src, dst)`` returns the statement, or None when the copy does not qualify (then the caller
emits an ordinary copy, which is also correct inside a pipeline). It qualifies when src is global and dst shared
with the same dtype, the tile's innermost extent holds whole vectors, every vector is contiguous and provably
aligned in both buffers, and a vector is either wholly inside the tensor or wholly outside (zero-filled with
``src-size = 0``). Commit and wait are the caller's (PipelineCUDA).
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import Range
from tvm.script import tirx as T

from ..rewriter import substitute
from .gemm_mma import current_sm
from ..tile_lowering_utils import bounds_predicate, const_ints, dtype_bytes, flat_index, is_unit, unravel
from .layout import Striped
from ...language.buffers import SHARED_SCOPES


def _vec_for(last: int, elem_bytes: int) -> int:
    for nbytes in (16, 8, 4):
        v = nbytes // elem_bytes
        if v >= 1 and last % v == 0 and nbytes >= elem_bytes:
            return v
    return 0


def lower_async_copy(low, src, dst):
    """cp.async code for ``T.copy(src global -> dst shared)``, or None when it does not qualify."""
    if src.source.scope() != "global" or dst.source.scope() not in SHARED_SCOPES:
        return None
    if str(src.source.ty.dtype) != str(dst.source.ty.dtype):
        return None
    if str(dst.source.ty.dtype).startswith("float8") and current_sm() < 89:
        return None  # before sm_89 TVM stores float8 as bytes and mistypes the pointer of an asynchronous copy
    ext = const_ints([r.extent for r in dst.region], "T.copy")
    ebytes = dtype_bytes(dst.source.ty.dtype)
    vec = _vec_for(ext[-1], ebytes)
    if not vec:
        return None
    ana, tid = low.analyzer, low.tid
    layout = Striped(tuple(ext), low.nthreads, vec)
    outer = tirx.Var("r", "int32")
    ana.bind(outer, Range.from_min_extent(0, max(layout.local_size // vec, 1)), allow_override=True)
    lane = tirx.Var("v", "int32")
    ana.bind(lane, Range.from_min_extent(0, vec), allow_override=True)
    d_loop = [ana.simplify(e) for e in layout.inverse(tid, outer * vec + lane)]
    d_idx = [r.min + i for r, i in zip(dst.region, d_loop)]
    moving = [i for i, e in zip(d_loop, ext) if e != 1]
    it = iter(moving)
    s_idx = [r.min if is_unit(r.extent) else r.min + next(it) for r in src.region]

    def flat(buf, idx, lane_value):
        return ana.simplify(flat_index([substitute(i, {lane: tirx.const(lane_value, "int32")}) for i in idx],
                                       list(buf.ty.shape)))

    s0, s1 = flat(src.source, s_idx, 0), flat(src.source, s_idx, 1)
    d0, d1 = flat(dst.source, d_idx, 0), flat(dst.source, d_idx, 1)
    if vec > 1 and not (ana.can_prove(s1 - s0 == 1) and ana.can_prove(d1 - d0 == 1)):
        return None
    if not (ana.can_prove(tirx.floormod(s0, vec) == 0) and ana.can_prove(tirx.floormod(d0, vec) == 0)):
        return None
    s_first = [substitute(i, {lane: tirx.const(0, "int32")}) for i in s_idx]
    pred = bounds_predicate(src.source, s_first, ana)
    if pred is not None:
        # a vector must be wholly in or wholly out: with aligned vectors that holds when the tensor's innermost
        # extent is a whole number of vectors
        inner = src.source.ty.shape[-1]
        if not (isinstance(inner, tirx.IntImm) and int(inner) % vec == 0):
            return None
    nbytes = vec * ebytes
    cop = "cp.async.cg.shared.global" if nbytes == 16 else "cp.async.ca.shared.global"
    # address_of, not access_ptr: ThreadSync would see the write and put a barrier before every read of any stage;
    # PipelineCUDA's wait_group + barrier are what order these writes
    d_shape = list(dst.source.ty.shape)
    # (a logical index: LowerTileOpsCUDA swizzles every element access of a swizzled tile at the end)
    d_first = [ana.simplify(e) for e in unravel(d0, d_shape)]
    dst_ptr = tirx.address_of(tirx.BufferLoad(dst.source, d_first))
    if pred is None:
        stmt = tirx.Evaluate(T.ptx[cop](dst_ptr, src.source.access_ptr("r", offset=s0), nbytes))
    else:
        safe = tirx.Select(pred, s0, tirx.const(0, "int32"))
        size = tirx.Select(pred, tirx.const(nbytes, "uint32"), tirx.const(0, "uint32"))
        stmt = tirx.Evaluate(T.ptx[cop](dst_ptr, src.source.access_ptr("r", offset=safe), nbytes, size))
    valid = layout.valid(tid, outer * vec)
    if valid is not None:
        stmt = tirx.IfThenElse(ana.simplify(valid), stmt, None)
    n_outer = layout.local_size // vec
    if n_outer == 1:
        return substitute(stmt, {outer: tirx.const(0, "int32")})
    return tirx.For(outer, 0, n_outer, tirx.ForKind.UNROLLED if n_outer <= 32 else tirx.ForKind.SERIAL, stmt)


def commit():
    """``cp.async.commit_group``."""
    return tirx.Evaluate(T.ptx.cp.async_.commit_group())


def wait(pending: int):
    """``cp.async.wait_group pending``."""
    return tirx.Evaluate(T.ptx.cp.async_.wait_group(pending))


def barrier():
    """``__syncthreads()``."""
    return tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared"))


def is_barrier(stmt) -> bool:
    """Whether ``stmt`` is a block barrier (:func:`barrier`, or TVM's for ``shared.dyn``)."""
    if not isinstance(stmt, tirx.Evaluate):
        return False
    op, args = getattr(stmt.value, "op", None), getattr(stmt.value, "args", ())
    return getattr(op, "name", "") == "tirx.tvm_storage_sync" and len(args) > 0 and \
        getattr(args[0], "value", None) in ("shared", "shared.dyn")
