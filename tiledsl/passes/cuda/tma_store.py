"""StoreEpilogueTMA: the result copies of a warp-specialized kernel become TMA stores (sm_90a; the default since
2026-12-05, ``TILEDSL_TMA_STORE=0`` turns it off).

Expects: tile-level IR after PipelineCUDA, which warp-specialized a pipelined loop (its consumers' loop is
annotated ``CONSUMER_LOOP``). Each top-level ``T.copy(fragment -> global region)`` after that loop (the epilogue
that writes the accumulator, converted to a 16-bit type, or as float32 / int32) is rewritten, one 128-byte panel of
columns at a time (64 columns of a 2-byte type, 32 of a 4-byte one), into::

    thread 0: cp.async.bulk.wait_group.read 1          (the staging tile written two chunks ago was read)
    bar.sync 1, T                                      (the consumers only: the producer warps are elsewhere)
    T.copy(fragment[:, panel c], staging[c % 2])     (128-byte swizzled, lowered as any fragment copy)
    fence.proxy.async.shared::cta; bar.sync 1, T       (the writes become visible to the TMA unit)
    thread 0: cp.async.bulk.tensor ... global.shared::cta.bulk_group; cp.async.bulk.commit_group
    thread 0, after the last chunk: cp.async.bulk.wait_group.read 0

The hardware writes whole 128-byte rows, asynchronously, and clips what falls outside the tensor (ragged M, N), as
the guarded plain copy does. On a persistent grid the stores of one tile overlap the next tile's main loop (the
hand-written study in ``shared/notes/hopper-gemm``: +8-10 % on a 4096^3 GEMM). The statements sit inside a
``warp_specialize.EPILOGUE`` marker, so WarpSpecialize knows their shared accesses and barriers are the consumers'
own. FoldStagedEpilogues (before PipelineCUDA) first turns TileLang's staged form, ``T.copy(acc, C_shared);
T.copy(C_shared, C[...])``, into the direct copy where that changes nothing.

A copy qualifies when: the fragment is copied whole and is 2-d (rows <= 256, columns a whole number of 128-byte
panels), the destination is a contiguous kernel parameter of a 2- or 4-byte type (an 8-bit integer GEMM's int32
output included) whose row is a whole number of 16 bytes, the region
spans the fragment's two extents in order (other extents 1), its origin does not read a thread index, and the two
staging tiles fit in shared memory next to the kernel's other tiles. Other copies keep the per-thread stores.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.script import tirx as T

from ... import config
from ...ir.ops import is_tile_call, is_tile_statement, make_tile_call
from ...language.loops import NUM_STAGES_ATTR
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import count_uses, flatten_seq, seq, uses_var
from ..tile_lowering_utils import const_ints, dtype_bytes, whole_region, without_access
from . import tma_copy, warp_specialize
from .smem_swizzle import SM90_SHARED_BYTES, STAGING_ATTR, TILE_ALIGN

CHUNK_BYTES = 128  # one 128-byte swizzle panel per chunk: 64 columns of a 2-byte type, 32 of a 4-byte one
_NAMED_BARRIER = 1  # bar.sync 0 is __syncthreads


def shared_bytes(body) -> int:
    """Bytes of the shared buffers allocated in ``body`` (before the pool's alignment)."""
    total = [0]

    def on_alloc(alloc):
        buf = alloc.buffer
        if buf.scope() in ("shared", "shared.dyn"):
            n = 1
            for e in buf.ty.shape:
                n *= int(e) if isinstance(e, tirx.IntImm) else 1 << 30
            total[0] += n * dtype_bytes(str(buf.ty.dtype))
    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, on_alloc))
    return total[0]


def whole_fragment_tile(src, dst):
    """(rows, cols) when region ``src`` is a whole 2-d fragment and ``dst`` spans its two extents in order (other
    extents 1, the columns innermost), else None (a symbolic region too)."""
    try:
        shape = const_ints(list(src.source.ty.shape), "tile")
        ext_s = const_ints([r.extent for r in src.region], "tile")
        ext_d = const_ints([r.extent for r in dst.region], "tile")
    except Exception:  # noqa: BLE001 - a symbolic region is simply not a whole tile
        return None
    if len(shape) != 2 or ext_s != shape or [e for e in ext_d if e != 1] != shape or ext_d[-1] != shape[-1]:
        return None
    return tuple(shape)


def _chunk_columns(out) -> int:
    """Columns of ``out``'s type in one 128-byte chunk (64 of a 2-byte type, 32 of a 4-byte one)."""
    return CHUNK_BYTES // dtype_bytes(str(out.ty.dtype))


