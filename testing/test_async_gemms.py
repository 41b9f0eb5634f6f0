"""Async gemms (``passes/cuda/async_gemms.py``; the default, ``TILEDSL_ASYNC_GEMMS=0`` off): independent
wgmma gemms issued together, each waited for where its result is first used.

nvcc: the order of commits and waits in the attention backward's loop and in a two-gemm program, the zero-init
of a cleared accumulator; on by default. GPU: both programs against torch (float32 references), the attention
backward through ``general_programs``' own check.
"""
import math
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as G

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"


pytestmark = pytest.mark.usefixtures("general_passes_only")


def two_gemms(M, N, K, block_M=128, block_N=64, threads=256):
    """out = exp(A @ B1 / sqrt(K)) * (A @ B2), whole K per tile: the second gemm does not need the first, the
    elementwise step between them needs only the first."""
    scale = 1 / math.sqrt(K)

    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), B1: T.Tensor((K, N), F16), B2: T.Tensor((K, N), F16),
               Out: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, K), F16)
            B1_s = T.alloc_shared((K, block_N), F16)
            B2_s = T.alloc_shared((K, block_N), F16)
            acc1 = T.alloc_fragment((block_M, block_N), "float32")
            acc2 = T.alloc_fragment((block_M, block_N), "float32")
            T.copy(A[by * block_M, 0], A_s)
            T.copy(B1[0, bx * block_N], B1_s)
            T.copy(B2[0, bx * block_N], B2_s)
            T.clear(acc1)
            T.gemm(A_s, B1_s, acc1)
            for i, j in T.Parallel(block_M, block_N):
                acc1[i, j] = T.exp(acc1[i, j] * scale)
            T.clear(acc2)
            T.gemm(A_s, B2_s, acc2)
            for i, j in T.Parallel(block_M, block_N):
                acc2[i, j] = acc2[i, j] * acc1[i, j]
            T.copy(acc2, Out[by * block_M, bx * block_N])
    return kernel


def _events(src, start=None):
    """The kernel's wgmma commits (C) and waits (W<n>), in order (from the first ``start`` on, if given)."""
    body = src.split("__global__")[-1]  # the kernel's definition (the source declares it first)
    if start is not None:
        body = body.split(start, 1)[1]
    return [("C" if m.group(1) else f"W{m.group(2)}")
            for m in re.finditer(r"(commit_group_commit_group_sync_aligned)\(|wait_group_wait_group_sync_aligned_(\d)\(",
                                 body)]


@pytest.mark.nvcc
def test_two_independent_gemms_are_issued_together(monkeypatch):
    monkeypatch.setenv("TILEDSL_ASYNC_GEMMS", "0")
    plain = tiledsl.compile(two_gemms(256, 128, 64), out_idx=[], target=SM90A).get_kernel_source()
    assert _events(plain) == ["C", "W0", "C", "W0"]
    monkeypatch.setenv("TILEDSL_ASYNC_GEMMS", "1")
    src = tiledsl.compile(two_gemms(256, 128, 64), out_idx=[], target=SM90A).get_kernel_source()
    # the second gemm moved up before the exp: both issued, the exp waits for the first only
    assert _events(src) == ["C", "C", "W1", "W0"]
    body = src.split("__global__", 2)[-1]
    w1 = body.index("wait_group_wait_group_sync_aligned_1(")
    assert body.index("expf(") > w1
    assert body.index("tiledsl_pin_f32(acc1_ptr[0])") < body.index("expf(")  # the finished gemm's registers pinned


@pytest.mark.nvcc
def test_attention_backward_overlaps_its_gemms(monkeypatch):
    """S^T = K Q^T and dP^T = V dO^T go together; the softmax waits for the first; dV += P^T dO runs during dS;
    the accumulators the program clears start from zero in the instruction (scale-d 0)."""
    case = G.cases(small=True)["attention_bwd"]
    monkeypatch.setenv("TILEDSL_ASYNC_GEMMS", "1")
    monkeypatch.setenv("TILEDSL_TMA_REDUCE", "0")  # dQ by element atomics, as when this schedule was written
    monkeypatch.setenv("TILEDSL_HOIST_OPERAND_READS", "0")
    src = tiledsl.compile(case.kernels["main"], out_idx=[], target=SM90A).get_kernel_source()
    # the last wait is the list's end: the TMA ring's release follows it (a redundant wait_group 2 after the dq
    # gemm's wait_group 0, harmless)
    assert _events(src, "for (int") == ["C", "C", "W1", "C", "W1", "C", "W0", "C", "W0", "W2"]


@pytest.mark.nvcc
def test_the_ds_store_moves_above_the_dk_gemm(monkeypatch):
    """TILEDSL_HOIST_OPERAND_READS (default): ``T.copy(dsT_cast, dsT_s)`` only reads dK's register A, so it moves above the
    dK gemm; dK and dQ are then issued back to back (one drain of the tensor pipe per iteration instead of two)."""
    monkeypatch.setenv("TILEDSL_HOIST_OPERAND_READS", "1")
    monkeypatch.setenv("TILEDSL_WAITS_PAST_BARRIERS", "0")  # its order and waits: test_waits_past_barriers.py
    case = G.cases(small=True)["attention_bwd"]
    src = tiledsl.compile(case.kernels["main"], out_idx=[], target=SM90A).get_kernel_source()
    loop = src.split("__global__", 2)[-1].split("for (int", 1)[1]
    assert _events(loop) == ["C", "C", "W1", "C", "W1", "C", "C", "W0", "W1"]
    assert loop.index("*(half2*)(dsT_s + ") < loop.index("(dk_ptr[0], dk_ptr[1]")  # the store, then dK's wgmma


# ---------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("setting", ["0", "1"])
def test_two_gemms_match_torch(setting, monkeypatch):
    monkeypatch.setenv("TILEDSL_ASYNC_GEMMS", setting)
    M, N, K = 384, 192, 64
    kernel = tiledsl.compile(two_gemms(M, N, K), out_idx=[], target="cuda")
    a, b1, b2 = (torch.randn(*s, device="cuda").half() for s in ((M, K), (K, N), (K, N)))
    out = torch.full((M, N), float("nan"), device="cuda")
    kernel(a, b1, b2, out)
    torch.cuda.synchronize()
    want = torch.exp(a.float() @ b1.float() / math.sqrt(K)) * (a.float() @ b2.float())
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out, want, rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["attention_bwd", "attention_bwd_causal"])
@pytest.mark.parametrize("hoist", ["0", "1"])
def test_attention_backward_with_async_gemms_matches_torch(name, hoist, monkeypatch):
    monkeypatch.setenv("TILEDSL_ASYNC_GEMMS", "1")
    monkeypatch.setenv("TILEDSL_HOIST_OPERAND_READS", hoist)
    case = G.cases(small=True)[name]
    err, ok = G.check_on_gpu(case)
    assert ok, err
