"""T.gemm on Hopper tensor cores: ``wgmma.mma_async`` (sm_90a), A and B from swizzled shared tiles, or A from
registers when it is a fragment laid out like a wgmma accumulator (attention's P).

``plan(body, nthreads)`` picks, for each gemm whose operands allow it, a grid of warpgroups and gives the
accumulator the :class:`WGMMAAccumulator` layout: A (shared or a 16-bit fragment) and B (shared) of one type
(fp16, bf16: either majorness; fp8 e4m3/e5m2: A as [M, K], B as [N, K]), a float32 accumulator fragment of shape
(M, N), shared tiles whose rows are 64 bytes (K-major only) or whole multiples of 128 bytes with 8k rows, K a
multiple of the instruction's k (16, 8-bit: 32), M a multiple of 64 per warpgroup row and at most 256 columns per
warpgroup. Also (``TILEDSL_WGMMA_MORE_TYPES=0`` turns these off): int8/uint8 A [M, K] and
B [N, K] into an int32 fragment (N per warpgroup one the integer instruction has), fp16 and fp8 operands into a
float16 fragment (``accum_dtype="float16"``: two accumulators per register), and an 8-bit A held in a fragment
(written to a shared tile first). ``operand_layouts`` gives each shared operand the :class:`WGMMATile` layout its
descriptor describes.

``lower`` emits, per gemm: ``fence.proxy.async`` (shared writes by threads become visible to the tensor cores),
``wgmma.fence``, one ``wgmma.mma_async`` per 64-row block and k-step (descriptor = tile address + a constant
byte offset, see :meth:`WGMMATile.byte_offset`), ``commit_group`` and ``wait_group 0``: the gemm has finished when
the statement ends, so the accumulator and the shared tiles can be used at once by the code that follows. A gemm
that PipelineCUDA marked ``wgmma_in_flight`` (a pipelined loop of gemms only) waits with ``wait_group 1``
instead: the previous iteration's group is done, this one may run on; the loop drains with ``wait_group 0``.
Descriptors take their address through ``access_ptr("r")`` so TVM's ThreadSync sees the shared reads.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import Call
from tvm.script import tirx as T
from tvm.sym import Analyzer

from ... import config
from ...errors import TileProgramError
from ...ir.ops import is_tile_call
from ..lowering_options import schedule
from ..rewriter import seq
from ..tile_lowering_utils import const_ints, flat_index, tile_dims, u32_view, whole_region, without_access
from .layout import WGMMAAccumulator
from .smem_swizzle import wgmma_tile
from ...language.buffers import SHARED_SCOPES

_TYPES = {"float16": "f16", "bfloat16": "bf16", "float8_e4m3fn": "e4m3", "float8_e5m2": "e5m2", "int8": "s8",
          "uint8": "u8"}
_INTEGER = ("int8", "uint8")
logger = logging.getLogger("tiledsl")
_warned_forms: set = set()  # 8-bit operand forms already warned about in this process
# N of one integer wgmma (PTX ISA 9.7.17.5.2: multiples of 8 up to 32, then of 16 up to 224)
_INTEGER_N = (8, 16, 24, 32) + tuple(range(48, 225, 16))
_MAX_N = 256
_REGISTERS_PER_BLOCK = 65536  # 32-bit registers of one SM, the most one block may hold (sm_90)
_REGISTERS_PER_THREAD = 255  # the most one thread may address
TMA_OPERANDS_ATTR = "wgmma_tma_operands"  # set by PipelineCUDA: only TMA wrote the shared operands (no proxy fence)
IN_FLIGHT_ATTR = "wgmma_in_flight"  # set by PipelineCUDA: this gemm may finish during the next loop iteration
FENCED_ATTR = "wgmma_fenced"  # set by PipelineCUDA: the threads' writes of its operands were fenced before the loop
NO_WAIT_ATTR = "wgmma_no_wait"  # set by ScheduleWgmmaGemms: a later statement waits for this gemm
COUNTED_ATTR = "wgmma_counted"  # set by ScheduleWgmmaGemms: its waits count this gemm's group
DEQUANT_ATTR = "register_dequant"  # set by RegisterDequant: C = (A B)^T, A an 8-bit tile converted in registers


@dataclass(frozen=True)
class WGMMAPlan:
    """How one accumulator's gemms run: the warpgroup grid (its layout) and the operand type."""

    layout: WGMMAAccumulator
    in_dtype: str
    strategy: str = "wgmma"
    b_dtype: str | None = None  # B's type where it may differ from A's (int8 x uint8)
    dequant: str | None = None  # the 8-bit type of a weight converted in registers (register_dequant.py)

    @property
    def groups(self):
        """(warpgroup rows, warpgroup columns)."""
        return self.layout.groups_m, self.layout.warps_n


