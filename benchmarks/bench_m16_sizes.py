"""Where the int8-weight GEMM at M = 16 spends its time: the benchmark's program (16 x 128 x 64 tiles, 8 stages,
the weight converted in registers, split-K by the default) over K = 256 .. 8192 with N = 4096, each checked
against the float32 reference and timed against cuBLAS fp16 on the dequantized weight, plus torch's copy of as
many weight bytes (a memory-bound kernel of the same size under the same timing: CUDA events, L2 flushed). Read
as time = fixed + bytes / rate, the sweep separates the per-call cost from the streaming.

    python benchmarks/bench_m16_sizes.py [--rounds 3] [--ks 256,1024,4096] [--settings auto:auto,0:auto,2:last]

``--settings``: TILEDSL_SPLIT_K:TILEDSL_SPLIT_K_SUM pairs, each K timed with each (default: the defaults).

With ``OUT`` set, the report goes to ``$OUT/bench_m16_sizes.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from bench_general import run_cases  # noqa: E402
from general_programs import (_int8_inputs, _int8_peer, _int8_ref, int8_weight_gemm, single_case,  # noqa: E402
                              switched_env)

N = 4096


def copy_ms(nbytes: int, rounds: int) -> float:
    """Milliseconds of torch's device copy of ``nbytes`` bytes (read and write), median of ``rounds``."""
    from tiledsl.profiler import do_bench

    src = torch.randint(-127, 128, (nbytes,), device="cuda", dtype=torch.int8)
    dst = torch.empty_like(src)
    return statistics.median(do_bench(lambda: dst.copy_(src), warmup=10, rep=50) for _ in range(rounds))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ks", default="256,512,1024,2048,4096,8192")
    ap.add_argument("--settings", default="auto:auto")
    args = ap.parse_args()
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        copy = copy_ms(k * N, args.rounds)
        for parts, form in (s.split(":") for s in args.settings.split(",")):
            case = single_case(int8_weight_gemm(16, N, k, block_M=16, block_N=128, block_K=64, stages=8),
                               lambda dev, k=k: _int8_inputs(dev, 16, N, k), _int8_ref, _int8_peer(), 3e-2)
            with switched_env({"TILEDSL_SPLIT_K": parts, "TILEDSL_SPLIT_K_SUM": form}):
                row = run_cases({f"int8_m16_k{k}": case}, args.rounds, 10, 50)["rows"][0]
            row.update(K=k, weight_bytes=k * N, copy_ms=copy, split_k=parts, split_k_sum=form)
            rows.append(row)
            print(json.dumps({key: row.get(key) for key in ("K", "split_k", "split_k_sum", "ms", "peer_ms", "ratio",
                                                             "copy_ms", "pipelines")}), flush=True)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_m16_sizes.json"), "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
