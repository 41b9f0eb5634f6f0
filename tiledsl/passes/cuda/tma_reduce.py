"""ReduceAtomicsTMA: atomic adds of a whole fragment into a global tile become TMA reduce-adds (sm_90a; the default
since 2026-12-05, ``TILEDSL_TMA_REDUCE=0`` turns it off).

An attention backward adds each iteration's dQ tile into a float32 accumulator shared by many blocks. As one
atomic per element, a warp's reductions touch eight rows' scattered 32-byte sectors, and the kernel waits on the L2
atomics (about 215 G element adds per second on the H200: the whole of the backward's 20 ms at B8 H32 S4096 D128).
FlashAttention-3 stages the tile in shared memory and lets the TMA unit add it. Here, a statement adding a whole
fragment into a region of a global tensor, in either form::

    T.atomic_add(dQ[b, s0:s0 + 64, h, 0:128], dq)
    for i, d in T.Parallel(64, 128):
        T.atomic_add(dQ[b, s0 + i, h, d], dq[i, d])

becomes (every thread, in program order)::

    thread 0: cp.async.bulk.wait_group.read 0       (the previous reduce has read the staging tile)
    __syncthreads()
    T.copy(dq[:, panel], staging[panel])            (one 128-byte-swizzled tile per 128-byte panel of columns,
                                                     lowered as any fragment copy)
    fence.proxy.async.shared::cta; __syncthreads()   (the writes become visible to the TMA unit)
    thread 0: one cp.reduce.async.bulk.tensor .add per 128-byte panel; cp.async.bulk.commit_group

and thread 0 waits for the last reduce to have read the staging tile before the kernel ends. The TMA unit adds
whole boxes in L2 and clips what falls outside the tensor, as the guarded element atomics do. With
``TILEDSL_DOUBLE_REDUCE_STAGING=1`` (opt-in, built without a GPU lent: not yet run on one) and room in shared memory,
the staging tiles have two stages taking turns: the copies write this add's stage, thread 0 waits for the
previous add's reads (of the other stage) just before the one barrier left, then issues; the attention backward's
loop crosses two block barriers per iteration instead of three.

A statement qualifies when: every thread runs it (no enclosing branch or while loop; the kernel is not
warp-specialized, whose producer warps would miss the barriers), the fragment is 2-d (rows <= 256, a multiple of 8;
columns a whole number of 128-byte panels) and has the destination's type (float32, float16 or bfloat16), the
destination is a contiguous kernel parameter of at most 5 dimensions that nothing else in the kernel reads or
writes, the fragment's columns are its innermost dimension, the region's origin reads no thread index, and the
staging tile fits in shared memory next to the kernel's other tiles.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script import tirx as T
from tvm.sym import detect_linear_equation

from ...ir.ops import is_tile_statement, make_tile_call
from ...language.loops import PARALLEL_ATTR
from ..lowering_options import allowed, schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import count_uses, flatten_seq, seq, uses_var
from ..tile_lowering_utils import const_ints, dtype_bytes, parallel_nest, without_access
from . import tma_copy
from .smem_swizzle import SM90_SHARED_BYTES, STAGING_ATTR, TILE_ALIGN
from .tma_store import shared_bytes, whole_fragment_tile

PANEL_BYTES = 128  # one 128-byte swizzle panel per TMA box
_TYPES = ("float32", "float16", "bfloat16")


def _tile_form(stmt):
    """(fragment region, destination region) of a statement adding a whole fragment into a global region, in the
    tile form or as a 2-d T.Parallel nest of element adds (see the module docstring); else None."""
    if is_tile_statement(stmt, "atomic_add"):
        dst, src = stmt.value.args[:2]
        return (src, dst) if hasattr(src, "region") else None
    loops, inner = parallel_nest(stmt)
    if len(loops) != 2 or not is_tile_statement(inner, "atomic_add"):
        return None
    dst, value = inner.value.args[:2]
    i, j = (loop.loop_var for loop in loops)
    if not isinstance(value, TensorLoad) or len(value.indices) != 2 or \
            not (value.indices[0].same_as(i) and value.indices[1].same_as(j)):
        return None
    try:
        rows, cols = const_ints([loop.extent for loop in loops], "T.Parallel")
        starts = const_ints([loop.min for loop in loops], "T.Parallel")
    except Exception:  # noqa: BLE001 - symbolic extents keep the element atomics
        return None
    if starts != [0, 0]:
        return None
    dims = len(dst.region)
    origin, extents, row_dim = [], [], None
    for k, r in enumerate(dst.region):
        coef = detect_linear_equation(r.min, [i, j])
        if len(coef) != 3:
            return None
        ci, cj = (int(c.value) if isinstance(c, tirx.IntImm) else None for c in coef[:2])
        if ci is None or cj is None or (ci, cj) not in ((0, 0), (1, 0), (0, 1)):
            return None
        if cj == 1 and k != dims - 1 or ci == 1 and row_dim is not None:
            return None
        row_dim = k if ci == 1 else row_dim
        origin.append(coef[2])
        extents.append(rows if ci == 1 else cols if cj == 1 else 1)
    if row_dim is None or extents[-1] != cols:
        return None
    region = dst.source[tuple(slice(o, o + e) for o, e in zip(origin, extents))]
    return value.source[0:rows, 0:cols], region


def _qualifies(src, dst, params, thread_vars):
    """(rows, cols) of a whole-fragment add the TMA unit can do, else None."""
    frag, out = src.source, dst.source
    if frag.scope() != "local.fragment" or out.scope() != "global" or not any(out.same_as(p) for p in params):
        return None
    dtype = str(out.ty.dtype)
    if dtype not in _TYPES or str(frag.ty.dtype) != dtype or (out.ty.strides is not None and len(out.ty.strides)):
        return None
    shape = whole_fragment_tile(src, dst)
    if shape is None:
        return None
    rows, cols = shape
    ebytes = dtype_bytes(dtype)
    inner = out.ty.shape[-1]
    if rows > 256 or rows % 8 or (cols * ebytes) % PANEL_BYTES or not isinstance(inner, tirx.IntImm) or \
            (int(inner) * ebytes) % 16 or len(out.ty.shape) > 5:
        return None
    if any(uses_var(r.min, v) for r in dst.region for v in thread_vars):
        return None
    return rows, cols


def _uniform_statements(body) -> list:
    """The statements of ``body`` every thread runs: not under a branch or a while loop, nor inside a T.Parallel."""
    out = []

    def visit(stmt):
        out.append(stmt)
        if isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                visit(s)
        elif isinstance(stmt, tirx.For) and (stmt.annotations is None or PARALLEL_ATTR not in stmt.annotations):
            visit(stmt.body)
        elif isinstance(stmt, tirx.AttrStmt) and stmt.attr_key != "thread_extent":
            visit(stmt.body)
    visit(body)
    return out


def _reduce_adds(src, dst, panels, map_var, tid, turn=None) -> list:
    """The statements replacing one whole-fragment add, staged through ``panels`` (one staging tile per 128-byte
    panel of columns; see the module docstring). ``turn``: a one-element local buffer when the panels have two
    stages taking turns (``TILEDSL_DOUBLE_REDUCE_STAGING=1``): this add writes stage ``turn[0]``, then thread 0
    waits for the previous add's reads (of the other stage) before the one barrier left. The barrier before the
    writes is not needed: the add after next, which writes this add's stage again, follows the next add's
    barrier, before which thread 0 waited for this add's reads."""
    leader = tid == 0
    sync = tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared"))
    rank = len(dst.region)
    reduce_add = T.ptx[f"cp.reduce.async.bulk.tensor.{rank}d.global.shared::cta.add.tile.bulk_group"]
    origin = [tirx.Cast("int32", r.min) if str(r.min.ty.dtype) != "int32" else r.min for r in reversed(dst.region)]
    rows, width = (int(e) for e in panels[0].ty.shape[-2:])
    stage = None if turn is None else tirx.BufferLoad(turn, [tirx.const(0, "int32")])
    lead = () if stage is None else (slice(stage, stage + 1),)  # the stage's index in a two-stage panel
    offset = 0 if stage is None else stage * (rows * width)
    copies, issue = [], []
    for p, tile in enumerate(panels):
        part = src.source[0:rows, p * width:(p + 1) * width]
        target = tile[lead + (slice(0, rows), slice(0, width))]
        copies.append(tirx.Evaluate(make_tile_call("copy", [part, target], **{STAGING_ATTR: 1})))
        coords = list(origin)
        coords[0] = coords[0] + p * width
        ptr = without_access(tile.access_ptr("r", offset=offset))
        smem = tirx.call_intrin("uint32", "tirx.cuda.cvta_generic_to_shared", ptr)
        issue.append(tirx.Evaluate(reduce_add(tirx.address_of(map_var), *coords, smem)))
    issue.append(tirx.Evaluate(T.ptx.cp.async_.bulk.commit_group()))
    read_wait = tirx.IfThenElse(leader, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(0)), None)
    fence = tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta())
    if turn is None:
        return [read_wait, sync, *copies, fence, sync, tirx.IfThenElse(leader, seq(issue), None)]
    flip = tirx.BufferStore(turn, 1 - stage, [tirx.const(0, "int32")])
    return [*copies, fence, read_wait, sync, tirx.IfThenElse(leader, seq(issue), None), flip]


