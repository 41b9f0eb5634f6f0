"""Loops of a tile program: ``T.Parallel``, ``T.Pipelined``, ``T.serial``, ``T.unroll``.

``T.Parallel(M, N)`` is one loop nest over several extents, which TVMScript's ``for`` cannot express from Python,
so importing this module adds a parser rule (TVMScript's ``("tirx", "For")`` handler, process-wide) that turns
``for i, j in T.Parallel(M, N):`` into nested loops annotated ``tiledsl.parallel``; every other ``for`` goes to
TVM's own handler unchanged.
"""
from __future__ import annotations

import contextlib

from tvm import tirx
from tvm.script.ir_builder import IRBuilder, tirx as _builder
from tvm.sym import Analyzer
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


class Persistent:
    """``for bx, by in T.Persistent([m_tiles, n_tiles], wave_size, block_id, group_size=8):`` the tiles a
    persistent block owns (TileLang's construct): the block ``block_id`` of ``wave_size`` blocks takes tile
    ``w * wave_size + block_id`` in waves ``w = 0, 1, ...``, tiles numbered in groups of ``group_size`` along the
    last dimension (for L2 reuse), and the body runs once per tile it owns with its coordinates. Lowered here, by
    the front end, to a serial loop over the waves with the coordinates computed and out-of-range tiles skipped."""

    def __init__(self, domain, wave_size, index, group_size=8):
        if not isinstance(domain, (list, tuple)) or not domain:
            raise TileProgramError(f"T.Persistent: the domain must be a non-empty list of tile counts, like "
                                   f"[T.ceildiv(M, block_M), T.ceildiv(N, block_N)]; got {domain!r}")
        if group_size is None:
            group_size = 1
        for what, value in (("wave_size", wave_size), ("group_size", group_size)):
            if isinstance(value, bool) or (isinstance(value, int) and value < 1):
                raise TileProgramError(f"T.Persistent: {what}={value!r} must be a positive int or expression")
        self.domain = [tirx.const(d, "int32") if isinstance(d, int) else d for d in domain]
        self.wave_size = wave_size
        self.index = index
        self.group_size = group_size

    def _grouped(self):
        """(the group size, the domain regrouped as [groups along the last dim, other dims..., group])."""
        last = self.domain[-1]
        size = tirx.const(self.group_size, "int32") if isinstance(self.group_size, int) else self.group_size
        group = tirx.max(tirx.const(1, "int32"), tirx.min(size, last))
        return group, [tirx.ceildiv(last, group)] + list(self.domain[:-1]) + [group]

    def _padded(self, grouped):
        padded = grouped[0]
        for g in grouped[1:]:
            padded = padded * g
        return padded

    def schedule(self, wave):
        """(coordinates, condition) of the tile the block handles in wave ``wave`` (a TIR expression)."""
        group, grouped = self._grouped()
        tile = wave * self.wave_size + self.index
        idxs = [None] * len(grouped)
        rem = tile
        for i in range(len(grouped) - 1, 0, -1):
            idxs[i] = tirx.truncmod(rem, grouped[i])
            rem = tirx.truncdiv(rem, grouped[i])
        idxs[0] = rem
        coords = [idxs[i + 1] for i in range(len(self.domain) - 1)] + [idxs[0] * group + idxs[-1]]
        return coords, tirx.all(tile < self._padded(grouped), coords[-1] < self.domain[-1])

    def waves(self):
        """How many waves cover every tile (padded to whole groups)."""
        return tirx.ceildiv(self._padded(self._grouped()[1]), self.wave_size)


def _bind_expression(self, node, var_name, value):  # noqa: ARG001 - the parser's bind_value signature
    return value


def _visit_persistent(self, node, spec: Persistent):
    """``for coords in T.Persistent(...)``: a serial loop over waves; the body, guarded, sees the coordinates."""
    with self.var_table.with_frame():
        with _builder.serial(0, Analyzer().simplify(spec.waves())) as wave:
            IRBuilder.name("wave", wave)
            coords, inside = spec.schedule(wave)
            coords = [Analyzer().simplify(c) for c in coords]
            with _builder.If(Analyzer().simplify(inside)):
                with _builder.Then():
                    self.eval_assign(target=node.target, source=coords if len(coords) > 1 else coords[0],
                                     bind_value=_bind_expression)
                    self.visit_body(node.body)
    return None


def _visit_for(self, node):
    iterator = node.iter
    func = self.eval_expr(iterator.func) if isinstance(iterator, doc.Call) else None
    if func is Persistent:
        return _visit_persistent(self, node, self.eval_expr(iterator))
    if func is Parallel:
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
