"""Host time per launch of a tiny kernel: tiledsl's JITKernel (inputs only / with an allocated output) against
torch.add, the same loop for each (calls back to back, one synchronize at the end, best of 5 rounds), plus the
allocation calls an output costs by itself. Prints JSON (and writes it to $OUT/bench_launch.json when OUT is set).

    python benchmarks/bench_launch.py
"""
import json
import os
import time
from pathlib import Path

import torch

import tiledsl
import tiledsl.language as T


@tiledsl.jit
def add_one(N):
    @T.prim_func
    def kernel(A: T.Tensor((N,), "float32"), B: T.Tensor((N,), "float32")):
        with T.Kernel(1, threads=32):
            for i in T.Parallel(N):
                B[i] = A[i] + 1.0
    return kernel


def per_call_us(fn, calls=20000, rounds=5):
    for _ in range(1000):
        fn()
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def main():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a, b = torch.zeros(1, device=device), torch.zeros(1, device=device)
    dev = a.device
    in_place = add_one(1)
    with_output = tiledsl.compile(add_one.get_tir(1), out_idx=[-1])
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "tiledsl_in_place_us": per_call_us(lambda: in_place(a, b)),
        "tiledsl_allocating_output_us": per_call_us(lambda: with_output(a)),
        "torch_add_out_us": per_call_us(lambda: torch.add(a, 1.0, out=b)),
        "torch_add_us": per_call_us(lambda: torch.add(a, 1.0)),
        "alloc_only": {
            "torch.empty(shape, dtype, device=a.device)": per_call_us(
                lambda: torch.empty((1,), dtype=torch.float32, device=a.device)),
            "torch.empty(shape, dtype, device=<cached device>)": per_call_us(
                lambda: torch.empty((1,), dtype=torch.float32, device=dev)),
            "a.new_empty(shape)": per_call_us(lambda: a.new_empty((1,))),
            "torch.empty_like(a)": per_call_us(lambda: torch.empty_like(a)),
        },
    }
    print(json.dumps(report, indent=1))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_launch.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
