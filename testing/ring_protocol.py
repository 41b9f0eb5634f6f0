"""A CPU model of a warp-specialized kernel's mbarrier protocol, to find hangs without a GPU.

The lowered module (our passes, before TVM's) is run for one CTA as concurrent agents: the producer's issuing
thread and one thread per consumer warp (its lane 0, which makes the warp's releases). Only what orders the agents
is modelled: mbarrier init / arrive / arrive.expect_tx / wait on a phase parity, TMA loads completing their bytes
on their barrier (at once: the model explores one legal order of arrivals, the loads' latency does not matter for
whether a wait can be satisfied), whole-block barriers, integer scalars kept in registers (ring counters, loop
lengths) and the control flow around them. Register math, gemms and memory contents are skipped.

:func:`run_cta` returns when every agent finished, and raises :class:`Hang` naming each blocked agent's wait when
a full round of the agents changes nothing; it also fails on a barrier whose transaction count would go negative
(more bytes loaded than announced) or that completes with bytes outstanding.
"""
from __future__ import annotations

import math

import tvm
from tvm import tirx
from tvm.ir import Call, StringImm, TensorLoad

from tiledsl.passes.pipeline import lower

_BINARY = {tirx.Add: lambda a, b: a + b, tirx.Sub: lambda a, b: a - b, tirx.Mul: lambda a, b: a * b,
           tirx.FloorDiv: lambda a, b: a // b, tirx.FloorMod: lambda a, b: a % b, tirx.Min: min, tirx.Max: max,
           tirx.LT: lambda a, b: a < b, tirx.LE: lambda a, b: a <= b, tirx.GT: lambda a, b: a > b,
           tirx.GE: lambda a, b: a >= b, tirx.EQ: lambda a, b: a == b, tirx.NE: lambda a, b: a != b,
           tirx.And: lambda a, b: a and b, tirx.Or: lambda a, b: a or b}
_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "int8": 1, "uint8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1}


class Hang(AssertionError):
    """Every remaining agent waits and nothing can change: the kernel would hang."""


class _Barrier:
    def __init__(self, count):
        self.expected, self.pending, self.tx, self.phase = count, count, 0, 0

    def arrive(self, name, tx=0):
        self.pending -= 1
        self.tx += tx
        self._complete(name)

    def complete_tx(self, name, nbytes):
        self.tx -= nbytes
        self._complete(name)

    def _complete(self, name):
        if self.pending == 0 and self.tx == 0:
            self.phase, self.pending = self.phase + 1, self.expected
        elif self.pending < 0:
            raise AssertionError(f"{name}: more arrivals than its count in phase {self.phase}")

    def passed(self, parity):
        """mbarrier.try_wait.parity: the phase of this parity has completed."""
        return self.phase % 2 != parity


class _Cta:
    """The shared state of one CTA: barriers, the block barrier, the box bytes of each tensor map."""

    def __init__(self, boxes, agents):
        self.barriers, self.boxes, self.agents = {}, boxes, agents
        self.epoch = 0  # bumps on every change an agent could be waiting for
        self.sync_arrived, self.sync_generation = 0, 0
        self._matters = {}

    def matters(self, stmt) -> bool:
        """:func:`_matters`, remembered per statement."""
        known = self._matters.get(stmt)
        if known is None:
            known = self._matters[stmt] = _matters(stmt)
        return known


