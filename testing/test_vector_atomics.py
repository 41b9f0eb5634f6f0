"""``TILEDSL_VECTOR_ATOMICS=1`` (``passes/cuda/vector_atomics.py``; opt-in until its GPU tests have run): float32
atomic adds into global memory, 2 or 4 lanes per ``red.global.add.v*.f32`` on sm_90+.

nvcc: the attention backward's dQ atomics become 16 two-lane reductions per thread (none by default); atomics whose
addresses are not consecutive across the lanes, and sm_80, keep ``atomicAdd``. GPU: a gemm accumulator added
twice into a float32 tensor (the adds of two blocks meet), and the attention backward, against torch.
"""
import pytest
import torch

import tiledsl

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SM80 = {"kind": "cuda", "arch": "sm_80"}


# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only", "no_kernel_cache"), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _switches(monkeypatch):
    monkeypatch.setenv("TILEDSL_TMA_REDUCE", "0")  # whole-tile adds would take the TMA unit (test_tma_reduce.py)


def _source(program, target=SM90A):
    return tiledsl.compile(program, out_idx=[], target=target).get_kernel_source()


@pytest.mark.nvcc
def test_attention_backward_adds_dq_two_lanes_at_a_time(monkeypatch):
    program = lambda: bench.attention_bwd(1, 256, 2, 128, False)  # noqa: E731
    assert "atomicAdd(" in _source(program()) and "tiledsl_red_add" not in _source(program())
    monkeypatch.setenv("TILEDSL_VECTOR_ATOMICS", "1")
    src = _source(program())
    assert "atomicAdd(" not in src
    assert src.count("tiledsl_red_add_v2(") == 17  # the helper's definition and 16 reductions per thread


@pytest.mark.nvcc
def test_strided_addresses_and_sm80_keep_scalar_atomics(monkeypatch):
    monkeypatch.setenv("TILEDSL_VECTOR_ATOMICS", "1")
    assert "tiledsl_red_add" not in _source(bench.gemm_added_twice(128, 128, 64, "transposed"))
    assert "tiledsl_red_add" not in _source(bench.gemm_added_twice(128, 128, 64), SM80)
    assert "tiledsl_red_add_v2(" in _source(bench.gemm_added_twice(128, 128, 64))


@pytest.mark.gpu
@pytest.mark.parametrize("transposed", [False, True])
def test_gemm_added_twice_matches_torch(transposed, monkeypatch):
    monkeypatch.setenv("TILEDSL_VECTOR_ATOMICS", "1")
    M, N, K = 128, 192, 64
    kernel = tiledsl.compile(bench.gemm_added_twice(M, N, K, "transposed" if transposed else "elements"), out_idx=[],
                             target="cuda")
    a, b = torch.randn(M, K, device="cuda").half(), torch.randn(K, N, device="cuda").half()
    out, out_t = torch.ones(M, N, device="cuda"), torch.ones(N, M, device="cuda")
    kernel(a, b, out, out_t)
    torch.cuda.synchronize()
    want = 1 + 2 * (a.double() @ b.double())
    got = out_t.T if transposed else out
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-3)
