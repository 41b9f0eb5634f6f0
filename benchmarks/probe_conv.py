"""Probe: TileLang's convolution example as written (``testing/more_programs.conv_gather``: the image tile
gathered by a ``T.Parallel`` loop, a cp.async pipeline, wgmma) against torch's conv2d in channels-last (cuDNN),
checked and timed by bench_general's harness (general passes), at a few sizes and tile configs. Its gather is
scalar today (docs/cuda.md); this measures how far that leaves it.

    python benchmarks/probe_conv.py [--rounds 3] [--out F]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_general import probe  # noqa: E402
from more_programs import conv_case  # noqa: E402

#: (N, C, H, W, F, block_M, block_N, block_K, stages, threads)
SIZES = [(64, 128, 64, 64, 128, 64, 128, 32, 3, 256), (64, 128, 64, 64, 128, 128, 128, 64, 3, 256),
         (16, 256, 28, 28, 256, 128, 128, 64, 3, 256), (16, 64, 56, 56, 64, 128, 64, 64, 3, 128)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    probe(((f"conv N{n} C{c} {h}x{w} F{f} 3x3, {bm}x{bn}x{bk} s{stages} t{threads}",
            conv_case(n, c, h, w, f, block_M=bm, block_N=bn, block_K=bk, stages=stages, threads=threads))
           for n, c, h, w, f, bm, bn, bk, stages, threads in SIZES), args.rounds, args.out)

if __name__ == "__main__":
    main()
