"""A statement rewriter that knows the ranges of the enclosing loops and thread indices.

TVM 0.27 has no Python StmtMutator; ``tvm_ffi.structural_map`` rewrites nodes but gives a callback no context.
Tile lowering needs the context (is ``by * 64 + i < M`` provable here?), so passes subclass :class:`StmtRewriter`
and override ``visit_<NodeType>``; the defaults rebuild a node only when a child changed.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Range, TensorLoad
from tvm.sym import Analyzer


class StmtRewriter:
    """Post-order statement rewriter with an Analyzer bound to every enclosing loop and launch extent."""

    def __init__(self):
        self.analyzer = Analyzer()

    def visit(self, stmt):
        """Rewrite ``stmt`` (None passes through)."""
        if stmt is None:
            return None
        handler = getattr(self, "visit_" + type(stmt).__name__, None)
        return handler(stmt) if handler else stmt

    def _bind(self, var, min_value, extent) -> None:
        self.analyzer.bind(var, Range.from_min_extent(min_value, extent), allow_override=True)

    def visit_SeqStmt(self, stmt):
        children = [self.visit(s) for s in stmt.seq]
        if all(a.same_as(b) for a, b in zip(children, stmt.seq)):
            return stmt
        return tirx.SeqStmt(flatten_seq(children))

    def loop_extent(self, loop):
        """The extent the analyzer is told for ``loop`` (its own; a subclass may know it better)."""
        return loop.extent

    def visit_For(self, stmt):
        self._bind(stmt.loop_var, stmt.min, self.loop_extent(stmt))
        body = self.visit(stmt.body)
        if body.same_as(stmt.body):
            return stmt
        return rebuild_for(stmt, body=body)

    def visit_AttrStmt(self, stmt):
        if stmt.attr_key == "thread_extent":
            self._bind(stmt.node.var, 0, stmt.value)
        body = self.visit(stmt.body)
        if body.same_as(stmt.body):
            return stmt
        return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, body)

    def visit_IfThenElse(self, stmt):
        then_case = self.visit(stmt.then_case)
        else_case = self.visit(stmt.else_case)
        if then_case.same_as(stmt.then_case) and (else_case is None or else_case.same_as(stmt.else_case)):
            return stmt
        return tirx.IfThenElse(stmt.condition, then_case, else_case)

    def visit_While(self, stmt):
        body = self.visit(stmt.body)
        return stmt if body.same_as(stmt.body) else tirx.While(stmt.condition, body)

    def visit_LetStmt(self, stmt):
        if getattr(stmt, "body", None) is None:  # TVM 0.27's Bind (LetStmt's new name) has no body
            return stmt
        body = self.visit(stmt.body)
        return stmt if body.same_as(stmt.body) else tirx.LetStmt(stmt.var, stmt.value, body)


def rebuild_for(loop, *, body=None, kind=None, annotations=None, loop_var=None):
    """A copy of a For with some fields replaced."""
    return tirx.For(loop_var if loop_var is not None else loop.loop_var, loop.min, loop.extent,
                    kind if kind is not None else loop.kind, body if body is not None else loop.body,
                    loop.thread_binding, annotations if annotations is not None else loop.annotations, loop.step)


def flatten_seq(stmts) -> list:
    """Statements with nested SeqStmts spliced in and no-op ``Evaluate(0)`` dropped."""
    out = []
    for s in stmts:
        if isinstance(s, tirx.SeqStmt):
            out.extend(flatten_seq(s.seq))
        elif isinstance(s, tirx.Evaluate) and isinstance(s.value, tirx.IntImm):
            continue
        else:
            out.append(s)
    return out


def seq(stmts):
    """One statement from several (a no-op for none)."""
    flat = flatten_seq(stmts)
    if not flat:
        return tirx.Evaluate(tirx.const(0, "int32"))
    return flat[0] if len(flat) == 1 else tirx.SeqStmt(flat)


def substitute(node, mapping: dict):
    """Replace Vars by expressions (TVM 0.27 has no ``tirx.stmt_functor.substitute``)."""
    if not mapping:
        return node
    return tvm_ffi.structural_map(node, (tirx.Var, lambda v: mapping.get(v, v)))


def count_uses(node, var) -> int:
    """How many times ``var`` (a variable or a buffer) occurs in ``node``, its allocation included."""
    count = [0]

    def on_var(v):
        if v.same_as(var):
            count[0] += 1
    tvm_ffi.structural_walk(node, (tirx.Var, on_var))
    return count[0]


def uses_var(node, var) -> bool:
    """True if ``var`` occurs anywhere in ``node``."""
    found = []

    def check(v):
        if v.same_as(var):
            found.append(v)

    tvm_ffi.structural_walk(node, (tirx.Var, check))
    return bool(found)


def reads_memory(node) -> bool:
    """True if ``node`` loads from any buffer (a value not known from variables alone)."""
    found = []
    tvm_ffi.structural_walk(node, (TensorLoad, found.append))
    return bool(found)


def loop_nest(extents, body_fn, kind=None, names=None, annotations=None):
    """``for i0 in range(e0): for i1 in range(e1): ... body_fn([i0, i1, ...])``."""
    kind = tirx.ForKind.SERIAL if kind is None else kind
    names = names or [f"i{k}" for k in range(len(extents))]
    loop_vars = [tirx.Var(n, "int32") for n in names]
    stmt = body_fn(loop_vars)
    for var, ext in reversed(list(zip(loop_vars, extents))):
        stmt = tirx.For(var, 0, ext, kind, stmt, None, annotations)
    return stmt
