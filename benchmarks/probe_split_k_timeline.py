"""Probe: where the split-K kernel's time goes (issue 9: the int8-weight GEMM at M = 16, 1.39x cuBLAS, bar 1.5x).

Builds the benchmark's program (default ``int8_weight_m16``: split in 4 parts summed by the last one) with a textual
edit of its CUDA source that reads ``%globaltimer`` in each block's first thread at five points: the kernel's entry,
the first stage's data in shared memory (the first wait on a full barrier), the main loop's end (before the partial
sums are stored), the ticket known (after the block-wide ``__syncthreads_or``) and the exit, and prints them. The
kernel is then launched a few times, L2 flushed before each, and the lines of each launch are summarized relative
to its first block's entry: when blocks start, when their first data arrive, how long they stream, how long the
ticket and the last part's sum take. A diagnostic only, to learn which part of the kernel the fixed cost lives in
(the edit is not part of any build outside this script); the same launches are timed with CUDA events without the
edit, and the variants below are timed round-robin against cuBLAS as in ``probe_attention_variants.py``.

    python benchmarks/probe_split_k_timeline.py [--program int8_weight_m16] [--launches 5] [--rounds 5] [--out F]
"""
from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from probe_attention_variants import build, time_round_robin  # noqa: E402  (also sets the cache off and the testing path)

import torch  # noqa: E402

from general_programs import cases, check  # noqa: E402

MARKS = ("entry", "first_data", "loop_end", "ticket", "exit")

_CLOCK = ("__forceinline__ __device__ unsigned long long tiledsl_probe_clock() {\n"
          "  unsigned long long t; asm volatile(\"mov.u64 %0, %globaltimer;\" : \"=l\"(t) :: \"memory\"); return t;\n"
          "}\n")


def _timeline(src: str) -> str:
    """The five ``%globaltimer`` reads and the printf of block thread 0 added to the split-K kernel's source."""
    lines = src.split("\n")
    head = next(i for i, l in enumerate(lines) if l.startswith('extern "C" __global__') and l.rstrip().endswith("{"))
    loop = next(i for i in range(head, len(lines)) if re.match(r"\s*for \(int (k\w*) = 0;", lines[i]))
    var = re.match(r"\s*for \(int (k\w*) = 0;", lines[loop]).group(1)
    first = next(i for i in range(loop, len(lines)) if re.search(r"mbarrier_wait\(\(&\(\w+_full_ptr\[", lines[i]))
    store = next(i for i in range(first, len(lines)) if "_split_k_ptr + " in lines[i] and lines[i].lstrip().startswith("*("))
    ticket = next(i for i in range(store, len(lines)) if "__syncthreads_or(" in lines[i])
    end = max(i for i, l in enumerate(lines) if l == "}")
    fmt = "TIMELINE %d %d %d %d " + " ".join(["%llu"] * len(MARKS)) + " %d\\n"
    smid = "unsigned int tl_sm; asm volatile(\"mov.u32 %0, %smid;\" : \"=r\"(tl_sm));"
    exit_ = (f"  {{ unsigned long long tl_t4 = tiledsl_probe_clock(); {smid}\n"
             f"    if (threadIdx.x == 0) printf(\"{fmt}\", (int)blockIdx.x, (int)blockIdx.y, (int)blockIdx.z, (int)tl_sm,"
             f" tl_t0, tl_t1, tl_t2, tl_t3, tl_t4, last_part); }}")
    out = (lines[:head + 1] + ["  unsigned long long tl_t0 = tiledsl_probe_clock(), tl_t1 = 0, tl_t2 = 0, tl_t3 = 0;"]
           + lines[head + 1:first + 1] + [f"    if ({var} == 0) tl_t1 = tiledsl_probe_clock();"]
           + lines[first + 1:store] + ["  tl_t2 = tiledsl_probe_clock();"]
           + lines[store:ticket + 1] + ["  tl_t3 = tiledsl_probe_clock();"]
           + lines[ticket + 1:end] + [exit_] + lines[end:])
    text = "\n".join(out)
    at = text.index('extern "C" __global__')
    return text[:at] + _CLOCK + text[at:]


