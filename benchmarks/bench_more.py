"""Programs outside bench_general's table (``testing/more_programs.py``: a bf16 GEMM with a GELU epilogue, nn.Linear
at a Llama MLP shape, grouped-query attention in bf16, RMSNorm, softmax, an fp8 GEMM), each checked against its
float32 reference and timed against its torch peer in alternating rounds with bench_general's harness (general
passes only; CUDA events, L2 flushed, median). Ratio = peer time / ours.

    python benchmarks/bench_more.py [--only gemm_fp8,softmax] [--rounds 3]

With ``OUT`` set, the report goes to ``$OUT/bench_more.json``.
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
from more_programs import cases  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated program names (default: all)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    every = cases()
    names = [n for n in args.only.split(",") if n] or list(every)
    unknown = set(names) - set(every)
    if unknown:
        ap.error(f"unknown program(s) {sorted(unknown)}; known: {sorted(every)}")
    report = run_cases({n: every[n] for n in names}, args.rounds, 10, 50)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_more.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
