"""Warp specialization of a TMA-pipelined loop (sm_90a): one producer warpgroup issues the loads, the program's own
threads (the consumers) only compute.

PipelineCUDA decides (:func:`eligible`) and emits, in place of the loop: the ring's allocations and initialization
inside an ``AttrStmt`` marked :data:`COMMON`, the producer's loop (all TMA loads, each after waiting for its stage
to be released) marked :data:`PRODUCER` and written for "thread 0", then the consumers' loop (wait for the stage's
loads, compute, release the previous stage once the wgmma wait showed its gemm finished). LowerTileOpsCUDA lowers
the program for the program's T threads as usual. :func:`WarpSpecialize` (after it) then makes the launch T + 128
threads and the launch body::

    <allocations and views>; <ring init; __syncthreads>        (all threads)
    if threadIdx.x >= T:  setmaxnreg.dec; <producer, thread T issuing>   (then the producer warps exit)
    else:                 setmaxnreg.inc; <the rest of the program>

The consumers must never wait at a whole-block barrier the exited (or still issuing) producer warps would not reach.
So the loop qualifies only when it holds gemms alone, every one on wgmma from shared tiles (no barrier in the loop:
TMA writes and descriptor reads need none), it sits directly in the kernel body (not under a branch or loop), its
bounds and copy origins read no register (a value only the consumers compute), the kernel has one thread
dimension, and nothing else in the kernel touches shared memory or needs shared scratch (reductions, fragment
layout changes); :func:`WarpSpecialize` checks the last again on the lowered code and raises an internal error
rather than emit a kernel that could hang. On by default; ``TILEDSL_WARP_SPECIALIZE=0`` turns it off.

Where the kernel body is only its launches, the grid is also made persistent (:class:`_Persistent`, default;
``TILEDSL_PERSISTENT=0`` turns it off): min(tiles, SMs) CTAs, each branch looping over the CTA's tiles, the ring
counting on across them. Statements inside an :data:`EPILOGUE` marker (tma_store.py) may use shared memory and
named barriers among the consumers. Statements inside a :data:`CONSUMERS_ONCE` marker run once per kernel, before
the consumers' tile loop (ping-pong's first turn).
"""
from __future__ import annotations

import tvm
import tvm_ffi
from tvm.sym import Analyzer
from tvm import tirx
from tvm.ir import Call, TensorLoad
from tvm.script import tirx as T

from ... import config
from ...errors import CompileError
from ...ir.ops import is_tile_call, is_tile_statement
from ..lowering_options import schedule
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, reads_memory, rebuild_for, seq, substitute, uses_var
from ..tile_lowering_utils import without_access
from .reduce import row_sum_mode
from .register_order import is_cluster_slots, is_register_order_copy
from ...language.buffers import SHARED_SCOPES

COMMON = "tiledsl.ws_common"  # marker: statements every thread runs before the split
PRODUCER = "tiledsl.ws_producer"  # marker: the producer's code (value: the consumer thread count)
EPILOGUE = "tiledsl.ws_epilogue"  # marker: the consumers' TMA-store epilogue (tma_store.py)
TILE_COUNTER = "tiledsl.ws_tile_counter"  # marker: a general loop's tile counter (value 2: uneven tiles may persist)
CONSUMERS_ONCE = "tiledsl.ws_consumers_once"  # marker: consumer statements run once per kernel, not per tile
PRODUCER_THREADS = 128
# the producer warpgroup's registers after setmaxnreg.dec: 40 made the batched GEMM's producer spill 336 bytes
# (its TMA coordinates over the batch); 56 spills nowhere in the benchmark, consumers then get 224 instead of 232
# (H200 2026-12-06, same calls: batched GEMM and attention times equal within noise either way)
PRODUCER_REGS = 56
_REGS_PER_SM = 65536
_ALLOWED_OUTSIDE = ("fill", "copy", "use_swizzle")


def _touches_shared(stmt, ignore_barriers: bool = False) -> bool:
    found = []

    def counts(buf) -> bool:  # split-K's cluster slots are ordered by the cluster barrier, not block barriers
        return buf.scope() in SHARED_SCOPES and not (ignore_barriers and str(buf.ty.dtype) == "uint64") and \
            not is_cluster_slots(buf)

    def on_load(load):
        if counts(load.source):
            found.append(load)

    def on_store(store):
        if counts(store.buffer):
            found.append(store)

    def on_alloc(alloc):
        if counts(alloc.buffer):
            found.append(alloc)
    tvm_ffi.structural_walk(stmt, [(TensorLoad, on_load), (tirx.BufferStore, on_store), (tirx.AllocBuffer, on_alloc)])
    return bool(found)


