"""LowerReducers: ``T.alloc_reducer`` / ``T.finalize_reducer`` become fragments and ``T.reduce_*`` calls.

Expects: a PrimFunc from the language, before any other pass of either target: reducers are ``local.reducer``
buffers, each declared by a ``tiledsl.reducer`` call (its op) and closed by ``tiledsl.finalize_reducer`` calls.
Guarantees: no reducer remains; the program uses only fragments, ``T.fill``, ``T.Parallel`` and ``T.reduce_*``,
which every target already lowers (on CUDA: per-thread partials, warp shuffles and a shared scratch tile).

How: every ``T.Parallel`` nest that updates a reducer ``r`` (``r[i] = r[i] + v``, ``T.max(r[i], v)``,
``T.min(r[i], v)``; ``r[i]`` indexed by some of the nest's loop variables, in order) gets a *partial*: a fragment
shaped like the nest, updated at the iteration's own element (``part[i, j] = part[i, j] + v``), so each
iteration's contribution lands in the registers of the thread that runs it, and threads that update different
elements keep disjoint copies. ``T.clear(r)`` / ``T.fill(r, x)`` fill the partials; ``T.finalize_reducer(r)``
reduces each partial over the loop dimensions ``r`` does not index into ``r`` (the first one overwriting, the
next ones combining), which is the cross-thread reduction over the threads that hold copies of an element. After
the finalize ``r`` is an ordinary fragment (replicated: every thread reads every element). Each contribution is
counted once, whatever the thread mapping; a fill of a max/min reducer acts as one more contribution, and a sum
reducer must start from zero (as in TileLang, whose non-zero fill depended on the number of threads).

TileLang's newer form maps onto the same plan: ``T.reducer_init(r)`` fills the partials with the op's identity,
``T.reducer_update(r[i], v)`` is an update, and ``T.finalize_reducer(r, dst)`` reduces into ``dst`` and then
combines ``T.reducer_init``'s ``init`` (kept in a one-element fragment at the init) into each element once.

A reducer used any other way (read or written elsewhere between its fill and its finalize, updated outside
``T.Parallel``, updated with another op than its own) is a TileProgramError naming the reducer and the statement.
"""
from __future__ import annotations

import linecache
import threading

import tvm_ffi
from tvm import tirx
from tvm.ir import TensorLoad

from ..errors import TileProgramError
from ..ir.ops import is_tile_call, make_tile_call
from ..language.loops import PARALLEL_ATTR
from .pass_errors import keep_tiledsl_errors
from .rewriter import loop_nest, seq, substitute, uses_var
from .tile_lowering_utils import reduce_identity

REDUCER_SCOPE = "local.reducer"
FRAGMENT = "local.fragment"
_COMBINE = {"sum": tirx.Add, "max": tirx.Max, "min": tirx.Min}
_SPELLING = {"sum": "r[i] += v", "max": "r[i] = T.max(r[i], v)", "min": "r[i] = T.min(r[i], v)"}


class _Reducer:
    """One reducer: its buffer, op, the fragment that replaces it and a partial per updating T.Parallel nest."""

    def __init__(self, buf, op, span=None):
        self.buf, self.op, self.span = buf, op, span
        self.result = tirx.decl_buffer(buf.ty.shape, str(buf.ty.dtype), buf.name, scope=FRAGMENT)
        self.parts = []  # (partial fragment, positions of the loop dims r keeps, the nest's loop vars)
        self.folded = []  # partials of nests indexing r by values fixed in the nest: folded into r after each run
        self.helpers = []  # intermediate fragments of multi-dimension reductions
        self.filled = False
        self.seed = None  # a fragment holding T.reducer_init's value, taken at the init (TileLang's newer form)
        self.finalized = False
        self.dst_name = None  # the destination of TileLang's newer finalize, where the result is read

    @property
    def name(self) -> str:
        return self.buf.name

    def fail(self, what: str, node=None):
        """Raise a TileProgramError about this reducer at ``node``'s line (else at its allocation's line)."""
        at = f": `{_one_line(node)}`" if node is not None else ""
        err = TileProgramError(f"reducer {self.name} (T.alloc_reducer, op={self.op!r}) {what}{at}"
                               f"{_where(getattr(node, 'span', None) or self.span)}")
        _raised.error = err  # a callback of tvm_ffi.structural_map re-raises it as a RuntimeError
        raise err


_raised = threading.local()


