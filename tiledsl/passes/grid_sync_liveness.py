"""Which on-chip buffers a part of a kernel may read before writing them (the check behind ``T.sync_grid``).

``split_grid_sync`` runs the code after a grid barrier as a new launch, where shared, fragment and local memory
start undefined. That is exact only if every such buffer the new launch reads is written there first. This module
proves it conservatively on tile-level IR (before any lowering), walking the statements in program order with the
set of buffers *definitely written in full* so far:

* a full write is a ``T.copy`` / ``T.fill`` / ``T.clear`` into the whole buffer, a ``T.reduce_*`` with
  ``clear=True`` or a ``T.gemm`` with ``clear_accum=True`` into the whole buffer, a store into a one-element
  buffer (``T.alloc_var``, a scalar), or a loop nest (``T.Parallel``, ``T.serial``) that stores to
  ``buf[i, j, ...]`` with its loop variables running over the whole shape;
* inside a loop body, a load of exactly the element this iteration already stored is allowed;
* after an ``if``, only what both branches wrote counts; after a loop, what its body wrote counts only when the
  loop surely runs (a constant extent of at least 1);
* anything the check does not understand (an opaque call mentioning the buffer, a partial region) counts as a read
  and never as a write.

It may refuse a correct program, never accept a wrong one.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Op, Range, TensorLoad, TensorRegion
from tvm.sym import Analyzer

_TILE_PREFIX = "tiledsl."


class StaleRead(Exception):
    """A candidate buffer is read where it may not have been written yet (``buffer``, ``what`` reads it)."""

    def __init__(self, buffer, what: str):
        super().__init__(f"{buffer.name} read by {what}")
        self.buffer, self.what = buffer, what


def _is_const_at_least_one(extent) -> bool:
    return isinstance(extent, tirx.IntImm) and int(extent) >= 1


def _single_element(buf) -> bool:
    return all(isinstance(s, tirx.IntImm) and int(s) == 1 for s in buf.ty.shape)


class _Walker:
    """Walks statements in program order; raises :class:`StaleRead` at the first unsafe read."""

    def __init__(self, candidates):
        self.candidates = list(candidates)
        self.analyzer = Analyzer()
        self.elements = []  # (buffer, indices) stored earlier in the current loop iteration

    def _candidate(self, var):
        for c in self.candidates:
            if c.same_as(var):
                return c
        return None

    # --- reads -----------------------------------------------------------------------------------------------
    def check_expr(self, node, written: set, what: str) -> None:
        """Every load of a candidate in ``node`` must be of a written buffer or an element stored this iteration."""
        bad = []

        def on_load(load):
            buf = self._candidate(load.source)
            if buf is not None and buf not in written and not self._stored_element(buf, load.indices):
                bad.append(buf)
        tvm_ffi.structural_walk(node, (TensorLoad, on_load))
        if bad:
            raise StaleRead(bad[0], what)

    def check_any_mention(self, node, written: set, what: str) -> None:
        """Every candidate that ``node`` mentions at all (an opaque use) must be written."""
        bad = []

        def on_var(v):
            buf = self._candidate(v)
            if buf is not None and buf not in written:
                bad.append(buf)
        tvm_ffi.structural_walk(node, (tirx.Var, on_var))
        if bad:
            raise StaleRead(bad[0], what)

    def _stored_element(self, buf, indices) -> bool:
        return any(b.same_as(buf) and len(idx) == len(indices)
                   and all(self.analyzer.can_prove_equal(x, y) for x, y in zip(idx, indices))
                   for b, idx in self.elements)

    # --- writes ----------------------------------------------------------------------------------------------
    def _full_region(self, region) -> bool:
        buf = region.source
        return len(region.region) == len(buf.ty.shape) and all(
            self.analyzer.can_prove_equal(r.min, 0) and self.analyzer.can_prove_equal(r.extent, ext)
            for r, ext in zip(region.region, buf.ty.shape))

    def _region_read(self, arg, written, what):
        if isinstance(arg, TensorRegion):
            buf = self._candidate(arg.source)
            if buf is not None and buf not in written:
                raise StaleRead(buf, what)
            for r in arg.region:
                self.check_expr(r.min, written, what)
                self.check_expr(r.extent, written, what)
        else:
            self.check_expr(arg, written, what)

    def _region_write(self, arg, written) -> set:
        if isinstance(arg, TensorRegion) and self._candidate(arg.source) is not None and self._full_region(arg):
            return written | {self._candidate(arg.source)}
        return written

    def tile_op(self, call, written: set) -> set:
        name = call.op.name[len(_TILE_PREFIX):]
        what = f"T.{name}"
        args = list(call.args)
        attrs = call.attrs if call.attrs is not None else {}
        if name == "copy":
            self._region_read(args[0], written, what)
            self._region_read_bounds(args[1], written, what)
            return self._region_write(args[1], written)
        if name == "fill":
            self._region_read_bounds(args[0], written, what)
            self.check_expr(args[1], written, what)
            return self._region_write(args[0], written)
        if name == "gemm":
            self._region_read(args[0], written, what)
            self._region_read(args[1], written, what)
            if "clear_accum" in attrs and bool(attrs["clear_accum"]):
                self._region_read_bounds(args[2], written, what)
                return self._region_write(args[2], written)
            self._region_read(args[2], written, what)
            return written
        if name == "reduce":
            self._region_read(args[0], written, what)
            if "clear" in attrs and bool(attrs["clear"]):
                self._region_read_bounds(args[1], written, what)
                return self._region_write(args[1], written)
            self._region_read(args[1], written, what)
            return written
        if name == "use_swizzle":
            return written
        for a in args:  # atomic_add and anything newer: every operand is read, nothing counts as written
            self._region_read(a, written, what)
        return written

    def _region_read_bounds(self, arg, written, what):
        """A written region: only the expressions of its bounds are read."""
        if isinstance(arg, TensorRegion):
            for r in arg.region:
                self.check_expr(r.min, written, what)
                self.check_expr(r.extent, written, what)

    # --- statements ------------------------------------------------------------------------------------------
    def stmt(self, s, written: set) -> set:
        """The set of buffers written in full after ``s``, given ``written`` before it."""
        if isinstance(s, tirx.SeqStmt):
            for child in s.seq:
                written = self.stmt(child, written)
            return written
        if isinstance(s, tirx.AllocBuffer):
            return written
        if isinstance(s, tirx.BufferStore):
            return self.store(s, written)
        if isinstance(s, tirx.Evaluate):
            value = s.value
            if isinstance(value, Call) and isinstance(value.op, Op) and value.op.name.startswith(_TILE_PREFIX):
                return self.tile_op(value, written)
            self.check_any_mention(value, written, "a call")
            return written
        if isinstance(s, tirx.For):
            return self.loop(s, written)
        if isinstance(s, tirx.IfThenElse):
            self.check_expr(s.condition, written, "an if condition")
            then_w = self._scoped(s.then_case, written)
            else_w = self._scoped(s.else_case, written) if s.else_case is not None else written
            return then_w & else_w
        if isinstance(s, tirx.While):
            self.check_expr(s.condition, written, "a while condition")
            self._in_loop(s.body, written, None)
            return written
        if isinstance(s, tirx.AttrStmt):
            self.check_any_mention(s.value, written, f"the attribute {s.attr_key}")
            return self.stmt(s.body, written)
        if isinstance(s, tirx.Bind):
            self.check_expr(s.value, written, "a scalar definition")
            return written
        self.check_any_mention(s, written, f"a {type(s).__name__} statement")
        return written

    def store(self, s, written: set) -> set:
        self.check_expr(s.value, written, f"the store into {s.buffer.name}")
        for i in s.indices:
            self.check_expr(i, written, f"the store into {s.buffer.name}")
        buf = self._candidate(s.buffer)
        if buf is None:
            return written
        if _single_element(buf):
            return written | {buf}
        self.elements.append((buf, list(s.indices)))
        return written

    def _scoped(self, s, written: set) -> set:
        saved = list(self.elements)
        try:
            return self.stmt(s, written)
        finally:
            self.elements = saved

    def _in_loop(self, body, written: set, loop) -> set:
        saved = self.elements
        self.elements = []
        if loop is not None:
            self.analyzer.bind(loop.loop_var, Range.from_min_extent(loop.min, loop.extent), allow_override=True)
        try:
            return self.stmt(body, written)
        finally:
            self.elements = saved

    def loop(self, s, written: set) -> set:
        self.check_expr(s.min, written, "a loop bound")
        self.check_expr(s.extent, written, "a loop bound")
        body_written = self._in_loop(s.body, written, s)
        out = body_written if _is_const_at_least_one(s.extent) else written
        return out | self._covering_stores(s)

    def _covering_stores(self, s) -> set:
        """Candidates that a perfect loop nest starting at ``s`` stores in full (``buf[i, j] = ...`` over the
        nest's whole range), unconditionally in its innermost body."""
        loops = []
        body = s
        while isinstance(body, tirx.For):
            loops.append(body)
            body = body.body
        stmts = body.seq if isinstance(body, tirx.SeqStmt) else [body]
        out = set()
        for st in stmts:
            if not isinstance(st, tirx.BufferStore):
                continue
            buf = self._candidate(st.buffer)
            if buf is None or len(st.indices) != len(buf.ty.shape):
                continue
            if self._covers(st.indices, buf.ty.shape, loops):
                out.add(buf)
        return out

    def _covers(self, indices, shape, loops) -> bool:
        if any(lp.step is not None and not self.analyzer.can_prove_equal(lp.step, 1) for lp in loops):
            return False
        used = set()
        for idx, ext in zip(indices, shape):
            if isinstance(idx, tirx.IntImm) and int(idx) == 0 and self.analyzer.can_prove_equal(ext, 1):
                continue
            match = [k for k, lp in enumerate(loops) if lp.loop_var.same_as(idx)]
            if not match or match[0] in used:
                return False
            lp = loops[match[0]]
            if not (self.analyzer.can_prove_equal(lp.min, 0) and self.analyzer.can_prove_equal(lp.extent, ext)):
                return False
            used.add(match[0])
        # a loop of the nest that no index uses must run at least once, or the store may never happen
        return all(k in used or self.analyzer.can_prove(lp.extent >= 1) for k, lp in enumerate(loops))


def first_stale_read(stmt, candidates) -> StaleRead | None:
    """The first read in ``stmt`` of a buffer among ``candidates`` that ``stmt`` may not have written in full
    before it (as a :class:`StaleRead`), or None when every read of them is proved to follow a full write."""
    if not candidates:
        return None
    try:
        _Walker(candidates).stmt(stmt, set())
    except StaleRead as stale:
        return stale
    return None
