"""Waits past barriers (``TILEDSL_WAITS_PAST_BARRIERS``, ``async_gemms._needed_first`` and ``_conflicts``; the
default; ``=0`` turns it off).

nvcc: in the attention backward's loop the dQ gemm is issued before the dK gemm (dQ is needed first), one
``wgmma.wait_group 1`` completes dQ before the barrier ahead of its staging stores, and dK is waited for only
before the thread's arrive on the Q/dO stage (which lets the producer refill the tiles dK reads); with the switch
off the loop waits for both before staging. A loop body whose statements the pass does not know keeps the full
wait. GPU: the backward (causal and not), with the switch on, and with hoisted fences as well, against torch.
"""
import pytest
import torch

import tiledsl

import general_programs as G
from fence_check import unfenced_wgmma_reads

SM90A = {"kind": "cuda", "arch": "sm_90a"}
DQ_GEMM, DK_GEMM = "(dq_ptr[0], dq_ptr[1]", "(dk_ptr[0], dk_ptr[1]"
WAIT = "wgmma_wait_group_wait_group_sync_aligned_{}();"
ARRIVE = "mbarrier_arrive_arrive_shared_b64("


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def _loop(monkeypatch, switch: str):
    monkeypatch.setenv("TILEDSL_WAITS_PAST_BARRIERS", switch)
    program = G.cases(small=True)["attention_bwd"].kernels["main"]
    src = tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()
    body = src[src.index('extern "C" __global__'):]
    assert unfenced_wgmma_reads(body) == []
    loop = body.split("for (int it_p", 1)[1]
    return loop[:loop.index(ARRIVE) + 200]


@pytest.mark.nvcc
def test_dk_runs_on_while_dq_is_staged(monkeypatch):
    loop = _loop(monkeypatch, "1")  # the causal loop has the same gemms, waits and barriers in the same order
    dq, dk = loop.index(DQ_GEMM), loop.index(DK_GEMM)
    assert dq < dk
    staging = loop.index("dQ_acc_reduce_staging0[", dk)
    between = loop[dk:staging]
    assert WAIT.format(1) in between and WAIT.format(0) not in between
    assert "__syncthreads();" in loop[loop.index(WAIT.format(1), dk):staging]
    assert WAIT.format(0) in loop[staging:loop.index(ARRIVE)]


@pytest.mark.nvcc
def test_without_the_switch_both_gemms_finish_before_staging(monkeypatch):
    loop = _loop(monkeypatch, "0")
    dq, dk = loop.index(DQ_GEMM), loop.index(DK_GEMM)
    assert dk < dq
    assert WAIT.format(0) in loop[dq:loop.index("dQ_acc_reduce_staging0[", dq)]


@pytest.mark.nvcc
def test_programs_without_such_loops_are_unchanged(monkeypatch):
    for name in ("flash_attention",):  # a TMA ring loop of gemms and barriers without any staging
        program = G.cases(small=True)[name].kernels["main"]
        sources = []
        for switch in ("0", "1"):
            monkeypatch.setenv("TILEDSL_WAITS_PAST_BARRIERS", switch)
            sources.append(tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source())
        assert sources[0] == sources[1], name


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["attention_bwd", "attention_bwd_causal"])
@pytest.mark.parametrize("fences", ["0", "1"])
def test_backward_with_waits_past_barriers_matches_torch(name, fences, monkeypatch):
    monkeypatch.setenv("TILEDSL_WAITS_PAST_BARRIERS", "1")
    monkeypatch.setenv("TILEDSL_HOISTED_FENCES", fences)
    case = G.cases(small=True)[name]
    err, ok = G.check_on_gpu(case)
    torch.cuda.synchronize()
    assert ok, f"{name}: relative error {err}"
