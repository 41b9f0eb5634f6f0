"""SplitUniformSelects: a ``T.Parallel`` nest that stores ``T.if_then_else(cond, a, b)`` into a fragment gets a
branch for the tiles where ``cond`` holds for every element, and one for the tiles where it holds for none
(the default since it timed causal flash attention 4 % faster on the H100; ``TILEDSL_SPLIT_MASKS=0`` turns it
off; CUDA and CPU).

A causal mask (``acc_s[i, j] = if_then_else(q0 + i >= k0 + j, 0, -inf)``) or a bounds mask
(``if_then_else(k0 + j >= seq_len, -inf, 0)``) is the same on all but a few tiles of the loop, yet every
iteration evaluates a compare and a select per element. Where ``cond`` is a conjunction, disjunction or negation
of comparisons that are linear in the nest's loop variables with constant coefficients, its extremes over the
tile are known in closed form, and the statement becomes::

    if <cond holds at the tile's worst corner>:   nest storing a          (e.g. a plain fill of 0)
    elif <cond fails at the tile's best corner>:  nest storing b
    else:                                         the original nest

The branch conditions read only the values the comparison offsets read (block indices, the loop counter), the
same on every thread of the block. A condition the enclosing loops' ranges decide (a bounds mask when the
sequence is a whole number of tiles: the loop's length, even one the kernel keeps in a scalar, is known) leaves
only its branch: a mask that is zero on every tile becomes a plain zero fill, which ScheduleWgmmaGemms folds into
the next gemm's first wgmma. Only fragment and local stores are split (no shared memory, so no barrier can
land inside a branch). The result is the original statement's for every element.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call
from tvm.sym import detect_linear_equation

from ...language.loops import PARALLEL_ATTR
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import StmtRewriter, flatten_seq, reads_memory

_REGISTERS = ("local.fragment", "local")


def _nest(loop):
    """([(loop var, extent)], the innermost store) of a perfect T.Parallel nest with constant extents, or None."""
    loops, node = [], loop
    while isinstance(node, tirx.For) and node.annotations is not None and PARALLEL_ATTR in node.annotations:
        if not (isinstance(node.min, tirx.IntImm) and int(node.min) == 0 and isinstance(node.extent, tirx.IntImm)):
            return None
        loops.append((node.loop_var, int(node.extent)))
        node = node.body
    if not loops or not isinstance(node, tirx.BufferStore):
        return None
    return loops, node


def _select(value):
    if isinstance(value, Call) and getattr(value.op, "name", "") in ("prim.if_then_else", "tirx.if_then_else"):
        return value.args
    return None


def _extremes(expr, loops):
    """(min, max) of an integer ``expr`` over the nest's box, or None when it is not linear in the loop variables
    with constant coefficients (or does not depend on them at all)."""
    if not str(expr.ty.dtype).startswith("int"):  # (unsigned differences wrap around)
        return None
    coeffs = detect_linear_equation(expr, [v for v, _ in loops])
    if len(coeffs) != len(loops) + 1 or not all(isinstance(c, tirx.IntImm) for c in coeffs[:-1]):
        return None
    if all(int(c) == 0 for c in coeffs[:-1]):
        return None
    low = high = coeffs[-1]
    for c, (_, extent) in zip(coeffs[:-1], loops):
        span = int(c) * (extent - 1)
        low, high = (low, high + span) if span >= 0 else (low + span, high)
    return low, high


def _bounds(cond, loops):
    """(holds everywhere, holds nowhere) as conditions on the values ``cond`` reads outside the nest, or None."""
    if isinstance(cond, tirx.And) or isinstance(cond, tirx.Or):
        a, b = _bounds(cond.a, loops), _bounds(cond.b, loops)
        if a is None or b is None:
            return None
        if isinstance(cond, tirx.And):
            return tirx.And(a[0], b[0]), tirx.Or(a[1], b[1])
        return tirx.Or(a[0], b[0]), tirx.And(a[1], b[1])
    if isinstance(cond, tirx.Not):
        inner = _bounds(cond.a, loops)
        return None if inner is None else (inner[1], inner[0])
    if isinstance(cond, (tirx.GE, tirx.GT)):
        diff, strict = cond.a - cond.b, isinstance(cond, tirx.GT)
    elif isinstance(cond, (tirx.LE, tirx.LT)):
        diff, strict = cond.b - cond.a, isinstance(cond, tirx.LT)
    else:
        return None
    ext = _extremes(diff, loops)
    if ext is None:
        return None
    low, high = ext
    zero = tirx.const(0, str(diff.ty.dtype))
    if strict:  # diff > 0
        return low > zero, high <= zero
    return low >= zero, high < zero


def _with_value(loop, value):
    """The nest with its store's value replaced."""
    def on_store(store):
        return tirx.BufferStore(store.buffer, value, list(store.indices))
    return tvm_ffi.structural_map(loop, [(tirx.BufferStore, on_store)], order="post")


class _Splitter(StmtRewriter):
    """The rewriter; its analyzer knows each enclosing loop's range with the scalars the kernel sets once inlined in
    the extent (``loop_range = T.ceildiv(seq_len, block_N)`` held in a local), so a mask proved the same on every
    tile of the loop leaves only that tile's branch."""

    def __init__(self):
        super().__init__()
        self.lets = {}

    def visit_SeqStmt(self, stmt):
        from .pipeline import note_scalar

        stmts, saved = flatten_seq([stmt]), dict(self.lets)
        children = []
        for s in stmts:
            note_scalar(s, stmts, self.lets)
            children.append(self.visit(s))
        self.lets = saved
        if all(a.same_as(b) for a, b in zip(children, stmts)):
            return stmt
        return tirx.SeqStmt(flatten_seq(children))

    def loop_extent(self, loop):
        """The loop's extent with the kernel's scalars inlined, where that leaves no memory read."""
        from .pipeline import inline_scalars

        extent = inline_scalars(loop.extent, self.lets)
        return loop.extent if reads_memory(extent) else extent

    def visit_For(self, loop):
        found = _nest(loop)
        if found is None:
            return super().visit_For(loop)
        loops, store = found
        select = _select(store.value)
        if select is None or store.buffer.scope() not in _REGISTERS:
            return loop
        cond, a, b = select
        bounds = _bounds(cond, loops)
        if bounds is None:
            return loop
        everywhere, nowhere = (self.analyzer.simplify(c) for c in bounds)
        if _is_true(everywhere):
            return _with_value(loop, a)
        if _is_true(nowhere):
            return _with_value(loop, b)
        inner = loop if _is_false(nowhere) else tirx.IfThenElse(nowhere, _with_value(loop, b), loop)
        return inner if _is_false(everywhere) else tirx.IfThenElse(everywhere, _with_value(loop, a), inner)


def _is_true(cond) -> bool:
    return isinstance(cond, tirx.IntImm) and bool(cond.value)


def _is_false(cond) -> bool:
    return isinstance(cond, tirx.IntImm) and not bool(cond.value)


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.SplitUniformSelects")
@keep_tiledsl_errors
def SplitUniformSelects(func, mod, ctx):
    """Give masked T.Parallel stores uniform branches for the tiles where the mask is all-true or all-false (see
    the module doc; ``TILEDSL_SPLIT_MASKS=0`` turns it off)."""
    if not schedule("TILEDSL_SPLIT_MASKS"):
        return func
    return func.with_body(_Splitter().visit(func.body))