def _where(span) -> str:
    """`` --> file:line`` and the line itself, for a statement's span (as the parser reports a line)."""
    spans = getattr(span, "spans", None)
    if spans:  # a statement of a T.macro: (the macro's call, ..., the statement's own line)
        span = spans[-1]
    if span is None or getattr(span, "source_name", None) is None:
        return ""
    path, line = str(span.source_name.name), int(span.line)
    text = linecache.getline(path, line).rstrip()
    return f"\n --> {path}:{line}" + (f"\n{line:4d} | {text}" if text else "")


def _one_line(node) -> str:
    """A short text of a store or a call (TVM prints a statement with the declarations of what it uses)."""
    if isinstance(node, tirx.BufferStore):
        text = f"{node.buffer.name}[{', '.join(map(str, node.indices))}] = {node.value}"
    elif isinstance(node, tirx.Evaluate):
        return _one_line(node.value)
    else:
        text = str(node)
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def _declared(body) -> list:
    """[(reducer buffer, op, span of its allocation)] from the ``tiledsl.reducer`` calls."""
    found = []

    def on_eval(stmt):
        if is_tile_call(stmt.value, "reducer"):
            found.append((stmt.value.args[0].source, str(stmt.value.attrs["op"]), getattr(stmt, "span", None)))
    tvm_ffi.structural_walk(body, (tirx.Evaluate, on_eval))
    return found


def _reducer_of(buf, reducers):
    if buf is None:
        return None
    for r in reducers:
        if r.buf.same_as(buf):
            return r
    return None


def _outermost_nests(body) -> list:
    """Every outermost ``T.Parallel`` nest: (its outer loop, its loop vars, their extents)."""
    nests, inner = [], []

    def on_for(loop):
        if PARALLEL_ATTR in loop.annotations:
            nests.append(loop)
            b = loop.body
            while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
                inner.append(b)
                b = b.body
    tvm_ffi.structural_walk(body, (tirx.For, on_for))
    out = []
    for loop in nests:
        if any(loop.same_as(i) for i in inner):
            continue
        loop_vars, extents, b = [], [], loop
        while isinstance(b, tirx.For) and PARALLEL_ATTR in b.annotations:
            loop_vars.append(b.loop_var)
            extents.append(b.extent)
            b = b.body
        out.append((loop, loop_vars, extents))
    return out


def _index_plan(red, indices, loop_vars, extents, store):
    """(kept, uniform): the loop dims (positions in the nest) that ``red``'s indices name, in order, and
    ``{dim: index}`` for the indices that use no loop variable of the nest (the same for every iteration, like
    ``acc[i]`` with ``i`` from an enclosing T.serial, or 0 in a dimension of size 1)."""
    shape = [int(s) for s in red.buf.ty.shape]
    kept, uniform = [], {}
    for d, idx in enumerate(indices):
        pos = next((k for k, v in enumerate(loop_vars) if isinstance(idx, tirx.Var) and idx.same_as(v)), None)
        if pos is None:
            if any(uses_var(idx, v) for v in loop_vars):
                red.fail("must be indexed by loop variables of the enclosing T.Parallel, or by indices that do not "
                         "depend on them; compute other indices into a fragment shaped like the loop first", store)
            uniform[d] = idx
            continue
        if kept and pos <= kept[-1]:
            red.fail("must be indexed by the T.Parallel loop variables in the loop's order", store)
        ext = extents[pos]
        if not (isinstance(ext, tirx.IntImm) and int(ext) == shape[d]):
            red.fail(f"dimension {d} has size {shape[d]} but its T.Parallel loop runs over {ext}; the loop must cover "
                     f"the reducer's whole shape", store)
        kept.append(pos)
    return kept, uniform


def _trivial(uniform, shape) -> bool:
    """True when every uniform index is 0 in a dimension of size 1 (the partial reduces straight into r)."""
    return all(isinstance(i, tirx.IntImm) and int(i) == 0 and int(shape[d]) == 1 for d, i in uniform.items())


def _contribution(red, store):
    """``v`` of ``r[idx] = combine(r[idx], v)``, or a TileProgramError."""
    value, cls = store.value, _COMBINE[red.op]

    def is_self(e):
        return isinstance(e, TensorLoad) and e.source.same_as(red.buf) and tvm_ffi.structural_equal(
            list(e.indices), list(store.indices))
    if isinstance(value, cls):
        for mine, other in ((value.a, value.b), (value.b, value.a)):
            if is_self(mine):
                if _reads(other, red.buf):
                    red.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                             "T.finalize_reducer)", store)
                return other
    red.fail(f"can only be updated as `{_SPELLING[red.op]}` (its op) inside T.Parallel", store)


def _reads(node, buf) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (TensorLoad, lambda l: found.append(1) if l.source.same_as(buf) else None))
    return bool(found)


