"""Probe: what makes the hand-written attention kernel faster than the general passes' (issue 9, item 5)?

Builds the benchmark's flash attention (``general_programs.cases()``) in several variants, checks each against the
float32 reference (output poisoned), then times them all round-robin with SDPA in every round (``do_bench``: CUDA
events, L2 flushed). A variant is either a set of ``TILEDSL_*`` switches or a textual edit of the general passes'
CUDA source (applied just before nvcc: a diagnostic only, to learn which difference of the generated code costs the
time before building it into a pass), or the whole-kernel shortcut.

    python benchmarks/probe_attention_variants.py [--program flash_attention] [--rounds 5] [--only a,b] [--out F]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from pathlib import Path

os.environ["TILEDSL_DISABLE_CACHE"] = "1"  # every variant built from its own (edited) source
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "testing"))

import torch  # noqa: E402

import tiledsl  # noqa: E402
from general_programs import cases, check  # noqa: E402
from tiledsl.codegen import nvcc  # noqa: E402
from tiledsl.runtime import compiler  # noqa: E402


def _drop_pins(src: str) -> str:
    """The register pins around the deferred gemm removed (ordering for the compiler only)."""
    return re.sub(r"^\s*tiledsl_pin_f32\([^;]*\);\n", "", src, flags=re.M)


def _convert_before_wait(src: str) -> str:
    """In the main loop, P's conversions (the statements writing ``acc_s_cast``, which the in-flight ``PV`` of the
    previous iteration reads) moved above the wait for that ``PV``, into a second register array copied into P
    after the wait: the conversions may then interleave with the softmax, and ptxas gives P's next values other
    registers than those the running wgmma reads."""
    lines = src.split("\n")
    loop = next(i for i, l in enumerate(lines) if re.match(r"\s*for \(int k_p = 0;", l))
    wait = next(i for i in range(loop, len(lines)) if lines[i].strip().endswith("wait_group_sync_aligned_0();"))
    first = next(i for i in range(wait, len(lines)) if re.match(r"\s*half2 __\d+;$", lines[i]))
    last = next(i for i in range(first, len(lines)) if re.match(r"\s*acc_s_cast_ptr\[31\] = __\d+;$", lines[i]))
    block = [l.replace("acc_s_cast_ptr[", "acc_s_cast_next_ptr[") for l in lines[first:last + 1]]
    indent = lines[last][:len(lines[last]) - len(lines[last].lstrip())]
    copies = [f"{indent}acc_s_cast_ptr[{k}] = acc_s_cast_next_ptr[{k}];" for k in range(32)]
    out = lines[:wait] + block + lines[wait:first] + copies + lines[last + 1:]
    decl = next(i for i, l in enumerate(out) if l.strip() == "alignas(64) half2 acc_s_cast_ptr[32];")
    out.insert(decl + 1, out[decl].replace("acc_s_cast_ptr", "acc_s_cast_next_ptr"))
    return "\n".join(out)


def _min_blocks(src: str) -> str:
    """``__launch_bounds__(T)`` -> ``(T, 1)``, as the shortcut's kernel declares itself."""
    return re.sub(r"__launch_bounds__\((\d+)\)", r"__launch_bounds__(\1, 1)", src)


def _pins_without_memory(src: str) -> str:
    """The register pins keep their operand but lose the ``memory`` clobber (which also orders every memory
    access around each of them)."""
    return src.replace('asm volatile("" : "+f"(r) :: "memory");', 'asm volatile("" : "+f"(r));')


def _registers_40_232(src: str) -> str:
    src = src.replace("setmaxnreg.dec.sync.aligned.u32 56", "setmaxnreg.dec.sync.aligned.u32 40")
    src = src.replace("setmaxnreg_dec_sync_aligned_u32_56", "setmaxnreg_dec_sync_aligned_u32_40")
    src = src.replace("setmaxnreg.inc.sync.aligned.u32 224", "setmaxnreg.inc.sync.aligned.u32 232")
    return src.replace("setmaxnreg_inc_sync_aligned_u32_224", "setmaxnreg_inc_sync_aligned_u32_232")


#: name -> (switches, source edit or None, through the shortcut)
COMBINED = {"TILEDSL_WARP_SPECIALIZE": "pingpong", "TILEDSL_PACKED_CONVERSIONS": "1", "TILEDSL_DEFER_ROW_SUMS": "1",
            "TILEDSL_ROW_RECIPROCALS": "1"}
