"""float8 storage types convert exactly like torch on the CPU (TVM's own LLVM float8 casts are wrong for
subnormals and specials; tiledsl.passes.legalize_float8_cpu replaces them)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T

FLOAT8 = ["float8_e4m3fn", "float8_e5m2"]


@tiledsl.jit(out_idx=[-1], target="llvm")
def convert(N, src, dst):
    @T.prim_func
    def kernel(X: T.Tensor((N,), src), Y: T.Tensor((N,), dst)):
        with T.Kernel(1):
            for i in T.Parallel(N):
                Y[i] = T.cast(X[i], dst)
    return kernel


@pytest.mark.parametrize("f8", FLOAT8)
def test_every_float8_code_decodes_like_torch(f8):
    codes = torch.arange(256, dtype=torch.uint8).view(getattr(torch, f8))
    got, want = convert(256, f8, "float32")(codes), codes.float()
    same = (got == want) | (got.isnan() & want.isnan())
    assert same.all(), codes.view(torch.uint8)[~same].tolist()


@pytest.mark.parametrize("f8", FLOAT8)
def test_float32_encodes_like_torch(f8):
    x = torch.cat([torch.randn(2000) * 4, torch.randn(2000) * 0.01, torch.randn(500) * 1e-4,
                   torch.randn(200) * 1e5, torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 448.0, 464.0,
                                                         57344.0, 61440.0])])
    got = convert(x.numel(), "float32", f8)(x)
    want = x.to(getattr(torch, f8))
    # past the largest finite value torch versions disagree (2.13 saturates e4m3fn, 2.11 gives NaN): compare the
    # finite range bit for bit, and pin tiledsl's choice (torch 2.13's) separately
    limit = 464.0 if f8 == "float8_e4m3fn" else 61440.0  # the largest value that still rounds to a finite code
    finite = x.abs() < limit
    same = (got.view(torch.uint8) == want.view(torch.uint8)) | (got.float().isnan() & want.float().isnan())
    assert same[finite].all(), list(zip(x[finite & ~same][:5].tolist(), got[finite & ~same][:5].float().tolist()))
    over = got[~finite & ~x.isnan()].float()
    if f8 == "float8_e4m3fn":
        assert (over.abs() == 448.0).all()  # saturates
    else:
        assert over.isinf().all()  # overflows to infinity


def test_float16_to_float8_goes_through_float32():
    x = (torch.randn(300) * 3).half()
    got = convert(300, "float16", "float8_e4m3fn")(x)
    assert torch.equal(got.view(torch.uint8), x.float().to(torch.float8_e4m3fn).view(torch.uint8))


def test_float8_tiles_in_a_cpu_gemm():
    """float8 shared tiles and a float8 GEMM on the CPU (TVM's LLVM code gave float8 allocations a float type)."""
    M, N, K = 48, 64, 96

    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float8_e4m3fn"), B: T.Tensor((N, K), "float8_e5m2"),
               C: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(N, 32), T.ceildiv(M, 16), threads=64) as (bx, by):
            A_s = T.alloc_shared((16, 32), "float8_e4m3fn")
            B_s = T.alloc_shared((32, 32), "float8_e5m2")
            C_f = T.alloc_fragment((16, 32), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, 32), num_stages=2):
                T.copy(A[by * 16, k * 32], A_s)
                T.copy(B[bx * 32, k * 32], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=True)
            T.copy(C_f, C[by * 16, bx * 32])

    compiled = tiledsl.compile(kernel, target="llvm")
    a = torch.randn(M, K).to(torch.float8_e4m3fn)
    b = torch.randn(N, K).to(torch.float8_e5m2)
    c = torch.full((M, N), float("nan"))
    compiled(a, b, c)
    torch.testing.assert_close(c.double(), a.double() @ b.double().T, rtol=1e-5, atol=1e-4)
