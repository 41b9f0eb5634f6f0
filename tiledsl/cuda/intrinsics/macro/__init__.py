"""Emitters of warp-level tensor-core code (TileLang's ``tilelang.cuda.intrinsics.macro``)."""
from .mma_macro_generator import (TensorCoreIntrinEmitter, TensorCoreIntrinEmitterSM120,  # noqa: F401
                                  TensorCoreIntrinEmitterWithLadderTransform)
