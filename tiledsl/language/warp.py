"""TileLang's warp shuffles: ``T.shfl_xor``, ``T.shfl_down``, ``T.shfl_up`` and ``T.shfl_sync``.

Each is CUDA's ``__shfl_*_sync(mask, value, delta_or_lane, width)`` (TileLang's argument order: value first, then
the lane or offset, then ``width=32`` and ``mask=0xFFFFFFFF``), built as that extern call, so CUDA gets exactly
that intrinsic. TVM's ``T.tvm_warp_shuffle`` / ``_up`` / ``_down`` (mask first) stay available as well. On the CPU
target ``passes/lower_warp_shuffle_cpu.py`` emulates all of them with CUDA's lane arithmetic.
"""
from __future__ import annotations

from tvm import tirx

from ..errors import TileProgramError

FULL_MASK = 0xFFFFFFFF
WARP_SIZE = 32

#: TileLang name -> the CUDA intrinsic it calls
SHUFFLE_EXTERNS = {"shfl_sync": "__shfl_sync", "shfl_up": "__shfl_up_sync", "shfl_down": "__shfl_down_sync",
                   "shfl_xor": "__shfl_xor_sync"}


def _expr(x, what: str, name: str):
    x = getattr(x, "scalar", x)  # a T.alloc_var read
    if isinstance(x, bool) or not isinstance(x, (int, tirx.Expr)):
        raise TileProgramError(f"T.{name}: {what} must be an integer or an integer expression, got {x!r}")
    return x


def _shuffle(name: str, value, lane, width, mask):
    value = getattr(value, "scalar", value)
    if not isinstance(value, tirx.Expr):
        raise TileProgramError(f"T.{name}: the value to exchange must be an expression of the kernel (a variable, "
                               f"an element of a local buffer), got {value!r}")
    lane = _expr(lane, "the lane / offset", name)
    width = _expr(width, "width", name)
    if isinstance(width, int) and not (1 <= width <= WARP_SIZE and width & (width - 1) == 0):
        raise TileProgramError(f"T.{name}: width={width} must be a power of 2 from 1 to 32")
    mask = _expr(mask, "mask", name)
    if isinstance(mask, int):
        mask = tirx.const(mask & FULL_MASK, "uint32")
    return tirx.call_extern(str(value.ty), SHUFFLE_EXTERNS[name], mask, value, lane, width)


def shfl_xor(value, delta, width=WARP_SIZE, mask=FULL_MASK):
    """The ``value`` of lane ``lane ^ delta`` in this thread's segment of ``width`` lanes (``__shfl_xor_sync``)."""
    return _shuffle("shfl_xor", value, delta, width, mask)


def shfl_down(value, delta, width=WARP_SIZE, mask=FULL_MASK):
    """The ``value`` of lane ``lane + delta``; a lane whose source leaves its segment keeps its own value
    (``__shfl_down_sync``)."""
    return _shuffle("shfl_down", value, delta, width, mask)


def shfl_up(value, delta, width=WARP_SIZE, mask=FULL_MASK):
    """The ``value`` of lane ``lane - delta``; a lane whose source leaves its segment keeps its own value
    (``__shfl_up_sync``)."""
    return _shuffle("shfl_up", value, delta, width, mask)


def shfl_sync(value, srcLane, width=WARP_SIZE, mask=FULL_MASK):  # noqa: N803 - TileLang's argument name
    """The ``value`` of lane ``srcLane % width`` of this thread's segment (a broadcast, ``__shfl_sync``)."""
    return _shuffle("shfl_sync", value, srcLane, width, mask)
