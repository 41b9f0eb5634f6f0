"""Block-uniform branches over shared memory become 0/1-trip loops, so TVM's ThreadSync may place barriers inside.

TVM's ThreadSync refuses to insert a ``__syncthreads()`` inside an ``if`` ("Cannot insert syncs inside
condition"), since a barrier that only some threads reach hangs the block. A branch whose condition is the same on
every thread of the block (block indices, kernel arguments, loop counters of block-level loops, global or shared
loads at such indices: a block-sparse mask ``if Mask[by, bx, k]:``) is reached by all threads or by none, so a
barrier inside it is safe. ``uniform_branches(body, thread_vars)`` rewrites such a branch whose body stores to a
shared buffer and uses it otherwise too (a hazard ThreadSync would guard inside the branch) into
``for _ in range(cond ? 1 : 0)`` (the else branch, if any, into a second loop over the negation, the condition
computed once before both), which ThreadSync handles like any loop. Branches whose condition may differ
between threads (a thread index, a register) are left alone. Runs at the end of LowerTileOpsCUDA, when only plain
per-thread code remains.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..lowering_options import requested
from ..rewriter import StmtRewriter, seq
from .uniform_scalars import uniform_scalars
from ...language.buffers import SHARED_SCOPES


def _may_need_barrier(stmt) -> bool:
    """True when a shared buffer is stored to in ``stmt`` and also used there otherwise (read, or written by
    another instruction): a hazard ThreadSync would guard with a barrier inside the branch. (Stores that
    ThreadSync does not see, such as cp.async issued by PipelineCUDA, get their barriers from that pass.)"""
    mentions, stores = {}, {}

    def on_var(v):
        ty = getattr(v, "ty", None)
        if isinstance(ty, tirx.BufferType) and ty.storage_scope in SHARED_SCOPES:
            mentions[v] = mentions.get(v, 0) + 1

    def on_store(st):
        if st.buffer.scope() in SHARED_SCOPES:
            stores[st.buffer] = stores.get(st.buffer, 0) + 1
    tvm_ffi.structural_walk(stmt, [(tirx.Var, on_var), (tirx.BufferStore, on_store)])
    return any(mentions.get(b, 0) > n for b, n in stores.items())


class _UniformBranches(StmtRewriter):
    def __init__(self, thread_vars, scalars=()):
        super().__init__()
        self.variant = {v for v in thread_vars}  # vars that may differ between the threads of a block
        self.scalars = list(scalars)  # local buffers holding the same values on every thread

    def _is_uniform(self, expr) -> bool:
        bad = []

        def on_var(v):
            if v in self.variant:
                bad.append(v)

        def on_load(load):
            if load.source.scope() in SHARED_SCOPES + ("global",) or any(load.source.same_as(b) for b in self.scalars):
                return
            bad.append(load)  # a register: may differ per thread
        tvm_ffi.structural_walk(expr, [(tirx.Var, on_var), (TensorLoad, on_load)])
        return not bad

    def visit_For(self, stmt):
        if not (self._is_uniform(stmt.min) and self._is_uniform(stmt.extent)):
            self.variant.add(stmt.loop_var)
        return super().visit_For(stmt)

    def visit_Bind(self, stmt):
        if not self._is_uniform(stmt.value):
            self.variant.add(stmt.var)
        return stmt

    def visit_IfThenElse(self, stmt):
        out = super().visit_IfThenElse(stmt)
        if not self._is_uniform(stmt.condition) or not _may_need_barrier(stmt):
            return out
        if out.else_case is None:
            return _once_if(stmt.condition, out.then_case)
        cond = tirx.Var("uniform_cond", "bool")
        return seq([tirx.Bind(cond, stmt.condition), _once_if(cond, out.then_case),
                    _once_if(tirx.Not(cond), out.else_case)])


def _once_if(cond, body):
    """``for _ in range(cond ? 1 : 0): body``."""
    trips = tirx.Select(cond, tirx.const(1, "int32"), tirx.const(0, "int32"))
    return tirx.For(tirx.Var("once", "int32"), 0, trips, tirx.ForKind.SERIAL, body)


def uniform_branches(body, thread_vars):
    """``body`` with its block-uniform branches over shared memory turned into 0/1-trip loops. Where the lowering
    asks for it (``uniform_scalar_branches``: the build is retried with it after ThreadSync refused a barrier in
    a branch), a condition may also read scalars assigned in the kernel (``tile = w * sms + bx``) that
    :func:`uniform_scalars` proves block-uniform."""
    scalars = uniform_scalars(body, thread_vars) if requested("uniform_scalar_branches") else ()
    return _UniformBranches(thread_vars, scalars).visit(body)
