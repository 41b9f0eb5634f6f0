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
Guarantees: the same results as the plain loop. Loops that do not have this shape stay plain serial loops (TVM's
InjectSoftwarePipeline cannot multi-buffer plain tirx IR, so nothing else would pipeline them). Runs before
LowerTileOpsCUDA.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad, TensorRegion
from tvm.script import tirx as T

from ...ir.ops import is_tile_call, make_tile_call
from ...language.loops import NUM_STAGES_ATTR
from ..rewriter import StmtRewriter, flatten_seq, rebuild_for, seq, substitute
from .async_copy import barrier, commit, wait
from ..pass_errors import keep_tiledsl_errors

_SHARED = ("shared", "shared.dyn")


def _is_producer(stmt):
    if not isinstance(stmt, tirx.Evaluate) or not is_tile_call(stmt.value, "copy"):
        return False
    src, dst = stmt.value.args
    return src.source.scope() == "global" and dst.source.scope() in _SHARED


def _writes(stmts, buf) -> bool:
    found = []

    def on_store(s):
        if s.buffer.same_as(buf):
            found.append(s)

    def on_call(c):
        if is_tile_call(c) and c.op.name.split(".", 1)[1] in ("copy", "fill", "atomic_add", "reduce"):
            dst = c.args[1] if c.op.name.endswith(("copy", "reduce")) else c.args[0]
            if isinstance(dst, TensorRegion) and dst.source.same_as(buf):
                found.append(c)
    for s in stmts:
        tvm_ffi.structural_walk(s, [(tirx.BufferStore, on_store), (Call, on_call)])
    return bool(found)


def _uniform_guard(func_body, stmts):
    """The condition of a loop body that is one ``if`` without ``else`` whose condition is the same on every thread
    and may be evaluated early (it reads no thread index and only global tensors the body never writes)."""
    from .lower_tile_ops import thread_launches

    if len(stmts) != 1 or not isinstance(stmts[0], tirx.IfThenElse) or stmts[0].else_case is not None:
        return None
    cond = stmts[0].condition
    if any(_touches(cond, v) for v, _ in thread_launches(func_body)) or not _reads_only_inputs(cond, stmts):
        return None
    return cond


def _note_scalar(st, stmts, lets) -> None:
    """Record a scalar the loop body sets at its top level (``x: T.int32 = ...`` or a one-element local buffer
    stored once): its value in terms of the loop counter, or None when it cannot be computed ahead."""
    if isinstance(st, tirx.Bind):
        lets[st.var] = _inline_scalars(st.value, lets) if _reads_only_inputs(st.value, stmts) else None
    elif isinstance(st, tirx.BufferStore) and st.buffer.scope() == "local" and _is_scalar(st.buffer):
        once = _count_stores(stmts, st.buffer) == 1 and _reads_only_inputs(st.value, stmts)
        lets[st.buffer] = _inline_scalars(st.value, lets) if once else None


def _is_scalar(buf) -> bool:
    shape = list(buf.ty.shape)
    return len(shape) == 1 and isinstance(shape[0], tirx.IntImm) and int(shape[0]) == 1


def _count_stores(stmts, buf) -> int:
    found = []
    for s in stmts:
        tvm_ffi.structural_walk(s, (tirx.BufferStore, lambda st: found.append(st) if st.buffer.same_as(buf)
                                    else None))
    return len(found)


def _inline_scalars(node, lets):
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


def _touches(stmt, buf) -> bool:
    """True if ``stmt`` mentions ``buf`` at all."""
    found = []
    tvm_ffi.structural_walk(stmt, (tirx.Var, lambda v: found.append(v) if v.same_as(buf) else None))
    return bool(found)


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
    return tvm_ffi.structural_map(stmt, [(Call, on_call), (TensorLoad, on_load)], order="post")


def _async(stmt):
    src, dst = stmt.value.args
    return tirx.Evaluate(make_tile_call("copy", [src, dst], async_copy=True))


