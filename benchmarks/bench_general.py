"""Programs written plainly in the tile language, timed against their torch peer in the same run, with the
whole-kernel Hopper matchers switched off (the general passes only).

The programs, their inputs, float32 references and peers are in ``testing/general_programs.py`` (shared with the
tests). Each is checked against torch first (fresh random inputs, outputs poisoned with NaN), then timed in
alternating rounds with its peer (``tiledsl.profiler.do_bench``: CUDA events, L2 flushed, median); a program of
several kernels (split-KV flash decoding, the attention backward) is timed as a whole, all its kernels per call.
The report records the gemm instruction (wgmma / mma.sync / none) and the shared-memory load (tma / cp.async /
plain) of each kernel. CPU CI builds every program for sm_90a and sm_80 (``testing/test_bench_general.py``), so a
regression to mma.sync shows there.

    python benchmarks/bench_general.py [--only gemm,flash_decode] [--small] [--rounds 5]

    TILEDSL_TMA=0 python benchmarks/bench_general.py ...       (cp.async instead of TMA rings, to compare)
    TILEDSL_WARP_SPECIALIZE=0 python benchmarks/bench_general.py ...   (TMA rings without a producer warpgroup)
    TILEDSL_PERSISTENT=0 python benchmarks/bench_general.py ...   (warp-specialized kernels: one CTA per tile)
    TILEDSL_TMA_STORE=0 python benchmarks/bench_general.py ...    (warp-specialized kernels: per-thread stores)
    TILEDSL_TMA_REDUCE=0 python benchmarks/bench_general.py --only attention_bwd   (dQ by element atomics)
    TILEDSL_WARP_SPECIALIZE=1 python benchmarks/bench_general.py ...   (only gemm-only loops warp-specialized)
    TILEDSL_WARP_SPECIALIZE=pingpong python benchmarks/bench_general.py ...   (attention's consumers take turns)
    TILEDSL_DEFER_LAST_GEMM=0 python benchmarks/bench_general.py --only flash_attention   (P V waited for at once)
    TILEDSL_SPLIT_MASKS=0 python benchmarks/bench_general.py --only flash_attention_causal   (masks on every tile)
    TILEDSL_ASYNC_GEMMS=0 python benchmarks/bench_general.py --only attention_bwd   (each gemm waited for at once)
    TILEDSL_WIDE_REGISTER_VECTORS=0 python benchmarks/bench_general.py --only layernorm   (8-byte fp16 accesses)
    TILEDSL_OVERLAP_TRANSFORMS=0 TILEDSL_FAST_INT8_CAST=0 python benchmarks/bench_general.py --only int8_weight_m4096
        (the int8 weight converted in one buffer after each wgmma, with conversion instructions)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import tiledsl  # noqa: E402
from general_programs import (Case, batched_gemm, cases, check, copy_instruction,  # noqa: E402,F401
                              flash_attention, gemm, gemm_instruction, grouped_gemm, int8_weight_gemm, layer_norm,
                              swiglu)


def summary(instructions: dict) -> str:
    """One word for a program's kernels: the tensor-core instruction its gemm kernels use (or none)."""
    kinds = sorted(set(instructions.values()) - {"none"})
    return ",".join(kinds) if kinds else "none"


def run(names, small, rounds, warmup, rep, shortcut=False):
    """Check and time each program (or those in ``names``) against its peer; returns the report."""
    chosen = {name: case for name, case in cases(small).items() if not names or name in names}
    return run_cases(chosen, rounds, warmup, rep, shortcut)


def probe(named_cases, rounds: int, out: str = "") -> list:
    """Check and time each (name, case) of ``named_cases`` alone, printing each row as it lands (a probe's loop:
    a case that does not build is a row with its error); the rows, also written to ``out`` as JSON if given."""
    rows = []
    for name, case in named_cases:
        row = run_cases({name: case}, rounds, 25, 100)["rows"][0]
        rows.append({k: v for k, v in row.items() if k not in ("kernels", "loads")})
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))
    return rows


def run_cases(chosen: dict, rounds, warmup, rep, shortcut=False):
    """Check and time each case of ``chosen`` (name -> :class:`Case`) against its peer; returns the report.
    ``shortcut``: the whole-kernel Hopper matchers may take a program (else the general passes only)."""
    from tiledsl.profiler import do_bench

    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "0" if shortcut else "1"
    report = {"device": torch.cuda.get_device_name(), "rows": []}
    for name, case in chosen.items():
        try:
            compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
        except tiledsl.TileDSLError as err:  # a config that does not fit (shared memory, registers): recorded
            report["rows"].append({"program": name, "error": f"{type(err).__name__}: {err}"})
            print(json.dumps(report["rows"][-1]), flush=True)
            continue
        sources = {k: kern.get_kernel_source() for k, kern in compiled.items()}
        insts = {k: gemm_instruction(s) for k, s in sources.items()}
        inputs = case.make("cuda")
        go = case.bind(compiled, inputs)
        err, ok = check(case, go, inputs)
        row = {"program": name, "instruction": summary(insts), "kernels": insts,
               "loads": {k: copy_instruction(s) for k, s in sources.items()},
               "pipelines": {k: kern.kernel_info.get("pipelines", []) for k, kern in compiled.items()},
               "paths": {k: kern.kernel_info.get("path") for k, kern in compiled.items()},
               "rel_err": err, "correct": ok}
        dropped = {k: kern.kernel_info["schedules_dropped"] for k, kern in compiled.items()
                   if "schedules_dropped" in kern.kernel_info}
        if dropped:  # a build that failed with its schedules and was timed without them: say so in the row
            row["schedules_dropped"] = dropped
        usage = {k: list(kern.kernel_info.get("resources", {}).values()) for k, kern in compiled.items()}
        row["registers"] = {k: max((u["registers"] for u in us), default=None) for k, us in usage.items()}
        spilled = {k: sum(u["spill_stores"] for u in us) for k, us in usage.items()}
        spilled = {k: b for k, b in spilled.items() if b}
        if spilled:  # bytes each spilling kernel stores to local memory (ptxas)
            row["spill_bytes"] = spilled
        if ok:
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(do_bench(go, warmup=warmup, rep=rep))
                theirs.append(do_bench(lambda: case.peer(*inputs), warmup=warmup, rep=rep))
            t_ours, t_peer = statistics.median(ours), statistics.median(theirs)
            row.update(ms=t_ours, peer_ms=t_peer, ratio=t_peer / t_ours)
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
        del inputs, go
        torch.cuda.empty_cache()
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated program names (default: all)")
    ap.add_argument("--small", action="store_true", help="the small sizes of the GPU tests")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rep", type=int, default=50)
    ap.add_argument("--shortcut", action="store_true",
                    help="let the whole-kernel Hopper matchers take the programs they recognize (to compare)")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(cases(args.small))
    if unknown:
        ap.error(f"unknown program(s) {sorted(unknown)}; known: {sorted(cases(args.small))}")
    report = run(names, args.small, args.rounds, args.warmup, args.rep, args.shortcut)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_general.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
