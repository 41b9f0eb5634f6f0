"""On-chip buffers indexed outside their declared shape, as TileLang's attention-sink backward examples do it: their
forward kernel declares the per-row sink fragment with ``heads`` elements and fills ``block_M`` rows of it in a
``T.Parallel(block_M)`` loop, which wrote past the fragment (a segfault on the CPU, a local array overrun on CUDA)
whenever ``heads < block_M``. Such an access is now a TileProgramError naming the buffer, the index and the line;
accesses that a condition keeps in range stay legal. Programs written for these tests (not TileLang's): each legal
one runs on the CPU against torch in float64 on fresh random inputs with the output poisoned first, builds for
sm_90a with nvcc, and runs on a GPU where there is one (marked ``gpu``)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import TileProgramError
from tiledsl.profiler import bind

SM90A = {"kind": "cuda", "arch": "sm_90a"}


@tiledsl.jit(out_idx=[-1])
def sink_softmax(H, M, N, sink_len=None, threads=128):
    """Y[h] = softmax over the columns of X[h] with one extra "sink" logit Sinks[h] per row in the normalizer; the
    sink is broadcast into a per-row fragment of ``sink_len`` elements (``M`` is right; fewer is the mistake)."""
    sink_len = M if sink_len is None else sink_len

    @T.prim_func
    def main(X: T.Tensor((H, M, N), T.float32), Sinks: T.Tensor((H,), T.float32), Y: T.Tensor((H, M, N), T.float32)):
        with T.Kernel(H, threads=threads) as h:
            x = T.alloc_fragment((M, N), T.float32)
            sinks = T.alloc_fragment((sink_len,), T.float32)
            row_max = T.alloc_fragment((M,), T.float32)
            row_sum = T.alloc_fragment((M,), T.float32)
            T.copy(X[h, :, :], x)
            for i in T.Parallel(M):
                sinks[i] = Sinks[h]
            T.reduce_max(x, row_max, dim=1)
            for i in T.Parallel(M):
                row_max[i] = T.max(row_max[i], sinks[i])
            for i, j in T.Parallel(M, N):
                x[i, j] = T.exp(x[i, j] - row_max[i])
            T.reduce_sum(x, row_sum, dim=1)
            for i in T.Parallel(M):
                row_sum[i] += T.exp(sinks[i] - row_max[i])
            for i, j in T.Parallel(M, N):
                Y[h, i, j] = x[i, j] / row_sum[i]

    return main


def reference_sink_softmax(x, sinks):
    x, s = x.double(), sinks.double()[:, None, None]
    m = torch.maximum(x.amax(-1, keepdim=True), s)
    e = torch.exp(x - m)
    return e / (e.sum(-1, keepdim=True) + torch.exp(s - m))


def run_sink_softmax(kernel, device, H=3, M=64, N=32):
    x = torch.randn(H, M, N, device=device) * 2
    sinks = torch.randn(H, device=device) * 2
    run, outs = bind(kernel, [x, sinks])
    run()
    torch.testing.assert_close(outs[0].double(), reference_sink_softmax(x, sinks), rtol=1e-5, atol=1e-6)


@tiledsl.jit(out_idx=[-1])
def guarded_window_sums(M, L, threads=64):
    """Y[b, i] = sum of w[k] for k <= i, k < L, where w (a shared vector of L < M elements) is written and read
    by loops over M that conditions keep inside it: legal, whatever the loop extents."""

    @T.prim_func
    def main(W: T.Tensor((4, L), T.float32), Y: T.Tensor((4, M), T.float32)):
        with T.Kernel(4, threads=threads) as b:
            w = T.alloc_shared((L,), T.float32)
            acc = T.alloc_fragment((M,), T.float32)
            for i in T.Parallel(M):
                if i < L:
                    w[i] = W[b, i]
            for i in T.Parallel(M):
                acc[i] = 0.0
                for k in T.serial(M):
                    acc[i] += T.if_then_else(k < L and k <= i, w[k], 0.0)
            for i in T.Parallel(M):
                Y[b, i] = acc[i] + w[i % L] * 0.0
    return main


def reference_guarded_window_sums(w, M):
    L = w.shape[1]
    keep = (torch.arange(L)[None, :] <= torch.arange(M)[:, None]).double()  # (M, L)
    return w.double() @ keep.T


def shifted_copy(shift, size=8, extent=16):
    """Y[i] = s[i + shift] over ``extent`` rows, ``s`` a shared vector of ``size`` elements: out of its shape when
    ``shift < 0`` or ``extent + shift > size`` (the mistakes below)."""

    @T.prim_func
    def main(A: T.Tensor((size,), T.float32), Y: T.Tensor((extent,), T.float32)):
        with T.Kernel(1, threads=32) as _:
            s = T.alloc_shared((size,), T.float32)
            for i in T.serial(size):
                s[i] = A[i]
            for i in T.serial(extent):
                Y[i] = s[i + shift]
    return main


def test_sink_fragment_of_block_rows_runs_on_the_cpu():
    run_sink_softmax(sink_softmax(3, 64, 32), "cpu")


@pytest.mark.parametrize("target", ["llvm", SM90A], ids=["cpu", "sm90a"])
def test_sink_fragment_shorter_than_its_loop_is_a_named_error(target):
    with pytest.raises(TileProgramError) as err:
        tiledsl.compile(sink_softmax.get_tir(3, 64, 32, sink_len=3), out_idx=[-1], target=target)
    text = str(err.value)
    assert "sinks[i] writes index 63" in text and "fragment sinks has shape (3,)" in text
    assert "declare it with 64" in text and "test_attention_sink_cpu.py" in text and "sinks[i] = Sinks[h]" in text


def test_shared_buffer_read_past_its_shape_is_a_named_error():
    with pytest.raises(TileProgramError, match=r"s\[i \+ 1\] reads index 16 of dimension 0, but the shared buffer s "
                                               r"has shape \(8,\)"):
        tiledsl.compile(shifted_copy(1), out_idx=[-1], target="llvm")


def test_negative_index_is_a_named_error():
    with pytest.raises(TileProgramError, match=r"reads index -1 .*keep the index non-negative"):
        tiledsl.compile(shifted_copy(-1, size=16), out_idx=[-1], target="llvm")


def test_two_dimensional_fragment_column_past_its_shape_is_a_named_error():
    @T.prim_func
    def main(A: T.Tensor((4, 8), T.float32), Y: T.Tensor((4, 8), T.float32)):
        with T.Kernel(1, threads=32) as _:
            f = T.alloc_fragment((4, 4), T.float32)
            for i, j in T.Parallel(4, 8):
                f[i, j] = A[i, j]
            for i, j in T.Parallel(4, 4):
                Y[i, j] = f[i, j]

    with pytest.raises(TileProgramError, match=r"f\[i, j\] writes index 7 of dimension 1, but the fragment f has "
                                               r"shape \(4, 4\)"):
        tiledsl.compile(main, out_idx=[-1], target="llvm")


def test_accesses_kept_in_range_by_conditions_run_on_the_cpu():
    M, L = 48, 20
    kernel = guarded_window_sums(M, L)
    w = torch.randn(4, L)
    run, outs = bind(kernel, [w])
    run()
    torch.testing.assert_close(outs[0].double(), reference_guarded_window_sums(w, M), rtol=1e-5, atol=1e-5)


@pytest.mark.nvcc
def test_sink_programs_build_for_sm90a():
    for kernel in (tiledsl.compile(sink_softmax.get_tir(3, 64, 32), out_idx=[-1], target=SM90A),
                   tiledsl.compile(guarded_window_sums.get_tir(48, 20), out_idx=[-1], target=SM90A)):
        assert "__global__" in kernel.get_kernel_source()


@pytest.mark.gpu
def test_gpu_sink_programs():
    run_sink_softmax(sink_softmax(3, 64, 32), "cuda")
    w = torch.randn(4, 20, device="cuda")
    run, outs = bind(guarded_window_sums(48, 20), [w])
    run()
    torch.testing.assert_close(outs[0].double().cpu(), reference_guarded_window_sums(w.cpu(), 48), rtol=1e-5,
                               atol=1e-5)
