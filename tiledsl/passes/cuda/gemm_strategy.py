"""Per-op instruction selection for ``T.gemm`` on CUDA: a table of strategies, tried in order.

* ``wgmma`` (:mod:`gemm_wgmma`): sm_90a, warpgroups; accumulator :class:`WGMMAAccumulator`, shared operands
  :class:`WGMMATile`; ``wgmma.mma_async`` from shared-memory descriptors (A from registers where it can).
* ``mma`` (:mod:`gemm_mma`): sm_80+, fp16/bf16; accumulator :class:`MMAAccumulator`, shared operands
  :class:`XorSwizzle`; ldmatrix + ``mma.sync``.
* ``fma``: anything else; the accumulator's layout is left to layout inference; a per-thread loop of FMAs.

``plan_gemms`` gives each accumulator the first strategy that takes all its gemms; layout inference then starts
from those accumulator layouts (so epilogues, reductions and row statistics follow them), and a plan whose layout
inference did not keep is dropped (the gemm falls back to FMA). ``lower_gemm`` lowers one call with its plan.
Fragment operands are read from registers where the strategy can (wgmma's A), else written once to a shared tile
with the strategy's layout.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call

from ...errors import CompileError
from ...ir.ops import is_tile_call
from ..rewriter import seq
from ..tile_lowering_utils import cast_to, const_ints, is_unit
from . import gemm_mma, gemm_wgmma, transpose_copy
from .smem_swizzle import STAGING_ATTR, XorSwizzle, WGMMATile, staging_tile, swizzle_ok, wgmma_tile

STRATEGIES = ("wgmma", "mma", "fma")
#: a gemm's marks that drop its ``fence.proxy.async`` (set by PipelineCUDA from the program's shared writes): void
#: once the lowering stages a register operand through a shared tile of its own
_NO_FENCE_ATTRS = (gemm_wgmma.FENCED_ATTR, gemm_wgmma.TMA_OPERANDS_ATTR)


def plan_gemms(body, nthreads: int) -> dict:
    """Accumulator buffer -> plan (``.layout``, ``.strategy``) for every gemm not left to FMA."""
    plans = dict(gemm_mma.plan(body, nthreads))
    plans.update(gemm_wgmma.plan(body, nthreads))  # wgmma first where it applies
    return plans


def strategy_of(plan) -> str:
    """The strategy name of a plan (None: FMA)."""
    return "fma" if plan is None else getattr(plan, "strategy", "mma")


def staging_tiles(body) -> list:
    """The shared tiles a TMA store reads (destinations of copies marked by tma_store.py)."""
    out = []
    tvm_ffi.structural_walk(body, (Call, lambda c: out.append(c.args[1].source) if is_tile_call(c, "copy") and
                                   c.attrs is not None and STAGING_ATTR in c.attrs else None))
    return out


def operand_layouts(body, plans: dict) -> dict:
    """Shared gemm operand buffer -> its layout (WGMMATile wins over XorSwizzle when a tile feeds both); a TMA
    store's staging tile gets the 128-byte swizzled WGMMATile too, and so does the source of a K-major copy
    (``transpose_copy.py``: its bank-conflict-free reads count on it)."""
    out: dict = {}

    def on_for(loop):
        found = transpose_copy.match(loop)
        layout = wgmma_tile(found[2]) if found is not None else None
        if layout is not None:
            out.setdefault(found[2], layout)

    def on_call(call):
        if is_tile_call(call, "copy") and call.attrs is not None and STAGING_ATTR in call.attrs:
            out[call.args[1].source] = staging_tile(call.args[1].source)  # the TMA unit reads it (tma_store.py)
            return
        if not is_tile_call(call, "gemm") or call.args[2].source not in plans:
            return
        plan = plans[call.args[2].source]
        if strategy_of(plan) == "wgmma":
            out.update(gemm_wgmma.operand_layouts(call))
            return
        for r in call.args[:2]:
            if swizzle_ok(r.source) and not isinstance(out.get(r.source), WGMMATile):
                out[r.source] = XorSwizzle()
    tvm_ffi.structural_walk(body, [(Call, on_call), (tirx.For, on_for)])
    return out


def lower_gemm(low, call):
    """Lower one ``T.gemm`` call with its accumulator's plan (``low`` is the LowerTileOpsCUDA rewriter)."""
    plan = low.mma.get(call.args[2].source)
    strategy = strategy_of(plan)
    if strategy != "wgmma" and call.attrs is not None and gemm_wgmma.DEQUANT_ATTR in call.attrs:
        from .register_dequant import unswapped
        call = unswapped(call)  # the swapped product's plan was dropped: the program's own gemm, on FMA
    a, b, c = call.args
    a_in_registers = strategy == "wgmma" and a.source.scope() == "local.fragment" and \
        gemm_wgmma.registers_ok(low, a, plan)
    staging, operands = [], []
    for k, r in enumerate((a, b)):
        if r.source.scope() in ("local.fragment", "local") and not (k == 0 and a_in_registers):
            r, stmt = _stage_operand(low, r, strategy)
            staging.append(stmt)
        operands.append(r)
    if staging:
        # the threads write the staged tile right here: the gemm fences it for the tensor cores and ThreadSync
        # sees its reads, whatever the pipeline concluded about the program's own shared operands
        attrs = {str(k): v for k, v in call.attrs.items() if str(k) not in _NO_FENCE_ATTRS} \
            if call.attrs is not None else None
        call = Call(call.op, [operands[0], operands[1], c], attrs=attrs, ret_ty="void")
    if strategy != "wgmma" and call.attrs is not None and gemm_wgmma.COUNTED_ATTR in call.attrs:
        raise CompileError(f"internal: ScheduleWgmmaGemms counted the gemm into {c.source.name} as a wgmma group, "
                           f"but it lowers with {strategy}; build without TILEDSL_ASYNC_GEMMS")
    if strategy == "wgmma":
        lowered = gemm_wgmma.lower(low, call, plan, a_in_registers)
    elif strategy == "mma":
        lowered = gemm_mma.lower(low, call, plan)
    else:
        lowered = _gemm_fma(low, call)
    return seq(staging + [lowered])


