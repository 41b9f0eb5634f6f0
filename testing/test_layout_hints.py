"""TileLang's layout hints (T.annotate_layout with tiledsl.layout's swizzles): accepted, checked, no effect on
results, no obstacle to the Hopper specialization; anything else is refused with the buffer named."""
import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.layout import make_swizzled_layout, make_wgmma_swizzled_layout
from tiledsl.passes.hopper import gemm_match, match_gemm


def _gemm(M, N, K, hint="swizzle"):
    @T.prim_func
    def kernel(A: T.Tensor((M, K), "float16"), B: T.Tensor((K, N), "float16"), C: T.Tensor((M, N), "float16")):
        with T.Kernel(T.ceildiv(N, 64), T.ceildiv(M, 64), threads=128) as (bx, by):
            A_s = T.alloc_shared((64, 64), "float16")
            B_s = T.alloc_shared((64, 64), "float16")
            C_f = T.alloc_fragment((64, 64), "float32")
            if hint == "swizzle":
                T.annotate_layout({A_s: make_swizzled_layout(A_s), B_s: make_wgmma_swizzled_layout(B_s)})
            elif hint == "fragment":
                T.annotate_layout({C_f: make_swizzled_layout(C_f)})
            elif hint == "not_a_hint":
                T.annotate_layout({A_s: 42})
            T.clear(C_f)
            for k in T.Pipelined(T.ceildiv(K, 64), num_stages=2):
                T.copy(A[by * 64, k * 64], A_s)
                T.copy(B[k * 64, bx * 64], B_s)
                T.gemm(A_s, B_s, C_f)
            T.copy(C_f, C[by * 64, bx * 64])
    return kernel


def test_swizzle_hints_change_nothing_in_the_result():
    M, N, K = 96, 128, 192
    kernel = tiledsl.compile(_gemm(M, N, K), target="llvm")
    a, b = torch.randn(M, K).half(), torch.randn(K, N).half()
    c = torch.full((M, N), float("nan")).half()
    kernel(a, b, c)
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=1e-2, atol=5e-2)


def test_hinted_gemm_still_takes_the_hopper_path():
    assert match_gemm(_gemm(512, 512, 512)) is not None, gemm_match.last_reason


@pytest.mark.parametrize("hint,message", [
    ("fragment", "C_f is not a shared-memory buffer"),
    ("not_a_hint", "the layout of A_s is int"),
])
def test_other_layouts_are_refused_with_the_buffer_named(hint, message):
    factory = tiledsl.jit(_gemm)  # as users call it: parser diagnostics become TileProgramError
    with pytest.raises(tiledsl.TileProgramError, match=message):
        factory(128, 128, 128, hint=hint)
