"""Distributing an element-wise loop nest over the threads of a block, following a fragment layout.

``distribute(ctx, loop_vars, extents, body, layout)`` turns ``for idx in extents: body(idx)`` into "for each
register slot this thread holds in ``layout``: body(layout.inverse(tid, slot))". Fragment accesses whose indices
are exactly the loop variables become register accesses; global accesses are bounds-guarded (loads outside read
0, stores outside are dropped, as on the CPU). The innermost ``vec`` slots are emitted as a vectorized loop (16
bytes at most) when every memory access is provably contiguous and aligned and no guard depends on the lane;
otherwise as an unrolled loop. Used by LowerTileOpsCUDA for ``T.Parallel``, ``T.copy``, ``T.fill`` and atomics.
"""
from __future__ import annotations

from functools import reduce

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Range, TensorLoad

from ... import config
from ..lowering_options import schedule
from ...errors import TileProgramError
from ..rewriter import substitute, uses_var
from ..tile_lowering_utils import bounds_predicate, dtype_bytes, flat_index, guarded_load, is_global
from .int8_convert import rewrite_vector_cast
from .vector_atomics import vector_atomic
from .layout import MMARows, Replicated
from .smem_swizzle import WGMMATile
from .side_effects import guard_side_effects



class LoopContext:
    """What ``distribute`` needs from the lowering: the analyzer, the thread index and the fragment map."""

    def __init__(self, analyzer, tid, nthreads, layouts, locals_, physical=None, swizzled=(), staging=()):
        self.analyzer = analyzer
        self.tid = tid
        self.nthreads = nthreads
        self.layouts = layouts  # fragment buffer -> layout
        self.locals = locals_  # fragment buffer -> per-thread "local" buffer
        self.physical = physical  # (shared buffer, logical flat offset) -> stored offset (bank-conflict swizzle)
        self.swizzled = swizzled  # the shared buffers ``physical`` permutes (a dict: buffer -> its layout)
        self.staging = set(staging)  # TMA-store staging tiles (one 128-byte panel per row, tma_store.py)


def _is_identity(indices, loop_vars) -> bool:
    return len(indices) == len(loop_vars) and all(
        isinstance(i, tirx.Var) and i.same_as(v) for i, v in zip(indices, loop_vars))


def fragments_in(body, ctx, stores_only: bool = False) -> list:
    """(buffer, indices) of every access (or every store) of a fragment in ``body``."""
    found = []

    def on_load(load):
        if load.source in ctx.layouts and not stores_only:
            found.append((load.source, list(load.indices)))

    def on_store(store):
        if store.buffer in ctx.layouts:
            found.append((store.buffer, list(store.indices)))

    tvm_ffi.structural_walk(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)])
    return found


def driving_layout(ctx, body, loop_vars, extents, what: str):
    """The layout a loop must follow: that of the non-replicated fragments it indexes by its loop variables.

    None when it touches none. A non-replicated fragment indexed any other way, or two fragments with different
    layouts, is a TileProgramError.
    """
    layout = None
    row_reads = []
    for buf, idx in fragments_in(body, ctx):
        lay = ctx.layouts[buf]
        if isinstance(lay, Replicated):
            continue
        if isinstance(lay, MMARows) and len(loop_vars) > 1:
            row_reads.append((buf, idx))  # checked against the loop's accumulator below
            continue
        if not _is_identity(idx, loop_vars) or tuple(lay.shape) != tuple(extents):
            raise TileProgramError(
                f"{what}: fragment {buf.name} {tuple(lay.shape)} is accessed at "
                f"[{', '.join(str(i) for i in idx)}] in a loop over {tuple(extents)}; a fragment can only be "
                f"indexed by the loop variables of a T.Parallel over its whole shape (each thread holds its own "
                f"part). Copy it to shared memory (T.copy) for other access patterns")
        if layout is not None and layout != lay:
            raise TileProgramError(f"{what}: fragments with different layouts ({layout.describe()} and "
                                   f"{lay.describe()}) are used in one loop; T.copy one into a new fragment first")
        layout = lay
    for buf, idx in row_reads:
        if not (layout is not None and ctx.layouts[buf].matches(layout) and len(idx) == 1
                and isinstance(idx[0], tirx.Var) and idx[0].same_as(loop_vars[0])):
            raise TileProgramError(f"{what}: row statistic {buf.name} is read as [{', '.join(map(str, idx))}] in a "
                                   f"loop not spread like its tensor-core accumulator")
    if layout is not None:
        for buf, _ in fragments_in(body, ctx, stores_only=True):
            if isinstance(ctx.layouts[buf], Replicated):
                raise TileProgramError(
                    f"{what}: the replicated fragment {buf.name} (every thread holds all of it, e.g. a reduction "
                    f"output) is written in a loop spread over the threads by another fragment's layout, so most "
                    f"threads would keep stale values; compute it in its own T.Parallel loop, or T.copy the "
                    f"distributed fragment into it")
    return layout


