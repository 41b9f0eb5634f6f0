"""What the Hopper kernels (GEMM, flash attention) share: PTX spellings, the swizzle code, register budgets."""
from __future__ import annotations

SWIZZLE_128B = 3  # CUtensorMap / wgmma descriptor code for the 128-byte swizzle
PTX_TYPE = {"float16": "f16", "bfloat16": "bf16", "float8_e4m3fn": "e4m3", "float8_e5m2": "e5m2"}
PRODUCER_REGS = 40   # setmaxnreg.dec of the TMA producer warpgroup
CONSUMER_REGS = 232  # setmaxnreg.inc of the wgmma consumer warpgroups
TMA_LOAD = "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
