"""benchmarks/compare_runs.py: the table that reads a switch's effect off two bench reports of one device call."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from compare_runs import table  # noqa: E402


def test_each_later_run_is_compared_with_the_first():
    base = {"rows": [{"program": "gemm", "ms": 0.2, "ratio": 0.9, "correct": True},
                     {"program": "int8", "ms": 0.4, "ratio": 0.45, "correct": True}]}
    switched = {"rows": [{"program": "gemm", "ms": 0.1, "ratio": 1.8, "correct": True},
                         {"program": "int8", "correct": False}]}
    lines = table([base, switched], ["default", "on"]).splitlines()
    assert lines[0] == "| program | default ms (ratio) | on ms (ratio) | on vs default |"
    assert lines[2] == "| gemm | 0.2000 (0.900) | 0.1000 (1.800) | 2.000x |"
    assert lines[3] == "| int8 | 0.4000 (0.450) | WRONG | - |"


def test_int8_reports_are_named_by_shape():
    report = {"rows": [{"shape": [16, 4096, 4096], "ms": 0.02, "ratio": 1.2, "correct": True}]}
    assert "| 16x4096x4096 | 0.0200 (1.200) |" in table([report], ["wgmma"])
