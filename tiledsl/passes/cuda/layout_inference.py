"""Fragment layout inference: one layout per ``local.fragment`` buffer, chosen from how the program uses it.

Replicated fragments (every thread holds all of it) are found first, to a fixpoint:

* the output of ``T.reduce_*`` is replicated (every thread needs the row statistics it broadcasts);
* a fragment indexed in a ``T.Parallel`` by anything but that loop's own variables over its whole shape
  (``scale[i]`` inside ``for i, j in T.Parallel(M, N)``) is replicated: any thread may need any element;
* a fragment read or written element by element outside every ``T.Parallel`` (``if mask[k]:`` in a serial loop)
  is replicated: every thread runs that code and needs the element;
* a ``T.Parallel`` loop that writes a replicated fragment runs on every thread, so every fragment it touches is
  replicated too.

Then the distributed ones: the accumulator of a ``T.gemm`` lowered to ``mma.sync`` gets the
:class:`MMAAccumulator` layout; a fragment copied to or from a fragment of the same shape takes that fragment's
layout (so ``T.copy(acc_s, acc_s_cast)`` costs no communication), and so does a fragment indexed by the loop
variables of a ``T.Parallel`` over its whole shape together with one that has a layout (``acc[i, j] += x[i, j]``:
each thread then finds both elements in its own registers); anything else is :class:`Striped`. A fragment
that would need two different layouts is a TileProgramError naming both roles.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad

from ...errors import TileProgramError
from ...ir.ops import is_tile_call
from ...language.loops import PARALLEL_ATTR
from ..tile_lowering_utils import const_ints, outermost_nests
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
    """(loop vars, extents, [(buf, indices, is_store)]) of every outermost T.Parallel nest."""
    out = []
    for loop, loop_vars, extents in outermost_nests(body):
        b = loop
        while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
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
    if not all(isinstance(e, tirx.IntImm) for e in extents):
        return False  # a symbolic extent (a dynamic size) never spans a whole fragment
    return tuple(int(e) for e in extents) == buffer_shape(buf)


def _whole_fragment_to_memory(copy, one_d) -> bool:
    """True for a ``T.copy`` between a whole 1-d fragment and memory that is no fragment (global, shared, local):
    such a copy works with any layout of the fragment, so it does not constrain a row-statistic group."""
    regions = [a for a in copy.args if hasattr(a, "source") and hasattr(a, "region")]
    if len(regions) != 2:
        return False
    frag = [r for r in regions if r.source.scope() == FRAGMENT]
    if len(frag) != 1 or frag[0].source not in one_d:
        return False
    region = frag[0].region[0]
    return (isinstance(region.min, tirx.IntImm) and int(region.min) == 0 and isinstance(region.extent, tirx.IntImm)
            and (int(region.extent),) == buffer_shape(frag[0].source))


def _mma_row_groups(frags, calls, nests, mma_accumulators) -> dict:
    """Row-statistic fragments that can take the :class:`MMARows` layout of an mma accumulator.

    1-d fragments linked by copies and 1-d ``T.Parallel`` loops form a group; the group gets the rows layout when
    every use is one of: the output of a reduction over dim 1 of an mma accumulator, ``m[i]`` read in a loop over
    ``(i, j)`` driven by an mma accumulator, an identity access in a 1-d loop, a fill, a copy inside the group, a
    copy of the whole fragment to or from memory that is no fragment - and all of those agree on the warp grid.
    Anything else leaves the group to the replicated rule.
    """
    one_d = {b for b in frags if len(buffer_shape(b)) == 1}
    parent = {b: b for b in one_d}

    def find(b):
        while parent[b] is not b:
            b = parent[b]
        return b

    def union(a, b):
        parent[find(a)] = find(b)

    bad, sigs = set(), {}

    def sig_of(b, acc):
        rows_layout = acc.rows_layout()
        if rows_layout is None:  # an accumulator without row statistics (SwappedWGMMAAccumulator)
            bad.add(b)
            return
        sigs.setdefault(b, set()).add(rows_layout)

    for c in calls:
        name = c.op.name.split(".", 1)[1]
        bufs = [a.source for a in c.args if hasattr(a, "source") and hasattr(a, "region")]
        if name == "copy" and all(b in one_d for b in bufs):
            union(bufs[0], bufs[1])
        elif name == "copy" and _whole_fragment_to_memory(c, one_d):
            pass  # lowered over the fragment's own layout, each store on one holder (replica_guard)
        elif name == "fill":
            pass
        elif name == "reduce" and bufs[1] in one_d:
            acc = mma_accumulators.get(bufs[0])
            if acc is not None and int(c.attrs["dim"]) == 1 and bufs[0] not in one_d:
                sig_of(bufs[1], acc)
            else:
                bad.add(bufs[1])
            if bufs[0] in one_d:
                bad.add(bufs[0])
        else:
            bad.update(b for b in bufs if b in one_d)
    for loop_vars, extents, accesses in nests:
        members = [(b, idx, st) for b, idx, st in accesses if b in one_d]
        if not members:
            continue
        if len(loop_vars) == 1:
            firsts = [b for b, idx, _ in members if _identity(idx, loop_vars, extents, b)]
            for b, idx, _ in members:
                if not _identity(idx, loop_vars, extents, b):
                    bad.add(b)
            for b in firsts[1:]:
                union(firsts[0], b)
            continue
        drivers = [mma_accumulators[b] for b, idx, _ in accesses
                   if b in mma_accumulators and _identity(idx, loop_vars, extents, b)]
        for b, idx, st in members:
            ok = (not st and len(idx) == 1 and isinstance(idx[0], tirx.Var) and idx[0].same_as(loop_vars[0])
                  and len(drivers) >= 1)
            if ok:
                for acc in drivers:
                    sig_of(b, acc)
            else:
                bad.add(b)
    groups: dict = {}
    for b in one_d:
        groups.setdefault(find(b), []).append(b)
    out = {}
    for members in groups.values():
        group_sigs = set().union(*[sigs.get(b, set()) for b in members])
        if len(group_sigs) != 1 or any(b in bad for b in members):
            continue
        rows_layout = next(iter(group_sigs))
        if any(buffer_shape(b) != tuple(rows_layout.shape) for b in members):
            continue
        for b in members:
            out[b] = rows_layout
    return out


def _scalar_accesses(body, fragset) -> set:
    """Fragments read or written element by element outside every ``T.Parallel`` nest (``if mask[k]:`` in a serial
    loop, ``x[0] = ...`` in thread code): any thread may need any element there."""
    def accesses(node) -> list:
        found = []
        tvm_ffi.structural_walk(node, [
            (TensorLoad, lambda l: found.append(l) if l.source in fragset else None),
            (tirx.BufferStore, lambda s: found.append(s) if s.buffer in fragset else None)])
        return found

    in_nests = {n.__chandle__() for loop, _, _ in outermost_nests(body) for n in accesses(loop)}
    return {(n.source if isinstance(n, TensorLoad) else n.buffer) for n in accesses(body)
            if n.__chandle__() not in in_nests}


def _replicated(fragset, calls, nests, rows, scalar_accessed=frozenset()) -> dict:
    """Fragments every thread must hold whole (see the module docstring), with the reason."""
    why_replicated: dict = {}
    for buf in scalar_accessed:
        if buf not in rows:
            why_replicated.setdefault(buf, "a fragment read or written element by element outside T.Parallel")
    for c in calls:
        if c.op.name.endswith(".reduce") and c.args[1].source in fragset and c.args[1].source not in rows:
            why_replicated.setdefault(c.args[1].source, "the output of a reduction")
    for loop_vars, extents, accesses in nests:
        for buf, idx, _ in accesses:
            if buf in fragset and buf not in rows and not _identity(idx, loop_vars, extents, buf):
                why_replicated.setdefault(buf, "a fragment indexed by a subset of a T.Parallel's variables")
    changed = True
    while changed:
        changed = False
        for _, _, accesses in nests:
            if any(st and buf in why_replicated for buf, _, st in accesses):
                for buf, _, _ in accesses:
                    if buf in fragset and buf not in why_replicated and buf not in rows:
                        why_replicated[buf] = "a fragment used in a T.Parallel loop that writes a replicated one"
                        changed = True
    return why_replicated


def infer_layouts(body, nthreads: int, mma_accumulators: dict) -> dict:
    """Map each fragment buffer to its layout. ``mma_accumulators`` maps gemm accumulators to their mma layout."""
    frags = fragment_buffers(body)
    fragset = set(frags)
    why_replicated: dict = {}
    calls = []
    tvm_ffi.structural_walk(body, (Call, lambda c: calls.append(c) if is_tile_call(c) else None))
    nests = _parallel_nests(body)
    rows = _mma_row_groups(frags, calls, nests, mma_accumulators)
    scalar_accessed = _scalar_accesses(body, fragset)
    while True:
        why_replicated = _replicated(fragset, calls, nests, rows, scalar_accessed)
        clash = {b for _, _, acc in nests if any(st and b2 in why_replicated for b2, _, st in acc)
                 for b, _, _ in acc if b in rows}
        if not clash:
            break
        drop = {b for b in rows if any(rows[b] == rows[c] for c in clash)}
        rows = {b: lay for b, lay in rows.items() if b not in drop}
    layouts: dict = dict(rows)
    roles: dict = {b: "a row statistic of a tensor-core accumulator" for b in rows}
    for buf, why in why_replicated.items():
        layouts[buf], roles[buf] = Replicated(buffer_shape(buf)), why
    for buf, lay in mma_accumulators.items():
        if buf in layouts:
            raise TileProgramError(
                f"fragment {buf.name} is {roles[buf]} (every thread holds all of it) and a tensor-core gemm "
                f"accumulator (each thread holds a part); use a separate fragment for each role and T.copy between")
        layouts[buf], roles[buf] = lay, "a tensor-core gemm accumulator"
    # copies between same-shape fragments share a layout, and so do fragments indexed by the loop variables of
    # one T.Parallel over their whole shape (``acc[i, j] += x[i, j]``: x takes the accumulator's layout)
    edges = [(c.args[0].source, c.args[1].source) for c in calls if c.op.name.endswith(".copy")
             and c.args[0].source in fragset and c.args[1].source in fragset
             and buffer_shape(c.args[0].source) == buffer_shape(c.args[1].source)]
    for loop_vars, extents, accesses in nests:
        whole = []
        for buf, idx, _ in accesses:
            if buf in fragset and buf not in whole and _identity(idx, loop_vars, extents, buf):
                whole.append(buf)
        edges += [(a, b) for a, b in zip(whole, whole[1:])]
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
