"""Count, without a GPU, how many threads perform each side effect of a kernel lowered for CUDA.

``side_effects(func)`` lowers a tile program with tiledsl's CUDA passes (the IR just before TVM's own pipeline:
thread launches, per-thread loops, guards, ``atomicAdd`` calls) and walks it once per block and per thread,
evaluating every loop bound, branch condition and index with the concrete block and thread ids. It records each
store to global or shared memory and each ``atomicAdd`` that thread would execute. Register values are never
computed: a branch that depends on a loaded value raises :class:`Unsupported` (test programs avoid that).

So a test can check "each output element is added exactly once per block" on the machine that has no GPU: the
index and predicate expressions that run on the GPU are the ones evaluated here.
"""
from __future__ import annotations

from collections import Counter

import tvm
import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad
from tvm.ir.prim import expr as _prim

from tiledsl.passes.pipeline import lower


class Unsupported(Exception):
    """The walk met something whose value depends on data (a load in a condition or index)."""


def lowered_cuda(func, arch: str = "sm_90a"):
    """``func`` after tiledsl's CUDA passes (before TVM's pipeline)."""
    target = tvm.target.Target({"kind": "cuda", "arch": arch})
    return lower(tvm.IRModule({"main": func}), target, allow_hopper_shortcut=False).mod["main"]


def _div(a, b):  # C-style truncating division
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_BINARY = {
    tirx.Add: lambda a, b: a + b, tirx.Sub: lambda a, b: a - b, tirx.Mul: lambda a, b: a * b,
    tirx.FloorDiv: lambda a, b: a // b, tirx.FloorMod: lambda a, b: a % b,
    tirx.Div: _div, tirx.Mod: lambda a, b: a - _div(a, b) * b,
    tirx.Min: min, tirx.Max: max,
    _prim.BitwiseAnd: lambda a, b: a & b, _prim.BitwiseOr: lambda a, b: a | b, _prim.BitwiseXor: lambda a, b: a ^ b,
    _prim.LShift: lambda a, b: a << b, _prim.RShift: lambda a, b: a >> b,
    tirx.EQ: lambda a, b: a == b, tirx.NE: lambda a, b: a != b, tirx.LT: lambda a, b: a < b,
    tirx.LE: lambda a, b: a <= b, tirx.GT: lambda a, b: a > b, tirx.GE: lambda a, b: a >= b,
}