def _rewrite_nest(loop, loop_vars, extents, reducers):
    """The nest with each reducer update (``r[i] += v`` or ``T.reducer_update(r[i], v)``) turned into an update of
    that reducer's partial for this nest."""
    parts = {}  # reducer -> (partial, kept)
    touched = [r for r in reducers if _stores_to(loop, r.buf) or _updates_of(loop, r.buf)]
    if not touched:
        return loop

    def update(red, indices, v, stmt):
        kept, uniform = _index_plan(red, indices, loop_vars, extents, stmt)
        if red in parts:
            part, kept0, uniform0 = parts[red]
            if kept0 != kept or not tvm_ffi.structural_equal(uniform0, uniform):
                red.fail("is updated at different indices in one T.Parallel loop", stmt)
        else:
            shape = [int(e) for e in extents]
            part = tirx.decl_buffer(shape, str(red.buf.ty.dtype),
                                    f"{red.name}_part{len(red.parts) + len(red.folded)}", scope=FRAGMENT)
            parts[red] = (part, kept, uniform)
            if _trivial(uniform, red.buf.ty.shape):
                red.parts.append((part, kept, loop_vars))
            else:
                red.folded.append(part)
        here = tirx.BufferLoad(part, list(loop_vars))
        return tirx.BufferStore(part, _COMBINE[red.op](here, v), list(loop_vars))

    def on_store(store):
        red = _reducer_of(store.buffer, touched)
        if red is None:
            for r in touched:
                if _reads(store, r.buf):
                    r.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                           "T.finalize_reducer)", store)
            return store
        return update(red, list(store.indices), _contribution(red, store), store)

    def on_eval(stmt):
        if not is_tile_call(stmt.value, "reducer_update"):
            return stmt
        target, v = stmt.value.args
        red = _reducer_of(target.source, touched)
        if _reads(v, red.buf):
            red.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                     "T.finalize_reducer)", stmt)
        return update(red, list(target.indices), v, stmt)

    out = tvm_ffi.structural_map(loop, [(tirx.BufferStore, on_store), (tirx.Evaluate, on_eval)], order="post")
    for r in touched:
        if _reads(out, r.buf):
            r.fail("is read inside a T.Parallel loop that updates it, other than by its own update (its value is "
                   "known only after T.finalize_reducer)", _first_read(out, r.buf) or loop)
    before, after = [], []
    for red, (part, kept, uniform) in parts.items():
        if not _trivial(uniform, red.buf.ty.shape):  # fold this run's partial into r at its uniform indices
            before.append(_fill_stmt(part, reduce_identity(red.op, str(part.ty.dtype))))
            after += _fold_run(red, part, kept, uniform, [int(e) for e in extents])
    return seq(before + [out] + after) if before else out


def _fold_run(red, part, kept, uniform, extents) -> list:
    """After one run of a nest whose updates index ``red`` by values that do not change in the nest: reduce the
    run's partial over the loop dims r does not index, then combine it into r's fragment at those indices."""
    shape = [extents[k] for k in kept] or [1]
    run = tirx.decl_buffer(shape, str(part.ty.dtype), f"{part.name}_run", scope=FRAGMENT)
    red.helpers.append(run)
    reduced = [k for k in range(len(extents)) if k not in kept]
    if reduced:
        stmts = _reduce_chain(red, part, reduced, run, clear=True)
    else:
        stmts = [tirx.Evaluate(make_tile_call("copy", [_whole(part), _whole(run)]))]
    ndim = len(red.buf.ty.shape)

    def combine(vs):
        it = iter(vs)
        idx = [uniform[d] if d in uniform else next(it) for d in range(ndim)]
        src = tirx.BufferLoad(run, list(vs))
        return tirx.BufferStore(red.result, _COMBINE[red.op](tirx.BufferLoad(red.result, idx), src), idx)
    # a T.Parallel even over one element: r's fragment, indexed by the fixed values, is then held by every thread
    stmts.append(loop_nest(shape, combine, kind=tirx.ForKind.PARALLEL, annotations={PARALLEL_ATTR: 1}))
    return stmts


def _updates_of(node, buf) -> list:
    """The ``T.reducer_update`` statements of ``node`` on ``buf``."""
    found = []
    tvm_ffi.structural_walk(node, (tirx.Evaluate, lambda s: found.append(s) if is_tile_call(s.value, "reducer_update")
                                   and s.value.args[0].source.same_as(buf) else None))
    return found


