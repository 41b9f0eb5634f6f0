"""Kernels for the tiledsl.tune tests (no tests here): a bucketed CPU GEMM factory, importable as
``test_tune_helpers:matmul`` by the ``python -m tiledsl.tune`` end-to-end test, and a script entry that sweeps M
with shipped configs in a fresh process and reports what happened as JSON."""
from __future__ import annotations

import json
import sys

import torch

import tiledsl
from test_autotune_helpers import gemm_factory

N = K = 32
CONFIGS = [{"block_M": 16}, {"block_M": 32}]


def bucket_m(m):
    """Decode-like buckets for the tests: powers of two, at least 16 (M = 1..16 share one tuning)."""
    return tiledsl.tune.next_power_of_2(max(m, 16))


def ref_matmul(A, B):
    return A @ B


def make_matmul(**extra):
    """A fresh bucketed @autotune GEMM on the CPU (tiny: N = K = 32, two configs, few iterations)."""
    kwargs = dict(configs=CONFIGS, warmup=1, rep=2, timeout=60, ref_prog=ref_matmul, top_k=2, retime_rounds=1,
                  key=["M", "N", "K"], bucket={"M": bucket_m})
    kwargs.update(extra)
    return tiledsl.autotune(**kwargs)(tiledsl.jit(out_idx=[-1], target="llvm")(gemm_factory))


matmul = make_matmul()


def check_kernel(kernel, M) -> float:
    """The largest error of ``kernel`` against torch (float32) on fresh inputs, outputs poisoned first."""
    a = torch.randn(M, K, dtype=torch.float16)
    b = torch.randn(K, N, dtype=torch.float16)
    out = kernel(a, b)
    ref = a.float() @ b.float()
    return float((out.float() - ref).abs().max())


def sweep(ms) -> dict:
    """Call ``matmul`` for every M, check each kernel; what was tuned, shipped, ... and the worst error."""
    worst, configs = 0.0, {}
    for m in ms:
        kernel = matmul(m, N, K)
        worst = max(worst, check_kernel(kernel, m))
        configs[m] = kernel.config
    return {"stats": matmul.stats, "max_err": worst, "configs": configs}


if __name__ == "__main__":
    lo, hi, step = (int(v) for v in sys.argv[1:4])
    print(json.dumps(sweep(range(lo, hi + 1, step))))


def accumulate_factory(n, block=16, threads=16, dtype="float32"):
    """``C += A`` (an accumulation, as split-K into its output), ``Y = C + X`` (the output), ``X += 1`` (an in-place
    update): correct only when C starts at zero and X at its first value, at every launch."""
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((n,), dtype), X: T.Tensor((n,), dtype), C: T.Tensor((n,), dtype),
               Y: T.Tensor((n,), dtype)):
        with T.Kernel(T.ceildiv(n, block), threads=threads) as bx:
            for i in T.Parallel(block):
                C[bx * block + i] = C[bx * block + i] + A[bx * block + i]
                Y[bx * block + i] = C[bx * block + i] + X[bx * block + i]
                X[bx * block + i] = X[bx * block + i] + 1.0
    return kernel


def ref_accumulate(A, X, C):
    """What the kernel computes when C starts at zero and X is untouched."""
    return A + X
