"""The programs of ``benchmarks/bench_more.py`` (``testing/more_programs.py``), general passes only: programs no
earlier benchmark had (a bf16 GEMM with a GELU epilogue, nn.Linear's layout, grouped-query attention in bf16,
RMSNorm, softmax, an fp8 GEMM plain and promoted).

nvcc: each builds for sm_90a; the gemm kernels use wgmma with TMA loads and a producer warpgroup, the gemm-only
loops a TMA-store epilogue. CPU: the ones the LLVM target runs compute what torch computes at small sizes. GPU:
every program matches the float32 reference, and so does its torch peer.
"""
import functools

import pytest
import torch

import general_programs as G
import more_programs as M
import tiledsl
from fence_check import unfenced_wgmma_reads

SM90A = {"kind": "cuda", "arch": "sm_90a"}
TMA_STORED = ("gemm_bias_gelu_bf16", "linear_llama_mlp", "gemm_fp8", "gemm_fp8_promoted")

pytestmark = pytest.mark.usefixtures("general_passes_only")


@functools.lru_cache(maxsize=None)
def _cases():
    return M.cases(small=True)


CASE_NAMES = sorted(_cases())


@pytest.mark.nvcc
@pytest.mark.parametrize("name", CASE_NAMES)
def test_program_builds_for_sm90a_on_the_hopper_paths(name):
    case = _cases()[name]
    src = tiledsl.compile(case.kernels["main"], out_idx=[], target=SM90A).get_kernel_source()
    gemm = "main" in case.gemm_kernels
    assert G.gemm_instruction(src) == ("wgmma" if gemm else "none")
    if gemm:
        assert G.copy_instruction(src) == "tma" and "setmaxnreg" in src and "mma_sync" not in src
        assert ("cp_async_bulk_tensor_s2g" in src) == (name in TMA_STORED)
        assert unfenced_wgmma_reads(src) == []


def _run_on_cpu(case):
    """Our kernel (LLVM target, output poisoned) against the float32 reference on fresh inputs."""
    kernel = tiledsl.compile(case.kernels["main"], out_idx=[], target="llvm")
    inputs = case.make("cpu")
    G.assert_matches_reference(case, case.bind({"main": kernel}, inputs)(), inputs)


def test_gemm_bias_gelu_on_cpu():
    n = 96  # ragged against 64 x 64 tiles
    _run_on_cpu(G.single_case(M.gemm_bias_gelu(n, n, n, block_M=64, block_N=64, block_K=32, stages=2, threads=128),
                              lambda dev: [torch.randn(n, n).bfloat16(), torch.randn(n, n).bfloat16() / 8,
                                           torch.randn(n).bfloat16()], M._gelu_ref, M._gelu_peer, 2e-2))


def test_linear_on_cpu():
    m, n, k = 64, 160, 96
    _run_on_cpu(G.single_case(M.linear(m, n, k, block_M=64, block_N=64, block_K=32, stages=2, threads=128),
                              lambda dev: [torch.randn(m, k).half(), torch.randn(n, k).half()],
                              lambda x, w: x.float() @ w.float().T, None, 2e-2))


@pytest.mark.parametrize("program,make,ref", [
    (lambda: M.rms_norm(6, 512), lambda dev: [torch.randn(6, 512).bfloat16(), torch.randn(512).bfloat16()],
     M._rms_ref),
    (lambda: M.softmax(6, 512, block_M=2), lambda dev: [torch.randn(6, 512).half() * 4],
     lambda x: torch.softmax(x.float(), -1)),
], ids=["rms_norm", "softmax"])
def test_row_programs_on_cpu(program, make, ref):
    _run_on_cpu(G.single_case(program(), make, ref, None, 2e-2, gemm=False))


@pytest.mark.gpu
@pytest.mark.parametrize("name", CASE_NAMES)
def test_program_matches_torch_on_gpu(name):
    """Our kernel (output poisoned) and the torch peer both match the float32 reference."""
    case = _cases()[name]
    kernel = tiledsl.compile(case.kernels["main"], out_idx=[], target="cuda")
    inputs = case.make("cuda")
    outs = case.bind({"main": kernel}, inputs)()
    peer = case.peer(*inputs)
    torch.cuda.synchronize()
    G.assert_matches_reference(case, outs, inputs, peer)


@pytest.mark.nvcc
def test_promoted_fp8_gemm_clears_its_tile_accumulator_each_iteration():
    """The promoted program's gemm starts each K tile from zero (the first wgmma of an iteration with scale-d 0)
    and its loop waits for the gemm before adding (no wgmma group left in flight across the addition)."""
    src = tiledsl.compile(_cases()["gemm_fp8_promoted"].kernels["main"], out_idx=[], target=SM90A).get_kernel_source()
    loop = src.split("wgmma_fence_fence_sync_aligned();", 1)[1].split("mbarrier_arrive_arrive", 1)[0]
    issues = [line for line in loop.split("\n") if "wgmma_fp8_ss_mma_async" in line]
    assert len(issues) == 4 and issues[0].rstrip().endswith("(bool)0);")
    assert all(line.rstrip().endswith("(bool)1);") for line in issues[1:])
    assert "wait_group_sync_aligned_0()" in loop


@pytest.mark.gpu
def test_promoted_fp8_gemm_is_more_exact_than_the_plain_one():
    """At K = 4096 the plain fp8 loop's error is the tensor core's (about 14 bits of each running sum, as cuBLASLt's
    fast mode); the promoted one's is 128-term sums added in float32. The largest error of either is the bfloat16
    output's rounding, so the test counts the elements that differ from the exact product rounded to bfloat16: the
    promoted GEMM misses far fewer than the plain one, and about as few as cuBLASLt's default mode."""
    n = 1024
    a = torch.randn(256, 4096, device="cuda").to(torch.float8_e4m3fn)
    b = (torch.randn(n, 4096, device="cuda") / 4).to(torch.float8_e4m3fn)
    exact = a.double() @ b.double().T
    rounded = exact.to(torch.bfloat16)
    missed = {}
    for name, func in (("plain", M.gemm_fp8(256, n, 4096)), ("promoted", M.gemm_fp8_promoted(256, n, 4096))):
        c = torch.full((256, n), float("nan"), device="cuda", dtype=torch.bfloat16)
        tiledsl.compile(func, out_idx=[], target="cuda")(a, b, c)
        torch.cuda.synchronize()
        assert not c.isnan().any(), name
        missed[name] = float((c != rounded).double().mean())
    one = torch.ones((), device="cuda")
    cublas = torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    missed["cublaslt"] = float((cublas != rounded).double().mean())
    assert missed["promoted"] < missed["plain"] / 2, missed
    assert missed["promoted"] <= 1.5 * missed["cublaslt"] + 1e-3, missed
