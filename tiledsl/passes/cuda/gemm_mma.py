"""T.gemm on tensor cores: ldmatrix + ``mma.sync.aligned.m16n8k16`` (fp16/bf16 in, fp32 accumulate; sm_80+).

``plan(body, nthreads)`` picks, for each gemm whose operands allow it (A and B in shared memory, both fp16 or both
bf16, the accumulator a float32 fragment, tile sizes multiples of the warp grid's 16x16 atoms, K a multiple of
16), a grid of warps and gives the accumulator the :class:`MMAAccumulator` layout. ``lower`` emits, per 16-wide
k-step, one ``ldmatrix.x4`` per 16 rows of A and per 16 columns of B (``.trans`` where the shared tile is stored
the other way round) and one ``mma.sync`` per 16x8 accumulator tile. Shared operands are addressed through
``access_ptr`` so TVM's ThreadSync sees the reads and places the barriers. Other gemms use the FMA lowering.
"""
from __future__ import annotations

from dataclasses import dataclass

import tvm_ffi
from tvm import tirx
from tvm.ir import Call
from tvm.script import tirx as T

from ...ir.ops import is_tile_call
from ..rewriter import seq
from ..tile_lowering_utils import const_ints, flat_index, tile_dims
from .layout import MMAAccumulator

_SHARED = ("shared", "shared.dyn")
_DTYPES = {"float16": "f16", "bfloat16": "bf16"}


@dataclass(frozen=True)
class MMAPlan:
    """How one accumulator's gemms run: the warp grid (its layout) and the operand dtype."""

    layout: MMAAccumulator
    in_dtype: str
    strategy: str = "mma"


def _tile(region):
    ext = const_ints([r.extent for r in region.region], "T.gemm")
    d = tile_dims(region)
    return ext[d[0]], ext[d[1]]


def current_sm() -> int:
    """The compute capability of the current CUDA target as a number (90 for sm_90a); 80, tiledsl's CUDA floor,
    when the target names no arch."""
    from ...runtime.target import current_arch, sm_number

    return sm_number(current_arch()) or 80


def _arch_ok() -> bool:
    return current_sm() >= 80


