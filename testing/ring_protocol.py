"""A CPU model of a warp-specialized kernel's mbarrier protocol, to find hangs without a GPU.

The lowered module (our passes, before TVM's) is run for one CTA as concurrent agents: the producer's issuing
thread and one thread per consumer warp (its lane 0, which makes the warp's releases). Only what orders the agents
is modelled: mbarrier init / arrive / arrive.expect_tx / wait on a phase parity, TMA loads completing their bytes
on their barrier (at once: the model explores one legal order of arrivals, the loads' latency does not matter for
whether a wait can be satisfied), whole-block barriers, integer scalars kept in registers (ring counters, loop
lengths), the shared ranges each wgmma reads (a ring tile's stage, or the whole tile) until a ``wait_group``
retires its group, and the control flow around them. A wgmma is one operation of its warpgroup's four warps: it
starts once all four issued it, and a group one warp's ``wait_group`` retires is retired for all four (a release
by one thread per warpgroup relies on this, as CUTLASS's consumer release does). Register math and memory
contents are skipped. Agents take turns; a consumer yields after each release, so the producer acts on it before
the warp goes on.

:func:`run_cta` returns when every agent finished, and raises :class:`Hang` naming each blocked agent's wait when
a full round of the agents changes nothing; it raises AssertionError on a barrier with more arrivals than its
count, bytes announced and never loaded, a TMA load into a range a consumer's wgmma still reads, and a wgmma
reading a range before its agent waited for the barrier phase that completes the last load into it.
"""
from __future__ import annotations

import math

import tvm
from tvm import tirx
from tvm.ir import Call, StringImm, TensorLoad

from tiledsl.passes.pipeline import lower
from tiledsl.passes.rewriter import flatten_seq

_BINARY = {tirx.Add: lambda a, b: a + b, tirx.Sub: lambda a, b: a - b, tirx.Mul: lambda a, b: a * b,
           tirx.FloorDiv: lambda a, b: a // b, tirx.FloorMod: lambda a, b: a % b, tirx.Min: min, tirx.Max: max,
           tirx.LT: lambda a, b: a < b, tirx.LE: lambda a, b: a <= b, tirx.GT: lambda a, b: a > b,
           tirx.GE: lambda a, b: a >= b, tirx.EQ: lambda a, b: a == b, tirx.NE: lambda a, b: a != b,
           tirx.And: lambda a, b: a and b, tirx.Or: lambda a, b: a or b, tirx.BitwiseAnd: lambda a, b: a & b,
           tirx.BitwiseOr: lambda a, b: a | b, tirx.BitwiseXor: lambda a, b: a ^ b}
_CALLS = {"tirx.bitwise_and": lambda a, b: a & b, "tirx.bitwise_or": lambda a, b: a | b,
          "tirx.bitwise_xor": lambda a, b: a ^ b, "tirx.shift_right": lambda a, b: a >> b,
          "tirx.shift_left": lambda a, b: a << b}
_WGMMA_CONTROL = ("tirx.ptx.wgmma_fence", "tirx.ptx.wgmma_commit_group", "tirx.ptx.wgmma_wait_group")
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
        self.writes = []  # (tile, first element, end, barrier, the phase count at which the load is complete)
        self.wgmma_issues = {}  # (warpgroup, n) -> how many of its warps issued their n-th wgmma
        self.wgmma_reads = {}  # (warpgroup, n) -> the shared ranges its n-th wgmma reads, until a wait retires it
        self._matters = {}
        self.rng = None  # set for random interleavings (run_cta's seed): loads then land rounds after their issue
        self.in_flight = []  # (barrier key, bytes) of loads issued and not yet landed

    def land(self, key, nbytes):
        """A TMA load's bytes arrive on its barrier."""
        self.barriers[key].complete_tx(key, nbytes)
        self.epoch += 1

    def land_loads(self, everything=False):
        """Each load in flight lands with probability 1/2 (all of them when ``everything``)."""
        still = []
        for key, nbytes in self.in_flight:
            if everything or self.rng.random() < 0.5:
                self.land(key, nbytes)
            else:
                still.append((key, nbytes))
        self.in_flight = still

    def matters(self, stmt) -> bool:
        """:func:`_matters`, remembered per statement."""
        known = self._matters.get(stmt)
        if known is None:
            known = self._matters[stmt] = _matters(stmt)
        return known


