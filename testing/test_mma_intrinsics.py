"""tiledsl.cuda.intrinsics: hand-written warp-level GEMMs (TensorCoreIntrinEmitter: ldmatrix / mma.sync / stores).

CPU: the emulation against torch (float64 reference, outputs poisoned). nvcc: the CUDA form builds for sm_80 and
sm_90a with real ldmatrix / mma.sync instructions and barriers. A pure-Python model of ldmatrix checks that the
row addresses the CUDA form gives load exactly the fragments the CPU form (and mma.sync) uses. GPU: the same
kernels against torch.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from conftest import poisoned_like
from tiledsl.cuda.intrinsics import TensorCoreIntrinEmitter, get_swizzle_layout, mma_store_index_map
from tiledsl.cuda.intrinsics.layout import a_fragment, b_fragment
from tiledsl.cuda.intrinsics.layout.ldmatrix import ldmatrix_available, ldmatrix_row, ldmatrix_trans
from tiledsl.errors import TileProgramError
from tiledsl.layout import make_swizzled_layout

ARCHS = ["sm_80", "sm_90a"]
_TORCH = {"float16": torch.float16, "bfloat16": torch.bfloat16, "int8": torch.int8, "float32": torch.float32,
          "int32": torch.int32}


def emitter_gemm(M, N, K, in_dtype="float16", accum="float32", out_dtype="float32", trans_a=False, trans_b=True,
                 warps=(2, 2), warp_tile=(32, 32), chunk=32, stages=2, copy_style="T.copy"):
    """Our GEMM written with the emitter. ``copy_style`` "T.copy": tiles loaded by T.copy in a T.Pipelined loop,
    accumulators stored through a shared tile; "per-element": tiles written element by element in T.Parallel
    (TileLang's example style) and accumulators stored straight to global memory (stmatrix with pid_m/pid_n)."""
    em = TensorCoreIntrinEmitter(a_dtype=in_dtype, b_dtype=in_dtype, accum_dtype=accum, a_transposed=trans_a,
                                 b_transposed=trans_b, block_row_warps=warps[0], block_col_warps=warps[1],
                                 warp_row_tiles=warp_tile[0], warp_col_tiles=warp_tile[1], chunk=chunk)
    block_M, block_N, block_K = warps[0] * warp_tile[0], warps[1] * warp_tile[1], chunk
    A_shape, A_tile = ((K, M), (block_K, block_M)) if trans_a else ((M, K), (block_M, block_K))
    B_shape, B_tile = ((N, K), (block_N, block_K)) if trans_b else ((K, N), (block_K, block_N))

    @T.prim_func
    def kernel(A: T.Tensor(A_shape, in_dtype), B: T.Tensor(B_shape, in_dtype), C: T.Tensor((M, N), out_dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=em.threads) as (bx, by):
            A_s = T.alloc_shared(A_tile, in_dtype)
            B_s = T.alloc_shared(B_tile, in_dtype)
            C_s = T.alloc_shared((block_M, block_N), out_dtype)
            A_l = T.alloc_local((em.warp_rows * em.local_size_a,), in_dtype)
            B_l = T.alloc_local((em.warp_cols * em.local_size_b,), in_dtype)
            C_l = T.alloc_local((em.warp_rows * em.warp_cols * em.local_size_out,), accum)
            T.clear(C_l)
            for ko in T.Pipelined(K // block_K, num_stages=stages):
                if copy_style == "T.copy":
                    if trans_a:
                        T.copy(A[ko * block_K, by * block_M], A_s)
                    else:
                        T.copy(A[by * block_M, ko * block_K], A_s)
                    if trans_b:
                        T.copy(B[bx * block_N, ko * block_K], B_s)
                    else:
                        T.copy(B[ko * block_K, bx * block_N], B_s)
                else:
                    for i, k in T.Parallel(block_M, block_K):
                        if trans_a:
                            A_s[k, i] = A[ko * block_K + k, by * block_M + i]
                        else:
                            A_s[i, k] = A[by * block_M + i, ko * block_K + k]
                    for j, k in T.Parallel(block_N, block_K):
                        if trans_b:
                            B_s[j, k] = B[bx * block_N + j, ko * block_K + k]
                        else:
                            B_s[k, j] = B[ko * block_K + k, bx * block_N + j]
                for ki in T.serial(block_K // em.micro_size_k):
                    em.ldmatrix_a(A_l, A_s, ki)
                    em.ldmatrix_b(B_l, B_s, ki)
                    em.mma(A_l, B_l, C_l)
            if copy_style == "T.copy":
                em.stmatrix(C_l, C_s)
                T.copy(C_s, C[by * block_M, bx * block_N])
            else:
                em.stmatrix(C_l, C, by, bx)
    return kernel


@tiledsl.jit
def eager_emitter_gemm(A, B, warp_tile=32, chunk=32, dtype=T.float16, accum_dtype=T.float32):
    """C = A @ B^T in TileLang's newer style, the accumulators stored through a 4-d shared tile of 16 x 16 pieces."""
    em = TensorCoreIntrinEmitter(a_dtype=dtype, b_dtype=dtype, accum_dtype=accum_dtype, b_transposed=True,
                                 block_row_warps=2, block_col_warps=1, warp_row_tiles=warp_tile,
                                 warp_col_tiles=warp_tile, chunk=chunk)
    block_M, block_N = 2 * warp_tile, warp_tile
    M, N, K = T.const("M, N, K")
    A: T.Tensor((M, K), dtype)
    B: T.Tensor((N, K), dtype)
    C = T.empty((M, N), accum_dtype)
    with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=em.threads) as (bx, by):
        A_s = T.alloc_shared((block_M, chunk), dtype)
        B_s = T.alloc_shared((block_N, chunk), dtype)
        C_s = T.alloc_shared((block_M // 16, block_N // 16, 16, 16), accum_dtype)
        A_l = T.alloc_local((em.warp_rows * em.local_size_a,), dtype)
        B_l = T.alloc_local((em.warp_cols * em.local_size_b,), dtype)
        C_l = T.alloc_local((em.warp_rows * em.warp_cols * em.local_size_out,), accum_dtype)
        T.clear(C_l)
        for ko in T.Pipelined(K // chunk, num_stages=2):
            T.copy(A[by * block_M, ko * chunk], A_s)
            T.copy(B[bx * block_N, ko * chunk], B_s)
            for ki in T.serial(chunk // em.micro_size_k):
                em.ldmatrix_a(A_l, A_s, ki)
                em.ldmatrix_b(B_l, B_s, ki)
                em.mma(A_l, B_l, C_l)
        em.stmatrix(C_l, C_s)
        for i, j in T.Parallel(block_M, block_N):
            C[by * block_M + i, bx * block_N + j] = C_s[i // 16, j // 16, i % 16, j % 16]
    return C


def test_newer_style_emitter_gemm_with_a_4d_accumulator_tile_on_cpu():
    a, b = torch.randn(128, 64).half(), torch.randn(96, 64).half()
    c = eager_emitter_gemm(a, b)
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-3, atol=1e-3)


#: name -> (emitter_gemm arguments). Small sizes: the CPU runs every thread of every block.
CASES = {
    "fp16_f32_bt": dict(M=128, N=64, K=64),
    "fp16_f32_bt_per_element": dict(M=64, N=128, K=64, copy_style="per-element"),
    "bf16_f32_at_bn": dict(M=64, N=64, K=64, in_dtype="bfloat16", trans_a=True, trans_b=False),
    "fp16_f16acc_n8": dict(M=64, N=48, K=64, accum="float16", out_dtype="float16", warps=(2, 2),
                           warp_tile=(32, 24)),
    "int8_s32_bt": dict(M=64, N=64, K=128, in_dtype="int8", accum="int32", out_dtype="int32", chunk=64),
    "int8_s32_bn_per_element": dict(M=64, N=64, K=64, in_dtype="int8", accum="int32", out_dtype="int32",
                                    trans_b=False, copy_style="per-element"),
}


def _inputs(case, device="cpu"):
    cfg = dict(dict(in_dtype="float16", trans_a=False, trans_b=True), **case)
    M, N, K, dtype = cfg["M"], cfg["N"], cfg["K"], cfg["in_dtype"]
    a_shape = (K, M) if cfg["trans_a"] else (M, K)
    b_shape = (N, K) if cfg["trans_b"] else (K, N)
    if dtype == "int8":
        a = torch.randint(-128, 128, a_shape, dtype=torch.int8)
        b = torch.randint(-128, 128, b_shape, dtype=torch.int8)
    else:
        a = torch.randn(a_shape).to(_TORCH[dtype])
        b = torch.randn(b_shape).to(_TORCH[dtype])
    ref = (a.T if cfg["trans_a"] else a).double() @ (b.T if cfg["trans_b"] else b).double()
    return a.to(device), b.to(device), ref


def _check(case, c, ref):
    if case.get("in_dtype") == "int8":
        assert torch.equal(c.cpu().long(), ref.long())  # int32 accumulation is exact at these sizes
    else:
        tol = 2e-2 if case.get("accum") == "float16" else 1e-3
        torch.testing.assert_close(c.cpu().double(), ref, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def cpu_kernels():
    return {name: tiledsl.compile(emitter_gemm(**case), target="llvm") for name, case in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_emitter_gemm_matches_torch_on_cpu(cpu_kernels, name):
    case = CASES[name]
    a, b, ref = _inputs(case)
    c = poisoned_like(torch.empty(case["M"], case["N"], dtype=_TORCH[case.get("out_dtype", "float32")]))
    cpu_kernels[name](a, b, c)
    _check(case, c, ref)


def _source(func, arch):
    return tiledsl.compile(func, target={"kind": "cuda", "arch": arch}).get_kernel_source()


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
def test_fp16_builds_with_ldmatrix_and_mma_sync(arch):
    body = _source(emitter_gemm(**CASES["fp16_f32_bt"]), arch).split("__global__", 2)[2]
    # 2 warps x 2 warps of 32 x 32: per k-step 2 A ldmatrix.x4 + 2 B ldmatrix.x4 and 2 x 2 x 2 mma.sync (n16 = 2 n8)
    assert body.count("ldmatrix_sync_aligned_m8n8_x4_shared_b16(") == 4
    assert body.count("mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(") == 8
    assert "cp_async" in body and "__syncthreads()" in body  # T.copy tiles pipelined, reads ordered by barriers


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
def test_per_element_tiles_get_barriers_around_ldmatrix(arch):
    body = _source(emitter_gemm(**CASES["fp16_f32_bt_per_element"]), arch).split("__global__", 2)[2]
    loop = body.split("for (int ko", 1)[1]
    before_ldmatrix = loop.split("ldmatrix", 1)[0]
    # one barrier before the threads' stores (the last k-step's reads are done) and one before the ldmatrix reads
    assert before_ldmatrix.count("__syncthreads()") == 2


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
def test_other_dtypes_and_layouts_build(arch):
    bf16 = _source(emitter_gemm(**CASES["bf16_f32_at_bn"]), arch)
    assert "ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16(" in bf16  # both operands stored K-major
    assert "mma_sync_aligned_m16n8k16_row_col_f32_bf16_bf16_f32(" in bf16
    f16 = _source(emitter_gemm(**CASES["fp16_f16acc_n8"]), arch)
    assert "ldmatrix_sync_aligned_m8n8_x2_shared_b16(" in f16  # n8 warp tiles: B as two 8 x 8 matrices
    assert "sync_aligned_m16n8k16_row_col_f16_f16_f16_f16(" in f16  # fp16 accumulators in b32 pairs
    s8 = _source(emitter_gemm(**CASES["int8_s32_bt"]), arch)
    assert "ldmatrix_sync_aligned_m8n8_x4_shared_b16(" in s8
    assert "sync_aligned_m16n8k32_row_col_s32_s8_s8_s32(" in s8
    s8n = _source(emitter_gemm(**CASES["int8_s32_bn_per_element"]), arch)
    body = s8n.split("__global__", 2)[2]
    assert body.count("ldmatrix_sync_aligned_m8n8_x4_shared_b16(") == 2  # A only: B (K x N int8) by elements
    assert "sync_aligned_m16n8k32_row_col_s32_s8_s8_s32(" in body


def padded_tile_gemm():
    """One warp, one 16 x 16 x 32 product; A's shared tile is padded to rows of 40 elements (80 bytes, ldmatrix
    rows stay 16-byte aligned) and B's to rows of 36 (72 bytes: not aligned, so loaded element by element); both
    passed as regions."""
    em = TensorCoreIntrinEmitter(a_dtype="float16", b_dtype="float16", accum_dtype="float32", b_transposed=True,
                                 block_row_warps=1, block_col_warps=1, warp_row_tiles=16, warp_col_tiles=16,
                                 chunk=32)

    @T.prim_func
    def kernel(A: T.Tensor((16, 32), "float16"), B: T.Tensor((16, 32), "float16"), C: T.Tensor((16, 16), "float32")):
        with T.Kernel(1, threads=32):
            A_s = T.alloc_shared((16, 40), "float16")
            B_s = T.alloc_shared((16, 36), "float16")
            A_l = T.alloc_local((8,), "float16")
            B_l = T.alloc_local((8,), "float16")
            C_l = T.alloc_local((8,), "float32")
            T.copy(A, A_s[0:16, 0:32])
            T.copy(B, B_s[0:16, 2:34])
            T.clear(C_l)
            for ki in T.serial(2):
                em.ldmatrix_a(A_l, A_s[0:16, 0:32], ki)
                em.ldmatrix_b(B_l, B_s[0:16, 2:34], ki)
                em.mma(A_l, B_l, C_l)
            em.stmatrix(C_l, C)
    return kernel


def test_padded_tiles_and_regions_on_cpu():
    kernel = tiledsl.compile(padded_tile_gemm(), target="llvm")
    a, b = torch.randn(16, 32).half(), torch.randn(16, 32).half()
    c = poisoned_like(torch.empty(16, 16))
    kernel(a, b, c)
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-3, atol=1e-3)


@pytest.mark.nvcc
def test_unaligned_tile_rows_are_loaded_by_elements():
    body = _source(padded_tile_gemm(), "sm_90a").split("__global__", 2)[2]
    assert body.count("ldmatrix_sync_aligned_m8n8_x4_shared_b16(") == 1  # A only
    assert body.count("mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(") == 2


def _ldmatrix_model(tile, lane_rows, trans, num):
    """What each lane's registers hold after ``ldmatrix.x{num}`` (16-bit elements): lane L gives the row of 8
    elements at ``lane_rows[L]``; register q of lane L holds elements 2 * (L % 4), +1 of row L // 4 of matrix q
    (of its column L // 4, elements 2 * (L % 4), +1 of its rows, with .trans)."""
    regs = {}
    for lane in range(32):
        out = []
        for q in range(num):
            rows = [lane_rows[8 * q + r] for r in range(8)]
            for e in range(2):
                if trans:
                    r0, c0 = rows[2 * (lane % 4) + e]
                    out.append(tile[r0][c0 + lane // 4])
                else:
                    r0, c0 = rows[lane // 4]
                    out.append(tile[r0][c0 + 2 * (lane % 4) + e])
        regs[lane] = out
    return regs


@pytest.mark.parametrize("matrix,transposed", [("A", False), ("A", True), ("B", False), ("B", True)])
def test_ldmatrix_rows_load_the_mma_fragments_16bit(matrix, transposed):
    # a 16 x 16 tile of distinct labels, stored as the operand's shared tile (A: m x k or k x m; B: k x n or n x k)
    tile = [[(r, c) for c in range(16)] for r in range(16)]
    rows = [ldmatrix_row(matrix, lane, 16, transposed) for lane in range(32)]
    regs = _ldmatrix_model(tile, rows, ldmatrix_trans(matrix, transposed), 4)
    for lane in range(32):
        for j in range(8):
            if matrix == "A":
                m, k = a_fragment(lane, j, 16)
                want = (k, m) if transposed else (m, k)
            else:
                n, k = b_fragment(lane, j, 16, 16)
                want = (n, k) if transposed else (k, n)
            assert regs[lane][j] == want, (lane, j)


def test_ldmatrix_rows_load_the_mma_fragments_8bit():
    # 8-bit operands stored K-contiguous: one "16-bit" element of ldmatrix is two int8 along k
    assert not ldmatrix_available("A", 8, True) and not ldmatrix_available("B", 8, False)
    for matrix in ("A", "B"):
        transposed = matrix == "B"
        tile = [[(r, c) for c in range(32)] for r in range(16)]
        pairs = [[(tile[r][2 * c], tile[r][2 * c + 1]) for c in range(16)] for r in range(16)]
        rows = [(r, c // 2) for r, c in (ldmatrix_row(matrix, lane, 8, transposed) for lane in range(32))]
        regs = _ldmatrix_model(pairs, rows, False, 4)
        for lane in range(32):
            flat = [x for pair in regs[lane] for x in pair]
            for j in range(16):
                mn, k = a_fragment(lane, j, 8) if matrix == "A" else b_fragment(lane, j, 8, 16)
                assert flat[j] == (mn, k), (matrix, lane, j)


def test_store_index_map_covers_the_tile_once():
    places = {mma_store_index_map(lane, e) for lane in range(32) for e in range(8)}
    assert places == {(r, c) for r in range(16) for c in range(16)}


def test_swizzle_layout_is_a_permutation_and_accepted():
    for row_size, dtype in [(32, "float16"), (64, "float16"), (64, "int8")]:
        places = {get_swizzle_layout(i, j, row_size, dtype) for i in range(16) for j in range(row_size)}
        assert len(places) == 16 * row_size
    assert get_swizzle_layout(2, 0, 32, "float16") == (0, 2, 8)  # 64-byte rows: rows 2, 3 swap chunks 0 and 1
    assert get_swizzle_layout(1, 0, 64, "float16") == (0, 1, 8)  # 128-byte rows: row 1 swaps them

    @T.prim_func
    def kernel(A: T.Tensor((64, 32), "float16")):
        with T.Kernel(1, threads=128):
            A_s = T.alloc_shared((64, 32), "float16")
            T.annotate_layout({A_s: T.Layout(A_s.shape, lambda i, j: list(get_swizzle_layout(i, j, 32, "float16")))})
            T.copy(A, A_s)
            T.copy(A_s, A)
    assert kernel is not None


def test_layout_that_is_not_a_permutation_is_refused():
    def factory():
        @T.prim_func
        def kernel(A: T.Tensor((64, 32), "float16")):
            with T.Kernel(1, threads=128):
                A_s = T.alloc_shared((64, 32), "float16")
                T.annotate_layout({A_s: T.Layout(A_s.shape, lambda i, j: [i, j // 2])})
                T.copy(A, A_s)
        return kernel
    with pytest.raises(TileProgramError, match="sends two elements to .* a layout must be a permutation"):
        tiledsl.jit(factory, target="llvm")()  # as users call it: parser diagnostics become TileProgramError


def test_mma_under_a_thread_branch_is_refused_on_the_cpu():
    em = TensorCoreIntrinEmitter(a_dtype="float16", b_dtype="float16", accum_dtype="float32", b_transposed=True,
                                 block_row_warps=1, block_col_warps=1, warp_row_tiles=16, warp_col_tiles=16,
                                 chunk=16)

    @T.prim_func
    def kernel(A: T.Tensor((16, 16), "float16"), B: T.Tensor((16, 16), "float16"), C: T.Tensor((16, 16), "float32")):
        with T.Kernel(1, threads=64):
            tx = T.get_thread_binding()
            A_s = T.alloc_shared((16, 16), "float16")
            B_s = T.alloc_shared((16, 16), "float16")
            A_l = T.alloc_local((8,), "float16")
            B_l = T.alloc_local((8,), "float16")
            C_l = T.alloc_local((8,), "float32")
            T.copy(A, A_s)
            T.copy(B, B_s)
            T.clear(C_l)
            if tx < 32:
                em.ldmatrix_a(A_l, A_s, 0)
                em.ldmatrix_b(B_l, B_s, 0)
                em.mma(A_l, B_l, C_l)
                em.stmatrix(C_l, C, 0, 0)
    with pytest.raises(TileProgramError, match="every thread of the block must reach it"):
        tiledsl.compile(kernel, target="llvm")


@pytest.mark.parametrize("kwargs,match", [
    (dict(a_dtype="float16", b_dtype="bfloat16"), "equal input dtypes"),
    (dict(a_dtype="float32", b_dtype="float32", accum_dtype="float32"), "not supported"),
    (dict(a_dtype="int8", b_dtype="int8", accum_dtype="float32"), "accumulate in int32"),
    (dict(warp_row_tiles=24), "multiple of 16"),
    (dict(chunk=8), "multiple of the mma instruction's K"),
])
def test_bad_emitter_arguments_are_refused(kwargs, match):
    args = dict(a_dtype="float16", b_dtype="float16", accum_dtype="float32", warp_row_tiles=32, warp_col_tiles=32,
                chunk=32)
    with pytest.raises(TileProgramError, match=match):
        TensorCoreIntrinEmitter(**dict(args, **kwargs))


@pytest.mark.nvcc
def test_tile_shared_with_t_gemm_is_refused_on_cuda():
    em = TensorCoreIntrinEmitter(a_dtype="float16", b_dtype="float16", accum_dtype="float32", b_transposed=True,
                                 block_row_warps=2, block_col_warps=2, warp_row_tiles=16, warp_col_tiles=16,
                                 chunk=16)

    @T.prim_func
    def kernel(A: T.Tensor((32, 16), "float16"), B: T.Tensor((32, 16), "float16"), C: T.Tensor((32, 32), "float32")):
        with T.Kernel(1, threads=128):
            A_s = T.alloc_shared((32, 16), "float16")
            B_s = T.alloc_shared((32, 16), "float16")
            A_l = T.alloc_local((8,), "float16")
            B_l = T.alloc_local((8,), "float16")
            C_l = T.alloc_local((8,), "float32")
            C_f = T.alloc_fragment((32, 32), "float32")
            T.copy(A, A_s)
            T.copy(B, B_s)
            T.clear(C_f)
            T.gemm(A_s, B_s, C_f, transpose_B=True)
            T.clear(C_l)
            em.ldmatrix_a(A_l, A_s, 0)
            em.ldmatrix_b(B_l, B_s, 0)
            em.mma(A_l, B_l, C_l)
            em.stmatrix(C_l, C, 0, 0)
    with pytest.raises(TileProgramError, match="A_s is read by TensorCoreIntrinEmitter's ldmatrix and is also a "
                                               "T.gemm operand"):
        tiledsl.compile(kernel, target={"kind": "cuda", "arch": "sm_80"})


def test_emitters_tiledsl_lacks_are_refused_by_name():
    from tiledsl.cuda.intrinsics import TensorCoreIntrinEmitterWithLadderTransform

    with pytest.raises(TileProgramError, match="TensorCoreIntrinEmitterWithLadderTransform is not implemented"):
        TensorCoreIntrinEmitterWithLadderTransform(a_dtype="float16")


def test_fragment_in_shared_memory_is_refused():
    em = TensorCoreIntrinEmitter(a_dtype="float16", b_dtype="float16", accum_dtype="float32", warp_row_tiles=16,
                                 warp_col_tiles=16, chunk=16, block_row_warps=1, block_col_warps=1)
    def factory():
        @T.prim_func
        def kernel(A: T.Tensor((16, 16), "float16")):
            with T.Kernel(1, threads=32):
                A_s = T.alloc_shared((16, 16), "float16")
                A_w = T.alloc_shared((8,), "float16")
                em.ldmatrix_a(A_w, A_s, 0)
        return kernel
    with pytest.raises(TileProgramError, match="A_w must be a per-thread buffer from T.alloc_local"):
        tiledsl.jit(factory, target="llvm")()


def test_swizzle_hint_helper_is_the_shared_tile_hint():
    from tiledsl.cuda.intrinsics import make_mma_swizzle_layout
    from tvm import tirx

    A_s = tirx.decl_buffer((64, 32), "float16", "A_s", scope="shared")
    assert make_mma_swizzle_layout(A_s) == make_swizzled_layout(A_s)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_emitter_gemm_matches_torch_on_gpu(name):
    case = CASES[name]
    kernel = tiledsl.compile(emitter_gemm(**case), target="cuda")
    a, b, ref = _inputs(case, device="cuda")
    c = poisoned_like(torch.empty(case["M"], case["N"], dtype=_TORCH[case.get("out_dtype", "float32")],
                                  device="cuda"))
    kernel(a, b, c)
    torch.cuda.synchronize()
    _check(case, c, ref)


@pytest.mark.gpu
def test_emitter_gemm_at_a_larger_size_on_gpu():
    case = dict(M=512, N=256, K=512, warps=(2, 2), warp_tile=(64, 64), stages=3)
    kernel = tiledsl.compile(emitter_gemm(**case), target="cuda")
    a, b, ref = _inputs(case, device="cuda")
    c = poisoned_like(torch.empty(512, 256, dtype=torch.float32, device="cuda"))
    kernel(a, b, c)
    torch.cuda.synchronize()
    _check(case, c, ref)
