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
"""
from __future__ import annotations

import tvm_ffi
from tvm import tirx
from tvm.ir import Call, TensorLoad
from tvm.script import tirx as T

from ...errors import CompileError
from ...ir.ops import is_tile_call
from ..pass_errors import keep_tiledsl_errors
from ..rewriter import flatten_seq, rebuild_for, seq, substitute, uses_var

COMMON = "tiledsl.ws_common"  # marker: statements every thread runs before the split
PRODUCER = "tiledsl.ws_producer"  # marker: the producer's code (value: the consumer thread count)
PRODUCER_THREADS = 128
PRODUCER_REGS = 40
_REGS_PER_SM = 65536
_SHARED = ("shared", "shared.dyn")
_ALLOWED_OUTSIDE = ("fill", "copy", "use_swizzle")


def _touches_shared(stmt) -> bool:
    found = []

    def on_load(load):
        if load.source.scope() in _SHARED:
            found.append(load)

    def on_store(store):
        if store.buffer.scope() in _SHARED:
            found.append(store)

    def on_alloc(alloc):
        if alloc.buffer.scope() in _SHARED:
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
        if name not in _ALLOWED_OUTSIDE:
            bad.append(call)
            return
        regions = [a for a in call.args if hasattr(a, "source")]
        if any(r.source.scope() in _SHARED for r in regions):
            bad.append(call)
        if name == "copy" and all(r.source.scope() not in ("global",) for r in regions):
            bad.append(call)  # register <-> register copies may go through a shared scratch tile
    tvm_ffi.structural_walk(stmt, (Call, on_call))
    return not bad and not _touches_shared(stmt)


def _reads_registers(expr) -> bool:
    found = []
    tvm_ffi.structural_walk(expr, (TensorLoad, lambda ld: found.append(ld) if ld.source.scope() != "global"
                                   else None))
    return bool(found)


def eligible(top_level, loop, producers, consumers, thread_count: int) -> bool:
    """True when the pipelined ``loop`` (a statement of the launch body ``top_level``) can be warp-specialized."""
    if thread_count % 128 or not any(s.same_as(loop) for s in top_level):
        return False
    # the producer runs none of the consumers' code: what it needs must not come from their registers
    exprs = [loop.min, loop.extent] + [r.min for p in producers for r in p.value.args[0].region]
    if any(_reads_registers(e) for e in exprs):
        return False
    for c in consumers:
        a, b = c.value.args[:2]
        if a.source.scope() not in _SHARED or b.source.scope() not in _SHARED:
            return False
    allocs = (tirx.AllocBuffer, tirx.DeclBuffer)
    return all(_outside_ok(s) for s in top_level if not s.same_as(loop) and not isinstance(s, allocs))


def marked(kind: str, stmt, thread_count: int):
    """``stmt`` inside the marker ``kind`` (COMMON or PRODUCER)."""
    return tirx.AttrStmt(tirx.const(0, "int32"), kind, tirx.const(thread_count, "int32"), stmt)


def _register_budget(threads: int):
    """(registers a thread may hold at launch with ``threads`` threads, consumer registers after the producer
    gives back its share), both multiples of 8."""
    at_launch = min(255, _REGS_PER_SM // threads) // 8 * 8
    consumers = threads - PRODUCER_THREADS
    grown = min(240, (_REGS_PER_SM - PRODUCER_THREADS * PRODUCER_REGS) // consumers // 8 * 8)
    return at_launch, grown


def _split(launch):
    """The launch AttrStmt with its body split into producer and consumers (None when it has no marker)."""
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
            if _reads_memory(s.value):
                raise CompileError(f"internal: the warp-specialized producer needs {s.var}, computed from memory")
            hoisted.append(k)
            needed.append(s.value)
    hoisted.sort()
    prefix = [stmts[k] for k in hoisted]
    rest = [s for k, s in enumerate(stmts) if k not in set(hoisted)
            and not (isinstance(s, tirx.AttrStmt) and s.attr_key in (COMMON, PRODUCER))]
    rest = [_read_only_touch(s) for s in rest]
    for k, s in enumerate(rest):
        if isinstance(s, tirx.For) and _is_consumer_loop(s):
            annotations = {str(key): v for key, v in s.annotations.items() if str(key) != CONSUMER_LOOP}
            rest[k] = rebuild_for(s, annotations=annotations)
        elif _touches_shared_outside_views(s):
            raise CompileError("internal: a warp-specialized kernel uses shared memory outside its pipelined loop")
    tx = launch.node.var
    at_launch, grown = _register_budget(threads + PRODUCER_THREADS)
    prod = [substitute(producer[0].body, {tx: tx - threads})]
    cons = list(rest)
    if grown > at_launch:
        prod.insert(0, tirx.Evaluate(T.ptx["setmaxnreg.dec.sync.aligned.u32"](PRODUCER_REGS)))
        cons.insert(0, tirx.Evaluate(T.ptx["setmaxnreg.inc.sync.aligned.u32"](grown)))
    body = seq(prefix + [common[0].body, tirx.IfThenElse(tx >= threads, seq(prod), seq(cons))])
    return tirx.AttrStmt(launch.node, launch.attr_key, tirx.const(threads + PRODUCER_THREADS, "int32"), body)


def _reads_memory(expr) -> bool:
    found = []
    tvm_ffi.structural_walk(expr, (TensorLoad, found.append))
    return bool(found)


def _is_consumer_loop(stmt) -> bool:
    return stmt.annotations is not None and CONSUMER_LOOP in stmt.annotations


CONSUMER_LOOP = "tiledsl.ws_consumer_loop"  # annotation of the consumers' loop


def _touches_shared_outside_views(stmt) -> bool:
    """Shared accesses other than the final keep-alive read of the tile pool."""
    if isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call) and not is_tile_call(stmt.value):
        name = getattr(stmt.value.op, "name", "")
        if name == "tirx.tvm_access_ptr":
            return False
    return _touches_shared(stmt)


def _read_only_touch(stmt):
    """The tile pool's end-of-kernel touch as a read (a write there would make ThreadSync put a whole-block
    barrier before it, which the producer warps never reach)."""
    if not (isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, Call)):
        return stmt
    call = stmt.value
    if getattr(call.op, "name", "") != "tirx.tvm_access_ptr":
        return stmt
    args = list(call.args)
    args[-1] = tirx.const(1, "int32")  # access mask: read
    return tirx.Evaluate(Call(call.op, args, attrs=call.attrs, ret_ty=call.ty))


@tirx.transform.prim_func_pass(opt_level=0, name="tiledsl.WarpSpecialize")
@keep_tiledsl_errors
def WarpSpecialize(func, mod, ctx):
    """Split the kernel of a warp-specialized pipeline into producer and consumer warpgroups (see module doc)."""
    done = []

    def on_attr(stmt):
        if stmt.attr_key == "thread_extent" and stmt.node.thread_tag == "threadIdx.x" and not done:
            out = _split(stmt)
            if out is not None:
                done.append(out)
                return out
        return stmt
    body = tvm_ffi.structural_map(func.body, [(tirx.AttrStmt, on_attr)], order="post")
    return func.with_body(body) if done else func
