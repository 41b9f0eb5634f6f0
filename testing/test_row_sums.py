"""Deferred row sums (``passes/cuda/row_sums.py``, on by default; ``TILEDSL_DEFER_ROW_SUMS=0`` off): a loop's running row
sum ``L[i] = L[i] * a[i] + S[i]`` with ``S`` a row sum of a tensor-core accumulator is kept per thread, and combined
across the lanes sharing the rows once after the loop.

CPU: the test program's CPU build (the pass is CUDA's only) against torch, so the GPU test's reference is right.
nvcc: flash attention's sum shuffles leave the loop for one combine after it, the rest of the kernel unchanged; the
programs the pass must leave alone (a non-zero start, the total read inside the loop, the row sum read twice, a
product of the two) build the same source as with the switch off; the pattern over a loaded fragment (no
tensor-core accumulator) builds with its sums whole. GPU: the test program (two warpgroups, a scale
per iteration, several tiles) and flash attention (causal or not) with the switch on against torch.
"""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"
# a schedule's own tests: marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only", "no_kernel_cache"), pytest.mark.slow]


def running_row_sums(M, N, K, block_M=128, block_N=64, form="scaled"):
    """Out[rows of block bx] = sum over key blocks j of rowsum(A_bx K_j^T), the total scaled by 0.5 before each
    block's sum is added (``form="scaled"``), or variants the pass must refuse: "one" (the total starts at 1),
    "read_inside" (the total also read in the loop), "sum_twice" (the block's sum also read elsewhere), "product"
    (the total multiplied by the sum)."""

    @T.prim_func
    def kernel(A: T.Tensor((M, K), F16), B: T.Tensor((N, K), F16), Out: T.Tensor((M,), "float32"),
               Peek: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=256) as bx:
            A_s = T.alloc_shared((block_M, K), F16)
            B_s = T.alloc_shared((block_N, K), F16)
            s = T.alloc_fragment((block_M, block_N), "float32")
            part = T.alloc_fragment((block_M,), "float32")
            total = T.alloc_fragment((block_M,), "float32")
            seen = T.alloc_fragment((block_M,), "float32")
            T.copy(A[bx * block_M, 0], A_s)
            T.fill(total, 1 if form == "one" else 0)
            T.clear(seen)
            for j in T.Pipelined(N // block_N, num_stages=2):
                T.copy(B[j * block_N, 0], B_s)
                T.clear(s)
                T.gemm(A_s, B_s, s, transpose_B=True)
                T.reduce_sum(s, part, dim=1)
                for i in T.Parallel(block_M):
                    if form == "product":
                        total[i] = total[i] * part[i] + part[i]
                    else:
                        total[i] = total[i] * 0.5 + part[i]
                if form == "read_inside":
                    for i in T.Parallel(block_M):
                        seen[i] = seen[i] + total[i]
                if form == "sum_twice":
                    for i in T.Parallel(block_M):
                        seen[i] = seen[i] + part[i]
            T.copy(total, Out[bx * block_M])
            T.copy(seen, Peek[bx * block_M])
    return kernel


def loaded_row_sums(M, N, block_M=64, block_N=64):
    """Out[i] = the rows' running sum of X's column blocks, the total halved before each block's sum is added: the
    pass's pattern, but of a fragment loaded from memory (no tensor-core accumulator), so its sums stay whole."""

    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), Out: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=128) as bx:
            x = T.alloc_fragment((block_M, block_N), "float32")
            part = T.alloc_fragment((block_M,), "float32")
            total = T.alloc_fragment((block_M,), "float32")
            T.clear(total)
            for j in T.serial(N // block_N):
                T.copy(X[bx * block_M, j * block_N], x)
                T.reduce_sum(x, part, dim=1)
                for i in T.Parallel(block_M):
                    total[i] = total[i] * 0.5 + part[i]
            T.copy(total, Out[bx * block_M])
    return kernel


def loaded_reference(x, block_N=64):
    """:func:`loaded_row_sums` in float64."""
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for j in range(x.shape[1] // block_N):
        total = total * 0.5 + x[:, j * block_N:(j + 1) * block_N].double().sum(dim=1)
    return total


def reference(a, b, block_N):
    """The scaled form's output in float64."""
    total = torch.zeros(a.shape[0], dtype=torch.float64)
    for j in range(b.shape[0] // block_N):
        total = total * 0.5 + (a.double() @ b[j * block_N:(j + 1) * block_N].double().T).sum(dim=1)
    return total


def _source(program, monkeypatch, on):
    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "1" if on else "0")
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


def test_the_cpu_build_matches_the_reference():
    M, N, K = 256, 256, 64
    kernel = tiledsl.compile(running_row_sums(M, N, K), out_idx=[], target="llvm")
    a, b = torch.randn(M, K).half(), torch.randn(N, K).half()
    out, peek = torch.full((M,), float("nan")), torch.full((M,), float("nan"))
    kernel(a, b, out, peek)
    torch.testing.assert_close(out.double(), reference(a, b, 64), rtol=1e-4, atol=1e-3)


@pytest.mark.nvcc
def test_attention_sums_its_rows_across_threads_once_after_the_loop(monkeypatch):
    program = lambda: bench.flash_attention(1, 2, 512, 128, False)  # noqa: E731
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "0")  # the division by the total, found below
    off, on = _source(program(), monkeypatch, False), _source(program(), monkeypatch, True)
    assert "scores_sum_part_ptr[0] + __shfl_xor_sync" in off and "logsum_part" not in off
    assert "scores_sum_part_ptr[0] + __shfl_xor_sync" not in on
    assert on.count("logsum_part_ptr[0] = (logsum_part_ptr[0] + __shfl_xor_sync") == 2  # lanes 1 and 2 of the quad
    assert on.count("__shfl_xor_sync(") == off.count("__shfl_xor_sync(") - 4  # 8 in the loop's two copies, 4 after
    # the combine comes after the loop's last P V and before the division by the total
    combine = on.index("logsum_part_ptr[0] = logsum_ptr[0];")
    assert on.rindex("wgmma_f16_rs_mma_async", 0, combine) > 0 and on.index("/v__", combine) > combine
    # nothing else changed
    strip = lambda src: re.sub(r"cse_v\d+|v__\d+|__\d+", "x", src)  # noqa: E731
    removed = [line for line in strip(off).splitlines()
               if not ("scores_sum_part" in line and "__shfl_xor_sync" in line)]
    added = [line for line in strip(on).splitlines() if "logsum_part" not in line]
    assert removed == added


@pytest.mark.nvcc
def test_the_scaled_running_sum_is_deferred(monkeypatch):
    program = lambda: running_row_sums(512, 256, 64)  # noqa: E731
    off, on = _source(program(), monkeypatch, False), _source(program(), monkeypatch, True)
    assert "total_part" not in off and on.count("total_part_ptr[0] = (total_part_ptr[0] + __shfl_xor_sync") == 2


@pytest.mark.nvcc
@pytest.mark.parametrize("form", ["one", "read_inside", "sum_twice", "product"])
def test_the_pass_leaves_other_forms_alone(form, monkeypatch):
    program = lambda: running_row_sums(512, 256, 64, form=form)  # noqa: E731
    assert _source(program(), monkeypatch, True) == _source(program(), monkeypatch, False)


@pytest.mark.nvcc
@pytest.mark.parametrize("on", [False, True])
def test_a_loaded_fragment_keeps_whole_sums(on, monkeypatch):
    """The pattern over a fragment that is no tensor-core accumulator: the pass marks it (the layouts are not known
    yet), the lowering sums it whole in the loop and drops the combining reduction (a strict build: no retry
    hides a failure; the values are the GPU test's)."""
    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "1")
    source = _source(loaded_row_sums(128, 256), monkeypatch, on)
    assert "total_part" not in source and source.count("__shfl_xor_sync(") == _source(
        loaded_row_sums(128, 256), monkeypatch, False).count("__shfl_xor_sync(")


