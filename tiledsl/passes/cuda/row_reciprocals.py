"""RowReciprocals: in a ``T.Parallel`` nest, a float division by a value the innermost loop does not change becomes
a multiplication by its reciprocal (CUDA; on by default since 2026-12-07, ``TILEDSL_ROW_RECIPROCALS=0`` turns it
off: alone no faster on the H100, with DeferRowSums and PackFloatConversions flash attention gains 3-10 %).

Flash attention's epilogue ``acc_o[i, j] /= logsum[i]`` is one IEEE division per element: 64 per thread in the
sm_90a kernel, each a ``MUFU.RCP``, a check and a slow-path call (about 640 instructions per CTA, close to one
loop iteration). Written ``acc_o[i, j] * (1 / logsum[i])``, the reciprocal is the same expression for every ``j``,
so nvcc computes it once per row a thread holds (2 divisions instead of 64). The result may differ from the
division by one rounding (x * (1 / y) rounds twice).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx

from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import StmtRewriter, uses_var
from ..tile_lowering_utils import parallel_nest


class _Rewriter(StmtRewriter):
    def __init__(self):
        super().__init__()
        self.count = 0

    def visit_For(self, loop):
        loops = parallel_nest(loop)[0]
        if len(loops) < 2:
            return super().visit_For(loop)
        inner = loops[-1].loop_var

        def on_div(div):
            dtype = div.ty.dtype
            if not dtype.is_float or uses_var(div.b, inner) or isinstance(div.b, (tirx.FloatImm, tirx.IntImm)):
                return div
            self.count += 1
            return div.a * (tirx.const(1.0, str(dtype)) / div.b)
        return tvm_ffi.structural_map(loop, [(tirx.Div, on_div)], order="post")


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.RowReciprocals")
@keep_tiledsl_errors
def RowReciprocals(func, mod, ctx):
    """Divisions by a row value in T.Parallel nests as multiplications by its reciprocal (see the module doc;
    opt-in with ``TILEDSL_ROW_RECIPROCALS=1``)."""
    if not schedule("TILEDSL_ROW_RECIPROCALS"):
        return func
    rewriter = _Rewriter()
    body = rewriter.visit(func.body)
    return func.with_body(body) if rewriter.count else func
