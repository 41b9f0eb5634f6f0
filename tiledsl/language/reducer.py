"""Cross-thread reducers: ``T.alloc_reducer``, ``T.finalize_reducer`` and ``T.reducer_init`` / ``T.reducer_update``.

A reducer is a buffer that the threads of a block update inside ``T.Parallel`` loops (``r[i] += v``,
``r[i] = T.max(r[i], v)``, ``r[i] = T.min(r[i], v)``) between ``T.clear(r)`` / ``T.fill(r, x)`` and
``T.finalize_reducer(r)``; after the finalize, ``r`` holds for each element the combination of every contribution
made to it (and of the fill value, for max and min), as a fragment every thread can read. Each contribution counts
exactly once, whatever the threads that made it. ``replication`` ("all" / "none") is TileLang's hint on where the
per-thread copies live; it never changes a result, and tiledsl chooses the storage itself
(``tiledsl/passes/lower_reducers.py``). TileLang's newer form is the same epoch spelled ``T.reducer_init(r[, init])``,
``T.reducer_update(r[i], v)`` and ``T.finalize_reducer(r, dst)`` (the result in the fragment ``dst``; ``init``,
taken at the init, counted once per element).

The program keeps the reducer as a ``local.reducer`` buffer, a ``tiledsl.reducer`` call after its allocation (its
op) and ``tiledsl.reducer_init`` / ``reducer_update`` / ``finalize_reducer`` calls until LowerReducers, the first
pass of every target, rewrites them.
"""
from __future__ import annotations

from tvm import tirx
from tvm.ir import TensorLoad
from tvm.script.ir_builder import tirx as _builder

from ..errors import TileProgramError
from ..ir.ops import make_tile_call
from .buffers import FRAGMENT_SCOPE, as_region, buffer_scope, constant_shape, dtype_str, is_buffer

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


def _check_reducer(reducer, what: str) -> None:
    if not is_buffer(reducer):
        raise TileProgramError(f"{what}: expected a reducer buffer from T.alloc_reducer, got `{reducer}`")
    if buffer_scope(reducer) != REDUCER_SCOPE:
        raise TileProgramError(f"{what}: {reducer.name} is a '{buffer_scope(reducer)}' buffer, not a reducer; "
                               f"allocate it with T.alloc_reducer(shape, dtype, op=...)")


def finalize_reducer(reducer, dst=None, batch: int = 1, annotations=None):
    """Combine the threads' copies of ``reducer`` (from ``T.alloc_reducer``): afterwards every element of the
    reducer (or of ``dst``, a fragment of its shape and dtype, in TileLang's newer form) holds the reduction of all
    contributions made to it since its ``T.clear`` / ``T.fill`` / ``T.reducer_init``. ``batch`` (TileLang's
    grouping of the collective) changes no result."""
    _check_reducer(reducer, "T.finalize_reducer")
    if not isinstance(batch, int) or batch < 1:
        raise TileProgramError(f"T.finalize_reducer: batch={batch!r} must be a positive int")
    args = [as_region(reducer, "T.finalize_reducer")]
    if dst is not None:
        if not is_buffer(dst) or buffer_scope(dst) not in (FRAGMENT_SCOPE, "local"):
            raise TileProgramError(f"T.finalize_reducer: the destination `{getattr(dst, 'name', dst)}` must be a "
                                   f"fragment (T.alloc_fragment) of the reducer's shape and dtype")
        if [int(s) for s in dst.ty.shape] != [int(s) for s in reducer.ty.shape] \
                or str(dst.ty.dtype) != str(reducer.ty.dtype):
            raise TileProgramError(f"T.finalize_reducer: the destination {dst.name} is {tuple(dst.ty.shape)} "
                                   f"{dst.ty.dtype} but the reducer {reducer.name} is {tuple(reducer.ty.shape)} "
                                   f"{reducer.ty.dtype}; they must match")
        args.append(as_region(dst, "T.finalize_reducer"))
    return make_tile_call("finalize_reducer", args)


def reducer_init(reducer, init=None):
    """Open a reducer's epoch (TileLang's newer form): every element starts from the op's identity, and ``init``
    (a number or a scalar expression, taken as it is here), when given, counts as one more contribution to each
    element, once."""
    _check_reducer(reducer, "T.reducer_init")
    args = [as_region(reducer, "T.reducer_init")]
    if init is not None:
        dtype = str(reducer.ty.dtype)
        if isinstance(init, (int, float)) and not isinstance(init, bool):
            init = tirx.const(init, dtype)
        elif not isinstance(init, tirx.PrimExpr):
            raise TileProgramError(f"T.reducer_init: init=`{init}` must be a number or a scalar expression")
        elif str(init.ty) != dtype:
            raise TileProgramError(f"T.reducer_init: init `{init}` is {init.ty} but the reducer {reducer.name} is "
                                   f"{dtype}; cast it (T.cast(x, \"{dtype}\"))")
        args.append(init)
    return make_tile_call("reducer_init", args)


def reducer_update(target, value):
    """Contribute ``value`` to the reducer element ``target`` (``acc[i]``, written directly, inside a
    ``T.Parallel`` over the loop variables that index it): TileLang's newer form of ``acc[i] += value``."""
    if not isinstance(target, TensorLoad) or buffer_scope(target.source) != REDUCER_SCOPE:
        raise TileProgramError(f"T.reducer_update: the first argument must be an element of a reducer, written "
                               f"`acc[i]` with acc from T.alloc_reducer; got `{target}`")
    dtype = str(target.source.ty.dtype)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = tirx.const(value, dtype)
    elif str(value.ty) != dtype:
        value = tirx.Cast(dtype, value)
    return make_tile_call("reducer_update", [target, value])
