"""LowerThreadAllreduceCPU: ``T.tvm_thread_allreduce`` (a reduction across a block's threads) for the CPU target.

TileLang programs reduce a per-thread value over some thread indices by hand::

    with T.attr(T.comm_reducer(lambda x, y: x + y, [T.cast(0, "float32")]), "reduce_scope", ...):
        T.evaluate(T.tvm_thread_allreduce(T.uint32(1), part[0], True, total[0], tk, dtype="handle"))

TVM lowers this for GPUs only; its LLVM lowering stops with "Not all reduce index are presented in the context".
On the CPU the block's threads become loops (KernelToLoopsCPU) that run each per-thread statement for every thread
before the next statement, so a reduction needs no shuffles: every thread writes its value into a scratch tile
indexed by all thread indices, then every thread folds the row of that tile along the reduced indices into its
output with the reducer (in thread order, starting from the reducer's identity). Values whose condition is false
contribute the identity. Reducers of several values (``size > 1``, an arg-max) update their outputs together.

Expects: tile ops lowered (runs after LowerTileOpsCPU, before KernelToLoopsCPU, which still sees the thread
launches). Guarantees: no ``reduce_scope`` attribute with a ``tvm_thread_allreduce`` remains.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..errors import CompileError
from ..ir.ops import dtype_of
from .pass_errors import keep_tiledsl_errors
from .rewriter import seq, substitute

_ALLREDUCE = "tirx.tvm_thread_allreduce"


def _thread_launches(body) -> list:
    """``(var, extent)`` of every ``threadIdx`` launch in the kernel, outermost first."""
    found = []

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag.startswith("threadIdx"):
            found.append((stmt.node.var, stmt.value))

    tvm_ffi.structural_walk(body, (tirx.AttrStmt, on_attr))
    return found


def _allreduce_call(stmt):
    """The ``tvm_thread_allreduce`` call a ``reduce_scope`` attribute wraps, or None."""
    body = stmt.body
    if isinstance(body, tirx.Evaluate) and isinstance(body.value, tvm.ir.Call) and \
            isinstance(body.value.op, tvm.ir.Op) and body.value.op.name == _ALLREDUCE:
        return body.value
    return None


class _Allreduce:
    """One ``tvm_thread_allreduce`` as statements over a scratch tile (see the module doc)."""

    def __init__(self, reducer, call, threads: list):
        self.reducer, self.threads = reducer, threads
        size = int(call.args[0])
        args = list(call.args)
        self.values = args[1:1 + size]
        self.condition = args[1 + size]
        self.outputs = args[2 + size:2 + 2 * size]
        self.reduced = args[2 + 2 * size:]
        for out in self.outputs:
            if not isinstance(out, TensorLoad):
                raise CompileError(f"T.tvm_thread_allreduce: its output must be an element of a buffer "
                                   f"(total[0]), got {out}")
        thread_vars = [var for var, _ in threads]
        for var in self.reduced:
            if not any(var.same_as(t) for t in thread_vars):
                raise CompileError(f"T.tvm_thread_allreduce: {var} is not a thread index of this kernel (reduce "
                                   f"over T.get_thread_binding(...) values)")

    def _is_reduced(self, var) -> bool:
        return any(var.same_as(r) for r in self.reduced)

    def lower(self):
        scratch = [tirx.decl_buffer([extent for _, extent in self.threads], dtype_of(v), f"allreduce_scratch{i}",
                                    scope="shared") for i, v in enumerate(self.values)]
        own = [var for var, _ in self.threads]
        stmts = [tirx.AllocBuffer(buf) for buf in scratch]
        for buf, value, identity in zip(scratch, self.values, self.reducer.identity_element):
            contribution = value if _always(self.condition) else tirx.Select(self.condition, value, identity)
            stmts.append(tirx.BufferStore(buf, contribution, own))
        for out, identity in zip(self.outputs, self.reducer.identity_element):
            stmts.append(tirx.BufferStore(out.source, identity, list(out.indices)))
        stmts.append(self._fold(scratch))
        return seq(stmts)

    def _fold(self, scratch):
        """Loops over the reduced thread indices that combine each scratch element into the outputs. The thread
        loops of KernelToLoopsCPU wrap each statement of the body separately, so the body is plain stores: a
        reducer of several values first writes all its new values to a per-thread tile, then copies them."""
        loops = [(tirx.Var(f"{var.name}_r", str(var.ty)), extent) for var, extent in self.threads
                 if self._is_reduced(var)]
        at = iter(loops)
        index = [next(at)[0] if self._is_reduced(var) else var for var, _ in self.threads]
        own = [var for var, _ in self.threads]
        current = {old: tirx.BufferLoad(out.source, list(out.indices))
                   for old, out in zip(self.reducer.lhs, self.outputs)}
        current.update({old: tirx.BufferLoad(buf, index) for old, buf in zip(self.reducer.rhs, scratch)})
        results = [substitute(expr, current) for expr in self.reducer.result]
        if len(results) == 1:
            out = self.outputs[0]
            body = tirx.BufferStore(out.source, results[0], list(out.indices))
        else:
            staged = [tirx.decl_buffer(buf.ty.shape, str(buf.ty.dtype), f"allreduce_next{i}", scope="shared")
                      for i, buf in enumerate(scratch)]
            body = seq([tirx.BufferStore(buf, result, own) for buf, result in zip(staged, results)] +
                       [tirx.BufferStore(out.source, tirx.BufferLoad(buf, own), list(out.indices))
                        for buf, out in zip(staged, self.outputs)])
        for var, extent in reversed(loops):
            body = tirx.For(var, 0, extent, tirx.ForKind.SERIAL, body)
        if len(results) == 1:
            return body
        return seq([tirx.AllocBuffer(buf) for buf in staged] + [body])


def _always(condition) -> bool:
    return isinstance(condition, tirx.IntImm) and int(condition.value) == 1


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerThreadAllreduceCPU")
@keep_tiledsl_errors
def LowerThreadAllreduceCPU(func, mod, ctx):
    """Replace each ``tvm_thread_allreduce`` with a scratch tile and a fold over the reduced threads."""
    threads = _thread_launches(func.body)

    def on_attr(stmt):
        if stmt.attr_key != "reduce_scope":
            return stmt
        call = _allreduce_call(stmt)
        if call is None:
            return stmt
        return _Allreduce(stmt.node, call, threads).lower()

    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post"))
