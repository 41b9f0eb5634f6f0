"""The CUDA lowering: tile programs -> per-thread CUDA code that TVM's s_tir pipeline and CUDA codegen finish.

Order (``cuda_passes``): SwizzleBlocks (T.use_swizzle) -> PipelineCUDA (multi-stage cp.async) -> LowerTileOpsCUDA (layouts, tile ops, T.Parallel,
fragments -> registers). TVM then runs its default pipeline (VectorizeLoop, ThreadSync, MergeSharedMemory-
Allocations, SplitHostDevice, ...).
"""
from .lower_tile_ops import LowerTileOpsCUDA
from .block_swizzle import SwizzleBlocks
from .pipeline import PipelineCUDA


def cuda_passes() -> list:
    """Our passes for the CUDA target, in order."""
    return [SwizzleBlocks, PipelineCUDA, LowerTileOpsCUDA]
