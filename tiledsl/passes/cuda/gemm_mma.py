"""T.gemm on tensor cores: ldmatrix + ``mma.sync.aligned.m16n8k16`` (fp16/bf16 in, fp32 accumulate; sm_80+).

``plan(body, nthreads)`` picks, for each gemm whose operands allow it (A and B in shared memory, both fp16 or both
bf16, the accumulator a float32 fragment, tile sizes multiples of the warp grid's 16x16 atoms, K a multiple of
16), a grid of warps and gives the accumulator the :class:`MMAAccumulator` layout. With ``TILEDSL_MMA_INT8=1``
(opt-in; its GPU tests passed on the H100, narrow k tiles only there) also int8/uint8 A [M, K] and B [N, K]
(``transpose_B``) into an int32 fragment, K a multiple of 32: ``mma.sync.aligned.m16n8k32 .s32.s8.s8.s32``, whose
fragments are ldmatrix's 8 x 16-byte matrices as they are (its accumulator is laid out as the fp16 one's; the
8-bit tiles are not swizzled). ``lower`` emits, per 16-wide
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

from ... import config
from ...ir.ops import is_tile_call
from ..rewriter import seq
from ..tile_lowering_utils import const_ints, flat_index, tile_dims, u32_view
from .layout import MMAAccumulator
from ...language.buffers import SHARED_SCOPES

_DTYPES = {"float16": "f16", "bfloat16": "bf16"}
_INT8 = {"int8": "s8", "uint8": "u8"}  # with TILEDSL_MMA_INT8=1, K-major A and B only (ldmatrix .trans moves b16)


@dataclass(frozen=True)
class MMAPlan:
    """How one accumulator's gemms run: the warp grid (its layout) and the operand dtype."""

    layout: MMAAccumulator
    in_dtype: str
    strategy: str = "mma"
    b_dtype: str = ""  # an 8-bit B's type (may differ from A's signedness); "" for 16-bit operands

    @property
    def k_step(self) -> int:
        """K of one instruction."""
        return _k_step(self.in_dtype)


def _k_step(dtype: str) -> int:
    """K of one mma.sync for operands of ``dtype``: 16 for 16-bit types, 32 for 8-bit ones."""
    return 32 if dtype in _INT8 else 16


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
        operand_scopes = SHARED_SCOPES + ("local.fragment",)  # fragment operands are staged through shared memory
        a_dtype, b_dtype, c_dtype = (str(r.source.ty.dtype) for r in (a, b, c))
        scopes_ok = (a.source.scope() in operand_scopes and b.source.scope() in operand_scopes
                     and c.source.scope() == "local.fragment")
        sixteen = a_dtype == b_dtype and a_dtype in _DTYPES and c_dtype == "float32"
        eight = (config.mma_int8_enabled() and a_dtype in _INT8 and b_dtype in _INT8 and c_dtype == "int32"
                 and not bool(call.attrs["transpose_A"]) and bool(call.attrs["transpose_B"]))
        grid = None
        if scopes_ok and (sixteen or eight):
            trans_a = bool(call.attrs["transpose_A"])
            M, K = _tile(a)[::-1] if trans_a else _tile(a)
            N = _tile(c)[1]
            shape = const_ints(list(c.source.ty.shape), "T.gemm")
            grid = _warp_grid(M, N, nthreads // 32) if K % _k_step(a_dtype) == 0 and tuple(shape) == (M, N) else None
        if grid is None:
            refused.add(key)
            return
        p = MMAPlan(MMAAccumulator((M, N), grid[0], grid[1]), a_dtype, b_dtype=b_dtype if eight else "")
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
    alias = []
    if mma_plan.b_dtype:  # int32 accumulators reach the instruction as .u32 registers: the same bits
        acc, declared = u32_view(acc)
        alias = [declared]
    a_reg = tirx.decl_buffer((tm * 4,), "uint32", "a_frag", scope="local")
    b_reg = tirx.decl_buffer((tn * 2,), "uint32", "b_frag", scope="local")
    ld = T.ptx.ldmatrix.sync.aligned.m8n8.x4.shared.b16
    ld_t = T.ptx.ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
    ld_x2 = T.ptx.ldmatrix.sync.aligned.m8n8.x2.shared.b16
    ld_x2_t = T.ptx.ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
    if mma_plan.b_dtype:  # 8-bit: m16n8k32, int32 accumulators; a 16-byte ldmatrix row holds 16 elements of k
        mma = T.ptx.mma.sync.aligned.m16n8k32.row.col.s32
        mma = getattr(getattr(getattr(mma, _INT8[mma_plan.in_dtype]), _INT8[mma_plan.b_dtype]), "s32")
    else:
        mma = getattr(T.ptx.mma.sync.aligned.m16n8k16.row.col.f32, _DTYPES[mma_plan.in_dtype])
        mma = getattr(getattr(mma, _DTYPES[mma_plan.in_dtype]), "f32")
    half_k = mma_plan.k_step // 2  # elements of k in one 16-byte ldmatrix row

    kk = tirx.Var("kk", "int32")
    k0 = kk * mma_plan.k_step
    body = []
    for mi in range(tm):
        m0 = row0 + mi * 16
        regs = [tirx.BufferLoad(a_reg, [mi * 4 + q]) for q in range(4)]
        if trans_a:  # A tile stored (K, M): matrix q covers m0 + (q % 2) * 8, k0 + (q // 2) * 8
            ptr = _ptr(low, a, k0 + r + (j // 2) * 8, m0 + (j % 2) * 8)
            body.append(tirx.Evaluate(ld_t(*regs, ptr)))
        else:
            ptr = _ptr(low, a, m0 + lane % 16, k0 + (lane // 16) * half_k)
            body.append(tirx.Evaluate(ld(*regs, ptr)))
    for nj in range(tn // 2):
        n0 = col0 + nj * 16
        regs = [tirx.BufferLoad(b_reg, [nj * 4 + q]) for q in range(4)]
        if trans_b:  # B tile stored (N, K): rows are n, k contiguous = the .col operand as is
            ptr = _ptr(low, b, n0 + (j // 2) * 8 + r, k0 + (j % 2) * half_k)
            body.append(tirx.Evaluate(ld(*regs, ptr)))
        else:
            ptr = _ptr(low, b, k0 + (j % 2) * 8 + r, n0 + (j // 2) * 8)
            body.append(tirx.Evaluate(ld_t(*regs, ptr)))
    if tn % 2:  # a last 8-column tile: ldmatrix .x2 (lanes 0-15 give the addresses; 16-31 repeat them)
        n0 = col0 + (tn - 1) * 8
        regs = [tirx.BufferLoad(b_reg, [(tn - 1) * 2 + q]) for q in range(2)]
        half = (lane % 16) // 8
        if trans_b:
            ptr = _ptr(low, b, n0 + r, k0 + half * half_k)
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
    stmts = alias + [tirx.AllocBuffer(a_reg), tirx.AllocBuffer(b_reg)]
    if bool(call.attrs["clear_accum"]):
        q = tirx.Var("q", "int32")
        stmts.append(tirx.For(q, 0, lay.local_size, tirx.ForKind.UNROLLED,
                              tirx.BufferStore(acc, tirx.const(0, str(acc.ty.dtype)), [q])))
    ksteps = K // mma_plan.k_step
    loop = tirx.For(kk, 0, ksteps, tirx.ForKind.UNROLLED if ksteps <= 8 else tirx.ForKind.SERIAL, seq(body))
    stmts.append(loop)
    return seq(stmts)
