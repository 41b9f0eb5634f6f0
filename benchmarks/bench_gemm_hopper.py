"""GEMMs on an H100/H200 through tiledsl's Hopper path (warp-specialized TMA + wgmma), against cuBLAS
(torch.matmul) timed in alternating rounds in the same run. The tile configuration (and for few-row GEMMs the
split-K factor) is picked first by tiledsl's autotuner over a small space, every candidate checked against A @ B.
Prints a JSON report (and writes it to $OUT/bench_gemm_hopper.json when OUT is set).

    python benchmarks/bench_gemm_hopper.py [--shapes 4096x4096x4096,16x4096x4096] [--dtypes float16,bfloat16]
"""
import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

import tiledsl
from tiledsl.passes.hopper import gemm_match
from tiledsl.profiler import do_bench

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "gemm.py")

SPACE = [  # (block_M, block_N, threads, num_stages, split_k); split_k None = the Hopper path's own choice
    (128, 256, 256, 4, None), (128, 256, 256, 3, None), (128, 128, 256, 4, None), (128, 128, 128, 4, None),
    (64, 256, 128, 4, None),
]
SKINNY_SPACE = [  # few rows: memory-bound on B; small tiles, deep pipelines, K split over more CTAs
    (64, 64, 128, 6, 1), (64, 128, 128, 6, 1), (64, 64, 128, 6, None), (64, 128, 128, 4, None),
    (64, 128, 128, 6, None), (64, 128, 128, 6, 2), (64, 128, 128, 8, 8), (64, 256, 128, 4, None),
    (64, 64, 128, 8, 4),
]


def gemm_factory(M, N, K, block_M=128, block_N=128, threads=256, num_stages=3, split_k=0, dtype="float16"):
    """``examples/gemm.py``'s program for one config; ``split_k`` > 0 forces the Hopper path's split-K factor
    (0: its own choice). Loads the example by path, so the autotuner's workers can rebuild it."""
    import importlib.util

    from tiledsl.passes.hopper import gemm_match

    spec = importlib.util.spec_from_file_location("bench_example_gemm", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    prim = example.matmul.get_tir(M, N, K, block_M=block_M, block_N=block_N, block_K=64, threads=threads,
                                  num_stages=num_stages, dtype=dtype)
    return prim.with_attr(gemm_match.SPLIT_K_ATTR, split_k) if split_k else prim


def ref_matmul(A, B):
    return A @ B


def tflops(M, N, K, ms):
    return 2 * M * N * K / (ms * 1e-3) / 1e12


def check(kernel, a, b):
    c = torch.full((a.shape[0], b.shape[1]), float("nan"), device="cuda", dtype=a.dtype)
    kernel(a, b, c)
    ref = a.float() @ b.float()
    return float((c.float() - ref).norm() / ref.norm()), bool(torch.isfinite(c).all())


def bench_shape(M, N, K, dtype, rounds):
    tdt = getattr(torch, dtype)
    a, b = torch.randn(M, K, device="cuda", dtype=tdt), torch.randn(K, N, device="cuda", dtype=tdt)
    out = torch.empty(M, N, device="cuda", dtype=tdt)
    space = [dict(block_M=bm, block_N=bn, threads=t, num_stages=st, split_k=sk or 0)
             for bm, bn, t, st, sk in (SKINNY_SPACE if M < 256 else SPACE)]
    t0 = time.perf_counter()
    tuner = tiledsl.AutoTuner.from_kernel(tiledsl.jit(out_idx=[-1])(gemm_factory), configs=space)
    tuner.set_profile_args(warmup=10, rep=30, timeout=120, ref_prog=ref_matmul)
    tuner.set_kernel_parameters((M, N, K), {"dtype": dtype})
    result = tuner.run()
    select_s = time.perf_counter() - t0
    best_cfg = result.config
    prim = gemm_factory(M, N, K, dtype=dtype, **best_cfg)
    plan = gemm_match.match_gemm(prim)
    best = tiledsl.compile(prim)  # the winner again, without out_idx: timed with a preallocated output
    assert "wgmma" in best.get_kernel_source()
    ratios, ours_ms, cublas_ms = [], [], []
    for _ in range(rounds):  # alternate: cuBLAS, ours
        t_ref = do_bench(lambda: torch.matmul(a, b, out=out), warmup=10, rep=50)
        t_ours = do_bench(lambda: best(a, b, out), warmup=10, rep=50)
        cublas_ms.append(t_ref)
        ours_ms.append(t_ours)
        ratios.append(t_ref / t_ours)
    rel, finite = check(best, a, b)
    return {
        "shape": [M, N, K], "dtype": dtype, "best_config": best_cfg, "split_k_used": plan.split_k,
        "tuning_s": round(select_s, 2),
        "trials": [{"config": t.config, "status": t.status, "latency_ms": t.latency} for t in result.trials],
        "tiledsl_tflops_median": round(tflops(M, N, K, statistics.median(ours_ms)), 1),
        "cublas_tflops_median": round(tflops(M, N, K, statistics.median(cublas_ms)), 1),
        "tiledsl_us_median": round(statistics.median(ours_ms) * 1e3, 2),
        "cublas_us_median": round(statistics.median(cublas_ms) * 1e3, 2),
        "ratio_vs_cublas_median": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "final_rel_err": rel, "final_all_finite": finite,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x4096x4096,8192x8192x8192,16x4096x4096,128x4096x4096")
    ap.add_argument("--dtypes", default="float16,bfloat16")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    report = {"device": torch.cuda.get_device_name(), "date": time.strftime("%Y-%m-%d"), "results": []}
    for dtype in args.dtypes.split(","):
        for shape in args.shapes.split(","):
            M, N, K = (int(x) for x in shape.split("x"))
            report["results"].append(bench_shape(M, N, K, dtype, args.rounds))
            print(json.dumps(report["results"][-1]), flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_gemm_hopper.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
