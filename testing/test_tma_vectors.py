"""1-d shared tiles in a TMA ring (``TILEDSL_TMA_VECTORS``, the default; ``=0`` turns it off): a pipelined loop whose
threads read a vector tile (row statistics: the attention backward's log-sum-exp and Delta) loads it by TMA with
the loop's other tiles, instead of keeping the whole loop on cp.async.

nvcc: the attention backward's loop loads Q, dO, lse and delta by TMA (a 3-d box for each vector) into one ring,
with no cp.async left; a 2-d tile the threads read (the int8 weight) still keeps cp.async; ``TILEDSL_TMA_VECTORS=0``
and a row of statistics that is not a whole number of 16 bytes keep cp.async. GPU: the attention backward (causal
or not, a length no query block divides, a length whose statistics fall back to cp.async) against the float32
reference, outputs poisoned with NaN.
"""
import pytest
import torch

import general_programs as G
import tiledsl

SM90A = {"kind": "cuda", "arch": "sm_90a"}
TMA_LOAD = "cp_async_bulk_tensor_g2s"


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def _body(program) -> str:
    """The kernel's CUDA source for sm_90a from its ``__global__`` on (no helper definitions)."""
    src = tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()
    return src[src.index("extern \"C\" __global__"):]


def _loop(body: str) -> str:
    """The pipelined loop of the attention backward (from its ``for`` to the end of the kernel)."""
    return body[body.index("for (int it_p"):]


@pytest.mark.nvcc
@pytest.mark.parametrize("causal", [False, True])
def test_attention_backward_loads_its_row_statistics_by_tma(causal):
    body = _body(G.attention_bwd(1, 512, 4, 128, causal))
    assert G.copy_instruction(body) == "tma"
    for tile in ("Q", "dO", "L", "Delta"):
        assert f"const __grid_constant__ CUtensorMap {tile}_tmap" in body, tile
    assert f"{TMA_LOAD}_cluster_async_bulk_tensor_3d" in body  # lse and delta: [B, H, S] boxes of [64, 1, 1]
    loop = _loop(body)
    assert loop.count(TMA_LOAD) == 6  # Q and dO: two 128-byte panels each; lse, delta: one box each
    assert "(&(lse[(((it_p + 1) & 1) * 64)]))" in loop and "(&(delta[(((it_p + 1) & 1) * 64)]))" in loop
    assert "(uint)33280" in loop  # the stage's bytes: 2 x 64 x 128 fp16 + 2 x 64 float32
    assert "cp_async_cg" not in body and "cp_async_wait_group" not in body and "mbarrier_arrive_arrive" in loop


@pytest.mark.nvcc
def test_a_2d_tile_the_threads_read_keeps_cp_async(monkeypatch):
    """The int8 weight, converted by the threads in a loop without a producer warpgroup: still cp.async (TMA was
    1.6x slower there). Warp-specialized (TILEDSL_WS_TRANSFORMS, the default) it is a TMA box: test_dequant_pipeline."""
    monkeypatch.setenv("TILEDSL_WS_TRANSFORMS", "0")
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "0")  # the threads' cast loop kept as written
    body = _body(G.int8_weight_gemm(256, 256, 256))
    assert G.copy_instruction(body) == "cp.async" and TMA_LOAD not in body


@pytest.mark.nvcc
def test_switched_off_the_loop_keeps_cp_async(monkeypatch):
    monkeypatch.setenv("TILEDSL_TMA_VECTORS", "0")
    body = _body(G.attention_bwd(1, 512, 4, 128, False))
    assert G.copy_instruction(body) == "cp.async" and TMA_LOAD not in body
    assert "L_tmap" not in body and "cp_async_cg" in _loop(body)


@pytest.mark.nvcc
def test_statistics_rows_of_a_partial_16_bytes_keep_cp_async():
    """S = 322: a row of L is 1288 bytes, not a TMA global stride, so the whole loop stays on cp.async."""
    body = _body(G.attention_bwd(1, 322, 2, 128, False))
    assert TMA_LOAD not in body and "cp_async_cg" in _loop(body)


# ---------------------------------------------------------------- GPU: against the float32 reference
@pytest.mark.gpu
@pytest.mark.parametrize("S,causal,loads", [
    (512, False, "tma"),
    (512, True, "tma"),
    (300, False, "tma"),  # no query block of 64 divides it: the last boxes are zero-filled past the end
    (300, True, "tma"),
    (322, False, "cp.async"),  # rows of L and Delta of 1288 bytes: the loop falls back to cp.async
])
def test_attention_backward_matches_torch(S, causal, loads):
    """dQ, dK, dV of the three kernels (outputs and workspaces poisoned with NaN) against float32 torch."""
    case = G.attention_bwd_case(1, S, 2, 128, causal)
    compiled = {k: tiledsl.compile(f, out_idx=[], target="cuda") for k, f in case.kernels.items()}
    if torch.cuda.get_device_capability() == (9, 0):
        assert G.copy_instruction(compiled["main"].get_kernel_source()) == loads
    inputs = case.make("cuda")
    err, ok = G.check(case, case.bind(compiled, inputs), inputs)
    assert ok, f"relative error {err}"
