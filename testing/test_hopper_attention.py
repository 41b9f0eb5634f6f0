"""The Hopper flash-attention specialization: what is recognized (and what is refused, with the reason), that it
builds for sm_90a, and (on an sm_90 GPU) that it computes what fp32 SDPA computes."""
import math

import pytest
import torch

import tiledsl
import tiledsl.language as T
from tiledsl.passes.hopper import attention_match, match_attention
from tiledsl.passes.hopper.attention_match import VARIANT_ATTR
from example_modules import load_example

pytestmark = pytest.mark.usefixtures("hopper_shortcut")  # these test the whole-kernel matchers

flash_attention = load_example("flash_attention", "hopper_example_attention").flash_attention
SM90A = {"kind": "cuda", "arch": "sm_90a"}


def _program(B, H, S, D, causal, block_M=128, block_N=128, threads=None, **kw):
    return flash_attention.get_tir(B, H, S, D, causal, block_M=block_M, block_N=block_N, num_stages=2,
                                   threads=threads or 2 * block_M, **kw)


def _perturbed(B, H, S, D, perturb, BM=64, BN=64, grid="sbh"):
    """The example's program with one change that alters what it computes (the matcher must refuse it)."""
    scale = (1.0 / D) ** 0.5 * 1.44269504
    shape = [B, S, H, D]
    dtype, acc = "float16", "float32"

    @T.prim_func
    def main(Q: T.Tensor(shape, dtype), K: T.Tensor(shape, dtype), V: T.Tensor(shape, dtype),
             Output: T.Tensor(shape, dtype)):
        with T.Kernel(*((T.ceildiv(S, BM), H, B) if grid == "sbh" else (H, B, T.ceildiv(S, BM))),
                      threads=2 * BM) as (b0, b1, b2):
            bx = T.meta_var(b0 if grid == "sbh" else b2)  # aliases, not new variables
            by = T.meta_var(b1 if grid == "sbh" else b0)
            bz = T.meta_var(b2 if grid == "sbh" else b1)
            Q_shared = T.alloc_shared([BM, D], dtype)
            K_shared = T.alloc_shared([BN, D], dtype)
            V_shared = T.alloc_shared([BN, D], dtype)
            acc_s = T.alloc_fragment([BM, BN], acc)
            acc_s_cast = T.alloc_fragment([BM, BN], dtype)
            acc_o = T.alloc_fragment([BM, D], acc)
            scores_max = T.alloc_fragment([BM], acc)
            scores_max_prev = T.alloc_fragment([BM], acc)
            scores_scale = T.alloc_fragment([BM], acc)
            scores_sum = T.alloc_fragment([BM], acc)
            logsum = T.alloc_fragment([BM], acc)
            T.copy(Q[bz, bx * BM:(bx + 1) * BM, by, :], Q_shared)
            T.fill(acc_o, 0)
            T.fill(logsum, 0)
            T.fill(scores_max, -T.infinity(acc))
            for k in T.Pipelined(T.ceildiv(S, BN), num_stages=1):
                T.copy(K[bz, k * BN:(k + 1) * BN, by, :], K_shared)
                if perturb == "strict_mask":  # a causal mask that also drops the diagonal
                    for i, j in T.Parallel(BM, BN):
                        acc_s[i, j] = T.if_then_else(bx * BM + i > k * BN + j, 0, -T.infinity(acc))
                else:
                    T.clear(acc_s)
                T.gemm(Q_shared, K_shared, acc_s, transpose_B=True)
                T.copy(scores_max, scores_max_prev)
                T.reduce_max(acc_s, scores_max, dim=1, clear=(perturb == "clear_max"))
                for i in T.Parallel(BM):
                    scores_scale[i] = T.exp2(scores_max_prev[i] * scale - scores_max[i] * scale)
                for i, j in T.Parallel(BM, BN):
                    acc_s[i, j] = T.exp2(acc_s[i, j] * scale - scores_max[i] * (scale * 2 if perturb == "two_scales"
                                                                                 else scale))
                T.reduce_sum(acc_s, scores_sum, dim=1)
                for i in T.Parallel(BM):
                    logsum[i] = logsum[i] * scores_scale[i] + scores_sum[i]
                T.copy(acc_s, acc_s_cast)
                if perturb != "late_rescale":
                    for i, j in T.Parallel(BM, D):
                        acc_o[i, j] *= scores_scale[i]
                T.copy(V[bz, k * BN:(k + 1) * BN, by, :], V_shared)
                T.gemm(acc_s_cast, V_shared, acc_o, clear_accum=(perturb == "clear_o"))
                if perturb == "late_rescale":  # rescales P V too: not the online softmax
                    for i, j in T.Parallel(BM, D):
                        acc_o[i, j] *= scores_scale[i]
            for i, j in T.Parallel(BM, D):
                acc_o[i, j] /= logsum[i]
            T.copy(acc_o, Output[bz, bx * BM:(bx + 1) * BM, by, :])

    return main


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,D,bm,bn", [(512, 128, 128, 128), (256, 64, 64, 64), (384, 128, 128, 64),
                                       (256, 64, 64, 128)])
