"""T.copy edges, T.Parallel, T.fill, reductions, atomics, math and per-thread code on the CPU target."""
import pytest
import torch

import tiledsl
import tiledsl.language as T

from conftest import poisoned_like


@tiledsl.jit(target="llvm")
def scale_rows(M, N, block_M=16, block_N=16, dtype="float32"):
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=64) as (bx, by):
            tile = T.alloc_shared((block_M, block_N), dtype)
            T.copy(X[by * block_M, bx * block_N], tile)
            for i, j in T.Parallel(block_M, block_N):
                tile[i, j] = tile[i, j] * T.cast(by * block_M + i + 1, dtype)
            T.copy(tile, Y[by * block_M, bx * block_N])
    return kernel


@pytest.mark.parametrize("M,N", [(32, 32), (37, 21), (1, 5)])
def test_copy_ragged_edges_and_parallel(M, N):
    x = torch.randn(M, N)
    y = poisoned_like(x)
    scale_rows(M, N)(x, y)
    torch.testing.assert_close(y, x * torch.arange(1, M + 1).float()[:, None])


@tiledsl.jit(out_idx=[-1], target="llvm")
def row_sums_of_ragged_tiles(M, N, block_M=8, block_N=16):
    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), S: T.Tensor((M, T.ceildiv(N, block_N)), "float32")):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M)) as (bx, by):
            tile = T.alloc_fragment((block_M, block_N), "float32")
            part = T.alloc_fragment((block_M,), "float32")
            T.copy(X[by * block_M, bx * block_N], tile)  # past the edge: reads zero
            T.reduce_sum(tile, part, dim=1)
            for i in T.Parallel(block_M):
                S[by * block_M + i, bx] = part[i]  # stores past the edge are dropped
    return kernel


def test_loads_past_the_edge_read_zero():
    x = torch.randn(13, 21) + 3.0
    s = row_sums_of_ragged_tiles(13, 21)(x)
    torch.testing.assert_close(s[:, 0], x[:, :16].sum(1))
    torch.testing.assert_close(s[:, 1], x[:, 16:].sum(1))


@tiledsl.jit(target="llvm")
def copy_regions(M, N, block=8):
    @T.prim_func
    def kernel(X: T.Tensor((4, M, N), "float16"), Y: T.Tensor((M, N), "float32"), Z: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(M, block)) as bx:
            tile = T.alloc_shared((block, N), "float32")
            T.copy(X[2, bx * block, 0], tile)  # 3-d source, 2-d tile: casts float16 -> float32
            T.copy(tile, Y[bx * block:(bx + 1) * block, 0:N])  # destination given as slices
            if bx == 0:
                T.copy(tile[3, 0:N], Z)  # one row of a tile into a 1-d tensor
    return kernel


def test_copy_slices_origins_and_casts():
    x = torch.randn(4, 20, 12).half()
    y, z = torch.full((20, 12), float("nan")), torch.full((12,), float("nan"))
    copy_regions(20, 12)(x, y, z)
    torch.testing.assert_close(y, x[2].float())
    torch.testing.assert_close(z, x[2, 3].float())


REDUCERS = {
    "sum": (T.reduce_sum, lambda x, d: x.sum(d)),
    "max": (T.reduce_max, lambda x, d: x.amax(d)),
    "min": (T.reduce_min, lambda x, d: x.amin(d)),
    "abssum": (T.reduce_abssum, lambda x, d: x.abs().sum(d)),
    "absmax": (T.reduce_absmax, lambda x, d: x.abs().amax(d)),
}


def make_reduce(kind, dim, clear, R=12, C=20):
    reducer = REDUCERS[kind][0]
    out_len = C if dim == 0 else R

    @T.prim_func
    def kernel(X: T.Tensor((R, C), "float32"), O: T.Tensor((out_len,), "float32")):
        with T.Kernel(1, threads=32):
            x = T.alloc_fragment((R, C), "float32")
            o = T.alloc_fragment((out_len,), "float32")
            T.copy(X, x)
            T.copy(O, o)
            reducer(x, o, dim=dim, clear=clear)
            T.copy(o, O)
    return tiledsl.compile(kernel, target="llvm")


@pytest.mark.parametrize("kind", sorted(REDUCERS))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("clear", [True, False])
def test_reductions(kind, dim, clear):
    kernel = make_reduce(kind, dim, clear)
    x = torch.randn(12, 20)
    d = dim % 2
    start = torch.randn(20 if d == 0 else 12)
    out = start.clone()
    kernel(x, out)
    expect = REDUCERS[kind][1](x, d)
    if not clear:
        expect = {"sum": start + expect, "abssum": start + expect, "max": torch.maximum(start, expect),
                  "absmax": torch.maximum(start, expect), "min": torch.minimum(start, expect)}[kind]
    torch.testing.assert_close(out, expect)


