"""The attention backward of bench_general (B8 S4096 H32 D128) kernel by kernel: the preprocess (Delta, dQ
accumulator cleared), the main kernel, the dQ conversion, each timed alone, and the whole against SDPA's backward,
the same run; with each memory-bound kernel's bytes per second against the copy rate of a torch copy of the same
bytes (what the part could cost at most).

    python benchmarks/bench_bwd_parts.py [--causal]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import tiledsl  # noqa: E402
from general_programs import attention_bwd_case  # noqa: E402

B, S, H, D = 8, 4096, 32, 128


def main():
    from tiledsl.profiler import do_bench

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--causal", action="store_true")
    args = ap.parse_args()
    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "1"
    case = attention_bwd_case(B, S, H, D, args.causal)
    ks = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    inputs = case.make("cuda")
    q, k, v, o, do, lse = inputs
    delta = torch.empty((B, H, S), device="cuda")
    dq_acc = torch.empty((B, S, H, D), device="cuda")
    dq, dk, dv = (torch.empty_like(q) for _ in range(3))
    parts = {"preprocess": lambda: ks["preprocess"](o, do, delta, dq_acc),
             "main": lambda: ks["main"](q, k, v, do, lse, delta, dq_acc, dk, dv),
             "dq": lambda: ks["dq"](dq_acc, dq)}
    go = case.bind(ks, inputs)
    row = {name: do_bench(fn) for name, fn in parts.items()}
    row["whole"] = do_bench(go)
    row["peer"] = do_bench(lambda: case.peer(*inputs))
    # bytes each memory-bound part moves, and a torch copy of as many bytes
    pre_bytes = 2 * o.numel() * 2 + dq_acc.numel() * 4 + delta.numel() * 4
    dq_bytes = dq_acc.numel() * 4 + dq.numel() * 2
    for name, nbytes in (("preprocess", pre_bytes), ("dq", dq_bytes)):
        src = torch.empty(nbytes // 2, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        row[name + "_copy_ms"] = do_bench(lambda: dst.copy_(src))
        row[name + "_tb_s"] = nbytes / row[name] / 1e9
    row["ratio"] = row["peer"] / row["whole"]
    row["causal"] = args.causal
    print(json.dumps(row), flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out, f"bench_bwd_parts{'_causal' if args.causal else ''}.json").write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
