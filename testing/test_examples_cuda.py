"""Every example lowers to CUDA and nvcc builds it for sm_80 and sm_90a (no GPU needed); on sm_90a the GEMMs and
flash attention run on wgmma (the general passes; the whole-kernel shortcut is off by default). A few reference
kernels have their CUDA source pinned in testing/golden/: when a change to the lowering is intended, regenerate
with ``TILEDSL_UPDATE_GOLDEN=1 pytest testing/test_examples_cuda.py`` and review the diff."""
import os
from pathlib import Path

import pytest

import tiledsl
from example_modules import load_example
from tiledsl.codegen.compile import SERIALIZING_NOTES
from tiledsl.codegen.nvcc import ptxas_notes

ROOT = Path(__file__).resolve().parent
GOLDEN = ROOT / "golden"
ARCHS = ["sm_80", "sm_90a"]


def _example(name):
    return load_example(name, f"cuda_example_{name}")


PROGRAMS = {  # name -> (program, runs on wgmma on sm_90a)
    "gemm": (lambda: _example("gemm").matmul.get_tir(512, 512, 512, block_M=128, block_N=128, block_K=32,
                                                     threads=256), True),
    "gemm_fp8": (lambda: _example("gemm_fp8").fp8_linear.get_tir(1024, 1024, 1024), True),
    "elementwise_add": (lambda: _example("elementwise_add").elementwise_add.get_tir(1000, 300), False),
    "softmax": (lambda: _example("softmax").softmax.get_tir(257, 512), False),
    "rmsnorm": (lambda: _example("rmsnorm").rms_norm.get_tir(129, 1024), False),
    "flash_attention": (lambda: _example("flash_attention").flash_attention.get_tir(
        2, 4, 512, 128, False, block_M=128, block_N=128, num_stages=2, threads=256), True),
    "flash_attention_gqa_causal_bf16": (lambda: _example("flash_attention").flash_attention.get_tir(
        2, 8, 512, 64, True, groups=4, dtype="bfloat16"), True),
}


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_example_builds_for_cuda(name, arch):
    make, hopper = PROGRAMS[name]
    kernel = tiledsl.compile(make(), target={"kind": "cuda", "arch": arch})
    source = kernel.get_kernel_source()
    assert "__global__" in source
    assert ("wgmma.mma_async" in source) == (hopper and arch == "sm_90a")
    notes = ptxas_notes(kernel.kernel_info.get("resources", {}))
    assert not notes & set(SERIALIZING_NOTES), notes  # ptxas fenced or serialized no wgmma itself


GOLDEN_CASES = {
    "cuda_softmax_sm80": ("softmax", "sm_80"),
    "cuda_gemm_sm80": ("gemm", "sm_80"),
    "cuda_gemm_sm90a": ("gemm", "sm_90a"),
}


@pytest.mark.nvcc
@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_cuda_source_matches_golden(name):
    program, arch = GOLDEN_CASES[name]
    source = tiledsl.compile(PROGRAMS[program][0](), target={"kind": "cuda", "arch": arch}).get_kernel_source()
    path = GOLDEN / f"{name}.cu"
    if os.environ.get("TILEDSL_UPDATE_GOLDEN") == "1":
        path.write_text(source)
    assert path.exists(), f"no golden file {path}; run with TILEDSL_UPDATE_GOLDEN=1 to create it"
    assert source == path.read_text()