class _Walker:
    def __init__(self, registers=(), only=None):
        self.env = {}
        self.effects = Counter()
        self.block = ()
        self.thread = ()
        self.registers = set(registers)
        self.only = None if only is None else set(only) | self.registers
        self._effectful = {}
        self.thread_var = None

    # ---------------------------------------------------------------- expressions (integers and booleans)
    def value(self, e):
        t = type(e)
        if t in _BINARY:
            return _BINARY[t](self.value(e.a), self.value(e.b))
        if t is tirx.IntImm:
            return int(e.value)
        if t is tirx.FloatImm:
            return float(e.value)
        if isinstance(e, tvm.ir.Var):
            if e not in self.env:
                raise Unsupported(f"unbound variable {e}")
            return self.env[e]
        if t is tirx.And:
            return self.value(e.a) and self.value(e.b)
        if t is tirx.Or:
            return self.value(e.a) or self.value(e.b)
        if t is tirx.Not:
            return not self.value(e.a)
        if t is tirx.Select:
            return self.value(e.true_value) if self.value(e.condition) else self.value(e.false_value)
        if t is tirx.Cast:
            v = self.value(e.value)
            return int(v) if str(e.ty.dtype).startswith(("int", "uint")) else v
        if isinstance(e, Call) and getattr(e.op, "name", "") == "tirx.call_extern" and \
                str(e.args[0].value) == "__shfl_sync":
            return self.lane_zero(e)
        if isinstance(e, Call) and getattr(e.op, "name", "") == "prim.if_then_else":
            return self.value(e.args[1]) if self.value(e.args[0]) else self.value(e.args[2])
        if isinstance(e, TensorLoad):
            raise Unsupported(f"a value loaded from {e.source.name} decides control flow or an index")
        raise Unsupported(f"cannot evaluate {type(e).__name__}: {e}")

    def lane_zero(self, call):
        """``__shfl_sync(mask, v, 0, 32)`` (the warp index, ``passes/cuda/warp_index.py``): lane 0's ``v`` of this
        thread's warp, ``v`` evaluated with ``threadIdx.x`` set to that lane."""
        _, _, v, lane, width = call.args
        if int(lane.value) != 0 or int(width.value) != 32 or self.thread_var is None:
            raise Unsupported(f"a shuffle other than a lane-0 broadcast: {call}")
        own = self.env[self.thread_var]
        self.env[self.thread_var] = own // 32 * 32
        try:
            return self.value(v)
        finally:
            self.env[self.thread_var] = own

    # ---------------------------------------------------------------- statements
    def effectful(self, stmt) -> bool:
        """Whether ``stmt`` contains any global/shared store or atomic (cached: subtrees without are skipped)."""
        key = stmt
        if key not in self._effectful:
            found = []

            def wanted(buf):
                return self.only is None or buf.name in self.only

            def on_store(s):
                if (s.buffer.scope() not in ("local", "local.fragment") or s.buffer.name in self.registers) \
                        and wanted(s.buffer):
                    found.append(s)

            def on_call(c):
                if getattr(c.op, "name", "") == "tirx.call_extern" and str(c.args[0].value) == "atomicAdd":
                    found.append(c)  # its buffer is checked when it runs
            tvm_ffi.structural_walk(stmt, [(tirx.BufferStore, on_store), (Call, on_call)])
            self._effectful[key] = bool(found)
        return self._effectful[key]

    def record(self, kind, buf, indices):
        idx = tuple(self.value(i) for i in indices)
        if buf.scope() in ("local", "local.fragment"):
            kind, where = "register", (self.block, self.thread)
        else:
            where = None if buf.scope() == "global" else self.block
        self.effects[(kind, buf.name, where, idx)] += 1

    def run(self, stmt):
        if stmt is None:
            return
        if isinstance(stmt, tirx.AttrStmt):
            if stmt.attr_key == "thread_extent":
                var = stmt.node.var
                tag = stmt.node.thread_tag
                for v in range(self.value(stmt.value)):
                    self.env[var] = v
                    if tag.startswith("blockIdx"):
                        self.block = self.block[:"xyz".index(tag[-1])] + (v,)
                    else:
                        self.thread = self.thread[:"xyz".index(tag[-1])] + (v,)
                        if tag == "threadIdx.x":
                            self.thread_var = var
                    self.run(stmt.body)
                return
            self.run(stmt.body)
            return
        if isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                self.run(s)
            return
        if isinstance(stmt, tirx.Bind):  # an integer the code uses later (the warp index); others stay unbound
            try:
                self.env[stmt.var] = self.value(stmt.value)
            except Unsupported:
                pass
            return
        if not self.effectful(stmt):
            return
        if isinstance(stmt, tirx.For):
            lo = self.value(stmt.min)
            for v in range(lo, lo + self.value(stmt.extent)):
                self.env[stmt.loop_var] = v
                self.run(stmt.body)
            return
        if isinstance(stmt, tirx.IfThenElse):
            self.run(stmt.then_case if self.value(stmt.condition) else stmt.else_case)
            return
        if isinstance(stmt, tirx.LetStmt):
            self.env[stmt.var] = self.value(stmt.value)
            self.run(stmt.body)
            return
        if isinstance(stmt, tirx.BufferStore):
            if self.only is None or stmt.buffer.name in self.only:
                self.record("store", stmt.buffer, stmt.indices)
            return
        if isinstance(stmt, tirx.Evaluate):
            target = stmt.value.args[1].args[0]  # atomicAdd(address_of(buf[idx]), value)
            while isinstance(target, Call) and getattr(target.op, "name", "") == "prim.if_then_else":
                target = target.args[1] if self.value(target.args[0]) else target.args[2]
            if not isinstance(target, TensorLoad):
                raise Unsupported(f"atomicAdd on the address of {target}, not of a memory location")
            if self.only is None or target.source.name in self.only:
                self.record("atomic", target.source, target.indices)
            return
        raise Unsupported(f"statement {type(stmt).__name__}")


def side_effects(func, arch: str = "sm_90a", scalars: dict | None = None, registers=(), only=None) -> Counter:
    """How many times each side effect runs over the whole grid: ``{(kind, buffer, where, index): n}`` with kind
    "store" or "atomic"; ``where`` is None for global memory, the block for shared memory. Stores to the per-thread
    buffers named in ``registers`` are counted too, as kind "register" with ``where`` = (block, thread). ``only``
    (buffer names) limits the walk to those buffers (faster: code touching nothing else is skipped)."""
    low = lowered_cuda(func, arch)
    walker = _Walker(registers, only)
    for name, value in (scalars or {}).items():
        walker.env[next(p for p in low.params if p.name == name)] = value
    walker.run(low.body)
    return walker.effects


def per_element(effects: Counter, buffer: str, kind: str | None = None) -> dict:
    """``{index: count}`` of one buffer's side effects (global memory; shared ones summed over blocks)."""
    out = Counter()
    for (k, name, _, idx), n in effects.items():
        if name == buffer and (kind is None or k == kind):
            out[idx] += n
    return dict(out)


def register_writes(effects: Counter, buffer: str) -> dict:
    """``{(block, thread): {index: count}}`` of the stores to a per-thread buffer (see ``registers``)."""
    out: dict = {}
    for (k, name, where, idx), n in effects.items():
        if k == "register" and name == buffer:
            out.setdefault(where, Counter())[idx] += n
    return out
