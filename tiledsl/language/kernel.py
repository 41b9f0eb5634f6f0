"""``T.Kernel``: the launch of a tile program, and ``T.get_thread_binding`` / ``T.get_block_binding``."""
from __future__ import annotations

import contextlib
import threading

from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError

_BLOCK_TAGS = ("blockIdx.x", "blockIdx.y", "blockIdx.z")
_THREAD_TAGS = ("threadIdx.x", "threadIdx.y", "threadIdx.z")
_active = threading.local()


def _stack() -> list:
    if not hasattr(_active, "kernels"):
        _active.kernels = []
    return _active.kernels


class Kernel:
    """``with T.Kernel(grid_x, grid_y, threads=128) as (bx, by):`` launches a grid of thread blocks.

    ``threads`` is an int or a list of up to three extents. The block indices come back as one variable for a 1-d
    grid, else a tuple.
    """

    def __init__(self, *blocks, threads=128, is_cpu: bool = False, prelude=None):
        if not blocks:
            raise TileProgramError("T.Kernel needs at least one grid extent, e.g. T.Kernel(T.ceildiv(N, 128))")
        if len(blocks) > 3:
            raise TileProgramError(f"T.Kernel takes at most 3 grid extents, got {len(blocks)}")
        thread_extents = list(threads) if isinstance(threads, (list, tuple)) else [threads]
        if not 1 <= len(thread_extents) <= 3:
            raise TileProgramError(f"T.Kernel: threads must be an int or 1-3 extents, got {threads!r}")
        for t in thread_extents:
            if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
                raise TileProgramError(f"T.Kernel: threads={threads!r} must be positive Python ints")
        for axis, extent in zip("xyz", blocks):
            _check_grid_extent(axis, extent)
        self.blocks = blocks
        self.thread_extents = thread_extents
        self._frames = [_builder.launch_thread(tag, ext) for tag, ext in zip(_BLOCK_TAGS, blocks)]
        self._frames += [_builder.launch_thread(tag, ext) for tag, ext in zip(_THREAD_TAGS, thread_extents)]
        self._exit_stack = None
        self.block_vars = []
        self.thread_vars = []

    def __enter__(self):
        self._exit_stack = contextlib.ExitStack()
        bound = [self._exit_stack.enter_context(f) for f in self._frames]
        self.block_vars = bound[: len(self.blocks)]
        self.thread_vars = bound[len(self.blocks):]
        _stack().append(self)
        return self.block_vars[0] if len(self.block_vars) == 1 else tuple(self.block_vars)

    def __exit__(self, *exc):
        _stack().pop()
        return self._exit_stack.__exit__(*exc)


def _check_grid_extent(axis: str, extent) -> None:
    """Refuse a grid extent known to be below 1 while the program is written: a grid of no blocks runs nothing on
    the CPU, while CUDA refuses (or, through TVM, runs one block of) it."""
    value = extent
    if not isinstance(value, int):
        from tvm import tirx
        from tvm.sym import Analyzer

        if not isinstance(value, tirx.Expr):
            return
        value = Analyzer().simplify(value)
        if not isinstance(value, tirx.IntImm):
            return
        value = value.value
    if value < 1:
        raise TileProgramError(f"T.Kernel: the grid extent along {axis} is {value}, which launches no blocks; a grid "
                               f"extent must be at least 1 (check the T.ceildiv(...) that computes it)")


def _current(what: str) -> Kernel:
    if not _stack():
        raise TileProgramError(f"{what} is only valid inside `with T.Kernel(...)`")
    return _stack()[-1]


def get_thread_binding(dim: int = 0):
    """The thread index along ``dim`` (threadIdx.x for 0) of the enclosing ``T.Kernel``."""
    kernel = _current("T.get_thread_binding")
    if not 0 <= dim < len(kernel.thread_vars):
        raise TileProgramError(f"T.get_thread_binding({dim}): the kernel has {len(kernel.thread_vars)} thread dims")
    return kernel.thread_vars[dim]


def get_block_binding(dim: int = 0):
    """The block index along ``dim`` (blockIdx.x for 0) of the enclosing ``T.Kernel``."""
    kernel = _current("T.get_block_binding")
    if not 0 <= dim < len(kernel.block_vars):
        raise TileProgramError(f"T.get_block_binding({dim}): the kernel has {len(kernel.block_vars)} grid dims")
    return kernel.block_vars[dim]


def get_thread_bindings():
    """All thread indices of the enclosing ``T.Kernel``."""
    return list(_current("T.get_thread_bindings").thread_vars)


def get_block_bindings():
    """All block indices of the enclosing ``T.Kernel``."""
    return list(_current("T.get_block_bindings").block_vars)
