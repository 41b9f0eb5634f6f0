"""Run the int8-weight GEMM at M = 16 a few times, for Nsight Compute (``run_device.sh ncu``), and check it once.

    python benchmarks/ncu_int8_m16.py [block_M block_N block_K threads stages]   (default: 16 128 64 256 8, the benchmark's)

The split-K switches come from the environment (``TILEDSL_SPLIT_K``, ``TILEDSL_SPLIT_K_SUM``). Profile with e.g.
``ncu -k regex:kernel_kernel --launch-skip 6 --launch-count 1 --set full -o prof python benchmarks/ncu_int8_m16.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import torch  # noqa: E402

import tiledsl  # noqa: E402
from general_programs import _int8_inputs, _int8_ref, int8_weight_gemm  # noqa: E402

N = K = 4096


def main():
    block_M, block_N, block_K, threads, stages = [int(x) for x in sys.argv[1:6]] or [16, 128, 64, 256, 8]
    program = int8_weight_gemm(16, N, K, block_M=block_M, block_N=block_N, block_K=block_K, threads=threads,
                               stages=stages)
    kernel = tiledsl.compile(program, out_idx=[3], target="cuda")
    a, w, s = _int8_inputs("cuda", 16, N, K)
    for _ in range(12):
        c = kernel(a, w, s)
    torch.cuda.synchronize()
    err = float((c.float() - _int8_ref(a, w, s).float()).abs().max())
    print(f"largest error {err:.4g}; lowering {kernel.kernel_info.get('pipelines')}")


if __name__ == "__main__":
    main()