class _Agent:
    def __init__(self, cta, name, env, warpgroup=None):
        self.cta, self.name, self.env, self.locals = cta, name, dict(env), {}
        self.blocked_on = None
        self.warpgroup = warpgroup
        self.issued = []  # (warpgroup, n) of this warp's wgmmas not yet committed
        self.groups = []  # its committed groups not yet waited for, each a list of (warpgroup, n)
        self.wgmmas = 0  # wgmmas issued
        self.seen = {}  # barrier -> phases this agent has seen complete (its waits)

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
        if isinstance(e, Call) and e.op.name in _CALLS:
            return _CALLS[e.op.name](*[self.value(a) for a in e.args])
        raise NotImplementedError(f"{type(e).__name__}: {e}")

    def barrier_of(self, addr):
        """(buffer name, index) of an mbarrier address expression (``address_of(buf[i])``, maybe through cvta)."""
        while isinstance(addr, Call) and addr.op.name != "tirx.address_of":
            addr = addr.args[0]
        load = addr.args[0]
        return (load.source.name, tuple(self.value(i) for i in load.indices) or (0,))

    def reads(self, call):
        """[(tile name, first element, end)] of the shared ranges a wgmma call reads (its descriptors)."""
        import tvm_ffi

        ptrs = []
        tvm_ffi.structural_walk(call, (Call, lambda c: ptrs.append(c) if c.op.name == "tirx.tvm_access_ptr"
                                       else None))
        out = []
        for p in ptrs:
            start = self.value(p.args[2])
            tile = p.args[1].args[0]  # buffer_data(tile)
            shape = [int(x) for x in tile.ty.shape]
            # a ring's tile is [stages, ...]: the descriptor's pointer runs to the buffer's end, the read is a stage
            extent = math.prod(shape[1:]) if len(shape) >= 3 else self.value(p.args[3])
            out.append((tile.name, start, start + extent))
        return out

    def check_no_reader(self, dst, nbytes):
        """A TMA load into ``dst`` (``cvta(address_of(tile[...]))``) must not overwrite what a consumer's wgmma
        still reads (issued, or committed and not yet waited for)."""
        while isinstance(dst, Call) and dst.op.name != "tirx.address_of":
            dst = dst.args[0]
        load = dst.args[0]
        shape = [int(x) for x in load.source.ty.shape]
        flat = 0
        for i, extent in zip(load.indices, shape):
            flat = flat * extent + self.value(i)
        end = flat + nbytes // _BYTES[str(load.source.ty.dtype)]
        for (warpgroup, _), reads in self.cta.wgmma_reads.items():
            for tile, lo, hi in reads:
                if tile == load.source.name and lo < end and flat < hi:
                    raise AssertionError(f"race: {self.name} loads {tile}[{flat}:{end}] while a wgmma of consumer "
                                         f"warpgroup {warpgroup} still reads {tile}[{lo}:{hi}]")
        return load.source.name, flat, end

    def check_loaded(self, reads):
        """A wgmma may read a range only after this agent waited for the barrier phase that completes the last
        TMA load into it."""
        for tile, lo, hi in reads:
            for w_tile, w_lo, w_hi, key, needed in self.cta.writes:
                if w_tile == tile and w_lo < hi and lo < w_hi and self.seen.get(key, 0) < needed:
                    raise AssertionError(f"race: a wgmma of {self.name} reads {tile}[{lo}:{hi}] before waiting for "
                                         f"the load into {tile}[{w_lo}:{w_hi}] ({key} phase {needed})")

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
            if name == "tirx.ptx.mbarrier_arrive":
                yield  # a release: let the producer act on it before this warp goes on (races show up)
        elif name.startswith("tirx.ptx.wgmma_") and name not in _WGMMA_CONTROL:
            issue = (self.warpgroup, self.wgmmas)
            self.wgmmas += 1
            reads = self.reads(c)
            self.check_loaded(reads)
            cta.wgmma_reads[issue] = reads
            self.issued.append(issue)
            cta.wgmma_issues[issue] = cta.wgmma_issues.get(issue, 0) + 1
            cta.epoch += 1
            while cta.wgmma_issues[issue] < 4:  # the operation starts once the warpgroup's four warps issued it
                self.blocked_on = "its warpgroup's other warps at a wgmma"
                yield
            self.blocked_on = None
        elif name == "tirx.ptx.wgmma_commit_group":
            self.groups.append(self.issued)
            self.issued = []
        elif name == "tirx.ptx.wgmma_wait_group":
            keep = self.value(c.args[0])
            for group in self.groups[:max(0, len(self.groups) - keep)]:
                for issue in group:  # the warpgroup's operation finished, for its four warps
                    cta.wgmma_reads.pop(issue, None)
            del self.groups[:max(0, len(self.groups) - keep)]
        elif name == "tirx.cuda.mbarrier_wait":
            key, parity = self.barrier_of(c.args[0]), self.value(c.args[1]) % 2
            while not cta.barriers[key].passed(parity):
                self.blocked_on = f"{key} parity {parity}"
                yield
            self.blocked_on = None
            self.seen[key] = max(self.seen.get(key, 0), cta.barriers[key].phase)
        elif name.startswith("tirx.ptx.cp_async_bulk_tensor_g2s"):
            tmap_name = _tensor_map_name(c.args[1])
            mbar = [a for a in c.args if isinstance(a, Call) and a.op.name == "tirx.cuda.cvta_generic_to_shared"][-1]
            key = self.barrier_of(mbar)
            tile, lo, hi = self.check_no_reader(c.args[0], cta.boxes[tmap_name])
            cta.writes.append((tile, lo, hi, key, cta.barriers[key].phase + 1))
            if cta.rng is None:
                cta.land(key, cta.boxes[tmap_name])
            else:
                cta.in_flight.append((key, cta.boxes[tmap_name]))
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
        name = getattr(c.op, "name", "")
        if name in _KEYS or name.startswith("tirx.ptx.wgmma_"):
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