def sm90a() -> bool:
    """True when the current target is a CUDA sm_90a target (wgmma needs the ``a`` variant)."""
    from ...runtime.target import current_arch

    return current_arch() == "sm_90a"


def _whole_tile(region) -> bool:
    """The region is one whole 2-d tile of its buffer (the last two dims in full, unit extents elsewhere)."""
    shape = const_ints(list(region.source.ty.shape), "T.gemm")
    ext = const_ints([r.extent for r in region.region], "T.gemm")
    if len(shape) < 2 or ext[-2:] != shape[-2:] or any(e != 1 for e in ext[:-2]):
        return False
    return all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 for r in region.region[-2:])


def _k_step(dtype: str) -> int:
    return 16 if dtype in ("float16", "bfloat16") else 32


def _group_grid(M, N, ngroups, b_mn_major, integer=False):
    """(groups_m, groups_n): warpgroups along M first (row statistics then need no cross-warp step); ``integer``:
    each warpgroup's N must be one the integer wgmma has."""
    for gn in range(1, ngroups + 1):
        if ngroups % gn:
            continue
        gm = ngroups // gn
        nw = N // gn if N % gn == 0 else 0
        if M % (64 * gm) or not nw or nw % 8 or nw > _MAX_N or (integer and nw not in _INTEGER_N):
            continue
        if b_mn_major and gn > 1 and nw % 64:
            continue
        return gm, gn
    return None


def _operand_ok(region, mn_major: bool) -> bool:
    buf = region.source
    if buf.scope() == "local.fragment":
        return False
    tile = wgmma_tile(buf)
    if tile is None or not _whole_tile(region):
        return False
    return not mn_major or (tile.swizzle_bytes == 128 and tile.elem_bytes == 2)


def _accumulators(dtype: str) -> tuple:
    """The accumulator types wgmma takes for operands of ``dtype`` (int32 for 8-bit integers; float16 also for fp16
    and fp8 operands; ``TILEDSL_WGMMA_MORE_TYPES=0`` leaves float32 only)."""
    more = config.wgmma_more_types_enabled()
    if dtype in _INTEGER:
        return ("int32",) if more else ()
    if dtype == "bfloat16" or not more:
        return ("float32",)
    return ("float32", "float16")


def _warn_k_major(dtype: str, trans_a: bool, trans_b: bool) -> None:
    """Say once per process and form that an 8-bit gemm whose operands are not both K-major, and which
    KMajorCopies left as written, takes the FMA path (W8A8 4096^3 on the H100: 18 ms against 0.12 ms on wgmma)."""
    if (dtype, trans_a, trans_b) in _warned_forms:
        return
    _warned_forms.add((dtype, trans_a, trans_b))
    where = "A stored [K, M] (transpose_A=True)" if trans_a else "B stored [K, N] (transpose_B=False)"
    logger.warning("T.gemm of %s operands with %s runs on FMA, about 100x slower than wgmma: sm_90a's 8-bit wgmma "
                   "reads both operands K-major, and no K-major copy was made (TILEDSL_K_MAJOR_COPIES=0, or the "
                   "operand is not a whole 2-d shared tile whose copy wgmma takes); store A as [M, K] and B as "
                   "[N, K] with transpose_B=True", dtype, where)


