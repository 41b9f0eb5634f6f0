"""Large GEMMs on an H100/H200 through tiledsl's Hopper path (warp-specialized TMA + wgmma), against cuBLAS
(torch.matmul) timed in alternating rounds in the same run. The tile configuration (and for few-row GEMMs the
split-K factor) is picked by timing a small space first. Prints a JSON report (and writes it to
$OUT/bench_gemm_hopper.json when OUT is set).

    python benchmarks/bench_gemm_hopper.py [--shapes 4096x4096x4096,16x4096x4096] [--dtypes float16,bfloat16]
"""
import argparse
import importlib.util
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
_spec = importlib.util.spec_from_file_location("bench_example_gemm", ROOT / "examples" / "gemm.py")
_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_example)

SPACE = [  # (block_M, block_N, threads, num_stages, split_k); split_k None = the Hopper path's own choice
    (128, 256, 256, 4, None), (128, 256, 256, 3, None), (128, 128, 256, 4, None), (128, 128, 128, 4, None),
    (64, 256, 128, 4, None),
]
SKINNY_SPACE = [  # few rows: memory-bound on B; small tiles, deep pipelines, K split over more CTAs
    (64, 64, 128, 6, 1), (64, 128, 128, 6, 1), (64, 64, 128, 6, None), (64, 128, 128, 4, None),
    (64, 128, 128, 6, None), (64, 128, 128, 6, 2), (64, 128, 128, 8, 8), (64, 256, 128, 4, None),
    (64, 64, 128, 8, 4),
]


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
    candidates = {}
    t0 = time.perf_counter()
    for bm, bn, threads, stages, split in (SKINNY_SPACE if M < 256 else SPACE):
        prim = _example.matmul.get_tir(M, N, K, block_M=bm, block_N=bn, block_K=64, threads=threads,
                                       num_stages=stages, dtype=dtype)
        if split is not None:
            prim = prim.with_attr(gemm_match.SPLIT_K_ATTR, split)
        plan = gemm_match.match_gemm(prim)
        if plan is None:
            continue
        cfg = (bm, bn, threads, stages, plan.split_k)
        if cfg in candidates:
            continue
        kernel = tiledsl.compile(prim)
        if "wgmma" not in kernel.get_kernel_source():
            continue
        rel, finite = check(kernel, a, b)
        if not finite or rel > 1e-2:
            candidates[cfg] = {"error": f"rel {rel}, finite {finite}"}
            continue
        ms = do_bench(lambda: kernel(a, b, out), warmup=10, rep=30)
        candidates[cfg] = {"ms": ms, "rel_err": rel, "kernel": kernel}
    select_s = time.perf_counter() - t0
    ok = {k: v for k, v in candidates.items() if "ms" in v}
    best_cfg = min(ok, key=lambda k: ok[k]["ms"])
    best = ok[best_cfg]["kernel"]
    ratios, ours_ms, cublas_ms = [], [], []
    for _ in range(rounds):  # alternate: cuBLAS, ours
        t_ref = do_bench(lambda: torch.matmul(a, b, out=out), warmup=10, rep=50)
        t_ours = do_bench(lambda: best(a, b, out), warmup=10, rep=50)
        cublas_ms.append(t_ref)
        ours_ms.append(t_ours)
        ratios.append(t_ref / t_ours)
    rel, finite = check(best, a, b)
    return {
        "shape": [M, N, K], "dtype": dtype, "best_config": dict(zip(("block_M", "block_N", "threads", "num_stages", "split_k"),
                                                                   best_cfg)),
        "selection_s": round(select_s, 2),
        "candidates": {str(k): {kk: vv for kk, vv in v.items() if kk != "kernel"} for k, v in candidates.items()},
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
