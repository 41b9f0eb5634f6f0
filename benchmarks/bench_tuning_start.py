"""What a tuning run costs before its first candidate is built: back-to-back tuning runs in one process, with the
fork server (the default: runs after the first fork their workers) and without it (TILEDSL_WORKER_FORK_SERVER=0:
every run starts fresh Python processes). Each run tunes a small GEMM over two configs afresh (force-retune),
on the GPU when there is one, else on the CPU.

    python benchmarks/bench_tuning_start.py [--runs 4] [--out report.json]

Reports per run: the wall time of ``AutoTuner.run`` and when the builders were ready (the tuner's own phases).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch


def _runs(n: int) -> list:
    import tiledsl

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))
    from test_autotune_helpers import matmul  # the autotuner tests' GEMM

    cuda = torch.cuda.is_available()
    size = 512 if cuda else 128  # (a 512^3 fp16 GEMM times for a minute on the CPU)

    out = []
    for i in range(n):
        tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{"block_M": 32}, {"block_M": 64}])
        tuner.set_compile_args(target="cuda" if cuda else "llvm")
        tuner.set_profile_args(warmup=2, rep=5, timeout=120, ref_prog=lambda a, b: a @ b)
        start = time.perf_counter()
        result = tuner.set_kernel_parameters((size, size, size)).run(quiet=True)
        out.append({"run": i, "seconds": time.perf_counter() - start,
                    "builders_ready_s": result.phases.get("builders_ready_s"),
                    "statuses": [t.status for t in result.trials]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--out", default="")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_runs(args.runs)))
        return
    report = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "settings": {}}
    for name, value in (("fork_server", "1"), ("fresh_processes", "0")):
        env = dict(os.environ, TILEDSL_WORKER_FORK_SERVER=value, TILEDSL_AUTO_TUNING_FORCE_RETUNE="1")
        proc = subprocess.run([sys.executable, __file__, "--child", "--runs", str(args.runs)], env=env,
                              capture_output=True, text=True, check=True)
        report["settings"][name] = json.loads(proc.stdout.splitlines()[-1])
        print(name, json.dumps(report["settings"][name]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
