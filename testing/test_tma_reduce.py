"""TMA reduce-adds (``passes/cuda/tma_reduce.py``; the default, ``TILEDSL_TMA_REDUCE=0`` turns them off): atomic adds
of a whole fragment into a global tile become TMA reduce-adds on sm_90a.

nvcc: the attention backward's dQ adds (a T.Parallel nest of element atomics) and a tile-form ``T.atomic_add``
become one ``cp.reduce.async.bulk.tensor`` per 128-byte panel; adds into a transposed region, adds under a branch,
sm_80 and ``TILEDSL_TMA_REDUCE=0`` keep the element atomics; with ``TILEDSL_DOUBLE_REDUCE_STAGING=1`` (opt-in) the
staging tiles have two stages taking turns and each add crosses one block barrier instead of two. GPU: a gemm
accumulator added by two blocks into the same tile, in both forms and at a ragged size (the TMA unit clips the rows
past the end), and the attention backward, against torch (with either staging).
"""
import pytest
import torch

import tiledsl

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SM80 = {"kind": "cuda", "arch": "sm_80"}
REDUCE = "cp.reduce.async.bulk.tensor"


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def _source(program, target=SM90A):
    return tiledsl.compile(program, out_idx=[], target=target).get_kernel_source()


@pytest.mark.nvcc
def test_attention_backward_adds_dq_with_the_tma_unit(monkeypatch):
    program = lambda: bench.attention_bwd(1, 256, 2, 128, False)  # noqa: E731
    monkeypatch.setenv("TILEDSL_TMA_REDUCE", "0")
    assert "atomicAdd(" in _source(program()) and REDUCE not in _source(program())
    monkeypatch.delenv("TILEDSL_TMA_REDUCE")
    src = _source(program())
    assert "atomicAdd(" not in src
    body = src[src.index("extern \"C\" __global__"):]
    assert body.count("tvm_builtin_ptx_cp_reduce_async_bulk_tensor") == 4  # 128 float32 columns: 4 panels


@pytest.mark.nvcc
@pytest.mark.parametrize("form", ["tile", "elements"])
def test_whole_tile_adds_take_the_tma_unit(form, monkeypatch):
    src = _source(bench.gemm_added_twice(128, 128, 64, form))
    assert REDUCE in src and "atomicAdd(" not in src


@pytest.mark.nvcc
@pytest.mark.parametrize("form, target", [("transposed", SM90A), ("branch", SM90A), ("tile", SM80)])
def test_other_adds_keep_element_atomics(form, target, monkeypatch):
    src = _source(bench.gemm_added_twice(128, 128, 64, form), target)
    assert REDUCE not in src and "atomicAdd(" in src


@pytest.mark.gpu
@pytest.mark.parametrize("form", ["tile", "elements"])
@pytest.mark.parametrize("M", [128, 200])
def test_gemm_added_twice_matches_torch(form, M, monkeypatch):
    check_gemm_added_twice(M, form)


def check_gemm_added_twice(M, form, N=192, K=64):
    """A gemm's accumulator added twice into a tile of ones (on sm_90 through TMA reduce-adds), against torch."""
    kernel = tiledsl.compile(bench.gemm_added_twice(M, N, K, form), out_idx=[], target="cuda")
    if torch.cuda.get_device_capability() == (9, 0):
        assert REDUCE in kernel.get_kernel_source()
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    out, out_t = torch.ones(M, N, device="cuda"), torch.full((N, M), float("nan"), device="cuda")
    kernel(a, b, out, out_t)
    torch.cuda.synchronize()
    want = 1 + 2 * (a.double() @ b.double())
    torch.testing.assert_close(out.double(), want, rtol=1e-4, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("case", [
    pytest.param(lambda: bench.attention_bwd_case(1, 512, 4, 128, False), id="bwd"),
    pytest.param(lambda: bench.attention_bwd_case(1, 512, 4, 128, True), id="bwd_causal"),
    pytest.param(lambda: bench.attention_bwd_case(1, 320, 2, 128, False), id="bwd_ragged"),
])
def test_attention_backward_matches_torch(case, monkeypatch):
    """Outputs poisoned with NaN, fresh random inputs, against the float32 reference."""
    case = case()
    err, ok = bench.check_on_gpu(case)
    assert ok, f"relative error {err}"


def _loop_body(src: str) -> str:
    """The attention backward's main loop in its CUDA source (from its ``for`` to the loop's closing brace)."""
    body = src[src.index("extern \"C\" __global__"):]
    start = body.index("  for (int it_p = 0;")
    return body[start:body.index("\n  }\n", start)]


@pytest.mark.slow  # the opt-in TILEDSL_DOUBLE_REDUCE_STAGING=1 (scripts/test.sh -m slow)
@pytest.mark.nvcc
def test_double_staging_saves_a_barrier_per_add(monkeypatch):
    program = lambda: bench.attention_bwd(1, 256, 2, 128, False)  # noqa: E731
    single = _loop_body(_source(program()))
    monkeypatch.setenv("TILEDSL_DOUBLE_REDUCE_STAGING", "1")
    src = _source(program())
    double = _loop_body(src)
    assert single.count("__syncthreads()") == 3 and double.count("__syncthreads()") == 2
    # the stage taking turns: written at its turn's offset, flipped after the adds are issued
    assert "dQ_acc_reduce_turn_ptr[0] * 2048" in double and "dQ_acc_reduce_turn_ptr[0] = (1 - " in double
    # thread 0 waits for the previous adds' reads before the barrier that precedes its own adds
    wait = double.index("bulk_wait_group_read_0")
    assert wait < double.index("__syncthreads()", wait) < double.index("tvm_builtin_ptx_cp_reduce_async_bulk_tensor")


@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.parametrize("case", [
    pytest.param(lambda: bench.attention_bwd_case(1, 512, 4, 128, True), id="bwd_causal"),
    pytest.param(lambda: bench.attention_bwd_case(1, 320, 2, 128, False), id="bwd_ragged"),
])
def test_double_staging_matches_torch(case, monkeypatch):
    """With two staging stages: the backward (outputs poisoned, fresh inputs) and a gemm added twice into one
    tile, against torch."""
    monkeypatch.setenv("TILEDSL_DOUBLE_REDUCE_STAGING", "1")
    case = case()
    err, ok = bench.check_on_gpu(case)
    assert ok, f"relative error {err}"
    check_gemm_added_twice(200, "tile")


@pytest.mark.nvcc
def test_a_build_that_fails_with_the_reduce_is_built_without_it(monkeypatch, caplog):
    """Fault injection: when the pass raises, the build lowers the program again without the default schedules
    (after trying without the opt-in ones, none here): the dQ adds stay element atomics and the log names them."""
    from tiledsl.passes.cuda import tma_reduce

    monkeypatch.setenv("TILEDSL_STRICT_SCHEDULES", "0")  # the fallback a user's build takes

    def refuse(*args):
        raise RuntimeError("Check failed: injected")
    monkeypatch.setattr(tma_reduce, "_rewrite_launch", refuse)
    with caplog.at_level("INFO", logger="tiledsl"):  # a shape no other test builds (the memory cache stays on)
        src = _source(bench.attention_bwd(1, 384, 2, 128, False))
    assert "atomicAdd(" in src and REDUCE not in src
    assert "TILEDSL_TMA_REDUCE" in caplog.text and "building without them" in caplog.text
