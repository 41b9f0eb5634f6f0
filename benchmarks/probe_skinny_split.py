"""Probe: why a skinny fp16 GEMM split in K is faster through the whole-kernel shortcut (issue 9, item 5).

The GEMM 16 x 4096 x 4096 (tiles 64 x 128 x 64, 6 stages, K split in 2) took 22.7 us through the shortcut and
24.1-25.9 us through the general passes (H100, 2026-12-07), while unsplit both took 26.9 us. This builds the same
program through both paths and several split-K forms, checks each against float32 (output poisoned), prints each
block's timeline for the one-launch forms (``%globaltimer`` read by the first consumer thread at its entry, its
first stage's data, the main loop's end, the ticket known, the exit) and times every variant round-robin against
cuBLAS. A diagnostic only: the timeline edits are applied to the CUDA source just before nvcc in this process.

    python benchmarks/probe_skinny_split.py [--rows 16] [--rounds 7] [--launches 4] [--out F] [--only A,B]
        [--no-timelines]
"""
from __future__ import annotations

import argparse
import functools
import json
import re
from pathlib import Path

# probe_attention_variants sets the cache off and the testing path
from probe_attention_variants import _min_blocks, build, time_round_robin  # noqa: E402
from probe_split_k_timeline import (_CLOCK, MARKS, capture_stdout, launch, print_timeline,  # noqa: E402
                                    record_times, summarize)

import torch  # noqa: E402

from general_programs import Case, _randn, check, gemm  # noqa: E402
from tiledsl.passes.split_k import SPLIT_K_ATTR  # noqa: E402

GROUP = {"TILEDSL_SPLIT_K_GROUP_COUNT": "1"}
ORDER = {"TILEDSL_SPLIT_K_REGISTER_ORDER": "1"}


def skinny_case(rows: int, parts: int) -> Case:
    """C = A @ B for A [rows, 4096], B [4096, 4096] in the shortcut's best skinny tiles, K split in ``parts``."""
    func = gemm(rows, 4096, 4096, block_M=64, block_N=128, block_K=64, stages=6, threads=128)
    func = func.with_attr(SPLIT_K_ATTR, parts)
    make = lambda dev: [_randn(dev, rows, 4096), _randn(dev, 4096, 4096) / 16, _randn(dev, rows, 4096)]  # noqa: E731
    return Case({"main": func}, make, lambda a, b, r: (a.float() @ b.float(),), lambda a, b, r: a @ b, 2e-2,
                ("main",))


def _insert_after(lines, index, text):
    lines.insert(index + 1, text)


def timeline(consumer_thread: int, last_flag: str, ticket_pattern: str):
    """A source edit adding the five ``%globaltimer`` reads (by ``consumer_thread``) and their printf."""
    def edit(src: str) -> str:
        lines = src.split("\n")
        head = next(i for i, l in enumerate(lines) if l.startswith('extern "C" __global__') and l.rstrip().endswith("{"))
        fence = next(i for i in range(head, len(lines)) if "wgmma_fence" in lines[i])
        wait = max(i for i in range(head, fence) if "mbarrier_wait(" in lines[i])
        drain = next(i for i in range(fence, len(lines)) if "wait_group_sync_aligned_0()" in lines[i])
        ticket = next(i for i in range(drain, len(lines)) if re.search(ticket_pattern, lines[i]))
        end = max(i for i, l in enumerate(lines) if l == "}")
        fmt = "TIMELINE %d %d %d %d " + " ".join(["%llu"] * len(MARKS)) + " %d\\n"
        out = list(lines)
        # from the bottom up, so earlier indices stay valid
        out.insert(end, f"  {{ unsigned long long tl_t4 = tiledsl_probe_clock(); unsigned int tl_sm;"
                        f" asm volatile(\"mov.u32 %0, %smid;\" : \"=r\"(tl_sm));\n"
                        f"    if (threadIdx.x == {consumer_thread}) printf(\"{fmt}\", (int)blockIdx.x, (int)blockIdx.y,"
                        f" (int)blockIdx.z, (int)tl_sm, tl_t0, tl_t1, tl_t2, tl_t3, tl_t4, tl_last); }}")
        _insert_after(out, ticket, f"    tl_t3 = tiledsl_probe_clock(); tl_last = (int)({last_flag});")
        _insert_after(out, drain, "    tl_t2 = tiledsl_probe_clock();")
        _insert_after(out, wait, "      if (tl_t1 == 0) tl_t1 = tiledsl_probe_clock();")
        _insert_after(out, head, "  unsigned long long tl_t0 = tiledsl_probe_clock(), tl_t1 = 0, tl_t2 = 0, tl_t3 = 0;"
                                 " int tl_last = 1;")
        text = "\n".join(out)
        at = text.index('extern "C" __global__')
        return text[:at] + _CLOCK + text[at:]
    return edit


GENERAL_TIMELINE = timeline(0, "last_part", r"int last_part = ")
SHORTCUT_TIMELINE = timeline(128, "is_last_ptr[0]", r"is_last_ptr\[0\] = ")


