"""Boolean block masks, as TileLang's block-sparse attention examples use them: a ``T.bool`` tensor copied into a
fragment and read element by element in a serial loop (``if mask[k]:``), which makes the fragment one that every
thread holds whole; and ``tiledsl.math``. Programs written for these tests (not TileLang's): each runs on the CPU
against torch in float64 on fresh random inputs with the output poisoned first, builds for sm_90a with nvcc, and
runs on a GPU where there is one (marked ``gpu``)."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.profiler import bind

SM90A = {"kind": "cuda", "arch": "sm_90a"}


@tiledsl.jit(out_idx=[-1])
def block_sparse_row_sums(M, K, block_M=32, block_K=32, num_stages=2):
    """y[i] = sum of A[i, k] * x[k] over the (block_M x block_K) blocks whose mask entry is True."""
    k_blocks = K // block_K

    @T.prim_func
    def main(A: T.Tensor((M, K), T.float16), x: T.Tensor((K,), T.float16),
             Mask: T.Tensor((M // block_M, k_blocks), T.bool), y: T.Tensor((M,), T.float32)):
        with T.Kernel(M // block_M, threads=128) as bx:
            mask = T.alloc_fragment((k_blocks,), T.bool)
            acc = T.alloc_fragment((block_M, block_K), T.float32)
            row = T.alloc_fragment((block_M,), T.float32)
            a_s = T.alloc_shared((block_M, block_K), T.float16)
            T.copy(Mask[bx, :], mask)
            T.clear(acc)
            for kb in T.Pipelined(k_blocks, num_stages=num_stages):
                if mask[kb]:
                    T.copy(A[bx * block_M, kb * block_K], a_s)  # a shared tile written in the branch
                    for i, j in T.Parallel(block_M, block_K):
                        acc[i, j] += T.cast(a_s[i, j], T.float32) * T.cast(x[kb * block_K + j], T.float32)
            T.reduce_sum(acc, row, dim=1)
            T.copy(row, y[bx * block_M])
    return main


@tiledsl.jit
def first_kept_block(mask, block=16):
    """Newer style: for each row of a boolean mask, the index of its first True column (-1 if none), found by a
    serial scan of a fragment every thread holds whole."""
    R, C = T.const("R, C")
    mask: T.Tensor((R, C), T.bool)
    out = T.empty((R,), T.int32)
    with T.Kernel(R, threads=64) as r:
        row = T.alloc_fragment((C,), T.bool)
        first = T.alloc_var(T.int32, init=-1)
        T.copy(mask[r, :], row)
        for c in T.serial(C):
            if row[C - 1 - c]:
                first = C - 1 - c
        out[r] = first
    return out


def reference_row_sums(a, x, mask, block_M=32, block_K=32):
    keep = mask.repeat_interleave(block_M, 0).repeat_interleave(block_K, 1)
    return (a.double() * x.double() * keep).sum(1)


def run_row_sums(kernel, device):
    M, K = 128, 256
    a = torch.randn(M, K, device=device).half()
    x = torch.randn(K, device=device).half()
    mask = torch.rand(M // 32, K // 32, device=device) > 0.5
    mask[0] = False  # a row block that keeps nothing
    mask[1] = True
    run, outs = bind(kernel, [a, x, mask])
    run()
    torch.testing.assert_close(outs[0].double(), reference_row_sums(a, x, mask), rtol=1e-5, atol=1e-4)
    assert torch.equal(outs[0][:32].cpu(), torch.zeros(32))


def reference_first_kept(mask):
    cols = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    first = torch.where(mask, cols, torch.full_like(cols, mask.shape[1])).min(1).values
    return torch.where(first == mask.shape[1], -1, first).to(torch.int32)


def test_bool_is_a_dtype_object():
    assert T.bool == "bool" and T.boolean == "bool" and T.dtype(torch.bool) == T.bool
    assert tiledsl.DataType("bool") == T.bool


def test_block_mask_fragment_read_in_a_serial_loop_on_the_cpu():
    run_row_sums(block_sparse_row_sums(128, 256), "cpu")


def test_first_true_column_of_a_bool_mask():
    mask = torch.rand(24, 40) > 0.8
    mask[3] = False
    mask[5, 0] = True
    torch.testing.assert_close(first_kept_block(mask), reference_first_kept(mask), rtol=0, atol=0)


def test_math_helpers():
    assert [tiledsl.math.next_power_of_2(n) for n in (0, 1, 2, 3, 64, 65, 96)] == [1, 1, 2, 4, 64, 128, 128]
    assert tiledsl.math.cdiv(7, 2) == 4 and tiledsl.math.cdiv(8, 2) == 4
    assert tiledsl.tune.next_power_of_2 is tiledsl.math.next_power_of_2


@pytest.mark.nvcc
def test_block_mask_builds_for_sm90a_with_the_mask_in_every_thread():
    kernel = tiledsl.compile(block_sparse_row_sums.get_tir(128, 256), out_idx=[-1], target=SM90A)
    source = kernel.get_kernel_source()
    assert "bool mask_ptr[8]" in source  # the whole mask in each thread's registers
    assert "__syncthreads()" in source
    source = first_kept_block.compile(R=24, C=40, target=SM90A).get_kernel_source()
    assert "bool row_ptr[40]" in source


@pytest.mark.gpu
def test_gpu_block_mask_fragment_read_in_a_serial_loop():
    run_row_sums(block_sparse_row_sums(128, 256), "cuda")
    mask = torch.rand(24, 40, device="cuda") > 0.8
    torch.testing.assert_close(first_kept_block(mask), reference_first_kept(mask), rtol=0, atol=0)
