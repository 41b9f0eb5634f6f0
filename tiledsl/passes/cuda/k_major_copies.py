"""KMajorCopies: an 8-bit gemm operand stored MN-major copied K-major, so the gemm runs on wgmma (sm_90a).

sm_90a's wgmma reads 8-bit operands (int8, uint8, fp8) K-major only: A as [M, K], B as [N, K]. A gemm with an 8-bit
B tile stored [K, N] (``transpose_B=False``, the layout of a weight kept as [in, out]) or an A tile stored [K, M]
(``transpose_A=True``, a weight-gradient GEMM's activations) used to take the FMA loop (W8A8 4096^3 on the H100:
18 ms against 0.12 ms on wgmma). This pass gives such a gemm a shared tile of its own, ``<tile>_kmajor``, holding
the operand's transpose, written by a ``T.Parallel`` nest right before the gemm::

    T.gemm(A_s, B_s, C_f)                          # B_s int8 [bk, bn]
    ->
    for n, k in T.Parallel(bn, bk):
        B_s_kmajor[n, k] = B_s[k, n]
    T.gemm(A_s, B_s_kmajor, C_f, transpose_B=True)

The nest is the form the rest of the lowering already takes for tiles the threads fill for a gemm (an int8 weight
converted to fp16): in a ``T.Pipelined`` loop PipelineCUDA double-buffers the new tile and keeps the gemm in flight
while the next iteration's copy is written, and layout inference gives it wgmma's swizzled layout. The nest is
marked for ``transpose_copy.py``, which moves 4 x 4 byte blocks through registers without bank conflicts.

The pass applies to a gemm (a statement of its own) whose operands are both 8-bit, the operand to copy a whole 2-d
shared tile, and whose rewritten form has a wgmma plan (:func:`gemm_wgmma.plan_one`); otherwise the gemm is left as
written (and takes FMA, with the warning of :mod:`gemm_wgmma`). ``TILEDSL_K_MAJOR_COPIES=0`` turns it off.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ...ir.ops import is_tile_statement, with_operands
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq
from ..tile_lowering_utils import whole_region
from . import gemm_wgmma
from .transpose_copy import transposing_nest
from ...language.buffers import SHARED_SCOPES

_EIGHT_BIT = ("int8", "uint8", "float8_e4m3fn", "float8_e5m2")


def _copy_targets(call) -> list:
    """The operand positions (0: A, 1: B) of the gemm ``call`` holding an 8-bit shared tile stored MN-major that a
    K-major copy could replace (none unless both operands are 8-bit)."""
    a, b, _ = call.args
    if str(a.source.ty.dtype) not in _EIGHT_BIT or str(b.source.ty.dtype) not in _EIGHT_BIT:
        return []
    out = []
    for pos, mn_major in ((0, bool(call.attrs["transpose_A"])), (1, not bool(call.attrs["transpose_B"]))):
        region = call.args[pos]
        if mn_major and region.source.scope() in SHARED_SCOPES and len(region.source.ty.shape) == 2 and \
                whole_region(region):
            out.append(pos)
    return out


def _rewrite_gemm(stmt, nthreads, added):
    """``stmt`` (a gemm statement) as the K-major copies and the gemm reading them, or ``stmt`` as it is."""
    call = stmt.value
    positions = _copy_targets(call)
    if not positions:
        return stmt
    operands, flags, copies = list(call.args), {}, []
    for pos in positions:
        tile = operands[pos].source
        rows, cols = (int(e) for e in tile.ty.shape)
        copy = tirx.decl_buffer((cols, rows), str(tile.ty.dtype), tile.name + "_kmajor", scope=tile.scope())
        operands[pos] = copy[0:cols, 0:rows]
        flags["transpose_A" if pos == 0 else "transpose_B"] = pos == 1
        copies.append((tile, copy))
    new = with_operands(call, operands, **flags)
    if gemm_wgmma.plan_one(new, nthreads) is None:  # the strategy's own test of the new form
        return stmt
    added.extend(copies)
    return tirx.SeqStmt([transposing_nest(copy, tile) for tile, copy in copies] + [tirx.Evaluate(new)])


def _with_allocations(body, added):
    """``body`` with each new tile allocated right after the tile it copies, and no sequence nested in another."""
    def on_seq(stmt):
        out = []
        for s in flatten_seq(list(stmt.seq)):
            out.append(s)
            if isinstance(s, tirx.AllocBuffer):
                out.extend(tirx.AllocBuffer(copy) for tile, copy in added if s.buffer.same_as(tile))
        return tirx.SeqStmt(out)
    return tvm_ffi.structural_map(body, [(tirx.SeqStmt, on_seq)], order="post")


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.KMajorCopies")
@keep_tiledsl_errors
def KMajorCopies(func, mod, ctx):
    """Copy 8-bit MN-major gemm operands K-major for wgmma (see the module docstring)."""
    from .lower_tile_ops import thread_count

    if not schedule("TILEDSL_K_MAJOR_COPIES") or not gemm_wgmma.sm90a():
        return func
    nthreads = thread_count(func.body)
    if nthreads % 128:
        return func
    added = []

    def on_eval(stmt):
        return _rewrite_gemm(stmt, nthreads, added) if is_tile_statement(stmt, "gemm") else stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.Evaluate, on_eval)], order="post")
    if not added:
        return func
    return func.with_body(_with_allocations(body, added))