class _Agent:
    def __init__(self, cta, name, env):
        self.cta, self.name, self.env, self.locals = cta, name, dict(env), {}
        self.blocked_on = None

    # ------------------------------------------------------------------ values
    def value(self, e):
        if isinstance(e, tirx.IntImm):
            return int(e.value)
        if isinstance(e, tirx.Var):
            return self.env[e]
        if isinstance(e, tirx.Cast):
            return self.value(e.value)
        fn = _BINARY.get(type(e))
        if fn is not None:
            return fn(self.value(e.a), self.value(e.b))
        if isinstance(e, tirx.Not):
            return not self.value(e.a)
        if isinstance(e, tirx.Select):
            return self.value(e.true_value) if self.value(e.condition) else self.value(e.false_value)
        if isinstance(e, TensorLoad):
            return self.locals[(e.source, tuple(self.value(i) for i in e.indices))]
        if isinstance(e, Call) and e.op.name == "tirx.if_then_else":
            return self.value(e.args[1]) if self.value(e.args[0]) else self.value(e.args[2])
        raise NotImplementedError(f"{type(e).__name__}: {e}")

    def barrier_of(self, addr):
        """(buffer name, index) of an mbarrier address expression (``address_of(buf[i])``, maybe through cvta)."""
        while isinstance(addr, Call) and addr.op.name != "tirx.address_of":
            addr = addr.args[0]
        load = addr.args[0]
        return (load.source.name, tuple(self.value(i) for i in load.indices) or (0,))

    # ------------------------------------------------------------------ statements
    def run(self, stmt):
        """A generator: runs ``stmt``, yielding whenever this agent waits."""
        if stmt is None or not self.cta.matters(stmt):
            return
        if isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                yield from self.run(s)
        elif isinstance(stmt, tirx.For):
            start = self.value(stmt.min)
            for i in range(start, start + self.value(stmt.extent)):
                self.env[stmt.loop_var] = i
                yield from self.run(stmt.body)
        elif isinstance(stmt, tirx.IfThenElse):
            yield from self.run(stmt.then_case if self.value(stmt.condition) else stmt.else_case)
        elif isinstance(stmt, tirx.Bind):
            self.env[stmt.var] = self.value(stmt.value)
        elif isinstance(stmt, tirx.BufferStore):
            self.locals[(stmt.buffer, tuple(self.value(i) for i in stmt.indices))] = self.value(stmt.value)
        elif isinstance(stmt, tirx.AttrStmt):
            yield from self.run(stmt.body)
        elif isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call):
            yield from self.call(stmt.value)
        elif hasattr(stmt, "body"):
            yield from self.run(stmt.body)

    def call(self, c):
        cta, name = self.cta, c.op.name
        words = [str(a.value) for a in c.args if isinstance(a, StringImm)]
        if name in ("tirx.ptx.mbarrier_init", "tirx.ptx.mbarrier_arrive", "tirx.ptx.mbarrier_arrive_expect_tx"):
            key = self.barrier_of(c.args[0])
            count = self.value(c.args[1])
            if name.endswith("init"):
                cta.barriers[key] = _Barrier(count)
            else:
                cta.barriers[key].arrive(key, tx=count if name.endswith("expect_tx") else 0)
            cta.epoch += 1
        elif name == "tirx.cuda.mbarrier_wait":
            key, parity = self.barrier_of(c.args[0]), self.value(c.args[1]) % 2
            while not cta.barriers[key].passed(parity):
                self.blocked_on = f"{key} parity {parity}"
                yield
            self.blocked_on = None
        elif name.startswith("tirx.ptx.cp_async_bulk_tensor_g2s"):
            tmap_name = _tensor_map_name(c.args[1])
            mbar = [a for a in c.args if isinstance(a, Call) and a.op.name == "tirx.cuda.cvta_generic_to_shared"][-1]
            key = self.barrier_of(mbar)
            cta.barriers[key].complete_tx(key, cta.boxes[tmap_name])
            cta.epoch += 1
        elif name == "tirx.tvm_storage_sync":
            generation = cta.sync_generation
            cta.sync_arrived += 1
            if cta.sync_arrived == len(cta.agents):
                cta.sync_arrived, cta.sync_generation = 0, generation + 1
                cta.epoch += 1
            while cta.sync_generation == generation:
                self.blocked_on = "a block barrier"
                yield
            self.blocked_on = None


def _tensor_map_name(expr) -> str:
    """The tensor map a TMA call's map operand (``reinterpret(address_of(X_tmap))``) names."""
    import tvm_ffi

    names = []
    tvm_ffi.structural_walk(expr, [(tirx.Var, lambda v: names.append(v.name)),
                                   (TensorLoad, lambda ld: names.append(ld.source.name))])
    return next(n for n in names if n.endswith("_tmap"))


