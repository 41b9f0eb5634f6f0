"""KernelToLoopsCPU: the launch of a tile program becomes loops the CPU runs.

Expects: tile ops already lowered (LowerTileOpsCPU). Guarantees: no ``thread_extent`` attributes remain; each
``blockIdx`` becomes a serial loop over the grid; shared, fragment and local tiles become plain allocations inside
the block loop.

Threads: a block's tile ops were lowered to whole-tile loops, so thread indices vanish from them. Where the user
wrote per-thread code (``tx = T.get_thread_binding()``), each statement that reads ``tx`` runs in a loop over the
threads: statements run one after another, which is what a barrier between them would give on a GPU. Loops and
branches that do not depend on ``tx`` are entered so that only the per-thread statements are repeated. In such a
kernel every ``T.alloc_local`` buffer is per thread: it gains a leading thread dimension, and the statements that
touch it run in the thread loop too.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Op, TensorLoad

from ..errors import TileProgramError
from .pass_errors import keep_tiledsl_errors
from .rewriter import rebuild_for, substitute, uses_var

_CPU_SCOPE = "global"


class _PerThread:
    """Runs the statements of a block body that depend on one thread index once per thread."""

    def __init__(self, tx, extent, per_thread_buffers: dict, errors: list):
        self.tx, self.extent, self.buffers, self.errors = tx, extent, per_thread_buffers, errors

    def depends(self, node) -> bool:
        return uses_var(node, self.tx) or any(uses_var(node, buf) for buf in self.buffers)

    def rewrite(self, stmt):
        if not self.depends(stmt):
            return stmt
        if isinstance(stmt, tirx.SeqStmt):
            return tirx.SeqStmt([self.rewrite(s) for s in stmt.seq])
        if isinstance(stmt, tirx.AllocBuffer):
            return stmt
        if isinstance(stmt, tirx.For) and not self.depends(stmt.extent) and not self.depends(stmt.min):
            return rebuild_for(stmt, body=self.rewrite(stmt.body))
        if isinstance(stmt, tirx.IfThenElse) and not self.depends(stmt.condition):
            else_case = self.rewrite(stmt.else_case) if stmt.else_case is not None else None
            return tirx.IfThenElse(stmt.condition, self.rewrite(stmt.then_case), else_case)
        if isinstance(stmt, tirx.AttrStmt) and stmt.attr_key != "thread_extent":
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, self.rewrite(stmt.body))
        return self.thread_loop(stmt)

    def thread_loop(self, stmt):
        if _has_barrier(stmt):  # raised after the walk (an exception would not cross TVM's structural_map)
            self.errors.append(
                "T.sync_threads() inside a loop or branch that depends on the thread index: every thread of the "
                "block must reach a barrier (on a GPU such a kernel hangs or races); move the barrier out of it")
        fresh = tirx.Var(self.tx.name, str(self.tx.ty))
        body = substitute(stmt, {self.tx: fresh})
        if self.buffers:
            body = self._index_per_thread(body, fresh)
        return tirx.For(fresh, 0, self.extent, tirx.ForKind.SERIAL, body)

    def _index_per_thread(self, body, thread):
        def on_load(load):
            new = self.buffers.get(load.source)
            return load if new is None else tirx.BufferLoad(new, [thread, *load.indices])

        def on_store(store):
            new = self.buffers.get(store.buffer)
            return store if new is None else tirx.BufferStore(new, store.value, [thread, *store.indices])

        return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")


def _is_barrier(node) -> bool:
    return (isinstance(node, tirx.Evaluate) and isinstance(node.value, Call) and isinstance(node.value.op, Op)
            and node.value.op.name == "tirx.tvm_storage_sync")


def _has_barrier(stmt) -> bool:
    found = []
    tvm_ffi.structural_walk(stmt, (tirx.Evaluate, lambda s: found.append(s) if _is_barrier(s) else None))
    return bool(found)


def _drop_barriers(body):
    """User barriers (``T.sync_threads()``) left between per-thread statements: the CPU's statement order (each runs
    for every thread before the next) already gives what they ask for."""
    return tvm_ffi.structural_map(body, [(tirx.Evaluate, lambda s: tirx.Evaluate(0) if _is_barrier(s) else s)],
                                  order="post")


def _local_buffers(body) -> list:
    found = []
    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, lambda s: found.append(s.buffer)
                                   if s.buffer.scope() == "local" else None))
    return found


def _threads_to_loops(stmt, errors: list):
    tx, extent = stmt.node.var, stmt.value
    body = stmt.body
    if not uses_var(body, tx):
        return body
    expanded = {buf: tirx.decl_buffer((extent, *buf.ty.shape), str(buf.ty.dtype), buf.name, scope="local")
                for buf in _local_buffers(body)}
    body = _PerThread(tx, extent, expanded, errors).rewrite(body)
    if expanded:
        body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, lambda s: tirx.AllocBuffer(expanded[s.buffer])
                                              if s.buffer in expanded else s)], order="pre")
    return body


def _on_attr(stmt, errors: list):
    if stmt.attr_key != "thread_extent":
        return stmt
    tag = stmt.node.thread_tag
    if tag.startswith("blockIdx"):
        return tirx.For(stmt.node.var, 0, stmt.value, tirx.ForKind.SERIAL, stmt.body)
    if tag.startswith("threadIdx"):
        return _threads_to_loops(stmt, errors)
    return stmt


def _to_cpu_buffers(body):
    """Give every on-chip tile a scope the CPU code generator handles."""
    remap = {}

    def on_alloc(stmt):
        buf = stmt.buffer
        if buf.scope() == _CPU_SCOPE:
            return stmt
        new = tirx.decl_buffer(buf.ty.shape, str(buf.ty.dtype), buf.name, scope=_CPU_SCOPE)
        remap[buf] = new
        return tirx.AllocBuffer(new)

    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="pre")
    return substitute(body, remap)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.KernelToLoopsCPU")
@keep_tiledsl_errors
def KernelToLoopsCPU(func, mod, ctx):
    """Turn the kernel launch into loops and on-chip tiles into CPU allocations."""
    # post-order: the innermost launch (the last thread dimension) is rewritten first
    errors: list = []
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, lambda s: _on_attr(s, errors))], order="post")
    if errors:
        raise TileProgramError(errors[0])
    return func.with_body(_to_cpu_buffers(_drop_barriers(body)))
