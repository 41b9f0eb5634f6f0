"""LowerTileOpsCUDA: tile ops, ``T.Parallel`` loops and fragments become per-thread CUDA code.

Expects: a PrimFunc from the language (tile Op calls, ``T.Parallel`` loops, ``local.fragment`` buffers), after
SwizzleBlocks and PipelineCUDA. Guarantees: no tiledsl Op and no ``local.fragment`` buffer remains; fragments are
per-thread ``local`` arrays laid out as layout_inference decided; every element-wise loop is spread over the
block's threads (coalesced, 16-byte vectorized where provably aligned); global accesses made by tile ops and
inside ``T.Parallel`` are guarded like on the CPU (loads past the edge read 0, stores there are dropped).
Barriers are left to TVM's ThreadSync, shared memory merging to MergeSharedMemoryAllocations.
"""
from __future__ import annotations

import functools

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad, TensorRegion

from ...errors import TileProgramError
from ...ir.ops import is_tile_call, is_tile_statement, tile_op
from ...language.loops import PARALLEL_ATTR
from ..lowering_options import schedule
from ..rewriter import StmtRewriter, flatten_seq, loop_nest, seq, substitute, uses_var
from ..tile_lowering_utils import bounds_predicate, cast_to, const_ints, is_unit
from . import gemm_strategy, register_order, transpose_copy
from .async_copy import lower_async_copy
from .async_gemms import FENCE_ATTR, register_fences
from .layout import Replicated, Striped, default_vec
from .smem_swizzle import STAGING_ATTR, ScratchTooLarge, WGMMATile, align_tiles, physical_offset, swizzle_accesses
from .layout_inference import infer_layouts
from ..pass_errors import keep_tiledsl_errors
from .parallel import LoopContext, distribute, driving_layout, guard_globals
from .reduce import lower_reduce, lower_reduce_pair
from .uniform_branches import uniform_branches
from .side_effects import (LocalUse, carried_locals, guard_side_effects, has_side_effects, is_register,
                           memory_read_and_written, registers_written)


def thread_launches(body) -> list:
    """(var, extent) of each threadIdx launch, in x, y, z order."""
    found = {}

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag.startswith("threadIdx"):
            ext = stmt.value
            if not isinstance(ext, tirx.IntImm):
                raise TileProgramError(f"the thread count {ext} of T.Kernel must be a constant")
            found[stmt.node.thread_tag] = (stmt.node.var, int(ext))

    tvm_ffi.structural_walk(body, (tirx.AttrStmt, on_attr))
    return [found[t] for t in ("threadIdx.x", "threadIdx.y", "threadIdx.z") if t in found]


def thread_count(body) -> int:
    """The threads of a block: the product of the threadIdx launch extents."""
    count = 1
    for _, extent in thread_launches(body):
        count *= extent
    return count


