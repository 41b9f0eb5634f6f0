"""W8A8: an int8 x int8 -> int32 GEMM written plainly in the tile language (``testing/test_wgmma_more_types.py``'s
program, B stored [N, K]), timed against cuBLASLt's int8 GEMM (``torch._int_mm``) in the same run, the whole-kernel
matchers off. Each shape is checked for exact equality with torch's integer product first. For M < 32 the peer
multiplies A padded to 32 rows (``torch._int_mm`` needs M > 16).

    python benchmarks/bench_int8_gemm.py [--shapes 4096x4096x4096,16x4096x4096] [--rounds 3]
    TILEDSL_WGMMA_MORE_TYPES=1 python benchmarks/bench_int8_gemm.py     (wgmma .s32.s8.s8; without it: FMA)
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


def run(shapes, rounds):
    """Check, then time each (M, N, K) against ``torch._int_mm``; returns the report."""
    from tiledsl.profiler import do_bench

    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "1"
    report = {"device": torch.cuda.get_device_name(), "wgmma_more_types": os.environ.get("TILEDSL_WGMMA_MORE_TYPES", "0"),
              "rows": []}
    for M, N, K in shapes:
        small = M <= 64
        kw = dict(block_M=64, block_N=64, threads=128) if small else {}
        kernel = tiledsl.compile(typed_gemm(M, N, K, **kw), out_idx=[], target="cuda")
        src = kernel.get_kernel_source()
        a = torch.randint(-128, 128, (M, K), dtype=torch.int8, device="cuda")
        b = torch.randint(-128, 128, (N, K), dtype=torch.int8, device="cuda")
        c = torch.full((M, N), -7, dtype=torch.int32, device="cuda")
        kernel(a, b, c)
        peer_a = a if M >= 32 else torch.nn.functional.pad(a, (0, 0, 0, 32 - M))  # _int_mm wants M > 16
        want = torch._int_mm(peer_a, b.T)[:M]
        row = {"shape": [M, N, K], "instruction": gemm_instruction(src), "loads": copy_instruction(src),
               "correct": bool(torch.equal(c, want))}
        if row["correct"]:
            ours = [do_bench(lambda: kernel(a, b, c)) for _ in range(rounds)]
            theirs = [do_bench(lambda: torch._int_mm(peer_a, b.T)) for _ in range(rounds)]
            row.update(ms=statistics.median(ours), peer_ms=statistics.median(theirs))
            row["ratio"] = row["peer_ms"] / row["ms"]
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="4096x4096x4096,8192x8192x8192,16x4096x4096")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",") if s]
    report = run(shapes, args.rounds)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_int8_gemm.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
