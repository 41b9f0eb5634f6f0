"""``tilelang.carver.roller``: ``Hint``, rasterization plans and the GEMM planner (``matmul_policy``)."""
from .hint import Hint
from .rasterization import NoRasterization, Rasterization2DColumn, Rasterization2DRow

__all__ = ["Hint", "NoRasterization", "Rasterization2DColumn", "Rasterization2DRow"]