class _Lowerer(StmtRewriter):
    def __init__(self, func_body, tight_scratch: bool = False):
        super().__init__()
        self.tight_scratch = tight_scratch  # ops lay their scratch out as small as they can (costlier indexing)
        launches = thread_launches(func_body)
        self.thread_vars = [v for v, _ in launches]
        self.nthreads = 1
        tid = tirx.const(0, "int32")
        stride = 1
        for var, ext in launches:
            tid = tid + var * stride if stride > 1 else var
            stride *= ext
        self.nthreads = stride
        self.tid = tid
        self.mma = gemm_strategy.plan_gemms(func_body, self.nthreads)  # accumulator -> tensor-core plan
        self.layouts = infer_layouts(func_body, self.nthreads, {c: p.layout for c, p in self.mma.items()})
        self.mma = {c: p for c, p in self.mma.items() if self.layouts.get(c) == p.layout}
        self.row_sum_pairs = {}  # deferred row sums: pair number -> partial sum on the tensor-core rows path
        self.locals = {}
        for buf, lay in self.layouts.items():
            if isinstance(lay, Replicated):
                self.locals[buf] = tirx.decl_buffer(buf.ty.shape, str(buf.ty.dtype), buf.name, scope="local")
            else:
                self.locals[buf] = tirx.decl_buffer((lay.local_size,), str(buf.ty.dtype), buf.name, scope="local")
        self.swizzled = gemm_strategy.operand_layouts(func_body, self.mma)  # shared tile -> its layout
        self.ctx = LoopContext(self.analyzer, self.tid, self.nthreads, self.layouts, self.locals,
                               physical=self.physical_offset, swizzled=dict(self.swizzled),
                               staging=gemm_strategy.staging_tiles(func_body))
        self.scratch_allocs = []
        self.transient_scratch = []
        self.in_parallel = 0
        self.local_use = LocalUse(func_body)
        # per-thread code (T.get_thread_binding): as on the CPU, a statement reading a thread index, or any
        # T.alloc_local buffer of such a kernel, runs on every thread; other block-level statements run once
        self.thread_code = any(uses_var(body, v) for body in _launch_bodies(func_body) for v in self.thread_vars)
        self.per_thread_depth = 0

    # ------------------------------------------------------------------ helpers for the op lowerings
    def scratch(self, shape, dtype, name, transient=False):
        """A shared-memory buffer allocated at the top of the kernel; ``transient``: the op that asks for it writes
        and reads it only in its own statements, synchronously (it may then share bytes with other scratch)."""
        buf = tirx.decl_buffer(shape, dtype, name, scope="shared.dyn")
        self.scratch_allocs.append(tirx.AllocBuffer(buf))
        if transient:
            self.transient_scratch.append(buf)
        return buf

    def physical_offset(self, buf, flat):
        """Where flat element ``flat`` of shared ``buf`` lives (after the bank-conflict swizzle, if any)."""
        if buf in self.swizzled:
            return physical_offset(buf, flat, self.analyzer, self.swizzled[buf])
        return flat

    def bind_loop(self, var, extent):
        self._bind(var, 0, extent)

    # ------------------------------------------------------------------ statements
    def visit_AttrStmt(self, stmt):
        if stmt.attr_key == FENCE_ATTR:
            return register_fences(self.locals.get(stmt.node))
        out = super().visit_AttrStmt(stmt)
        if stmt.attr_key == "thread_extent" and self.thread_vars and stmt.node.var.same_as(self.thread_vars[-1]) \
                and self.scratch_allocs:
            out = tirx.AttrStmt(out.node, out.attr_key, out.value, seq(self.scratch_allocs + [out.body]))
            self.scratch_allocs = []
        return out

    def visit_SeqStmt(self, stmt):
        """With ``TILEDSL_FUSE_REDUCTIONS=1``, two consecutive independent reductions are lowered together (one
        shared round for both: ``reduce.lower_reduce_pair``); everything else as usual."""
        if not schedule("TILEDSL_FUSE_REDUCTIONS"):
            return super().visit_SeqStmt(stmt)
        children, k = [], 0
        while k < len(stmt.seq):
            cur = stmt.seq[k]
            nxt = stmt.seq[k + 1] if k + 1 < len(stmt.seq) else None
            if nxt is not None and _independent_reductions(cur, nxt):
                pair = lower_reduce_pair(self, cur.value, nxt.value)
                if pair is not None:
                    children.append(pair)
                    k += 2
                    continue
            children.append(self.visit(cur))
            k += 1
        return tirx.SeqStmt(flatten_seq(children))

    def visit_Evaluate(self, stmt):
        call = stmt.value
        if is_tile_call(call):
            name = call.op.name.split(".", 1)[1]
            return getattr(self, "lower_" + name)(call)
        if getattr(call, "op", None) is not None and hasattr(call.op, "same_as") and call.op.same_as(
                tile_op("use_swizzle")):
            return tirx.Evaluate(tirx.const(0, "int32"))
        return stmt

    def per_thread(self, node) -> bool:
        """True when ``node`` is per-thread code: it reads a thread index (or, in a kernel written with
        T.get_thread_binding, a T.alloc_local buffer), or sits in a loop or branch that does."""
        if self.per_thread_depth:
            return True
        if any(uses_var(node, v) for v in self.thread_vars):
            return True
        if not self.thread_code:
            return False
        found = []
        tvm_ffi.structural_walk(node, [(TensorLoad, lambda l: found.append(1) if l.source.scope() == "local" else
                                        None),
                                       (tirx.BufferStore, lambda st: found.append(1) if st.buffer.scope() == "local"
                                        else None)])
        return bool(found)

    def _in_per_thread(self, header, visit):
        """Visit a loop/branch body, noting when its header makes everything inside per-thread code."""
        deeper = not self.in_parallel and self.per_thread(header)
        self.per_thread_depth += deeper
        try:
            return visit()
        finally:
            self.per_thread_depth -= deeper

    def visit_IfThenElse(self, stmt):
        return self._in_per_thread(stmt.condition, lambda: super(_Lowerer, self).visit_IfThenElse(stmt))

    def visit_LetStmt(self, stmt):
        return self._in_per_thread(stmt.value, lambda: super(_Lowerer, self).visit_LetStmt(stmt))

    def visit_While(self, stmt):
        return self._in_per_thread(stmt.condition, lambda: super(_Lowerer, self).visit_While(stmt))

    def visit_BufferStore(self, stmt):
        """A block-level store to shared or global memory (outside T.Parallel and tile ops) runs once per block,
        as on the CPU, not once per thread (``O[bx] = O[bx] + s[0]`` would race)."""
        if self.in_parallel or is_register(stmt.buffer) or self.per_thread(stmt):
            return stmt
        return tirx.IfThenElse(self.tid == 0, stmt, None)

    def visit_For(self, stmt):
        if transpose_copy.TRANSPOSE_ATTR in stmt.annotations:  # a K-major copy (k_major_copies.py): 4 x 4 byte blocks
            lowered = transpose_copy.lower(self, stmt)
            if lowered is not None:
                return lowered
        if PARALLEL_ATTR not in stmt.annotations:
            return self._in_per_thread(tirx.SeqStmt([tirx.Evaluate(stmt.min), tirx.Evaluate(stmt.extent)]),
                                       lambda: super(_Lowerer, self).visit_For(stmt))
        loop_vars, extents, body = [], [], stmt
        while isinstance(body, tirx.For) and PARALLEL_ATTR in body.annotations:
            loop_vars.append(body.loop_var)
            extents.append(body.extent)
            self._bind(body.loop_var, body.min, body.extent)
            if not (isinstance(body.min, tirx.IntImm) and int(body.min) == 0):
                raise TileProgramError("T.Parallel loops must start at 0")
            body = body.body
        extents = const_ints(extents, "T.Parallel")
        self.in_parallel += 1
        try:
            body = self.visit(body)
        finally:
            self.in_parallel -= 1
        layout = driving_layout(self.ctx, body, loop_vars, extents, "T.Parallel")
        if layout is None:
            return self._parallel_on_replicas(loop_vars, extents, body)
        carried = carried_locals(body, self.local_use)
        if carried:
            raise TileProgramError(
                f"T.Parallel: T.alloc_local buffer {carried[0].name} carries a value from one iteration to the next "
                f"(read before it is written, or after the loop), but this loop is spread over the threads by the "
                f"layout of a fragment ({layout.describe()}), so each thread would see only its own iterations; "
                f"use T.serial for a running value, or T.reduce_* for a reduction")
        return distribute(self.ctx, loop_vars, extents, body, layout, "T.Parallel")

    def _parallel_on_replicas(self, loop_vars, extents, body):
        """A T.Parallel that indexes no distributed fragment. Register updates (replicated fragments, locals)
        must happen on every thread; side effects (memory stores, atomics, calls) once per element:

        * registers only: every thread runs every iteration;
        * side effects only: the iterations are dealt to the threads (each element on one thread);
        * both: every thread runs every iteration, and only the element's owner does its side effects.
        """
        striped = Striped(tuple(extents), self.nthreads, default_vec(extents, self.nthreads))
        effects = has_side_effects(body)
        state = [b for b in registers_written(body) if b in self.layouts] + carried_locals(body, self.local_use)
        if effects and not state:
            return distribute(self.ctx, loop_vars, extents, body, striped, "T.Parallel")
        if effects:
            both = memory_read_and_written(body)
            if both:
                raise TileProgramError(
                    f"T.Parallel: this loop updates {state[0].name}, which every thread holds, and also reads and "
                    f"writes {both[0]} in memory, which only one thread may do per element; split it into a loop "
                    f"that updates {state[0].name} and one that writes {both[0]}")

        def iteration(vs):
            for v, e in zip(vs, extents):
                self.bind_loop(v, e)
            one = guard_globals(substitute(body, dict(zip(loop_vars, vs))), self.analyzer)
            if effects:
                owner = striped.owner(vs)[0]
                one = guard_side_effects(one, self.analyzer.simplify(owner == self.tid))
            return one
        return loop_nest(extents, iteration)

    # ------------------------------------------------------------------ tile ops
    def _fragment_layout(self, buf):
        lay = self.layouts.get(buf)
        return None if lay is None or isinstance(lay, Replicated) else lay

    def _is_whole(self, region, what) -> bool:
        shape = const_ints(list(region.source.ty.shape), what)
        ext = const_ints([r.extent for r in region.region], what)
        return ext == shape and all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 for r in region.region)

    def _fragment_part(self, driver, other, make_body, what, layout, vectorize=True, aligned_guards=False):
        """Part of a distributed fragment (``acc_o[0:4, :]``): loop over the whole fragment by its layout and
        act only on the elements inside the region (``other`` is indexed relative to the region's origin)."""
        shape = const_ints(list(driver.source.ty.shape), what)
        ext = const_ints([r.extent for r in driver.region], what)
        loop_vars = [tirx.Var(f"i{k}", "int32") for k in range(len(shape))]
        for v, e in zip(loop_vars, shape):
            self.bind_loop(v, e)
        o_idx = None
        if other is not None:
            it = iter([v - r.min for v, r, e in zip(loop_vars, driver.region, ext) if e != 1])
            o_idx = [r.min if is_unit(r.extent) else r.min + next(it) for r in other.region]
        inside = [self.analyzer.simplify(tirx.And(r.min <= v, v < r.min + r.extent))
                  for v, r in zip(loop_vars, driver.region)]
        inside = [c for c in inside if not (isinstance(c, tirx.IntImm) and int(c) == 1)]
        body = make_body(list(loop_vars), o_idx)
        if inside:
            body = tirx.IfThenElse(functools.reduce(tirx.And, inside), body, None)
        return distribute(self.ctx, loop_vars, shape, body, layout, what, vectorize=vectorize,
                          aligned_guards=aligned_guards)

    def _elementwise(self, driver, other, make_body, what, replicated_ok=True, aligned_guards=False,
                     vectorize=True):
        """Loop over ``driver``'s region; ``make_body(driver_idx, other_idx)`` builds one element's statement
        (``vectorize=False``: one element per step, never a vector loop)."""
        layout = self._fragment_layout(driver.source)
        if layout is not None and not self._is_whole(driver, what):
            return self._fragment_part(driver, other, make_body, what, layout, aligned_guards=aligned_guards)
        ext = const_ints([r.extent for r in driver.region], what)
        loop_vars = [tirx.Var(f"i{k}", "int32") for k in range(len(ext))]
        d_idx = [v if isinstance(r.min, tirx.IntImm) and int(r.min) == 0 else r.min + v
                 for r, v in zip(driver.region, loop_vars)]
        o_idx = None
        if other is not None:
            moving = [v for v, e in zip(loop_vars, ext) if e != 1]
            it = iter(moving)
            o_idx = [r.min if is_unit(r.extent) else r.min + next(it) for r in other.region]
        for v, e in zip(loop_vars, ext):
            self.bind_loop(v, e)
        body = make_body(d_idx, o_idx)
        layout = self._fragment_layout(driver.source)  # a whole distributed fragment (a part: _fragment_part)
        if layout is None and replicated_ok and (driver.source in self.layouts or driver.source.scope() == "local"):
            return loop_nest(ext, lambda vs: guard_globals(substitute(body, dict(zip(loop_vars, vs))), self.analyzer))
        if layout is None:
            layout = Striped(tuple(ext), self.nthreads, default_vec(ext, self.nthreads))
        return distribute(self.ctx, loop_vars, ext, body, layout, what, vectorize=vectorize)

    def lower_copy(self, call):
        src, dst = call.args
        if register_order.is_register_order_copy(call):  # split-K's partial sums (split_k.py)
            return register_order.lower(self, call)
        if call.attrs is not None and "async_copy" in call.attrs:
            stmt = lower_async_copy(self, src, dst)
            if stmt is not None:
                return stmt
        src_lay, dst_lay = self._fragment_layout(src.source), self._fragment_layout(dst.source)
        if src_lay is not None and dst_lay is None and (dst.source in self.layouts or dst.source.scope() == "local"):
            return self._gather(src, dst)
        if src_lay is not None and dst_lay is not None and src_lay != dst_lay:
            return self._gather(src, dst)  # a layout conversion: the same shared round trip
        dtype = str(dst.source.ty.dtype)
        if self._fragment_layout(src.source) is not None and self._fragment_layout(dst.source) is None:
            staging = call.attrs is not None and STAGING_ATTR in call.attrs  # a TMA store's chunk (tma_store.py)
            return self._elementwise(src, dst, lambda s_idx, d_idx: tirx.BufferStore(
                dst.source, cast_to(tirx.BufferLoad(src.source, s_idx), dtype), d_idx), "T.copy",
                replicated_ok=False, aligned_guards=staging)
        return self._elementwise(dst, src, lambda d_idx, s_idx: tirx.BufferStore(
            dst.source, cast_to(tirx.BufferLoad(src.source, s_idx), dtype), d_idx), "T.copy")

    def _gather(self, src, dst):
        """A distributed fragment -> a replicated one or one with another layout: through a shared scratch tile."""
        shape = const_ints(list(src.source.ty.shape), "T.copy")
        tmp = self.scratch(tuple(shape), str(src.source.ty.dtype), src.source.name + "_gather")
        full = tmp[tuple(slice(0, e) for e in shape)]
        whole = src.source[tuple(slice(0, e) for e in shape)]
        scatter = self._elementwise(whole, full, lambda s_idx, t_idx: tirx.BufferStore(
            tmp, tirx.BufferLoad(src.source, s_idx), t_idx), "T.copy", replicated_ok=False)
        dtype = str(dst.source.ty.dtype)
        part = tmp[tuple(slice(r.min, r.min + r.extent) for r in src.region)]  # the copied part of src
        gather = self._elementwise(dst, part, lambda d_idx, t_idx: tirx.BufferStore(
            dst.source, cast_to(tirx.BufferLoad(tmp, t_idx), dtype), d_idx), "T.copy")
        # ThreadSync puts the barrier between the two halves (and before the scratch is rewritten in a loop)
        return seq([scatter, gather])

    def lower_fill(self, call):
        dst, value = call.args
        return self._elementwise(dst, None, lambda d_idx, _: tirx.BufferStore(
            dst.source, cast_to(value, str(dst.source.ty.dtype)), d_idx), "T.fill")

    def lower_gemm(self, call):
        return gemm_strategy.lower_gemm(self, call)

    def lower_use_swizzle(self, call):
        return tirx.Evaluate(tirx.const(0, "int32"))  # consumed by SwizzleBlocks when it applies

    def lower_reduce(self, call):
        return lower_reduce(self, call)

    def lower_atomic_add(self, call):
        dst, value = call.args
        dtype = str(dst.source.ty.dtype)
        if isinstance(value, TensorRegion):
            return self._atomic_tile(dst, value, dtype)
        idx = [r.min for r in dst.region]
        stmt = _atomic(dst.source, idx, cast_to(value, dtype), self.analyzer)
        if not self.in_parallel and not self.per_thread(call):
            stmt = tirx.IfThenElse(self.tid == 0, stmt, None)  # a block-level tile op: add once per block
        return stmt

    def _atomic_tile(self, dst, src, dtype):
        def body(s_idx, d_idx):
            return tirx.BufferStore(dst.source, cast_to(tirx.BufferLoad(src.source, s_idx), dtype), d_idx)
        ext = const_ints([r.extent for r in src.region], "T.atomic_add")
        loop_vars = [tirx.Var(f"i{k}", "int32") for k in range(len(ext))]
        for v, e in zip(loop_vars, ext):
            self.bind_loop(v, e)
        s_idx = [v if isinstance(r.min, tirx.IntImm) and int(r.min) == 0 else r.min + v
                 for r, v in zip(src.region, loop_vars)]
        it = iter([v for v, e in zip(loop_vars, ext) if e != 1])
        d_idx = [r.min if is_unit(r.extent) else r.min + next(it) for r in dst.region]
        stmt = body(s_idx, d_idx)
        layout = self._fragment_layout(src.source)
        if layout is not None and not self._is_whole(src, "T.atomic_add"):
            return _stores_to_atomics(self._fragment_part(src, dst, body, "T.atomic_add", layout, vectorize=False),
                                      dst.source)
        if layout is None:
            layout = Striped(tuple(ext), self.nthreads, default_vec(ext, self.nthreads))
        lowered = distribute(self.ctx, loop_vars, ext, stmt, layout, "T.atomic_add", vectorize=False)
        return _stores_to_atomics(lowered, dst.source)


