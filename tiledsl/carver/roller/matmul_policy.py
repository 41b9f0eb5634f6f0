"""A Roller-style planner for tensor-core GEMM tiles: which (block, warp, K step, stages) to try first.

Like Roller (OSDI '22), it enumerates tiles aligned to the hardware (multiples of the 16 x 16 tensor-core tile,
K steps of whole 32-byte transactions), drops those that do not fit (shared memory per block with the pipeline's
copies, accumulator registers per thread, threads per block), and ranks the rest by a simple cost model:

* memory: global traffic of the tiles, ``grid * (block_M + block_N) * K`` elements (padding included, L2 reuse
  ignored), at a bandwidth that needs about half the multiprocessors busy to be reached;
* arithmetic: the busiest multiprocessor runs ``ceil(grid / SMs)`` blocks (wave quantization: a grid that leaves
  part of the last wave idle pays for the whole wave), at full tensor-core rate only with at least one warp per
  sub-partition (4 warps) resident; converted to bytes at the GPU's balance point (``flops_per_byte``);
* a tile costs the larger of the two.

It recommends; the autotuner measures. The estimates land in each Hint (``traffic``, ``num_wave``, ...).
"""
from __future__ import annotations

import math

from .hint import Hint
from .rasterization import NoRasterization, Rasterization2DRow

_TILES = (16, 32, 64, 128, 256)
_WARP_TILES = ((64, 32), (32, 64), (32, 32), (64, 64), (64, 16), (16, 64), (32, 16), (16, 32), (16, 16))
_MAX_ACC_REGS = 128  # accumulator registers a thread may hold (of 255), leaving room for fragments and addresses


def _bits(dtype: str) -> int:
    name = str(dtype)
    digits = "".join(ch for ch in name.split("_")[0] if ch.isdigit())
    if name.startswith("float8"):
        return 8
    return int(digits) if digits else 32


def _warp_tile(bm: int, bn: int):
    """The warp tile for a block: 4 warps if the block allows, else 8, 2, then 1; larger warp tiles first."""
    for warps in (4, 8, 2, 1):
        for wm, wn in _WARP_TILES:
            if bm % wm == 0 and bn % wn == 0 and (bm // wm) * (bn // wn) == warps:
                return wm, wn
    return None


def recommend(M: int, N: int, K: int, in_dtype: str, accum_dtype: str, arch, topk: int = 10) -> list[Hint]:
    """Up to ``topk`` tile configurations for an (M, N, K) GEMM on ``arch`` (a carver ``CUDA``), best first."""
    in_bytes, acc_bytes = _bits(in_dtype) / 8, _bits(accum_dtype) / 8
    k_steps = [s for s in (16, 32, 64, 128) if 64 <= s * in_bytes <= 128 and s <= max(16, K)] or [16]
    stages = 2 if arch.sm_version >= 80 else 1  # cp.async double buffering from sm_80
    candidates = []
    for bm in _TILES:
        for bn in _TILES:
            warp = _warp_tile(bm, bn)
            if warp is None:
                continue
            threads = (bm // warp[0]) * (bn // warp[1]) * 32
            acc_regs = warp[0] * warp[1] / 32 * acc_bytes / 4
            if acc_regs > _MAX_ACC_REGS:
                continue
            grid = math.ceil(M / bm) * math.ceil(N / bn)
            for bk in k_steps:
                smem = stages * (bm + bn) * bk * in_bytes
                if smem > arch.smem_cap:
                    continue
                per_sm = int(min(arch.max_smem_usage // smem, arch.reg_cap // (threads * (acc_regs + 64)),
                                 2048 // threads, 32))
                if per_sm < 1:
                    continue
                waves = math.ceil(grid / (arch.compute_max_core * per_sm))
                traffic = grid * (bm + bn) * K * in_bytes
                busy = min(grid, arch.compute_max_core) / arch.compute_max_core
                memory = traffic / min(1.0, 2 * busy)
                blocks_on_busiest = math.ceil(grid / arch.compute_max_core)
                warps_resident = min(blocks_on_busiest, per_sm) * threads // 32
                arithmetic = blocks_on_busiest * 2.0 * bm * bn * K * arch.compute_max_core / arch.flops_per_byte
                arithmetic /= min(1.0, warps_resident / arch.sm_partition)
                cost = max(memory, arithmetic)
                candidates.append((cost, -bm * bn, -bk, bm, bn, bk, warp, per_sm, waves, grid, smem, traffic))
    candidates.sort(key=lambda c: c[:3])
    hints = []
    for _, _, _, bm, bn, bk, warp, per_sm, waves, grid, smem, traffic in candidates[:topk]:
        hint = Hint()
        hint.arch = arch
        hint.block, hint.warp, hint.rstep = [bm, bn], list(warp), [bk]
        hint.pipeline_stage, hint.use_async = stages, stages > 1
        hint.grid_size, hint.num_wave, hint.block_per_SM = grid, waves, per_sm
        hint.smem_cost, hint.traffic = int(smem), int(traffic)
        rows, cols = math.ceil(M / bm), math.ceil(N / bn)
        operands = (M + N) * K * in_bytes
        if rows >= 4 and cols >= 4 and operands > arch.l2_cache_size_bytes // 2:
            hint.rasterization_plan = Rasterization2DRow(4)  # keep a panel's operands in L2
        else:
            hint.rasterization_plan = NoRasterization()
        hints.append(hint)
    return hints
