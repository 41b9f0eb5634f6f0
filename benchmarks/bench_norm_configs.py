"""LayerNorm 16384 x 4096 (the issue-9 table's program) over its launch shape, against the device's copy rate
timed in the same run: rows per block x threads per block. Issue 9's bar is 90 % of the copy rate.

    python benchmarks/bench_norm_configs.py [--configs 1x256,1x512,2x256] [--rounds 3] [--out report.json]

A torch copy of as many bytes as the norm moves (read X, write Y) gives the copy rate; each config is checked
against torch (``bench_general.run_cases``) before it is timed, alternating with ``F.layer_norm``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

from bench_general import run_cases  # noqa: E402
from bench_split_k import copy_ms  # noqa: E402
from general_programs import _ln_inputs, _ln_ref, _ln_ref_half, layer_norm, single_case  # noqa: E402

M, N = 16384, 4096


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="1x256,1x128,1x512,1x1024,2x256,2x512,4x512")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    moved = 2 * M * N * 2  # X read, Y written, fp16 (the weight and bias are 16 KB)
    copy = copy_ms(moved // 2, args.rounds)  # a copy of M x N fp16 reads and writes that many bytes
    report = {"device": torch.cuda.get_device_name(), "copy_ms": copy, "copy_tb_s": moved / copy / 1e9, "rows": []}
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}), flush=True)
    for spec in args.configs.split(","):
        block_m, threads = (int(x) for x in spec.split("x"))
        case = single_case(layer_norm(M, N, block_M=block_m, threads=threads), lambda dev: _ln_inputs(dev, M, N),
                           _ln_ref, _ln_ref_half, 2e-2, gemm=False)
        row, = run_cases({f"layernorm_{spec}": case}, args.rounds, 10, 50)["rows"]
        row.update(block_M=block_m, threads=threads)
        if "ms" in row:
            row.update(tb_s=moved / row["ms"] / 1e9, of_copy=copy / row["ms"])
        report["rows"].append(row)
        print(json.dumps({k: row.get(k) for k in ("program", "ms", "peer_ms", "ratio", "tb_s", "of_copy",
                                                   "registers", "error")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