@tiledsl.jit(target="llvm")
def histogram(N, bins, block=16):
    @T.prim_func
    def kernel(idx: T.Tensor((N,), "int32"), w: T.Tensor((N,), "float32"), H: T.Tensor((bins,), "float32"),
               S: T.Tensor((block,), "float32")):
        with T.Kernel(T.ceildiv(N, block), threads=32) as bx:
            part = T.alloc_fragment((block,), "float32")
            for i in T.serial(block):
                if bx * block + i < N:
                    T.atomic_add(H[idx[bx * block + i]], w[bx * block + i])
            T.copy(w[bx * block], part)
            T.atomic_add(S[0], part)  # tile form: S[0:block] += part
    return kernel


def test_atomic_add_scalar_and_tile():
    N, bins = 45, 7
    idx = torch.randint(0, bins, (N,), dtype=torch.int32)
    w = torch.randn(N)
    h, s = torch.zeros(bins), torch.zeros(16)
    histogram(N, bins)(idx, w, h, s)
    torch.testing.assert_close(h, torch.zeros(bins).index_add_(0, idx.long(), w))
    padded = torch.cat([w, torch.zeros(48 - N)]).view(3, 16)
    torch.testing.assert_close(s, padded.sum(0))


@tiledsl.jit(out_idx=[-1], target="llvm")
def math_ops(N, block=32):
    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((8, N), "float32")):
        with T.Kernel(T.ceildiv(N, block)) as bx:
            for i in T.Parallel(block):
                v = X[bx * block + i]
                Y[0, bx * block + i] = T.exp(v)
                Y[1, bx * block + i] = T.exp2(v)
                Y[2, bx * block + i] = T.log(T.abs(v) + 1.0)
                Y[3, bx * block + i] = T.sqrt(T.abs(v))
                Y[4, bx * block + i] = T.rsqrt(T.abs(v) + 1.0)
                Y[5, bx * block + i] = T.max(v, T.float32(0.25))
                Y[6, bx * block + i] = T.min(v, T.float32(-0.25))
                Y[7, bx * block + i] = T.if_then_else(v > 0, v * 2.0, T.cast(-1, "float32"))
    return kernel


def test_math_functions():
    x = torch.randn(70)
    y = math_ops(70)(x)
    expect = torch.stack([x.exp(), torch.exp2(x), torch.log(x.abs() + 1), x.abs().sqrt(), torch.rsqrt(x.abs() + 1),
                          x.clamp(min=0.25), x.clamp(max=-0.25), torch.where(x > 0, x * 2, -1.0)])
    torch.testing.assert_close(y, expect, rtol=1e-5, atol=1e-5)


@tiledsl.jit(out_idx=[-1], target="llvm")
def per_thread(N, threads=32):
    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((N,), "float32")):
        with T.Kernel(T.ceildiv(N, threads), threads=threads) as bx:
            tx = T.get_thread_binding()
            buf = T.alloc_shared((threads,), "float32")
            T.fill(buf, 0.0)
            if bx * threads + tx < N:
                buf[tx] = X[bx * threads + tx]
            for k in T.unroll(2):  # reversed neighbour read after all threads wrote
                if bx * threads + tx < N:
                    Y[bx * threads + tx] = buf[threads - 1 - tx] + T.cast(k, "float32") * 0.0
    return kernel


def test_get_thread_binding_per_thread_code():
    x = torch.randn(64)
    y = per_thread(64)(x)
    torch.testing.assert_close(y, x.view(2, 32).flip(1).reshape(64))


@tiledsl.jit(out_idx=[-1], target="llvm")
def fill_and_serial(N, value=2.5):
    @T.prim_func
    def kernel(Y: T.Tensor((N,), "float32")):
        with T.Kernel(1) as _:
            acc = T.alloc_local((1,), "float32")
            tile = T.alloc_fragment((N,), "float32")
            T.fill(tile, value)
            acc[0] = 0.0
            for i in T.serial(N):
                acc[0] = acc[0] + tile[i]
                tile[i] = acc[0]
            T.copy(tile, Y)
    return kernel


def test_fill_alloc_local_and_serial_scan():
    torch.testing.assert_close(fill_and_serial(9)(), torch.arange(1, 10).float() * 2.5)


@tiledsl.jit(out_idx=[-1], target="llvm")
def per_thread_accumulate(N, threads=8, per_thread=4):
    @T.prim_func
    def kernel(X: T.Tensor((N,), "float32"), Y: T.Tensor((threads,), "float32")):
        with T.Kernel(1, threads=threads):
            tx = T.get_thread_binding()
            acc = T.alloc_local((1,), "float32")
            acc[0] = 0.0  # every thread clears its own register
            for k in T.serial(per_thread):
                acc[0] = acc[0] + X[tx * per_thread + k]
            Y[tx] = acc[0]
    return kernel


