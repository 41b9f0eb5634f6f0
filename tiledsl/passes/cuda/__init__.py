"""The CUDA lowering: tile programs -> per-thread CUDA code that TVM's s_tir pipeline and CUDA codegen finish.

Order (``cuda_passes``): SwizzleBlocks (block rasterization) -> LowerTileOpsCUDA (layouts, tile ops, T.Parallel,
fragments -> registers). TVM then runs its default pipeline (VectorizeLoop, ThreadSync, MergeSharedMemory-
Allocations, SplitHostDevice, ...).
"""
from .lower_tile_ops import LowerTileOpsCUDA


def cuda_passes() -> list:
    """Our passes for the CUDA target, in order."""
    return [LowerTileOpsCUDA]
