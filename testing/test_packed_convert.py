"""PackFloatConversions (``passes/cuda/packed_convert.py``; opt-in, ``TILEDSL_PACKED_CONVERSIONS=1``): float32
register values cast to float16 / bfloat16 a pair per ``cvt.rn.{f16,bf16}x2.f32``.

nvcc: flash attention's P and a plain fragment cast take the packed conversion (lane-by-lane casts without the
switch or before sm_80). GPU: the cast of random values, ties and values past the 16-bit range is bit-identical to
torch's rounding, in both types, with the pass on and off.
"""
import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only", "no_kernel_cache"), pytest.mark.slow]

M, N = 128, 64


def fragment_cast(dtype):
    """Out = X (float32) cast to ``dtype`` through register fragments."""

    @T.prim_func
    def kernel(X: T.Tensor((M, N), "float32"), Out: T.Tensor((M, N), dtype)):
        with T.Kernel(1, threads=128) as _:
            x = T.alloc_fragment((M, N), "float32")
            y = T.alloc_fragment((M, N), dtype)
            T.copy(X[0, 0], x)
            T.copy(x, y)
            T.copy(y, Out[0, 0])
    return kernel


def _source(program, arch="sm_90a"):
    return tiledsl.compile(program, out_idx=[], target={"kind": "cuda", "arch": arch}).get_kernel_source()


@pytest.mark.nvcc
@pytest.mark.parametrize("dtype,helper", [("float16", "tiledsl_pack_f16x2"), ("bfloat16", "tiledsl_pack_bf16x2")])
def test_fragment_casts_convert_pairs(dtype, helper, monkeypatch):
    monkeypatch.setenv("TILEDSL_PACKED_CONVERSIONS", "1")
    assert f"= {helper}(" in _source(fragment_cast(dtype))
    if dtype == "float16":  # no cvt.rn.f16x2.f32 before sm_80
        assert helper not in _source(fragment_cast(dtype), arch="sm_75")
    monkeypatch.setenv("TILEDSL_PACKED_CONVERSIONS", "0")
    assert helper not in _source(fragment_cast(dtype))


@pytest.mark.nvcc
def test_attention_converts_p_a_pair_per_instruction(monkeypatch):
    monkeypatch.setenv("TILEDSL_PACKED_CONVERSIONS", "1")
    body = _source(bench.flash_attention(1, 2, 512, 128, False)).split("__global__")[-1]
    assert body.count("tiledsl_pack_f16x2(acc_s_ptr[") >= 32 and "(half)(" not in body


@pytest.mark.gpu
@pytest.mark.parametrize("packed", ["1", "0"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_fragment_cast_is_bit_identical_to_torch(dtype, packed, monkeypatch):
    monkeypatch.setenv("TILEDSL_PACKED_CONVERSIONS", packed)
    kernel = tiledsl.compile(fragment_cast(dtype), out_idx=[], target="cuda")
    torch_dtype = getattr(torch, dtype)
    x = torch.randn(M, N, device="cuda") * 3
    # exact ties of the 16-bit types (round to even), values past their range, signed zeros, infinities
    half_ulp = 2.0 ** -11 if dtype == "float16" else 2.0 ** -8
    x[0, :8] = torch.tensor([1 + half_ulp, 1 + 3 * half_ulp, -1 - half_ulp, 70000.0, -70000.0, -0.0,
                             float("inf"), float("-inf")])
    x[1, :4] = torch.tensor([3.0e38, -3.0e38, 1e-30, -1e-30])
    out = torch.full((M, N), float("nan"), device="cuda").to(torch_dtype)
    kernel(x, out)
    torch.cuda.synchronize()
    want = x.to(torch_dtype)
    assert torch.equal(out.view(torch.int16), want.view(torch.int16))
