"""mbarrier statements (sm_90): a ring of ``full`` / ``empty`` barriers, one pair per pipeline stage.

A stage's ``full`` barrier completes a phase when the bytes of its loads have arrived (one arrival with the expected
transaction count, then the TMA ``complete_tx``); its ``empty`` barrier completes a phase when every consumer
released the stage. Waits use the phase parity: the j-th use of a stage (j = iteration // stages) waits for
parity ``j % 2`` on ``full`` and, before refilling it, for parity ``(j + 1) % 2`` on ``empty`` (the release of
use j - 1).
"""
from __future__ import annotations

from tvm import tirx
from tvm.script import tirx as T


class BarrierRing:
    """``full[stages]`` and ``empty[stages]`` uint64 mbarriers in (static) shared memory."""

    def __init__(self, stages: int, prefix: str = "pipe"):
        self.stages = stages
        self.full = tirx.decl_buffer((stages,), "uint64", f"{prefix}_full", scope="shared")
        self.empty = tirx.decl_buffer((stages,), "uint64", f"{prefix}_empty", scope="shared")

    @staticmethod
    def _at(buf, stage):
        return tirx.address_of(tirx.BufferLoad(buf, [stage]))

    def full_ptr(self, stage):
        """Address of stage ``stage``'s full barrier."""
        return self._at(self.full, stage)

    def allocations(self) -> list:
        """The two barrier arrays' allocations."""
        return [tirx.AllocBuffer(self.full), tirx.AllocBuffer(self.empty)]

    def init(self, is_leader, empty_arrivals: int) -> list:
        """One thread initializes every barrier (full: 1 arrival, empty: ``empty_arrivals``), then all sync."""
        return init_rings(is_leader, [(self, empty_arrivals)])

    def _init_loop(self, empty_arrivals: int):
        s = tirx.Var("s", "int32")
        body = tirx.SeqStmt([
            tirx.Evaluate(T.ptx.mbarrier.init.shared.b64(self._at(self.full, s), T.uint32(1))),
            tirx.Evaluate(T.ptx.mbarrier.init.shared.b64(self._at(self.empty, s), T.uint32(empty_arrivals)))])
        return tirx.For(s, 0, self.stages, tirx.ForKind.UNROLLED, body)

    def expect(self, stage, nbytes: int):
        """Arrive on ``full[stage]`` announcing ``nbytes`` of loads."""
        return tirx.Evaluate(T.ptx.mbarrier.arrive.expect_tx.shared.b64(self._at(self.full, stage),
                                                                          T.uint32(nbytes)))

    def wait_full(self, iteration):
        """Wait until the loads of ``iteration`` have landed."""
        stage, use = tirx.floormod(iteration, self.stages), tirx.floordiv(iteration, self.stages)
        return tirx.Evaluate(T.cuda.mbarrier_wait(self._at(self.full, stage), tirx.floormod(use, 2)))

    def wait_empty(self, iteration):
        """Wait until the stage ``iteration`` refills was released by the consumers of ``iteration - stages``."""
        stage, use = tirx.floormod(iteration, self.stages), tirx.floordiv(iteration, self.stages)
        return tirx.Evaluate(T.cuda.mbarrier_wait(self._at(self.empty, stage), tirx.floormod(use + 1, 2)))

    def release(self, iteration):
        """This thread is done reading the stage of ``iteration``."""
        stage = tirx.floormod(iteration, self.stages)
        return tirx.Evaluate(T.ptx.mbarrier.arrive.shared.b64(self._at(self.empty, stage), T.uint32(1)))


def init_rings(is_leader, rings) -> list:
    """One thread initializes the barriers of every ``(ring, empty arrivals)`` in ``rings``, fences them for the
    TMA unit, then the whole block syncs once."""
    init = tirx.SeqStmt([ring._init_loop(arrivals) for ring, arrivals in rings] +
                        [tirx.Evaluate(T.ptx.fence.proxy.async_.shared__cta())])
    return [tirx.IfThenElse(is_leader, init, None),
            tirx.Evaluate(tirx.call_intrin("int32", "tirx.tvm_storage_sync", "shared"))]