def _launch_bodies(body) -> list:
    """The bodies of the threadIdx launches (where a thread index may be read)."""
    found = []
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, lambda a: found.append(a.body) if a.attr_key == "thread_extent"
                                   and a.node.thread_tag.startswith("threadIdx") else None))
    return found


def _independent_reductions(a, b) -> bool:
    """``a`` and ``b`` are ``T.reduce`` statements over distinct buffers (neither reads or writes what the other
    writes), so they may be lowered together."""
    if not all(is_tile_statement(s, "reduce") for s in (a, b)):
        return False
    (a_src, a_dst), (b_src, b_dst) = ([r.source for r in s.value.args[:2]] for s in (a, b))
    return not any(x.same_as(y) for x, y in ((a_dst, b_src), (a_dst, b_dst), (b_dst, a_src)))


def _atomic(buf, idx, value, analyzer):
    """``atomicAdd(&buf[idx], value)``, dropped outside a global tensor's bounds."""
    stmt = tirx.Evaluate(tirx.call_extern(str(buf.ty.dtype), "atomicAdd",
                                          tirx.address_of(tirx.BufferLoad(buf, idx)), value))
    pred = bounds_predicate(buf, idx, analyzer) if buf.scope() == "global" else None
    return stmt if pred is None else tirx.IfThenElse(pred, stmt, None)


