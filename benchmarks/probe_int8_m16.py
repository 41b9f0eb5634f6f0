"""Probe: the int8-weight GEMM at M = 16 (fp16 A [16, 4096], int8 W [4096, 4096], a scale per column; issue 9's
bar: 1.5x cuBLAS fp16 on the dequantized weight) over tile configs and split-K parts, each checked and timed
against its peer by bench_general's harness (general passes). bench_general's own config is 16 x 128 x 64, 8
stages, 256 threads, split in 4 by default; on the H200 it gave 1.42x (2026-12-07), on the H100 1.5x.

    python benchmarks/probe_int8_m16.py [--rounds 3] [--out F] [--configs 16x128x64s8t256p4,...]

``--configs`` times only the named configs (``16x<block_N>x<block_K>s<stages>t<threads>p<parts>``, parts 0 for the
default choice), which may be outside CONFIGS; the environment's switches (``TILEDSL_SPLIT_K_SUM=cluster``,
``TILEDSL_FENCE_AFTER_CONVERSION=1``, ...) apply to every config.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_general import probe  # noqa: E402
from general_programs import _int8_inputs, _int8_peer, _int8_ref, int8_weight_gemm, single_case  # noqa: E402
from tiledsl.passes.split_k import SPLIT_K_ATTR  # noqa: E402

N = K = 4096
#: (block_N, block_K, stages, threads, split-K parts; 0 = the default choice)
CONFIGS = [(128, 64, 8, 256, 0), (128, 64, 8, 256, 2), (128, 64, 8, 256, 8), (128, 64, 12, 256, 4),
           (128, 128, 6, 256, 2), (128, 128, 4, 256, 0), (128, 64, 8, 128, 0), (64, 64, 8, 128, 0),
           (64, 64, 8, 128, 8), (64, 128, 8, 128, 2), (64, 128, 6, 128, 4), (256, 64, 6, 256, 0)]


def parse_configs(text: str) -> list:
    """``16x128x64s8t256p4,...`` -> [(block_N, block_K, stages, threads, parts), ...]."""
    out = []
    for name in filter(None, (n.strip() for n in text.split(","))):
        m = re.fullmatch(r"16x(\d+)x(\d+)s(\d+)t(\d+)p(\d+)", name)
        if not m:
            raise SystemExit(f"--configs: {name!r} is not of the form 16x128x64s8t256p4")
        out.append(tuple(int(g) for g in m.groups()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    ap.add_argument("--configs", default="", help="comma-separated 16xNxKsStTpP names (default: CONFIGS)")
    args = ap.parse_args()

    def named_cases():
        for bn, bk, stages, threads, parts in (parse_configs(args.configs) if args.configs else CONFIGS):
            func = int8_weight_gemm(16, N, K, block_M=16, block_N=bn, block_K=bk, stages=stages, threads=threads)
            if parts:
                func = func.with_attr(SPLIT_K_ATTR, parts)
            yield (f"16x{bn}x{bk} s{stages} t{threads} split{parts or 'default'}",
                   single_case(func, lambda dev: _int8_inputs(dev, 16, N, K), _int8_ref, _int8_peer(), 3e-2))
    probe(named_cases(), args.rounds, args.out)


if __name__ == "__main__":
    main()
