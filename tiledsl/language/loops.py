"""Loops of a tile program: ``T.Parallel``, ``T.Pipelined``, ``T.serial``, ``T.unroll``.

``T.Parallel(M, N)`` is one loop nest over several extents, which TVMScript's ``for`` cannot express from Python,
so importing this module adds a parser rule (TVMScript's ``("tirx", "For")`` handler, process-wide) that turns
``for i, j in T.Parallel(M, N):`` into nested loops annotated ``tiledsl.parallel``; every other ``for`` goes to
TVM's own handler unchanged.
"""
from __future__ import annotations

import contextlib

from tvm.script.ir_builder import tirx as _builder
from tvm.script.parser.core import dispatch, doc
from tvm.tirx.script.parser.parser import bind_for_value

from ..errors import TileProgramError

PARALLEL_ATTR = "tiledsl.parallel"
NUM_STAGES_ATTR = "tiledsl.num_stages"


class Parallel:
    """``for i, j in T.Parallel(M, N):`` element-wise work over a tile, spread over the block's threads."""

    def __init__(self, *extents, coalesced_width=None, loop_layout=None):
        if not extents:
            raise TileProgramError("T.Parallel needs at least one extent")
        self.extents = extents
        self.coalesced_width = coalesced_width


def Pipelined(start, stop=None, num_stages: int = 0, order=None, stage=None, sync=None, group=None):
    """``for k in T.Pipelined(n, num_stages=3):`` a loop whose copies may run ``num_stages`` iterations ahead."""
    if stop is None:
        start, stop = 0, start
    if not isinstance(num_stages, int) or num_stages < 0:
        raise TileProgramError(f"T.Pipelined: num_stages={num_stages!r} must be a non-negative int")
    annotations = {NUM_STAGES_ATTR: num_stages}
    return _builder.serial(start, stop, annotations=annotations)


def _visit_for(self, node):
    iterator = node.iter
    if isinstance(iterator, doc.Call) and self.eval_expr(iterator.func) is Parallel:
        spec = self.eval_expr(iterator)
        with self.var_table.with_frame(), contextlib.ExitStack() as stack:
            loop_vars = [stack.enter_context(_builder.parallel(e, annotations={PARALLEL_ATTR: 1}))
                         for e in spec.extents]
            self.eval_assign(target=node.target, source=loop_vars if len(loop_vars) > 1 else loop_vars[0],
                             bind_value=bind_for_value)
            self.visit_body(node.body)
        return None
    return _tvm_visit_for(self, node)


_tvm_visit_for = dispatch.get("tirx", "For")
if getattr(_tvm_visit_for, "__name__", "") != "_visit_for":  # re-import safe
    dispatch.register(token="tirx", type_name="For")(_visit_for)
