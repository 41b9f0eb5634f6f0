"""Statements meant for one target only: ``AttrStmt(StringImm(kind), TARGET_ONLY, collective, body)``.

Front-end code that must be written differently for the GPU and for the CPU's emulated threads (the warp-level
tensor-core emitter in ``tiledsl.cuda.intrinsics``) emits one such statement per target kind ("cuda", "llvm");
``passes.target_only.KeepTargetOnly`` keeps the bodies for the target being built and drops the others, first
thing in each target's pipeline. ``collective`` is 1 for a CPU body that needs every thread of the block to reach
it together (a warp-collective exchange, see the emitter): the CPU pass refuses it under thread-dependent control.
"""
from __future__ import annotations

from tvm import ir, tirx

TARGET_ONLY = "tiledsl.target_only"


def only_on(kind: str, body, collective: bool = False):
    """``body`` wrapped so that it is kept only when building for target kind ``kind``."""
    return tirx.AttrStmt(ir.StringImm(kind), TARGET_ONLY, tirx.const(int(collective), "int32"), body)


def target_of(stmt) -> str | None:
    """The target kind a TARGET_ONLY attribute statement is for, or None for any other statement."""
    if isinstance(stmt, tirx.AttrStmt) and stmt.attr_key == TARGET_ONLY:
        return str(stmt.node.value)
    return None


#: Marks the CUDA ``ldmatrix`` calls of the warp-level emitter: their shared-memory pointers are written as
#: ``address_of(tile[...])`` (so passes that re-stage a shared tile rewrite them like any other access) and become
#: ``access_ptr`` reads, which TVM's ThreadSync sees, in ``passes.cuda.ldmatrix_reads``.
LDMATRIX_READS = "tiledsl.ldmatrix_reads"


def ldmatrix_reads(body):
    """``body`` (ldmatrix calls) marked for ``passes.cuda.ldmatrix_reads``."""
    return tirx.AttrStmt(ir.StringImm("shared"), LDMATRIX_READS, tirx.const(0, "int32"), body)
