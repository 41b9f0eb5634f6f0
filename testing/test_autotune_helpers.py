"""Kernels and a command-line entry for the autotuner tests (no tests here; imported by test_autotune*.py and run
as a script by the multi-process tests).

``matmul`` is the CPU GEMM of the docs with a ``variant`` argument that makes a candidate misbehave on purpose:
``bad_build`` (tile shapes disagree: T.copy rejects it at elaboration), ``hang`` (an endless loop after the GEMM),
``wrong`` (skips the last K tile), ``crash`` (stores far out of bounds: a segfault in the benchmark worker),
``slow_build`` (the factory sleeps: an elaboration that runs past its timeout, in the tuning process),
``slow_compile`` (a 30000-step unrolled loop: elaborates at once, then the builder's compile runs past its timeout),
``slow`` (the GEMM, then a loop that takes a few seconds: lets a test kill a run midway).
"""
from __future__ import annotations

import json
import os
import sys

import torch

import tiledsl
import tiledsl.language as T

SIZE = 128


def gemm_factory(M, N, K, block_M=32, block_N=32, block_K=32, num_stages=2, threads=128, variant="ok",
                 dtype="float16"):
    if variant == "slow_build":  # elaboration that runs past any sensible compile timeout
        import time
        time.sleep(600)
    k_tiles = T.ceildiv(K, block_K) - (1 if variant == "wrong" else 0)
    a_cols = block_K + (1 if variant == "bad_build" else 0)

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, a_cols), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(k_tiles, num_stages=num_stages):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
            if variant == "crash":
                for i in T.serial(4):
                    C[i * (150000000 // N) + 1000000 // N, 0] = C[0, 0]
            if variant == "hang":
                for i in T.serial(2000000000):
                    for j in T.serial(2000000000):
                        C[0, 0] = C[0, 0] + C[1, 1]
            if variant == "slow_compile":
                for i in T.unroll(30000):
                    C[i % M, 0] = C[(i * 7) % M, 1] * C[i % 13, 2]
            if variant == "slow":
                for i in T.serial(1500000):
                    C[1, 1] = T.max(C[1, 1], C[1, 1] - T.float16(1))  # keeps the value: passes a strict check
    return kernel


matmul = tiledsl.jit(out_idx=[-1])(gemm_factory)

GOOD = [{"block_M": bm, "block_N": bn} for bm in (32, 64) for bn in (32, 64)]
BAD = [{"variant": "bad_build"}, {"variant": "hang"}, {"variant": "wrong"}, {"variant": "crash"}]


def ref_matmul(A, B):
    return A @ B


def main(argv):
    """``python test_autotune_helpers.py <space> <out.json>``: tune on the CPU, write what happened as JSON."""
    space, out = argv[0], argv[1]
    configs = {"good": GOOD, "slow": [{"variant": "slow", "block_M": 32}, {"variant": "slow", "block_M": 64},
                                       {"variant": "slow", "block_N": 64}, {"variant": "slow", "block_K": 64}]}[space]
    timeout = float(os.environ.get("TUNE_TIMEOUT", "60"))
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs).set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=3, timeout=timeout, ref_prog=ref_matmul, top_k=2, retime_rounds=2)
    tuner.set_kernel_parameters((SIZE, SIZE, SIZE))
    result = tuner.run()
    a = torch.randn(SIZE, SIZE, dtype=torch.float16)
    b = torch.randn(SIZE, SIZE, dtype=torch.float16)
    ref = a.float() @ b.float()
    err = float((result.kernel(a, b).float() - ref).abs().max() / ref.abs().max())  # relative to the largest
    with open(out, "w") as f:
        json.dump({"config": result.config, "from_cache": result.from_cache, "key": result.key, "max_err": err,
                   "statuses": [t.status for t in result.trials], "resumed": [t.resumed for t in result.trials],
                   "pid": os.getpid()}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