def plan_one(call, nthreads: int):
    """The WGMMAPlan of one gemm call for ``nthreads`` threads, or None when wgmma does not take it as written."""
    if call.attrs is not None and DEQUANT_ATTR in call.attrs:
        from .register_dequant import plan_swapped
        return plan_swapped(call, nthreads)
    a, b, c = call.args
    dtype = str(a.source.ty.dtype)
    integer = dtype in _INTEGER
    same_kind = str(b.source.ty.dtype) in _INTEGER if integer else str(b.source.ty.dtype) == dtype
    if (dtype not in _TYPES or not same_kind or str(c.source.ty.dtype) not in _accumulators(dtype)
            or c.source.scope() != "local.fragment" or b.source.scope() not in SHARED_SCOPES):
        return None
    trans_a, trans_b = bool(call.attrs["transpose_A"]), bool(call.attrs["transpose_B"])
    eight_bit = dtype not in ("float16", "bfloat16")
    if eight_bit and (trans_a or not trans_b):
        _warn_k_major(dtype, trans_a, trans_b)
        return None  # 8-bit wgmma reads both operands K-major
    if eight_bit and a.source.scope() == "local.fragment" and not config.wgmma_more_types_enabled():
        return None  # (by default an 8-bit fragment A is written to a shared tile first: registers_ok)
    if a.source.scope() == "local.fragment":
        tile = wgmma_tile(tirx.decl_buffer(a.source.ty.shape, dtype, "probe", scope="shared.dyn"))
        if trans_a or tile is None or not _whole_tile(a):
            return None  # (a fragment that cannot be read as registers is staged through such a tile)
    elif a.source.scope() not in SHARED_SCOPES or not _operand_ok(a, mn_major=trans_a):
        return None
    if not _operand_ok(b, mn_major=not trans_b):
        return None
    a_rows, a_cols = [const_ints([a.region[d].extent], "T.gemm")[0] for d in tile_dims(a)]
    M, K = (a_cols, a_rows) if trans_a else (a_rows, a_cols)
    b_rows, b_cols = [const_ints([b.region[d].extent], "T.gemm")[0] for d in tile_dims(b)]
    N, KB = (b_rows, b_cols) if trans_b else (b_cols, b_rows)
    shape = tuple(const_ints(list(c.source.ty.shape), "T.gemm"))
    if KB != K or shape != (M, N) or K % _k_step(dtype):
        return None
    grid = _group_grid(M, N, nthreads // 128, b_mn_major=not trans_b, integer=integer)
    if grid is None:
        return None
    return WGMMAPlan(WGMMAAccumulator((M, N), 4 * grid[0], grid[1]), dtype, b_dtype=str(b.source.ty.dtype))


def plan(body, nthreads: int) -> dict:
    """Map accumulator buffer -> WGMMAPlan for each gemm that can use wgmma (empty unless the target is sm_90a)."""
    out, refused = {}, set()
    if nthreads % 128 or not sm90a():
        return out

    def on_call(call):
        if not is_tile_call(call, "gemm"):
            return
        key = call.args[2].source
        p = plan_one(call, nthreads)
        if p is None or out.get(key, p) != p:
            refused.add(key)
            return
        out[key] = p

    tvm_ffi.structural_walk(body, (Call, on_call))
    out = {k: v for k, v in out.items() if k not in refused}
    for acc in out:
        check_accumulator_registers(acc, nthreads)
    return out


def check_accumulator_registers(acc, nthreads: int) -> None:
    """Raise TileProgramError when a wgmma accumulator cannot live in registers at all: wgmma keeps the whole
    tile in its threads' registers (no spilling), so a tile of 65536 or more 32-bit registers (the whole register
    file of an SM), or of 255 or more per thread, makes ptxas abort ("Insufficient registers") after the whole
    build; refused here at once with the tile sizes named."""
    shape = [int(e) for e in acc.ty.shape]
    elements = shape[0] * shape[1]
    registers = elements * tvm.DataType(str(acc.ty.dtype)).bits // 32
    per_thread = registers // nthreads
    if registers < _REGISTERS_PER_BLOCK and per_thread < _REGISTERS_PER_THREAD:
        return
    limit = (f"{registers} registers, the whole register file of an SM ({_REGISTERS_PER_BLOCK} per block)"
             if registers >= _REGISTERS_PER_BLOCK else
             f"{per_thread} registers in each of the {nthreads} threads (at most {_REGISTERS_PER_THREAD})")
    raise TileProgramError(
        f"T.gemm accumulator {acc.name} {shape[0]} x {shape[1]} {acc.ty.dtype}: wgmma holds it in registers and it "
        f"needs {limit}; use a smaller accumulator tile (block_M x block_N)"
        + (" or more threads" if registers < _REGISTERS_PER_BLOCK else ""))


def operand_layouts(call) -> dict:
    """Shared operand buffer -> the WGMMATile layout its descriptor needs."""
    return {r.source: wgmma_tile(r.source) for r in call.args[:2] if r.source.scope() in SHARED_SCOPES}


def registers_ok(low, region, wg_plan: WGMMAPlan) -> bool:
    """True when fragment A can feed wgmma from registers: laid out as a wgmma accumulator of the same warpgroup
    rows, one warpgroup column."""
    lay = low.layouts.get(region.source)
    M = wg_plan.layout.shape[0]
    if wg_plan.in_dtype not in ("float16", "bfloat16"):
        return False  # an 8-bit A fragment's register order is not the accumulator's
    return (isinstance(lay, WGMMAAccumulator) and lay.warps_n == 1 and wg_plan.layout.warps_n == 1
            and lay.groups_m == wg_plan.layout.groups_m and lay.shape[0] == M and whole_region(region))


class _Descriptor:
    """A shared tile's wgmma descriptor: base address of the tile (its stage) + constant byte offsets."""

    def __init__(self, region, mn_major: bool, seen: bool = True):
        buf = region.source
        self.tile = wgmma_tile(buf)
        shape = list(buf.ty.shape)
        start = [r.min for r in region.region]
        start[-2], start[-1] = tirx.const(0, "int32"), tirx.const(0, "int32")
        stage_elems = flat_index(start, shape)  # the tile layout keeps whole tiles (stages) in place
        ptr = buf.access_ptr("r", offset=stage_elems)
        if not seen:  # only TMA writes the tile: ThreadSync needs no barrier for this read
            ptr = without_access(ptr)
        self.addr = tirx.call_intrin("uint32", "tirx.cuda.cvta_generic_to_shared", ptr)
        t = self.tile
        if mn_major:  # LBO: between 64-element MN panels; SBO: between groups of 8 k-rows
            lbo, sbo = t.panel_bytes // 16, 8 * t.swizzle_bytes // 16
        else:  # K-major with swizzle: LBO unused (1); SBO: between groups of 8 rows
            lbo, sbo = 1, 8 * t.swizzle_bytes // 16
        self.high = (tirx.Cast("uint64", tirx.const(t.swizzle_code, "int32")) << tirx.const(62, "uint64")) | \
            tirx.const((sbo << 32) | (lbo << 16), "uint64")

    def at(self, byte_offset):
        """The descriptor of the matrix starting ``byte_offset`` bytes (unswizzled) into the tile.

        By default (``TILEDSL_DESCRIPTOR_OFFSETS=0`` switches it off) and an offset provably a multiple of 16: the
        tile's own descriptor plus offset / 16, one 64-bit add per wgmma where the default form spends an add, a shift,
        a mask, a widening and an or (the hand-written kernels add to one descriptor too). The same value: the start
        field (bits 0-13) holds address / 16, and the matrix's address (tile + offset) is a shared address, at least 0
        and below 2^18 bytes, so the field's sum never carries into or borrows from the bits above it (64-bit
        wrap-around makes an offset below the tile's start exact too; ``testing/test_wgmma_descriptors.py`` checks the
        identity)."""
        runtime, constant = _split_constant(byte_offset)
        if not schedule("TILEDSL_DESCRIPTOR_OFFSETS") or constant % 16 or \
                (runtime is not None and not Analyzer().can_prove(tirx.floormod(runtime, 16) == 0)):
            return self._encode(self.addr + tirx.Cast("uint32", byte_offset))
        desc = self._encode(self.addr)
        if runtime is not None:  # the runtime part first: one 64-bit value shared by the gemm's wgmmas
            desc = desc + tirx.Cast("uint64", tirx.floordiv(runtime, 16))
        if constant > 0:  # then an immediate per wgmma (one wide sum per constant would each hold 2 registers)
            desc = desc + tirx.const(constant // 16, "uint64")
        elif constant < 0:
            desc = desc - tirx.const(-constant // 16, "uint64")
        return desc

    def _encode(self, address):
        """The descriptor of the matrix at shared ``address`` (bytes)."""
        start = tirx.bitwise_and(tirx.shift_right(address, tirx.const(4, "uint32")), tirx.const(0x3FFF, "uint32"))
        return tirx.bitwise_or(tirx.Cast("uint64", start), self.high)


def _split_constant(offset):
    """``offset`` as (runtime part or None, constant int): ``w * 8192 + 32`` -> (``w * 8192``, 32). The runtime
    part is kept as written (the simplifier would turn ``tx // 128 % 2`` into ``tx % 256 // 128``, which
    WarpUniformIndex no longer recognizes as a warpgroup index)."""
    whole = Analyzer().simplify(offset)
    if isinstance(whole, tirx.IntImm):
        return None, int(whole.value)
    constant = 0
    while isinstance(offset, (tirx.Add, tirx.Sub)):
        sign = 1 if isinstance(offset, tirx.Add) else -1
        if isinstance(offset.b, tirx.IntImm):
            constant, offset = constant + sign * int(offset.b.value), offset.a
        elif isinstance(offset, tirx.Add) and isinstance(offset.a, tirx.IntImm):
            constant, offset = constant + int(offset.a.value), offset.b
        else:
            break
    return offset, constant


def _rows_offset(tile, row, col_const):
    """Byte offset of (row, col) for a runtime row that is a multiple of 8 and a constant column."""
    return row * tile.swizzle_bytes + tile.byte_offset(0, col_const)


def _cols_offset(tile, row_const, col):
    """Byte offset of (row, col) for a runtime column that is a multiple of the panel and a constant row."""
    return tirx.floordiv(col, tile.panel) * tile.panel_bytes + tile.byte_offset(row_const, 0)


def _pack_pair(buf, index):
    """Two consecutive 16-bit registers as one uint32 (a wgmma A register)."""
    return tirx.reinterpret("uint32", tirx.BufferLoad(buf, [tirx.Ramp(tirx.const(index, "int32"), 1, 2)]))


def has_attr(call, key: str) -> bool:
    """Whether a gemm call carries the mark ``key``."""
    return call.attrs is not None and key in call.attrs


def opening_fences(call) -> list:
    """``fence.proxy.async`` (unless only TMA wrote the shared operands, or they were fenced before the loop) and
    ``wgmma.fence``: what a gemm's wgmmas are issued after."""
    fences = [tirx.Evaluate(T.ptx.wgmma.fence.sync.aligned())]
    if not has_attr(call, TMA_OPERANDS_ATTR) and not has_attr(call, FENCED_ATTR):  # threads may have written them
        fences.insert(0, tirx.Evaluate(T.ptx["fence.proxy.async.shared::cta"]()))
    return fences


def closing_wait(call) -> list:
    """The gemm's wait: none where a later statement waits (async_gemms.py), else ``wait_group`` 1 for a gemm left
    in flight by PipelineCUDA, 0 otherwise."""
    if has_attr(call, NO_WAIT_ATTR):
        return []
    return [tirx.Evaluate(T.ptx.wgmma.wait_group.sync.aligned(1 if has_attr(call, IN_FLIGHT_ATTR) else 0))]


def lower(low, call, wg_plan: WGMMAPlan, a_in_registers: bool):
    """wgmma code for one planned gemm (A from registers when ``a_in_registers``)."""
    if wg_plan.dequant is not None:
        from .register_dequant import lower_swapped
        return lower_swapped(low, call, wg_plan)
    a, b, c = call.args
    trans_a, trans_b = bool(call.attrs["transpose_A"]), bool(call.attrs["transpose_B"])
    lay = wg_plan.layout
    M, N = lay.shape
    gm, gn = wg_plan.groups
    Mw, Nw = M // gm, N // gn
    dtype = wg_plan.in_dtype
    ks = _k_step(dtype)
    K = const_ints([a.region[tile_dims(a)[0 if trans_a else 1]].extent], "T.gemm")[0]
    group = low.tid // 128
    row0, col0 = (group // gn) * Mw, (group % gn) * Nw
    acc = low.locals[c.source]
    acc_dtype = str(acc.ty.dtype)
    per_register = 2 if acc_dtype == "float16" else 1  # fp16 accumulators: two to a .f16x2 register
    alias = []
    if acc_dtype != "float32":  # int32 / pairs of fp16 reach the instruction as .u32 registers: the same bits
        acc, declared = u32_view(acc)
        alias = [declared]
    tma_only = has_attr(call, TMA_OPERANDS_ATTR)
    b_desc = _Descriptor(b, mn_major=not trans_b, seen=not tma_only)
    a_desc = None if a_in_registers else _Descriptor(a, mn_major=trans_a, seen=not tma_only)
    t = _TYPES[dtype]
    if dtype in _INTEGER:  # D (int32) = A * B + D, no negation or transposition operands
        name = f"wgmma.mma_async.sync.aligned.m64n{Nw}k{ks}.s32.{t}.{_TYPES[wg_plan.b_dtype or dtype]}"
    else:
        d_type = "f16" if acc_dtype == "float16" else "f32"
        name = f"wgmma.mma_async.sync.aligned.m64n{Nw}k{ks}.{d_type}.{t}.{t}"
    op = T.ptx[name]
    clear = bool(call.attrs["clear_accum"])
    body = opening_fences(call)  # (FENCED_ATTR: no fence here; ThreadSync still sees the reads)
    for kk in range(K // ks):
        k0 = kk * ks
        if trans_b:  # B [N, K], K-major
            db = b_desc.at(_rows_offset(b_desc.tile, col0, k0))
        else:  # B [K, N], N-major
            db = b_desc.at(_cols_offset(b_desc.tile, k0, col0))
        scale_d = tirx.const(not (clear and kk == 0), "bool")
        for mi in range(Mw // 64):
            per_block = Nw // 2 // per_register  # the m64 block's accumulator registers
            regs = [tirx.BufferLoad(acc, [mi * per_block + q]) for q in range(per_block)]
            if a_in_registers:
                a_regs = low.locals[a.source]
                base = mi * (K // 2) + kk * 8  # 16-bit pairs of the m64 x k16 slice, in wgmma's A order
                a_ops = [_pack_pair(a_regs, base + 2 * q) for q in range(4)]
                body.append(tirx.Evaluate(op(*regs, *a_ops, db, scale_d, 1, 1, int(not trans_b))))
                continue
            if trans_a:  # A [K, M], M-major
                da = a_desc.at(_cols_offset(a_desc.tile, k0, row0 + mi * 64))
            else:
                da = a_desc.at(_rows_offset(a_desc.tile, row0 + mi * 64, k0))
            if dtype in ("float16", "bfloat16"):
                body.append(tirx.Evaluate(op(*regs, da, db, scale_d, 1, 1, int(trans_a), int(not trans_b))))
            elif dtype in _INTEGER:
                body.append(tirx.Evaluate(op(*regs, da, db, scale_d)))
            else:
                body.append(tirx.Evaluate(op(*regs, da, db, scale_d, 1, 1)))
    body.append(tirx.Evaluate(T.ptx.wgmma.commit_group.sync.aligned()))
    return seq(alias + body + closing_wait(call))
