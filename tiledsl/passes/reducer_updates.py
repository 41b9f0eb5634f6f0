"""Reducer updates in ``T.Parallel`` nests become updates of partial fragments (used by LowerReducers).

Each nest that updates a reducer ``r`` (``r[i] += v``, ``r[i] = T.max(r[i], v)``, ``r[i] = T.min(r[i], v)`` or
``T.reducer_update(r[i], v)``) gets a partial fragment shaped like the nest, updated at the iteration's own
element, so a contribution lands in the registers of the thread that runs the iteration. Where ``r`` is indexed by
values the nest does not change (``r[i]`` with ``i`` from an enclosing ``T.serial``), each run's partial is reduced
and folded into ``r``'s fragment right after the run. Errors name the reducer and the user's line.
"""
from __future__ import annotations

import threading

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad

from ..errors import TileProgramError
from ..ir.ops import is_tile_call, make_tile_call
from ..language.loops import PARALLEL_ATTR
from .pass_errors import source_line
from .rewriter import loop_nest, seq, uses_var
from .tile_lowering_utils import outermost_nests, reduce_identity  # noqa: F401 (outermost_nests re-exported)

FRAGMENT = "local.fragment"
COMBINE = {"sum": tirx.Add, "max": tirx.Max, "min": tirx.Min}
_SPELLING = {"sum": "r[i] += v", "max": "r[i] = T.max(r[i], v)", "min": "r[i] = T.min(r[i], v)"}


class Reducer:
    """One reducer: its buffer, op, the fragment that replaces it and a partial per updating T.Parallel nest."""

    def __init__(self, buf, op, span=None):
        self.buf, self.op, self.span = buf, op, span
        self.result = tirx.decl_buffer(buf.ty.shape, str(buf.ty.dtype), buf.name, scope=FRAGMENT)
        self.parts = []  # (partial fragment, positions of the loop dims r keeps, the nest's loop vars, fixed indices)
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
        text = _one_line(node)
        at = f": `{text}`" if text else ""
        err = TileProgramError(f"reducer {self.name} (T.alloc_reducer, op={self.op!r}) {what}{at}"
                               f"{source_line(getattr(node, 'span', None) or self.span)}")
        _raised.error = err  # a callback of tvm_ffi.structural_map re-raises it as a RuntimeError
        raise err


_raised = threading.local()


def raised_error(clear: bool = True):
    """The TileProgramError a reducer raised last in this thread (``clear``: and forget it), or None."""
    err = getattr(_raised, "error", None)
    if clear:
        _raised.error = None
    return err


def _one_line(node) -> str:
    """A short text of a store or a call ("" for anything else: TVM prints a statement with the declarations of
    what it uses, and a loop with its whole body)."""
    if isinstance(node, tirx.BufferStore):
        text = f"{node.buffer.name}[{', '.join(map(str, node.indices))}] = {node.value}"
    elif isinstance(node, tirx.Evaluate):
        return _one_line(node.value)
    elif isinstance(node, Call):
        text = str(node)
    else:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def reducer_of(buf, reducers):
    if buf is None:
        return None
    for r in reducers:
        if r.buf.same_as(buf):
            return r
    return None


def _index_plan(red, indices, loop_vars, extents, store):
    """(kept, uniform): the loop dims (positions in the nest) that ``red``'s indices name, in r's order, and
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
        if pos in kept:
            red.fail("is indexed twice by the same T.Parallel loop variable", store)
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
    value, cls = store.value, COMBINE[red.op]

    def is_self(e):
        return isinstance(e, TensorLoad) and e.source.same_as(red.buf) and tvm_ffi.structural_equal(
            list(e.indices), list(store.indices))
    if isinstance(value, cls):
        for mine, other in ((value.a, value.b), (value.b, value.a)):
            if is_self(mine):
                if reads(other, red.buf):
                    red.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                             "T.finalize_reducer)", store)
                return other
    red.fail(f"can only be updated as `{_SPELLING[red.op]}` (its op) inside T.Parallel", store)


def reads(node, buf) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (TensorLoad, lambda l: found.append(1) if l.source.same_as(buf) else None))
    return bool(found)


def rewrite_nest(loop, loop_vars, extents, reducers):
    """The nest with each reducer update (``r[i] += v`` or ``T.reducer_update(r[i], v)``) turned into an update of
    that reducer's partial for this nest."""
    parts = {}  # reducer -> (partial, kept)
    touched = [r for r in reducers if stores_to(loop, r.buf) or _updates_of(loop, r.buf)]
    if not touched:
        return loop
    if not all(isinstance(e, tirx.IntImm) for e in extents):
        touched[0].fail(f"is updated in a T.Parallel over ({', '.join(map(str, extents))}); a loop updating a "
                        f"reducer needs constant extents (tile sizes)", loop)

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
                red.parts.append((part, kept, loop_vars, uniform))
            else:
                red.folded.append(part)
        here = tirx.BufferLoad(part, list(loop_vars))
        return tirx.BufferStore(part, COMBINE[red.op](here, v), list(loop_vars))

    def on_store(store):
        red = reducer_of(store.buffer, touched)
        if red is None:
            for r in touched:
                if reads(store, r.buf):
                    r.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                           "T.finalize_reducer)", store)
            return store
        return update(red, list(store.indices), _contribution(red, store), store)

    def on_eval(stmt):
        if not is_tile_call(stmt.value, "reducer_update"):
            return stmt
        target, v = stmt.value.args
        red = reducer_of(target.source, touched)
        if reads(v, red.buf):
            red.fail("is read inside a T.Parallel loop that updates it (its value is known only after "
                     "T.finalize_reducer)", stmt)
        return update(red, list(target.indices), v, stmt)

    out = tvm_ffi.structural_map(loop, [(tirx.BufferStore, on_store), (tirx.Evaluate, on_eval)], order="post")
    for r in touched:
        if reads(out, r.buf):
            r.fail("is read inside a T.Parallel loop that updates it, other than by its own update (its value is "
                   "known only after T.finalize_reducer)", first_read(out, r.buf) or loop)
    before, after = [], []
    for red, (part, kept, uniform) in parts.items():
        if not _trivial(uniform, red.buf.ty.shape):  # fold this run's partial into r at its uniform indices
            before.append(fill_stmt(part, reduce_identity(red.op, str(part.ty.dtype))))
            after += _fold_run(red, part, kept, uniform, [int(e) for e in extents])
    return seq(before + [out] + after) if before else out


