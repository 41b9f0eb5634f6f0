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
    the front end, to a serial loop over the tiles the block owns, with their coordinates computed."""

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

    def _group(self):
        size = tirx.const(self.group_size, "int32") if isinstance(self.group_size, int) else self.group_size
        return tirx.max(tirx.const(1, "int32"), tirx.min(size, self.domain[-1]))

    def _count(self):
        total = self.domain[0]
        for d in self.domain[1:]:
            total = total * d
        return total

    def _coords_in_groups(self, tile, width):
        """Coordinates of ``tile`` counted within groups of ``width`` along the last dimension: fastest along the
        group, then along the other dimensions (last first), then from group to group."""
        last = tirx.truncmod(tile, width)
        rest = tirx.truncdiv(tile, width)
        others = []
        for d in reversed(self.domain[:-1]):
            others.insert(0, tirx.truncmod(rest, d))
            rest = tirx.truncdiv(rest, d)
        return others + [rest * width + last]

    def schedule(self, wave):
        """The coordinates of the tile the block handles in wave ``wave`` (a TIR expression).

        Tiles are numbered as TileLang numbers them (in groups of ``group_size`` along the last dimension); a last,
        narrower group (when ``group_size`` does not divide the last extent) is numbered after the full groups, so
        that every number below the tile count is a tile and no statement-level guard is needed (a guard around
        a pipelined body would keep barriers out of it)."""
        analyzer = Analyzer()
        group = self._group()
        last = self.domain[-1]
        full_groups = tirx.truncdiv(last, group)
        narrow = analyzer.simplify(last - full_groups * group)
        tile = wave * self.wave_size + self.index
        coords = self._coords_in_groups(tile, group)
        if isinstance(narrow, tirx.IntImm) and narrow.value == 0:
            return [analyzer.simplify(c) for c in coords]
        in_full = full_groups * group
        for d in self.domain[:-1]:
            in_full = in_full * d
        tail = self._coords_in_groups(tile - in_full, tirx.max(narrow, tirx.const(1, "int32")))
        tail[-1] = tail[-1] + full_groups * group
        return [analyzer.simplify(tirx.Select(tile < in_full, c, t)) for c, t in zip(coords, tail)]

    def waves(self):
        """How many waves this block runs: one per tile it owns (``block_id``, ``block_id + wave_size``, ...)."""
        owned = tirx.ceildiv(self._count() - self.index, self.wave_size)
        return Analyzer().simplify(tirx.max(owned, tirx.const(0, "int32")))


def _bind_expression(self, node, var_name, value):  # noqa: ARG001 - the parser's bind_value signature
    return value


def _visit_persistent(self, node, spec: Persistent):
    """``for coords in T.Persistent(...)``: a serial loop over the block's tiles; the body sees their coordinates."""
    with self.var_table.with_frame():
        with _builder.serial(0, spec.waves()) as wave:
            IRBuilder.name("wave", wave)
            coords = spec.schedule(wave)
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
