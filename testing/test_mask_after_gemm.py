"""``TILEDSL_MASK_AFTER_GEMM=1`` (``passes/cuda/mask_after_gemm.py``; opt-in until its GPU tests have run): a 0 /
infinity mask written into an accumulator right before a gemm adds to it is applied after a cleared gemm.

nvcc: causal and ragged flash attention start their score gemm from zero (wgmma scale-d 0) with the switch and
from the mask without it; a mask of another value and a gemm that does not follow the mask are left alone.
GPU: causal, ragged and plain flash attention against torch's SDPA in float32 (outputs poisoned with NaN).
"""
import re

import pytest

import general_programs as bench
import tiledsl
import tiledsl.language as T

SM90A = {"kind": "cuda", "arch": "sm_90a"}


# an opt-in schedule: its tests are marked slow (scripts/test.sh -m slow runs them; CI keeps its 10 minutes)
pytestmark = [pytest.mark.usefixtures("general_passes_only"), pytest.mark.slow]


def _score_gemm_starts_from_zero(src: str, acc: str = "acc_s") -> bool:
    """Whether the first wgmma into ``acc`` zero-initializes (its last argument, scale-d, is 0)."""
    body = src.split("__global__", 1)[1]
    start = re.search(r"wgmma_\w+\(" + acc + r"_ptr\[0\]", body).start()
    call = body[start:body.index(";", start)]
    return call.rstrip(")").endswith("(bool)0")


@pytest.mark.nvcc
@pytest.mark.parametrize("causal,S", [(True, 512), (False, 320)])  # the causal mask; the bounds mask (ragged S)
def test_attention_score_gemm_starts_from_zero(causal, S, monkeypatch):
    program = lambda: bench.flash_attention(1, 2, S, 128, causal)  # noqa: E731
    plain = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    monkeypatch.setenv("TILEDSL_MASK_AFTER_GEMM", "1")
    moved = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    assert not _score_gemm_starts_from_zero(plain) and _score_gemm_starts_from_zero(moved)
    assert "-CUDART_INF_F" in moved.split("__global__", 1)[1]  # the mask is still applied


def _masked_gemm(fill):
    """S = mask(fill) + A @ B^T, 64 x 64 tiles."""
    @T.prim_func
    def kernel(A: T.Tensor((64, 64), "float16"), B: T.Tensor((64, 64), "float16"), C: T.Tensor((64, 64), "float32")):
        with T.Kernel(1, threads=128) as bx:
            A_s = T.alloc_shared((64, 64), "float16")
            B_s = T.alloc_shared((64, 64), "float16")
            acc = T.alloc_fragment((64, 64), "float32")
            T.copy(A[0, 0], A_s)
            T.copy(B[0, 0], B_s)
            for i, j in T.Parallel(64, 64):
                acc[i, j] = T.if_then_else(i >= j, 0, fill)
            T.gemm(A_s, B_s, acc, transpose_B=True)
            T.copy(acc, C[0, 0])
    return kernel


@pytest.mark.nvcc
def test_only_infinite_masks_move(monkeypatch):
    monkeypatch.setenv("TILEDSL_MASK_AFTER_GEMM", "1")
    inf = tiledsl.compile(_masked_gemm(-T.infinity("float32")), out_idx=[], target=SM90A).get_kernel_source()
    finite = tiledsl.compile(_masked_gemm(T.float32(-1e4)), out_idx=[], target=SM90A).get_kernel_source()
    assert _score_gemm_starts_from_zero(inf, "acc") and not _score_gemm_starts_from_zero(finite, "acc")


@pytest.mark.gpu
@pytest.mark.parametrize("causal,S", [(True, 512), (True, 200), (False, 320), (False, 256)])
def test_flash_attention_matches_torch(causal, S, monkeypatch):
    monkeypatch.setenv("TILEDSL_MASK_AFTER_GEMM", "1")
    bench.check_flash_attention_on_gpu(2, 4, S, 128, causal)
