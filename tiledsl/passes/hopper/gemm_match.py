"""Recognize the canonical tiled GEMM in a tile program.

The program must be exactly (names free, ``T.use_swizzle`` allowed anywhere at the top level):

    with T.Kernel(ceildiv(N, BN), ceildiv(M, BM), threads=128 * NC) as (bx, by):   # or (by, bx) order
        A_s = T.alloc_shared((BM, BK), dt); B_s = T.alloc_shared((BK, BN) or (BN, BK), dt)
        C_f = T.alloc_fragment((BM, BN), "float32")
        T.clear(C_f)
        for k in T.Pipelined(ceildiv(K, BK), num_stages=S):
            T.copy(A[by * BM, k * BK], A_s)
            T.copy(B[k * BK, bx * BN], B_s)      # or B[bx * BN, k * BK] with transpose_B=True
            T.gemm(A_s, B_s, C_f[, transpose_B=True])
        for i, j in T.Parallel(BM, BN):          # zero or more elementwise epilogue steps, e.g. bias + ReLU:
            C_f[i, j] = T.max(C_f[i, j] + bias[bx * BN + j], 0)
        T.copy(C_f, C[by * BM, bx * BN])         # or through a shared tile: T.copy(C_f, C_s); T.copy(C_s, C[...])

with static M, N, K (N and K multiples of 8; ragged edges are left to TMA, which zero-fills loads past a tensor
and clips stores, the language's own edge semantics), float16 / bfloat16 inputs, or float8 (e4m3fn, e5m2, mixed)
with B as [N, K], fp32 accumulation, a float16, bfloat16 or float32 output, BK a multiple of the wgmma k-step (the
kernel steps K by one 128-byte swizzle row: 64 16-bit or 128 float8 values, whatever BK the program chose) and
tiles that fit the wgmma shapes, registers and shared memory.
The parameters may come in any order, and others (bias vectors, scales, scalars) may be read by the epilogue steps,
which see only parameters, i, j, the block indices and constants. Every statement must be honoured by the kernel,
or the program is refused: each tile op covers whole tiles, ``clear_accum=False``, the grid is exactly the tile
counts, shared tiles have their tensor's dtype and a staging tile the output's (or float32). :func:`match_gemm`
returns a :class:`GemmPlan`, or None with the reason in ``last_reason``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from tvm import tirx
from tvm.ir import TensorLoad
from tvm.sym import Analyzer

import tvm_ffi

from ...ir.ops import is_tile_call, is_tile_statement
from ...language.loops import NUM_STAGES_ATTR, PARALLEL_ATTR
from ..cuda.warp_specialize import WGMMA_OTHER_REGS, register_budget
from ..rewriter import substitute
from .match_util import NoMatch as _NoMatch
from .match_util import const_int as _int
from .match_util import covers as _covers
from .match_util import extents_are as _extents_are
from .match_util import launches as _launches
from .match_util import require as _require
from .match_util import statements as _stmts

_SMEM_LIMIT = 232448  # bytes of dynamic shared memory per block on sm_90
_SIXTEEN_BIT = ("float16", "bfloat16")
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2")
_OUTPUT_DTYPES = ("float16", "bfloat16", "float32")
_ROW_BYTES = 128  # the kernel's k-step: one 128-byte swizzle row (64 16-bit values, 128 float8 values)


@dataclass(frozen=True)
class EpilogueStep:
    """One ``for i, j in T.Parallel(BM, BN): C_f[i, j] = value`` after the k loop."""

    row: tirx.Var
    col: tirx.Var
    value: tirx.PrimExpr

    def apply(self, accumulator, acc_value, row, col, tile_vars, tiles, clamp=False):
        """``value`` with C_f[i, j] -> ``acc_value``, i/j -> ``row``/``col``, block indices -> ``tiles``; with
        ``clamp``, every other load's indices are clamped into its tensor (for the padding of ragged tiles, whose
        values are never stored)."""
        mapping = {self.row: row, self.col: col, **dict(zip(tile_vars, tiles))}

        def index(ix, dim):
            ix = substitute(ix, mapping)
            return tirx.max(tirx.min(ix, dim - 1), 0) if clamp else ix

        def load(node):
            if node.source.same_as(accumulator):
                return acc_value
            return tirx.BufferLoad(node.source, [index(ix, d) for ix, d in zip(node.indices, node.source.ty.shape)])

        value = tvm_ffi.structural_map(self.value, [(TensorLoad, load)])
        return substitute(value, mapping)


@dataclass(frozen=True)
class GemmPlan:
    """Everything the Hopper GEMM generator needs."""

    name: str
    M: int
    N: int
    K: int
    block_M: int
    block_N: int
    block_K: int
    stages: int
    consumers: int  # consumer warpgroups
    dtype: str  # A's (and, unless b_dtype says otherwise, B's)
    out_dtype: str
    b_k_major: bool  # B given as (N, K) (transpose_B=True)
    num_sms: int = 132
    group_m: int = 8
    split_k: int = 1  # > 1: each output tile is computed by split_k CTAs over K slices, reduced through L2
    params: tuple = ()  # the program's parameters, in order
    roles: tuple = ()  # per parameter: "A", "B", "C" or "" (read by the epilogue only)
    epilogue: tuple = ()  # EpilogueSteps applied to the accumulator, in order, before the store
    accumulator: object = None  # C_f, the fragment the epilogue steps read
    tile_vars: tuple = ()  # the block indices of the M and N tiles in the program
    b_dtype: str = ""  # B's dtype when it differs from A's (float8 e4m3 x e5m2)
    program_block_K: int = 0  # the program's block_K and num_stages (the kernel's are block_K and stages)
    program_stages: int = 0

    @property
    def in_bytes(self) -> int:
        return 1 if self.dtype in _FLOAT8 else 2

    def epilogue_value(self, acc_value, row, col, tiles, clamp=False):
        """The value stored for accumulator element (row, col) of output tile ``tiles`` (M, N tile index)."""
        for step in self.epilogue:
            acc_value = step.apply(self.accumulator, acc_value, row, col, self.tile_vars, tiles, clamp)
        return acc_value

    @property
    def out_bytes(self) -> int:
        return 4 if self.out_dtype == "float32" else 2

    @property
    def k_tiles(self) -> int:
        return -(-self.K // self.block_K)

    @property
    def output_tiles(self) -> int:
        return -(-self.M // self.block_M) * -(-self.N // self.block_N)

    @property
    def split_k_workspace_bytes(self) -> int:
        """Bytes of the fp32 partial sums a split-K kernel keeps in device memory (0 without split-K)."""
        return 0 if self.split_k == 1 else self.output_tiles * self.split_k * self.block_M * self.block_N * 4

    @property
    def subtiles_per_consumer(self) -> int:
        return self.block_M // (64 * self.consumers)

    @property
    def epilogue_cols(self) -> int:
        """Columns staged per epilogue pass: 16 KB per consumer warpgroup."""
        return min(self.block_N, 256 // self.out_bytes)

    @property
    def smem_bytes(self) -> int:
        ring = self.stages * (self.block_M + self.block_N) * self.block_K * self.in_bytes
        staging = self.consumers * self.epilogue_cols * 64 * self.out_bytes
        return ring + staging + 2 * self.stages * 8 + 16  # + the split-K "last CTA" flags


last_reason = ""
SPLIT_K_ATTR = "tiledsl.hopper_gemm_split_k"  # optional function attribute: an int, 1 = never split K
_SPLIT_K_CHOICES = (8, 4, 2)
_SPLIT_K_MIN_K_TILES = 4  # each CTA runs at least this many k-tiles (pipeline fill is not free)
_SPLIT_K_WORKSPACE_LIMIT = 64 << 20


def match_gemm(func: tirx.PrimFunc, num_sms: int = 132) -> GemmPlan | None:
    """The GemmPlan of ``func`` if it is the canonical tiled GEMM (see the module docstring), else None.

    K is split (``GemmPlan.split_k``) when the output has too few tiles to fill half the SMs, unless the function
    attribute ``tiledsl.split_k`` (the general passes' too) or ``tiledsl.hopper_gemm_split_k`` asks for a given
    factor (1 turns it off)."""
    global last_reason
    try:
        plan = _match(func, num_sms)
        plan = replace(plan, split_k=_split_k(plan, _requested_split_k(func)))
        last_reason = ""
        return plan
    except _NoMatch as why:
        last_reason = str(why)
        return None


def _requested_split_k(func) -> int | None:
    from ..split_k import requested_parts  # the general passes' attribute, read and checked as they do, first

    requested = requested_parts(func)
    if requested is not None:
        return requested
    attrs = func.attrs
    if attrs is None or SPLIT_K_ATTR not in attrs:
        return None
    value = attrs[SPLIT_K_ATTR]
    _require(isinstance(value, (int, tirx.IntImm)) and int(value) >= 1,
             f"{SPLIT_K_ATTR} must be a positive int, got {value!r}")
    return int(value)


def _split_k(plan: GemmPlan, requested: int | None) -> int:
    """The split-K factor: the requested one (checked), else the largest of 8/4/2 that keeps every CTA on at least
    4 whole k-tiles and the CTAs within one wave, when the output tiles alone fill less than half the SMs."""
    kt, tiles = plan.k_tiles, plan.output_tiles
    if requested is not None:
        _require(requested == 1 or kt % requested == 0,
                 f"{SPLIT_K_ATTR}={requested} does not divide the {kt} k-tiles of K={plan.K}")
        _require(replace(plan, split_k=requested).split_k_workspace_bytes <= _SPLIT_K_WORKSPACE_LIMIT,
                 f"{SPLIT_K_ATTR}={requested} needs more than 64 MiB of partial sums")
        return requested
    if 2 * tiles > plan.num_sms:
        return 1
    for split in _SPLIT_K_CHOICES:
        if kt % split == 0 and kt // split >= _SPLIT_K_MIN_K_TILES and tiles * split <= plan.num_sms and \
                replace(plan, split_k=split).split_k_workspace_bytes <= _SPLIT_K_WORKSPACE_LIMIT:
            return split
    return 1


def _match(func, num_sms) -> GemmPlan:
    params = list(func.params)
    blocks, threads, body = _launches(func.body)
    _require(len(blocks) == 2 and len(threads) == 1, "the grid is not 2-d with 1-d threads")
    thread_count = _int(threads[0][1], "threads")
    stmts = _stmts(body)
    stmts = [s for s in stmts if not is_tile_statement(s, "use_swizzle")]
    allocs = [s for s in stmts if isinstance(s, tirx.AllocBuffer)]
    rest = [s for s in stmts if not isinstance(s, tirx.AllocBuffer)]
    _require(len(allocs) in (3, 4) and len(rest) >= 3,
             "the block body is not (allocations, clear, pipelined loop, epilogue loops, store)")
    clear, loop, *epilogue_stmts, store = rest
    _require(is_tile_statement(clear, "fill"), "no T.clear of the accumulator")
    _require(isinstance(loop, tirx.For) and NUM_STAGES_ATTR in loop.annotations, "no T.Pipelined loop")
    _require(is_tile_statement(store, "copy"), "no final T.copy")
    loop_stmts = _stmts(loop.body)
    _require(len(loop_stmts) == 3 and all(isinstance(s, tirx.Evaluate) for s in loop_stmts),
             "the pipelined loop is not (copy, copy, gemm)")
    copy_a, copy_b, gemm = (s.value for s in loop_stmts)
    _require(is_tile_call(copy_a, "copy") and is_tile_call(copy_b, "copy") and is_tile_call(gemm, "gemm"),
             "the pipelined loop is not (copy, copy, gemm)")
    a_s, b_s, c_f = (r.source for r in gemm.args)
    _require(not bool(gemm.attrs["transpose_A"]), "transpose_A is not supported by the wgmma path")
    _require(not bool(gemm.attrs.get("clear_accum", False)),
             "T.gemm(clear_accum=True) overwrites the accumulator every k step (the kernel sums over all of K)")
    b_k_major = bool(gemm.attrs["transpose_B"])
    A, B = copy_a.args[0].source, copy_b.args[0].source
    _require(copy_a.args[1].source.same_as(a_s), "A is not copied into A's tile")
    _require(copy_b.args[1].source.same_as(b_s), "B is not copied into B's tile")
    fill_dst, fill_value = clear.value.args
    _require(fill_dst.source.same_as(c_f) and isinstance(fill_value, tirx.FloatImm) and float(fill_value.value) == 0,
             "the accumulator is not cleared to zero")
    staging_copy = None
    if epilogue_stmts and _is_shared_staging(epilogue_stmts[-1], c_f, store.value, allocs):
        staging_copy = epilogue_stmts[-1].value
        epilogue_stmts = epilogue_stmts[:-1]  # T.copy(C_f, C_s); T.copy(C_s, C): the same as T.copy(C_f, C)
        store_from = c_f
    else:
        _require(len(allocs) == 3, "an allocation is neither a tile of A or B nor the accumulator")
        store_from = store.value.args[0].source
    _require(store_from.same_as(c_f), "the accumulator is not copied to C")
    staging = None if store.value.args[0].source.same_as(c_f) else store.value.args[0].source
    C = store.value.args[1].source
    _require(all(any(x.same_as(p) for p in params) for x in (A, B, C)) and not A.same_as(B) and
             not C.same_as(A) and not C.same_as(B), "A, B and C are not three distinct tensor parameters")

    dtype, out_dtype, acc_dtype = str(A.ty.dtype), str(C.ty.dtype), str(c_f.ty.dtype)
    b_dtype = str(B.ty.dtype)
    _require((dtype in _SIXTEEN_BIT and b_dtype == dtype) or (dtype in _FLOAT8 and b_dtype in _FLOAT8),
             "inputs are not both float16, both bfloat16 or both float8 (e4m3fn / e5m2)")
    in_bytes = 1 if dtype in _FLOAT8 else 2
    _require(in_bytes == 2 or b_k_major, "a float8 GEMM needs B as [N, K] with transpose_B=True (wgmma reads 8-bit "
                                         "operands K-major only)")
    _require(out_dtype in _OUTPUT_DTYPES, "the output is not float16, bfloat16 or float32")
    _require(acc_dtype == "float32", "the accumulator is not float32")
    _require(len(A.ty.shape) == 2 and len(B.ty.shape) == 2 and len(C.ty.shape) == 2, "A, B or C is not 2-d")
    M, K = (_int(s, "M/K") for s in A.ty.shape)
    N = _int(C.ty.shape[1], "N")
    BM, BK = (_int(s, "the A tile") for s in a_s.ty.shape)
    BM2, BN = (_int(s, "the accumulator tile") for s in c_f.ty.shape)
    b_tile = tuple(_int(s, "the B tile") for s in b_s.ty.shape)
    _require(BM2 == BM and b_tile == ((BN, BK) if b_k_major else (BK, BN)), "tile shapes disagree")
    _require(tuple(_int(s, "C's shape") for s in C.ty.shape) == (M, N) and
             tuple(_int(s, "B's shape") for s in B.ty.shape) == ((N, K) if b_k_major else (K, N)),
             "the shapes of A, B and C are not (M, K), " + ("(N, K)" if b_k_major else "(K, N)") + " and (M, N)")
    _require(str(a_s.ty.dtype) == dtype and str(b_s.ty.dtype) == b_dtype,
             f"a shared tile's dtype ({a_s.ty.dtype}, {b_s.ty.dtype}) differs from its tensor's ({dtype}, {b_dtype}):"
             " the copy would round the inputs, the kernel does not")
    _require(staging is None or str(staging.ty.dtype) in (out_dtype, "float32"),
             f"the staging tile {staging.name if staging is not None else ''} rounds the result to "
             f"{staging.ty.dtype if staging is not None else ''} before the {out_dtype} output; the kernel does not")
    _check_whole_tiles(clear.value, copy_a, copy_b, gemm, store.value, staging_copy, c_f, (BM, BK), b_tile, (BM, BN))
    _require(BK % (32 // in_bytes) == 0, f"block_K is not a multiple of {32 // in_bytes} (the wgmma k-step)")
    _require((K * in_bytes) % 16 == 0 and (N * 2) % 16 == 0,
             "K or N is too ragged: TMA needs rows of whole 16-byte units (K a multiple of "
             f"{16 // in_bytes}, N of 8)")
    _require(thread_count % 128 == 0, "threads is not a multiple of 128 (whole warpgroups)")
    consumers = thread_count // 128
    _require(BM % (64 * consumers) == 0 and BM // (64 * consumers) in (1, 2),
             "each consumer warpgroup must own 64 or 128 rows of block_M")
    _require(BN % 64 == 0 and BN <= 256, "block_N is not a multiple of 64 up to 256")
    accumulator_regs = (BM // consumers // 64) * BN // 2
    # ptxas checks each wgmma against the registers a thread holds at launch, not after setmaxnreg.inc
    fits = min(128, register_budget(128 * (consumers + 1))[0] - WGMMA_OTHER_REGS)
    _require(accumulator_regs <= fits, f"the accumulator needs {accumulator_regs} registers per thread, more than "
             f"{fits} with {consumers} consumer warpgroups and the producer")
    stages = max(int(loop.annotations[NUM_STAGES_ATTR]), 2)
    _require(_int(loop.min, "loop start") == 0 and _int(loop.extent, "the k loop") == -(-K // BK),
             "the k loop is not 0..ceildiv(K, BK)")
    tile_m, tile_n = _check_regions(copy_a, copy_b, store.value, blocks, loop.loop_var, BM, BN, BK, b_k_major)
    _check_grid(blocks, tile_m, tile_n, -(-M // BM), -(-N // BN))
    epilogue = tuple(_epilogue_step(s, c_f, BM, BN, params, (tile_m, tile_n)) for s in epilogue_stmts)
    name = str(func.attrs["global_symbol"]) if func.attrs is not None and "global_symbol" in func.attrs else "gemm"
    roles = tuple("A" if p.same_as(A) else "B" if p.same_as(B) else "C" if p.same_as(C) else "" for p in params)
    # the kernel always steps K by 64 (one 128-byte swizzle row): the program's block_K only sets its k-loop
    # bounds; with a smaller block_K, fewer stages of 64 may fit, so the stage count shrinks (not below 2) to fit
    plan = GemmPlan(name, M, N, K, BM, BN, _ROW_BYTES // in_bytes, stages, consumers, dtype, out_dtype, b_k_major,
                    num_sms, params=tuple(params), roles=roles, epilogue=epilogue, accumulator=c_f,
                    tile_vars=(tile_m, tile_n), b_dtype=b_dtype if b_dtype != dtype else "", program_block_K=BK,
                    program_stages=int(loop.annotations[NUM_STAGES_ATTR]))
    while plan.smem_bytes > _SMEM_LIMIT and plan.stages > 2:
        plan = replace(plan, stages=plan.stages - 1)
    _require(plan.smem_bytes <= _SMEM_LIMIT, f"needs {plan.smem_bytes} B of shared memory")
    return plan


def _check_whole_tiles(clear, copy_a, copy_b, gemm, store, staging_copy, c_f, a_tile, b_tile, c_tile):
    """Every tile op of the program moves or computes whole tiles: the kernel does nothing else."""
    az = Analyzer()
    a_s, b_s = gemm.args[0].source, gemm.args[1].source
    _covers(clear.args[0], c_f, "the T.clear of the accumulator", az)
    _covers(copy_a.args[1], a_s, "the copy of A", az)
    _extents_are(copy_a.args[0], a_tile, "the copy of A", az)
    _covers(copy_b.args[1], b_s, "the copy of B", az)
    _extents_are(copy_b.args[0], b_tile, "the copy of B", az)
    for arg, buf in zip(gemm.args, (a_s, b_s, c_f)):
        _covers(arg, buf, "T.gemm", az)
    if staging_copy is not None:
        _covers(staging_copy.args[0], c_f, "the copy into the staging tile", az)
        _covers(staging_copy.args[1], staging_copy.args[1].source, "the copy into the staging tile", az)
    _covers(store.args[0], store.args[0].source, "the store of the result", az)
    _extents_are(store.args[1], c_tile, "the store of the result", az)


def _check_grid(blocks, tile_m, tile_n, m_tiles, n_tiles) -> None:
    """The launch grid is exactly (ceildiv(M, BM), ceildiv(N, BN)) blocks: the kernel writes every output tile."""
    for var, extent in blocks:
        _int(extent, "a grid extent")
        if var.same_as(tile_m):
            _require(int(extent) == m_tiles, f"the grid launches {int(extent)} blocks over M, not ceildiv(M, "
                                             f"block_M) = {m_tiles} (the kernel writes every output tile)")
        if var.same_as(tile_n):
            _require(int(extent) == n_tiles, f"the grid launches {int(extent)} blocks over N, not ceildiv(N, "
                                             f"block_N) = {n_tiles} (the kernel writes every output tile)")


def _is_shared_staging(stmt, c_f, store, allocs) -> bool:
    """``T.copy(C_f, C_s)`` right before ``T.copy(C_s, C)``, C_s a whole-tile shared allocation."""
    if not is_tile_statement(stmt, "copy"):
        return False
    src, dst = (r.source for r in stmt.value.args)
    staged = store.args[0].source
    return (src.same_as(c_f) and dst.same_as(staged) and len(allocs) == 4 and
            str(staged.scope()).startswith("shared") and
            [int(x) for x in staged.ty.shape] == [int(x) for x in c_f.ty.shape])


def _parallel_nest(stmt):
    """(loop vars, extents, innermost body) of a ``T.Parallel`` nest, or None."""
    loop_vars, extents = [], []
    while isinstance(stmt, tirx.For) and PARALLEL_ATTR in stmt.annotations:
        _require(isinstance(stmt.min, tirx.IntImm) and int(stmt.min) == 0, "a T.Parallel loop does not start at 0")
        loop_vars.append(stmt.loop_var)
        extents.append(_int(stmt.extent, "a T.Parallel extent"))
        stmt = stmt.body
    return (loop_vars, extents, stmt) if loop_vars else None


def _epilogue_step(stmt, c_f, BM, BN, params, tile_vars) -> EpilogueStep:
    """An elementwise update of the accumulator, ``for i, j in T.Parallel(BM, BN): C_f[i, j] = f(C_f[i, j], ...)``,
    where f reads only parameters, the loop and block indices and constants."""
    nest = _parallel_nest(stmt)
    _require(nest is not None, "a statement between the k loop and the store is not an elementwise "
                               "T.Parallel update of the accumulator")
    loop_vars, extents, body = nest
    _require(extents == [BM, BN] and isinstance(body, tirx.BufferStore) and body.buffer.same_as(c_f) and
             len(body.indices) == 2 and all(ix.same_as(v) for ix, v in zip(body.indices, loop_vars)),
             "the epilogue loop is not C_f[i, j] = ... over T.Parallel(block_M, block_N)")
    i, j = loop_vars
    allowed = [i, j, c_f, *tile_vars, *params]
    problems = []

    def check_load(load):
        if load.source.same_as(c_f):
            if not (len(load.indices) == 2 and load.indices[0].same_as(i) and load.indices[1].same_as(j)):
                problems.append("reads the accumulator at another element than [i, j]")
        elif not any(load.source.same_as(p) for p in params):
            problems.append(f"reads {load.source.name}, which is not a parameter")

    def check_var(var):
        if isinstance(getattr(var, "ty", None), tirx.BufferType):
            return  # a buffer: check_load judges its use
        if not any(var.same_as(a) for a in allowed):
            problems.append(f"uses {var.name}")

    tvm_ffi.structural_walk(body.value, [(TensorLoad, check_load), (tirx.Var, check_var)])
    if problems:
        raise _NoMatch(f"the epilogue {problems[0]}")
    return EpilogueStep(i, j, body.value)


def _check_regions(copy_a, copy_b, store, blocks, k, BM, BN, BK, b_k_major):
    """The (M tile, N tile) block variables, after checking every copy's tile origin."""
    analyzer = Analyzer()
    by_m = [v for v, _ in blocks]
    a_min = [r.min for r in copy_a.args[0].region]
    c_min = [r.min for r in store.args[1].region]
    b_min = [r.min for r in copy_b.args[0].region]

    def same(x, y) -> bool:
        return analyzer.can_prove_equal(x, y)

    for tm, tn in (by_m, by_m[::-1]):
        if same(a_min[0], tm * BM) and same(a_min[1], k * BK) and same(c_min[0], tm * BM) and \
                same(c_min[1], tn * BN):
            expect_b = (tn * BN, k * BK) if b_k_major else (k * BK, tn * BN)
            _require(same(b_min[0], expect_b[0]) and same(b_min[1], expect_b[1]), "B's tile origin is unusual")
            return tm, tn
    raise _NoMatch("the tile origins are not (by * BM, k * BK) / (by * BM, bx * BN)")
