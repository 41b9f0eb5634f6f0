"""T.gemm, T.copy and T.Pipelined on the CPU target against torch (float64 reference), outputs poisoned (NaN)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from gemm_tolerance import gemm_mismatch


@tiledsl.jit(out_idx=[-1], target="llvm")
def matmul(M, N, K, block_M=32, block_N=32, block_K=16, dtype="float16", accum="float32", out_dtype=None,
           trans_A=False, trans_B=False, num_stages=2, swizzle=False):
    out_dtype = out_dtype or dtype
    A_shape = (K, M) if trans_A else (M, K)
    B_shape = (N, K) if trans_B else (K, N)
    A_tile = (block_K, block_M) if trans_A else (block_M, block_K)
    B_tile = (block_N, block_K) if trans_B else (block_K, block_N)

    @T.prim_func
    def kernel(A: T.Tensor(A_shape, dtype), B: T.Tensor(B_shape, dtype), C: T.Tensor((M, N), out_dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
            if swizzle:
                T.use_swizzle(panel_size=2)
            A_s = T.alloc_shared(A_tile, dtype)
            B_s = T.alloc_shared(B_tile, dtype)
            C_f = T.alloc_fragment((block_M, block_N), accum)
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                if trans_A:
                    T.copy(A[ko * block_K, by * block_M], A_s)
                else:
                    T.copy(A[by * block_M, ko * block_K], A_s)
                if trans_B:
                    T.copy(B[bx * block_N, ko * block_K], B_s)
                else:
                    T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f, transpose_A=trans_A, transpose_B=trans_B)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _run(M, N, K, a_arg, b_arg, out_dtype="float32", **config):
    """``matmul``'s program for ``config``, built for the CPU and run into a NaN-poisoned output."""
    kernel = tiledsl.compile(matmul.get_tir(M, N, K, out_dtype=out_dtype, **config), target="llvm")
    c = torch.full((M, N), float("nan"), dtype=getattr(torch, out_dtype))
    kernel(a_arg, b_arg, c)
    return c


def _inputs(M, N, K, dtype, trans_A, trans_B):
    a = torch.randn(M, K, dtype=torch.float32).to(dtype)
    b = torch.randn(K, N, dtype=torch.float32).to(dtype)
    a_arg = a.t().contiguous() if trans_A else a
    b_arg = b.t().contiguous() if trans_B else b
    return a, b, a_arg, b_arg


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("M,N,K", [(64, 64, 32), (70, 45, 37)])
def test_gemm_dtypes_and_ragged_sizes(dtype, M, N, K):
    tdt = getattr(torch, dtype)
    a, b, a_arg, b_arg = _inputs(M, N, K, tdt, False, False)
    c = _run(M, N, K, a_arg, b_arg, dtype=dtype)
    assert gemm_mismatch(c, a, b) == ""


@pytest.mark.parametrize("trans_A,trans_B", [(False, True), (True, False), (True, True)])
def test_gemm_transpose_flags(trans_A, trans_B):
    M, N, K = 48, 40, 72
    a, b, a_arg, b_arg = _inputs(M, N, K, torch.float16, trans_A, trans_B)
    c = _run(M, N, K, a_arg, b_arg, block_M=16, block_N=16, block_K=32, trans_A=trans_A, trans_B=trans_B)
    assert gemm_mismatch(c, a, b) == ""


def test_gemm_symbolic_M():
    M = T.dynamic("M")
    kernel = matmul(M, 48, 64, block_M=16, block_N=16, block_K=32, out_dtype="float32")
    poisoned = tiledsl.compile(matmul.get_tir(M, 48, 64, block_M=16, block_N=16, block_K=32, out_dtype="float32"),
                               target="llvm")
    for m in (1, 17, 64):
        a = torch.randn(m, 64).half()
        b = torch.randn(64, 48).half()
        c = kernel(a, b)  # the output allocated from the symbolic shape
        assert c.shape == (m, 48)
        assert gemm_mismatch(c, a, b) == ""
        c = torch.full((m, 48), float("nan"))
        poisoned(a, b, c)
        assert gemm_mismatch(c, a, b) == ""


def test_gemm_symbolic_alias_is_dynamic():
    assert T.symbolic is T.dynamic


def test_gemm_int8_accumulates_in_int32():
    kernel = matmul(40, 24, 50, block_M=16, block_N=16, block_K=16, dtype="int8", accum="int32", out_dtype="int32")
    a = torch.randint(-128, 128, (40, 50), dtype=torch.int8)
    b = torch.randint(-128, 128, (50, 24), dtype=torch.int8)
    c = kernel(a, b)
    assert torch.equal(c, a.long().mm(b.long()).int())


@tiledsl.jit(out_idx=[-1], target="llvm")
def gemm_clear_accum(M, N, K, block=16):
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float32"), B: T.Tensor((K, N), "float32"), C: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(N, block), T.ceildiv(M, block)) as (bx, by):
            A_s = T.alloc_shared((block, K), "float32")
            B_s = T.alloc_shared((K, block), "float32")
            C_f = T.alloc_fragment((block, block), "float32")
            T.fill(C_f, 1234.0)  # clear_accum must discard this
            T.copy(A[by * block, 0], A_s)
            T.copy(B[0, bx * block], B_s)
            T.gemm(A_s, B_s, C_f, clear_accum=True)
            T.copy(C_f, C[by * block, bx * block])
    return kernel


def test_gemm_clear_accum():
    a, b = torch.randn(32, 24), torch.randn(24, 48)
    kernel = tiledsl.compile(gemm_clear_accum.get_tir(32, 48, 24), target="llvm")
    c = torch.full((32, 48), float("nan"))
    kernel(a, b, c)
    assert gemm_mismatch(c, a, b) == ""


@pytest.mark.parametrize("num_stages", [0, 1, 3])
def test_pipelined_gemm_matches_torch_at_every_stage_count(num_stages):
    a, b = torch.randn(64, 96).half(), torch.randn(96, 32).half()
    c = _run(64, 32, 96, a, b, block_K=16, num_stages=num_stages)
    assert gemm_mismatch(c, a, b) == ""


@pytest.mark.parametrize("swizzle", [False, True])
def test_swizzled_gemm_matches_torch(swizzle):
    a, b = torch.randn(96, 64).half(), torch.randn(64, 80).half()
    c = _run(96, 80, 64, a, b, block_M=16, block_N=16, swizzle=swizzle)
    assert gemm_mismatch(c, a, b) == ""
