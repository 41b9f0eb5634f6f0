"""GroupReduceBarriers (``passes/cuda/reduce_barriers.py``, opt-in ``TILEDSL_WARPGROUP_REDUCE=1``): a TMA
reduce-add's staging tiles, each written by one warpgroup, between that warpgroup's named barriers, each
warpgroup's first thread issuing its own panels.

nvcc (sm_90a source): the attention backward's dQ (a wgmma accumulator split between two warpgroups by columns)
takes the named barriers; a dQ whose rows are split between the warpgroups (every panel written by both), a
one-warpgroup kernel and the switch turned off keep the whole-block barriers and thread 0's issue. GPU: the
backward computes dQ, dK, dV as torch does with the rewrite.
"""
import pytest
import torch

import general_programs as G
import tiledsl

SM90A = {"kind": "cuda", "arch": "sm_90a"}
# (the barrier id through the warp-uniform index, passes/cuda/warp_index.py)
NAMED = "tvm_builtin_ptx_bar_sync_count_sync(((uint)((warp_id >> 2) + 1)), (uint)128)"

# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only"), pytest.mark.slow]


def _main_source(monkeypatch, switch="1", **config):
    monkeypatch.setenv("TILEDSL_WARPGROUP_REDUCE", switch)
    program = G.attention_bwd(1, 512, 2, 128, False, **config)
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


def _issuers(src) -> dict:
    """thread condition -> the number of reduce-adds issued under it."""
    out = {}
    for block in src.split("if (")[1:]:
        cond, _, body = block.partition("{")
        body = body.split("}", 1)[0]
        count = body.count("cp_reduce_async_bulk_tensor")
        if count:
            out[cond.strip()] = count
    return out


@pytest.mark.nvcc
def test_column_split_accumulator_takes_warpgroup_barriers(monkeypatch):
    src = _main_source(monkeypatch)
    body = src.split("__global__", 1)[1]
    assert body.count(NAMED) == 2  # before and after the staging writes
    assert _issuers(body) == {"((int)threadIdx.x) == 0)": 2, "((int)threadIdx.x) == 128)": 2}
    assert body.count("if ((((int)threadIdx.x) % 128) == 0) {\n") >= 2  # each leader waits for its own reduce-adds
    assert "if (((int)threadIdx.x) == 0) {\n      tvm_builtin_ptx_cp_async_bulk_wait_group" not in body


@pytest.mark.nvcc
@pytest.mark.parametrize("switch,config", [
    ("0", {}),  # switched off
    # dQ rows split between the warpgroups: both write every panel (a plain loop: with two stages of K and V the
    # staging tile no longer fits beside them, and dQ is added by element atomics)
    ("1", dict(block_M=128, block_N=64, stages=0)),
    ("1", dict(block_M=64, block_N=64, threads=128)),  # one warpgroup
], ids=["off", "row_split", "one_warpgroup"])
def test_other_kernels_keep_block_barriers(monkeypatch, switch, config):
    body = _main_source(monkeypatch, switch, **config).split("__global__", 1)[1]
    assert "bar_sync_count" not in body
    assert list(_issuers(body)) == ["((int)threadIdx.x) == 0)"]


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_backward_with_warpgroup_barriers_on_gpu(monkeypatch, causal):
    monkeypatch.setenv("TILEDSL_WARPGROUP_REDUCE", "1")
    case = G.attention_bwd_case(2, 640, 4, 128, causal)
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    if torch.cuda.get_device_capability() == (9, 0):
        assert NAMED in compiled["main"].get_kernel_source()
    inputs = case.make("cuda")
    outs = case.bind(compiled, inputs)()
    torch.cuda.synchronize()
    G.assert_matches_reference(case, outs, inputs, names=("dQ", "dK", "dV"))
