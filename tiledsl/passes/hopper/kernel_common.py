"""What the Hopper kernels (GEMM, flash attention) share: PTX spellings, the swizzle code, register budgets."""
from __future__ import annotations

from ..cuda.warp_specialize import register_budget

SWIZZLE_128B = 3  # CUtensorMap / wgmma descriptor code for the 128-byte swizzle
PTX_TYPE = {"float16": "f16", "bfloat16": "bf16", "float8_e4m3fn": "e4m3", "float8_e5m2": "e5m2"}
PRODUCER_REGS = 40   # setmaxnreg.dec of the TMA producer warpgroup
CONSUMER_REGS = 232  # setmaxnreg.inc of the wgmma consumer warpgroups
TMA_LOAD = "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"


def consumer_registers(threads: int) -> int:
    """``setmaxnreg.inc``'s count for the consumer warpgroups of a kernel of ``threads`` threads (the producer
    warpgroup among them, at :data:`PRODUCER_REGS`): :data:`CONSUMER_REGS` with one or two of them, less with more,
    so that they ask for no more than the block holds (``warp_specialize.register_budget``)."""
    return register_budget(threads, PRODUCER_REGS, CONSUMER_REGS)[1]
