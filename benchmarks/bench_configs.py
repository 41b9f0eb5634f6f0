"""How much of a program's gap to its peer is its tile configuration: tune a bench_general program over a small
config space with tiledsl's autotuner, then time the winner, the benchmark's fixed config and the torch peer in
alternating rounds of the same run.

The programs and peers are those of ``testing/general_programs.py`` (the general passes only, the whole-kernel
Hopper matchers off). Every candidate is checked against the float32 reference by the tuner before it is timed;
the winner and the fixed config are checked again here on fresh inputs with NaN-poisoned outputs.

    python benchmarks/bench_configs.py [--only int8_weight_m16,gemm] [--rounds 3]
    python benchmarks/bench_configs.py --cpu     (small sizes on the CPU: checks the script, times nothing useful)
    python benchmarks/bench_configs.py --only int8_weight_m16 --switches TILEDSL_FAST_INT8_CAST=1
        (tuned with the switch on; the fixed config timed with and without it)

With ``OUT`` set, the report goes to ``$OUT/bench_configs.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import tiledsl  # noqa: E402
from general_programs import (_int8_inputs, _int8_peer, _int8_ref, flash_attention, gemm,  # noqa: E402
                              gemm_instruction, int8_weight_gemm, switched_env)

DEVICE, TARGET = "cuda", "cuda"  # --cpu: "cpu", "llvm"
TOLERANCE = 3e-2  # max |out - ref| / max |ref|: bench_general's bound, on the stricter max norm


@dataclass
class Sweep:
    """A program factory, its fixed arguments, the benchmark's config, the space to tune, inputs, reference, peer."""
    factory: object
    args: tuple
    fixed: dict
    space: dict
    inputs: object  # () -> list of input tensors (outputs excluded)
    reference: object  # (*inputs) -> float32 output
    peer: object  # (*inputs) -> output


def _grid(**axes) -> list[dict]:
    configs = [{}]
    for key, values in axes.items():
        configs = [dict(c, **{key: v}) for c in configs for v in values]
    return configs


def _randn(*shape):
    return torch.randn(*shape, device=DEVICE).half()


def _gemm_sweep(n):
    return Sweep(gemm, (n, n, n), dict(block_M=128, block_N=256, block_K=64, stages=4, threads=256),
                 dict(block_M=[128], block_N=[128, 256], block_K=[64], stages=[3, 4, 5], threads=[256, 384]),
                 lambda: [_randn(n, n) for _ in range(3)], lambda a, b, r: a.float() @ b.float(),
                 lambda a, b, r: a @ b)


