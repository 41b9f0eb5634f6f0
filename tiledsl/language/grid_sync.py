"""``T.sync_grid()``: a barrier across every thread block of the enclosing ``T.Kernel``."""
from __future__ import annotations

from ..ir.grid_sync import sync_grid_call
from .kernel import _current


def sync_grid():
    """Wait until every block of the grid has reached this point, and see their global-memory writes.

    It must be a statement directly in the body of ``with T.Kernel(...)`` (not inside a loop or an ``if``), and
    on-chip memory (shared, fragment, local, ``T.alloc_var``) read after it must be written after it first: tiledsl
    runs the code after the barrier as a new launch of the same grid (on the CPU, where blocks run one after the
    other, this is the only exact way; on CUDA it needs no cooperative launch). The lowering checks both rules.
    """
    _current("T.sync_grid()")
    return sync_grid_call()
