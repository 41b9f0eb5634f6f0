"""GEMMs on an H100/H200 through tiledsl's default path (the general passes: warp-specialized TMA + wgmma; with
``--shortcut``, the whole-kernel Hopper GEMM where its matcher takes the program), against cuBLAS
(torch.matmul) timed in alternating rounds in the same run. The tile configuration (and for few-row GEMMs the
split-K factor) is picked first by tiledsl's autotuner over a small space, every candidate checked against A @ B.
The winner is checked element by element against float64 A @ B (a bound derived from K and the dtypes,
``testing/gemm_tolerance.py``) with a NaN-poisoned output, before and after timing; a wrong result fails the run
(exit status 1, after the report is written). Each result records the path its kernel took (``kernel``: Hopper
kernel or generic, with the block sizes, stages and split-K the kernel really uses) and the peer's call.
Prints a JSON report (and writes it to $OUT/bench_gemm_hopper.json when OUT is set).

    python benchmarks/bench_gemm_hopper.py [--shapes 4096x4096x4096,16x4096x4096] [--dtypes float16,bfloat16]
        [--shortcut]
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

import tiledsl
from tiledsl.profiler import do_bench

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "testing"))
from gemm_tolerance import gemm_mismatch  # noqa: E402
EXAMPLE = str(ROOT / "examples" / "gemm.py")
EXAMPLE_FP8 = str(ROOT / "examples" / "gemm_fp8.py")

SPACE = [  # (block_M, block_N, threads, num_stages, split_k); split_k None = the path's own choice
    (128, 256, 256, 4, None), (128, 256, 256, 3, None), (128, 128, 256, 4, None), (128, 128, 128, 4, None),
    (64, 256, 128, 4, None),
]
SKINNY_SPACE = [  # few rows: memory-bound on B; small tiles, deep pipelines, K split over more CTAs
    (64, 64, 128, 6, 1), (64, 128, 128, 6, 1), (64, 64, 128, 6, None), (64, 128, 128, 4, None),
    (64, 128, 128, 6, None), (64, 128, 128, 6, 2), (64, 128, 128, 8, 8), (64, 256, 128, 4, None),
    (64, 64, 128, 8, 4),
]


def load_example(path: str):
    """An example module loaded by path (the factories below call it, so the autotuner's workers can too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_example_" + Path(path).stem, path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def with_split_k(prim, split_k: int):
    """``prim`` with its split-K factor forced (0: the lowering's own choice), as a program asks for it
    (``tiledsl.split_k``, which the general passes and the whole-kernel shortcut both read)."""
    from tiledsl.passes.split_k import SPLIT_K_ATTR
    return prim.with_attr(SPLIT_K_ATTR, split_k) if split_k else prim


def gemm_factory(M, N, K, block_M=128, block_N=128, threads=256, num_stages=3, split_k=0, dtype="float16"):
    """``examples/gemm.py``'s program for one config."""
    return with_split_k(load_example(EXAMPLE).matmul.get_tir(M, N, K, block_M=block_M, block_N=block_N, block_K=64,
                                                             threads=threads, num_stages=num_stages, dtype=dtype),
                        split_k)


def fp8_factory(M, N, K, block_M=128, block_N=256, threads=256, num_stages=4, split_k=0):
    """``examples/gemm_fp8.py``'s fp8 linear (e4m3 A [M, K], B [N, K], C = relu(A B^T * scale + bias) in bf16)."""
    return with_split_k(load_example(EXAMPLE_FP8).fp8_linear.get_tir(M, N, K, block_M=block_M, block_N=block_N,
                                                                     block_K=128, threads=threads,
                                                                     num_stages=num_stages), split_k)


def ref_matmul(A, B):
    return A @ B


def ref_fp8_linear(A, B, scale, bias):
    return torch.relu(A.float() @ B.float().T * scale + bias)


def tflops(M, N, K, ms):
    return 2 * M * N * K / (ms * 1e-3) / 1e12


class WrongResult(Exception):
    """A benchmarked kernel computed something else than its reference."""


def check(what: str, out, run, a, b, transpose_B=False, ref=None) -> str:
    """Poison ``out``, ``run()`` (which writes it), and compare element-wise against float64 A @ B (or ``ref``);
    '' when right, else the mismatch (recorded, and the run fails at the end)."""
    out.fill_(float("nan"))
    run()
    torch.cuda.synchronize()
    why = gemm_mismatch(out, a, b, transpose_B, ref)
    return f"{what}: {why}" if why else ""


def trial_rows(result):
    return [{"config": t.config, "status": t.status, "latency_ms": t.latency, "kernel": t.kernel}
            for t in result.trials]


def scaled_mm_into(a, b, one, bias16, out, fast_accum=False):
    """cuBLASLt's fp8 GEMM into the preallocated ``out`` (torch._scaled_mm's out= variant); ``fast_accum``: the
    products accumulated in the tensor core only, as a plain wgmma loop does (the default promotes partial sums to
    float32 registers, more exact and slower)."""
    return torch._scaled_mm(a, b.t(), one, one, bias=bias16, out_dtype=torch.bfloat16, out=out,
                            use_fast_accum=fast_accum)


def bench_fp8(M, N, K, rounds):
    """fp8 (e4m3) linear with scale, bias and ReLU against cuBLASLt's fp8 GEMM (torch._scaled_mm with a scale and
    a bias, no ReLU), bf16 out, in both of its accumulation modes (float32 promotion, its default; fast accumulation,
    the numerics of our kernel: Hopper's fp8 wgmma keeps about 14 bits of each running sum, so at K = 4096 a few
    elements in 10^5 miss the tuner's rtol 2e-2 / atol 5e-2 on any tile config, through either of our paths and
    through cuBLASLt's fast mode alike (H100/H200 2026-12-07, ``probe_fp8_paths.py``). The tuner therefore allows
    1e-4 of the elements to miss (a wrong tile, row or fragment is far more); the winner is held to the K-derived
    bound of ``gemm_tolerance.py`` on every element, before and after timing."""
    a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device="cuda") / 4).to(torch.float8_e4m3fn)
    bias = torch.randn(N, device="cuda")
    bias16, one = bias.bfloat16(), torch.ones((), device="cuda")
    space = [dict(block_M=bm, block_N=bn, threads=t, num_stages=st, split_k=sk or 0)
             for bm, bn, t, st, sk in (SKINNY_SPACE if M < 256 else SPACE)]
    t0 = time.perf_counter()
    tuner = tiledsl.AutoTuner.from_kernel(tiledsl.jit(out_idx=[-1])(fp8_factory), configs=space)
    tuner.set_profile_args(warmup=10, rep=30, timeout=120, ref_prog=ref_fp8_linear, rtol=2e-2, atol=5e-2,
                           max_mismatched_ratio=1e-4)
    tuner.set_kernel_parameters((M, N, K))
    with tiledsl.set_autotune_inputs(a, b, 1.0, bias):
        result = tuner.run()
    select_s = time.perf_counter() - t0
    prim = fp8_factory(M, N, K, **result.config)
    best = tiledsl.compile(prim)
    out = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
    peer_out = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
    exact = torch.relu(a.double() @ b.double().T + bias.double())
    problems = [check("before timing", out, lambda: best(a, b, 1.0, bias, out), a, b, True, exact)]
    try:
        scaled_mm_into(a, b, one, bias16, peer_out)
        peer, peer_call = (lambda: scaled_mm_into(a, b, one, bias16, peer_out)), "torch._scaled_mm(out=)"
        fast = lambda: scaled_mm_into(a, b, one, bias16, peer_out, fast_accum=True)  # noqa: E731
    except (TypeError, RuntimeError):  # a torch without the out= variant: the peer allocates its output
        peer = lambda: torch._scaled_mm(a, b.t(), one, one, bias=bias16, out_dtype=torch.bfloat16)  # noqa: E731
        fast = lambda: torch._scaled_mm(a, b.t(), one, one, bias=bias16, out_dtype=torch.bfloat16,  # noqa: E731
                                        use_fast_accum=True)
        peer_call = "torch._scaled_mm (allocates its output: no out= in this torch)"
    ratios, ours_ms, ref_ms, fast_ms = [], [], [], []
    for _ in range(rounds):
        t_ref = do_bench(peer, warmup=10, rep=50)
        t_fast = do_bench(fast, warmup=10, rep=50)
        t_ours = do_bench(lambda: best(a, b, 1.0, bias, out), warmup=10, rep=50)
        ref_ms.append(t_ref)
        fast_ms.append(t_fast)
        ours_ms.append(t_ours)
        ratios.append(t_ref / t_ours)
    problems.append(check("after timing", out, lambda: best(a, b, 1.0, bias, out), a, b, True, exact))
    return {
        "shape": [M, N, K], "dtype": "float8_e4m3fn -> bfloat16", "best_config": result.config,
        "kernel": best.kernel_info, "peer": peer_call, "tuning_s": round(select_s, 2),
        "trials": trial_rows(result),
        "tiledsl_tflops_median": round(tflops(M, N, K, statistics.median(ours_ms)), 1),
        "cublas_fp8_tflops_median": round(tflops(M, N, K, statistics.median(ref_ms)), 1),
        "ratio_vs_cublas_median": round(statistics.median(ratios), 3), "ratios": [round(r, 3) for r in ratios],
        "cublas_fp8_fast_accum_tflops_median": round(tflops(M, N, K, statistics.median(fast_ms)), 1),
        "ratio_vs_cublas_fast_accum_median": round(statistics.median(f / o for f, o in zip(fast_ms, ours_ms)), 3),
        "wrong": [p for p in problems if p],
    }


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
    best = tiledsl.compile(prim)  # the winner again, without out_idx: timed with a preallocated output
    problems = [check("before timing", out, lambda: best(a, b, out), a, b)]
    ratios, ours_ms, cublas_ms = [], [], []
    for _ in range(rounds):  # alternate: cuBLAS, ours
        t_ref = do_bench(lambda: torch.matmul(a, b, out=out), warmup=10, rep=50)
        t_ours = do_bench(lambda: best(a, b, out), warmup=10, rep=50)
        cublas_ms.append(t_ref)
        ours_ms.append(t_ours)
        ratios.append(t_ref / t_ours)
    problems.append(check("after timing", out, lambda: best(a, b, out), a, b))
    return {
        "shape": [M, N, K], "dtype": dtype, "best_config": best_cfg, "kernel": best.kernel_info,
        "peer": "torch.matmul(out=)", "tuning_s": round(select_s, 2), "trials": trial_rows(result),
        "tiledsl_tflops_median": round(tflops(M, N, K, statistics.median(ours_ms)), 1),
        "cublas_tflops_median": round(tflops(M, N, K, statistics.median(cublas_ms)), 1),
        "tiledsl_us_median": round(statistics.median(ours_ms) * 1e3, 2),
        "cublas_us_median": round(statistics.median(cublas_ms) * 1e3, 2),
        "ratio_vs_cublas_median": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "wrong": [p for p in problems if p],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x4096x4096,8192x8192x8192,16x4096x4096,128x4096x4096")
    ap.add_argument("--dtypes", default="float16,bfloat16", help="float16, bfloat16, float8_e4m3fn")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shortcut", action="store_true", help="let the whole-kernel Hopper GEMM take the programs")
    args = ap.parse_args()
    os.environ["TILEDSL_HOPPER_SHORTCUT"] = "1" if args.shortcut else "0"  # before any build or tuning worker
    report = {"device": torch.cuda.get_device_name(), "date": time.strftime("%Y-%m-%d"), "results": [],
              "path": "whole-kernel shortcut" if args.shortcut else "general passes"}
    for dtype in args.dtypes.split(","):
        for shape in args.shapes.split(","):
            M, N, K = (int(x) for x in shape.split("x"))
            report["results"].append(bench_fp8(M, N, K, args.rounds) if dtype == "float8_e4m3fn" else
                                     bench_shape(M, N, K, dtype, args.rounds))
            print(json.dumps(report["results"][-1]), flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_gemm_hopper.json").write_text(json.dumps(report, indent=1))
    wrong = [f"{r['shape']} {r['dtype']}: {w}" for r in report["results"] for w in r["wrong"]]
    if wrong:
        raise WrongResult("wrong results:\n" + "\n".join(wrong))


if __name__ == "__main__":
    main()
