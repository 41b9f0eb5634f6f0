"""Host time per launch of a tiny kernel: tiledsl's JITKernel (inputs only / with an allocated output) against
torch.add, the same loop for each (calls back to back, one synchronize at the end; the functions take turns in
each of 7 rounds, best round kept), plus the allocation calls an output costs by itself. Prints JSON (and writes
it to $OUT/bench_launch.json when OUT is set).

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


def per_call_us(fns: dict, calls=20000, rounds=7) -> dict:
    """Best per-call microseconds of each function; the functions take turns within every round, so a slow spell
    of the host hits all of them alike."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for fn in fns.values():
        for _ in range(1000):
            fn()
    sync()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            sync()
            best[name] = min(best[name], (time.perf_counter() - start) / calls * 1e6)
    return best


def main():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a, b = torch.zeros(1, device=device), torch.zeros(1, device=device)
    dev = a.device
    in_place = add_one(1)
    with_output = tiledsl.compile(add_one.get_tir(1), out_idx=[-1])
    calls = per_call_us({
        "tiledsl_in_place_us": lambda: in_place(a, b),
        "tiledsl_allocating_output_us": lambda: with_output(a),
        "torch_add_out_us": lambda: torch.add(a, 1.0, out=b),
        "torch_add_us": lambda: torch.add(a, 1.0),
    })
    allocs = per_call_us({
        "torch.empty(shape, dtype, device=a.device)": lambda: torch.empty((1,), dtype=torch.float32, device=a.device),
        "torch.empty(shape, dtype, device=<cached device>)": lambda: torch.empty((1,), dtype=torch.float32, device=dev),
        "a.new_empty(shape)": lambda: a.new_empty((1,)),
        "torch.empty_like(a)": lambda: torch.empty_like(a),
    })
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        **calls,
        "alloc_only": allocs,
    }
    print(json.dumps(report, indent=1))
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "bench_launch.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
