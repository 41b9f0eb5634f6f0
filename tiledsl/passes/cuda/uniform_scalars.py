"""Which local buffers (scalars assigned in a kernel, replicated fragments) hold the same values on every thread.

TVM's parser makes ``tile = w * sms + bx`` in a kernel body a one-element ``local`` buffer and a store, where
TileLang has a let binding; a branch ``if tile < tiles:`` then reads a register, which ``uniform_branches`` must
assume may differ between threads. :func:`uniform_scalars` proves, on per-thread CUDA code, that such a buffer is
block-uniform: every store to it stores an expression of block-uniform values (constants, block indices, kernel
arguments, loop counters of loops with uniform bounds, global or shared loads at uniform indices, other uniform
scalars; arithmetic, comparisons, casts, selects, ``if_then_else`` and ``likely`` only, no other calls) and happens under block-uniform control (no
enclosing thread-dependent ``if``, loop bound or ``while``), and no other statement mentions it (a call that might
write it through its address). Found as a greatest fixed point: start from every candidate, drop those with a
non-uniform store, repeat until nothing changes.

The same holds for a local array: a fragment that every thread holds whole (a block-sparse mask copied from
global memory, read as ``if mask[k]:`` in a serial loop) is block-uniform when every store to it is, and a load
of it is block-uniform when its index is (a thread-dependent index makes the load thread-dependent, as for any
expression).
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Op, TensorLoad

_SHARED_OR_GLOBAL = ("shared", "shared.dyn", "global")
#: Calls that compute a value from their arguments alone: uniform when those are.
_PURE_OPS = {"prim.if_then_else", "prim.likely"}


def _is_local_of_constant_shape(buf) -> bool:
    """A local buffer of constant shape (a scalar, or a per-thread array such as a replicated fragment)."""
    return buf.scope() == "local" and all(isinstance(s, tirx.IntImm) for s in buf.ty.shape)


def _stored_locals(body) -> list:
    found = []

    def on_store(st):
        if _is_local_of_constant_shape(st.buffer) and not any(b.same_as(st.buffer) for b in found):
            found.append(st.buffer)
    tvm_ffi.structural_walk(body, (tirx.BufferStore, on_store))
    return found


class _Pass:
    """One walk over the body under the current guess of uniform scalars; collects the scalars it disproves."""

    def __init__(self, thread_vars, scalars: list):
        self.variant = list(thread_vars)
        self.scalars = scalars
        self.disproved = []

    def _scalar(self, var):
        return next((b for b in self.scalars if b.same_as(var)), None)

    def uniform(self, expr) -> bool:
        """Whether ``expr`` has the same value on every thread (under the current guess); a call (a shuffle, an
        intrinsic reading the lane) never is."""
        bad = []

        def on_var(v):
            if any(v.same_as(x) for x in self.variant):
                bad.append(v)

        def on_load(load):
            if load.source.scope() not in _SHARED_OR_GLOBAL and self._scalar(load.source) is None:
                bad.append(load)

        def on_call(call):
            if not (isinstance(call.op, Op) and call.op.name in _PURE_OPS):
                bad.append(call)

        tvm_ffi.structural_walk(expr, [(tirx.Var, on_var), (TensorLoad, on_load), (Call, on_call)])
        return not bad

    def _disprove(self, buf):
        if not any(b.same_as(buf) for b in self.disproved):
            self.disproved.append(buf)

    def walk(self, stmt, control_uniform: bool) -> None:
        if stmt is None:
            return
        if isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                self.walk(s, control_uniform)
        elif isinstance(stmt, tirx.BufferStore):
            buf = self._scalar(stmt.buffer)
            if buf is not None and not (control_uniform and self.uniform(stmt.value)
                                        and all(self.uniform(i) for i in stmt.indices)):
                self._disprove(buf)
        elif isinstance(stmt, tirx.For):
            bounds = self.uniform(stmt.min) and self.uniform(stmt.extent)
            if not bounds:
                self.variant.append(stmt.loop_var)
            self.walk(stmt.body, control_uniform and bounds)
        elif isinstance(stmt, tirx.IfThenElse):
            cond = self.uniform(stmt.condition)
            self.walk(stmt.then_case, control_uniform and cond)
            self.walk(stmt.else_case, control_uniform and cond)
        elif isinstance(stmt, tirx.While):
            self.walk(stmt.body, control_uniform and self.uniform(stmt.condition))
        elif isinstance(stmt, tirx.Bind):
            if not self.uniform(stmt.value):
                self.variant.append(stmt.var)
        elif isinstance(stmt, tirx.AttrStmt):
            self.walk(stmt.body, control_uniform)
        elif isinstance(stmt, tirx.AllocBuffer):
            return
        else:  # an Evaluate or any other statement: a scalar it mentions may be written through its address
            def on_var(v):
                buf = self._scalar(v)
                if buf is not None:
                    self._disprove(buf)
            tvm_ffi.structural_walk(stmt, (tirx.Var, on_var))
            self.walk(getattr(stmt, "body", None), control_uniform)


def uniform_scalars(body, thread_vars) -> list:
    """The local buffers of ``body`` (per-thread CUDA code: scalars and per-thread arrays) that hold the same
    values on every thread of the block wherever they are read."""
    scalars = _stored_locals(body)
    while scalars:
        walker = _Pass(thread_vars, scalars)
        walker.walk(body, True)
        if not walker.disproved:
            break
        scalars = [b for b in scalars if not any(b.same_as(d) for d in walker.disproved)]
    return scalars
