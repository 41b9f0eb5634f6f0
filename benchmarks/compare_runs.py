"""Side by side: two or more ``bench_general.py`` / ``bench_int8_gemm.py`` JSON reports of the same device call
(the default, then a switch), one row per program: each run's time and ratio against its peer, and each later
run's speed against the first one (> 1: faster). What ``benchmarks/run_device.sh`` stages write, so a switch's
effect reads off one table:

    python benchmarks/compare_runs.py out/bench_general_plain_stores.json out/bench_general_tma_store.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows_of(report: dict) -> dict:
    """Program (or shape) name -> its row, from a bench report."""
    out = {}
    for row in report.get("rows", []):
        name = row.get("program") or "x".join(str(d) for d in row.get("shape", []))
        out[name] = row
    return out


def table(reports: list, labels: list) -> str:
    """The comparison as a markdown table."""
    runs = [rows_of(r) for r in reports]
    names = list(dict.fromkeys(name for run in runs for name in run))
    head = ["program"] + [f"{label} ms (ratio)" for label in labels] + [f"{label} vs {labels[0]}"
                                                                         for label in labels[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells, times = [name], []
        for run in runs:
            row = run.get(name)
            if row is None:
                cells.append("-")
                times.append(None)
            elif not row.get("correct", True):
                cells.append("WRONG")
                times.append(None)
            else:
                cells.append(f"{row['ms']:.4f} ({row['ratio']:.3f})" if "ms" in row else "-")
                times.append(row.get("ms"))
        for t in times[1:]:
            cells.append(f"{times[0] / t:.3f}x" if t and times[0] else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", help="JSON reports, the baseline first")
    ap.add_argument("--labels", default="", help="comma-separated names for the runs (default: the file names)")
    args = ap.parse_args()
    labels = [x for x in args.labels.split(",") if x] or [Path(p).stem for p in args.reports]
    if len(labels) != len(args.reports):
        ap.error(f"{len(labels)} labels for {len(args.reports)} reports")
    reports = [json.loads(Path(p).read_text()) for p in args.reports]
    devices = {r.get("device", "?") for r in reports}
    print(f"device: {', '.join(sorted(devices))}")
    print(table(reports, labels))


if __name__ == "__main__":
    main()
