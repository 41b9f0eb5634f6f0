"""Side effects of per-element code on CUDA: which statements must run once per element, and on which thread.

A block's threads each hold registers of their own. Code that only updates registers (fragments, ``T.alloc_local``
buffers) may run on every thread holding a copy of the data; code with a *side effect* - a store to global or
shared memory, an atomic, any other call with an effect outside the thread - must run once per element, whatever
number of threads hold that element (a replicated fragment is held by all of them, a row statistic of an mma
accumulator by a quad of lanes in each warp of its row). The lowering asks:

* :func:`has_side_effects` - does a loop body have any?
* :func:`guard_side_effects` - wrap each side-effecting statement in ``if <this thread is the owner>``, leaving the
  register updates around it to every thread.
* :func:`carried_locals` - which ``T.alloc_local`` buffers a loop body carries from one iteration to the next (read
  before written, or read after the loop): such a loop cannot be split over the threads.
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, Op, TensorLoad

from ...language.loops import PARALLEL_ATTR

_REGISTER_SCOPES = ("local", "local.fragment")
# TVM's barrier is a collective: guarding it by thread would deadlock, and running it on every thread is harmless
_COLLECTIVES = ("tirx.tvm_storage_sync",)
_EFFECTFUL = (tirx.CallEffectKind.UpdateState.value, tirx.CallEffectKind.Opaque.value)


def is_register(buf) -> bool:
    """True for per-thread storage (fragments and ``T.alloc_local`` buffers)."""
    return buf.scope() in _REGISTER_SCOPES


def call_has_effect(call) -> bool:
    """True when ``call`` does something other threads can observe (an atomic, an extern call, a tile op)."""
    op = call.op
    if not isinstance(op, Op):
        return True
    if op.name in _COLLECTIVES:
        return False
    kind = op.get_attr("TCallEffectKind")
    return kind is None or int(kind) in _EFFECTFUL


def _effect_of_stmt(stmt) -> bool:
    if isinstance(stmt, tirx.BufferStore):
        return not is_register(stmt.buffer)
    if isinstance(stmt, tirx.Evaluate):
        found = []
        tvm_ffi.structural_walk(stmt.value, (Call, lambda c: found.append(c) if call_has_effect(c) else None))
        return bool(found)
    return False


def has_side_effects(stmt) -> bool:
    """True when ``stmt`` stores outside registers or makes an effectful call."""
    found = []
    tvm_ffi.structural_walk(stmt, [(tirx.BufferStore, lambda s: found.append(s) if _effect_of_stmt(s) else None),
                                   (tirx.Evaluate, lambda s: found.append(s) if _effect_of_stmt(s) else None)])
    return bool(found)


def guard_side_effects(stmt, predicate):
    """``stmt`` with every side-effecting store or call run only where ``predicate`` holds."""
    if predicate is None:
        return stmt

    def on_leaf(leaf):
        return tirx.IfThenElse(predicate, leaf, None) if _effect_of_stmt(leaf) else leaf

    return tvm_ffi.structural_map(stmt, [(tirx.BufferStore, on_leaf), (tirx.Evaluate, on_leaf)], order="post")


def registers_written(stmt) -> list:
    """The per-thread buffers (fragments, locals) that ``stmt`` stores to."""
    found = []

    def on_store(store):
        if is_register(store.buffer) and not any(store.buffer.same_as(b) for b in found):
            found.append(store.buffer)

    tvm_ffi.structural_walk(stmt, (tirx.BufferStore, on_store))
    return found


def memory_read_and_written(stmt) -> list:
    """Names of the global or shared buffers that ``stmt`` both reads and writes (an atomic's address is a write,
    not a read)."""
    targets = []
    tvm_ffi.structural_walk(stmt, (Call, lambda c: targets.append(c.args[0])
                                   if getattr(c.op, "name", "") == "tirx.address_of" else None))
    reads, writes = set(), set()

    def on_load(load):
        if is_register(load.source):
            return
        if any(load.same_as(t) for t in targets):
            writes.add(load.source)
        else:
            reads.add(load.source)

    def on_store(store):
        if not is_register(store.buffer):
            writes.add(store.buffer)

    tvm_ffi.structural_walk(stmt, [(TensorLoad, on_load), (tirx.BufferStore, on_store)])
    return sorted(b.name for b in reads & writes)


def _loads_of(node, buf) -> bool:
    found = []
    tvm_ffi.structural_walk(node, (TensorLoad, lambda l: found.append(l) if l.source.same_as(buf) else None))
    return bool(found)


def _first_touch(stmt, buf) -> str:
    """How ``stmt`` first touches ``buf`` on every path: "written" (stored without being read first), "read"
    (possibly read before any store: a value carried in) or "untouched"."""
    if stmt is None:
        return "untouched"
    if isinstance(stmt, tirx.SeqStmt):
        for s in stmt.seq:
            touch = _first_touch(s, buf)
            if touch != "untouched":
                return touch
        return "untouched"
    if isinstance(stmt, tirx.BufferStore):
        if _loads_of(stmt.value, buf) or any(_loads_of(i, buf) for i in stmt.indices):
            return "read"
        return "written" if stmt.buffer.same_as(buf) else "untouched"
    if isinstance(stmt, tirx.IfThenElse):
        if _loads_of(stmt.condition, buf):
            return "read"
        both = {_first_touch(stmt.then_case, buf), _first_touch(stmt.else_case, buf)}
        return both.pop() if len(both) == 1 else "read"  # written on one path only: the other carries a value
    if isinstance(stmt, tirx.For):
        if _loads_of(stmt.min, buf) or _loads_of(stmt.extent, buf):
            return "read"
        touch = _first_touch(stmt.body, buf)
        runs = isinstance(stmt.extent, tirx.IntImm) and int(stmt.extent) > 0
        return "read" if touch == "written" and not runs else touch
    if isinstance(stmt, (tirx.LetStmt, tirx.AttrStmt)):
        if _loads_of(stmt.value, buf):
            return "read"
        body = getattr(stmt, "body", None)  # LetStmt is TVM 0.27's Bind: no body
        return _first_touch(body, buf) if body is not None else "untouched"
    if isinstance(stmt, tirx.AllocBuffer):
        return "untouched"
    if _loads_of(stmt, buf) or any(b.same_as(buf) for b in registers_written(stmt)):
        return "read"  # anything else (While, ...) that touches it: assume it is carried
    return "untouched"


def _written_first(body, buf) -> bool:
    """True when each iteration of ``body`` stores ``buf`` before reading it (a fresh value every iteration)."""
    return _first_touch(body, buf) != "read"


class LocalUse:
    """Where each ``T.alloc_local`` buffer of a kernel is read: in which T.Parallel nests, and whether outside any."""

    def __init__(self, func_body):
        self.read_outside = set()  # buffers read outside every T.Parallel nest
        self.nests = []  # (innermost body of each outermost T.Parallel nest)
        self._walk(func_body)

    def _walk(self, stmt):
        if stmt is None:
            return
        if isinstance(stmt, tirx.For) and PARALLEL_ATTR in stmt.annotations:
            body = stmt
            while isinstance(body, tirx.For) and PARALLEL_ATTR in body.annotations:
                body = body.body
            self.nests.append(body)
            return
        children = []
        if isinstance(stmt, tirx.SeqStmt):
            children = list(stmt.seq)
        elif isinstance(stmt, (tirx.For, tirx.AttrStmt, tirx.LetStmt, tirx.While)):
            children = [getattr(stmt, "body", None)]  # LetStmt is TVM 0.27's Bind: no body
            self._note_reads([getattr(stmt, f) for f in ("min", "extent", "value", "condition") if hasattr(stmt, f)])
        elif isinstance(stmt, tirx.IfThenElse):
            children = [stmt.then_case, stmt.else_case]
            self._note_reads([stmt.condition])
        else:
            self._note_reads([stmt])
        for c in children:
            self._walk(c)

    def _note_reads(self, nodes):
        for node in nodes:
            if node is None:
                continue
            tvm_ffi.structural_walk(node, (TensorLoad, lambda l: self.read_outside.add(l.source)
                                           if l.source.scope() == "local" else None))

    def is_scratch(self, buf) -> bool:
        """True when every T.Parallel nest that uses ``buf`` writes it before reading it and nothing else reads it:
        it holds one iteration's temporary, so the iterations can run on different threads."""
        if buf in self.read_outside:
            return False
        for body in self.nests:
            if (_loads_of(body, buf) or any(b.same_as(buf) for b in registers_written(body))) \
                    and not _written_first(body, buf):
                return False
        return True


def carried_locals(body, local_use: LocalUse) -> list:
    """``T.alloc_local`` buffers written in a loop body whose values outlive one iteration."""
    return [b for b in registers_written(body) if b.scope() == "local" and not local_use.is_scratch(b)]