def _qualifies(stmt, params, thread_vars):
    """(fragment region, global region, rows, cols) of an epilogue copy TMA can store, else None."""
    if not is_tile_statement(stmt, "copy"):
        return None
    call = stmt.value
    if call.attrs is not None and "disable_tma" in call.attrs and bool(call.attrs["disable_tma"]):
        return None
    src, dst = call.args
    frag, out = src.source, dst.source
    if frag.scope() != "local.fragment" or out.scope() != "global" or not any(out.same_as(p) for p in params):
        return None
    size = dtype_bytes(str(out.ty.dtype))
    if size not in (2, 4) or (out.ty.strides is not None and len(out.ty.strides) > 0):
        return None
    shape = whole_fragment_tile(src, dst)
    if shape is None:
        return None
    rows, cols = shape
    chunk = _chunk_columns(out)
    inner = out.ty.shape[-1]
    if rows > 256 or rows % 8 or cols % chunk or not isinstance(inner, tirx.IntImm) or (int(inner) * size) % 16:
        return None
    if any(uses_var(r.min, v) for r in dst.region for v in thread_vars) or len(out.ty.shape) > 5:
        return None
    return src, dst, rows, cols


def _rewrite(src, dst, rows, cols, staging, map_var, tid, nthreads):
    """The TMA-store form of one epilogue copy (see the module docstring)."""
    chunk = _chunk_columns(dst.source)
    one = tirx.IfThenElse
    leader = tid == 0
    bar = tirx.Evaluate(T.ptx.bar.sync(T.uint32(_NAMED_BARRIER), T.uint32(nthreads)))
    rank = len(dst.region)
    store = T.ptx[f"cp.async.bulk.tensor.{rank}d.global.shared::cta.bulk_group"]
    origin = [tirx.Cast("int32", r.min) if str(r.min.ty.dtype) != "int32" else r.min for r in reversed(dst.region)]
    out = []
    for c in range(cols // chunk):
        tile = staging[c % 2]
        part = src.source[0:rows, c * chunk:(c + 1) * chunk]
        copy = make_tile_call("copy", [part, tile[0:rows, 0:chunk]], **{STAGING_ATTR: 1})
        coords = list(origin)
        coords[0] = coords[0] + c * chunk
        smem = _unseen_pointer(tile)
        out += [one(leader, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(1)), None), bar,
                tirx.Evaluate(copy), tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta()), bar,
                one(leader, seq([tirx.Evaluate(store(tirx.address_of(map_var), *coords, smem)),
                                 tirx.Evaluate(T.ptx.cp.async_.bulk.commit_group())]), None)]
    out.append(one(leader, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(0)), None))
    return warp_specialize.marked(warp_specialize.EPILOGUE, seq(out), nthreads)


def _unseen_pointer(tile):
    """The shared address of ``tile`` as the TMA store reads it: an ``access_ptr`` with no access mask, so TVM's
    ThreadSync does not take thread 0's store for a read by one thread of what all wrote (it would put a
    ``__syncthreads`` inside the consumers' branch; the named barrier before the store orders it)."""
    return tirx.call_intrin("uint32", "tirx.cuda.cvta_generic_to_shared", without_access(tile.access_ptr("r")))


class _Plan:
    def __init__(self):
        self.host = []
        self.staging = []


def _rewrite_launch(launch, params, plan):
    """The threadIdx.x launch with its epilogue copies as TMA stores (unchanged when none qualifies)."""
    stmts = flatten_seq([launch.body])
    loop_at = [k for k, s in enumerate(stmts) if isinstance(s, tirx.For) and warp_specialize._is_consumer_loop(s)]
    if len(loop_at) != 1:
        return launch
    thread_vars = [launch.node.var]
    tid, nthreads = launch.node.var, int(launch.value)
    # only a tensor nothing else in the kernel reads or writes: the store completes after the kernel moved on
    found = []
    for k, s in enumerate(stmts[loop_at[0] + 1:], start=loop_at[0] + 1):
        q = _qualifies(s, params, thread_vars)
        if q is not None and count_uses(launch.body, q[1].source) == 1:
            found.append((k, q))
    if not found:
        return launch
    budget = SM90_SHARED_BYTES - TILE_ALIGN - shared_bytes(launch.body)  # the pool's pad, the ring's barriers
    out = list(stmts)
    for k, (src, dst, rows, cols) in found:
        need = 2 * rows * CHUNK_BYTES
        if need > budget:
            continue
        budget -= need
        name = dst.source.name
        dtype = str(dst.source.ty.dtype)
        chunk = _chunk_columns(dst.source)
        staging = [tirx.decl_buffer((rows, chunk), dtype, f"{name}_staging{i}", scope="shared.dyn")
                   for i in range(2)]
        box = tuple([chunk] + [int(r.extent) for r in reversed(dst.region[:-1])])
        load = tma_copy.TMALoad(dst.source, staging[0], box, 128, 1, chunk, 0)
        maps = tma_copy.assign_maps([load])
        plan.host += tma_copy.host_statements(maps[0])
        plan.staging += staging
        out[k] = _rewrite(src, dst, rows, cols, staging, load.map_var, tid, nthreads)
    if not plan.staging:
        return launch
    allocs = [tirx.AllocBuffer(b) for b in plan.staging]
    return tirx.AttrStmt(launch.node, launch.attr_key, launch.value, seq(allocs + out))


