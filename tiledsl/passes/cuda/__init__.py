"""The CUDA lowering: tile programs -> per-thread CUDA code that TVM's s_tir pipeline and CUDA codegen finish.

Order (``cuda_passes``): SwizzleBlocks (T.use_swizzle) -> LongestTilesFirst (blocks whose loop grows with a block
index launched longest first; opt-in) -> FoldStagedEpilogues (with TMA stores on: a result
staged through a shared tile is copied directly) -> MaskAfterGemm (a 0 / infinity mask written before a gemm adds
to it applied after a cleared gemm; opt-in) -> RowReciprocals (divisions by a row value as multiplications by
its reciprocal; opt-in) -> SplitUniformSelects (masked stores branch on tiles where the
mask is uniform) -> RegisterDequant (an 8-bit weight cast for a gemm converted in registers on sm_90a)
-> KMajorCopies (an 8-bit gemm operand stored MN-major copied K-major for wgmma) -> DeferRowSums (a loop's running row sum combined across threads once, after the loop; opt-in) -> PipelineCUDA (multi-stage cp.async, or TMA into an
mbarrier ring on sm_90a) -> StoreEpilogueTMA (a warp-specialized kernel's result copies as TMA stores) ->
ReduceAtomicsTMA (whole-fragment atomic adds into global tiles as TMA reduce-adds) ->
ScheduleWgmmaGemms (independent wgmma gemms issued together, waits where results are used) ->
LdmatrixReads (the warp-level emitter's ldmatrix pointers) -> LowerTileOpsCUDA (layouts, tile ops, T.Parallel,
fragments -> registers) -> GroupReduceBarriers (a TMA reduce-add's staging tiles each written by one warpgroup: its
named barriers instead of the whole block's) ->
WarpSpecialize (producer / consumer warpgroups, where PipelineCUDA chose it) -> PlaceTensorMaps (TMA tensor maps
into the host code) -> PackFloatConversions (float32 -> 16-bit register casts a pair per ``cvt``) -> WarpUniformIndex
(``threadIdx.x // 128`` and the like as divisions of a warp index broadcast from lane 0, uniform for nvcc) ->
ScalarizeBoolVectors (bool accesses unrolled, not vectorized) -> SplitWideVectorLoops (only
on the build's retry after the code generator refused a vector type). TVM then runs its default pipeline
(VectorizeLoop, ThreadSync, MergeSharedMemoryAllocations, SplitHostDevice, ...), whose LowerIntrin takes our CUDA
lowering of float32 ``T.exp2`` (``fast_exp2.py``: one ``ex2.approx.ftz.f32``).
"""
from .async_gemms import ScheduleWgmmaGemms
from .k_major_copies import KMajorCopies
from .ldmatrix_reads import LdmatrixReads
from .lower_tile_ops import LowerTileOpsCUDA
from .mask_after_gemm import MaskAfterGemm
from .register_dequant import RegisterDequant
from .row_reciprocals import RowReciprocals
from .row_sums import DeferRowSums
from .block_swizzle import SwizzleBlocks
from .bool_vectors import ScalarizeBoolVectors
from .packed_convert import PackFloatConversions
from .longest_first import LongestTilesFirst
from .pipeline import PipelineCUDA
from .uniform_selects import SplitUniformSelects
from .tma_copy import PlaceTensorMaps
from .tma_reduce import ReduceAtomicsTMA
from .reduce_barriers import GroupReduceBarriers
from .tma_store import FoldStagedEpilogues, StoreEpilogueTMA
from .warp_specialize import WarpSpecialize
from .warp_index import WarpUniformIndex
from .wide_vectors import SplitWideVectorLoops
from . import fast_exp2

fast_exp2.register()


def cuda_passes() -> list:
    """Our passes for the CUDA target, in order."""
    return [SwizzleBlocks, LongestTilesFirst, FoldStagedEpilogues, MaskAfterGemm, RowReciprocals, SplitUniformSelects,
            RegisterDequant, KMajorCopies, DeferRowSums, PipelineCUDA, StoreEpilogueTMA, ReduceAtomicsTMA, ScheduleWgmmaGemms, LdmatrixReads,
            LowerTileOpsCUDA, GroupReduceBarriers,
            WarpSpecialize, PlaceTensorMaps, PackFloatConversions, WarpUniformIndex, ScalarizeBoolVectors, SplitWideVectorLoops]
