"""``T.Pipelined(..., num_stages=1)`` as TileLang means it: the copies run one iteration ahead into two buffers of
each copied tile (TileLang's pipeline planning puts copies one stage before the compute), instead of a plain loop
whose every load waits (``passes/cuda/pipeline.py``, ``TILEDSL_ONE_STAGE_AHEAD``, the default since its GPU tests
passed on the H100, 2026-12-07). TileLang's flash-attention examples are written with ``num_stages=1``."""
import pytest
import torch
import tvm

import tiledsl
from tiledsl.passes.pipeline import lower
import general_programs as G
from test_tilelang_compat import _reference, attention_with_macros

pytestmark = pytest.mark.usefixtures("general_passes_only")

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SM80 = {"kind": "cuda", "arch": "sm_80"}


def gemm_one_stage(M, N, K, block_M, block_N, block_K, threads=128, stages=1):
    """C = A @ B in fp16 (general_programs.gemm: its R parameter unread) with a T.Pipelined loop of ``stages``."""
    return G.gemm(M, N, K, block_M=block_M, block_N=block_N, block_K=block_K, stages=stages, threads=threads)


def _pipelines(prim, target) -> list:
    """How the lowering built the program's pipelined loops (``kernel_info["pipelines"]``; [] for none)."""
    return lower(tvm.IRModule({"main": prim}), tvm.target.Target(target)).kernel_info.get("pipelines", [])


@pytest.mark.parametrize("target,kind", [(SM90A, "tma"), (SM80, "cp.async")], ids=["sm_90a", "sm_80"])
def test_attention_with_one_stage_loads_a_step_ahead(target, kind):
    prim = attention_with_macros.get_tir(2, 4, 512, 128, False, block_M=64, block_N=64, threads=128)
    kinds = _pipelines(prim, target)
    assert len(kinds) == 1 and kinds[0].startswith(kind), kinds


def test_the_switch_keeps_one_stage_plain(monkeypatch):
    monkeypatch.setenv("TILEDSL_ONE_STAGE_AHEAD", "0")
    prim = attention_with_macros.get_tir(2, 4, 512, 128, False, block_M=64, block_N=64, threads=128)
    assert _pipelines(prim, SM90A) == []


def test_a_gemm_with_one_stage_is_pipelined_and_zero_stages_is_not():
    assert _pipelines(gemm_one_stage(256, 256, 256, 64, 64, 64), SM80) == ["cp.async"]
    assert _pipelines(gemm_one_stage(256, 256, 256, 64, 64, 64, stages=0), SM80) == []


def test_tiles_that_do_not_fit_twice_stay_in_one_buffer():
    # A 128 x 256 and B 256 x 128 fp16 tiles: 128 KiB, 256 KiB in two buffers (sm_90 blocks may use 227 KiB)
    big = gemm_one_stage(512, 512, 512, 128, 128, 256, threads=256)
    assert _pipelines(big, SM90A) == []
    assert _pipelines(gemm_one_stage(512, 512, 512, 128, 128, 64, threads=256), SM90A)  # 64 KiB twice: fits


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block,threads", [(64, 128), (128, 256)])
def test_one_stage_attention_matches_torch_on_the_gpu(causal, block, threads):
    prim = attention_with_macros.get_tir(2, 4, 640, 128, causal, block_M=block, block_N=block, threads=threads)
    kernel = tiledsl.compile(prim, out_idx=[], target="cuda")
    assert kernel.kernel_info["path"] == "generic" and kernel.kernel_info["pipelines"], kernel.kernel_info
    q, k, v = (torch.randn(2, 640, 4, 128, device="cuda").half() for _ in range(3))
    out = torch.full_like(q, float("nan"))
    kernel(q, k, v, out)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.double(), _reference(q, k, v, causal), rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
@pytest.mark.parametrize("config", [(64, 64, 64, 128), (128, 128, 64, 256), (128, 128, 256, 256)],
                         ids=["64x64", "128x128", "k256_one_buffer"])
def test_one_stage_gemm_matches_torch_on_the_gpu(config):
    bm, bn, bk, threads = config
    M, N, K = 512, 768, 1024 + 64
    kernel = tiledsl.compile(gemm_one_stage(M, N, K, bm, bn, bk, threads), out_idx=[], target="cuda")
    assert bool(kernel.kernel_info.get("pipelines")) == (bk < 256), kernel.kernel_info
    a = torch.randn(M, K, device="cuda").half()
    b = torch.randn(K, N, device="cuda").half()
    c = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    kernel(a, b, torch.randn(M, N, device="cuda").half(), c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    torch.testing.assert_close(c.double(), a.double() @ b.double(), rtol=2e-2, atol=K ** 0.5 * 2e-2)
