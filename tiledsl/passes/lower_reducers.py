"""LowerReducers: ``T.alloc_reducer`` / ``T.finalize_reducer`` become fragments and ``T.reduce_*`` calls.

Expects: a PrimFunc from the language, before any other pass of either target: reducers are ``local.reducer``
buffers, each declared by a ``tiledsl.reducer`` call (its op) and closed by ``tiledsl.finalize_reducer`` calls.
Guarantees: no reducer remains; the program uses only fragments, ``T.fill``, ``T.Parallel`` and ``T.reduce_*``,
which every target already lowers (on CUDA: per-thread partials, warp shuffles and a shared scratch tile).

How: every ``T.Parallel`` nest that updates a reducer ``r`` (``r[i] = r[i] + v``, ``T.max(r[i], v)``,
``T.min(r[i], v)``; ``r[i]`` indexed by some of the nest's loop variables) gets a *partial*: a fragment
shaped like the nest, updated at the iteration's own element (``part[i, j] = part[i, j] + v``), so each
iteration's contribution lands in the registers of the thread that runs it, and threads that update different
elements keep disjoint copies. ``T.clear(r)`` / ``T.fill(r, x)`` fill the partials; ``T.finalize_reducer(r)``
reduces each partial over the loop dimensions ``r`` does not index into ``r`` (the first one overwriting, the
next ones combining), which is the cross-thread reduction over the threads that hold copies of an element. After
the finalize ``r`` is an ordinary fragment (replicated: every thread reads every element). Each contribution is
counted once, whatever the thread mapping; a fill of a max/min reducer acts as one more contribution, and a sum
reducer must start from zero (as in TileLang, whose non-zero fill depended on the number of threads). Indices
that permute the loop's variables reduce into a fragment first, then store it transposed. A nest that
indexes ``r`` by values it does not change (``r[i]`` with ``i`` from a ``T.serial`` around it) has its partial
reduced and folded into ``r``'s fragment after each run instead.

TileLang's newer form maps onto the same plan: ``T.reducer_init(r)`` fills the partials with the op's identity,
``T.reducer_update(r[i], v)`` is an update, and ``T.finalize_reducer(r, dst)`` reduces into ``dst`` and then
combines ``T.reducer_init``'s ``init`` (kept in a one-element fragment at the init) into each element once.

A reducer used any other way (read or written elsewhere between its fill and its finalize, updated outside
``T.Parallel``, updated with another op than its own) is a TileProgramError naming the reducer and the statement.
The updates inside the nests are rewritten by ``reducer_updates``; this module handles the epochs around them.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad, TensorRegion

from ..ir.ops import is_tile_call, make_tile_call
from ..language.loops import PARALLEL_ATTR
from .pass_errors import keep_tiledsl_errors
from .reducer_updates import (COMBINE, FRAGMENT, Reducer, first_read, fill_stmt, fold_into, outermost_nests,
                              raised_error, reads, reduce_chain, reducer_of, rewrite_nest, stores_to, whole)
from .rewriter import loop_nest, seq, substitute
from .tile_lowering_utils import reduce_identity


def _declared(body) -> list:
    """[(reducer buffer, op, span of its allocation)] from the ``tiledsl.reducer`` calls."""
    found = []

    def on_eval(stmt):
        if is_tile_call(stmt.value, "reducer"):
            found.append((stmt.value.args[0].source, str(stmt.value.attrs["op"]), getattr(stmt, "span", None)))
    tvm_ffi.structural_walk(body, (tirx.Evaluate, on_eval))
    return found


def uses_reducers(func) -> bool:
    """True when ``func`` declares a reducer (T.alloc_reducer) that LowerReducers has not rewritten yet."""
    return bool(_declared(func.body))


def _init(red, call):
    """``T.reducer_init(r[, init])``: the partials start from the op's identity; ``init`` (the identity without
    one) is kept in a one-element fragment, as it is now, and joins each element once at the finalize."""
    identity = reduce_identity(red.op, str(red.buf.ty.dtype))
    stmts = [fill_stmt(p, identity) for p, *_ in red.parts]
    if red.folded:
        stmts.append(fill_stmt(red.result, identity))
    if red.seed is not None:
        start = call.args[1] if len(call.args) > 1 else identity
        stmts.append(tirx.BufferStore(red.seed, start, [tirx.const(0, "int32")]))
    return seq(stmts)


def _fill(red, call):
    """``T.clear(r)`` / ``T.fill(r, x)``: the partials (and r's fragment, where runs are folded into it) start
    from ``x``."""
    region, value = call.args
    shape = [int(e) for e in red.buf.ty.shape]
    if not all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 and isinstance(r.extent, tirx.IntImm)
               and int(r.extent) == e for r, e in zip(region.region, shape)):
        red.fail("is filled only in part; T.clear / T.fill a reducer whole", call)
    if red.op == "sum" and not (isinstance(value, (tirx.IntImm, tirx.FloatImm)) and float(value.value) == 0.0):
        red.fail("(op='sum') is filled with a non-zero value; the result would depend on how many threads hold "
                 "copies. Start from T.clear(r) and add the value after T.finalize_reducer(r)", call)
    targets = [p for p, *_ in red.parts]
    if red.folded or not red.parts:
        targets.append(red.result)
    return seq([fill_stmt(t, value) for t in targets])


def _finalize(red, call):
    """The reductions of every partial into the reducer's fragment (or the destination of TileLang's newer form),
    then the ``T.reducer_init`` value, once."""
    if (red.parts or red.folded) and not red.filled:
        red.fail("is finalized without a T.clear(r) / T.fill(r, x) / T.reducer_init(r) to start from", call)
    result = call.args[1].source if len(call.args) > 1 else red.result
    stmts = _reductions(red, call, result)
    seed = tirx.BufferLoad(red.seed, [tirx.const(0, "int32")]) if red.seed is not None else None
    if len(call.args) > 1 and not red.parts and not red.folded:  # no contribution: the identity (then the init)
        stmts = [fill_stmt(result, reduce_identity(red.op, str(result.ty.dtype)))]
    if seed is not None:
        def once(idx):
            return tirx.BufferStore(result, COMBINE[red.op](tirx.BufferLoad(result, idx), seed), idx)
        stmts.append(loop_nest([int(e) for e in result.ty.shape], once, kind=tirx.ForKind.PARALLEL,
                               annotations={PARALLEL_ATTR: 1}))
    return seq(stmts)


def _reductions(red, call, result) -> list:
    """Statements reducing each partial of ``red`` into ``result`` (the first overwriting, the others combining;
    where runs were folded into r's fragment already, that fragment is the start)."""
    stmts, first = [], True
    if red.folded:
        first = False
        if not result.same_as(red.result):
            stmts.append(tirx.Evaluate(make_tile_call("copy", [whole(red.result), whole(result)])))
    ordered = sorted(red.parts, key=lambda p: len(p[1]) != len(p[2]))  # partials that reduce nothing first
    for part, kept, loop_vars, uniform in ordered:
        reduced = [k for k in range(len(loop_vars)) if k not in kept]
        if kept != sorted(kept):  # r's indices permute the loop's: reduce, then store transposed
            stmts += fold_into(red, part, kept, uniform, [int(s) for s in part.ty.shape], result, overwrite=first)
            first = False
            continue
        if not reduced:
            if not first:
                red.fail("is updated at every loop index in one T.Parallel loop and also in another loop; give "
                         "each loop its own reducer", call)
            stmts.append(tirx.Evaluate(make_tile_call("copy", [whole(part), whole(result)])))
            first = False
            continue
        stmts += reduce_chain(red, part, reduced, result, clear=first)
        first = False
    return stmts


def _check_tile_use(reducers, call):
    """Tile ops may read a reducer (after its finalize); only T.fill and the finalize may write it."""
    name = call.op.name.split(".", 1)[1]
    writes = {"copy": [1], "reduce": [1], "gemm": [2], "atomic_add": [0]}.get(name, [])
    for k in writes:
        red = reducer_of(getattr(call.args[k], "source", None), reducers)
        if red is not None:
            red.fail(f"is written by T.{name}; a reducer is written only by its updates in T.Parallel, "
                     f"T.clear / T.fill and T.finalize_reducer", call)


def _scan_epochs(body, reducers) -> None:
    """Note which reducers are started (T.clear / T.fill / T.reducer_init, with an init value kept in a fragment)
    and finalized (into which destination); an updated reducer that is never finalized is an error."""
    def on_eval(stmt):
        call = stmt.value
        if not (is_tile_call(call, "fill") or is_tile_call(call, "reducer_init")
                or is_tile_call(call, "finalize_reducer")):
            return
        red = reducer_of(getattr(call.args[0], "source", None), reducers)
        if red is None:
            return
        if is_tile_call(call, "finalize_reducer"):
            red.finalized = True
            if len(call.args) > 1:
                red.dst_name = call.args[1].source.name
            return
        red.filled = True
        if is_tile_call(call, "reducer_init") and len(call.args) > 1 and red.seed is None:
            # a block-level value (a fragment, read by every thread), not per thread: on the CPU a kernel with
            # thread code gives "local" buffers a copy per thread, and the init would be combined once per thread
            red.seed = tirx.decl_buffer((1,), str(red.buf.ty.dtype), f"{red.name}_init", scope=FRAGMENT)
    tvm_ffi.structural_walk(body, (tirx.Evaluate, on_eval))
    for r in reducers:
        if (r.parts or r.folded) and not r.finalized:
            r.fail("is updated but never finalized; call T.finalize_reducer on it after its last update")


_EPOCH_OPS = ("reducer", "fill", "reducer_init", "reducer_update", "finalize_reducer")


def _check_read_order(body, reducers) -> None:
    """A reducer read (an element, or a tile op's operand) between its start and its finalize, in program order,
    would see the threads' partial copies: an error."""
    open_since = {}  # reducer -> the statement that started its current epoch

    def touches(node, buf) -> bool:
        found = []
        tvm_ffi.structural_walk(node, [(TensorLoad, lambda l: found.append(1) if l.source.same_as(buf) else None),
                                       (TensorRegion, lambda g: found.append(1) if g.source.same_as(buf) else None)])
        return bool(found)

    def on_stmt(stmt):
        call = stmt.value if isinstance(stmt, tirx.Evaluate) else None
        name = call.op.name.split(".", 1)[1] if call is not None and is_tile_call(call) else None
        if name is not None and name not in _EPOCH_OPS:
            _check_tile_use(reducers, call)  # a write is the clearer error
        for r in reducers:
            if name in _EPOCH_OPS and getattr(call.args[0], "source", None) is not None \
                    and call.args[0].source.same_as(r.buf):
                if name in ("fill", "reducer_init"):
                    open_since[r] = stmt
                elif name == "finalize_reducer":
                    open_since.pop(r, None)
            elif isinstance(stmt, tirx.BufferStore) and stmt.buffer.same_as(r.buf):
                continue  # an update (its form is checked with its T.Parallel)
            elif r in open_since and touches(stmt, r.buf):
                r.fail("is read before T.finalize_reducer (it holds the threads' partial copies until then); "
                       "move the read after the finalize", stmt)
    tvm_ffi.structural_walk(body, [(tirx.Evaluate, on_stmt), (tirx.BufferStore, on_stmt)])


def _check_leftovers(body, reducers) -> None:
    """After the rewrite a reducer may only be read (after its finalize, when it holds the result)."""
    for r in reducers:
        if stores_to(body, r.buf):
            stray = []
            tvm_ffi.structural_walk(body, (tirx.BufferStore, lambda s: stray.append(s)
                                           if s.buffer.same_as(r.buf) else None))
            r.fail("is updated outside a T.Parallel loop; update it inside `for ... in T.Parallel(...)` so that "
                   "each contribution is counted once", stray[0])
        if r.dst_name is not None and reads(body, r.buf):
            r.fail(f"is read, but T.finalize_reducer(r, {r.dst_name}) puts its result in {r.dst_name}; read that "
                   f"fragment instead", first_read(body, r.buf))


def _lower(body, reducers):
    rewritten = []  # (nest, nest with partials); first, since fills and finalizes need every partial
    for loop, loop_vars, extents in outermost_nests(body):
        new = rewrite_nest(loop, loop_vars, extents, reducers)
        if not new.same_as(loop):
            rewritten.append((loop, new))
    _scan_epochs(body, reducers)
    _check_read_order(body, reducers)

    def on_for(loop):
        for old, new in rewritten:
            if loop.same_as(old):
                return new
        return loop

    def on_eval(stmt):
        call = stmt.value
        if not is_tile_call(call):
            return stmt
        name = call.op.name.split(".", 1)[1]
        if name == "reducer":
            return tirx.Evaluate(tirx.const(0, "int32"))
        red = reducer_of(getattr(call.args[0], "source", None), reducers)
        if name == "finalize_reducer":
            return _finalize(red, call)
        if name == "fill" and red is not None:
            return _fill(red, call)
        if name == "reducer_init":
            return _init(red, call)
        if name == "reducer_update":
            red.fail("is updated by T.reducer_update outside a T.Parallel loop; each contribution must come "
                     "from an iteration of one", stmt)
        _check_tile_use(reducers, call)
        return stmt

    def on_alloc(stmt):
        red = reducer_of(stmt.buffer, reducers)
        if red is None:
            return stmt
        seed = [red.seed] if red.seed is not None else []
        bufs = [red.result] + [p for p, *_ in red.parts] + red.folded + red.helpers + seed
        return seq([tirx.AllocBuffer(b) for b in bufs])

    body = tvm_ffi.structural_map(body, [(tirx.For, on_for)], order="pre")
    body = tvm_ffi.structural_map(body, [(tirx.Evaluate, on_eval)], order="post")
    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="post")
    _check_leftovers(body, reducers)
    return substitute(body, {r.buf: r.result for r in reducers})


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerReducers")
@keep_tiledsl_errors
def LowerReducers(func, mod, ctx):  # noqa: N802 - a pass, named like TVM's
    """Rewrite T.alloc_reducer / T.finalize_reducer into fragments, T.fill and T.reduce_* (see the module doc)."""
    declared = _declared(func.body)
    if not declared:
        return func
    reducers = [Reducer(buf, op, span) for buf, op, span in declared]
    raised_error()
    try:
        return func.with_body(_lower(func.body, reducers))
    except Exception:
        err = raised_error()
        if err is not None:
            raise err from None
        raise