class _Pipeliner(StmtRewriter):
    def __init__(self, func_body):
        super().__init__()
        self.body = func_body
        self.remap = {}

    def visit_For(self, loop):
        stages = loop.annotations.get(NUM_STAGES_ATTR) if loop.annotations is not None else None
        if stages is None:
            return super().visit_For(loop)
        stages = int(stages)
        annotations = {k: v for k, v in loop.annotations.items() if k != NUM_STAGES_ATTR}
        plain = rebuild_for(loop, body=self.visit(loop.body), annotations=annotations)
        if stages < 2:
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
            _note_scalar(st, stmts, lets)
            # a global -> shared copy may be issued early if nothing before it in the body touches its tile
            # and the scalars its region uses can be computed for a later iteration
            if _is_producer(st) and not any(_touches(prev, st.value.args[1].source) for prev in stmts[:pos]) \
                    and all(lets[v] is not None for v in lets if _touches(st, v)):
                producers.append(_inline_scalars(st, lets))
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

        # consumers that are only wgmma gemms keep one gemm in flight across iterations: the copies then run
        # stages - 2 iterations ahead, so the stage being refilled is never the one the in-flight gemm reads
        overlap = stages >= 3 and guard is None and _only_wgmma_gemms(self.body, consumers)
        ahead_by = stages - 2 if overlap else stages - 1
        if overlap:
            consumers = [_with_wgmma_wait(c) for c in consumers]
        prologue = []
        for s_ in range(ahead_by):
            first = tirx.const(s_, "int32")
            prologue += [tirx.IfThenElse(first < n, seq(issue(first)), None), commit()]
        ahead = i + ahead_by
        # wait for this iteration's stage; the barrier also means every thread is done with iteration i - 1
        # (with overlap: every warpgroup's gemm of iteration i - 2), whose stage the next issue refills
        inner = [wait(ahead_by - 1), barrier(), tirx.IfThenElse(ahead < n, seq(issue(ahead)), None), commit()]
        compute = [_restage(substitute(c, {k: loop.min + i}), remap, tirx.floormod(i, stages)) for c in consumers]
        if guard is not None:
            compute = [tirx.IfThenElse(substitute(guard, {k: loop.min + i}), seq(compute), None)]
        inner += compute
        main = tirx.For(i, 0, n, tirx.ForKind.SERIAL, self.visit(seq(inner)), None, annotations)
        drain = [tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(0))] if overlap else []
        return seq(prologue + [main] + drain + [wait(0), barrier()])  # later shared use may alias the stages

    def _used_outside(self, buf, loop) -> bool:
        total = _count_uses(self.body, buf)
        inside = _count_uses(loop, buf)
        return total - inside > 1  # the allocation itself is one use

    def finish(self, body):
        if not self.remap:
            return body

        def on_alloc(stmt):
            new = self.remap.get(stmt.buffer)
            return tirx.AllocBuffer(new) if new is not None else stmt
        return tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")


def _only_wgmma_gemms(func_body, consumers) -> bool:
    """True when every consumer is a T.gemm that will run on wgmma and no other consumer touches its
    accumulator (so the gemm may still be running when the next iteration starts)."""
    from . import gemm_wgmma
    from .lower_tile_ops import thread_launches

    if not consumers or not all(isinstance(c, tirx.Evaluate) and is_tile_call(c.value, "gemm") for c in consumers):
        return False
    nthreads = 1
    for _, ext in thread_launches(func_body):
        nthreads *= ext
    planned = gemm_wgmma.plan(func_body, nthreads)
    return all(c.value.args[2].source in planned for c in consumers)


def _with_wgmma_wait(stmt):
    """The gemm marked to leave one wgmma group in flight (``wgmma.wait_group 1`` instead of 0)."""
    call = stmt.value
    attrs = {str(key): value for key, value in call.attrs.items()} if call.attrs is not None else {}
    attrs[gemm_wgmma_wait_attr()] = 1
    return tirx.Evaluate(Call(call.op, list(call.args), attrs=attrs, ret_ty="void"))


def gemm_wgmma_wait_attr() -> str:
    """The gemm attribute PipelineCUDA sets for a gemm that may stay in flight (read by gemm_wgmma.lower)."""
    from .gemm_wgmma import IN_FLIGHT_ATTR
    return IN_FLIGHT_ATTR


def _count_uses(node, buf) -> int:
    count = [0]

    def on_var(v):
        if v.same_as(buf):
            count[0] += 1
    tvm_ffi.structural_walk(node, (tirx.Var, on_var))
    return count[0]


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.PipelineCUDA")
@keep_tiledsl_errors
def PipelineCUDA(func, mod, ctx):
    """Turn T.Pipelined loops into multi-stage cp.async pipelines."""
    p = _Pipeliner(func.body)
    body = p.visit(func.body)
    return func.with_body(p.finish(body))
