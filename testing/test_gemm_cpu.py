"""T.gemm, T.copy and T.Pipelined on the CPU target against torch (float32 reference)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T


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
    kernel = matmul(M, N, K, dtype=dtype, out_dtype="float32")
    a, b, a_arg, b_arg = _inputs(M, N, K, tdt, False, False)
    c = kernel(a_arg, b_arg)
    ref = a.double() @ b.double()
    tol = 1e-4 if dtype == "float32" else 2e-2
    torch.testing.assert_close(c.double(), ref, rtol=tol, atol=tol * K ** 0.5)


@pytest.mark.parametrize("trans_A,trans_B", [(False, True), (True, False), (True, True)])
def test_gemm_transpose_flags(trans_A, trans_B):
    M, N, K = 48, 40, 72
    kernel = matmul(M, N, K, block_M=16, block_N=16, block_K=32, trans_A=trans_A, trans_B=trans_B,
                    out_dtype="float32")
    a, b, a_arg, b_arg = _inputs(M, N, K, torch.float16, trans_A, trans_B)
    c = kernel(a_arg, b_arg)
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=1e-2, atol=1e-2)


def test_gemm_symbolic_M():
    M = T.dynamic("M")
    kernel = matmul(M, 48, 64, block_M=16, block_N=16, block_K=32, out_dtype="float32")
    for m in (1, 17, 64):
        a = torch.randn(m, 64).half()
        b = torch.randn(64, 48).half()
        c = kernel(a, b)
        assert c.shape == (m, 48)
        torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=1e-2, atol=1e-2)


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
    torch.testing.assert_close(gemm_clear_accum(32, 48, 24)(a, b), a @ b, rtol=1e-4, atol=1e-4)


def test_pipelined_num_stages_does_not_change_results():
    a, b = torch.randn(64, 96).half(), torch.randn(96, 32).half()
    outs = [matmul(64, 32, 96, block_K=16, num_stages=s, out_dtype="float32")(a, b) for s in (0, 1, 3)]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_use_swizzle_keeps_results():
    a, b = torch.randn(96, 64).half(), torch.randn(64, 80).half()
    plain = matmul(96, 80, 64, block_M=16, block_N=16, out_dtype="float32")(a, b)
    swizzled = matmul(96, 80, 64, block_M=16, block_N=16, out_dtype="float32", swizzle=True)(a, b)
    assert torch.equal(plain, swizzled)
