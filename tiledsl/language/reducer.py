"""Cross-thread reducers: ``T.alloc_reducer`` and ``T.finalize_reducer`` (TileLang's reducer, its v1 form).

A reducer is a buffer that the threads of a block update inside ``T.Parallel`` loops (``r[i] += v``,
``r[i] = T.max(r[i], v)``, ``r[i] = T.min(r[i], v)``) between ``T.clear(r)`` / ``T.fill(r, x)`` and
``T.finalize_reducer(r)``; after the finalize, ``r`` holds for each element the combination of every contribution
made to it (and of the fill value, for max and min), as a replicated fragment every thread can read. Each
contribution counts exactly once, whatever the threads that made it. ``replication`` ("all" / "none") is
TileLang's hint on where the per-thread copies live; it never changes a result, and tiledsl chooses the storage
itself (``tiledsl/passes/lower_reducers.py``).

The program keeps the reducer as a ``local.reducer`` buffer, a ``tiledsl.reducer`` call after its allocation (its
op) and ``tiledsl.finalize_reducer`` calls until LowerReducers, the first pass of every target, rewrites them.
"""
from __future__ import annotations

from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError
from ..ir.ops import make_tile_call
from .buffers import as_region, buffer_scope, constant_shape, dtype_str, is_buffer

REDUCER_SCOPE = "local.reducer"
REDUCER_OPS = ("sum", "max", "min")
REPLICATIONS = (None, "all", "none")
_BITWISE = ("bitand", "bitor", "bitxor")


def alloc_reducer(shape, dtype, op: str = "sum", replication=None):
    """A reducer of ``shape`` and ``dtype`` combining with ``op`` ("sum", "max" or "min"); ``replication`` is
    TileLang's storage hint ("all", "none" or None), accepted and not needed."""
    if op in _BITWISE:
        raise TileProgramError(f"T.alloc_reducer: op={op!r} (a bitwise reducer) is not supported yet; "
                               f"use one of {', '.join(REDUCER_OPS)}")
    if op not in REDUCER_OPS:
        raise TileProgramError(f"T.alloc_reducer: unknown op={op!r}; expected one of {', '.join(REDUCER_OPS)}")
    if replication not in REPLICATIONS:
        raise TileProgramError(f"T.alloc_reducer: replication={replication!r}; expected 'all', 'none' or None")
    name = dtype_str(dtype)
    if not name.startswith(("float", "bfloat", "int", "uint")):
        raise TileProgramError(f"T.alloc_reducer: dtype {name} cannot be reduced; use a float or integer dtype")
    buf = _builder.alloc_buffer(constant_shape(shape, "T.alloc_reducer"), name, scope=REDUCER_SCOPE)
    # the reducer's op travels in the IR, next to its allocation, for LowerReducers
    _builder.evaluate(make_tile_call("reducer", [as_region(buf, "T.alloc_reducer")], op=op,
                                     replication=replication or "default"))
    return buf


def finalize_reducer(reducer, dst=None, batch: int = 1, annotations=None):
    """Combine the threads' copies of ``reducer`` (from ``T.alloc_reducer``): afterwards every element holds the
    reduction of all contributions made to it since its ``T.clear`` / ``T.fill``."""
    if dst is not None:
        raise TileProgramError("T.finalize_reducer(reducer, dst): the reducer-v2 form (T.reducer_init / "
                               "T.reducer_update) is not supported yet; write T.clear(r), r[i] += v in T.Parallel, "
                               "then T.finalize_reducer(r) and read r")
    if not isinstance(batch, int) or batch < 1:
        raise TileProgramError(f"T.finalize_reducer: batch={batch!r} must be a positive int")
    if not is_buffer(reducer):
        raise TileProgramError(f"T.finalize_reducer: expected a reducer buffer from T.alloc_reducer, got `{reducer}`")
    if buffer_scope(reducer) != REDUCER_SCOPE:
        raise TileProgramError(f"T.finalize_reducer: {reducer.name} is a '{buffer_scope(reducer)}' buffer, not a "
                               f"reducer; allocate it with T.alloc_reducer(shape, dtype, op=...)")
    return make_tile_call("finalize_reducer", [as_region(reducer, "T.finalize_reducer")])
