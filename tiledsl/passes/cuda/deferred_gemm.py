"""Which gemm of a pipelined loop may run one iteration late, overlapping the next iteration's work (FA3's
intra-warpgroup overlap, found in any loop of the right shape; sm_90a; the default, ``TILEDSL_DEFER_LAST_GEMM=0``
turns it off).

A flash-attention loop computes ``S = Q K^T`` (gemm G1), a softmax on S, then ``O += P V`` (gemm G2, last). Each
gemm is followed by a full wait, so the tensor cores idle during the softmax. Deferred, iteration i issues G1 of
i, then G2 of i - 1, waits for G1 only (``wgmma.wait_group 1``: groups complete in order), runs the statements
after G1 while G2 of i - 1 still runs, and waits for it (``wait_group 0``) just before the first statement that
touches its result. The loop's first iteration runs without G2; the last G2 runs after the loop.

:func:`plan` decides whether a loop body has that shape; PipelineCUDA builds the loop (two barrier rings: the tiles
G2 reads are released one iteration later than the others). Conditions, on the tile-level consumers of the loop
(everything but its TMA loads):

- the last consumer G2 is a gemm that runs on wgmma, and an earlier consumer G1 is one too (the first such);
- nothing up to and including G1 depends on G2 either way (no statement writes what G2 reads or reads what it
  writes) or holds something this analysis does not understand (a barrier, a nested gemm);
- G2 reads no variable bound in the loop body (its operands are tiles, the ring's or the kernel's);
- no other consumer reads a loaded tile G2 reads: such a tile moves to the late ring, whose stage of iteration i
  is waited for only where G2 of i is issued (an MLA decode whose G1 and G2 both read the latent tile C computed
  garbage on the H100 before this condition).

Statements after G1 run before the wait until the first one that uses G2's registers (its accumulator, an A held
in registers), writes something G2 reads, or is opaque.
"""
from __future__ import annotations

from dataclasses import dataclass

import tvm_ffi
from tvm import tirx
from tvm.script import tirx as T

from ..rewriter import uses_var
from .async_gemms import Effects, depends, wgmma_gemm_of


@dataclass
class DeferredGemm:
    """A loop body split for the deferred-gemm schedule (see the module doc)."""

    head: list  # the consumers up to and including G1
    first_accumulator: object  # G1's accumulator (waited for right after G2 of the previous iteration is issued)
    before_wait: list  # the consumers after G1 that run while G2 of the previous iteration is in flight
    after_wait: list  # the rest, after the wait for it
    gemm: object  # G2's statement
    late_tiles: list  # the loop's loaded tiles that G2 reads (released one iteration later)

    def finished_registers(self) -> list:
        """The fragments the statements before the wait write (a softmax's scores and row statistics), by name:
        pinned before the wait so the compiler cannot sink their computation below it (nvcc otherwise moves
        register-only math past the wait's asm, and the gemm then overlaps nothing)."""
        written = set()
        for stmt in self.before_wait:
            written |= {b for b in Effects(stmt).writes if isinstance(getattr(b, "ty", None), tirx.BufferType)
                        and b.scope() in ("local.fragment", "local")}
        return sorted(written, key=lambda b: b.name)


def plan(consumers: list, body_stmts: list, ring_tiles: list, wgmma) -> DeferredGemm | None:
    """The deferred-gemm split of a pipelined loop's ``consumers`` (its statements but the loads; ``body_stmts``:
    all of them), or None when the loop does not have that shape. ``ring_tiles``: the tiles its loads fill;
    ``wgmma``: the accumulators of the gemms that run on wgmma."""
    if len(consumers) < 2 or wgmma_gemm_of(consumers[-1], wgmma) is None:
        return None
    first = next((k for k, c in enumerate(consumers[:-1]) if wgmma_gemm_of(c, wgmma) is not None), None)
    if first is None:
        return None
    last = consumers[-1]
    deferred = Effects(last)
    if deferred.opaque or any(uses_var(last, v) for s in body_stmts for v in _bound_vars(s)):
        return None
    for stmt in consumers[:first + 1]:
        if depends(Effects(stmt), deferred):
            return None
    call = last.value
    registers = {r.source for r in call.args[:3] if r.source.scope() in ("local.fragment", "local")}
    middle = consumers[first + 1:-1]
    wait_at = next((j for j, s in enumerate(middle) if _needs_result(Effects(s), deferred, registers)), len(middle))
    late = [t for t in ring_tiles if any(r.source.same_as(t) for r in call.args[:2])]
    if any(uses_var(stmt, t) for stmt in consumers[:-1] for t in late):
        return None
    return DeferredGemm(head=consumers[:first + 1], first_accumulator=consumers[first].value.args[2].source,
                        before_wait=middle[:wait_at], after_wait=middle[wait_at:], gemm=last, late_tiles=late)


_FENCE_SOURCE = """__forceinline__ __device__ void tiledsl_schedule_fence() {
  unsigned c;
  asm volatile("mov.u32 %0, %%clock;" : "=r"(c));
  if (c == 0xffffffffu) { asm volatile("nanosleep.u32 0;"); }
}
"""


def schedule_fence():
    """A branch that is (all but) never taken, ending ptxas' basic block: put before the wait for the deferred
    gemm (``TILEDSL_FENCED_DEFERRED_WAIT=1``), it keeps the wait after the statements before it. Without it ptxas
    (13.0) schedules the ``WARPGROUP.DEPBAR`` into the first latency gap after the previous wait (SASS of flash
    attention: right after the first row-max shuffle) and interleaves what follows the wait with the softmax, as
    in the hand-written kernel of ``shared/notes/hopper-attention``: that is faster on the H100 (flash attention
    3.74 against 3.97 ms, ``docs/cuda.md``), so the fence is opt-in. Costs one clock read and a compare."""
    return tirx.Evaluate(T.cuda.func_call("tiledsl_schedule_fence", source_code=_FENCE_SOURCE))


def _needs_result(effects: Effects, gemm: Effects, registers: set) -> bool:
    """A statement that must wait for the deferred gemm: it is opaque, uses the gemm's registers or its result,
    or writes something the gemm reads."""
    return effects.opaque or bool(effects.uses & registers) or bool(effects.uses & gemm.writes) or \
        bool(effects.writes & gemm.uses)


def _bound_vars(stmt) -> list:
    found = []
    tvm_ffi.structural_walk(stmt, (tirx.Bind, lambda b: found.append(b.var)))
    return found