@pytest.mark.gpu
def test_a_loaded_fragment_sums_match_torch_on_gpu(monkeypatch):
    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "1")
    kernel = tiledsl.compile(loaded_row_sums(192, 512), out_idx=[], target="cuda")
    x = torch.randn(192, 512)
    out = torch.full((192,), float("nan"), device="cuda")
    kernel(x.cuda(), out)
    torch.cuda.synchronize()
    torch.testing.assert_close(out.cpu().double(), loaded_reference(x), rtol=1e-5, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("M,N", [(512, 256), (384, 1024)])
def test_running_row_sums_match_torch_on_gpu(M, N, monkeypatch):
    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "1")
    K = 64
    kernel = tiledsl.compile(running_row_sums(M, N, K), out_idx=[], target="cuda")
    assert "total_part" in kernel.get_kernel_source()
    a, b = torch.randn(M, K).half(), torch.randn(N, K).half()
    out, peek = (torch.full((M,), float("nan"), device="cuda") for _ in range(2))
    kernel(a.cuda(), b.cuda(), out, peek)
    torch.cuda.synchronize()
    torch.testing.assert_close(out.cpu().double(), reference(a, b, 64), rtol=1e-4, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("causal,S", [(False, 1024), (True, 1000), (True, 128)])
def test_flash_attention_with_deferred_row_sums_matches_torch(causal, S, monkeypatch):
    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "1")
    kernel = bench.check_flash_attention_on_gpu(2, 3, S, 128, causal)
    assert "logsum_part" in kernel.get_kernel_source()


@pytest.mark.gpu
@pytest.mark.parametrize("name,kernel", [("flash_attention", "main"), ("flash_attention_causal", "main"),
                                         ("flash_decode", "split"), ("gqa_bf16", "main"), ("gqa_bf16_causal", "main")])
def test_benchmark_programs_it_changes_match_torch_on_gpu(name, kernel, monkeypatch):
    """The benchmark programs (``general_programs``, ``more_programs``) whose source the switch changes, small."""
    import more_programs

    monkeypatch.setenv("TILEDSL_DEFER_ROW_SUMS", "1")
    programs = {**bench.cases(small=True), **more_programs.cases(small=True)}
    compiled = bench.check_case_on_gpu(name, programs)
    assert "_part_ptr[0] = (" in compiled[kernel].get_kernel_source()
