"""Summarize Nsight Compute's SASS source page (``ncu --import R --page source --csv --print-source sass``) of one
kernel, or compare two: warp stall samples by reason and by opcode, instructions by execution count, the hottest
instructions, and (two files) where the samples of the most executed instructions (the main loop) differ.

    python benchmarks/ncu_sass_summary.py A_sass.csv [B_sass.csv]

Samples of a reason this ncu version exports no column for (waiting for the warpgroup's other warps at a wgmma,
on Hopper) are counted as ``unlisted``.
"""
from __future__ import annotations

import collections
import csv
import re
import sys


def load(path: str) -> list[dict]:
    """The CSV's instruction rows as dicts keyed by its header."""
    rows = list(csv.reader(open(path)))
    at = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    header = rows[at]
    return [dict(zip(header, r)) for r in rows[at + 1:] if len(r) >= len(header)]


def _num(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def opcode(row: dict) -> str:
    """The instruction's opcode without predicate and modifiers (``HGMMA``, ``F2FP``)."""
    return re.sub(r"^@!?U?P\w+\s+", "", row["Source"].strip()).split(" ")[0].split(".")[0]


def samples(row: dict) -> float:
    return _num(row["Warp Stall Sampling (All Samples)"])


def by_reason(row: dict) -> dict:
    """Stall samples of one instruction by reason (``unlisted``: samples no exported reason accounts for)."""
    out = {k[len("stall_"):]: _num(v) for k, v in row.items() if k.startswith("stall_") and "Not Issued" not in k}
    out["unlisted"] = max(0.0, samples(row) - sum(out.values()))
    return out


def summary(rows: list[dict], label: str) -> None:
    """Print one kernel's totals, the instructions by execution count and the hottest instructions."""
    total = sum(samples(r) for r in rows)
    reasons, ops, op_samples, counts = (collections.Counter() for _ in range(4))
    for r in rows:
        reasons.update(by_reason(r))
        ops[opcode(r)] += _num(r["Instructions Executed"])
        op_samples[opcode(r)] += samples(r)
        counts[int(_num(r["Instructions Executed"]))] += 1
    print(f"{label}: {int(total)} samples, {sum(ops.values()) / 1e6:.1f} M warp instructions")
    print("  stalls:", ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in reasons.most_common(10)))
    print("  samples by opcode:", ", ".join(f"{k} {int(v)}" for k, v in op_samples.most_common(12)))
    print("  instructions by execution count:")
    for count, n in sorted(counts.items(), key=lambda c: -c[0] * c[1])[:4]:
        in_class = [r for r in rows if int(_num(r["Instructions Executed"])) == count]
        print(f"    executed {count:>9d} times: {n:4d} instructions, {int(sum(samples(r) for r in in_class))} samples")
    print("  hottest instructions:")
    for r in sorted(rows, key=lambda r: -samples(r))[:12]:
        top = sorted(by_reason(r).items(), key=lambda x: -x[1])[:2]
        print(f"    {int(samples(r)):7d} {', '.join(f'{k} {int(v)}' for k, v in top):32s} {r['Source'].strip()[:64]}")


def main_loop(rows: list[dict]) -> list[dict]:
    """The instructions executed most often (the main loop's body)."""
    most = max(int(_num(r["Instructions Executed"])) for r in rows)
    return [r for r in rows if int(_num(r["Instructions Executed"])) == most]


def compare(a: list[dict], b: list[dict], labels) -> None:
    """Print where the main loops' samples differ, by opcode and by reason (differences over 1 % of A's samples)."""
    for what, key in (("opcode", lambda r: {opcode(r): samples(r)}), ("reason", by_reason)):
        sums = []
        for rows in (a, b):
            c = collections.Counter()
            for r in main_loop(rows):
                c.update(key(r))
            sums.append(c)
        floor = 0.01 * sum(samples(r) for r in main_loop(a))
        print(f"main loop by {what} ({labels[0]} / {labels[1]} / difference):")
        for k in sorted(set(sums[0]) | set(sums[1]), key=lambda k: -(sums[0][k] - sums[1][k])):
            if abs(sums[0][k] - sums[1][k]) > floor:
                print(f"    {k:18s} {int(sums[0][k]):8d} {int(sums[1][k]):8d} {int(sums[0][k] - sums[1][k]):+8d}")


if __name__ == "__main__":
    files = sys.argv[1:]
    loaded = [load(f) for f in files]
    for rows, f in zip(loaded, files):
        summary(rows, f)
    if len(loaded) == 2:
        compare(*loaded, files)