def _attention_sweep(causal, small):
    b, h, s, d = (1, 2, 256, 64) if small else (8, 32, 4096, 128)

    def make():
        return [_randn(b, s, h, d) for _ in range(3)]

    def reference(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(
            q.float().transpose(1, 2), k.float().transpose(1, 2), v.float().transpose(1, 2),
            is_causal=causal).transpose(1, 2)

    def peer(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal)

    return Sweep(flash_attention, (b, h, s, d, causal), dict(block_M=128, block_N=128, stages=2, threads=256),
                 dict(block_M=[128], block_N=[64, 128, 176], stages=[1, 2], threads=[256, 384]),
                 make, reference, peer)


def _int8_sweep(m, n, fixed, space):
    return Sweep(int8_weight_gemm, (m, n, n), fixed, space, lambda: _int8_inputs(DEVICE, m, n, n), _int8_ref,
                 _int8_peer())


SWEEPS = {  # name -> (small) -> Sweep
    "int8_weight_m16": lambda small: _int8_sweep(
        16, 256 if small else 4096, dict(block_M=32, block_N=32, block_K=256, stages=4, threads=128),
        dict(block_M=[16, 32], block_N=[16, 32, 64, 128], block_K=[64, 128, 256, 512], stages=[4, 6, 8],
             threads=[64, 128, 256])),  # 128 columns: few blocks, for TILEDSL_SPLIT_K; 8 warps of 16 x 8 tiles
    "int8_weight_m4096": lambda small: _int8_sweep(
        256 if small else 4096, 256 if small else 4096,
        dict(block_M=128, block_N=128, block_K=64, stages=4, threads=256),
        dict(block_M=[128, 192, 256], block_N=[128, 256], block_K=[32, 64, 128], stages=[3, 4, 5, 6, 8],
             threads=[256, 384])),  # 192 x 256 on 3 warpgroups: less shared traffic per flop (RESULTS.md)
    "gemm": lambda small: _gemm_sweep(256 if small else 4096),
    "gemm_8192": lambda small: _gemm_sweep(512 if small else 8192),
    "flash_attention": lambda small: _attention_sweep(False, small),
    "flash_attention_causal": lambda small: _attention_sweep(True, small),
}


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """max |out - ref| / max |ref| (NaN anywhere gives NaN)."""
    return float((out.float() - ref.float()).abs().max() / ref.float().abs().max().clamp_min(1e-6))


def _checked(kernel, sweep: Sweep) -> float:
    """The relative error of ``kernel`` (compiled with out_idx=[]) on fresh inputs, its output poisoned first."""
    inputs = sweep.inputs()
    ref = sweep.reference(*inputs)
    out = torch.full(ref.shape, float("nan"), dtype=torch.float16, device=DEVICE)
    kernel(*inputs, out)
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return _rel_err(out, ref)


def _close_enough(outputs, expected):
    """The tuner's check of a candidate: the benchmark's tolerance on the relative error."""
    return _rel_err(outputs, expected) <= TOLERANCE


def _compiled(sweep: Sweep, config: dict, switches: dict):
    """``sweep``'s program with ``config``, built (out_idx=[]) with the environment switches ``switches`` set."""
    with switched_env(switches):
        return tiledsl.compile(sweep.factory(*sweep.args, **config), out_idx=[], target=TARGET)


def run_sweep(name: str, sweep: Sweep, switches: dict, rounds: int, warmup: int, rep: int) -> dict:
    """Tune ``sweep``'s space with ``switches`` set, then time the winner, the fixed config (with the switches and,
    when there are any, without) and the peer in alternating rounds; returns the report row."""
    from tiledsl.autotuner import AutoTuner
    from tiledsl.profiler import do_bench

    configs = _grid(**sweep.space)
    with switched_env(switches):  # set before the tuner starts its workers, which inherit the environment
        tuned = (AutoTuner.from_kernel(sweep.factory, configs)
                 .set_kernel_parameters(args=sweep.args)
                 .set_compile_args(out_idx=[-1], target=TARGET)
                 .set_profile_args(warmup=5, rep=20, supply_prog=lambda params: sweep.inputs(),
                                   ref_prog=sweep.reference, manual_check_prog=_close_enough)
                 .run(quiet=True))
    kernels = {"best": _compiled(sweep, tuned.config, switches), "fixed": _compiled(sweep, sweep.fixed, switches)}
    if switches:
        kernels["fixed_default"] = _compiled(sweep, sweep.fixed, {})
    row = {"program": name, "switches": switches, "fixed_config": sweep.fixed, "best_config": tuned.config,
           "candidates": len(configs), "trials": tuned.summary(),
           "instruction": gemm_instruction(kernels["best"].get_kernel_source())}
    row["rel_err"] = {k: _checked(kern, sweep) for k, kern in kernels.items()}
    if not all(e <= TOLERANCE for e in row["rel_err"].values()):  # NaN fails too
        row["correct"] = False
        return row
    inputs = sweep.inputs()
    out = torch.empty(sweep.reference(*inputs).shape, dtype=torch.float16, device=DEVICE)
    times = {k: [] for k in [*kernels, "peer"]}
    for _ in range(rounds):
        for k, kern in kernels.items():
            times[k].append(do_bench(lambda: kern(*inputs, out), warmup=warmup, rep=rep))
        times["peer"].append(do_bench(lambda: sweep.peer(*inputs), warmup=warmup, rep=rep))
    ms = {k: statistics.median(v) for k, v in times.items()}
    row.update(correct=True, ms=ms, ratio={k: ms["peer"] / ms[k] for k in kernels})
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help=f"comma-separated programs (default: all of {sorted(SWEEPS)})")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rep", type=int, default=50)
    ap.add_argument("--cpu", action="store_true", help="small sizes on the CPU (LLVM): a check of the script")
    ap.add_argument("--switches", default="", help="TILEDSL_X=1,TILEDSL_Y=1: set while tuning and for the winner; "
                    "the fixed config is timed with and without them")
    args = ap.parse_args()
    global DEVICE, TARGET
    if args.cpu:
        DEVICE, TARGET = "cpu", "llvm"
    names = [n for n in args.only.split(",") if n] or list(SWEEPS)
    unknown = set(names) - set(SWEEPS)
    if unknown:
        ap.error(f"unknown program(s) {sorted(unknown)}; known: {sorted(SWEEPS)}")
    switches = dict(item.split("=", 1) for item in args.switches.split(",") if item)
    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "1"  # the general passes only, as bench_general
    report = {"device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu", "rows": []}
    for name in names:
        try:
            row = run_sweep(name, SWEEPS[name](args.cpu), switches, args.rounds, args.warmup, args.rep)
        except Exception as err:  # one program's failure must not lose the others' rows
            row = {"program": name, "error": f"{type(err).__name__}: {err}"}
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "bench_configs.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
