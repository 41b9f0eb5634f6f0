"""``T.reshape`` / ``T.view``: another shape (and, for ``T.view``, element type) for a global tensor's memory."""
from __future__ import annotations

import tvm
from tvm import tirx
from tvm.sym import Analyzer

from ..errors import TileProgramError
from .buffers import Tensor, buffer_scope, dtype_str, is_buffer


def _bits(shape, dtype: str):
    total = tirx.IntImm("int64", tvm.DataType(dtype).bits * tvm.DataType(dtype).lanes)
    for extent in shape:
        total = total * tirx.Cast("int64", extent) if not isinstance(extent, int) else total * extent
    return total


def _view(what: str, src, shape, dtype):
    if not is_buffer(src):
        raise TileProgramError(f"{what}: the first argument must be a tensor, not {type(src).__name__}")
    scope = buffer_scope(src)
    if scope != "global":
        raise TileProgramError(f"{what} of the {scope} tile {src.name} is not supported yet: only a global tensor's "
                               f"memory can be seen with another shape (allocate the tile in the shape you need)")
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    new_bits, old_bits = _bits(shape, dtype), _bits(src.shape, src.dtype)
    if not Analyzer().can_prove_equal(new_bits, old_bits):
        raise TileProgramError(f"{what}: {src.name} holds {tuple(src.shape)} x {src.dtype}, which is not the same "
                               f"number of bytes as {shape} x {dtype}")
    return Tensor(shape, dtype, src.data)


def reshape(src, shape):
    """``src``'s memory seen with the shape ``shape`` (same element count), like TileLang's ``T.reshape``."""
    return _view("T.reshape", src, shape, src.dtype)


def view(src, shape=None, dtype=None):
    """``src``'s memory seen with another shape and/or element type (same byte count), like TileLang's ``T.view``."""
    return _view("T.view", src, src.shape if shape is None else shape,
                 src.dtype if dtype is None else dtype_str(dtype))