def _stores_to_atomics(stmt, buf):
    def on_store(store):
        if not store.buffer.same_as(buf):
            return store
        return tirx.Evaluate(tirx.call_extern(str(buf.ty.dtype), "atomicAdd",
                                              tirx.address_of(tirx.BufferLoad(buf, list(store.indices))),
                                              store.value))
    return tvm_ffi.structural_map(stmt, [(tirx.BufferStore, on_store)], order="post")


def _replace_fragments(body, low):
    """Fragment allocations -> their local arrays; a fragment access left over is a user error."""
    def on_alloc(stmt):
        buf = stmt.buffer
        return tirx.AllocBuffer(low.locals[buf]) if buf in low.locals else stmt

    leftovers = []

    def on_load(load):
        lay = low.layouts.get(load.source)
        if lay is not None and not isinstance(lay, Replicated):
            leftovers.append(load.source)

    def on_store(store):
        lay = low.layouts.get(store.buffer)
        if lay is not None and not isinstance(lay, Replicated):
            leftovers.append(store.buffer)

    tvm_ffi.structural_walk(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)])
    if leftovers:
        buf = leftovers[0]
        raise TileProgramError(
            f"fragment {buf.name} is read or written element by element outside T.Parallel; each thread holds only "
            f"part of a fragment ({low.layouts[buf].describe()}). Access it inside `for i, j in T.Parallel(...)` "
            f"over its whole shape, or use T.alloc_local / T.alloc_shared")
    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")
    replicated = {b: low.locals[b] for b, lay in low.layouts.items() if isinstance(lay, Replicated)}
    return substitute(body, replicated)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerTileOpsCUDA")
