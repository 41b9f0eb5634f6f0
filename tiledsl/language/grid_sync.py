"""``T.sync_grid()``: a barrier across every thread block of the enclosing ``T.Kernel``."""
from __future__ import annotations

from tvm.script.ir_builder import IRBuilder

from ..errors import TileProgramError
from ..ir.grid_sync import sync_grid_call
from .kernel import _current

_AROUND = {"ForFrame": "a loop", "WhileFrame": "a while loop", "IfFrame": "an if", "ThenFrame": "an if",
           "ElseFrame": "an else branch"}


def sync_grid():
    """Wait until every block of the grid has reached this point, and see their global-memory writes.

    It must be a statement directly in the body of ``with T.Kernel(...)`` (not inside a loop or an ``if``), and
    on-chip memory (shared, fragment, local, ``T.alloc_var``) read after it must be written after it first: tiledsl
    runs the code after the barrier as a new launch of the same grid (on the CPU, where blocks run one after the
    other, this is the only exact way; on CUDA it needs no cooperative launch). The lowering checks both rules.
    """
    _current("T.sync_grid()")
    frames = [type(f).__name__ for f in IRBuilder.current().frames] if IRBuilder.is_in_scope() else []
    # the frames opened inside the kernel; declarations (a view's DeclBuffer) are statements of the body itself
    inside = frames[len(frames) - frames[::-1].index("LaunchThreadFrame"):] if "LaunchThreadFrame" in frames else []
    around = [name for name in inside if name in _AROUND]
    if around:
        raise TileProgramError(
            f"T.sync_grid() must be a statement directly in the body of `with T.Kernel(...)`, but this one is inside "
            f"{_AROUND[around[-1]]}; tiledsl cuts the kernel at the barrier into consecutive launches, which needs "
            f"the barrier at the kernel's top level (loop over the work inside each side of it instead)")
    return sync_grid_call()
