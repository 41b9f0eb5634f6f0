"""KernelToLoopsCPU: the launch of a tile program becomes loops the CPU runs.

Expects: tile ops already lowered (LowerTileOpsCPU). Guarantees: no ``thread_extent`` attributes remain; each
``blockIdx`` becomes a serial loop over the grid; shared, fragment and local tiles become plain allocations inside
the block loop.

Threads: a block's tile ops were lowered to whole-tile loops, so thread indices vanish from them. Where the user
wrote per-thread code (``tx = T.get_thread_binding()``), each statement that reads ``tx`` runs in a loop over the
threads: statements run one after another, which is what a barrier between them would give on a GPU. Loops and
branches that do not depend on ``tx`` are entered so that only the per-thread statements are repeated.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from .rewriter import rebuild_for, substitute, uses_var

_CPU_SCOPE = "global"


def _per_thread(stmt, tx, extent):
    """Run the parts of ``stmt`` that read thread index ``tx`` once per thread."""
    if not uses_var(stmt, tx):
        return stmt
    if isinstance(stmt, tirx.SeqStmt):
        return tirx.SeqStmt([_per_thread(s, tx, extent) for s in stmt.seq])
    if isinstance(stmt, tirx.For) and not uses_var(stmt.extent, tx) and not uses_var(stmt.min, tx):
        return rebuild_for(stmt, body=_per_thread(stmt.body, tx, extent))
    if isinstance(stmt, tirx.IfThenElse) and not uses_var(stmt.condition, tx):
        else_case = _per_thread(stmt.else_case, tx, extent) if stmt.else_case is not None else None
        return tirx.IfThenElse(stmt.condition, _per_thread(stmt.then_case, tx, extent), else_case)
    if isinstance(stmt, tirx.AttrStmt) and stmt.attr_key != "thread_extent":
        return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, _per_thread(stmt.body, tx, extent))
    fresh = tirx.Var(tx.name, str(tx.ty))
    return tirx.For(fresh, 0, extent, tirx.ForKind.SERIAL, substitute(stmt, {tx: fresh}))


def _on_attr(stmt):
    if stmt.attr_key != "thread_extent":
        return stmt
    tag = stmt.node.thread_tag
    var = stmt.node.var
    if tag.startswith("blockIdx"):
        return tirx.For(var, 0, stmt.value, tirx.ForKind.SERIAL, stmt.body)
    if tag.startswith("threadIdx"):
        return _per_thread(stmt.body, var, stmt.value)
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
def KernelToLoopsCPU(func, mod, ctx):
    """Turn the kernel launch into loops and on-chip tiles into CPU allocations."""
    # pre-order: an outer launch is rewritten before the thread launch inside it is reached
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, _on_attr)], order="post")
    return func.with_body(_to_cpu_buffers(body))
