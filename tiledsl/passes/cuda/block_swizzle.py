"""SwizzleBlocks: ``T.use_swizzle(panel_size, order)`` as block rasterization for L2 reuse.

Expects: tile-level IR with blockIdx.x and blockIdx.y launches. Guarantees: the call is gone; inside the kernel,
``(bx, by)`` is replaced by a bijective remapping in which consecutive block ids walk down a panel of
``panel_size`` tile rows ("row") or tile columns ("col") before moving on, so blocks running together share A or
B tiles in L2 (the last panel may be shorter). A kernel with a 1-d grid is left as it is. Runs first.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ...ir.ops import tile_op
from ..rewriter import substitute
from ..pass_errors import keep_tiledsl_errors


def _is_swizzle(stmt) -> bool:
    v = stmt.value if isinstance(stmt, tirx.Evaluate) else None
    return v is not None and hasattr(v, "op") and hasattr(v.op, "same_as") and v.op.same_as(tile_op("use_swizzle"))


def remap(bx, by, gx, gy, panel: int):
    """(new_bx, new_by) for row-panel rasterization of a gx x gy grid."""
    lin = by * gx + bx
    per_panel = gx * panel
    first = tirx.floordiv(lin, per_panel) * panel
    rows = tirx.min(gy - first, panel)
    within = tirx.floormod(lin, per_panel)
    return tirx.floordiv(within, rows), first + tirx.floormod(within, rows)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.SwizzleBlocks")
@keep_tiledsl_errors
def SwizzleBlocks(func, mod, ctx):
    """Apply T.use_swizzle's block rasterization."""
    calls = []
    tvm_ffi.structural_walk(func.body, (tirx.Evaluate, lambda s: calls.append(s) if _is_swizzle(s) else None))
    if not calls:
        return func
    panel, order = int(calls[0].value.args[0]), int(calls[0].value.args[1])
    body = tvm_ffi.structural_map(func.body, [(tirx.Evaluate, lambda s: tirx.Evaluate(tirx.const(0, "int32"))
                                               if _is_swizzle(s) else s)], order="post")
    launches = {}

    def on_attr(a):
        if a.attr_key == "thread_extent" and a.node.thread_tag in ("blockIdx.x", "blockIdx.y"):
            launches[a.node.thread_tag] = (a.node.var, a.value)
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, on_attr))
    if len(launches) < 2:
        return func.with_body(body)
    (bx, gx), (by, gy) = launches["blockIdx.x"], launches["blockIdx.y"]
    if order == 0:
        nbx, nby = remap(bx, by, gx, gy, panel)
    else:
        nby, nbx = remap(by, bx, gy, gx, panel)

    def on_thread(a):
        if a.attr_key == "thread_extent" and a.node.thread_tag.startswith("threadIdx") and not _done:
            _done.append(1)
            return tirx.AttrStmt(a.node, a.attr_key, a.value, substitute(a.body, {bx: nbx, by: nby}))
        return a
    _done = []
    # the outermost thread launch holds the kernel body; the block indices are used only below it
    body = tvm_ffi.structural_map(body, [(tirx.AttrStmt, on_thread)], order="pre")
    return func.with_body(body)
