"""Reject element accesses of on-chip buffers that are out of their declared shape on every run.

Runs first in ``pipeline.lower`` for every target, on the tile program as the language built it. A fragment,
shared or local buffer is an array of its declared shape: an element index past it is a write over (or a read of)
whatever the stack, the registers or shared memory hold next, a segfault on the CPU and silent corruption on a GPU.
TileLang accepts some of these (a fragment indexed by a ``T.Parallel`` loop takes the loop's layout there, whatever
shape it was declared with), but the declared shape is the program's own statement of the buffer's size, so an
access outside it is the user's mistake and gets a TileProgramError naming the buffer, the index and the line.

Only what is certain is reported: an index that is affine in the variables of enclosing loops of constant bounds
(``s[i]``, ``s[2 * i + 1]``, ``s[i, j + 4]``), not under any condition that mentions those variables (an ``if`` or a
``T.if_then_else`` branch may keep it in range), in a loop nest with no ``break``; its exact range is then known,
and any value outside ``[0, extent)`` is an access the program makes whenever that statement runs.
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm import tirx

from ..errors import TileProgramError
from .pass_errors import source_line

_IF_THEN_ELSE = tvm.ir.Op.get("prim.if_then_else")


def _on_chip(buf) -> bool:
    if not isinstance(buf, tirx.Buffer):
        return False
    scope = buf.scope()
    return scope.startswith("local") or scope.startswith("shared")


def _affine(expr, ranges):
    """``(const, {var: coeff})`` for an affine expression in the variables of ``ranges``, or None."""
    if isinstance(expr, tirx.IntImm):
        return int(expr.value), {}
    if isinstance(expr, tirx.Var):
        return (0, {expr: 1}) if expr in ranges else None
    if isinstance(expr, tirx.Cast) and "int" in str(expr.dtype):
        return _affine(expr.value, ranges)
    if isinstance(expr, (tirx.Add, tirx.Sub)):
        a, b = _affine(expr.a, ranges), _affine(expr.b, ranges)
        if a is None or b is None:
            return None
        sign = 1 if isinstance(expr, tirx.Add) else -1
        terms = dict(a[1])
        for var, coeff in b[1].items():
            terms[var] = terms.get(var, 0) + sign * coeff
        return a[0] + sign * b[0], terms
    if isinstance(expr, tirx.Mul):
        a, b = _affine(expr.a, ranges), _affine(expr.b, ranges)
        if a is None or b is None:
            return None
        if not a[1]:
            a, b = b, a
        if b[1]:
            return None  # a product of two loop variables is not affine
        return a[0] * b[0], {var: coeff * b[0] for var, coeff in a[1].items()}
    return None


def _exact_range(expr, ranges):
    """The exact ``(lowest, highest)`` value of an affine index over the box of its loop variables, or None."""
    form = _affine(expr, ranges)
    if form is None:
        return None
    low = high = form[0]
    for var, coeff in form[1].items():
        first, last = ranges[var]
        low += min(coeff * first, coeff * last)
        high += max(coeff * first, coeff * last)
    return low, high


def _free_vars(expr) -> list:
    found = []
    tvm_ffi.structural_walk(expr, (tirx.Var, found.append))
    return found


class _Checker:
    """Walks a function body with the constant ranges of the enclosing loops and the variables the enclosing
    conditions mention."""

    def __init__(self):
        self.ranges = {}        # loop variable -> (first, last) for loops of constant bounds
        self.guarded = []       # variables named by the enclosing conditions (frames of lists)
        self.breaks = 0         # enclosing loops whose body holds a break

    # statements -------------------------------------------------------------------------------------------------
    def stmt(self, node):
        if node is None:
            return
        if isinstance(node, tirx.SeqStmt):
            for item in node.seq:
                self.stmt(item)
        elif isinstance(node, tirx.For):
            self.expr(node.min)
            self.expr(node.extent)
            constant = isinstance(node.min, tirx.IntImm) and isinstance(node.extent, tirx.IntImm)
            has_break = _has_break(node.body)
            if constant and int(node.extent.value) > 0:
                first = int(node.min.value)
                self.ranges[node.loop_var] = (first, first + int(node.extent.value) - 1)
            self.breaks += has_break
            self.stmt(node.body)
            self.breaks -= has_break
            self.ranges.pop(node.loop_var, None)
        elif isinstance(node, tirx.While):
            self.expr(node.condition)
            self.guarded.append(_free_vars(node.condition))
            self.breaks += 1
            self.stmt(node.body)
            self.breaks -= 1
            self.guarded.pop()
        elif isinstance(node, tirx.IfThenElse):
            self.expr(node.condition)
            self.guarded.append(_free_vars(node.condition))
            self.stmt(node.then_case)
            self.stmt(node.else_case)
            self.guarded.pop()
        elif isinstance(node, tirx.BufferStore):
            for idx in node.indices:
                self.expr(idx)
            self.expr(node.value)
            self.access(node.buffer, node.indices, node, "writes")
        elif isinstance(node, tirx.Evaluate):
            self.expr(node.value)
        elif isinstance(node, tirx.AssertStmt):
            self.expr(node.condition)
        else:  # allocations, declarations, bindings, ...: look at what they compute and what they hold
            for field in ("value", "condition"):
                value = getattr(node, field, None)
                if isinstance(value, tirx.Expr):
                    self.expr(value)
            body = getattr(node, "body", None)
            if isinstance(body, tirx.Stmt):
                self.stmt(body)

    # expressions ------------------------------------------------------------------------------------------------
    def expr(self, node):
        """Check the loads of an expression; a branch of ``T.if_then_else`` counts as guarded by its condition."""
        branches = _branches(node)
        nested = {c.__chandle__() for call in branches for arm in call.args[1:] for c in _branches(arm)}
        in_branches = set()
        for call in branches:
            if call.__chandle__() in nested:
                continue  # checked with the branch around it
            self.expr(call.args[0])
            self.guarded.append(_free_vars(call.args[0]))
            self.expr(call.args[1])
            self.expr(call.args[2])
            self.guarded.pop()
            in_branches.update(load.__chandle__() for load in _loads(call))
        for load in _loads(node):
            if load.__chandle__() not in in_branches:
                self.access(load.source, load.indices, load, "reads")

    def access(self, buf, indices, node, verb):
        if not _on_chip(buf) or self.breaks or len(indices) != len(buf.shape):
            return
        guarded = {var for frame in self.guarded for var in frame}
        for dim, (idx, extent) in enumerate(zip(indices, buf.shape)):
            if not isinstance(extent, tirx.IntImm) or any(var in guarded for var in _free_vars(idx)):
                continue
            span = _exact_range(idx, self.ranges)
            if span is None:
                continue
            low, high = span
            size = int(extent.value)
            if low >= 0 and high < size:
                continue
            bad = high if high >= size else low
            shape = ", ".join(str(e) for e in buf.shape)
            kind = {"local.fragment": "fragment", "local": "local buffer", "local.var": "local variable"}.get(
                buf.scope(), "shared buffer" if buf.scope().startswith("shared") else f"{buf.scope()} buffer")
            fix = (f"declare it with {high + 1} in dimension {dim} (the range its loop indexes)" if high >= size
                   else "keep the index non-negative")
            raise TileProgramError(
                f"{buf.name}[{', '.join(map(str, indices))}] {verb} index {bad} of dimension {dim}, but the {kind} "
                f"{buf.name} has shape ({shape}{',' if len(buf.shape) == 1 else ''}): the index runs over "
                f"[{low}, {high}] in its loops, out of [0, {size}); {fix}{source_line(getattr(node, 'span', None))}")


def _branches(node) -> list:
    """The ``T.if_then_else`` calls in ``node``."""
    found = []
    tvm_ffi.structural_walk(node, (tvm.ir.Call, lambda c: found.append(c) if c.op.same_as(_IF_THEN_ELSE) else None))
    return found


def _loads(node) -> list:
    found = []
    tvm_ffi.structural_walk(node, (tvm.ir.TensorLoad, found.append))
    return found


def _has_break(stmt) -> bool:
    found = []
    tvm_ffi.structural_walk(stmt, ((tirx.Break,), found.append))
    return bool(found)


def check_onchip_bounds(mod: tvm.IRModule) -> None:
    """Raise TileProgramError if a function of ``mod`` accesses an element of a fragment, shared or local buffer
    outside its declared shape on every run of that statement (see the module docstring for what is certain)."""
    for func in mod.functions.values():
        if isinstance(func, tirx.PrimFunc):
            _Checker().stmt(func.body)
