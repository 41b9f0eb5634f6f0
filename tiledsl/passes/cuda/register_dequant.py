"""RegisterDequant: an 8-bit weight converted for a wgmma gemm in registers, not through a 16-bit shared tile.

A program that dequantizes a weight for ``T.gemm`` converts each loaded tile, element by element, into a 16-bit
shared tile that the gemm reads as B::

    T.copy(W[k * bk, bx * bn], W_s)                  # int8 [bk, bn]
    for i, j in T.Parallel(bk, bn):
        B_s[i, j] = T.Cast("float16", W_s[i, j])
    T.gemm(A_s, B_s, C_f)                            # C += A W

wgmma reads B from shared memory only, so every 64-row wgmma of the block reads the converted tile again, after the
threads wrote it: on the H100 that shared-memory traffic held the int8-weight GEMM at 0.77x cuBLAS fp16
(``benchmarks/RESULTS.md``). wgmma's A may come from registers, so on sm_90a this pass has the gemm compute the
transposed product, C^T = W^T A^T: the weight is the A operand (its rows are C's columns), read from the 8-bit
tile and converted in registers (byte permutes and fp16 subtracts, as in ``int8_convert.py``), and A_s is the B
operand. A weight stored [K, N] is read by ``ldmatrix.trans`` (per warp and 32 k, one instruction: 4 values a
register, two columns of two k rows); one stored [N, K] (``nn.Linear``'s layout) by 2-byte loads (two k of one
column each: ``ldmatrix`` would give four k of a column, which is not wgmma's register order). The cast loop and
B_s are gone; the gemm is marked :data:`gemm_wgmma.DEQUANT_ATTR` and its accumulator gets the
:class:`SwappedWGMMAAccumulator` layout (element (m, n) of C_f where the transposed product holds (n, m)), so the
program's epilogue reads C_f as written.

The pass applies, in any statement sequence (a pipelined loop's body), when: the nest stores
``B[i, j] = T.Cast("float16", W[i, j])`` over two whole shared tiles of one shape, W int8 or uint8 (or
``T.copy(W, B)`` converts them); a later gemm of the same sequence reads B, whole, as its B operand (stored [K, N]
or, ``transpose_B``, [N, K]), with a float16 shared A (either majorness) and a float32 fragment accumulator
that no other tile op but fills and copies uses; nothing between them writes W or A or touches B; nothing else in
the kernel uses B; and the transposed gemm has a wgmma plan (:func:`plan_swapped`: K a multiple of 32, N of 64 per
warpgroup row, W's rows whole 64- or 128-byte panels). Otherwise the program is left as written.
``TILEDSL_REGISTER_DEQUANT=0`` turns the pass off. Where layout inference later drops the plan, the gemm is lowered
in its original form (:func:`unswapped`) on FMA.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad
from tvm.script import tirx as T

from ...errors import CompileError
from ...ir.ops import is_tile_call, is_tile_statement, with_operands, written_buffers
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import StmtRewriter, count_uses, flatten_seq
from ..tile_lowering_utils import const_ints, parallel_nest, tile_dims, whole_region, without_access
from . import gemm_mma, gemm_wgmma
from .int8_convert import BIAS, EXPONENT_BYTES, SIGN_FLIP
from .layout import SwappedWGMMAAccumulator
from .smem_swizzle import wgmma_tile
from ...language.buffers import SHARED_SCOPES

_EIGHT_BIT = ("int8", "uint8")
_TARGETS = ("float16", "bfloat16")  # the cast's type, which A's must be
#: the bytes of an ldmatrix.trans word that make each register: the word holds W[k][n], W[k][n + 1], W[k + 1][n],
#: W[k + 1][n + 1]; bytes (0, 2) are column n of C (rows k, k + 1), bytes (1, 3) column n + 1
_COLUMN_BYTES = ((0, 2), (1, 3))


def _cast_copy(stmt):
    """(16-bit tile, 8-bit tile) when ``stmt`` is ``T.copy(W, B)`` between two whole 2-d shared tiles of one
    shape, W 8-bit and B float16 or bfloat16 (the copy converts), else None."""
    if not is_tile_statement(stmt, "copy"):
        return None
    src, dst = stmt.value.args
    if not all(hasattr(r, "source") and r.source.scope() in SHARED_SCOPES and whole_region(r) for r in (src, dst)):
        return None
    if str(src.source.ty.dtype) not in _EIGHT_BIT or str(dst.source.ty.dtype) not in _TARGETS:
        return None
    try:
        shapes = [const_ints(list(r.source.ty.shape), "tile") for r in (src, dst)]
    except CompileError:  # a symbolic shape: not this pattern
        return None
    return (dst.source, src.source) if len(shapes[0]) == 2 and shapes[0] == shapes[1] else None


def _cast_nest(stmt):
    """(16-bit tile, 8-bit tile) when ``stmt`` is ``for i, j in T.Parallel: B[i, j] = T.Cast(t, W[i, j])`` (t fp16
    or bf16) over the whole shape of both shared tiles, or the same conversion as a ``T.copy``, else None."""
    copied = _cast_copy(stmt)
    if copied is not None:
        return copied
    loops, inner = parallel_nest(stmt)
    if len(loops) != 2 or not isinstance(inner, tirx.BufferStore):
        return None
    value = inner.value
    if not (isinstance(value, tirx.Cast) and str(value.dtype) in _TARGETS and isinstance(value.value, TensorLoad)):
        return None
    dst, src = inner.buffer, value.value.source
    if dst.scope() not in SHARED_SCOPES or src.scope() not in SHARED_SCOPES or str(src.ty.dtype) not in _EIGHT_BIT:
        return None
    loop_vars = [lp.loop_var for lp in loops]
    for indices in (inner.indices, value.value.indices):
        if len(indices) != 2 or not all(i.same_as(v) for i, v in zip(indices, loop_vars)):
            return None
    try:
        extents = const_ints([lp.extent for lp in loops], "T.Parallel")
        shapes = [const_ints(list(b.ty.shape), "tile") for b in (dst, src)]
    except CompileError:  # a symbolic extent: not this pattern
        return None
    if not all(isinstance(lp.min, tirx.IntImm) and int(lp.min) == 0 for lp in loops):
        return None
    return (dst, src) if shapes[0] == shapes[1] == extents else None


def swapped_call(gemm, weight_region):
    """The transposed form of ``gemm`` (C += A B with B converted from ``weight_region``): gemm(W, A, C) with
    ``transpose_A`` when W is [K, N] (the program's ``transpose_B=False``), ``transpose_B`` when A is [M, K],
    marked :data:`gemm_wgmma.DEQUANT_ATTR`."""
    a, _, c = gemm.args
    return with_operands(gemm, [weight_region, a, c], transpose_A=not bool(gemm.attrs["transpose_B"]),
                         transpose_B=not bool(gemm.attrs["transpose_A"]), **{gemm_wgmma.DEQUANT_ATTR: 1})


def unswapped(call):
    """The program's own form of a swapped gemm: C += A W (W converted by the multiply). The passes' marks stay, so
    a gemm ScheduleWgmmaGemms counted as a wgmma group is still refused by the strategy's check."""
    w, a, c = call.args
    return with_operands(call, [a, w, c], transpose_A=not bool(call.attrs["transpose_B"]),
                         transpose_B=not bool(call.attrs["transpose_A"]), **{gemm_wgmma.DEQUANT_ATTR: None})


def plan_swapped(call, nthreads: int):
    """The wgmma plan of a swapped gemm (see the module docstring), or None."""
    w, a, c = call.args
    trans_b = bool(call.attrs["transpose_B"])
    if (str(w.source.ty.dtype) not in _EIGHT_BIT or str(a.source.ty.dtype) not in _TARGETS
            or str(c.source.ty.dtype) != "float32" or c.source.scope() != "local.fragment"
            or w.source.scope() not in SHARED_SCOPES or a.source.scope() not in SHARED_SCOPES):
        return None
    if wgmma_tile(w.source) is None or not gemm_wgmma._whole_tile(w) or \
            not gemm_wgmma._operand_ok(a, mn_major=not trans_b):
        return None
    K, N = [const_ints([w.region[d].extent], "T.gemm")[0] for d in tile_dims(w)]
    if not bool(call.attrs["transpose_A"]):  # W stored [N, K]
        K, N = N, K
    a_rows, a_cols = [const_ints([a.region[d].extent], "T.gemm")[0] for d in tile_dims(a)]
    M, KA = (a_rows, a_cols) if trans_b else (a_cols, a_rows)
    if KA != K or tuple(const_ints(list(c.source.ty.shape), "T.gemm")) != (M, N) or K % 32 or N % 16:
        return None
    grid = gemm_wgmma._group_grid(N, M, nthreads // 128, b_mn_major=not trans_b)
    if grid is None:
        return None
    return gemm_wgmma.WGMMAPlan(SwappedWGMMAAccumulator((M, N), 4 * grid[0], grid[1]), str(a.source.ty.dtype),
                                dequant=str(w.source.ty.dtype))


_SUFFIX = {"float16": "f16", "bfloat16": "bf16"}
#: bfloat16: a byte under the fp32 exponent byte 0x4B is 2^23 + byte exactly; less the bias (2^23, or 2^23 + 128 for
#: a signed byte flipped to unsigned) it is the value, whose bfloat16 is the float's upper half (exact: |x| <= 255)
_F32_MAGIC = 0x4B000000
_F32_BIAS = {"int8": "8388736.0f", "uint8": "8388608.0f"}


def _pair_lines(word: str, lo: int, hi: int, out: str, dtype: str, to: str) -> list:
    """CUDA lines writing to ``out`` the 16-bit pair (``to``) of bytes ``lo`` and ``hi`` of ``word`` (already
    flipped to unsigned for int8)."""
    if to == "float16":  # the byte under the fp16 exponent byte 0x64 is 1024 + byte; one sub.f16x2 for the pair
        sel = 0x4040 | lo | hi << 8
        return [f'asm("prmt.b32 %0, %1, %2, %3;" : "=r"({out}) : "r"({word}), "r"(0x{EXPONENT_BYTES:08x}u), '
                f'"r"(0x{sel:04x}u));',
                f'asm("sub.f16x2 %0, %0, %1;" : "+r"({out}) : "r"(0x{BIAS[dtype]:08x}u));']
    return [f"{out} = __byte_perm(__float_as_uint(__uint_as_float(__byte_perm({word}, 0x{_F32_MAGIC:08x}u, "
            f"0x{0x7440 | lo:04x}u)) - {_F32_BIAS[dtype]}), __float_as_uint(__uint_as_float(__byte_perm({word}, "
            f"0x{_F32_MAGIC:08x}u, 0x{0x7440 | hi:04x}u)) - {_F32_BIAS[dtype]}), 0x7632u);"]


def helper_name(dtype: str, to: str = "float16") -> str:
    """The device helper loading and converting 4 ldmatrix.trans words of an 8-bit tile to ``to`` pairs."""
    return f"tiledsl_ldsm_t_{'s8' if dtype == 'int8' else 'u8'}_{_SUFFIX[to]}"


def helper_source(dtype: str, to: str = "float16") -> str:
    """CUDA source of :func:`helper_name`: ``ldmatrix.x4.trans`` at ``src`` (this lane's row of 16 bytes), then
    each word as two 16-bit pairs: ``out[2q]`` its even column, ``out[2q + 1]`` its odd column."""
    flip = f" ^ 0x{SIGN_FLIP:08x}u" if dtype == "int8" else ""
    lines = [f"__forceinline__ __device__ void {helper_name(dtype, to)}(const void* src, unsigned int* out) {{",
             "  unsigned int addr = (unsigned int)__cvta_generic_to_shared(src);",
             "  unsigned int w[4];",
             '  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"',
             '               : "=r"(w[0]), "=r"(w[1]), "=r"(w[2]), "=r"(w[3]) : "r"(addr));',
             "#pragma unroll",
             "  for (int q = 0; q < 4; ++q) {",
             f"    unsigned int x = w[q]{flip};"]
    for h, (lo, hi) in enumerate(_COLUMN_BYTES):
        lines += ["    " + line for line in _pair_lines("x", lo, hi, f"out[2 * q + {h}]", dtype, to)]
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def pair_helper_name(dtype: str, to: str = "float16") -> str:
    """The device helper converting two adjacent bytes of an 8-bit tile (W stored [N, K]: k and k + 1 of row n)."""
    return f"tiledsl_lds_{'s8' if dtype == 'int8' else 'u8'}x2_{_SUFFIX[to]}"


def pair_helper_source(dtype: str, to: str = "float16") -> str:
    """CUDA source of :func:`pair_helper_name`: ``out[0]`` = the 16-bit pair (``to``) of the two bytes at ``src``."""
    flip = f" ^ 0x{SIGN_FLIP & 0xFFFF:04x}u" if dtype == "int8" else ""
    return "\n".join(
        [f"__forceinline__ __device__ void {pair_helper_name(dtype, to)}(const void* src, unsigned int* out) {{",
         f"  unsigned int x = (unsigned int)*(const unsigned short*)src{flip};"]
        + ["  " + line for line in _pair_lines("x", 0, 1, "out[0]", dtype, to)] + ["}", ""])


def _weight_ptr(low, region, row, col, seen: bool):
    """gemm_mma's pointer to element (row, col) of the weight tile's region, hidden from ThreadSync unless ``seen``
    (only TMA wrote it, and the ring's mbarrier orders that write)."""
    ptr = gemm_mma._ptr(low, region, row, col)  # noqa: SLF001 - the same swizzled access_ptr
    return ptr if seen else without_access(ptr)


def lower_swapped(low, call, wg_plan):
    """wgmma code for a swapped gemm: per 32 k, one ldmatrix.x4.trans + conversion per warp and 64 weight columns,
    then per 16 k one ``wgmma.m64nNk16`` per 64 columns with the converted weight as the register A operand."""
    w, a, c = call.args
    trans_b = bool(call.attrs["transpose_B"])
    lay = wg_plan.layout.base  # the (N, M) accumulator of C^T
    gm, gn = lay.groups_m, lay.warps_n
    Mw, Nw = lay.shape[0] // gm, lay.shape[1] // gn
    w_k_rows = bool(call.attrs["transpose_A"])  # W stored [K, N] (else [N, K])
    K = const_ints([w.region[tile_dims(w)[0 if w_k_rows else 1]].extent], "T.gemm")[0]
    group, warp, lane = low.tid // 128, (low.tid % 128) // 32, low.tid % 32
    row0, col0 = (group // gn) * Mw, (group % gn) * Nw
    acc = low.locals[c.source]
    tma_only = gemm_wgmma.has_attr(call, gemm_wgmma.TMA_OPERANDS_ATTR)
    b_desc = gemm_wgmma._Descriptor(a, mn_major=not trans_b, seen=not tma_only)
    blocks = Mw // 64
    # registers of their own for every 32 k of the tile: a wgmma still reading one k step's registers never has
    # them overwritten by the conversion of the next (ptxas would wait for it there)
    frag = tirx.decl_buffer((K // 32 * blocks * 8,), "uint32", "w_frag", scope="local")
    to = wg_plan.in_dtype  # float16 or bfloat16: the cast's type and A's
    t = _SUFFIX[to]
    op = T.ptx[f"wgmma.mma_async.sync.aligned.m64n{Nw}k16.f32.{t}.{t}"]
    dtype = wg_plan.dequant
    clear = bool(call.attrs["clear_accum"])
    per_block = Nw // 2
    # TILEDSL_FENCE_AFTER_CONVERSION: wgmma.fence after each set's conversions, not once before them: registers a
    # wgmma reads must be written before the warpgroup's fence, or ptxas fences them itself and may serialize
    # every wgmma of the kernel (its C7519 / C7520 "Potential Performance Loss")
    body = gemm_wgmma.opening_fences(call)
    fence_each_set = schedule("TILEDSL_FENCE_AFTER_CONVERSION")
    if fence_each_set:
        wgmma_fence, body = body[-1], body[:-1]
    sets = K // 32
    commit = tirx.Evaluate(T.ptx.wgmma.commit_group.sync.aligned())
    for k32 in range(sets):
        # wgmma reads its register operands while it runs: a register set is converted again only once the group
        # that read it is done. Each set's wgmmas are one commit group; the gemm's closing wait (1 in flight) leaves
        # at most the last set's group running into the next iteration, so set 0 needs no wait (unless it is the
        # only set, or a later statement does the waiting), and set j > 0 waits for all but the newest group (the
        # one of set j - 1) - which includes the previous iteration's group of set j.
        if k32 > 0:
            body.append(tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(1)))
        elif sets == 1 or gemm_wgmma.has_attr(call, gemm_wgmma.NO_WAIT_ATTR):
            body.append(tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(0)))
        for mi in range(blocks):
            n0 = row0 + mi * 64 + warp * 16
            base = (k32 * blocks + mi) * 8
            if w_k_rows:  # W [K, N]: one ldmatrix.x4.trans, this lane's k row of 16 columns
                ptr = _weight_ptr(low, w, k32 * 32 + lane, n0, seen=not tma_only)
                out = tirx.address_of(tirx.BufferLoad(frag, [tirx.const(base, "int32")]))
                body.append(tirx.Evaluate(T.cuda.func_call(helper_name(dtype, to), ptr, out,
                                                           source_code=helper_source(dtype, to))))
                continue
            for reg in range(8):  # W [N, K]: register (s, q) holds column n's k pair, in the same order as above
                step, q = reg // 4, reg % 4
                n = n0 + (lane // 4) * 2 + q % 2
                k = k32 * 32 + step * 16 + (q // 2) * 8 + (lane % 4) * 2
                ptr = _weight_ptr(low, w, n, k, seen=not tma_only)
                out = tirx.address_of(tirx.BufferLoad(frag, [tirx.const(base + reg, "int32")]))
                body.append(tirx.Evaluate(T.cuda.func_call(pair_helper_name(dtype, to), ptr, out,
                                                           source_code=pair_helper_source(dtype, to))))
        if fence_each_set:
            body.append(wgmma_fence)
        for s in range(2):
            k0 = (k32 * 2 + s) * 16
            if trans_b:  # A [M, K]: the B operand K-major
                db = b_desc.at(gemm_wgmma._rows_offset(b_desc.tile, col0, k0))
            else:  # A [K, M]: MN-major
                db = b_desc.at(gemm_wgmma._cols_offset(b_desc.tile, k0, col0))
            scale_d = tirx.const(not (clear and k0 == 0), "bool")
            for mi in range(blocks):
                regs = [tirx.BufferLoad(acc, [mi * per_block + SwappedWGMMAAccumulator.swap_bits(q)])
                        for q in range(per_block)]
                a_ops = [tirx.BufferLoad(frag, [(k32 * blocks + mi) * 8 + 4 * s + q]) for q in range(4)]
                body.append(tirx.Evaluate(op(*regs, *a_ops, db, scale_d, 1, 1, int(not trans_b))))
        body.append(commit)
    return tirx.SeqStmt([tirx.AllocBuffer(frag)] + body + gemm_wgmma.closing_wait(call))


def _accumulator_ok(func_body, acc, gemm) -> bool:
    """``acc`` is the accumulator of ``gemm`` alone, and no tile op but fills and copies uses it otherwise."""
    ok = [True]

    def on_call(call):
        if not is_tile_call(call) or not count_uses(call, acc):
            return
        name = call.op.name.split(".", 1)[1]
        if call.same_as(gemm):
            return
        if name not in ("fill", "copy"):
            ok[0] = False
    tvm_ffi.structural_walk(func_body, (Call, on_call))
    return ok[0]


class _Rewriter(StmtRewriter):
    def __init__(self, func_body, nthreads):
        super().__init__()
        self.func_body = func_body
        self.nthreads = nthreads
        self.removed = []  # the 16-bit tiles no longer needed

    def visit_SeqStmt(self, stmt):
        stmts = flatten_seq([self.visit(s) for s in stmt.seq])
        k = 0
        while k < len(stmts):
            found = self._match(stmts, k)
            if found is None:
                k += 1
                continue
            gemm_at, new_gemm = found
            stmts[gemm_at] = tirx.Evaluate(new_gemm)
            del stmts[k]
        if len(stmts) == len(stmt.seq) and all(a.same_as(b) for a, b in zip(stmts, stmt.seq)):
            return stmt
        return tirx.SeqStmt(stmts) if len(stmts) > 1 else stmts[0]

    def _match(self, stmts, k):
        cast = _cast_nest(stmts[k])
        if cast is None:
            return None
        tile16, tile8 = cast
        for g in range(k + 1, len(stmts)):
            s = stmts[g]
            if is_tile_statement(s, "gemm") and count_uses(s, tile16):
                return self._swap(stmts, k, g, tile16, tile8)
            written = written_buffers(s)
            if written is None or count_uses(s, tile16) or any(b.same_as(tile8) for b in written):
                return None
        return None

    def _swap(self, stmts, k, g, tile16, tile8):
        gemm = stmts[g].value
        a, b, c = gemm.args
        if not b.source.same_as(tile16) or a.source.same_as(tile16) or not whole_region(b) or \
                str(a.source.ty.dtype) != str(tile16.ty.dtype) or a.source.scope() not in SHARED_SCOPES:
            return None
        if any(any(x.same_as(a.source) for x in (written_buffers(s) or [a.source])) for s in stmts[k + 1:g]):
            return None
        # the 16-bit tile: its allocation, the cast's store and the gemm's operand, nothing else in the kernel
        if count_uses(self.func_body, tile16) != count_uses(stmts[k], tile16) + count_uses(stmts[g], tile16) + 1:
            return None
        if not _accumulator_ok(self.func_body, c.source, gemm):
            return None
        new = swapped_call(gemm, tile8[tuple(slice(0, e) for e in tile8.ty.shape)])
        if plan_swapped(new, self.nthreads) is None:
            return None
        self.removed.append(tile16)
        return g, new


def _drop_allocations(body, tiles):
    """``body`` without the allocations of ``tiles``."""
    def on_seq(stmt):
        kept = [s for s in stmt.seq if not (isinstance(s, tirx.AllocBuffer) and any(s.buffer.same_as(t)
                                                                                     for t in tiles))]
        if len(kept) == len(stmt.seq):
            return stmt
        return tirx.SeqStmt(kept) if len(kept) > 1 else kept[0]
    return tvm_ffi.structural_map(body, [(tirx.SeqStmt, on_seq)], order="post")


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.RegisterDequant")
@keep_tiledsl_errors
def RegisterDequant(func, mod, ctx):
    """Convert 8-bit weights for wgmma gemms in registers (see the module docstring)."""
    from .lower_tile_ops import thread_count

    if not schedule("TILEDSL_REGISTER_DEQUANT") or not gemm_wgmma.sm90a():
        return func
    nthreads = thread_count(func.body)
    if nthreads % 128:
        return func
    rewriter = _Rewriter(func.body, nthreads)
    body = rewriter.visit(func.body)
    if not rewriter.removed:
        return func
    return func.with_body(_drop_allocations(body, rewriter.removed))
