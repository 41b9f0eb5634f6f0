"""The Hopper GEMM specialization: what is recognized, that it builds for sm_90a, and (on an sm_90 GPU) that it
computes what torch computes."""

import pytest
import torch

import tiledsl
from gemm_tolerance import gemm_mismatch
from example_modules import load_example
from tiledsl.passes.hopper import gemm_match, match_gemm

pytestmark = pytest.mark.usefixtures("hopper_shortcut")  # these test the whole-kernel matchers

matmul = load_example("gemm", "hopper_example_gemm").matmul
SM90A = {"kind": "cuda", "arch": "sm_90a"}


def _transposed_b_gemm(M, N, K, block_M=128, block_N=128, block_K=64, num_stages=3, threads=256, dtype="bfloat16"):
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((N, K), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_N, block_K), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.use_swizzle(8)
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[bx * block_N, ko * block_K], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=True)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _gemm_with_epilogue(M, N, K, out="float32", dtype="float16", block_M=128, block_N=128, threads=256,
                       staged=True, epilogue="bias_relu"):
    """A GEMM in TileLang's style with an elementwise epilogue (alpha * AB + bias, then ReLU), parameters in an
    unusual order, and the result stored through a shared tile (or directly)."""
    import tiledsl.language as T

    bk = 64

    @T.prim_func
    def kernel(bias: T.Tensor((N,), "float32"), A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype),
               alpha: T.float32, C: T.Tensor((M, N), out)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, bk), dtype)
            B_s = T.alloc_shared((bk, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, bk), num_stages=3):
                T.copy(A[by * block_M, k * bk], A_s)
                T.copy(B[k * bk, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            if epilogue == "bias_relu":
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] * alpha + bias[bx * block_N + j]
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = T.max(C_f[i, j], 0.0)
            elif epilogue == "neighbour":
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, (j + 1) % block_N]
            elif epilogue == "shared_read":
                for i, j in T.Parallel(block_M, block_N):
                    C_f[i, j] = C_f[i, j] + T.Cast("float32", A_s[i % block_M, j % bk])
            if staged:
                C_s = T.alloc_shared((block_M, block_N), out)
                T.copy(C_f, C_s)
                T.copy(C_s, C[by * block_M, bx * block_N])
            else:
                T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _fp8_gemm(M, N, K, a_dtype="float8_e4m3fn", b_dtype="float8_e4m3fn", out="bfloat16", block_M=128,
              block_N=128, block_K=128, threads=256, stages=3, transpose_B=True):
    import tiledsl.language as T

    b_shape, b_tile = ((N, K), (block_N, block_K)) if transpose_B else ((K, N), (block_K, block_N))

    @T.prim_func
    def kernel(A: T.Tensor((M, K), a_dtype), B: T.Tensor(b_shape, b_dtype), C: T.Tensor((M, N), out)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), a_dtype)
            B_s = T.alloc_shared(b_tile, b_dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, k * block_K], A_s)
                if transpose_B:
                    T.copy(B[bx * block_N, k * block_K], B_s)
                else:
                    T.copy(B[k * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=transpose_B)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def _epilogue_reference(a, b, bias, alpha):
    return torch.relu(alpha * (a.double() @ b.double()) + bias.double())


CONFIGS = [  # (block_M, block_N, threads, stages)
    (128, 256, 256, 4), (128, 128, 256, 3), (128, 128, 128, 2), (64, 128, 128, 3), (64, 64, 128, 2),
    (192, 128, 384, 3), (256, 128, 512, 3),  # three and four consumer warpgroups: fewer registers each
]


@pytest.mark.parametrize("bm,bn,threads,stages", CONFIGS)
def test_matcher_recognizes_the_documented_gemm(bm, bn, threads, stages):
    plan = match_gemm(matmul.get_tir(1024, 512, 256, block_M=bm, block_N=bn, block_K=64, threads=threads,
                                     num_stages=stages))
    assert plan is not None, gemm_match.last_reason
    assert (plan.block_M, plan.block_N, plan.consumers, plan.stages) == (bm, bn, threads // 128, stages)
    assert not plan.b_k_major and plan.smem_bytes <= 232448


@pytest.mark.parametrize("block_K", [32, 128])
def test_matcher_takes_any_block_k_and_steps_k_by_64(block_K):
    plan = match_gemm(matmul.get_tir(1024, 1024, 1024, block_M=128, block_N=256, block_K=block_K, threads=256,
                                     num_stages=4))
    assert plan is not None, gemm_match.last_reason
    assert plan.block_K == 64 and plan.stages == 4 and plan.smem_bytes <= 232448


def test_matcher_shrinks_the_pipeline_to_fit_shared_memory():
    plan = match_gemm(matmul.get_tir(1024, 1024, 1024, block_M=128, block_N=256, block_K=32, threads=256,
                                     num_stages=6))  # 6 stages of 64 would need 290 KB
    assert plan is not None and plan.stages == 4, gemm_match.last_reason


def test_matcher_accepts_ragged_sizes():
    plan = match_gemm(matmul.get_tir(100, 200, 328, block_M=64, block_N=128, block_K=64, threads=128))
    assert plan is not None and (plan.M, plan.N, plan.K) == (100, 200, 328), gemm_match.last_reason


def test_matcher_recognizes_transposed_b():
    plan = match_gemm(_transposed_b_gemm(512, 512, 512))
    assert plan is not None and plan.b_k_major and plan.dtype == "bfloat16", gemm_match.last_reason


@pytest.mark.parametrize("kwargs,reason", [
    (dict(M=1024, N=512, K=256, block_K=24), "block_K is not a multiple of 16"),
    (dict(M=1000, N=500, K=256, block_K=64), "too ragged"),
    (dict(M=1024, N=512, K=256, block_K=64, dtype="float32"), "both bfloat16 or both float8"),
    (dict(M=1024, N=512, K=256, block_K=64, threads=96), "multiple of 128"),
    (dict(M=1024, N=512, K=256, block_M=128, block_N=256, block_K=64, threads=128),
     "needs 256 registers per thread, more than 128 with 1 consumer"),
    (dict(M=768, N=512, K=256, block_M=192, block_N=256, block_K=64, threads=384),
     "needs 128 registers per thread, more than 102 with 3 consumer"),
])
def test_matcher_says_why_not(kwargs, reason):
    assert match_gemm(matmul.get_tir(**kwargs)) is None
    assert reason in gemm_match.last_reason


@pytest.mark.parametrize("producer_regs,most", [(40, 232), (56, 240)])  # the shortcut's, the general passes'
def test_consumer_registers_fit_what_the_block_holds_at_launch(producer_regs, most):
    """setmaxnreg.inc waits until the block's pool has the registers asked for: the consumers' count must fit what
    the block got at launch beside the producer's (the shortcut asked 232 of 3 and 4 consumer warpgroups, more
    than the pool: 94208 and 122368 of 65536 registers), and stays what ran at speed for one or two."""
    from tiledsl.passes.cuda.warp_specialize import register_budget

    for consumers in range(1, 8):
        threads = 128 * (consumers + 1)
        at_launch, grown = register_budget(threads, producer_regs, most)
        assert at_launch * threads <= 65536 and at_launch % 8 == 0 == grown % 8
        assert 128 * producer_regs + 128 * consumers * grown <= at_launch * threads
    assert register_budget(384, producer_regs, most)[1] == (232 if producer_regs == 40 else 224)
    assert register_budget(512, producer_regs, most)[1] == 152 and register_budget(640, producer_regs, most)[1] == 104


@pytest.mark.parametrize("out,staged", [("float32", True), ("float16", False), ("bfloat16", True)])
def test_matcher_takes_elementwise_epilogues_and_any_parameter_order(out, staged):
    dtype = "bfloat16" if out == "bfloat16" else "float16"
    plan = match_gemm(_gemm_with_epilogue(512, 512, 1024, out=out, dtype=dtype, staged=staged))
    assert plan is not None, gemm_match.last_reason
    assert plan.out_dtype == out and len(plan.epilogue) == 2 and plan.roles == ("", "A", "B", "", "C")


@pytest.mark.parametrize("epilogue,reason", [
    ("neighbour", "reads the accumulator at another element"),
    ("shared_read", "which is not a parameter"),
])
def test_matcher_refuses_epilogues_it_cannot_place_per_element(epilogue, reason):
    assert match_gemm(_gemm_with_epilogue(512, 512, 1024, epilogue=epilogue)) is None
    assert reason in gemm_match.last_reason


def test_epilogue_program_is_right_on_the_cpu():
    """The test program itself (through the generic CPU lowering) computes relu(alpha * A @ B + bias)."""
    M, N, K = 96, 80, 128
    kernel = tiledsl.compile(_gemm_with_epilogue(M, N, K, block_M=64, block_N=64, threads=128), target="llvm")
    a, b = torch.randn(M, K, dtype=torch.float16), torch.randn(K, N, dtype=torch.float16)
    bias = torch.randn(N)
    c = torch.full((M, N), float("nan"))
    kernel(bias, a, b, 0.5, c)
    torch.testing.assert_close(c.double(), _epilogue_reference(a, b, bias, 0.5), rtol=1e-3, atol=1e-3)


@pytest.mark.nvcc
def test_epilogue_builds_with_the_programs_signature():
    kernel = tiledsl.compile(_gemm_with_epilogue(1000, 1000, 512), target=SM90A)
    source = kernel.get_kernel_source()
    assert "wgmma.mma_async" in source and "bias_ptr" in source and "float alpha" in source
    assert [p.name for p in kernel.params] == ["bias", "A", "B", "alpha", "C"]


@pytest.mark.parametrize("a_dtype,b_dtype", [("float8_e4m3fn", "float8_e4m3fn"), ("float8_e5m2", "float8_e5m2"),
                                             ("float8_e4m3fn", "float8_e5m2")])
def test_matcher_takes_float8_with_k_major_b(a_dtype, b_dtype):
    plan = match_gemm(_fp8_gemm(1024, 1024, 1024, a_dtype, b_dtype))
    assert plan is not None, gemm_match.last_reason
    assert plan.in_bytes == 1 and plan.block_K == 128 and (plan.b_dtype or plan.dtype) == b_dtype


def test_matcher_refuses_float8_with_a_k_tma_cannot_stride():
    assert match_gemm(_fp8_gemm(256, 256, 1000)) is None  # 1000-byte rows: TMA needs multiples of 16 bytes
    assert "K a multiple of 16" in gemm_match.last_reason


def test_matcher_refuses_float8_with_b_as_k_by_n():
    assert match_gemm(_fp8_gemm(1024, 1024, 1024, transpose_B=False)) is None
    assert "transpose_B=True" in gemm_match.last_reason


@pytest.mark.nvcc
def test_float8_builds_with_k32_wgmma():
    source = tiledsl.compile(_fp8_gemm(512, 512, 1024, "float8_e4m3fn", "float8_e5m2"),
                             target=SM90A).get_kernel_source()
    assert "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e5m2" in source


def _with_split_k(prim, split):
    return prim.with_attr(gemm_match.SPLIT_K_ATTR, split)


@pytest.mark.parametrize("M,N,K,bm,bn,expected", [
    (16, 4096, 4096, 64, 128, 4),      # 32 tiles, 64 k-tiles: 4 slices of 16 fill 128 SMs
    (128, 4096, 4096, 64, 128, 2),     # 64 tiles x 2 slices
    (128, 4096, 4096, 64, 64, 1),      # 128 tiles already fill the SMs
    (16, 4096, 4096, 64, 256, 8),      # 16 tiles x 8 slices of 8 k-tiles
    (16, 1024, 384, 64, 128, 1),       # 6 k-tiles: a slice would hold fewer than 4
    (4096, 4096, 4096, 128, 256, 1),   # enough tiles
])
def test_split_k_is_chosen_for_few_tiles_and_long_k(M, N, K, bm, bn, expected):
    plan = match_gemm(matmul.get_tir(M, N, K, block_M=bm, block_N=bn, block_K=64, threads=128 if bm == 64 else 256,
                                     num_stages=4))
    assert plan is not None, gemm_match.last_reason
    assert plan.split_k == expected


def test_split_k_attribute_overrides_and_is_checked():
    prim = matmul.get_tir(16, 4096, 4096, block_M=64, block_N=128, block_K=64, threads=128, num_stages=4)
    assert match_gemm(_with_split_k(prim, 1)).split_k == 1
    assert match_gemm(_with_split_k(prim, 2)).split_k == 2
    assert match_gemm(_with_split_k(prim, 3)) is None  # 64 k-tiles are not divisible by 3
    assert "does not divide the 64 k-tiles" in gemm_match.last_reason


@pytest.mark.nvcc
def test_split_k_builds_with_a_module_workspace():
    kernel = tiledsl.compile(matmul.get_tir(16, 4096, 4096, block_M=64, block_N=128, block_K=64, threads=128,
                                           num_stages=6), target=SM90A)
    source = kernel.get_kernel_source()
    assert "wgmma.mma_async" in source and "atomicAdd(&tiledsl_splitk_" in source
    assert source.count("__device__ float4 tiledsl_splitk_") == 4  # one guarded declaration per helper


@pytest.mark.nvcc
def test_builds_for_sm90a_with_wgmma_and_tma():
    kernel = tiledsl.compile(matmul.get_tir(1024, 1024, 512, block_M=128, block_N=256, block_K=64, threads=256,
                                           num_stages=4), out_idx=[-1], target=SM90A)
    source = kernel.get_kernel_source()
    assert "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16" in source
    assert "cp.async.bulk.tensor.2d" in source and "setmaxnreg" in source


@pytest.mark.nvcc
def test_other_archs_are_not_specialized(monkeypatch):
    kernel = tiledsl.compile(matmul.get_tir(256, 256, 256, block_M=64, block_N=64, block_K=64),
                             out_idx=[-1], target={"kind": "cuda", "arch": "sm_80"})
    assert "wgmma" not in kernel.get_kernel_source()


def _hopper():
    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] == 9


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("bm,bn,threads,stages", CONFIGS)
def test_hopper_gemm_matches_torch(dtype, bm, bn, threads, stages):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    M, N, K = 768, 512, 1280
    tdt = getattr(torch, dtype)
    kernel = tiledsl.compile(matmul.get_tir(M, N, K, block_M=bm, block_N=bn, block_K=64, threads=threads,
                                           num_stages=stages, dtype=dtype))
    assert "wgmma" in kernel.get_kernel_source()
    a, b = torch.randn(M, K, device="cuda", dtype=tdt), torch.randn(K, N, device="cuda", dtype=tdt)
    c = torch.full((M, N), float("nan"), device="cuda", dtype=tdt)  # poisoned: every element must be written
    kernel(a, b, c)
    assert gemm_mismatch(c, a, b) == ""


@pytest.mark.gpu
@pytest.mark.parametrize("M,N,K,block_K", [(16, 4096, 4096, 64), (100, 200, 328, 64), (1000, 776, 1096, 64),
                                           (512, 512, 1000, 32), (300, 256, 520, 128)])
def test_hopper_gemm_ragged_sizes(M, N, K, block_K):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    kernel = tiledsl.compile(matmul.get_tir(M, N, K, block_M=64, block_N=128, block_K=block_K, threads=128,
                                           num_stages=3))
    assert "wgmma" in kernel.get_kernel_source()
    a = torch.randn(M, K, device="cuda", dtype=torch.float16)
    b = torch.randn(K, N, device="cuda", dtype=torch.float16)
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, c)
    assert gemm_mismatch(c, a, b) == ""


