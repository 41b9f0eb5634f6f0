"""Golden files: the lowered TIR of reference kernels for the CPU target is pinned.

A change in lowering shows up here as a diff; when it is intended, regenerate with
``TILEDSL_UPDATE_GOLDEN=1 pytest testing/test_golden_cpu.py`` and review the diff of ``testing/golden/``.
"""
import os
from pathlib import Path

import pytest
import tvm

from tiledsl.passes.pipeline import lower
from example_modules import load_example

ROOT = Path(__file__).resolve().parent
GOLDEN = ROOT / "golden"


def _example(name):
    return load_example(name, f"golden_{name}")


CASES = {
    "cpu_gemm_ragged": lambda: _example("gemm").matmul.get_tir(100, 64, 48, block_M=32, block_N=32, block_K=16),
    "cpu_softmax": lambda: _example("softmax").softmax.get_tir(10, 64, block_M=4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lowered_cpu_tir_matches_golden(name):
    prim = CASES[name]()
    text = lower(tvm.IRModule({"main": prim}), "llvm").mod["main"].script()
    path = GOLDEN / f"{name}.tir"
    if os.environ.get("TILEDSL_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with TILEDSL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text()
