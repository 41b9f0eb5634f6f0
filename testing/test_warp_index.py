"""Warp and warpgroup indices from a lane-0 broadcast in wgmma operands (``passes/cuda/warp_index.py``,
``TILEDSL_WARP_UNIFORM_INDEX``, on by default): ``threadIdx.x // 128`` becomes ``warp_id // 4`` with ``warp_id =
__shfl_sync(~0, threadIdx.x / 32, 0)`` bound once at the top of the kernel, so nvcc keeps wgmma descriptors in
uniform registers.

nvcc: the kernels' sources (flash attention's and a GEMM's descriptors; a kernel without wgmma left alone; the
switch off gives the old form; store indices keep ``threadIdx.x``, so staging stores stay vectorized;
``test_bench_general.py`` checks with :func:`thread_dependent_wgmma_operands` that no benchmark kernel's wgmma
operand depends on ``threadIdx``). GPU: the
pass is on by default, so ``test_bench_general.py``'s GPU test runs every benchmark program with it (32 passed on
the H100 with the descriptor tests, 2026-12-06, when this was a test of its own).
"""
import re

import pytest

import tiledsl
import tiledsl.language as T

import general_programs as G

SM90A = {"kind": "cuda", "arch": "sm_90a"}
pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")
BROADCAST = "int warp_id = __shfl_sync((uint)4294967295, (((int)threadIdx.x) >> 5), 0, 32);"


def thread_indices(threads, per_group):
    """Out[t] = (t // per_group, t // 32, t % 32) for each thread t of one block."""

    @T.prim_func
    def kernel(Out: T.Tensor((threads, 3), "int32")):
        with T.Kernel(1, threads=threads) as bx:
            t = T.get_thread_binding()
            Out[t, 0] = t // per_group
            Out[t, 1] = t // 32
            Out[t, 2] = t % 32
    return kernel


def thread_dependent_wgmma_operands(src) -> list:
    """The wgmma calls of a kernel's CUDA source with an operand computed from ``threadIdx`` (directly, or through
    a variable assigned from it; the lane-0 broadcast ``warp_id`` is uniform): nvcc moves such a descriptor to a
    uniform register before every wgmma."""
    tainted = set()
    for m in re.finditer(r"(\w+) = ([^;]*);", src):
        if "__shfl_sync" in m.group(2):
            continue
        if "threadIdx" in m.group(2) or any(re.search(rf"\b{t}\b", m.group(2)) for t in tainted):
            tainted.add(m.group(1))
    bad = []
    for line in src.splitlines():
        if "mma_async" in line and not line.lstrip().startswith(("__forceinline__", "asm")):
            call = line.split("mma_async", 1)[1]
            if "threadIdx" in call or any(re.search(rf"\b{t}\b", call) for t in tainted):
                bad.append(line.strip())
    return bad


def _source(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source().split("__global__")[-1]


@pytest.mark.nvcc
def test_attention_descriptors_use_the_broadcast_warp_index():
    src = _source(G.flash_attention(1, 2, 512, 128, False))
    assert src.count("__shfl_sync(") == 1 and BROADCAST in src
    assert "threadIdx.x) >> 7" not in src and "(warp_id >> 2)" in src
    body = src.split(BROADCAST)[0]
    assert "if (" not in body  # bound before any branch: every lane converged


@pytest.mark.nvcc
def test_the_switch_off_keeps_thread_divisions(monkeypatch):
    src = _source(G.gemm(256, 256, 256))
    assert BROADCAST in src and thread_dependent_wgmma_operands(src) == []
    monkeypatch.setenv("TILEDSL_WARP_UNIFORM_INDEX", "0")
    src = _source(G.gemm(256, 256, 256))
    assert "__shfl_sync" not in src and "warp_id" not in src
    assert len(thread_dependent_wgmma_operands(src)) >= 4  # what test_bench_general's check would catch


@pytest.mark.nvcc
def test_a_kernel_without_wgmma_is_left_alone():
    assert "__shfl_sync" not in _source(thread_indices(256, 128))


@pytest.mark.nvcc
def test_staging_stores_keep_their_vector_form():
    """The attention backward stages P^T through shared memory by warpgroup: its stores stay ``half2``."""
    src = _source(G.attention_bwd(1, 512, 4, 128, False, block_M=64, block_N=64))
    assert BROADCAST in src and "*(half2*)(pT_cast_staged + " in src
    assert not re.search(r"pT_cast_staged\[[^\]]*\] = ", src)  # no lane-by-lane store