@pytest.mark.gpu
def test_hopper_gemm_transposed_b_matches_torch():
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    kernel = tiledsl.compile(_transposed_b_gemm(512, 384, 640))
    assert "wgmma" in kernel.get_kernel_source()
    a = torch.randn(512, 640, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(384, 640, device="cuda", dtype=torch.bfloat16)
    c = torch.full((512, 384), float("nan"), device="cuda", dtype=torch.bfloat16)
    kernel(a, b, c)
    assert gemm_mismatch(c, a, b, transpose_B=True) == ""


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("M,N,K,bm,bn,split", [
    (16, 4096, 4096, 64, 128, None), (128, 4096, 4096, 64, 128, None), (16, 2048, 4096, 64, 256, None),
    (100, 1000, 2048, 64, 128, 2), (64, 512, 1024, 64, 128, 8), (200, 256, 1536, 128, 128, 3),
])
def test_hopper_split_k_matches_torch_on_every_launch(dtype, M, N, K, bm, bn, split):
    """Split-K sums partial tiles through a module workspace with arrival counters that are never reset: run the
    kernel several times on fresh inputs, each time with a poisoned output, and check every result."""
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    prim = matmul.get_tir(M, N, K, block_M=bm, block_N=bn, block_K=64, threads=128 if bm == 64 else 256,
                          num_stages=4, dtype=dtype)
    if split is not None:
        prim = _with_split_k(prim, split)
    plan = match_gemm(prim)
    assert plan is not None and plan.split_k > 1, (plan, gemm_match.last_reason)
    kernel = tiledsl.compile(prim)
    tdt = getattr(torch, dtype)
    for _ in range(3):
        a, b = torch.randn(M, K, device="cuda", dtype=tdt), torch.randn(K, N, device="cuda", dtype=tdt)
        c = torch.full((M, N), float("nan"), device="cuda", dtype=tdt)
        kernel(a, b, c)
        assert gemm_mismatch(c, a, b) == ""


@pytest.mark.gpu
@pytest.mark.parametrize("M,N,K,out,staged", [
    (1000, 1000, 512, "float32", True),     # ragged tiles, split-K, fp32 output through a shared tile
    (512, 768, 1024, "float16", False),
    (256, 512, 2048, "bfloat16", True),
])
def test_hopper_gemm_epilogue_matches_torch(M, N, K, out, staged):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    dtype = "bfloat16" if out == "bfloat16" else "float16"
    kernel = tiledsl.compile(_gemm_with_epilogue(M, N, K, out=out, dtype=dtype, staged=staged))
    assert "wgmma" in kernel.get_kernel_source()
    tdt = getattr(torch, dtype)
    for _ in range(2):
        a, b = torch.randn(M, K, device="cuda", dtype=tdt), torch.randn(K, N, device="cuda", dtype=tdt)
        bias = torch.randn(N, device="cuda")
        c = torch.full((M, N), float("nan"), device="cuda", dtype=getattr(torch, out))
        kernel(bias, a, b, 0.5, c)
        assert gemm_mismatch(c, a, b, ref=_epilogue_reference(a, b, bias, 0.5)) == ""


@pytest.mark.gpu
@pytest.mark.parametrize("M,N,K,a_dtype,b_dtype,out,bm,bn,threads", [
    (1024, 1024, 2048, "float8_e4m3fn", "float8_e4m3fn", "bfloat16", 128, 256, 256),
    (512, 768, 1024, "float8_e5m2", "float8_e5m2", "float16", 128, 128, 256),
    (300, 520, 1008, "float8_e4m3fn", "float8_e5m2", "float32", 64, 128, 128),     # ragged
    (16, 4096, 4096, "float8_e4m3fn", "float8_e4m3fn", "bfloat16", 64, 128, 128),   # split-K
])
def test_hopper_float8_gemm_matches_torch(M, N, K, a_dtype, b_dtype, out, bm, bn, threads):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    prim = _fp8_gemm(M, N, K, a_dtype, b_dtype, out, block_M=bm, block_N=bn, threads=threads)
    kernel = tiledsl.compile(prim)
    assert "k32.f32" in kernel.get_kernel_source()
    for _ in range(2):
        a = torch.randn(M, K, device="cuda").to(getattr(torch, a_dtype))
        b = torch.randn(N, K, device="cuda").to(getattr(torch, b_dtype))
        c = torch.full((M, N), float("nan"), device="cuda", dtype=getattr(torch, out))
        kernel(a, b, c)
        assert gemm_mismatch(c, a, b, transpose_B=True) == ""


# ---- what a build assumes and records (issue 14 items 7 and 8)

def test_the_sm_count_changes_the_plan(monkeypatch):
    """A persistent kernel's grid and split-K depend on the SM count: 64 output tiles fill half of 114 SMs but not
    half of 132, so K is split only for the larger GPU."""
    prim = matmul.get_tir(128, 4096, 4096, block_M=64, block_N=128, block_K=64, threads=128, num_stages=4)
    assert match_gemm(prim, num_sms=132).split_k == 2
    assert match_gemm(prim, num_sms=114).split_k == 1


def test_a_build_states_its_sm_count_and_the_count_is_in_the_cache_key(monkeypatch):
    import tvm

    from tiledsl.passes.hopper import device
    from tiledsl.passes.hopper.specialize import specialize
    from tiledsl.runtime.compiler import kernel_key

    prim = matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=64, threads=256)
    target = tvm.target.Target(SM90A)
    if not torch.cuda.is_available():  # a build for a named arch without that GPU: the arch's usual count, stated
        assert device.num_sms("sm_90a") == (132, "assumed for sm_90a")
    _, info = specialize(prim, target)
    assert info["path"] == "hopper_gemm" and info["num_sms"] == device.num_sms("sm_90a")[0]
    key = kernel_key(prim, target, [], None, [])
    monkeypatch.setattr(device, "num_sms", lambda arch: (114, "device"))  # as on an H100 PCIe
    _, info = specialize(prim, target)
    assert (info["num_sms"], info["num_sms_from"]) == (114, "device")
    assert kernel_key(prim, target, [], None, []) != key