@keep_tiledsl_errors
def LowerTileOpsCUDA(func, mod, ctx):
    """Lower tile ops, T.Parallel loops and fragments to per-thread CUDA code."""
    if not thread_launches(func.body):
        return func
    try:
        low, body = _lower_with_pool(func.body, tight_scratch=False)
    except ScratchTooLarge:  # over sm_90's shared memory: again, with the tile ops' scratch as small as it gets
        low, body = _lower_with_pool(func.body, tight_scratch=True)
    body = _replace_fragments(body, low)
    return func.with_body(uniform_branches(body, low.thread_vars))


def _lower_with_pool(func_body, tight_scratch: bool):
    """(lowerer, body): tile ops lowered and shared tiles placed; ``tight_scratch``: the second try of a kernel
    over sm_90's shared memory (scratch laid out as small as it gets, scratch lifetimes per statement)."""
    low = _Lowerer(func_body, tight_scratch)
    body = low.visit(func_body)
    body = swizzle_accesses(body, low.swizzled, low.analyzer)
    return low, _pool_shared_tiles(body, low, tight_scratch)


def _pool_shared_tiles(body, low, tight: bool):
    """wgmma operand tiles -> views into a 1024-byte aligned pool, declared at the top of the kernel; without
    wgmma tiles, shared tiles that can share no bytes -> views into a pool (``align_tiles``' ``plain``)."""
    tiles = [buf for buf, lay in low.swizzled.items() if isinstance(lay, WGMMATile)]
    prologue, body, epilogue = align_tiles(body, tiles, low.transient_scratch, tight=tight, plain=not tiles)
    if not (prologue or epilogue):
        return body
    innermost = low.thread_vars[-1]

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.var.same_as(innermost):
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, seq(prologue + [stmt.body] + epilogue))
        return stmt
    return tvm_ffi.structural_map(body, [(tirx.AttrStmt, on_attr)], order="post")