def _fenced_ticket(src: str) -> str:
    """The ticket as it was before 2026-12-07: a ``__threadfence`` in every thread before the block barrier, a
    relaxed ``atomicAdd``, and another ``__threadfence`` in every thread of the last part before its loads."""
    src, n1 = re.subn(r"\n( *)__syncthreads\(\);\n( *int condval;)", r"\n\1__threadfence();\n\1__syncthreads();\n\2", src,
                      count=1)
    src, n2 = re.subn(r"tiledsl_split_k_ticket\(\(&\(([^;]*?)\)\)\)", r"atomicAdd((&(\1)), 1)", src, count=1)
    src, n3 = re.subn(r"(atomicAdd\(\(&\(\w+_split_k_count_ptr\[[^;]*\), -\d+\);\n *\}\n)", r"\1    __threadfence();\n", src,
                      count=1)
    if (n1, n2, n3) != (1, 1, 1):
        raise RuntimeError(f"the ticket's pattern changed: {n1, n2, n3}")
    return src


def _early_reads_after_ticket(src: str) -> str:
    """The epilogue's early reads (``*_early`` fragments: the per-column scale) moved back after the ticket and the
    last part's sums, just before their first use, where the epilogue issued them before 2026-12-07."""
    lines = src.split("\n")
    ticket = next(i for i, l in enumerate(lines) if l.strip() == "int condval;")
    early = [i for i in range(ticket) if re.match(r"\s*\w+_early_ptr\[\d+\] = ", lines[i])]
    use = next((i for i in range(ticket, len(lines)) if "_early_ptr[" in lines[i]), None)
    if not early or use is None:
        raise RuntimeError("no early reads before the ticket")
    moved = ["    " + lines[i].strip() for i in early]
    rest = [l for i, l in enumerate(lines) if i not in set(early)]
    use -= len(early)
    return "\n".join(rest[:use] + moved + rest[use:])


def _no_sum_loads(src: str) -> str:
    """Timing only (wrong sums): the last part adds nothing of the others' partial sums."""
    return re.sub(r"(for \(int part = 0; part < \d+; \+\+part\) \{\n\s*if \()", r"\1false && ", src, count=1)


#: name -> (switches, source edit or None, the result is right)
VARIANTS = {
    "general": ({}, None, True),
    "fenced_ticket (before 2026-12-07)": ({}, _fenced_ticket, True),
    "early_reads_after_ticket (before 2026-12-07)": ({}, _early_reads_after_ticket, True),
    "no_sum_loads (wrong sums)": ({}, _no_sum_loads, False),
}


#: the kernels whose blocks' timelines are printed: name -> the edit under the timeline's
TIMELINES = {"general": _timeline, "fenced_ticket": lambda src: _timeline(_fenced_ticket(src))}


def launch(go, flush, times: int):
    """Run the bound kernels ``times`` times, L2 flushed before each and the device synchronized after it."""
    for _ in range(times):
        flush.zero_()
        go()
        torch.cuda.synchronize()


