"""LongestTilesFirst: blocks whose main loop runs longer for larger values of one block index are launched in
reverse order of that index, the longest first (``TILEDSL_LONGEST_FIRST=1``, CUDA; off until timed on a GPU).

Causal attention's q-tile ``bx`` runs ``min(ceildiv(S, bn), ceildiv((bx + 1) * bm, bn))`` iterations: launched in
order, the last wave holds the longest tiles and the SMs that finished early wait for them. Reversed, the short
tiles fill the gaps at the end (the order FlashAttention uses).

The kernel body's pipelined loops (``T.Pipelined``) are examined; when one's extent, with the scalars the kernel
sets from block indices inlined, depends on exactly one block index of constant extent and is non-decreasing and
not constant over it (evaluated at every value), that index ``b`` becomes ``extent - 1 - b`` everywhere in the
kernel. Any order of independent blocks computes the same result; a kernel whose blocks may wait for one another
(a ``while`` loop, an atomic) is left alone.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call
from tvm.sym import Analyzer

from ...language.loops import NUM_STAGES_ATTR
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, substitute, uses_var

_MAX_BLOCKS = 1 << 16  # evaluate the extent at most at this many block indices


def _block_launches(body) -> dict:
    found = {}

    def on_attr(a):
        if a.attr_key == "thread_extent" and a.node.thread_tag.startswith("blockIdx"):
            found[a.node.var] = a.value
    tvm_ffi.structural_walk(body, (tirx.AttrStmt, on_attr))
    return found


def _pipelined_extents(body) -> list:
    """The extents of the pipelined loops, with the scalars set at the top of their statement lists inlined."""
    from .pipeline import inline_scalars, note_scalar

    out = []

    def visit(stmt, lets):
        if isinstance(stmt, tirx.SeqStmt):
            lets = dict(lets)
            stmts = flatten_seq([stmt])
            for s in stmts:
                note_scalar(s, stmts, lets)
                visit(s, lets)
        elif isinstance(stmt, tirx.For):
            if stmt.annotations is not None and NUM_STAGES_ATTR in stmt.annotations:
                out.append(inline_scalars(stmt.extent, lets))
            visit(stmt.body, lets)
        elif isinstance(stmt, (tirx.AttrStmt, tirx.AllocBuffer)) and hasattr(stmt, "body"):
            visit(stmt.body, lets)
        elif isinstance(stmt, tirx.IfThenElse):
            visit(stmt.then_case, lets)
            if stmt.else_case is not None:
                visit(stmt.else_case, lets)
    visit(body, {})
    return out


def _growing_index(extent, launches):
    """The block index the loop ``extent`` grows with (non-decreasing, not constant), or None."""
    used = [b for b in launches if uses_var(extent, b)]
    if len(used) != 1 or not isinstance(launches[used[0]], tirx.IntImm):
        return None
    b, count = used[0], int(launches[used[0]])
    if not 1 < count <= _MAX_BLOCKS:
        return None
    ana = Analyzer()
    values = []
    for v in range(count):
        e = ana.simplify(substitute(extent, {b: tirx.const(v, str(b.ty))}))
        if not isinstance(e, tirx.IntImm):
            return None
        values.append(int(e.value))
    if values[-1] == values[0] or any(x > y for x, y in zip(values, values[1:])):
        return None
    return b


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.LongestTilesFirst")
@keep_tiledsl_errors
def LongestTilesFirst(func, mod, ctx):
    """Launch the blocks with the longest main loop first (see the module doc; ``TILEDSL_LONGEST_FIRST=1``)."""
    if not schedule("TILEDSL_LONGEST_FIRST"):
        return func
    if _may_talk_across_blocks(func.body):
        return func
    launches = _block_launches(func.body)
    for extent in _pipelined_extents(func.body):
        b = _growing_index(extent, launches)
        if b is not None:
            return func.with_body(_reversed(func.body, b, launches[b]))
    return func


def _may_talk_across_blocks(body) -> bool:
    """True when blocks may wait for one another (a ``while`` loop, an atomic): a decoupled look-back waits for the
    blocks launched before it, and launched in reverse order it could wait for one that never starts."""
    found = []

    def on_call(call):
        name = getattr(call.op, "name", "")
        if "atomic" in name.lower() or "atomic" in str(call.args[0] if call.args else "").lower():
            found.append(call)
    tvm_ffi.structural_walk(body, [(tirx.While, lambda w: found.append(w)), (Call, on_call)])
    return bool(found)


def _reversed(body, b, count):
    """``body`` with block index ``b`` read as ``count - 1 - b`` below the outermost thread launch (where the
    kernel uses its block indices)."""
    done = []

    def on_thread(a):
        if a.attr_key == "thread_extent" and a.node.thread_tag.startswith("threadIdx") and not done:
            done.append(1)
            return tirx.AttrStmt(a.node, a.attr_key, a.value, substitute(a.body, {b: count - 1 - b}))
        return a
    return tvm_ffi.structural_map(body, [(tirx.AttrStmt, on_thread)], order="pre")
