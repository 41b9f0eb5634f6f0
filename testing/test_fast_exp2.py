"""Float32 ``T.exp2`` on CUDA as one ``ex2.approx.ftz.f32`` (``passes/cuda/fast_exp2.py``; the default,
``TILEDSL_FAST_EXP2=0`` keeps ``exp2f``).

nvcc: flash attention's source calls the helper (scalar and ``float2``), an element loop of 8 float32 lanes builds
with the ``ulonglong4`` overload, the switch restores ``exp2f``, float16 ``T.exp2`` keeps TVM's lowering. GPU: the
element loop against ``torch.exp2`` (subnormal results flushed to zero), flash attention against SDPA.
"""
import pytest
import torch

import general_programs as bench
import tiledsl
import tiledsl.language as T

SM90A = {"kind": "cuda", "arch": "sm_90a"}


pytestmark = pytest.mark.usefixtures("general_passes_only")


def exp2_rows(M, N, dtype="float16", block=64, threads=128):
    """Y = exp2(X) into a float32 fragment, loaded and converted in one element loop (fp16 in memory: 8 float32
    lanes per vector, ``ulonglong4``; float32: 4, ``float4``)."""
    @T.prim_func
    def kernel(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        with T.Kernel(T.ceildiv(M, block), threads=threads) as bx:
            x = T.alloc_fragment((block, N), "float32")
            for i, j in T.Parallel(block, N):
                x[i, j] = T.exp2(T.Cast("float32", X[bx * block + i, j]))
            T.copy(x, Y[bx * block, 0])
    return kernel


def _body(src: str) -> str:
    return src.split("__global__", 1)[1]


@pytest.mark.nvcc
def test_attention_calls_the_fast_helper(monkeypatch):
    src = tiledsl.compile(bench.flash_attention(1, 2, 512, 128, True), out_idx=[], target=SM90A).get_kernel_source()
    assert "ex2.approx.ftz.f32" in src and "= tiledsl_exp2f(__" in _body(src)
    assert " exp2f(" not in _body(src) and "(exp2f(" not in _body(src)
    monkeypatch.setenv("TILEDSL_FAST_EXP2", "0")
    src = tiledsl.compile(bench.flash_attention(1, 2, 512, 128, True), out_idx=[], target=SM90A).get_kernel_source()
    assert "tiledsl_exp2f" not in src and "exp2f(" in _body(src)


@pytest.mark.nvcc
def test_wide_element_loops_take_the_vector_overloads():
    body = _body(tiledsl.compile(exp2_rows(128, 256), out_idx=[], target=SM90A).get_kernel_source())
    assert "ulonglong4 __1;" in body and "= tiledsl_exp2f(__1);" in body
    body = _body(tiledsl.compile(exp2_rows(128, 256, "float32"), out_idx=[], target=SM90A).get_kernel_source())
    assert "= tiledsl_exp2f(*(float4*)(X_ptr + " in body


@pytest.mark.nvcc
def test_float16_exp2_keeps_tvms_lowering():
    @T.prim_func
    def kernel(X: T.Tensor((256,), "float16"), Y: T.Tensor((256,), "float16")):
        with T.Kernel(2, threads=128) as bx:
            for i in T.Parallel(128):
                Y[bx * 128 + i] = T.exp2(X[bx * 128 + i])
    src = tiledsl.compile(kernel, out_idx=[], target=SM90A).get_kernel_source()
    assert "tiledsl_exp2f" not in src


def test_the_cpu_keeps_ieee_exp2():
    x = (torch.rand(64, 128) * 60 - 50).half()
    y = torch.full_like(x, float("nan"))
    tiledsl.compile(exp2_rows(64, 128), out_idx=[], target="llvm")(x, y)
    torch.testing.assert_close(y.float(), torch.exp2(x.float()).half().float(), rtol=1e-3, atol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_exp2_matches_torch_on_gpu(dtype):
    """Inputs over [-150, 15]: normal results within 2 ulp (fp16/fp32 rounding dominates), subnormal float32
    results (inputs below -126) are flushed to zero."""
    M, N = 256, 256
    x = (torch.rand(M, N, device="cuda") * 165 - 150).to(getattr(torch, dtype))
    y = torch.full_like(x, float("nan"))
    tiledsl.compile(exp2_rows(M, N, dtype), out_idx=[], target="cuda")(x, y)
    torch.cuda.synchronize()
    want = torch.exp2(x.float())
    flushed = want < 2.0 ** -126
    assert not torch.isnan(y).any()
    assert (y.float()[flushed] == 0).all()
    torch.testing.assert_close(y.float()[~flushed], want[~flushed].to(x.dtype).float(), rtol=2e-3, atol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_matches_torch(causal):
    kernel = bench.check_flash_attention_on_gpu(2, 4, 384, 128, causal)
    assert "tiledsl_exp2f" in kernel.get_kernel_source()