VARIANTS = {
    "general": ({}, None, False),
    "packed+row_sums+reciprocals": ({"TILEDSL_PACKED_CONVERSIONS": "1", "TILEDSL_DEFER_ROW_SUMS": "1",
                                     "TILEDSL_ROW_RECIPROCALS": "1"}, None, False),
    "none_of_the_three": ({"TILEDSL_PACKED_CONVERSIONS": "0", "TILEDSL_DEFER_ROW_SUMS": "0",
                           "TILEDSL_ROW_RECIPROCALS": "0"}, None, False),  # the defaults before 2026-12-07 s33
    "packed": ({"TILEDSL_PACKED_CONVERSIONS": "1"}, None, False),
    "row_sums": ({"TILEDSL_DEFER_ROW_SUMS": "1"}, None, False),
    "reciprocals": ({"TILEDSL_ROW_RECIPROCALS": "1"}, None, False),
    "packed+row_sums": ({"TILEDSL_PACKED_CONVERSIONS": "1", "TILEDSL_DEFER_ROW_SUMS": "1"}, None, False),
    "packed+reciprocals": ({"TILEDSL_PACKED_CONVERSIONS": "1", "TILEDSL_ROW_RECIPROCALS": "1"}, None, False),
    "packed+row_sums+reciprocals+min_blocks_1": ({"TILEDSL_PACKED_CONVERSIONS": "1", "TILEDSL_DEFER_ROW_SUMS": "1",
                                                  "TILEDSL_ROW_RECIPROCALS": "1"}, _min_blocks, False),
    "combined (pingpong+packed+row_sums+reciprocals)": (COMBINED, None, False),
    "pingpong": ({"TILEDSL_WARP_SPECIALIZE": "pingpong"}, None, False),
    "pingpong+row_sums": ({"TILEDSL_WARP_SPECIALIZE": "pingpong", "TILEDSL_DEFER_ROW_SUMS": "1"}, None, False),
    "combined+launch_order": (dict(COMBINED, TILEDSL_RASTER="0"), None, False),
    "combined+warpgroup_release": (dict(COMBINED, TILEDSL_WARPGROUP_RELEASE="1"), None, False),
    "unfenced_deferred_wait": ({"TILEDSL_FENCED_DEFERRED_WAIT": "0"}, None, False),  # the default since 2026-12-07
    "fenced_deferred_wait": ({"TILEDSL_FENCED_DEFERRED_WAIT": "1"}, None, False),
    "convert_before_wait": ({}, _convert_before_wait, False),
    "launch_order": ({"TILEDSL_RASTER": "0"}, None, False),
    "no_pins": ({}, _drop_pins, False),
    "pins_without_memory": ({}, _pins_without_memory, False),
    "one_cta_per_tile": ({"TILEDSL_PERSISTENT": "0"}, None, False),
    "min_blocks_1": ({}, _min_blocks, False),
    "registers_40_232": ({}, _registers_40_232, False),
    "warpgroup_release": ({"TILEDSL_WARPGROUP_RELEASE": "1"}, None, False),
    "warpgroup_release+min_blocks_1": ({"TILEDSL_WARPGROUP_RELEASE": "1"}, _min_blocks, False),
    "shortcut": ({}, None, True),
}

_edit = [None]
_build = nvcc.build_cubin


def _edited_build(source, arch, flags=()):
    if _edit[0] is not None:
        edited = _edit[0](source)
        if edited == source:
            raise RuntimeError("the source edit changed nothing: the generated code no longer has its pattern")
        source = edited
    return _build(source, arch, flags)


nvcc.build_cubin = _edited_build


def build(case, switches, edit, shortcut):
    """The case's kernels built with ``switches`` set, ``edit`` applied to the source, through the shortcut or not."""
    saved = {k: os.environ.get(k) for k in list(switches) + ["TILEDSL_DISABLE_HOPPER_GEMM"]}
    os.environ.update(switches)
    os.environ["TILEDSL_DISABLE_HOPPER_GEMM"] = "0" if shortcut else "1"
    _edit[0] = edit
    compiler._memory.clear()
    try:
        return {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    finally:
        _edit[0] = None
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def time_round_robin(runs: dict, peer, rounds: int, rep: int = 30) -> tuple[dict, list]:
    """Time each of ``runs`` (name -> callable) and ``peer`` once per round, the variants in a fresh order each round
    after the first, so drift in the card's clocks spreads over all of them; (name -> times, peer times) in ms."""
    from tiledsl.profiler import do_bench

    times, peer_times = {n: [] for n in runs}, []
    for r in range(rounds):
        order = list(runs) if r == 0 else sorted(runs, key=lambda n: hash((n, r)))
        for n in order:
            times[n].append(do_bench(runs[n], warmup=10, rep=rep))
        peer_times.append(do_bench(peer, warmup=10, rep=rep))
    return times, peer_times


def main():

    ap = argparse.ArgumentParser()
    ap.add_argument("--program", default="flash_attention")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    case = cases()[args.program]
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    inputs = case.make("cuda")
    report = {"device": torch.cuda.get_device_name(), "program": args.program, "variants": {}}
    runs = {}
    for name in names:
        switches, edit, shortcut = VARIANTS[name]
        row = report["variants"][name] = {"switches": switches, "edit": edit.__name__ if edit else None,
                                          "shortcut": shortcut}
        try:
            compiled = build(case, switches, edit, shortcut)
        except Exception as err:  # noqa: BLE001 (a probe: record and go on)
            row["error"] = f"{type(err).__name__}: {err}"[:500]
            print(name, row["error"], flush=True)
            continue
        row["paths"] = {k: kern.kernel_info.get("path") for k, kern in compiled.items()}
        row["resources"] = {k: kern.kernel_info.get("resources") for k, kern in compiled.items()}
        go = case.bind(compiled, inputs)
        row["rel_err"], row["correct"] = check(case, go, inputs)
        print(name, "built", row["paths"], row["resources"], "rel_err", row["rel_err"], row["correct"], flush=True)
        if row["correct"]:
            runs[name] = go
    if args.rounds:  # 0: build and check only (a profiler run)
        times, peer = time_round_robin(runs, lambda: case.peer(*inputs), args.rounds)
        report["peer_ms"] = peer
        for n, ts in times.items():
            row = report["variants"][n]
            row["ms"], row["all_ms"] = statistics.median(ts), ts
            row["ratio"] = statistics.median(peer) / row["ms"]
            print(f"{n:40s} {row['ms']:.4f} ms  ratio {row['ratio']:.3f}  rounds {' '.join(f'{t:.3f}' for t in ts)}",
                  flush=True)
        print(f"{'peer':40s} {statistics.median(peer):.4f} ms", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
