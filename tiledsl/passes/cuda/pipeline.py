"""PipelineCUDA: ``T.Pipelined(n, num_stages=S)`` becomes an S-stage cp.async software pipeline.

Expects: tile-level IR (tile ops not yet lowered). For a loop annotated ``tiledsl.num_stages`` >= 2, the producers
are the top-level ``T.copy``s from global tensors into shared tiles that no earlier statement of the body touches
(so issuing them early changes nothing: flash attention's V copy after the softmax qualifies); when the other
statements (the consumers) only read those tiles, each such tile gets a leading stage dimension of S, the
producers are issued S - 1 iterations ahead as cp.async (marked ``async_copy`` for LowerTileOpsCUDA); each
iteration first waits for its own stage (``cp.async.wait_group S-2`` + one barrier, which also frees the stage read
by the previous iteration), then issues the copies S-1 iterations ahead, then computes.
On sm_90a, when every consumer is a gemm that runs on wgmma,
the copies run S-2 iterations ahead instead and each gemm leaves its wgmma group in flight (waited for in the next
iteration, and after the loop), so the tensor cores keep working through the next iteration's wait and barrier.
On sm_90a, when every producer can be a TMA load (``tma_copy.plan_load``), the ring is filled by TMA instead:
thread 0 issues each stage's loads after waiting for the stage's ``empty`` mbarrier, every thread waits on the
stage's ``full`` mbarrier and releases the stage on ``empty`` when done reading it (no ``__syncthreads`` in the
loop); tensor maps are recorded for PlaceTensorMaps. A gemm-only loop may instead be warp-specialized
(``warp_specialize``: a producer warpgroup issues every load, finished by WarpSpecialize after LowerTileOpsCUDA).
``num_stages=1`` means what it means in TileLang, whose pipeline planning puts the copies one stage before the
compute: the copies run one iteration ahead into two buffers of each copied tile (``TILEDSL_ONE_STAGE_AHEAD``, on
by default), when the doubled tiles fit the target's shared memory; otherwise, and for ``num_stages=0``, the loop
stays plain.
Guarantees: the same results as the plain loop. Loops that do not have this shape stay plain serial loops (TVM's
InjectSoftwarePipeline cannot multi-buffer plain tirx IR, so nothing else would pipeline them). Runs before
LowerTileOpsCUDA.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad, TensorRegion
from tvm.script import tirx as T
from tvm.sym import Analyzer

from ...ir.ops import is_tile_call, is_tile_statement, make_tile_call, with_attrs, writers_of, written_buffers
from ...language.loops import NUM_STAGES_ATTR
from ..rewriter import StmtRewriter, count_uses, flatten_seq, rebuild_for, seq, substitute, uses_var
from ..tile_lowering_utils import whole_region
from ... import config
from ..lowering_options import allowed, schedule
from . import tma_copy, warp_specialize
from .async_copy import barrier, commit, wait
from .mbarrier import BarrierRing, init_rings
from ..pass_errors import keep_tiledsl_errors
from ...language.buffers import SHARED_SCOPES


def _is_producer(stmt):
    if not isinstance(stmt, tirx.Evaluate) or not is_tile_call(stmt.value, "copy"):
        return False
    src, dst = stmt.value.args
    return src.source.scope() == "global" and dst.source.scope() in SHARED_SCOPES


def _writes(stmts, buf) -> bool:
    return any(writers_of(s, buf, gemms=False) for s in stmts)


def _uniform_guard(func_body, stmts):
    """The condition of a loop body that is one ``if`` without ``else`` whose condition is the same on every thread
    and may be evaluated early (it reads no thread index and only global tensors the body never writes)."""
    from .lower_tile_ops import thread_launches

    if len(stmts) != 1 or not isinstance(stmts[0], tirx.IfThenElse) or stmts[0].else_case is not None:
        return None
    cond = stmts[0].condition
    if any(uses_var(cond, v) for v, _ in thread_launches(func_body)) or not _reads_only_inputs(cond, stmts):
        return None
    return cond


def note_scalar(st, stmts, lets) -> None:
    """Record a scalar the loop body sets at its top level (``x: T.int32 = ...`` or a one-element local buffer
    stored once): its value in terms of the loop counter, or None when it cannot be computed ahead."""
    if isinstance(st, tirx.Bind):
        lets[st.var] = inline_scalars(st.value, lets) if _reads_only_inputs(st.value, stmts) else None
    elif isinstance(st, tirx.BufferStore) and st.buffer.scope() == "local" and _is_scalar(st.buffer):
        once = _count_stores(stmts, st.buffer) == 1 and _reads_only_inputs(st.value, stmts)
        lets[st.buffer] = inline_scalars(st.value, lets) if once else None


def _is_scalar(buf) -> bool:
    shape = list(buf.ty.shape)
    return len(shape) == 1 and isinstance(shape[0], tirx.IntImm) and int(shape[0]) == 1


def _count_stores(stmts, buf) -> int:
    found = []
    for s in stmts:
        tvm_ffi.structural_walk(s, (tirx.BufferStore, lambda st: found.append(st) if st.buffer.same_as(buf)
                                    else None))
    return len(found)


def inline_scalars(node, lets):
    """``node`` with the recorded scalars (let variables, one-element local buffers) replaced by their values."""
    known = {v: e for v, e in lets.items() if e is not None}
    scalars = {v: e for v, e in known.items() if not isinstance(getattr(v, "ty", None), tirx.BufferType)}
    if not known:
        return node

    def on_load(load):
        return known.get(load.source, load)
    node = tvm_ffi.structural_map(node, [(TensorLoad, on_load)], order="post")
    return substitute(node, scalars)


def _reads_only_inputs(expr, stmts) -> bool:
    """True when ``expr`` loads only global tensors that ``stmts`` never write (so it may be computed ahead)."""
    loads = []
    tvm_ffi.structural_walk(expr, (TensorLoad, lambda ld: loads.append(ld.source)))
    return all(b.scope() == "global" and not _writes(stmts, b) for b in loads)


def _staged_region(region, new_buf, stage):
    slices = [slice(stage, stage + 1)] + [slice(r.min, r.min + r.extent) for r in region.region]
    return new_buf[tuple(slices)]


def _restage(stmt, remap, stage):
    """Accesses of remapped tiles -> the given stage of their staged buffers."""
    def on_call(c):
        if not is_tile_call(c):
            return c
        args = [(_staged_region(a, remap[a.source], stage) if isinstance(a, TensorRegion) and a.source in remap
                 else a) for a in c.args]
        if all(x.same_as(y) for x, y in zip(args, c.args)):
            return c
        return Call(c.op, args, attrs=c.attrs, ret_ty="void")

    def on_load(load):
        if load.source in remap:
            return tirx.BufferLoad(remap[load.source], [stage] + list(load.indices))
        return load

    def on_store(store):
        if store.buffer in remap:  # a tile the threads write for the gemms (double-buffered, see _transform_tiles)
            return tirx.BufferStore(remap[store.buffer], store.value, [stage] + list(store.indices))
        return store
    return tvm_ffi.structural_map(stmt, [(Call, on_call), (TensorLoad, on_load), (tirx.BufferStore, on_store)],
                                  order="post")


def _tile_bytes(buf) -> int:
    """Bytes of a shared tile of constant shape."""
    from ..tile_lowering_utils import const_ints, dtype_bytes
    from .layout import numel

    return dtype_bytes(str(buf.ty.dtype)) * numel(const_ints(list(buf.ty.shape), "shared tile"))


def _async(stmt):
    src, dst = stmt.value.args
    return tirx.Evaluate(make_tile_call("copy", [src, dst], async_copy=True))


class _Pipeliner(StmtRewriter):
    def __init__(self, func_body, param_buffers=()):
        super().__init__()
        self.body = func_body
        self.param_buffers = list(param_buffers)  # tensors the host function can describe to TMA
        self.remap = {}
        self.host = []  # host statements (tensor maps) to put before the kernel launch
        self.kinds = []  # how each pipelined loop was built: "cp.async", "tma" or "tma+warp_specialized"
        self.loop_depth = 0  # serial loops around the statement being visited
        self._tile_layouts = None
        self._wgmma_fit = None
        self.top_level = []  # statements of the (single) thread launch's body, for warp specialization
        self.drop = []  # statements the producer warpgroup took over (loads before a warp-specialized loop)
        self.staged_extra = 0  # shared bytes the stages of the loops pipelined so far add to the program's tiles

    def _fits_staged(self, bufs, stages: int) -> bool:
        """Whether the program's shared tiles, with ``bufs`` (and the loops pipelined before) in ``stages``
        buffers, fit the shared memory a block of the target may use (False when the target's is unknown)."""
        import tvm

        from ...autotuner.space import DeviceLimits
        from .tma_store import shared_bytes

        target = tvm.target.Target.current(allow_none=True)
        limit = DeviceLimits.for_target(target).max_shared_bytes if target is not None else None
        need = shared_bytes(self.body) + self.staged_extra + sum(_tile_bytes(b) for b in bufs) * (stages - 1)
        return limit is not None and need + 1024 <= limit  # 1 KiB: the pool's alignment pad and the barriers

    def visit_For(self, loop):
        stages = loop.annotations.get(NUM_STAGES_ATTR) if loop.annotations is not None else None
        if stages is None:
            self.loop_depth += 1
            try:
                return super().visit_For(loop)
            finally:
                self.loop_depth -= 1
        stages = int(stages)
        annotations = {k: v for k, v in loop.annotations.items() if k != NUM_STAGES_ATTR}
        plain = rebuild_for(loop, body=self.visit(loop.body), annotations=annotations)
        if stages < 1 or (stages == 1 and not schedule("TILEDSL_ONE_STAGE_AHEAD")):
            return plain
        stmts = flatten_seq([loop.body])
        # a body that is one block-uniform ``if`` (a block-sparse mask): each iteration's copies and compute run
        # under its own iteration's condition; the waits, barriers and commits stay unconditional
        guard = _uniform_guard(self.body, stmts)
        if guard is not None:
            stmts = flatten_seq([stmts[0].then_case])
        producers, consumers = [], []
        lets = {}  # scalars set earlier in the body (a block-table look-up) that a producer may index by
        for pos, st in enumerate(stmts):
            note_scalar(st, stmts, lets)
            # a global -> shared copy may be issued early if nothing before it in the body touches its tile
            # and the scalars its region uses can be computed for a later iteration
            if _is_producer(st) and not any(uses_var(prev, st.value.args[1].source) for prev in stmts[:pos]) \
                    and all(lets[v] is not None for v in lets if uses_var(st, v)):
                producers.append(inline_scalars(st, lets))
            else:
                consumers.append(st)
        bufs = []
        for p in producers:
            b = p.value.args[1].source
            if b not in bufs:
                bufs.append(b)
        if not producers or not consumers or any(_writes(consumers, b) for b in bufs) or any(
                self._used_outside(b, loop) for b in bufs) or any(b in self.remap for b in bufs):
            return plain
        if stages == 1:  # TileLang's num_stages=1: copies one iteration ahead, each copied tile in two buffers
            if not self._fits_staged(bufs, 2):
                return plain
            stages = 2
        self.staged_extra += sum(_tile_bytes(b) for b in bufs) * (stages - 1)
        remap = {b: tirx.decl_buffer([stages] + list(b.ty.shape), str(b.ty.dtype), b.name, scope=b.scope())
                 for b in bufs}
        self.remap.update(remap)
        k = loop.loop_var
        n = loop.extent
        i = tirx.Var(k.name + "_p", str(k.ty))  # the new loop counts 0 .. n-1; k = loop.min + i

        def issue(iteration):
            stage = tirx.floormod(iteration, stages)
            copies = [_restage(_async(substitute(p, {k: loop.min + iteration})), remap, stage) for p in producers]
            if guard is None:
                return copies
            return [tirx.IfThenElse(substitute(guard, {k: loop.min + iteration}), seq(copies), None)]

        # a loop under a block-uniform guard (a block mask) keeps cp.async: the ring issues and computes every
        # iteration, and on the H200 it computed the masked-out blocks too (a wrong answer, 2026-12-05)
        loads = self._tma_loads(producers, consumers) if guard is None else None
        # consumers that are only wgmma gemms keep one gemm in flight across iterations: the copies then run
        # stages - 2 iterations ahead, so the stage being refilled is never the one the in-flight gemm reads
        overlap = stages >= 3 and guard is None and _only_wgmma_gemms(self.body, consumers)
        # so do gemms after statements that fill their operand tiles (a weight converted to fp16): those tiles
        # get two buffers, written in turn, so the threads fill one while the previous gemm reads the other
        # (cp.async only: its barrier at the top of each iteration is what frees the buffer)
        transformed = None
        if not overlap and loads is None and stages >= 3 and guard is None and config.overlap_transforms_enabled():
            transformed = _transform_tiles(self.body, loop, consumers, bufs)
            overlap = transformed is not None
        ahead_by = stages - 2 if overlap else stages - 1
        if overlap:
            consumers = [_with_wgmma_wait(c) if _is_gemm(c) else c for c in consumers]
        if transformed and schedule("TILEDSL_WS_TRANSFORMS"):
            specialized = self._transform_ring(loop, i, producers, consumers, remap, stages, transformed,
                                               annotations)
            if specialized is not None:
                return specialized
        self.kinds.append("cp.async" if loads is None else "tma")
        if loads is not None:
            return self._tma_ring(loop, i, producers, loads, consumers, remap, stages, ahead_by, overlap,
                                  annotations)
        prologue = []
        for s_ in range(ahead_by):
            first = tirx.const(s_, "int32")
            prologue += [tirx.IfThenElse(first < n, seq(issue(first)), None), commit()]
        ahead = i + ahead_by
        # wait for this iteration's stage; the barrier also means every thread is done with iteration i - 1
        # (with overlap: every warpgroup's gemm of iteration i - 2), whose stage the next issue refills
        inner = [wait(ahead_by - 1), barrier(), tirx.IfThenElse(ahead < n, seq(issue(ahead)), None), commit()]
        compute = [_restage(substitute(c, {k: loop.min + i}), remap, tirx.floormod(i, stages)) for c in consumers]
        if transformed:
            double = {b: tirx.decl_buffer([2] + list(b.ty.shape), str(b.ty.dtype), b.name, scope=b.scope())
                      for b in transformed}
            self.remap.update(double)
            compute = [_restage(c, double, tirx.floormod(i, 2)) for c in compute]
        if guard is not None:
            compute = [tirx.IfThenElse(substitute(guard, {k: loop.min + i}), seq(compute), None)]
        inner += compute
        main = tirx.For(i, 0, n, tirx.ForKind.SERIAL, self.visit(seq(inner)), None, annotations)
        drain = [tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(0))] if overlap else []
        return seq(prologue + [main] + drain + [wait(0), barrier()])  # later shared use may alias the stages

    def visit_AttrStmt(self, stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x":
            self.top_level = flatten_seq([stmt.body])
        return super().visit_AttrStmt(stmt)

    def _wgmma_fits_specialized(self, nthreads: int) -> bool:
        """Whether the kernel's wgmma accumulators still fit ptxas's count once a producer warpgroup joins
        (:func:`warp_specialize.wgmma_registers_fit`); computed once per kernel."""
        if self._wgmma_fit is None:
            self._wgmma_fit = warp_specialize.wgmma_registers_fit(final_gemm_plans(self.body, nthreads), nthreads)
        return self._wgmma_fit

    # ------------------------------------------------------------------ TMA + mbarrier ring (sm_90a)
    def _threads(self):
        from .lower_tile_ops import thread_launches

        launches = thread_launches(self.body)
        tid, stride = tirx.const(0, "int32"), 1
        for var, ext in launches:
            tid = tid + var * stride if stride > 1 else var
            stride *= ext
        return [v for v, _ in launches], tid, stride

    def _tma_loads(self, producers, consumers):
        """Each producer's TMA plan, or None when the loop keeps cp.async (not sm_90a, nested in another loop,
        a copy that TMA cannot do, or a loaded 2-d tile that something other than a gemm reads)."""
        from .gemm_wgmma import sm90a

        if not sm90a() or self.loop_depth or not config.tma_lowering_enabled() or not allowed("tma"):
            return None
        if not all(_ring_may_fill(p.value.args[1].source, consumers) for p in producers):
            return None
        # a view declared in the kernel (T.Tensor(shape, dtype, param.data)) does not exist in the host function,
        # where the tensor maps are encoded
        if not all(any(p.value.args[0].source.same_as(b) for b in self.param_buffers) for p in producers):
            return None
        thread_vars, _, nthreads = self._threads()
        if not thread_vars:
            return None
        if self._tile_layouts is None:
            self._tile_layouts = shared_tile_layouts(self.body, nthreads)
        loads = [tma_copy.plan_load(p, self._tile_layouts, thread_vars) for p in producers]
        return None if any(ld is None for ld in loads) else loads

    def _tma_ring(self, loop, i, producers, loads, consumers, remap, stages, ahead_by, overlap, annotations):
        """The pipelined loop with TMA loads into an mbarrier ring (see the module docstring)."""
        k, n = loop.loop_var, loop.extent
        thread_vars, tid, nthreads = self._threads()
        for load in tma_copy.assign_maps(loads):
            self.host += tma_copy.host_statements(load)
        ring = BarrierRing(stages, prefix=producers[0].value.args[1].source.name)
        nbytes = sum(ld.nbytes for ld in loads)
        if overlap and len(thread_vars) == 1 and config.warp_specialization_enabled() and \
                allowed("warp_specialization") and \
                warp_specialize.eligible(self.top_level, loop, producers, consumers, nthreads) and \
                self._wgmma_fits_specialized(nthreads):
            self.kinds[-1] = "tma+warp_specialized"
            return self._warp_specialized(loop, i, producers, loads, consumers, remap, ring, nbytes, tid, nthreads,
                                          annotations)
        split = None
        if not overlap and schedule("TILEDSL_DEFER_LAST_GEMM"):
            from .deferred_gemm import plan as deferred_plan

            split = deferred_plan(consumers, producers + consumers, [ld.dst for ld in loads],
                                  wgmma_accumulators(self.body, nthreads))
        if not overlap and len(thread_vars) == 1 and config.warp_specialize_all() and \
                allowed("warp_specialization"):
            before = self._loads_before(loop, consumers, thread_vars, split)
            # a loop length the kernel keeps in a scalar (``loop_range = T.min(...)``): the producer computes it
            extent = self._inline_top_scalars(n)
            if before is not None and warp_specialize.eligible_general(
                    self.top_level, loop, producers, consumers, nthreads, [st for st, _ in before], extent) and \
                    self._wgmma_fits_specialized(nthreads):
                self.kinds[-1] = "tma+warp_specialized" + ("+deferred_gemm" if split is not None else "")
                return self._warp_specialized(loop, i, producers, loads, consumers, remap, ring, nbytes, tid,
                                              nthreads, annotations, overlap=False, before=before, extent=extent,
                                              split=split)

        if split is not None:
            self.kinds[-1] = "tma+deferred_gemm"
            return self._deferred_ring(loop, i, producers, loads, split, remap, stages, annotations)

        pairs = list(zip(producers, loads))

        def issue(iteration):
            return tirx.IfThenElse(tirx.And(tid == 0, iteration < n),
                                   seq(_fill(ring, pairs, iteration, iteration, loop, remap)), None)

        fences = []
        if schedule("TILEDSL_HOISTED_FENCES"):
            consumers, fences = _fenced_before_loop(consumers)
        prologue = ring.allocations() + fences + ring.init(tid == 0, nthreads)
        prologue += [issue(tirx.const(j, "int32")) for j in range(ahead_by)]
        # the loads of iteration i + ahead_by go first: their stage was released in iteration i - 1 (the stage of
        # i - 1 without overlap; with overlap, that of i - 2, whose gemm the wgmma wait of i - 1 saw finish)
        inner = [issue(i + ahead_by), ring.wait_full(i)]
        inner += [_restage(substitute(c, {k: loop.min + i}), remap, tirx.floormod(i, stages)) for c in consumers]
        if overlap:  # this iteration's wgmma wait (group 1) means the previous iteration's gemm has finished
            inner.append(tirx.IfThenElse(i > 0, ring.release(i - 1), None))
        else:
            inner.append(ring.release(i))
        main = tirx.For(i, 0, n, tirx.ForKind.SERIAL, self.visit(seq(inner)), None, annotations)
        drain = [tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(0))] if overlap else []
        return seq(prologue + [main] + drain + [barrier()])  # later shared use may alias the stages

    def _transform_ring(self, loop, i, producers, consumers, remap, stages, transformed, annotations):
        """``TILEDSL_WS_TRANSFORMS`` (the default; ``=0`` turns it off): a loop whose threads fill tiles for its
        gemms from loaded tiles (``transformed``, an int8 weight converted to fp16) warp-specialized with every
        load on TMA, the loaded tiles the threads read included (a plain row-major box), or None when it does not
        qualify. The producer warpgroup fills the ring as for gemm-only loops; the consumers convert as
        :meth:`_converting` says, issue their gemms with one group left in flight (``consumers`` are marked so),
        and release the previous stage once the wgmma wait saw its gemm finish."""
        from .gemm_wgmma import sm90a

        thread_vars, tid, nthreads = self._threads()
        if not sm90a() or self.loop_depth or not config.tma_lowering_enabled() or not allowed("tma") or \
                not config.warp_specialization_enabled() or not allowed("warp_specialization") or \
                len(thread_vars) != 1 or nthreads % 128:
            return None
        gemms = [c for c in consumers if _is_gemm(c)]
        if not all(_read_only_by_gemms_or_transforms(p.value.args[1].source, consumers) for p in producers) or \
                not all(any(p.value.args[0].source.same_as(b) for b in self.param_buffers) for p in producers):
            return None
        if self._tile_layouts is None:
            self._tile_layouts = shared_tile_layouts(self.body, nthreads)
        loads = [tma_copy.plan_load(p, self._tile_layouts, thread_vars) for p in producers]
        if any(ld is None for ld in loads) or not gemms or \
                not warp_specialize.transforms_splittable(self.top_level, loop, producers, nthreads) or \
                not self._wgmma_fits_specialized(nthreads):
            return None
        self.kinds.append("tma+warp_specialized+transforms")
        for load in tma_copy.assign_maps(loads):
            self.host += tma_copy.host_statements(load)
        ring = BarrierRing(stages, prefix=producers[0].value.args[1].source.name)
        return self._warp_specialized(loop, i, producers, loads, consumers, remap, ring, sum(ld.nbytes for ld in loads),
                                      tid, nthreads, annotations, transformed=transformed)

    def _converting(self, body, transformed, position, nthreads):
        """The consumers' statements ``body`` of a loop converting the ``transformed`` tiles
        (``TILEDSL_WS_TRANSFORMS``): each such tile in three buffers taken in turn (ring ``position`` mod 3), and
        before the first gemm the converted tiles fenced for the tensor cores (``fence.proxy.async``) and every
        consumer thread met at a named barrier; the gemms are lowered as reading TMA-written tiles, so ThreadSync
        sees no read after the writes and puts no whole-block barrier among the consumers. Three buffers: the one
        written at position p was last read by the gemm of p - 3, which every consumer thread waited for before the
        barrier of p - 1, which the writer has passed."""
        buffers = {b: tirx.decl_buffer([3] + list(b.ty.shape), str(b.ty.dtype), b.name, scope=b.scope())
                   for b in transformed}
        self.remap.update(buffers)
        out, handed = [], False
        for c in body:
            if _is_gemm(c) and not handed:
                out += [tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta()),
                        tirx.Evaluate(T.ptx.bar.sync(T.uint32(TRANSFORM_BARRIER), T.uint32(nthreads)))]
                handed = True
            out.append(_restage(c, buffers, tirx.floormod(position, 3)))
        return out

    def _deferred_ring(self, loop, i, producers, loads, split, remap, stages, annotations):
        """The TMA ring loop with its last gemm run one iteration late (``deferred_gemm``): iteration i issues the
        first gemm of i, then the last gemm of i - 1, and waits for each where ``split`` says. The tiles the
        last gemm reads have a ring of their own, filled S - 2 iterations ahead (their stage is released in the
        middle of the next iteration); the other tiles' ring is filled S - 1 ahead and released at the end of each
        iteration. Iteration 0 is peeled (no gemm of iteration -1); the last gemm of the last iteration runs after
        the loop."""
        n = loop.extent
        _, tid, nthreads = self._threads()
        groups = _ring_groups(producers, loads, split, stages)

        def ahead(late):  # how many iterations ahead a ring is filled
            return stages - 2 if late else stages - 1

        def issue(ring, pairs, iteration):
            return tirx.IfThenElse(iteration < n, seq(_fill(ring, pairs, iteration, iteration, loop, remap)), None)

        def issue_ahead(iteration):  # thread 0, at the top of ``iteration``
            return tirx.IfThenElse(tid == 0, seq([issue(r, ps, iteration + ahead(late)) for r, ps, late in groups]),
                                   None)

        prologue = [a for r, _, _ in groups for a in r.allocations()] + init_rings(tid == 0, [(r, nthreads)
                                                                                             for r, _, _ in groups])
        for r, ps, late in groups:
            prologue += [tirx.IfThenElse(tid == 0, issue(r, ps, tirx.const(j, "int32")), None)
                         for j in range(ahead(late))]
        steps = _DeferredSteps(split, loop, remap, groups, position=lambda it: it, release=lambda st: st)
        first = [issue_ahead(tirx.const(0, "int32"))] + steps.first()
        inner = [issue_ahead(i)] + steps.iteration(i)
        main = tirx.For(i, 1, n - 1, tirx.ForKind.SERIAL, self.visit(seq(inner)), None, annotations)
        run = _if_positive(n, seq([self.visit(seq(first)), main, self.visit(seq(steps.last(n - 1)))]))
        return seq(prologue + [run, barrier()])  # later shared use may alias the stages

    def _inline_top_scalars(self, expr):
        """``expr`` with the scalars the launch body sets once from inputs (a variable, a one-element local
        buffer) replaced by their values."""
        lets = {}
        for st in self.top_level:
            note_scalar(st, self.top_level, lets)
        return inline_scalars(expr, lets)

    def _loads_before(self, loop, consumers, thread_vars, split=None):
        """[(copy, TMA plan)] of the top-level global -> shared copies before ``loop`` whose tiles only the loop's
        gemms read (attention's Q tile), for the producer to load first; None when one of them cannot be a TMA
        load (such a copy would need a whole-block barrier the producer warps do not reach) or when the loop's
        deferred gemm (``split``) reads one: that shape hung on the H100 on a persistent grid (2026-12-06, a gemm
        chain whose ``p W`` read a W loaded before the loop; cause not found), so such a loop keeps the plain ring."""
        out = []
        for st in self.top_level:
            if st.same_as(loop):
                return out
            if not _is_producer(st):
                continue
            tile = st.value.args[1].source
            whole_use = count_uses(self.body, tile) == 2 + count_uses(loop, tile)  # allocation, this copy, loop
            if not (whole_use and _read_only_by_gemms(tile, consumers) and
                    any(st.value.args[0].source.same_as(b) for b in self.param_buffers)):
                return None
            if split is not None and _gemm_reads(split.gemm, tile):
                return None
            plan = tma_copy.plan_load(st, self._tile_layouts, thread_vars)
            if plan is None:
                return None
            out.append((st, plan))
        return None

    def _warp_specialized(self, loop, i, producers, loads, consumers, remap, ring, nbytes, tid, nthreads,
                          annotations, overlap=True, before=(), extent=None, split=None, transformed=()):
        """The ring split between a producer warpgroup (every load, in order) and the program's threads (compute
        only); WarpSpecialize finishes the split after LowerTileOpsCUDA (see warp_specialize's docstring).

        Ring positions count from ``ring_base``, the iterations this CTA's ring ran before (0, or the tiles done
        so far times the loop's length when WarpSpecialize makes the grid persistent); each warp's lane 0 (or
        each warpgroup's first thread, :func:`_release_granularity`) releases a stage once its wgmma wait saw the
        stage's gemm finish: the previous stage while one gemm stays in flight (``overlap``, gemm-only loops),
        else the stage itself after the iteration.
        ``before``: loads of tiles the loop's gemms read (attention's Q), issued by the producer first on a
        one-stage ring of their own, counted in tiles: on a persistent grid the producer loads the next tile's once
        every consumer warp released them, right after the loop's last gemm that reads them finished (with a
        deferred gemm, which never reads them, before the last one).
        ``split``: the loop's last gemm runs one iteration late (``deferred_gemm``), its tiles on a ring of their
        own (:class:`_DeferredSteps`). ``transformed``: tiles the consumers convert for the gemms
        (:meth:`_converting`)."""
        k, n, stages = loop.loop_var, loop.extent if extent is None else extent, ring.stages
        base = tirx.Var("ring_base", "int32")
        tile = tirx.Var("ring_tile", "int32")  # the tiles this CTA ran before (WarpSpecialize binds it)
        it = tirx.Var("it", str(k.ty))
        groups = _ring_groups(producers, loads, split, stages) if split is not None else \
            [(ring, list(zip(producers, loads)), False)]
        fill = [a for r, pairs, _ in groups for a in _fill(r, pairs, base + it, it, loop, remap)]
        signallers = _release_granularity(loads, consumers, nthreads, transformed, self.body)
        releaser = tirx.floormod(tid, signallers) == 0  # the thread of each warp (or warpgroup) that releases
        first, wait_first, release_first = [], [], []
        rings = [(r, nthreads // signallers) for r, _, _ in groups]
        if before:
            pre = BarrierRing(1, prefix=before[0][0].value.args[1].source.name)
            for load in tma_copy.assign_maps([plan for _, plan in before]):
                self.host += tma_copy.host_statements(load)
            first = [tirx.IfThenElse(tile >= 1, pre.wait_empty(tile), None),
                     pre.expect(0, sum(plan.nbytes for _, plan in before))]
            for st, plan in before:
                first += tma_copy.issue(plan, st, st.value.args[1].source, None, pre.full_ptr(0))
            wait_first = [pre.wait_full(tile)]
            release_first = [tirx.IfThenElse(releaser, pre.release(tile), None)]
            rings.append((pre, nthreads // signallers))
            self.drop += [st for st, _ in before]
        producer = tirx.IfThenElse(tid == 0, seq(first + [tirx.For(it, 0, n, tirx.ForKind.SERIAL, seq(fill))]), None)
        common = seq([a for r, _ in rings for a in r.allocations()] + init_rings(tid == 0, rings))
        turns = _PingPong(tid) if not overlap and nthreads == 256 and \
            config.warp_specialize_mode() == "pingpong" else None
        marks = [warp_specialize.marked(warp_specialize.COMMON, common, nthreads),
                 warp_specialize.marked(warp_specialize.PRODUCER, producer, nthreads, base)]
        if before or split is not None:
            # uneven tiles (the loop's length depends on the tile) only on rings of 3 or more stages: on the H100
            # (2026-12-06) a 2-stage gemm chain walking uneven tiles hung, with or without a first empty tile or a
            # deferred gemm, while 3 stages, even tiles and one CTA per tile ran (benchmarks/probe_chain.py); its
            # barrier protocol is sound in testing/ring_protocol.py, the cause is not known
            marks.append(warp_specialize.tile_counter(tile, uneven=stages >= 3))
        # ping-pong's first turn once per kernel (each tile takes as many turns on both warpgroups: the turns
        # alternate on across the tiles of a persistent grid)
        first_turn = [warp_specialize.consumers_once(turns.first())] if turns is not None else []
        if split is not None:
            steps = _DeferredSteps(split, loop, remap, groups, position=lambda j: base + j,
                                   release=lambda st: tirx.IfThenElse(releaser, st, None), turns=turns,
                                   tma_operands=True)
            main = tirx.For(i, 1, n - 1, tirx.ForKind.SERIAL, self.visit(seq(steps.iteration(i))), None, annotations)
            # the tiles loaded before the loop (which the deferred gemm does not read: _loads_before) are released
            # before the deferred gemm of the last iteration: every gemm reading them was waited for
            last = release_first + steps.last(n - 1)
            block = _if_positive(n, seq([self.visit(seq(steps.first())), main, self.visit(seq(last))]))
            after = [] if not release_first or Analyzer().can_prove(n > 0) else \
                [tirx.IfThenElse(n <= 0, seq(release_first), None)]
            return seq(marks + wait_first + first_turn + [warp_specialize.consumer_block(block, n)] + after)
        inner = [ring.wait_full(base + i)]
        # the gemms read ring tiles and tiles loaded before the loop only (eligible): nothing but TMA writes them
        body = [_restage(substitute(_with_tma_operands(c) if _is_gemm(c) else c,
                                    {k: loop.min + i}), remap, tirx.floormod(base + i, stages))
                for c in consumers]
        if transformed:
            body = self._converting(body, transformed, base + i, nthreads)
        inner += turns.around_gemms(body) if turns is not None else body
        if overlap:
            inner.append(tirx.IfThenElse(tirx.And(i > 0, releaser), ring.release(base + i - 1), None))
        else:
            inner.append(tirx.IfThenElse(releaser, ring.release(base + i), None))
        marked_loop = dict(annotations)
        marked_loop[warp_specialize.CONSUMER_LOOP] = 1
        if transformed:
            marked_loop[warp_specialize.TRANSFORM_LOOP] = 1
        main = tirx.For(i, 0, n, tirx.ForKind.SERIAL, self.visit(seq(inner)), None, marked_loop)
        # no block-wide barrier after the loop: nothing else in the kernel uses shared memory (eligible); the last
        # stage is released for the next tile of a persistent grid
        tail = [tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(0))] + release_first
        if overlap:
            tail.append(tirx.IfThenElse(tirx.And(n > 0, releaser), ring.release(base + n - 1), None))
        return seq(marks + wait_first + first_turn + [main] + tail)

    def _used_outside(self, buf, loop) -> bool:
        total = count_uses(self.body, buf)
        inside = count_uses(loop, buf)
        return total - inside > 1  # the allocation itself is one use

    def finish(self, body):
        if self.drop:
            body = tvm_ffi.structural_map(body, [(tirx.Evaluate, lambda st: tirx.Evaluate(tirx.const(0, "int32"))
                                                  if any(st.same_as(d) for d in self.drop) else st)], order="pre")
        if not self.remap:
            return body

        def on_alloc(stmt):
            new = self.remap.get(stmt.buffer)
            return tirx.AllocBuffer(new) if new is not None else stmt
        return tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")


def _release_granularity(loads, consumers, nthreads, transformed, body) -> int:
    """Threads per release of a warp-specialized ring's stage: 32 (each warp's lane 0 arrives once its wgmma wait
    saw the stage's gemms finish), or 128 with ``TILEDSL_WARPGROUP_RELEASE`` where only wgmma gemms read the
    ring's tiles (no statement of the threads reads them, none is converted): a warpgroup's wgmma is one operation
    of its four warps, which starts once all four issued it (register operands loaded), so one warp's wait sees
    the whole warpgroup's reads finish and one arrival per warpgroup suffices (what the hand-written kernels and
    CUTLASS's consumer release do); the tiles loaded before the loop are gemm-only by construction
    (``_loads_before``)."""
    if not schedule("TILEDSL_WARPGROUP_RELEASE") or nthreads % 128 or transformed or \
            not all(_read_only_by_gemms(ld.dst, consumers) for ld in loads):
        return 32
    on_wgmma = wgmma_accumulators(body, nthreads)
    readers = [c for c in consumers if _is_gemm(c) and any(count_uses(c, ld.dst) for ld in loads)]
    return 128 if all(any(c.value.args[2].source.same_as(a) for a in on_wgmma) for c in readers) else 32


def _if_positive(n, stmt):
    """``stmt`` under ``if n > 0``, or alone where that is provable (a constant loop length): TVM cannot put the
    barriers a loop body may need inside a branch."""
    return stmt if Analyzer().can_prove(n > 0) else tirx.IfThenElse(n > 0, stmt, None)


def _ring_groups(producers, loads, split, stages) -> list:
    """[(ring, [(producer, TMA plan)], late)]: one ring for every load, or with a deferred gemm (``split``) one for
    the tiles it reads (late: released one iteration later) after one for the others (either may be absent)."""
    late_tiles = split.late_tiles if split is not None else ()
    groups = []
    for late in (False, True):
        pairs = [(p, ld) for p, ld in zip(producers, loads)
                 if any(ld.dst.same_as(t) for t in late_tiles) == late]
        if pairs:
            groups.append((BarrierRing(stages, prefix=pairs[0][1].dst.name), pairs, late))
    return groups


def _fill(ring, pairs, position, iteration, loop, remap) -> list:
    """Thread-0 statements loading ``iteration``'s tiles of ``pairs`` into ``ring`` at ring ``position``: wait for
    the stage's release (from the second use of the stage on), announce the bytes, issue the TMA loads."""
    stages = ring.stages
    stage = tirx.floormod(position, stages)
    body = [tirx.IfThenElse(position >= stages, ring.wait_empty(position), None),
            ring.expect(stage, sum(ld.nbytes for _, ld in pairs))]
    for p, load in pairs:
        one = substitute(p, {loop.loop_var: loop.min + iteration})
        body += tma_copy.issue(load, one, remap[load.dst], stage, ring.full_ptr(stage))
    return body


class _DeferredSteps:
    """The consumers' statements of a loop whose last gemm runs one iteration late (``deferred_gemm.plan``):
    iteration i waits for its early tiles, runs the statements up to the first gemm (marked to leave its wait to
    a later statement), waits for the late tiles of i - 1, issues the last gemm of i - 1, waits for the first
    gemm only (``wait_group 1``), runs the statements that do not need the deferred result (then, with
    ``TILEDSL_FENCED_DEFERRED_WAIT=1`` only, pins what they computed and crosses the schedule fence), waits for the
    deferred gemm (``wait_group 0``), releases the late stage of i - 1 and runs the rest. The early stage of i is
    released right after the first gemm's wait, or at the end where a statement after that gemm reads an early
    tile. ``position(iteration)`` is the ring position,
    ``release(stmt)`` guards a release (one lane per warp when warp-specialized); ``turns`` (pingpong) puts each
    group of gemm issues inside its warpgroup's turn."""

    def __init__(self, split, loop, remap, groups, position, release, turns=None, tma_operands=False):
        self.split, self.loop, self.remap = split, loop, remap
        self.early = next((r for r, _, late in groups if not late), None)
        self.early_tiles = [ld.dst for _, pairs, late in groups if not late for _, ld in pairs]
        self.late = next((r for r, _, late in groups if late), None)
        self.position, self.release_guard, self.turns = position, release, turns
        self.tma_operands = tma_operands
        self.stages = groups[0][0].stages

    def _at(self, stmts, iteration):
        """``stmts`` for ``iteration``: its loop counter, its ring stage, the gemms marked when only TMA wrote
        their shared operands."""
        k = self.loop.loop_var
        stage = tirx.floormod(self.position(iteration), self.stages)
        out = []
        for c in stmts:
            if self.tma_operands and _is_gemm(c):
                c = _with_tma_operands(c)
            out.append(_restage(substitute(c, {k: self.loop.min + iteration}), self.remap, stage))
        return out

    def _wait_full(self, ring, iteration):
        return [ring.wait_full(self.position(iteration))] if ring is not None else []

    def _release(self, ring, iteration):
        return [self.release_guard(ring.release(self.position(iteration)))] if ring is not None else []

    def _turn(self, stmts):
        return self.turns.around(stmts) if self.turns is not None else stmts

    def _turn_then_wait(self, gemm, accumulator):
        """One gemm in this warpgroup's turn, waited for after the turn ends (ping-pong: the other warpgroup's
        gemm is issued while this one runs); without turns, the plain gemm."""
        from .async_gemms import counted_gemm, wgmma_wait

        if self.turns is None:
            return [gemm]
        return self._turn([counted_gemm(gemm, deferred=True)]) + [wgmma_wait(0, [accumulator])]

    def first(self) -> list:
        """Iteration 0: everything but the deferred gemm, with plain waits (ping-pong: after the turn)."""
        split = self.split
        gemm_at = len(split.head) - 1
        head = self._at(split.head, 0)
        head = head[:gemm_at] + self._turn_then_wait(head[gemm_at], split.first_accumulator)
        middle = self._at(split.before_wait + split.after_wait, 0)
        return self._wait_full(self.early, 0) + head + middle + self._release(self.early, 0)

    def iteration(self, i) -> list:
        """Iteration i >= 1 (see the class doc)."""
        from .async_gemms import counted_gemm, pin_registers, wgmma_wait
        from .deferred_gemm import schedule_fence

        split, gemm = self.split, self.split.gemm
        head = self._at(split.head[:-1], i)
        issues = self._at([counted_gemm(split.head[-1], deferred=True)], i) + self._wait_full(self.late, i - 1)
        issues += [pin_registers(gemm.value.args[2].source)] + self._at([counted_gemm(gemm, deferred=True)], i - 1)
        out = self._wait_full(self.early, i) + head + self._turn(issues)
        out += [wgmma_wait(1, [split.first_accumulator])]
        # the early tiles are free once the first gemm finished, unless a statement after it reads them too
        early_now = not any(uses_var(st, tile) for st in split.before_wait + split.after_wait
                            for tile in self.early_tiles)
        out += (self._release(self.early, i) if early_now else []) + self._at(split.before_wait, i)
        if schedule("TILEDSL_FENCED_DEFERRED_WAIT"):  # the wait stays after the statements before it
            out += [pin_registers(b) for b in split.finished_registers()] + [schedule_fence()]
        out += [wgmma_wait(0, [gemm.value.args[2].source])] + self._release(self.late, i - 1)
        return out + self._at(split.after_wait, i) + ([] if early_now else self._release(self.early, i))

    def last(self, last) -> list:
        """After the loop: the deferred gemm of the last iteration (its plain wait), and its late stage released."""
        gemm = self._at([self.split.gemm], last)[0]
        return self._wait_full(self.late, last) + self._turn_then_wait(gemm, gemm.value.args[2].source) + \
            self._release(self.late, last)


class _PingPong:
    """Two consumer warpgroups taking turns at their gemms (``TILEDSL_WARP_SPECIALIZE=pingpong``, opt-in, slower):
    each gemm statement of the loop runs between ``bar.sync`` on its warpgroup's named barrier (2 + wg) and
    ``bar.arrive`` on the other's, so one warpgroup's softmax runs while the other's gemm has the tensor cores.
    Warpgroup 1 arrives once per kernel, before the consumers' first tile, so warpgroup 0 goes first. Both
    warpgroups run the same gemms the same number of times (top-level statements of the same loop, on the same
    tiles), so every ``bar.sync`` is matched and the turns alternate on across a persistent grid's tiles; the last
    arrival is left pending when the kernel ends (barrier 1 is the TMA-store epilogue's, 0 ``__syncthreads``)."""

    FIRST_ID = 2

    def __init__(self, tid):
        self.wg = tirx.floordiv(tid, 128)

    def _bar(self, action, warpgroup):
        bar_id = tirx.Cast("uint32", warpgroup + self.FIRST_ID)
        op = T.ptx.bar.sync if action == "sync" else T.ptx.bar.arrive
        return tirx.Evaluate(op(bar_id, T.uint32(256)))

    def around_gemms(self, body):
        """``body`` (the loop's statements) with each gemm inside its warpgroup's turn."""
        out = []
        for stmt in body:
            out += self.around([stmt]) if _is_gemm(stmt) else [stmt]
        return out

    def around(self, stmts):
        """``stmts`` (gemm issues) inside one turn of this warpgroup."""
        return [self._bar("sync", self.wg)] + list(stmts) + [self._bar("arrive", 1 - self.wg)]

    def first(self):
        """Warpgroup 1's arrival that lets warpgroup 0 take the first turn."""
        return tirx.IfThenElse(self.wg == 1, self._bar("arrive", tirx.const(0, "int32")), None)


PIPELINES_ATTR = "tiledsl.pipelines"  # function attribute: how each pipelined loop was built (kernel_info)


def final_gemm_plans(body, nthreads: int) -> dict:
    """Accumulator -> the plan LowerTileOpsCUDA will lower its gemms with: the same plan, layout inference and
    filter it runs (a plan whose layout inference did not keep falls back)."""
    from . import gemm_strategy
    from .layout_inference import infer_layouts

    plans = gemm_strategy.plan_gemms(body, nthreads)
    layouts = infer_layouts(body, nthreads, {c: p.layout for c, p in plans.items()})
    return {c: p for c, p in plans.items() if layouts.get(c) == p.layout}


def wgmma_accumulators(body, nthreads: int) -> set:
    """The accumulators of the gemms the final plan puts on wgmma."""
    return {acc for acc, plan in final_gemm_plans(body, nthreads).items()
            if getattr(plan, "strategy", "") == "wgmma"}


def shared_tile_layouts(body, nthreads: int) -> dict:
    """Shared tile -> the layout LowerTileOpsCUDA will give it (gemm operands only; others stay row-major)."""
    from . import gemm_strategy

    return gemm_strategy.operand_layouts(body, final_gemm_plans(body, nthreads))


def _only_wgmma_gemms(func_body, consumers) -> bool:
    """True when every consumer is a T.gemm that will run on wgmma and no other consumer touches its
    accumulator (so the gemm may still be running when the next iteration starts)."""
    from . import gemm_wgmma
    from .lower_tile_ops import thread_count

    if not consumers or not all(is_tile_statement(c, "gemm") for c in consumers):
        return False
    planned = gemm_wgmma.plan(func_body, thread_count(func_body))
    return all(c.value.args[2].source in planned for c in consumers)


def _transform_tiles(func_body, loop, consumers, ring_tiles):
    """The shared tiles a pipelined loop's threads fill for its gemms each iteration (``B_s[i, j] = W_s[i, j]``
    converting an int8 weight), when the loop may keep its last gemm in flight with each of them double-buffered;
    else None. That holds when every gemm runs on wgmma, every other consumer (a transform) writes nothing but
    such tiles and never reads a gemm's accumulator, each tile is written whole by one transform (a ``T.Parallel``
    nest storing every element, or a ``T.copy`` onto the whole tile) before any gemm reads it, only as an
    operand, and nothing outside the loop uses it (``ring_tiles``: the loop's loaded tiles, never transformed)."""
    gemms = [c for c in consumers if _is_gemm(c)]
    others = [c for c in consumers if not _is_gemm(c)]
    if not gemms or not others or not _only_wgmma_gemms(func_body, gemms):
        return None
    accumulators = [g.value.args[2].source for g in gemms]
    writers = {}  # tile -> the position of the consumer that writes it
    for k, c in enumerate(consumers):
        if _is_gemm(c):
            continue
        tile = _whole_tile_written(c)
        if tile is None or tile in writers or any(tile.same_as(t) for t in ring_tiles) or \
                any(count_uses(c, acc) for acc in accumulators):
            return None
        writers[tile] = k
    for tile, writer in writers.items():
        readers = [k for k, c in enumerate(consumers) if k != writer and count_uses(c, tile)]
        if not readers or min(readers) < writer or count_uses(func_body, tile) != 1 + count_uses(loop, tile):
            return None
        for k in readers:
            g = consumers[k]
            if not _is_gemm(g) or g.value.args[2].source.same_as(tile) or \
                    count_uses(g, tile) != sum(1 for op in g.value.args[:2] if op.source.same_as(tile)):
                return None
    return list(writers)


def _whole_tile_written(stmt):
    """The shared tile ``stmt`` writes whole and alone (see :func:`_transform_tiles`), or None."""
    if is_tile_statement(stmt, "copy"):
        src, dst = stmt.value.args
        whole = whole_region(dst) and dst.source.scope() in SHARED_SCOPES
        return dst.source if whole and not src.source.same_as(dst.source) else None
    loop_vars, node = [], stmt
    while isinstance(node, tirx.For):
        if not (isinstance(node.min, tirx.IntImm) and int(node.min) == 0 and isinstance(node.extent, tirx.IntImm)):
            return None
        loop_vars.append(node)
        node = node.body
    if not loop_vars or not isinstance(node, tirx.BufferStore):
        return None
    buf = node.buffer
    shape = list(buf.ty.shape)
    if buf.scope() not in SHARED_SCOPES or len(shape) != len(loop_vars) or len(node.indices) != len(shape):
        return None
    for index, lp, extent in zip(node.indices, loop_vars, shape):
        if not (index.same_as(lp.loop_var) and isinstance(extent, tirx.IntImm) and int(extent) == int(lp.extent)):
            return None
    if count_uses(node.value, buf):
        return None  # reads the tile it writes
    return buf


def _read_only_by_gemms(tile, consumers) -> bool:
    """True when the loop's ``consumers`` read ``tile`` only as an A or B operand of a top-level ``T.gemm``.
    A tile that threads read element by element (an int8 weight dequantized in the loop) keeps cp.async: on the
    H200 such a loop ran 1.6x slower with TMA (int8-weight GEMM, 2026-12-05, benchmarks/RESULTS.md)."""
    for c in consumers:
        uses = count_uses(c, tile)
        if not uses:
            continue
        if not is_tile_statement(c, "gemm"):
            return False
        if uses != sum(1 for operand in c.value.args[:2] if operand.source.same_as(tile)):
            return False
    return True


def _read_only_by_gemms_or_transforms(tile, consumers) -> bool:
    """True when the loop's ``consumers`` read ``tile`` only as a gemm operand or as the source of a statement
    writing a whole tile for the gemms (:func:`_whole_tile_written`)."""
    for c in consumers:
        if count_uses(c, tile) and not _is_gemm(c) and _whole_tile_written(c) is None:
            return False
    return _read_only_by_gemms(tile, [c for c in consumers if _is_gemm(c)])


TRANSFORM_BARRIER = 4  # named barrier of the consumers of TILEDSL_WS_TRANSFORMS (0: __syncthreads; 1-3 in use)


def _ring_may_fill(tile, consumers) -> bool:
    """True when a TMA ring may fill ``tile``: only gemms read it (:func:`_read_only_by_gemms`), or it is a 1-d
    tile (row statistics, a scale vector) that the threads may read too: a few hundred bytes per stage, not a
    tile the threads convert (``TILEDSL_TMA_VECTORS=0`` keeps such loops on cp.async)."""
    return _read_only_by_gemms(tile, consumers) or (len(tile.ty.shape) == 1 and
                                                    schedule("TILEDSL_TMA_VECTORS"))


def _fenced_before_loop(consumers):
    """``TILEDSL_HOISTED_FENCES`` (the default; ``=0`` turns it off): (the consumers with each gemm whose shared
    operands no consumer writes marked :data:`gemm_wgmma.FENCED_ATTR`, the statements to put before the loop).
    Such operands are ring tiles (TMA writes them; the mbarrier wait orders those for the tensor cores) or tiles
    the threads wrote before the loop: one ``fence.proxy.async`` by every thread before the ring's initialization
    barrier makes those writes visible to the tensor cores, instead of one before each such gemm in every
    iteration (the attention backward: four of its five fences per iteration). The gemm's descriptors stay
    visible to ThreadSync."""
    from .gemm_wgmma import FENCED_ATTR

    writes = [written_buffers(c) for c in consumers if not _is_gemm(c)]
    if any(w is None for w in writes):
        return consumers, []
    written = [b for w in writes for b in w if b.scope() in SHARED_SCOPES]
    out, marked = [], False
    for c in consumers:
        if _is_gemm(c) and not any(op.source.same_as(b) for op in c.value.args[:2] for b in written
                                   if op.source.scope() in SHARED_SCOPES):
            c, marked = _with_gemm_attr(c, FENCED_ATTR), True
        out.append(c)
    fence = [tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta())] if marked else []
    return out, fence


def _with_wgmma_wait(stmt):
    """The gemm marked to leave one wgmma group in flight (``wgmma.wait_group 1`` instead of 0)."""
    from .gemm_wgmma import IN_FLIGHT_ATTR
    return _with_gemm_attr(stmt, IN_FLIGHT_ATTR)


def _gemm_reads(stmt, tile) -> bool:
    """True when the gemm statement ``stmt`` reads ``tile`` (as A or B)."""
    return any(r.source.same_as(tile) for r in stmt.value.args[:2])


def _is_gemm(stmt) -> bool:
    return is_tile_statement(stmt, "gemm")


def _with_tma_operands(stmt):
    """The gemm marked as reading shared tiles that only TMA wrote (no ``fence.proxy.async`` before it)."""
    from .gemm_wgmma import TMA_OPERANDS_ATTR
    return _with_gemm_attr(stmt, TMA_OPERANDS_ATTR)


def _with_gemm_attr(stmt, key: str):
    return tirx.Evaluate(with_attrs(stmt.value, **{key: 1}))


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.PipelineCUDA")
@keep_tiledsl_errors
def PipelineCUDA(func, mod, ctx):
    """Turn T.Pipelined loops into multi-stage pipelines (cp.async, or TMA + mbarriers on sm_90a)."""
    p = _Pipeliner(func.body, func.params)
    body = p.finish(p.visit(func.body))
    func = func.with_body(body)
    if p.kinds:
        func = func.with_attr(PIPELINES_ATTR, p.kinds)
    if p.host:  # tensor maps: encoded by the host function before the launch (placed by PlaceTensorMaps)
        func = func.with_attr(tma_copy.HOST_PROLOGUE_ATTR, p.host)
    return func