def capture_stdout(fn):
    """Run ``fn`` with the process's C-level stdout (where device printf goes) sent to a file; return its text."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            fn()
            libc.fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def summarize(text: str) -> list[dict]:
    """One summary per launch (lines grouped by entry time): microseconds after the launch's first entry."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["TIMELINE"]:
            bx, by, bz, sm, *ts, last = map(int, parts[1:])
            rows.append({"block": (bx, by, bz), "sm": sm, "t": ts, "last": last})
    rows.sort(key=lambda r: r["t"][0])
    launches, current = [], []
    for r in rows:
        if current and r["t"][0] - current[-1]["t"][0] > 50_000:  # 50 us apart: the next launch
            launches.append(current)
            current = []
        current.append(r)
    if current:
        launches.append(current)
    out = []
    for blocks in launches:
        t0 = min(b["t"][0] for b in blocks)
        us = lambda b, i: (b["t"][i] - t0) / 1e3  # noqa: E731
        summary = {"blocks": len(blocks), "end_us": max(us(b, 4) for b in blocks)}
        for i, mark in enumerate(MARKS):
            vals = sorted(us(b, i) for b in blocks)
            summary[mark] = {"min": vals[0], "median": statistics.median(vals), "max": vals[-1]}
        lasts = [b for b in blocks if b["last"]]
        summary["last_parts"] = len(lasts)
        summary["ticket_us"] = statistics.median(us(b, 3) - us(b, 2) for b in blocks)
        summary["stream_us"] = statistics.median(us(b, 2) - us(b, 1) for b in blocks)
        if lasts:
            summary["last_part_sum_us"] = statistics.median(us(b, 4) - us(b, 3) for b in lasts)
        out.append(summary)
    return out


def print_timeline(name: str, launches: list) -> None:
    """One line per launch of :func:`summarize`'s summaries."""
    for i, s in enumerate(launches):
        print(f"{name} launch {i}: {s['blocks']} blocks, end {s['end_us']:.2f} us; " + "; ".join(
            f"{m} {s[m]['min']:.2f}/{s[m]['median']:.2f}/{s[m]['max']:.2f}" for m in MARKS)
            + f"; last parts {s['last_parts']}, their sum {s.get('last_part_sum_us', 0):.2f} us", flush=True)


def record_times(report: dict, times: dict, peer: list, width: int = 32) -> None:
    """Each variant's round-robin times (ms) and ratio to the peer into ``report["variants"]``, printed in us."""
    report["peer_ms"] = peer
    for n, ts in times.items():
        row = report["variants"][n]
        row["ms"], row["all_ms"], row["ratio"] = statistics.median(ts), ts, statistics.median(peer) / statistics.median(ts)
        print(f"{n:{width}s} {row['ms'] * 1e3:.2f} us  ratio {row['ratio']:.3f}  rounds "
              + " ".join(f"{t * 1e3:.2f}" for t in ts), flush=True)
    print(f"{'peer':{width}s} {statistics.median(peer) * 1e3:.2f} us", flush=True)


def main():
    from tiledsl.profiler.bench import flush_buffer

    ap = argparse.ArgumentParser()
    ap.add_argument("--program", default="int8_weight_m16")
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    case = cases()[args.program]
    inputs = case.make("cuda")
    report = {"device": torch.cuda.get_device_name(), "program": args.program, "variants": {}}

    flush = flush_buffer(torch.device("cuda"))
    for name, edit in TIMELINES.items():
        go = case.bind(build(case, {}, edit, False), inputs)
        rel_err, correct = check(case, go, inputs)
        text = capture_stdout(functools.partial(launch, go, flush, args.launches))
        report.setdefault("timelines", {})[name] = {"rel_err": rel_err, "correct": correct,
                                                    "launches": summarize(text)}
        print_timeline(name, report["timelines"][name]["launches"])

    runs = {}
    for name, (switches, edit, right) in VARIANTS.items():
        row = report["variants"][name] = {"edit": edit.__name__ if edit else None}
        try:
            run = case.bind(build(case, switches, edit, False), inputs)
        except Exception as err:  # noqa: BLE001 (a probe: record and go on)
            row["error"] = f"{type(err).__name__}: {err}"[:500]
            print(name, row["error"], flush=True)
            continue
        row["rel_err"], row["correct"] = check(case, run, inputs)
        print(name, "rel_err", row["rel_err"], row["correct"], flush=True)
        if row["correct"] or not right:
            runs[name] = run
    times, peer = time_round_robin(runs, lambda: case.peer(*inputs), args.rounds, rep=50)
    record_times(report, times, peer)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
