"""float8 tiles on the generic CUDA lowering: a float8 global->shared copy in a pipelined loop is a cp.async copy
of 16-byte chunks, as for 16-bit types (the element size comes from the dtype's bits, not from the digits of its
name: "float8_e4m3fn" is one byte, not 105). Element-wise loops over float8 stay scalar: TVM prints some float8
vector conversions as casts nvcc refuses."""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

FLOAT8 = ["float8_e4m3fn", "float8_e5m2"]


def row_scaled(M, K, src="float8_e4m3fn", block_M=64, block_K=128, num_stages=2):
    """Y = float16(X * S[:, None]) for a float8 X, through a pipelined shared-memory tile."""

    @T.prim_func
    def kernel(X: T.Tensor((M, K), src), S: T.Tensor((M,), "float32"), Y: T.Tensor((M, K), "float16")):
        with T.Kernel(T.ceildiv(M, block_M), threads=128) as bx:
            X_s = T.alloc_shared((block_M, block_K), src)
            Y_f = T.alloc_fragment((block_M, block_K), "float32")
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(X[bx * block_M, ko * block_K], X_s)
                for i, j in T.Parallel(block_M, block_K):
                    Y_f[i, j] = T.cast(X_s[i, j], "float32") * S[bx * block_M + i]
                T.copy(Y_f, Y[bx * block_M, ko * block_K])
    return kernel


def _inputs(M, K, src, device):
    x = (torch.randn(M, K) * 4).to(getattr(torch, src)).to(device)
    s = (torch.rand(M) + 0.5).to(device)
    return x, s


def _expected(x, s):
    return (x.double() * s.double()[:, None]).half()  # one rounding, as the kernel's float32 product then fp16


@pytest.mark.nvcc
@pytest.mark.parametrize("src", FLOAT8)
def test_float8_tile_loads_are_cp_async_on_sm90a(src, monkeypatch):
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    kernel = tiledsl.compile(row_scaled(256, 512, src), out_idx=[-1], target={"kind": "cuda", "arch": "sm_90a"})
    body = kernel.get_kernel_source().split("__global__", 1)[1]
    assert body.count("cp_async_cg") >= 8 and "shared_global_16(" in body  # 16 float8 elements per copy
    assert not re.search(r"X_s_ptr\[[^;]*\] = X_ptr\[", body)  # no element-by-element copy into shared
    assert "fp8x" not in body  # element-wise float8 conversions stay scalar


@pytest.mark.parametrize("src", FLOAT8)
def test_float8_row_scaling_on_the_cpu(src):
    x, s = _inputs(96, 384, src, "cpu")
    y = tiledsl.compile(row_scaled(96, 384, src), out_idx=[-1], target="llvm")(x, s)
    assert torch.equal(y, _expected(x, s))


@pytest.mark.gpu
@pytest.mark.parametrize("src", FLOAT8)
def test_float8_row_scaling_on_the_gpu(src):
    x, s = _inputs(320, 640, src, "cuda")
    kernel = tiledsl.compile(row_scaled(320, 640, src), out_idx=[-1], target="cuda")
    y = kernel(x, s)
    assert torch.equal(y, _expected(x, s))


@pytest.mark.nvcc
def test_float8_tiles_build_for_sm80_without_vectors(monkeypatch):
    """Before sm_89 TVM stores float8 as bytes: the copies stay element by element there, and nvcc builds it."""
    monkeypatch.setenv("TILEDSL_DISABLE_HOPPER_GEMM", "1")
    kernel = tiledsl.compile(row_scaled(256, 512), out_idx=[-1], target={"kind": "cuda", "arch": "sm_80"})
    body = kernel.get_kernel_source().split("__global__", 1)[1]
    assert "cp_async_cg" not in body and "fp8x4" not in body