def _staged_pair(first, second, body):
    """The shared tile of ``T.copy(fragment, S); T.copy(S, global region)`` (TileLang's staged epilogue) when the
    pair equals the direct copy of the fragment: S is used by nothing else, copied whole both times, of the
    destination's dtype; else None."""
    if not all(is_tile_statement(x, "copy") for x in (first, second)):
        return None
    (frag, tile), (tile2, out) = first.value.args, second.value.args
    S = tile.source
    if not (S.same_as(tile2.source) and S.scope() in ("shared", "shared.dyn") and
            frag.source.scope() == "local.fragment" and out.source.scope() == "global"):
        return None
    if str(S.ty.dtype) != str(out.source.ty.dtype) or not all(whole_region(r) for r in (frag, tile, tile2)):
        return None
    if count_uses(body, S) != 3:  # its allocation and the two copies
        return None
    return S


def _fold_staged_pairs(stmts, body):
    """``stmts`` with each staged epilogue pair replaced by the direct copy, and the staging tiles it frees."""
    out, freed, k = [], [], 0
    while k < len(stmts):
        S = _staged_pair(stmts[k], stmts[k + 1], body) if k + 1 < len(stmts) else None
        if S is None:
            out.append(stmts[k])
            k += 1
            continue
        frag, out_region = stmts[k].value.args[0], stmts[k + 1].value.args[1]
        attrs = stmts[k + 1].value.attrs
        out.append(tirx.Evaluate(make_tile_call("copy", [frag, out_region],
                                                **({str(a): v for a, v in attrs.items()} if attrs is not None else {}))))
        freed.append(S)
        k += 2
    return out, freed


def _has_pipeline(body, gemm_only: bool) -> bool:
    """True when ``body`` has a ``T.Pipelined`` loop (with ``gemm_only``: one of copies and gemms only, the loops
    PipelineCUDA warp-specializes with ``TILEDSL_WARP_SPECIALIZE=1``): a loop a producer warpgroup may take once
    the staged epilogue is folded."""
    found = []

    def on_for(loop):
        if loop.annotations is not None and NUM_STAGES_ATTR in loop.annotations:
            stmts = flatten_seq([loop.body])
            found.append(not gemm_only or all(isinstance(st, tirx.Evaluate) and (
                is_tile_call(st.value, "copy") or is_tile_call(st.value, "gemm")) for st in stmts))
    tvm_ffi.structural_walk(body, (tirx.For, on_for))
    return any(found)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.FoldStagedEpilogues")
@keep_tiledsl_errors
def FoldStagedEpilogues(func, mod, ctx):
    """With TMA stores on (the default) or ``TILEDSL_WARP_SPECIALIZE=all`` (sm_90a): ``T.copy(acc, C_shared);
    T.copy(C_shared, C[...])`` at the top of a kernel body, where C_shared serves nothing else, becomes
    ``T.copy(acc, C[...])`` and C_shared is not allocated, in a kernel with a pipelined loop a producer warpgroup
    may take (of copies and gemms only, unless attention-like loops are warp-specialized too); the
    TMA store then stages through its own two 16 KiB tiles, and the kernel may be warp-specialized (a shared tile
    written and read by all threads outside the pipelined loop would need a whole-block barrier)."""
    from .gemm_wgmma import sm90a

    if not (config.tma_store_enabled() or config.warp_specialize_all()) or not sm90a():
        return func
    freed_all = []

    def on_attr(stmt):
        if stmt.attr_key != "thread_extent" or stmt.node.thread_tag != "threadIdx.x":
            return stmt
        if not _has_pipeline(stmt.body, gemm_only=not config.warp_specialize_all()):
            return stmt  # no loop a producer warpgroup would take: the staged copy keeps its coalesced stores
        stmts, freed = _fold_staged_pairs(flatten_seq([stmt.body]), stmt.body)
        if not freed:
            return stmt
        freed_all.extend(freed)
        kept = [s for s in stmts if not (isinstance(s, tirx.AllocBuffer) and any(s.buffer.same_as(b) for b in freed))]
        return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, seq(kept))
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    return func.with_body(body) if freed_all else func


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.StoreEpilogueTMA")
@keep_tiledsl_errors
def StoreEpilogueTMA(func, mod, ctx):
    """Rewrite the epilogue copies of a warp-specialized kernel as TMA stores (see module doc)."""
    from .pipeline import PIPELINES_ATTR

    if not config.tma_store_enabled() or func.attrs is None or PIPELINES_ATTR not in func.attrs or \
            "tma+warp_specialized" not in [str(k) for k in func.attrs[PIPELINES_ATTR]]:
        return func
    plan = _Plan()

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x":
            return _rewrite_launch(stmt, func.params, plan)
        return stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    if not plan.staging:
        return func
    return tma_copy.with_host_statements(func, body, plan.host)