def test_alloc_local_is_per_thread_in_per_thread_code():
    x = torch.randn(32)
    torch.testing.assert_close(per_thread_accumulate(32)(x), x.view(8, 4).sum(1))


@tiledsl.jit(out_idx=[-1], target="llvm")
def two_thread_dims(M=4, N=8):
    @T.prim_func
    def kernel(Y: T.Tensor((M, N), "int32")):
        with T.Kernel(1, threads=[N, M]):
            tx = T.get_thread_binding(0)
            ty = T.get_thread_binding(1)
            Y[ty, tx] = ty * 100 + tx
    return kernel


def test_multi_dimensional_threads():
    y = two_thread_dims()()
    assert torch.equal(y, (torch.arange(4)[:, None] * 100 + torch.arange(8)[None, :]).int())


@tiledsl.jit(out_idx=[-1], target="llvm")
def dequantize(N, src="float8_e4m3fn", block=16):
    @T.prim_func
    def kernel(X: T.Tensor((N,), src), S: T.Tensor((1,), "float32"), Y: T.Tensor((N,), "bfloat16")):
        with T.Kernel(T.ceildiv(N, block)) as bx:
            t = T.alloc_fragment((block,), "float32")
            T.copy(X[bx * block], t)
            for i in T.Parallel(block):
                t[i] = t[i] * S[0]
            T.copy(t, Y[bx * block])
    return kernel


@pytest.mark.parametrize("src", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_storage_converts_on_copy(src):
    x = (torch.randn(40) * 3).to(getattr(torch, src))
    y = dequantize(40, src)(x, torch.tensor([0.5]))
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, (x.float() * 0.5).bfloat16())


@tiledsl.jit(target="llvm")
def scale_prefix(N):
    @T.prim_func
    def kernel(A: T.Tensor((N,), "float32"), alpha: T.float32, n: T.int32):
        with T.Kernel(1):
            for i in T.Parallel(N):
                if i < n:
                    A[i] = A[i] * alpha
    return kernel


def test_scalar_parameters():
    a = torch.ones(8)
    scale_prefix(8)(a, 3.0, 5)
    assert a.tolist() == [3.0] * 5 + [1.0] * 3
    with pytest.raises(tiledsl.KernelArgumentError, match=r"argument 1 \(alpha\): expected a float32 scalar"):
        scale_prefix(8)(a, torch.ones(1), 5)


@tiledsl.jit(target="llvm")
def split_window_sums(S, D, splits, block=64):
    """Each block sums the rows of one split of X (``S // splits`` rows, fewer than ``block``), loading the split's
    region into a whole ``block``-row tile and masking the rows past the split, as TileLang's split-KV decoding
    does."""
    split_len = S // splits

    @T.prim_func
    def kernel(X: T.Tensor((S, D), "float32"), Out: T.Tensor((splits, D), "float32")):
        with T.Kernel(splits, threads=64) as sid:
            tile = T.alloc_shared((block, D), "float32")
            acc = T.alloc_fragment((block, D), "float32")
            sums = T.alloc_fragment((D,), "float32")
            T.copy(X[sid * split_len:(sid + 1) * split_len, :], tile)  # a split_len-row region into a block-row tile
            for i, j in T.Parallel(block, D):
                acc[i, j] = T.if_then_else(i < split_len, tile[i, j], 0.0)
            T.reduce_sum(acc, sums, dim=0)
            T.copy(sums, Out[sid, :])
    return kernel


@pytest.mark.parametrize("S,splits", [(144, 3), (40, 1)])
def test_load_of_a_shorter_region_fills_the_whole_tile(S, splits):
    """The region (48 or 40 rows) is shorter than the 64-row tile: the rows past it are read (from the next split,
    or zeros past the tensor's end) and masked by the program, so the sums are the split's sums."""
    x = torch.randn(S, 32)
    out = poisoned_like(torch.empty(splits, 32))
    split_window_sums(S, 32, splits)(x, out)
    expected = x.double().reshape(splits, S // splits, 32).sum(1)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


@tiledsl.jit(target="llvm")
def store_into_a_shorter_region():
    @T.prim_func
    def kernel(X: T.Tensor((64, 16), "float32"), Y: T.Tensor((64, 16), "float32")):
        with T.Kernel(1, threads=32):
            tile = T.alloc_shared((32, 16), "float32")
            T.copy(X[0:32, :], tile)
            T.copy(tile, Y[0:16, :])  # would write 16 rows the program did not name
    return kernel


def test_store_of_a_larger_tile_into_a_shorter_region_is_refused():
    with pytest.raises(tiledsl.TileProgramError, match=r"region of tile is \(32, 16\).*region of Y is \(16, 16\)"):
        store_into_a_shorter_region()
