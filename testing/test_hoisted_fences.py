"""Fences hoisted out of TMA ring loops (``TILEDSL_HOISTED_FENCES``, ``pipeline._fenced_before_loop``; the default).

nvcc: in the attention backward's loop (a TMA ring without a producer warpgroup) only the gemm whose operand the
threads write in the loop (dQ's dS^T tile) keeps its ``fence.proxy.async``, with the dQ staging's; every thread
fences once before the ring's initialization barrier; the grouped GEMM's loop has none left. GPU: both programs
against torch with the switch on.
"""
import pytest

import tiledsl

import general_programs as G
from fence_check import unfenced_wgmma_reads

SM90A = {"kind": "cuda", "arch": "sm_90a"}
FENCE = "fence_proxy_proxy_async_shared__cta();"


pytestmark = pytest.mark.usefixtures("general_passes_only")


def _body(program):
    src = tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()
    return src[src.index("extern \"C\" __global__"):]


def _split_at_loop(body, loop_var):
    before, loop = body.split(f"for (int {loop_var}", 1)
    return before, loop


@pytest.mark.nvcc
def test_only_the_gemm_reading_a_tile_the_loop_writes_keeps_its_fence(monkeypatch):
    program = lambda: G.cases(small=True)["attention_bwd"].kernels["main"]  # noqa: E731
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", "0")
    _, plain = _split_at_loop(_body(program()), "it_p")
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", "1")
    before, loop = _split_at_loop(_body(program()), "it_p")
    assert plain.count(FENCE) == 6 and loop.count(FENCE) == 2
    # dQ = dS K reads dsT_s, stored by the threads in the loop: its fence stays, right before its wgmma
    fence = loop.index(FENCE)
    assert loop.index("*(half2*)(dsT_s + ") < fence < loop.index("(dq_ptr[0], dq_ptr[1]")
    # the hoisted fence: every thread, before the ring's initialization barrier
    assert before.rindex(FENCE) < before.rindex("__syncthreads();")
    assert before.count(FENCE) == 2  # with thread 0's fence of the mbarrier initialization


@pytest.mark.nvcc
def test_a_loop_of_loaded_tiles_keeps_no_fence(monkeypatch):
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", "1")
    body = _body(G.cases(small=True)["grouped"].kernels["main"])
    loops = body.split("for (int ")
    assert FENCE not in loops[-1] and body.count(FENCE) == 2


@pytest.mark.nvcc
def test_a_gemm_staging_its_register_operand_keeps_its_fence(monkeypatch):
    """64-key blocks on two warpgroups: dV's and dK's A operands (P^T, dS^T fragments split by columns between the
    warpgroups) are staged through shared tiles by the gemm's own lowering, inside the loop. The pipeline saw no
    shared write for those gemms, but each must still fence its staging stores before its wgmma (without it, dK
    came out wrong on the H100, 2026-12-05)."""
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", "1")
    body = _body(G.attention_bwd(1, 512, 4, 128, False, block_M=64, block_N=64))
    assert unfenced_wgmma_reads(body) == []
    _, loop = _split_at_loop(body, "it_p")
    for staged, acc in (("pT_cast_staged", "dv"), ("dsT_cast_staged", "dk")):
        gemm = loop.index(f"({acc}_ptr[0], {acc}_ptr[1]")
        last_store = loop.rindex(f"*(half2*)({staged} + ", 0, gemm)
        assert FENCE in loop[last_store:gemm], staged
        assert "__syncthreads();" in loop[loop.index(FENCE, last_store):gemm], staged


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["attention_bwd", "attention_bwd_causal", "grouped"])
def test_programs_with_hoisted_fences_match_torch(name, monkeypatch):
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", "1")
    case = G.cases(small=True)[name]
    err, ok = G.check_on_gpu(case)
    assert ok, err