def _rewrite_launch(launch, params, host):
    """The threadIdx.x launch with its whole-fragment adds as TMA reduce-adds (unchanged when none qualifies)."""
    thread_vars = [launch.node.var]
    tid = launch.node.var
    budget = SM90_SHARED_BYTES - TILE_ALIGN - shared_bytes(launch.body)
    found = {}
    for stmt in _uniform_statements(launch.body):
        form = _tile_form(stmt)
        if form is None:
            continue
        size = _qualifies(*form, params, thread_vars)
        if size is None or count_uses(launch.body, form[1].source) != 1:
            continue
        tile_bytes = size[0] * size[1] * dtype_bytes(str(form[1].source.ty.dtype))
        if tile_bytes + TILE_ALIGN > budget:
            continue
        stages = 2 if schedule("TILEDSL_DOUBLE_REDUCE_STAGING") and 2 * tile_bytes + TILE_ALIGN <= budget else 1
        budget -= stages * tile_bytes + TILE_ALIGN
        found[stmt] = form, stages
    if not found:
        return launch
    staging, turns, replaced = [], [], {}
    for stmt, ((src, dst), stages) in found.items():
        out = dst.source
        rows, cols = (int(e) for e in src.source.ty.shape)
        width = PANEL_BYTES // dtype_bytes(str(out.ty.dtype))
        shape = (rows, width) if stages == 1 else (stages, rows, width)
        panels = [tirx.decl_buffer(shape, str(out.ty.dtype), f"{out.name}_reduce_staging{p}",
                                   scope="shared.dyn") for p in range(cols // width)]
        box = tuple([width] + [int(r.extent) for r in reversed(dst.region[:-1])])
        load = tma_copy.TMALoad(out, panels[0], box, PANEL_BYTES, 1, width, 0)
        tma_copy.assign_maps([load])
        host += tma_copy.host_statements(load)
        staging += panels
        turn = None
        if stages == 2:
            turn = tirx.decl_buffer((1,), "int32", f"{out.name}_reduce_turn", scope="local")
            turns.append(turn)
        replaced[stmt] = seq(_reduce_adds(src, dst, panels, load.map_var, tid, turn))

    def swap(node):
        for old, new in replaced.items():
            if node.same_as(old):
                return new
        return node
    body = tvm_ffi.structural_map(launch.body, [(tirx.For, swap), (tirx.Evaluate, swap)], order="pre")
    last_read = tirx.IfThenElse(tid == 0, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(0)), None)
    allocs = [tirx.AllocBuffer(b) for b in staging + turns]
    starts = [tirx.BufferStore(t, tirx.const(0, "int32"), [tirx.const(0, "int32")]) for t in turns]
    return tirx.AttrStmt(launch.node, launch.attr_key, launch.value,
                         seq(allocs + starts + flatten_seq([body]) + [last_read]))


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.ReduceAtomicsTMA")
@keep_tiledsl_errors
def ReduceAtomicsTMA(func, mod, ctx):
    """Rewrite whole-fragment atomic adds into global tiles as TMA reduce-adds (see module doc)."""
    from .gemm_wgmma import sm90a
    from .pipeline import PIPELINES_ATTR

    if not schedule("TILEDSL_TMA_REDUCE") or not sm90a() or not allowed("tma"):
        return func
    if func.attrs is not None and PIPELINES_ATTR in func.attrs and \
            any("warp_specialized" in str(k) for k in func.attrs[PIPELINES_ATTR]):
        return func
    host = []

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x":
            return _rewrite_launch(stmt, func.params, host)
        return stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    if not host:
        return func
    return tma_copy.with_host_statements(func, body, host)