def _first_read(node, buf):
    """The first statement of ``node`` that reads ``buf`` (a store or an evaluated call), or None."""
    found = []
    tvm_ffi.structural_walk(node, [(tirx.BufferStore, lambda s: found.append(s) if _reads(s, buf) else None),
                                   (tirx.Evaluate, lambda s: found.append(s) if _reads(s, buf) else None)])
    return found[0] if found else None


def _stores_to(node, buf) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (tirx.BufferStore, lambda s: found.append(1) if s.buffer.same_as(buf) else None))
    return bool(found)


def _whole(buf):
    return buf[tuple(slice(0, s) for s in buf.ty.shape)]


def _fill_stmt(buf, value):
    return tirx.Evaluate(make_tile_call("fill", [_whole(buf), value]))


def _init(red, call):
    """``T.reducer_init(r[, init])``: the partials start from the op's identity; ``init`` (the identity without
    one) is kept in a one-element fragment, as it is now, and joins each element once at the finalize."""
    identity = reduce_identity(red.op, str(red.buf.ty.dtype))
    stmts = [_fill_stmt(p, identity) for p, _, _ in red.parts]
    if red.folded:
        stmts.append(_fill_stmt(red.result, identity))
    if red.seed is not None:
        start = call.args[1] if len(call.args) > 1 else identity
        stmts.append(tirx.BufferStore(red.seed, start, [tirx.const(0, "int32")]))
    return seq(stmts)


def _fill(red, call):
    region, value = call.args
    shape = [int(e) for e in red.buf.ty.shape]
    if not all(isinstance(r.min, tirx.IntImm) and int(r.min) == 0 and isinstance(r.extent, tirx.IntImm)
               and int(r.extent) == e for r, e in zip(region.region, shape)):
        red.fail("is filled only in part; T.clear / T.fill a reducer whole", call)
    if red.op == "sum" and not (isinstance(value, (tirx.IntImm, tirx.FloatImm)) and float(value.value) == 0.0):
        red.fail("(op='sum') is filled with a non-zero value; the result would depend on how many threads hold "
                 "copies. Start from T.clear(r) and add the value after T.finalize_reducer(r)", call)
    targets = [p for p, _, _ in red.parts]
    if red.folded or not red.parts:
        targets.append(red.result)
    return seq([tirx.Evaluate(make_tile_call("fill", [_whole(t), value])) for t in targets])


def _finalize(red, call):
    """The reductions of every partial into the reducer's fragment (or the destination of TileLang's newer form),
    then the ``T.reducer_init`` value, once."""
    if (red.parts or red.folded) and not red.filled:
        red.fail("is finalized without a T.clear(r) / T.fill(r, x) / T.reducer_init(r) to start from", call)
    result = call.args[1].source if len(call.args) > 1 else red.result
    stmts = _reductions(red, call, result)
    seed = tirx.BufferLoad(red.seed, [tirx.const(0, "int32")]) if red.seed is not None else None
    if len(call.args) > 1 and not red.parts and not red.folded:  # no contribution: the identity (then the init value)
        stmts = [tirx.Evaluate(make_tile_call("fill", [_whole(result), reduce_identity(red.op,
                                                                                        str(result.ty.dtype))]))]
    if seed is not None:
        def once(idx):
            return tirx.BufferStore(result, _COMBINE[red.op](tirx.BufferLoad(result, idx), seed), idx)
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
            stmts.append(tirx.Evaluate(make_tile_call("copy", [_whole(red.result), _whole(result)])))
    ordered = sorted(red.parts, key=lambda p: len(p[1]) != len(p[2]))  # partials that reduce nothing first
    for part, kept, loop_vars in ordered:
        reduced = [k for k in range(len(loop_vars)) if k not in kept]
        if not reduced:
            if not first:
                red.fail("is updated at every loop index in one T.Parallel loop and also in another loop; give "
                         "each loop its own reducer", call)
            stmts.append(tirx.Evaluate(make_tile_call("copy", [_whole(part), _whole(result)])))
            first = False
            continue
        stmts += _reduce_chain(red, part, reduced, result, clear=first)
        first = False
    return stmts


def _reduce_chain(red, part, reduced, result, clear: bool) -> list:
    """``T.reduce`` calls folding ``part`` over its dims ``reduced`` into ``result`` (combining into it unless
    ``clear``); the last reduced dim first, so that the earlier dims keep their positions."""
    stmts, src = [], part
    shape = [int(s) for s in part.ty.shape]
    for n, d in enumerate(reversed(reduced)):
        shape = shape[:d] + shape[d + 1:]
        last = n == len(reduced) - 1
        if last:
            dst = result
        else:
            dst = tirx.decl_buffer(shape, str(part.ty.dtype), f"{part.name}_r{n}", scope=FRAGMENT)
            red.helpers.append(dst)
        stmts.append(tirx.Evaluate(make_tile_call("reduce", [_whole(src), _whole(dst)], kind=red.op, dim=d,
                                                  clear=bool(clear or not last))))
        src = dst
    return stmts


