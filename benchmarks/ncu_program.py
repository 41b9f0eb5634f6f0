"""Run one program of bench_general a few times, for Nsight Compute (``run_device.sh`` stages ``ncu*``), and check
it once against its float32 reference.

    python benchmarks/ncu_program.py PROGRAM [CALLS]     (PROGRAM: a name of ``general_programs.cases()``)

Profile one kernel of it with e.g. ``ncu -k regex:kernel_kernel --launch-skip 6 --launch-count 1 --set full -o prof
python benchmarks/ncu_program.py attention_bwd`` (each call launches every kernel of the program in order).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import torch  # noqa: E402

import tiledsl  # noqa: E402
from general_programs import cases, check  # noqa: E402


def main():
    name = sys.argv[1]
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    case = cases()[name]
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    inputs = case.make("cuda")
    go = case.bind(compiled, inputs)
    err, ok = check(case, go, inputs)
    for _ in range(calls):
        go()
    torch.cuda.synchronize()
    print(f"{name}: relative error {err:.3g}, correct {ok}; kernels {list(compiled)}; pipelines "
          f"{ {k: kern.kernel_info.get('pipelines') for k, kern in compiled.items()} }")


if __name__ == "__main__":
    main()