@pytest.mark.nvcc
def test_configs_the_kernel_treats_alike_give_one_kernel_with_its_real_parameters(monkeypatch):
    """The Hopper kernel steps K by 64 whatever the program's block_K: block_K 32 and 64 give the same kernel
    (same source hash, one nvcc build through the cubin cache), and each says which parameters it really uses."""
    from tiledsl.codegen import nvcc
    from tiledsl.codegen.nvcc import cubin_key, cubin_store

    builds = []  # nvcc runs of this test (the cache folder is shared with the other xdist worker: not counted)
    run_nvcc = nvcc._run_nvcc
    monkeypatch.setattr(nvcc, "_run_nvcc", lambda source, *a, **k: builds.append(source) or run_nvcc(source, *a, **k))
    infos, sources = [], []
    for bk in (32, 64):
        kernel = tiledsl.compile(matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=bk, threads=256,
                                               num_stages=3), target=SM90A)
        infos.append(kernel.kernel_info)
        sources.append(kernel.get_kernel_source())
    assert infos[0]["source_sha256"] == infos[1]["source_sha256"] and sources[0] == sources[1]
    assert [i["program_block_K"] for i in infos] == [32, 64] and {i["block_K"] for i in infos} == {64}
    assert cubin_store().get(cubin_key(sources[0], "sm_90a")) is not None and len(builds) <= 1


@pytest.mark.gpu
def test_on_the_gpu_the_sm_count_is_the_devices():
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    kernel = tiledsl.compile(matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=64, threads=256))
    info = kernel.kernel_info
    assert info["path"] == "hopper_gemm" and info["num_sms_from"] == "device"
    assert info["num_sms"] == torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
