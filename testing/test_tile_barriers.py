"""Tile barriers (``passes/cuda/smem_swizzle.py``; the default, ``TILEDSL_TILE_BARRIERS=0`` turns them off): TVM's
ThreadSync tells the shared tiles of a kernel's pool apart, so a statement reading one tile after a statement
writing another gets no barrier.

nvcc: the int8-weight GEMM's conversion (four stores from the int8 tile into the fp16 tile per k step) loses its
three barriers and nothing else changes; on mma.sync (no wgmma tile: the pool of ``align_tiles(plain=True)``, ``TILEDSL_PLAIN_POOL=1``) its
eight stores lose seven of their eight; flash decoding, whose epilogue tile reuses the K/V stages' bytes, keeps
every barrier (the reuse plan places its own). GPU: every program whose code changes, against torch.
"""
import difflib

import pytest
import torch

import tiledsl
import tiledsl.language as T

import general_programs as bench

SM90A = {"kind": "cuda", "arch": "sm_90a"}
SYNC = "__syncthreads();"


pytestmark = pytest.mark.usefixtures("general_passes_only", "no_kernel_cache")


def _sources(program, monkeypatch):
    """The sm_90a source of ``program()`` without, then with, tile barriers (the default)."""
    monkeypatch.setenv("TILEDSL_TILE_BARRIERS", "0")
    before = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    monkeypatch.delenv("TILEDSL_TILE_BARRIERS")
    after = tiledsl.compile(program(), out_idx=[], target=SM90A).get_kernel_source()
    return before, after


def _changed_lines(before: str, after: str) -> tuple[list, list]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:].strip())
        elif line.startswith("+ "):
            added.append(line[2:].strip())
    return removed, added


@pytest.mark.nvcc
def test_int8_conversion_loses_its_barriers_and_nothing_else(monkeypatch):
    monkeypatch.setenv("TILEDSL_WS_TRANSFORMS", "0")  # the loop without a producer warpgroup (its own barriers)
    monkeypatch.setenv("TILEDSL_REGISTER_DEQUANT", "0")  # the threads' cast loop kept as written
    before, after = _sources(lambda: bench.int8_weight_gemm(16, 256, 256, block_M=64, block_N=64, threads=128),
                             monkeypatch)
    removed, added = _changed_lines(before, after)
    assert added == [] and removed == [SYNC] * 3
    loop = after[after.index("for (int k_p"):]
    assert loop[:loop.index("wgmma_f16_ss")].count(SYNC) == 2  # the stage's arrival, then B_s complete


@pytest.mark.nvcc
def test_mma_sync_conversion_loses_its_barriers_too(monkeypatch):
    """No wgmma tile (M = 16 on mma.sync, cp.async loads), ``TILEDSL_PLAIN_POOL=1``: the shared tiles still become
    views of one pool, so the
    eight conversion stores of a k step share one barrier before the ldmatrix reads (there was one after each)."""
    monkeypatch.setenv("TILEDSL_PLAIN_POOL", "1")
    program = lambda: bench.int8_weight_gemm(16, 256, 512, block_M=32, block_N=32, block_K=256, threads=128)
    before, after = _sources(program, monkeypatch)
    for source, syncs in ((before, 1 + 8), (after, 2)):
        loop = source[source.index("for (int k_p"):]
        loop = loop[:loop.index("mma_sync_aligned")]
        assert loop.count("tiledsl_cvt_s8x8_f16(") == 8 and loop.count(SYNC) == syncs
    assert "smem_pool" in after and "buf_dyn_shmem" in before
    removed, added = _changed_lines(before, after)
    assert removed.count(SYNC) == 7 and SYNC not in added


@pytest.mark.nvcc
def test_tiles_that_can_share_bytes_stay_with_tvm_merging(monkeypatch):
    """A kernel without wgmma tiles whose shared tiles are used by different top-level statements (a tile
    written after the loop reuses none of its stages here, but could) keeps TVM's merging and its barriers."""
    @T.prim_func
    def staged_copy(A: T.Tensor((256, 64), "float16"), B: T.Tensor((256, 64), "float16")):
        with T.Kernel(2, threads=128) as bx:
            X = T.alloc_shared((128, 64), "float16")
            Y = T.alloc_shared((128, 64), "float16")
            T.copy(A[bx * 128, 0], X)
            for i, j in T.Parallel(128, 64):
                B[bx * 128 + i, j] = X[i, j] + 1.0
            T.copy(A[bx * 128, 0], Y)
            for i, j in T.Parallel(128, 64):
                B[bx * 128 + i, j] = B[bx * 128 + i, j] + Y[i, j]
    monkeypatch.setenv("TILEDSL_PLAIN_POOL", "1")
    before, after = _sources(lambda: staged_copy, monkeypatch)
    assert before == after and "smem_pool" not in after and after.count("extern __shared__") == 1  # Y on X


@pytest.mark.nvcc
def test_reused_pool_bytes_keep_their_barriers(monkeypatch):
    case = bench.decode_case(4, 32, 8, 1024, 128, 4)
    before, after = _sources(lambda: case.kernels["split"], monkeypatch)
    assert before == after and SYNC in after


CHANGED = ["int8_weight_m16", "int8_weight_m4096", "gemm_staged", "flash_attention", "flash_attention_causal",
           "attention_bwd", "attention_bwd_causal"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", CHANGED)
def test_programs_with_tile_barriers_match_torch(name, monkeypatch):
    """Outputs poisoned with NaN, fresh random inputs, against the float32 reference (tile barriers: the
    default)."""
    case = bench.cases(small=True)[name]
    err, ok = bench.check_on_gpu(case)
    torch.cuda.synchronize()
    assert ok, f"{name}: relative error {err}"
