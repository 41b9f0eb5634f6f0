"""Autotuner benchmark: tune TileLang's 32-config GEMM space from a cold cache, then check the pick.

1. Tunes ``matmul`` (fp16, M = N = K = 4096 by default) over block_M, block_N in {64, 128}, block_K in {32, 64},
   num_stages in {2, 3}, threads in {128, 256} with an empty TILEDSL_CACHE_DIR (no compiled kernel, no tuning
   result), and reports the wall time of the tuning call.
2. Re-times every candidate that succeeded, 5 rounds interleaved (CUDA events, L2 flushed, median of 100 reps per
   round, median over rounds), and reports the winner's gap to the best of them.
3. Times cuBLAS (torch.matmul) in the same rounds, for a ratio.

Usage: python benchmarks/bench_autotune.py [--size 4096] [--cpu-smoke]   (--cpu-smoke: a tiny CPU run of the same
script, to check it without a GPU). Prints one JSON object; writes it to $OUT/bench_autotune.json when $OUT is set.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def gemm_factory(M, N, K, block_M=128, block_N=128, block_K=32, num_stages=3, threads=128, dtype="float16"):
    import tiledsl.language as T

    @T.prim_func
    def kernel(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_K, block_N), dtype)
            C_f = T.alloc_fragment((block_M, block_N), "float32")
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[ko * block_K, bx * block_N], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return kernel


def configs():
    import itertools

    return [dict(block_M=m, block_N=n, block_K=k, num_stages=s, threads=t)
            for m, n, k, s, t in itertools.product([64, 128], [64, 128], [32, 64], [2, 3], [128, 256])]


def ref_matmul(A, B):
    return A @ B


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--cpu-smoke", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ["TILEDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix="tiledsl-bench-autotune-")  # cold cache

    import torch

    import tiledsl
    from tiledsl.profiler import bind, do_bench

    size = 128 if args.cpu_smoke else args.size
    space = configs()[:4] if args.cpu_smoke else configs()
    target = "llvm" if args.cpu_smoke else "auto"
    device = "cpu" if args.cpu_smoke else "cuda"
    warmup, rep = (1, 3) if args.cpu_smoke else (25, 100)
    matmul = tiledsl.jit(out_idx=[-1], target=target)(gemm_factory)

    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=space)
    tuner.set_profile_args(warmup=warmup, rep=rep, timeout=60, ref_prog=ref_matmul)
    tuner.set_kernel_parameters((size, size, size))
    start = time.perf_counter()
    result = tuner.run()
    tuning_s = time.perf_counter() - start

    gen = torch.Generator(device=device).manual_seed(1)
    a = torch.rand(size, size, device=device, generator=gen, dtype=torch.float32).sub_(0.5).half()
    b = torch.rand(size, size, device=device, generator=gen, dtype=torch.float32).sub_(0.5).half()
    ok = [t for t in result.trials if t.ok]
    runs = {json.dumps(t.config, sort_keys=True): bind(tiledsl.JITKernel.load(t.artifact), [a, b])[0] for t in ok}
    runs["cublas"] = lambda: torch.matmul(a, b)
    samples = {k: [] for k in runs}
    for _ in range(args.rounds):
        for k, run in runs.items():
            samples[k].append(do_bench(run, warmup, rep, device=device))
    med = {k: statistics.median(v) for k, v in samples.items()}
    cands = {k: v for k, v in med.items() if k != "cublas"}
    best_key = min(cands, key=cands.get)
    win_key = json.dumps(result.config, sort_keys=True)
    flops = 2 * size ** 3
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "size": size, "configs": len(space), "tuning_seconds": round(tuning_s, 2),
        "milestones_s": result.phases, "early_stopped": sum(t.early_stopped for t in result.trials),
        "statuses": result.summary(), "winner": result.config, "winner_tuned_ms": result.latency,
        "winner_retimed_ms": cands[win_key], "best_retimed": json.loads(best_key), "best_retimed_ms": cands[best_key],
        "winner_gap_to_best": cands[win_key] / cands[best_key] - 1.0,
        "cublas_ms": med["cublas"], "winner_vs_cublas": med["cublas"] / cands[win_key],
        "winner_tflops": flops / cands[win_key] / 1e9,
        "failures": [(t.config, t.status, (t.reason or "")[:200]) for t in result.trials if not t.ok][:8],
        "all_retimed_ms": {k: round(v, 5) for k, v in sorted(cands.items(), key=lambda kv: kv[1])},
    }
    text = json.dumps(report, indent=1)
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_autotune.json").write_text(text)


if __name__ == "__main__":
    main()
