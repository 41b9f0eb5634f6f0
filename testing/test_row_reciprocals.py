"""``TILEDSL_ROW_RECIPROCALS`` (``passes/cuda/row_reciprocals.py``; on by default since 2026-12-07): in a
``T.Parallel`` nest, a float division by a value the innermost loop does not change becomes a multiplication by its
reciprocal, which nvcc computes once per row.

nvcc: flash attention's ``acc_o / logsum`` becomes ``acc_o * (1 / logsum)`` with the switch and stays a division
without it; a division by a value that changes along the innermost loop, or by a constant, is left alone.
GPU: flash attention and a row-normalizing program against torch (outputs poisoned with NaN).
"""
import pytest
import torch

import general_programs as bench
import tiledsl
import tiledsl.language as T

SM90A = {"kind": "cuda", "arch": "sm_90a"}


# a schedule's own tests: marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only"), pytest.mark.slow]


def row_scale(M, N, block=64):
    """Y[i, j] = X[i, j] / s[i] + X[i, j] / X[i, j + 1 mod N] / 4: one division by a row value, one by an element."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), S: T.Tensor((M,), "float32"), Y: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(M, block), threads=128) as bx:
            x = T.alloc_fragment((block, N), "float32")
            s = T.alloc_fragment((block,), "float32")
            T.copy(X[bx * block, 0], x)
            T.copy(S[bx * block], s)
            for i, j in T.Parallel(block, N):
                Y[bx * block + i, j] = x[i, j] / s[i] + X[bx * block + i, j] / X[bx * block + i, (j + 1) % N] / 4.0
    return kernel


def _body(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source().split("__global__", 1)[1]


@pytest.mark.nvcc
def test_attention_divides_by_the_row_sum_once_per_row(monkeypatch):
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "0")
    plain = _body(bench.flash_attention(1, 2, 256, 64, False))
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "1")
    moved = _body(bench.flash_attention(1, 2, 256, 64, False))
    assert "make_float2(logsum_ptr[0], logsum_ptr[0])" in plain and "/ logsum_ptr[0]" not in plain  # divided by
    assert "1.000000e+00*/ / logsum_ptr[0])" in moved and "make_float2(logsum_ptr[0]," not in moved  # times 1 / l


@pytest.mark.nvcc
def test_only_row_values_are_inverted(monkeypatch):
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "1")
    body = _body(row_scale(128, 64))
    assert "1.000000e+00*/ / s_ptr[" in body  # the row value
    assert "1.000000e+00*/ / X_ptr" not in body and "/ X_ptr[" in body  # the element: still a division
    assert "2.500000e-01" in body or "/ 4" in body or "4.000000e+00" in body  # the constant: left to TVM


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_matches_torch(causal, monkeypatch):
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "1")
    bench.check_flash_attention_on_gpu(2, 4, 384, 128, causal)


@pytest.mark.gpu
def test_row_scale_matches_torch(monkeypatch):
    monkeypatch.setenv("TILEDSL_ROW_RECIPROCALS", "1")
    M, N = 256, 64
    x = torch.rand(M, N, device="cuda") + 0.5
    s = torch.rand(M, device="cuda") + 0.5
    y = torch.full_like(x, float("nan"))
    tiledsl.compile(row_scale(M, N), out_idx=[], target="cuda")(x, s, y)
    torch.cuda.synchronize()
    want = x / s[:, None] + x / x.roll(-1, dims=1) / 4
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-6)
