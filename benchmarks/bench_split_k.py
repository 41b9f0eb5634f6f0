"""Split-K on the int8-weight GEMM at M = 16 (``TILEDSL_SPLIT_K``): each tile config with no split, with S parts
summed in a second launch, and with S parts of a tile in one thread-block cluster (``TILEDSL_SPLIT_K_CLUSTER=1``),
each checked against the float32 reference and timed against cuBLAS fp16 in the same run (bench_general's
harness: the general passes only).

    python benchmarks/bench_split_k.py [--rounds 3]

With ``OUT`` set, the report goes to ``$OUT/bench_split_k.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_general import run_cases  # noqa: E402
from general_programs import _int8_inputs, _int8_peer, _int8_ref, int8_weight_gemm, single_case, switched_env  # noqa: E402

N = 4096
TILES = [dict(block_M=16, block_N=64, block_K=128, threads=128, stages=4),
         dict(block_M=32, block_N=32, block_K=256, threads=128, stages=4)]  # the first: the best split (2026-12-05)
SETTINGS = [("0", "0"), ("4", "0"), ("4", "1"), ("8", "1"), ("auto", "1")]  # (TILEDSL_SPLIT_K, ..._CLUSTER)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for tile in TILES:
        for parts, cluster in SETTINGS:
            case = single_case(int8_weight_gemm(16, N, N, **tile), lambda dev: _int8_inputs(dev, 16, N, N),
                               _int8_ref, _int8_peer(), 3e-2)
            with switched_env({"TILEDSL_SPLIT_K": parts, "TILEDSL_SPLIT_K_CLUSTER": cluster}):
                row = run_cases({"int8_weight_m16": case}, args.rounds, 25, 100)["rows"][0]
            row = {k: v for k, v in row.items() if k not in ("kernels", "loads", "pipelines")}
            rows.append(dict(row, tile=tile, split_k=parts, cluster=cluster))
            print(json.dumps(rows[-1]), flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out, "bench_split_k.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