def _stage_operand(low, region, strategy):
    """A gemm operand held in registers, written to a shared tile (each element once) for the gemm to read."""
    ext = const_ints([r.extent for r in region.region], "T.gemm")
    tile = [e for e in ext if e != 1][-2:] if len([e for e in ext if e != 1]) >= 2 else ext[-2:]
    tmp = low.scratch(tuple(tile), str(region.source.ty.dtype), region.source.name + "_staged")
    if strategy == "wgmma":
        low.swizzled[tmp] = wgmma_tile(tmp)
    elif strategy == "mma" and swizzle_ok(tmp):
        low.swizzled[tmp] = XorSwizzle()
    full = tmp[tuple(slice(0, e) for e in tile)]
    stmt = low._elementwise(region, full, lambda s_idx, t_idx: tirx.BufferStore(
        tmp, tirx.BufferLoad(region.source, s_idx), t_idx), "T.gemm", replicated_ok=False)
    return full, stmt


def _gemm_fma(low, call):
    a, b, c = call.args
    trans_a, trans_b = bool(call.attrs["transpose_A"]), bool(call.attrs["transpose_B"])
    dims_c = [k for k, r in enumerate(c.region) if not is_unit(r.extent)][-2:]
    a_ext = const_ints([r.extent for r in a.region], "T.gemm")
    dims_a = [k for k, e in enumerate(a_ext) if e != 1][-2:] or [len(a_ext) - 2, len(a_ext) - 1]
    dims_b = [k for k, r in enumerate(b.region) if not is_unit(r.extent)][-2:] or [len(b.region) - 2,
                                                                                    len(b.region) - 1]
    K = a_ext[dims_a[0] if trans_a else dims_a[1]]
    acc = str(c.source.ty.dtype)
    k = tirx.Var("k", "int32")
    low.bind_loop(k, K)

    def at(region, dims, row, col):
        out = [r.min for r in region.region]
        out[dims[0]] = out[dims[0]] + row
        out[dims[1]] = out[dims[1]] + col
        return out

    def body(c_idx, _):
        i, j = c_idx[dims_c[0]] - c.region[dims_c[0]].min, c_idx[dims_c[1]] - c.region[dims_c[1]].min
        av = tirx.BufferLoad(a.source, at(a, dims_a, k, i) if trans_a else at(a, dims_a, i, k))
        bv = tirx.BufferLoad(b.source, at(b, dims_b, j, k) if trans_b else at(b, dims_b, k, j))
        return tirx.BufferStore(c.source, tirx.BufferLoad(c.source, c_idx) + cast_to(av, acc) * cast_to(bv, acc),
                                c_idx)
    stmts = []
    if bool(call.attrs["clear_accum"]):
        stmts.append(low._elementwise(c, None, lambda d_idx, _: tirx.BufferStore(
            c.source, tirx.const(0, acc), d_idx), "T.gemm"))
    # TVM 0.27's CUDA code generator stops on the vector form of acc + int32(a) * int32(b[vector]) with 8-bit
    # integer operands (an internal check); those gemms accumulate one element per step
    eight_bit_ints = acc.startswith("int") and any(str(r.source.ty.dtype) in ("int8", "uint8") for r in (a, b))
    inner = low._elementwise(c, None, body, "T.gemm", vectorize=not eight_bit_ints)
    stmts.append(tirx.For(k, 0, K, tirx.ForKind.SERIAL, inner))
    return seq(stmts)
