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
whole boxes in L2 and clips what falls outside the tensor, as the guarded element atomics do.

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


def _reduce_adds(src, dst, panels, map_var, tid) -> list:
    """The statements replacing one whole-fragment add, staged through ``panels`` (one staging tile per 128-byte
    panel of columns; see the module docstring)."""
    leader = tid == 0
    sync = tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared"))
    rank = len(dst.region)
    reduce_add = T.ptx[f"cp.reduce.async.bulk.tensor.{rank}d.global.shared::cta.add.tile.bulk_group"]
    origin = [tirx.Cast("int32", r.min) if str(r.min.ty.dtype) != "int32" else r.min for r in reversed(dst.region)]
    rows, width = (int(e) for e in panels[0].ty.shape)
    copies, issue = [], []
    for p, tile in enumerate(panels):
        part = src.source[0:rows, p * width:(p + 1) * width]
        copies.append(tirx.Evaluate(make_tile_call("copy", [part, tile[0:rows, 0:width]], **{STAGING_ATTR: 1})))
        coords = list(origin)
        coords[0] = coords[0] + p * width
        smem = tirx.call_intrin("uint32", "tirx.cuda.cvta_generic_to_shared", without_access(tile.access_ptr("r")))
        issue.append(tirx.Evaluate(reduce_add(tirx.address_of(map_var), *coords, smem)))
    issue.append(tirx.Evaluate(T.ptx.cp.async_.bulk.commit_group()))
    return [tirx.IfThenElse(leader, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(0)), None), sync,
            *copies, tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta()), sync,
            tirx.IfThenElse(leader, seq(issue), None)]


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
        need = size[0] * size[1] * dtype_bytes(str(form[1].source.ty.dtype)) + TILE_ALIGN
        if need > budget:
            continue
        budget -= need
        found[stmt] = form
    if not found:
        return launch
    staging, replaced = [], {}
    for stmt, (src, dst) in found.items():
        out = dst.source
        rows, cols = (int(e) for e in src.source.ty.shape)
        width = PANEL_BYTES // dtype_bytes(str(out.ty.dtype))
        panels = [tirx.decl_buffer((rows, width), str(out.ty.dtype), f"{out.name}_reduce_staging{p}",
                                   scope="shared.dyn") for p in range(cols // width)]
        box = tuple([width] + [int(r.extent) for r in reversed(dst.region[:-1])])
        load = tma_copy.TMALoad(out, panels[0], box, PANEL_BYTES, 1, width, 0)
        tma_copy.assign_maps([load])
        host += tma_copy.host_statements(load)
        staging += panels
        replaced[stmt] = seq(_reduce_adds(src, dst, panels, load.map_var, tid))

    def swap(node):
        for old, new in replaced.items():
            if node.same_as(old):
                return new
        return node
    body = tvm_ffi.structural_map(launch.body, [(tirx.For, swap), (tirx.Evaluate, swap)], order="pre")
    last_read = tirx.IfThenElse(tid == 0, tirx.Evaluate(T.ptx.cp.async_.bulk.wait_group.read(0)), None)
    allocs = [tirx.AllocBuffer(b) for b in staging]
    return tirx.AttrStmt(launch.node, launch.attr_key, launch.value, seq(allocs + flatten_seq([body]) + [last_read]))


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