def _warp_grid(M, N, nwarps):
    """(warps_m, warps_n) whose warp tile is a multiple of 16x16 and closest to square; failing that, one whose
    tile is 16 rows by a multiple of 8 columns (a skinny tile: M = 16 across many warps), or None."""
    for col_unit in (16, 8):
        best = None
        for wm in range(1, nwarps + 1):
            if nwarps % wm:
                continue
            wn = nwarps // wm
            if M % (16 * wm) or N % (col_unit * wn):
                continue
            score = abs((M // wm) - (N // wn))
            if best is None or score < best[0]:
                best = (score, wm, wn)
        if best is not None:
            return best[1:]
    return None


def plan(body, nthreads: int) -> dict:
    """Map accumulator buffer -> MMAPlan for each gemm that can use mma.sync."""
    out, refused = {}, set()
    if nthreads % 32 or not _arch_ok():
        return out

    def on_call(call):
        if not is_tile_call(call, "gemm"):
            return
        a, b, c = call.args
        key = c.source
        operand_scopes = _SHARED + ("local.fragment",)  # fragment operands are staged through shared memory
        ok = (a.source.scope() in operand_scopes and b.source.scope() in operand_scopes
              and c.source.scope() == "local.fragment"
              and str(a.source.ty.dtype) == str(b.source.ty.dtype) and str(a.source.ty.dtype) in _DTYPES
              and str(c.source.ty.dtype) == "float32")
        grid = None
        if ok:
            trans_a = bool(call.attrs["transpose_A"])
            M, K = _tile(a)[::-1] if trans_a else _tile(a)
            N = _tile(c)[1]
            shape = const_ints(list(c.source.ty.shape), "T.gemm")
            grid = _warp_grid(M, N, nthreads // 32) if K % 16 == 0 and tuple(shape) == (M, N) else None
        if grid is None:
            refused.add(key)
            return
        p = MMAPlan(MMAAccumulator((M, N), grid[0], grid[1]), str(a.source.ty.dtype))
        if out.get(key, p) != p:
            refused.add(key)
        out[key] = p

    tvm_ffi.structural_walk(body, (Call, on_call))
    return {k: v for k, v in out.items() if k not in refused}


def _ptr(low, region, row, col):
    """``access_ptr`` of element (row, col) of a region's 2-d tile (swizzled where the tile is)."""
    d = tile_dims(region)
    idx = [r.min for r in region.region]
    idx[d[0]] = idx[d[0]] + row
    idx[d[1]] = idx[d[1]] + col
    buf = region.source
    return buf.access_ptr("r", offset=low.physical_offset(buf, flat_index(idx, list(buf.ty.shape))))


def lower(low, call, mma_plan: MMAPlan):
    """ldmatrix + mma.sync code for one planned gemm."""
    a, b, c = call.args
    trans_a, trans_b = bool(call.attrs["transpose_A"]), bool(call.attrs["transpose_B"])
    lay = mma_plan.layout
    M, N = lay.shape
    K = _tile(a)[0] if trans_a else _tile(a)[1]
    wm, wn = lay.warp_tile
    tm, tn = lay.tiles
    warp, lane = low.tid // 32, low.tid % 32
    row0 = (warp // lay.warps_n) * wm
    col0 = (warp % lay.warps_n) * wn
    j, r = lane // 8, lane % 8
    acc = low.locals[c.source]
    a_reg = tirx.decl_buffer((tm * 4,), "uint32", "a_frag", scope="local")
    b_reg = tirx.decl_buffer((tn * 2,), "uint32", "b_frag", scope="local")
    ld = T.ptx.ldmatrix.sync.aligned.m8n8.x4.shared.b16
    ld_t = T.ptx.ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
    ld_x2 = T.ptx.ldmatrix.sync.aligned.m8n8.x2.shared.b16
    ld_x2_t = T.ptx.ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
    mma = getattr(T.ptx.mma.sync.aligned.m16n8k16.row.col.f32, _DTYPES[mma_plan.in_dtype])
    mma = getattr(getattr(mma, _DTYPES[mma_plan.in_dtype]), "f32")

    kk = tirx.Var("kk", "int32")
    k0 = kk * 16
    body = []
    for mi in range(tm):
        m0 = row0 + mi * 16
        regs = [tirx.BufferLoad(a_reg, [mi * 4 + q]) for q in range(4)]
        if trans_a:  # A tile stored (K, M): matrix q covers m0 + (q % 2) * 8, k0 + (q // 2) * 8
            ptr = _ptr(low, a, k0 + r + (j // 2) * 8, m0 + (j % 2) * 8)
            body.append(tirx.Evaluate(ld_t(*regs, ptr)))
        else:
            ptr = _ptr(low, a, m0 + lane % 16, k0 + (lane // 16) * 8)
            body.append(tirx.Evaluate(ld(*regs, ptr)))
    for nj in range(tn // 2):
        n0 = col0 + nj * 16
        regs = [tirx.BufferLoad(b_reg, [nj * 4 + q]) for q in range(4)]
        if trans_b:  # B tile stored (N, K): rows are n, k contiguous = the .col operand as is
            ptr = _ptr(low, b, n0 + (j // 2) * 8 + r, k0 + (j % 2) * 8)
            body.append(tirx.Evaluate(ld(*regs, ptr)))
        else:
            ptr = _ptr(low, b, k0 + (j % 2) * 8 + r, n0 + (j // 2) * 8)
            body.append(tirx.Evaluate(ld_t(*regs, ptr)))
    if tn % 2:  # a last 8-column tile: ldmatrix .x2 (lanes 0-15 give the addresses; 16-31 repeat them)
        n0 = col0 + (tn - 1) * 8
        regs = [tirx.BufferLoad(b_reg, [(tn - 1) * 2 + q]) for q in range(2)]
        half = (lane % 16) // 8
        if trans_b:
            ptr = _ptr(low, b, n0 + r, k0 + half * 8)
            body.append(tirx.Evaluate(ld_x2(*regs, ptr)))
        else:
            ptr = _ptr(low, b, k0 + half * 8 + r, n0)
            body.append(tirx.Evaluate(ld_x2_t(*regs, ptr)))
    for mi in range(tm):
        for ni in range(tn):
            base = (mi * tn + ni) * 4
            cs = [tirx.BufferLoad(acc, [base + q]) for q in range(4)]
            body.append(tirx.Evaluate(mma(*cs, *[tirx.BufferLoad(a_reg, [mi * 4 + q]) for q in range(4)],
                                          *[tirx.BufferLoad(b_reg, [ni * 2 + q]) for q in range(2)], *cs)))
    stmts = [tirx.AllocBuffer(a_reg), tirx.AllocBuffer(b_reg)]
    if bool(call.attrs["clear_accum"]):
        q = tirx.Var("q", "int32")
        stmts.append(tirx.For(q, 0, lay.local_size, tirx.ForKind.UNROLLED,
                              tirx.BufferStore(acc, tirx.const(0, "float32"), [q])))
    ksteps = K // 16
    loop = tirx.For(kk, 0, ksteps, tirx.ForKind.UNROLLED if ksteps <= 8 else tirx.ForKind.SERIAL, seq(body))
    stmts.append(loop)
    return seq(stmts)
