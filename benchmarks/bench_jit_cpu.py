"""JIT and cache costs on the CPU target: build time of the example GEMM, a repeated factory call, and a fresh
process served from the disk cache. Prints one JSON object.

    python benchmarks/bench_jit_cpu.py
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FRESH = r"""
import time, json
t0 = time.perf_counter()
import torch, tiledsl, tiledsl.language as T
t1 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("gemm_example", r"{example}")
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
t2 = time.perf_counter()
kernel = mod.matmul(512, 512, 512, block_M=64, block_N=64)
t3 = time.perf_counter()
from tiledsl.runtime import compiler
print(json.dumps({{"import_s": t1 - t0, "first_kernel_s": t3 - t2, "stats": compiler.STATS}}))
"""


def fresh_process(cache_dir: str) -> dict:
    env = dict(os.environ, TILEDSL_CACHE_DIR=cache_dir)
    code = FRESH.format(example=ROOT / "examples" / "gemm.py")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    with tempfile.TemporaryDirectory() as cache:
        cold = fresh_process(cache)  # builds and writes the disk cache
        warm = [fresh_process(cache) for _ in range(5)]
        os.environ["TILEDSL_CACHE_DIR"] = cache
        sys.path.insert(0, str(ROOT / "examples"))
        import gemm  # noqa: E402

        import tiledsl  # noqa: E402
        builds = []
        for _ in range(3):
            tiledsl.clear_memory_cache()
            os.environ["TILEDSL_DISABLE_CACHE"] = "1"
            gemm.matmul.__init__(gemm.matmul.func, out_idx=[-1])  # drop the factory's own memo
            start = time.perf_counter()
            gemm.matmul(512, 512, 512, block_M=64, block_N=64)
            builds.append(time.perf_counter() - start)
        os.environ.pop("TILEDSL_DISABLE_CACHE")
        gemm.matmul(512, 512, 512, block_M=64, block_N=64)
        n = 20000
        start = time.perf_counter()
        for _ in range(n):
            gemm.matmul(512, 512, 512, block_M=64, block_N=64)
        repeat_us = (time.perf_counter() - start) / n * 1e6
    print(json.dumps({
        "build_example_gemm_s_median": statistics.median(builds),
        "repeated_factory_call_us": repeat_us,
        "fresh_process_cold_first_kernel_s": cold["first_kernel_s"],
        "fresh_process_disk_hit_first_kernel_s_median": statistics.median(w["first_kernel_s"] for w in warm),
        "fresh_process_import_s_median": statistics.median(w["import_s"] for w in warm),
        "disk_hits": [w["stats"]["disk_hits"] for w in warm],
    }, indent=1))


if __name__ == "__main__":
    main()