def run_cta(func, block_values: dict, seed=None) -> int:
    """Run one CTA of a warp-specialized kernel (``block_values``: block index variable name -> value) through the
    model; returns the number of rounds it took. Raises :class:`Hang` or AssertionError.

    ``seed``: instead of taking turns in a fixed order, the agents run in a random order with a random number of
    steps each round (0 to 3, from a generator seeded with it), and each TMA load completes on its barrier a random
    number of rounds after its issue: other legal interleavings (a slow warp, a load overtaken by a later one)."""
    import tvm_ffi

    launches = []
    tvm_ffi.structural_walk(func.body, (tirx.AttrStmt, lambda s: launches.append(s)
                                        if s.attr_key == "thread_extent" else None))
    thread = [s for s in launches if s.node.thread_tag == "threadIdx.x"][-1]
    blocks = {s.node.var: block_values.get(s.node.var.name, 0) for s in launches
              if s.node.thread_tag.startswith("blockIdx")}
    split = [s for s in flatten_seq([thread.body]) if isinstance(s, tirx.IfThenElse)][-1]  # if tx >= T: producer
    consumers = int(split.condition.b.value)
    tx = thread.node.var
    agents = []
    cta = _Cta(_boxes(func), agents)
    rng = None
    if seed is not None:
        import random
        rng = cta.rng = random.Random(seed)
    agents.append(_Agent(cta, "producer", {**blocks, tx: consumers}))
    agents += [_Agent(cta, f"consumer warp {w}", {**blocks, tx: 32 * w}, warpgroup=w // 4)
               for w in range(consumers // 32)]
    running = {a: a.run(thread.body) for a in agents}
    rounds = 0
    while running or cta.in_flight:
        rounds += 1
        before = cta.epoch
        order = list(running)
        steps = {a: 1 for a in order}
        if rng is not None:
            rng.shuffle(order)
            steps = {a: rng.randrange(4) for a in order}
            cta.land_loads(everything=not running)
        for agent in order:
            for _ in range(steps[agent]):
                if agent not in running:
                    break
                try:
                    next(running[agent])
                except StopIteration:
                    del running[agent]
                    cta.epoch += 1
        every_agent_ran = all(n > 0 for n in steps.values())
        if running and every_agent_ran and not cta.in_flight and cta.epoch == before and \
                all(a.blocked_on for a in running):
            raise Hang("; ".join(f"{a.name} waits on {a.blocked_on}" for a in running))
    for key, bar in cta.barriers.items():
        assert bar.tx == 0, f"{key}: {bar.tx} bytes announced but never loaded"
    return rounds

