"""``T.reduce_*`` on CUDA: per-thread partials, warp shuffles, then shared memory across warps.

The output is a replicated fragment (see layout_inference), so after the reduction every thread holds every
result; a shared-memory output is written once per element, by one thread. Steps: (1) each thread folds the
source elements it holds into one partial per output element (identity where it holds none of that row); (2)
``__shfl_xor_sync`` butterflies combine the partials within each warp; (3) with several warps, lane 0 of each
warp writes its partials to a shared scratch tile, and every thread folds the scratch rows (TVM's ThreadSync
inserts the barriers). A replicated source needs no communication. A row reduction of a tensor-core accumulator
reduces each thread's own rows (the row-statistics path), then broadcasts the rows through shared memory.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import Range

from ...errors import CompileError, TileProgramError
from ..rewriter import loop_nest, seq
from ..tile_lowering_utils import (cast_to, flat_index, reduce_combine, reduce_identity, reduce_spec, unravel,
                                   whole_region)
from .layout import MMAAccumulator, MMARows, Replicated, Striped, WGMMARows, default_vec, numel

_CROSS = {"sum": "sum", "abssum": "sum", "max": "max", "absmax": "max", "min": "min"}
_SELECT_LIMIT = 4096


def _shfl_xor(value, offset):
    return tirx.call_extern(str(value.ty), "__shfl_xor_sync", tirx.const(0xFFFFFFFF, "uint32"), value,
                            tirx.const(offset, "int32"), tirx.const(32, "int32"))


def lower_reduce(low, call):
    """Lower one ``tiledsl.reduce`` call; ``low`` is the LowerTileOpsCUDA rewriter."""
    plan = _plan(low, call)
    if not isinstance(plan, _Generic):
        return plan
    stmts = list(plan.local)
    if plan.spread:
        stmts.extend(_across_threads(low, plan.part, plan.n_out, plan.cross, plan.dtype))
    return seq(stmts + [plan.write])


def lower_reduce_pair(low, first, second):
    """Two independent reductions lowered together (``TILEDSL_FUSE_REDUCTIONS=1``): each thread's partials and
    warp shuffles of both, then one shared scratch round for both (one barrier after the writes, one after the
    reads, instead of two each), then both results. None when either takes another path than the generic one
    (a tensor-core accumulator's rows, a replicated source) or their accumulator types differ."""
    a, b = _plan(low, first), _plan(low, second)
    if not (isinstance(a, _Generic) and isinstance(b, _Generic)) or not (a.spread and b.spread) or \
            a.dtype != b.dtype:
        return None
    stmts = list(a.local) + list(b.local)
    stmts += _warp_shuffles(a.part, a.n_out, a.cross) + _warp_shuffles(b.part, b.n_out, b.cross)
    stmts += _across_warps(low, [(a.part, a.n_out, a.cross), (b.part, b.n_out, b.cross)], a.dtype)
    return seq(stmts + [a.write, b.write])


class _Generic:
    """A reduction on the generic path, in phases: ``local`` (the per-thread partials into ``part``), whether the
    partials are ``spread`` over threads (then warp shuffles and a shared round follow), and ``write`` (the
    results into the output)."""

    def __init__(self, local, part, n_out, cross, dtype, spread, write):
        self.local, self.part, self.n_out, self.cross, self.dtype = local, part, n_out, cross, dtype
        self.spread, self.write = spread, write


def _plan(low, call):
    """The lowered statement of a reduction that takes a special path, else its :class:`_Generic` phases."""
    spec = reduce_spec(call)
    src, dst, kind, dim, clear = spec.src, spec.dst, spec.kind, spec.dim, spec.clear
    src_shape, dst_shape, kept, acc_dtype = spec.src_shape, spec.dst_shape, spec.kept, spec.dtype
    n_out = numel(kept) if kept else 1
    ana, tid = low.analyzer, low.tid

    def dst_index(flat):
        return [r.min + i for r, i in zip(dst.region, unravel(flat, dst_shape))]

    def out_flat(src_idx):
        kept_idx = src_idx[:dim] + src_idx[dim + 1:]
        kept_idx = [tirx.const(0, "int32") if e == 1 else i for i, e in zip(kept_idx, kept)]
        return ana.simplify(flat_index(kept_idx, kept)) if kept else tirx.const(0, "int32")

    def src_value(idx):
        return cast_to(tirx.BufferLoad(src.source, [r.min + i for r, i in zip(src.region, idx)]), acc_dtype)

    src_lay, dst_lay = low.layouts.get(src.source), low.layouts.get(dst.source)
    on_rows = isinstance(src_lay, MMAAccumulator) and isinstance(dst_lay, MMARows) and dim == 1 and \
        dst_lay.matches(src_lay)
    mode = _deferred_row_sum_mode(low, call, on_rows)
    if mode == "nothing":
        return tirx.Evaluate(tirx.const(0, "int32"))
    if on_rows:
        return _reduce_mma_rows(low, src, dst, kind, clear, src_lay, dst_lay, acc_dtype, mode)
    if isinstance(src_lay, MMAAccumulator) and isinstance(dst_lay, Replicated) and dim == 1 and whole_region(src) \
            and whole_region(dst) and low.nthreads == src_lay.rows_layout().nthreads \
            and n_out * src_lay.local_size >= SELECTS_BEFORE_BROADCAST:
        return _reduce_mma_rows_replicated(low, src, dst, kind, clear, src_lay, acc_dtype)
    part = tirx.decl_buffer((n_out,), acc_dtype, f"{dst.source.name}_part", scope="local")
    stmts = [tirx.AllocBuffer(part)]
    stmts.append(loop_nest([n_out], lambda m: tirx.BufferStore(part, reduce_identity(kind, acc_dtype), m),
                           kind=tirx.ForKind.UNROLLED))

    src_buf = src.source
    layout = low.layouts.get(src_buf)
    if layout is None and src_buf.scope() == "local":
        layout = Replicated(tuple(src_shape))
    if layout is None:  # shared (or global) source: deal its elements to the threads
        layout = Striped(tuple(src_shape), low.nthreads, default_vec(src_shape, low.nthreads))
        src_is_fragment = False
    else:
        src_is_fragment = src_buf in low.layouts
        if src_is_fragment and (tuple(layout.shape) != tuple(src_shape) or any(
                not (isinstance(r.min, tirx.IntImm) and int(r.min) == 0) for r in src.region)):
            raise TileProgramError(f"T.reduce: the input must be the whole fragment {src_buf.name}")

    # (1) per-thread partials
    slot = tirx.Var("r", "int32")
    ana.bind(slot, Range.from_min_extent(0, layout.local_size), allow_override=True)
    idx = [ana.simplify(e) for e in layout.inverse(tid, slot)]
    if src_is_fragment and not isinstance(layout, Replicated):
        value = cast_to(tirx.BufferLoad(low.locals[src_buf], [slot]), acc_dtype)
    else:
        value = src_value(idx)
    m = out_flat(idx)
    valid = layout.valid(tid, slot)
    if isinstance(m, tirx.IntImm) or n_out * layout.local_size > _SELECT_LIMIT:
        upd = tirx.BufferStore(part, reduce_combine(kind, tirx.BufferLoad(part, [m]), value), [m])
        if valid is not None:
            upd = tirx.IfThenElse(valid, upd, None)
        body = upd
    else:
        mv = tirx.Var("m", "int32")
        take = (m == mv) if valid is None else tirx.And(valid, m == mv)
        cur = tirx.BufferLoad(part, [mv])
        body = tirx.For(mv, 0, n_out, tirx.ForKind.UNROLLED, tirx.BufferStore(
            part, tirx.Select(take, reduce_combine(kind, cur, value), cur), [mv]))
    kind_loop = tirx.ForKind.UNROLLED if layout.local_size <= 64 else tirx.ForKind.SERIAL
    stmts.append(tirx.For(slot, 0, layout.local_size, kind_loop, body))

    # (2, 3) across threads: see _across_threads (the caller adds it where ``spread``)
    # (4) write the result: into every thread's registers, or (a shared output) once, by the element's owner
    in_registers = dst.source in low.layouts or dst.source.scope() == "local"

    def write(mm):
        d_idx = dst_index(mm[0])
        res = tirx.BufferLoad(part, mm)
        if not clear:
            res = reduce_combine(_CROSS[kind], tirx.BufferLoad(dst.source, d_idx), res)
        store = tirx.BufferStore(dst.source, res, d_idx)
        return store if in_registers else tirx.IfThenElse(tid == tirx.floormod(mm[0], low.nthreads), store, None)
    result = loop_nest([n_out], write, kind=tirx.ForKind.UNROLLED if n_out <= 64 else tirx.ForKind.SERIAL)
    return _Generic(stmts, part, n_out, _CROSS[kind], acc_dtype, not isinstance(layout, Replicated), result)


#: From this many (output row, accumulator register) selects per thread on, a row reduction of a tensor-core
#: accumulator into a replicated fragment reduces each thread's own rows and broadcasts them through shared memory
#: (varlen decode: 1.9 MB of CUDA otherwise). Smaller ones keep the select form their GPU tests ran with; the
#: broadcast form has not yet run on a GPU.
SELECTS_BEFORE_BROADCAST = 4096


def _across_threads(low, part, n_out, kind, dtype):
    """Warp shuffles, then (several warps) one shared scratch round: every thread ends with the block's result."""
    return _warp_shuffles(part, n_out, kind) + _across_warps(low, [(part, n_out, kind)], dtype)


def _warp_shuffles(part, n_out, kind):
    """``__shfl_xor_sync`` butterflies combining each partial of ``part`` over the warp."""
    if not n_out:
        return []
    m = tirx.Var("m", "int32")
    shuffles = []
    for off in (16, 8, 4, 2, 1):
        cur = tirx.BufferLoad(part, [m])
        shuffles.append(tirx.BufferStore(part, reduce_combine(kind, cur, _shfl_xor(cur, off)), [m]))
    loop_kind = tirx.ForKind.UNROLLED if n_out <= 64 else tirx.ForKind.SERIAL
    return [tirx.For(m, 0, n_out, loop_kind, tirx.SeqStmt(shuffles))]


def _across_warps(low, parts, dtype):
    """Lane 0 of each warp writes the warp's partials of every ``(part, n_out, kind)`` to one shared scratch tile
    (side by side), then every thread folds the warps' rows (TVM's ThreadSync puts the barrier between)."""
    nthreads = low.nthreads
    if nthreads % 32 != 0:
        raise TileProgramError(f"T.reduce on CUDA needs a multiple of 32 threads per block, got {nthreads}")
    nwarps = nthreads // 32
    if nwarps == 1:
        return []
    total = sum(n for _, n, _ in parts)
    scratch = low.scratch((nwarps, total), dtype, "red_scratch", transient=True)
    warp, lane = low.tid // 32, low.tid % 32
    writes, folds, at = [], [], 0
    for part, n_out, kind in parts:
        loop_kind = tirx.ForKind.UNROLLED if n_out <= 64 else tirx.ForKind.SERIAL
        m2 = tirx.Var("m", "int32")
        writes.append(tirx.For(m2, 0, n_out, loop_kind, tirx.BufferStore(
            scratch, tirx.BufferLoad(part, [m2]), [warp, at + m2])))
        m3, w = tirx.Var("m", "int32"), tirx.Var("w", "int32")
        first = tirx.BufferStore(part, tirx.BufferLoad(scratch, [tirx.const(0, "int32"), at + m3]), [m3])
        fold = tirx.For(w, 1, nwarps - 1, tirx.ForKind.UNROLLED, tirx.BufferStore(
            part, reduce_combine(kind, tirx.BufferLoad(part, [m3]), tirx.BufferLoad(scratch, [w, at + m3])), [m3]))
        folds.append(tirx.For(m3, 0, n_out, loop_kind, tirx.SeqStmt([first, fold])))
        at += n_out
    out = [tirx.IfThenElse(lane == 0, seq(writes), None)] + folds
    # the scratch tile is reused by the next reduction of this kind: wait until every thread has read it
    out.append(tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared")))
    return out


def row_sum_mode(call):
    """A reduction's part in deferred row sums (``passes/cuda/row_sums.py``): "partial" (each thread's own sum,
    not combined across threads), "combine" (only the combination across threads, of the output's own values), or
    None (a whole reduction)."""
    if call.attrs is None or "row_sums" not in call.attrs:
        return None
    return str(call.attrs["row_sums"])


def _deferred_row_sum_mode(low, call, on_rows: bool):
    """How a reduction of a deferred row sum pair (``passes/cuda/row_sums.py``) lowers: its :func:`row_sum_mode`
    on the tensor-core rows path (``on_rows``); off it, the partial sum is the program's whole reduction (None) and
    its pair's combining reduction is "nothing". The partial one is lowered first (it is inside the loop the
    combining one follows); ``low.row_sum_pairs`` records its path, which the combining one must share."""
    mode = row_sum_mode(call)
    if mode is None:
        return None
    pair = int(call.attrs["row_sums_pair"])
    if mode == "partial":
        low.row_sum_pairs[pair] = on_rows
        return mode if on_rows else None
    if low.row_sum_pairs.get(pair) != on_rows:
        raise CompileError(f"internal: the deferred row sum {pair} lowers its partial and combining reductions on "
                           f"different paths")
    return mode if on_rows else "nothing"


def _reduce_mma_rows(low, src, dst, kind, clear, acc, rows, dtype, mode=None):
    """Row reduction of an mma accumulator into its row statistics: registers, a quad shuffle, and a shared
    round trip only when several warps share a row (warps_n > 1). ``mode`` "partial": the registers only;
    "combine": the shuffle and round trip only, of the output's values (see :func:`row_sum_mode`)."""
    stmts, part = _mma_row_partials(low, src, dst, kind, acc, rows, dtype, mode)
    cross = _CROSS[kind]
    dst_regs = low.locals[dst.source]
    for r in range(rows.local_size):
        res = tirx.BufferLoad(part, [r])
        if not clear:
            res = reduce_combine(cross, tirx.BufferLoad(dst_regs, [r]), res)
        stmts.append(tirx.BufferStore(dst_regs, res, [r]))
    return seq(stmts)


def _reduce_mma_rows_replicated(low, src, dst, kind, clear, acc, dtype):
    """Row reduction of an mma accumulator into a replicated fragment: the row statistics as above (each thread
    reduces only its own rows), then one holder per row writes it to a shared scratch row and every thread reads
    them all - instead of every thread selecting over every (row, register) pair."""
    rows = acc.rows_layout()
    stmts, part = _mma_row_partials(low, src, dst, kind, acc, rows, dtype)
    cross = _CROSS[kind]
    n_rows = rows.shape[0]
    scratch = low.scratch((n_rows,), dtype, f"{dst.source.name}_rows", transient=True)
    writes = [tirx.BufferStore(scratch, tirx.BufferLoad(part, [r]),
                               [low.analyzer.simplify(rows.inverse(low.tid, tirx.const(r, "int32"))[0])])
              for r in range(rows.local_size)]
    stmts.append(tirx.IfThenElse(rows.replica_guard(low.tid), seq(writes), None))
    m = tirx.Var("m", "int32")
    d_idx = [dst.region[0].min + m]
    res = tirx.BufferLoad(scratch, [m])
    if not clear:
        res = reduce_combine(cross, tirx.BufferLoad(dst.source, d_idx), res)
    kind_loop = tirx.ForKind.UNROLLED if n_rows <= 64 else tirx.ForKind.SERIAL
    stmts.append(tirx.For(m, 0, n_rows, kind_loop, tirx.BufferStore(dst.source, res, d_idx)))
    return seq(stmts)  # ThreadSync puts the barriers between the writes and the reads (and before a reuse)


def _warp_column(rows, warp):
    """Which of the ``rows.warps_n`` warps holding the same rows ``warp`` is (its index in ``peer_warps``)."""
    if isinstance(rows, WGMMARows):  # warpgroup g = warp // 4 is column g % warps_n of the warpgroup grid
        return tirx.floormod(tirx.floordiv(warp, 4), rows.warps_n)
    return tirx.floormod(warp, rows.warps_n)


def _mma_row_partials(low, src, dst, kind, acc, rows, dtype, mode=None):
    """(statements, local buffer): each thread's row statistics of accumulator ``src`` (register r = row
    ``rows.inverse(tid, r)``), combined over the quad and over the warps sharing the rows. ``mode`` "partial":
    not combined; "combine": the output's own registers combined, ``src`` not read."""
    n = rows.local_size
    cross = _CROSS[kind]
    part = tirx.decl_buffer((n,), dtype, f"{dst.source.name}_part", scope="local")
    src_regs = low.locals[src.source]
    stmts = [tirx.AllocBuffer(part)]
    if mode == "combine":
        dst_regs = low.locals[dst.source]
        stmts += [tirx.BufferStore(part, cast_to(tirx.BufferLoad(dst_regs, [r]), dtype), [r]) for r in range(n)]
    else:
        stmts += [tirx.BufferStore(part, reduce_identity(kind, dtype), [r]) for r in range(n)]
        for s_ in range(acc.local_size):
            r = MMARows.register_of(acc, s_)
            value = cast_to(tirx.BufferLoad(src_regs, [s_]), dtype)
            stmts.append(tirx.BufferStore(part, reduce_combine(kind, tirx.BufferLoad(part, [r]), value), [r]))
    if mode == "partial":
        return stmts, part
    for r in range(n):
        for off in (1, 2):  # the 4 lanes of a quad hold the same rows
            cur = tirx.BufferLoad(part, [r])
            stmts.append(tirx.BufferStore(part, reduce_combine(cross, cur, _shfl_xor(cur, off)), [r]))
    if rows.warps_n > 1:
        warp, lane = low.tid // 32, low.tid % 32
        peers = rows.peer_warps(warp)
        if low.tight_scratch:  # one scratch row per column of warps: warps_n x rows instead of all warps x rows
            scratch = low.scratch((rows.warps_n, rows.shape[0]), dtype, "row_scratch", transient=True)
            slot, peers = _warp_column(rows, warp), [tirx.const(k, "int32") for k in range(rows.warps_n)]
        else:
            scratch = low.scratch((rows.warps_m * rows.warps_n, rows.shape[0]), dtype, "row_scratch",
                                  transient=True)
            slot = warp
        row_of = [low.analyzer.simplify(rows.inverse(low.tid, tirx.const(r, "int32"))[0]) for r in range(n)]
        writes = [tirx.BufferStore(scratch, tirx.BufferLoad(part, [r]), [slot, row_of[r]]) for r in range(n)]
        stmts.append(tirx.IfThenElse(lane % 4 == 0, tirx.SeqStmt(writes) if n > 1 else writes[0], None))
        for r in range(n):
            stmts.append(tirx.BufferStore(part, tirx.BufferLoad(scratch, [peers[0], row_of[r]]), [r]))
            for peer in peers[1:]:
                stmts.append(tirx.BufferStore(part, reduce_combine(cross, tirx.BufferLoad(part, [r]),
                                                                   tirx.BufferLoad(scratch, [peer, row_of[r]])),
                                              [r]))
        stmts.append(tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared")))
    return stmts, part
