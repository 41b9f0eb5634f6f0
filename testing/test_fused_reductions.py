"""``TILEDSL_FUSE_REDUCTIONS=1`` (``passes/cuda/reduce.py``, ``lower_reduce_pair``; opt-in until timed on a GPU):
two consecutive independent ``T.reduce`` statements share one shared-memory round.

nvcc: LayerNorm's two block reductions cross two barriers instead of four; the default is unchanged; a second
reduction of the first one's result is not paired. GPU: LayerNorm, and a max and a sum over different fragments and
several rows per block, against torch.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = pytest.mark.slow

SM90A = {"kind": "cuda", "arch": "sm_90a"}


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_CACHE", "1")


def max_and_sum(M, N, block_M=2, threads=128):
    """Out[r] = max_j X[r, j] + sum_j Y[r, j] * 0.5: a max and a sum over different fragments, ``block_M`` rows per
    block."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), Y: T.Tensor((M, N), "float32"), Out: T.Tensor((M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            y = T.alloc_fragment((block_M, N), "float32")
            m = T.alloc_fragment((block_M,), "float32")
            s = T.alloc_fragment((block_M,), "float32")
            T.copy(X[bx * block_M, 0], x)
            T.copy(Y[bx * block_M, 0], y)
            T.reduce_max(x, m, dim=1)
            T.reduce_sum(y, s, dim=1)
            for i in T.Parallel(block_M):
                m[i] = m[i] + s[i] * 0.5
            T.copy(m, Out[bx * block_M])
    return kernel


def sum_of_sums(M, N, block_M=2, threads=128):
    """A second reduction over the first one's result: the two stay apart."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), Out: T.Tensor((M // block_M,), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            x = T.alloc_fragment((block_M, N), "float32")
            s = T.alloc_fragment((block_M,), "float32")
            t = T.alloc_fragment((1,), "float32")
            T.copy(X[bx * block_M, 0], x)
            T.reduce_sum(x, s, dim=1)
            T.reduce_sum(s, t, dim=0)
            T.copy(t, Out[bx])
    return kernel


def _source(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A).get_kernel_source()


@pytest.mark.nvcc
def test_layernorm_crosses_two_barriers_instead_of_four(monkeypatch):
    plain = _source(bench.layer_norm(1024, 4096))
    monkeypatch.setenv("TILEDSL_FUSE_REDUCTIONS", "1")
    fused = _source(bench.layer_norm(1024, 4096))
    assert plain.count("__syncthreads()") == 4 and fused.count("__syncthreads()") == 2


@pytest.mark.nvcc
def test_dependent_reductions_stay_apart(monkeypatch):
    plain = _source(sum_of_sums(64, 256))
    monkeypatch.setenv("TILEDSL_FUSE_REDUCTIONS", "1")
    assert _source(sum_of_sums(64, 256)) == plain


@pytest.mark.gpu
def test_layernorm_matches_torch(monkeypatch):
    monkeypatch.setenv("TILEDSL_FUSE_REDUCTIONS", "1")
    M, N = 512, 4096
    kernel = tiledsl.compile(bench.layer_norm(M, N), out_idx=[], target="cuda")
    x = torch.randn(M, N, device="cuda").half()
    w, b = torch.randn(N, device="cuda").half(), torch.randn(N, device="cuda").half()
    y = torch.full_like(x, float("nan"))
    kernel(x, w, b, y)
    torch.cuda.synchronize()
    want = torch.nn.functional.layer_norm(x.double(), (N,), w.double(), b.double(), 1e-5)
    assert not torch.isnan(y).any()
    torch.testing.assert_close(y.double(), want, rtol=1e-2, atol=2e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("block_M,threads", [(2, 128), (4, 256), (1, 64)])
def test_max_and_sum_match_torch(block_M, threads, monkeypatch):
    monkeypatch.setenv("TILEDSL_FUSE_REDUCTIONS", "1")
    M, N = 64, 512
    kernel = tiledsl.compile(max_and_sum(M, N, block_M, threads), out_idx=[], target="cuda")
    x, y = torch.randn(M, N, device="cuda"), torch.randn(M, N, device="cuda")
    out = torch.full((M,), float("nan"), device="cuda")
    kernel(x, y, out)
    torch.cuda.synchronize()
    want = x.double().amax(dim=1) + y.double().sum(dim=1) * 0.5
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-4)