def _address_targets(body) -> list:
    """The loads whose address is taken (``atomicAdd(&buf[i], v)``): they name a location, they do not read it."""
    found = []
    tvm_ffi.structural_walk(body, (Call, lambda c: found.append(c.args[0]) if getattr(c.op, "name", "") ==
                                   "tirx.address_of" and isinstance(c.args[0], TensorLoad) else None))
    return found


def guard_globals(body, analyzer):
    """Loads of global tensors outside their bounds read 0; stores (and atomics) there are dropped."""
    def on_load(load):
        if not is_global(load.source):
            return load
        return guarded_load(load.source, list(load.indices), analyzer)

    def on_call(call):
        # ``&buf[i]`` names a location: its load is not guarded (the statement is, below), even when its
        # indices read guarded global values (``atomicAdd(&Out[idx[i], j], v)``)
        if getattr(call.op, "name", "") != "tirx.address_of":
            return call
        arg = call.args[0]
        if isinstance(arg, Call) and getattr(arg.op, "name", "") == "prim.if_then_else" and isinstance(
                arg.args[1], TensorLoad):
            return tirx.address_of(arg.args[1])
        return call

    def on_store(store):
        if not is_global(store.buffer):
            return store
        pred = bounds_predicate(store.buffer, list(store.indices), analyzer)
        return store if pred is None else tirx.IfThenElse(pred, store, None)

    def on_evaluate(stmt):
        preds = [bounds_predicate(t.source, list(t.indices), analyzer) for t in _address_targets(stmt)
                 if is_global(t.source)]
        preds = [p for p in preds if p is not None]
        return stmt if not preds else tirx.IfThenElse(reduce(tirx.And, preds), stmt, None)

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (Call, on_call), (tirx.BufferStore, on_store),
                                         (tirx.Evaluate, on_evaluate)], order="post")


def _to_registers(body, ctx, loop_vars, slot, layout=None):
    """Fragment accesses by the loop variables -> the thread's register ``slot`` (row statistics read in a loop
    over their accumulator -> the register of that slot's row)."""
    def on_load(load):
        buf = load.source
        lay = ctx.layouts.get(buf)
        if isinstance(lay, MMARows) and len(loop_vars) > 1 and lay.matches(layout):
            return tirx.BufferLoad(ctx.locals[buf], [MMARows.register_of(layout, slot)])
        if buf in ctx.layouts and not isinstance(ctx.layouts[buf], Replicated) and _is_identity(load.indices,
                                                                                                 loop_vars):
            return tirx.BufferLoad(ctx.locals[buf], [slot])
        return load

    def on_store(store):
        buf = store.buffer
        if buf in ctx.layouts and not isinstance(ctx.layouts[buf], Replicated) and _is_identity(store.indices,
                                                                                                  loop_vars):
            return tirx.BufferStore(ctx.locals[buf], store.value, [slot])
        return store

    return tvm_ffi.structural_map(body, [(TensorLoad, on_load), (tirx.BufferStore, on_store)], order="post")


