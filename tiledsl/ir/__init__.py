"""The tile operations tiledsl registers with TVM, and small helpers over TVM's IR."""
from .ops import TILE_OPS, tile_op, is_tile_call

__all__ = ["TILE_OPS", "tile_op", "is_tile_call"]
