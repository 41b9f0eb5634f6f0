"""Bucketed tuning against per-shape tuning on a decode-like sweep (issue 10).

1. ``tiledsl.tune.tune_shapes`` tunes a fp16 GEMM (N = K = 4096) on a list of M values spread over 1..4096,
   once per bucket (``next_power_of_2(M)``), and writes the shipped file; a fresh factory object reading that file
   (``configs_dir=``) compiles every M with its bucket's config and tunes nothing (checked).
2. Every M of the list is also tuned on its own (``AutoTuner``, exact shape).
3. For each M the two kernels are re-timed side by side (CUDA events, L2 flushed, median of ``--rep``, rounds
   interleaved) and checked against torch; the report gives per-shape / bucketed time (1.0: the bucket's config is
   as fast as the shape's own winner), its geometric mean and worst case.

Usage: python benchmarks/bench_tune_buckets.py [--ms 1,3,8,...] [--cpu-smoke]. Prints one JSON object; writes it
to $OUT/bench_tune_buckets.json when $OUT is set. ``--cpu-smoke`` runs the same steps tiny on the CPU.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_autotune import gemm_factory  # noqa: E402  (the README's GEMM, tunable block sizes)

DEFAULT_MS = [1, 2, 3, 5, 8, 12, 16, 24, 32, 48, 64, 100, 128, 200, 256, 384, 512, 768, 1024, 1500, 2048, 3000, 4096]


def ref_matmul(A, B):
    return A @ B


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ms", default=",".join(map(str, DEFAULT_MS)))
    ap.add_argument("--nk", type=int, default=4096)
    ap.add_argument("--rep", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu-smoke", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TILEDSL_CACHE_DIR", tempfile.mkdtemp(prefix="bench-tune-buckets-"))
    import torch

    import tiledsl
    from tiledsl.profiler import do_bench

    smoke = args.cpu_smoke
    ms = [1, 5, 16, 20, 40] if smoke else [int(m) for m in args.ms.split(",")]
    nk = 32 if smoke else args.nk
    target, device = ("llvm", "cpu") if smoke else ("cuda", "cuda")
    if smoke:
        space = [{"block_M": bm, "block_N": 32, "block_K": 32, "threads": 128} for bm in (16, 32)]
    else:
        space = [dict(block_M=m, block_N=n, block_K=k, num_stages=3, threads=128)
                 for m in (32, 64, 128) for n in (64, 128) for k in (32, 64)]
    profile = dict(warmup=1 if smoke else 10, rep=3 if smoke else 50, timeout=60 if smoke else 120,
                   top_k=3, retime_rounds=1 if smoke else 3)
    jit = tiledsl.jit(out_idx=[-1], target=target)(gemm_factory)
    profile["ref_prog"] = ref_matmul

    def bucketed(**extra):
        return tiledsl.autotune(configs=space, key=["M", "N", "K"], bucket={"M": tiledsl.tune.next_power_of_2},
                                **profile, **extra)(jit)

    shapes = [{"M": m, "N": nk, "K": nk} for m in ms]
    out_dir = Path(tempfile.mkdtemp(prefix="shipped-"))
    t0 = time.perf_counter()
    summary = tiledsl.tune.tune_shapes(bucketed(), shapes, out_dir, progress=False)
    bucket_seconds = time.perf_counter() - t0
    shipped = bucketed(configs_dir=out_dir)
    bucket_kernels = [shipped(m, nk, nk) for m in ms]
    assert "tuned" not in shipped.stats, shipped.stats  # the shipped file answers every M

    t0 = time.perf_counter()
    exact = []
    for m in ms:
        tuner = tiledsl.AutoTuner.from_kernel(jit, configs=space).set_profile_args(**profile)
        exact.append(tuner.set_kernel_parameters((m, nk, nk)).run())
    exact_seconds = time.perf_counter() - t0

    rows = []
    for m, kb, res in zip(ms, bucket_kernels, exact):
        a = torch.randn(m, nk, dtype=torch.float16, device=device)
        b = torch.randn(nk, nk, dtype=torch.float16, device=device)
        ref = a.float() @ b.float()
        errs = [float((k(a, b).float() - ref).abs().max() / ref.abs().max()) for k in (kb, res.kernel)]
        tb, te = [], []
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            tb.append(do_bench(lambda: kb(a, b), 5, 3 if smoke else args.rep, device=device))
            te.append(do_bench(lambda: res.kernel(a, b), 5, 3 if smoke else args.rep, device=device))
        mb, me = statistics.median(tb), statistics.median(te)
        rows.append({"M": m, "bucket_config": kb.config, "shape_config": res.config, "bucketed_ms": mb,
                     "per_shape_ms": me, "ratio": me / mb, "max_rel_err": max(errs)})
    ratios = [r["ratio"] for r in rows]
    report = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "N=K": nk,
              "configs": len(space), "shapes": len(ms), "buckets_tuned": summary["tuned"],
              "bucket_tuning_s": round(bucket_seconds, 1), "per_shape_tuning_s": round(exact_seconds, 1),
              "geomean_ratio": math.exp(sum(math.log(r) for r in ratios) / len(ratios)), "worst_ratio": min(ratios),
              "rows": rows, "date": time.strftime("%Y-%m-%d")}
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_tune_buckets.json").write_text(text)


if __name__ == "__main__":
    main()
