"""Split-K on the int8-weight GEMM at M = 16 (``TILEDSL_SPLIT_K``): each tile config with no split, and with S parts
summed by each ``TILEDSL_SPLIT_K_SUM`` form (a second launch, the last part of each tile, a thread-block cluster),
each checked against the float32 reference and timed against cuBLAS fp16 in the same run (bench_general's
harness: the general passes only).

    python benchmarks/bench_split_k.py [--rounds 3] [--tiles 16,128,64,256,8;16,64,64,128,8] [--settings 0:auto,8:last]
    python benchmarks/bench_split_k.py --ks 256,1024,4096 --copy --tiles 16,128,64,256,8 --settings auto:auto

``--tiles``: block_M,block_N,block_K,threads,stages per tile; ``--settings``: TILEDSL_SPLIT_K:TILEDSL_SPLIT_K_SUM pairs;
``--ks``: the reduction lengths K (N = 4096); ``--copy``: also time torch's copy of each K's weight bytes (a
memory-bound kernel of the same size under the same timing), so that time = fixed + bytes / rate separates the
per-call cost from the streaming.

With ``OUT`` set, the report goes to ``$OUT/bench_split_k.json``.
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
from general_programs import _int8_inputs, _int8_peer, _int8_ref, int8_weight_gemm, single_case, switched_env  # noqa: E402

N = 4096
TILES = [dict(block_M=16, block_N=128, block_K=64, threads=256, stages=6),  # the best split (H100, 2026-12-06)
         dict(block_M=16, block_N=64, block_K=128, threads=128, stages=4),  # the best split of 2026-12-05
         dict(block_M=32, block_N=32, block_K=256, threads=128, stages=4)]  # the benchmark's config (no split)
SETTINGS = [("0", "auto"), ("4", "launch"), ("4", "last"), ("4", "cluster"), ("auto", "auto")]  # SPLIT_K, SPLIT_K_SUM


def copy_ms(nbytes: int, rounds: int) -> float:
    """Milliseconds of torch's device copy of ``nbytes`` bytes (read and write), median of ``rounds``."""
    from tiledsl.profiler import do_bench

    src = torch.randint(-127, 128, (nbytes,), device="cuda", dtype=torch.int8)
    dst = torch.empty_like(src)
    return statistics.median(do_bench(lambda: dst.copy_(src), warmup=10, rep=50) for _ in range(rounds))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tiles", default=None, help="block_M,block_N,block_K,threads,stages;... (default: TILES)")
    ap.add_argument("--settings", default=None, help="SPLIT_K:SPLIT_K_SUM,... (default: SETTINGS)")
    ap.add_argument("--ks", default=str(N), help="reduction lengths K, comma-separated")
    ap.add_argument("--copy", action="store_true", help="time torch's copy of each K's weight bytes too")
    args = ap.parse_args()
    keys = ("block_M", "block_N", "block_K", "threads", "stages")
    tiles = [dict(zip(keys, map(int, t.split(",")))) for t in args.tiles.split(";")] if args.tiles else TILES
    settings = [tuple(s.split(":")) for s in args.settings.split(",")] if args.settings else SETTINGS
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        extra = {"K": k, "weight_bytes": k * N}
        if args.copy:
            extra["copy_ms"] = copy_ms(k * N, args.rounds)
        for tile in tiles:
            for parts, form in settings:
                case = single_case(int8_weight_gemm(16, N, k, **tile), lambda dev, k=k: _int8_inputs(dev, 16, N, k),
                                   _int8_ref, _int8_peer(), 3e-2)
                with switched_env({"TILEDSL_SPLIT_K": parts, "TILEDSL_SPLIT_K_SUM": form}):
                    row = run_cases({"int8_weight_m16": case}, args.rounds, 25, 100)["rows"][0]
                row = {key: v for key, v in row.items() if key not in ("kernels", "loads")}
                rows.append(dict(row, tile=tile, split_k=parts, split_k_sum=form, **extra))
                print(json.dumps(rows[-1]), flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out, "bench_split_k.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
