"""The int8-weight GEMM in both weight layouts ([K, N] and nn.Linear's [N, K]) at M = 4096 and M = 16, with
bfloat16 activations ([K, N]), and with a scale per 128 rows of K (GPTQ-style groups, M = 4096), each with
the weight converted in registers (``TILEDSL_REGISTER_DEQUANT``, the default) and with the program's cast loop as
written (``=0``), checked against the float32 reference and timed against cuBLAS fp16 on the weight dequantized
once (cuBLAS bf16 for the bf16 program; bench_general's harness: the general passes only, the same run).

    python benchmarks/bench_dequant_forms.py [--rounds 3]

With ``OUT`` set, the report goes to ``$OUT/bench_dequant_forms.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_general import run_cases  # noqa: E402
from general_programs import (_int8_inputs, _int8_peer, _int8_ref, dequantized_peer,  # noqa: E402
                              int8_group_scaled_gemm, int8_weight_gemm, single_case, switched_env)

N = K = 4096
CONFIGS = {4096: dict(block_M=256, block_N=128, block_K=64, stages=4),  # bench_general's configs
           16: dict(block_M=16, block_N=128, block_K=64, stages=8)}


def _nk_inputs(dev, M):
    a, w, s = _int8_inputs(dev, M, N, K)
    return [a, w.t().contiguous(), s]


def _bf16_inputs(dev, M):
    a, w, s = _int8_inputs(dev, M, N, K)
    return [a.bfloat16(), w, s]


GROUP = 128


def _group_inputs(dev, M):
    a, w, _ = _int8_inputs(dev, M, N, K)
    return [a, w, torch.rand(K // GROUP, N, device=dev) / 64]


def _group_ref(a, w, s):
    return a.float() @ (w.float() * s.repeat_interleave(GROUP, dim=0))


def case(M, weight_nk, dtype="float16"):
    """The program and its inputs, reference and peer."""
    if dtype == "grouped":
        return single_case(int8_group_scaled_gemm(M, N, K, group=GROUP, block_M=128, block_N=128, block_K=64),
                           lambda dev: _group_inputs(dev, M), _group_ref,
                           dequantized_peer(lambda w, s: (w.float() * s.repeat_interleave(GROUP, dim=0)).half()),
                           3e-2)
    program = int8_weight_gemm(M, N, K, weight_nk=weight_nk, dtype=dtype, **CONFIGS[M])
    if dtype == "bfloat16":
        return single_case(program, lambda dev: _bf16_inputs(dev, M), _int8_ref,
                           dequantized_peer(lambda w, s: (w.float() * s).bfloat16()), 3e-2)
    if weight_nk:
        return single_case(program, lambda dev: _nk_inputs(dev, M), lambda a, w, s: _int8_ref(a, w.t(), s),
                           dequantized_peer(lambda w, s: (w.float() * s[:, None]).half().t()), 3e-2)
    return single_case(program, lambda dev: _int8_inputs(dev, M, N, K), _int8_ref, _int8_peer(), 3e-2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = []
    forms = [(M, nk, "float16") for M in (4096, 16) for nk in (False, True)] + \
        [(M, False, "bfloat16") for M in (4096, 16)] + [(4096, False, "grouped")]
    for M, weight_nk, dtype in forms:
        for switch in ("1", "0"):
            with switched_env({"TILEDSL_REGISTER_DEQUANT": switch}):
                row = run_cases({f"int8_weight_m{M}": case(M, weight_nk, dtype)}, args.rounds, 25, 100)["rows"][0]
            row = {k: v for k, v in row.items() if k not in ("kernels", "loads")}
            rows.append(dict(row, weight="[N, K]" if weight_nk else "[K, N]", dtype=dtype, register_dequant=switch))
            print(json.dumps(rows[-1]), flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out, "bench_dequant_forms.json").write_text(json.dumps(rows, indent=1))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
