"""Tuning on several GPUs (issue 12): the 32-config GEMM space of bench_autotune.py, cold cache each time.

Local devices (one process, one benchmark worker per GPU):
    python benchmarks/bench_autotune_multi.py --devices 1,2 [--size 4096] [--kill-runner-after 8]
  tunes once with benchmark_devices=[0] and once with [0, 1] (each from an empty TILEDSL_CACHE_DIR) and reports
  both wall times, their ratio and both winners. ``--kill-runner-after S``: in the several-device run, SIGKILL the
  last device's benchmark worker S seconds in (the run must lose at most the candidate it was measuring).

Ranks (one process per GPU, a process group):
    torchrun --nproc-per-node 2 benchmarks/bench_autotune_multi.py --ranks [--size 4096]
  every rank tunes with autotune_pg (the default group), each measuring its share; reports per rank the wall time,
  the winner, whether the rank read the result from the cache (every rank but the writer should) and how many
  result entries the shared cache folder holds (should be 1).

``--cpu-smoke``: the same on the CPU with 4 tiny configs and CPU runner processes, to check the script without a
GPU. Prints JSON; writes it to $OUT/bench_autotune_multi[-rank<r>].json when $OUT is set.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_autotune import configs, gemm_factory, ref_matmul  # noqa: E402


def _tuner(size: int, smoke: bool):
    import tiledsl

    matmul = tiledsl.jit(out_idx=[-1], target="llvm" if smoke else "auto")(gemm_factory)
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs()[:4] if smoke else configs())
    warmup, rep = (1, 3) if smoke else (25, 100)
    tuner.set_profile_args(warmup=warmup, rep=rep, timeout=60, ref_prog=ref_matmul)
    tuner.set_kernel_parameters((size, size, size))
    return tuner


def _runner_pids() -> list[int]:
    """This process's benchmark worker processes, in start order."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        ppid = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("PPid:")), None)
        if ppid == os.getpid() and b"TILEDSL_WORKER_ROLE=runner" in env:
            out.append(int(entry.name))
    return sorted(out)


def _kill_later(seconds: float, killed: list) -> None:
    def go():
        pids = _runner_pids()
        if pids:
            os.kill(pids[-1], signal.SIGKILL)
            killed.append(pids[-1])
    threading.Timer(seconds, go).start()


def local(args, size: int) -> dict:
    counts = [int(x) for x in args.devices.split(",")]
    report = {"size": size, "runs": {}}
    for n in counts:
        os.environ["TILEDSL_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"tiledsl-bench-multi-{n}-")
        import tiledsl

        tiledsl.AutoTuner._memory.clear()  # cold: no result or kernel of the previous run in this process
        tiledsl.clear_memory_cache()
        tuner = _tuner(size, args.cpu_smoke)
        killed: list = []
        if args.kill_runner_after and n > 1:
            _kill_later(args.kill_runner_after, killed)
        devices = n if args.cpu_smoke else list(range(n))
        start = time.perf_counter()
        result = tuner.run(benchmark_devices=devices)
        seconds = time.perf_counter() - start
        report["runs"][n] = {"seconds": round(seconds, 2), "winner": result.config, "latency_ms": result.latency,
                             "statuses": result.summary(), "killed_runner_pid": killed or None,
                             "by_device": _by_device(result.trials), "milestones_s": result.phases}
    if len(counts) == 2:
        a, b = (report["runs"][n]["seconds"] for n in counts)
        report["ratio"] = round(b / a, 3)
        report["same_winner"] = report["runs"][counts[0]]["winner"] == report["runs"][counts[1]]["winner"]
    return report


def _by_device(trials) -> dict:
    out: dict = {}
    for t in trials:
        if t.device:
            out[t.device] = out.get(t.device, 0) + 1
    return out


def ranks(args, size: int) -> dict:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "gloo" if args.cpu_smoke else "cpu:gloo,cuda:nccl"
        dist.init_process_group(backend)
    rank = dist.get_rank()
    if not args.cpu_smoke:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    cache = os.environ.get("TILEDSL_CACHE_DIR")
    if not cache:  # one cold folder for the whole job, named by rank 0
        box = [tempfile.mkdtemp(prefix="tiledsl-bench-ranks-") if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        os.environ["TILEDSL_CACHE_DIR"] = cache = box[0]
    tuner = _tuner(size, args.cpu_smoke)
    dist.barrier()
    start = time.perf_counter()
    result = tuner.run()  # autotune_pg=None: the default group, since torch.distributed is initialized
    seconds = time.perf_counter() - start
    winners = [None] * dist.get_world_size()
    dist.all_gather_object(winners, result.config)
    entries = [p for p in Path(cache, "autotune", "results").glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    return {"rank": rank, "world": dist.get_world_size(), "size": size, "seconds": round(seconds, 2),
            "winner": result.config, "ranks_agree": all(w == winners[0] for w in winners),
            "from_cache": result.from_cache, "cache_entries": len(entries), "statuses": result.summary(),
            "by_device": _by_device(result.trials)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--devices", default="1,2", help="device counts to compare, e.g. 1,2")
    ap.add_argument("--ranks", action="store_true", help="run under torchrun: tune across the ranks")
    ap.add_argument("--kill-runner-after", type=float, default=0.0)
    ap.add_argument("--cpu-smoke", action="store_true")
    args = ap.parse_args()
    size = 128 if args.cpu_smoke else args.size
    report = ranks(args, size) if args.ranks else local(args, size)
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if os.environ.get("OUT"):
        name = f"bench_autotune_multi-rank{report['rank']}.json" if args.ranks else "bench_autotune_multi.json"
        Path(os.environ["OUT"], name).write_text(text)


if __name__ == "__main__":
    main()