def _outside_ok(stmt) -> bool:
    """A statement outside the loop that needs no shared memory once lowered."""
    bad = []

    def on_call(call):
        if not is_tile_call(call):
            return
        name = call.op.name.split(".", 1)[1]
        combine = name == "reduce" and row_sum_mode(call) == "combine"  # registers (a shared round: refused later)
        if name not in _ALLOWED_OUTSIDE and not combine:
            bad.append(call)
            return
        regions = [a for a in call.args if hasattr(a, "source")]
        if any(r.source.scope() in SHARED_SCOPES and not is_cluster_slots(r.source) for r in regions):
            bad.append(call)
        if name == "copy" and all(r.source.scope() not in ("global",) for r in regions) and \
                not is_register_order_copy(call):
            bad.append(call)  # register <-> register copies may go through a shared scratch tile
    tvm_ffi.structural_walk(stmt, (Call, on_call))
    # a whole-block barrier (split-K's count of finished parts) would wait for the producer warpgroup too
    return not bad and not _touches_shared(stmt) and not _syncs(stmt)


def _reads_registers(expr) -> bool:
    found = []
    tvm_ffi.structural_walk(expr, (TensorLoad, lambda ld: found.append(ld) if ld.source.scope() != "global"
                                   else None))
    return bool(found)


def eligible(top_level, loop, producers, consumers, thread_count: int) -> bool:
    """True when the pipelined ``loop`` (a statement of the launch body ``top_level``) can be warp-specialized."""
    for c in consumers:
        a, b = c.value.args[:2]
        if a.source.scope() not in SHARED_SCOPES or b.source.scope() not in SHARED_SCOPES:
            return False
    return _splittable(top_level, loop, loop.extent, producers, thread_count)


def _splittable(top_level, loop, extent, loads, thread_count: int, taken=()) -> bool:
    """What every warp-specialized loop needs: whole warpgroups, the loop at the top of the launch body, its length
    (``extent``) and the origins of its ``loads`` read no register (the producer runs none of the consumers' code),
    and every statement outside it but the ``taken`` ones (loads the producer takes over) needs no shared memory."""
    if thread_count % 128 or not any(s.same_as(loop) for s in top_level):
        return False
    exprs = [loop.min, extent] + [r.min for p in loads for r in p.value.args[0].region]
    if any(_reads_registers(e) for e in exprs):
        return False
    allocs = (tirx.AllocBuffer, tirx.DeclBuffer)
    return all(_outside_ok(s) for s in top_level if not s.same_as(loop) and not isinstance(s, allocs)
               and not any(s.same_as(t) for t in taken))


class WarpSpecializationRefused(CompileError):
    """The lowered consumers of a loop warp-specialized with ``TILEDSL_WARP_SPECIALIZE=all`` need shared memory
    or a whole-block barrier; the build lowers the kernel again without warp specialization."""


def eligible_general(top_level, loop, producers, consumers, thread_count: int, loads_before, extent) -> bool:
    """``TILEDSL_WARP_SPECIALIZE=all``: like :func:`eligible` for a loop that computes more than gemms (attention):
    its gemms read shared tiles (or A from registers), its other statements touch no shared memory, and the
    statements outside it are the ``loads_before`` (global -> shared copies the producer takes over) or need no
    shared memory. Whether the lowered consumers need shared scratch (a reduction across warps, a layout change)
    is only known after LowerTileOpsCUDA: :func:`WarpSpecialize` refuses those (:class:`WarpSpecializationRefused`).
    ``extent``: the loop's length with the kernel's scalars inlined."""
    for c in consumers:
        if is_tile_statement(c, "gemm"):
            a, b = c.value.args[:2]
            if b.source.scope() not in SHARED_SCOPES or a.source.scope() not in SHARED_SCOPES + ("local.fragment",):
                return False
        elif not _inside_ok(c):
            return False
    return _splittable(top_level, loop, extent, list(producers) + list(loads_before), thread_count,
                       taken=loads_before)