def _check_tile_use(reducers, call):
    """Tile ops may read a reducer (after its finalize); only T.fill and the finalize may write it."""
    name = call.op.name.split(".", 1)[1]
    writes = {"copy": [1], "reduce": [1], "gemm": [2], "atomic_add": [0]}.get(name, [])
    for k in writes:
        red = _reducer_of(getattr(call.args[k], "source", None), reducers)
        if red is not None:
            red.fail(f"is written by T.{name}; a reducer is written only by its updates in T.Parallel, "
                     f"T.clear / T.fill and T.finalize_reducer", call)


def _lower(body, reducers):
    rewritten = []  # (nest, nest with partials); first, since fills and finalizes need every partial
    for loop, loop_vars, extents in _outermost_nests(body):
        new = _rewrite_nest(loop, loop_vars, extents, reducers)
        if not new.same_as(loop):
            rewritten.append((loop, new))

    def on_start(stmt):
        if not (is_tile_call(stmt.value, "fill") or is_tile_call(stmt.value, "reducer_init")):
            return
        red = _reducer_of(getattr(stmt.value.args[0], "source", None), reducers)
        if red is None:
            return
        red.filled = True
        if is_tile_call(stmt.value, "reducer_init") and len(stmt.value.args) > 1 and red.seed is None:
            # a block-level value (a fragment, read by every thread), not per thread: on the CPU a kernel with
            # thread code gives "local" buffers a copy per thread, and the init would be combined once per thread
            red.seed = tirx.decl_buffer((1,), str(red.buf.ty.dtype), f"{red.name}_init", scope=FRAGMENT)

    def on_finalize(stmt):
        red = _reducer_of(getattr(stmt.value.args[0], "source", None), reducers) \
            if is_tile_call(stmt.value, "finalize_reducer") else None
        if red is not None:
            red.finalized = True
            if len(stmt.value.args) > 1:
                red.dst_name = stmt.value.args[1].source.name
    def on_eval_scan(stmt):
        on_start(stmt)
        on_finalize(stmt)
    tvm_ffi.structural_walk(body, (tirx.Evaluate, on_eval_scan))
    for r in reducers:
        if (r.parts or r.folded) and not r.finalized:
            r.fail("is updated but never finalized; call T.finalize_reducer on it after its last update")

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
        red = _reducer_of(getattr(call.args[0], "source", None), reducers)
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
        red = _reducer_of(stmt.buffer, reducers)
        if red is None:
            return stmt
        seed = [red.seed] if red.seed is not None else []
        bufs = [red.result] + [p for p, _, _ in red.parts] + red.folded + red.helpers + seed
        return seq([tirx.AllocBuffer(b) for b in bufs])

    body = tvm_ffi.structural_map(body, [(tirx.For, on_for)], order="pre")
    body = tvm_ffi.structural_map(body, [(tirx.Evaluate, on_eval)], order="post")
    body = tvm_ffi.structural_map(body, [(tirx.AllocBuffer, on_alloc)], order="post")
    for r in reducers:
        if _stores_to(body, r.buf):
            stray = []
            tvm_ffi.structural_walk(body, (tirx.BufferStore, lambda s: stray.append(s)
                                           if s.buffer.same_as(r.buf) else None))
            r.fail("is updated outside a T.Parallel loop; update it inside `for ... in T.Parallel(...)` so that "
                   "each contribution is counted once", stray[0])
        if r.dst_name is not None and _reads(body, r.buf):
            r.fail(f"is read, but T.finalize_reducer(r, {r.dst_name}) puts its result in {r.dst_name}; read that "
                   f"fragment instead", _first_read(body, r.buf))
    return substitute(body, {r.buf: r.result for r in reducers})


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LowerReducers")
@keep_tiledsl_errors
def LowerReducers(func, mod, ctx):  # noqa: N802 - a pass, named like TVM's
    """Rewrite T.alloc_reducer / T.finalize_reducer into fragments, T.fill and T.reduce_* (see the module doc)."""
    declared = _declared(func.body)
    if not declared:
        return func
    reducers = [_Reducer(buf, op, span) for buf, op, span in declared]
    _raised.error = None
    try:
        return func.with_body(_lower(func.body, reducers))
    except Exception:
        err, _raised.error = getattr(_raised, "error", None), None
        if err is not None:
            raise err from None
        raise