def _no_reset(src: str) -> str:
    """The last part's counter reset (``atomicAdd(count, -S)``) removed (right for S a power of two: the ticket is
    compared modulo S)."""
    out, n = re.subn(r"\n\s*if \(\(\(int\)threadIdx.x\) == 0\) \{\n\s*atomicAdd\(\(&\(\w+_split_k_count_ptr\[[^;]*\), -\d+\);"
                     r"\n\s*\}", "", src, count=1)
    if n != 1:
        raise RuntimeError("no counter reset found")
    return out


def _no_sum_loads(src: str) -> str:
    """Timing only (wrong sums): the last part adds nothing of the others' partial sums."""
    return re.sub(r"(for \(int part = 0; part < \d+; \+\+part\) \{\n\s*if \()", r"\1false && ", src, count=1)


#: name -> (parts, switches, source edit or None, through the shortcut, the result is right)
VARIANTS = {
    "shortcut_split1": (1, {}, None, True, True),
    "shortcut_split2": (2, {}, None, True, True),
    "general_split1": (1, {}, None, False, True),
    "general_launch2": (2, {"TILEDSL_SPLIT_K_SUM": "launch"}, None, False, True),
    "general_last2_block": (2, {"TILEDSL_SPLIT_K_SUM": "last"}, None, False, True),
    "general_last2_group": (2, {"TILEDSL_SPLIT_K_SUM": "last", **GROUP}, None, False, True),
    "general_last2_group_register_order": (2, {"TILEDSL_SPLIT_K_SUM": "last", **GROUP, **ORDER}, None, False, True),
    "general_last2_register_order": (2, {"TILEDSL_SPLIT_K_SUM": "last", **ORDER}, None, False, True),
    "general_last2_group_no_reset": (2, {"TILEDSL_SPLIT_K_SUM": "last", **GROUP}, _no_reset, False, True),
    # the defaults since 2026-12-07 (group count + register order), then each difference left from the shortcut's
    # kernel: one release per warpgroup instead of one per warp, ``__launch_bounds__(T, 1)``
    "general_default2": (2, {}, None, False, True),
    "general_default2_warpgroup_release": (2, {"TILEDSL_WARPGROUP_RELEASE": "1"}, None, False, True),
    "general_default2_min_blocks_1": (2, {}, _min_blocks, False, True),
    "general_default2_both": (2, {"TILEDSL_WARPGROUP_RELEASE": "1"}, _min_blocks, False, True),
    "general_last2_group_no_sum (wrong sums)": (2, {"TILEDSL_SPLIT_K_SUM": "last", **GROUP}, _no_sum_loads, False,
                                                False),
}
TIMELINES = {"general_last2_group": (2, {"TILEDSL_SPLIT_K_SUM": "last", **GROUP}, GENERAL_TIMELINE, False),
             "shortcut_split2": (2, {}, SHORTCUT_TIMELINE, True),
             "general_split1": (1, {}, GENERAL_TIMELINE_UNSPLIT := timeline(0, "1", r"wait_group_sync_aligned_0"),
                                False)}


def main():
    from tiledsl.profiler.bench import flush_buffer

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--launches", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default="")
    ap.add_argument("--only", default="", help="comma-separated variant names (all when empty)")
    ap.add_argument("--no-timelines", action="store_true")
    args = ap.parse_args()
    only = [n for n in args.only.split(",") if n]
    report = {"device": torch.cuda.get_device_name(), "rows": args.rows, "variants": {}, "timelines": {}}
    flush = flush_buffer(torch.device("cuda"))
    cases = {parts: skinny_case(args.rows, parts) for parts in (1, 2)}
    inputs = cases[2].make("cuda")

    for name, (parts, switches, edit, shortcut) in ({} if args.no_timelines else TIMELINES).items():
        case = cases[parts]
        try:
            go = case.bind(build(case, switches, edit, shortcut), inputs)
        except Exception as err:  # noqa: BLE001 (a probe: record and go on)
            report["timelines"][name] = {"error": f"{type(err).__name__}: {err}"[:500]}
            print(name, "timeline", report["timelines"][name]["error"], flush=True)
            continue
        rel_err, correct = check(case, go, inputs)
        text = capture_stdout(functools.partial(launch, go, flush, args.launches))
        report["timelines"][name] = {"rel_err": rel_err, "correct": correct, "launches": summarize(text)}
        print_timeline(name, report["timelines"][name]["launches"])

    runs = {}
    for name, (parts, switches, edit, shortcut, right) in VARIANTS.items():
        if only and name not in only:
            continue
        case = cases[parts]
        row = report["variants"][name] = {"edit": edit.__name__ if edit else None}
        try:
            compiled = build(case, switches, edit, shortcut)
        except Exception as err:  # noqa: BLE001
            row["error"] = f"{type(err).__name__}: {err}"[:500]
            print(name, row["error"], flush=True)
            continue
        row["kernels"] = {k: list(dict.fromkeys(re.findall(r'extern "C" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(',
                                                                    c.get_kernel_source()))) for k, c in compiled.items()}
        run = case.bind(compiled, inputs)
        row["rel_err"], row["correct"] = check(case, run, inputs)
        print(name, row["kernels"], "rel_err", row["rel_err"], row["correct"], flush=True)
        if row["correct"] or not right:
            runs[name] = run
    times, peer = time_round_robin(runs, lambda: cases[2].peer(*inputs), args.rounds, rep=100)
    record_times(report, times, peer, width=42)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