def transforms_splittable(top_level, loop, producers, thread_count: int) -> bool:
    """``TILEDSL_WS_TRANSFORMS``: whether a loop whose consumers convert loaded tiles for its gemms (PipelineCUDA
    checked the loop's statements and orders their shared accesses with a named barrier of its own) may be split:
    what every warp-specialized loop needs (:func:`_splittable`)."""
    return _splittable(top_level, loop, loop.extent, producers, thread_count)


def _inside_ok(stmt) -> bool:
    """A statement of the loop (not a gemm) with no shared region or access of its own."""
    bad = []

    def on_call(call):
        if is_tile_call(call) and any(hasattr(a, "source") and a.source.scope() in SHARED_SCOPES for a in call.args):
            bad.append(call)
    tvm_ffi.structural_walk(stmt, (Call, on_call))
    return not bad and not _touches_shared(stmt)


def marked(kind: str, stmt, thread_count: int, ring_base=None):
    """``stmt`` inside the marker ``kind`` (COMMON or PRODUCER; the producer's marker carries the ring's
    ``ring_base`` variable, which :func:`WarpSpecialize` binds)."""
    node = ring_base if ring_base is not None else tirx.const(0, "int32")
    return tirx.AttrStmt(node, kind, tirx.const(thread_count, "int32"), stmt)


def consumers_once(stmt):
    """``stmt`` marked to run once per kernel in the consumers' branch, before their first tile (on a persistent
    grid, outside the tile loop)."""
    return tirx.AttrStmt(tirx.const(0, "int32"), CONSUMERS_ONCE, tirx.const(1, "int32"), stmt)


def _is_once(stmt) -> bool:
    return isinstance(stmt, tirx.AttrStmt) and stmt.attr_key == CONSUMERS_ONCE


def _nested_once_markers(stmts) -> bool:
    """Whether a :data:`CONSUMERS_ONCE` marker sits below the top level of ``stmts``."""
    found = []
    for s in stmts:
        tvm_ffi.structural_walk(s, (tirx.AttrStmt, lambda a: found.append(a) if _is_once(a) else None))
    return bool(found)


def _without_once_markers(stmt):
    return tvm_ffi.structural_map(stmt, [(tirx.AttrStmt, lambda a: a.body if _is_once(a) else a)], order="post")


def tile_counter(var, uneven: bool = True):
    """The marker of a loop warp-specialized by ``TILEDSL_WARP_SPECIALIZE=all``: ``var`` counts the tiles this CTA
    ran before the current one (WarpSpecialize binds it: 0 with one CTA per tile); ``uneven`` False where the
    kernel must keep one CTA per tile when the loop's length depends on the tile (its value: 1, or 2 with uneven
    tiles allowed to persist too)."""
    return tirx.AttrStmt(var, TILE_COUNTER, tirx.const(1 + int(uneven), "int32"), tirx.Evaluate(0))


