"""Block-sparse attention's building blocks and 4-bit tensors on the CPU target, as TileLang's
``blocksparse_attention`` and ``gemm_int4`` examples use them: comparisons of ``T.bool`` values (``mask[k] != 0``),
the ``flash_attn_with_kvcache`` stand-in the decoding examples take as their reference, and ``T.int4`` /
``T.uint4`` tensors passed packed two values per byte. Programs written for these tests (not TileLang's): each runs
on the CPU against torch (float64 or exact integers) on fresh random inputs with the outputs poisoned first, builds
for sm_90a with nvcc, and runs on a GPU where there is one (marked ``gpu``)."""
import importlib.util
import math
from pathlib import Path

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.errors import KernelArgumentError, TileProgramError
from tiledsl.profiler import bind

SM90A = {"kind": "cuda", "arch": "sm_90a"}
STANDIN = Path(__file__).resolve().parent.parent / "scripts" / "tilelang_cpu_standins" / "flash_attn" / "__init__.py"


# ------------------------------------------------------------------------------------------- bool comparisons
@tiledsl.jit(out_idx=[-1])
def masked_block_sums(M, N, block_M=16, block_N=16):
    """out[bm, i] = sum of x[bm * block_M + i, :] over the column blocks whose mask entry, compared with != 0,
    is set; the block mask is a T.bool fragment read in a pipelined loop, as in block-sparse attention."""
    nb = N // block_N

    @T.prim_func
    def main(X: T.Tensor((M, N), T.float16), Mask: T.Tensor((M // block_M, nb), T.bool),
             Out: T.Tensor((M,), T.float32)):
        with T.Kernel(M // block_M, threads=64) as bx:
            mask = T.alloc_fragment((nb,), T.bool)
            acc = T.alloc_fragment((block_M, block_N), T.float32)
            row = T.alloc_fragment((block_M,), T.float32)
            x_s = T.alloc_shared((block_M, block_N), T.float16)
            T.copy(Mask[bx, :], mask)
            T.clear(acc)
            for k in T.Pipelined(nb, num_stages=1):
                if mask[k] != 0:
                    T.copy(X[bx * block_M, k * block_N], x_s)
                    for i, j in T.Parallel(block_M, block_N):
                        acc[i, j] += T.cast(x_s[i, j], T.float32)
            T.reduce_sum(acc, row, dim=1)
            T.copy(row, Out[bx * block_M])
    return main


@tiledsl.jit(out_idx=[-1])
def bool_relations(N):
    """Every relation of two bool vectors, and their min and max, as int32 columns (False < True)."""
    @T.prim_func
    def main(A: T.Tensor((N,), T.bool), B: T.Tensor((N,), T.bool), Out: T.Tensor((N, 8), T.int32)):
        with T.Kernel(1, threads=32) as bx:
            a = T.alloc_fragment((N,), T.bool)
            b = T.alloc_fragment((N,), T.bool)
            T.copy(A, a)
            T.copy(B, b)
            for i in T.Parallel(N):
                Out[i, 0] = T.cast(a[i] == b[i], T.int32)
                Out[i, 1] = T.cast(a[i] != b[i], T.int32)
                Out[i, 2] = T.cast(a[i] < b[i], T.int32)
                Out[i, 3] = T.cast(a[i] <= b[i], T.int32)
                Out[i, 4] = T.cast(a[i] > b[i], T.int32)
                Out[i, 5] = T.cast(a[i] >= b[i], T.int32)
                Out[i, 6] = T.cast(T.min(a[i], b[i]), T.int32)
                Out[i, 7] = T.cast(T.max(a[i], b[i]), T.int32)
    return main


@tiledsl.jit(out_idx=[-1])
def bool_not_equal_vectorized(N):
    """Out = A != B for bool tensors, in vectorized loops."""
    @T.prim_func
    def main(A: T.Tensor((N,), T.bool), B: T.Tensor((N,), T.bool), Out: T.Tensor((N,), T.bool)):
        with T.Kernel(1, threads=1) as bx:
            for i in T.vectorized(N):
                Out[i] = A[i] != B[i]
    return main


def run_masked_block_sums(device):
    M, N = 64, 128
    x = torch.randn(M, N, device=device).half()
    mask = torch.rand(M // 16, N // 16, device=device) > 0.5
    mask[0] = False
    mask[1] = True
    run, outs = bind(masked_block_sums(M, N), [x, mask])
    run()
    keep = mask.repeat_interleave(16, 0).repeat_interleave(16, 1)
    torch.testing.assert_close(outs[0].double(), (x.double() * keep).sum(1), rtol=1e-5, atol=1e-4)


def run_bool_relations(device):
    a = torch.rand(64, device=device) > 0.5
    b = torch.rand(64, device=device) > 0.5
    run, outs = bind(bool_relations(64), [a, b])
    run()
    ai, bi = a.int(), b.int()
    want = torch.stack([ai == bi, ai != bi, ai < bi, ai <= bi, ai > bi, ai >= bi, torch.minimum(ai, bi),
                        torch.maximum(ai, bi)], dim=1).int()
    assert torch.equal(outs[0], want)
    a, b = torch.rand(64, device=device) > 0.5, torch.rand(64, device=device) > 0.5
    run, outs = bind(bool_not_equal_vectorized(64), [a, b])
    run()
    assert torch.equal(outs[0], a != b)


def test_block_mask_compared_with_zero_on_the_cpu():
    run_masked_block_sums("cpu")


def test_bool_relations_min_max_on_the_cpu():
    run_bool_relations("cpu")


# ------------------------------------------------------------------------------------ flash_attn stand-in
def _standin():
    spec = importlib.util.spec_from_file_location("flash_attn_standin", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _naive_decode(q, k, v, lengths, scale, causal=False):
    """Attention by explicit loops over batch and heads (float64): q (B, Lq, H, d), k and v (B, L, Hk, d)."""
    B, Lq, H, _ = q.shape
    group = H // k.shape[2]
    out = torch.empty(B, Lq, H, v.shape[-1], dtype=torch.float64)
    for b in range(B):
        n = lengths[b]
        for h in range(H):
            kk, vv = k[b, :n, h // group].double(), v[b, :n, h // group].double()
            for r in range(Lq):
                s = (kk @ q[b, r, h].double()) * scale
                if causal:
                    s[torch.arange(n) > r + n - Lq] = -math.inf
                out[b, r, h] = torch.softmax(s, 0) @ vv
    return out


def test_flash_attn_with_kvcache_standin_contiguous_and_paged():
    fa = _standin()
    B, L, H, Hk, d, page = 3, 64, 8, 2, 16, 16
    q = torch.randn(B, 2, H, d).half()
    k, v = torch.randn(B, L, Hk, d).half(), torch.randn(B, L, Hk, d).half()
    lengths = torch.tensor([64, 17, 40], dtype=torch.int32)
    got = fa.flash_attn_with_kvcache(q, k, v, cache_seqlens=lengths, causal=True)
    assert got.dtype == torch.float16 and got.shape == (B, 2, H, d)
    want = _naive_decode(q, k, v, lengths.tolist(), d ** -0.5, causal=True)
    torch.testing.assert_close(got.double(), want, rtol=2e-3, atol=2e-3)
    # the same caches, paged: sequence b's pages scattered over a pool in a random order
    pool_k, pool_v = torch.zeros(B * L // page, page, Hk, d).half(), torch.zeros(B * L // page, page, Hk, d).half()
    table = torch.randperm(B * L // page, dtype=torch.int32).reshape(B, L // page)
    for b in range(B):
        for p in range(L // page):
            pool_k[table[b, p]] = k[b, p * page:(p + 1) * page]
            pool_v[table[b, p]] = v[b, p * page:(p + 1) * page]
    paged = fa.flash_attn_with_kvcache(q, pool_k, pool_v, cache_seqlens=lengths, block_table=table,
                                       softmax_scale=0.3)
    torch.testing.assert_close(paged.double(), _naive_decode(q, k, v, lengths.tolist(), 0.3), rtol=2e-3, atol=2e-3)
    whole = fa.flash_attn_with_kvcache(q, k, v, cache_seqlens=L, num_splits=4)
    torch.testing.assert_close(whole.double(), _naive_decode(q, k, v, [L] * B, d ** -0.5), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("option", [{"k": "new"}, {"rotary_cos": "cos"}, {"window_size": (4, 0)},
                                    {"return_softmax_lse": True}, {"cache_leftpad": "pad"}])
def test_flash_attn_with_kvcache_standin_refuses_other_options(option):
    fa = _standin()
    q, k = torch.randn(1, 1, 2, 8), torch.randn(1, 4, 2, 8)
    option = {name: (torch.zeros(1) if value in ("new", "cos", "pad") else value) for name, value in option.items()}
    with pytest.raises(NotImplementedError, match=next(iter(option))):
        fa.flash_attn_with_kvcache(q, k, k, **option)


# ---------------------------------------------------------------------------------------------- 4-bit tensors
def pack_nibbles(values: torch.Tensor) -> torch.Tensor:
    """Two 4-bit values per byte along the last dimension: element 2i in the low nibble of byte i."""
    v = values.to(torch.int16)
    packed = (v[..., 0::2] & 0xF) | ((v[..., 1::2] & 0xF) << 4)
    return packed.to(torch.uint8 if values.dtype == torch.uint8 else torch.int8)


def unpack_nibbles(packed: torch.Tensor, signed: bool) -> torch.Tensor:
    b = packed.to(torch.int16) & 0xFF
    out = torch.stack([b & 0xF, b >> 4], dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    return torch.where(out >= 8, out - 16, out) if signed else out


@tiledsl.jit(out_idx=[-1])
def int4_gemm_nt(M, N, K, block_M=32, block_N=32, block_K=32, dtype="int4"):
    """C = A B^T for 4-bit A (M, K) and B (N, K), accumulated in int32, through shared tiles and T.gemm."""
    @T.prim_func
    def main(A: T.Tensor((M, K), dtype), B: T.Tensor((N, K), dtype), C: T.Tensor((M, N), T.int32)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=128) as (bx, by):
            A_s = T.alloc_shared((block_M, block_K), dtype)
            B_s = T.alloc_shared((block_N, block_K), dtype)
            C_f = T.alloc_fragment((block_M, block_N), T.int32)
            T.clear(C_f)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=2):
                T.copy(A[by * block_M, ko * block_K], A_s)
                T.copy(B[bx * block_N, ko * block_K], B_s)
                T.gemm(A_s, B_s, C_f, transpose_B=True)
            T.copy(C_f, C[by * block_M, bx * block_N])
    return main


@tiledsl.jit(out_idx=[-1])
def int4_negate_window(M, N, offset, dtype="int4"):
    """Out (M, N) = -X[:, offset:offset + N] wrapped to 4 bits (4-bit loads at odd offsets, 4-bit stores)."""
    @T.prim_func
    def main(X: T.Tensor((M, N + 2), dtype), Out: T.Tensor((M, N), dtype)):
        with T.Kernel(M, threads=32) as bx:
            row = T.alloc_fragment((N,), dtype)
            for j in T.Parallel(N):
                row[j] = X[bx, offset + j]
            for j in T.Parallel(N):
                Out[bx, j] = T.cast(0 - T.cast(row[j], T.int32), dtype)
    return main


@pytest.mark.parametrize("dtype,low,high", [("int4", -8, 8), ("uint4", 0, 16)])
def test_int4_gemm_on_the_cpu(dtype, low, high):
    M, N, K = 64, 96, 128
    storage = torch.int8 if dtype == "int4" else torch.uint8
    a = torch.randint(low, high, (M, K), dtype=torch.int16)
    b = torch.randint(low, high, (N, K), dtype=torch.int16)
    a[0, :4] = torch.tensor([low, high - 1, low, high - 1])  # the extremes, in both nibbles
    kernel = int4_gemm_nt(M, N, K, dtype=dtype)
    run, outs = bind(kernel, [pack_nibbles(a.to(storage)), pack_nibbles(b.to(storage))])
    run()
    assert torch.equal(outs[0], a.int() @ b.int().T)


@pytest.mark.parametrize("dtype,offset", [("int4", 1), ("int4", 2), ("uint4", 1)])
def test_int4_loads_and_stores_of_single_nibbles(dtype, offset):
    M, N = 5, 6
    signed = dtype == "int4"
    x = torch.randint(-8, 8, (M, N + 2)) if signed else torch.randint(0, 16, (M, N + 2))
    packed = pack_nibbles(x.to(torch.int8 if signed else torch.uint8))
    run, outs = bind(int4_negate_window(M, N, offset, dtype=dtype), [packed])
    run()
    assert outs[0].shape == (M, N // 2) and outs[0].dtype == packed.dtype
    want = -x[:, offset:offset + N]
    want = ((want + 8) % 16 - 8) if signed else want % 16
    assert torch.equal(unpack_nibbles(outs[0], signed), want)


@tiledsl.jit(out_idx=[-1])
def widen_int4(N, vectorized=True, take_address=False):
    """Y = X as int32 for a 4-bit X, in a vectorized loop; ``take_address`` also passes X's address to memset."""
    loop = T.vectorized if vectorized else T.serial

    @T.prim_func
    def main(X: T.Tensor((N,), T.int4), Y: T.Tensor((N,), T.int32)):
        with T.Kernel(1, threads=1) as bx:
            if take_address:
                T.call_extern("int32", "memset", T.address_of(X[0]), 0, 1)
            for i in loop(N):
                Y[i] = T.cast(X[i], T.int32)
    return main


def test_int4_loads_in_a_vectorized_loop():
    x = torch.randint(-8, 8, (32,))
    run, outs = bind(widen_int4(32), [pack_nibbles(x.to(torch.int8))])
    run()
    assert torch.equal(outs[0], x.int())


def test_the_address_of_an_int4_element_is_a_program_error():
    with pytest.raises(TileProgramError, match="X: this int4 buffer is used other than by loading or storing"):
        widen_int4(16, take_address=True)


def test_int4_arguments_are_checked_in_their_packed_shape():
    kernel = int4_gemm_nt(64, 32, 64)
    a, b = torch.zeros(64, 32, dtype=torch.int8), torch.zeros(32, 32, dtype=torch.int8)
    assert kernel(a, b).shape == (64, 32)
    with pytest.raises(KernelArgumentError, match=r"argument 0 \(A\).*int8 tensor of shape \(64, 32\).*two values "
                                                  r"per byte.*size 64 in dimension 1 instead of 32"):
        kernel(torch.zeros(64, 64, dtype=torch.int8), b)  # the logical shape, unpacked
    with pytest.raises(KernelArgumentError, match=r"argument 1 \(B\).*dtype uint8 instead of int4"):
        kernel(a, b.to(torch.uint8))


def test_int4_tensor_with_an_odd_last_dimension_is_a_program_error():
    with pytest.raises(TileProgramError, match="X: int4 tensors are passed packed.*must be even"):
        int4_negate_window(3, 5, 0)


@pytest.mark.nvcc
def test_int4_kernel_for_cuda_builds_but_refuses_to_run():
    """TVM's CUDA code for 4-bit buffers is wrong, so a CUDA kernel with int4 tensors builds but every call is
    refused with the reason, never run (also where a GPU is visible)."""
    from tiledsl.errors import TargetError

    kernel = tiledsl.compile(int4_gemm_nt.get_tir(64, 32, 64), out_idx=[-1], target=SM90A)
    with pytest.raises(TargetError, match="int4/uint4 tensors are supported on the CPU target only"):
        kernel(torch.zeros(64, 32, dtype=torch.int8), torch.zeros(32, 32, dtype=torch.int8))


@pytest.mark.nvcc
def test_block_sparse_and_int4_programs_build_for_sm90a():
    source = tiledsl.compile(masked_block_sums.get_tir(64, 128), out_idx=[-1], target=SM90A).get_kernel_source()
    assert "bool mask_ptr[8]" in source
    # bool vectors: TVM's CUDA code gave them 2-byte lanes (ushort2), reading and writing twice their bytes
    source = tiledsl.compile(bool_relations.get_tir(64), out_idx=[-1], target=SM90A).get_kernel_source()
    assert "a_ptr[1] = A_ptr[" in source and "ushort2" not in source
    source = tiledsl.compile(bool_not_equal_vectorized.get_tir(64), out_idx=[-1], target=SM90A).get_kernel_source()
    assert "ushort" not in source.split("__global__")[-1] and "Out_ptr[63]" in source
    tiledsl.compile(int4_gemm_nt.get_tir(64, 96, 128), out_idx=[-1], target=SM90A)


@pytest.mark.gpu
def test_gpu_block_sparse():
    run_masked_block_sums("cuda")
    run_bool_relations("cuda")