def _accesses(stmt):
    out = []
    tvm_ffi.structural_walk(stmt, [(TensorLoad, lambda l: out.append((l.source, list(l.indices), l.ty))),
                                   (tirx.BufferStore, lambda s: out.append((s.buffer, list(s.indices), None)))])
    return out


_MATH = ("tirx.exp", "tirx.exp2", "tirx.log", "tirx.sqrt", "tirx.rsqrt", "tirx.fabs", "tirx.tanh", "tirx.sigmoid",
         "tirx.pow", "tirx.erf")


def _blocks_vectorizing(stmt, lane) -> bool:
    """True when ``stmt`` holds something TVM's vectorizer or CUDA codegen should not see per lane: loops,
    calls other than math, or a branch whose condition changes across the lanes."""
    found = []

    def on_if(s):
        if uses_var(s.condition, lane):
            found.append(s)

    def on_call(c):
        name = getattr(c.op, "name", "")
        if name == "prim.if_then_else" and not uses_var(c.args[0], lane):
            return
        if name not in _MATH:
            found.append(c)
    tvm_ffi.structural_walk(stmt, [(tirx.IfThenElse, on_if), (tirx.For, lambda s: found.append(s)), (Call, on_call)])
    return bool(found)


def lane_free_guards(stmt, lane, vec: int, ana):
    """Branch conditions that only look like they change across the ``vec`` lanes of a vector group: a bound
    ``e < b`` (or ``<=``, ``>``, ``>=``, either way round) with ``e = e0 + lane``, ``e0`` a multiple of ``vec``
    and the split point a constant multiple of ``vec`` holds for every lane iff it holds for lane 0 (the column
    range of a fragment part, as a TMA-store chunk copies). Such conditions are evaluated at lane 0."""
    zero = {lane: tirx.const(0, "int32")}

    def aligned_base(expr) -> bool:
        base = substitute(expr, zero)
        return ana.can_prove(ana.simplify(expr - base - lane) == 0) and \
            ana.can_prove(tirx.floormod(base, vec) == 0)

    def free(cond):
        if not uses_var(cond, lane):
            return cond
        if isinstance(cond, tirx.And):
            a, b = free(cond.a), free(cond.b)
            return None if a is None or b is None else tirx.And(a, b)
        if isinstance(cond, (tirx.LT, tirx.LE, tirx.GT, tirx.GE)):
            left_varies = uses_var(cond.a, lane)
            varying, bound = (cond.a, cond.b) if left_varies else (cond.b, cond.a)
            if uses_var(bound, lane) or not isinstance(bound, tirx.IntImm):
                return None
            # e <= b and e > b (written either way round) split the lanes at b + 1, the others at b
            plus_one = (isinstance(cond, (tirx.LE, tirx.GT)) and left_varies) or \
                (isinstance(cond, (tirx.LT, tirx.GE)) and not left_varies)
            if (int(bound) + plus_one) % vec or not aligned_base(varying):
                return None
            return substitute(cond, zero)
        return None

    def on_if(branch):
        cond = free(branch.condition) if uses_var(branch.condition, lane) else None
        return branch if cond is None else tirx.IfThenElse(cond, branch.then_case, branch.else_case)
    return tvm_ffi.structural_map(stmt, [(tirx.IfThenElse, on_if)], order="post")


def hoist_guards(stmt, lane):
    """``buf[i] = if_then_else(p, load, 0)`` with ``p`` the same for every lane -> ``if p: buf[i] = load else:
    buf[i] = 0`` (a vectorizable form)."""
    def on_store(store):
        v = store.value
        if isinstance(v, Call) and getattr(v.op, "name", "") == "prim.if_then_else" and not uses_var(v.args[0], lane):
            return tirx.IfThenElse(v.args[0], tirx.BufferStore(store.buffer, v.args[1], list(store.indices)),
                                   tirx.BufferStore(store.buffer, v.args[2], list(store.indices)))
        return store
    return tvm_ffi.structural_map(stmt, [(tirx.BufferStore, on_store)], order="post")


