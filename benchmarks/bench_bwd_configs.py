"""The attention backward of ``bench_general.py`` (B8 S4096 H32 D128, causal and not) over a small grid of tile
configs, each checked against torch first and timed against SDPA's backward in the same run (the general passes
only). The program's tile sizes are the only thing that changes; the autotuner's single-kernel sweeps
(``bench_configs.py``) cannot time a program of three kernels.

    python benchmarks/bench_bwd_configs.py [--small] [--rounds 2] [--causal 0,1] [--configs 64_64_2_256,...]

With ``OUT`` set, the report goes to ``$OUT/bench_bwd_configs.json``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

from bench_general import run_cases  # noqa: E402
from general_programs import attention_bwd_case  # noqa: E402

#: block_M (query rows per iteration), block_N (keys per block), stages, threads; the first is the benchmark's
GRID = [dict(block_M=64, block_N=128, stages=2, threads=256)] + [
    dict(block_M=m, block_N=n, stages=s, threads=t)
    for m, n, s, t in itertools.product([64, 128], [64, 128], [2, 3], [256])
    if (m, n, s, t) != (64, 128, 2, 256)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="the GPU tests' sizes (checks the script)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rep", type=int, default=30)
    ap.add_argument("--causal", default="0,1", help="which variants: 0, 1 or both")
    ap.add_argument("--configs", default="", help="only these configs, comma-separated (64_128_2_256: block_M, "
                    "block_N, stages, threads)")
    args = ap.parse_args()
    shape = (1, 512, 4, 128) if args.small else (8, 4096, 32, 128)
    chosen = {}
    for causal in (c == "1" for c in args.causal.split(",")):
        for cfg in GRID:
            tag = "_".join(f"{v}" for v in cfg.values())
            if args.configs and tag not in args.configs.split(","):
                continue
            name = "attention_bwd" + ("_causal" if causal else "") + "_" + tag
            try:
                chosen[name] = attention_bwd_case(*shape, causal, **cfg)
            except Exception as err:  # a config the program refuses (shared memory): recorded, skipped
                print(json.dumps({"program": name, "error": f"{type(err).__name__}: {err}"}), flush=True)
    report = run_cases(chosen, args.rounds, args.warmup, args.rep)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_bwd_configs.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
