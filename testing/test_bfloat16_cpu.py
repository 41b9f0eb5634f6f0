"""bfloat16 and float16 on the CPU target round like the GPU (and torch): round to nearest even, bit for bit.

Before LegalizeBFloat16CPU, TVM computed bfloat16 in float32 on the CPU and dropped the rounding: ``T.cast(x,
"bfloat16")`` inside an expression and ``T.copy`` into a bfloat16 shared or fragment tile returned x unchanged, so a
CPU test could not catch a bfloat16 precision bug. The inputs here hold ties (the 16 dropped bits exactly 0x8000,
with an even and an odd kept half), negative values, the largest and smallest magnitudes, subnormals, values that
round up to infinity, infinities and NaN.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.passes.legalize_bfloat16_cpu import bf16_bits

N = 4096
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _from_bits(bits):
    return torch.tensor(bits, dtype=torch.int64).to(torch.int32).view(torch.float32)


def special_values() -> torch.Tensor:
    """float32 values at every rounding corner of bfloat16 and float16, then random ones of all magnitudes."""
    bits = [0x3F808000, 0x3F818000, 0xBF808000, 0xBF818000,  # bf16 ties: to even (down), to even (up); negative
            0x3F807FFF, 0x3F808001, 0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0xFF7FFFFF,  # near ties; overflow to inf
            0x00000001, 0x00008000, 0x00018000, 0x007FFFFF, 0x00800000, 0x80000001,  # subnormals, smallest normal
            0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,  # zeros, inf, NaN
            0x3F801000, 0x3F803000, 0xC77FF000, 0x477FF000, 0x477FEFFF, 0x33800000, 0x33000000, 0x33000001,  # fp16
            0x387FC000, 0x38800000, 0x38000000]
    special = _from_bits(bits)
    scales = torch.logspace(-44, 38, 64, dtype=torch.float64).float()
    rand = torch.randn(N - special.numel()) * scales.repeat((N - special.numel()) // 64 + 1)[:N - special.numel()]
    ties = (torch.randint(0, 1 << 15, (256,), dtype=torch.int32) << 16) | 0x8000  # random bf16 ties
    rand[:256] = ties.view(torch.float32)
    return torch.cat([special, rand])


def _expected(x, dtype):
    return x.to(DTYPES[dtype]).float()


def _same_bits(got, want):
    """Bit for bit, except that a NaN need only be a NaN: torch itself makes a bfloat16 NaN 0x7FC0 in its scalar
    conversion and 0xFFFF in its vectorized CPU one (CUDA's __float2bfloat16_rn makes 0x7FFF)."""
    g, w = got.contiguous().view(torch.int32), want.contiguous().view(torch.int32)
    nan = torch.isnan(want)
    assert torch.isnan(got[nan]).all(), "a NaN input did not give NaN"
    bad = ((g != w) & ~nan).nonzero().flatten()
    assert bad.numel() == 0, "first mismatches (input index: got, want): " + ", ".join(
        f"{i}: {hex(int(g[i]) & 0xFFFFFFFF)}, {hex(int(w[i]) & 0xFFFFFFFF)}" for i in bad[:6].tolist())


# ---------------------------------------------------------------- kernels
@tiledsl.jit(out_idx=[-1], target="llvm")
def cast_in_expression(n, dtype):
    @T.prim_func
    def kernel(X: T.Tensor((n,), "float32"), Y: T.Tensor((n,), "float32")):
        with T.Kernel(T.ceildiv(n, 256), threads=128) as bx:
            for i in T.Parallel(256):
                Y[bx * 256 + i] = T.cast(T.cast(X[bx * 256 + i], dtype), "float32") * T.float32(1)
    return kernel


@tiledsl.jit(out_idx=[-1], target="llvm")
def copy_through_tile(n, dtype, scope):
    @T.prim_func
    def kernel(X: T.Tensor((n,), "float32"), Y: T.Tensor((n,), "float32")):
        with T.Kernel(T.ceildiv(n, 256), threads=128) as bx:
            f = T.alloc_fragment((256,), "float32")
            if scope == "shared":
                t = T.alloc_shared((256,), dtype)
            else:
                t = T.alloc_fragment((256,), dtype)
            T.copy(X[bx * 256], f)
            T.copy(f, t)
            T.copy(t, Y[bx * 256])
    return kernel


@tiledsl.jit(out_idx=[-1], target="llvm")
def store_to_tensor(n, dtype):
    @T.prim_func
    def kernel(X: T.Tensor((n,), "float32"), Y: T.Tensor((n,), dtype)):
        with T.Kernel(T.ceildiv(n, 256), threads=128) as bx:
            T.copy(X[bx * 256:(bx + 1) * 256], Y[bx * 256:(bx + 1) * 256])
    return kernel


@tiledsl.jit(out_idx=[-1], target="llvm")
def arithmetic_in_dtype(n, dtype):
    """Y = float(a * b + a) with a, b rounded to dtype and every operation done in dtype."""
    @T.prim_func
    def kernel(A: T.Tensor((n,), "float32"), B: T.Tensor((n,), "float32"), Y: T.Tensor((n,), "float32")):
        with T.Kernel(T.ceildiv(n, 256), threads=128) as bx:
            a = T.alloc_fragment((256,), dtype)
            b = T.alloc_shared((256,), dtype)
            T.copy(A[bx * 256], a)
            T.copy(B[bx * 256], b)
            for i in T.Parallel(256):
                Y[bx * 256 + i] = T.cast(a[i] * b[i] + a[i], "float32")
    return kernel


@tiledsl.jit(out_idx=[-1], target="llvm")
def ragged_tile_of_a_tensor(n, dtype):
    """A 16-bit tensor through a 16-bit shared tile whose last block runs past the end (guarded loads read 0)."""
    @T.prim_func
    def kernel(X: T.Tensor((n,), dtype), Y: T.Tensor((n,), "float32")):
        with T.Kernel(T.ceildiv(n, 256), threads=128) as bx:
            t = T.alloc_shared((256,), dtype)
            T.copy(X[bx * 256:(bx + 1) * 256], t)
            for i in T.Parallel(256):
                Y[bx * 256 + i] = T.cast(t[i], "float32") + T.float32(0.5)
    return kernel


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_cast_inside_an_expression_rounds(dtype):
    x = special_values()
    _same_bits(cast_in_expression(N, dtype)(x), _expected(x, dtype))


@pytest.mark.parametrize("scope", ["shared", "fragment"])
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_copy_into_a_16_bit_tile_rounds(dtype, scope):
    x = special_values()
    _same_bits(copy_through_tile(N, dtype, scope)(x), _expected(x, dtype))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_store_into_a_16_bit_tensor_rounds(dtype):
    x = special_values()
    got = store_to_tensor(N, dtype)(x)
    assert got.dtype == DTYPES[dtype]
    _same_bits(got.float(), _expected(x, dtype))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_arithmetic_on_16_bit_values_rounds_each_step(dtype):
    a, b = torch.randn(N), torch.randn(N) * 3
    ta, tb = a.to(DTYPES[dtype]), b.to(DTYPES[dtype])
    want = (ta * tb + ta).float()  # torch rounds after each operation
    _same_bits(arithmetic_in_dtype(N, dtype)(a, b), want)
    assert not torch.equal(want, (ta.float() * tb.float() + ta.float()))  # the rounding is visible


def test_bf16_bits_of_python_floats_match_torch():
    values = [0.1, -2.5, 1.00390625, 1.01171875, 3.4e38, 3.4028235e38, 1e-40, float("inf"), -float("inf"), 0.0, -0.0]
    want = torch.tensor(values).to(torch.bfloat16).view(torch.int16).tolist()
    assert [bf16_bits(v) for v in values] == [w & 0xFFFF for w in want]
    nan = bf16_bits(float("nan"))
    assert nan & 0x7F80 == 0x7F80 and nan & 0x7F  # a NaN


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_ragged_copy_of_a_16_bit_tensor(dtype):
    n = N - 100
    x = special_values()[:n].to(DTYPES[dtype])
    _same_bits(ragged_tile_of_a_tensor(n, dtype)(x), x.float() + 0.5)