def vector_width(ctx, body, lane, vec: int) -> int:
    """Lanes of the innermost vectorized loop over ``lane`` (1: do not vectorize)."""
    if vec <= 1 or _blocks_vectorizing(body, lane):
        return 1
    width = vec
    ana = ctx.analyzer
    for buf, idx, _ in _accesses(body):
        if str(buf.ty.dtype).startswith("float8"):
            # TVM prints some float8 vector conversions as casts nvcc refuses (8 float8 lanes to float16 as
            # uint2 -> uint4) and stores float8 as bytes before sm_89: element by element, as before 2026-12-05
            return 1
        if buf in ctx.locals.values() or buf.scope() == "local":
            # registers: by default (TILEDSL_WIDE_REGISTER_VECTORS) up to 8 lanes whatever their type, so that the
            # memory side of a converting copy (fp16 in memory, fp32 in registers) moves 16 bytes per access
            width = min(width, 8 if schedule("TILEDSL_WIDE_REGISTER_VECTORS") else
                        max(1, 16 // dtype_bytes(buf.ty.dtype)))
            continue
        width = min(width, max(1, 16 // dtype_bytes(buf.ty.dtype)))
        shape = list(buf.ty.shape)
        flat0 = flat_index([substitute(i, {lane: tirx.const(0, "int32")}) for i in idx], shape)
        flat1 = flat_index([substitute(i, {lane: tirx.const(1, "int32")}) for i in idx], shape)
        step = ana.simplify(flat1 - flat0)
        if isinstance(step, tirx.IntImm) and int(step) == 0:
            continue  # broadcast over the lanes
        if not (isinstance(step, tirx.IntImm) and int(step) == 1):
            return 1
        while width > 1 and not ana.can_prove(tirx.floormod(flat0, width) == 0):
            width //= 2
        if buf in ctx.swizzled:
            width = _swizzled_width(ctx, buf, flat0, width)
    if width > 4 and _byte_arithmetic_with_constant(body):
        width = 4
    while width > 1 and vec % width:
        width //= 2
    return width


_ARITHMETIC = (tirx.Add, tirx.Sub, tirx.Mul, tirx.Div, tirx.FloorDiv, tirx.FloorMod, tirx.Min, tirx.Max)


def _byte_arithmetic_with_constant(body) -> bool:
    """True when ``body`` computes on 8-bit integers with a constant (``-x``, ``x + 3``, ``max(x, 0)``): TVM 0.27
    prints such a constant on 8 or 16 lanes as make_int2 / make_int4 with one argument per lane, which nvcc
    refuses; 4 lanes print correctly (so such loops were never built wider)."""
    found = []

    def on_node(node):
        if str(node.ty) in ("int8", "uint8") and any(isinstance(x, tirx.IntImm) for x in (node.a, node.b)):
            found.append(node)
    tvm_ffi.structural_walk(body, [(cls, on_node) for cls in _ARITHMETIC])
    return bool(found)


def _swizzled_width(ctx, buf, flat0, width: int) -> int:
    """The widest vector (<= ``width``) whose lanes stay consecutive after ``buf``'s swizzle, provably (else TVM
    vectorizes the swizzled index itself, as int32xN index vectors its CUDA codegen cannot always print)."""
    ana = ctx.analyzer
    layout = ctx.swizzled.get(buf) if isinstance(ctx.swizzled, dict) else None
    if buf in ctx.staging and isinstance(layout, WGMMATile) and layout.cols == layout.panel:
        # the wgmma tile layout permutes whole 16-byte chunks of rows that hold whole chunks: an aligned vector
        # that fits in a chunk stays in one, consecutive and as aligned as its logical offset (one panel per row,
        # as a TMA-store staging tile: TVM then prints the swizzled index as a scalar base plus the lane; with
        # several panels it may vectorize the index itself, which its CUDA printer cannot always print; other
        # tiles keep the analyzer's proof below, the code their GPU tests ran)
        while width > 1 and (layout.chunk % width or not ana.can_prove(tirx.floormod(flat0, width) == 0)):
            width //= 2
        return width
    base = ctx.physical(buf, flat0)
    while width > 1:
        lane = tirx.Var("lane", "int32")
        ana.bind(lane, Range.from_min_extent(0, width), allow_override=True)
        step = ana.simplify(ctx.physical(buf, flat0 + lane) - base - lane)
        if isinstance(step, tirx.IntImm) and int(step) == 0 and ana.can_prove(tirx.floormod(base, width) == 0):
            return width
        width //= 2
    return 1


def distribute(ctx, loop_vars, extents, body, layout, what: str, vectorize: bool = True, aligned_guards=False):
    """Run ``body`` (over ``loop_vars`` in ``extents``) once per element on each thread ``layout`` names as a
    holder; where several threads hold an element, its side effects run on one of them (``replica_guard``).
    ``aligned_guards``: evaluate guards that cannot split a vector group at its first lane (``lane_free_guards``;
    only the TMA-store staging copies ask for it so far: elsewhere it would change GPU-tested code unrun)."""
    vec = getattr(layout, "vec", 1)
    n_outer = layout.local_size // vec
    outer = tirx.Var("r", "int32")
    lane = tirx.Var("v", "int32")
    ana = ctx.analyzer
    ana.bind(outer, Range.from_min_extent(0, max(n_outer, 1)), allow_override=True)
    ana.bind(lane, Range.from_min_extent(0, vec), allow_override=True)
    slot = outer * vec + lane if vec > 1 else outer
    idx = [ana.simplify(e) for e in layout.inverse(ctx.tid, slot)]
    valid = layout.valid(ctx.tid, slot)
    stmt = _to_registers(body, ctx, loop_vars, slot, layout)
    stmt = substitute(stmt, dict(zip(loop_vars, idx)))
    # bounds facts for the guards: the element lies inside the loop's extents
    stmt = guard_globals(stmt, ana)
    # an element held by several threads (row statistics): its stores and atomics run on one of them
    stmt = guard_side_effects(stmt, layout.replica_guard(ctx.tid))
    width = 1
    atomics = vector_atomic(ctx, stmt, lane, vec, lambda store, ln, v: vector_width(ctx, store, ln, v)) \
        if vec > 1 else None
    if atomics is not None:  # TILEDSL_VECTOR_ATOMICS: float32 atomic adds, 2 or 4 lanes at once (sm_90+)
        stmt, vec = atomics, 1
    elif vectorize and vec > 1:
        hoisted = hoist_guards(lane_free_guards(stmt, lane, vec, ana) if aligned_guards else stmt, lane)
        width = vector_width(ctx, hoisted, lane, vec)
        if width > 1:
            stmt = hoisted
    if vec > 1:
        if width > 1:
            inner = tirx.Var("vi", "int32")
            vo = tirx.Var("vo", "int32")
            stmt = substitute(stmt, {lane: vo * width + inner})
            fast = rewrite_vector_cast(inner, width, stmt, ctx.physical) if config.fast_int8_cast_enabled() else None
            stmt = fast if fast is not None else tirx.For(inner, 0, width, tirx.ForKind.VECTORIZED, stmt)
            if vec // width > 1:
                stmt = tirx.For(vo, 0, vec // width, tirx.ForKind.UNROLLED, stmt)
            else:
                stmt = substitute(stmt, {vo: tirx.const(0, "int32")})
        else:
            stmt = tirx.For(lane, 0, vec, tirx.ForKind.UNROLLED, stmt)
    if valid is not None:  # a whole group of ``vec`` slots is valid or not
        stmt = tirx.IfThenElse(ana.simplify(valid), stmt, None)
    if n_outer == 1:
        return substitute(stmt, {outer: tirx.const(0, "int32")})
    kind = tirx.ForKind.UNROLLED if n_outer <= 128 else tirx.ForKind.SERIAL  # registers need constant indices
    return tirx.For(outer, 0, n_outer, kind, stmt)
