"""TMA reduce-adds (``passes/cuda/tma_reduce.py``; the default, ``TILEDSL_TMA_REDUCE=0`` turns them off): atomic adds
of a whole fragment into a global tile become TMA reduce-adds on sm_90a.

nvcc: the attention backward's dQ adds (a T.Parallel nest of element atomics) and a tile-form ``T.atomic_add``
become one ``cp.reduce.async.bulk.tensor`` per 128-byte panel; adds into a transposed region, adds under a branch,
sm_80 and ``TILEDSL_TMA_REDUCE=0`` keep the element atomics. GPU: a gemm accumulator added by two blocks into the same tile, in
both forms and at a ragged size (the TMA unit clips the rows past the end), and the attention backward, against
torch.
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
    N, K = 192, 64
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
