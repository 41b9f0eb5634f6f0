"""``tiledsl.cuda.intrinsics``: hand-written tensor-core GEMMs, as TileLang's ``tilelang.cuda.intrinsics`` spells
them (``TensorCoreIntrinEmitter``, ``get_swizzle_layout``, the fragment index maps). Built for CUDA as ``ldmatrix``
+ ``mma.sync``, emulated exactly on the CPU (see ``macro/mma_macro_generator.py``)."""
from .layout import (get_ldmatrix_offset, get_mma_micro_size, get_swizzle_layout,  # noqa: F401
                     make_mma_swizzle_layout, mma_store_index_map)
from .macro.mma_macro_generator import (TensorCoreIntrinEmitter, TensorCoreIntrinEmitterSM120,  # noqa: F401
                                        TensorCoreIntrinEmitterWithLadderTransform)

__all__ = ["TensorCoreIntrinEmitter", "TensorCoreIntrinEmitterWithLadderTransform", "TensorCoreIntrinEmitterSM120",
           "get_swizzle_layout", "make_mma_swizzle_layout", "mma_store_index_map", "get_ldmatrix_offset",
           "get_mma_micro_size"]
