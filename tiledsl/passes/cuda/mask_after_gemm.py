"""MaskAfterGemm: a mask written into an accumulator before a gemm adds to it is applied after a cleared gemm
(``TILEDSL_MASK_AFTER_GEMM=1``, CUDA; opt-in: its GPU tests pass, no faster on the H100, 2026-12-05).

TileLang's attention programs initialize the score tile with the mask and let the gemm add to it::

    for i, j in T.Parallel(M, N):
        acc_s[i, j] = T.if_then_else(q0 + i >= k0 + j, 0, -T.infinity("float32"))
    T.gemm(Q_s, K_s, acc_s, transpose_B=True)

The gemm then starts from registers the threads wrote, on every tile, where an unmasked loop's ``T.clear`` lets
the first wgmma start from zero (scale-d 0): in causal flash attention's sm_90a kernel the tiles off the diagonal
carried 46 more SASS instructions per iteration than the non-causal loop (the zeros materialized and merged).
Rewritten::

    T.gemm(Q_s, K_s, acc_s, transpose_B=True, clear_accum=True)
    for i, j in T.Parallel(M, N):
        acc_s[i, j] = T.if_then_else(q0 + i >= k0 + j, acc_s[i, j], -T.infinity("float32"))

and SplitUniformSelects leaves the mask on the diagonal tile only. The two agree wherever the product is finite:
0 + x = x, and -inf + x = -inf. Taken only when the nest covers the whole accumulator at the origin, one value of
the select is the constant 0 and the other an infinity, and the gemm right after it adds to that accumulator.
Where the product holds NaN or an infinity of the other sign, a masked element is that infinity instead of NaN.
"""
from __future__ import annotations

import math

from tvm import tirx

from ...ir.ops import is_tile_statement, with_attrs
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import StmtRewriter, flatten_seq, seq, uses_var
from .uniform_selects import _nest, _select, _with_value


def _constant(value) -> float | None:
    if isinstance(value, tirx.Cast):
        value = value.value
    return float(value.value) if isinstance(value, (tirx.IntImm, tirx.FloatImm)) else None


def _mask_init(stmt, acc):
    """(the nest, which side of its select is 0) when ``stmt`` is a T.Parallel nest writing a 0 / infinity mask
    into every element of ``acc`` at ``acc[i, j]``; else None."""
    if not isinstance(stmt, tirx.For):
        return None
    found = _nest(stmt)
    if found is None:
        return None
    loops, store = found
    select = _select(store.value)
    if select is None or not store.buffer.same_as(acc):
        return None
    if [e for _, e in loops] != [int(d) for d in acc.ty.shape] or \
            any(not idx.same_as(v) for idx, (v, _) in zip(store.indices, loops)):
        return None
    cond, a, b = select
    if uses_var(cond, acc):
        return None
    ca, cb = _constant(a), _constant(b)
    if ca == 0.0 and cb is not None and math.isinf(cb):
        return stmt, "then"
    if cb == 0.0 and ca is not None and math.isinf(ca):
        return stmt, "else"
    return None


def _gemm_into(stmt):
    """The accumulator of ``stmt`` when it is a ``T.gemm`` adding to it; else None."""
    if not is_tile_statement(stmt, "gemm"):
        return None
    attrs = stmt.value.attrs
    if attrs is not None and "clear_accum" in attrs and bool(attrs["clear_accum"]):
        return None
    acc = stmt.value.args[2]
    return acc.source if all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 for r in acc.region) else None


def _after(nest, side):
    """The mask applied to the gemm's result: the zero side of the select becomes the element itself."""
    store = _nest(nest)[1]
    cond, a, b = _select(store.value)
    keep = tirx.BufferLoad(store.buffer, list(store.indices))
    value = tirx.if_then_else(cond, keep, b) if side == "then" else tirx.if_then_else(cond, a, keep)
    return _with_value(nest, value)


class _Rewriter(StmtRewriter):
    def __init__(self):
        super().__init__()
        self.count = 0

    def visit_SeqStmt(self, stmt):
        stmts = [self.visit(s) for s in flatten_seq([stmt])]
        out, k = [], 0
        while k < len(stmts):
            acc = _gemm_into(stmts[k + 1]) if k + 1 < len(stmts) else None
            init = _mask_init(stmts[k], acc) if acc is not None else None
            if init is not None:
                nest, side = init
                out += [tirx.Evaluate(with_attrs(stmts[k + 1].value, clear_accum=True)), _after(nest, side)]
                self.count += 1
                k += 2
                continue
            out.append(stmts[k])
            k += 1
        return seq(out)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.MaskAfterGemm")
@keep_tiledsl_errors
def MaskAfterGemm(func, mod, ctx):
    """Apply 0 / infinity masks written into an accumulator before a gemm after a cleared gemm instead (see the
    module doc; opt-in with ``TILEDSL_MASK_AFTER_GEMM=1``)."""
    if not schedule("TILEDSL_MASK_AFTER_GEMM"):
        return func
    rewriter = _Rewriter()
    body = rewriter.visit(func.body)
    return func.with_body(body) if rewriter.count else func