_KEYS = ("tirx.ptx.mbarrier_init", "tirx.ptx.mbarrier_arrive", "tirx.ptx.mbarrier_arrive_expect_tx",
         "tirx.cuda.mbarrier_wait", "tirx.ptx.cp_async_bulk_tensor_g2s_cluster", "tirx.tvm_storage_sync")


def _matters(stmt) -> bool:
    """Whether ``stmt`` holds a barrier operation or a store the model tracks (scalars in registers)."""
    import tvm_ffi

    found = []

    def on_call(c):
        if getattr(c.op, "name", "") in _KEYS:
            found.append(c)

    def on_store(s):
        if s.buffer.scope() == "local" and str(s.buffer.ty.dtype).startswith("int"):
            found.append(s)
    tvm_ffi.structural_walk(stmt, [(Call, on_call), (tirx.BufferStore, on_store)])
    return bool(found)


def _boxes(func) -> dict:
    """Tensor map name -> bytes one TMA load of it moves (the box), from the host code's encode calls."""
    import tvm_ffi

    out = {}

    def on_call(c):
        if c.op.name != "tirx.tvm_call_packed" or str(c.args[0].value) != "runtime.cuTensorMapEncodeTiled":
            return
        rank = int(c.args[3].value)
        box = [int(a.value) for a in c.args[5 + rank + rank - 1:5 + 3 * rank - 1]]
        dtype = str(c.args[2].value)
        out[c.args[1].name] = math.prod(box) * _BYTES[dtype]
    tvm_ffi.structural_walk(func.body, (Call, on_call))
    return out


def lowered(program, **lower_options):
    """The kernel function of ``program`` lowered by our passes for sm_90a."""
    target = tvm.target.Target({"kind": "cuda", "arch": "sm_90a"})
    mod = lower(tvm.IRModule({"main": program}), target, allow_hopper_shortcut=False, **lower_options).mod
    return next(iter(mod.functions.values()))


def run_cta(func, block_values: dict) -> int:
    """Run one CTA of a warp-specialized kernel (``block_values``: block index variable name -> value) through the
    model; returns the number of rounds it took. Raises :class:`Hang` or AssertionError."""
    import tvm_ffi

    launches = []
    tvm_ffi.structural_walk(func.body, (tirx.AttrStmt, lambda s: launches.append(s)
                                        if s.attr_key == "thread_extent" else None))
    thread = [s for s in launches if s.node.thread_tag == "threadIdx.x"][-1]
    blocks = {s.node.var: block_values.get(s.node.var.name, 0) for s in launches
              if s.node.thread_tag.startswith("blockIdx")}
    split = [s for s in _flat(thread.body) if isinstance(s, tirx.IfThenElse)][-1]  # if tx >= T: producer
    consumers = int(split.condition.b.value)
    tx = thread.node.var
    agents = []
    cta = _Cta(_boxes(func), agents)
    agents.append(_Agent(cta, "producer", {**blocks, tx: consumers}))
    agents += [_Agent(cta, f"consumer warp {w}", {**blocks, tx: 32 * w}) for w in range(consumers // 32)]
    running = {a: a.run(thread.body) for a in agents}
    rounds = 0
    while running:
        rounds += 1
        before = cta.epoch
        for agent in list(running):
            try:
                next(running[agent])
            except StopIteration:
                del running[agent]
                cta.epoch += 1
        if running and cta.epoch == before and all(a.blocked_on for a in running):
            raise Hang("; ".join(f"{a.name} waits on {a.blocked_on}" for a in running))
    for key, bar in cta.barriers.items():
        assert bar.tx == 0, f"{key}: {bar.tx} bytes announced but never loaded"
    return rounds


def _flat(stmt):
    if isinstance(stmt, tirx.SeqStmt):
        return [x for s in stmt.seq for x in _flat(s)]
    return [stmt]
