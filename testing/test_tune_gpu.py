"""tiledsl.tune on the GPU (run by the lead on the H200): bucketed tuning of a CUDA GEMM written to a shipped file
that a fresh factory object serves every M from without tuning, and reset_to_zero / restore_value with CUDA
tensors. Skipped without a GPU."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import records

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_autotune_helpers import gemm_factory  # noqa: E402
from test_tune_helpers import accumulate_factory, ref_accumulate  # noqa: E402

pytestmark = pytest.mark.gpu

NK = 256
CONFIGS = [{"block_M": 64, "block_N": 64, "block_K": 32}, {"block_M": 128, "block_N": 128, "block_K": 32}]


def _bucketed(**extra):
    jit = tiledsl.jit(out_idx=[-1], target="cuda")(gemm_factory)
    return tiledsl.autotune(configs=CONFIGS, key=["M", "N", "K"], bucket={"M": tiledsl.tune.next_power_of_2},
                            warmup=5, rep=20, ref_prog=lambda A, B: A @ B, **extra)(jit)


def test_bucketed_gemm_on_the_gpu_then_shipped(cache_dir, tmp_path):
    shapes = [{"M": m, "N": NK, "K": NK} for m in (1, 3, 4, 100)]  # buckets 1, 4 (twice) and 128
    summary = tiledsl.tune.tune_shapes(_bucketed(), shapes, tmp_path / "shipped", progress=False)
    assert summary["tuned"] == 3
    tiledsl.disable_autotune()  # the file must answer everything
    served = _bucketed(configs_dir=tmp_path / "shipped")
    for m in (1, 2, 3, 5, 64, 100, 300):
        a = torch.randn(m, NK, dtype=torch.float16, device="cuda")
        b = torch.randn(NK, NK, dtype=torch.float16, device="cuda")
        out = served(m, NK, NK)(a, b)
        torch.testing.assert_close(out.float(), a.float() @ b.float(), rtol=1e-2, atol=5e-2)
    assert "tuned" not in served.stats and "default" not in served.stats
    assert served.stats.get("nearest", 0) >= 1  # M = 64 and 300 are outside the tuned buckets


def test_reset_and_restore_with_cuda_tensors(cache_dir):
    jit = tiledsl.jit(out_idx=[-1], target="cuda")(accumulate_factory)
    fused = tiledsl.autotune(configs=[{"block": 64, "threads": 64}, {"block": 128, "threads": 128}],
                             reset_to_zero=["C"], restore_value=["X"], warmup=2, rep=5, ref_prog=ref_accumulate,
                             cache_input_tensors=True)(jit)
    kernel = fused(4096)
    assert [t.status for t in fused.tune(4096).trials] == [records.OK, records.OK]
    a, x = torch.randn(4096, device="cuda"), torch.randn(4096, device="cuda")
    c, x0 = torch.zeros(4096, device="cuda"), x.clone()
    torch.testing.assert_close(kernel(a, x, c), a + x0)
    torch.testing.assert_close(x, x0 + 1)
