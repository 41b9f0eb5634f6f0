"""Global workspaces (``T.alloc_global``) become hidden tensor parameters of the kernel.

Expects a PrimFunc as the front end builds it, where ``T.alloc_global(shape, dtype)`` left an ``AllocBuffer`` of
scope ``"global"`` (anywhere: before the first ``T.Kernel``, as TileLang's examples write it, or inside one).
Guarantees: no global-scope allocation remains; each one is a new parameter appended after the user's parameters,
in the order the program allocated them, with the same buffer (so every access stays as written). The runtime
allocates these parameters on every call (``torch.empty`` on the call's device) and does not return them, which
is what TileLang's workspace is: memory of unspecified contents that lives for one call. Runs before anything
else sees the function (``runtime.compiler.compile``), so parameters, cache keys and launches all see the
workspace as a parameter.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ..errors import TileProgramError

GLOBAL_SCOPE = "global"


def _is_global_alloc(stmt) -> bool:
    return isinstance(stmt, tirx.AllocBuffer) and stmt.buffer.scope() == GLOBAL_SCOPE


def global_workspaces(func: tirx.PrimFunc) -> list:
    """The buffers a program allocates with ``T.alloc_global``, in program order."""
    found = []
    tvm_ffi.structural_walk(func.body, (tirx.AllocBuffer,
                                        lambda s: found.append(s.buffer) if _is_global_alloc(s) else None))
    return found


def _drop_global_allocs(stmt):
    if isinstance(stmt, tirx.SeqStmt):
        kept = [s for s in stmt.seq if not _is_global_alloc(s)]
        if len(kept) == len(stmt.seq):
            return stmt
        if not kept:
            return tirx.Evaluate(0)
        return kept[0] if len(kept) == 1 else tirx.SeqStmt(kept)
    return tirx.Evaluate(0) if _is_global_alloc(stmt) else stmt


def hoist_global_workspaces(func: tirx.PrimFunc) -> tuple[tirx.PrimFunc, list[str]]:
    """``func`` with its ``T.alloc_global`` buffers turned into trailing parameters, and their names."""
    buffers = global_workspaces(func)
    if not buffers:
        return func, []
    names = [b.name for b in buffers]
    taken = {p.name for p in func.params}
    clash = [n for n in names if n in taken]
    if clash or len(set(names)) != len(names):
        raise TileProgramError(f"T.alloc_global: the workspace name(s) {clash or names} are used twice; give each "
                               f"global workspace its own variable name")
    for b in buffers:
        for s in b.ty.shape:
            if not isinstance(s, (tirx.IntImm, tirx.Var)):
                raise TileProgramError(
                    f"T.alloc_global: workspace {b.name} has the size `{s}`; each size of a global workspace must "
                    f"be an int or a plain size of a tensor parameter (T.dynamic), so each call can allocate it")
    body = tvm_ffi.structural_map(func.body, [((tirx.SeqStmt, tirx.AllocBuffer), _drop_global_allocs)],
                                  order="post")
    out = tirx.PrimFunc(list(func.params) + buffers, body, func.ret_type, func.attrs)
    return out, names
