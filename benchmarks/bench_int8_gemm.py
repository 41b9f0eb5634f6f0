"""W8A8: an int8 x int8 -> int32 GEMM written plainly in the tile language (``testing/test_wgmma_more_types.py``'s
program, B stored [N, K]), timed against cuBLASLt's int8 GEMM (``torch._int_mm``) in the same run, the whole-kernel
matchers off. Each shape is built with each tile config (block_M x block_N x block_K, stages, threads: what a tuner
would try), checked for exact equality with torch's integer product, then timed; the row reports every config and
the fastest. For M < 32 the peer multiplies A padded to 32 rows (``torch._int_mm`` needs M > 16). ``--b-layout kn``
stores our B as [K, N] (copied K-major in shared memory for wgmma: ``passes/cuda/k_major_copies.py``); the peer
keeps its own layout.

    python benchmarks/bench_int8_gemm.py [--shapes 4096x4096x4096,16x4096x4096] [--rounds 3] [--configs 128x128x128x4x256]
        [--b-layout kn]
    TILEDSL_WGMMA_MORE_TYPES=0 python benchmarks/bench_int8_gemm.py     (the FMA path; default: wgmma .s32.s8.s8)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
import tiledsl  # noqa: E402
from general_programs import copy_instruction, gemm_instruction  # noqa: E402
from test_wgmma_more_types import typed_gemm  # noqa: E402


#: tile configs (block_M, block_N, block_K, stages, threads) tried when none are given: large M, and M <= 64
LARGE_CONFIGS = ["128x128x64x3x256", "128x128x128x3x256", "128x128x128x4x256", "128x256x128x3x256"]
SMALL_CONFIGS = ["64x64x64x3x128", "64x64x128x4x128", "64x128x128x4x128", "64x128x128x6x128"]


def parse_config(text: str) -> dict:
    """``"128x128x128x4x256"`` -> typed_gemm's keyword arguments."""
    bm, bn, bk, stages, threads = (int(x) for x in text.split("x"))
    return dict(block_M=bm, block_N=bn, block_K=bk, stages=stages, threads=threads)


def run(shapes, rounds, configs=None, b_layout="nk"):
    """Build each (M, N, K) with each config, check it, time it and ``torch._int_mm`` round-robin; the report.
    ``b_layout``: our B stored [N, K] ("nk") or [K, N] ("kn")."""
    from tiledsl.profiler import do_bench

    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "1"
    report = {"device": torch.cuda.get_device_name(), "wgmma_more_types": os.environ.get("TILEDSL_WGMMA_MORE_TYPES", "1"),
              "b_layout": b_layout, "rows": []}
    for M, N, K in shapes:
        a = torch.randint(-128, 128, (M, K), dtype=torch.int8, device="cuda")
        b = torch.randint(-128, 128, (N, K), dtype=torch.int8, device="cuda")
        peer_a = a if M >= 32 else torch.nn.functional.pad(a, (0, 0, 0, 32 - M))  # _int_mm wants M > 16
        want = torch._int_mm(peer_a, b.T)[:M]
        ours_b = b if b_layout == "nk" else b.T.contiguous()
        row = {"shape": [M, N, K], "configs": []}
        for text in configs or (SMALL_CONFIGS if M <= 64 else LARGE_CONFIGS):
            kernel = tiledsl.compile(typed_gemm(M, N, K, trans_B=b_layout == "nk", **parse_config(text)), out_idx=[],
                                     target="cuda")
            src = kernel.get_kernel_source()
            c = torch.full((M, N), -7, dtype=torch.int32, device="cuda")
            kernel(a, ours_b, c)
            entry = {"config": text, "instruction": gemm_instruction(src), "loads": copy_instruction(src),
                     "correct": bool(torch.equal(c, want))}
            if entry["correct"]:
                ours, theirs = [], []
                for _ in range(rounds):
                    ours.append(do_bench(lambda: kernel(a, ours_b, c)))
                    theirs.append(do_bench(lambda: torch._int_mm(peer_a, b.T)))
                entry.update(ms=statistics.median(ours), peer_ms=statistics.median(theirs))
                entry["ratio"] = entry["peer_ms"] / entry["ms"]
            row["configs"].append(entry)
            print(json.dumps({"shape": [M, N, K], **entry}), flush=True)
        timed = [e for e in row["configs"] if "ms" in e]
        row["correct"] = all(e["correct"] for e in row["configs"])
        if timed:
            best = min(timed, key=lambda e: e["ms"])
            row.update(best=best["config"], ms=best["ms"], peer_ms=best["peer_ms"], ratio=best["ratio"])
            print(json.dumps({"shape": [M, N, K], "best": best["config"], "ratio": best["ratio"]}), flush=True)
        report["rows"].append(row)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="4096x4096x4096,8192x8192x8192,16x4096x4096")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--configs", default="", help="comma-separated block_MxNxKxstagesxthreads (default: a few by M)")
    ap.add_argument("--b-layout", choices=("nk", "kn"), default="nk", help="our B stored [N, K] or [K, N]")
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",") if s]
    report = run(shapes, args.rounds, [c for c in args.configs.split(",") if c], args.b_layout)
    if os.environ.get("OUT"):
        name = "bench_int8_gemm.json" if args.b_layout == "nk" else "bench_int8_gemm_kn.json"
        with open(os.path.join(os.environ["OUT"], name), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
