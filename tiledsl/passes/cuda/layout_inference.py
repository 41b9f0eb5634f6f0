"""Fragment layout inference: one layout per ``local.fragment`` buffer, chosen from how the program uses it.

Replicated fragments (every thread holds all of it) are found first, to a fixpoint:

* the output of ``T.reduce_*`` is replicated (every thread needs the row statistics it broadcasts);
* a fragment indexed in a ``T.Parallel`` by anything but that loop's own variables over its whole shape
  (``scale[i]`` inside ``for i, j in T.Parallel(M, N)``) is replicated: any thread may need any element;
* a ``T.Parallel`` loop that writes a replicated fragment runs on every thread, so every fragment it touches is
  replicated too.

Then the distributed ones: the accumulator of a ``T.gemm`` lowered to ``mma.sync`` gets the
:class:`MMAAccumulator` layout; a fragment copied to or from a fragment of the same shape takes that fragment's
layout (so ``T.copy(acc_s, acc_s_cast)`` costs no communication); anything else is :class:`Striped`. A fragment
that would need two different layouts is a TileProgramError naming both roles.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad

from ...errors import TileProgramError
from ...ir.ops import is_tile_call
from ...language.loops import PARALLEL_ATTR
from ..tile_lowering_utils import const_ints
from .layout import Replicated, Striped, default_vec

FRAGMENT = "local.fragment"


def fragment_buffers(body) -> list:
    """The fragment buffers allocated in ``body``, in order."""
    found = []

    def on_alloc(stmt):
        if stmt.buffer.scope() == FRAGMENT:
            found.append(stmt.buffer)

    tvm_ffi.structural_walk(body, (tirx.AllocBuffer, on_alloc))
    return found


def buffer_shape(buf) -> tuple:
    """A fragment's constant shape."""
    return tuple(const_ints(list(buf.ty.shape), f"fragment {buf.name}"))


def _parallel_nests(body) -> list:
    """(loop vars, extents, body, [(buf, indices, is_store)]) of every outermost T.Parallel nest."""
    nests = []

    def on_for(loop):
        if PARALLEL_ATTR not in loop.annotations:
            return
        nests.append(loop)
    tvm_ffi.structural_walk(body, (tirx.For, on_for))
    inner = set()
    for loop in nests:
        if isinstance(loop.body, tirx.For) and PARALLEL_ATTR in loop.body.annotations:
            inner.add(loop.body)
    out = []
    for loop in nests:
        if loop in inner:
            continue
        loop_vars, extents, b = [], [], loop
        while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
            loop_vars.append(b.loop_var)
            extents.append(b.extent)
            b = b.body
        accesses = []
        tvm_ffi.structural_walk(b, [
            (TensorLoad, lambda l: accesses.append((l.source, list(l.indices), False))),
            (tirx.BufferStore, lambda s: accesses.append((s.buffer, list(s.indices), True)))])
        out.append((loop_vars, extents, accesses))
    return out


def _identity(indices, loop_vars, extents, buf) -> bool:
    if len(indices) != len(loop_vars) or not all(isinstance(i, tirx.Var) and i.same_as(v)
                                                 for i, v in zip(indices, loop_vars)):
        return False
    try:
        return tuple(const_ints(list(extents), "T.Parallel")) == buffer_shape(buf)
    except TileProgramError:
        return False


def infer_layouts(body, nthreads: int, mma_accumulators: dict) -> dict:
    """Map each fragment buffer to its layout. ``mma_accumulators`` maps gemm accumulators to their mma layout."""
    frags = fragment_buffers(body)
    fragset = set(frags)
    why_replicated: dict = {}
    calls = []
    tvm_ffi.structural_walk(body, (Call, lambda c: calls.append(c) if is_tile_call(c) else None))
    for c in calls:
        if c.op.name.endswith(".reduce") and c.args[1].source in fragset:
            why_replicated.setdefault(c.args[1].source, "the output of a reduction")
    nests = _parallel_nests(body)
    for loop_vars, extents, accesses in nests:
        for buf, idx, _ in accesses:
            if buf in fragset and not _identity(idx, loop_vars, extents, buf):
                why_replicated.setdefault(buf, "a fragment indexed by a subset of a T.Parallel's variables")
    changed = True
    while changed:
        changed = False
        for _, _, accesses in nests:
            if any(st and buf in why_replicated for buf, _, st in accesses):
                for buf, _, _ in accesses:
                    if buf in fragset and buf not in why_replicated:
                        why_replicated[buf] = "a fragment used in a T.Parallel loop that writes a replicated one"
                        changed = True

    layouts: dict = {}
    roles: dict = {}
    for buf, why in why_replicated.items():
        layouts[buf], roles[buf] = Replicated(buffer_shape(buf)), why
    for buf, lay in mma_accumulators.items():
        if buf in layouts:
            raise TileProgramError(
                f"fragment {buf.name} is {roles[buf]} (every thread holds all of it) and a tensor-core gemm "
                f"accumulator (each thread holds a part); use a separate fragment for each role and T.copy between")
        layouts[buf], roles[buf] = lay, "a tensor-core gemm accumulator"
    # copies between same-shape fragments share a layout
    edges = [(c.args[0].source, c.args[1].source) for c in calls if c.op.name.endswith(".copy")
             and c.args[0].source in fragset and c.args[1].source in fragset
             and buffer_shape(c.args[0].source) == buffer_shape(c.args[1].source)]
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x in layouts and y not in layouts and not isinstance(layouts[x], Replicated):
                    layouts[y], roles[y] = layouts[x], f"copied to/from {x.name}"
                    changed = True
    for buf in frags:
        if buf not in layouts:
            shape = buffer_shape(buf)
            layouts[buf] = Striped(shape, nthreads, default_vec(shape, nthreads))
    return layouts
