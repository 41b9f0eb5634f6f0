"""Persistent grids for loops warp-specialized by the general passes (``TILEDSL_WARP_SPECIALIZE=all``, the default)
that load tiles before the loop (attention's Q) or run their last gemm one iteration late (``deferred_gemm``).

Such a kernel runs min(tiles, SMs) CTAs, each walking its tiles (``passes/cuda/warp_specialize.py``): the tiles
loaded before the loop take a one-stage ring counted in tiles, which every consumer warp releases after the last
gemm that reads them (before the last deferred gemm, which may not read them), so the producer loads the next
tile's during the current tile's last gemm and epilogue; a loop whose length depends on the tile (causal
attention) is made persistent only with ``TILEDSL_PERSISTENT_UNEVEN=1`` (its static walk ended unbalanced: slower
on the H100), and then counts its ring positions in a register on each side. Ping-pong consumers
(``TILEDSL_WARP_SPECIALIZE=pingpong``) take their first turn once per kernel, before the tile loop, and alternate
on across the tiles.

nvcc: the structure of the producer's and the consumers' code. GPU (uneven loops included): attention (causal or
not, 2 and 3 stages, 1 to 16 key blocks) and a gemm chain whose first tile has no iteration, on a grid of 3 CTAs
(``TILEDSL_PERSISTENT=3``: 4 to 16 tiles per CTA), against float32 / float64 references with the outputs
poisoned with NaN.
"""
import re

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
F16 = "float16"

pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def weighted_chain(M, L, D, N, block_M=128, block_N=64, stages=2, grow=False, w_before=True, first=0):
    """Out[block bx] = sum over key blocks j of (relu(A K_j^T) * 0.125 in fp16) W, W [block_N, N]: loaded once
    before the loop like A's block (``w_before``; only the last gemm reads it), else in every iteration.
    ``grow``: block bx runs bx + ``first`` key blocks (with ``first = 0`` the first none), else L / block_N."""

    @T.prim_func
    def kernel(A: T.Tensor((M, D), F16), K: T.Tensor((L, D), F16), W: T.Tensor((block_N, N), F16),
               Out: T.Tensor((M, N), "float32")):
        with T.Kernel(T.ceildiv(M, block_M), threads=256) as bx:
            A_s = T.alloc_shared((block_M, D), F16)
            W_s = T.alloc_shared((block_N, N), F16)
            K_s = T.alloc_shared((block_N, D), F16)
            s = T.alloc_fragment((block_M, block_N), "float32")
            p = T.alloc_fragment((block_M, block_N), F16)
            o = T.alloc_fragment((block_M, N), "float32")
            T.copy(A[bx * block_M, 0], A_s)
            if w_before:
                T.copy(W[0, 0], W_s)
            T.clear(o)
            for j in T.Pipelined(bx + first if grow else L // block_N, num_stages=stages):
                T.copy(K[j * block_N, 0], K_s)
                T.clear(s)
                T.gemm(A_s, K_s, s, transpose_B=True)
                for i, c in T.Parallel(block_M, block_N):
                    s[i, c] = T.max(s[i, c], 0.0) * 0.125
                T.copy(s, p)
                if not w_before:
                    T.copy(W[0, 0], W_s)
                T.gemm(p, W_s, o)
            T.copy(o, Out[bx * block_M, 0])
    return kernel


def chain_reference(a, k, w, block_M, block_N, grow, first=0):
    """:func:`weighted_chain`'s output in float64 (key blocks past K's rows count as zero, as TMA fills them)."""
    blocks = k.shape[0] // block_N
    want = torch.zeros(a.shape[0], w.shape[1], dtype=torch.float64, device=a.device)
    for bx in range(a.shape[0] // block_M):
        rows = slice(bx * block_M, (bx + 1) * block_M)
        for j in range(min(bx + first, blocks) if grow else blocks):
            p = (torch.relu(a[rows].double() @ k[j * block_N:(j + 1) * block_N].double().T) * 0.125).half()
            want[rows] += p.double() @ w.double()
    return want


def _kernel(program):
    return tiledsl.compile(program, out_idx=[], target=SM90A)


def _branches(src):
    """(the producer's code, the consumers' code) of a warp-specialized kernel's source."""
    body = src.split("__global__")[-1]
    return tuple(body.split("} else {", 1))


def _releases(code):
    """The tiles whose empty barrier ``code`` arrives on, in source order."""
    return re.findall(r"mbarrier_arrive_arrive_shared_b64\(tvm_builtin_cuda_cvta_generic_to_shared\(\(&\((\w+?)"
                      r"_empty_ptr", code)


# ---------------------------------------------------------------- CPU
@pytest.mark.parametrize("grow,first", [(False, 0), (True, 0), (True, 2)])
def test_chain_reference_matches_the_cpu_build(grow, first):
    """The GPU tests' float64 reference against the program built for the CPU (key blocks past K's rows: zero)."""
    M, L, D, N = 512, 128, 64, 128
    kernel = tiledsl.compile(weighted_chain(M, L, D, N, grow=grow, w_before=False, first=first), out_idx=[],
                             target="llvm")
    a, k, w = (torch.randn(*shape).half() for shape in ((M, D), (L, D), (64, N)))
    out = torch.full((M, N), float("nan"))
    kernel(a, k, w, out)
    torch.testing.assert_close(out.double(), chain_reference(a, k, w, 128, 64, grow, first), rtol=1e-2, atol=5e-2)


# ---------------------------------------------------------------- nvcc
@pytest.mark.nvcc
@pytest.mark.parametrize("causal", [False, True])
def test_attention_walks_its_tiles_with_q_on_a_ring_counted_in_tiles(causal, monkeypatch):
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    kernel = _kernel(bench.flash_attention(2, 4, 1024, 128, causal, stages=3))
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized+deferred_gemm"]
    producer, consumers = _branches(kernel.get_kernel_source())
    assert re.search(r"for \(int tile_iter = 0;", producer) and re.search(r"for \(int tile_iter_1 = 0;", consumers)
    # the producer waits for the previous tile's release of Q; the consumers wait for the tile's Q
    assert re.search(r"if \(1 <= tile_iter\) \{\s*tvm_builtin_cuda_mbarrier_wait\(\(&\(Q_shared_empty_ptr\[0\]\)\), "
                     r"\(\(tile_iter \+ 1\) & 1\)\)", producer)
    assert "mbarrier_wait((&(Q_shared_full_ptr[0])), (tile_iter_1 & 1))" in consumers
    # Q released once per tile, after the loop's QK^T, before the last PV and V's last release
    assert _releases(consumers)[-2:] == ["Q_shared", "V_shared"]
    # a tile-dependent loop length (causal) counts ring positions in a register on each side
    assert ("producer_ring_done" in producer and "consumer_ring_done" in consumers) == causal


@pytest.mark.nvcc
def test_a_loop_whose_deferred_gemm_reads_a_tile_loaded_before_keeps_the_plain_ring(monkeypatch):
    """W loaded before the loop and read by the deferred ``p W``: that warp-specialized shape hung on the H100 on a
    persistent grid (2026-12-06), so the loop keeps the plain ring; with W loaded in the loop (a ring tile of the
    deferred gemm, as attention's V) it is warp-specialized and persistent."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    kernel = _kernel(weighted_chain(1536, 512, 64, 128))
    assert kernel.kernel_info["pipelines"] == ["tma+deferred_gemm"] and "tile_iter" not in kernel.get_kernel_source()
    kernel = _kernel(weighted_chain(1536, 512, 64, 128, w_before=False))
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized+deferred_gemm"]
    producer, consumers = _branches(kernel.get_kernel_source())
    assert "tile_iter" in producer and _releases(consumers)[-2:] == ["A_s", "W_s"]


@pytest.mark.nvcc
def test_uneven_tiles_on_a_two_stage_ring_keep_one_cta_per_tile(monkeypatch):
    """The 2-stage chain walking uneven tiles hung on the H100 (2026-12-06; 3 stages, even tiles and one CTA per tile
    ran): such a ring keeps one CTA per tile even with ``TILEDSL_PERSISTENT_UNEVEN=1``."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    for stages, persistent in ((2, False), (3, True)):
        src = _kernel(weighted_chain(1536, 768, 64, 128, stages=stages, grow=True, w_before=False)).get_kernel_source()
        assert ("tile_iter" in src) == persistent, stages
        src = _kernel(bench.flash_attention(2, 4, 1024, 128, True, stages=stages)).get_kernel_source()
        assert ("tile_iter" in src) == persistent, stages


@pytest.mark.nvcc
@pytest.mark.parametrize("switch,causal", [(("TILEDSL_PERSISTENT", "0"), False),
                                           (("TILEDSL_PERSISTENT_UNEVEN", "0"), True)])
def test_the_switches_and_uneven_tiles_keep_one_cta_per_tile(switch, causal, monkeypatch):
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv(*switch)
    src = _kernel(bench.flash_attention(2, 4, 1024, 128, causal)).get_kernel_source()
    assert "tile_iter" not in src and "mbarrier_wait((&(Q_shared_full_ptr[0])), 0)" in src


@pytest.mark.nvcc
def test_pingpong_takes_its_first_turn_once_per_kernel(monkeypatch):
    """Ping-pong on a persistent grid: warpgroup 1's arrival that gives warpgroup 0 the first turn comes once,
    after the consumers' setmaxnreg and before their tile loop (inside it, every tile would add an arrival and the
    turns would drift)."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "pingpong")
    src = _kernel(bench.flash_attention(2, 4, 1024, 128, False)).get_kernel_source()
    consumers = src.split("setmaxnreg_inc_sync_aligned_u32_224();", 1)[1]
    before_tiles, tiles = consumers.split("for (int tile_iter_1", 1)
    assert before_tiles.count("bar_arrive_arrive((uint)2, (uint)256)") == 1
    assert "bar_arrive_arrive((uint)2," not in tiles and tiles.count("bar_sync_count_sync") == 3


# ---------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("defer", ["1", "0"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("S,D,stages", [(72, 64, 2), (1000, 128, 2), (2048, 64, 3), (512, 128, 3)])
def test_attention_on_three_ctas_matches_torch(S, D, stages, causal, defer, monkeypatch):
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    monkeypatch.setenv("TILEDSL_DEFER_LAST_GEMM", defer)
    kernel = bench.check_flash_attention_on_gpu(2, 3, S, D, causal, stages=stages)
    assert kernel.kernel_info["pipelines"] == ["tma+warp_specialized" + ("+deferred_gemm" if defer == "1" else "")]
    assert ("tile_iter" in kernel.get_kernel_source()) == (not causal or stages >= 3)  # uneven: 3 stages and up


@pytest.mark.gpu
@pytest.mark.parametrize("causal,stages", [(False, 2), (True, 3)])
@pytest.mark.parametrize("S", [72, 1000])
def test_pingpong_attention_on_three_ctas_matches_torch(S, causal, stages, monkeypatch):
    """Ping-pong turns alternating on across 4 to 16 tiles per CTA (uneven tiles too)."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    monkeypatch.setenv("TILEDSL_WARP_SPECIALIZE", "pingpong")
    kernel = bench.check_flash_attention_on_gpu(2, 3, S, 128, causal, stages=stages)
    src = kernel.get_kernel_source()
    assert "tile_iter" in src and "bar_arrive_arrive" in src


@pytest.mark.gpu
@pytest.mark.parametrize("w_before", [False, True])
@pytest.mark.parametrize("grow", [False, True])
@pytest.mark.parametrize("stages", [2, 3])
def test_chain_on_three_ctas_matches_float64(w_before, grow, stages, monkeypatch):
    """W in the loop: warp-specialized on 3 persistent CTAs (the first tile runs no iteration when ``grow``; uneven
    tiles only on 3 stages: on 2 this chain hung on the H100, ``benchmarks/probe_chain.py``); W before the loop: the
    plain ring (see the nvcc test above)."""
    monkeypatch.setenv("TILEDSL_PERSISTENT", "3")
    monkeypatch.setenv("TILEDSL_PERSISTENT_UNEVEN", "1")
    M, L, D, N, bm, bn = 1536, 768, 64, 128, 128, 64  # (tile bx reads bx key blocks: all within K's rows)
    kernel = tiledsl.compile(weighted_chain(M, L, D, N, stages=stages, grow=grow, w_before=w_before), out_idx=[],
                             target="cuda")
    assert kernel.kernel_info["pipelines"] == ["tma+deferred_gemm" if w_before else
                                               "tma+warp_specialized+deferred_gemm"]
    persistent = not w_before and (not grow or stages >= 3)  # uneven tiles: persistent on 3 stages and up
    assert ("tile_iter" in kernel.get_kernel_source()) == persistent
    a, k, w = (torch.randn(*shape, device="cuda").half() for shape in ((M, D), (L, D), (bn, N)))
    out = torch.full((M, N), float("nan"), device="cuda")
    kernel(a, k, w, out)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out.double(), chain_reference(a, k, w, bm, bn, grow), rtol=1e-2, atol=5e-2)
