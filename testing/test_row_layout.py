"""Row statistics of a tensor-core accumulator keep the rows layout whatever consumes them (issue 9).

``testing/eager_programs.py::attention_fwd`` ends with ``m[i] = ...`` in a 1-d ``T.Parallel`` and
``T.copy(m, L[bz, by, bx * block_M])``; the copy to global memory used to push its whole group of row statistics
(m, m_prev, alpha, row_sum, denom) to the replicated layout: every thread held all block_M values, and each
reduction ended in a block_M-long shuffle loop with a shared round trip (0.015x torch SDPA on an H200). No GPU
needed: the layouts are read from the lowered TIR (each fragment becomes a per-thread ``local`` array of the
layout's size) and the L stores are counted per element by walking every block and thread (``thread_effects``).
CPU correctness of the program is testing/test_eager_frontend.py's; the GPU run is its
``test_gpu_attention_forward_and_backward`` (L included).
"""
import pytest
import tvm_ffi
from tvm import tirx

import eager_programs as P
from thread_effects import lowered_cuda, per_element, side_effects

ARCHS = ["sm_80", "sm_90a"]  # mma.sync (MMARows) and wgmma (WGMMARows)
STATS = ("m", "m_prev", "alpha", "row_sum", "denom")
CONFIG = dict(B=1, S=128, H=2, D=64, block_M=64, block_N=64, threads=128)


@pytest.fixture(scope="module")
def attention_tir():
    return P.attention_fwd.get_tir(**CONFIG)


def local_sizes(func) -> dict:
    """{name: elements per thread} of the per-thread arrays of a lowered function."""
    sizes = {}

    def on_alloc(stmt):
        if stmt.buffer.scope() == "local":
            sizes[stmt.buffer.name] = int(stmt.buffer.ty.shape[0])

    tvm_ffi.structural_walk(func.body, (tirx.AllocBuffer, on_alloc))
    return sizes


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_row_statistics_are_not_replicated(attention_tir, arch):
    sizes = local_sizes(lowered_cuda(attention_tir, arch))
    block_m = CONFIG["block_M"]
    got = {name: sizes[name] for name in STATS}
    # replicated: block_M values on every thread; the rows layout: 2 per 16 rows of a warp's share
    assert all(n < block_m for n in got.values()), f"row statistics replicated on every thread: {got}"
    assert len(set(got.values())) == 1, f"row statistics of one accumulator with different layouts: {got}"


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_lse_stored_once_per_element(attention_tir, arch):
    counts = per_element(side_effects(attention_tir, arch=arch, only=["L"]), "L", "store")
    B, S, H = CONFIG["B"], CONFIG["S"], CONFIG["H"]
    want = {(b, h, s): 1 for b in range(B) for h in range(H) for s in range(S)}
    wrong = {i: n for i, n in counts.items() if want.get(i) != n}
    assert set(counts) == set(want) and not wrong, f"L stores (index: times): {dict(list(wrong.items())[:5])}"


@pytest.mark.parametrize("arch", ARCHS)
def test_row_statistic_copied_to_global_and_shared_keeps_rows_layout(arch):
    from test_cuda_side_effects import CASES  # the program whose stores test_cuda_side_effects counts and runs
    sizes = local_sizes(lowered_cuda(CASES["mma_rows_copy"].func, arch))
    assert sizes["r"] < 64, f"r (64 rows) replicated: {sizes['r']} values per thread"
