"""8-bit integer GEMMs (int8/uint8 operands, int32 accumulator), the W8A8 form of quantized inference.

CPU (LLVM): exact against torch. nvcc: without a switch they take the FMA path and build (B as [K, N] used to stop
TVM's CUDA code generator); with ``TILEDSL_INT8_WGMMA=1`` (opt-in, unrun on a GPU when written) a K-major B runs on
``wgmma ... .s32.s8.s8`` with TMA loads and warp specialization, a [K, N] B keeps FMA (8-bit wgmma reads both
operands K-major). GPU: every form, exactly equal to torch's integer product.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}


@pytest.fixture(autouse=True)
def _general_passes_only(monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")


def int8_gemm(M, N, K, a_dtype="int8", b_dtype="int8", trans_B=True, block_M=128, block_N=128, block_K=64,
              stages=3, threads=256):
    """C (int32) = A @ B with A [M, K] and B [N, K] (``trans_B``) or [K, N]."""
    b_shape = (N, K) if trans_B else (K, N)

    @T.prim_func
    def kernel(A: T.Tensor((M, K), a_dtype), B: T.Tensor(b_shape, b_dtype), C: T.Tensor((M, N), "int32")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), a_dtype)
            B_s = T.alloc_shared((block_N, block_K) if trans_B else (block_K, block_N), b_dtype)
            C_f = T.alloc_fragment((block_M, block_N), "int32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                if trans_B:
                    T.copy(B[bx * block_N, k * block_K], B_s)
                else:
                    T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=trans_B)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _inputs(M, N, K, a_dtype, b_dtype, trans_B, device):
    def rand(shape, dtype):
        low, high = (-128, 128) if dtype == "int8" else (0, 256)
        t = torch.randint(low, high, shape, dtype=getattr(torch, dtype), device=device)
        t.view(-1)[:2] = torch.tensor([low, high - 1], dtype=t.dtype)  # both ends of the range
        return t
    a = rand((M, K), a_dtype)
    b = rand((N, K) if trans_B else (K, N), b_dtype)
    want = a.long() @ (b.long().T if trans_B else b.long())
    return a, b, want.to(torch.int32)


def test_int8_gemm_on_cpu_is_exact():
    M, N, K = 64, 48, 80
    kernel = tiledsl.compile(int8_gemm(M, N, K, block_M=32, block_N=16, block_K=32, threads=128), out_idx=[],
                             target="llvm")
    a, b, want = _inputs(M, N, K, "int8", "int8", True, "cpu")
    c = torch.full((M, N), -7, dtype=torch.int32)
    kernel(a, b, c)
    assert torch.equal(c, want)


@pytest.mark.nvcc
@pytest.mark.parametrize("trans_B", [True, False])
def test_int8_gemm_builds_on_fma_by_default(trans_B):
    src = tiledsl.compile(int8_gemm(256, 256, 256, trans_B=trans_B), out_idx=[], target=SM90A).get_kernel_source()
    assert bench.gemm_instruction(src) == "none"


@pytest.mark.nvcc
@pytest.mark.parametrize("a_dtype,b_dtype", [("int8", "int8"), ("uint8", "uint8"), ("int8", "uint8")])
def test_int8_gemm_uses_wgmma_when_switched_on(a_dtype, b_dtype, monkeypatch):
    monkeypatch.setenv("TILEDSL_INT8_WGMMA", "1")
    src = tiledsl.compile(int8_gemm(256, 256, 256, a_dtype, b_dtype), out_idx=[], target=SM90A).get_kernel_source()
    names = {"int8": "s8", "uint8": "u8"}
    assert f"m64n128k32.s32.{names[a_dtype]}.{names[b_dtype]}" in src
    assert bench.copy_instruction(src) == "tma" and "setmaxnreg" in src  # TMA ring, producer warpgroup
    assert "C_f_u32" in src  # the int32 accumulator reaches the instruction as .u32 registers


@pytest.mark.nvcc
def test_int8_gemm_with_b_k_by_n_keeps_fma(monkeypatch):
    monkeypatch.setenv("TILEDSL_INT8_WGMMA", "1")
    src = tiledsl.compile(int8_gemm(256, 256, 256, trans_B=False), out_idx=[], target=SM90A).get_kernel_source()
    assert bench.gemm_instruction(src) == "none"


@pytest.mark.nvcc
def test_int8_wgmma_takes_only_the_n_the_instruction_has(monkeypatch):
    """Integer wgmma has no N = 40, 56, ...: a 2-warpgroup split of N = 80 (40 each) is not taken."""
    from tiledsl.passes.cuda.gemm_wgmma import _group_grid
    assert _group_grid(64, 80, 2, b_mn_major=False) == (1, 2)
    assert _group_grid(64, 80, 2, b_mn_major=False, integer=True) is None
    assert _group_grid(128, 80, 2, b_mn_major=False, integer=True) == (2, 1)


GPU_CASES = {
    # name: (M, N, K, kwargs)
    "s8_s8": (256, 384, 512, {}),
    "u8_u8": (256, 256, 320, {"a_dtype": "uint8", "b_dtype": "uint8"}),
    "s8_u8": (256, 256, 256, {"b_dtype": "uint8"}),
    "ragged": (200, 136, 160, {}),
    "one_warpgroup": (128, 256, 256, {"block_M": 64, "threads": 128}),
    "b_k_by_n_fma": (128, 128, 128, {"trans_B": False}),
}


@pytest.mark.gpu
@pytest.mark.parametrize("wgmma", [False, True])
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_int8_gemm_matches_torch_exactly(name, wgmma, monkeypatch):
    monkeypatch.setenv("TILEDSL_INT8_WGMMA", "1" if wgmma else "0")
    M, N, K, kw = GPU_CASES[name]
    kernel = tiledsl.compile(int8_gemm(M, N, K, **kw), out_idx=[], target="cuda")
    uses_wgmma = wgmma and kw.get("trans_B", True)
    assert bench.gemm_instruction(kernel.get_kernel_source()) == ("wgmma" if uses_wgmma else "none")
    a, b, want = _inputs(M, N, K, kw.get("a_dtype", "int8"), kw.get("b_dtype", "int8"), kw.get("trans_B", True),
                         "cuda")
    c = torch.full((M, N), -7, dtype=torch.int32, device="cuda")
    kernel(a, b, c)
    torch.cuda.synchronize()
    assert torch.equal(c, want)