def test_matcher_recognizes_the_example(causal, S, D, bm, bn):
    plan = match_attention(_program(2, 3, S, D, causal, bm, bn))
    assert plan is not None, attention_match.last_reason
    assert (plan.batch, plan.heads, plan.seq_len, plan.dim) == (2, 3, S, D)
    assert (plan.block_M, plan.block_N, plan.causal, plan.consumers) == (bm, bn, causal, bm // 64)
    assert math.isclose(plan.scale, D ** -0.5 * 1.44269504, rel_tol=1e-6)


@pytest.mark.parametrize("grid", ["sbh", "hbs"])
def test_matcher_accepts_the_clear_form_a_direct_store_and_any_grid_order(grid):
    plan = match_attention(_perturbed(1, 2, 256, 64, None, grid=grid))
    assert plan is not None and not plan.causal, attention_match.last_reason
    assert (plan.batch, plan.heads, plan.seq_len, plan.dim) == (1, 2, 256, 64)


@pytest.mark.parametrize("perturb,reason", [
    ("strict_mask", "the mask condition is not a >= comparison"),
    ("late_rescale", "'rescale' does not come before 'gemm_o'"),
    ("two_scales", "the exponent is not exp2(acc_s * c - m * c)"),
    ("clear_o", "P V overwrites acc_o"),
])
def test_matcher_refuses_programs_that_compute_something_else(perturb, reason):
    assert match_attention(_perturbed(1, 2, 256, 64, perturb)) is None
    assert reason in attention_match.last_reason


def test_matcher_takes_the_step_row_max_form():
    """reduce_max with clear=True makes m the step's own row max (TileLang's example resets it with a -inf fill):
    O and l are rescaled by the same exp2(m_prev - m) factors, so the result is the same function; the kernel
    keeps the running max."""
    plan = match_attention(_perturbed(1, 2, 256, 64, "clear_max"))
    assert plan is not None, attention_match.last_reason


@pytest.mark.parametrize("groups,dtype", [(4, "bfloat16"), (2, "float16"), (1, "bfloat16")])
def test_matcher_recognizes_grouped_query_attention_and_bfloat16(groups, dtype):
    plan = match_attention(_program(2, 8, 512, 128, True, groups=groups, dtype=dtype))
    assert plan is not None, attention_match.last_reason
    assert (plan.heads, plan.kv_heads, plan.groups, plan.dtype) == (8, 8 // groups, groups, dtype)


@pytest.mark.parametrize("args,kw,reason", [
    ((1, 2, 200, 64, False), dict(block_M=64, block_N=64), "multiple of block_N"),
    ((1, 2, 200, 64, True), dict(block_M=64, block_N=64), "multiple of block_M and block_N"),
    ((1, 2, 256, 96, False), dict(block_M=64, block_N=64), "dim is not 64 or 128"),
    ((1, 2, 256, 128, False), dict(block_M=128, block_N=128, threads=128), "threads is not 128 per 64 rows"),
    ((1, 2, 256, 64, False), dict(block_M=32, block_N=64, threads=64), "block_M is not 64 or 128"),
])
def test_matcher_says_why_not(args, kw, reason):
    assert match_attention(_program(*args, **kw)) is None
    assert reason in attention_match.last_reason


def test_matcher_refuses_a_gemm():
    gemm = load_example("gemm", "attn_test_gemm")
    assert match_attention(gemm.matmul.get_tir(256, 256, 256, block_M=64, block_N=64, block_K=64)) is None
    assert "four tensors" in attention_match.last_reason


@pytest.mark.nvcc
@pytest.mark.parametrize("causal,variant", [(False, None), (False, "tile"), (True, None)])
def test_builds_for_sm90a_with_wgmma_and_tma(causal, variant):
    prim = _program(2, 4, 512, 128, causal)
    if variant:
        prim = prim.with_attr(VARIANT_ATTR, variant)
    source = tiledsl.compile(prim, target=SM90A).get_kernel_source()
    assert "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16" in source
    assert "cp.async.bulk.tensor.2d" in source and "setmaxnreg" in source and "ex2.approx" in source


@pytest.mark.nvcc
def test_builds_causal_persistent():
    prim = _program(2, 8, 1024, 128, True).with_attr(VARIANT_ATTR, "persistent")
    source = tiledsl.compile(prim, target=SM90A).get_kernel_source()
    assert "wgmma.mma_async" in source and "setmaxnreg" in source


@pytest.mark.nvcc
def test_builds_grouped_query_attention_in_bfloat16():
    source = tiledsl.compile(_program(2, 8, 512, 128, False, groups=4, dtype="bfloat16"),
                             target=SM90A).get_kernel_source()
    assert "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16" in source and "cvt.rn.bf16x2.f32" in source


def test_only_sm90a_is_specialized():
    import tvm
    from tiledsl.passes.hopper import specialize_for_hopper

    prim = _program(1, 2, 256, 64, False, 64, 64)
    assert specialize_for_hopper(prim, tvm.target.Target({"kind": "cuda", "arch": "sm_80"})) is None
    special = specialize_for_hopper(prim, tvm.target.Target(SM90A))
    assert special is not None and str(special.attrs["tiledsl.tir_pipeline"]) == "tirx"


def _hopper():
    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] == 9


def _check(prim, B, H, S, D, causal, groups=1, dtype="float16"):
    kernel = tiledsl.compile(prim)
    assert "wgmma" in kernel.get_kernel_source()  # the specialized kernel, not the generic lowering
    tdt = getattr(torch, dtype)
    q = torch.randn(B, S, H, D, device="cuda", dtype=tdt)
    k, v = (torch.randn(B, S, H // groups, D, device="cuda", dtype=tdt) for _ in range(2))
    out = torch.full_like(q, float("nan"))  # poisoned: every element must be written
    kernel(q, k, v, out)
    k_full, v_full = (x.repeat_interleave(groups, dim=2) for x in (k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(x.float().transpose(1, 2) for x in (q, k_full, v_full)), is_causal=causal).transpose(1, 2)
    assert torch.isfinite(out).all()
    rel = ((out.float() - ref).norm() / ref.norm()).item()
    assert rel < (2e-3 if dtype == "float16" else 1e-2), rel


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("B,H,S,D,bm,bn", [(2, 4, 512, 128, 128, 128), (1, 3, 256, 64, 64, 64),
                                           (1, 2, 384, 128, 128, 64), (2, 2, 256, 64, 64, 128),
                                           (1, 1, 128, 128, 128, 128)])
def test_hopper_attention_matches_sdpa(causal, B, H, S, D, bm, bn):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    _check(_program(B, H, S, D, causal, bm, bn), B, H, S, D, causal)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("variant", ["tile", "persistent", "persistent_nopp"])
def test_hopper_attention_variants_match_sdpa(variant, causal):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    B, H, S, D = 2, 80, 512, 128  # 640 Q tiles: the persistent CTAs loop several times (causal: zig-zag rounds)
    _check(_program(B, H, S, D, causal).with_attr(VARIANT_ATTR, variant), B, H, S, D, causal)


@pytest.mark.gpu
@pytest.mark.parametrize("B,H,S,D,bm,bn", [(3, 10, 512, 64, 64, 64), (4, 9, 1024, 128, 128, 128)])
def test_hopper_causal_persistent_ragged_rounds(B, H, S, D, bm, bn):
    """Causal persistent on tile counts that leave the last zig-zag round partial, and with one-step tiles."""
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    prim = _program(B, H, S, D, True, bm, bn).with_attr(VARIANT_ATTR, "persistent")
    for _ in range(2):  # the second launch reuses nothing of the first
        _check(prim, B, H, S, D, True)


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("B,H,S,D,bm,bn,groups,dtype", [
    (2, 8, 512, 128, 128, 128, 4, "bfloat16"), (1, 4, 256, 64, 64, 64, 2, "float16"),
    (1, 6, 384, 128, 128, 64, 3, "bfloat16"), (2, 2, 256, 64, 64, 128, 1, "bfloat16"),
])
def test_hopper_grouped_query_attention_and_bfloat16_match_sdpa(causal, B, H, S, D, bm, bn, groups, dtype):
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    _check(_program(B, H, S, D, causal, bm, bn, groups=groups, dtype=dtype), B, H, S, D, causal, groups, dtype)


@pytest.mark.gpu
def test_hopper_grouped_query_attention_persistent_variant():
    if not _hopper():
        pytest.skip("needs an sm_90 GPU")
    B, H, S, D = 2, 64, 512, 128  # 512 Q tiles over 132 CTAs; 8 K/V heads
    prim = _program(B, H, S, D, False, groups=8, dtype="bfloat16").with_attr(VARIANT_ATTR, "persistent")
    _check(prim, B, H, S, D, False, 8, "bfloat16")
