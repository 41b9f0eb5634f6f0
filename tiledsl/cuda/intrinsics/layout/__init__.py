"""Fragment layouts of PTX's ``mma.sync`` and the shared-memory swizzle TileLang's hand-written GEMMs annotate."""
from .mma_layout import (a_fragment, accumulator_fragment, b_fragment, get_swizzle_layout,  # noqa: F401
                         make_mma_swizzle_layout)
from .utils import get_ldmatrix_offset, get_mma_micro_size, mma_store_index_map  # noqa: F401
