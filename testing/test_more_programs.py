"""The programs of ``benchmarks/bench_more.py`` (``testing/more_programs.py``), general passes only: programs no
earlier benchmark had (a bf16 GEMM with a GELU epilogue, nn.Linear's layout, grouped-query attention in bf16,
RMSNorm, softmax, an fp8 GEMM).

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
TMA_STORED = ("gemm_bias_gelu_bf16", "linear_llama_mlp", "gemm_fp8")  # gemm-only loops

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