def _fold_run(red, part, kept, uniform, extents) -> list:
    """After one run of a nest whose updates index ``red`` by values that do not change in the nest: reduce the
    run's partial over the loop dims r does not index, then combine it into r's fragment at those indices."""
    return fold_into(red, part, kept, uniform, extents, red.result, overwrite=False)


def fold_into(red, part, kept, uniform, extents, result, overwrite: bool) -> list:
    """Reduce ``part`` over the loop dims that r does not index into a fragment, then store (``overwrite``) or
    combine it into ``result`` (shaped like r) at r's indices: ``uniform`` ones where fixed, the kept loop dims
    (in r's order, which may permute the loop's) elsewhere."""
    order = sorted(kept)  # the kept loop dims in the loop's order, as the reduction leaves them
    shape = [extents[k] for k in order] or [1]
    run = tirx.decl_buffer(shape, str(part.ty.dtype), f"{part.name}_run", scope=FRAGMENT)
    red.helpers.append(run)
    reduced = [k for k in range(len(extents)) if k not in kept]
    if reduced:
        stmts = reduce_chain(red, part, reduced, run, clear=True)
    else:
        stmts = [tirx.Evaluate(make_tile_call("copy", [whole(part), whole(run)]))]
    ndim = len(red.buf.ty.shape)

    def place(vs):
        it = iter(kept)
        idx = [uniform[d] if d in uniform else vs[order.index(next(it))] for d in range(ndim)]
        value = tirx.BufferLoad(run, list(vs))
        if not overwrite:
            value = COMBINE[red.op](tirx.BufferLoad(result, idx), value)
        return tirx.BufferStore(result, value, idx)
    # a T.Parallel even over one element: r's fragment, indexed by the fixed values, is then held by every thread
    stmts.append(loop_nest(shape, place, kind=tirx.ForKind.PARALLEL, annotations={PARALLEL_ATTR: 1}))
    return stmts


def _updates_of(node, buf) -> list:
    """The ``T.reducer_update`` statements of ``node`` on ``buf``."""
    found = []
    tvm_ffi.structural_walk(node, (tirx.Evaluate, lambda s: found.append(s) if is_tile_call(s.value, "reducer_update")
                                   and s.value.args[0].source.same_as(buf) else None))
    return found


def first_read(node, buf):
    """The first statement of ``node`` that reads ``buf`` (a store or an evaluated call), or None."""
    found = []
    tvm_ffi.structural_walk(node, [(tirx.BufferStore, lambda s: found.append(s) if reads(s, buf) else None),
                                   (tirx.Evaluate, lambda s: found.append(s) if reads(s, buf) else None)])
    return found[0] if found else None


def stores_to(node, buf) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (tirx.BufferStore, lambda s: found.append(1) if s.buffer.same_as(buf) else None))
    return bool(found)


def whole(buf):
    return buf[tuple(slice(0, s) for s in buf.ty.shape)]


def fill_stmt(buf, value):
    return tirx.Evaluate(make_tile_call("fill", [whole(buf), value]))


def reduce_chain(red, part, reduced, result, clear: bool) -> list:
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
        stmts.append(tirx.Evaluate(make_tile_call("reduce", [whole(src), whole(dst)], kind=red.op, dim=d,
                                                  clear=bool(clear or not last))))
        src = dst
    return stmts


