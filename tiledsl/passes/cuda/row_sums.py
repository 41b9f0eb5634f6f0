"""DeferRowSums: a loop's running row sum kept per thread, combined across threads once after the loop (CUDA;
on by default since 2026-12-07, ``TILEDSL_DEFER_ROW_SUMS=0`` switches it off).

Flash attention sums each row of the scores every iteration (``T.reduce_sum(acc_s, scores_sum, dim=1)``) only to
add it into a running total (``logsum[i] = logsum[i] * scores_scale[i] + scores_sum[i]``) read after the loop. On
a tensor-core accumulator the row sum is each thread's own columns, then two shuffles across the quad of lanes that
share the rows (and a shared round when several warps share them): in the H100 profile of 2026-12-06 the general
kernel ran twice the shuffles of the hand-written one, which keeps the total per thread and combines it once at the
end. The sum across threads is linear, so with ``logsum`` starting at 0 and scaled only by values every thread of a
row holds alike, combining after the loop gives the same total (up to the order of the additions).

The pass rewrites a loop when, in one statement sequence:

* ``T.fill(L, 0)`` (or ``T.clear(L)``) comes before the loop, and nothing else writes ``L`` anywhere;
* the loop body has ``T.reduce_sum(X, S, dim=1)`` (clear) of a 2-d ``X`` into a 1-d ``S`` that nothing else
  writes and only one later statement of the body reads: a one-loop ``T.Parallel`` storing ``L[i] = L[i] * a + S[i]``
  (or ``L[i] + S[i]``, either order), ``a`` reading neither ``L`` nor ``S``;
* ``L`` is read nowhere else in the loop.

The reduction becomes a partial one (each thread's own sum, ``row_sums="partial"``) and a combining one
(``row_sums="combine"``: the shuffles and shared round of ``L``'s own values, ``X`` naming only the layout) follows
the loop; both carry the same ``row_sums_pair`` number. The layouts are only known when ``reduce.py`` lowers them:
there the partial sum is one only on the tensor-core rows path; elsewhere it is the whole reduction of the program
and its pair's combining reduction lowers to nothing. Values every thread of a row holds alike: every row
fragment but ``S`` and ``L`` here (reductions and ``T.Parallel`` statements leave each row's copies equal).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ...ir.ops import make_tile_call, tile_call_of, with_attrs, writers_of
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, rebuild_for, seq, uses_var
from ..tile_lowering_utils import parallel_nest, reduce_spec, whole_region, zero_fill_of
from .reduce import row_sum_mode


def _loads(node, buf) -> list:
    found = []
    tvm_ffi.structural_walk(node, (TensorLoad, lambda ld: found.append(ld) if ld.source.same_as(buf) else None))
    return found


def _is_row_load(expr, buf, i) -> bool:
    return isinstance(expr, TensorLoad) and expr.source.same_as(buf) and len(expr.indices) == 1 and \
        expr.indices[0].same_as(i)


def _running_sum(stmt, S):
    """(L, the statement) when ``stmt`` is ``for i in T.Parallel(n): L[i] = L[i] (* a) + S[i]``, else None."""
    loops, store = parallel_nest(stmt)
    if len(loops) != 1 or not isinstance(store, tirx.BufferStore) or len(store.indices) != 1:
        return None
    i, L, value = loops[0].loop_var, store.buffer, store.value
    if not store.indices[0].same_as(i) or L.same_as(S) or not isinstance(value, tirx.Add):
        return None
    for total, fresh in ((value.a, value.b), (value.b, value.a)):
        if not _is_row_load(fresh, S, i):
            continue
        if _is_row_load(total, L, i):
            return L
        if isinstance(total, tirx.Mul):
            for kept, scale in ((total.a, total.b), (total.b, total.a)):
                if _is_row_load(kept, L, i) and not _loads(scale, L) and not _loads(scale, S):
                    return L
    return None


class _Deferrer:
    def __init__(self, func_body):
        self.body = func_body
        self.count = 0

    def sequence(self, stmts):
        """The statements of one sequence with each loop that keeps a running row sum rewritten."""
        out = list(stmts)
        k = 0
        while k < len(out):
            loop = out[k]
            if isinstance(loop, tirx.For) and not parallel_nest(loop)[0]:
                rewritten = self.loop(loop, out[:k])
                if rewritten is not None:
                    out[k:k + 1] = rewritten
                    k += len(rewritten)
                    continue
            k += 1
        return out

    def loop(self, loop, earlier):
        """[the loop with its row sum partial, the combining reduction] or None."""
        body = flatten_seq([loop.body])
        for k, stmt in enumerate(body):
            call = tile_call_of(stmt, "reduce")
            if call is None or row_sum_mode(call) is not None:
                continue
            spec = reduce_spec(call)
            S = spec.dst.source
            if spec.kind != "sum" or not spec.clear or spec.dim != 1 or len(spec.src_shape) != 2 or \
                    len(spec.dst_shape) != 1 or not whole_region(spec.dst) or \
                    S.scope() != "local.fragment" or len(writers_of(self.body, S)) != 1:
                continue
            readers = [j for j, s in enumerate(body) if j != k and uses_var(s, S)]
            if len(readers) != 1 or readers[0] < k:
                continue
            L = _running_sum(body[readers[0]], S)
            fills = [] if L is None else [s for s in earlier if (b := zero_fill_of(s)) is not None and b.same_as(L)]
            if not fills or L.scope() != "local.fragment" or len(writers_of(self.body, L)) != 2 or \
                    any(uses_var(s, L) for j, s in enumerate(body) if j != readers[0]) or \
                    len(_loads(self.body, S)) != 1:
                continue
            pair = self.count
            body[k] = tirx.Evaluate(with_attrs(call, row_sums="partial", row_sums_pair=pair))
            combine = make_tile_call("reduce", [spec.src, fills[0].value.args[0]], kind="sum", dim=1, clear=True)
            self.count += 1
            return [rebuild_for(loop, body=seq(body)),
                    tirx.Evaluate(with_attrs(combine, row_sums="combine", row_sums_pair=pair))]
        return None


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.DeferRowSums")
@keep_tiledsl_errors
def DeferRowSums(func, mod, ctx):
    """Keep a loop's running row sum per thread and combine it across threads after the loop (see the module
    doc; ``TILEDSL_DEFER_ROW_SUMS=0`` switches it off)."""
    if not schedule("TILEDSL_DEFER_ROW_SUMS"):
        return func
    deferrer = _Deferrer(func.body)

    def on_seq(stmt):
        return tirx.SeqStmt(deferrer.sequence(flatten_seq([stmt])))
    body = tvm_ffi.structural_map(func.body, [(tirx.SeqStmt, on_seq)], order="post")
    return func.with_body(body) if deferrer.count else func