def register_budget(threads: int, producer_regs: int = PRODUCER_REGS, most: int = 240):
    """(registers a thread holds at launch with ``threads`` threads, the consumers' count after
    ``setmaxnreg.dec`` to ``producer_regs`` in the producer warpgroup), both multiples of 8. The consumers share
    what the block was given at launch (``setmaxnreg.inc`` waits until the block's pool has enough: asking for more
    would hang the kernel), at most ``most``."""
    at_launch = min(255, _REGS_PER_SM // threads) // 8 * 8
    consumers = threads - PRODUCER_THREADS
    grown = min(most, (at_launch * threads - PRODUCER_THREADS * producer_regs) // consumers // 8 * 8)
    return at_launch, grown


#: registers a consumer thread needs beside one wgmma's accumulator: ptxas asked for 154 for an m64n256 float32
#: one (128 registers), sm_90a, nvcc 13.0, 2026-12-07
WGMMA_OTHER_REGS = 26


def wgmma_registers_fit(plans: dict, thread_count: int) -> bool:
    """Whether each wgmma of ``plans`` (accumulator -> gemm plan) still fits once a producer warpgroup joins the
    ``thread_count`` threads: ptxas checks every wgmma against the registers a thread holds at launch, not the
    count after ``setmaxnreg.inc``, so a 64 x 256 float32 accumulator per warpgroup (128 registers) fits 256
    consumer threads (168 at launch) but not 384 (128): such a loop stays unspecialized (it then builds with 168)."""
    at_launch = register_budget(thread_count + PRODUCER_THREADS)[0]
    for acc, plan in plans.items():
        if getattr(plan, "strategy", "") != "wgmma":
            continue
        columns = plan.layout.shape[1] // plan.layout.warps_n
        registers = 64 * columns * tvm.DataType(str(acc.ty.dtype)).bits // 32 // 128
        if registers + WGMMA_OTHER_REGS > at_launch:
            return False
    return True


class _Split:
    """A launch body taken apart at its warp-specialization markers: ``prefix`` (allocations and values every
    thread needs first), ``common`` (the ring's initialization), the producer's and the consumers' statements,
    the consumer thread count, the ring's ``ring_base`` variable and loop length, and a general loop's tile counter
    (:func:`tile_counter`: the variable, whether the grid may be persistent)."""

    def __init__(self, prefix, common, producer, consumers, threads, ring_base, ring_iters, tile_var=None,
                 may_persist=True, uneven_may_persist=True, once=()):
        self.prefix, self.common, self.producer, self.consumers = prefix, common, producer, consumers
        self.once = list(once)  # the consumers' statements run once per kernel, before their tiles
        self.threads, self.ring_base, self.ring_iters = threads, ring_base, ring_iters
        self.tile_var, self.may_persist, self.uneven_may_persist = tile_var, may_persist, uneven_may_persist

    def counters(self, ring_base, tile) -> dict:
        """The substitution of the ring base and of the tile counter (where there is one)."""
        out = {self.ring_base: ring_base}
        if self.tile_var is not None:
            out[self.tile_var] = tile
        return out

    def body(self, tx, prefix=None, producer=None, consumers=None):
        """The launch body: prefix, ring init, then ``if tx >= threads: producer else: consumers`` (each branch
        first moves registers between the warpgroups where that gains the consumers registers)."""
        at_launch, grown = register_budget(self.threads + PRODUCER_THREADS)
        prod = [producer if producer is not None else self.producer]
        cons = self.once + [consumers if consumers is not None else seq(self.consumers)]
        if grown > at_launch:
            prod.insert(0, tirx.Evaluate(T.ptx["setmaxnreg.dec.sync.aligned.u32"](PRODUCER_REGS)))
            cons.insert(0, tirx.Evaluate(T.ptx["setmaxnreg.inc.sync.aligned.u32"](grown)))
        prefix = self.prefix if prefix is None else prefix
        return seq(prefix + [self.common, tirx.IfThenElse(tx >= self.threads, seq(prod), seq(cons))])


def _split(launch):
    """The launch AttrStmt's body taken apart (a :class:`_Split`), or None when it has no marker."""
    stmts = flatten_seq([launch.body])
    common = [s for s in stmts if isinstance(s, tirx.AttrStmt) and s.attr_key == COMMON]
    producer = [s for s in stmts if isinstance(s, tirx.AttrStmt) and s.attr_key == PRODUCER]
    if not producer:
        return None
    if len(producer) != 1 or len(common) != 1:
        raise CompileError("internal: warp specialization found its markers below the top of the kernel body")
    threads = int(producer[0].value)
    lead = 0
    while lead < len(stmts) and isinstance(stmts[lead], (tirx.AllocBuffer, tirx.DeclBuffer, tirx.Bind)):
        lead += 1
    hoisted = list(range(lead))
    # values the producer reads that the program binds later (``m0 = by * 128``) move up, with what they read
    marker_at = next(k for k, s in enumerate(stmts) if s.same_as(producer[0]))
    needed = [producer[0].body]
    for k in range(marker_at - 1, lead - 1, -1):
        s = stmts[k]
        if isinstance(s, tirx.Bind) and any(uses_var(n, s.var) for n in needed):
            if reads_memory(s.value):
                raise CompileError(f"internal: the warp-specialized producer needs {s.var}, computed from memory")
            hoisted.append(k)
            needed.append(s.value)
    hoisted.sort()
    prefix = [stmts[k] for k in hoisted]
    counter = [s for s in stmts if isinstance(s, tirx.AttrStmt) and s.attr_key == TILE_COUNTER]
    general = bool(counter)
    rest = [s for k, s in enumerate(stmts) if k not in set(hoisted)
            and not (isinstance(s, tirx.AttrStmt) and s.attr_key in (COMMON, PRODUCER, TILE_COUNTER))]
    rest = [_unseen_touch(s) for s in rest]
    once = [s.body for s in rest if _is_once(s)]
    rest = [s for s in rest if not _is_once(s)]
    once_nested = _nested_once_markers(rest)
    if once_nested:  # run where they stand, on one CTA per tile
        rest = [_without_once_markers(s) for s in rest]
    iters = None
    for k, s in enumerate(rest):
        if isinstance(s, tirx.For) and _is_consumer_loop(s):
            converts = TRANSFORM_LOOP in s.annotations  # its shared accesses ordered by its own named barrier
            if (_touches_shared(s.body, ignore_barriers=True) and not converts) or _syncs(s.body):
                raise WarpSpecializationRefused("the warp-specialized loop's consumers need shared scratch")
            annotations = {str(key): v for key, v in s.annotations.items()
                           if str(key) not in (CONSUMER_LOOP, TRANSFORM_LOOP)}
            rest[k] = rebuild_for(s, annotations=annotations)
            iters = s.extent
        elif isinstance(s, tirx.AttrStmt) and s.attr_key == CONSUMER_BLOCK:  # a loop with a deferred gemm
            if _touches_shared(s.body, ignore_barriers=True) or _syncs(s.body):
                raise WarpSpecializationRefused("the warp-specialized loop's consumers need shared scratch")
            rest[k] = s.body
            iters = s.value
        elif isinstance(s, tirx.AttrStmt) and s.attr_key == EPILOGUE:
            rest[k] = s.body  # the TMA-store epilogue: its staging tiles and barriers are the consumers' own
        elif _touches_shared_outside_views(s) or _syncs(s):
            if general:  # TILEDSL_WARP_SPECIALIZE=all: an epilogue that needs shared scratch
                raise WarpSpecializationRefused("the warp-specialized kernel's epilogue needs shared memory")
            raise CompileError("internal: a warp-specialized kernel uses shared memory outside its pipelined loop")
    tx = launch.node.var
    prod = substitute(producer[0].body, {tx: tx - threads})
    return _Split(prefix, common[0].body, prod, rest, threads, producer[0].node, iters,
                  counter[0].node if general else None, not once_nested, not general or int(counter[0].value) >= 2,
                  once)


def _syncs(stmt) -> bool:
    """True when ``stmt`` holds a whole-block barrier (``tvm_storage_sync``)."""
    found = []
    tvm_ffi.structural_walk(stmt, (Call, lambda c: found.append(c) if getattr(c.op, "name", "") ==
                                   "tirx.tvm_storage_sync" else None))
    return bool(found)


def _launch_chain(body):
    """(the blockIdx launches, the threadIdx.x launch) when the kernel body is only those nested launches, else
    None."""
    blocks = []
    while isinstance(body, tirx.AttrStmt) and body.attr_key == "thread_extent":
        tag = body.node.thread_tag
        if tag == "threadIdx.x":
            return blocks, body
        if not tag.startswith("blockIdx."):
            return None
        blocks.append(body)
        body = body.body
    return None


class _Persistent:
    """A persistent grid for a warp-specialized launch: ``ctas`` CTAs (at most one per SM) walk the program's tiles
    (tile ``t`` = CTA + j * ctas), so the producer loads the next tile's stages while the consumers finish the current
    one. The ring keeps counting across tiles (``ring_base`` = j * the loop's length, or a running count where the
    length depends on the tile); tiles loaded before the loop (attention's Q) have a one-stage ring counted in tiles
    (the :func:`tile_counter` variable = j), released by the consumers after their last gemm that reads them. With
    ``raster_rows`` = G > 0 (``TILEDSL_RASTER``, 8 by default) the tiles of each (x, y) plane are walked in groups of G
    rows of blockIdx.y, down the group's rows first: the CTAs running at once share G row tiles of one operand and a few
    column tiles of the other (a GEMM's A and B panels) instead of one row and every column; with 0, in launch order
    (blockIdx.x fastest)."""

    def __init__(self, blocks, num_sms: int, raster_rows: int = 0):
        self.blocks = blocks
        self.raster_rows = raster_rows
        self.dims = {b.node.thread_tag: (b.node.var, b.value) for b in blocks}
        total = tirx.const(1, "int32")
        for tag in ("blockIdx.x", "blockIdx.y", "blockIdx.z"):
            if tag in self.dims:
                total = total * self.dims[tag][1]
        self.total = Analyzer().simplify(total)
        self.ctas = Analyzer().simplify(tirx.min(self.total, num_sms))
        self.cta = tirx.Var("cta", "int32")
        self.tile = tirx.Var("tile_iter", "int32")

    def block_values(self) -> dict:
        """Each program block index in terms of this CTA and its tile counter (launch order: x fastest, or the
        grouped order of ``raster_rows``)."""
        t = self.cta + self.tile * self.ctas
        present = [self.dims[tag] for tag in ("blockIdx.x", "blockIdx.y", "blockIdx.z") if tag in self.dims]
        if self.raster_rows > 0 and len(present) >= 2:
            return self._grouped(t, present)
        values, stride = {}, None
        for pos, (var, extent) in enumerate(present):
            index = t if stride is None else tirx.floordiv(t, stride)
            values[var] = index if pos == len(present) - 1 else tirx.floormod(index, extent)
            stride = extent if stride is None else stride * extent
        return values

    def _grouped(self, t, present) -> dict:
        """Tile ``t``'s block indices in groups of ``raster_rows`` rows (y) per (x, y) plane, z outermost: within a
        group of r rows (fewer in the last group), tile i is row i % r, column i // r. A bijection of the plane."""
        (x, nx), (y, ny) = present[0], present[1]
        plane = nx * ny
        rows = tirx.const(self.raster_rows, "int32")
        r = tirx.floormod(t, plane) if len(present) > 2 else t
        group = tirx.floordiv(r, rows * nx)
        first = group * rows
        in_group = tirx.min(rows, ny - first)
        i = r - first * nx
        values = {y: first + tirx.floormod(i, in_group), x: tirx.floordiv(i, in_group)}
        if len(present) > 2:
            values[present[2][0]] = tirx.floordiv(t, plane)
        return values

    def tile_loop(self, body):
        """``body`` run for each of this CTA's tiles."""
        count = tirx.floordiv(self.total - 1 - self.cta, self.ctas) + 1
        return tirx.For(self.tile, 0, count, tirx.ForKind.SERIAL, body)

    def _counted(self, split, body, iters, name):
        """The tile loop over ``body`` whose ring base is a count kept in a register (``name``), advanced by each
        tile's ring length ``iters``: for loops whose length depends on the tile."""
        done = tirx.decl_buffer((1,), "int32", name, scope="local")
        count = tirx.BufferLoad(done, [0])
        step = tirx.BufferStore(done, count + iters, [0])
        loop = self.tile_loop(seq([substitute(body, split.counters(count, self.tile)), step]))
        return seq([tirx.AllocBuffer(done), tirx.BufferStore(done, tirx.const(0, "int32"), [0]), loop])

    def build(self, split, launch):
        """The whole kernel body (grid launch included) made persistent, or None when the program does not
        allow it: a value the prefix computes from a block index other than a plain binding, a general loop
        that must keep one CTA per tile, or a loop whose length depends on the tile (causal attention:
        its static walk ends unbalanced) unless ``TILEDSL_PERSISTENT_UNEVEN=1``, with which such a ring counts its
        positions in a register of each side."""
        values = self.block_values()
        tainted = list(values)
        outside, binds = [], []
        for s in split.prefix:
            if not any(uses_var(s, v) for v in tainted):
                outside.append(s)
            elif isinstance(s, tirx.Bind) and not reads_memory(s.value):
                binds.append(s)
                tainted.append(s.var)
            else:
                return None
        if not split.may_persist or split.ring_iters is None:
            return None
        # the producer reads the bound values inlined; the consumers keep the bindings inside their tile loop
        inline = {}
        for b in binds:
            inline[b.var] = substitute(substitute(b.value, inline), values)
        producer = substitute(split.producer, inline)
        consumers = seq(binds + split.consumers)
        iters = substitute(substitute(split.ring_iters, inline), values)
        if any(uses_var(iters, v) for v in (self.tile, self.cta)):  # a tile-dependent loop length (causal)
            if not schedule("TILEDSL_PERSISTENT_UNEVEN") or not split.uneven_may_persist:
                return None  # a static walk of uneven tiles ends unbalanced; a 2-stage ring hung (see pipeline.py)
            producer = self._counted(split, substitute(producer, values), iters, "producer_ring_done")
            consumers = self._counted(split, substitute(consumers, values), iters, "consumer_ring_done")
        else:
            ring = split.counters(self.tile * iters, self.tile)
            producer = self.tile_loop(substitute(producer, {**values, **ring}))
            consumers = self.tile_loop(substitute(consumers, {**values, **ring}))
        tx = launch.node.var
        inner = tirx.AttrStmt(launch.node, launch.attr_key, tirx.const(split.threads + PRODUCER_THREADS, "int32"),
                              split.body(tx, prefix=outside, producer=producer, consumers=consumers))
        grid = tirx.IterVar(tvm.ir.Range(0, self.ctas), self.cta, self.blocks[0].node.iter_type, "blockIdx.x")
        return tirx.AttrStmt(grid, "thread_extent", self.ctas, inner)


def _plain(split, launch):
    """The split launch without a persistent grid (the ring starts at 0)."""
    tx = launch.node.var
    zero = tirx.const(0, "int32")
    body = substitute(split.body(tx), split.counters(zero, zero))
    return tirx.AttrStmt(launch.node, launch.attr_key, tirx.const(split.threads + PRODUCER_THREADS, "int32"), body)


def _is_consumer_loop(stmt) -> bool:
    return stmt.annotations is not None and CONSUMER_LOOP in stmt.annotations


CONSUMER_LOOP = "tiledsl.ws_consumer_loop"  # annotation of the consumers' loop
TRANSFORM_LOOP = "tiledsl.ws_transform_loop"  # annotation: the consumers' loop converts tiles (TILEDSL_WS_TRANSFORMS)
CONSUMER_BLOCK = "tiledsl.ws_consumer_block"  # marker: the consumers' loop with its peeled first and last steps


def consumer_block(stmt, iterations):
    """``stmt`` (the consumers' part of a loop whose last gemm runs one iteration late: its first iteration, the
    loop, the last gemm) marked as the consumers' loop, ``iterations`` ring positions long."""
    return tirx.AttrStmt(tirx.const(0, "int32"), CONSUMER_BLOCK, iterations, stmt)


def _touches_shared_outside_views(stmt) -> bool:
    """Shared accesses other than the final keep-alive read of the tile pool and the ring's mbarriers (the
    consumers release the last stage after the loop)."""
    if isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call) and not is_tile_call(stmt.value):
        name = getattr(stmt.value.op, "name", "")
        if name == "tirx.tvm_access_ptr":
            return False
    return _touches_shared(stmt, ignore_barriers=True)


def _unseen_touch(stmt):
    """The tile pool's end-of-kernel touch with no access mask: as a write (or, after the TMA-store epilogue's
    staging writes, as a read) it would make ThreadSync put a whole-block barrier before it, which the producer
    warps never reach."""
    if not (isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call)):
        return stmt
    if getattr(stmt.value.op, "name", "") != "tirx.tvm_access_ptr":
        return stmt
    return tirx.Evaluate(without_access(stmt.value))


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.WarpSpecialize")
@keep_tiledsl_errors
def WarpSpecialize(func, mod, ctx):
    """Split the kernel of a warp-specialized pipeline into producer and consumer warpgroups, on a persistent grid
    where the program allows it (see module doc)."""
    chain = _launch_chain(func.body)
    if chain is not None:
        blocks, launch = chain
        split = _split(launch)
        if split is None:
            return func
        ctas = config.persistent_grid_ctas()
        if blocks and ctas is not None:
            body = _Persistent(blocks, ctas or _num_sms(), config.persistent_raster_rows()).build(split, launch)
            if body is not None:
                return func.with_body(body).with_attr(PERSISTENT_ATTR, 1)
        body = _plain(split, launch)
        for b in reversed(blocks):
            body = tirx.AttrStmt(b.node, b.attr_key, b.value, body)
        return func.with_body(body)
    done = []

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x" and not done:
            split = _split(stmt)
            if split is not None:
                done.append(stmt)
                return _plain(split, stmt)
        return stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    return func.with_body(body) if done else func


PERSISTENT_ATTR = "tiledsl.persistent_grid"  # function attribute: the launch walks its tiles on one CTA per SM


def _num_sms() -> int:
    """The SM count the persistent grid is built for (the visible GPU's, or the arch's usual count)."""
    from ...runtime.target import current_arch
    from ..hopper.device import sm_count

    return sm_count(current_arch())
