"""KeepTargetOnly: keep the statements written for the target being built (``tiledsl.ir.target_only``), drop the
others.

Expects: a tile program, before any other tiledsl pass. Guarantees: no ``tiledsl.target_only`` attribute remains;
a body for this target kind stays in place of its attribute, bodies for other kinds are gone. On the CPU a body
marked collective (it needs every thread of the block to reach it together, as the emulated ``mma.sync`` does)
under a branch or loop that depends on a thread index or a per-thread (``local``) value is refused with a
TileProgramError: KernelToLoopsCPU would run it inside one thread's iteration, where the exchange between threads
that the emulation relies on cannot happen. A program without such statements is returned unchanged.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ..errors import TileProgramError
from ..ir.target_only import TARGET_ONLY, target_of
from .pass_errors import keep_tiledsl_errors
from .rewriter import uses_var


def _has_target_only(body) -> bool:
    found = []
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, lambda s: found.append(s) if s.attr_key == TARGET_ONLY else None))
    return bool(found)


def _check_uniform(body) -> None:
    """Refuse a collective CPU body under control flow that differs between threads."""
    per_thread = []  # thread index vars and per-thread buffers' data vars in scope

    def divergent(expr) -> bool:
        return any(uses_var(expr, v) for v in per_thread)

    def visit(stmt, under: str | None):
        if isinstance(stmt, tirx.AttrStmt):
            if stmt.attr_key == "thread_extent" and str(stmt.node.thread_tag).startswith("threadIdx"):
                per_thread.append(stmt.node.var)
            elif stmt.attr_key == TARGET_ONLY and target_of(stmt) == "llvm" and int(stmt.value) and under:
                raise TileProgramError(
                    f"a warp-level mma (TensorCoreIntrinEmitter.mma) runs under {under}; on the CPU every thread of "
                    f"the block must reach it together (as mma.sync requires on the GPU): move it out of the branch")
            visit(stmt.body, under)
        elif isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                visit(s, under)
        elif isinstance(stmt, tirx.AllocBuffer):
            if stmt.buffer.scope() == "local":
                per_thread.append(stmt.buffer.data)
        elif isinstance(stmt, tirx.IfThenElse):
            cond = under or ("a branch on a per-thread value" if divergent(stmt.condition) else None)
            visit(stmt.then_case, cond)
            if stmt.else_case is not None:
                visit(stmt.else_case, cond)
        elif isinstance(stmt, tirx.For):
            loop = under or ("a loop whose bounds depend on the thread" if divergent(stmt.min) or
                             divergent(stmt.extent) else None)
            visit(stmt.body, loop)
        elif isinstance(stmt, tirx.While):
            visit(stmt.body, under or ("a while loop" if divergent(stmt.condition) else None))
        elif hasattr(stmt, "body") and isinstance(getattr(stmt, "body"), tirx.Stmt):
            visit(stmt.body, under)

    visit(body, None)


def keep_target_only(func, kind: str):
    """``func`` with the statements for target kind ``kind`` kept and the others dropped."""
    if not _has_target_only(func.body):
        return func
    if kind == "llvm":
        _check_uniform(func.body)

    def on_attr(stmt):
        which = target_of(stmt)
        if which is None:
            return stmt
        return stmt.body if which == kind else tirx.Evaluate(tirx.const(0, "int32"))

    return func.with_body(tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post"))


def KeepTargetOnly(kind: str):
    """The pass keeping target kind ``kind``'s statements."""
    @tirx.transform.prim_func_pass(opt_level=0, name=f"tiledsl.KeepTargetOnly.{kind}")
    @keep_tiledsl_errors
    def _pass(func, mod, ctx):
        return keep_target_only(func, kind)
    return _pass
